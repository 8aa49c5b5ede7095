"""A profile changed on two machines: the sync keeps both versions, `show` says so, `resolve` chooses, verify checks.

Real clones of a bare remote (as tests/test_history_sync.py makes them), real keys and signatures. The
rules tested: the merge's `conflict` field is exactly what services.merge gives (verify recomputes it); only
`confide resolve`, by someone who may change the profile, ends it, with one of the versions or an edit sealed
by them; nothing of the profile reaches a commit message, stderr or a git object in the clear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_history import as_signed
from test_history_sync import FINDINGS, clone_of, git

from vault_cli.errors import ExitCode
from vault_cli.formats import envelope, yamlio

RAIN, SUN, THIRD = "Raincloud-Marker-7q", "Sunbeam-Marker-4k", "Moonlit-Marker-9z"


@pytest.fixture
def pair(tmp_path, vault):
    """amira's vault (with sam, a student who reads no profile) on a bare remote, and ben's clone of it."""
    v = as_signed(vault)
    v.add_holder("sam", "student")
    ada = v.add_child("Ada Marker", key_person="ben")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("remote", "add", "origin", str(bare), cwd=v.root)
    assert v.run("sync").exit_code == 0
    ben = clone_of(v, str(bare), tmp_path / "ben-clone")
    return v, ben, bare, ada


def _conflicted(pair, stderrs: list) -> None:
    """amira and ben change the same profile; amira pushes; ben's sync keeps both versions."""
    amira, ben, bare, ada = pair
    amira.ok("child", "set", ada, f"room={RAIN}")
    ben.ok("child", "set", ada, f"room={SUN}", who="ben")
    r = amira.run("sync")
    assert r.exit_code == 0, r.stderr
    r = ben.run("sync", who="ben")
    stderrs.append(r.stderr)
    assert r.exit_code == 0, r.stderr
    assert "merged (merge)" in r.stderr and "pushed" in r.stderr
    assert f"record {ada}: the profile was changed on both machines; both versions are kept" in r.stderr
    assert f"confide resolve {ada} --take N" in r.stderr


def _versions(v, ada, who):
    shown = json.loads(v.ok("show", ada, "--json", who=who).stdout)
    return shown, {x["profile"]["room"]: x["version"] for x in shown["conflict"]["versions"] or []}


