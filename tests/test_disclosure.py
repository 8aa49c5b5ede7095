"""Issue 11: disclosure is a decision per entry, recorded; the profile's refusals; verify checks both from history.

Real CLI, real keys, real git; the forbidden commits are built with plain git, as a holder with a key could.
"""

from __future__ import annotations

import json
import subprocess

import test_requests
from conftest import entries_file
from test_requests import _decide, _open_request, _refused

from vault_cli.errors import ExitCode
from vault_cli.formats import envelope
from vault_cli.model import disclosure
from vault_cli.model.record import Entry

FINDINGS = int(ExitCode.FINDINGS)
family, now = test_requests.family, test_requests.now  # the same fixtures: a family's records, a fixed clock


def _findings(v, who="amira") -> list:
    r = v.run("verify", "--json", who=who)
    assert r.exit_code in (0, FINDINGS), r.stderr
    return json.loads(r.stdout)["findings"]


def _export(v, rq, path, who="amira"):
    return v.run("request", "export", rq, "--out", str(path), who=who)


def _decided_request(v, a, m, withheld_by="amira") -> tuple[str, str, str]:
    """A request on ``a`` whose two entries needing one have their decisions: (request, withhold, disclose)."""
    rq = _open_request(v, a)
    withheld = _decide(v, rq, m["withheld"], "--withhold", "--ground", "child-abuse", reason="best interests",
                       who=withheld_by)
    return rq, withheld, _decide(v, rq, m["notinf"], "--disclose", reason="told since")


