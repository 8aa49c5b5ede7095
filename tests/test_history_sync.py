"""Several machines and backups, for real: a bare remote, two clones, concurrent entries, bundles."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from test_history import SignedVault, as_signed

from vault_cli.errors import ExitCode
from vault_cli.formats import envelope, yamlio
from vault_cli.services import merge

FINDINGS = int(ExitCode.FINDINGS)


def git(*args, cwd: Path) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


def identity_of(v) -> str:
    """The vault's identity, as 'confide trust' prints it (and 'confide init' printed it)."""
    r = v.run("trust")
    assert r.exit_code == 0, r.stderr
    return r.last_line


def clone_of(v, url: str, dest: Path) -> SignedVault:
    r = run_cli(["clone", url, str(dest), "--trust", identity_of(v)])
    assert r.exit_code == 0, r.stderr
    c = SignedVault(dest, v.keys)
    c.sign = v.sign
    c.records = dict(v.records)
    return c


@pytest.fixture
def shared(tmp_path, vault):
    """amira's vault pushed to a bare remote, and ben's clone of it (trusting the vault's identity)."""
    v = as_signed(vault)
    ada = v.add_child("Ada Marker", key_person="ben")
    v.add_entry(ada, "first day", "general", "observation")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("remote", "add", "origin", str(bare), cwd=v.root)
    r = v.run("sync")
    assert r.exit_code == 0, r.stderr
    ben = clone_of(v, str(bare), tmp_path / "ben-clone")
    return v, ben, bare, ada


def merge_file(base, ours, theirs, path: str) -> bytes:
    """confide's keyless merge of one record file (what git's merge driver gives for it out of context)."""
    part = envelope.record_of(path)
    assert part is not None, path
    if part[1] == "entries":
        return merge.merge_entries_file(base, ours, theirs, path)
    return merge.merge_head_file(base, ours, theirs, path)


def entry_ids(root: Path, rid: str) -> list:
    """The entry ids in a record's entries file (checked as confide reads it: valid, sorted, no repeats)."""
    return [e["id"] for e in envelope.load_entries(envelope.entries_path(root, rid).read_bytes(), "r")]


def test_two_clones_add_entries_to_the_same_child_and_sync(shared):
    amira, ben, bare, ada = shared
    assert "merge-driver" in git("config", "merge.confide.driver", cwd=ben.root)
    a1 = amira.add_entry(ada, "amira's note", "general", "note")
    a2 = amira.add_entry(ada, "amira's concern", "confidential", "concern")
    b1 = ben.add_entry(ada, "ben's observation", "general", "observation", "ben")
    b2 = ben.add_entry(ada, "ben's worry", "confidential", "concern", "ben")
    assert amira.run("sync").exit_code == 0
    r = ben.run("sync", who="ben")  # must merge: both sides changed the same record
    assert r.exit_code == 0, r.stderr
    assert "merged (merge)" in r.stderr
    assert amira.run("sync").exit_code == 0  # fast-forward
    assert amira.head() == ben.head() == git("rev-parse", "main", cwd=bare).strip()
    ids = entry_ids(amira.root, ada)
    assert sorted(ids) == ids and len(ids) == len(set(ids)) == 5
    assert {a1, a2, b1, b2} <= set(ids)
    merge = amira.git("log", "-1", "--merges", "--format=%G? %an %B")
    assert merge.startswith("G ben") and "Confide-Action: vault.merge" in merge
    shown = json.loads(ben.ok("show", ada, "--json", who="ben").stdout)
    assert {"amira's concern", "ben's worry"} <= {e.get("text") for e in shown["entries"]}
    for v in (amira, ben):
        code, data = v.verify("amira")
        assert code == 0, data["findings"]
    # an evil merge (an entry dropped while merging, by hand) is found
    amira.add_entry(ada, "x", "general", "note")
    ben.add_entry(ada, "y", "general", "note", "ben")
    assert amira.run("sync").exit_code == 0
    git("fetch", "-q", "origin", cwd=ben.root)
    git("-c", "commit.gpgsign=false", "merge", "-q", "--no-edit", "origin/main", cwd=ben.root)
    path = envelope.entries_path(ben.root, ada)
    data = yamlio.load(path.read_bytes(), "r")
    dropped = data["entries"].pop(0)["id"]
    path.write_bytes(yamlio.dump(data).encode())
    assert git("diff", "--name-only", cwd=ben.root).split() == [f"records/{ada}.entries.yaml"]
    git("add", "-A", cwd=ben.root)
    git("-c", "gpg.format=ssh", "-c", f"user.signingkey={ben.sign['ben'][0]}", "commit", "-q", "-S", "--amend", "--no-edit",
        cwd=ben.root)
    evil = ben.head()
    code, data = ben.verify("amira")
    assert code == FINDINGS
    assert any(f["commit"] == evil and f["check"] == "merge" and f["file"] == f"records/{ada}.entries.yaml"
               and "a merge may only merge" in f["message"] for f in data["findings"]), data["findings"]
    assert dropped not in entry_ids(ben.root, ada)
    r = ben.run("show", ada, who="ben")  # nothing is read or written over it
    assert r.exit_code == FINDINGS and f"commit {evil[:12]}" in r.stderr, r.stderr


