"""Dates that make sense: no entry from the future, a date alone kept as a date, parents not told of
something before it happened, stdin's final newline not part of a text; and verify holds history to the
same rule (``policy.date_problems``)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import entries_file
from vault_cli.errors import ExitCode
from vault_cli.formats import envelope

FINDINGS = int(ExitCode.FINDINGS)


def entry(v, rid, eid, who="amira"):
    data = json.loads(v.ok("show", rid, "--json", who=who).stdout)
    return next(e for e in data["entries"] if e["entry"] == eid)


def add(v, rid, *extra, text="note", level="general"):
    return ["add", rid, "--level", level, "--category", "observation", "--text", text, *extra]


def refused(v, args, said):
    before = v.head()
    r = v.run(*args)
    assert r.exit_code == int(ExitCode.USAGE), r.stderr
    assert said in r.stderr, r.stderr
    assert v.head() == before and v.is_clean()
    return r


@pytest.mark.parametrize("at", ["2027-01-01", "2026-11-25", "2026-11-24T10:06", "2026-11-24T11:00:00+00:00"])
def test_a_future_time_is_refused(vault, at):
    rid = vault.add_child("Ada Dates")
    r = refused(vault, add(vault, rid, "--at", at), "--at is in the future")
    assert "a date in the future is usually a typo" in r.stderr


@pytest.mark.parametrize("at", ["2026-11-24", "2026-11-24T10:04", "2026-11-24T10:04:59+00:00", "2001-02-03"])
def test_now_today_and_the_past_are_taken_with_a_clock_allowance(vault, at):
    rid = vault.add_child("Ada Dates")
    vault.ok(*add(vault, rid, "--at", at))


def test_a_date_alone_is_kept_as_a_date(vault):
    rid = vault.add_child("Ada Dates")
    late = vault.ok(*add(vault, rid, "--at", "2026-11-20T15:00", text="later that day")).last_line
    day = vault.ok(*add(vault, rid, "--at", "2026-11-20", text="that day")).last_line
    e = entry(vault, rid, day)
    assert e["at"] == "2026-11-20"  # not 2026-11-20T00:00:00+00:00
    data = json.loads(vault.ok("show", rid, "--json").stdout)
    assert [x["entry"] for x in data["entries"]] == [day, late]  # a day sorts at its start
    plain = vault.ok("show", rid).stdout
    assert "2026-11-20 00:00" not in plain and "2026-11-20" in plain
    found = json.loads(vault.ok("find", "that day", "--json").stdout)
    assert {x.get("at") for x in found} >= {"2026-11-20"}


def test_parents_cannot_be_told_before_it_happened_nor_in_the_future(vault):
    rid = vault.add_child("Ada Dates")
    refused(vault, add(vault, rid, "--at", "2026-11-20T09:00", "--parents-informed", "2026-11-19", level="confidential"),
            "--parents-informed is before the entry's date")
    refused(vault, add(vault, rid, "--parents-informed", "2026-11-25", level="confidential"),
            "--parents-informed is in the future")
    eid = vault.ok(*add(vault, rid, "--at", "2026-11-20T09:00", "--parents-informed", "2026-11-20",
                        level="confidential")).last_line
    refused(vault, ["mark", eid, "--parents-informed", "2026-11-19"], "--parents-informed is before the entry's date")
    refused(vault, ["mark", eid, "--parents-informed", "2026-11-30"], "--parents-informed is in the future")
    vault.ok("mark", eid, "--parents-informed", "2026-11-21")
    assert entry(vault, rid, eid)["parents_informed"] == "2026-11-21"


@pytest.mark.parametrize("given,kept", [
    ("one line\n", "one line"),
    ("two\nlines\n", "two\nlines"),
    ("a blank line meant\n\n", "a blank line meant\n"),
    ("windows\r\n", "windows"),
    ("no newline", "no newline"),
])


def test_text_from_stdin_drops_exactly_one_final_newline(vault, given, kept):
    rid = vault.add_child("Ada Dates")
    eid = vault.ok("add", rid, "--level", "general", "--category", "observation", "--text", "-", input=given).last_line
    assert entry(vault, rid, eid)["text"] == kept


def _forge_entry(v, rid, eid, at, informed=None):
    """Append an entry with plain git and confide's own sealing, as amira (whose key signs it): only its
    dates are wrong."""
    from vault_cli.cli import environment
    from vault_cli.services.vault import Session, Vault

    session = Session.start(Vault(v.root, config=environment.config(identity=str(v.keys["amira"]))))
    env = session.vault.envelope(rid)
    key = env.current_key("general")
    payload = {"confide": "entry/1", "record": rid, "block": eid, "level": "general", "category": "observation",
               "text": "typo", "at": at, "recorded_at": "2026-11-24T10:00:00+00:00", "author": "amira",
               "parent_view": "not-asked", "parents_informed": informed, "parents_not_informed": None,
               "third_parties": [], "corrects": None}
    env.append_entry({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", env.source)})
    entries_file(v.root, rid).write_bytes(env.tail_bytes())
    return v.commit_as("amira", f"confide: add entry {eid} to {rid}", action="entry.add",
                       trailers={"Confide-Record": rid, "Confide-Entry": eid})


@pytest.mark.parametrize("at,informed,said", [
    ("2027-01-01", None, "the time it happened is in the future"),
    ("2026-11-24T10:30:00+00:00", None, "the time it happened is in the future"),
    ("2026-11-20", "2026-11-19", "the date parents were informed is before the entry's date"),
    ("2026-11-20", "2026-12-01", "the date parents were informed is in the future"),
])


def test_verify_finds_an_entry_dated_after_its_commit(vault, at, informed, said):
    rid = vault.add_child("Ada Dates")
    bad = _forge_entry(vault, rid, "e-01m8p2cgzd20p9", at, informed)
    r = vault.run("verify", "--json")
    assert r.exit_code == FINDINGS, r.stderr
    found = [f for f in json.loads(r.stdout)["findings"] if f["check"] == "date"]
    assert [f["commit"] for f in found] == [bad], found
    assert said in found[0]["message"] and "typo" not in found[0]["message"]


def test_verify_finds_a_marking_that_tells_parents_before_the_entry(vault):
    rid = vault.add_child("Ada Dates")
    eid = vault.ok(*add(vault, rid, "--at", "2026-11-20T09:00")).last_line
    vault.ok("mark", eid, "--parents-informed", "2026-11-20")
    assert vault.run("verify").exit_code == 0
    # the same marking, forged with an earlier date: confide's sealing, plain git's commit
    from vault_cli.cli import environment
    from vault_cli.services.vault import Session, Vault

    session = Session.start(Vault(vault.root, config=environment.config(identity=str(vault.keys["amira"]))))
    env = session.vault.envelope(rid)
    item = env.find_entry(eid)
    key = env.current_key("general")
    mid = "m-01m8p2cgzd20p9"
    payload = {"confide": "mark/1", "record": rid, "block": mid, "entry": eid, "level": "general", "author": "amira",
               "recorded_at": "2026-11-24T10:00:00+00:00", "reason": None,
               "changes": {"parents_informed": {"from": "2026-11-20", "to": "2026-11-19"}}}
    item["marks"] = sorted([*item["marks"], {"id": mid, "key": key.id,
                            "data": envelope.seal(payload, key.recipient, "mark", env.source)}], key=lambda m: m["id"])
    entries_file(vault.root, rid).write_bytes(env.tail_bytes())
    bad = vault.commit_as("amira", f"confide: mark entry {eid} in {rid}", action="entry.mark",
                          trailers={"Confide-Record": rid, "Confide-Entry": eid, "Confide-Mark": mid})
    r = vault.run("verify", "--json")
    assert r.exit_code == FINDINGS, r.stderr
    found = [f for f in json.loads(r.stdout)["findings"] if f["check"] == "date"]
    assert [f["commit"] for f in found] == [bad] and "before the entry's date" in found[0]["message"], found


EDGE_DAYS = ("0001-01-01", "0001-01-02", "9999-12-31")
EDGE_TIMES = ("", "T00:00", "T23:59", "T00:00Z", "T00:00+14:00", "T00:00-12:00", "T23:59+00:59", "T23:59-14:00")


@pytest.fixture
def local_zone(monkeypatch):
    """Run in another local time zone (POSIX TZ strings: no zone database needed), then back."""
    import time

    def use(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("tz", ["UTC0", "EAST-14", "WEST+12"])
def test_times_at_the_calendars_edges_are_kept_or_refused_clearly(vault, local_zone, tz):
    """Year 1 and year 9999, with and without offsets, in zones far east and west: each --at is kept (and
    then shows, exports as JSON and verifies) or refused with a clear usage error, never an internal one."""
    local_zone(tz)
    rid = vault.add_child("Ada Edges")
    kept = []
    for day in EDGE_DAYS:
        for time_part in EDGE_TIMES:
            at = day + time_part
            r = vault.run(*add(vault, rid, "--at", at))
            assert r.exit_code in (0, int(ExitCode.USAGE)), (at, r.stderr)
            if r.exit_code == 0:
                kept.append(at)
                continue
            assert r.stderr.startswith("confide: error: --at "), (at, r.stderr)
            if day.startswith("9999") and "--at is in the future" in r.stderr:
                continue
            assert "too close to the first or last day of the calendar" in r.stderr, (at, r.stderr)
            assert time_part in ("T00:00", "T23:59"), at  # only a time without offset is placed in the local zone
    assert not any(k.startswith("9999") for k in kept)
    assert {"0001-01-01", "0001-01-01T00:00Z", "0001-01-02T00:00", "0001-01-01T23:59-14:00"} <= set(kept)
    entries = json.loads(vault.ok("show", rid, "--json").stdout)["entries"]
    assert len(entries) == len(kept)
    assert entries[0]["at"] == "0001-01-01" or min(e["at"] for e in entries) >= "0001-01-01"
    assert vault.ok("show", rid).stdout.count("observation") == len(kept)
    vault.ok("due")
    vault.ok("verify")


def test_verify_allows_clocks_what_policy_says_and_no_more(vault, monkeypatch):
    """One table for both allowances (``policy``): an entry's time against its writer's clock, which is the
    command's clock as it writes and the commit's date in verify (CLOCK_ALLOWANCE, the same for both), and a
    commit's date against the verifier's clock, on another machine (COMMIT_DATE_ALLOWANCE)."""
    import datetime as dt

    from vault_cli.model import policy

    rid = vault.add_child("Ada Dates")
    made = dt.datetime.fromisoformat("2026-11-24T10:00:00+00:00")
    inside = (made + policy.CLOCK_ALLOWANCE - dt.timedelta(seconds=30)).isoformat()
    beyond = (made + policy.CLOCK_ALLOWANCE + dt.timedelta(seconds=30)).isoformat()
    vault.ok(*add(vault, rid, "--at", inside[:19]))  # the command takes it...
    refused(vault, add(vault, rid, "--at", beyond[:19]), "--at is in the future")
    _forge_entry(vault, rid, "e-01m8p2cgzd20p9", inside)  # ...and so does verify, by the commit's date
    assert vault.run("verify").exit_code == 0
    vault.git("reset", "-q", "--hard", "HEAD~1")
    bad = _forge_entry(vault, rid, "e-01m8p2cgzd20p9", beyond)
    found = json.loads(vault.run("verify", "--json").stdout)["findings"]
    assert [(f["commit"], f["check"]) for f in found] == [(bad, "date")], found
    vault.git("reset", "-q", "--hard", "HEAD~1")
    # A commit's own date, against the verifier's clock.
    for ahead, findings in ((policy.COMMIT_DATE_ALLOWANCE - dt.timedelta(minutes=1), 0),
                            (policy.COMMIT_DATE_ALLOWANCE + dt.timedelta(minutes=1), 1)):
        when = (made + ahead).isoformat()
        for var in ("CONFIDE_NOW", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
            monkeypatch.setenv(var, when)
        bad = _forge_entry(vault, rid, "e-01m8p2cgzd20p9", when)
        r = vault.run("verify", "--json", env={"CONFIDE_NOW": made.isoformat()})
        found = [f for f in json.loads(r.stdout)["findings"] if f["commit"] == bad]
        assert [f["check"] for f in found] == ["date"] * findings, found
        vault.git("reset", "-q", "--hard", "HEAD~1")
