"""Validation against the JSON Schemas in ``schemas/``, by validators fastjsonschema generated from them.

The validators are Python code that ``fastjsonschema`` wrote from the schemas
ahead of time (``scripts/gen_schema_validators.py``; checked in under
``schema_validators/``; a test regenerates them and fails if what is checked in
is stale). Patterns have ECMA-262 semantics, as JSON Schema says: ``$`` matches
only at the very end, so ``"ben\\n"`` is not a holder name (Python's ``re`` would
let ``$`` match before a final newline).

Why generated ahead of time rather than ``jsonschema`` at run time: measured with
``benchmarks/compare_schema_sig.py`` (a vault of 500 records grown by 2,000 signed
one-entry commits; 11 interleaved runs; medians of CPU time, user + sys, which the
2 shared, heavily loaded cores disturb less than wall time), against the
hand-written validator this replaced:

====================================  ==============  ===================  ==================
                                      hand-written    jsonschema           generated (this)
====================================  ==============  ===================  ==================
``confide add`` (whole process)       307 ms          372 ms (1.21x)       322 ms (1.05x)
``confide verify`` (2,006 commits)    2,141 ms        2,991 ms (1.40x)     2,047 ms (0.96x)
====================================  ==============  ===================  ==================

(Wall-time medians, with load averages of 10-14 on the 2 cores: add 1,744 / 2,008 /
1,661 ms, verify 6.2 / 8.9 / 5.0 s.) A second run of 11 (this branch, with sshsig checking signatures too, against the
code before it) gave ``confide add`` 1.00x and ``verify`` 1.06x the CPU of the
hand-written code, jsonschema 1.17x and 1.49x. In-process, validating one record
head takes ~60 us generated or hand-written and ~0.9 ms with jsonschema, whose
first use (import and schema set-up) costs ~110 ms; the generated modules' first
use costs ~4 ms (fastjsonschema's exception class, ``decimal``, the module).
So jsonschema at run time would cost every command its import and ``verify``
~40% more; the generated validators cost what the hand-written one did, with a
maintained implementation of JSON Schema behind them.

The errors name the file and the field path, never the field's value.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Optional

from vault_cli.errors import IntegrityError

_PACKAGE = "vault_cli.formats.schema_validators"


# A key quoted back in an error: what a field name looks like, never free text a person typed.
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")

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


@cache
def _entry(name: str, definition: Optional[str]) -> tuple[Callable, dict, type[Exception]]:
    """(generated function, its module's compiled patterns, the exception it raises) for a schema or one of its $defs."""
    from vault_cli.formats.schema_validators import ENTRY

    where = ENTRY.get((name, definition))
    if where is None:
        what = f"schemas/{name}.schema.json" + (f" $defs/{definition}" if definition else "")
        raise ValueError(f"no generated validator for {what}; run scripts/gen_schema_validators.py")
    module = importlib.import_module(f"{_PACKAGE}.{where[0]}")
    return getattr(module, where[1]), getattr(module, "REGEX_PATTERNS", {}), module.JsonSchemaValueException


def violation(exc: Any, patterns: dict) -> SchemaViolation:
    """confide's wording for a fastjsonschema error: the field path and what is wrong, never the value."""
    name = exc.name or "data"
    path = name[4:].lstrip(".") if name.startswith("data") else name
    rule, d, v = exc.rule, exc.definition if isinstance(exc.definition, dict) else {}, exc.value
    if rule == "type":
        types = d["type"] if isinstance(d["type"], list) else [d["type"]]
        return SchemaViolation(path, f"must be of type {' or '.join(types)}")
    if rule == "const":
        return SchemaViolation(path, f"must be {d['const']!r}")
    if rule == "enum":
        return SchemaViolation(path, "must be one of " + ", ".join(map(str, d["enum"])))
    if rule == "pattern":
        return SchemaViolation(path, "is not in the expected form")
    if rule == "required":
        missing = next((k for k in d["required"] if not isinstance(v, dict) or k not in v), "?")
        return SchemaViolation(path, f"lacks the required field '{missing}'")
    if rule == "additionalProperties":
        props, pats = d.get("properties", {}), [patterns[p] for p in d.get("patternProperties", {}) if p in patterns]
        extra = next((k for k in (v if isinstance(v, dict) else {})
                      if k not in props and not (isinstance(k, str) and any(p.search(k) for p in pats))), "?")
        if isinstance(extra, str) and _FIELD_NAME.fullmatch(extra):
            return SchemaViolation(path, f"has an unexpected field '{extra}'")
        # a key that is not a field name may be text typed into the wrong place: never repeat it
        return SchemaViolation(path, "has an unexpected field, not repeated here because it is not a field name "
                                     "(a line of text with a colon?)")
    words = {
        "minLength": "must be at least {} characters", "maxLength": "must be at most {} characters",
        "minimum": "must be at least {}", "maximum": "must be at most {}",
        "minItems": "must have at least {} items", "maxItems": "must have at most {} items",
        "uniqueItems": "must not repeat an item", "minProperties": "must have at least {} fields",
        "anyOf": "matches none of the allowed forms", "oneOf": "must match exactly one of the allowed forms",
    }
    return SchemaViolation(path, words.get(rule, f"breaks the schema's '{rule}' rule").format(d.get(rule)))


def validate(name: str, value: Any, definition: Optional[str] = None) -> None:
    """Raise ``SchemaViolation`` if ``value`` breaks ``schemas/<name>.schema.json`` (or its ``$defs/<definition>``)."""
    fn, patterns, error = _entry(name, definition)
    try:
        fn(value)
    except error as exc:
        raise violation(exc, patterns) from None


def check(name: str, value: Any, source: str) -> None:
    """Validate ``value`` against ``schemas/<name>.schema.json``.

    The error names the file and the field path, never the field's value.
    """
    try:
        validate(name, value)
    except SchemaViolation as exc:
        raise IntegrityError(
            f"{source} breaks the {name} schema: {exc.path} {exc.problem}",
            f"see schemas/{name}.schema.json; if the file was edited by hand, restore it from git",
        ) from None


def check_def(name: str, definition: str, value: Any, source: str) -> None:
    try:
        validate(name, value, definition)
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
