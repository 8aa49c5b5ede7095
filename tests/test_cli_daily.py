"""Issue 2's daily commands, end to end through the CLI.

Real age keys, real git repositories, the real CLI through typer's test runner:
exact exit codes, the lines scripts rely on (ids as the last stdout line, JSON
shapes), one commit per change with parseable trailers, and what each role can
read.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pyrage
import pytest
from conftest import entries_file, head_file, new_key_public, recipient_of, record_doc, run_cli, signing_pub

from vault_cli.adapters import crypto
from vault_cli.errors import ExitCode
from vault_cli.formats import envelope, yamlio

RECORD_ID = re.compile(r"^c-[0-9a-hjkmnp-tv-z]{8}$")
ENTRY_ID = re.compile(r"^e-[0-9a-hjkmnp-tv-z]{14}$")
MARK_ID = re.compile(r"^m-[0-9a-hjkmnp-tv-z]{14}$")
READABLE_KEYS = {
    "entry", "level", "readable", "category", "text", "at", "recorded_at", "author", "parent_view",
    "parents_informed", "parents_not_informed", "third_parties", "corrects", "details", "markings",
}
SEALED_KEYS = READABLE_KEYS  # a sealed entry has every key, null but for its id, level and readable


def sealed_entry(eid: str, level: str) -> dict:
    """A sealed entry as show --json gives it: every field null but its id, level and readable."""
    return {**dict.fromkeys(READABLE_KEYS), "entry": eid, "level": level, "readable": False}


# ---------------------------------------------------------------------------
# helpers

def commit_count(v) -> int:
    return int(v.git("rev-list", "--count", "HEAD").strip())


def trailers(v, rev: str = "HEAD") -> dict[str, str]:
    body = v.git("log", "-1", "--format=%B", rev)
    out = {}
    for line in body.splitlines():
        m = re.match(r"^(Confide-[A-Za-z-]+): (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def author(v, rev: str = "HEAD") -> str:
    return v.git("log", "-1", "--format=%an|%cn", rev).strip()


def one_commit(v, before: int, *, action: str, holder: str, record: str | None = None, entry: str | None = None) -> dict:
    """Exactly one new commit, authored as the holder, with the expected trailers; a clean tree."""
    assert commit_count(v) == before + 1
    assert v.is_clean()
    t = trailers(v)
    assert t["Confide-Action"] == action
    assert t["Confide-Holder"] == holder
    if record is not None:
        assert t["Confide-Record"] == record
    if entry is not None:
        assert t["Confide-Entry"] == entry
    else:
        assert "Confide-Entry" not in t
    assert author(v) == f"{holder}|{holder}"
    return t


def show(v, rid: str, who: str = "amira") -> dict:
    return json.loads(v.ok("show", rid, "--json", who=who).stdout)


def entry_of(data: dict, eid: str) -> dict:
    [e] = [e for e in data["entries"] if e["entry"] == eid]
    return e


def record_yaml(v, rid: str) -> dict:
    """The record's head and entries files, read into one dict."""
    return record_doc(v.root, rid)


def key_level(doc: dict, key_id: str) -> str:
    [k] = [k for k in doc["keys"] if k["id"] == key_id]
    return k["level"]


def signed(keys, name: str) -> list[str]:
    """'holder add' / 'init' options declaring a test holder's fixed SSH signing key (their age identity never signs)."""
    return ["--signing-key", signing_pub(keys, name)]


def signing_env(keys, name: str) -> dict:
    """The environment that lets a command sign as a test holder whose identity is an age key."""
    return {"CONFIDE_SIGNING_KEY": str(keys[name + ".sign"])}


def fingerprint(public: str) -> str:
    """The SHA256 fingerprint of an SSH public key, as ssh-keygen prints it."""
    out = subprocess.run(["ssh-keygen", "-l", "-f", "-"], input=public + "\n", check=True, capture_output=True, text=True).stdout
    return out.split()[1]


def signature(root: Path, rev: str = "HEAD") -> tuple[str, str]:
    """git's own verdict on a commit's signature, with the vault's derived allowed_signers: (%G?, signer)."""
    out = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%G?|%GS", rev], check=True, capture_output=True, text=True).stdout
    status, _, signer = out.strip().partition("|")
    return status, signer


def trust_state(root: Path) -> dict:
    return json.loads((root / ".git" / "confide" / "trust.json").read_text())


# ---------------------------------------------------------------------------
# keygen


def test_keygen_writes_one_private_ssh_key_that_reads_and_signs(tmp_path):
    out = tmp_path / "me.key"
    r = run_cli(["keygen", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN OPENSSH PRIVATE KEY-----" and lines[-1] == "-----END OPENSSH PRIVATE KEY-----"
    public = r.last_line
    assert re.fullmatch(r"ssh-ed25519 AAAA[0-9A-Za-z+/]+=*", public)
    assert new_key_public(out) == public  # ssh-keygen derives the very line that was printed
    # no part of the private key is ever printed
    for line in lines[1:-1]:
        assert line not in r.stdout + r.stderr
    assert "PRIVATE KEY" not in r.stdout + r.stderr
    assert str(out) in r.stderr

    # it reads: a block for the printed line opens with the file, as an identity
    [ident] = crypto.load_identity_file(str(out))
    assert ident.recipient == public
    assert crypto.decrypt(crypto.encrypt(b"only for me", public), ident) == b"only for me"
    # and it signs: ssh-keygen (what git runs) signs with it, and the signature verifies against the printed line
    msg = tmp_path / "msg"
    msg.write_bytes(b"a commit")
    subprocess.run(["ssh-keygen", "-Y", "sign", "-q", "-f", str(out), "-n", "git", str(msg)], check=True, capture_output=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"me {public}\n")
    v = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "me", "-n", "git", "-s", f"{msg}.sig"],
                       input=b"a commit", capture_output=True)
    assert v.returncode == 0, v.stderr

    # never overwrites
    r2 = run_cli(["keygen", "--out", str(out)])
    assert r2.exit_code == ExitCode.VAULT_STATE
    assert r2.stderr.startswith("confide: error:") and "already exists" in r2.stderr
    assert "confide: hint:" in r2.stderr
    assert out.read_text() == text
    assert r2.stdout == ""


