"""What a check asks for when it fails: an alert, or a quarantine of its rows.

A check's ``on_violation`` (or the suite default) is written either as a
word, ``alert`` or ``quarantine``, or as a mapping with the details. These
models describe the action; they know nothing of SQL.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Action = Literal["alert", "quarantine"]
Mode = Literal["move", "copy"]
Dependents = Literal["hold", "cascade"]

# Kinds whose violations are not rows of a table: nothing to take away.
NOT_QUARANTINABLE = ("row_count", "freshness", "sql")


def _from_word(value: Any) -> Any:
    """Let ``on_violation: quarantine`` stand for the mapping with defaults."""
    if isinstance(value, str):
        return {"action": value}
    return value


class OnViolation(BaseModel):
    """The action taken, in the same run, on the rows of a failed check.

    ``alert`` (the default) only reports. ``quarantine`` with mode ``move``
    takes the violating rows out of the source table; mode ``copy`` leaves
    them and holds a flagged copy. A row that other rows reference through a
    foreign key is copied and held in place unless ``dependents: cascade``
    moves the referencing rows too. ``max_rows`` and ``max_share`` override
    the configured budget: above it nothing is quarantined.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action = "alert"
    mode: Mode = "move"
    dependents: Dependents = "hold"
    max_rows: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Most violating rows quarantined at once."
    )
    max_share: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None, description="Largest share of the table quarantined at once."
    )

    @property
    def quarantines(self) -> bool:
        """True when the action takes rows into quarantine."""
        return self.action == "quarantine"


OnViolationField = Annotated[
    OnViolation,
    BeforeValidator(
        _from_word,
        json_schema_input_type=Literal["alert", "quarantine"] | OnViolation,
    ),
]


class QuarantineConfig(BaseModel):
    """The ``quarantine:`` section of the configuration: where and how much.

    On PostgreSQL quarantine tables live in the schema ``schema``; SQLite
    has no schemas, so there they are tables of the same database file named
    ``<schema>__<table>``. ``read_roles`` are granted SELECT on them; nobody
    else (not PUBLIC) gets any privilege. The budget: a check that finds more
    than ``max_rows`` violating rows, or more than ``max_share`` of its
    table, quarantines nothing and alerts instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_name: str = Field(
        default="guardian_quarantine",
        alias="schema",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=40,
        description="Schema (PostgreSQL) or table-name prefix (SQLite).",
    )
    read_roles: list[str] = Field(
        default_factory=list, description="Roles granted read access."
    )
    max_rows: Annotated[int, Field(ge=1)] = 1000
    max_share: Annotated[float, Field(gt=0, le=1)] = 0.05
