"""``confide import``: many children and entries from a CSV or JSON lines file, checked in full, one commit.

Real vaults, real keys, real git. A marker in the file's data must never reach stderr, a commit message or a
file name, and a refused file must leave the vault exactly as it was.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from vault_cli.errors import ExitCode

MARK = "Zqxmarker"  # in names and texts; must never leave the vault's ciphertext

HEADER = "child,name,dob,room,key_person,at,level,category,text,parent_view,parents_informed,parents_not_informed,third_parties\n"
GOOD = HEADER + (
    f"1,{MARK} Ada,2022-03-04,Rainbow,ben,2026-11-01,general,observation,{MARK} played with blocks,,,,\n"
    f'1,,,,,2026-11-02T09:30,confidential,injury,"{MARK} bumped knee, ""ice""\nsecond line",not-confidential,2026-11-02,,Dr Who; Nurse Kay\n'
    f"2,{MARK} Bo,,,,,,,,,,,\n"
    f"3,{MARK} Cy,2021-01-02,,,2026-10-30T14:00,safeguarding,concern,{MARK} said something,,,risk to the child,\n"
)


def write(tmp_path, text: str, name: str = "children.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def show(v, rid, who="amira"):
    r = v.ok("show", rid, "--json", who=who)
    return json.loads(r.stdout)


def log_text(v) -> str:
    return v.git("log", "--all", "--format=%B%n%an") + v.git("log", "--all", "--name-only", "--format=")


def verify_clean(v, who="amira"):
    r = v.run("verify", "--json", who=who)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["findings"] == []


def refused(v, args, code, who="amira", input=None):
    before = v.head()
    r = v.run(*args, who=who, input=input)
    assert r.exit_code == int(code), r.stdout + r.stderr
    assert r.stderr.startswith("confide: error: "), r.stderr
    assert v.head() == before and v.is_clean()
    assert MARK not in r.stderr and MARK not in r.stdout
    return r


def test_a_good_csv_import_is_one_commit_that_verifies_and_reads(vault, tmp_path):
    path = write(tmp_path, GOOD)
    before = int(vault.git("rev-list", "--count", "HEAD"))
    r = vault.ok("import", str(path))
    assert MARK not in r.stderr and MARK not in r.stdout
    assert "remove it securely" in r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [line for line, _rid in rows] == ["2", "5", "6"]  # each child's first row; line 3 spans two lines
    ada, bo, cy = (rid for _line, rid in rows)
    assert int(vault.git("rev-list", "--count", "HEAD")) == before + 1
    trailers = vault.git("log", "-1", "--format=%B")
    assert "Confide-Action: record.import" in trailers and "Confide-Records: 3" in trailers
    assert "Confide-Entries: 3" in trailers
    assert vault.changed() == sorted(f"records/{rid}{s}" for rid in (ada, bo, cy) for s in (".yaml", ".entries.yaml"))
    assert MARK not in log_text(vault)
    assert MARK.encode() not in b"".join(p.read_bytes() for p in (vault.root / "records").iterdir() if p.is_file())
    assert not list(vault.root.glob("**/*.csv"))  # the file is not copied into the vault
    verify_clean(vault)

    a = show(vault, ada)
    assert a["profile"]["name"] == f"{MARK} Ada" and a["profile"]["dob"] == "2022-03-04"
    assert a["profile"]["room"] == "Rainbow" and a["profile"]["key_person"] == "ben"
    first, second = a["entries"]
    assert first["at"] == "2026-11-01" and first["text"] == f"{MARK} played with blocks"  # a date alone stays a date
    assert first["author"] == "amira" and first["recorded_at"] == "2026-11-24T10:00:00+00:00"
    assert second["text"] == f'{MARK} bumped knee, "ice"\nsecond line'
    assert second["at"] == "2026-11-02T09:30:00+00:00" and second["level"] == "confidential"
    assert second["third_parties"] == ["Dr Who", "Nurse Kay"] and second["parents_informed"] == "2026-11-02"
    assert second["parent_view"] == "not-confidential"
    assert first["entry"] < second["entry"]  # entry ids keep the file's order
    assert show(vault, bo)["entries"] == []
    c = show(vault, cy, who="dara")
    assert c["entries"][0]["parents_not_informed"] == "risk to the child"
    assert [e["readable"] for e in show(vault, cy, who="ben")["entries"]] == [False]  # not ben's child
    # the key person reads their child's confidential entry, as after 'child add --key-person ben'
    assert [e["readable"] for e in show(vault, ada, who="ben")["entries"]] == [True, True]
    # what the records hold is what 'child add' and 'add' make: the next commands work on them
    vault.ok("add", ada, "--level", "general", "--category", "observation", "--text", "after the import")
    vault.ok("mark", second["entry"], "--parent-view", "confidential")
    verify_clean(vault, who="ben")


def test_json_lines_from_stdin(vault):
    lines = [
        {"child": "a", "name": f"{MARK} Di", "room": "Sun", "at": "2026-11-20", "level": "general",
         "category": "observation", "text": f"  {MARK} text kept as written\n", "third_parties": ["Gran"]},
        {"child": "a", "at": "2026-11-21T08:00:00+00:00", "level": "safeguarding", "category": "concern",
         "text": f"{MARK} second", "parents_informed": "2026-11-22"},
        {"child": "b", "name": f"{MARK} Ed", "dob": None},
    ]
    data = "\n".join(json.dumps(x) for x in lines) + "\n"
    r = vault.ok("import", "-", "--json", input=data)
    assert MARK not in r.stderr and "remove it securely" not in r.stderr
    out = json.loads(r.stdout)
    assert out["entries"] == 2 and [x["line"] for x in out["records"]] == [1, 3]
    assert [x["entries"] for x in out["records"]] == [2, 0]
    di = out["records"][0]["record"]
    entries = show(vault, di)["entries"]
    assert entries[0]["text"] == f"  {MARK} text kept as written\n" and entries[0]["third_parties"] == ["Gran"]
    assert entries[1]["level"] == "safeguarding" and entries[1]["parents_informed"] == "2026-11-22"
    assert MARK not in log_text(vault)
    verify_clean(vault)


BAD_ROWS = [
    # (a row put at line 3, what the refusal says)
    (f"2,{MARK} Bo,2022-13-01,,,,,,,,,,", "line 3: column dob needs a date as YYYY-MM-DD"),
    (f"2,{MARK} Bo,,,{MARK},,,,,,,,", "line 3: column key_person names no active holder"),
    (f"2,{MARK} Bo,,,,2026-11-01,{MARK},observation,x,,,,", "line 3: column level is not one of"),
    (f"2,{MARK} Bo,,,,2026-11-01,general,{MARK},x,,,,", "line 3: column category is not one of"),
    (f"2,{MARK} Bo,,,,2026-11-01,general,request,x,,,,", "line 3: column category is a procedure's category"),
    (f"2,{MARK} Bo,,,,2026-11-01,general,observation,x,{MARK},,,", "line 3: column parent_view is not one of"),
    (f"2,{MARK} Bo,,,,2027-01-01,general,observation,{MARK},,,,", "line 3: column at is in the future"),
    (f"2,{MARK} Bo,,,,2026-11-10,general,observation,{MARK},,2026-11-09,,",
     "line 3: column parents_informed is before the entry's date"),
    (f"2,{MARK} Bo,,,,2026-11-10,general,observation,{MARK},,2026-11-11,{MARK},",
     "line 3: column parents_informed and column parents_not_informed contradict each other"),
    (f"2,{MARK} Bo,,,,{MARK},general,observation,{MARK},,,,", "line 3: column at needs a date or date and time"),
    (f"2,{MARK} Bo,,,,2026-11-10,general,observation,,,,,", "line 3: gives an entry without column text"),
    (f"2,,,,,2026-11-10,general,observation,{MARK},,,,", "line 3: is this child's first row and gives no name"),
    (f",{MARK} Bo,,,,,,,,,,,", "line 3: column child is empty"),
    (f"1,{MARK} Other,,,,,,,,,,,", "line 3: column name differs from this child's first row (line 2)"),
    (f"2,{MARK} Bo,,,,", "line 3: has 6 values where the header has 13 columns"),
    (f"2,{MARK} Bo,,,,2026-11-10,general,observation,{'x' * 100001},,,,", "line 3: the entry would not be valid"),
    (f'2,"{MARK} Bo,,,,,,,,,,,', "is not well-formed CSV"),
]


@pytest.mark.parametrize("row,said", BAD_ROWS, ids=[s.split(": ", 1)[-1][:40] for _r, s in BAD_ROWS])
def test_a_bad_row_is_refused_by_line_and_nothing_is_written(vault, tmp_path, row, said):
    text = HEADER + f"1,{MARK} Ada,,,,,,,,,,,\n" + row + "\n" + f"4,{MARK} Fi,,,,,,,,,,,\n"
    r = refused(vault, ["import", str(write(tmp_path, text))], ExitCode.USAGE)
    assert said in r.stderr, r.stderr
    assert "nothing was written" in r.stderr
    assert vault.run("child", "list", "--json").stdout.strip() == "[]"


def test_every_bad_row_is_listed_and_none_is_echoed(vault, tmp_path):
    text = HEADER + "".join(f"{i},{MARK} C{i},{MARK},,,,,,,,,,\n" for i in range(30))
    r = refused(vault, ["import", str(write(tmp_path, text))], ExitCode.USAGE)
    assert r.stderr.count("column dob needs a date") == 20 and "and 10 more" in r.stderr
    assert "30 problems in the file" in r.stderr and "line 31:" not in r.stderr


@pytest.mark.parametrize("text,said", [
    ("", "line 1: the file is empty"),
    (f"{MARK},name\n1,x\n", "line 1: header column 1 is not one of confide's columns"),
    ("child,name,name\n", "line 1: header column 3 repeats column name"),
    ("child,text\n", "line 1: the header has no column name"),
    ("child,name,text\n", "line 1: the header has entry columns but no column at"),
    ("child,name\n", "line 1: the file holds no children"),
    (b"child,name\n1,\xff" + MARK.encode() + b"\n", "line 2: is not UTF-8 text"),
    ('{"child": "1", "name": "x"}\n{"' + MARK + '": 1}\n', "line 2: has a name that is not one of confide's columns"),
    ('{"child": "1", "name": "x"}\n\n[1]\n', "line 3: is not a JSON object"),
    ('{"child": "1", "name": 5}\n', "line 1: name must be text"),
    ('{"child": "1", "name": "x", "third_parties": "' + MARK + '"}\n', "line 1: third_parties must be a list"),
])


def test_a_malformed_file_is_refused(vault, tmp_path, text, said):
    path = tmp_path / "f"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    r = refused(vault, ["import", str(path)], ExitCode.USAGE)
    assert said in r.stderr, r.stderr


def test_format_can_be_given(vault, tmp_path):
    path = write(tmp_path, '{"child": "1", "name": "x"}\n')
    r = refused(vault, ["import", str(path), "--format", "csv"], ExitCode.USAGE)
    assert "line 1:" in r.stderr
    refused(vault, ["import", str(path), "--format", "xml"], ExitCode.USAGE)
    refused(vault, ["import", str(tmp_path / "missing.csv")], ExitCode.NOT_FOUND)
    vault.ok("import", str(path), "--format", "jsonl")


def test_permissions_are_the_rules_of_child_add_and_add(vault, tmp_path):
    vault.add_holder("aud", "auditor")
    vault.add_holder("sam", "student")
    path = write(tmp_path, GOOD)
    r = refused(vault, ["import", str(path)], ExitCode.DENIED, who="aud")
    assert "may not write" in r.stderr
    r = refused(vault, ["import", str(write(tmp_path, HEADER + f"1,{MARK},,,sam,,,,,,,,\n", "s.csv"))], ExitCode.USAGE)
    assert "line 2: column key_person names a student, who cannot be a key person" in r.stderr
    # a practitioner may import, as they may 'child add' and 'add': levels they do not read wait for a re-key
    r = vault.ok("import", str(path), who="cara")
    assert "wait for a new generation" in r.stderr
    verify_clean(vault, who="amira")
    rid = r.stdout.splitlines()[2].split("\t")[1]
    assert [e["readable"] for e in show(vault, rid, who="dara")["entries"]] == [True]


def test_the_vault_must_be_clean_and_a_refusal_changes_nothing(vault, tmp_path):
    (vault.root / "records" / "stray.txt").write_text("x")
    before = vault.head()
    r = vault.run("import", str(write(tmp_path, GOOD)))
    assert r.exit_code == int(ExitCode.VAULT_STATE) and vault.head() == before, r.stderr
    assert sorted(p.name for p in (vault.root / "records").iterdir()) == [".gitkeep", "stray.txt"]
    subprocess.run(["rm", str(vault.root / "records" / "stray.txt")], check=True)


def test_verify_holds_an_import_commit_to_new_records_only(vault, tmp_path):
    """An 'import' that changes a record already there, or miscounts, is reported (forged with plain git)."""
    from tests.conftest import entries_file
    from vault_cli.cli import environment
    from vault_cli.formats import envelope
    from vault_cli.services.vault import Session, Vault

    old = vault.add_child("Old Child")
    vault.ok("import", str(write(tmp_path, GOOD)))
    verify_clean(vault)
    session = Session.start(Vault(vault.root, config=environment.config(identity=str(vault.keys["amira"]))))
    env = session.vault.envelope(old)
    key = env.current_key("general")
    eid = "e-01m8p2cgzd20p9"
    payload = {"confide": "entry/1", "record": old, "block": eid, "level": "general", "category": "observation",
               "text": "slipped in", "at": "2026-11-24T10:00:00+00:00", "recorded_at": "2026-11-24T10:00:00+00:00",
               "author": "amira", "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": None,
               "third_parties": [], "corrects": None}
    env.append_entry({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", env.source)})
    entries_file(vault.root, old).write_bytes(env.tail_bytes())
    bad = vault.commit_as("amira", "confide: import 1 records with 1 entries", action="record.import",
                          trailers={"Confide-Records": "1", "Confide-Entries": "1"})
    r = vault.run("verify", "--json")
    assert r.exit_code == int(ExitCode.FINDINGS), r.stderr
    found = [(f["commit"], f["check"], f["message"]) for f in json.loads(r.stdout)["findings"]]
    assert (bad, "trailer", "the commit says 'record.import' but changes a record that was already there") in found


def test_verify_holds_an_import_commit_to_its_count(vault, tmp_path):
    vault.ok("import", str(write(tmp_path, GOOD)))
    good = vault.head()
    vault.git("reset", "-q", "--soft", "HEAD~1")
    bad = vault.commit_as("amira", "confide: import 2 records with 3 entries", action="record.import",
                          trailers={"Confide-Records": "2", "Confide-Entries": "3"})
    assert vault.git("rev-parse", f"{bad}^{{tree}}") == vault.git("rev-parse", f"{good}^{{tree}}")
    r = vault.run("verify", "--json")
    assert r.exit_code == int(ExitCode.FINDINGS), r.stderr
    found = [(f["commit"], f["check"], f["message"]) for f in json.loads(r.stdout)["findings"]]
    assert found == [(bad, "trailer", "the commit says 'record.import' of 2 records but brings in 3")], found


def test_a_child_already_recorded_or_given_twice_is_refused_by_line_unless_forced(vault, tmp_path):
    """As 'child add': the same name (any case, accents, spacing) and date of birth as a child recorded, or as
    another child of the same file, is refused by line and record id, never by name; --force imports them."""
    ada = vault.add_child(f"{MARK} Ada", dob="2022-03-04")
    bo = vault.add_child(f"{MARK} Bo")  # no date of birth: a child of the file without one is the same child
    text = HEADER + (
        f"1,{MARK.upper()}  ADA,2022-03-04,,,,,,,,,,\n"  # Ada again, in capitals and with two spaces
        f"2,{MARK} Ada,2022-03-05,,,,,,,,,,\n"  # another day: another child
        f"3,{MARK} Bo,,,,,,,,,,,\n"  # Bo again
        f"4,{MARK} Cy,2021-01-02,,,,,,,,,,\n"
        f"5,{MARK} cy,2021-01-02,,,2026-11-01,general,observation,{MARK} a note,,,,\n"  # Cy twice in the file
    )
    path = write(tmp_path, text)
    r = refused(vault, ["import", str(path)], ExitCode.VAULT_STATE)
    assert "3 children in the file are already recorded or given twice" in r.stderr
    assert f"line 2: the same name and date of birth as {ada}, already recorded" in r.stderr
    assert f"line 4: the same name and date of birth as {bo}, already recorded" in r.stderr
    assert "line 6: the same name and date of birth as the child on line 5" in r.stderr
    assert "line 3" not in r.stderr
    assert "--force" in r.stderr
    # forced: every child is made, and the warnings say which repeat which
    r = vault.run("import", str(path), "--force", "--json")
    assert r.exit_code == 0, r.stderr
    result = json.loads(r.stdout)
    assert [c["line"] for c in result["records"]] == [2, 3, 4, 5, 6]
    assert any(w.startswith(f"line 2: added a second child with the same name and date of birth as {ada}")
               for w in result["warnings"])
    assert MARK not in r.stderr and MARK not in " ".join(result["warnings"])
    verify_clean(vault)


def test_verify_finds_a_procedure_entry_brought_in_by_an_import(vault, tmp_path):
    """'import' refuses a procedure's category (a request step, a sharing decision: only their own commands write
    them, with their rules); the same import made with plain git, one such entry added, is a finding."""
    from tests.conftest import entries_file
    from vault_cli.cli import environment
    from vault_cli.formats import envelope
    from vault_cli.services.vault import Session, Vault

    vault.ok("import", str(write(tmp_path, GOOD)))
    rid = sorted(p.split("/")[1].split(".")[0] for p in vault.git("show", "--name-only", "--format=", "HEAD").split())[0]
    session = Session.start(Vault(vault.root, config=environment.config(identity=str(vault.keys["amira"]))))
    env = session.vault.envelope(rid)
    key = env.current_key("safeguarding")
    eid = "e-01m8p2cgzd20p9"
    details = {"procedure": "information-sharing/1", "decision": "shared", "with": "school", "what": "x",
               "purpose": "y", "basis": "consent", "consent": "given", "reason": None, "on": "2026-11-24", "how": None,
               "advice": None}
    payload = {"confide": "entry/1", "record": rid, "block": eid, "level": "safeguarding",
               "category": "information-sharing", "text": "slipped in", "at": "2026-11-24",
               "recorded_at": "2026-11-24T10:00:00+00:00", "author": "amira", "parent_view": "not-asked",
               "parents_informed": None, "parents_not_informed": None, "third_parties": ["school"], "corrects": None,
               "details": details}
    env.append_entry({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", env.source)})
    entries_file(vault.root, rid).write_bytes(env.tail_bytes())
    vault.git("reset", "-q", "--soft", "HEAD~1")  # the import, made again by hand with the entry in it
    bad = vault.commit_as("amira", "confide: import 3 records with 4 entries", action="record.import",
                          trailers={"Confide-Records": "3", "Confide-Entries": "4"})
    r = vault.run("verify", "--json")
    assert r.exit_code == int(ExitCode.FINDINGS), r.stderr
    found = [(f["commit"], f["check"], f["message"]) for f in json.loads(r.stdout)["findings"]]
    assert found == [(bad, "trailer", f"the commit says 'record.import' but brings in entry {eid}, a procedure's "
                      "entry (a request step or a sharing decision), which an import never writes")], found