def test_keygen_age_writes_a_native_age_identity_and_prints_its_recipient(tmp_path):
    """--age: an identity that reads and never signs (an offline recovery key)."""
    out = tmp_path / "rec.txt"
    r = run_cli(["keygen", "--age", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    secret = [line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-1")]
    assert len(secret) == 1
    recipient = r.last_line
    assert recipient.startswith("age1")
    assert str(pyrage.x25519.Identity.from_str(secret[0]).to_public()) == recipient
    assert recipient_of(out) == recipient
    assert "AGE-SECRET-KEY" not in r.stdout + r.stderr
    assert "PRIVATE KEY" not in text  # no SSH key: nothing that could sign
    assert str(out) in r.stderr and "for signing" not in r.stderr

    r2 = run_cli(["keygen", "--age", "--out", str(out)])
    assert r2.exit_code == ExitCode.VAULT_STATE and "already exists" in r2.stderr
    assert out.read_text() == text and r2.stdout == ""


def test_keygen_default_location_is_under_xdg_config_home(isolated_env):
    r = run_cli(["keygen"])
    assert r.exit_code == 0, r.stderr
    path = isolated_env / ".config" / "confide" / "identity.txt"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = new_key_public(path)
    assert r.last_line == public
    # and that key is then found with no --identity, no CONFIDE_IDENTITY and no CONFIDE_SIGNING_KEY:
    # it is the first manager's recipient and signing key, and signs the vault's first commit
    vault = isolated_env / "v"
    r = run_cli(["init", str(vault), "--name", "N", "--holder", "amira"])
    assert r.exit_code == 0, r.stderr
    [h] = yamlio.load((vault / "holders.yaml").read_bytes(), "holders.yaml")["holders"]
    assert h["recipient"] == public and h["signing_key"] == public
    assert signature(vault) == ("G", "amira")
    # the same key signs later commands too
    rid = run_cli(["child", "add", "--name", "Ada Marker", "--vault", str(vault)])
    assert rid.exit_code == 0, rid.stderr
    assert signature(vault) == ("G", "amira")
    assert run_cli(["keygen"]).exit_code == ExitCode.VAULT_STATE


def test_keygen_into_a_missing_folder_is_refused(tmp_path):
    r = run_cli(["keygen", "--out", str(tmp_path / "nope" / "id.txt")])
    assert r.exit_code == ExitCode.USAGE
    assert not (tmp_path / "nope").exists()


# ---------------------------------------------------------------------------
# init


def test_init_creates_a_vault_in_one_commit(tmp_path, keys):
    root = tmp_path / "v"
    r = run_cli(["init", str(root), "--name", "Sunny Days Nursery", "--holder", "amira", *signed(keys, "amira")],
                identity=keys["amira"], env=signing_env(keys, "amira"))
    assert r.exit_code == 0, r.stderr
    assert r.last_line == str(root.resolve())
    for f in ("confide.yaml", "holders.yaml", ".gitattributes"):
        assert (root / f).is_file(), f
    assert (root / "records").is_dir()
    assert (root / ".git").is_dir()

    def git(*a):
        return subprocess.run(["git", "-C", str(root), *a], check=True, capture_output=True, text=True).stdout

    assert git("rev-list", "--count", "HEAD").strip() == "1"
    assert git("status", "--porcelain", "--untracked-files=all") == ""
    # allowed_signers is not tracked: each clone derives it from the verified holders
    assert git("ls-files").split() == [".gitattributes", ".gitignore", "confide.yaml", "holders.yaml", "records/.gitkeep"]
    assert "Sunny Days Nursery" in (root / "confide.yaml").read_text()
    settings = yamlio.load((root / "confide.yaml").read_bytes(), "confide.yaml")
    assert settings["signing"] == "required"
    assert "records/*.yaml merge=confide" in (root / ".gitattributes").read_text()
    # both files of a record go through confide's merge driver: the head and the entries file
    for f in ("records/c-7f3k9m2q.yaml", "records/c-7f3k9m2q.entries.yaml"):
        assert git("check-attr", "merge", "--", f).strip() == f"{f}: merge: confide"
    holders = yamlio.load((root / "holders.yaml").read_bytes(), "holders.yaml")["holders"]
    assert [(h["name"], h["role"], h["status"]) for h in holders] == [("amira", "manager", "active")]
    # the recipient defaults to the identity's; the signing key is the one declared
    assert holders[0]["recipient"] == recipient_of(keys["amira"])
    assert holders[0]["signing_key"] == signing_pub(keys, "amira")
    body = git("log", "-1", "--format=%B")
    assert "Confide-Action: vault.init" in body and "Confide-Holder: amira" in body
    assert git("log", "-1", "--format=%an").strip() == "amira"
    # the first commit is signed by the founding manager, and plain git checks it against the derived signers
    assert signature(root) == ("G", "amira")
    assert git("config", "--get", "gpg.ssh.allowedSignersFile").strip() == str(root.resolve() / ".git" / "confide" / "allowed_signers")
    # the vault's identity (first commit @ founding key) is printed, and this clone trusts it, verified to HEAD
    head = git("rev-parse", "HEAD").strip()
    identity = f"{head}@{fingerprint(signing_pub(keys, 'amira'))}"
    assert f"the vault's identity is {identity}" in r.stderr
    assert identity not in r.stdout
    assert trust_state(root)["anchor"] == identity and trust_state(root)["verified"] == head
    assert json.loads(run_cli(["trust", "--json", "--vault", str(root)]).stdout) == {"anchor": identity, "last_verified": head}

    # a second init there is refused, and changes nothing
    head = git("rev-parse", "HEAD")
    before = (root / "confide.yaml").read_bytes()
    r2 = run_cli(["init", str(root), "--name", "Other", "--holder", "amira", *signed(keys, "amira")],
                 identity=keys["amira"], env=signing_env(keys, "amira"))
    assert r2.exit_code == ExitCode.VAULT_STATE
    assert r2.stderr.startswith("confide: error:") and "already a confide vault" in r2.stderr
    assert git("rev-parse", "HEAD") == head
    assert (root / "confide.yaml").read_bytes() == before


def test_init_without_a_signing_key_is_refused_unless_unsigned(tmp_path, keys):
    """An age identity cannot sign: init needs --signing-key, or --unsigned for an experiment (said in confide.yaml)."""
    root = tmp_path / "v"
    r = run_cli(["init", str(root), "--name", "N", "--holder", "amira"], identity=keys["amira"])
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.startswith("confide: error: a vault requires signed commits") and "--signing-key" in r.stderr
    assert "confide keygen" in r.stderr and "--unsigned" in r.stderr
    assert not root.exists() and r.stdout == ""

    r = run_cli(["init", str(root), "--name", "N", "--holder", "amira", "--unsigned"], identity=keys["amira"])
    assert r.exit_code == 0, r.stderr
    assert "does not require signatures" in r.stderr
    assert yamlio.load((root / "confide.yaml").read_bytes(), "confide.yaml")["signing"] == "unsigned"
    [h] = yamlio.load((root / "holders.yaml").read_bytes(), "holders.yaml")["holders"]
    assert h["signing_key"] is None
    assert signature(root) == ("N", "")
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    # no key signed the first commit, so the identity is the commit alone
    assert f"the vault's identity is {head}\n" in r.stderr and trust_state(root)["anchor"] == head
    # and its commands write without signing
    w = run_cli(["child", "add", "--name", "Ada Marker", "--vault", str(root)], identity=keys["amira"])
    assert w.exit_code == 0, w.stderr
    assert signature(root) == ("N", "")
    assert trust_state(root)["verified"] != head


def test_init_with_the_sha256_object_format(tmp_path, keys):
    root = tmp_path / "v"
    r = run_cli(["init", str(root), "--name", "N", "--holder", "amira", "--object-format", "sha256", *signed(keys, "amira")],
                identity=keys["amira"], env=signing_env(keys, "amira"))
    assert r.exit_code == 0, r.stderr

    def git(*a):
        return subprocess.run(["git", "-C", str(root), *a], check=True, capture_output=True, text=True).stdout.strip()

    assert git("rev-parse", "--show-object-format") == "sha256"
    head = git("rev-parse", "HEAD")
    assert len(head) == 64
    assert f"the vault's identity is {head}@{fingerprint(signing_pub(keys, 'amira'))}" in r.stderr
    assert signature(root) == ("G", "amira")
    v = run_cli(["child", "add", "--name", "Ada Marker", "--vault", str(root)], identity=keys["amira"], env=signing_env(keys, "amira"))
    assert v.exit_code == 0, v.stderr
    assert signature(root) == ("G", "amira")
    ok = run_cli(["verify", "--vault", str(root)], identity=keys["amira"])
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    # an unknown format is a usage error that creates nothing
    r = run_cli(["init", str(tmp_path / "w"), "--name", "N", "--holder", "amira", "--object-format", "md5", *signed(keys, "amira")],
                identity=keys["amira"], env=signing_env(keys, "amira"))
    assert r.exit_code == ExitCode.USAGE and "sha1 or sha256" in r.stderr
    assert not (tmp_path / "w").exists()


def test_init_with_an_explicit_recipient_needs_no_identity(tmp_path, keys):
    # an age recipient, with the signing key declared and its private half given: no identity file anywhere
    root = tmp_path / "v"
    rcpt = recipient_of(keys["dara"])
    r = run_cli(["init", str(root), "--name", "N", "--holder", "dara", "--recipient", rcpt, *signed(keys, "dara")],
                env=signing_env(keys, "dara"))
    assert r.exit_code == 0, r.stderr
    holders = yamlio.load((root / "holders.yaml").read_bytes(), "holders.yaml")["holders"]
    assert holders[0]["recipient"] == rcpt and holders[0]["name"] == "dara"
    assert holders[0]["signing_key"] == signing_pub(keys, "dara")
    assert signature(root) == ("G", "dara")
    # an ssh-ed25519 recipient is also the signing key
    root2 = tmp_path / "w"
    ssh = signing_pub(keys, "dara")
    r = run_cli(["init", str(root2), "--name", "N", "--holder", "dara", "--recipient", ssh], env=signing_env(keys, "dara"))
    assert r.exit_code == 0, r.stderr
    [h] = yamlio.load((root2 / "holders.yaml").read_bytes(), "holders.yaml")["holders"]
    assert h["recipient"] == ssh and h["signing_key"] == ssh
    assert signature(root2) == ("G", "dara")


def test_init_refuses_a_folder_that_is_not_empty(tmp_path, keys):
    root = tmp_path / "v"
    root.mkdir()
    (root / "notes.txt").write_text("x")
    r = run_cli(["init", str(root), "--name", "N", "--holder", "amira", *signed(keys, "amira")],
                identity=keys["amira"], env=signing_env(keys, "amira"))
    assert r.exit_code == ExitCode.VAULT_STATE
    assert not (root / ".git").exists() and not (root / "confide.yaml").exists()


# ---------------------------------------------------------------------------
# holders


def test_holder_list_and_json_shape(vault, keys):
    r = vault.ok("holder", "list", "--json")
    rows = json.loads(r.stdout)
    assert [(h["holder"], h["role"]) for h in rows] == [
        ("amira", "manager"), ("ben", "practitioner"), ("cara", "practitioner"), ("dara", "dsl"),
    ]
    for h in rows:
        assert {"holder", "role", "recipient", "signing_key", "status", "added", "added_by"} <= set(h)
        assert h["status"] == "active"
        assert h["recipient"] == recipient_of(keys[h["holder"]])
        assert h["signing_key"] == signing_pub(keys, h["holder"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", h["added"])
    assert rows[1]["added_by"] == "amira"
    plain = vault.ok("holder", "list").stdout.splitlines()
    assert plain[0].split("\t") == ["holder", "role", "status", "added", "recipient"]
    assert plain[1].split("\t")[:3] == ["amira", "manager", "active"]
    # holder list needs no key at all
    r = run_cli(["holder", "list", "--json"], env={"CONFIDE_VAULT": str(vault.root)})
    assert r.exit_code == 0 and json.loads(r.stdout) == rows


def test_holder_add_is_one_commit_by_a_manager(vault, keys):
    n = commit_count(vault)
    r = vault.ok("holder", "add", "eve", "--role", "practitioner", "--recipient", recipient_of(keys["eve"]), *signed(keys, "eve"))
    assert r.last_line == "eve"
    t = one_commit(vault, n, action="holder.add", holder="amira")
    assert t["Confide-Subject"] == "eve"
    assert signature(vault.root) == ("G", "amira")
    [eve] = [h for h in json.loads(vault.ok("holder", "list", "--json").stdout) if h["holder"] == "eve"]
    assert eve["recipient"] == recipient_of(keys["eve"]) and eve["signing_key"] == signing_pub(keys, "eve")
    # the new holder signs their own commits with the declared key
    n = commit_count(vault)
    rid = vault.ok("child", "add", "--name", "Ada Marker", who="eve").last_line
    one_commit(vault, n, action="record.create", holder="eve", record=rid)
    assert signature(vault.root) == ("G", "eve")


def test_holder_add_of_a_writer_needs_a_signing_key(vault, keys, tmp_path):
    """In a vault that requires signatures, a role that writes needs a signing key: the key 'confide keygen' made
    (one ssh-ed25519 line that reads and signs), or --signing-key beside an age1 recipient. A role that never
    writes does not."""
    head = vault.head()
    r = vault.run("holder", "add", "eve", "--role", "practitioner", "--recipient", recipient_of(keys["eve"]))
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.startswith("confide: error: this vault requires signed commits, and a practitioner writes: 'eve' needs a signing key")
    assert "--signing-key" in r.stderr and "confide: hint:" in r.stderr
    assert vault.head() == head and vault.is_clean()

    # an auditor never writes: an age recipient alone will do
    n = commit_count(vault)
    vault.ok("holder", "add", "aud", "--role", "auditor", "--recipient", recipient_of(keys["eve"]))
    one_commit(vault, n, action="holder.add", holder="amira")

    # --key is --recipient; an ssh-ed25519 line is the holder's recipient and signing key at once
    path = tmp_path / "fay.key"
    made = run_cli(["keygen", "--out", str(path)])
    assert made.exit_code == 0, made.stderr
    n = commit_count(vault)
    vault.ok("holder", "add", "fay", "--role", "practitioner", "--key", made.last_line + " fay@laptop")
    one_commit(vault, n, action="holder.add", holder="amira")
    [fay] = [h for h in json.loads(vault.ok("holder", "list", "--json").stdout) if h["holder"] == "fay"]
    assert fay["recipient"] == fay["signing_key"] == made.last_line  # the comment is dropped
    # fay's one key file reads and signs: no CONFIDE_SIGNING_KEY, no ssh-agent
    rid = run_cli(["child", "add", "--name", "Bo Marker"], identity=path, env={"CONFIDE_VAULT": str(vault.root)})
    assert rid.exit_code == 0, rid.stderr
    one_commit(vault, n + 1, action="record.create", holder="fay", record=rid.last_line)
    assert signature(vault.root) == ("G", "fay")
    assert show(vault, rid.last_line)["profile"]["name"] == "Bo Marker"


def test_holder_add_by_a_non_manager_is_denied(vault, keys):
    head = vault.head()
    r = vault.run("holder", "add", "eve", "--role", "practitioner", "--recipient", recipient_of(keys["eve"]),
                  *signed(keys, "eve"), who="dara")
    assert r.exit_code == ExitCode.DENIED
    assert r.stderr.startswith("confide: error: 'dara' (dsl) may not change key holders")
    # the hint names the roles confide.yaml lets do it
    assert "confide: hint: roles that may (add, remove and re-key key holders, and declare their signing keys): manager;" in r.stderr
    assert vault.head() == head and vault.is_clean()


def test_holder_add_twice_is_refused(vault, keys):
    head = vault.head()
    r = vault.run("holder", "add", "ben", "--role", "practitioner", "--recipient", recipient_of(keys["eve"]), *signed(keys, "eve"))
    assert r.exit_code == ExitCode.VAULT_STATE and "already exists" in r.stderr
    r = vault.run("holder", "add", "eve", "--role", "practitioner", "--recipient", recipient_of(keys["ben"]), *signed(keys, "eve"))
    assert r.exit_code == ExitCode.VAULT_STATE and "already belongs to holder 'ben'" in r.stderr
    # a signing key is never shared either: declared with --signing-key, or as an ssh-ed25519 recipient
    r = vault.run("holder", "add", "eve", "--role", "practitioner", "--recipient", recipient_of(keys["eve"]), *signed(keys, "ben"))
    assert r.exit_code == ExitCode.VAULT_STATE and "that signing key already belongs to holder 'ben'" in r.stderr
    r = vault.run("holder", "add", "eve", "--role", "practitioner", "--recipient", signing_pub(keys, "ben"))
    assert r.exit_code == ExitCode.VAULT_STATE and "that signing key already belongs to holder 'ben'" in r.stderr
    assert vault.head() == head and vault.is_clean()


def test_a_new_dsl_reads_every_level_of_existing_records(vault, keys):
    rid = vault.add_child("Nell Marker", key_person="ben")
    e_conf = vault.add_entry(rid, "conf text", "confidential", "concern")
    e_safe = vault.add_entry(rid, "safe text", "safeguarding", "safeguarding")
    n = commit_count(vault)
    vault.ok("holder", "add", "eve", "--role", "dsl", "--recipient", recipient_of(keys["eve"]), *signed(keys, "eve"))
    t = one_commit(vault, n, action="holder.add", holder="amira")
    assert t["Confide-Records"] == "1"
    data = show(vault, rid, who="eve")
    assert entry_of(data, e_conf)["text"] == "conf text"
    assert entry_of(data, e_safe)["text"] == "safe text"
    # a new practitioner gets the general level only
    vault.ok("holder", "add", "fay", "--role", "practitioner", "--recipient", recipient_of(keys["rec"]), *signed(keys, "rec"))
    data = show(vault, rid, who="rec")
    assert data["profile"]["name"] == "Nell Marker"
    assert entry_of(data, e_conf) == sealed_entry(e_conf, "confidential")


# ---------------------------------------------------------------------------
# children


def test_child_add_prints_a_random_record_id_and_commits_once(vault):
    n = commit_count(vault)
    r = vault.ok("child", "add", "--name", "Ada Marker", "--dob", "2022-03-04", "--key-person", "ben", "--room", "rainbow")
    rid = r.last_line
    assert RECORD_ID.fullmatch(rid)
    one_commit(vault, n, action="record.create", holder="amira", record=rid)
    # a record is two files, committed together: the head, and an empty entries file beside it
    assert head_file(vault.root, rid).is_file()
    assert entries_file(vault.root, rid).read_bytes() == b"entries: []\n"
    assert vault.changed() == [f"records/{rid}.entries.yaml", f"records/{rid}.yaml"]
    head = yamlio.load(head_file(vault.root, rid).read_bytes(), rid)
    assert head["format"] == envelope.FORMAT == "confide/record/2" and head["record"] == rid
    assert "entries" not in head
    rid2 = vault.add_child("Ada Marker")
    assert rid2 != rid and RECORD_ID.fullmatch(rid2)
    data = show(vault, rid)
    assert data["profile"] == {"name": "Ada Marker", "dob": "2022-03-04", "key_person": "ben", "room": "rainbow"}
    assert data["entries"] == []


def test_child_add_by_a_practitioner_is_authored_by_them(vault):
    n = commit_count(vault)
    rid = vault.ok("child", "add", "--name", "Bo Marker", who="cara").last_line
    one_commit(vault, n, action="record.create", holder="cara", record=rid)


def test_child_add_with_an_unknown_key_person_is_refused(vault):
    head = vault.head()
    r = vault.run("child", "add", "--name", "Zed", "--key-person", "nobody")
    assert r.exit_code == ExitCode.NOT_FOUND and "no active holder named 'nobody'" in r.stderr
    assert vault.head() == head and vault.is_clean()
    assert list((vault.root / "records").glob("c-*")) == []


def test_child_list_shows_what_each_holder_can_read(vault, keys):
    a = vault.add_child("Ada Marker", key_person="ben", dob="2022-03-04", room="rainbow")
    b = vault.add_child("Bea Marker", key_person="cara")
    vault.add_entry(a, "one", "general", "observation")
    vault.add_entry(a, "two", "safeguarding", "concern")
    vault.ok("holder", "add", "stu", "--role", "student", "--recipient", recipient_of(keys["eve"]), *signed(keys, "eve"))
    for who in ("amira", "ben", "cara", "dara"):
        rows = json.loads(vault.ok("child", "list", "--json", who=who).stdout)
        by = {r["record"]: r for r in rows}
        assert set(by) == {a, b}
        assert by[a] == {"record": a, "readable": True, "key_person": "ben", "entries": 2,
                         "name": "Ada Marker", "dob": "2022-03-04", "room": "rainbow", "known_as": None,
                         "leaving_date": None, "left": False}
        assert by[b]["readable"] is True and by[b]["name"] == "Bea Marker" and by[b]["entries"] == 0
    # a student reads no level by default: ids and counts only, never a name
    rows = json.loads(vault.ok("child", "list", "--json", who="eve").stdout)
    assert {r["record"]: r["readable"] for r in rows} == {a: False, b: False}
    assert "Marker" not in json.dumps(rows)
    assert all(r["name"] is None and r["dob"] is None and r["room"] is None for r in rows)  # null, never missing
    plain = vault.ok("child", "list", who="eve").stdout
    assert "sealed" in plain and "Marker" not in plain
    shown = show(vault, a, who="eve")
    assert shown["profile"] is None
    assert [e["readable"] for e in shown["entries"]] == [False, False]
    assert all(e == sealed_entry(e["entry"], e["level"]) for e in shown["entries"])
    assert "sealed" in vault.ok("show", a, who="eve").stdout
    plain = vault.ok("child", "list", who="ben").stdout
    assert plain.splitlines()[0].split("\t") == ["record", "name", "born", "room", "key person", "entries"]
    assert "Ada Marker" in plain


# ---------------------------------------------------------------------------
# add and show


def test_add_with_every_flag_and_show_json_exact_shape(vault):
    rid = vault.add_child("Ada Marker", key_person="ben")
    first = vault.add_entry(rid, "first note", "general", "observation")
    n = commit_count(vault)
    r = vault.ok(
        "add", rid, "--level", "confidential", "--category", "injury",
        "--text", "Bruise on left arm, parent says fall at home",
        "--parent-view", "not-confidential", "--parents-informed", "2026-11-24",
        "--third-party", "Dr Who, GP", "--third-party", "Health visitor",
        "--at", "2001-02-03T09:30:00+00:00",
    )
    eid = r.last_line
    assert ENTRY_ID.fullmatch(eid)
    one_commit(vault, n, action="entry.add", holder="amira", record=rid, entry=eid)
    assert vault.changed() == [f"records/{rid}.entries.yaml"]  # an entry is written to the entries file only
    assert [e["id"] for e in record_yaml(vault, rid)["entries"]] == sorted([first, eid])

    data = show(vault, rid)
    assert set(data) == {"record", "profile", "entries", "holds", "conflict"} and data["conflict"] is None
    assert data["holds"] == []  # amira, a manager, is told of legal holds: none
    assert data["record"] == rid
    e = entry_of(data, eid)
    assert set(e) == READABLE_KEYS
    assert e["level"] == "confidential" and e["readable"] is True
    assert e["category"] == "injury"
    assert e["text"] == "Bruise on left arm, parent says fall at home"
    assert e["at"] == "2001-02-03T09:30:00+00:00"
    assert e["recorded_at"] != e["at"] and e["recorded_at"] > e["at"]
    assert e["author"] == "amira"
    assert e["parent_view"] == "not-confidential"
    assert e["parents_informed"] == "2026-11-24"
    assert e["parents_not_informed"] is None
    assert e["third_parties"] == ["Dr Who, GP", "Health visitor"]
    assert e["corrects"] is None
    assert e["details"] is None  # a plain entry; a procedure's entry (share, request) gives its fields
    assert e["markings"] == []
    # the chronology is ordered by when things happened
    assert [x["entry"] for x in data["entries"]] == [eid, first]

    # what a practitioner who is not the key person sees of the same record
    sealed = show(vault, rid, who="cara")
    assert sealed["profile"]["name"] == "Ada Marker"
    s = entry_of(sealed, eid)
    assert s == sealed_entry(eid, "confidential")
    assert entry_of(sealed, first)["text"] == "first note"
    assert "Bruise" not in json.dumps(sealed)


def test_add_defaults(vault):
    rid = vault.add_child("Ada Marker")
    r = vault.ok("add", rid, "--level", "general", "--category", "observation", "--text", "played well")
    eid = r.last_line
    e = entry_of(show(vault, rid), eid)
    assert e["parent_view"] == "not-asked"
    assert e["parents_informed"] is None and e["parents_not_informed"] is None
    assert e["third_parties"] == []
    assert e["at"] == e["recorded_at"]


def test_add_text_from_stdin_and_parents_not_informed(vault):
    rid = vault.add_child("Ada Marker", key_person="ben")
    note = "Disclosure during play.\nSecond line of the note.\n"
    r = vault.ok("add", rid, "--level", "safeguarding", "--category", "concern", "--text", "-",
                 "--parents-not-informed", "informing parents may place the child at risk", input=note)
    eid = r.last_line
    e = entry_of(show(vault, rid, who="dara"), eid)
    assert e["text"] == note[:-1]  # the one newline that ends stdin is not part of the text
    assert e["parents_not_informed"] == "informing parents may place the child at risk"
    assert e["parents_informed"] is None
    assert e["author"] == "amira"


def test_non_general_entry_without_parents_informed_warns(vault):
    rid = vault.add_child("Ada Marker")
    r = vault.ok("add", rid, "--level", "confidential", "--category", "discussion", "--text", "talked")
    assert "confide: warning: parents are not recorded as informed" in r.stderr
    assert f"confide mark {r.last_line} --parents-informed" in r.stderr


def test_a_practitioner_may_write_a_level_they_cannot_read(vault):
    rid = vault.add_child("Ada Marker", key_person="ben")
    n = commit_count(vault)
    eid = vault.ok("add", rid, "--level", "safeguarding", "--category", "concern", "--text", "worry", who="cara").last_line
    one_commit(vault, n, action="entry.add", holder="cara", record=rid, entry=eid)
    assert entry_of(show(vault, rid, who="cara"), eid) == sealed_entry(eid, "safeguarding")
    e = entry_of(show(vault, rid, who="ben"), eid)
    assert e["text"] == "worry" and e["author"] == "cara"


def test_corrections_are_new_entries_pointing_at_the_old_one(vault):
    rid = vault.add_child("Ada Marker")
    old = vault.add_entry(rid, "left arm", "general", "accident")
    before = entries_file(vault.root, rid).read_text()
    head = head_file(vault.root, rid).read_bytes()
    fix = vault.ok("add", rid, "--level", "general", "--category", "note", "--text", "it was the right arm",
                   "--corrects", old).last_line
    data = show(vault, rid)
    assert entry_of(data, fix)["corrects"] == old
    assert entry_of(data, old)["text"] == "left arm"
    # the old block is byte-identical: entries are append-only
    after = entries_file(vault.root, rid).read_text()
    assert after.startswith(before) and len(after) > len(before)
    assert head_file(vault.root, rid).read_bytes() == head and vault.changed() == [f"records/{rid}.entries.yaml"]
    head = vault.head()
    r = vault.run("add", rid, "--level", "general", "--category", "note", "--text", "x", "--corrects", "e-0000000000zzzz")
    assert r.exit_code == ExitCode.NOT_FOUND and vault.head() == head


def test_show_as_a_table(vault):
    rid = vault.add_child("Ada Marker", key_person="ben", room="rainbow")
    vault.add_entry(rid, "played outside", "general", "observation")
    vault.add_entry(rid, "hidden words", "safeguarding", "concern")
    wide = {"COLUMNS": "200"}
    r = vault.run("show", rid, who="cara", env=wide)
    assert r.exit_code == 0
    assert "Ada Marker" in r.stdout and "rainbow" in r.stdout and "played outside" in r.stdout
    assert "sealed" in r.stdout and "hidden words" not in r.stdout
    assert "hidden words" in vault.run("show", rid, who="dara", env=wide).stdout


# ---------------------------------------------------------------------------
# mark


def test_mark_parent_view_and_parents_informed_later(vault):
    rid = vault.add_child("Ada Marker", key_person="ben")
    eid = vault.add_entry(rid, "bumped head", "confidential", "accident")
    n = commit_count(vault)
    r = vault.ok("mark", eid, "--parent-view", "confidential")
    m1 = r.last_line
    assert MARK_ID.fullmatch(m1)
    t = one_commit(vault, n, action="entry.mark", holder="amira", record=rid, entry=eid)
    assert t["Confide-Mark"] == m1
    # --record is optional; with it no search is needed
    m2 = vault.ok("mark", eid, "--record", rid, "--parents-informed", "2026-11-24", who="ben").last_line
    one_commit(vault, n + 1, action="entry.mark", holder="ben", record=rid, entry=eid)
    e = entry_of(show(vault, rid), eid)
    assert e["parent_view"] == "confidential"
    assert e["parents_informed"] == "2026-11-24"
    assert e["text"] == "bumped head" and e["level"] == "confidential"
    assert [(m["marking"], m["author"], m["reason"], m["changes"]) for m in e["markings"]] == [
        (m1, "amira", None, {"parent_view": {"from": "not-asked", "to": "confidential"}}),
        (m2, "ben", None, {"parents_informed": {"from": None, "to": "2026-11-24"}}),
    ]
    for m in e["markings"]:
        assert set(m) == {"marking", "author", "recorded_at", "reason", "changes"}
    # switching to "not informed" clears the date, and says so in the marking
    vault.ok("mark", eid, "--parents-not-informed", "a risk to the child")
    e = entry_of(show(vault, rid), eid)
    assert e["parents_informed"] is None and e["parents_not_informed"] == "a risk to the child"
    assert e["markings"][-1]["changes"] == {
        "parents_not_informed": {"from": None, "to": "a risk to the child"},
        "parents_informed": {"from": "2026-11-24", "to": None},
    }
    out = vault.run("show", rid, env={"COLUMNS": "250"}).stdout
    assert "marked by amira" in out and "marked by ben" in out


def test_mark_level_change_re_encrypts_and_keeps_markings(vault):
    rid = vault.add_child("Ada Marker", key_person="ben")
    other = vault.add_entry(rid, "other entry", "general", "observation")
    eid = vault.add_entry(rid, "was general", "general", "discussion")
    vault.ok("mark", eid, "--parent-view", "not-confidential")
    before = record_yaml(vault, rid)
    [old_item] = [e for e in before["entries"] if e["id"] == eid]
    [other_before] = [e for e in before["entries"] if e["id"] == other]
    assert key_level(before, old_item["key"]) == "general"
    assert entry_of(show(vault, rid, who="cara"), eid)["text"] == "was general"

    head = vault.head()
    r = vault.run("mark", eid, "--level", "confidential")
    assert r.exit_code == ExitCode.USAGE and "--reason" in r.stderr and vault.head() == head

    n = commit_count(vault)
    vault.ok("mark", eid, "--level", "confidential", "--reason", "parent asked that this be kept confidential")
    one_commit(vault, n, action="entry.mark", holder="amira", record=rid, entry=eid)
    assert vault.changed() == [f"records/{rid}.entries.yaml"]  # the head (and its level keys) is not rewritten
    after = record_yaml(vault, rid)
    [new_item] = [e for e in after["entries"] if e["id"] == eid]
    assert key_level(after, new_item["key"]) == "confidential"
    assert new_item["data"] != old_item["data"]
    assert all(key_level(after, m["key"]) == "confidential" for m in new_item["marks"])
    assert len(new_item["marks"]) == 2
    # only that entry changed
    [other_after] = [e for e in after["entries"] if e["id"] == other]
    assert other_after == other_before

    # cara (practitioner, not key person) lost it; the key person and the DSL keep it, with the markings
    assert entry_of(show(vault, rid, who="cara"), eid) == sealed_entry(eid, "confidential")
    for who in ("ben", "dara", "amira"):
        e = entry_of(show(vault, rid, who=who), eid)
        assert e["level"] == "confidential" and e["text"] == "was general"
        assert e["parent_view"] == "not-confidential"
        assert [m["changes"] for m in e["markings"]] == [
            {"parent_view": {"from": "not-asked", "to": "not-confidential"}},
            {"level": {"from": "general", "to": "confidential"}},
        ]
        assert e["markings"][1]["reason"] == "parent asked that this be kept confidential"

    # and back down: cara can read it again, markings and all
    vault.ok("mark", eid, "--level", "general", "--reason", "parent agreed it is general")
    e = entry_of(show(vault, rid, who="cara"), eid)
    assert e["level"] == "general" and len(e["markings"]) == 3

    r = vault.run("mark", eid, "--level", "general", "--reason", "again")
    assert r.exit_code == ExitCode.USAGE and "already at level general" in r.stderr


def test_mark_an_entry_one_cannot_read_is_denied(vault):
    rid = vault.add_child("Ada Marker", key_person="ben")
    eid = vault.add_entry(rid, "hidden", "safeguarding", "concern")
    head = vault.head()
    r = vault.run("mark", eid, "--parent-view", "confidential", who="cara")
    assert r.exit_code == ExitCode.DENIED and "confide: hint:" in r.stderr
    assert vault.head() == head and vault.is_clean()


def test_mark_needs_something_to_mark(vault):
    rid = vault.add_child("Ada Marker")
    eid = vault.add_entry(rid, "x", "general", "note")
    head = vault.head()
    r = vault.run("mark", eid)
    assert r.exit_code == ExitCode.USAGE and "nothing to mark" in r.stderr
    vault.ok("mark", eid, "--parent-view", "confidential")
    r = vault.run("mark", eid, "--parent-view", "confidential")
    assert r.exit_code == ExitCode.USAGE and "already says that" in r.stderr
    assert commit_count(vault) == int(vault.git("rev-list", "--count", head).strip()) + 1


# ---------------------------------------------------------------------------
# child set


def test_child_set_fields_json_and_dotted_paths(vault):
    rid = vault.add_child("Ada Marker", key_person="ben", room="rainbow")
    n = commit_count(vault)
    vault.ok("child", "set", rid, "room=sunflower", "known_as=Addy", "dob=2022-03-04", "allergies=nuts, eggs")
    one_commit(vault, n, action="profile.update", holder="amira", record=rid)
    assert vault.changed() == [f"records/{rid}.yaml"]  # the profile is in the head; the entries file is untouched
    vault.ok("child", "set", rid, "consents:={\"photos\": true, \"outings\": false}",
             "parents.0.name=Grace Marker", "parents.0.phone=01234 567890", "parents.0.parental_responsibility:=true")
    vault.ok("child", "set", rid, "parents.1.name=Second Carer", "emergency_contacts:=[{\"name\": \"Nan\", \"phone\": \"999\"}]",
             who="ben")
    one_commit(vault, n + 2, action="profile.update", holder="ben", record=rid)
    p = show(vault, rid)["profile"]
    assert p["room"] == "sunflower" and p["known_as"] == "Addy" and p["dob"] == "2022-03-04"
    assert p["allergies"] == ["nuts", "eggs"]
    assert p["consents"] == {"photos": True, "outings": False}
    assert p["parents"] == [
        {"name": "Grace Marker", "phone": "01234 567890", "parental_responsibility": True},
        {"name": "Second Carer"},
    ]
    assert p["emergency_contacts"] == [{"name": "Nan", "phone": "999"}]
    assert p["key_person"] == "ben"
    # an empty value clears a field
    vault.ok("child", "set", rid, "known_as=")
    assert "known_as" not in show(vault, rid)["profile"]


@pytest.mark.parametrize("assignment, code, words", [
    ("dob=2022-13-01", ExitCode.USAGE, "YYYY-MM-DD"),
    ("dob=04/03/2022", ExitCode.USAGE, "YYYY-MM-DD"),
    ("start_date:=\"yesterday\"", ExitCode.USAGE, "YYYY-MM-DD"),
    ("key_person=cara", ExitCode.USAGE, "key person"),
    ("shoe_size=9", ExitCode.USAGE, "not a profile field"),
    ("consents:={bad json", ExitCode.USAGE, "not valid JSON"),
    ("room", ExitCode.USAGE, "FIELD=VALUE"),
    ("parents.3.name=X", ExitCode.USAGE, "no item 3"),
    ("consents:={\"photos\": \"yes\"}", ExitCode.USAGE, "consents.photos must be of type boolean"),
    ("room=rainbow", ExitCode.USAGE, "already says that"),
])
def test_child_set_refuses_bad_values(vault, assignment, code, words):
    rid = vault.add_child("Ada Marker", key_person="ben", room="rainbow")
    head = vault.head()
    r = vault.run("child", "set", rid, assignment)
    assert r.exit_code == code, r.stderr
    assert r.stderr.startswith("confide: error:") and words in r.stderr
    assert "confide: hint:" in r.stderr and "Traceback" not in r.stderr
    assert vault.head() == head and vault.is_clean()


def test_child_set_needs_to_read_the_profile(vault, keys):
    rid = vault.add_child("Ada Marker")
    vault.ok("holder", "add", "stu", "--role", "student", "--recipient", recipient_of(keys["eve"]), *signed(keys, "eve"))
    head = vault.head()
    r = vault.run("child", "set", rid, "room=x", who="eve")
    assert r.exit_code == ExitCode.DENIED and vault.head() == head


# ---------------------------------------------------------------------------
# child edit, with a real editor


EDITOR = textwrap.dedent("""\
    import json, os, stat, sys
    path = sys.argv[1]
    log = os.environ["EDIT_LOG"]
    folder = os.path.dirname(path)
    with open(path) as fh:
        text = fh.read()
    info = {"path": path, "folder": folder,
            "folder_mode": stat.S_IMODE(os.stat(folder).st_mode),
            "file_mode": stat.S_IMODE(os.stat(path).st_mode), "text": text}
    with open(log, "a") as fh:
        fh.write(json.dumps(info) + "\\n")
    action = os.environ.get("EDIT_ACTION", "room")
    if action == "fail":
        sys.exit(3)
    if action == "room":
        text = text.replace("room: rainbow", "room: sunflower")
    elif action == "invalid":
        text = text.replace("room: rainbow", "room: rainbow\\nshoe_size: 9")
    elif action == "phone":
        text = text.replace("parents: []", "parents:\\n- name: Grace\\n  phone: 01234567890")
    elif action == "baddate":
        text = text.replace("dob: '2022-03-04'", "dob: 2022-02-30").replace("dob: 2022-03-04", "dob: 2022-02-30")
    elif action == "empty":
        text = ""
    with open(path, "w") as fh:
        fh.write(text)
""")


@pytest.fixture
def editor(tmp_path):
    script = tmp_path / "fake_editor.py"
    script.write_text(EDITOR)
    log = tmp_path / "edit.log"

    def env(action: str) -> dict:
        return {"EDITOR": f"{sys.executable} {script}", "EDIT_LOG": str(log), "EDIT_ACTION": action}

    def calls() -> list[dict]:
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    env.calls = calls  # type: ignore[attr-defined]
    return env


def test_child_edit_with_a_real_editor(vault, editor):
    rid = vault.add_child("Ada Marker", key_person="ben", dob="2022-03-04", room="rainbow")
    n = commit_count(vault)
    r = vault.run_on_terminal("child", "edit", rid, env=editor("room"))
    assert r.exit_code == 0, r.stderr
    one_commit(vault, n, action="profile.update", holder="amira", record=rid)
    [call] = editor.calls()
    assert call["path"].startswith("/dev/shm/")
    assert call["folder_mode"] == 0o700 and call["file_mode"] == 0o600
    assert "name: Ada Marker" in call["text"] and "room: rainbow" in call["text"]
    assert not os.path.exists(call["folder"])
    p = show(vault, rid)["profile"]
    assert p["room"] == "sunflower" and p["name"] == "Ada Marker" and p["dob"] == "2022-03-04"


def test_child_edit_unchanged_commits_nothing(vault, editor):
    rid = vault.add_child("Ada Marker", room="rainbow")
    head = vault.head()
    for action in ("none", "empty"):
        r = vault.run_on_terminal("child", "edit", rid, env=editor(action))
        assert r.exit_code == 0, r.stderr
        assert "no change; nothing was committed" in r.stderr
    assert vault.head() == head and vault.is_clean()
    assert all(not os.path.exists(c["folder"]) for c in editor.calls())


def test_child_edit_editor_failure_leaves_nothing(vault, editor):
    rid = vault.add_child("Ada Marker", room="rainbow")
    head = vault.head()
    r = vault.run_on_terminal("child", "edit", rid, env=editor("fail"))
    assert r.exit_code == ExitCode.EXTERNAL
    assert r.stderr.startswith("confide: error: the editor exited with status 3")
    assert "confide: hint:" in r.stderr
    [call] = editor.calls()
    assert not os.path.exists(call["folder"])
    assert vault.head() == head and vault.is_clean()


PROFILE = textwrap.dedent("""\
    # comments are allowed, as in the editor
    name: Ada Marker
    dob: '2022-03-04'
    room: rainbow
""")


@pytest.mark.parametrize("doc, words", [
    (PROFILE + "shoe_size: 9\n", "unexpected field 'shoe_size'"),
    (PROFILE.replace("'2022-03-04'", "2022-02-30"), "impossible date"),
    (PROFILE + "parents:\n- name: Grace\n  phone: 01234567890\n",
     "parents[0].phone must be of type string or null; put numbers such as phone numbers in quotes"),
    ("name: [unclosed\n", "not valid YAML"),
    ("# only a comment\n", "is empty"),
])
def test_child_edit_from_an_invalid_profile_is_an_error(vault, doc, words):
    rid = vault.add_child("Ada Marker", dob="2022-03-04", room="rainbow")
    head = vault.head()
    r = vault.run("child", "edit", rid, "--from", "-", input=doc)
    assert r.exit_code == ExitCode.USAGE, r.stderr
    assert r.stderr.startswith("confide: error:") and words in r.stderr
    assert "confide: hint:" in r.stderr and "Ada Marker" not in r.stderr and "Grace" not in r.stderr
    assert vault.head() == head and vault.is_clean()
    assert show(vault, rid)["profile"]["room"] == "rainbow"


def test_child_edit_from_a_file_or_stdin_replaces_the_profile(vault, tmp_path):
    rid = vault.add_child("Ada Marker", key_person="ben", dob="2022-03-04", room="rainbow")
    n = commit_count(vault)
    f = tmp_path / "profile.yaml"
    f.write_text(PROFILE.replace("rainbow", "sunflower") + "allergies: [nuts]\n")
    r = vault.run("child", "edit", rid, "--from", str(f))
    assert r.exit_code == 0, r.stderr
    one_commit(vault, n, action="profile.update", holder="amira", record=rid)
    p = show(vault, rid)["profile"]
    assert p["room"] == "sunflower" and p["allergies"] == ["nuts"] and p["name"] == "Ada Marker"
    head = vault.head()
    r = vault.run("child", "edit", rid, "--from", "-", input=json.dumps(
        {"name": "Ada Marker", "dob": "2022-03-04", "room": "sunflower", "allergies": ["nuts"]}))
    assert r.exit_code == 0 and "no change; nothing was committed" in r.stderr, r.stderr
    assert vault.head() == head
    r = vault.run("child", "edit", rid, "--from", str(tmp_path / "missing.yaml"))
    assert r.exit_code == ExitCode.USAGE and "cannot read" in r.stderr


def test_child_edit_without_a_terminal_names_the_way_for_scripts(vault, editor):
    """No editor is started when stdin or stdout is not a terminal: scripts give the profile with --from."""
    rid = vault.add_child("Ada Marker", room="rainbow")
    head = vault.head()
    r = vault.run("child", "edit", rid, env=editor("room"))
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.startswith("confide: error: there is no terminal to run an editor on")
    assert "--from FILE" in r.stderr and "child set" in r.stderr
    assert editor.calls() == []
    assert vault.head() == head and vault.is_clean()


def test_child_edit_with_stdout_not_a_terminal_starts_no_editor(vault, editor):
    """stdin a terminal is not enough: output piped away (``confide child edit R | cat``) is refused too."""
    import pty

    rid = vault.add_child("Ada Marker", room="rainbow")
    master, slave = pty.openpty()
    env = {**os.environ, "CONFIDE_VAULT": str(vault.root), "CONFIDE_IDENTITY": str(vault.keys["amira"]), **editor("room")}
    try:
        p = subprocess.run([sys.executable, "-m", "vault_cli", "child", "edit", rid], stdin=slave, capture_output=True,
                           env=env, text=True)
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == ExitCode.USAGE and "no terminal" in p.stderr, p.stderr
    assert editor.calls() == []


def test_child_edit_falls_back_to_an_editor_on_path(vault, tmp_path):
    """No $VISUAL or $EDITOR: the first of sensible-editor, editor, nano, vi on PATH (here only a fake nano)."""
    import shutil

    rid = vault.add_child("Ada Marker", room="rainbow")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "nano.log"
    nano = bin_dir / "nano"
    nano.write_text(f"#!/bin/sh\necho \"$0 $1\" >> {log}\nsed -i s/rainbow/sunflower/ \"$1\"\n")
    nano.chmod(0o755)
    # git and ssh-keygen (for signing) stay reachable through links of their own; no other program is on PATH
    tools = tmp_path / "tools"
    tools.mkdir()
    for prog in ("git", "ssh-keygen", "sed"):
        found = shutil.which(prog)
        if found:
            (tools / prog).symlink_to(found)
    r = vault.run_on_terminal("child", "edit", rid, env={"PATH": f"{bin_dir}{os.pathsep}{tools}"})
    assert r.exit_code == 0, r.stderr
    [line] = log.read_text().splitlines()
    assert line.startswith(str(nano) + " /dev/shm/")
    assert show(vault, rid)["profile"]["room"] == "sunflower"
    # none on PATH: a usage error naming the variables and the editors looked for
    r = vault.run_on_terminal("child", "edit", rid, env={"PATH": str(tools)})
    assert r.exit_code == ExitCode.USAGE, r.stderr
    assert "$EDITOR" in r.stderr and "nano" in r.stderr


def test_vi_and_its_kin_are_told_to_keep_no_copies_of_the_text(vault, tmp_path):
    """vim keeps deleted lines in ~/.viminfo and a swap file beside (or away from) the file unless told not to:
    confide starts it with -n -i NONE and no undo or backup files, also when it is reached through a link."""
    rid = vault.add_child("Ada Marker", room="rainbow")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "vim.log"
    vim = bin_dir / "vim.basic"
    vim.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {log}\nlast=\"\"; for a in \"$@\"; do last=\"$a\"; done\n"
                   f"sed -i s/rainbow/sunflower/ \"$last\"\n")
    vim.chmod(0o755)
    (bin_dir / "editor").symlink_to(vim)
    r = vault.run_on_terminal("child", "edit", rid, env={"EDITOR": str(bin_dir / "editor")})
    assert r.exit_code == 0, r.stderr
    [line] = log.read_text().splitlines()
    assert line.startswith("-n -i NONE --cmd set noundofile nobackup nowritebackup /dev/shm/"), line
    assert show(vault, rid)["profile"]["room"] == "sunflower"


def test_child_edit_with_a_missing_editor_is_an_error(vault):
    rid = vault.add_child("Ada Marker")
    head = vault.head()
    r = vault.run_on_terminal("child", "edit", rid, env={"EDITOR": "/nonexistent/editor-xyz"})
    assert r.exit_code == ExitCode.EXTERNAL and "was not found" in r.stderr
    assert vault.head() == head and vault.is_clean()


def test_child_edit_on_a_terminal_reopens_the_editor_with_the_error(vault, editor, monkeypatch):
    """The terminal path, through the library (the test runner's stdin is never a terminal)."""
    from vault_cli.cli import editor as editor_mod
    from vault_cli.cli import environment
    from vault_cli.services.vault import Session, Vault

    rid = vault.add_child("Ada Marker", room="rainbow")
    script = Path(editor("x")["EDITOR"].split()[1])
    script.write_text(textwrap.dedent("""\
        import json, os, sys
        path = sys.argv[1]
        text = open(path).read()
        with open(os.environ["EDIT_LOG"], "a") as fh:
            fh.write(json.dumps({"folder": os.path.dirname(path), "text": text}) + "\\n")
        if "# ERROR:" in text:
            text = text.replace("shoe_size: 9", "")
        else:
            text = text.replace("room: rainbow", "room: sunflower\\nshoe_size: 9")
        open(path, "w").write(text)
    """))
    for k, val in editor("x").items():
        monkeypatch.setenv(k, val)
    monkeypatch.setenv("CONFIDE_SIGNING_KEY", str(vault.keys["amira.sign"]))  # the age identity cannot sign
    n = commit_count(vault)
    session = Session.start(Vault.open(environment.config(vault=str(vault.root), identity=str(vault.keys["amira"]))))
    result = editor_mod.edit_profile(session, rid)
    assert result is not None and result.id == rid
    first, second = editor.calls()
    assert "# ERROR:" not in first["text"]
    assert "# ERROR:" in second["text"] and "shoe_size" in second["text"]
    assert not os.path.exists(first["folder"])
    one_commit(vault, n, action="profile.update", holder="amira", record=rid)
    assert show(vault, rid)["profile"]["room"] == "sunflower"


# ---------------------------------------------------------------------------
# finding the vault


def test_vault_discovery(vault, monkeypatch, tmp_path):
    rid = vault.add_child("Ada Marker")
    ident = vault.keys["amira"]
    # --vault
    r = run_cli(["show", rid, "--json", "--vault", str(vault.root)], identity=ident)
    assert r.exit_code == 0 and json.loads(r.stdout)["record"] == rid
    # CONFIDE_VAULT
    r = run_cli(["show", rid, "--json"], identity=ident, env={"CONFIDE_VAULT": str(vault.root)})
    assert r.exit_code == 0 and json.loads(r.stdout)["record"] == rid
    # --vault wins over CONFIDE_VAULT
    r = run_cli(["show", rid, "--json", "--vault", str(vault.root)], identity=ident, env={"CONFIDE_VAULT": str(tmp_path)})
    assert r.exit_code == 0
    # walking up from the working directory
    monkeypatch.chdir(vault.root / "records")
    r = run_cli(["show", rid, "--json"], identity=ident)
    assert r.exit_code == 0, r.stderr
    deeper = vault.root / "records"
    monkeypatch.chdir(deeper)
    n = commit_count(vault)
    r = run_cli(["add", rid, "--level", "general", "--category", "note", "--text", "from below"], identity=ident,
                env=signing_env(vault.keys, "amira"))
    assert r.exit_code == 0, r.stderr
    one_commit(vault, n, action="entry.add", holder="amira", record=rid, entry=r.last_line)
    assert signature(vault.root) == ("G", "amira")
    # nowhere to be found
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = run_cli(["show", rid], identity=ident)
    assert r.exit_code == ExitCode.NOT_FOUND
    assert r.stderr.startswith("confide: error: no vault here") and "--vault" in r.stderr
    r = run_cli(["show", rid, "--vault", str(elsewhere)], identity=ident)
    assert r.exit_code == ExitCode.NOT_FOUND and "--vault" in r.stderr
    r = run_cli(["show", rid], identity=ident, env={"CONFIDE_VAULT": str(elsewhere)})
    assert r.exit_code == ExitCode.NOT_FOUND and "CONFIDE_VAULT" in r.stderr


# ---------------------------------------------------------------------------
# who sees what


@pytest.fixture
def two_children(vault, keys):
    """Ada (key person ben) and Bea (key person cara), an entry at every level in each; a recovery holder."""
    vault.ok("holder", "add", "vault-recovery", "--role", "recovery", "--recipient", recipient_of(keys["rec"]))
    out = {}
    for name, kp in (("Ada Marker", "ben"), ("Bea Marker", "cara")):
        rid = vault.add_child(name, key_person=kp)
        out[name] = (rid, {lv: vault.add_entry(rid, f"{name} {lv} text", lv, "note")
                           for lv in ("general", "confidential", "safeguarding")})
    return out


def readable_levels(vault, rid, who) -> set[str]:
    data = show(vault, rid, who=who)
    for e in data["entries"]:
        assert set(e) == (READABLE_KEYS if e["readable"] else SEALED_KEYS)
    return {e["level"] for e in data["entries"] if e["readable"]}


def test_role_visibility(vault, two_children):
    ada, _ = two_children["Ada Marker"]
    bea, _ = two_children["Bea Marker"]
    ALL = {"general", "confidential", "safeguarding"}
    # key person: all of their key child, general of the others
    assert readable_levels(vault, ada, "ben") == ALL
    assert readable_levels(vault, bea, "ben") == {"general"}
    assert readable_levels(vault, bea, "cara") == ALL
    assert readable_levels(vault, ada, "cara") == {"general"}
    # manager, DSL, recovery: everything
    for who in ("amira", "dara", "rec"):
        assert readable_levels(vault, ada, who) == ALL
        assert readable_levels(vault, bea, who) == ALL
    # profiles: every practitioner reads every profile
    for who in ("ben", "cara"):
        assert show(vault, ada, who=who)["profile"]["name"] == "Ada Marker"
        assert show(vault, bea, who=who)["profile"]["name"] == "Bea Marker"
    sealed_text = json.dumps(show(vault, bea, who="ben"))
    assert "Bea Marker general text" in sealed_text
    assert "confidential text" not in sealed_text and "safeguarding text" not in sealed_text


def test_the_recovery_holder_reads_but_cannot_write(vault, two_children):
    ada, _ = two_children["Ada Marker"]
    head = vault.head()
    for args in (("add", ada, "--level", "general", "--category", "note", "--text", "x"),
                 ("child", "add", "--name", "Zed"),
                 ("child", "set", ada, "room=x")):
        r = vault.run(*args, who="rec")
        assert r.exit_code == ExitCode.DENIED, (args, r.stderr)
        assert r.stderr.startswith("confide: error:") and "confide: hint:" in r.stderr
    assert vault.head() == head and vault.is_clean()
    rows = json.loads(vault.ok("child", "list", "--json", who="rec").stdout)
    assert all(r["readable"] for r in rows)


# ---------------------------------------------------------------------------
# the audit trail


def test_every_write_is_one_commit_and_no_message_names_a_child(vault, editor):
    name = "Zanzibar Quoxley"
    start = commit_count(vault)
    rid = vault.add_child(name, key_person="ben", dob="2021-01-02")
    eid = vault.add_entry(rid, f"{name} fell over", "confidential", "accident")
    vault.ok("mark", eid, "--parents-informed", "2026-11-24")
    vault.ok("mark", eid, "--level", "safeguarding", "--reason", f"because {name}")
    vault.ok("child", "set", rid, f"known_as={name.split()[0]}")
    vault.ok("add", rid, "--level", "general", "--category", "note", "--text", "-", input=f"{name}\n", who="ben")
    assert commit_count(vault) == start + 6
    log = vault.git("log", "--format=%an%n%ae%n%cn%n%B")
    for word in (name, "Zanzibar", "Quoxley", "2021-01-02"):
        assert word not in log
    branches = vault.git("for-each-ref", "--format=%(refname)")
    assert "Zanzibar" not in branches
    actions = [line.split(": ")[1] for line in vault.git("log", "--format=%B").splitlines()
               if line.startswith("Confide-Action: ")]
    assert actions[:6] == ["entry.add", "profile.update", "entry.mark", "entry.mark", "entry.add", "record.create"]
    # and nothing in the working tree names the child either
    for p in vault.root.rglob("*"):
        if p.is_file() and ".git" not in p.parts:
            assert b"Zanzibar" not in p.read_bytes()


def test_only_a_manager_or_dsl_may_lower_a_safeguarding_entry(vault):
    rid = vault.add_child("Ada Marker", key_person="ben")
    eid = vault.add_entry(rid, "disclosure", "safeguarding", "safeguarding")
    head = vault.head()
    # the key person reads it, but lowering it would share it more widely: confide.yaml's 'lowers' says who may
    for to in ("general", "confidential"):
        r = vault.run("mark", eid, "--level", to, "--reason", "not serious", who="ben")
        assert r.exit_code == ExitCode.DENIED
        assert r.stderr.startswith("confide: error: 'ben' (practitioner) may not move an entry down from the safeguarding level\n")
        assert "confide: hint: roles that may move an entry down from the safeguarding level (sharing it more widely): manager, dsl\n" in r.stderr
    assert vault.head() == head and vault.is_clean()
    # moving it up, or other markings, remain the key person's to make
    vault.ok("mark", eid, "--parents-not-informed", "risk to the child", who="ben")
    n = commit_count(vault)
    vault.ok("mark", eid, "--level", "confidential", "--reason", "agreed at the safeguarding meeting", who="dara")
    one_commit(vault, n, action="entry.mark", holder="dara", record=rid, entry=eid)
    assert entry_of(show(vault, rid, who="ben"), eid)["level"] == "confidential"
    vault.ok("mark", eid, "--level", "safeguarding", "--reason", "new information", who="ben")
    # a practitioner's role lowers the confidential level only
    conf = vault.add_entry(rid, "bumped knee", "confidential", "accident")
    n = commit_count(vault)
    vault.ok("mark", conf, "--level", "general", "--reason", "parent agreed it is general", who="ben")
    one_commit(vault, n, action="entry.mark", holder="ben", record=rid, entry=conf)
    assert entry_of(show(vault, rid, who="cara"), conf)["text"] == "bumped knee"
    # and the history verifies: every commit obeyed the rules table
    assert vault.run("verify").exit_code == 0
