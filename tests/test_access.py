"""Issue 3: grant, revoke, key-person handover, leavers, key rotation, expiry, lock-outs, identities.

Through the real CLI with real age keys and git repositories. The attacker checks
use the real ``age`` binary: a holder who lost access takes their own identity,
unwraps every level key they can find anywhere in git history, and applies all of
them with ``age -d`` to every block written afterwards. None may open.

``age`` missing: these tests skip, unless CONFIDE_REQUIRE_AGE=1, when they fail.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pyrage
import pytest
from conftest import SUITE_NOW, age_binary, entries_file, head_file, recipient_of, record_doc, run_cli, signing_pub

from vault_cli.cli import environment
from vault_cli.errors import ExitCode
from vault_cli.formats import envelope, yamlio

NOW = SUITE_NOW
HISTORY_WORDS = "git history keeps old blocks"


@pytest.fixture
def age_bin():
    return age_binary()


# ---------------------------------------------------------------------------
# helpers


def run_as(v, identity: Path, *args: str, env: dict | None = None):
    e = {"CONFIDE_VAULT": str(v.root)}
    e.update(env or {})
    return run_cli(list(args), identity=identity, env=e)


def ok_as(v, identity: Path, *args: str, env: dict | None = None):
    r = run_as(v, identity, *args, env=env)
    assert r.exit_code == 0, f"confide {' '.join(args)} failed ({r.exit_code}): {r.stderr}"
    return r


def new_key(tmp_path: Path, name: str, *, passphrase: str | None = None, age: bool = False) -> tuple[Path, str]:
    """``confide keygen``: one SSH key that reads and signs (``age``: a native age identity, which never signs)."""
    path = tmp_path / f"{name}.key"
    env = {}
    extra = ["--age"] if age else []
    if passphrase is not None:
        pf = tmp_path / f"{name}.pass"
        pf.write_text(passphrase + "\n")
        os.chmod(pf, 0o600)
        env["CONFIDE_PASSPHRASE_FILE"] = str(pf)
        r = run_cli(["keygen", *extra, "--passphrase", "--out", str(path)], env=env)
    else:
        r = run_cli(["keygen", *extra, "--out", str(path)])
    assert r.exit_code == 0, r.stderr
    return path, r.last_line


def commits(v) -> int:
    return int(v.git("rev-list", "--count", "HEAD").strip())


def trailers(v, rev: str = "HEAD") -> dict[str, str]:
    out = {}
    for line in v.git("log", "-1", "--format=%B", rev).splitlines():
        m = re.match(r"^(Confide-[A-Za-z-]+): (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def one_commit(v, before: int, action: str, subject: str, holder: str = "amira") -> dict:
    assert commits(v) == before + 1
    assert v.is_clean()
    t = trailers(v)
    assert t["Confide-Action"] == action
    assert t["Confide-Subject"] == subject
    assert t["Confide-Holder"] == holder
    return t


def refused(v, r, code: ExitCode, head: str, *words: str) -> None:
    assert r.exit_code == int(code), f"expected {code.name}, got {r.exit_code}: {r.stderr}"
    assert "confide: error:" in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    assert v.head() == head
    assert v.is_clean()


def blocks_in(text: str, path: str) -> list[str]:
    """Every age block in one record file: a head (wrapped keys, the profile) or an entries file (entries, marks)."""
    rid, part = envelope.record_of(path)
    data = yamlio.load(text, path)
    if part == "head":
        assert "entries" not in data, path
        out = [blk for k in data["keys"] for blk in k["wrapped"].values()]
        out.append(data["profile"]["data"])
        return out
    assert list(data) == ["entries"], path
    out = []
    for e in data["entries"] or []:
        out.append(e["data"])
        out.extend(m["data"] for m in e.get("marks", []) or [])
    return out


def record_paths_at(v, rev: str) -> list[str]:
    """Every record file (heads and entries files) in a commit's tree; records/ holds nothing else but .gitkeep."""
    paths = [p for p in v.git("ls-tree", "-r", "--name-only", rev, "records/").split() if p != "records/.gitkeep"]
    assert all(envelope.record_of(p) for p in paths), paths
    return paths


def blocks_at(v, rev: str) -> set[str]:
    out: set[str] = set()
    for path in record_paths_at(v, rev):
        out.update(blocks_in(v.git("show", f"{rev}:{path}"), path))
    return out


def age_opens(age: str, block: str, identities: list[Path]) -> bool:
    args = [age, "-d"]
    for f in identities:
        args += ["-i", str(f)]
    return subprocess.run(args, input=block.encode(), capture_output=True).returncode == 0


def stolen_keys(v, age: str, identity: Path, folder: Path) -> list[Path]:
    """Every level key the identity unwraps from any wrapped copy anywhere in git history, via ``age``."""
    folder.mkdir(mode=0o700, exist_ok=True)
    seen: set[str] = set()
    found = []
    for rev in v.git("rev-list", "HEAD").split():
        for path in record_paths_at(v, rev):
            if envelope.record_of(path)[1] != "head":  # level keys live in the head files
                continue
            data = yamlio.load(v.git("show", f"{rev}:{path}"), path)
            for k in data["keys"]:
                for blk in k["wrapped"].values():
                    if blk in seen:
                        continue
                    seen.add(blk)
                    p = subprocess.run([age, "-d", "-i", str(identity)], input=blk.encode(), capture_output=True)
                    if p.returncode == 0:
                        f = folder / f"level-{len(found)}.txt"
                        f.write_bytes(p.stdout)
                        os.chmod(f, 0o600)
                        found.append(f)
    return found


def readable_ids(v, rid: str, identity: Path) -> set[str]:
    data = json.loads(ok_as(v, identity, "show", rid, "--json").stdout)
    return {e["entry"] for e in data["entries"] if e["readable"]}


def entries_by_level(v, rid: str) -> dict[str, set[str]]:
    data = json.loads(v.ok("show", rid, "--json").stdout)
    out: dict[str, set[str]] = {}
    for e in data["entries"]:
        out.setdefault(e["level"], set()).add(e["entry"])
    return out


def fill(v, rid: str, tag: str, who: str = "amira") -> dict[str, str]:
    return {lv: v.add_entry(rid, f"{tag} {lv}", lv, "note", who) for lv in ("general", "confidential", "safeguarding")}


def tail_of(v, rid: str) -> bytes:
    """The record's entries file, as bytes."""
    return entries_file(v.root, rid).read_bytes()


def record_at(v, rev: str, rid: str) -> dict:
    """A record's head and entries at a commit, as one dict."""
    from conftest import record_doc_of

    return record_doc_of(v.git("show", f"{rev}:records/{rid}.yaml"), v.git("show", f"{rev}:records/{rid}.entries.yaml"), rid)


def only_heads_changed(v, rids, extra=frozenset(), rev: str = "HEAD") -> None:
    """The commit changed exactly these records' head files (plus ``extra``), never an entries file."""
    changed = set(v.git("show", "--name-only", "--no-renames", "--format=", rev).split())
    assert changed == {f"records/{r}.yaml" for r in rids} | set(extra), changed