def test_a_merge_that_keeps_only_our_side_is_found(shared):
    """'git merge -s ours' (or a hand-made merge) can drop the other side's entries without changing
    any file against the first parent: verify compares with what the other side changed too."""
    amira, ben, bare, ada = shared
    theirs = amira.add_entry(ada, "amira's entry", "general", "note")
    assert amira.run("sync").exit_code == 0
    ben.add_entry(ada, "ben's entry", "general", "note", "ben")
    git("fetch", "-q", "origin", cwd=ben.root)
    git("-c", "gpg.format=ssh", "-c", f"user.signingkey={ben.sign['ben'][0]}", "merge", "-q", "-S", "-s", "ours",
        "--no-edit", "origin/main", cwd=ben.root)
    assert theirs not in entry_ids(ben.root, ada)
    code, data = ben.verify("amira")
    assert code == FINDINGS
    assert [f["file"] for f in data["findings"] if f["check"] == "merge"] == [f"records/{ada}.entries.yaml"], data["findings"]
    r = ben.run("sync", who="ben")  # not pushed on: the merge blocks every command, sync too
    assert r.exit_code == FINDINGS and ben.head()[:12] in r.stderr, r.stderr
    assert theirs not in entry_ids(ben.root, ada) and git("rev-parse", "main", cwd=bare).strip() != ben.head()


def test_sync_refuses_a_vault_with_uncommitted_changes(shared):
    """sync merges into the working tree: over a hand edit it would mix the two. It refuses, changes nothing."""
    amira, ben, bare, ada = shared
    amira.add_entry(ada, "amira's note", "general", "note")
    assert amira.run("sync").exit_code == 0  # the remote is ahead of ben now
    head_path = envelope.record_path(ben.root, ada)
    edited = head_path.read_bytes() + b"# a hand edit\n"
    head_path.write_bytes(edited)
    before = ben.head()
    r = ben.run("sync", who="ben")
    assert r.exit_code == ExitCode.VAULT_STATE, r.stderr
    assert "uncommitted changes" in r.stderr and f"records/{ada}.yaml" in r.stderr
    assert ben.head() == before and head_path.read_bytes() == edited
    assert ben.run("show", ada, who="ben").exit_code == 0  # reads come from the verified commit, not the hand edit