def test_every_entry_needing_one_is_decided_per_request_and_a_second_request_sees_the_first(family, tmp_path):
    v, a, b, c, m = family
    rq1 = _open_request(v, a)
    v.ok("request", "consent", rq1, "--third-party", "Dr Who, health visitor", "--refused")
    v.ok("request", "consent", rq1, "--third-party", "Aunt May", "--given")
    shown = json.loads(v.ok("request", "show", rq1, "--json").stdout)
    flags = {r["entry"]: r["flags"] for r in shown["to_review"]}
    assert flags[m["withheld"]] == ["safeguarding", "decision needed"]
    assert flags[m["notinf"]] == ["parents were not informed", "decision needed"]
    assert any("confide request decide" in t for t in shown["to_do"])

    # Nothing is written while any entry needing a decision has none; only ids are listed (an entry's date and category are its data).
    r = _refused(v, ["request", "export", rq1, "--out", str(tmp_path / "c.html")], ExitCode.USAGE)
    assert "2 entries need a decision" in r.stderr and m["withheld"] in r.stderr and m["notinf"] in r.stderr
    assert "2026-01-15" not in r.stderr and "concern" not in r.stderr and "MARKER" not in r.stderr  # ids only
    _decide(v, rq1, m["withheld"], "--withhold", "--ground", "child-abuse", reason="REASON-MARKER-1 strategy meeting")
    r = _refused(v, ["request", "export", rq1, "--out", str(tmp_path / "c.html")], ExitCode.USAGE)
    assert "1 entry needs a decision" in r.stderr and m["withheld"] not in r.stderr
    _decide(v, rq1, m["notinf"], "--withhold", "--ground", "serious-harm", reason="REASON-MARKER-2 risk")
    # A decision can be changed: the latest counts, and the command says what it replaces.
    r = v.ok("request", "decide", rq1, m["notinf"], "--disclose", input="REASON-MARKER-3 the mother knows now\n")
    assert "replaces the earlier decision" in r.stderr and "withhold" in r.stderr
    copy1 = tmp_path / "copy1.json"
    v.ok("request", "export", rq1, "--out", str(copy1), "--format", "json")
    data = json.loads(copy1.read_text())
    texts = " ".join(e["text"] for e in data["entries"])
    assert "MARKER-A-notinf" in texts and "MARKER-A-withheld" not in texts
    assert {r["ground"]: r["count"] for r in data["removed"]}[disclosure.TOLD] == 1
    assert "child-abuse" not in copy1.read_text() and "REASON-MARKER" not in copy1.read_text()
    shown = json.loads(v.ok("request", "show", rq1, "--json").stdout)
    assert {(d["entry"], d["decision"], d["ground"]) for d in shown["decisions"]} == {
        (m["withheld"], "withhold", "child-abuse"), (m["notinf"], "disclose", None)}
    assert all(d["by"] == "amira" for d in shown["decisions"])
    v.ok("request", "close", rq1, "--met-on", "2026-11-24")

    # The father's request later: the mother's decisions are shown, and his request needs its own.
    rq2 = v.ok("request", "open", a, "--requester", "Alan Turing", "--relationship", "father", "--received",
               "2026-11-23").last_line
    shown = json.loads(v.ok("request", "show", rq2, "--json").stdout)
    assert {(d["entry"], d["decision"], d["request"]) for d in shown["earlier_decisions"]} == {
        (m["withheld"], "withhold", rq1), (m["notinf"], "disclose", rq1)}
    assert shown["decisions"] == []
    flags = {r["entry"]: r["flags"] for r in shown["to_review"]}
    assert flags[m["withheld"]] == ["safeguarding", "decision needed", f"withheld for {rq1}"]
    text = v.ok("request", "show", rq2).stdout
    assert "earlier requests' decisions" in text and f"withhold (child-abuse) for {rq1}" in text
    r = _refused(v, ["request", "export", rq2, "--out", str(tmp_path / "c2.html")], ExitCode.USAGE)
    assert f"withheld for {rq1}" in r.stderr and f"disclosed for {rq1}" in r.stderr
    _decide(v, rq2, m["withheld"], "--withhold", "--ground", "serious-harm", reason="REASON-MARKER-4")
    _decide(v, rq2, m["notinf"], "--withhold", "--ground", "serious-harm", reason="REASON-MARKER-5")
    v.ok("request", "export", rq2, "--out", str(tmp_path / "c2.md"), "--format", "md")
    assert "MARKER-A-notinf" not in (tmp_path / "c2.md").read_text()

    # Where telling the requester would itself cause the harm, a withholding may be left out of the count; the
    # copy then says neither how many nor that nothing was removed.
    _refused(v, ["request", "decide", rq2, m["notinf"], "--withhold", "--ground", "third-party", "--not-told"],
             ExitCode.USAGE)
    _decide(v, rq2, m["withheld"], "--withhold", "--ground", "child-abuse", "--not-told", reason="REASON-MARKER-6")
    _decide(v, rq2, m["notinf"], "--withhold", "--ground", "serious-harm", "--not-told", reason="REASON-MARKER-7")
    v.ok("request", "consent", rq2, "--third-party", "Dr Who, health visitor", "--given")
    v.ok("request", "consent", rq2, "--third-party", "Aunt May", "--given")
    r = v.ok("request", "export", rq2, "--out", str(tmp_path / "c3.md"), "--format", "md")
    assert "2 left out (2 without the copy saying so)" in r.stderr
    quiet = (tmp_path / "c3.md").read_text()
    assert "MARKER-A-notinf" not in quiet and "MARKER-A-withheld" not in quiet and "MARKER-A-refused" in quiet
    assert "Nothing was removed" not in quiet and "not included in this copy" not in quiet
    assert "not told" in v.ok("request", "show", rq2).stdout

    # Reasons and decisions are encrypted: nothing in the commits or the files in the clear.
    log = v.git("log", "--format=%B")
    assert "REASON-MARKER" not in log and "child-abuse" not in log
    grep = subprocess.run(["git", "-C", str(v.root), "grep", "-e", "REASON-MARKER", "-e", "child-abuse"], capture_output=True)
    assert grep.returncode == 1
    assert _findings(v) == []


