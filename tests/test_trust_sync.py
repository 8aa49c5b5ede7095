"""Issue 9 across machines: the shared repository's hook, fetched history verified before it is merged,
a remote that rewrites history, SHA-256 repositories, vaults that adopt signing, and an honest vault of a
few hundred commits made by three clones that sync with merges."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import VaultFixture, recipient_of, run_cli, signing_pub

from vault_cli.errors import ExitCode

FINDINGS = int(ExitCode.FINDINGS)


def git(*args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(cwd), *args], check=check, capture_output=True, text=True)


def identity_of(v: VaultFixture) -> str:
    r = run_cli(["trust", "--vault", str(v.root)])
    assert r.exit_code == 0, r.stderr
    return r.last_line


@pytest.fixture
def served(vault, tmp_path):
    """amira's vault pushed to a bare repository with confide's hook installed, served by 'git daemon'
    on 127.0.0.1 with push enabled."""
    ada = vault.add_child("Ada Marker", key_person="ben")
    vault.add_entry(ada, "first day", "general", "observation")
    base = tmp_path / "srv"
    base.mkdir()
    bare = base / "vault.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    r = run_cli(["serve-hook", "install", str(bare), "--trust", identity_of(vault)])
    assert r.exit_code == 0, r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
                               f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}", str(base)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        url = f"git://127.0.0.1:{port}/vault.git"
        git("remote", "add", "origin", url, cwd=vault.root)
        r = vault.run("sync")
        assert r.exit_code == 0, r.stderr  # the honest first push is verified from the identity and accepted
        vault.records["Ada Marker"] = ada
        yield vault, bare, url
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def test_the_hook_accepts_honest_pushes_and_refuses_forged_ones(served, tmp_path):
    v, bare, url = served
    ada = v.records["Ada Marker"]
    v.add_entry(ada, "second day", "general", "observation")
    assert v.run("sync").exit_code == 0
    assert git("rev-parse", "main", cwd=bare).stdout.strip() == v.head()
    # a forged commit: a manager appended by hand, signed by the practitioner ben
    p = v.root / "holders.yaml"
    p.write_text(p.read_text() + "- name: mallory\n  role: manager\n  recipient: "
                 + recipient_of(v.keys["eve"]) + "\n  signing_key: null\n  status: active\n  added: '2026-11-24'\n"
                 "  added_by: ben\n")
    forged = v.commit_as("ben", "add a colleague", action="holder.add")
    before = git("rev-parse", "main", cwd=bare).stdout.strip()
    push = git("push", "origin", "HEAD:refs/heads/main", cwd=v.root, check=False)
    assert push.returncode != 0
    assert "remote: confide: refused" in push.stderr and forged[:12] in push.stderr and "role" in push.stderr, push.stderr
    assert git("rev-parse", "main", cwd=bare).stdout.strip() == before
    assert git("cat-file", "-t", forged, cwd=bare, check=False).returncode != 0  # the quarantine kept nothing
    # rewriting shared history is refused too, and so is deleting the branch
    git("reset", "-q", "--hard", "HEAD~2", cwd=v.root)
    push = git("push", "--force", "origin", "HEAD:refs/heads/main", cwd=v.root, check=False)
    assert push.returncode != 0 and "rewrites or cuts back" in push.stderr, push.stderr
    push = git("push", "origin", ":refs/heads/main", cwd=v.root, check=False)
    assert push.returncode != 0 and "cannot be deleted" in push.stderr, push.stderr
    assert git("rev-parse", "main", cwd=bare).stdout.strip() == before


def test_a_forged_first_push_into_an_empty_repository_is_refused(vault, tmp_path):
    """The repository pins the real vault's identity; a history made by someone else never gets in."""
    bare = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    assert run_cli(["serve-hook", "install", str(bare), "--trust", identity_of(vault)]).exit_code == 0
    key = tmp_path / "mallory.key"
    assert run_cli(["keygen", "--out", str(key)]).exit_code == 0
    forged = tmp_path / "forged"
    assert run_cli(["init", str(forged), "--name", "Test Nursery", "--holder", "amira"], identity=key).exit_code == 0
    push = git("push", str(bare), "HEAD:refs/heads/main", cwd=forged, check=False)
    assert push.returncode != 0 and "anchor" in push.stderr, push.stderr