# ---------------------------------------------------------------------------
# revocation


def test_revoked_holder_reads_nothing_written_after(vault, age_bin, tmp_path):
    v = vault
    r1 = v.add_child("Poppy Revoke", key_person="ben")
    r2 = v.add_child("Quinn Revoke")
    before = commits(v)
    v.ok("grant", "cara", "--child", r1, "--level", "confidential")
    one_commit(v, before, "access.grant", "cara")
    old1, _ = fill(v, r1, "before"), fill(v, r2, "before")
    assert readable_ids(v, r1, v.keys["cara"]) == {old1["general"], old1["confidential"]}
    tails = {rid: tail_of(v, rid) for rid in (r1, r2)}

    before, revoked_at = commits(v), v.head()  # blocks written by the revocation itself count as "after"
    r = v.ok("revoke", "cara", "--all")
    t = one_commit(v, before, "access.revoke", "cara")
    assert t["Confide-Records"] == "2" and "Confide-Record" not in t
    assert HISTORY_WORDS in r.stderr and "rotate" in r.stderr
    assert r.last_line == v.head()
    # O(records), not O(entries): only the head files are rewritten; the entries files are not touched.
    only_heads_changed(v, (r1, r2))
    assert {rid: tail_of(v, rid) for rid in (r1, r2)} == tails
    for name in ("Poppy", "Quinn"):
        assert name not in v.git("log", "--format=%B")

    new1, _ = fill(v, r1, "after"), fill(v, r2, "after", who="dara")
    v.ok("child", "set", r2, "room=Rainbow")
    v.ok("mark", new1["general"], "--parent-view", "not-confidential")
    assert readable_ids(v, r1, v.keys["cara"]) == set() and readable_ids(v, r2, v.keys["cara"]) == set()
    assert readable_ids(v, r1, v.keys["ben"]) >= {new1["general"], new1["confidential"], new1["safeguarding"]}

    stolen = stolen_keys(v, age_bin, v.keys["cara"], tmp_path / "stolen")
    assert stolen, "cara had copies before the revocation; history keeps them"
    old_blocks = blocks_at(v, revoked_at)
    new_blocks = blocks_at(v, "HEAD") - old_blocks
    assert len(new_blocks) >= 15
    attacker = [v.keys["cara"], *stolen]
    assert not [b for b in new_blocks if age_opens(age_bin, b, attacker)]
    # ...while what she could read before stays readable from history, as the docs say.
    data = record_at(v, revoked_at, r1)
    old_conf = next(e["data"] for e in data["entries"] if e["id"] == old1["confidential"])
    assert age_opens(age_bin, old_conf, attacker)


def test_revoke_never_granted_and_dsl_scope(vault):
    v = vault
    rid = v.add_child("Rowan Scope")
    head, n = v.head(), commits(v)
    r = v.run("revoke", "cara", "--child", rid, "--level", "safeguarding")
    assert r.exit_code == 0 and "nothing to revoke" in r.stderr and r.stdout == ""
    assert v.head() == head and commits(v) == n and v.is_clean()
    # A DSL changes safeguarding access only.
    refused(v, v.run("revoke", "ben", "--child", rid, who="dara"), ExitCode.DENIED, head, "may not revoke the general level")
    v.ok("grant", "cara", "--child", rid, "--level", "safeguarding", who="dara")
    assert trailers(v)["Confide-Holder"] == "dara"
    v.ok("revoke", "cara", "--child", rid, "--level", "safeguarding", who="dara")
    head = v.head()
    refused(v, v.run("grant", "cara", "--child", rid, "--level", "confidential", who="dara"), ExitCode.DENIED, head)
    refused(v, v.run("revoke", "cara", "--all", who="ben"), ExitCode.DENIED, head)


# ---------------------------------------------------------------------------
# grant


def test_granted_student_reads_old_and_new_of_that_level_only(vault, tmp_path):
    v = vault
    stu, stu_rcpt = new_key(tmp_path, "sam")
    v.ok("holder", "add", "sam", "--role", "student", "--recipient", stu_rcpt)
    r1, r2 = v.add_child("Sky Grant", key_person="ben"), v.add_child("Tam Grant")
    old1, _ = fill(v, r1, "old"), fill(v, r2, "old")
    assert readable_ids(v, r1, stu) == set()
    head = v.head()
    refused(v, v.run("grant", "sam", "--child", r1, "--level", "confidential"), ExitCode.USAGE, head, "--parent-permission")
    refused(v, v.run("grant", "sam", "--all", "--level", "general", "--parent-permission", "2026-11-20"), ExitCode.USAGE, head)
    refused(v, v.run("grant", "sam", "--child", r1, "--level", "general", "--parent-permission", "2026-12-20"),
            ExitCode.USAGE, head, "future")
    before, tail1 = commits(v), tail_of(v, r1)
    r = v.ok("grant", "sam", "--child", r1, "--level", "confidential", "--parent-permission", "2026-11-20")
    t = one_commit(v, before, "access.grant", "sam")
    only_heads_changed(v, (r1,))
    assert tail_of(v, r1) == tail1
    assert t["Confide-Record"] == r1 and t["Confide-Levels"] == "confidential"
    assert r.last_line == v.head()
    new1 = fill(v, r1, "new")
    fill(v, r2, "new")
    assert readable_ids(v, r1, stu) == {old1["confidential"], new1["confidential"]}
    assert readable_ids(v, r2, stu) == set()
    shown = json.loads(ok_as(v, stu, "show", r1, "--json").stdout)
    assert shown["profile"] is None  # the profile is general: not granted
    report = json.loads(v.ok("access", r1, "--json").stdout)
    conf = next(lv for lv in report["levels"] if lv["level"] == "confidential")
    sam = next(x for x in conf["readers"] if x["holder"] == "sam")
    assert sam["reasons"] == ["grant"] and conf["grants"][0]["parent_permission"] == "2026-11-20"
    # Granting again changes nothing and commits nothing.
    head = v.head()
    r = v.run("grant", "sam", "--child", r1, "--level", "confidential", "--parent-permission", "2026-11-20")
    assert r.exit_code == 0 and "already reads" in r.stderr and v.head() == head


