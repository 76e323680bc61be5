"""Benchmarks of guardian against hand-written SQL and other tools.

Run them with ``./dev bench SUBCOMMAND`` (``python -m bench``); each
subcommand measures one thing and rewrites its own section of BENCHMARKS.md.
"""
