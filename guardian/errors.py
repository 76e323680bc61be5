"""The one exception family of guardian.

Every error a user can cause or meet derives from :class:`GuardianError`,
carries the exit code of its class, and says what went wrong, where, and what
to do. The CLI has a single handler that prints the message and exits with
the code; anything else that escapes is a bug and shows a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, as promised in the design."""

    OK = 0
    PROBLEMS = 1
    USAGE = 2
    CANNOT_RUN = 3


class GuardianError(Exception):
    """Base of every error guardian reports to a user."""

    exit_code: ExitCode = ExitCode.CANNOT_RUN

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(GuardianError):
    """The command line asked for something that makes no sense."""

    exit_code = ExitCode.USAGE


class ConfigError(GuardianError):
    """A configuration or suite file is malformed or invalid.

    ``location`` is ``file:line`` (or just the file) where the problem is.
    """

    exit_code = ExitCode.USAGE

    def __init__(
        self,
        message: str,
        *,
        location: str | None = None,
        hint: str | None = None,
    ) -> None:
        text = f"{location}: {message}" if location else message
        super().__init__(text, hint=hint)
        self.location = location
        self.reason = message


class SuiteError(ConfigError):
    """A check suite is malformed, or does not fit the target's tables."""


class TargetError(GuardianError):
    """A target database cannot be reached or used."""

    exit_code = ExitCode.CANNOT_RUN


class StateError(GuardianError):
    """guardian's own state store cannot be opened, or is at the wrong revision."""

    exit_code = ExitCode.CANNOT_RUN


class QuarantineError(GuardianError):
    """A quarantine move, release or purge could not be done; nothing changed."""

    exit_code = ExitCode.CANNOT_RUN
