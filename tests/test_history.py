"""Signed commits, verify and audit: real ssh-keygen keys, real git, tampering done as an attacker would.

Each tampered vault is made with plain git and file edits (the attacker has
write access to the repository, maybe a holder's keys, never confide's help),
and verify must name the problem. A vault built only by the commands verifies
with zero findings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest
from conftest import HOLDERS, VaultFixture, recipient_of, run_cli, signing_pub

from vault_cli.adapters import crypto
from vault_cli.errors import EXIT_CODE_DOCS, ExitCode
from vault_cli.formats import envelope, yamlio

FINDINGS = int(ExitCode.FINDINGS)


def ssh_key(folder: Path, name: str) -> tuple[Path, str]:
    path = folder / f"{name}_sign"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test", "-f", str(path)], check=True)
    return path, Path(str(path) + ".pub").read_text().strip()


class SignedVault(VaultFixture):
    """The suite's signed vault, with each holder's signing key as (private file, public line) in ``sign``,
    which a test may change (a holder who moved to a new key)."""

    sign: dict = {}

    def run(self, *args, who="amira", input=None, env=None):
        e = {"CONFIDE_SIGNING_KEY": str(self.sign[who][0])} if who in self.sign else {}
        e.update(env or {})
        return super().run(*args, who=who, input=input, env=e)

    def edit(self, path: str, fn) -> None:
        p = self.root / path
        p.write_bytes(fn(p.read_bytes()))

    def attacker_commit(self, message: str = "tidy", *, author: str = "amira", key: Optional[Path] = None) -> str:
        """git add -A and commit by hand: unsigned, or signed with whatever SSH key the attacker holds.
        The message is taken as it is (an attacker writes whatever trailers they like, or none)."""
        env = dict(os.environ, GIT_AUTHOR_NAME=author, GIT_AUTHOR_EMAIL=f"{author}@holders.confide.invalid",
                   GIT_COMMITTER_NAME=author, GIT_COMMITTER_EMAIL=f"{author}@holders.confide.invalid")
        subprocess.run(["git", "-C", str(self.root), "add", "-A"], check=True, env=env)
        sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-S"] if key else ["-c", "commit.gpgsign=false", "commit"]
        subprocess.run(["git", "-C", str(self.root), *sign, "-q", "-m", message], check=True, env=env, capture_output=True)
        return self.head()

    def verify(self, who: Optional[str] = "amira", *extra) -> tuple[int, dict]:
        r = self.run("verify", "--json", *extra, who=who) if who else run_cli(["verify", "--json", "--vault", str(self.root), *extra])
        assert r.exit_code in (0, FINDINGS), r.stderr
        return r.exit_code, json.loads(r.stdout)


def as_signed(v: VaultFixture) -> SignedVault:
    """The suite's vault (signed by default: conftest's fixed signing keys) as a SignedVault."""
    s = SignedVault(v.root, v.keys, v.records)
    s.sign = {name: (v.keys[name + ".sign"], signing_pub(v.keys, name)) for name in [*HOLDERS, "eve"]}
    return s


@pytest.fixture
def sv(vault) -> SignedVault:
    v = as_signed(vault)
    ada = v.add_child("Ada Marker", key_person="ben", dob="2022-03-04")
    v.add_child("Bo Quill", key_person="cara")
    v.add_entry(ada, "played in the sand", "general", "observation")
    v.add_entry(ada, "a worry", "confidential", "concern", "ben")
    return v


def findings(data: dict, check: str) -> list:
    return [f for f in data["findings"] if f["check"] == check]


def signers_file(v: VaultFixture) -> Path:
    """The allowed-signers file confide derives from verified history for plain git (never tracked)."""
    return v.root / ".git" / "confide" / "allowed_signers"


def back_to(v: VaultFixture, commit: str) -> None:
    """Throw hand-made commits away, as a holder would with plain git: back to a verified commit."""
    v.git("reset", "-q", "--hard", commit)
    v.git("clean", "-qfd")


def assert_refused(v: VaultFixture, commit: str, who: str = "amira") -> None:
    """A commit with a finding blocks every command: a read and a write both exit 9 naming it, and nothing
    is read or changed."""
    head, signers = v.head(), signers_file(v).read_bytes()
    r = v.run("child", "list", "--json", who=who)
    assert r.exit_code == FINDINGS and r.stdout == "", r.stderr
    assert f"commit {commit[:12]}" in r.stderr and "nothing was read or changed" in r.stderr, r.stderr
    r = v.run("child", "add", "--name", "Cy Dune", who=who)
    assert r.exit_code == FINDINGS and f"commit {commit[:12]}" in r.stderr, r.stderr
    assert v.head() == head and v.is_clean() and signers_file(v).read_bytes() == signers


# ---------------------------------------------------------------------------
# Signing


def test_clean_signed_vault_verifies_and_plain_git_checks_signatures(sv):
    ada = sv.records["Ada Marker"]
    eid = sv.add_entry(ada, "bumped head", "confidential", "injury", "dara")
    sv.ok("mark", eid, "--parents-informed", "2026-11-24", who="dara")
    sv.ok("mark", eid, "--level", "safeguarding", "--reason", "agency involved", who="dara")
    sv.ok("child", "set", ada, "room=rainbow")
    # issue 3's access changes, by the roles allowed to make them
    sv.ok("grant", "cara", "--child", ada, "--level", "confidential")
    sv.ok("revoke", "cara", "--child", ada, "--level", "confidential")
    sv.ok("key-person", ada, "cara")
    sv.ok("holder", "remove", "dara", "--reason", "left the setting")
    # every commit signed; plain git accepts them through the allowed_signers confide derives in .git
    # (kept in step by the commands themselves, before any 'confide verify' has run)
    log = sv.git("log", "--format=%G? %an")
    assert all(line.startswith("G ") for line in log.splitlines()), log
    assert 'Good "git" signature for ben' in sv.git("log", "--show-signature", "-1", "--author=ben")
    allowed = signers_file(sv).read_text()
    assert 'dara namespaces="git",valid-before=' in allowed  # a removed holder's key: valid only until removal
    assert "allowed_signers" not in sv.git("ls-files").split()  # derived, never tracked: no commit can change it
    code, data = sv.verify("amira")
    assert code == 0, data["findings"]
    assert data["content_checked"] and data["reader"] == "amira"
    r = sv.run("verify")
    assert r.exit_code == 0 and "no findings" in r.stdout
    code, data = sv.verify(None)  # no key at all: structural checks only
    assert code == 0 and not data["content_checked"]
    # the record merge driver and the derived signers file are registered for plain git
    assert "vault_cli merge-driver %O %A %B %P" in sv.git("config", "merge.confide.driver")
    assert sv.git("config", "gpg.ssh.allowedSignersFile").strip() == str(signers_file(sv).resolve())
    assert "records/*.yaml merge=confide" in (sv.root / ".gitattributes").read_text()


def test_set_signing_key_updates_allowed_signers_and_keeps_old_key_valid(sv, tmp_path):
    new_key, new_pub = ssh_key(tmp_path, "ben2")
    sv.ok("holder", "set-signing-key", "ben", new_pub)
    allowed = signers_file(sv).read_text()
    assert new_pub.split()[1] in allowed and 'ben namespaces="git",valid-before=' in allowed
    # ben now signs with the new key; the old one is refused
    r = sv.run("add", sv.records["Ada Marker"], "--level", "general", "--category", "note", "--text", "x", who="ben")
    assert r.exit_code == int(ExitCode.IDENTITY) and "not the signing key declared" in r.stderr
    sv.sign["ben"] = (new_key, new_pub)
    sv.add_entry(sv.records["Ada Marker"], "new key", "general", "note", "ben")
    assert sv.git("log", "-1", "--format=%G? %an").strip() == "G ben"  # plain git knows the new key already
    assert sv.verify("amira")[0] == 0
    # only managers declare signing keys
    r = sv.run("holder", "set-signing-key", "cara", new_pub, who="ben")
    assert r.exit_code == int(ExitCode.DENIED)
    r = sv.run("holder", "set-signing-key", "cara", "ssh-rsa AAAAB3 nope")
    assert r.exit_code == int(ExitCode.USAGE)


def test_require_signatures_refuses_unsigned_commit_and_leaves_vault_unchanged(sv):
    head = sv.head()
    r = sv.run("add", sv.records["Ada Marker"], "--level", "general", "--category", "note", "--text", "x",
               env={"CONFIDE_SIGNING_KEY": "", "SSH_AUTH_SOCK": ""})
    assert r.exit_code == int(ExitCode.IDENTITY), r.stderr
    assert "requires signed commits" in r.stderr
    assert sv.head() == head and sv.is_clean()


def test_unusable_signing_keys_give_clear_errors_and_change_nothing(sv, tmp_path):
    head = sv.head()
    args = ("add", sv.records["Ada Marker"], "--level", "general", "--category", "note", "--text", "x")
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key\n")
    garbage.chmod(0o600)
    r = sv.run(*args, env={"CONFIDE_SIGNING_KEY": str(garbage)})
    assert r.exit_code == int(ExitCode.IDENTITY) and "not an OpenSSH ed25519 private key" in r.stderr
    r = sv.run(*args, env={"CONFIDE_SIGNING_KEY": str(tmp_path / "missing")})
    assert r.exit_code == int(ExitCode.IDENTITY) and "does not exist" in r.stderr
    r = sv.run(*args, env={"CONFIDE_SIGNING_KEY": str(sv.sign["eve"][0])})
    assert r.exit_code == int(ExitCode.IDENTITY) and "not the signing key declared" in r.stderr
    # a passphrase-protected copy of amira's key, with no agent and no way to ask: ssh-keygen cannot sign
    locked = tmp_path / "locked"
    shutil.copyfile(sv.sign["amira"][0], locked)
    locked.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-N", "sekrit", "-P", "", "-f", str(locked)], check=True, capture_output=True)
    r = sv.run(*args, env={"CONFIDE_SIGNING_KEY": str(locked), "SSH_AUTH_SOCK": "", "DISPLAY": "",
                           "SSH_ASKPASS": "/bin/false", "SSH_ASKPASS_REQUIRE": "force"})
    assert r.exit_code == int(ExitCode.EXTERNAL), r.stderr
    assert "could not sign the commit" in r.stderr
    assert sv.head() == head and sv.is_clean()
    # no ssh-keygen on PATH
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("git"), bindir / "git")
    r = sv.run(*args, env={"PATH": str(bindir)})
    assert r.exit_code == int(ExitCode.EXTERNAL) and "ssh-keygen is not installed" in r.stderr
    assert sv.head() == head and sv.is_clean()


def test_unsigned_vault_still_works_and_verify_reports_unsigned_commits(tmp_path, keys):
    """A vault made with --unsigned (experiments only; confide.yaml says so) works with no signing key at all.
    Its unsigned commits are not findings, since the vault never required signatures, but verify says how
    many there are and that who made them is taken from their own words."""
    root = tmp_path / "unsigned"
    r = run_cli(["init", str(root), "--name", "Test Nursery", "--holder", "amira", "--unsigned"], identity=keys["amira"])
    assert r.exit_code == 0, r.stderr
    assert "does not require signatures" in r.stderr and "the vault's identity is" in r.stderr
    assert "signing: unsigned" in (root / "confide.yaml").read_text()
    vault = VaultFixture(root, {name: keys[name] for name in ("amira", "ben")})  # no signing keys anywhere
    vault.ok("holder", "add", "ben", "--role", "practitioner", "--recipient", recipient_of(keys["ben"]))
    rid = vault.add_child("Cy Dune")
    vault.add_entry(rid, "hello")
    vault.add_entry(rid, "from ben", "general", "observation", "ben")
    n = int(vault.git("rev-list", "--count", "HEAD"))
    assert vault.git("log", "--format=%G?").split() == ["N"] * n
    r = vault.run("verify")
    assert r.exit_code == 0 and "no findings" in r.stdout, r.stderr
    assert f"{n} commit(s) are unsigned" in r.stderr and "does not require signatures" in r.stderr
    data = json.loads(vault.run("verify", "--json").stdout)
    assert data["findings"] == [] and data["commits"] == n
    assert any(f"{n} commit(s) are unsigned" in note for note in data["notes"]), data["notes"]
    assert vault.run("verify", "--since", "HEAD").exit_code == 0
    assert vault.run("verify", "--since", "no-such-rev").exit_code == int(ExitCode.USAGE)


def test_exit_code_is_documented_and_last():
    assert list(ExitCode)[-1] is ExitCode.FINDINGS and int(ExitCode.FINDINGS) == 9
    assert ExitCode.FINDINGS in EXIT_CODE_DOCS


# ---------------------------------------------------------------------------
# Tampering, as an attacker with write access would do it


def _record(sv: SignedVault, name: str = "Ada Marker") -> str:
    """The record's head file; its entries sit beside it (``_entries``)."""
    return f"records/{sv.records[name]}{envelope.HEAD_SUFFIX}"