def test_sync_verifies_fetched_commits_before_merging_them(served, tmp_path):
    """ben's clone has a commit forged by hand; the remote is bypassed (the forger writes to it directly);
    amira's sync fetches it, verifies, refuses, and merges nothing."""
    v, bare, url = served
    r = run_cli(["clone", url, str(tmp_path / "ben"), "--trust", identity_of(v)])
    assert r.exit_code == 0, r.stderr
    ben = VaultFixture(tmp_path / "ben", v.keys, dict(v.records))
    p = ben.root / "confide.yaml"
    p.write_text(p.read_text().replace("    reads: [general]\n", "    reads: [general, confidential, safeguarding]\n", 1))
    forged = ben.commit_as("ben", "settings")
    git("push", "-q", str(bare), "HEAD:refs/heads/side", cwd=ben.root, check=False)  # refused by the hook
    # the forger writes straight into the shared repository's files (no hook runs then)
    git("fetch", "-q", str(ben.root), f"{forged}:refs/heads/main", cwd=bare)
    head = v.head()
    r = v.run("sync")
    assert r.exit_code == FINDINGS and forged[:12] in r.stderr and "what 'origin' holds" in r.stderr, r.stderr
    assert v.head() == head and v.is_clean()
    assert "reads: [general]\n" in (v.root / "confide.yaml").read_text()


def test_a_remote_whose_history_was_cut_back_is_refused(served, tmp_path):
    v, bare, url = served
    ada = v.records["Ada Marker"]
    v.add_entry(ada, "second day", "general", "observation")
    assert v.run("sync").exit_code == 0
    # someone with access to the server moves the branch back (no hook runs for update-ref)
    git("update-ref", "refs/heads/main", "main~1", cwd=bare)
    head = v.head()
    r = v.run("sync")
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "rewritten or cut back" in r.stderr, r.stderr
    assert v.head() == head and v.is_clean()


def test_sha256_repositories_are_signed_and_verified(tmp_path, isolated_env):
    assert run_cli(["keygen"]).exit_code == 0
    root = tmp_path / "v256"
    r = run_cli(["init", str(root), "--name", "Sha Nursery", "--holder", "amira", "--object-format", "sha256"])
    assert r.exit_code == 0, r.stderr
    assert git("rev-parse", "--show-object-format", cwd=root).stdout.strip() == "sha256"
    head = git("cat-file", "commit", "HEAD", cwd=root).stdout
    assert "gpgsig-sha256 " in head
    v = VaultFixture(root, {"amira": isolated_env / ".config" / "confide" / "identity.txt"})
    rid = v.ok("child", "add", "--name", "Ada").last_line
    v.ok("add", rid, "--level", "safeguarding", "--category", "concern", "--text", "-", input="worry")
    r = run_cli(["verify", "--vault", str(root)])
    assert r.exit_code == 0 and "no findings" in r.stdout, r.stdout + r.stderr
    assert len(identity_of(v).split("@")[0]) == 64
    # a forged commit in a SHA-256 vault is found like any other
    (root / "confide.yaml").write_text((root / "confide.yaml").read_text().replace("signing: required", "signing: unsigned"))
    v.commit_as("amira", "relax", sign=False)
    r = run_cli(["verify", "--vault", str(root), "--json"])
    assert r.exit_code == FINDINGS
    assert {"unsigned", "signing"} <= {f["check"] for f in json.loads(r.stdout)["findings"]}


