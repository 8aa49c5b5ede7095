"""Generate confide's schema validators from ``schemas/*.schema.json`` with fastjsonschema.

Run after changing a schema (the test suite fails until you do)::

    .venv/bin/python scripts/gen_schema_validators.py          # rewrite vault_cli/formats/schema_validators/
    .venv/bin/python scripts/gen_schema_validators.py --check  # exit 1, naming the files, if they are stale

Each schema becomes one module, ``vault_cli/formats/schema_validators/<name>.py``,
which is ``fastjsonschema.compile_to_code`` of the schema as it stands, with one
change: its ``REGEX_PATTERNS`` table is rebuilt so that every pattern, in
``pattern`` and ``patternProperties`` alike, has the ECMA-262 meaning of ``$``
(the end of the string, never before a final newline). fastjsonschema does that
for ``pattern`` only, and keeps one compiled regex per pattern text, so which
meaning a pattern used in both keywords got depended on which the generator
reached last. A ``$defs`` entry that the root never reaches (``record``'s
``entry_list``) has no function there and gets a module of its own,
``<name>__<def>.py``, compiled from ``{"$defs": ..., "$ref": "#/$defs/<def>"}``.
``__init__.py`` maps each (schema, definition) to its module and function.

fastjsonschema implements drafts 4, 6, 7 and 2019-09 (it reads a 2020-12
schema with its latest generator). The schemas are 2020-12; this script refuses
any schema that uses a keyword outside the set whose meaning is the same in
both (``SAME_MEANING``), a ``$ref`` with sibling keywords (applied in 2019+,
not by fastjsonschema), ``items`` as a list (a tuple in draft 7,
``prefixItems`` in 2020-12), a reference that is not local, or a boolean
schema, so nothing is silently ignored. The tests check the generated
validators against ``jsonschema`` with an ECMA-262 regex engine on a corpus of
real and broken documents.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
OUT = REPO / "vault_cli" / "formats" / "schema_validators"

# Keywords whose meaning is the same in JSON Schema 2020-12 and in fastjsonschema's generator.
SAME_MEANING = {
    "$schema", "$id", "$defs", "$ref", "$comment", "title", "description", "examples",
    "type", "properties", "required", "additionalProperties", "patternProperties",
    "enum", "const", "pattern", "minLength", "maxLength", "items", "minItems", "maxItems",
    "uniqueItems", "minProperties", "minimum", "maximum", "anyOf", "oneOf", "default",
}
ANNOTATIONS = {"$comment", "title", "description", "examples", "default"}  # ('default' is not filled in)


class Unsupported(ValueError):
    """A schema uses something the generated validators would not apply as JSON Schema 2020-12 says."""


def check_supported(node: object, where: str = "#") -> None:
    """Refuse a schema that fastjsonschema would apply differently from 2020-12, naming where."""
    if not isinstance(node, dict):
        raise Unsupported(f"schema {where} is a boolean or non-object schema, which is unsupported")
    unknown = set(node) - SAME_MEANING
    if unknown:
        raise Unsupported(f"schema {where} uses unsupported keywords {sorted(unknown)}")
    if "$ref" in node:
        if not str(node["$ref"]).startswith("#/"):
            raise Unsupported(f"schema {where}: only local $ref is supported, not {node['$ref']}")
        siblings = set(node) - {"$ref", "$schema", "$id", "$defs"} - ANNOTATIONS
        if siblings:
            raise Unsupported(f"schema {where}: $ref with sibling keywords {sorted(siblings)} is unsupported")
    for pattern in ([node["pattern"]] if "pattern" in node else []) + list(node.get("patternProperties", {})):
        if "$" in ecma_end(pattern).replace("\\$", ""):
            raise Unsupported(f"schema {where}: pattern {pattern!r} has a $ in a character class, which is unsupported "
                              "(fastjsonschema would read it as the end of the string)")
    for key in ("properties", "$defs", "patternProperties"):
        for name, sub in node.get(key, {}).items():
            check_supported(sub, f"{where}/{key}/{name}")
    if "items" in node:
        check_supported(node["items"], f"{where}/items")
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], bool):
        check_supported(node["additionalProperties"], f"{where}/additionalProperties")
    for key in ("anyOf", "oneOf"):
        for i, sub in enumerate(node.get(key, [])):
            check_supported(sub, f"{where}/{key}/{i}")


def ecma_end(pattern: str) -> str:
    """``pattern`` for Python's ``re`` with ECMA-262's ``$``: each ``$`` outside a class becomes ``\\Z``.

    (In ECMA-262 without the multiline flag, ``$`` matches only at the end of the
    input; Python's ``$`` also matches before a final newline.) Escapes and
    character classes are skipped, so ``\\$`` and ``[$]`` keep their meaning.
    """
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
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


def _refuse_remote(uri: str) -> None:
    raise Unsupported(f"the schemas may not refer to anything outside themselves ({uri})")


def _with_ecma_patterns(code: str) -> str:
    """Rebuild the module's REGEX_PATTERNS table: every pattern with ECMA-262's ``$``."""
    from fastjsonschema.generator import serialize_regexes

    tree = ast.parse(code)
    node = next((n for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
                 and getattr(n.targets[0], "id", None) == "REGEX_PATTERNS"), None)
    if node is None:
        return code
    keys = [ast.literal_eval(k) for k in node.value.keys]
    table = serialize_regexes({p: re.compile(ecma_end(p)) for p in keys})
    lines = code.split("\n")
    start, end = node.lineno - 1, node.end_lineno
    return "\n".join(lines[:start] + [f"REGEX_PATTERNS = {table}"] + lines[end:])


def _compile(schema: dict) -> str:
    import fastjsonschema

    code = fastjsonschema.compile_to_code(schema, handlers={"http": _refuse_remote, "https": _refuse_remote},
                                          use_default=False, use_formats=False)
    return _with_ecma_patterns(code)


def _function_names(schema: dict) -> tuple[str, dict]:
    """fastjsonschema's function name for the root and for each $defs entry."""
    from fastjsonschema.ref_resolver import RefResolver

    resolver = RefResolver.from_schema(schema, store={})
    root = resolver.get_scope_name()
    defs = {}
    for d in schema.get("$defs", {}):
        with resolver.in_scope(f"#/$defs/{d}"):
            defs[d] = resolver.get_scope_name()
    return root, defs


def _header(doc: str) -> str:
    return f'"""{doc}"""\n# fmt: off\n# ruff: noqa\n'


def compile_function(schema: dict):
    """(validation function, its compiled patterns, the exception it raises) for ``schema``, made as the
    modules are (for the tests: any schema, not only the ones in schemas/)."""
    check_supported(schema)
    namespace: dict = {}
    exec(compile(_compile(schema), "<generated>", "exec"), namespace)
    return namespace[_function_names(schema)[0]], namespace.get("REGEX_PATTERNS", {}), namespace["JsonSchemaValueException"]


def generate(schemas: Path = SCHEMAS) -> dict[str, str]:
    """{file name: text} of every module in vault_cli/formats/schema_validators/."""
    import fastjsonschema

    files: dict[str, str] = {}
    index: dict[tuple, tuple] = {}
    regen = "python scripts/gen_schema_validators.py"
    for path in sorted(schemas.glob("*.schema.json")):
        name = path.name[: -len(".schema.json")]
        schema = json.loads(path.read_text(encoding="utf-8"))
        check_supported(schema)
        root_fn, def_fns = _function_names(schema)
        code = _compile(schema)
        files[f"{name}.py"] = _header(
            f"The validator of schemas/{path.name}, generated by fastjsonschema {fastjsonschema.VERSION}; do not edit.\n\n"
            f"One module: generated code (regenerate with {regen}).\n") + code
        index[(name, None)] = (name, root_fn)
        for d, fn in def_fns.items():
            if f"\ndef {fn}(" in code:
                index[(name, d)] = (name, fn)
                continue
            module = f"{name}__{d}"
            wrapper = {"$schema": schema["$schema"], "$id": schema["$id"], "$defs": schema["$defs"], "$ref": f"#/$defs/{d}"}
            sub = _compile(wrapper)
            if f"\ndef {fn}(" not in sub:
                raise RuntimeError(f"fastjsonschema did not name {name}#{d}'s function {fn}")
            files[f"{module}.py"] = _header(
                f"The validator of $defs/{d} in schemas/{path.name}, generated by fastjsonschema "
                f"{fastjsonschema.VERSION}; do not edit.\n\nOne module: generated code (regenerate with {regen}).\n") + sub
            index[(name, d)] = (module, fn)
    entries = "\n".join(f"    {k!r}: {v!r}," for k, v in sorted(index.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")))
    files["__init__.py"] = _header(
        f"Validators generated from schemas/*.schema.json by fastjsonschema {fastjsonschema.VERSION}; do not edit.\n\n"
        f"Regenerate with {regen}; vault_cli.formats.schema uses them.\n"
        "ENTRY: (schema, $defs name or None for the whole schema) -> (module here, function).\n"
    ) + f"\nFASTJSONSCHEMA = {fastjsonschema.VERSION!r}\n\nENTRY = {{\n{entries}\n}}\n"
    return files


def stale(files: dict[str, str]) -> list[str]:
    """The files under OUT that differ from ``files`` or should not be there."""
    present = {p.name for p in OUT.glob("*.py")} if OUT.is_dir() else set()
    out = [f for f, text in files.items() if not (OUT / f).is_file() or (OUT / f).read_text(encoding="utf-8") != text]
    return sorted(out + [f for f in present - set(files)])


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only say whether the checked-in modules are current")
    a = ap.parse_args(argv)
    files = generate()
    wrong = stale(files)
    if a.check:
        if wrong:
            print("stale: " + ", ".join(wrong) + "; run: python scripts/gen_schema_validators.py", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for f in wrong:
        if f in files:
            (OUT / f).write_text(files[f], encoding="utf-8")
        else:
            (OUT / f).unlink()
    print(f"{len(wrong)} file(s) written or removed in {OUT.relative_to(REPO)}" if wrong else "up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