def test_grant_bad_input_leaves_vault_unchanged(vault, tmp_path):
    v = vault
    rid = v.add_child("Uma Bad")
    aud, aud_rcpt = new_key(tmp_path, "ivy")
    v.ok("holder", "add", "ivy", "--role", "auditor", "--recipient", aud_rcpt)
    v.ok("holder", "add", "eve", "--role", "practitioner", "--recipient", recipient_of(v.keys["eve"]),
         "--signing-key", signing_pub(v.keys, "eve"))
    v.ok("holder", "remove", "eve", "--reason", "left the setting 2026-11-20")
    head = v.head()
    g = ("grant",)
    refused(v, v.run(*g, "ivy", "--child", rid, "--level", "general"), ExitCode.USAGE, head, "--until")
    refused(v, v.run(*g, "ivy", "--child", rid, "--level", "general", "--until", "2026-11-01"), ExitCode.USAGE, head, "in the past")
    refused(v, v.run(*g, "ivy", "--child", rid, "--level", "general", "--until", "01/12/2026"), ExitCode.USAGE, head)
    refused(v, v.run(*g, "ivy", "--child", rid, "--level", "secret", "--until", "2026-12-01"), ExitCode.USAGE, head)
    refused(v, v.run(*g, "ivy", "--level", "general", "--until", "2026-12-01"), ExitCode.USAGE, head, "--child RECORD or --all")
    refused(v, v.run(*g, "ivy", "--child", rid, "--all", "--level", "general", "--until", "2026-12-01"), ExitCode.USAGE, head)
    refused(v, v.run(*g, "ivy", "--child", rid, "--until", "2026-12-01"), ExitCode.USAGE, head, "--level")
    refused(v, v.run(*g, "nobody", "--child", rid, "--level", "general"), ExitCode.NOT_FOUND, head, "no holder named")
    refused(v, v.run(*g, "eve", "--child", rid, "--level", "general"), ExitCode.NOT_FOUND, head, "was removed")
    refused(v, v.run(*g, "cara", "--child", "c-00000000", "--level", "general"), ExitCode.NOT_FOUND, head)
    refused(v, v.run(*g, "ivy", "--child", rid, "--level", "general", "--until", "2026-12-01", who="ben"), ExitCode.DENIED, head)
    refused(v, v.run(*g, "ivy", "--child", rid, "--level", "general", "--until", "2026-12-01", who="dara"), ExitCode.DENIED, head)
    # Cryptography backs the rule: a DSL may grant safeguarding, but not of a record she cannot unwrap.
    v.ok("revoke", "dara", "--child", rid, "--level", "safeguarding")
    head = v.head()
    refused(v, v.run(*g, "cara", "--child", rid, "--level", "safeguarding", who="dara"), ExitCode.DENIED, head, "cannot")


# ---------------------------------------------------------------------------
# expiry


def test_expired_grant_stops_working_at_next_write(vault, age_bin, tmp_path, monkeypatch):
    v = vault
    v.ok("holder", "add", "eve", "--role", "auditor", "--recipient", recipient_of(v.keys["eve"]))
    r1, r2 = v.add_child("Vic Expire"), v.add_child("Wren Expire")
    old = fill(v, r1, "old")
    v.ok("grant", "eve", "--child", r1, "--level", "confidential", "--until", "2026-11-30")
    assert trailers(v)["Confide-Until"] == "2026-11-30"
    assert readable_ids(v, r1, v.keys["eve"]) == {old["confidential"]}
    r = v.run("expire")
    assert r.exit_code == 0 and "nothing was committed" in r.stderr
    cache = v.root / ".git" / "confide-expiry.json"
    # Time passes; the grant has ended but nothing was written yet: the report says so.
    monkeypatch.setenv("CONFIDE_NOW", "2026-12-02T09:00:00+00:00")
    report = json.loads(v.ok("access", r1, "--json").stdout)
    conf = next(lv for lv in report["levels"] if lv["level"] == "confidential")
    assert any("expired grant" in why for x in conf["readers"] if x["holder"] == "eve" for why in x["reasons"])
    before = commits(v)
    r1_tail = tail_of(v, r1)
    new_entry = v.add_entry(r2, "a write elsewhere", "general", "note", "ben")
    assert commits(v) == before + 2
    t = trailers(v, "HEAD~1")
    assert t["Confide-Action"] == "access.expire" and t["Confide-Subject"] == "eve" and t["Confide-Holder"] == "ben"
    assert v.git("show", "--name-only", "--format=", "HEAD~1").split() == [f"records/{r1}.yaml"]
    assert tail_of(v, r1) == r1_tail
    assert trailers(v)["Confide-Entry"] == new_entry
    assert json.loads(cache.read_text())["head"] == v.head()
    # ben does not read r1's confidential level, so he may not make its next key (he would know its
    # secret): eve's copies are gone and the level is marked for the next holder who reads it.
    head1 = record_doc(v.root, r1)
    assert head1["rekey"] == ["confidential"] and "eve" not in {n for k in head1["keys"] for n in k["wrapped"]}
    assert [k["generation"] for k in head1["keys"] if k["level"] == "confidential"] == [1]
    assert json.loads(cache.read_text())["rekey"] == [r1]
    expired_at = v.git("rev-parse", "HEAD~2").strip()
    # amira reads it: her next write makes the new generation first, in a commit of its own.
    before = commits(v)
    later = v.add_entry(r1, "after expiry", "confidential", "note")
    assert commits(v) == before + 2
    t = trailers(v, "HEAD~1")
    assert t["Confide-Action"] == "access.rekey" and t["Confide-Holder"] == "amira" and t["Confide-Record"] == r1
    only_heads_changed(v, (r1,), rev="HEAD~1")
    head2 = record_doc(v.root, r1)
    assert "rekey" not in head2 and json.loads(cache.read_text())["rekey"] == []
    [gen2] = [k for k in head2["keys"] if k["level"] == "confidential" and k["generation"] == 2]
    assert set(gen2["wrapped"]) == {"amira", "dara"}
    assert next(e for e in head2["entries"] if e["id"] == later)["key"] == gen2["id"]
    assert readable_ids(v, r1, v.keys["eve"]) == set()
    assert v.ok("access", r1, "--json").stdout.count('"eve"') == 0
    stolen = stolen_keys(v, age_bin, v.keys["eve"], tmp_path / "stolen")
    new_blocks = blocks_at(v, "HEAD") - blocks_at(v, expired_at)
    assert later and new_blocks
    assert not [b for b in new_blocks if age_opens(age_bin, b, [v.keys["eve"], *stolen])]
    # Nothing more is due: the next write is a single commit.
    before = commits(v)
    v.add_entry(r2, "another", "general", "note")
    assert commits(v) == before + 1


def test_expire_command_and_stale_cache(vault, monkeypatch):
    v = vault
    v.ok("holder", "add", "eve", "--role", "auditor", "--recipient", recipient_of(v.keys["eve"]))
    rid = v.add_child("Xan Expire")
    v.ok("grant", "eve", "--all", "--level", "general", "--until", "2026-11-25")
    (v.root / ".git" / "confide-expiry.json").write_text("{not json")  # a damaged cache costs a rescan only
    monkeypatch.setenv("CONFIDE_NOW", "2026-11-26T08:00:00+00:00")
    before = commits(v)
    v.add_entry(rid, "the next write applies it", "general", "note", "ben")
    assert commits(v) == before + 2 and trailers(v, "HEAD~1")["Confide-Action"] == "access.expire"
    assert readable_ids(v, rid, v.keys["eve"]) == set()
    r = v.ok("expire")
    assert "nothing was committed" in r.stderr and commits(v) == before + 2
    # A grant that arrives from outside confide (a pull, a merge) moves HEAD: the cache is rebuilt, not trusted.
    monkeypatch.setenv("CONFIDE_NOW", "2026-11-26T09:00:00+00:00")
    v.ok("grant", "eve", "--child", rid, "--level", "confidential", "--until", "2026-11-27")
    v.commit_as("amira", "a commit made outside confide")  # signed by a holder, so it verifies; not confide's
    monkeypatch.setenv("CONFIDE_NOW", "2026-11-28T09:00:00+00:00")
    before = commits(v)
    r = v.ok("expire")
    one_commit(v, before, "access.expire", "eve")
    assert r.last_line == v.head() and HISTORY_WORDS in r.stderr


