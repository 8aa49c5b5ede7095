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

import pytest

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


# -- names cache v2: child add / find, the picker and completion read it ----------------------------------


def _rows(v, who: str, *, cached: bool = True) -> list:
    """``names_and_births`` as a command of ``who``'s runs it (their key checks the history first, through
    their names cache), from the cache or by decrypting every profile."""
    from vault_cli.cli import environment
    from vault_cli.services import children
    from vault_cli.services.vault import Session

    with Session.open(environment.config(vault=str(v.root), identity=str(v.keys[who]))) as s:
        return children.names_and_births(s, cached=cached)


def _same_both_ways(v, who: str) -> list:
    cached = _rows(v, who)
    full = _rows(v, who, cached=False)
    assert cached == full
    assert _rows(v, who) == full  # and again, from the cache the first call left
    return full


def _erase(v, rid: str) -> None:
    """A manager's recorded erasure of a whole record, as ``test_history`` makes one with plain git."""
    for suffix in (".yaml", ".entries.yaml"):
        (v.root / "records" / f"{rid}{suffix}").unlink()
    v.commit_as("amira", f"confide: erase {rid}", action="record.erase", trailers={"Confide-Record": rid})


def test_the_cache_answers_as_decrypting_every_profile_does(vault, monkeypatch):
    from vault_cli.services import records

    ada = vault.add_child(FIRST, key_person="ben", dob="2022-03-04", room="Owls")
    bo = vault.add_child(SECOND, key_person="cara", dob="2021-07-08")
    cy = vault.add_child("Cyprian Underhill", room="Wrens")
    vault.ok("child", "set", bo, "known_as=Billie")
    for who in ("amira", "ben"):
        rows = _same_both_ways(vault, who)
        assert {r["record"] for r in rows} == {ada, bo, cy}
    by_id = {r["record"]: r for r in _rows(vault, "amira")}
    assert by_id[ada] == {"record": ada, "readable": True, "name": FIRST, "known_as": None, "dob": "2022-03-04",
                          "room": "Owls", "leaving_date": None}
    assert by_id[bo]["known_as"] == "Billie"

    # a warm cache opens no profile at all
    opened = []
    real = records.read_profile
    monkeypatch.setattr(records, "read_profile", lambda s, env: opened.append(env.record) or real(s, env))
    _rows(vault, "amira")
    assert opened == []

    # a colleague's edits: ben renames Ada, cara adds an entry; amira's next read opens no profile
    vault.ok("child", "set", ada, "name=Zephyrine Q. Renamed", "room=Larks", who="ben")
    vault.add_entry(bo, "a note", who="cara")
    opened.clear()  # those commands ran in this process, and read the profiles they changed
    rows = _rows(vault, "amira")
    assert opened == []  # the check before the command (amira's key, the new commits) refreshed it already
    assert {r["record"]: r for r in rows}[ada]["name"] == "Zephyrine Q. Renamed"
    monkeypatch.setattr(records, "read_profile", real)
    for who in ("amira", "ben", "cara"):
        _same_both_ways(vault, who)

    # a child who left, and a record erased: the cache follows
    vault.ok("child", "set", bo, "leaving_date=2026-07-31", "room=Leavers")
    _erase(vault, cy)
    for who in ("amira", "ben"):
        rows = _same_both_ways(vault, who)
        assert cy not in {r["record"] for r in rows}
        assert {r["record"]: r for r in rows}[bo]["room"] == "Leavers"
        assert {r["record"]: r for r in rows}[bo]["leaving_date"] == "2026-07-31"


@pytest.mark.parametrize("old_format", ["confide/names-cache/1", "confide/names-cache/2"])
def test_an_old_cache_is_rebuilt(vault, old_format):
    import json

    from vault_cli.adapters import crypto

    rid = vault.add_child(FIRST, dob="2022-03-04")
    vault.ok("child", "leave", rid, "--date", "2026-07-31")
    vault.ok("child", "list")
    blob = vault.git("rev-parse", f"HEAD:records/{rid}.yaml").strip()
    ident = crypto.load_identity_file(str(vault.keys["amira"]), None)[0]
    item = ["Someone Else"] if old_format.endswith("/1") else \
        {"name": "Someone Else", "known_as": None, "dob": "2022-03-04", "room": None}  # /2: no leaving date
    old = {"format": old_format, "holder": "amira", "records": {rid: [blob, item]}}
    _cache(vault).write_text(crypto.encrypt(json.dumps(old).encode(), ident.recipient))
    rows = _rows(vault, "amira")
    assert rows == [{"record": rid, "readable": True, "name": FIRST, "known_as": None, "dob": "2022-03-04", "room": None,
                     "leaving_date": "2026-07-31"}]
    assert old_format.encode() not in crypto.decrypt(_cache(vault).read_text(), ident)  # written again as v3
    # the duplicate check reads it too
    r = vault.run("child", "add", "--name", FIRST, "--dob", "2022-03-04")
    assert r.exit_code == ExitCode.VAULT_STATE and rid in r.stderr