def test_the_profile_stops_a_copy_for_a_requester_without_parental_responsibility_or_under_a_court_order(
        family, tmp_path):
    v, a, b, c, m = family
    v.ok("child", "set", a, 'parents:=[{"name": "Grace  hopper", "parental_responsibility": false}]')
    rq = _open_request(v, a)  # "Grace Hopper": the same person, spacing and case aside
    _decide(v, rq, m["withheld"], "--withhold", "--ground", "child-abuse", reason="best interests")
    _decide(v, rq, m["notinf"], "--disclose", reason="told since")
    r = _refused(v, ["request", "export", rq, "--out", str(tmp_path / "c.html")], ExitCode.DENIED)
    assert "no parental responsibility" in r.stderr and f"confide request override {rq}" in r.stderr
    assert "Grace" not in r.stderr
    shown = json.loads(v.ok("request", "show", rq, "--json").stdout)
    assert shown["refusals"] == [{"refusal": disclosure.NO_PR, "why": disclosure.REFUSALS[disclosure.NO_PR],
                                  "overridden": False}]
    # Only a manager overrides: not the DSL, not a practitioner; and never without a reason.
    for who in ("dara", "ben"):
        _refused(v, ["request", "override", rq], ExitCode.DENIED, who=who)
    _refused(v, ["request", "override", rq], ExitCode.USAGE)  # no reason on stdin
    v.ok("request", "override", rq, input="OVERRIDE-MARKER a residence order since gives her responsibility\n")
    r = v.ok("request", "export", rq, "--out", str(tmp_path / "c.html"))
    assert "not among the parents" not in r.stderr
    # A court order recorded later stops the next copy again, until overridden again.
    v.ok("child", "set", a, "court_orders=COURT-MARKER child arrangements order 2025")
    r = _refused(v, ["request", "export", rq, "--out", str(tmp_path / "d.html")], ExitCode.DENIED)
    assert "court order" in r.stderr and "COURT-MARKER" not in r.stderr and "parental responsibility" not in r.stderr
    v.ok("request", "override", rq, input="the order does not restrict the mother's access\n")
    _refused(v, ["request", "override", rq], ExitCode.USAGE)  # nothing left to override
    v.ok("request", "export", rq, "--out", str(tmp_path / "d.html"))
    assert "OVERRIDE-MARKER" not in v.git("log", "--format=%B")
    assert _findings(v) == []
    # A requester the profile does not list is warned about.
    rq2 = v.ok("request", "open", a, "--requester", "Someone Else", "--relationship", "uncle", "--received",
               "2026-11-23").last_line
    _decide(v, rq2, m["withheld"], "--withhold", "--ground", "child-abuse", reason="x")
    _decide(v, rq2, m["notinf"], "--withhold", "--ground", "serious-harm", reason="x")
    v.ok("request", "override", rq2, input="checked the order\n")
    r = v.ok("request", "export", rq2, "--out", str(tmp_path / "e.html"))
    assert "not among the parents" in r.stderr


