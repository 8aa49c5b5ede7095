"""A file system that refuses (issue 11, "Scripts"): a read-only vault, a full disk, a lock path that is a
folder, and stdin that is not UTF-8 each end in a clear error with its documented exit code and a hint,
never "internal error ... a bug", and leave the vault exactly as it was.

The refusals are real: a read-only bind mount and a small tmpfs (both need root, as the CI machine runs;
elsewhere those two tests say why they cannot run), and bytes that are not UTF-8 piped into a real process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import copy_vault

from vault_cli.errors import ExitCode

MARKER = "Quillon-Marker-7319"
REQUIRE_MOUNT = os.environ.get("CONFIDE_REQUIRE_MOUNT") == "1"  # read at import: isolated_env clears CONFIDE_*


def _cannot_mount(why: str) -> None:
    if REQUIRE_MOUNT:
        pytest.fail(f"{why}, and CONFIDE_REQUIRE_MOUNT=1 (CI) requires it")
    pytest.skip(f"{why} (set CONFIDE_REQUIRE_MOUNT=1 to fail instead)")


def _refused(r, code: ExitCode) -> None:
    assert r.exit_code == code, f"expected {code!r}, got {r.exit_code}: {r.stderr}"
    assert r.stderr.startswith("confide: error: "), r.stderr
    assert "confide: hint: " in r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert MARKER not in r.stderr and MARKER not in r.stdout


def _state(v) -> tuple:
    return v.head(), v.git("status", "--porcelain", "--untracked-files=all")


def _mount(*args: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def test_a_lock_path_that_is_a_folder_is_named_with_the_fix(vault):
    rid = vault.add_child("Ada Lock")
    before = _state(vault)
    lock = vault.root / ".git" / "confide.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    r = vault.run("add", rid, "--text", MARKER, "--category", "observation", "--level", "general")
    _refused(r, ExitCode.VAULT_STATE)
    assert "is a folder" in r.stderr and "rmdir" in r.stderr
    assert _state(vault) == before
    lock.rmdir()
    vault.ok("add", rid, "--text", "after the fix", "--category", "observation", "--level", "general")


def test_stdin_that_is_not_utf8_is_a_usage_error(vault):
    rid = vault.add_child("Ada Bytes")
    before = _state(vault)
    env = dict(os.environ, CONFIDE_VAULT=str(vault.root), CONFIDE_IDENTITY=str(vault.keys["amira"]),
               CONFIDE_SIGNING_KEY=str(vault.keys["amira.sign"]))
    p = subprocess.run([sys.executable, "-m", "vault_cli", "add", rid, "--text", "-", "--category", "observation",
                        "--level", "general"], input=MARKER.encode() + b" caf\xe9 \xff\n", env=env, capture_output=True)

    class R:
        exit_code, stdout, stderr = p.returncode, p.stdout.decode(), p.stderr.decode()

    _refused(R, ExitCode.USAGE)
    assert "not UTF-8" in R.stderr and "iconv" in R.stderr
    assert _state(vault) == before


def test_a_read_only_vault_says_so_and_changes_nothing(vault, tmp_path):
    rid = vault.add_child("Ada Readonly")
    ro = tmp_path / "ro"
    ro.mkdir()
    if not _mount("--bind", str(vault.root), str(ro)):
        _cannot_mount("cannot bind-mount the vault read-only (needs root)")
    try:
        assert _mount("-o", "remount,bind,ro", str(ro))
        copy = type(vault)(ro, vault.keys)
        before = _state(vault)
        r = copy.run("add", rid, "--text", MARKER, "--category", "observation", "--level", "general")
        _refused(r, ExitCode.EXTERNAL)
        assert "Read-only file system" in r.stderr and "read-write" in r.stderr
        assert _state(vault) == before
        # reading still works on a read-only vault
        assert copy.run("show", rid).exit_code == 0
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)


def test_a_full_disk_says_so_and_leaves_the_vault_as_it_was(vault, keys, tmp_path):
    """The disk fills at different points of the write (git's index, the journal, the entries file, the
    commit's objects): each time a clear error, and the vault as it was."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)):
        _cannot_mount("cannot mount a small tmpfs to fill (needs root)")
    try:
        v = copy_vault(vault.root, disk / "vault", keys)
        rid = v.add_child("Ada Full")
        v.ok("add", rid, "--text", "a first entry", "--category", "observation", "--level", "general")
        before = _state(v)
        filler = disk / "filler"
        refused = 0
        for margin in (0, 4, 8, 16, 24, 32, 48, 64, 96, 128):  # kilobytes left free
            with open(filler, "wb", buffering=0) as fh:  # unbuffered: the last write fails, not the close
                try:
                    while True:
                        fh.write(b"\0" * 4096)
                except OSError:
                    pass
            os.truncate(filler, max(0, filler.stat().st_size - margin * 1024))
            r = v.run("add", rid, "--text", MARKER * 400, "--category", "observation", "--level", "general")
            filler.unlink()
            if r.exit_code == 0:
                break
            refused += 1
            _refused(r, ExitCode.EXTERNAL)
            assert any(s in r.stderr for s in ("No space left on device", "Out of diskspace")), r.stderr
            assert "free some space" in r.stderr
            # once there is room again the vault is as it was, and verifies
            assert _state(v) == before, f"the vault changed after a refusal with {margin} KB free"
            r = v.run("verify")
            assert r.exit_code == 0, r.stderr
        assert refused >= 2, "the disk never filled during the write"
        v.ok("add", rid, "--text", "after the fix", "--category", "observation", "--level", "general")
        assert v.run("verify").exit_code == 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
