"""Several machines and backups, for real: a bare remote, two clones, concurrent entries, bundles."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli
from test_history import SignedVault, make_signed_vault
from vault_cli import sync as syncmod
from vault_cli import yamlio
from vault_cli.errors import ExitCode

FINDINGS = int(ExitCode.FINDINGS)


def git(*args, cwd: Path) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def shared(tmp_path, keys):
    """amira's vault pushed to a bare remote, and ben's clone of it."""
    v = make_signed_vault(tmp_path, keys)
    ada = v.add_child("Ada Marker", key_person="ben")
    v.add_entry(ada, "first day", "general", "observation")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("remote", "add", "origin", str(bare), cwd=v.root)
    r = v.run("sync")
    assert r.exit_code == 0, r.stderr
    r = run_cli(["clone", str(bare), str(tmp_path / "ben-clone")])
    assert r.exit_code == 0, r.stderr
    ben = SignedVault(tmp_path / "ben-clone", keys)
    ben.sign = v.sign
    ben.records = dict(v.records)
    return v, ben, bare, ada


def entry_ids(root: Path, rid: str) -> list:
    data = yamlio.load((root / "records" / f"{rid}.yaml").read_bytes(), "r")
    return [e["id"] for e in data["entries"]]


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
    path = ben.root / "records" / f"{ada}.yaml"
    data = yamlio.load(path.read_bytes(), "r")
    dropped = data["entries"].pop(0)["id"]
    path.write_bytes(yamlio.dump(data).encode())
    git("add", "-A", cwd=ben.root)
    git("-c", "gpg.format=ssh", "-c", f"user.signingkey={ben.sign['ben'][0]}", "commit", "-q", "-S", "--amend", "--no-edit",
        cwd=ben.root)
    code, data = ben.verify("amira")
    assert code == FINDINGS
    assert any(f["check"] == "merge" and f["file"] == f"records/{ada}.yaml" for f in data["findings"]), data["findings"]
    assert dropped


def test_true_conflict_stops_in_gits_conflicted_state(shared):
    amira, ben, bare, ada = shared
    amira.ok("child", "set", ada, "room=rainbow")
    ben.ok("child", "set", ada, "room=sunshine", who="ben")
    assert amira.run("sync").exit_code == 0
    head = ben.head()
    r = ben.run("sync", who="ben")
    assert r.exit_code == int(ExitCode.VAULT_STATE), r.stderr
    assert "conflict" in r.stderr and "profile was changed on both sides" in r.stderr
    assert (ben.root / ".git" / "MERGE_HEAD").exists()
    assert "<<<<<<<" in (ben.root / "records" / f"{ada}.yaml").read_text()
    assert f"records/{ada}.yaml" in git("diff", "--name-only", "--diff-filter=U", cwd=ben.root)
    r = ben.run("sync", who="ben")  # refuses to go on over a merge in progress
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "merge is in progress" in r.stderr
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


def test_merge_driver_unions_keys_grants_and_marks_without_keys(shared):
    amira, ben, bare, ada = shared
    path = amira.root / "records" / f"{ada}.yaml"
    base = path.read_bytes()
    amira.ok("grant", "cara", "--child", ada, "--level", "confidential")
    ours = path.read_bytes()
    ben.add_entry(ada, "from ben", "general", "note", "ben")
    theirs = (ben.root / "records" / f"{ada}.yaml").read_bytes()
    merged = yamlio.load(syncmod.merge_records(base, ours, theirs, "r"), "r")
    conf = [k for k in merged["keys"] if k["level"] == "confidential"]
    assert any("cara" in k["wrapped"] for k in conf)
    assert [g["holder"] for g in merged["grants"]] == ["cara"]
    assert len(merged["entries"]) == 2
    # same entry id with different blocks: a conflict, never a chosen side
    a = yamlio.load(theirs, "r")
    b = yamlio.load(theirs, "r")
    b["entries"][-1]["data"] = a["entries"][0]["data"]
    with pytest.raises(syncmod.Conflict):
        syncmod.merge_records(base, yamlio.dump(a).encode(), yamlio.dump(b).encode(), "r")


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
    restored = tmp_path / "restored"
    r = run_cli(["restore", str(out), str(restored)], identity=amira.keys["amira"])
    assert r.exit_code == 0, r.stderr
    assert "no findings" in r.stdout
    assert git("rev-parse", "HEAD", cwd=restored).strip() == amira.head()
    assert entry_ids(restored, ada) == entry_ids(amira.root, ada)
    assert run_cli(["restore", str(out), str(restored), "--quiet"]).exit_code == int(ExitCode.VAULT_STATE)
    # a truncated bundle and a file that is not a bundle: clear errors, nothing left behind
    trunc = tmp_path / "trunc.bundle"
    trunc.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    r = run_cli(["restore", str(trunc), str(tmp_path / "r2")])
    assert r.exit_code == int(ExitCode.EXTERNAL) and "truncated or damaged" in r.stderr
    assert not (tmp_path / "r2").exists()
    junk = tmp_path / "junk.bundle"
    junk.write_text("hello\n")
    r = run_cli(["restore", str(junk), str(tmp_path / "r3")])
    assert r.exit_code == int(ExitCode.EXTERNAL) and "not a git bundle" in r.stderr
    assert run_cli(["restore", str(tmp_path / "none.bundle"), str(tmp_path / "r4")]).exit_code == int(ExitCode.NOT_FOUND)
    assert run_cli(["backup", str(tmp_path / "no" / "dir.bundle"), "--vault", str(amira.root)]).exit_code == int(ExitCode.NOT_FOUND)


def test_restore_of_a_tampered_history_exits_with_findings(shared, tmp_path):
    amira, ben, bare, ada = shared
    (amira.root / "confide.yaml").write_text((amira.root / "confide.yaml").read_text() + "# x\n")
    git("-c", "commit.gpgsign=false", "commit", "-qam", "hand edit", cwd=amira.root)
    out = tmp_path / "t.bundle"
    assert run_cli(["backup", str(out), "--vault", str(amira.root), "--quiet"]).exit_code == 0
    r = run_cli(["restore", str(out), str(tmp_path / "rt")])
    assert r.exit_code == FINDINGS and "unsigned" in r.stdout


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
        r = run_cli(["clone", url, str(tmp_path / "cara-clone")])
        assert r.exit_code == 0, r.stderr
        cara = SignedVault(tmp_path / "cara-clone", amira.keys)
        cara.sign = amira.sign
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
