"""One error type for everything a user can fix, with the exit codes of the CLI contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_TASKS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_WAITING = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130


@dataclass
class OverseerError(Exception):
    """An error the user can act on: what went wrong, where, and how to fix it."""

    message: str
    hint: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    exit_code: int = EXIT_BAD_INPUT

    def __str__(self) -> str:
        return self.message


@dataclass
class Diagnostic:
    """One problem at one place in a file, printed as FILE:LINE:COL: message."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class PlanError(OverseerError):
    """A plan that failed validation; carries every diagnostic found in one pass."""

    def __init__(self, diagnostics: list[Diagnostic], hint: str | None = None) -> None:
        first = str(diagnostics[0]) if diagnostics else "invalid plan"
        super().__init__(
            message=first if len(diagnostics) == 1 else f"{len(diagnostics)} errors in plan",
            hint=hint or "fix the lines above; `overseer schema plan` prints the JSON Schema",
            exit_code=EXIT_BAD_INPUT,
        )
        self.diagnostics = diagnostics


class ConfigError(OverseerError):
    """A config file or value that cannot be used; message names the file and key."""


class StoreError(OverseerError):
    """The state store cannot be opened or is inconsistent."""


class WorkspaceError(OverseerError):
    """The git workspace is missing or in a state overseer must not touch."""


class IllegalTransition(OverseerError):
    """A task or run was asked to move to a state its lifecycle does not allow."""

    def __init__(self, what: str, current: str, target: str) -> None:
        super().__init__(
            message=f"illegal transition for {what}: {current} → {target}",
            hint="this is a bug in overseer; please report it with `overseer export`",
            exit_code=EXIT_INTERNAL,
        )
