"""Table names as written in suites: ``table`` or ``schema.table``."""

from __future__ import annotations


def quote_part(part: str) -> str:
    """Quote one part of a dotted name when it contains a dot or a quote."""
    if "." in part or '"' in part:
        return '"' + part.replace('"', '""') + '"'
    return part


def split_table_name(text: str) -> list[str]:
    """Split ``schema.table`` into its parts; double quotes protect dots.

    ``"odd.schema".tbl`` gives ``['odd.schema', 'tbl']``; a doubled quote inside
    quotes stands for one quote. Names are otherwise taken exactly as written.
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if quoted:
            if char == '"' and text[index + 1 : index + 2] == '"':
                current.append('"')
                index += 1
            elif char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"':
            quoted = True
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    if quoted or any(not p for p in parts) or len(parts) > 2:
        raise ValueError(
            f"{text!r} is not a table name; write table or schema.table, "
            'quoting a part that contains a dot: "odd.name"'
        )
    return parts
