"""The suite JSON Schema: generated from the models, committed, and fitting."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardian.checks.schema import DIALECT, schema_text, suite_schema
from guardian.checks.spec import KINDS
from guardian.checks.suite import load_suite

CHECKS = Path(__file__).resolve().parent.parent / "checks"
SHIPPED = sorted(CHECKS.glob("*.yml"))


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (CHECKS / "suite.schema.json").read_text(encoding="utf-8")

    assert committed == schema_text(), (
        "checks/suite.schema.json is stale: regenerate it with "
        "python -m guardian.checks.schema > checks/suite.schema.json"
    )


def test_the_schema_describes_the_suite_format() -> None:
    schema = suite_schema()

    assert schema["$schema"] == DIALECT
    assert "$id" not in schema
    assert schema["title"] == "guardian check suite"
    assert schema["description"]
    assert schema["required"] == ["checks"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"suite", "description", "defaults", "checks"}
    defaults = schema["$defs"]["SuiteDefaults"]["properties"]
    assert "schema" in defaults
    kinds = {
        definition["properties"]["kind"]["const"]
        for definition in schema["$defs"].values()
        if "kind" in definition.get("properties", {})
    }
    assert kinds == set(KINDS)


def test_a_single_column_may_be_written_without_brackets() -> None:
    columns = suite_schema()["$defs"]["NotNullCheck"]["properties"]["columns"]

    types = {branch["type"] for branch in columns["anyOf"]}
    assert types == {"string", "array"}


def test_the_shipped_suites_say_where_their_schema_is() -> None:
    assert SHIPPED
    for path in SHIPPED:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=./suite.schema.json", path


def _as_json(path: Path) -> Any:
    # YAML reads dates as date objects; JSON Schema sees them as strings.
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


def _validator() -> Any | None:
    """A JSON Schema validator for the suite schema, when jsonschema is installed.

    jsonschema is no dependency of guardian; without it the loader (which
    the schema is generated from) stands in for it.
    """
    if importlib.util.find_spec("jsonschema") is None:
        return None
    jsonschema = importlib.import_module("jsonschema")
    return jsonschema.Draft202012Validator(suite_schema())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_suite_fits_the_schema(path: Path) -> None:
    validator = _validator()
    if validator is not None:
        errors = [e.message for e in validator.iter_errors(_as_json(path))]
        assert errors == []
    suite = load_suite(path)
    assert suite.checks


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    validator = _validator()
    if validator is not None:
        bad = {"checks": [{"name": "a", "kind": "not_nul", "table": "t"}]}
        assert list(validator.iter_errors(bad))
    schema = suite_schema()
    not_null = schema["$defs"]["NotNullCheck"]
    assert not_null["additionalProperties"] is False
    assert set(not_null["required"]) == {"name", "table", "kind", "columns"}
