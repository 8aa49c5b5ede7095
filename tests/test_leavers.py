"""Leavers: 'child leave' records the leaving date (and where the child went) in the encrypted profile;
leavers drop out of daily lists ('child list' without --all, the picker, completion) but not out of the vault."""

from __future__ import annotations

import json
import subprocess

from conftest import record_doc

from vault_cli.errors import ExitCode

MARKER = "Zorblatt Academy of Leaving"


def _rows(vault, *args, who="amira"):
    return {r["record"]: r for r in json.loads(vault.ok("child", "list", "--json", *args, who=who).stdout)}


def test_child_leave_records_the_date_and_destination_encrypted(vault, tmp_path):
    a = vault.add_child("Ada Leaver", key_person="ben", dob="2021-05-06")
    b = vault.add_child("Bea Stayer", key_person="ben")
    doc = tmp_path / "leave.yaml"
    doc.write_text(f"destination: {MARKER}\n")
    head = vault.head()
    vault.ok("child", "leave", a, "--date", "2026-07-31", "--from", str(doc), who="ben")
    assert vault.git("rev-list", "--count", f"{head}..HEAD").strip() == "1"
    profile = json.loads(vault.ok("show", a, "--json").stdout)["profile"]
    assert profile["leaving_date"] == "2026-07-31" and profile["leaving_destination"] == MARKER
    # nothing of it in the clear: not in the files, the commit message or any git object
    log = vault.git("log", "-1", "--format=%B")
    assert "2026-07-31" not in log and "Zorblatt" not in log
    for f in vault.root.rglob("*"):
        if f.is_file() and ".git" not in f.parts:
            assert b"Zorblatt" not in f.read_bytes() and b"2026-07-31" not in f.read_bytes(), f
    objs = subprocess.run(["git", "-C", str(vault.root), "cat-file", "--batch-all-objects", "--batch"],
                          capture_output=True, check=True).stdout
    assert b"Zorblatt" not in objs and b"2026-07-31" not in objs
    # the leaver is out of the daily list, and back with --all, marked as left
    assert set(_rows(vault)) == {b}
    every = _rows(vault, "--all")
    assert every[a]["left"] is True and every[a]["leaving_date"] == "2026-07-31" and every[b]["left"] is False
    plain = vault.ok("child", "list", "--all").stdout
    assert "left" in plain and "2026-07-31" in plain
    assert "2026-07-31" not in vault.ok("child", "list").stdout
    # the leaver is still found by name (a leaver's record is still looked for, e.g. for its review)
    assert vault.ok("child", "find", input="Ada").stdout.split() == [a]


def test_a_leaving_date_still_ahead_keeps_the_child_in_the_list(vault):
    a = vault.add_child("Ada Soon", key_person="ben")
    vault.ok("child", "leave", a, "--date", "2027-07-31")
    rows = _rows(vault)
    assert rows[a]["left"] is False and rows[a]["leaving_date"] == "2027-07-31"


def test_child_leave_refusals_leave_the_vault_as_it_was(vault):
    a = vault.add_child("Ada Leaver", key_person="ben", dob="2021-05-06")
    head = vault.head()
    r = vault.run("child", "leave", a, "--date", "31/07/2026")
    assert r.exit_code == ExitCode.USAGE and "--date" in r.stderr
    r = vault.run("child", "leave", a)  # no terminal to ask on
    assert r.exit_code == ExitCode.USAGE and "--date" in r.stderr
    assert vault.head() == head and vault.is_clean()
    assert "leaving_date" not in json.dumps(record_doc(vault.root, a))


def test_completion_and_picker_leave_leavers_out(vault):
    from vault_cli.services import children

    rows = [{"record": "c-1", "readable": True, "leaving_date": "2026-01-01"},
            {"record": "c-2", "readable": True, "leaving_date": None},
            {"record": "c-3", "readable": True, "leaving_date": "2030-01-01"},
            {"record": "c-4", "readable": False}]
    import datetime as dt
    assert [r["record"] for r in children.attending(rows, dt.date(2026, 11, 24))] == ["c-2", "c-3", "c-4"]