def _entries(sv: SignedVault, name: str = "Ada Marker") -> str:
    return f"records/{sv.records[name]}{envelope.ENTRIES_SUFFIX}"


def _changed(sv: SignedVault, commit: str) -> list:
    """The files a (non-merge) commit changed."""
    return sorted(sv.git("diff-tree", "--no-commit-id", "--name-only", "-r", commit).split())


def _load(sv: SignedVault, path: str) -> dict:
    """A record as one dict: the head file's keys plus ``entries`` from the entries file beside it."""
    data = yamlio.load((sv.root / path).read_bytes(), path)
    epath = envelope.entries_source(path)
    data["entries"] = (yamlio.load((sv.root / epath).read_bytes(), epath) or {}).get("entries") or []
    return data


def _dump(sv: SignedVault, path: str, data: dict) -> None:
    """Write a record dict back as its two files, in confide's layout where it allows (so untouched parts keep their bytes)."""
    head = {k: v for k, v in data.items() if k != "entries"}
    entries = data.get("entries") or []
    try:
        head_raw = envelope.Envelope(path, head).head_bytes()
    except Exception:  # the attacker's file need not pass confide's own checks
        head_raw = yamlio.dump(head).encode()
    try:
        tail = envelope.dump_entries(entries)
    except Exception:
        tail = yamlio.dump({"entries": entries}).encode()
    (sv.root / path).write_bytes(head_raw)
    (sv.root / envelope.entries_source(path)).write_bytes(tail)


