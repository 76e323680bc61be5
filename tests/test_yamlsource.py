"""YAML documents that keep line numbers, refuse duplicate keys, expand ${VAR}."""

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from guardian.errors import ConfigError
from guardian.yamlsource import expand_env, load_file, load_text, validation_error

TEXT = """\
targets:
  main:
    url: postgresql://db/app
    extra: 1
jobs:
  - name: a
  - name: b
"""


def test_records_the_line_of_every_key_and_item() -> None:
    doc = load_text(TEXT, "g.yml")
    assert doc.line_of(("targets", "main", "url")) == 3
    assert doc.line_of(("jobs", 1, "name")) == 7
    assert doc.where(("jobs", 1)) == "g.yml:7"
    assert doc.where(("targets", "main", "nope")) == "g.yml:2"


def test_malformed_yaml_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("a: 1\n b: 2\n", "bad.yml")
    assert str(info.value).startswith("bad.yml:2: malformed YAML")


def test_duplicate_key_is_refused_with_both_lines() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("a: 1\nb: 2\na: 3\n", "dup.yml")
    message = str(info.value)
    assert message.startswith("dup.yml:3:")
    assert "duplicate key 'a' (first given on line 1)" in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_file(tmp_path / "absent.yml")


def test_expands_variables_and_defaults() -> None:
    doc = load_text("a: ${HOST}:${PORT:-5432}\nb: $${literal}\nc: 7\n", "e.yml")
    data = expand_env(doc, {"HOST": "db"})
    assert data == {"a": "db:5432", "b": "${literal}", "c": 7}


def test_empty_variable_takes_the_default() -> None:
    doc = load_text("a: ${PORT:-5432}\n", "e.yml")
    assert expand_env(doc, {"PORT": ""}) == {"a": "5432"}


def test_unset_variable_without_default_names_the_line() -> None:
    doc = load_text("a: 1\nb: ${MISSING_VAR}\n", "e.yml")
    with pytest.raises(ConfigError) as info:
        expand_env(doc, {})
    assert str(info.value).startswith("e.yml:2: environment variable MISSING_VAR")


class _Main(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    targets: dict[str, _Main]
    jobs: list[dict[str, str]]


def test_validation_errors_point_at_the_offending_key() -> None:
    doc = load_text(TEXT, "g.yml")
    with pytest.raises(ValidationError) as info:
        _Config.model_validate(doc.data)
    error = validation_error(doc, info.value, "g.yml")
    assert str(error) == "g.yml:4: targets.main.extra: is not a known setting"


def test_only_true_and_false_are_booleans() -> None:
    doc = load_text("codes: [NO, FR, on, off, yes, y]\nflags: [true, False]\n", "b.yml")
    assert doc.data == {
        "codes": ["NO", "FR", "on", "off", "yes", "y"],
        "flags": [True, False],
    }


def test_floats_as_yaml_1_2_reads_them() -> None:
    doc = load_text("a: [1e30, -2E-3, 12, 1.5]\n", "f.yml")
    assert doc.data == {"a": [1e30, -0.002, 12, 1.5]}
    assert isinstance(doc.data["a"][2], int)


def test_an_impossible_date_names_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("a: 1\nmin: 2024-13-01\n", "d.yml")
    message = str(info.value)
    assert message.startswith("d.yml:2:")
    assert "'2024-13-01' is not a valid date or time" in message