def test_a_profile_changed_on_two_machines_is_kept_shown_and_resolved(pair):
    amira, ben, bare, ada = pair
    stderrs: list = []
    _conflicted(pair, stderrs)
    head = envelope.load_head(envelope.record_path(ben.root, ada).read_bytes(), "h")
    assert len(head["conflict"]["profile"]) == 2 and head["conflict"]["profile"] == sorted(
        head["conflict"]["profile"], key=lambda b: json.dumps(b, sort_keys=True))
    # show: in plain words, both versions to whoever reads the profile; the profile itself as last agreed
    r = ben.run("show", ada, who="ben")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"CONFLICT: the profile of {ada} was changed on two machines")
    assert RAIN in r.stdout and SUN in r.stdout and "The versions differ in: room" in r.stdout
    shown, rooms = _versions(ben, ada, "ben")
    assert set(rooms) == {RAIN, SUN} and shown["profile"].get("room") is None
    assert shown["conflict"]["part"] == "profile"
    # sam (a student: no general level) is told there is a conflict, and shown nothing of either version
    r = ben.run("show", ada, who="sam")
    assert r.exit_code == 0, r.stderr
    assert "CONFLICT" in r.stdout and "You cannot read the profile" in r.stdout
    assert RAIN not in r.stdout and SUN not in r.stdout
    assert json.loads(ben.ok("show", ada, "--json", who="sam").stdout)["conflict"] == {"part": "profile", "versions": None}
    # nobody changes the profile otherwise meanwhile; sam may not choose; entries go on
    r = ben.run("child", "set", ada, "room=elsewhere", who="ben")
    assert r.exit_code == int(ExitCode.VAULT_STATE) and f"confide resolve {ada}" in r.stderr, r.stderr
    r = ben.run("resolve", ada, "--take", "1", who="sam")
    assert r.exit_code == int(ExitCode.DENIED) and "cannot read the profile" in r.stderr, r.stderr
    r = ben.run("resolve", ada, "--take", "3", who="ben")
    assert r.exit_code == int(ExitCode.USAGE) and "versions 1 to 2" in r.stderr, r.stderr
    ben.add_entry(ada, "an entry while the conflict stands", "general", "note", "ben")
    before = ben.head()
    # ben takes theirs (amira's room), in one signed commit
    r = ben.run("resolve", ada, "--take", str(rooms[RAIN]), who="ben")
    assert r.exit_code == 0, r.stderr
    stderrs.append(r.stderr)
    assert ben.git("rev-list", "--count", f"{before}..HEAD").strip() == "1"
    msg = ben.git("log", "-1", "--format=%G? %an %B")
    assert msg.startswith("G ben") and "Confide-Action: profile.resolve" in msg and "Confide-Resolution: take" in msg
    shown = json.loads(ben.ok("show", ada, "--json", who="ben").stdout)
    assert shown["profile"]["room"] == RAIN and "conflict" not in shown
    assert "CONFLICT" not in ben.ok("show", ada, who="ben").stdout
    r = ben.run("resolve", ada, "--take", "1", who="ben")
    assert r.exit_code == int(ExitCode.USAGE) and "no conflict" in r.stderr
    # everyone syncs; every clone verifies clean and reads the same
    for v, who in ((ben, "ben"), (amira, "amira")):
        r = v.run("sync", who=who)
        stderrs.append(r.stderr)
        assert r.exit_code == 0, r.stderr
    assert amira.head() == ben.head()
    assert json.loads(amira.ok("show", ada, "--json").stdout)["profile"]["room"] == RAIN
    for v in (amira, ben):
        for who in ("amira", "ben", None):
            code, data = v.verify(who)
            assert code == 0, data["findings"]
    # the profile never in the clear: not in commit messages, stderr or any git object
    for v in (amira, ben):
        log = v.git("log", "--all", "--format=%B")
        assert RAIN not in log and SUN not in log
        objects = subprocess.run(["git", "-C", str(v.root), "cat-file", "--batch-all-objects", "--batch"],
                                 capture_output=True, check=True).stdout
        assert RAIN.encode() not in objects and SUN.encode() not in objects
    assert not any(RAIN in s or SUN in s for s in stderrs)


def test_resolve_by_editing_seals_a_new_profile_by_whoever_resolves(pair, tmp_path):
    amira, ben, bare, ada = pair
    _conflicted(pair, [])
    r = amira.run("sync")  # amira pushed first: her next sync fast-forwards to the merge, and says so too
    assert r.exit_code == 0 and "merged (fast-forward)" in r.stderr, r.stderr
    assert f"record {ada}: the profile was changed on both machines" in r.stderr
    assert "the profile was changed" not in amira.run("sync").stderr  # once
    edited = tmp_path / "profile.yaml"
    _, rooms = _versions(ben, ada, "ben")
    assert ben.run("resolve", ada, "--edit", who="ben").exit_code == int(ExitCode.USAGE)  # no terminal, no editor
    edited.write_text(yamlio.dump({"name": "Ada Marker", "room": THIRD}))  # the key person may be left out
    r = ben.run("resolve", ada, "--from", str(edited), who="ben")
    assert r.exit_code == 0, r.stderr
    assert THIRD not in r.stderr
    assert "Confide-Resolution: edit" in ben.git("log", "-1", "--format=%B")
    assert json.loads(ben.ok("show", ada, "--json", who="ben").stdout)["profile"]["room"] == THIRD
    code, data = ben.verify("amira")
    assert code == 0, data["findings"]
    assert THIRD not in ben.git("log", "--all", "--format=%B")


