"""YAML documents that remember where each value came from.

Configuration and suite errors must name the file and the line. PyYAML's
plain loaders forget positions once they build Python objects, so this module
walks the composed node tree alongside the constructed data and records the
line of every key and item by its path. It also refuses duplicate keys, which
YAML allows and PyYAML silently resolves by keeping the last one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from guardian.errors import ConfigError

PathKey = tuple[str | int, ...]

_ENV_REFERENCE = re.compile(r"\$(\$)|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Document:
    """Parsed YAML data plus the line of every node, keyed by its path."""

    source: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest node along ``path`` that exists."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def where(self, path: Sequence[str | int]) -> str:
        """``file:line`` for ``path``, or just the file when the line is unknown."""
        line = self.line_of(path)
        return f"{self.source}:{line}" if line else self.source

    def error(
        self, path: Sequence[str | int], message: str, hint: str | None = None
    ) -> ConfigError:
        """A :class:`ConfigError` located at ``path``."""
        return ConfigError(message, location=self.where(path), hint=hint)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads booleans as YAML 1.2 does.

    YAML 1.1 reads ``yes``, ``no``, ``on`` and ``off`` as booleans, so a list
    of country codes ``[NO, FR]`` would hold ``False``. Only ``true`` and
    ``false`` are booleans here; everything else stays the text it was.
    """

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{node.value!r} is not a valid date or time ({exc})",
                node.start_mark,
            ) from None


def _yaml12_scalars() -> None:
    """Booleans and floats as YAML 1.2 reads them; impossible dates refused."""
    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag != _BOOL_TAG]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _StrictLoader.yaml_implicit_resolvers = resolvers
    _StrictLoader.add_implicit_resolver(
        _BOOL_TAG,
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    # YAML 1.1 wants a dot in a float; 1.2 also takes 1e30.
    _StrictLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    _StrictLoader.add_constructor(
        "tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp
    )


_BOOL_TAG = "tag:yaml.org,2002:bool"
_yaml12_scalars()


def load_text(text: str, source: str) -> Document:
    """Parse one YAML document from ``text``; ``source`` names it in errors."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = f"{source}:{mark.line + 1}" if mark else source
        problem = exc.problem or exc.context or "cannot be parsed"
        raise ConfigError(f"malformed YAML: {problem}", location=location) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", location=source) from None

    doc = Document(source=source, data=data)
    if node is not None:
        _record_lines(node, (), doc.lines)
    return doc


def load_file(path: Path) -> Document:
    """Read and parse a YAML file; a missing or unreadable file is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return load_text(text, str(path))


def _record_lines(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record_children(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _record_children(item, (*path, index), lines)


def _record_children(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        _record_lines(node, path, lines)


def expand_env(doc: Document, environ: Mapping[str, str] | None = None) -> Any:
    """Return ``doc.data`` with ``${VAR}`` and ``${VAR:-default}`` expanded.

    Expansion happens on string values after parsing, so quoting in the file
    never changes meaning. ``$$`` stands for a literal ``$``. A reference to an
    unset variable without a default is an error at its line.
    """
    env = os.environ if environ is None else environ

    def walk(value: Any, path: PathKey) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            return _expand_string(value, env, doc, path)
        return value

    return walk(doc.data, ())


def _expand_string(
    value: str, env: Mapping[str, str], doc: Document, path: PathKey
) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        name, default = match.group(2), match.group(3)
        if name in env and (env[name] != "" or default is None):
            return env[name]
        if default is not None:
            return default
        raise doc.error(
            path,
            f"environment variable {name} is not set",
            hint=f"set {name}, or give a default as ${{{name}:-value}}",
        )

    return _ENV_REFERENCE.sub(replace, value)


def validation_error(
    doc: Document,
    exc: ValidationError,
    what: str,
    tags: Collection[str] = (),
    describe: Callable[[PathKey], str] | None = None,
    data: Any = None,
    origins: Mapping[PathKey, str] | None = None,
) -> ConfigError:
    """Turn a pydantic error into one ConfigError that lists every problem.

    Pydantic locations include discriminator ``tags`` and model names that
    are not in the YAML; those parts are dropped when looking up the line.
    ``describe`` may name a path better than its dotted form. ``data`` is
    what was validated when it differs from the file's (overrides merged
    in), and ``origins`` names where such values came from, by path.
    """
    problems = []
    validated = doc.data if data is None else data
    for err in exc.errors(include_url=False):
        path = _data_path(validated, err["loc"], frozenset(tags) | _TAGS)
        location = _origin(path, origins) or doc.where(path)
        label = (describe(path) if describe else dotted(path)) or "(top level)"
        problems.append(f"{location}: {label}: {_message(err)}")
    if len(problems) == 1:
        return ConfigError(problems[0], hint=None)
    summary = f"{len(problems)} problems in {what}:\n  " + "\n  ".join(problems)
    return ConfigError(summary)


def _origin(path: PathKey, origins: Mapping[PathKey, str] | None) -> str | None:
    """Where a value came from when not from the file: the longest known prefix."""
    if not origins:
        return None
    for length in range(len(path), 0, -1):
        if path[:length] in origins:
            return origins[path[:length]]
    return None


def _data_path(data: Any, loc: Sequence[str | int], tags: frozenset[str]) -> PathKey:
    path: list[str | int] = []
    node = data
    for part in loc:
        if _has_child(node, part):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict | list):
            # A tag or model name that pydantic adds; the YAML has no such level.
            continue
        else:
            break
    # A missing key is reported at its parent, but named in full.
    tail = [p for p in loc[len(path) :] if isinstance(p, str) and p not in tags]
    if tail and isinstance(node, dict):
        return (*path, tail[-1])
    return tuple(path)


def _has_child(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and part < len(node)


_TAGS = frozenset({"function-after", "function-before", "function-plain"})


def dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _message(err: Any) -> str:
    kind = err.get("type")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known setting"
    msg = str(err.get("msg", "is invalid"))
    return msg.removeprefix("Value error, ")
