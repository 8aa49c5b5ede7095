"""Retention: the rules in confide.yaml, a record's review date (worked out, never stored), the reviews 'due'
lists, 'confide review' and what verify checks of its decisions in history."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from conftest import entries_file
from test_completion import complete, values

from vault_cli.errors import ExitCode
from vault_cli.formats import envelope, policyfiles, yamlio
from vault_cli.model import retention
from vault_cli.model.record import Entry

REASON = "Quillfeather solicitor letter"  # a marker: never in the clear


def _entry(eid, level, category, at):
    return Entry(id=eid, level=level, category=category, text="x", at=at, recorded_at=at, author="amira",
                 parent_view="not-asked", parents_informed=None, parents_not_informed=None, third_parties=(),
                 corrects=None, details=None)


# ---------------------------------------------------------------------------
# the rules and the date, in memory


def test_periods_and_dates():
    assert retention.parse_period("3 years") == (3, 0)
    assert retention.parse_period("21 years 3 months") == (21, 3)
    assert retention.parse_period("6 months") == (0, 6)
    for bad in ("", "forever", "3 weeks", "years"):
        with pytest.raises(ValueError):
            retention.parse_period(bad)
    assert retention.add_period(dt.date(2022, 3, 4), 21, 3) == dt.date(2043, 6, 4)
    assert retention.add_period(dt.date(2020, 2, 29), 1, 0) == dt.date(2021, 2, 28)  # no 29 February: the 28th
    assert retention.add_period(dt.date(2021, 11, 30), 0, 3) == dt.date(2022, 2, 28)


def test_the_review_date_is_the_latest_any_item_requires():
    rules = retention.DEFAULTS
    entries = [_entry("e-1", "general", "observation", "2024-01-01"), _entry("e-2", "confidential", "injury", "2024-02-01"),
               _entry("e-3", "safeguarding", "concern", "2024-03-01"), _entry("e-4", "general", "incident", "2026-01-01")]
    items = retention.items_of("general", entries)

    def rev(n, **kw):
        return retention.review(rules, items=items[:n], **kw)

    # no leaving date: no review date yet, whatever the rules from birth say
    r = rev(4, dob="2022-03-04", leaving_date=None)
    assert r.date is None and r.state == "no-leaving-date"
    assert rev(1, dob="2022-03-04", leaving_date="2026-07-31").date == dt.date(2029, 7, 31)  # the profile alone
    assert rev(2, dob="2022-03-04", leaving_date="2026-07-31").date == dt.date(2029, 7, 31)  # general: 3 years
    r = rev(3, dob="2022-03-04", leaving_date="2026-07-31")  # an injury: until 21 years 3 months
    assert r.date == dt.date(2043, 6, 4) and [(q.item.id, q.rule.name) for q in r.setting()] == [("e-2", "accident-injury")]
    r = rev(4, dob="2022-03-04", leaving_date="2026-07-31")  # a safeguarding entry: until the 25th birthday
    assert r.date == dt.date(2047, 3, 4) and [(q.item.id, q.rule.name) for q in r.setting()] == [("e-3", "child-protection")]
    assert not r.due(dt.date(2047, 3, 3)) and r.due(dt.date(2047, 3, 4))
    # RIDDOR: 3 years from the incident, later than 3 years from leaving
    r = retention.review(rules, items=[items[0], items[4]], dob=None, leaving_date="2026-01-31")
    assert r.date == dt.date(2029, 1, 31)
    r = retention.review(rules, items=[items[0], items[4]], dob=None, leaving_date="2025-06-30")
    assert r.date == dt.date(2029, 1, 1) and r.setting()[0].rule.name == "riddor-incident"
    # a rule from birth with no date of birth: no date can be promised
    r = rev(3, dob=None, leaving_date="2026-07-31")
    assert r.date is None and r.state == "no-date" and r.missing == ("accident-injury",)


def test_decisions_move_the_date_or_await_destruction():
    items = retention.items_of("general", [])
    keep = retention.Decision("e-9", "keep", "2031-01-01", "2029-08-01", "amira", "why")
    r = retention.review(retention.DEFAULTS, items=items, dob=None, leaving_date="2026-07-31", decisions=[keep])
    assert r.computed == dt.date(2029, 7, 31) and r.date == dt.date(2031, 1, 1) and r.state == "dated"
    # the keep-until date stands whatever the leaving date later says (cleared, or moved: docs/design.md)
    for leaving in (None, "2026-11-30"):
        r = retention.review(retention.DEFAULTS, items=items, dob=None, leaving_date=leaving, decisions=[keep])
        assert r.date == dt.date(2031, 1, 1) and r.state == "dated" and r.due(dt.date(2031, 1, 1))
    destroy = retention.Decision("e-a", "destroy", None, "2031-02-01", "amira", "why")
    r = retention.review(retention.DEFAULTS, items=items, dob=None, leaving_date="2026-07-31", decisions=[keep, destroy])
    assert r.state == "awaiting-destruction" and not r.due(dt.date(2040, 1, 1))


def test_the_template_writes_the_default_rules_and_old_settings_get_them():
    data = yamlio.load(policyfiles.render_template("Little Owls").encode(), "template")
    assert data["retention"]["rules"] == [dict(r) for r in retention.DEFAULT_RULES]
    rules = retention.rules_of(data)
    assert rules.rules == retention.DEFAULTS and rules.defaults is False and rules.note is None
    template = policyfiles.render_template("Little Owls")
    for source in ("EYFS", "3.71", "Limitation Act", "25th birthday", "IRMS", "RIDDOR"):
        assert source in template  # each default cites its source in a comment
    none = retention.rules_of({})
    assert none.defaults and none.rules == retention.DEFAULTS and "no retention rules" in (none.note or "")
    old = retention.rules_of({"retention": {"children's records": "until 25"}})
    assert old.defaults and old.rules == retention.DEFAULTS and "older map of texts" in (old.note or "")
    own = retention.rules_of({"retention": {"rules": [{"name": "all", "from": "leaving", "keep": "6 years"}]}})
    assert not own.defaults and own.rules[0].years == 6


# ---------------------------------------------------------------------------
# on a real vault


@pytest.fixture
def family(vault):
    v = vault
    ada = v.add_child("Ada Lovelace", key_person="ben", dob="2022-03-04")
    bo = v.add_child("Bo Chen", key_person="cara", dob="2021-11-30")
    v.add_entry(ada, "Built a tower", "general", "observation", "ben")
    v.add_entry(ada, "Bruise on arm", "confidential", "injury", "amira", "--parent-view", "not-confidential",
                "--parents-informed", "2026-11-24")
    v.add_entry(ada, "Said she is scared", "safeguarding", "concern", "dara", "--parents-not-informed", "risk")
    v.add_entry(bo, "Painted a sunflower", "general", "observation", "cara")
    return v, ada, bo


def _review(v, record, *args, reason=REASON, who="amira"):
    return v.run("review", record, *args, "--from", "-", who=who, input=json.dumps({"reason": reason}))


def test_dates_and_rules_are_never_in_the_clear(family, tmp_path):
    v, ada, bo = family
    v.ok("child", "leave", ada, "--date", "2026-07-31")
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")
    assert json.loads(v.ok("retention", ada, "--json").stdout)["review_date"] == "2047-03-04"
    assert json.loads(v.ok("retention", bo, "--json").stdout)["review_date"] == "2026-06-30"
    eid = _review(v, bo, "--keep-until", "2028-02-29").stdout.strip()
    assert eid.startswith("e-")
    data = json.loads(v.ok("retention", bo, "--json").stdout)
    assert data["review_date"] == "2028-02-29" and data["decisions"][0]["reason"] == REASON
    v.ok("due")
    v.ok("child", "list", "--all")
    markers = [b"2047-03-04", b"2026-06-30", b"2028-02-29", b"2029-07-31", b"2043-06-04", b"Quillfeather",
               b"child-protection\"", b"awaiting"]  # (the rule names and categories are in confide.yaml)
    for f in v.root.rglob("*"):
        if f.is_file() and "objects" not in f.parts and f.name != "confide.yaml":
            data_ = f.read_bytes()
            assert not [m for m in markers if m in data_], f
    objs = subprocess.run(["git", "-C", str(v.root), "cat-file", "--batch-all-objects", "--batch"],
                          capture_output=True, check=True).stdout
    assert not [m for m in markers if m in objs]
    assert not [m for m in markers if m in v.git("log", "--format=%B").encode()]


def test_a_holder_who_cannot_read_all_of_a_record_is_told_nothing_of_its_retention(family):
    v, ada, bo = family
    v.ok("child", "leave", ada, "--date", "2022-06-30")  # long ago: were it only the general rule, it would be due
    r = v.run("retention", ada, who="cara")
    assert r.exit_code == ExitCode.DENIED and "not yours to see" in r.stderr
    assert "safeguarding" not in r.stderr and "2047" not in r.stderr
    due = json.loads(v.ok("due", "--json", who="cara").stdout)
    assert not [i for i in due["items"] if i["kind"] == "retention"]
    assert due["records_with_sealed_entries"] == 1
    # amira reads it all: the safeguarding concern keeps it until 2047, so no review is due either
    assert not [i for i in json.loads(v.ok("due", "--json").stdout)["items"] if i["kind"] == "retention"]


def test_review_decisions(family):
    v, ada, bo = family
    head = v.head()
    assert _review(v, bo, "--keep-until", "2030-01-01").exit_code == ExitCode.USAGE  # no leaving date: no review date
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")
    due = json.loads(v.ok("due", "--json").stdout)["items"]
    assert [(i["kind"], i["record"], i["due"]) for i in due if i["kind"] == "retention"] == [("retention", bo, "2026-06-30")]
    head = v.head()
    for who in ("cara", "dara"):  # a practitioner, the DSL: their roles may not decide
        r = _review(v, bo, "--keep-until", "2030-01-01", who=who)
        assert r.exit_code == ExitCode.DENIED and "may not decide a record's retention review" in r.stderr
    r = _review(v, bo, "--keep-until", "2030-01-01", reason="  ")
    assert r.exit_code == ExitCode.USAGE and "--reason" in r.stderr
    assert _review(v, bo, "--keep-until", "2026-11-24").exit_code == ExitCode.USAGE
    assert _review(v, bo, "--keep-until", "2030-01-01", "--destroy").exit_code == ExitCode.USAGE
    assert v.head() == head and v.is_clean()
    eid = _review(v, bo, "--destroy").stdout.strip()
    shown = json.loads(v.ok("show", bo, "--json").stdout)["entries"]
    decision = next(e for e in shown if e["entry"] == eid)
    # kept at the highest level of Bo's entries (general): not safeguarding, which would read as a concern
    assert decision["level"] == "general" and decision["category"] == "retention-review"
    assert decision["details"]["decision"] == "destroy" and decision["details"]["reason"] == REASON
    assert json.loads(v.ok("retention", bo, "--json").stdout)["state"] == "awaiting-destruction"
    due = json.loads(v.ok("due", "--json").stdout)["items"]
    assert [(i["kind"], i["entry"]) for i in due if i["kind"] == "retention"] == [("retention", eid)]
    assert _review(v, bo, "--keep-until", "2030-01-01").exit_code == ExitCode.USAGE  # it awaits destruction
    assert json.loads(v.ok("verify", "--json").stdout)["findings"] == []


def test_retention_completes_leavers(family):
    v, ada, bo = family
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")
    assert values(complete(v, "confide show ")) == [ada]
    assert sorted(values(complete(v, "confide retention "))) == sorted([ada, bo])
    assert sorted(values(complete(v, "confide review "))) == sorted([ada, bo])


# ---------------------------------------------------------------------------
# verify, from history: decisions written with plain git


def _forge_review(v, record, details, *, who, level="safeguarding", at="2026-11-24"):
    from vault_cli.cli import environment
    from vault_cli.services.vault import Session, Vault

    session = Session.start(Vault(v.root, config=environment.config(identity=str(v.keys[who]))))
    env = session.vault.envelope(record)
    key = env.current_key(level)
    eid = "e-01m8p2cgzd20pa"
    payload = {"confide": "entry/1", "record": record, "block": eid, "level": level, "category": "retention-review",
               "text": "forged decision", "at": at, "recorded_at": "2026-11-24T10:00:00+00:00",
               "author": who, "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": None,
               "third_parties": [], "corrects": None, "details": details}
    env.append_entry({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", env.source)})
    entries_file(v.root, record).write_bytes(env.tail_bytes())
    return v.commit_as(who, "add", action="entry.add", trailers={"Confide-Record": record, "Confide-Entry": eid})


def _forged(v, record, details, **kw):
    bad = _forge_review(v, record, details, **kw)
    r = v.run("verify", "--json")
    found = [(f["check"], f["message"]) for f in json.loads(r.stdout)["findings"] if f["commit"] == bad]
    v.git("reset", "-q", "--hard", "HEAD~1")
    return found


KEEP = {"procedure": "retention-review/1", "decision": "keep", "keep_until": "2030-01-01", "reason": "why",
        "review_date": "2026-06-30"}


def test_verify_finds_decisions_the_command_refuses(family):
    v, ada, bo = family
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")
    v.ok("child", "leave", ada, "--date", "2026-07-31")
    assert _forged(v, bo, KEEP, who="amira") == []  # what 'confide review' writes: nothing to find
    # dara, the DSL, reads the safeguarding level but her role may not decide
    found = _forged(v, bo, KEEP, who="dara")
    assert [k for k, _ in found] == ["role"] and "may not decide retention reviews" in found[0][1], found
    # before the review date has come (Ada's is 2047)
    found = _forged(v, ada, dict(KEEP, review_date="2047-03-04"), who="amira")
    assert [k for k, _ in found] == ["retention"] and "review date has not come" in found[0][1], found
    # no reason; below the highest level of the record's entries (once it holds a confidential one)
    found = _forged(v, bo, dict(KEEP, reason=" "), who="amira", level="general")
    assert [k for k, _ in found] == ["retention"] and "reason for the review decision is empty" in found[0][1], found
    v.add_entry(bo, "Dad says he has a new job", "confidential", "discussion", "amira", "--parents-informed", "2026-11-24")
    assert _forged(v, bo, KEEP, who="amira", level="confidential") == []
    found = _forged(v, bo, KEEP, who="amira", level="general")
    assert [k for k, _ in found] == ["retention"] and "kept at the confidential level or above" in found[0][1], found
    # a keep-until date not after the decision
    found = _forged(v, bo, dict(KEEP, keep_until="2026-11-24"), who="amira")
    assert [k for k, _ in found] == ["retention"] and "keep-until date is not after" in found[0][1], found


@pytest.mark.parametrize("old", ["", "retention:\n  children's records: until the child is 25\n"])
def test_a_vault_without_rules_gets_the_defaults_and_says_so(family, old):
    v, ada, bo = family
    text = (v.root / "confide.yaml").read_text()
    start, end = text.index("# Retention: how long"), text.index("# Signed history")
    (v.root / "confide.yaml").write_text(text[:start] + old + text[end:])
    v.commit_as("amira", "confide: settings as an older confide wrote them", action="settings.change")
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")
    data = json.loads(v.ok("retention", bo, "--json").stdout)
    assert data["rules_from"] == "defaults" and data["review_date"] == "2026-06-30"
    assert ("older map of texts" if old else "no retention rules") in data["note"]
    assert "confide defaults (" in v.ok("retention", bo).stdout
    assert json.loads(v.ok("verify", "--json").stdout)["findings"] == []


def test_a_leaver_whose_date_cannot_be_worked_out_is_due_for_attention(vault):
    rid = vault.add_child("Cy Nodob", key_person="ben")
    vault.add_entry(rid, "Grazed knee", "confidential", "injury", "amira", "--parents-informed", "2026-11-24",
                    "--parent-view", "not-confidential")
    vault.ok("child", "leave", rid, "--date", "2026-07-31")
    data = json.loads(vault.ok("retention", rid, "--json").stdout)
    assert data["state"] == "no-date" and data["missing"] == ["accident-injury"] and data["review_date"] is None
    due = [i for i in json.loads(vault.ok("due", "--json").stdout)["items"] if i["kind"] == "retention"]
    assert len(due) == 1 and "date of birth" in due[0]["what"] and due[0]["due"] is None
    vault.ok("child", "set", rid, "dob=2022-01-10")
    assert json.loads(vault.ok("retention", rid, "--json").stdout)["review_date"] == "2043-04-10"
    assert not [i for i in json.loads(vault.ok("due", "--json").stdout)["items"] if i["kind"] == "retention"]


def test_verify_judges_a_decision_by_its_commits_day_and_the_review_date_it_records(family):
    """A decision committed on 2026-11-24 that says it was taken on 2026-07-01, to keep the record until
    2026-08-01 (already past on its commit's day, which the command refuses), with a review date that was never
    the record's: each part is found."""
    v, ada, bo = family
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")  # Bo's review date: 2026-06-30
    backdated = dict(KEEP, keep_until="2026-08-01")
    found = _forged(v, bo, backdated, who="amira", level="general", at="2026-07-01")
    assert sorted(k for k, _ in found) == ["retention", "retention"], found
    assert any("the day it says it was taken is not the day of its commit" in m for _, m in found), found
    assert any("keep-until date is not after the day of the decision" in m for _, m in found), found
    # the day right: only the review date it records is wrong
    found = _forged(v, bo, dict(KEEP, review_date="1999-01-01"), who="amira", level="general")
    assert [k for k, _ in found] == ["retention"] and "review date it was taken at is not the record's" in found[0][1], found
    found = _forged(v, bo, {k: w for k, w in KEEP.items() if k != "review_date"}, who="amira", level="general")
    assert [k for k, _ in found] == ["retention"], found
    # a time on the commit's day, or the day before within the clock allowance of a commit just after midnight,
    # is the commit's day
    assert _forged(v, bo, KEEP, who="amira", level="general", at="2026-11-24T09:58:00+00:00") == []


def _at(monkeypatch, now):
    for var in ("CONFIDE_NOW", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(var, now)


def test_the_keep_until_date_comes_from_a_file_and_as_an_argument_warns_on_a_terminal(family, monkeypatch):
    """The keep-until date becomes the record's review date, which is never in the clear: like every personal
    value it is given in --from FILE or --edit, and given as an argument it brings the warning on a terminal."""
    from test_names import Terminal

    v, ada, bo = family
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")
    head = v.head()
    r = v.run("review", bo, "--from", "-", input=json.dumps({"reason": REASON}))
    assert r.exit_code == ExitCode.USAGE and "give --keep-until DATE or --destroy" in r.stderr and "keep_until:" in r.stderr
    r = v.run("review", bo, "--destroy", "--from", "-", input=json.dumps({"reason": REASON, "keep_until": "2030-01-01"}))
    assert r.exit_code == ExitCode.USAGE and "decides one thing" in r.stderr
    assert v.head() == head
    t = Terminal(v, "review", bo, "--keep-until", "2029-01-01", "--reason", REASON)
    code, screen = t.finish()
    words = " ".join(screen.split())
    assert code == 0, screen
    assert "confide: warning: --keep-until, --reason were given as arguments" in words
    assert json.loads(v.ok("retention", bo, "--json").stdout)["review_date"] == "2029-01-01"
    # a script gives it in a file (a YAML date reads as the date), and the destroy choice alike
    _at(monkeypatch, "2029-01-02T09:00:00+00:00")
    v.ok("review", bo, "--from", "-", input=f"keep_until: 2030-02-01\nreason: {REASON}\n")
    assert json.loads(v.ok("retention", bo, "--json").stdout)["review_date"] == "2030-02-01"
    _at(monkeypatch, "2030-02-02T09:00:00+00:00")
    v.ok("review", bo, "--from", "-", input=f"destroy: true\nreason: {REASON}\n")
    assert json.loads(v.ok("retention", bo, "--json").stdout)["state"] == "awaiting-destruction"
    assert json.loads(v.ok("verify", "--json").stdout)["findings"] == []


def test_a_decision_is_never_moved_down_a_level(family, monkeypatch):
    """'mark' refuses to move a review's decision down (it was kept at the highest level of the record's entries,
    which its date tells of); verify finds a commit that did, made here by confide with the rule taken out."""
    v, ada, bo = family
    v.add_entry(bo, "Dad says he has a new job", "confidential", "discussion", "amira", "--parents-informed", "2026-11-24")
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")
    eid = _review(v, bo, "--keep-until", "2030-01-01").stdout.strip()
    head = v.head()
    r = v.run("mark", eid, "--level", "general", "--from", "-", input="reason: tidying\n")
    assert r.exit_code == ExitCode.USAGE and "a retention review's decision is not moved down" in r.stderr, r.stderr
    assert v.head() == head and v.is_clean()
    v.ok("mark", eid, "--level", "safeguarding", "--from", "-", input="reason: kept with the concern\n")  # up: harmless
    with monkeypatch.context() as m:
        m.setattr(retention, "moved_down", lambda *a: None)
        v.ok("mark", eid, "--level", "general", "--from", "-", input="reason: tidying\n")
    bad = v.head()
    found = [(f["check"], f["message"]) for f in json.loads(v.run("verify", "--json").stdout)["findings"]
             if f["commit"] == bad]
    assert [k for k, _ in found] == ["retention"] and "is not moved down a level" in found[0][1], found


def test_a_decision_judged_before_a_colleagues_entry_is_refused_under_the_lock(family, monkeypatch):
    """A review is judged on the record as it stood before the lock was taken (its review date, its level). A
    colleague's safeguarding entry meanwhile puts the review date off to the child's 25th birthday: under the
    lock the review sees the record moved on and records nothing; run again, it is judged on the record as it
    now stands, whose review has not come."""
    from vault_cli.services import request_steps

    v, ada, bo = family
    v.ok("child", "leave", bo, "--date", "2023-06-30", who="cara")
    original = request_steps.add_step
    raced: list = []

    def racing(session, record_id, **kw):
        if not raced:
            raced.append(v.run("add", bo, "--level", "safeguarding", "--category", "concern", "--text", "-",
                               "--parents-not-informed", "risk", who="dara", input="A worry"))
        return original(session, record_id, **kw)

    monkeypatch.setattr(request_steps, "add_step", racing)
    head = v.head()
    r = _review(v, bo, "--keep-until", "2030-01-01")
    monkeypatch.setattr(request_steps, "add_step", original)
    assert raced and raced[0].exit_code == 0, raced[0].stderr
    assert r.exit_code == ExitCode.VAULT_STATE and "changed by someone else" in r.stderr, r.stderr
    assert v.git("rev-parse", "HEAD~1").strip() == head  # only the colleague's entry was committed
    assert json.loads(v.ok("retention", bo, "--json").stdout)["review_date"] == "2046-11-30"
    again = _review(v, bo, "--keep-until", "2030-01-01")
    assert again.exit_code == ExitCode.USAGE and v.git("rev-parse", "HEAD~1").strip() == head, again.stderr
    assert json.loads(v.ok("verify", "--json").stdout)["findings"] == []
