"""The git adapters: git itself writes and indexes the packs bulk commands store; repository-level work
(create, clone, config, remotes, bundles, fetch and push) goes through GitPython, and through the git
binary where GitPython cannot read the repository (SHA-256)."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_bulk_command_in_a_sha256_vault_too(tmp_path, isolated_env, monkeypatch, fmt):
    """The packed path of a bulk command works in either object format (the hand-written pack was SHA-1 only)."""
    from conftest import VaultFixture, run_cli

    assert run_cli(["keygen"]).exit_code == 0
    root = tmp_path / "v"
    r = run_cli(["init", str(root), "--name", "Pack Nursery", "--holder", "amira", "--object-format", fmt])
    assert r.exit_code == 0, r.stderr
    v = VaultFixture(root, {"amira": isolated_env / ".config" / "confide" / "identity.txt"})
    for i in range(3):
        v.ok("child", "add", "--name", f"Child {i}")
    _, rcpt = _keygen(tmp_path, "dsl2")
    monkeypatch.setattr(parallel, "THRESHOLD", 1)
    v.git("config", "fastimport.unpackLimit", "0")
    before = _packs(root)
    v.ok("holder", "add", "dsl2", "--role", "dsl", "--recipient", rcpt)
    assert len(_packs(root) - before) == 1
    _git(root, "fsck", "--no-dangling")
    assert run_cli(["verify", "--vault", str(root)]).exit_code == 0


def _keygen(tmp_path: Path, name: str) -> tuple[Path, str]:
    from conftest import new_key_public, run_cli

    path = tmp_path / f"{name}.key"
    assert run_cli(["keygen", "--out", str(path)]).exit_code == 0
    return path, new_key_public(path)


# ---------------------------------------------------------------------------
# Repository-level work: GitPython (adapters.gitrepo), SHA-1 and SHA-256 alike


def _commit(root: Path, name: str, text: str) -> str:
    (root / name).write_text(text)
    _git(root, "add", name)
    _git(root, "-c", "commit.gpgsign=false", "commit", "-qm", f"change {name}")
    return _git(root, "rev-parse", "HEAD").decode().strip()


@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_repository_init_clone_remotes_fetch_push_bundles(tmp_path, fmt):
    from vault_cli.adapters.gitrepo import GitFailed, Repository

    a = tmp_path / "a"
    Repository.init(a, fmt)
    assert _git(a, "rev-parse", "--show-object-format").decode().strip() == fmt
    assert _git(a, "symbolic-ref", "HEAD").decode().strip() == "refs/heads/main"
    first = _commit(a, "f", "1\n")
    assert len(first) == (40 if fmt == "sha1" else 64)

    c = Repository.clone(str(a), tmp_path / "c")
    assert c.remotes() == ["origin"] and c.branch() == "main"
    assert c.get_config('branch "main"', "remote") == "origin"
    assert c.resolve("HEAD") == first and c.resolve("no-such-ref") is None
    assert c.roots("HEAD") == [first]
    assert {"refs/heads/main", "refs/remotes/origin/main"} <= set(c.refs())

    second = _commit(a, "f", "2\n")
    c.fetch("origin")
    theirs = c.resolve("refs/remotes/origin/main")
    assert theirs == second
    assert c.is_ancestor(first, theirs) and not c.is_ancestor(theirs, first)
    assert not c.is_ancestor("0" * len(first), first)  # a commit it does not have
    assert c.count(f"HEAD..{theirs}") == 1 and c.count(f"{theirs}..HEAD") == 0
    assert c.merge_bases(first, theirs) == [first]
    c.merge_ff_only(theirs)
    assert c.resolve("HEAD") == second

    # both sides move on: the push is rejected as not a fast-forward, and says so
    _commit(a, "g", "a's\n")
    mine = _commit(c.root, "h", "c's\n")
    _git(a, "checkout", "-q", "-b", "elsewhere")  # a non-bare remote refuses a push to its checked-out branch
    with pytest.raises(GitFailed) as exc:
        c.push("origin", "HEAD:refs/heads/main")
    assert exc.value.rejected and "rejected" in exc.value.detail
    c.push("origin", "HEAD:refs/heads/new", set_upstream=True)
    assert _git(a, "rev-parse", "refs/heads/new").decode().strip() == mine
    # a hook's refusal keeps its reason
    hook = a / ".git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are closed today' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(GitFailed) as exc:
        c.push("origin", "HEAD:refs/heads/other")
    assert "pushes are closed today" in exc.value.stderr and exc.value.detail.startswith(("remote:", "!", "error:"))

    # configuration as git reads it, whatever the value holds
    odd = "'/opt/py thon#3;x/bin/python' -m vault_cli \"quoted\" back\\slash %O %A"
    c.set_config('merge "confide"', "driver", odd)
    assert _git(c.root, "config", "merge.confide.driver").decode().rstrip("\n") == odd
    assert c.get_config('merge "confide"', "driver") == odd
    assert c.get_config('merge "confide"', "nothing") is None

    # bundles
    bundle = tmp_path / "all.bundle"
    c.bundle_create(bundle)
    c.bundle_verify(bundle)
    with pytest.raises(GitFailed):
        c.bundle_verify(a / "f")
    restored = Repository.clone(str(bundle), tmp_path / "r")
    assert restored.resolve("HEAD") == mine
    restored.remove_remote("origin")
    restored.remove_remote("origin")  # not there: nothing to do
    assert restored.remotes() == []

    # failures carry git's own first error line
    with pytest.raises(GitFailed) as exc:
        Repository.clone(str(tmp_path / "nowhere"), tmp_path / "x")
    assert exc.value.detail.startswith("fatal:") and not (tmp_path / "x").exists()
    _git(c.root, "remote", "add", "gone", str(tmp_path / "gone"))
    with pytest.raises(GitFailed) as exc:
        c.fetch("gone")
    assert exc.value.detail.startswith("fatal:") and not exc.value.rejected
    with pytest.raises(GitFailed):
        Repository(tmp_path / "not-a-repo")


def test_sha256_vault_end_to_end_backup_restore_clone_sync(tmp_path, isolated_env):
    """A SHA-256 vault through every command GitPython's object model could not serve: clone, sync
    (fetch, fast-forward, merge, push), backup and restore."""
    from conftest import VaultFixture, run_cli

    assert run_cli(["keygen"]).exit_code == 0
    ident = isolated_env / ".config" / "confide" / "identity.txt"
    root = tmp_path / "v256"
    r = run_cli(["init", str(root), "--name", "Sha Nursery", "--holder", "amira", "--object-format", "sha256"])
    assert r.exit_code == 0, r.stderr
    v = VaultFixture(root, {"amira": ident})
    rid = v.ok("child", "add", "--name", "Ada").last_line
    v.ok("add", rid, "--level", "general", "--category", "note", "--text", "first")
    anchor = v.ok("trust").last_line
    assert len(anchor.split("@")[0]) == 64

    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--object-format=sha256", str(bare)], check=True)
    v.git("remote", "add", "origin", str(bare))
    assert v.run("sync").exit_code == 0
    assert _git(bare, "rev-parse", "main").decode().strip() == v.head()

    other = tmp_path / "other"
    r = run_cli(["clone", str(bare), str(other), "--trust", anchor], identity=ident)
    assert r.exit_code == 0, r.stderr
    w = VaultFixture(other, {"amira": ident})
    assert w.head() == v.head()

    w.ok("add", rid, "--level", "general", "--category", "note", "--text", "from the other clone")
    assert w.run("sync").exit_code == 0
    r = v.run("sync")  # a fast-forward
    assert r.exit_code == 0, r.stderr
    assert v.head() == w.head()
    v.ok("add", rid, "--level", "general", "--category", "note", "--text", "here")
    w.ok("add", rid, "--level", "general", "--category", "note", "--text", "there")
    assert v.run("sync").exit_code == 0
    r = w.run("sync")  # both moved: a merge, signed, pushed
    assert r.exit_code == 0 and "merged (merge)" in r.stderr, r.stderr
    assert len(w.git("rev-parse", "HEAD^2").strip()) == 64
    texts = {e.get("text") for e in json.loads(w.ok("show", rid, "--json").stdout)["entries"]}
    assert {"first", "from the other clone", "here", "there"} <= texts

    out = tmp_path / "v256.bundle"
    r = run_cli(["backup", str(out), "--vault", str(other)])
    assert r.exit_code == 0, r.stderr
    back = tmp_path / "restored"
    r = run_cli(["restore", str(out), str(back), "--trust", anchor], identity=ident)
    assert r.exit_code == 0, r.stderr
    assert _git(back, "rev-parse", "HEAD").decode().strip() == w.head()
    assert _git(back, "remote").decode().strip() == ""
    assert run_cli(["verify", "--vault", str(back)]).exit_code == 0


# ---------------------------------------------------------------------------
# The trust check's reads without a process each: what git's own commands say, in SHA-1 and SHA-256


@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_cat_file_reads_and_ref_files_agree_with_git(tmp_path, fmt):
    from vault_cli.adapters import gitlog

    root = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", f"--object-format={fmt}", str(root)], check=True)
    (root / "records").mkdir()
    (root / "records" / "sub").mkdir()
    for name in ("c-a.yaml", "c-a.entries.yaml", "odd name é.yaml"):
        (root / "records" / name).write_text(name)
    (root / "records" / "sub" / "deep.yaml").write_text("deep")
    (root / "top.yaml").write_text("top")
    os.symlink("top.yaml", root / "link")
    _git(root, "add", "-A")
    first = _commit(root, "first", "one")
    _git(root, "branch", "side")
    _git(root, "tag", "v1")
    _git(root, "pack-refs", "--all")  # these three are packed ...
    second = _commit(root, "second", "two")
    _git(root, "update-ref", "refs/bench/nested/deep", second)  # ... and these loose
    _git(root, "checkout", "-q", "-b", "other", first)
    third = _commit(root, "third", "three")
    _git(root, "branch", "-D", "side")  # packed, now deleted: packed-refs rewritten

    cat = gitlog.CatFile(root)
    try:
        for commit in (first, second):
            assert cat.files(commit) == gitlog.tree_files(root, commit)
            assert cat.files(commit, "records") == gitlog.tree_files(root, commit, "records")
        assert cat.files(first, "nothing") == {}
        assert cat.is_commit(first) and not cat.is_commit("0" * len(first))
        assert not cat.is_commit(_git(root, "rev-parse", f"{first}^{{tree}}").decode().strip())
        assert cat.oid(f"{second}:top.yaml") == _git(root, "rev-parse", f"{second}:top.yaml").decode().strip()
        assert cat.oid(f"{second}:missing") is None
        assert cat.get(f"{second}:top.yaml") == b"top"  # the process still answers after those
        # a short line of single-parent commits, read without rev-list; anything else is left to rev-list
        assert gitlog.line_since(cat, second, first) == gitlog.rev_list(root, second, (first,))
        assert gitlog.line_since(cat, second, second) == []
        assert gitlog.line_since(cat, third, second) is None  # second is not on third's line
        assert gitlog.line_since(cat, first, second) is None  # nor behind first: its first commit ends the line
        _git(root, "-c", "commit.gpgsign=false", "merge", "-q", "--no-ff", "-m", "merge", "main")
        merged = _git(root, "rev-parse", "HEAD").decode().strip()
        assert gitlog.line_since(cat, merged, third) is None
        assert gitlog.line_since(cat, second, first, limit=0) is None
    finally:
        cat.close()
    assert gitlog.ref_names(root) == _git(root, "for-each-ref", "--format=%(refname)").decode().splitlines()

    # one rev-list --boundary: the commits, and whether the start is an ancestor of the tip
    assert gitlog.rev_list_from(root, second, first) == (gitlog.rev_list(root, second, (first,)), True)
    assert gitlog.rev_list_from(root, third, second) == (gitlog.rev_list(root, third, (second,)), False)
    assert gitlog.rev_list_from(root, first, second) == ([], False)
    assert gitlog.rev_list_from(root, second, second) == ([], True)


@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_cat_file_get_many_answers_what_git_does_while_its_kept_blobs_change(tmp_path, fmt):
    """get_many asked for kept big blobs and new ones at once: reading the new ones lets kept ones go (the
    last KEEP_BLOBS are kept), and each answer is still git's (a review found a KeyError here, which failed
    every command of a holder whose heads had grown past 16 KB)."""
    from vault_cli.adapters.gitlog import CatFile

    root = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", f"--object-format={fmt}", str(root)], check=True)
    big = [os.urandom(CatFile.KEEP_FROM + 100 * i) for i in range(CatFile.KEEP_BLOBS + 4)]
    oids = [_oid(root, b) for b in big]
    for data in big:
        _git(root, "hash-object", "-w", "--stdin", input=data)
    small = _git(root, "hash-object", "-w", "--stdin", input=b"small\n").decode().strip()
    cat = CatFile(root)
    for o in oids[:CatFile.KEEP_BLOBS]:
        assert cat.get(o) == _git(root, "cat-file", "blob", o)
    asked = [oids[0], *oids[CatFile.KEEP_BLOBS:], oids[1], small, "0" * len(oids[0]), oids[0]]
    got = cat.get_many(asked)
    missing = "0" * len(oids[0])
    assert got == [None if o == missing else _git(root, "cat-file", "-p", o) for o in asked]
    assert cat.get_many(oids) == big  # and again, with another set kept