def test_expiry_applied_by_a_non_reader_marks_a_re_key_that_the_next_reader_makes(vault, age_bin, tmp_path, monkeypatch):
    """Whoever makes a key knows its secret, so a practitioner applying the end of a safeguarding grant
    drops the auditor's copies but makes no new key: the level is marked ``rekey``. Writes by holders
    who do not read it leave the mark; the first write by one who does (here the key person) makes the
    new generation, in a commit of its own. The expired auditor, with every key copy she ever had in
    history, opens nothing written after that (the real ``age`` tool tries)."""
    v = vault
    v.ok("holder", "add", "eve", "--role", "auditor", "--recipient", recipient_of(v.keys["eve"]))
    rid, other = v.add_child("Ivo Rekey", key_person="cara"), v.add_child("Jo Rekey")
    old = v.add_entry(rid, "written while eve was granted", "safeguarding", "concern", "dara")
    v.ok("grant", "eve", "--child", rid, "--level", "safeguarding", "--until", "2026-11-30", who="dara")
    assert readable_ids(v, rid, v.keys["eve"]) == {old}
    [gen1] = [k for k in record_doc(v.root, rid)["keys"] if k["level"] == "safeguarding"]
    cache = v.root / ".git" / "confide-expiry.json"

    monkeypatch.setenv("CONFIDE_NOW", "2026-12-02T09:00:00+00:00")
    before = commits(v)
    v.ok("expire", who="ben")  # ben: a practitioner, not this child's key person
    t = one_commit(v, before, "access.expire", "eve", holder="ben")
    assert t["Confide-Record"] == rid
    only_heads_changed(v, (rid,))
    doc = record_doc(v.root, rid)
    assert doc["rekey"] == ["safeguarding"] and doc["grants"] == []
    assert [k for k in doc["keys"] if k["level"] == "safeguarding"] == [dict(gen1, wrapped={
        n: w for n, w in gen1["wrapped"].items() if n != "eve"})]  # the same key, eve's copy dropped
    assert "eve" not in {n for k in doc["keys"] for n in k["wrapped"]}
    assert readable_ids(v, rid, v.keys["eve"]) == set()
    assert json.loads(cache.read_text())["rekey"] == [rid]

    # Holders who do not read safeguarding here leave the mark: one commit per write, nothing re-keyed...
    for target in (other, rid):
        before = commits(v)
        v.add_entry(target, "a general note by ben", "general", "note", "ben")
        assert commits(v) == before + 1 and trailers(v)["Confide-Action"] == "entry.add"
    assert record_doc(v.root, rid)["rekey"] == ["safeguarding"]
    head = v.head()
    r = v.ok("expire", who="ben")  # ...and there is nothing ben may do about it
    assert "nothing was committed" in r.stderr and v.head() == head

    # cara, the key person, reads it: her next write, to any record, re-keys first.
    before = commits(v)
    v.add_entry(other, "a note by the key person", "general", "note", "cara")
    assert commits(v) == before + 2
    t = trailers(v, "HEAD~1")
    assert (t["Confide-Action"], t["Confide-Holder"], t["Confide-Record"]) == ("access.rekey", "cara", rid)
    only_heads_changed(v, (rid,), rev="HEAD~1")
    before_rekey = v.git("rev-parse", "HEAD~2").strip()
    doc = record_doc(v.root, rid)
    assert "rekey" not in doc and json.loads(cache.read_text())["rekey"] == []
    gens = sorted((k for k in doc["keys"] if k["level"] == "safeguarding"), key=lambda k: k["generation"])
    assert [k["generation"] for k in gens] == [1, 2] and gens[0]["id"] == gen1["id"]
    assert set(gens[1]["wrapped"]) == {"amira", "cara", "dara"}

    # What is written after the re-key is under the new key, which eve never had.
    new = {v.add_entry(rid, "written after the re-key", "safeguarding", "concern", "dara"),
           v.add_entry(rid, "and another", "confidential", "note", "cara")}
    v.ok("mark", old, "--parents-informed", "2026-12-01", who="dara")
    assert new <= readable_ids(v, rid, v.keys["cara"]) and readable_ids(v, rid, v.keys["eve"]) == set()
    stolen = stolen_keys(v, age_bin, v.keys["eve"], tmp_path / "stolen")
    assert stolen, "eve had a copy of the first generation; history keeps it"
    fresh = blocks_at(v, "HEAD") - blocks_at(v, before_rekey)
    assert len(fresh) == 7  # the new key's three copies, cara's note, two entries and a marking
    assert not [b for b in fresh if age_opens(age_bin, b, [v.keys["eve"], *stolen])]
    # ...while what she could read before stays readable from history, as the docs say.
    data = record_at(v, before_rekey, rid)
    assert age_opens(age_bin, next(e["data"] for e in data["entries"] if e["id"] == old), [v.keys["eve"], *stolen])
    # and the whole history verifies: a mark by a non-reader, a new key by a reader
    assert json.loads(v.ok("verify", "--json").stdout)["findings"] == []


# ---------------------------------------------------------------------------
# key person, leavers, rotation


def test_key_person_handover(vault, age_bin, tmp_path):
    v = vault
    rid = v.add_child("Yara Handover", key_person="ben")
    old = fill(v, rid, "old")
    before, handed = commits(v), v.head()
    r = v.ok("key-person", rid, "cara")
    t = one_commit(v, before, "record.key-person", "cara")
    only_heads_changed(v, (rid,))
    assert t["Confide-Record"] == rid and t["Confide-Previous"] == "ben"
    assert HISTORY_WORDS in r.stderr
    assert readable_ids(v, rid, v.keys["cara"]) == set(old.values())
    new = fill(v, rid, "new")
    assert readable_ids(v, rid, v.keys["ben"]) == {old["general"], new["general"]}  # still a practitioner
    stolen = stolen_keys(v, age_bin, v.keys["ben"], tmp_path / "stolen")
    fresh = blocks_at(v, "HEAD") - blocks_at(v, handed)
    opened = [b for b in fresh if age_opens(age_bin, b, [v.keys["ben"], *stolen])]
    general_new = record_doc(v.root, rid)
    new_general_block = next(e["data"] for e in general_new["entries"] if e["id"] == new["general"])
    assert opened == [new_general_block] or set(opened) <= {new_general_block} | {
        blk for k in general_new["keys"] if k["level"] == "general" for blk in k["wrapped"].values()}
    head = v.head()
    refused(v, v.run("key-person", rid, "dara", who="ben"), ExitCode.DENIED, head)
    refused(v, v.run("key-person", rid, "nobody"), ExitCode.NOT_FOUND, head)
    r = v.run("key-person", rid, "cara")
    assert r.exit_code == 0 and "already" in r.stderr and v.head() == head


