"""Placeholder until the command is written."""

command = None