def _forge(v, ada, who: str, fn, message: dict) -> list:
    """A plain-git commit on the conflicted record: ``fn(head)`` changes it; the findings verify gives."""
    path = envelope.record_path(v.root, ada)
    head = envelope.load_head(path.read_bytes(), "h")
    fn(head)
    path.write_bytes(envelope.Envelope(f"records/{ada}.yaml", head).head_bytes())
    forged = v.commit_as(who, "resolve", action=message.pop("action"), trailers={"Confide-Record": ada, **message})
    code, data = v.verify("amira")
    v.git("reset", "-q", "--hard", "HEAD~1")
    assert code == FINDINGS, data
    return [f for f in data["findings"] if f["commit"] == forged]


def test_forged_resolutions_are_findings(pair):
    amira, ben, bare, ada = pair
    _conflicted(pair, [])
    head = envelope.load_head(envelope.record_path(ben.root, ada).read_bytes(), "h")
    first = head["conflict"]["profile"][0]

    def take(block):
        def fn(h):
            h["profile"] = dict(block)
            h.pop("conflict")
        return fn

    # neither side, said to be taken (the version both last agreed on)
    found = _forge(ben, ada, "amira", take(head["profile"]), {"action": "profile.resolve", "Confide-Resolution": "take"})
    assert any(f["check"] == "conflict" and "none of them" in f["message"] for f in found), found
    # by sam, who may write but does not read the profile
    found = _forge(ben, ada, "sam", take(first), {"action": "profile.resolve", "Confide-Resolution": "take"})
    assert any(f["check"] == "role" and "does not read the profile" in f["message"] for f in found), found
    # not by 'confide resolve': an ordinary profile update that drops the conflict
    found = _forge(ben, ada, "amira", take(first), {"action": "profile.update"})
    assert any(f["check"] == "conflict" and "only 'confide resolve'" in f["message"] for f in found), found
    # a resolution that says nothing of how it chose
    found = _forge(ben, ada, "amira", take(first), {"action": "profile.resolve"})
    assert any(f["check"] == "trailer" for f in found), found
    # a conflict written by an ordinary commit, not a merge
    ben.ok("resolve", ada, "--take", "1", who="ben")

    def add(h):
        h["conflict"] = {"profile": head["conflict"]["profile"]}
    found = _forge(ben, ada, "amira", add, {"action": "profile.update"})
    assert any(f["check"] == "conflict" and "not a merge" in f["message"] for f in found), found
    code, data = ben.verify("amira")  # and with the forgeries gone, the honest history is clean
    assert code == 0, data["findings"]