def test_unsigned_and_unknown_signer_commits_are_found(sv):
    base = sv.head()
    sv.edit("confide.yaml", lambda b: b + b"# note\n")
    unsigned = sv.attacker_commit()
    code, data = sv.verify()
    assert code == FINDINGS
    assert any(f["commit"] == unsigned for f in findings(data, "unsigned"))
    assert_refused(sv, unsigned)
    # a commit built on it is tainted: not judged on its own, not trusted either
    sv.edit("confide.yaml", lambda b: b + b"# another\n")
    on_top = sv.attacker_commit(key=sv.sign["eve"][0])
    code, data = sv.verify()
    assert code == FINDINGS and data["tainted"] == 1 and data["last_verified"] == base
    assert {f["commit"] for f in data["findings"]} == {unsigned} and on_top != unsigned
    assert_refused(sv, unsigned)
    back_to(sv, base)
    sv.edit("confide.yaml", lambda b: b + b"# another\n")
    eve = sv.attacker_commit(key=sv.sign["eve"][0])
    code, data = sv.verify()
    assert code == FINDINGS
    assert any(f["commit"] == eve and "not any holder's" in f["message"] for f in findings(data, "signer"))
    assert_refused(sv, eve)


def test_removed_holder_key_is_not_accepted_after_removal(sv):
    sv.ok("holder", "remove", "cara", "--reason", "left")
    sv.edit("confide.yaml", lambda b: b + b"# cara was here\n")
    c = sv.attacker_commit(author="cara", key=sv.sign["cara"][0])
    code, data = sv.verify()
    assert any(f["commit"] == c and "not an active holder" in f["message"] for f in findings(data, "signer"))
    assert_refused(sv, c)


def test_holders_changed_by_non_manager(sv):
    signers = signers_file(sv).read_bytes()
    sv.edit("holders.yaml", lambda b: b.replace(b"role: practitioner", b"role: manager", 1))
    c = sv.attacker_commit(author="ben", key=sv.sign["ben"][0])
    code, data = sv.verify()
    assert code == FINDINGS
    assert any(f["commit"] == c and f["file"] == "holders.yaml" for f in findings(data, "role"))
    # the keys git trusts come from verified history only: the hand-made holders.yaml changes nothing there
    assert signers_file(sv).read_bytes() == signers
    assert_refused(sv, c, who="ben")


