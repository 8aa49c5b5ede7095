"""Every file confide writes validates against its JSON Schema in schemas/, on write and on read.

confide validates with validators that fastjsonschema generated from the schemas ahead of
time (``scripts/gen_schema_validators.py`` -> ``vault_cli/formats/schema_validators/``, used
by ``vault_cli.formats.schema``). These tests hold them to the standard:

- every schema is a valid 2020-12 schema (jsonschema's own meta-schema), every pattern
  an ECMA-262 regular expression, and every keyword one fastjsonschema applies as 2020-12
  does (anything else is refused by the generator, not silently half-applied);
- the checked-in validators are what the generator makes now from the schemas;
- on a corpus of real documents made by the CLI (settings, holders, record envelopes, and
  the decrypted profile, entry and marking payloads) and of invalid mutations of them, they
  agree with the reference: ``jsonschema`` with an ECMA-262 regex engine (``regress``) for
  ``pattern``/``patternProperties`` (plain jsonschema uses Python's ``re``, whose ``$``
  matches before a final newline); they agree on the edge cases of each keyword too;
- patterns have ECMA-262's ``$``: a name, id or date with a trailing newline ("ben\\n",
  "c-xxxxxxxx\\n", "2026-11-24\\n") is rejected, by the validators, the loaders and the commands;
- a file that breaks its schema is never read: committed, it is a finding of
  'confide verify' that every command refuses on; inside an encrypted block, the
  command that opens it refuses it; and nothing invalid is ever written.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import regress
from conftest import entries_file, head_file, recipient_of, record_doc, signing_pub
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from vault_cli.adapters import crypto
from vault_cli.cli import environment
from vault_cli.errors import ExitCode, IntegrityError
from vault_cli.formats import envelope, policyfiles, schema, yamlio
from vault_cli.formats.schema_validators import ENTRY, FASTJSONSCHEMA
from vault_cli.services.vault import Session, Vault

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO / "schemas"
SCHEMA_NAMES = sorted(p.name[: -len(".schema.json")] for p in SCHEMA_DIR.glob("*.schema.json"))

_spec = importlib.util.spec_from_file_location("gen_schema_validators", REPO / "scripts" / "gen_schema_validators.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def load_schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())


def sub_schema(name: str, definition: str | None) -> dict:
    """A schema for one of ``name``'s $defs, as ``schema.check_def`` applies it."""
    root = load_schema(name)
    if definition is None:
        return root
    return {"$schema": root["$schema"], "$defs": root["$defs"], "$ref": f"#/$defs/{definition}"}


# ---------------------------------------------------------------------------
# the reference: jsonschema, with ECMA-262 regular expressions


def _ecma(pattern: str) -> regress.Regex:
    return regress.Regex(pattern)


def _ecma_pattern(validator, patrn, instance, schema_):
    if validator.is_type(instance, "string") and _ecma(patrn).find(instance) is None:
        yield ValidationError(f"does not match {patrn!r} (ECMA-262)")


def _ecma_pattern_properties(validator, pattern_properties, instance, schema_):
    if not validator.is_type(instance, "object"):
        return
    for patrn, sub in pattern_properties.items():
        for k, v in instance.items():
            if _ecma(patrn).find(k) is not None:
                yield from validator.descend(v, sub, path=k, schema_path=patrn)


def _ecma_additional_properties(validator, additional, instance, schema_):
    if not validator.is_type(instance, "object"):
        return
    props, patterns = schema_.get("properties", {}), [_ecma(p) for p in schema_.get("patternProperties", {})]
    extras = [k for k in instance if k not in props and not any(p.find(k) is not None for p in patterns)]
    if validator.is_type(additional, "object"):
        for k in extras:
            yield from validator.descend(instance[k], additional, path=k)
    elif not additional and extras:
        yield ValidationError(f"unexpected properties {sorted(extras)!r}")


# jsonschema's 2020-12 validator with the regex keywords on an ECMA-262 engine, as JSON Schema specifies
Reference = validators.extend(Draft202012Validator, {
    "pattern": _ecma_pattern, "patternProperties": _ecma_pattern_properties,
    "additionalProperties": _ecma_additional_properties,
})


def test_the_reference_has_ecma_semantics():
    """The reference itself: what plain jsonschema accepts, it rejects exactly where ECMA-262 differs."""
    s = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
         "properties": {"n": {"pattern": "^[a-z]+$"}}, "patternProperties": {"^x-[a-z]+$": {"type": "integer"}},
         "additionalProperties": False}
    assert Draft202012Validator(s).is_valid({"n": "ben\n"})  # Python's re: $ before a final newline
    assert not Reference(s).is_valid({"n": "ben\n"}) and Reference(s).is_valid({"n": "ben"})
    assert Draft202012Validator(s).is_valid({"x-a\n": 1})
    assert not Reference(s).is_valid({"x-a\n": 1}) and Reference(s).is_valid({"x-a": 1})
    assert not Reference(s).is_valid({"x-a": "s"})


class Pair:
    """confide's generated validator and the reference, for one (sub)schema."""

    def __init__(self, name: str, definition: str | None = None) -> None:
        self.name, self.definition = name, definition
        self.label = name + (f"#{definition}" if definition else "")
        self.theirs = Reference(sub_schema(name, definition))

    def verdicts(self, doc: Any) -> tuple[bool, bool]:
        try:
            schema.validate(self.name, doc, self.definition)
            ours = True
        except schema.SchemaViolation:
            ours = False
        return ours, self.theirs.is_valid(doc)


# ---------------------------------------------------------------------------
# the schemas themselves, and the generated validators


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        yield from node.get("patternProperties", {})
        for v in node.values():
            yield from _patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from _patterns(v)


def test_the_schema_folder_covers_every_format():
    assert set(SCHEMA_NAMES) == {"entry", "holders", "mark", "profile", "record", "settings"}
    assert schema.schema_dir().resolve() == SCHEMA_DIR


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_each_schema_is_valid_2020_12_and_in_the_supported_subset(name):
    s = load_schema(name)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(s)
    # with format checks too: every 'pattern' is a valid regular expression for Python...
    Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=FormatChecker()).validate(s)
    # ...and for ECMA-262, the dialect JSON Schema specifies
    patterns = list(_patterns(s))
    assert patterns
    for p in patterns:
        _ecma(p)
    gen.check_supported(s)  # raises on anything the generated validators would not apply as 2020-12 says


