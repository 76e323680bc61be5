"""The JSON Schema of the suite format, generated from the suite models.

Editors use it to complete and check suite files as they are written (put
``# yaml-language-server: $schema=./suite.schema.json`` at the top of a
suite). It is generated, never edited: ``python -m guardian.checks.schema >
checks/suite.schema.json``, and a test keeps the committed copy current.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from guardian.checks.spec import SuiteSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "guardian check suite"
DESCRIPTION = (
    "A suite of named checks that guardian runs against a target database: "
    "a list of checks, each a kind (not_null, unique, references, ...) with "
    "the table it reads and the fields of its kind."
)


def suite_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that suite files validate against."""
    generated = SuiteSpec.model_json_schema(mode="validation")
    generated.pop("title", None)
    generated.pop("description", None)
    return {"$schema": DIALECT, "title": TITLE, "description": DESCRIPTION, **generated}


def schema_text() -> str:
    """The schema as the committed file holds it: indented, newline at the end."""
    return json.dumps(suite_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the schema to standard output."""
    sys.stdout.write(schema_text())


if __name__ == "__main__":
    main()
