"""The git adapters: git itself writes and indexes the packs bulk commands store; repository-level work
(create, clone, config, remotes, bundles, fetch and push) goes through GitPython, and through the git
binary where GitPython cannot read the repository (SHA-256)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vault_cli.adapters import parallel
from vault_cli.adapters.gitstore import Git


def _git(root: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(root), *args], input=input, check=True, capture_output=True).stdout


def _packs(root: Path) -> set[str]:
    return {p.name for p in (root / ".git" / "objects" / "pack").glob("pack-*.idx")}


def _oid(root: Path, data: bytes) -> str:
    return _git(root, "hash-object", "--stdin", input=data).decode().strip()


# ---------------------------------------------------------------------------
# Packs: git fast-import writes and indexes them


@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_store_blobs_leaves_one_pack_that_git_wrote_and_reads(tmp_path, fmt):
    root = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", f"--object-format={fmt}", str(root)], check=True)
    git = Git(root)
    blobs = [b"", b"hello\n", os.urandom(70_000), b"x" * 200_000] + [b"head %d\n" % i for i in range(120)]
    blobs.append(b"hello\n")  # the same blob twice is stored once
    assert git.store_blobs(blobs)
    packs = _packs(root)
    assert len(packs) == 1
    idx = root / ".git" / "objects" / "pack" / packs.pop()
    listing = _git(root, "verify-pack", "-v", str(idx)).decode()
    oids = {_oid(root, b) for b in blobs}
    assert {line.split()[0] for line in listing.splitlines() if " blob " in line} == oids
    assert " delta " not in listing and "chain length" not in listing  # --depth=0: no deltas
    for b in blobs[:5]:
        assert _git(root, "cat-file", "blob", _oid(root, b)) == b
    assert not any((root / ".git" / "objects").glob("[0-9a-f][0-9a-f]/*"))  # nothing loose
    _git(root, "fsck", "--no-dangling")


def test_store_blobs_of_a_few_blobs_leaves_them_loose_as_git_chooses(tmp_path):
    """Fewer than ``fastimport.unpackLimit`` (100) objects: git stores them loose instead of a pack."""
    root = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    git = Git(root)
    assert git.store_blobs([b"one\n", b"two\n"])
    assert not _packs(root)
    assert _git(root, "cat-file", "blob", _oid(root, b"two\n")) == b"two\n"


def test_store_blobs_failing_is_only_a_missed_optimisation(tmp_path):
    root = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    git = Git(root)
    pack = root / ".git" / "objects" / "pack"
    pack.rmdir()
    pack.write_bytes(b"")  # no folder to write a pack into
    assert git.store_blobs([b"x %d\n" % i for i in range(200)]) is False
    pack.unlink()
    assert _git(root, "rev-parse", "--git-dir").strip() == b".git"


def test_bulk_command_stores_its_heads_in_a_pack_git_wrote(vault, monkeypatch):
    """``revoke --all`` through map_records: the new heads are in one new pack before the commit names
    them; the vault verifies and git fsck finds nothing wrong."""
    v = vault
    rids = [v.add_child(f"Pack Child {i}", key_person="ben") for i in range(9)]
    monkeypatch.setattr(parallel, "THRESHOLD", 1)  # the bulk path for nine records
    v.git("config", "fastimport.unpackLimit", "0")  # and a pack even for nine blobs
    before = _packs(v.root)
    v.ok("revoke", "ben", "--all")
    new = _packs(v.root) - before
    assert len(new) == 1
    listing = _git(v.root, "verify-pack", "-v", str(v.root / ".git" / "objects" / "pack" / new.pop())).decode()
    packed = {line.split()[0] for line in listing.splitlines() if " blob " in line}
    heads = {v.git("rev-parse", f"HEAD:records/{rid}.yaml").strip() for rid in rids}
    assert heads <= packed
    assert not any(v.git("cat-file", "-t", oid).strip() != "blob" for oid in packed)
    _git(v.root, "fsck", "--no-dangling")
    assert v.is_clean()
    v.ok("verify")