def test_a_merge_that_settles_the_conflict_by_choosing_is_found(pair):
    """The merge must keep both versions: a merge commit that took one side is not what merging gives."""
    amira, ben, bare, ada = pair
    amira.ok("child", "set", ada, f"room={RAIN}")
    ben.ok("child", "set", ada, f"room={SUN}", who="ben")
    assert amira.run("sync").exit_code == 0
    git("fetch", "-q", "origin", cwd=ben.root)
    proc = subprocess.run(["git", "-C", str(ben.root), "merge", "--no-commit", "--no-ff", "origin/main"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr  # git's merge driver gives what confide sync gives: both versions
    path = envelope.record_path(ben.root, ada)
    head = envelope.load_head(path.read_bytes(), "h")
    assert len(head["conflict"]["profile"]) == 2
    head["profile"] = head["conflict"].pop("profile")[0]
    head.pop("conflict")
    path.write_bytes(envelope.Envelope(f"records/{ada}.yaml", head).head_bytes())
    merge = ben.commit_as("ben", "merge origin/main", action="vault.merge")
    code, data = ben.verify("amira")
    assert code == FINDINGS
    assert any(f["commit"] == merge and f["check"] == "merge" and f["file"] == f"records/{ada}.yaml"
               for f in data["findings"]), data["findings"]


FAKE_EDITOR = """\
import json, os, sys
path = sys.argv[1]
text = open(path).read()
with open(os.environ["EDIT_LOG"], "w") as fh:
    json.dump({"path": path, "text": text, "mode": os.stat(path).st_mode & 0o777}, fh)
lines = [l if not l.startswith("room:") else "room: " + os.environ["EDIT_ROOM"] for l in text.splitlines()]
open(path, "w").write("\\n".join(lines) + "\\n")
"""


def test_resolve_edit_on_a_terminal_runs_the_editor_from_memory(pair, tmp_path):
    """--edit opens a version in the editor (a private folder in memory) and seals what is saved, by the caller;
    on a terminal only (a pty here), since an editor needs one."""
    amira, ben, bare, ada = pair
    _conflicted(pair, [])
    _, rooms = _versions(ben, ada, "ben")
    script, log = tmp_path / "editor.py", tmp_path / "edit.log"
    script.write_text(FAKE_EDITOR)
    env = dict(os.environ, CONFIDE_VAULT=str(ben.root), CONFIDE_IDENTITY=str(ben.keys["ben"]),
               CONFIDE_SIGNING_KEY=str(ben.keys["ben.sign"]), EDITOR=f"{sys.executable} {script}",
               EDIT_LOG=str(log), EDIT_ROOM=THIRD, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    master, slave = os.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "vault_cli", "resolve", ada, "--edit", "--start", str(rooms[SUN])],
                              stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env, text=True)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    call = json.loads(log.read_text())
    assert call["path"].startswith("/dev/shm/") and call["mode"] == 0o600 and not os.path.exists(call["path"])
    assert f"room: {SUN}" in call["text"] and f"this is version {rooms[SUN]}" in call["text"]
    assert THIRD not in proc.stderr and "Confide-Resolution: edit" in ben.git("log", "-1", "--format=%B")
    assert json.loads(ben.ok("show", ada, "--json", who="ben").stdout)["profile"]["room"] == THIRD
    code, data = ben.verify("amira")
    assert code == 0, data["findings"]


def test_no_clean_copy_or_override_while_the_profile_is_in_two_versions(pair, tmp_path):
    """One version may record a court order: until someone chooses, export and override refuse (exit 7) and
    change nothing; a copy recorded anyway, with plain git and amira's own signing key, is a verify finding."""
    amira, ben, bare, ada = pair
    rq = amira.ok("request", "open", ada, "--requester", "Grace Hopper", "--relationship", "mother",
                  "--received", "2026-11-20", "--id-checked", "passport seen", "--acknowledged", "2026-11-20",
                  "--legal-advice", "not-sought").last_line
    _conflicted(pair, [])
    amira.ok("sync")
    before = amira.head()
    for args in (["request", "export", rq, "--out", str(tmp_path / "copy.html")],
                 ["request", "override", rq]):
        r = amira.run(*args, input="a reason")
        assert r.exit_code == ExitCode.VAULT_STATE, r.stderr
        assert "two versions" in r.stderr and f"confide resolve {ada}" in r.stderr
        assert amira.head() == before and not (tmp_path / "copy.html").exists()

    # The same export, forged: an export entry sealed as confide seals it, committed with plain git and amira's key.
    from test_disclosure import _forge_step

    from vault_cli.model import disclosure

    bad, _ = _forge_step(amira, ada, "request-export", {"procedure": disclosure.EXPORT_DECIDED, "request": rq,
                                                        "format": "html", "sha256": "0" * 64}, who="amira")
    code, data = amira.verify("amira")
    assert code == FINDINGS
    found = [(f["commit"], f["check"], f["message"]) for f in data["findings"]]
    assert [(c, k) for c, k, _m in found] == [(bad, "disclosure")], found
    assert "two versions after a sync" in found[0][2] and RAIN not in found[0][2] and SUN not in found[0][2]
    amira.git("reset", "-q", "--hard", "HEAD~1")
    # An override forged in that state is found too, though the version amira last agreed on raises nothing.
    bad, _ = _forge_step(amira, ada, "request-override", {"procedure": disclosure.OVERRIDE_PROCEDURE, "request": rq,
                                                          "refusals": [disclosure.COURT_ORDER], "reason": "x"},
                         who="amira")
    code, data = amira.verify("amira")
    assert code == FINDINGS
    assert any(f["commit"] == bad and f["check"] == "disclosure" and "two versions" in f["message"]
               for f in data["findings"]), data["findings"]
