"""Validation against the JSON Schemas in ``schemas/``.

Why not the ``jsonschema`` package at run time: importing it costs ~30 ms,
which alone would put ``confide add`` past its start-up budget (see
benchmarks/). The schemas use a small, fixed subset of JSON Schema 2020-12;
this module implements exactly that subset and *refuses* any schema that uses
a keyword outside it, so nothing is silently ignored. The test suite checks
every schema with ``jsonschema``'s own meta-schema and checks that both
validators agree on a corpus of valid and invalid documents.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import IntegrityError

SUPPORTED = {
    "$schema", "$id", "$defs", "$ref", "$comment", "title", "description", "examples",
    "type", "properties", "required", "additionalProperties", "patternProperties",
    "enum", "const", "pattern", "minLength", "maxLength", "items", "minItems", "maxItems",
    "uniqueItems", "minProperties", "minimum", "maximum", "anyOf", "oneOf", "default",
}

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    # JSON Schema: an integer is a number with no fractional part, so 1.0 is one (as jsonschema says).
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _canonical(v: Any) -> Any:
    """A hashable form in which two values are equal exactly when JSON Schema says they are.

    Python's ``==`` is not JSON equality: ``True == 1`` and ``0 == False`` hold in
    Python, but a JSON boolean is never a number; ``1 == 1.0`` holds in both.
    """
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, (int, float)):
        return ("num", int(v) if isinstance(v, float) and v.is_integer() else v)
    if isinstance(v, list):
        return ("list", tuple(_canonical(x) for x in v))
    if isinstance(v, dict):
        return ("dict", frozenset((k, _canonical(x)) for k, x in v.items()))
    return (type(v).__name__, v)


def schema_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "schemas", here / "schemas"):
        if (candidate / "record.schema.json").is_file():
            return candidate
    from importlib import resources

    return Path(str(resources.files("vault_cli.schemas")))


class SchemaViolation(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or '(top)'}: {problem}")
        self.path = path or "(top)"
        self.problem = problem


class Validator:
    def __init__(self, schema: dict) -> None:
        self.root = schema
        self._patterns: dict[str, re.Pattern] = {}
        self._check_keywords(schema, "#")

    def _check_keywords(self, node: Any, where: str) -> None:
        if not isinstance(node, dict):
            # Boolean schemas (true/false) are valid JSON Schema but not implemented here,
            # except as the value of additionalProperties; refuse rather than fail oddly later.
            raise ValueError(f"schema {where} is a boolean or non-object schema, which is unsupported")
        unknown = set(node) - SUPPORTED
        if unknown:
            raise ValueError(f"schema {where} uses unsupported keywords {sorted(unknown)}")
        for key in ("properties", "$defs", "patternProperties"):
            for name, sub in node.get(key, {}).items():
                self._check_keywords(sub, f"{where}/{key}/{name}")
        if "items" in node:
            self._check_keywords(node["items"], f"{where}/items")
        if "additionalProperties" in node and not isinstance(node["additionalProperties"], bool):
            self._check_keywords(node["additionalProperties"], f"{where}/additionalProperties")
        for key in ("anyOf", "oneOf"):
            for i, sub in enumerate(node.get(key, [])):
                self._check_keywords(sub, f"{where}/{key}/{i}")

    def _pattern(self, p: str) -> re.Pattern:
        rx = self._patterns.get(p)
        if rx is None:
            rx = self._patterns[p] = re.compile(p)
        return rx

    def _resolve(self, ref: str) -> dict:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, not {ref}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def validate(self, value: Any, schema: dict | None = None, path: str = "") -> None:
        s = self.root if schema is None else schema
        if "$ref" in s:
            self.validate(value, self._resolve(s["$ref"]), path)
        t = s.get("type")
        if t is not None:
            types = t if isinstance(t, list) else [t]
            if not any(_TYPES[x](value) for x in types):
                raise SchemaViolation(path, f"must be of type {' or '.join(types)}")
        if "const" in s and _canonical(value) != _canonical(s["const"]):
            raise SchemaViolation(path, f"must be {s['const']!r}")
        if "enum" in s and _canonical(value) not in [_canonical(x) for x in s["enum"]]:
            raise SchemaViolation(path, "must be one of " + ", ".join(map(str, s["enum"])))
        if isinstance(value, str):
            if "minLength" in s and len(value) < s["minLength"]:
                raise SchemaViolation(path, f"must be at least {s['minLength']} characters")
            if "maxLength" in s and len(value) > s["maxLength"]:
                raise SchemaViolation(path, f"must be at most {s['maxLength']} characters")
            if "pattern" in s and not self._pattern(s["pattern"]).search(value):
                raise SchemaViolation(path, "is not in the expected form")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in s and value < s["minimum"]:
                raise SchemaViolation(path, f"must be at least {s['minimum']}")
            if "maximum" in s and value > s["maximum"]:
                raise SchemaViolation(path, f"must be at most {s['maximum']}")
        if isinstance(value, list):
            if "minItems" in s and len(value) < s["minItems"]:
                raise SchemaViolation(path, f"must have at least {s['minItems']} items")
            if "maxItems" in s and len(value) > s["maxItems"]:
                raise SchemaViolation(path, f"must have at most {s['maxItems']} items")
            if s.get("uniqueItems"):
                seen = [_canonical(v) for v in value]
                if len(set(seen)) != len(seen):
                    raise SchemaViolation(path, "must not repeat an item")
            if "items" in s:
                for i, item in enumerate(value):
                    self.validate(item, s["items"], f"{path}[{i}]")
        if isinstance(value, dict):
            if "minProperties" in s and len(value) < s["minProperties"]:
                raise SchemaViolation(path, f"must have at least {s['minProperties']} fields")
            for name in s.get("required", []):
                if name not in value:
                    raise SchemaViolation(path, f"lacks the required field '{name}'")
            props = s.get("properties", {})
            pattern_props = s.get("patternProperties", {})
            extra = s.get("additionalProperties", True)
            for name, item in value.items():
                sub_path = f"{path}.{name}" if path else str(name)
                matched = False
                if name in props:
                    self.validate(item, props[name], sub_path)
                    matched = True
                for pat, sub in pattern_props.items():
                    if isinstance(name, str) and self._pattern(pat).search(name):
                        self.validate(item, sub, sub_path)
                        matched = True
                if not matched:
                    if extra is False:
                        raise SchemaViolation(path, f"has an unexpected field '{name}'")
                    if isinstance(extra, dict):
                        self.validate(item, extra, sub_path)
        if "anyOf" in s:
            if not any(self._ok(value, sub, path) for sub in s["anyOf"]):
                raise SchemaViolation(path, "matches none of the allowed forms")
        if "oneOf" in s:
            n = sum(1 for sub in s["oneOf"] if self._ok(value, sub, path))
            if n != 1:
                raise SchemaViolation(path, "must match exactly one of the allowed forms")

    def _ok(self, value: Any, schema: dict, path: str) -> bool:
        try:
            self.validate(value, schema, path)
            return True
        except SchemaViolation:
            return False


@lru_cache(maxsize=None)
def validator(name: str) -> Validator:
    with open(schema_dir() / f"{name}.schema.json", encoding="utf-8") as fh:
        return Validator(json.load(fh))


def check(name: str, value: Any, source: str) -> None:
    """Validate ``value`` against ``schemas/<name>.schema.json``.

    The error names the file and the field path, never the field's value.
    """
    try:
        validator(name).validate(value)
    except SchemaViolation as exc:
        raise IntegrityError(
            f"{source} breaks the {name} schema: {exc.path} {exc.problem}",
            f"see schemas/{name}.schema.json; if the file was edited by hand, restore it from git",
        ) from None


def check_def(name: str, definition: str, value: Any, source: str) -> None:
    v = validator(name)
    try:
        v.validate(value, v.root["$defs"][definition])
    except SchemaViolation as exc:
        raise IntegrityError(
            f"{source} breaks the {name} schema ({definition}): {exc.path} {exc.problem}",
            f"see schemas/{name}.schema.json; if the file was edited by hand, restore it from git",
        ) from None