def test_true_conflict_stops_the_sync_and_changes_nothing(shared):
    """Both sides handed the child to a different key person: that decides who reads, so confide never keeps it
    in two versions for later (as it does a profile: tests/test_sync_conflicts.py), nor settles it by choosing a
    side. The sync stops, says what clashed, and leaves the clone as it was: no merge in progress, no conflict
    markers, nothing pushed."""
    amira, ben, bare, ada = shared
    amira.ok("key-person", ada, "cara")
    ben.ok("key-person", ada, "dara", who="amira")
    assert amira.run("sync").exit_code == 0
    remote = git("rev-parse", "main", cwd=bare).strip()
    head, files = ben.head(), _files(ben, ada)
    for _ in range(2):  # and the same again: nothing was left half-done
        r = ben.run("sync", who="ben")
        assert r.exit_code == int(ExitCode.VAULT_STATE), r.stderr
        assert "without choosing a side" in r.stderr and f"record {ada}: the key person was changed differently on both sides" in r.stderr
        assert "nothing was merged or pushed" in r.stderr
        assert ben.head() == head and ben.is_clean() and _files(ben, ada) == files
        assert not (ben.root / ".git" / "MERGE_HEAD").exists() and b"<<<<<<<" not in files[0]
        assert git("rev-parse", "main", cwd=bare).strip() == remote
    shown = json.loads(ben.ok("show", ada, "--json", who="ben").stdout)  # ben's clone works on, as it was
    assert shown["profile"]["key_person"] == "dara"
    # a merge begun with plain git: git's merge driver will not choose a side either, and confide sync
    # does not go on over the merge git left in progress
    proc = subprocess.run(["git", "-C", str(ben.root), "merge", "--no-edit", "origin/main"], capture_output=True, text=True)
    assert proc.returncode != 0 and f"cannot merge records/{ada}.yaml without choosing a side" in proc.stderr, proc.stderr
    r = ben.run("sync", who="ben")
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "a merge made with plain git is in progress" in r.stderr, r.stderr
    git("merge", "--abort", cwd=ben.root)
    assert ben.head() == head and ben.is_clean()


def test_unreachable_remote_and_rejected_push_keep_local_commits(shared, tmp_path):
    amira, ben, bare, ada = shared
    eid = amira.add_entry(ada, "offline note", "general", "note")
    head = amira.head()
    git("remote", "set-url", "origin", str(tmp_path / "nowhere.git"), cwd=amira.root)
    r = amira.run("sync")
    assert r.exit_code == int(ExitCode.EXTERNAL) and "could not fetch" in r.stderr and "kept" in r.stderr
    assert amira.head() == head
    git("remote", "set-url", "origin", str(bare), cwd=amira.root)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'remote: pushes are closed' >&2\nexit 1\n")
    hook.chmod(0o755)
    r = amira.run("sync")
    assert r.exit_code == int(ExitCode.EXTERNAL) and "could not push" in r.stderr and "kept" in r.stderr
    assert amira.head() == head and amira.is_clean()
    hook.unlink()
    assert amira.run("sync").exit_code == 0  # the next sync retries
    assert git("rev-parse", "main", cwd=bare).strip() == head
    assert eid in entry_ids(amira.root, ada)


def _files(v, rid: str) -> tuple:
    """(head bytes, entries bytes) of a record in a clone."""
    return envelope.record_path(v.root, rid).read_bytes(), envelope.entries_path(v.root, rid).read_bytes()


