"""The JSON contract: every command's ``--json`` output, real, on a real vault, against its schema.

Each command that takes ``--json`` has ``schemas/output/<command>.schema.json`` (JSON Schema 2020-12;
``access --holder`` has ``access-holder``): every key is required and no other is allowed, so a key
that goes missing, or one nobody documented, fails here. The outputs are made by the CLI on one vault
built for the purpose (a manager who reads everything, a practitioner to whom the safeguarding entries
are sealed, a student to whom the whole record is sealed), and validated with ``jsonschema``. Then,
for every object in every output, each key is taken out in turn and the schema must refuse what is
left: the schemas cannot quietly let a key go missing.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
from conftest import VaultFixture
from jsonschema import Draft202012Validator

from vault_cli.cli import contract

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "output"
NAMES = sorted(p.name[: -len(".schema.json")] for p in SCHEMAS.glob("*.schema.json"))
LONG = "She said she is scared to go home because " + "of the shouting at night, " * 12 + "and cried."

# what scripts read: every output made once per test session (``_outputs``), each under the name of its schema
_CACHE: dict[str, list[tuple[str, object]]] = {}


def _json(r) -> object:
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def _build(v: VaultFixture, tmp: Path) -> list[tuple[str, str, object]]:
    """(schema, case, output) for every --json output, on a vault that has something in every part."""
    ada = v.add_child("Ada Lovelace", key_person="ben", dob="2022-03-04", room="rainbow")
    v.add_entry(ada, "Painted a sunflower")
    concern = v.add_entry(ada, LONG, "safeguarding", "concern", "dara", "--parents-not-informed", "it would put her at risk",
                          "--third-party", "Aunt Jo")
    injury = v.add_entry(ada, "Bruise on left arm", "confidential", "injury", "amira")
    v.ok("mark", injury, "--parent-view", "confidential")
    v.ok("share", ada, "--with", "social care", "--what", "the concern", "--purpose", "protect her", "--basis", "duty",
         "--consent", "not-sought", "--reason", "it would put her at risk", "--how", "phone", "--parents-not-informed",
         "it would put her at risk")
    v.ok("grant", "cara", "--child", ada, "--level", "confidential", "--until", "2026-11-30")
    v.add_holder("eve", "student")
    v.add_holder("fay", "practitioner")
    v.ok("holder", "remove", "fay", "--reason", "left the setting")
    req = v.ok("request", "open", ada, "--requester", "Mary Lovelace", "--relationship", "mother",
               "--received", "2026-11-20", "--acknowledged", "2026-11-21").last_line
    v.ok("request", "decide", req, concern, "--withhold", "--ground", "serious-harm", input="it would put her at risk\n")
    v.ok("hold", "add", ada, "--reason", "an inquiry asked us to keep her file")
    lifted = v.ok("hold", "add", "--all", "--reason", "a claim against the setting").last_line
    v.ok("hold", "release", lifted, "--reason", "the claim was settled")
    anchor = _json(v.run("trust", "--json"))["anchor"]
    out: list[tuple[str, str, object]] = []

    def run(schema: str, case: str, *args: str, who: str = "amira", input: str | None = None) -> None:
        out.append((schema, case, _json(v.run(*args, "--json", who=who, input=input))))

    for who, case in (("amira", "readable"), ("cara", "some entries sealed"), ("eve", "sealed")):
        run("show", case, "show", ada, who=who)
        run("child-list", case, "child", "list", who=who)
        run("due", case, "due", who=who)
        run("whoami", case, "whoami", who=who)
        run("request-list", case, "request", "list", who=who)
    run("find", "readable", "find", "scared", who="dara")
    run("find", "by name, some sealed", "find", "Ada", who="cara")
    run("child-find", "readable", "child", "find", input="ada\n")
    run("request-show", "decided", "request", "show", req)
    run("hold-list", "open and released", "hold", "list", "--all")
    run("holder-list", "active and removed", "holder", "list")
    run("holder-list", "staff details sealed", "holder", "list", who="cara")
    run("access", "with a grant", "access", ada)
    run("access-holder", "grant and role", "access", "--holder", "cara")
    run("verify", "clean", "verify")
    run("trust", "pinned", "trust")
    run("audit", "every action", "audit")
    run("backup", "bundle", "backup", str(tmp / "vault.bundle"))
    run("restore", "verified", "restore", str(tmp / "vault.bundle"), str(tmp / "restored"), "--trust", anchor)
    subprocess.run(["git", "clone", "-q", "--bare", str(v.root), str(tmp / "shared.git")], check=True)
    run("serve-hook-install", "bare clone", "serve-hook", "install", str(tmp / "shared.git"), "--trust", anchor)
    # leavers and retention (after the runs above, whose outputs do not change): a review due, its decision
    bo = v.add_child("Bo Chen", key_person="cara", dob="2021-11-30")
    v.add_entry(bo, "Painted a sunflower")
    v.ok("child", "leave", ada, "--date", "2026-07-31")
    v.ok("child", "leave", bo, "--date", "2023-06-30")
    run("child-list", "leavers", "child", "list", "--all")
    run("retention", "dated", "retention", ada)
    run("due", "a review due", "due")
    v.ok("review", bo, "--keep-until", "2027-06-30", "--from", "-", input='{"reason": "a claim"}')
    run("retention", "kept longer", "retention", bo)
    run("import", "one child", "import", "-", input=json.dumps(
        {"child": "g", "name": "Gus Imported", "key_person": "ben", "at": "2026-11-20", "level": "general",
         "category": "observation", "text": "Likes the sand pit"}) + "\n")
    return out


@pytest.fixture
def outputs(vault, tmp_path) -> list[tuple[str, str, object]]:
    if "all" not in _CACHE:
        _CACHE["all"] = _build(vault, tmp_path)  # type: ignore[assignment]
    return _CACHE["all"]  # type: ignore[return-value]


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(name))


def _problems(name: str, doc: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in _validator(name).iter_errors(doc)]


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_a_valid_2020_12_schema_with_its_own_id(name):
    s = _schema(name)
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["$id"].endswith(f"/schemas/output/{name}.schema.json")


def test_the_schemas_share_one_definition_of_each_id_and_date():
    """Each schema stands alone (a script needs one file), so the definitions they share are copies: the same."""
    seen: dict[str, tuple[str, dict]] = {}
    for name in NAMES:
        for k, d in _schema(name).get("$defs", {}).items():
            if k.endswith("_"):
                continue  # a definition of one schema's own
            if k in seen:
                assert d == seen[k][1], f"$defs/{k} differs between {seen[k][0]} and {name}"
            else:
                seen[k] = (name, d)


def _json_commands() -> list[str]:
    """Every command (as 'child list') that takes --json."""
    import typer.main

    from vault_cli.cli.main import app

    found = []

    def walk(cmd, path):
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, path + [name])
        if any("--json" in p.opts for p in cmd.params):
            found.append(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_with_json_has_a_schema():
    commands = _json_commands()
    assert "show" in commands and "child list" in commands
    for command in commands:
        assert (SCHEMAS / f"{command.replace(' ', '-')}.schema.json").exists(), f"no schema for 'confide {command} --json'"
    assert {c.replace(" ", "-") for c in commands} | {"access-holder"} == set(NAMES)


def test_every_output_matches_its_schema_and_every_schema_is_exercised(outputs):
    bad = {f"{name} ({case})": p for name, case, doc in outputs if (p := _problems(name, doc))}
    assert not bad, json.dumps(bad, indent=2)
    assert {name for name, _c, _d in outputs} == set(NAMES)


FREE_FORM = {"profile", "details", "changes"}  # a child's profile and a procedure's details: as recorded


def _objects(doc, path=()):
    """(path, object) for every JSON object in ``doc`` outside the free-form parts."""
    if isinstance(doc, dict):
        yield path, doc
        for k, v in doc.items():
            if k not in FREE_FORM:
                yield from _objects(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _objects(v, path + (i,))


def _without(doc, path, key):
    doc = copy.deepcopy(doc)
    node = doc
    for p in path:
        node = node[p]
    del node[key]
    return doc


def test_a_key_gone_missing_anywhere_fails_the_schema(outputs):
    """Take each key out of each object of each real output in turn: the schema must refuse every one."""
    checked = 0
    for name, case, doc in outputs:
        v = _validator(name)
        for path, obj in _objects(doc):
            for key in obj:
                assert not v.is_valid(_without(doc, path, key)), f"{name} ({case}): {'/'.join(map(str, path + (key,)))} may go missing"
                checked += 1
    assert checked > 500


def test_an_undocumented_key_fails_the_schema(outputs):
    for name, case, doc in outputs:
        for path, _obj in _objects(doc):
            extra = copy.deepcopy(doc)
            node = extra
            for p in path:
                node = node[p]
            node["surprise"] = 1
            assert not _validator(name).is_valid(extra), f"{name} ({case}): an unknown key passes at {path}"


def test_sealed_parts_are_null_never_missing(outputs):
    by = {(name, case): doc for name, case, doc in outputs}
    shown = by[("show", "readable")]
    partly = by[("show", "some entries sealed")]
    sealed = by[("show", "sealed")]
    readable_entry = shown["entries"][0]
    assert list(readable_entry) == list(contract.ENTRY_KEYS)
    assert sealed["profile"] is None and sealed["conflict"] is None
    for e in sealed["entries"] + [e for e in partly["entries"] if not e["readable"]]:
        assert list(e) == list(readable_entry), e  # the same keys, in the same order
        assert all(e[k] is None for k in e if k not in ("entry", "level", "readable")), e
    assert any(not e["readable"] for e in partly["entries"]) and any(e["readable"] for e in partly["entries"])
    rows = by[("child-list", "sealed")]
    assert rows and all(list(r) == list(by[("child-list", "readable")][0]) for r in rows)
    assert all(r["name"] is None and r["dob"] is None and not r["readable"] for r in rows)


def test_one_naming_scheme(outputs):
    """Ids are named by what they identify, the same in every command: no bare 'id', no 'child' for a name."""
    for name, case, doc in outputs:
        for path, obj in _objects(doc):
            assert "id" not in obj and "child" not in obj, f"{name} ({case}) at {path}"
            assert all(k == k.lower() and "-" not in k and " " not in k for k in obj), f"{name}: {list(obj)}"
    by = {(name, case): doc for name, case, doc in outputs}
    found = by[("find", "readable")][0]
    shown = {e["entry"]: e for e in by[("show", "readable")]["entries"]}
    assert found["entry"] in shown and found["record"] == by[("show", "readable")]["record"]
    assert found["text"] == LONG  # whole, exactly as written


def test_find_never_cuts_text(vault):
    """Tab-separated output gives an entry's whole text on one line (line breaks as spaces), however long."""
    ada = vault.add_child("Ada Lovelace", key_person="ben")
    vault.add_entry(ada, LONG + "\nSecond line.", "safeguarding", "concern", "dara")
    r = vault.ok("find", "scared", who="dara")
    header, row = r.stdout.splitlines()
    assert header.split("\t") == ["when", "record", "entry", "level", "category", "text", "child"]
    assert row.split("\t")[5] == " ".join((LONG + " Second line.").split())
    assert len(row.split("\t")[5]) > 300