def test_holder_remove_leaver(vault, age_bin, tmp_path):
    v = vault
    rid = v.add_child("Zed Leaver", key_person="ben")
    fill(v, rid, "old")
    before, removed_at = commits(v), v.head()
    r = v.ok("holder", "remove", "ben", "--reason", "left the setting 2026-11-30")
    one_commit(v, before, "holder.remove", "ben")
    only_heads_changed(v, (rid,), {"holders.yaml"})
    assert HISTORY_WORDS in r.stderr and "key person" in r.stderr
    holders = yamlio.load((v.root / "holders.yaml").read_text(), "h")["holders"]
    ben = next(h for h in holders if h["name"] == "ben")
    assert ben["status"] == "removed" and ben["removed_by"] == "amira"
    assert ben["removed_reason"]["for"] == ["amira"] and "left the setting" not in (v.root / "holders.yaml").read_text()
    listed = {r["holder"]: r for r in json.loads(v.ok("holder", "list", "--json").stdout)}
    assert listed["ben"]["removed_reason"] == "left the setting 2026-11-30"  # opened for the manager
    assert json.loads(v.ok("holder", "list", "--json", who="cara").stdout)[1]["removed_reason"] is None
    assert json.loads(v.ok("access", rid, "--json").stdout)["key_person"] is None
    fill(v, rid, "new")
    assert v.run("show", rid, who="ben").exit_code == int(ExitCode.IDENTITY)
    stolen = stolen_keys(v, age_bin, v.keys["ben"], tmp_path / "stolen")
    fresh = blocks_at(v, "HEAD") - blocks_at(v, removed_at)
    assert fresh and not [b for b in fresh if age_opens(age_bin, b, [v.keys["ben"], *stolen])]
    head = v.head()
    r = v.run("holder", "remove", "ben", "--reason", "again")
    assert r.exit_code == 0 and "already removed" in r.stderr and v.head() == head
    refused(v, v.run("holder", "remove", "cara", "--reason", "x", who="dara"), ExitCode.DENIED, head)
    refused(v, v.run("holder", "remove", "cara", "--reason", "  "), ExitCode.USAGE, head)
    refused(v, v.run("holder", "remove", "nobody", "--reason", "x"), ExitCode.NOT_FOUND, head)


def test_rotation(vault, age_bin, tmp_path):
    v = vault
    r1, r2 = v.add_child("Ada Rotate", key_person="cara"), v.add_child("Bo Rotate")
    old1, old2 = fill(v, r1, "old"), fill(v, r2, "old")
    could = {r1: readable_ids(v, r1, v.keys["cara"]), r2: readable_ids(v, r2, v.keys["cara"])}
    assert could[r1] == set(old1.values()) and could[r2] == {old2["general"]}
    new_id, new_rcpt = new_key(tmp_path, "cara2")
    head = v.head()
    refused(v, v.run("holder", "rotate", "cara", "--recipient", recipient_of(v.keys["ben"])), ExitCode.VAULT_STATE, head, "belongs to holder 'ben'")
    refused(v, v.run("holder", "rotate", "cara", "--recipient", recipient_of(v.keys["cara"])), ExitCode.USAGE, head, "already uses")
    refused(v, v.run("holder", "rotate", "cara", "--recipient", new_rcpt, who="dara"), ExitCode.DENIED, head)
    refused(v, v.run("holder", "rotate", "cara", "--recipient", "age1notakey"), ExitCode.USAGE, head)
    refused(v, v.run("holder", "rotate", "cara", "--recipient", new_rcpt, "--new-identity", str(v.keys["ben"])), ExitCode.USAGE, head, "not the secret half")
    before, rotated_at = commits(v), v.head()
    r = v.ok("holder", "rotate", "cara", "--recipient", new_rcpt)
    t = one_commit(v, before, "holder.rotate", "cara")
    only_heads_changed(v, (r1, r2), {"holders.yaml"})
    assert t["Confide-Records"] == "2" and r.last_line == v.head()
    assert ok_as(v, new_id, "whoami").stdout.split()[:2] == ["cara", "(practitioner)"]
    assert run_as(v, v.keys["cara"], "whoami").exit_code == int(ExitCode.IDENTITY)
    new1 = fill(v, r1, "new")
    assert readable_ids(v, r1, new_id) == could[r1] | set(new1.values())
    assert readable_ids(v, r2, new_id) == could[r2]
    stolen = stolen_keys(v, age_bin, v.keys["cara"], tmp_path / "stolen")
    fresh = blocks_at(v, "HEAD") - blocks_at(v, rotated_at)
    assert fresh and not [b for b in fresh if age_opens(age_bin, b, [v.keys["cara"], *stolen])]
    # The retired key can never come back, for her or anyone.
    head = v.head()
    refused(v, v.run("holder", "rotate", "cara", "--recipient", recipient_of(v.keys["cara"])), ExitCode.VAULT_STATE, head, "retired")
    refused(v, v.run("holder", "add", "carol", "--role", "practitioner", "--recipient", recipient_of(v.keys["cara"]),
                     "--signing-key", signing_pub(v.keys, "eve")), ExitCode.VAULT_STATE, head, "belongs to holder 'cara'")


# ---------------------------------------------------------------------------
# lock-outs


def test_every_lockout_refusal(vault, tmp_path):
    v = vault
    rid = v.add_child("Cy Lockout")
    # Every write warns while there is no recovery holder; adding one stops it. Recovery never acts.
    assert "no recovery holder" in v.ok("add", rid, "--level", "general", "--category", "note", "--text", "t").stderr
    v.ok("holder", "add", "vault-recovery", "--role", "recovery", "--recipient", recipient_of(v.keys["rec"]))
    assert "no recovery holder" not in v.ok("add", rid, "--level", "general", "--category", "note", "--text", "t").stderr
    head = v.head()
    refused(v, run_as(v, v.keys["rec"], "grant", "cara", "--child", rid, "--level", "general"), ExitCode.DENIED, head)
    refused(v, v.run("holder", "remove", "amira", "--reason", "x"), ExitCode.DENIED, head, "last active manager")
    refused(v, v.run("revoke", "amira", "--child", rid, "--level", "safeguarding"), ExitCode.DENIED, head, "last active manager")
    refused(v, v.run("revoke", "amira", "--all"), ExitCode.DENIED, head, "last active manager")
    new_id, new_rcpt = new_key(tmp_path, "amira2")
    refused(v, v.run("holder", "rotate", "amira", "--recipient", new_rcpt), ExitCode.DENIED, head, "last active manager", "--new-identity")
    # With proof that the new key is held, the last manager may rotate.
    before = commits(v)
    v.ok("holder", "rotate", "amira", "--recipient", new_rcpt, "--new-identity", str(new_id))
    one_commit(v, before, "holder.rotate", "amira")
    v.keys["amira"] = new_id
    v.keys["amira.sign"] = new_id  # the new ssh key reads and signs: the rotation replaced both
    # A second manager; then no level may be left without a reader who can grant it again.
    v.ok("holder", "add", "eve", "--role", "manager", "--recipient", recipient_of(v.keys["eve"]),
         "--signing-key", signing_pub(v.keys, "eve"))
    v.ok("revoke", "eve", "--child", rid)
    head = v.head()
    refused(v, v.run("revoke", "amira", "--child", rid, "--level", "general"), ExitCode.DENIED, head, "no reader who may grant")
    refused(v, v.run("holder", "remove", "amira", "--reason", "x"), ExitCode.DENIED, head, "no reader who may grant")
    # The DSL alone can still grant safeguarding, so that much is allowed...
    v.ok("revoke", "amira", "--child", rid, "--level", "safeguarding")
    # ...but not leaving safeguarding to nobody who may grant it.
    head = v.head()
    refused(v, v.run("revoke", "dara", "--child", rid, "--level", "safeguarding"), ExitCode.DENIED, head, "no reader")


