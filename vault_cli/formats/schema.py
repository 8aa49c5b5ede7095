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
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Optional

from vault_cli.errors import IntegrityError

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
    for candidate in (here.parent.parent / "schemas", here.parent / "schemas"):
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
        self._compiled_nodes: dict[int, Callable[[Any, str], None]] = {}
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
        self._compiled(self.root if schema is None else schema)(value, path)

    def _ok(self, value: Any, schema: dict, path: str) -> bool:
        try:
            self._compiled(schema)(value, path)
            return True
        except SchemaViolation:
            return False

    # -- compilation -----------------------------------------------------------
    # Each schema node becomes one closure that makes only the checks that node
    # has, in the order the keywords are listed below (so the first error reported
    # is the same whichever way a node is reached). Whole-vault commands validate
    # ~2,000 heads of ~90 nodes each; walking the schema dict per node cost ~7 us.

    def _compiled(self, s: dict) -> Callable[[Any, str], None]:
        fn = self._compiled_nodes.get(id(s))
        if fn is None:
            cell: list = []
            self._compiled_nodes[id(s)] = lambda v, p: cell[0](v, p)  # a $ref cycle resolves through this
            fn = self._compile(s)
            cell.append(fn)
            self._compiled_nodes[id(s)] = fn
        return fn

    def _compile(self, s: dict) -> Callable[[Any, str], None]:
        checks: list = []
        if "$ref" in s:
            target = self._resolve(s["$ref"])
            checks.append(lambda v, p: self._compiled(target)(v, p))
        if s.get("type") is not None:
            t = s["type"]
            types = t if isinstance(t, list) else [t]
            preds = [_TYPES[x] for x in types]
            msg = f"must be of type {' or '.join(types)}"

            def check_type(v: Any, p: str) -> None:
                for pred in preds:
                    if pred(v):
                        return
                raise SchemaViolation(p, msg)

            checks.append(check_type)
        if "const" in s:
            want, msg = _canonical(s["const"]), f"must be {s['const']!r}"

            def check_const(v: Any, p: str) -> None:
                if _canonical(v) != want:
                    raise SchemaViolation(p, msg)

            checks.append(check_const)
        if "enum" in s:
            allowed, msg = [_canonical(x) for x in s["enum"]], "must be one of " + ", ".join(map(str, s["enum"]))

            def check_enum(v: Any, p: str) -> None:
                if _canonical(v) not in allowed:
                    raise SchemaViolation(p, msg)

            checks.append(check_enum)
        str_checks = self._string_checks(s)
        if str_checks:
            def check_str(v: Any, p: str) -> None:
                if isinstance(v, str):
                    for c in str_checks:
                        c(v, p)

            checks.append(check_str)
        num_checks = self._number_checks(s)
        if num_checks:
            def check_num(v: Any, p: str) -> None:
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    for c in num_checks:
                        c(v, p)

            checks.append(check_num)
        list_checks = self._list_checks(s)
        if list_checks:
            def check_list(v: Any, p: str) -> None:
                if isinstance(v, list):
                    for c in list_checks:
                        c(v, p)

            checks.append(check_list)
        dict_check = self._dict_check(s)
        if dict_check is not None:
            def check_dict(v: Any, p: str) -> None:
                if isinstance(v, dict):
                    dict_check(v, p)

            checks.append(check_dict)
        if "anyOf" in s:
            subs = s["anyOf"]

            def check_any(v: Any, p: str) -> None:
                if not any(self._ok(v, sub, p) for sub in subs):
                    raise SchemaViolation(p, "matches none of the allowed forms")

            checks.append(check_any)
        if "oneOf" in s:
            one = s["oneOf"]

            def check_one(v: Any, p: str) -> None:
                if sum(1 for sub in one if self._ok(v, sub, p)) != 1:
                    raise SchemaViolation(p, "must match exactly one of the allowed forms")

            checks.append(check_one)
        if len(checks) == 1:
            return checks[0]

        def run(v: Any, p: str) -> None:
            for c in checks:
                c(v, p)

        return run

    def _string_checks(self, s: dict) -> list:
        out: list = []
        if "minLength" in s:
            n = s["minLength"]
            out.append(lambda v, p: None if len(v) >= n else _fail(p, f"must be at least {n} characters"))
        if "maxLength" in s:
            m = s["maxLength"]
            out.append(lambda v, p: None if len(v) <= m else _fail(p, f"must be at most {m} characters"))
        if "pattern" in s:
            search = self._pattern(s["pattern"]).search
            out.append(lambda v, p: None if search(v) else _fail(p, "is not in the expected form"))
        return out

    def _number_checks(self, s: dict) -> list:
        out: list = []
        if "minimum" in s:
            lo = s["minimum"]
            out.append(lambda v, p: None if not v < lo else _fail(p, f"must be at least {lo}"))
        if "maximum" in s:
            hi = s["maximum"]
            out.append(lambda v, p: None if not v > hi else _fail(p, f"must be at most {hi}"))
        return out

    def _list_checks(self, s: dict) -> list:
        out: list = []
        if "minItems" in s:
            n = s["minItems"]
            out.append(lambda v, p: None if len(v) >= n else _fail(p, f"must have at least {n} items"))
        if "maxItems" in s:
            m = s["maxItems"]
            out.append(lambda v, p: None if len(v) <= m else _fail(p, f"must have at most {m} items"))
        if s.get("uniqueItems"):
            def unique(v: list, p: str) -> None:
                seen = [_canonical(x) for x in v]
                if len(set(seen)) != len(seen):
                    raise SchemaViolation(p, "must not repeat an item")

            out.append(unique)
        if "items" in s:
            item_schema = s["items"]

            def items(v: list, p: str) -> None:
                fn = self._compiled(item_schema)
                for i, x in enumerate(v):
                    fn(x, f"{p}[{i}]")

            out.append(items)
        return out

    def _dict_check(self, s: dict) -> Optional[Callable[[dict, str], None]]:
        keys = ("minProperties", "required", "properties", "patternProperties", "additionalProperties")
        if not any(k in s for k in keys):
            return None
        min_props = s.get("minProperties")
        required = list(s.get("required", []))
        props = s.get("properties", {})
        pattern_props = [(self._pattern(pat).search, sub) for pat, sub in s.get("patternProperties", {}).items()]
        extra = s.get("additionalProperties", True)

        def check(v: dict, p: str) -> None:
            if min_props is not None and len(v) < min_props:
                raise SchemaViolation(p, f"must have at least {min_props} fields")
            for name in required:
                if name not in v:
                    raise SchemaViolation(p, f"lacks the required field '{name}'")
            for name, item in v.items():
                sub_path = f"{p}.{name}" if p else str(name)
                matched = False
                sub = props.get(name) if isinstance(name, str) else None
                if sub is not None:
                    self._compiled(sub)(item, sub_path)
                    matched = True
                for search, psub in pattern_props:
                    if isinstance(name, str) and search(name):
                        self._compiled(psub)(item, sub_path)
                        matched = True
                if not matched:
                    if extra is False:
                        raise SchemaViolation(p, f"has an unexpected field '{name}'")
                    if isinstance(extra, dict):
                        self._compiled(extra)(item, sub_path)

        return check


def _fail(path: str, problem: str) -> None:
    raise SchemaViolation(path, problem)


@cache
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


def check_real_dates(items: list, fields: tuple, source: str) -> None:
    """Dates the schema's pattern lets through must also be days of the calendar (not 2026-02-30)."""
    import datetime as dt

    for item in items:
        for name in fields:
            value = item.get(name) if isinstance(item, dict) else None
            if isinstance(value, str):
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise IntegrityError(f"{source} holds an impossible date in '{name}'",
                                         "if it was edited by hand, restore it: git checkout -- " + source) from None