def test_merge_driver_unions_keys_grants_and_marks_without_keys(shared, tmp_path):
    amira, ben, bare, ada = shared
    hpath, epath = f"records/{ada}.yaml", f"records/{ada}.entries.yaml"
    first = entry_ids(amira.root, ada)[0]
    base_h, base_e = _files(amira, ada)
    # amira's clone: a grant (head), a marking of the first entry and a new entry (entries)
    amira.ok("grant", "cara", "--child", ada, "--level", "confidential")
    m_a = amira.ok("mark", first, "--parents-informed", "2026-11-24").last_line
    a1 = amira.add_entry(ada, "from amira", "general", "note")
    ours_h, ours_e = _files(amira, ada)
    # ben's clone: another grant, by the DSL (head), another marking of the same entry and a new entry (entries)
    ben.ok("grant", "cara", "--child", ada, "--level", "safeguarding", who="dara")
    m_b = ben.ok("mark", first, "--parent-view", "not-confidential", who="ben").last_line
    b1 = ben.add_entry(ada, "from ben", "general", "note", "ben")
    theirs_h, theirs_e = _files(ben, ada)
    assert base_h not in (ours_h, theirs_h) and base_e not in (ours_e, theirs_e)  # both files changed on both sides
    # the head: keys, wrapped copies and grants are unions
    merged_h = merge_file(base_h, ours_h, theirs_h, hpath)
    head = envelope.load_head(merged_h, hpath)
    for level in ("confidential", "safeguarding"):
        assert any("cara" in k["wrapped"] for k in head["keys"] if k["level"] == level), level
    assert [(g["holder"], g["level"]) for g in head["grants"]] == [("cara", "confidential"), ("cara", "safeguarding")]
    # the entries: the union by id, and the markings of the one entry both sides marked
    merged_e = merge_file(base_e, ours_e, theirs_e, epath)
    entries = envelope.load_entries(merged_e, epath)
    assert [e["id"] for e in entries] == sorted([first, a1, b1])
    assert [m["id"] for m in entries[0]["marks"]] == sorted([m_a, m_b])
    assert merged_e == envelope.dump_entries(entries)  # written in confide's own shape
    # confide sync merges the same, and the result verifies clean; a merge begun with plain git gets the
    # same files from git's merge driver
    assert amira.run("sync").exit_code == 0
    git("fetch", "-q", "origin", cwd=ben.root)
    proc = subprocess.run(["git", "-C", str(ben.root), "merge", "--no-commit", "--no-ff", "origin/main"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    by_git = _files(ben, ada)
    # such a merge, committed by hand (signed, saying what it is), only merges: verify finds nothing in it
    by_hand = SignedVault(tmp_path / "by-hand", ben.keys)
    shutil.copytree(ben.root, by_hand.root, symlinks=True)
    by_hand.commit_as("ben", "merge origin/main", action="vault.merge")
    assert len(by_hand.git("rev-list", "--parents", "-1", "HEAD").split()) == 3
    code, data = by_hand.verify("amira")
    assert code == 0, data["findings"]
    git("merge", "--abort", cwd=ben.root)
    assert ben.is_clean() and _files(ben, ada) == (theirs_h, theirs_e)
    r = ben.run("sync", who="ben")
    assert r.exit_code == 0 and "merged (merge)" in r.stderr, r.stderr
    got_h, got_e = _files(ben, ada)
    assert (got_h, got_e) == by_git
    assert envelope.load_head(got_h, hpath) == envelope.load_head(merge_file(base_h, theirs_h, ours_h, hpath), hpath)
    assert got_e == merge_file(base_e, theirs_e, ours_e, epath) == merged_e
    code, data = ben.verify("amira")
    assert code == 0, data["findings"]
    # same entry id with different blocks: a conflict, never a chosen side
    a = yamlio.load(theirs_e, "r")
    b = yamlio.load(theirs_e, "r")
    b["entries"][-1]["data"] = a["entries"][0]["data"]
    with pytest.raises(merge.Conflict):
        merge_file(base_e, yamlio.dump(a).encode(), yamlio.dump(b).encode(), epath)
    # a head still holding entries (the old one-file record) is not merged as if it were a head
    old_style = theirs_h + theirs_e
    with pytest.raises(merge.Conflict):
        merge_file(base_h, ours_h, old_style, hpath)


def test_entry_on_one_side_and_revocation_on_the_other_merge_and_verify_clean(shared):
    amira, ben, bare, ada = shared
    hpath, epath = f"records/{ada}.yaml", f"records/{ada}.entries.yaml"
    base_h, base_e = _files(amira, ada)
    general = lambda head: max((k for k in head["keys"] if k["level"] == "general"), key=lambda k: k["generation"])  # noqa: E731
    assert "cara" in general(envelope.load_head(base_h, hpath))["wrapped"]
    amira.ok("revoke", "cara", "--child", ada, "--level", "general")
    rev_h, rev_e = _files(amira, ada)
    assert rev_e == base_e and rev_h != base_h  # the revocation wrote only the head
    eid = ben.add_entry(ada, "meanwhile, on ben's machine", "general", "note", "ben")
    add_h, add_e = _files(ben, ada)
    assert add_h == base_h and add_e != base_e  # the entry wrote only the entries file
    # the driver, file by file: each file takes what the one side that changed it holds
    by_id = lambda raw: dict(envelope.load_head(raw, hpath), keys=sorted(  # noqa: E731
        envelope.load_head(raw, hpath)["keys"], key=lambda k: k["id"]))
    assert by_id(merge_file(base_h, add_h, rev_h, hpath)) == by_id(rev_h)
    assert merge_file(base_e, add_e, rev_e, epath) == add_e
    assert amira.run("sync").exit_code == 0
    r = ben.run("sync", who="ben")
    assert r.exit_code == 0 and "merged (merge)" in r.stderr, r.stderr
    assert not (ben.root / ".git" / "MERGE_HEAD").exists() and ben.is_clean()
    assert _files(ben, ada) == (rev_h, add_e)
    merge = ben.head()
    assert len(ben.git("rev-list", "--parents", "-1", merge).split()) == 3  # a real merge commit, not a fast-forward
    assert ben.git("diff-tree", "--name-only", "-r", f"{merge}^1", merge).split() == [hpath]  # took the revocation
    head = envelope.load_head(_files(ben, ada)[0], hpath)
    assert "cara" not in general(head)["wrapped"]
    assert any(rv["holder"] == "cara" and rv["level"] == "general" for rv in head["revoked"])
    assert eid in entry_ids(ben.root, ada)
    assert amira.run("sync").exit_code == 0  # fast-forward
    assert amira.head() == ben.head()
    for v in (amira, ben):
        for who in ("amira", None):
            code, data = v.verify(who)
            assert code == 0, data["findings"]
    shown = json.loads(amira.ok("show", ada, "--json").stdout)
    assert "meanwhile, on ben's machine" in {e.get("text") for e in shown["entries"]}


def test_both_sides_add_entries_and_the_merge_is_their_union(shared):
    amira, ben, bare, ada = shared
    epath = f"records/{ada}.entries.yaml"
    base_h, base_e = _files(amira, ada)
    mine = [amira.add_entry(ada, f"amira {i}", "general", "note") for i in range(2)]
    theirs = [ben.add_entry(ada, f"ben {i}", "confidential", "concern", "ben") for i in range(2)]
    ours_e, theirs_e = _files(amira, ada)[1], _files(ben, ada)[1]
    assert _files(amira, ada)[0] == _files(ben, ada)[0] == base_h  # neither side touched the head
    assert amira.run("sync").exit_code == 0
    r = ben.run("sync", who="ben")
    assert r.exit_code == 0 and "merged (merge)" in r.stderr, r.stderr
    ids = entry_ids(ben.root, ada)
    assert ids == sorted(set(entry_ids(amira.root, ada)) | set(mine) | set(theirs))
    assert len(ids) == 1 + len(mine) + len(theirs)
    merge = ben.head()
    assert ben.git("diff-tree", "--name-only", "-r", f"{merge}^1", merge).split() == [epath]  # against ben's side
    assert _files(ben, ada) == (base_h, merge_file(base_e, theirs_e, ours_e, epath))
    assert merge_file(base_e, ours_e, theirs_e, epath) == _files(ben, ada)[1]  # the same union either way
    assert amira.run("sync").exit_code == 0
    for v in (amira, ben):
        code, data = v.verify("amira")
        assert code == 0, data["findings"]


# ---------------------------------------------------------------------------
# Backups


def test_backup_and_restore(shared, tmp_path):
    amira, ben, bare, ada = shared
    out = tmp_path / "backups" / "vault.bundle"
    out.parent.mkdir()
    r = run_cli(["backup", str(out), "--vault", str(amira.root)])  # no identity needed
    assert r.exit_code == 0, r.stderr
    assert str(out.stat().st_size) in r.stdout and amira.head() in r.stdout
    r = run_cli(["backup", str(out), "--quiet", "--vault", str(amira.root)])
    assert r.exit_code == 0 and r.stdout == ""
    identity = identity_of(amira)
    restored = tmp_path / "restored"
    # a restore is kept only once its whole history verifies from the vault's identity; in a script with no
    # --trust there is no one to ask, so it refuses and leaves nothing behind
    r = run_cli(["restore", str(out), str(restored)], identity=amira.keys["amira"])
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "no --trust was given" in r.stderr and identity in r.stderr
    assert not restored.exists()
    r = run_cli(["restore", str(out), str(restored), "--trust", identity], identity=amira.keys["amira"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == str(restored.resolve())
    assert f"at commit {amira.head()}" in r.stderr and f"verifies from the vault's identity {identity}" in r.stderr
    assert git("rev-parse", "HEAD", cwd=restored).strip() == amira.head()
    assert entry_ids(restored, ada) == entry_ids(amira.root, ada)
    assert run_cli(["trust", "--vault", str(restored)]).last_line == identity  # the restored clone keeps it pinned
    shown = run_cli(["show", ada, "--json", "--vault", str(restored)], identity=amira.keys["amira"])
    assert shown.exit_code == 0 and "first day" in {e.get("text") for e in json.loads(shown.stdout)["entries"]}
    r = run_cli(["restore", str(out), str(restored), "--quiet", "--trust", identity])
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "already exists" in r.stderr
    # a truncated bundle and a file that is not a bundle: clear errors, nothing left behind
    trunc = tmp_path / "trunc.bundle"
    trunc.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    r = run_cli(["restore", str(trunc), str(tmp_path / "r2"), "--trust", identity])
    assert r.exit_code == int(ExitCode.EXTERNAL) and "truncated or damaged" in r.stderr
    assert not (tmp_path / "r2").exists()
    junk = tmp_path / "junk.bundle"
    junk.write_text("hello\n")
    r = run_cli(["restore", str(junk), str(tmp_path / "r3"), "--trust", identity])
    assert r.exit_code == int(ExitCode.EXTERNAL) and "not a git bundle" in r.stderr
    r = run_cli(["restore", str(tmp_path / "none.bundle"), str(tmp_path / "r4"), "--trust", identity])
    assert r.exit_code == int(ExitCode.NOT_FOUND)
    assert run_cli(["backup", str(tmp_path / "no" / "dir.bundle"), "--vault", str(amira.root)]).exit_code == int(ExitCode.NOT_FOUND)


def test_restore_of_a_tampered_history_exits_with_findings(shared, tmp_path):
    amira, ben, bare, ada = shared
    identity = identity_of(amira)
    (amira.root / "confide.yaml").write_text((amira.root / "confide.yaml").read_text() + "# x\n")
    git("-c", "commit.gpgsign=false", "commit", "-qam", "hand edit", cwd=amira.root)
    bad = amira.head()
    out = tmp_path / "t.bundle"
    assert run_cli(["backup", str(out), "--vault", str(amira.root), "--quiet"]).exit_code == 0  # backs up what is there
    r = run_cli(["restore", str(out), str(tmp_path / "rt"), "--trust", identity])
    assert r.exit_code == FINDINGS and f"commit {bad[:12]}" in r.stderr and "unsigned" in r.stderr, r.stderr
    assert not (tmp_path / "rt").exists()  # a history that does not verify is not kept


def test_clone_keeps_only_a_history_that_verifies_from_the_identity_given(shared, tmp_path):
    from conftest import signing_pub

    from vault_cli.adapters import signing

    amira, ben, bare, ada = shared
    identity = identity_of(amira)
    # no identity given, and no terminal to ask on: refused, nothing kept
    r = run_cli(["clone", str(bare), str(tmp_path / "c1")])
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "no --trust was given" in r.stderr and identity in r.stderr
    assert not (tmp_path / "c1").exists()
    # another vault's identity, or the right first commit under another founding key: refused, nothing kept
    root, _, fp = identity.partition("@")
    for wrong in ("0" * len(root) + "@" + fp, root + "@" + signing.fingerprint(signing_pub(amira.keys, "eve"))):
        r = run_cli(["clone", str(bare), str(tmp_path / "c2"), "--trust", wrong])
        assert r.exit_code == FINDINGS and "anchor: " in r.stderr, r.stderr
        assert not (tmp_path / "c2").exists()
    # a hand-made commit pushed with plain git: no new clone takes it, and ben's sync will not merge it
    (amira.root / "confide.yaml").write_text((amira.root / "confide.yaml").read_text() + "# x\n")
    git("-c", "commit.gpgsign=false", "commit", "-qam", "hand edit", cwd=amira.root)
    bad = amira.head()
    git("push", "-q", "origin", "main", cwd=amira.root)
    r = run_cli(["clone", str(bare), str(tmp_path / "c3"), "--trust", identity])
    assert r.exit_code == FINDINGS and f"commit {bad[:12]}" in r.stderr and "unsigned" in r.stderr, r.stderr
    assert not (tmp_path / "c3").exists()
    head = ben.head()
    r = ben.run("sync", who="ben")
    assert r.exit_code == FINDINGS and f"what 'origin' holds does not verify: commit {bad[:12]}" in r.stderr, r.stderr
    assert ben.head() == head and ben.is_clean()


def test_concurrent_syncs_race_and_both_land(shared):
    """Two holders sync at the same moment, as separate processes: the loser of the push race merges and retries."""
    import os
    import sys

    amira, ben, bare, ada = shared
    mine = [amira.add_entry(ada, f"amira {i}", "general", "note") for i in range(3)]
    theirs = [ben.add_entry(ada, f"ben {i}", "general", "note", "ben") for i in range(3)]

    def start(v, who):
        env = dict(os.environ, CONFIDE_VAULT=str(v.root), CONFIDE_IDENTITY=str(v.keys[who]),
                   CONFIDE_SIGNING_KEY=str(v.sign[who][0]))
        return subprocess.Popen([sys.executable, "-m", "vault_cli", "sync"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    procs = [start(amira, "amira"), start(ben, "ben")]
    results = [(p.wait(), p.stderr.read().decode()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    for v, who in ((amira, "amira"), (ben, "ben")):  # whoever pushed first now takes the other's merge
        assert v.run("sync", who=who).exit_code == 0
    assert amira.head() == ben.head() == git("rev-parse", "main", cwd=bare).strip()
    ids = entry_ids(amira.root, ada)
    assert len(ids) == len(set(ids)) and set(mine + theirs) <= set(ids)
    assert amira.verify("amira")[0] == 0


def test_sync_over_git_daemon(shared, tmp_path):
    """The same, served by 'git daemon' on 127.0.0.1 (git:// with push enabled)."""
    import socket
    import time

    amira, ben, bare, ada = shared
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
                               f"--base-path={bare.parent}", "--listen=127.0.0.1", f"--port={port}", str(bare.parent)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        url = f"git://127.0.0.1:{port}/{bare.name}"
        cara = clone_of(amira, url, tmp_path / "cara-clone")
        e1 = cara.add_entry(ada, "over the network", "general", "note", "cara")
        e2 = amira.add_entry(ada, "meanwhile", "general", "note")
        assert amira.run("sync").exit_code == 0
        r = cara.run("sync", who="cara")
        assert r.exit_code == 0, r.stderr
        assert amira.run("sync").exit_code == 0
        assert {e1, e2} <= set(entry_ids(amira.root, ada))
        assert amira.head() == cara.head()
        assert cara.verify("amira")[0] == 0
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def test_legal_holds_placed_on_two_clones_merge_without_conflict_and_verify(shared, tmp_path):
    """One file per hold: two clones placing holds at once, and a third writing entries, sync cleanly; every
    merge verifies (holds taken from the side that placed them), and both holds are there after."""
    amira, ben, bare, ada = shared
    laptop = clone_of(amira, str(bare), tmp_path / "amira-laptop")
    one = amira.ok("hold", "add", "--from", "-", input=json.dumps({"record": ada, "reason": "an inquiry"})).last_line
    every = laptop.ok("hold", "add", "--all", "--from", "-", input=json.dumps({"reason": "a claim"})).last_line
    ben.add_entry(ada, "ben's note", "general", "note", "ben")
    assert amira.run("sync").exit_code == 0
    r = laptop.run("sync")
    assert r.exit_code == 0 and "merged" in r.stderr, r.stderr
    r = ben.run("sync", who="ben")
    assert r.exit_code == 0 and "merged" in r.stderr, r.stderr
    assert amira.run("sync").exit_code == 0 and laptop.run("sync").exit_code == 0
    assert amira.head() == ben.head() == laptop.head()
    for v in (amira, laptop):
        assert {h["hold"] for h in json.loads(v.ok("hold", "list", "--json").stdout)} == {one, every}
    for v in (amira, ben, laptop):
        code, data = v.verify("amira")
        assert code == 0, data["findings"]