def _forge_step(v, record, category, details, *, who, level="confidential", third_parties=()):
    """Append a procedure entry by hand, sealed as confide seals it, and commit it signed by ``who``."""
    from vault_cli.cli import environment
    from vault_cli.services.vault import Session, Vault

    session = Session.start(Vault(v.root, config=environment.config(identity=str(v.keys[who]))))
    env = session.vault.envelope(record)
    key = env.current_key(level)
    eid = "e-01m8p2cgzd20p9" if category in ("request-export", "information-sharing") else "e-01m8p2cgzd20pa"
    payload = {"confide": "entry/1", "record": record, "block": eid, "level": level, "category": category,
               "text": "forged step", "at": "2026-11-24T10:00:00+00:00", "recorded_at": "2026-11-24T10:00:00+00:00",
               "author": who, "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": None,
               "third_parties": list(third_parties), "corrects": None, "details": details}
    env.append_entry({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", env.source)})
    entries_file(v.root, record).write_bytes(env.tail_bytes())
    return v.commit_as(who, "add", action="entry.add", trailers={"Confide-Record": record, "Confide-Entry": eid}), eid


def test_verify_finds_a_copy_made_with_plain_git_without_decisions(family):
    """amira, a manager, appends a clean copy's export entry by hand, skipping the decisions export demands: a
    signed commit that keyless checks pass; her key opens the record, so her next command and verify find it."""
    v, a, b, c, m = family
    rq = _open_request(v, a)
    _decide(v, rq, m["withheld"], "--withhold", "--ground", "child-abuse", reason="best interests")
    bad, eid = _forge_step(v, a, "request-export", {"procedure": disclosure.EXPORT_DECIDED, "request": rq,
                                                    "format": "html", "sha256": "0" * 64}, who="amira")
    fs = [f for f in _findings(v) if f["commit"] == bad]
    assert [f["check"] for f in fs] == ["disclosure"], fs
    assert m["notinf"] in fs[0]["message"] and "parents were not informed" in fs[0]["message"]
    assert m["withheld"] not in fs[0]["message"]  # that one was decided
    r = v.run("request", "show", rq)
    assert r.exit_code == FINDINGS and bad[:12] in r.stderr


def test_verify_finds_a_copy_against_the_profile_and_overrides_or_decisions_by_the_wrong_role(family):
    v, a, b, c, m = family
    v.ok("child", "set", a, "court_orders=an order")
    rq, _, _ = _decided_request(v, a, m)
    # dara, the DSL, may decide but not override: her hand-made override is found.
    bad_override, _ = _forge_step(v, a, "request-override", {"procedure": disclosure.OVERRIDE_PROCEDURE, "request": rq,
                                                             "refusals": [disclosure.COURT_ORDER], "reason": "x"},
                                  who="dara")
    fs = _findings(v)
    assert {(f["commit"], f["check"]) for f in fs} == {(bad_override, "role")}, fs
    v.ok("repudiate", "--reason", "override by the DSL")
    bad_export, _ = _forge_step(v, a, "request-export", {"procedure": disclosure.EXPORT_DECIDED, "request": rq},
                                who="amira")
    fs = _findings(v)
    assert [(f["commit"], f["check"]) for f in fs] == [(bad_export, "disclosure")], fs
    assert "court order" in fs[0]["message"]
    v.ok("repudiate", "--reason", "copy against the court order")
    # A practitioner's hand-made decision is a request step their role may not write.
    bad_decision, _ = _forge_step(v, a, "request-decision", {
        "procedure": disclosure.DECISION_PROCEDURE, "request": rq, "entry": m["obs1"], "decision": "disclose",
        "ground": None, "reason": "x"}, who="ben")
    assert [(f["commit"], f["check"]) for f in _findings(v) if f["commit"] == bad_decision] == [(bad_decision, "role")]


def test_the_help_names_every_ground_and_nothing_else():
    from vault_cli.cli.requests import GROUND_HELP

    named = [part.strip().split(" ")[0] for part in GROUND_HELP.replace("), ", ")|").split("|")]
    assert named == list(disclosure.GROUNDS)


def test_a_holder_display_name_is_set_by_a_manager_and_cleared(vault):
    v = vault
    v.ok("holder", "set-display-name", "cara", "  Cara   Jones ")
    rows = {r["holder"]: r for r in json.loads(v.ok("holder", "list", "--json").stdout)}
    assert rows["cara"]["display_name"] == "Cara Jones" and rows["ben"]["display_name"] is None
    for bad in ("Cara\x1b[31m", "x" * 101):
        _refused(v, ["holder", "set-display-name", "cara", bad], ExitCode.USAGE)
    _refused(v, ["holder", "set-display-name", "cara", "Cara Jones"], ExitCode.USAGE)  # nothing to change
    _refused(v, ["holder", "set-display-name", "cara", "Someone"], ExitCode.DENIED, who="dara")
    _refused(v, ["holder", "set-display-name", "nobody", "Someone"], ExitCode.NOT_FOUND)
    v.ok("holder", "set-display-name", "cara", "")
    assert json.loads(v.ok("holder", "list", "--json").stdout)[2]["display_name"] is None
    assert "holder.display-name" in v.git("log", "-1", "--format=%B")
    assert _findings(v) == []


def test_not_telling_is_a_decision_only_on_the_grounds_that_allow_it():
    """'decide --not-told' is refused unless the ground is one where telling would itself cause harm; a decision
    entry made another way (plain git, a holder's key) with 'tell: false' on another ground is no decision, so the
    entry stays undecided: export refuses, and verify reports a copy made without it."""
    def entry(ground, tell):
        return Entry(id="e-1", level="confidential", category="request-decision", text="x", at="2026-11-24",
                     recorded_at="2026-11-24T10:00:00+00:00", author="dara", parent_view="not-asked",
                     parents_informed=None, parents_not_informed=None, third_parties=(), corrects=None,
                     details={"procedure": disclosure.DECISION_PROCEDURE, "request": "r-1", "entry": "e-9",
                              "decision": "withhold", "ground": ground, "reason": "x", "tell": tell})

    assert disclosure.decision_of(entry("third-party", False)) is None
    assert disclosure.decision_of(entry("third-party", True)) is not None
    for ground in disclosure.UNTOLD_GROUNDS:
        d = disclosure.decision_of(entry(ground, False))
        assert d is not None and d.tell is False


def test_a_clean_copy_killed_while_it_waits_for_the_lock_leaves_no_plaintext_and_no_export(family, tmp_path):
    """The copy is written to a private temporary file and renamed into place only after its export is committed
    under the vault's lock. A plain 'kill' (SIGTERM) while another command holds the lock is an interruption: the
    temporary file is removed, nothing is committed, and nothing of the child's file is left on disk."""
    import os
    import signal
    import time

    from test_guarantees import LIVENESS_SECONDS, _holds_open, confide_proc

    from vault_cli.adapters.store import VaultLock

    v, a, b, c, m = family
    rq, _, _ = _decided_request(v, a, m)
    out = tmp_path / "out"
    out.mkdir()
    head, lock_path = v.head(), v.root / ".git" / "confide.lock"
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with VaultLock(v.root):
            p = confide_proc(v, "request", "export", rq, "--out", str(out / "copy.md"), "--format", "md")
            deadline = time.monotonic() + LIVENESS_SECONDS  # a guard against a hung process, not a speed limit
            while not (_holds_open(p.pid, lock_path) and list(out.iterdir())):
                assert p.poll() is None, p.communicate()
                assert time.monotonic() < deadline, "the export never came to wait for the lock"
                time.sleep(0.01)
            assert [f.stat().st_mode & 0o777 for f in out.iterdir()] == [0o600]  # private while it waits
            p.send_signal(sig)
            _out, err = p.communicate(timeout=LIVENESS_SECONDS)
        assert p.returncode == 130, (sig, p.returncode, err.decode())  # interrupted, as by ^C
        assert err.decode() == "confide: error: interrupted\n"
        assert list(out.iterdir()) == []  # neither the copy nor its temporary file
        assert v.head() == head and v.is_clean()
    assert not [e for e in json.loads(v.ok("request", "show", rq, "--json").stdout).get("exports", [])]
    # Not killed, the same export waits, commits, and only then puts the copy in place.
    v.ok("request", "export", rq, "--out", str(out / "copy.md"), "--format", "md")
    assert [f.name for f in out.iterdir()] == ["copy.md"] and os.stat(out / "copy.md").st_mode & 0o777 == 0o600
    assert v.git("rev-parse", "HEAD~1").strip() == head


def test_a_decision_made_while_an_export_waits_for_the_lock_stops_that_export(family, tmp_path, monkeypatch):
    """The copy is built before the lock is taken. A colleague who withholds an entry meanwhile changes the record:
    under the lock the export sees that and records nothing (the withheld entry reaches no copy); run again,
    it follows the new decision. A copy recorded on decisions other than those standing when its export was
    committed (forged with plain git, as an export that ignored the change would be) is a verify finding."""
    from vault_cli.services import request_steps

    v, a, b, c, m = family
    rq, d_withheld, d_notinf = _decided_request(v, a, m, withheld_by="dara")
    original = request_steps.add_step
    raced: list = []

    def racing(session, record_id, **kw):
        if not raced:  # a colleague withholds obs1 while this export waits for the lock (their decide goes
            raced.append(None)  # through add_step too: only the first call races)
            raced[0] = v.run("request", "decide", rq, m["obs1"], "--withhold", "--ground", "serious-harm",
                             input="harm", who="dara")
        return original(session, record_id, **kw)

    monkeypatch.setattr(request_steps, "add_step", racing)
    out = tmp_path / "copy.md"
    head = v.head()
    r = v.run("request", "export", rq, "--out", str(out), "--format", "md")
    monkeypatch.setattr(request_steps, "add_step", original)
    assert raced and raced[0].exit_code == 0, raced and raced[0].stderr
    assert r.exit_code == ExitCode.VAULT_STATE, r.stderr
    assert f"{a} was changed by someone else while this command waited for the vault; nothing was recorded" in r.stderr
    assert not out.exists() and list(tmp_path.glob(".copy.md.*")) == []
    assert v.git("rev-parse", "HEAD~1").strip() == head  # only the colleague's decision was committed
    v.ok("request", "export", rq, "--out", str(out), "--format", "md")
    assert "MARKER-A-obs1" not in out.read_text()
    assert _findings(v) == []
    # the same export forged as if it had ignored the decision: its recorded decisions lack obs1's
    exported = v.head()
    v.git("reset", "-q", "--hard", "HEAD~1")  # back to the colleague's decision
    bad, _ = _forge_step(v, a, "request-export", {"procedure": disclosure.EXPORT_DECIDED, "request": rq,
                                                  "format": "md", "sha256": "0" * 64,
                                                  "decisions": {m["withheld"]: d_withheld, m["notinf"]: d_notinf}},
                         who="amira")
    found = [f["message"] for f in _findings(v) if f["commit"] == bad]
    assert any("was made on other decisions than those standing when it was recorded" in f
               and m["obs1"] in f for f in found), found
    v.git("reset", "-q", "--hard", exported)


def test_a_file_that_appears_at_out_while_the_export_waits_is_not_replaced(family, tmp_path, monkeypatch):
    """--out is checked before the lock; a file someone puts there meanwhile is not replaced without --force:
    the export says so, its temporary copy goes, and the file keeps what it held."""
    from vault_cli.services import request_steps

    v, a, b, c, m = family
    rq, _, _ = _decided_request(v, a, m)
    out = tmp_path / "copy.md"
    original = request_steps.add_step

    def appearing(session, record_id, **kw):
        out.write_text("someone else's file")
        return original(session, record_id, **kw)

    monkeypatch.setattr(request_steps, "add_step", appearing)
    r = v.run("request", "export", rq, "--out", str(out), "--format", "md")
    monkeypatch.setattr(request_steps, "add_step", original)
    assert r.exit_code == ExitCode.EXTERNAL, r.stderr
    assert "the export was recorded, but the clean copy could not be put in place" in r.stderr
    assert out.read_text() == "someone else's file" and list(tmp_path.glob(".copy.md.*")) == []


def test_an_unfinished_copy_left_by_a_sigkilled_export_is_removed_by_the_next_export_there(family, tmp_path):
    """SIGKILL cannot be caught, so a killed export leaves its private temporary copy (plaintext, 0600) beside its
    target. The next export to that folder removes such files whose confide is gone, and says so; a file whose
    pid is alive (an export still running), another machine's, and any other file are left alone."""
    import os
    import subprocess

    v, a, b, c, m = family
    rq, _, _ = _decided_request(v, a, m)
    out = tmp_path / "out"
    out.mkdir()
    from vault_cli.services.cleancopy import _host

    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no process has now
    dead = out / f".copy.md.confide-{_host()}-{gone.pid}.tmp"
    live = out / f".other.md.confide-{_host()}-{os.getpid()}.tmp"
    elsewhere = out / f".copy.md.confide-{_host()}x-{gone.pid}.tmp"  # another machine's (a shared folder)
    other = out / "notes.confide-1.tmp"
    for f in (dead, live, elsewhere, other):
        f.write_text("Ada's file, in plaintext")
    r = v.ok("request", "export", rq, "--out", str(out / "copy.md"), "--format", "md")
    assert f"removed 1 unfinished clean copy that a killed export had left in {out}" in r.stderr
    assert sorted(f.name for f in out.iterdir()) == sorted(["copy.md", live.name, elsewhere.name, other.name])


def _forged_findings(v, record, category, details, *, who="amira", level="confidential", third_parties=()):
    """Forge one step (``_forge_step``), verify with amira's key, take the forged commit back; its findings."""
    bad, _ = _forge_step(v, record, category, details, who=who, level=level, third_parties=third_parties)
    found = [(f["check"], f["message"]) for f in _findings(v) if f["commit"] == bad]
    v.git("reset", "-q", "--hard", "HEAD~1")
    return found


def test_verify_finds_a_decision_below_its_entry_level_or_on_no_entry_of_the_file(family):
    """'request decide' seals a decision at the decided entry's level or above (it says what the entry is about):
    one sealed lower, with plain git, would let those the entry is kept from read about it."""
    v, a, b, c, m = family
    rq = _open_request(v, a)
    decision = {"procedure": disclosure.DECISION_PROCEDURE, "request": rq, "entry": m["withheld"],
                "decision": "withhold", "ground": "child-abuse", "reason": "x"}
    found = _forged_findings(v, a, "request-decision", decision, level="confidential")
    assert [k for k, _m in found] == ["disclosure"], found
    assert f"a decision on entry {m['withheld']} (safeguarding), is kept at the confidential level" in found[0][1]
    assert _forged_findings(v, a, "request-decision", decision, level="safeguarding") == []
    found = _forged_findings(v, a, "request-decision", dict(decision, entry="e-01m8p2cgzd20zz"), level="safeguarding")
    assert [k for k, _m in found] == ["disclosure"] and "not an entry of this record" in found[0][1], found
    found = _forged_findings(v, a, "request-decision", dict(decision, entry="e-" + rq[2:]), level="safeguarding")
    assert [k for k, _m in found] == ["disclosure"] and "a step of a request" in found[0][1], found
    found = _forged_findings(v, a, "request-decision", dict(decision, request="r-" + "0" * 14), level="safeguarding")
    assert [k for k, _m in found] == ["disclosure"] and "which this record does not hold" in found[0][1], found
    # A forged step may name anything: a finding repeats only what is an id.
    found = _forged_findings(v, a, "request-decision", dict(decision, entry="MARKER-A-withheld"), level="safeguarding")
    assert [k for k, _m in found] == ["disclosure"] and "MARKER" not in found[0][1], found
    assert _findings(v) == []


def test_verify_finds_a_step_of_a_request_already_closed(family, tmp_path):
    """A closed request takes no more consents, decisions, overrides, extensions or closings ('request ...' refuses
    them); the same steps made with plain git are findings. A clean copy may still be made again."""
    v, a, b, c, m = family
    rq, _, _ = _decided_request(v, a, m)
    v.ok("request", "close", rq, "--met-on", "2026-11-24")
    _refused(v, ["request", "decide", rq, m["obs1"], "--disclose"], ExitCode.USAGE)
    v.ok("request", "export", rq, "--out", str(tmp_path / "again.html"))  # a copy made again, for the same decisions
    steps = {
        "request-decision": {"procedure": disclosure.DECISION_PROCEDURE, "request": rq, "entry": m["withheld"],
                             "decision": "disclose", "ground": None, "reason": "x"},
        "request-consent": {"procedure": "request-consent/1", "request": rq, "third_party": "Aunt May",
                            "answer": "given", "on": "2026-11-24"},
        "request-close": {"procedure": disclosure.CLOSE_PROCEDURE, "request": rq, "closed_on": "2026-11-24"},
    }
    for category, details in steps.items():
        level = "safeguarding" if category == "request-decision" else "confidential"
        found = _forged_findings(v, a, category, details, level=level)
        assert [k for k, _m in found] == ["disclosure"], (category, found)
        assert f"a step of request {rq}, which was already closed" in found[0][1]
    assert _findings(v) == []


def test_verify_finds_an_override_of_what_the_profile_did_not_say_at_its_time(family, tmp_path):
    """An override lifts only what the child's profile stops when it is made ('request override' refuses one where
    nothing stops the copy). One forged with plain git before any court order was recorded is a finding; had it
    stood, a court order recorded later would have been lifted in advance."""
    v, a, b, c, m = family
    rq = _open_request(v, a)
    override = {"procedure": disclosure.OVERRIDE_PROCEDURE, "request": rq, "refusals": [disclosure.COURT_ORDER],
                "reason": "x"}
    _refused(v, ["request", "override", rq], ExitCode.USAGE)
    found = _forged_findings(v, a, "request-override", override)
    assert [k for k, _m in found] == ["disclosure"], found
    assert "did not raise when it was made" in found[0][1]
    # With the order recorded, the same override is what 'request override' writes, made by a manager then.
    v.ok("child", "set", a, "court_orders=COURT-MARKER an order")
    assert _forged_findings(v, a, "request-override", override) == []
    v.ok("request", "override", rq, input="checked the order\n")
    # ...and once lifted, a second override of the same refusal lifts nothing.
    found = _forged_findings(v, a, "request-override", override)
    assert [k for k, _m in found] == ["disclosure"] and "an earlier override had lifted" in found[0][1], found
    assert _findings(v) == []


def test_old_request_formats_count_in_history_but_not_in_new_commits(family, monkeypatch):
    """'request-withhold/1' and 'request-export/1' (a copy judged by no decisions) were written until decisions
    existed. History from then still verifies; a step in those formats made since (by the commit's date, or in a
    record that already holds the formats that replaced them) is a finding, so no copy escapes the decisions."""
    v, a, b, c, m = family
    rq = _open_request(v, a)
    old_export = {"procedure": "request-export/1", "request": rq, "format": "html", "sha256": "0" * 64}
    old_withhold = {"procedure": disclosure.LEGACY_WITHHOLD, "request": rq, "entry": m["withheld"], "reason": "x",
                    "ground": "an exemption"}
    # Written before the change, in a record with no step in the new formats: history, accepted.
    assert disclosure.OLD_FORMATS_UNTIL.isoformat() > "2026-11-24T10:00:00"  # the suite's calendar
    assert _forged_findings(v, a, "request-export", old_export) == []
    assert _forged_findings(v, a, "request-withhold", old_withhold) == []
    # In a record that already holds a decision: a new commit, whatever its date says.
    _decide(v, rq, m["withheld"], "--withhold", "--ground", "child-abuse", reason="best interests")
    for category, details in (("request-export", old_export), ("request-withhold", old_withhold)):
        found = _forged_findings(v, a, category, details)
        assert [k for k, _m in found] == ["format"], (category, found)
        assert f"in the old format {details['procedure']}" in found[0][1] and "already holds" in found[0][1]
    # Made since the change (by its date), in a record with no new step: found too.
    later = "2026-12-02T10:00:00+00:00"
    for var in ("CONFIDE_NOW", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(var, later)
    found = _forged_findings(v, b, "request-export", dict(old_export, request="r-" + "0" * 14))
    assert [k for k, _m in found] == ["format"], found
    assert "confide stopped writing on 2026-11-30" in found[0][1]
    assert _findings(v) == []


def test_verify_holds_sharing_decisions_to_the_rules_share_applies(family):
    """'confide share' refuses a decision without a lawful basis, without the reason consent other than given
    needs, with an unknown consent, at the general level, or dated in the future (``policy.sharing_problems``);
    the same decisions made with plain git are findings."""
    v, a, b, c, m = family
    v.ok("share", a, "--with", "school", "--what", "transfer summary", "--purpose", "transition", "--basis",
         "consent", "--consent", "given", "--parents-informed", "2026-11-24")
    v.ok("share", a, "--with", "GP", "--what", "x", "--purpose", "y", "--consent", "refused", "--decided-not-to",
         "--reason", "the mother refused", "--level", "confidential", "--parents-informed", "2026-11-24")
    assert _findings(v) == []
    good = {"procedure": "information-sharing/1", "decision": "shared", "with": "school", "what": "x", "purpose": "y",
            "basis": "consent", "consent": "given", "reason": None, "on": "2026-11-24", "how": None, "advice": None}
    assert _forged_findings(v, a, "information-sharing", good, third_parties=["school"]) == []
    cases = [
        (dict(good, basis=None), {}, "its lawful basis is empty"),
        (dict(good, consent="not-sought"), {}, "its reason is needed: why information is shared with consent not-sought"),
        (dict(good, decision="not-shared", basis=None), {}, "its reason is needed: why it was decided not to share"),
        (dict(good, consent="maybe"), {}, "its consent is not an answer confide records"),
        (dict(good, on="2026-12-24"), {}, "its date of the decision is in the future"),
        (good, {"level": "general"}, "a sharing decision is not general information"),
        (good, {"third_parties": []}, "its who it was shared with is not among the entry's third parties"),
    ]
    for details, extra, said in cases:
        kw = {"third_parties": ["school"], "level": "safeguarding", **extra}
        found = _forged_findings(v, a, "information-sharing", details, **kw)
        assert [k for k, _m in found] == ["sharing"], (said, found)
        assert said in found[0][1], (said, found)
    assert _findings(v) == []


def test_an_override_counts_by_who_was_a_manager_when_it_was_made(family, tmp_path):
    """An override is judged at its own commit, by the roles of that moment: one made by a manager who has left
    since still stands (the export after it, and verify, accept it); one signed with that leaver's key after they
    left is a finding."""
    v, a, b, c, m = family
    v.ok("child", "set", a, "court_orders=an order")
    rq, _, _ = _decided_request(v, a, m)
    v.add_holder("mo", "manager")
    v.ok("request", "override", rq, input="mo checked the order\n", who="mo")
    v.ok("holder", "remove", "mo", "--reason", "left the setting 2026-11-24")
    v.ok("request", "export", rq, "--out", str(tmp_path / "copy.html"))
    assert _findings(v) == []
    v.ok("child", "set", a, "parents:=[{\"name\": \"Grace Hopper\", \"parental_responsibility\": false}]")
    bad, _ = _forge_step(v, a, "request-override", {"procedure": disclosure.OVERRIDE_PROCEDURE, "request": rq,
                                                    "refusals": [disclosure.NO_PR], "reason": "x"}, who="mo")
    found = [f for f in _findings(v) if f["commit"] == bad]
    assert found and all(f["check"] in ("signer", "role") for f in found), found
