"""The names cache (services/names_cache.py): the check before every command still finds a child's name in a
new commit message, while opening only the profiles that changed since the holder's last command; on disk
the cache is ciphertext for that holder alone.

A forged commit here is made with plain git and signed by a manager's key (an insider, or a stolen key): its
message names a child. The holder's next command must refuse it (exit 9, a plaintext finding), whether the
name comes from the cache, from a profile changed since (the cache must not keep the old name), or from a
cache that was damaged or written for another key.
"""

from __future__ import annotations

import os
import stat

from vault_cli.errors import ExitCode

FIRST = "Zephyrine Quartermain"
SECOND = "Wilhelmina Oakenshield"


def _cache(v, who="amira"):
    return v.root / ".git" / "confide" / f"names-{who}.age"


def _forge(v, text: str) -> str:
    with open(v.root / "confide.yaml", "a") as fh:
        fh.write("# tidy\n")
    return v.commit_as("amira", f"notes about {text}")


def _refused_for_a_name(r, commit: str) -> None:
    assert r.exit_code == ExitCode.FINDINGS, r.stderr
    assert commit[:12] in r.stderr and "plaintext" in r.stderr
    assert FIRST.split()[0] not in r.stderr and SECOND.split()[0] not in r.stderr


def test_the_cache_is_ciphertext_for_the_holder_alone(vault):
    vault.add_child(FIRST)
    vault.add_entry(vault.records[FIRST], "a note", who="ben")  # a colleague's commit: amira checks it next
    vault.ok("child", "list")
    path = _cache(vault)
    data = path.read_bytes()
    assert data.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert b"Zephyrine" not in data and b"Quartermain" not in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # ben's cache is his own, and git never tracks either
    assert vault.git("status", "--porcelain", "--ignored").strip() == ""


def test_a_name_in_a_new_commit_message_is_found_from_the_cache(vault):
    rid = vault.add_child(FIRST)
    vault.add_entry(rid, "a note", who="ben")
    vault.ok("child", "list")  # amira checks ben's commit; her cache now holds the names at HEAD
    assert _cache(vault).is_file()
    before = _cache(vault).read_bytes()
    forged = _forge(vault, FIRST.split()[0])
    _refused_for_a_name(vault.run("child", "list"), forged)
    assert _cache(vault).read_bytes() == before  # nothing changed in the profiles: no need to write it again


def test_a_renamed_child_is_opened_again_not_taken_from_the_cache(vault):
    rid = vault.add_child(FIRST)
    vault.ok("child", "list")
    vault.ok("child", "set", rid, f"name={SECOND}")
    vault.add_entry(rid, "a note", who="ben")
    forged = _forge(vault, SECOND)
    _refused_for_a_name(vault.run("child", "list"), forged)


def test_a_damaged_or_foreign_cache_is_rebuilt(vault):
    rid = vault.add_child(FIRST)
    vault.add_entry(rid, "a note", who="ben")
    vault.ok("child", "list")
    # ben's cache, put where amira's was: it does not open with amira's key
    vault.ok("child", "list", who="ben")
    os.replace(_cache(vault, "ben"), _cache(vault))
    forged = _forge(vault, FIRST.split()[1])
    _refused_for_a_name(vault.run("child", "list"), forged)
    _cache(vault).write_bytes(b"not age at all\n")
    _refused_for_a_name(vault.run("show", rid), forged)
