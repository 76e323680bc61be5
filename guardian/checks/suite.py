"""Suite files: reading YAML into validated check specifications.

Errors name the file and line and say what is expected: malformed YAML, an
unknown kind (with the valid ones), a duplicate check name, an empty suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from guardian.checks.names import quote_part, split_table_name
from guardian.checks.spec import KINDS, Check, SuiteSpec
from guardian.errors import SuiteError
from guardian.quarantine.spec import NOT_QUARANTINABLE
from guardian.yamlsource import (
    Document,
    dotted,
    load_file,
    load_text,
    validation_error,
)

SUITE_SUFFIXES = (".yml", ".yaml")

_CHECK = TypeAdapter(Check)


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its name, where it came from, and its checks."""

    name: str
    checks: tuple[Check, ...]
    source: str
    description: str | None = None
    document: Document | None = None

    def where(self, check_name: str) -> str:
        """``file:line`` of the check called ``check_name``."""
        for index, check in enumerate(self.checks):
            if check.name == check_name and self.document is not None:
                return self.document.where(("checks", index))
        return self.source


def load_suite(path: Path) -> Suite:
    """Read and validate one suite file."""
    return _from_document(load_file(path), default_name=path.stem)


def load_suite_text(text: str, source: str = "<suite>") -> Suite:
    """Validate a suite given as text; ``source`` names it in errors."""
    return _from_document(load_text(text, source), default_name=Path(source).stem)


def find_suite_files(paths: Iterable[Path]) -> list[Path]:
    """Suite files named by ``paths``: files as given, folders searched for YAML."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.suffix in SUITE_SUFFIXES)
            )
        elif path.exists():
            found.append(path)
        else:
            raise SuiteError(f"no suite file or folder at {path}")
    return found


def load_suites(paths: Sequence[Path]) -> list[Suite]:
    """Load every suite named by ``paths``; two suites may not share a name."""
    files = find_suite_files(paths)
    if not files:
        shown = ", ".join(str(p) for p in paths)
        raise SuiteError(f"no suite files (*.yml, *.yaml) found in {shown}")
    suites = [load_suite(path) for path in files]
    seen: dict[str, str] = {}
    for suite in suites:
        if suite.name in seen:
            raise SuiteError(
                f"two suites are named {suite.name!r}: {seen[suite.name]} and "
                f"{suite.source}",
                hint="give one of them another name with the top-level 'suite' key",
            )
        seen[suite.name] = suite.source
    return suites


def _from_document(doc: Document, default_name: str) -> Suite:
    data = doc.data
    if data is None:
        raise SuiteError(
            "the suite is empty",
            location=doc.source,
            hint="add a 'checks:' list with at least one check",
        )
    if not isinstance(data, dict):
        raise doc.error((), "a suite is a mapping with a 'checks' list")
    checks = data.get("checks")
    if checks is None or checks == []:
        raise SuiteError(
            "the suite has no checks",
            location=doc.where(("checks",)),
            hint="add a 'checks:' list with at least one check",
        )
    if not isinstance(checks, list):
        raise doc.error(("checks",), "'checks' must be a list of checks")
    _precheck_items(doc, checks)
    prepared = dict(data, checks=[_apply_defaults(data, c) for c in checks])
    try:
        spec = SuiteSpec.model_validate(prepared)
    except ValidationError as exc:
        error = validation_error(
            doc, exc, doc.source, tags=KINDS, describe=lambda p: _describe(data, p)
        )
        raise SuiteError(error.message) from None
    _reject_duplicates(doc, spec)
    return Suite(
        name=spec.suite or default_name,
        checks=tuple(spec.checks),
        source=doc.source,
        description=spec.description,
        document=doc,
    )


def _describe(data: dict[str, Any], path: tuple[str | int, ...]) -> str:
    """``check 'name': field`` for paths inside a check, else the dotted path."""
    if len(path) >= 2 and path[0] == "checks" and isinstance(path[1], int):
        item = data["checks"][path[1]]
        label = f"check {item.get('name', f'#{path[1] + 1}')!r}"
        rest = dotted(path[2:])
        return f"{label}: {rest}" if rest else label
    return dotted(path)


def _precheck_items(doc: Document, checks: list[Any]) -> None:
    """Clear messages for the mistakes pydantic words obscurely."""
    for index, item in enumerate(checks):
        path = ("checks", index)
        if not isinstance(item, dict):
            raise doc.error(path, "each check is a mapping with name, table and kind")
        kind = item.get("kind")
        label = f"check {item['name']!r}" if "name" in item else f"check #{index + 1}"
        if kind is None:
            raise doc.error(
                path, f"{label} has no kind", hint="one of: " + ", ".join(KINDS)
            )
        if kind not in KINDS:
            raise doc.error(
                (*path, "kind"),
                f"{label} has unknown kind {kind!r}",
                hint="valid kinds: " + ", ".join(KINDS),
            )


def _apply_defaults(data: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        return check
    result = dict(check)
    if "severity" in defaults and "severity" not in result:
        result["severity"] = defaults["severity"]
    action = defaults.get("on_violation")
    quarantinable = result.get("kind") not in NOT_QUARANTINABLE
    if action is not None and "on_violation" not in result and quarantinable:
        result["on_violation"] = action
    schema = defaults.get("schema")
    if isinstance(schema, str):
        for key in ("table", "parent_table", "child_table"):
            value = result.get(key)
            if isinstance(value, str) and not _has_schema(value):
                result[key] = f"{quote_part(schema)}.{value}"
    return result


def _has_schema(name: str) -> bool:
    return len(split_table_name(name)) > 1


def _reject_duplicates(doc: Document, spec: SuiteSpec) -> None:
    seen: dict[str, int] = {}
    for index, check in enumerate(spec.checks):
        if check.name in seen:
            first = doc.line_of(("checks", seen[check.name]))
            raise doc.error(
                ("checks", index, "name"),
                f"duplicate check name {check.name!r} (first used on line {first})",
                hint="check names are unique within a suite",
            )
        seen[check.name] = index


def check_by_name(suites: Sequence[Suite], only: Iterable[str]) -> set[tuple[str, str]]:
    """Resolve ``--only`` names (``check`` or ``suite.check``) to (suite, check)."""
    wanted = set(only)
    chosen: set[tuple[str, str]] = set()
    for name in wanted:
        matches = {
            (s.name, c.name)
            for s in suites
            for c in s.checks
            if name in (c.name, f"{s.name}.{c.name}")
        }
        if not matches:
            known = sorted({c.name for s in suites for c in s.checks})
            raise SuiteError(
                f"no check named {name!r} in the suites given",
                hint="known checks: " + ", ".join(known[:30]),
            )
        chosen |= matches
    return chosen