def test_the_generated_validators_are_current():
    """What is checked in under vault_cli/formats/schema_validators/ is what the generator makes now."""
    assert FASTJSONSCHEMA == fastjsonschema.VERSION, (
        f"the validators were generated by fastjsonschema {FASTJSONSCHEMA}, {fastjsonschema.VERSION} is installed: "
        "install the version pyproject.toml names, or regenerate: python scripts/gen_schema_validators.py")
    files = gen.generate()
    assert gen.stale(files) == [], "stale generated validators; run: python scripts/gen_schema_validators.py"
    assert gen.main(["--check"]) == 0
    # every schema and every one of its $defs has a validator, and it is the one the index names
    want = {(n, None) for n in SCHEMA_NAMES} | {(n, d) for n in SCHEMA_NAMES for d in load_schema(n).get("$defs", {})}
    assert set(ENTRY) == want
    for (name, definition), (module, fn) in ENTRY.items():
        assert f"\ndef {fn}(" in files[f"{module}.py"], (name, definition)


def test_a_stale_validator_is_noticed(tmp_path, monkeypatch):
    """The check fails on a schema changed without regenerating, and on a hand-edited or stray module."""
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    for p in SCHEMA_DIR.glob("*.schema.json"):
        (schemas / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(gen, "OUT", out)
    files = gen.generate(schemas)
    for f, text in files.items():
        (out / f).write_text(text)
    assert gen.stale(gen.generate(schemas)) == []
    s = json.loads((schemas / "holders.schema.json").read_text())
    s["$defs"]["name"]["pattern"] = "^[a-z][a-z0-9._-]{0,29}$"
    (schemas / "holders.schema.json").write_text(json.dumps(s))
    assert gen.stale(gen.generate(schemas)) == ["holders.py"]
    (out / "stray.py").write_text("")
    (out / "entry.py").write_text(files["entry.py"].replace("must be", "should be", 1))
    assert gen.stale(gen.generate(schemas)) == ["entry.py", "holders.py", "stray.py"]


def test_every_pattern_has_ecma_semantics(corpus):
    """Each compiled pattern in the generated modules answers as ECMA-262 does, on every string the corpus
    holds (values and keys) and on each with a newline, CR, line separator or space added at either end."""
    from vault_cli.formats import schema_validators

    strings: set = set()
    for _s, _d, doc, _label in corpus:
        for _path, node in _nodes(doc):
            if isinstance(node, str):
                strings.add(node)
            if isinstance(node, dict):
                strings.update(k for k in node if isinstance(k, str))
    probes = {t for s in strings for t in (s, s + "\n", "\n" + s, s + "\r", s + "\r\n", s + "\u2028", s + " ", s + "\n\n")}
    checked = 0
    for module in sorted({m for m, _ in ENTRY.values()}):
        table = importlib.import_module(f"{schema_validators.__name__}.{module}").REGEX_PATTERNS
        for source, compiled in table.items():
            reference = _ecma(source)
            for t in probes:
                assert (compiled.search(t) is not None) == (reference.find(t) is not None), (module, source, t)
                checked += 1
    assert checked > 10000


# ---------------------------------------------------------------------------
# a trailing newline is not part of a name, an id or a date

NEWLINE_CASES = [
    ("holders", "name", "ben\n"), ("holders", "name", "ben\r\n"), ("holders", "date", "2026-11-24\n"),
    ("record", "record_id", "c-xxxxxxxx\n"), ("record", "entry_id", "e-01jg48mjw5f3gs\n"),
    ("record", "mark_id", "m-01jg48mjw5f3gs\n"), ("record", "key_id", "k-1jpz\n"), ("record", "holder", "ben\n"),
    ("record", "date", "2026-11-24\n"), ("profile", "date", "2026-11-24\n"), ("profile", "holder", "ben\n"),
    ("profile", "datetime", "2026-11-24T10:15:00+00:00\n"), ("entry", "date", "2026-11-24\n"),
    ("entry", "datetime", "2026-11-24T10:15:00Z\n"),
]


@pytest.mark.parametrize("name,definition,value", NEWLINE_CASES)
def test_a_trailing_newline_is_rejected(name, definition, value):
    """Pinned both ways: the value without its line ending is valid, with it is not, for confide and the reference."""
    clean = value.rstrip("\r\n")
    pair = Pair(name, definition)
    assert pair.verdicts(clean) == (True, True)
    assert pair.verdicts(value) == (False, False)
    with pytest.raises(IntegrityError, match="is not in the expected form"):
        schema.check_def(name, definition, value, "x.yaml")


def test_a_key_with_a_trailing_newline_is_rejected():
    """patternProperties too: a holder's wrapped key, a consent, a role named with a trailing newline."""
    head = {"id": "k-1jpz", "level": "general", "generation": 1, "recipient": "age1" + "q" * 58,
            "wrapped": {"ben": "-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n-----END AGE ENCRYPTED FILE-----\n"}}
    schema.check_def("record", "level_key", head, "x")
    bad = dict(head, wrapped={"ben\n": head["wrapped"]["ben"]})
    assert Pair("record", "level_key").verdicts(bad) == (False, False)
    with pytest.raises(IntegrityError, match="has an unexpected field"):
        schema.check_def("record", "level_key", bad, "x")
    profile = {"name": "Ada", "consents": {"photos": True}}
    schema.check_def("profile", "profile", profile, "x")
    assert Pair("profile", "profile").verdicts(dict(profile, consents={"photos\n": True})) == (False, False)
    # an armored block ends with at most one newline
    armored = head["wrapped"]["ben"]
    assert Pair("record", "armored").verdicts(armored) == (True, True)
    assert Pair("record", "armored").verdicts(armored + "\n") == (False, False)


def test_loaders_reject_a_trailing_newline(vault):
    """The loaders of confide.yaml, holders.yaml and a record's head refuse a name, id or date with a line ending."""
    v = vault
    rid = v.add_child("Ada Newline", key_person="ben")
    holders = yamlio.load((v.root / "holders.yaml").read_bytes(), "holders.yaml")
    policyfiles.holders_from_bytes(yamlio.dump(holders).encode())
    for field, value in (("name", "ben\n"), ("added", "2026-11-24\n"), ("added_by", "amira\n")):
        doc = copy.deepcopy(holders)
        who = next(h for h in doc["holders"] if h["name"] == "ben")
        who[field] = value
        with pytest.raises(IntegrityError, match=f"holders.yaml breaks the holders schema: holders\\[[0-9]+\\].{field} "):
            policyfiles.holders_from_bytes(yamlio.dump(doc).encode())
    settings = yamlio.load((v.root / "confide.yaml").read_bytes(), "confide.yaml")
    policyfiles.settings_from_bytes(yamlio.dump(settings).encode())
    doc = copy.deepcopy(settings)
    doc["categories"] = list(doc["categories"]) + ["note\n"]
    with pytest.raises(IntegrityError, match="confide.yaml breaks the settings schema: categories"):
        policyfiles.settings_from_bytes(yamlio.dump(doc).encode())
    head = yamlio.load(head_file(v.root, rid).read_bytes(), "head")
    envelope.load_head(yamlio.dump(head).encode(), "head")
    for field, value, problem in (("record", rid + "\n", "is not in the expected form"),
                                  ("key_person", "ben\n", "matches none of the allowed forms")):  # (a name or null)
        with pytest.raises(IntegrityError, match=f"breaks the record schema: {field} {problem}"):
            envelope.load_head(yamlio.dump(dict(head, **{field: value})).encode(), "head")
    grant = {"holder": "cara", "level": "general", "granted_by": "amira", "granted": "2026-11-24\n"}
    with pytest.raises(IntegrityError, match="breaks the record schema: grants\\[0\\].granted is not in the expected form"):
        envelope.load_head(yamlio.dump(dict(head, grants=[grant])).encode(), "head")


def test_commands_reject_a_trailing_newline(vault):
    """Through the commands: as arguments (refused, nothing changed), and committed by hand (a finding that
    every command refuses on, naming the file and the schema check)."""
    v = vault
    rid = v.add_child("Ada Newline", key_person="ben")
    head = v.head()
    for args in (["show", rid + "\n"], ["child", "set", rid, "dob=2022-03-04\n"],
                 ["add", rid, "--level", "general", "--category", "note", "--text", "x", "--parents-informed", "2026-11-24\n"],
                 ["add", rid, "--level", "general", "--category", "note\n", "--text", "x"],
                 ["grant", "cara", rid, "--level", "confidential", "--until", "2026-12-24\n"],
                 ["holder", "add", "fred\n", "--role", "practitioner", "--recipient", recipient_of(v.keys["eve"])]):
        r = v.run(*args)
        assert r.exit_code in (ExitCode.USAGE, ExitCode.NOT_FOUND), (args, r.exit_code, r.stderr)
        assert r.stderr.startswith("confide: error:") and "Traceback" not in r.stderr
        assert v.head() == head and v.is_clean()
    # hand edits, committed and signed by a manager
    hpath = v.root / "holders.yaml"
    good = hpath.read_bytes()
    doc = yamlio.load(good, "holders.yaml")
    next(h for h in doc["holders"] if h["name"] == "ben")["name"] = "ben\n"
    hpath.write_text(yamlio.dump(doc))
    bad = v.commit_as("amira", "holders: tidy")
    _refused_by_history(v, ["child", "list"], bad, "holders.yaml", "schema", "holders.yaml breaks the holders schema")
    _the_finding(v, bad, "holders.yaml", "schema")
    v.git("reset", "-q", "--keep", head)
    hname = f"records/{rid}.yaml"
    path = head_file(v.root, rid)
    doc = yamlio.load(path.read_bytes(), hname)
    doc["record"] = rid + "\n"
    path.write_text(yamlio.dump(doc))
    bad = v.commit_as("amira", "record: tidy")
    _refused_by_history(v, ["show", rid], bad, hname, "schema", f"{hname} breaks the record schema: record is not in the expected form")
    v.git("reset", "-q", "--keep", head)
    assert v.ok("show", rid, "--json")


# ---------------------------------------------------------------------------
# a corpus of real documents


def build_vault(v) -> dict:
    """A vault with every kind of document confide writes, through the CLI."""
    rid = v.add_child("Ada Corpus", key_person="ben", dob="2022-03-04", room="rainbow")
    other = v.add_child("Bo Corpus")
    v.ok("child", "set", rid, "known_as=Addie", "start_date=2024-09-02", "home_languages=English,Polish",
         "parents.0.name=Pat Corpus", "parents.0.relationship=mother", "parents.0.parental_responsibility:=true",
         "parents.0.phone=01234 567890", "parents.0.email=pat@example.invalid",
         "emergency_contacts.0.name=Gran", "emergency_contacts.0.phone=07700 900000",
         "medical_needs=inhaler", "allergies=nuts,eggs", "dietary_needs=vegetarian", "gp=Dr Who",
         "consents:={\"photos\": true, \"outings\": false}")
    e1 = v.add_entry(rid, "played with blocks", "general", "observation", "ben", "--third-party", "Grandma")
    e2 = v.add_entry(rid, "bruise on arm", "confidential", "injury", "amira", "--parents-informed", "2026-11-24",
                     "--parent-view", "not-confidential", "--at", "2026-11-23T10:15:00+00:00")
    v.add_entry(rid, "disclosure", "safeguarding", "concern", "dara", "--parents-not-informed", "risk to the child",
                "--third-party", "Social worker", "--third-party", "Police")
    v.ok("add", rid, "--level", "general", "--category", "note", "--text", "correction", "--corrects", e1)
    v.ok("mark", e1, "--level", "confidential", "--reason", "parent asked")
    v.ok("mark", e2, "--parent-view", "confidential")
    v.add_entry(other, "first day", "general", "observation", "cara")
    # a practitioner who writes needs a signing key in a vault that requires signatures
    v.ok("holder", "add", "eve", "--role", "practitioner", "--recipient", recipient_of(v.keys["eve"]),
         "--signing-key", signing_pub(v.keys, "eve"))
    # a record made by a holder who does not read its higher levels: its head marks them 'rekey' (last, so it stays)
    third = v.ok("child", "add", "--name", "Cy Corpus", who="ben").last_line
    return {"records": [rid, other, third]}


def corpus_of(v) -> list[tuple[str, str | None, Any, str]]:
    """(schema, $def or None, document, label): every file and every decrypted payload."""
    root = v.root
    docs: list[tuple[str, str | None, Any, str]] = []
    docs.append(("settings", None, yamlio.load((root / "confide.yaml").read_bytes(), "confide.yaml"), "confide.yaml"))
    docs.append(("holders", None, yamlio.load((root / "holders.yaml").read_bytes(), "holders.yaml"), "holders.yaml"))
    session = Session.start(Vault.open(environment.config(vault=str(root), identity=str(v.keys["amira"]))))
    rids = sorted(p.name[: -len(envelope.ENTRIES_SUFFIX)] for p in (root / "records").glob("c-*" + envelope.ENTRIES_SUFFIX))
    assert rids and sorted(p.name for p in (root / "records").glob("c-*")) == sorted(
        f"{rid}{suffix}" for rid in rids for suffix in (envelope.HEAD_SUFFIX, envelope.ENTRIES_SUFFIX))
    for rid in rids:
        path = head_file(root, rid)
        # the record as a whole (head file and entries file together) is what the record schema describes
        doc = record_doc(root, rid)
        docs.append(("record", None, doc, path.name))
        env = envelope.Envelope.read(f"records/{path.name}", session.vault.read)
        if doc["entries"]:
            epath = entries_file(root, rid).name
            docs.append(("record", "entry", doc["entries"][0], f"{epath} entry"))
            docs.append(("record", "entry_list", doc["entries"], f"{epath} entries"))

        def opened(block: dict, what: str, env=env) -> dict:
            ident = session.level_identity(env, block["key"])
            assert ident is not None, f"amira cannot open {what}"
            return json.loads(crypto.decrypt(block["data"], ident))

        profile = opened(doc["profile"], "the profile")
        docs.append(("profile", None, profile, f"{path.name} profile"))
        docs.append(("profile", "profile", profile["profile"], f"{path.name} profile data"))
        for item in doc["entries"]:
            docs.append(("entry", None, opened(item, item["id"]), f"{path.name} {item['id']}"))
            for mk in item.get("marks", []):
                docs.append(("mark", None, opened(mk, mk["id"]), f"{path.name} {mk['id']}"))
    return docs


@pytest.fixture
def corpus(vault):
    build_vault(vault)
    docs = corpus_of(vault)
    kinds = {(s, d) for s, d, _, _ in docs}
    assert {("settings", None), ("holders", None), ("record", None), ("profile", None), ("entry", None),
            ("mark", None)} <= kinds
    # the newer fields are in the corpus too: roles with 'lowers' and 'may', the signing policy, a pending re-key
    settings = next(d for s, _, d, _ in docs if s == "settings")
    assert settings["signing"] == "required" and all("may" in r for r in settings["roles"].values() if not r.get("offline"))
    assert any(d.get("rekey") for s, x, d, _ in docs if (s, x) == ("record", None))
    return docs


# ---------------------------------------------------------------------------
# mutations


WRONG_TYPES: list[Any] = ["", "x", 0, 7, -1, 1.5, True, False, None, [], {}, ["x"], {"x": 1}]


def _nodes(doc: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, doc
    if isinstance(doc, dict):
        for k, val in doc.items():
            yield from _nodes(val, path + (k,))
    elif isinstance(doc, list):
        for i, val in enumerate(doc):
            yield from _nodes(val, path + (i,))


def _with(doc: Any, path: tuple, change) -> Any:
    new = copy.deepcopy(doc)
    if not path:
        return change(new)
    node = new
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = change(node[path[-1]])
    return new


def _without(doc: Any, path: tuple) -> Any:
    new = copy.deepcopy(doc)
    node = new
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return new


def mutations(doc: Any) -> Iterator[tuple[str, Any]]:
    """Invalid (and some still valid) variants: drop a field, wrong types, bad patterns, extra fields..."""
    for path, node in _nodes(doc):
        where = "/".join(map(str, path)) or "(top)"
        if path:
            yield f"drop {where}", _without(doc, path)
        for bad in WRONG_TYPES:
            if bad != node or type(bad) is not type(node):
                yield f"{where} = {bad!r}", _with(doc, path, lambda _n, b=bad: copy.deepcopy(b))
        if isinstance(node, dict):
            yield f"extra field in {where}", _with(doc, path, lambda n: dict(n, zz_extra="x"))
            yield f"bad key in {where}", _with(doc, path, lambda n: dict(n, **{"Not A-Name!": "x"}))
            yield f"empty {where}", _with(doc, path, lambda n: {})
        elif isinstance(node, list):
            if node:
                yield f"repeat an item of {where}", _with(doc, path, lambda n: n + [copy.deepcopy(n[0])])
                yield f"drop items of {where}", _with(doc, path, lambda n: n[1:])
            yield f"null item in {where}", _with(doc, path, lambda n: n + [None])
        elif isinstance(node, str):
            yield f"{where} + newline", _with(doc, path, lambda n: n + "\n")
            yield f"{where} with a space", _with(doc, path, lambda n: " " + n)
            yield f"{where} upper case", _with(doc, path, lambda n: n.upper())
            yield f"{where} truncated", _with(doc, path, lambda n: n[:-1])
            yield f"{where} too long", _with(doc, path, lambda n: n + "y" * 2001)
            if path and path[-1] == "text":
                yield f"{where} far too long", _with(doc, path, lambda n: "z" * 100001)
        elif isinstance(node, bool):
            yield f"{where} as 1", _with(doc, path, lambda n: int(n))
        elif isinstance(node, int):
            yield f"{where} as float", _with(doc, path, lambda n: float(n))
            yield f"{where} as half", _with(doc, path, lambda n: n + 0.5)
            yield f"{where} below", _with(doc, path, lambda n: 0)
            yield f"{where} as string", _with(doc, path, lambda n: str(n))


def _has_pattern(root: dict, path: tuple) -> bool:
    """Does the schema constrain the field at ``path`` (keys and indexes) with a pattern, in any of its forms?"""

    def forms(node: dict) -> list:
        if "$ref" in node:
            node = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
        return [node] + [f for branch in node.get("anyOf", []) + node.get("oneOf", []) for f in forms(branch)]

    nodes = forms(root)
    for key in path:
        nxt = []
        for n in nodes:
            if isinstance(key, int) and isinstance(n.get("items"), dict):
                nxt += forms(n["items"])
            elif isinstance(key, str):
                subs = [n["properties"][key]] if key in n.get("properties", {}) else []
                subs += [sub for p, sub in n.get("patternProperties", {}).items() if _ecma(p).find(key) is not None]
                nxt += [f for sub in subs for f in forms(sub)]
        nodes = nxt
    return any("pattern" in n for n in nodes)


def test_validators_agree_on_the_corpus_and_its_mutations(corpus):
    pairs: dict[tuple, Pair] = {}
    disagreements, newline_accepted = [], []
    accepted = rejected = newline_rejected = 0
    for name, definition, doc, label in corpus:
        pair = pairs.setdefault((name, definition), Pair(name, definition))
        # the real documents are valid to both, and to confide's own check
        assert pair.verdicts(doc) == (True, True), f"{label}: {pair.theirs.best_match(pair.theirs.iter_errors(doc))}"
        if definition is None:
            schema.check(name, doc, label)
        else:
            schema.check_def(name, definition, doc, label)
        for what, bad in mutations(doc):
            ours, theirs = pair.verdicts(bad)
            if ours != theirs:
                disagreements.append(f"{pair.label} {label}: {what}: vault_cli.formats.schema {'accepts' if ours else 'rejects'}, "
                                     f"the reference {'accepts' if theirs else 'rejects'}")
            elif ours:
                accepted += 1
            else:
                rejected += 1
        # every name, id, date, key or block (a field with a pattern) with a newline added is refused
        for path, node in _nodes(doc):
            if isinstance(node, str) and _has_pattern(sub_schema(name, definition), path):
                ours, theirs = pair.verdicts(_with(doc, path, lambda n: n + "\n"))
                if ours or theirs:
                    newline_accepted.append(f"{pair.label} {label}: {'/'.join(map(str, path))} = {node[:20]!r} + newline")
                newline_rejected += 1
    assert disagreements == []
    assert newline_accepted == []
    # the corpus really exercises both outcomes
    assert rejected > 2000 and accepted > 50 and newline_rejected > 100, (rejected, accepted, newline_rejected)


# ---------------------------------------------------------------------------
# edge cases of every supported keyword


EDGE_CASES: list[tuple[dict, list[Any]]] = [
    ({"type": "integer"}, [1, 0, -3, 1.0, 2.5, True, False, "1", None, 10**30]),
    ({"type": "number"}, [1, 1.5, True, "1", None]),
    ({"type": "string"}, ["", "x", 1, None, b"x".decode()]),
    ({"type": "boolean"}, [True, False, 0, 1, "true", None]),
    ({"type": "null"}, [None, 0, "", False]),
    ({"type": ["string", "null"], "minLength": 1}, ["", "x", None, 0]),
    ({"type": "array"}, [[], [1], {}, "[]"]),
    ({"type": "object"}, [{}, {"a": 1}, [], None]),
    ({"const": 1}, [1, 1.0, True, "1", [1]]),
    ({"const": True}, [True, 1, 1.0, False]),
    ({"const": 0}, [0, 0.0, False, None]),
    ({"const": ["a", "b"]}, [["a", "b"], ["b", "a"], ["a"], "ab"]),
    ({"const": {"a": 1}}, [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": 1, "b": 2}]),
    ({"enum": [0, "a", None, [1]]}, [0, 0.0, False, "a", None, [1], [True], [1.0], "b"]),
    ({"enum": [1, True]}, [1, True, 1.0, False]),
    ({"pattern": "^c-[a-z]{2}$"}, ["c-ab", "c-ab\n", "c-ab\r", "c-ab\n\n", "\nc-ab", "xc-ab", "c-abc", 5, None]),
    ({"pattern": "^a|b$"}, ["a\n", "b\n", "xb", "b"]),
    ({"pattern": "^x\\$$"}, ["x$", "x$\n", "x", "x\\$"]),
    ({"pattern": "^x\\\\$"}, ["x\\", "x\\\n", "x"]),
    ({"pattern": "é"}, ["café", "cafe"]),
    ({"minLength": 2, "maxLength": 3}, ["a", "ab", "abc", "abcd", "😀😀", "😀", 5]),
    ({"minimum": 1, "maximum": 2}, [0, 1, 1.5, 2, 2.0001, True, "5"]),
    ({"minItems": 1, "maxItems": 2}, [[], [1], [1, 2], [1, 2, 3], "abc"]),
    ({"uniqueItems": True}, [[1, 2], [1, 1], [1, 1.0], [1, True], [0, False], [[1], [1.0]], [{"a": 1}, {"a": 1.0}],
                             [{"a": 1, "b": 2}, {"b": 2, "a": 1}], ["a", "a"], [None, None], [None, False]]),
    ({"items": {"type": "string"}}, [[], ["a"], ["a", 1], "ab"]),
    ({"minProperties": 1}, [{}, {"a": 1}, []]),
    ({"required": ["a"], "properties": {"a": {"type": "string"}}}, [{"a": "x"}, {"a": 1}, {}, {"b": 1}, ["a"]]),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, [{"a": "x"}, {"b": 1}, {}]),
    ({"additionalProperties": {"type": "integer"}}, [{"a": 1}, {"a": "x"}, {}]),
    ({"patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
     [{"x-a": 1}, {"x-a": "s"}, {"y": 1}, {}]),
    ({"patternProperties": {"^x-[a-z]$": {"type": "integer"}}, "additionalProperties": False},
     [{"x-a": 1}, {"x-a\n": 1}, {"x-a\n": "s"}]),
    # one pattern text in both keywords (fastjsonschema compiles it once: it must mean the same in both)
    ({"properties": {"n": {"pattern": "^[a-z]+$"}}, "patternProperties": {"^[a-z]+$": {"type": "string"}},
      "additionalProperties": False}, [{"n": "ab"}, {"n": "ab\n"}, {"ab": "x"}, {"ab\n": "x"}, {"n": "ab", "ab\n": "x"}]),
    ({"properties": {"x-a": {"type": "integer"}}, "patternProperties": {"^x-": {"minimum": 5}}},
     [{"x-a": 6}, {"x-a": 4}, {"x-a": "s"}]),
    ({"anyOf": [{"type": "string"}, {"type": "null"}]}, ["x", None, 1]),
    ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, [-1, 1, 0.5, "x"]),
    ({"$defs": {"d": {"type": "string", "pattern": "^a", "maxLength": 2}}, "$ref": "#/$defs/d"}, ["ab", "abc", "b", 1]),
    ({"$defs": {"d": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/d"}}}, [{"a": "x"}, {"a": 1}]),
    ({"title": "t", "description": "d", "$comment": "c", "examples": [1], "default": 1, "type": "integer"}, [1, "x"]),
    ({"properties": {"a": {"default": 5}}}, [{}, {"a": 1}]),
]


def _generated(subschema: dict):
    s = dict(subschema, **{"$schema": "https://json-schema.org/draft/2020-12/schema"})
    Draft202012Validator.check_schema(s)
    return s, gen.compile_function(s)


@pytest.mark.parametrize("subschema,values", EDGE_CASES, ids=[json.dumps(s)[:60] for s, _ in EDGE_CASES])
def test_validators_agree_on_keyword_edge_cases(subschema, values):
    s, (fn, _patterns_, error) = _generated(subschema)
    theirs_v = Reference(s)
    for value in values:
        before = copy.deepcopy(value)
        try:
            fn(value)
            ours = True
        except error:
            ours = False
        assert ours == theirs_v.is_valid(value), f"{subschema} on {value!r}: the generated validator says {ours}"
        assert value == before  # validating changes nothing (no defaults filled in)


def test_error_messages_name_the_path_and_the_problem_never_the_value():
    cases = [
        ({"type": "object", "properties": {"a": {"type": "integer"}}}, {"a": "secret"}, "a", "must be of type integer"),
        ({"properties": {"a": {"const": "x"}}}, {"a": "secret"}, "a", "must be 'x'"),
        ({"properties": {"a": {"enum": ["x", "y"]}}}, {"a": "secret"}, "a", "must be one of x, y"),
        ({"properties": {"a": {"pattern": "^x$"}}}, {"a": "secret"}, "a", "is not in the expected form"),
        ({"properties": {"a": {"maxLength": 3}}}, {"a": "secret"}, "a", "must be at most 3 characters"),
        ({"properties": {"a": {"minLength": 9}}}, {"a": "secret"}, "a", "must be at least 9 characters"),
        ({"properties": {"a": {"minimum": 9}}}, {"a": 7}, "a", "must be at least 9"),
        ({"properties": {"a": {"maximum": 1}}}, {"a": 7}, "a", "must be at most 1"),
        ({"properties": {"a": {"items": {"minItems": 2}}}}, {"a": [["secret"]]}, "a[0]", "must have at least 2 items"),
        ({"properties": {"a": {"uniqueItems": True}}}, {"a": ["secret", "secret"]}, "a", "must not repeat an item"),
        ({"properties": {"a": {"minProperties": 1}}}, {"a": {}}, "a", "must have at least 1 fields"),
        ({"properties": {"a": {"required": ["b", "c"]}}}, {"a": {"c": "secret"}}, "a", "lacks the required field 'b'"),
        ({"properties": {"a": {"properties": {"b": {}}, "patternProperties": {"^x": {}}, "additionalProperties": False}}},
         {"a": {"b": 1, "xy": 1, "zz": "secret"}}, "a", "has an unexpected field 'zz'"),
        ({"properties": {"a": {"anyOf": [{"type": "null"}, {"type": "integer"}]}}}, {"a": "secret"}, "a",
         "matches none of the allowed forms"),
        ({"type": "array"}, {"secret": 1}, "", "must be of type array"),
    ]
    for subschema, doc, path, problem in cases:
        _s, (fn, patterns, error) = _generated(subschema)
        with pytest.raises(error) as info:
            fn(doc)
        got = schema.violation(info.value, patterns)
        assert (got.path, got.problem) == (path or "(top)", problem), subschema
        assert "secret" not in str(got)


# ---------------------------------------------------------------------------
# what the generator refuses


@pytest.mark.parametrize("bad", [
    {"type": "string", "format": "email"},
    {"not": {"type": "string"}},
    {"if": {"type": "string"}, "then": {"minLength": 1}},
    {"type": "array", "prefixItems": [{"type": "string"}]},
    {"type": "object", "dependentRequired": {"a": ["b"]}},
    {"type": "object", "unevaluatedProperties": False},
    {"type": "object", "properties": {"a": {"type": "string", "format": "date"}}},
    {"$defs": {"d": {"exclusiveMinimum": 0}}},
    {"type": "array", "items": {"contains": {"type": "string"}}},
    {"anyOf": [{"type": "string"}, {"multipleOf": 2}]},
    {"oneOf": [{"allOf": [{"type": "string"}]}]},
    {"patternProperties": {"^a": {"propertyNames": {"pattern": "^a"}}}},
    {"additionalProperties": {"maxProperties": 2}},
    {"type": "object", "properties": {"a": False}},
    {"type": "array", "items": True},
    {"type": "array", "items": [{"type": "string"}]},
    {"anyOf": [True, {"type": "string"}]},
    {"$defs": {"d": {"type": "string"}}, "$ref": "#/$defs/d", "maxLength": 2},
    {"properties": {"a": {"$ref": "https://example.invalid/other.json"}}},
    {"properties": {"a": {"$dynamicRef": "#x"}}},
    {"properties": {"a": {"pattern": "^[$]x$"}}},
])
def test_generator_refuses_schemas_outside_its_subset(bad):
    with pytest.raises(gen.Unsupported, match="unsupported|boolean|only local"):
        gen.check_supported(bad)
    with pytest.raises(gen.Unsupported):
        gen.compile_function(bad)


def test_no_validator_is_generated_for_a_schema_it_cannot_fully_apply(tmp_path):
    for p in SCHEMA_DIR.glob("*.schema.json"):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "odd.schema.json").write_text(json.dumps({"type": "object", "dependentSchemas": {}}))
    with pytest.raises(gen.Unsupported, match="dependentSchemas"):
        gen.generate(tmp_path)


def test_an_unknown_schema_or_definition_is_an_error_not_a_pass():
    with pytest.raises(ValueError, match="no generated validator for schemas/record.schema.json \\$defs/nothing"):
        schema.check_def("record", "nothing", {}, "x")
    with pytest.raises(ValueError, match="no generated validator for schemas/odd.schema.json"):
        schema.check("odd", {}, "x")


# ---------------------------------------------------------------------------
# checked on read
#
# Commands read the vault from this clone's last verified commit, never from the working tree,
# and verify the commits since it before they act. A file that breaks its schema is therefore:
# - edited but not committed: simply not read (and no write goes ahead over it, exit 7);
# - committed, even signed by a holder: a finding of 'confide verify' (the schema check), on
#   which every command refuses (exit 9), naming the commit, until a manager repudiates it or
#   the clone is reset;
# - inside an encrypted block, which verify cannot open without a key: refused by the command
#   that opens it (exit 6), and reported by 'confide verify' run with a reader's key.


def _trust_state(v) -> bytes:
    return (v.root / ".git" / "confide" / "trust.json").read_bytes()


def _assert_refused_on_read(v, args: list[str], words: str) -> None:
    """A payload that breaks its schema, in a commit the keyless checks pass: the command's check with the
    caller's key (which opens it) refuses it, exit 9. And the read itself checks every payload too: were
    this clone's record of what amira's key checked to say it saw that commit, reading it still refuses
    it, exit 6."""
    head = v.head()
    r = v.run(*args)
    assert r.exit_code == ExitCode.FINDINGS, (r.exit_code, r.stderr)
    assert r.stderr.startswith("confide: error:") and words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert v.head() == head and v.is_clean()
    state_file = v.root / ".git" / "confide" / "trust.json"
    saved = state_file.read_text()
    state = json.loads(saved)
    state["verified"] = state["readers"]["amira"] = head
    state_file.write_text(json.dumps(state))
    try:
        r = v.run(*args)
        assert r.exit_code == ExitCode.INTEGRITY, (r.exit_code, r.stderr)
        assert r.stderr.startswith("confide: error:") and words in r.stderr, r.stderr
    finally:
        state_file.write_text(saved)
    assert v.head() == head and v.is_clean()


def _refused_by_history(v, args: list[str], commit: str, file: str, check: str, words: str | None = None) -> None:
    """A command on a history with a finding: exit 9 naming the commit, file and check; nothing read or changed."""
    head, trust = v.head(), _trust_state(v)
    r = v.run(*args)
    assert r.exit_code == ExitCode.FINDINGS, (args, r.exit_code, r.stderr)
    assert r.stderr.startswith("confide: error:") and f"commit {commit[:12]} {file}: {check}: " in r.stderr, r.stderr
    assert words is None or words in r.stderr, r.stderr
    assert "nothing was read or changed" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""
    # nothing changed: not the files, not the commits, not what this clone counts as verified
    assert v.head() == head and v.is_clean() and _trust_state(v) == trust


def _verify(v) -> dict:
    """'confide verify --json' with amira's key: exit 9 exactly when there are open findings."""
    r = v.run("verify", "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == (ExitCode.FINDINGS if data["findings"] else ExitCode.OK), (r.exit_code, r.stderr)
    return data


def _the_finding(v, commit: str, file: str, check: str, words: str | None = None) -> dict:
    """verify reports exactly one finding: this commit, file and check."""
    data = _verify(v)
    assert [(f["commit"], f["file"], f["check"]) for f in data["findings"]] == [(commit, file, check)], data["findings"]
    assert words is None or words in data["findings"][0]["message"], data["findings"][0]
    return data


def _write_refused_while_dirty(v, rid: str) -> None:
    head, status, diff = v.head(), v.git("status", "--porcelain"), v.git("diff")
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x")
    assert r.exit_code == ExitCode.VAULT_STATE and "uncommitted changes" in r.stderr, (r.exit_code, r.stderr)
    assert v.head() == head and v.git("status", "--porcelain") == status and v.git("diff") == diff


def _repudiate(v, bad: str, restored: dict) -> None:
    """A manager's repudiation: one signed commit back to the verified files; the finding is answered, not open."""
    commit = v.ok("repudiate").last_line
    assert v.head() == commit and v.is_clean()
    for path, data in restored.items():
        assert path.read_bytes() == data, path
    data = _verify(v)
    assert data["ok"] and data["findings"] == []
    assert {f["commit"] for f in data["repudiated"] if f["repudiated_by"] == commit} == {bad}


def test_settings_and_holders_are_checked_on_read(vault):
    v = vault
    rid = v.add_child("Ada Read")
    shown = v.ok("show", rid, "--json").stdout
    path = v.root / "confide.yaml"
    good = path.read_text()
    bad_text = good.replace("request_deadline: 1 month", "request_deadline: 2 months")
    assert bad_text != good
    path.write_text(bad_text)
    # not committed: commands read the verified commit, so the edit is not seen; writes refuse
    assert v.ok("show", rid, "--json").stdout == shown
    _write_refused_while_dirty(v, rid)
    # committed, signed by a manager: the settings schema is still broken, so the history does not verify
    bad = v.commit_as("amira", "settings: deadline")
    _refused_by_history(v, ["show", rid], bad, "confide.yaml", "schema")
    _refused_by_history(v, ["add", rid, "--level", "general", "--category", "note", "--text", "x"], bad, "confide.yaml", "schema")
    _the_finding(v, bad, "confide.yaml", "schema")
    # putting the file back by hand does not make what is built on the bad commit trusted
    path.write_text(good)
    v.commit_as("amira", "settings: put back")
    _refused_by_history(v, ["show", rid], bad, "confide.yaml", "schema")
    assert _the_finding(v, bad, "confide.yaml", "schema")["tainted"] == 1
    _repudiate(v, bad, {path: good.encode()})
    assert v.ok("show", rid, "--json").stdout == shown

    hpath = v.root / "holders.yaml"
    hgood = hpath.read_bytes()
    listed, holders = v.ok("child", "list", "--json").stdout, v.ok("holder", "list", "--json").stdout
    hpath.write_bytes(hgood.replace(b"status: active", b"status: on-leave", 1))
    assert v.ok("child", "list", "--json").stdout == listed and v.ok("holder", "list", "--json").stdout == holders
    _write_refused_while_dirty(v, rid)
    verified = v.head()
    bad = v.commit_as("amira", "holders: leave")
    _refused_by_history(v, ["child", "list"], bad, "holders.yaml", "schema")
    _refused_by_history(v, ["holder", "list", "--json"], bad, "holders.yaml", "schema")
    _the_finding(v, bad, "holders.yaml", "schema")
    # the other way back: reset this clone to the last verified commit
    v.git("reset", "-q", "--keep", verified)
    assert hpath.read_bytes() == hgood
    assert v.ok("holder", "list", "--json").stdout == holders


def test_record_envelope_and_payloads_are_checked_on_read(vault):
    v = vault
    rid = v.add_child("Ada Payload", key_person="ben")
    eid = v.add_entry(rid, "hello", "confidential", "note")
    path, epath = head_file(v.root, rid), entries_file(v.root, rid)
    hname, ename = f"records/{rid}.yaml", f"records/{rid}.entries.yaml"
    shown = v.ok("show", rid, "--json").stdout

    # the envelope: an extra field in the head, then one in an entry
    good, egood = path.read_bytes(), epath.read_bytes()
    assert b"grants: []\n" in good
    path.write_bytes(good.replace(b"grants: []\n", b"grants: []\nnickname: x\n"))
    assert v.ok("show", rid, "--json").stdout == shown  # not committed: not read
    _write_refused_while_dirty(v, rid)
    bad = v.commit_as("amira", "hand edit")
    _refused_by_history(v, ["show", rid], bad, hname, "schema", f"{hname} breaks the record schema")
    _the_finding(v, bad, hname, "schema", f"{hname} breaks the record schema")
    _repudiate(v, bad, {path: good, epath: egood})
    assert f"- id: {eid}\n".encode() in egood
    epath.write_bytes(egood.replace(f"- id: {eid}\n".encode(), f"- id: {eid}\n  extra: 1\n".encode()))
    assert v.ok("show", rid, "--json").stdout == shown
    bad = v.commit_as("amira", "hand edit")
    assert path.read_bytes() == good  # the damage is in the entries file alone
    _refused_by_history(v, ["show", rid], bad, ename, "schema", f"{ename} breaks the record schema")
    _the_finding(v, bad, ename, "schema", f"{ename} breaks the record schema")
    _repudiate(v, bad, {path: good, epath: egood})
    assert v.ok("show", rid, "--json").stdout == shown

    # a payload that is genuine age, correctly bound, but breaks the entry schema
    session = Session.start(Vault.open(environment.config(vault=str(v.root), identity=str(v.keys["amira"]))))
    env = envelope.Envelope.read(hname, session.vault.read)
    item = env.find_entry(eid)
    ident = session.level_identity(env, item["key"])
    payload = json.loads(crypto.decrypt(item["data"], ident))
    key = env.key(item["key"])
    # put in place of the written entry's block: a written entry never changes, which verify sees without a key
    doc = yamlio.load(egood, "entries")
    [e for e in doc["entries"] if e["id"] == eid][0]["data"] = crypto.encrypt(
        json.dumps(dict(payload, mood="sad")).encode(), key.recipient)
    epath.write_text(yamlio.dump(doc))
    bad = v.commit_as("amira", "hand edit")
    _refused_by_history(v, ["show", rid, "--json"], bad, ename, "entry-changed")
    _the_finding(v, bad, ename, "entry-changed")
    _repudiate(v, bad, {path: good, epath: egood})
    # appended as a new entry, signed by a holder who writes: verify cannot open the block without a key, so
    # the command that opens it refuses it; verify with a reader's key finds it
    verified = v.head()
    new_id = "e-zzzzzzzzzzzzzz"
    assert new_id > eid
    for change, words in (({"mood": "sad"}, "breaks the entry schema"), ({"category": "Not Valid"}, "breaks the entry schema"),
                          ({"third_parties": ["a", "a"]}, "breaks the entry schema")):
        forged = dict(payload, block=new_id, **change)
        doc = yamlio.load(egood, "entries")
        doc["entries"].append({"id": new_id, "key": item["key"],
                               "data": crypto.encrypt(json.dumps(forged).encode(), key.recipient)})
        epath.write_text(yamlio.dump(doc))
        bad = v.commit_as("amira", "hand edit")
        assert path.read_bytes() == good  # the damage is in the entries file alone
        _assert_refused_on_read(v, ["show", rid, "--json"], words)
        _the_finding(v, bad, ename, "schema", words)
        v.git("reset", "-q", "--keep", verified)
        assert v.ok("show", rid, "--json").stdout == shown
    # the profile payload
    profile_key = env.key(env.head["profile"]["key"])
    pident = session.level_identity(env, profile_key.id)
    profile = json.loads(crypto.decrypt(env.head["profile"]["data"], pident))
    forged = dict(profile, profile=dict(profile["profile"], dob="4 March 2022"))
    block = crypto.encrypt(json.dumps(forged).encode(), profile_key.recipient)
    doc = yamlio.load(good, "record")
    doc["profile"]["data"] = block
    path.write_text(yamlio.dump(doc))
    bad = v.commit_as("amira", "hand edit")
    assert epath.read_bytes() == egood  # the damage is in the head alone
    _assert_refused_on_read(v, ["child", "list", "--json"], "breaks the profile schema")
    _assert_refused_on_read(v, ["show", rid], "breaks the profile schema")
    _the_finding(v, bad, hname, "schema", "breaks the profile schema")


# ---------------------------------------------------------------------------
# checked on write


def test_nothing_invalid_is_written(vault, keys):
    v = vault
    rid = v.add_child("Ada Write")
    head = v.head()
    for args, words in (
        (["child", "set", rid, "dob=2022-13-01"], None),
        (["child", "set", rid, "name=" + "x" * 201], "at most 200"),
        (["child", "set", rid, "consents:={\"Photos!\": true}"], "unexpected field"),
        (["child", "set", rid, "parents.0.phone=123"], "lacks the required field 'name'"),
        (["add", rid, "--level", "general", "--category", "note", "--text", "x" * 100001], "at most 100000"),
        (["add", rid, "--level", "general", "--category", "note", "--text", "x", "--third-party", "y" * 201], "at most 200"),
        (["mark", "e-0000000000zzzz", "--parent-view", "confidential"], None),
    ):
        r = v.run(*args)
        assert r.exit_code in (ExitCode.USAGE, ExitCode.NOT_FOUND), (args[:2], r.exit_code, r.stderr)
        if words:
            assert words in r.stderr, r.stderr
        assert v.head() == head and v.is_clean()
    eid = v.add_entry(rid, "x", "general", "note")
    head = v.head()
    r = v.run("mark", eid, "--level", "confidential", "--reason", "r" * 2001)
    assert r.exit_code == ExitCode.USAGE and "at most 2000" in r.stderr
    assert v.head() == head and v.is_clean()

    # confide.yaml on init
    r = v.run("init", str(v.root.parent / "v2"), "--name", "n" * 201, "--holder", "amira",
              "--signing-key", signing_pub(keys, "amira"))
    assert r.exit_code == ExitCode.USAGE and "at most 200" in r.stderr
    assert not (v.root.parent / "v2").exists()

    # the library's own writers check before anything reaches disk
    env = envelope.Envelope.read(f"records/{rid}.yaml", Vault.open(environment.config(vault=str(v.root))).read)
    env.head["keys"][0]["generation"] = 0
    with pytest.raises(IntegrityError, match="breaks the record schema"):
        env.head_bytes()
    with pytest.raises(IntegrityError, match="breaks the record schema"):
        env.files()
    env.head["keys"][0]["generation"] = 1
    env.head["keys"][0]["wrapped"]["Not A Holder"] = env.head["keys"][0]["wrapped"]["amira"]
    with pytest.raises(IntegrityError, match="breaks the record schema"):
        env.head_bytes()
    with pytest.raises(IntegrityError, match="breaks the record schema"):
        env.files()
    with pytest.raises(IntegrityError, match="breaks the entry schema"):
        envelope.seal({"confide": "entry/1"}, env.keys[0].recipient, "entry", "test")
    with pytest.raises(IntegrityError, match="breaks the record schema"):
        env.append_entry({"id": "e-bad", "key": env.keys[0].id, "data": "x"})
    env.head["keys"][0]["wrapped"].pop("Not A Holder")
    good_entry = dict(env.entries[0])
    env._entries = [dict(good_entry, marks=[{"id": "m-bad", "key": good_entry["key"], "data": good_entry["data"]}])]
    with pytest.raises(IntegrityError, match=f"records/{rid}.entries.yaml breaks the record schema"):
        env.tail_bytes()  # entries re-dumped (a marking, a merge) are checked too
    with pytest.raises(IntegrityError, match="breaks the record schema"):
        env.files()
    env._entries = [good_entry]
    assert env.tail_bytes() == entries_file(v.root, rid).read_bytes()
    assert env.head_bytes() == head_file(v.root, rid).read_bytes()
    assert env.files() == {}  # nothing changed: nothing to write


def test_every_file_in_a_used_vault_validates(corpus, vault):
    """Stronger than the corpus test's sample: every YAML file in the vault, at every commit."""
    v = vault
    shas = v.git("rev-list", "HEAD").split()
    checked = 0
    heads = entries = 0
    for sha in shas:
        for path in v.git("ls-tree", "-r", "--name-only", sha).split():
            if not path.endswith(".yaml"):
                continue
            data = yamlio.load(v.git("show", f"{sha}:{path}"), path)
            if path in ("confide.yaml", "holders.yaml"):
                pair, doc = Pair({"confide.yaml": "settings", "holders.yaml": "holders"}[path]), data
            else:
                _, part = envelope.record_of(path)
                if part == "head":  # a head is a record without its entries: they are never in it
                    assert isinstance(data, dict) and "entries" not in data, f"{path} at {sha[:8]}"
                    pair, doc = Pair("record"), dict(data, entries=[])
                    heads += 1
                else:  # an entries file holds the entry list and nothing else
                    assert isinstance(data, dict) and list(data) == ["entries"], f"{path} at {sha[:8]}"
                    pair, doc = Pair("record", "entry_list"), data["entries"] or []
                    entries += 1
            assert pair.verdicts(doc) == (True, True), f"{path} at {sha[:8]}"
            checked += 1
    assert checked > 30 and heads > 10 and entries > 10