def test_completion_offers_leavers_only_to_the_retention_commands(vault):
    from test_completion import complete, values

    a = vault.add_child("Ada Leaver", key_person="ben")
    b = vault.add_child("Bea Stayer", key_person="ben")
    assert sorted(values(complete(vault, "confide show "))) == sorted([a, b])
    vault.ok("child", "leave", a, "--date", "2026-07-31")
    assert values(complete(vault, "confide show ")) == [b]  # the names cache was brought up to date
    assert values(complete(vault, "confide add ")) == [b]
    # (retention RECORD offers leavers too: test_retention.py)


def test_due_asks_no_parent_view_of_a_child_who_has_left(vault):
    a = vault.add_child("Ada Leaver", key_person="ben")
    eid = vault.add_entry(a, "Mum says they are moving house", "general", "discussion")

    def asked():
        items = json.loads(vault.ok("due", "--json").stdout)["items"]
        return [i["entry"] for i in items if i["kind"] == "parent-view-not-asked"]

    assert asked() == [eid]
    vault.ok("child", "leave", a, "--date", "2027-01-31")  # still attending until then
    assert asked() == [eid]
    vault.ok("child", "set", a, "leaving_date=2026-10-31")
    assert asked() == []


def test_a_leaving_date_before_birth_or_the_start_or_far_ahead_is_refused(vault):
    """A leaving date decides the review date: one before the child was born would make a review due at once
    (and a decision to destroy possible at once); one decades ahead keeps the child in daily lists."""
    a = vault.add_child("Ada Leaver", key_person="ben", dob="2022-03-04")
    vault.ok("child", "set", a, "start_date=2023-09-01")
    head = vault.head()
    for day, why in (("1901-01-01", "before the child's date of birth"), ("2023-08-31", "before the day the child started"),
                     ("2199-01-01", "more than a year ahead"), ("2027-11-25", "more than a year ahead")):
        r = vault.run("child", "leave", a, "--date", day, who="ben")
        assert r.exit_code == ExitCode.USAGE and f"the leaving date is {why}" in r.stderr, (day, r.stderr)
        assert day not in r.stderr
    r = vault.run("child", "set", a, "leaving_date=1901-01-01", who="ben")
    assert r.exit_code == ExitCode.USAGE and "before the child's date of birth" in r.stderr
    assert vault.head() == head and vault.is_clean()
    vault.ok("child", "leave", a, "--date", "2027-11-24", who="ben")  # a year ahead: a place at school from then
    vault.ok("child", "leave", a, "--date", "2023-09-01", who="ben")  # the day the child started
    # the date of birth or the start date moved after the leaving date is refused too
    r = vault.run("child", "set", a, "start_date=2024-01-01", who="ben")
    assert r.exit_code == ExitCode.USAGE and "before the day the child started" in r.stderr
    assert json.loads(vault.ok("verify", "--json").stdout)["findings"] == []


def _forge_profile(v, record, **fields):
    """The profile rewritten with ``fields`` and committed with plain git, as amira: what confide refuses."""
    from conftest import head_file

    from vault_cli.cli import environment
    from vault_cli.services import records
    from vault_cli.services.vault import Session, Vault

    session = Session.start(Vault(v.root, config=environment.config(identity=str(v.keys["amira"]))))
    env = session.vault.envelope(record, entries=False)
    profile = {k: w for k, w in dict(records.read_profile(session, env).to_json(), **fields).items() if w is not None}
    env.head["profile"] = records.seal_profile(env, profile, "amira", "2026-11-24T10:00:00+00:00")
    head_file(v.root, record).write_bytes(env.head_bytes())
    return v.commit_as("amira", "update profile", action="profile.update", trailers={"Confide-Record": record})


def test_verify_finds_a_leaving_date_out_of_bounds(vault):
    a = vault.add_child("Ada Leaver", key_person="ben", dob="2022-03-04")
    for fields, why in (({"leaving_date": "1901-01-01"}, "before the child's date of birth"),
                        ({"start_date": "2023-09-01", "leaving_date": "2023-01-31"}, "before the day the child started"),
                        ({"leaving_date": "2199-01-01"}, "more than a year ahead")):
        bad = _forge_profile(vault, a, **fields)
        found = [f for f in json.loads(vault.run("verify", "--json").stdout)["findings"] if f["commit"] == bad]
        assert [f["check"] for f in found] == ["retention"] and why in found[0]["message"], found
        vault.git("reset", "-q", "--hard", "HEAD~1")
    good = _forge_profile(vault, a, leaving_date="2026-07-31")
    assert json.loads(vault.ok("verify", "--json").stdout)["findings"] == [] and vault.head() == good