def test_reader_added_by_someone_who_cannot_grant_and_self_added_reader(sv):
    path = _record(sv)
    data = _load(sv, path)
    conf = next(k for k in data["keys"] if k["level"] == "confidential")
    some_block = next(iter(conf["wrapped"].values()))
    conf["wrapped"]["cara"] = some_block  # ben (practitioner) gives cara the confidential level
    _dump(sv, path, data)
    base = sv.head()
    c1 = sv.attacker_commit(author="ben", key=sv.sign["ben"][0])
    code, out = sv.verify()
    assert any(f["commit"] == c1 and f["file"] == path and "'cara' was given a copy of the confidential key" in f["message"]
               for f in findings(out, "reader")), out["findings"]
    assert_refused(sv, c1)
    back_to(sv, base)
    bo = _record(sv, "Bo Quill")
    data = _load(sv, bo)
    conf = next(k for k in data["keys"] if k["level"] == "confidential")
    conf["wrapped"]["ben"] = next(iter(conf["wrapped"].values()))  # ben adds himself to Bo's record
    _dump(sv, bo, data)
    c2 = sv.attacker_commit(author="ben", key=sv.sign["ben"][0])
    code, out = sv.verify()
    assert any(f["commit"] == c2 and f["file"] == bo and "'ben' was given a copy of the confidential key" in f["message"]
               for f in findings(out, "self-grant")), out["findings"]
    assert_refused(sv, c2, who="ben")


def test_entry_changed_or_removed_is_found(sv):
    path = _record(sv)
    data = _load(sv, path)
    first, second = data["entries"][0], data["entries"][1]
    first["data"] = second["data"]
    _dump(sv, path, data)
    base = sv.head()
    c1 = sv.attacker_commit(key=sv.sign["amira"][0])
    assert _changed(sv, c1) == [_entries(sv)]  # the tampering touched only the entries file
    code, out = sv.verify()
    assert any(f["commit"] == c1 and f["file"] == _entries(sv) for f in findings(out, "entry-changed"))
    assert_refused(sv, c1)
    back_to(sv, base)
    data = _load(sv, path)
    data["entries"] = data["entries"][1:]
    _dump(sv, path, data)
    c2 = sv.attacker_commit(key=sv.sign["amira"][0])
    assert _changed(sv, c2) == [_entries(sv)]
    code, out = sv.verify()
    assert any(f["commit"] == c2 and f["file"] == _entries(sv) for f in findings(out, "entry-removed"))
    assert_refused(sv, c2)


def test_author_mismatch_and_binding_mismatch_for_readable_blocks(sv):
    path = _record(sv)
    rid = sv.records["Ada Marker"]
    data = _load(sv, path)
    gen = next(k for k in data["keys"] if k["level"] == "general")
    payload = {"confide": "entry/1", "record": rid, "block": "e-01zzzzzzzzzzzz", "level": "general", "category": "note",
               "text": "forged", "at": "2026-11-24T10:00:00+00:00", "recorded_at": "2026-11-24T10:00:00+00:00",
               "author": "amira", "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": None,
               "third_parties": [], "corrects": None}
    data["entries"].append({"id": "e-01zzzzzzzzzzzz", "key": gen["id"], "data": crypto.encrypt(json.dumps(payload).encode(), gen["recipient"])})
    _dump(sv, path, data)
    base = sv.head()
    c1 = sv.attacker_commit(author="ben", key=sv.sign["ben"][0])  # ben writes as if amira wrote it
    code, out = sv.verify("amira")
    assert any(f["commit"] == c1 and "'amira'" in f["message"] and f["file"] == _entries(sv) for f in findings(out, "author"))
    # without a key these content checks cannot run, and say so
    code, out = sv.verify(None)
    assert not findings(out, "author") and not out["content_checked"]
    back_to(sv, base)
    data = _load(sv, path)
    copy = dict(data["entries"][0])
    copy["id"] = "e-020000000000aa"
    data["entries"].append(copy)  # an old block replayed under a new id
    _dump(sv, path, data)
    c2 = sv.attacker_commit(key=sv.sign["amira"][0])
    code, out = sv.verify("amira")
    assert any(f["commit"] == c2 and "belongs elsewhere" in f["message"] and f["file"] == _entries(sv)
               for f in findings(out, "binding"))
    # the check before every command opens what the caller's key opens in the new commits: amira's command
    # refuses the replayed block (exit 9); ben's too, as the general level is his to read
    for who in ("amira", "ben"):
        r = sv.run("show", rid, who=who)
        assert r.exit_code == FINDINGS and c2[:12] in r.stderr and "belongs elsewhere" in r.stderr, r.stderr