# ---------------------------------------------------------------------------
# identities


def test_passphrase_protected_identities(vault, tmp_path, age_bin):
    v = vault
    rid = v.add_child("Di Pass")
    e = v.add_entry(rid, "for the protected key", "general")
    # confide keygen --passphrase: one SSH key (reads and signs), its secret half encrypted; the
    # passphrase from CONFIDE_PASSPHRASE_FILE
    kp, rcpt = new_key(tmp_path, "pat", passphrase="correct horse battery")
    assert rcpt.startswith("ssh-ed25519 ")
    assert subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(kp)], capture_output=True).returncode != 0
    opened = subprocess.run(["ssh-keygen", "-y", "-P", "correct horse battery", "-f", str(kp)], capture_output=True, text=True)
    assert opened.stdout.split()[:2] == rcpt.split()[:2]
    pf = {"CONFIDE_PASSPHRASE_FILE": str(tmp_path / "pat.pass")}
    v.ok("holder", "add", "pat", "--role", "practitioner", "--recipient", rcpt)
    assert e in {x["entry"] for x in json.loads(ok_as(v, kp, "show", rid, "--json", env=pf).stdout)["entries"] if x["readable"]}
    # confide keygen --age --passphrase: a native age identity under a passphrase (scrypt), for a key that
    # never signs, such as the offline recovery key
    ka, arcpt = new_key(tmp_path, "rescue", passphrase="a long offline phrase", age=True)
    assert arcpt.startswith("age1") and b"AGE-SECRET-KEY" not in ka.read_bytes()
    inner = pyrage.passphrase.decrypt(ka.read_bytes(), "a long offline phrase").decode()  # age's own scrypt format
    [sk] = [line for line in inner.splitlines() if line.startswith("AGE-SECRET-KEY-")]
    assert str(pyrage.x25519.Identity.from_str(sk).to_public()) == arcpt
    v.ok("holder", "add", "vault-recovery", "--role", "recovery", "--recipient", arcpt)
    rf = {"CONFIDE_PASSPHRASE_FILE": str(tmp_path / "rescue.pass")}
    assert e in {x["entry"] for x in json.loads(ok_as(v, ka, "show", rid, "--json", env=rf).stdout)["entries"] if x["readable"]}
    # As 'age -p' writes it (binary, scrypt stanza), made here with pyrage.passphrase; a DSL who writes
    # signs with a separate SSH key (CONFIDE_SIGNING_KEY), declared with --signing-key.
    secret = pyrage.x25519.Identity.generate()
    raw = tmp_path / "quin.age"
    raw.write_bytes(pyrage.passphrase.encrypt(f"# created by hand\n{secret}\n".encode(), "s3cret words"))
    os.chmod(raw, 0o600)
    qpf = tmp_path / "quin.pass"
    qpf.write_text("s3cret words\n")
    os.chmod(qpf, 0o600)
    qsign, qsign_pub = _ssh_key(tmp_path, "quin_sign", "")
    v.ok("holder", "add", "quin", "--role", "dsl", "--recipient", str(secret.to_public()), "--signing-key", qsign_pub)
    quin = {"CONFIDE_PASSPHRASE_FILE": str(qpf), "CONFIDE_SIGNING_KEY": str(qsign)}
    ok_as(v, raw, "grant", "cara", "--child", rid, "--level", "safeguarding", env=quin)
    assert trailers(v)["Confide-Holder"] == "quin"
    # Wrong passphrase, or none without a terminal: a clear error and an unchanged vault.
    bad = tmp_path / "bad.pass"
    bad.write_text("wrong\n")
    os.chmod(bad, 0o600)
    head = v.head()
    refused(v, run_as(v, raw, "revoke", "cara", "--child", rid, "--level", "safeguarding",
                      env=dict(quin, CONFIDE_PASSPHRASE_FILE=str(bad))),
            ExitCode.IDENTITY, head, "wrong passphrase")
    refused(v, run_as(v, kp, "add", rid, "--level", "general", "--category", "note", "--text", "x"),
            ExitCode.IDENTITY, head, "passphrase")
    refused(v, run_as(v, ka, "show", rid), ExitCode.IDENTITY, head, "passphrase")


def _ssh_key(tmp_path: Path, name: str, passphrase: str) -> tuple[Path, str]:
    assert shutil.which("ssh-keygen"), "ssh-keygen is needed (apt-get install openssh-client); the signing tests need it too"
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", str(path)], check=True)
    return path, (tmp_path / f"{name}.pub").read_text().strip()