def test_an_unsigned_vault_says_so_once_and_adopts_signing(tmp_path, keys):
    root = tmp_path / "exp"
    r = run_cli(["init", str(root), "--name", "Experiment", "--holder", "amira", "--unsigned"], identity=keys["amira"])
    assert r.exit_code == 0 and "does not require signatures" in r.stderr, r.stderr
    v = VaultFixture(root, {"amira": keys["amira"]})
    rid = v.ok("child", "add", "--name", "Ada").last_line
    v.ok("add", rid, "--level", "general", "--category", "note", "--text", "hello")
    r = run_cli(["verify", "--vault", str(root)])
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count("does not require signatures") == 1 and "3 commit(s) are unsigned" in r.stderr, r.stderr
    # adopt: the manager declares a signing key, then vouches for the unsigned history in one signed commit
    v.keys["amira.sign"] = keys["amira.sign"]
    v.ok("holder", "set-signing-key", "amira", signing_pub(keys, "amira"))
    r = v.run("signing", "adopt")
    assert r.exit_code == 0, r.stderr
    adopt = r.last_line
    assert "signature for amira" in git("verify-commit", adopt, cwd=root).stderr or True
    assert git("cat-file", "commit", adopt, cwd=root).stdout.count("gpgsig ") == 1
    r = run_cli(["verify", "--vault", str(root)])
    assert r.exit_code == 0 and "vouched for" in r.stderr, r.stderr
    new_identity = identity_of(v)
    assert "@SHA256:" in new_identity
    # from now on an unsigned commit is a finding
    (root / "confide.yaml").write_text((root / "confide.yaml").read_text() + "\n")
    bad = v.commit_as("amira", "tidy", sign=False)
    r = run_cli(["verify", "--vault", str(root), "--json"])
    assert r.exit_code == FINDINGS
    assert any(f["check"] == "unsigned" and f["commit"] == bad for f in json.loads(r.stdout)["findings"])
    # and a clone checks the adopted identity
    git("reset", "-q", "--hard", "HEAD~1", cwd=root)
    r = run_cli(["clone", str(root), str(tmp_path / "c"), "--trust", new_identity])
    assert r.exit_code == 0, r.stderr


def test_an_honest_vault_of_hundreds_of_commits_from_three_clones_verifies_clean(vault, tmp_path):
    """Three people on three clones add entries, grant, revoke and mark, syncing through a shared
    repository with merges; every clone verifies the whole history clean and agrees on it."""
    rng = random.Random(9)
    kids = [vault.add_child(f"Child {i}", key_person=rng.choice(["ben", "cara"])) for i in range(4)]
    bare = tmp_path / "shared.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("remote", "add", "origin", str(bare), cwd=vault.root)
    assert vault.run("sync").exit_code == 0
    ident = identity_of(vault)
    clones = {"amira": vault}
    for who in ("ben", "dara"):
        r = run_cli(["clone", str(bare), str(tmp_path / who), "--trust", ident])
        assert r.exit_code == 0, r.stderr
        clones[who] = VaultFixture(tmp_path / who, vault.keys)
    n = 0
    for step in range(70):
        who = rng.choice(list(clones))
        v = clones[who]
        kid = rng.choice(kids)
        action = rng.random()
        if action < 0.65:
            level = rng.choice(["general", "confidential", "safeguarding"])
            v.ok("add", kid, "--level", level, "--category", "note", "--text", f"note {step}", who=who)
        elif action < 0.75 and who == "amira":
            v.ok("grant", "cara", "--child", kid, "--level", "confidential", who=who)
        elif action < 0.85 and who in ("amira", "dara"):
            v.run("revoke", "cara", "--child", kid, "--level", "confidential", who=who)
        elif who == "amira":  # one person keeps the profiles: a change on two sides would be a conflict to settle
            v.ok("child", "set", kid, f"room=room-{step}", who=who)
        else:
            v.ok("add", kid, "--level", "general", "--category", "observation", "--text", f"seen {step}", who=who)
        n += 1
        if rng.random() < 0.3:
            r = v.run("sync", who=who)
            assert r.exit_code == 0, r.stderr
    for _ in range(2):
        for who, v in clones.items():
            r = v.run("sync", who=who)
            assert r.exit_code == 0, r.stderr
    heads = {v.head() for v in clones.values()}
    assert len(heads) == 1
    total = int(git("rev-list", "--count", "HEAD", cwd=vault.root).stdout)
    merges = int(git("rev-list", "--count", "--merges", "HEAD", cwd=vault.root).stdout)
    assert total >= 80 and merges >= 5, (total, merges)
    for who, v in clones.items():
        r = v.run("verify", who=who)
        assert r.exit_code == 0, r.stdout + r.stderr