def test_level_key_recipient_replaced_and_new_generation_by_unauthorised_signer(sv):
    path = _record(sv)
    data = _load(sv, path)
    _secret, recipient = crypto.generate_identity()
    conf = next(k for k in data["keys"] if k["level"] == "confidential")
    conf["recipient"] = recipient
    _dump(sv, path, data)
    base = sv.head()
    c1 = sv.attacker_commit(key=sv.sign["amira"][0])
    code, out = sv.verify()
    assert any(f["commit"] == c1 and "recipient" in f["message"] for f in findings(out, "level-key"))
    assert_refused(sv, c1)
    back_to(sv, base)
    bo = _record(sv, "Bo Quill")
    data = _load(sv, bo)
    secret, recipient = crypto.generate_identity()
    safe = next(k for k in data["keys"] if k["level"] == "safeguarding")
    assert sorted(safe["wrapped"]) == ["amira", "cara", "dara"]  # not ben: a practitioner who is not Bo's key person
    data["keys"].append({"id": "k-zzzz", "level": "safeguarding", "generation": safe["generation"] + 1, "recipient": recipient,
                         "wrapped": dict(safe["wrapped"])})
    _dump(sv, bo, data)
    c2 = sv.attacker_commit(author="ben", key=sv.sign["ben"][0])
    code, out = sv.verify()
    assert any(f["commit"] == c2 and f["file"] == bo and "new generation" in f["message"]
               and "does not read that level" in f["message"] for f in findings(out, "level-key")), out["findings"]
    assert_refused(sv, c2, who="ben")
    back_to(sv, base)
    # a holder who reads the level may start a new generation, but not one that leaves the other readers out
    data = _load(sv, path)
    gen = next(k for k in data["keys"] if k["level"] == "general")
    data["keys"].append({"id": "k-zzzz", "level": "general", "generation": gen["generation"] + 1, "recipient": recipient,
                         "wrapped": {"ben": gen["wrapped"]["ben"]}})
    _dump(sv, path, data)
    c3 = sv.attacker_commit(author="ben", key=sv.sign["ben"][0])
    code, out = sv.verify(None)
    assert sorted(f["message"].split("'")[1] for f in findings(out, "reader") if f["commit"] == c3) == ["amira", "cara", "dara"]
    assert not findings(out, "level-key"), out["findings"]
    assert_refused(sv, c3, who="ben")


def test_schema_break_and_plaintext_in_records(sv):
    path = _record(sv)
    fmt = f"format: {envelope.FORMAT}\n".encode()
    base = sv.head()
    sv.edit(path, lambda b: b.replace(fmt, fmt + b"note: see office\n", 1))
    c1 = sv.attacker_commit(key=sv.sign["amira"][0])
    code, out = sv.verify(None)
    assert any(f["commit"] == c1 and f["file"] == path for f in findings(out, "schema"))
    assert_refused(sv, c1)
    back_to(sv, base)
    data = _load(sv, path)
    data["entries"][0]["data"] = "Ada fell off the climbing frame\n"
    _dump(sv, path, data)
    c2 = sv.attacker_commit(key=sv.sign["amira"][0])
    code, out = sv.verify(None)
    assert any(f["commit"] == c2 and "unencrypted" in f["message"] and f["file"] == _entries(sv)
               for f in findings(out, "plaintext"))
    assert "climbing" not in json.dumps(out) and "Ada" not in json.dumps(out)
    r = sv.run("child", "list", "--json")  # the refusal does not repeat what it found either
    assert r.exit_code == FINDINGS and f"commit {c2[:12]}" in r.stderr and "climbing" not in r.stderr


def test_child_name_in_commit_message_or_file_name(sv):
    base = sv.head()
    sv.edit("confide.yaml", lambda b: b + b"# x\n")
    c1 = sv.attacker_commit("notes about Ada Marker", key=sv.sign["amira"][0])
    code, out = sv.verify("amira")
    assert any(f["commit"] == c1 for f in findings(out, "plaintext"))
    assert "Ada" not in json.dumps(out["findings"])  # findings never repeat the name
    assert any(f["commit"] == c1 for f in findings(sv.verify("amira", "--since", "HEAD~1")[1], "plaintext"))
    # someone who cannot read the profile cannot know the name, so the message check needs a key
    code, out = sv.verify(None)
    assert not findings(out, "plaintext")
    back_to(sv, base)
    (sv.root / "records" / "Marker-notes.txt").write_text("x\n")
    c2 = sv.attacker_commit(key=sv.sign["amira"][0])
    code, out = sv.verify("amira")
    assert any(f["file"] == "records/Marker-notes.txt" for f in findings(out, "plaintext"))
    assert any(f["commit"] == c2 for f in findings(out, "file-name"))
    assert "Ada" not in json.dumps(out["findings"])
    assert_refused(sv, c2)


def test_child_name_in_a_branch_or_tag_name_loose_or_packed(sv):
    """Ref names are read from .git/refs and packed-refs (no git process in the check before a command):
    a branch or tag named after a child is found either way, by a key that reads the profile."""
    sv.git("branch", "notes-for-Marker")
    code, out = sv.verify("amira")
    assert [f["file"] for f in findings(out, "plaintext")] == ["refs/heads/notes-for-Marker"], out["findings"]
    sv.git("pack-refs", "--all")
    assert not (sv.root / ".git" / "refs" / "heads" / "notes-for-Marker").exists()  # only in packed-refs now
    sv.git("tag", "Ada-visit")
    code, out = sv.verify("amira")
    assert sorted(f["file"] for f in findings(out, "plaintext")) == ["refs/heads/notes-for-Marker", "refs/tags/Ada-visit"]
    assert "Ada" not in json.dumps([f["message"] for f in out["findings"]])
    sv.git("branch", "-D", "notes-for-Marker")
    sv.git("tag", "-d", "Ada-visit")
    code, out = sv.verify("amira")
    assert not findings(out, "plaintext"), out["findings"]


def test_verify_human_output_and_since(sv):
    sv.edit("confide.yaml", lambda b: b + b"# x\n")
    c = sv.attacker_commit()
    r = sv.run("verify")
    assert r.exit_code == FINDINGS and c[:12] in r.stdout and "unsigned" in r.stdout
    assert sv.run("verify", "--since", c).exit_code == 0


# ---------------------------------------------------------------------------
# Audit


