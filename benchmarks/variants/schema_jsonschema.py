"""For measurement only: vault_cli/formats/schema.py with jsonschema at run time (benchmarks/compare_schema_sig.py).

Copy a checkout, put this file in place of its vault_cli/formats/schema.py, and pass it as a --tree.
The same public functions and messages as the generated validators, and the same ECMA-262 '$' in
patterns (jsonschema's own pattern keywords use Python's re), so the comparison is like for like.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Optional

from vault_cli.errors import IntegrityError


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


def ecma_end(pattern: str) -> str:
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "$":
            c = "\\Z"
        out.append(c)
        i += 1
    return "".join(out)


@cache
def _rx(p: str):
    return re.compile(ecma_end(p))


@cache
def _cls():
    from jsonschema import Draft202012Validator, ValidationError, validators

    def pattern(validator, patrn, instance, schema):
        if validator.is_type(instance, "string") and not _rx(patrn).search(instance):
            yield ValidationError(f"does not match {patrn!r}")

    def pattern_properties(validator, pp, instance, schema):
        if not validator.is_type(instance, "object"):
            return
        for p, sub in pp.items():
            for k, v in instance.items():
                if _rx(p).search(k):
                    yield from validator.descend(v, sub, path=k, schema_path=p)

    def additional_properties(validator, aP, instance, schema):
        if not validator.is_type(instance, "object"):
            return
        props = schema.get("properties", {})
        pats = [_rx(p) for p in schema.get("patternProperties", {})]
        extras = [k for k in instance if k not in props and not any(p.search(k) for p in pats)]
        if validator.is_type(aP, "object"):
            for k in extras:
                yield from validator.descend(instance[k], aP, path=k)
        elif not aP and extras:
            yield ValidationError(f"unexpected {extras[0]!r}")

    return validators.extend(Draft202012Validator, {"pattern": pattern, "patternProperties": pattern_properties,
                                                     "additionalProperties": additional_properties})


@cache
def _validator(name: str, definition: Optional[str]):
    with open(schema_dir() / f"{name}.schema.json", encoding="utf-8") as fh:
        root = json.load(fh)
    s = root if definition is None else {"$schema": root["$schema"], "$id": root["$id"], "$defs": root["$defs"],
                                         "$ref": f"#/$defs/{definition}"}
    return _cls()(s)


def _problem(e) -> SchemaViolation:
    path = ""
    for p in e.absolute_path:
        path += f"[{p}]" if isinstance(p, int) else (f".{p}" if path else str(p))
    kw, d, v = e.validator, e.schema if isinstance(e.schema, dict) else {}, e.instance
    if kw == "type":
        t = d["type"] if isinstance(d["type"], list) else [d["type"]]
        return SchemaViolation(path, f"must be of type {' or '.join(t)}")
    if kw == "const":
        return SchemaViolation(path, f"must be {d['const']!r}")
    if kw == "enum":
        return SchemaViolation(path, "must be one of " + ", ".join(map(str, d["enum"])))
    if kw == "pattern":
        return SchemaViolation(path, "is not in the expected form")
    if kw == "required":
        missing = next((k for k in d["required"] if k not in v), "?")
        return SchemaViolation(path, f"lacks the required field '{missing}'")
    if kw == "additionalProperties":
        props, pats = d.get("properties", {}), [_rx(p) for p in d.get("patternProperties", {})]
        extra = next((k for k in v if k not in props and not any(p.search(k) for p in pats)), "?")
        return SchemaViolation(path, f"has an unexpected field '{extra}'")
    words = {"minLength": "must be at least {} characters", "maxLength": "must be at most {} characters",
             "minimum": "must be at least {}", "maximum": "must be at most {}", "minItems": "must have at least {} items",
             "maxItems": "must have at most {} items", "uniqueItems": "must not repeat an item",
             "minProperties": "must have at least {} fields", "anyOf": "matches none of the allowed forms",
             "oneOf": "must match exactly one of the allowed forms"}
    return SchemaViolation(path, words.get(kw, f"breaks the schema's '{kw}' rule").format(d.get(kw)))


def validate(name: str, value: Any, definition: Optional[str] = None) -> None:
    e = next(_validator(name, definition).iter_errors(value), None)
    if e is not None:
        raise _problem(e)


def check(name: str, value: Any, source: str) -> None:
    try:
        validate(name, value)
    except SchemaViolation as exc:
        raise IntegrityError(f"{source} breaks the {name} schema: {exc.path} {exc.problem}",
                             f"see schemas/{name}.schema.json; if the file was edited by hand, restore it from git") from None


def check_def(name: str, definition: str, value: Any, source: str) -> None:
    try:
        validate(name, value, definition)
    except SchemaViolation as exc:
        raise IntegrityError(f"{source} breaks the {name} schema ({definition}): {exc.path} {exc.problem}",
                             f"see schemas/{name}.schema.json; if the file was edited by hand, restore it from git") from None


def check_real_dates(items: list, fields: tuple, source: str) -> None:
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