def _agent_with(tmp_path: Path, key: Path, passphrase_file: Path) -> tuple[subprocess.Popen, Path]:
    """A private ssh-agent (foreground, on its own socket) holding ``key``, unlocked with the passphrase in a file."""
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not sock.exists():
            assert agent.poll() is None, "ssh-agent did not start"
            time.sleep(0.01)
        askpass = tmp_path / "askpass.sh"
        askpass.write_text(f"#!/bin/sh\ncat '{passphrase_file}'\n")
        os.chmod(askpass, 0o700)
        env = dict(os.environ, SSH_AUTH_SOCK=str(sock), SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        subprocess.run(["ssh-add", str(key)], env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True)
    except BaseException:
        agent.terminate()
        agent.wait()
        raise
    return agent, sock


def test_ssh_ed25519_identities(vault, tmp_path, age_bin, monkeypatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # no agent but the one this test starts
    v = vault
    rid = v.add_child("Eli Ssh")
    plain, plain_pub = _ssh_key(tmp_path, "sol_ed25519", "")
    locked, locked_pub = _ssh_key(tmp_path, "tia_ed25519", "ssh pass phrase")
    v.ok("holder", "add", "sol", "--role", "practitioner", "--recipient", plain_pub)
    v.ok("holder", "add", "tia", "--role", "manager", "--recipient", locked_pub)
    pf = tmp_path / "tia.pass"
    pf.write_text("ssh pass phrase\n")
    os.chmod(pf, 0o600)
    tia = {"CONFIDE_PASSPHRASE_FILE": str(pf)}
    assert ok_as(v, plain, "whoami").last_line == f"sol (practitioner) {' '.join(plain_pub.split()[:2])}"
    assert ok_as(v, locked, "whoami", env=tia).last_line.startswith("tia (manager) ssh-ed25519 ")
    e1 = v.add_entry(rid, "general note", "general")
    e2 = ok_as(v, plain, "add", rid, "--level", "confidential", "--category", "concern", "--text", "seen by sol").last_line
    assert readable_ids(v, rid, plain) == {e1}
    data = json.loads(ok_as(v, locked, "show", rid, "--json", env=tia).stdout)
    assert {x["entry"] for x in data["entries"] if x["readable"]} == {e1, e2}
    # The passphrase-protected SSH manager reads with it, but git cannot ask for the passphrase to sign:
    # confide says so before writing anything, and how to fix it...
    head = v.head()
    refused(v, run_as(v, locked, "grant", "sol", "--child", rid, "--level", "confidential", env=tia),
            ExitCode.IDENTITY, head, "protected by a passphrase", "ssh-add")
    # ...and with the key loaded into ssh-agent, as the hint says, she grants: the plain SSH key now reads the concern.
    agent, sock = _agent_with(tmp_path, locked, pf)
    try:
        ok_as(v, locked, "grant", "sol", "--child", rid, "--level", "confidential", env=dict(tia, SSH_AUTH_SOCK=str(sock)))
    finally:
        agent.terminate()
        agent.wait()
    assert trailers(v)["Confide-Holder"] == "tia" and trailers(v)["Confide-Action"] == "access.grant"
    assert json.loads(v.ok("verify", "--json").stdout)["findings"] == []  # signed with tia's declared key
    assert readable_ids(v, rid, plain) == {e1, e2}
    # And plain age reads it with the SSH key alone: unwrap the level key, then the entry.
    env_data = record_doc(v.root, rid)
    key = next(k for k in env_data["keys"] if k["level"] == "confidential")
    level = subprocess.run([age_bin, "-d", "-i", str(plain)], input=key["wrapped"]["sol"].encode(), capture_output=True, check=True).stdout
    lf = tmp_path / "level.txt"
    lf.write_bytes(level)
    os.chmod(lf, 0o600)
    block = next(x["data"] for x in env_data["entries"] if x["id"] == e2)
    payload = json.loads(subprocess.run([age_bin, "-d", "-i", str(lf)], input=block.encode(), capture_output=True, check=True).stdout)
    assert payload["text"] == "seen by sol"
    bad = tmp_path / "bad.pass"
    bad.write_text("nope\n")
    os.chmod(bad, 0o600)
    head = v.head()
    refused(v, run_as(v, locked, "revoke", "sol", "--child", rid, env={"CONFIDE_PASSPHRASE_FILE": str(bad)}),
            ExitCode.IDENTITY, head, "wrong passphrase")


# ---------------------------------------------------------------------------
# reports, help, README


def test_access_reports(vault):
    v = vault
    r1, r2 = v.add_child("Fay Report", key_person="cara"), v.add_child("Gus Report")
    v.ok("holder", "add", "eve", "--role", "auditor", "--recipient", recipient_of(v.keys["eve"]))
    v.ok("grant", "eve", "--child", r2, "--level", "confidential", "--until", "2026-12-31")
    v.ok("revoke", "ben", "--child", r2, "--level", "general")
    rec = json.loads(v.run("access", r2, "--json").stdout)  # needs no identity, but works with one
    assert rec["record"] == r2 and [lv["level"] for lv in rec["levels"]] == ["general", "confidential", "safeguarding"]
    gen = rec["levels"][0]
    assert gen["generation"] == 2 and "ben" not in {x["holder"] for x in gen["readers"]}
    assert gen["revoked"][0]["holder"] == "ben" and gen["revoked"][0]["revoked_by"] == "amira"
    eve = next(x for x in rec["levels"][1]["readers"] if x["holder"] == "eve")
    assert eve["until"] == "2026-12-31" and eve["reasons"] == ["grant until 2026-12-31"]
    cara = json.loads(v.ok("access", "--holder", "cara", "--json").stdout)
    assert cara["role"] == "practitioner"
    by = {r["record"]: r for r in cara["records"]}
    assert by[r1]["is_key_person"] is True and [lv["level"] for lv in by[r1]["levels"]] == ["general", "confidential", "safeguarding"]
    assert [lv["level"] for lv in by[r2]["levels"]] == ["general"]
    assert "key person" in by[r1]["levels"][1]["reasons"]
    ben = json.loads(v.ok("access", "--holder", "ben", "--json").stdout)
    assert [r["record"] for r in ben["records"]] == [r1]
    plain = run_cli(["access", r1], env={"CONFIDE_VAULT": str(v.root)})
    assert plain.exit_code == 0 and plain.stdout.splitlines()[0].split("\t") == ["level", "generation", "holder", "role", "why", "until"]
    assert v.run("access").exit_code == int(ExitCode.USAGE)
    assert v.run("access", r1, "--holder", "ben").exit_code == int(ExitCode.USAGE)
    assert v.run("access", "--holder", "nobody").exit_code == int(ExitCode.NOT_FOUND)
    assert v.run("access", "c-00000000").exit_code == int(ExitCode.NOT_FOUND)


@pytest.mark.parametrize("command", [["revoke"], ["holder", "remove"], ["key-person"], ["holder", "rotate"]])
def test_help_says_what_history_keeps(command):
    r = run_cli([*command, "--help"])
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "history" in text and "purge" in text
    if command != ["holder", "rotate"]:
        assert "can still read what they could read before" in text


COMMANDS = {
    "grant": ["--level", "--child", "--all", "--until", "--parent-permission", "--vault", "--identity"],
    "revoke": ["--level", "--child", "--all", "--vault", "--identity"],
    "key-person": ["--vault", "--identity"],
    "holder remove": ["--reason", "--vault", "--identity"],
    "holder rotate": ["--recipient", "--new-identity", "--vault", "--identity"],
    "access": ["--holder", "--vault", "--json"],
    "expire": ["--vault", "--identity"],
}


def test_readme_documents_access_commands():
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    for cmd, options in COMMANDS.items():
        m = re.search(rf"^### `?confide {re.escape(cmd)}`?\s*$(.*?)(?=^##)", text + "\n##", re.M | re.S)
        assert m, f"README has no '### confide {cmd}' section"
        for opt in options:
            assert opt in m.group(1), f"README section 'confide {cmd}' does not mention {opt}"
    assert "can still read what they could read before" in text


# ---------------------------------------------------------------------------
# bulk paths: forked workers, git blobs stored from the workers, batched writes


def _many_records(v, n: int, entries: int) -> list[str]:
    """``n`` records of ``entries`` entries each, made by the benchmark builder (the envelope functions the
    commands use, real age), each committed by hand in a signed commit by amira, who wrote them all."""
    import random
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import synth
    from vault_cli.formats.policyfiles import holders_from_bytes, settings_from_bytes
    from vault_cli.model import ids

    settings = settings_from_bytes((v.root / "confide.yaml").read_bytes())
    holders = holders_from_bytes((v.root / "holders.yaml").read_bytes())
    start = int(datetime.datetime.fromisoformat(SUITE_NOW).timestamp() * 1000) - 30 * 86_400_000
    rids = sorted({ids.new_record_id() for _ in range(n)})
    assert len(rids) == n
    for i, rid in enumerate(rids):
        files = synth.make_record(v.root, settings, holders, rid, key_person=("ben", "cara")[i % 2], entries=entries,
                                  rng=random.Random(i), start_ms=start, span_ms=20 * 86_400_000, author_pool=["amira"])
        for rel, data in files.items():
            (v.root / rel).write_bytes(data)
        v.commit_as("amira", f"create record {rid}", action="record.create", trailers={"Confide-Record": rid},
                    paths=sorted(files))
    return rids


def test_bulk_commands_on_many_records(vault, tmp_path, monkeypatch):
    """70 records (over the fork threshold): revoke, grant and rotate across all of them, then git checks."""
    monkeypatch.setenv("CONFIDE_WORKERS", "2")
    v = vault
    records = _many_records(v, 70, 2)
    assert json.loads(v.ok("verify", "--json").stdout)["findings"] == []  # a vault every command accepts
    env = {"CONFIDE_VAULT": str(v.root)}
    ok, git = v.ok, v.git
    git("config", "fastimport.unpackLimit", "0")  # a pack even for 70 heads (git's default keeps under 100 loose)

    ok("revoke", "ben", "--all")
    assert json.loads(ok("access", "--holder", "ben", "--json").stdout)["records"] == []
    rid = records[0]
    assert not ok("show", rid, "--json", who="ben").stdout.count('"readable": true')
    ivy, ivy_rcpt = new_key(tmp_path, "ivy")
    ok("holder", "add", "ivy", "--role", "auditor", "--recipient", ivy_rcpt)
    until = (environment.config().clock.today() + datetime.timedelta(days=40)).isoformat()  # the suite's calendar (CONFIDE_NOW)
    ok("grant", "ivy", "--all", "--level", "confidential", "--until", until)
    new_cara, new_rcpt = new_key(tmp_path, "cara2")
    ok("holder", "rotate", "cara", "--recipient", new_rcpt)
    assert git("status", "--porcelain") == ""
    git("fsck", "--strict", "--no-dangling")
    # the bulk commands had git store their heads as packs (git fast-import), before committing them
    packed = set()
    for idx in (v.root / ".git" / "objects" / "pack").glob("*.idx"):
        git("verify-pack", str(idx))
        with open(idx, "rb") as fh:
            shown = subprocess.run(["git", "-C", str(v.root), "show-index"], stdin=fh, check=True,
                                   capture_output=True, text=True).stdout
        packed |= {line.split()[1] for line in shown.splitlines()}
    assert all(git("rev-parse", f"HEAD:records/{r}.yaml").strip() in packed for r in records)
    for r in records[:5]:
        assert git("show", f"HEAD:records/{r}.yaml") == head_file(v.root, r).read_text()
        assert git("show", f"HEAD:records/{r}.entries.yaml") == entries_file(v.root, r).read_text()
    # none of the bulk access commands touched an entries file, in any of their commits
    log = git("log", "--format=", "--name-only", "-4").split()
    assert log and all(p.endswith(".yaml") and not p.endswith(".entries.yaml") for p in log if p.startswith("records/")), log
    assert len({p for p in log if p.startswith("records/")}) == 70
    rows = json.loads(run_cli(["access", "--holder", "ivy", "--json"], env=env).stdout)["records"]
    assert len(rows) == 70 and all([lv["level"] for lv in r["levels"]] == ["confidential"] for r in rows)
    data = json.loads(run_cli(["show", rid, "--json"], identity=ivy, env=env).stdout)
    assert {e["level"] for e in data["entries"] if e["readable"]} <= {"confidential"}


def test_fast_head_writer_matches_yaml(vault):
    from vault_cli.formats import canonical

    v = vault
    rid = v.add_child("Hal Heads", key_person="ben")
    v.ok("holder", "add", "eve", "--role", "auditor", "--recipient", recipient_of(v.keys["eve"]))
    v.ok("grant", "eve", "--child", rid, "--level", "general", "--until", "2026-12-01")
    v.ok("revoke", "cara", "--child", rid)
    raw = head_file(v.root, rid).read_bytes()
    head = yamlio.load(raw, "h")
    assert head["revoked"] and head["grants"]
    assert canonical.dump(head) == yamlio.dump(head) == raw.decode()
    for odd in ({"a": "yes"}, {"a": "x\ny"}, {"a": " x\n"}, {"a": "12"}, {"a": True}, {"a": 1.5}, {"a": "a: b"},
                {"a": [[1]]}, {"a": "x\n\n"}, {"null": 1}):
        assert canonical.dump(odd) is None
    plain = {"list": [], "map": {}, "date": "2026-11-24", "nothing": None, "count": 3, "rows": [{"kid": "k-1abc"}]}
    assert canonical.dump(plain) == yamlio.dump(plain)


def test_grant_pulled_from_another_clone_expires_at_the_next_write(vault, monkeypatch, tmp_path):
    """HEAD moved by a pull: the expiry cache looks at the records that changed, and misses nothing."""
    v = vault
    v.ok("holder", "add", "eve", "--role", "auditor", "--recipient", recipient_of(v.keys["eve"]))
    r1, r2 = v.add_child("Yuki Pulled"), v.add_child("Zed Pulled")
    v.add_entry(r2, "a write that leaves a fresh cache with no grant in it", "general", "note")
    cache = json.loads((v.root / ".git" / "confide-expiry.json").read_text())
    assert cache == {"head": v.head(), "earliest": None, "rekey": []}
    other = tmp_path / "other-clone"
    anchor = json.loads(v.ok("trust", "--json").stdout)["anchor"]
    r = run_cli(["clone", str(v.root), str(other), "--trust", anchor])
    assert r.exit_code == 0, r.stderr
    r = run_cli(["grant", "eve", "--child", r1, "--level", "confidential", "--until", "2026-11-30"],
                identity=v.keys["amira"], env={"CONFIDE_VAULT": str(other), "CONFIDE_SIGNING_KEY": str(v.keys["amira.sign"])})
    assert r.exit_code == 0, r.stderr
    granted = r.last_line
    verified = v.head()
    v.git("pull", "-q", "--ff-only", str(other), "main")  # plain git: the next command verifies what it brought
    assert v.head() == granted and json.loads((v.root / ".git" / "confide" / "trust.json").read_text())["verified"] == verified
    monkeypatch.setenv("CONFIDE_NOW", "2026-12-01T09:00:00+00:00")
    before = commits(v)
    v.add_entry(r2, "the first write after the pull", "general", "note", "ben")
    assert commits(v) == before + 2
    t = trailers(v, "HEAD~1")
    assert t["Confide-Action"] == "access.expire" and t["Confide-Subject"] == "eve"
    assert v.git("show", "--name-only", "--format=", "HEAD~1").split() == [f"records/{r1}.yaml"]
    assert v.git("rev-parse", "HEAD~2").strip() == granted