def test_audit_rows_filters_and_what_each_caller_may_see(sv):
    ada = sv.records["Ada Marker"]
    rows = json.loads(sv.ok("audit", "--json").stdout)
    assert rows[-1]["action"] == "vault.init" and all(r["signature"] == "good" for r in rows)
    conf = [r for r in rows if r["action"] == "entry.add" and r["category"] == "concern"]
    assert conf and conf[0]["level"] == "confidential" and conf[0]["name"] == "Ada Marker"
    # cara (practitioner) reads the general level: names and general entries, never the confidential details
    rows = json.loads(sv.ok("audit", "--json", "--record", ada, who="cara").stdout)
    adds = [r for r in rows if r["action"] == "entry.add"]
    assert {r["category"] for r in adds} == {"observation", None}
    assert all(r["name"] == "Ada Marker" for r in rows)
    # no key at all: the trail, with no details
    rows = json.loads(run_cli(["audit", "--json", "--vault", str(sv.root)]).stdout)
    assert rows and all(r["name"] is None and r["category"] is None for r in rows)
    # filters
    rows = json.loads(sv.ok("audit", "--json", "--holder", "ben", "--action", "entry.add").stdout)
    assert len(rows) == 1 and rows[0]["holder"] == "ben"
    assert json.loads(sv.ok("audit", "--json", "--since", "2999-01-01").stdout) == []
    assert sv.run("audit", "--since", "yesterday").exit_code == int(ExitCode.USAGE)
    csv_out = sv.ok("audit", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("date,holder,action,record") and len(csv_out) > 5
    table = sv.ok("audit").stdout
    assert "entry.add" in table
    # a forged, unsigned row: the trail is not shown over it (nor is anything else) ...
    sv.edit("confide.yaml", lambda b: b + b"# x\n")
    forged = sv.attacker_commit("confide: tidy\n\nConfide-Action: settings.edit\nConfide-Holder: amira\n")
    r = sv.run("audit", "--json")
    assert r.exit_code == FINDINGS and r.stdout == ""
    assert f"commit {forged[:12]}" in r.stderr and "unsigned" in r.stderr, r.stderr
    # ... until a manager repudiates it; then it shows as what it is, under the signed answer to it
    answer = sv.ok("repudiate", "--reason", "a hand edit").last_line
    rows = json.loads(sv.ok("audit", "--json").stdout)
    assert [(r["commit"], r["action"], r["signature"]) for r in rows[:2]] == [
        (answer, "vault.repudiate", "good"), (forged, "settings.edit", "unsigned")]


def test_access_changes_by_their_roles_verify_clean_and_expiry_by_any_writer(sv, monkeypatch):
    ada, bo = sv.records["Ada Marker"], sv.records["Bo Quill"]
    now = {"CONFIDE_NOW": "2026-11-24T10:00:00+00:00"}
    later = {"CONFIDE_NOW": "2026-12-05T10:00:00+00:00"}
    sv.ok("grant", "cara", "--child", ada, "--level", "safeguarding", who="dara")  # a DSL grants safeguarding
    r = sv.run("grant", "ben", "--child", bo, "--level", "confidential", "--until", "2026-11-30", env=now)
    assert r.exit_code == 0, r.stderr
    # cara (a practitioner) writes after the grant's last day: her write applies the expiry first, in its own commit
    r = sv.run("add", bo, "--level", "general", "--category", "note", "--text", "later", who="cara", env=later)
    assert r.exit_code == 0, r.stderr
    actions = sv.git("log", "--format=%(trailers:key=Confide-Action,valueonly)").split()
    assert "access.expire" in actions
    monkeypatch.setenv("CONFIDE_NOW", later["CONFIDE_NOW"])  # time goes on (a commit from the future is a finding)
    sv.ok("holder", "rotate", "ben", "--recipient", recipient_of(sv.keys["eve"]), "--signing-key",
          signing_pub(sv.keys, "eve"))
    sv.sign["ben"] = sv.sign["eve"]
    code, data = sv.verify("amira")
    assert code == 0, data["findings"]
    # the same kind of change by a DSL outside its grants is found
    path = _record(sv, "Bo Quill")
    data = _load(sv, path)
    conf = next(k for k in data["keys"] if k["level"] == "confidential")
    conf["wrapped"]["ben"] = conf["wrapped"]["amira"]
    _dump(sv, path, data)
    c = sv.attacker_commit(author="dara", key=sv.sign["dara"][0])
    assert _changed(sv, c) == [path]  # the head only
    code, out = sv.verify()
    assert any(f["commit"] == c and f["file"] == path and "'ben' was given a copy of the confidential key" in f["message"]
               and "does not read that level" in f["message"] for f in findings(out, "reader")), out["findings"]
    assert_refused(sv, c, who="dara")


def test_signing_through_ssh_agent(sv, tmp_path):
    sock = tmp_path / "agent.sock"
    started = subprocess.run(["ssh-agent", "-s", "-a", str(sock)], capture_output=True, text=True, check=True).stdout
    pid = int(started.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
        subprocess.run(["ssh-add", "-q", str(sv.sign["ben"][0])], env=env, check=True, capture_output=True)
        r = sv.run("add", sv.records["Ada Marker"], "--level", "general", "--category", "note", "--text", "via agent",
                   who="ben", env={"CONFIDE_SIGNING_KEY": "", "SSH_AUTH_SOCK": str(sock)})
        assert r.exit_code == 0, r.stderr
        assert sv.git("log", "-1", "--format=%G? %an").strip() == "G ben"
        # a key the agent does not hold: a clear error, nothing changed
        head = sv.head()
        r = sv.run("add", sv.records["Ada Marker"], "--level", "general", "--category", "note", "--text", "x",
                   who="cara", env={"CONFIDE_SIGNING_KEY": "", "SSH_AUTH_SOCK": str(sock)})
        assert r.exit_code == int(ExitCode.EXTERNAL) and "ssh-agent" in r.stderr
        assert sv.head() == head and sv.is_clean()
    finally:
        os.kill(pid, 15)
    assert sv.verify("amira")[0] == 0


def test_allowed_signers_edited_by_hand_is_found_and_not_trusted(sv):
    """A vault tracks no allowed_signers (confide derives it into .git from verified history): one committed
    by hand, naming an outsider's key, is a finding, and neither confide nor plain git trusts it."""
    derived = signers_file(sv).read_text()
    (sv.root / "allowed_signers").write_text(derived + f'eve namespaces="git" {sv.sign["eve"][1]}\n')
    c1 = sv.attacker_commit(key=sv.sign["eve"][0], author="eve")
    code, out = sv.verify(None)
    assert any(f["commit"] == c1 for f in findings(out, "allowed-signers"))
    assert any(f["commit"] == c1 and "not any holder's" in f["message"] for f in findings(out, "signer"))
    assert signers_file(sv).read_text() == derived and sv.sign["eve"][1] not in derived
    assert sv.git("log", "-1", "--format=%G?").strip() != "G"  # plain git: no good signature either
    assert_refused(sv, c1)


def test_entry_altered_under_cover_of_a_mark(sv):
    path = _record(sv)
    rid = sv.records["Ada Marker"]
    data = _load(sv, path)
    gen = next(k for k in data["keys"] if k["level"] == "general")
    conf = max((k for k in data["keys"] if k["level"] == "confidential"), key=lambda k: k["generation"])
    item = data["entries"][0]
    secret = None
    for line in crypto.decrypt(gen["wrapped"]["amira"], crypto.load_identity_file(str(sv.keys["amira"]))[0]).decode().splitlines():
        if line.startswith("AGE-SECRET-KEY-1"):
            secret = line
    payload = json.loads(crypto.decrypt(item["data"], crypto.identity_from_secret(secret)))
    forged = dict(payload, level="confidential", text="something else entirely")
    item["key"], item["data"] = conf["id"], crypto.encrypt(json.dumps(forged).encode(), conf["recipient"])
    mark = {"confide": "mark/1", "record": rid, "block": "m-01zzzzzzzzzzzz", "entry": item["id"], "level": "confidential",
            "author": "amira", "recorded_at": "2026-11-24T10:00:00+00:00", "reason": "tidy",
            "changes": {"level": {"from": "general", "to": "confidential"}}}
    item["marks"] = [{"id": "m-01zzzzzzzzzzzz", "key": conf["id"], "data": crypto.encrypt(json.dumps(mark).encode(), conf["recipient"])}]
    _dump(sv, path, data)
    c = sv.attacker_commit(f"confide: mark entry {item['id']} in {rid}\n\nConfide-Action: entry.mark\n"
                           f"Confide-Record: {rid}\nConfide-Entry: {item['id']}\nConfide-Holder: amira\n", key=sv.sign["amira"][0])
    assert _changed(sv, c) == [_entries(sv)]
    code, out = sv.verify("amira")
    assert any(f["commit"] == c and f["file"] == _entries(sv) and "altered while being moved" in f["message"]
               for f in findings(out, "entry-changed"))
    code, out = sv.verify(None)  # without a key the re-encryption itself looks like a mark
    assert not any(f["commit"] == c for f in out["findings"])


def test_holder_add_with_a_bad_signing_key_changes_nothing(sv):
    head = sv.head()
    r = sv.run("holder", "add", "fay", "--role", "practitioner", "--recipient", recipient_of(sv.keys["eve"]),
               "--signing-key", "ssh-ed25519 not-base64!")
    assert r.exit_code == int(ExitCode.USAGE) and "not an ssh-ed25519 public key" in r.stderr
    r = sv.run("holder", "add", "fay", "--role", "practitioner", "--recipient", recipient_of(sv.keys["eve"]),
               "--signing-key", sv.sign["ben"][1])
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "belongs to holder 'ben'" in r.stderr
    assert sv.head() == head and sv.is_clean()


def test_trailers_that_misdescribe_the_change_are_found(sv):
    ada, bo = sv.records["Ada Marker"], sv.records["Bo Quill"]
    # a real change to Ada's record, re-committed by hand as an entry added to Bo's
    eid = sv.add_entry(ada, "fine", "general", "note")
    sv.git("reset", "-q", "--soft", "HEAD~1")
    c = sv.attacker_commit(f"confide: add entry {eid} to {bo}\n\nConfide-Action: entry.add\nConfide-Record: {bo}\n"
                           f"Confide-Entry: {eid}\nConfide-Holder: amira\n", key=sv.sign["amira"][0])
    assert _changed(sv, c) == [_entries(sv)]  # an add writes only entries
    code, out = sv.verify(None)
    assert any(f["commit"] == c and bo in f["message"] and _entries(sv) in f["message"] for f in findings(out, "trailer"))


def test_entries_file_deleted_alone_is_found_and_is_no_erasure(sv):
    epath = _entries(sv)
    base = sv.head()
    (sv.root / epath).unlink()  # the head stays: the record now has no entries at all
    c1 = sv.attacker_commit(key=sv.sign["amira"][0])
    assert _changed(sv, c1) == [epath]
    code, out = sv.verify(None)
    assert code == FINDINGS
    assert any(f["commit"] == c1 and f["file"] == epath for f in findings(out, "removed")), out["findings"]
    code, out = sv.verify("amira")
    assert any(f["commit"] == c1 and f["file"] == epath for f in findings(out, "removed"))
    assert_refused(sv, c1)
    back_to(sv, base)
    # ... and under a manager's recorded erasure: a head left without its entries is still a broken record, not an erasure
    (sv.root / epath).unlink()
    c2 = sv.attacker_commit(f"confide: erase {sv.records['Ada Marker']}\n\nConfide-Action: record.erase\n"
                            f"Confide-Record: {sv.records['Ada Marker']}\nConfide-Holder: amira\n", key=sv.sign["amira"][0])
    code, out = sv.verify(None)
    assert code == FINDINGS
    assert any(f["commit"] == c2 and f["file"] == epath for f in findings(out, "removed")), out["findings"]
    assert_refused(sv, c2)


def test_record_erased_whole_by_a_manager_is_no_finding_but_by_hand_it_is(sv):
    bo = sv.records["Bo Quill"]
    for part in (envelope.HEAD_SUFFIX, envelope.ENTRIES_SUFFIX):
        (sv.root / "records" / f"{bo}{part}").unlink()
    c1 = sv.attacker_commit(f"confide: erase {bo}\n\nConfide-Action: record.erase\nConfide-Record: {bo}\n"
                            "Confide-Holder: amira\n", key=sv.sign["amira"][0])
    (sv.root / _record(sv)).unlink()  # Ada's head, by hand: the entries file is left behind
    c2 = sv.attacker_commit(key=sv.sign["amira"][0])
    code, out = sv.verify(None)
    assert not any(f["commit"] == c1 for f in out["findings"]), out["findings"]
    assert any(f["commit"] == c2 and f["file"] == _record(sv) for f in findings(out, "removed")), out["findings"]


def test_entries_file_edited_under_a_trailer_for_another_record(sv):
    ada, bo = sv.records["Ada Marker"], sv.records["Bo Quill"]
    # record.create wrote both of a record's files under its own trailer: no trailer finding
    create = sv.git("log", "--format=%H", "--grep", f"Confide-Record: {ada}", "--grep", "Confide-Action: record.create",
                    "--all-match").split()
    assert len(create) == 1 and _changed(sv, create[0]) == sorted([_record(sv), _entries(sv)])
    # a hand-made entry in Ada's entries file, committed as a marking in Bo's record
    base = sv.head()
    data = _load(sv, _record(sv))
    eid = data["entries"][0]["id"]
    copy = dict(data["entries"][0], id="e-020000000000aa")
    data["entries"].append(copy)
    _dump(sv, _record(sv), data)
    c1 = sv.attacker_commit(f"confide: mark entry {eid} in {bo}\n\nConfide-Action: entry.mark\nConfide-Record: {bo}\n"
                            f"Confide-Entry: {eid}\nConfide-Holder: amira\n", key=sv.sign["amira"][0])
    assert _changed(sv, c1) == [_entries(sv)]
    code, out = sv.verify(None)
    tr = findings(out, "trailer")
    assert any(f["commit"] == c1 and bo in f["message"] and _entries(sv) in f["message"] for f in tr), out["findings"]
    assert not any(f["commit"] == create[0] for f in out["findings"])
    assert_refused(sv, c1)
    back_to(sv, base)
    # Bo's head and Ada's entries in one commit under Bo's trailer: one of them is not Bo's
    sv.ok("child", "set", bo, "room=rainbow")
    sv.git("reset", "-q", "--soft", "HEAD~1")
    data = _load(sv, _record(sv))
    dropped = data["entries"].pop()["id"]
    _dump(sv, _record(sv), data)
    c2 = sv.attacker_commit(f"confide: update profile of {bo}\n\nConfide-Action: profile.update\nConfide-Record: {bo}\n"
                            "Confide-Holder: amira\n", key=sv.sign["amira"][0])
    assert _changed(sv, c2) == sorted([_record(sv, "Bo Quill"), _entries(sv)])
    code, out = sv.verify(None)
    tr = findings(out, "trailer")
    assert any(f["commit"] == c2 and bo in f["message"] for f in tr), out["findings"]
    assert not any(f["commit"] == create[0] for f in out["findings"])
    # and what the edit did to Ada's entries is judged where it happened
    assert any(f["commit"] == c2 and f["file"] == _entries(sv) and dropped in f["message"]
               for f in findings(out, "entry-removed")), out["findings"]
    assert_refused(sv, c2)


def test_stray_file_beside_the_record_files_is_a_file_name_finding(sv):
    ada = sv.records["Ada Marker"]
    notes = f"records/{ada}.notes.yaml"
    base = sv.head()
    (sv.root / notes).write_text("notes: []\n")
    c1 = sv.attacker_commit(key=sv.sign["amira"][0])
    code, out = sv.verify("amira")
    assert code == FINDINGS
    assert [(f["check"], f["file"]) for f in out["findings"] if f["commit"] == c1] == [("file-name", notes)]
    assert_refused(sv, c1)
    back_to(sv, base)
    orphan = "records/c-00000000.entries.yaml"  # an entries file with no head beside it
    (sv.root / orphan).write_bytes(envelope.EMPTY_TAIL)
    c2 = sv.attacker_commit(key=sv.sign["amira"][0])
    code, out = sv.verify("amira")
    assert code == FINDINGS
    assert any(f["commit"] == c2 and f["file"] == "records/c-00000000.yaml" for f in findings(out, "removed")), out["findings"]
    assert_refused(sv, c2)


def test_a_record_renamed_to_another_id_is_a_finding_not_a_crash(sv):
    """Both files of a record moved to another id by hand: verify (with a key, so it opens what it can)
    reports the binding and goes on; it never stops with an error."""
    ada = sv.records["Ada Marker"]
    other = "c-zzzzzzzz"
    for suffix in (".yaml", ".entries.yaml"):
        subprocess.run(["git", "-C", str(sv.root), "mv", f"records/{ada}{suffix}", f"records/{other}{suffix}"], check=True)
    c = sv.attacker_commit(key=sv.sign["amira"][0])
    for who in ("amira", None):
        code, out = sv.verify(who)
        assert code == FINDINGS, out
        assert any(f["commit"] == c and f["file"] == f"records/{other}.yaml" for f in findings(out, "binding")), out["findings"]
