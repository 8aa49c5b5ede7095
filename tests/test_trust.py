"""Issue 9: trust nothing unverified. Every attack is built with plain git, as someone who can push to the
repository (and may hold a practitioner's keys, or none) would build it, and for each: verify names it,
and no honest command acts on it (nothing written, no key wrapped for anyone history does not authorise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import VaultFixture, entries_file, head_file, new_key_public, run_cli

from vault_cli.errors import ExitCode
from vault_cli.formats import envelope, yamlio

FINDINGS = int(ExitCode.FINDINGS)


def git(*args, cwd: Path, env=None) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env).stdout


def findings(v: VaultFixture, who: str = "amira") -> list:
    r = v.run("verify", "--json", who=who)
    assert r.exit_code in (0, FINDINGS), r.stderr
    return json.loads(r.stdout)["findings"]


def checks(v: VaultFixture) -> set:
    return {f["check"] for f in findings(v)}


def wrapped_names(v: VaultFixture) -> set:
    """Every holder who holds a wrapped copy of any level key of any record in the working tree."""
    names = set()
    for p in (v.root / "records").glob("c-*.yaml"):
        if p.name.endswith(envelope.ENTRIES_SUFFIX):
            continue
        for k in yamlio.load(p.read_bytes(), str(p))["keys"]:
            names |= set(k["wrapped"])
    return names


def refused_everywhere(v: VaultFixture, bad: str) -> None:
    """No honest command acts on a history that does not verify: reads and writes exit 9 naming the commit,
    and nothing is written."""
    head = v.head()
    for args, who in ((("child", "list"), "amira"), (("child", "add", "--name", "Newcomer"), "amira"),
                      (("holder", "list"), "amira"), (("access", "--holder", "amira"), "amira")):
        r = v.run(*args, who=who)
        assert r.exit_code == FINDINGS, (args, r.exit_code, r.stderr)
        assert bad[:12] in r.stderr and "confide repudiate" in r.stderr
    assert v.head() == head and v.is_clean()


@pytest.fixture
def tv(vault) -> VaultFixture:
    ada = vault.add_child("Ada Marker", key_person="ben", dob="2022-03-04")
    vault.add_child("Bo Quill", key_person="cara")
    vault.add_entry(ada, "played in the sand", "general", "observation")
    vault.add_entry(ada, "a worry", "safeguarding", "concern", "ben")
    return vault


MALLORY = "age1ngf8u57sjrtezwg6jqe6l02735lg9vuml0cah0gtm4msepegl98q8x3d0y"


def _intruder(tmp: Path) -> tuple[Path, str]:
    path = tmp / "mallory.key"
    r = run_cli(["keygen", "--out", str(path)])
    assert r.exit_code == 0, r.stderr
    return path, new_key_public(path)


def _append_manager(v: VaultFixture, public: str) -> None:
    p = v.root / "holders.yaml"
    p.write_text(p.read_text() + (
        f"- name: mallory\n  role: manager\n  recipient: {public}\n  signing_key: {public}\n"
        "  status: active\n  added: '2026-11-24'\n  added_by: amira\n"))


# ---------------------------------------------------------------------------
# An intruder appends a manager to holders.yaml


@pytest.mark.parametrize("how", ["unsigned", "own-key", "practitioner"])
def test_a_manager_appended_by_hand_gets_no_key_and_stops_every_command(tv, tmp_path, how):
    key, public = _intruder(tmp_path)
    _append_manager(tv, public)
    if how == "unsigned":
        bad = tv.commit_as("amira", "tidy", sign=False)
        expect = "unsigned"
    elif how == "own-key":
        bad = tv.commit_as("amira", "tidy", key=key)
        expect = "signer"
    else:
        bad = tv.commit_as("ben", "add a colleague", action="holder.add")
        expect = "role"
    assert expect in checks(tv)
    refused_everywhere(tv, bad)
    assert "mallory" not in wrapped_names(tv)
    # mallory acting with her own key is refused too, and opens nothing
    tv.keys["mallory"] = key
    r = tv.run("show", tv.records["Ada Marker"], who="mallory")
    assert r.exit_code == FINDINGS


def test_a_forged_history_signed_by_the_intruder_is_not_the_vault(tv, tmp_path):
    """Someone rebuilds the vault from scratch with their own key and calls themselves 'amira': it verifies
    on its own, but not from the real vault's identity, so a clone or restore with --trust refuses it."""
    real = run_cli(["trust", "--vault", str(tv.root)]).last_line
    key, public = _intruder(tmp_path)
    forged = tmp_path / "forged"
    r = run_cli(["init", str(forged), "--name", "Test Nursery", "--holder", "amira"], identity=key)
    assert r.exit_code == 0, r.stderr
    fake = run_cli(["trust", "--vault", str(forged)]).last_line
    assert fake != real
    r = run_cli(["clone", str(forged), str(tmp_path / "victim"), "--trust", real])
    assert r.exit_code == FINDINGS and "anchor" in r.stderr
    assert not (tmp_path / "victim").exists()
    r = run_cli(["clone", str(forged), str(tmp_path / "victim")])  # a script, no --trust: never silently
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "--trust" in r.stderr
    assert not (tmp_path / "victim").exists()
    # the real one clones fine with its identity
    r = run_cli(["clone", str(tv.root), str(tmp_path / "good"), "--trust", real])
    assert r.exit_code == 0, r.stderr


def test_init_prints_the_identity_and_the_quick_start_vault_is_signed(tmp_path, isolated_env):
    """keygen, init, child add, add: every commit is signed, verify is clean, plain git checks the signatures."""
    r = run_cli(["keygen"])
    assert r.exit_code == 0, r.stderr
    assert r.last_line.startswith("ssh-ed25519 ")
    root = tmp_path / "v"
    r = run_cli(["init", str(root), "--name", "Sunny Days", "--holder", "amira"])
    assert r.exit_code == 0, r.stderr
    m = re.search(r"identity is ([0-9a-f]{40}@SHA256:[A-Za-z0-9+/]{43})", r.stderr)
    assert m, r.stderr
    assert "signing: required" in (root / "confide.yaml").read_text()
    rid = run_cli(["child", "add", "--name", "Ada", "--vault", str(root)]).last_line
    r = run_cli(["add", rid, "--level", "general", "--category", "note", "--text", "-", "--vault", str(root)], input="hello")
    assert r.exit_code == 0, r.stderr
    r = run_cli(["verify", "--vault", str(root)])
    assert r.exit_code == 0 and "no findings" in r.stdout and m.group(1) in r.stdout, r.stdout + r.stderr
    for sha in git("rev-list", "HEAD", cwd=root).split():
        out = subprocess.run(["git", "-C", str(root), "verify-commit", sha], capture_output=True, text=True)
        assert out.returncode == 0 and 'Good "git" signature for amira' in out.stderr, out.stderr
    assert not (root / "allowed_signers").exists()  # derived into .git/confide, where no commit can change it
    assert git("config", "gpg.ssh.allowedSignersFile", cwd=root).strip() == str(root.resolve() / ".git/confide/allowed_signers")


def test_plain_git_trusts_only_the_derived_signers_file(tv, tmp_path):
    """A commit signed by an intruder who also adds their key to a signers file in the working tree is still
    'no principal' to 'git log --show-signature', which reads .git/confide/allowed_signers."""
    key, public = _intruder(tmp_path)
    (tv.root / "allowed_signers").write_text(f'amira namespaces="git" {public}\n')
    bad = tv.commit_as("amira", "tidy", key=key)
    out = subprocess.run(["git", "-C", str(tv.root), "verify-commit", bad], capture_output=True, text=True)
    assert out.returncode != 0 and "No principal matched" in out.stderr, out.stderr
    good = tv.head() + "~1"
    out = subprocess.run(["git", "-C", str(tv.root), "verify-commit", good], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert {"signer", "allowed-signers"} <= checks(tv)


def test_a_write_that_cannot_be_signed_is_refused_before_anything_changes(tv):
    head = tv.head()
    r = tv.run("child", "add", "--name", "Cy", env={"CONFIDE_SIGNING_KEY": ""})
    assert r.exit_code == int(ExitCode.IDENTITY) and "requires signed commits" in r.stderr, r.stderr
    assert "--signing-key-file" in r.stderr
    assert tv.head() == head and tv.is_clean()


# ---------------------------------------------------------------------------
# Forged keys, swapped recipients, roles rewritten, old heads put back


def _edit_head(v: VaultFixture, rid: str, fn) -> None:
    p = head_file(v.root, rid)
    head = yamlio.load(p.read_bytes(), str(p))
    fn(head)
    p.write_bytes(envelope.Envelope(f"records/{rid}.yaml", head).head_bytes())


def test_a_forged_key_generation_or_swapped_recipient_is_found_and_never_used(tv):
    ada = tv.records["Ada Marker"]
    from vault_cli.adapters import crypto

    secret, recipient = crypto.generate_identity()

    def forge(head):
        gens = [k for k in head["keys"] if k["level"] == "safeguarding"]
        new = {"id": "k-zzzz", "level": "safeguarding", "generation": gens[-1]["generation"] + 1, "recipient": recipient,
               "wrapped": {"cara": gens[-1]["wrapped"]["amira"]}}
        head["keys"].append(new)

    _edit_head(tv, ada, forge)
    bad = tv.commit_as("cara", "re-key", action="access.rekey")
    got = checks(tv)
    assert "level-key" in got and got & {"reader", "self-grant"}, got  # a key made by a non-reader; a copy for herself
    refused_everywhere(tv, bad)
    # the honest 'add' refuses, so no entry is ever sealed to the forged recipient
    r = tv.run("add", ada, "--level", "safeguarding", "--category", "concern", "--text", "x", who="ben")
    assert r.exit_code == FINDINGS


def test_a_swapped_level_key_recipient_is_found(tv):
    ada = tv.records["Ada Marker"]
    from vault_cli.adapters import crypto

    _, recipient = crypto.generate_identity()
    _edit_head(tv, ada, lambda h: [k.update(recipient=recipient) for k in h["keys"] if k["level"] == "safeguarding"][:1])
    bad = tv.commit_as("ben", "tidy", action="access.grant")
    assert "level-key" in checks(tv)
    refused_everywhere(tv, bad)


def test_roles_widened_in_confide_yaml_by_a_practitioner_are_found(tv):
    p = tv.root / "confide.yaml"
    p.write_text(p.read_text().replace("    reads: [general]\n    lowers: [confidential]\n    may: [write]\n",
                                       "    reads: [general, confidential, safeguarding]\n    lowers: [confidential]\n    may: [write]\n", 1))
    bad = tv.commit_as("ben", "settings")
    fs = findings(tv)
    assert any(f["check"] == "role" and f["file"] == "confide.yaml" for f in fs), fs
    refused_everywhere(tv, bad)


def test_an_old_head_put_back_after_a_revocation_is_found(tv):
    ada = tv.records["Ada Marker"]
    before = head_file(tv.root, ada).read_bytes()
    tv.ok("revoke", "ben", "--child", ada, "--level", "safeguarding")
    head_file(tv.root, ada).write_bytes(before)  # ben, revoked, puts the head back as it was
    bad = tv.commit_as("ben", "oops", action="access.grant")
    got = checks(tv)
    assert "level-key" in got and ("grant" in got or "reader" in got), got
    refused_everywhere(tv, bad)


def test_a_key_person_cannot_lower_a_safeguarding_entry_even_in_a_signed_mark(tv, monkeypatch):
    """ben (key person, practitioner) lowers a safeguarding entry with a confide that skips the rule:
    verify, asking the same rules table, reports it."""
    ada = tv.records["Ada Marker"]
    r = tv.run("mark", _entry(tv, ada, "safeguarding"), "--level", "general", "--reason", "not serious", who="ben")
    assert r.exit_code == int(ExitCode.DENIED)
    from vault_cli.model import policy

    real = policy.may_level
    monkeypatch.setattr(policy, "may_level", lambda s, h, rule, lv: True if rule == "lowers" else real(s, h, rule, lv))
    tv.ok("mark", _entry(tv, ada, "safeguarding"), "--level", "general", "--reason", "not serious", who="ben")
    monkeypatch.setattr(policy, "may_level", real)
    fs = findings(tv)
    assert any(f["check"] == "lower" and "safeguarding" in f["message"] for f in fs), fs


def _entry(v: VaultFixture, rid: str, level: str) -> str:
    data = json.loads(v.ok("show", rid, "--json").stdout)
    return next(e["entry"] for e in data["entries"] if e["level"] == level)


def test_nested_aliases_are_refused_at_once_by_commands_and_verify(tv):
    ada = tv.records["Ada Marker"]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(12))
    head_file(tv.root, ada).write_text(bomb)
    bad = tv.commit_as("amira", "tidy", action="profile.update", trailers={"Confide-Record": ada})
    started = time.monotonic()
    fs = findings(tv)
    assert any(f["check"] == "schema" and re.search("YAML (anchor|alias)", f["message"]) for f in fs), fs
    refused_everywhere(tv, bad)
    assert time.monotonic() - started < 60  # a guard against hanging CI, not a timing claim


# ---------------------------------------------------------------------------
# Merges may only merge


def _branch(v: VaultFixture, name: str) -> None:
    git("branch", name, cwd=v.root)


def test_a_signed_merge_that_reverts_a_file_is_found(tv):
    """amira merges a side branch by hand and, in the merge commit, puts back the entries file as it was
    before ben's entry: the file equals one parent's version, and is still found."""
    ada = tv.records["Ada Marker"]
    before = entries_file(tv.root, ada).read_bytes()
    _branch(tv, "side")
    e = tv.add_entry(ada, "on main", "general", "note", "ben")
    git("checkout", "-q", "side", cwd=tv.root)
    tv.add_child("Cy Side")  # the side line has work of its own
    git("checkout", "-q", "main", cwd=tv.root)
    env = dict(os.environ, GIT_AUTHOR_NAME="amira", GIT_AUTHOR_EMAIL="amira@holders.confide.invalid",
               GIT_COMMITTER_NAME="amira", GIT_COMMITTER_EMAIL="amira@holders.confide.invalid")
    git("-c", "gpg.format=ssh", "-c", f"user.signingkey={tv.keys['amira.sign']}", "merge", "-q", "--no-ff", "-S",
        "-s", "ours", "--no-commit", "side", cwd=tv.root, env=env)
    entries_file(tv.root, ada).write_bytes(before)  # ben's entry gone
    git("add", "-A", cwd=tv.root)
    git("-c", "gpg.format=ssh", "-c", f"user.signingkey={tv.keys['amira.sign']}", "commit", "-q", "-S", "-m",
        "merge\n\nConfide-Action: vault.merge\nConfide-Holder: amira", cwd=tv.root, env=env)
    fs = findings(tv)
    assert any(f["check"] == "merge" and f["file"] == f"records/{ada}.entries.yaml" for f in fs), fs
    assert e  # the entry the merge dropped
    refused_everywhere(tv, tv.head())


def test_a_removed_manager_cannot_fork_from_before_their_removal_and_merge_back(tv, tmp_path):
    """eve2 (a manager) is removed on main; on a line forked before that, she adds her accomplice as a
    manager. Her line is not merged at all (what a removed holder did on another line is a conflict: the
    removal wins); a merge made by hand that keeps him is found; and confide's merge function, asked
    directly, would leave him out and drop every copy of a key made for him."""
    from vault_cli.services import merge

    tv.add_holder("eve2", "manager")
    fork_point = tv.head()
    _branch(tv, "fork")
    tv.ok("holder", "remove", "eve2", "--reason", "left")
    git("checkout", "-q", "fork", cwd=tv.root)
    mal_key, mal_public = _intruder(tmp_path)
    tv.ok("holder", "add", "mal", "--role", "manager", "--recipient", mal_public, who="eve2")
    fork_tip = tv.head()
    assert "mal" in wrapped_names(tv)  # on her line, mal holds copies of every level key
    git("checkout", "-q", "main", cwd=tv.root)
    # her line, served from a repository of her own, merged by an honest manager with 'confide sync'
    theirs = tmp_path / "eve.git"
    subprocess.run(["git", "init", "-q", "--bare", str(theirs)], check=True)
    git("push", "-q", str(theirs), "fork:refs/heads/main", cwd=tv.root)
    git("remote", "add", "eve", str(theirs), cwd=tv.root)
    head = tv.head()
    r = tv.run("sync", "eve")
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "removal wins" in r.stderr, r.stderr
    assert tv.head() == head and tv.is_clean()
    holders = {h["holder"]: h for h in json.loads(tv.ok("holder", "list", "--json").stdout)}
    assert "mal" not in holders and holders["eve2"]["status"] == "removed"
    assert "mal" not in wrapped_names(tv) and "eve2" not in wrapped_names(tv)
    assert tv.run("verify").exit_code == 0
    # the same merge made by hand, keeping mal (as eve's merge would): a merge finding
    env = dict(os.environ, GIT_AUTHOR_NAME="amira", GIT_AUTHOR_EMAIL="amira@holders.confide.invalid",
               GIT_COMMITTER_NAME="amira", GIT_COMMITTER_EMAIL="amira@holders.confide.invalid")
    git("merge", "-q", "--no-ff", "--no-commit", "-s", "ours", fork_tip, cwd=tv.root, env=env)
    git("checkout", fork_tip, "--", ".", cwd=tv.root)
    git("add", "-A", cwd=tv.root)
    git("-c", "gpg.format=ssh", "-c", f"user.signingkey={tv.keys['amira.sign']}", "commit", "-q", "-S", "-m",
        "merge\n\nConfide-Action: vault.merge\nConfide-Holder: amira", cwd=tv.root, env=env)
    fs = findings(tv)
    assert any(f["check"] == "merge" and f["file"] == "holders.yaml" for f in fs), fs
    # and the merge function itself, asked directly, never keeps what only her line granted
    cat = lambda c: merge.StateReader(lambda p, _c=c: _show(tv.root, _c, p))  # noqa: E731
    paths = [line for line in git("diff", "--name-only", fork_point, fork_tip, cwd=tv.root).split()]
    out = merge.merge_states(cat(fork_point), cat("HEAD~1"), cat(fork_tip), paths)
    assert b"name: mal" not in out["holders.yaml"]


def _show(root: Path, commit: str, path: str):
    proc = subprocess.run(["git", "-C", str(root), "show", f"{commit}:{path}"], capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


# ---------------------------------------------------------------------------
# Repudiation: recovery without rewriting shared history


def test_repudiation_restores_the_verified_state_and_commands_proceed(tv, tmp_path):
    key, public = _intruder(tmp_path)
    _append_manager(tv, public)
    bad = tv.commit_as("amira", "tidy", key=key)
    verified_before = tv.head() + "~1"
    r = tv.run("repudiate", "--reason", "forged holder", who="ben")
    assert r.exit_code == int(ExitCode.DENIED)  # a practitioner may not
    r = tv.run("repudiate", "--reason", "forged holder")
    assert r.exit_code == 0, r.stderr
    rep = r.last_line
    assert git("rev-parse", f"{rep}^{{tree}}", cwd=tv.root) == git("rev-parse", f"{verified_before}^{{tree}}", cwd=tv.root)
    r = tv.run("verify", "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 0 and data["ok"] and not data["findings"], r.stdout
    assert {f["commit"] for f in data["repudiated"]} == {bad} and data["repudiated"][0]["repudiated_by"] == rep
    rid = tv.ok("child", "add", "--name", "After").last_line
    assert "mallory" not in wrapped_names(tv)
    assert rid
    msg = git("log", "-1", "--format=%B", rep, cwd=tv.root)
    assert f"Confide-Repudiates: {bad}" in msg and "Confide-Action: vault.repudiate" in msg


def test_a_repudiation_by_someone_else_or_restoring_something_else_is_found(tv, tmp_path):
    key, public = _intruder(tmp_path)
    verified = tv.head()
    _append_manager(tv, public)
    bad = tv.commit_as("amira", "tidy", key=key)
    # ben restores the files and claims a repudiation: he may not repudiate
    git("checkout", verified, "--", "holders.yaml", cwd=tv.root)
    tv.commit_as("ben", "repudiate", action="vault.repudiate",
                 trailers={"Confide-Restores": verified, "Confide-Repudiates": bad})
    fs = findings(tv)
    assert any(f["check"] == "repudiation" for f in fs), fs


# ---------------------------------------------------------------------------
# One table of rules: a custom role


def test_a_custom_role_is_judged_the_same_by_commands_and_verify(tv):
    """A 'deputy' reads general and confidential and may grant confidential: commands and verify agree."""
    p = tv.root / "confide.yaml"
    p.write_text(p.read_text().replace("  practitioner:\n", "  deputy:\n    description: deputy manager\n"
                                       "    reads: [general, confidential]\n    grants: [confidential]\n"
                                       "    lowers: [confidential]\n    may: [write]\n  practitioner:\n", 1))
    tv.commit_as("amira", "confide: add the deputy role", action="settings.change")
    assert tv.run("verify").exit_code == 0
    tv.add_holder("dot", "deputy")
    ada = tv.records["Ada Marker"]
    tv.ok("grant", "cara", "--child", ada, "--level", "confidential", who="dot")
    r = tv.run("grant", "cara", "--child", ada, "--level", "safeguarding", who="dot")
    assert r.exit_code == int(ExitCode.DENIED), r.stderr
    assert "'dot' (deputy) may not grant the safeguarding level" in r.stderr
    assert tv.run("verify").exit_code == 0
    # the same grant of safeguarding made by hand, signed by dot, is found by the same rule
    dot_before = tv.head()

    def grant_sg(head):
        head.setdefault("grants", []).append({"holder": "cara", "level": "safeguarding", "granted_by": "dot",
                                              "granted": "2026-11-24"})

    _edit_head(tv, ada, grant_sg)
    tv.commit_as("dot", "grant", action="access.grant")
    fs = findings(tv)
    assert any(f["check"] == "grant" and "safeguarding" in f["message"] for f in fs), fs
    assert dot_before


def test_a_clone_without_a_trust_anchor_refuses_until_one_is_pinned(tv):
    """A clone made with plain git (or a vault from an older confide) has no anchor: nothing is trusted
    until the vault's identity is pinned, and pinning verifies the whole history from it."""
    ident = run_cli(["trust", "--vault", str(tv.root)]).last_line
    shutil.rmtree(tv.root / ".git" / "confide")
    r = tv.run("child", "list")
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "confide trust" in r.stderr, r.stderr
    r = tv.run("trust")  # a script: shown, never accepted silently
    assert r.exit_code == int(ExitCode.VAULT_STATE) and ident in r.stderr, r.stderr
    r = tv.run("trust", "0" * 40 + "@SHA256:" + "A" * 43)
    assert r.exit_code == FINDINGS and "anchor" in r.stderr
    r = tv.run("trust", ident)
    assert r.exit_code == 0 and r.last_line == ident, r.stderr
    assert tv.run("child", "list").exit_code == 0


def test_a_forged_block_is_never_shown_as_genuine_to_a_holder_whose_key_opens_it(tv):
    """cara (a practitioner, not Ada's key person) appends a safeguarding entry that says amira wrote it.
    cara's own commands cannot open it, so the keyless checks pass for her; amira's key opens it, so her
    next command checks it, refuses it (exit 9, 'author'), and her 'confide repudiate' rejects it."""
    from vault_cli.cli import environment
    from vault_cli.services.vault import Session, Vault

    ada = tv.records["Ada Marker"]
    before = tv.head()
    session = Session.start(Vault(tv.root, config=environment.config(identity=str(tv.keys["cara"]))))
    env = session.vault.envelope(ada)
    key = env.current_key("safeguarding")
    eid = "e-01m8p2cgzd20p9"
    payload = {"confide": "entry/1", "record": ada, "block": eid, "level": "safeguarding", "category": "concern",
               "text": "forged", "at": "2026-11-24T10:00:00+00:00", "recorded_at": "2026-11-24T10:00:00+00:00",
               "author": "amira", "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": None,
               "third_parties": [], "corrects": None}
    env.append_entry({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", env.source)})
    entries_file(tv.root, ada).write_bytes(env.tail_bytes())
    bad = tv.commit_as("cara", "add", action="entry.add", trailers={"Confide-Record": ada, "Confide-Entry": eid})
    assert tv.run("child", "list", who="cara").exit_code == 0  # cara's key opens nothing in it
    r = tv.run("show", ada)  # amira's does: the entry is never shown to her as hers
    assert r.exit_code == FINDINGS and bad[:12] in r.stderr and "author" in r.stderr, r.stderr
    assert "forged" not in r.stdout
    fs = findings(tv)
    assert any(f["check"] == "author" and f["commit"] == bad for f in fs), fs
    r = tv.run("repudiate", "--reason", "entry with a false author")
    assert r.exit_code == 0, r.stderr
    assert findings(tv) == [] and tv.run("show", ada).exit_code == 0
    assert git("rev-parse", "HEAD^{tree}", cwd=tv.root) == git("rev-parse", f"{before}^{{tree}}", cwd=tv.root)


def test_repudiate_to_rejects_a_verified_commit(tv):
    """A commit everyone's checks passed (say, a correct-looking but unwanted change) can still be rejected
    for the record, by naming the commit to go back to."""
    before = tv.head()
    tv.add_child("Cy Unwanted")
    r = tv.run("repudiate")
    assert r.exit_code == int(ExitCode.USAGE) and "--to" in r.stderr
    r = tv.run("repudiate", "--to", before, "--reason", "added by mistake")
    assert r.exit_code == 0, r.stderr
    assert tv.run("verify").exit_code == 0
    assert git("rev-parse", "HEAD^{tree}", cwd=tv.root) == git("rev-parse", f"{before}^{{tree}}", cwd=tv.root)


def test_a_record_made_by_a_non_reader_waits_for_its_readers_to_re_key(tv):
    """ben makes Cy's record with cara as key person: he made Cy's confidential and safeguarding keys, so he
    knew their secrets, and he does not read those levels: the head marks them 'rekey'. His writes there are
    warned about; 'due' and 'access' show the pending re-key; amira's next write (any) makes new generations
    he never gets; verify agrees at every step."""
    cy = tv.ok("child", "add", "--name", "Cy Newcomer", "--key-person", "cara", who="ben").last_line
    head = yamlio.load(head_file(tv.root, cy).read_bytes(), "h")
    assert head["rekey"] == ["confidential", "safeguarding"]
    r = tv.ok("add", cy, "--level", "safeguarding", "--category", "concern", "--text", "a worry", who="ben")
    assert "waiting for a new key generation" in r.stderr
    due = json.loads(tv.ok("due", "--json").stdout)["items"]
    assert {(i["record"], i["item"]) for i in due if i["kind"] == "rekey"} == {(cy, "confidential"), (cy, "safeguarding")}
    access = json.loads(tv.ok("access", cy, "--json").stdout)
    assert [lv["level"] for lv in access["levels"] if lv["rekey_pending"]] == ["confidential", "safeguarding"]
    assert tv.run("verify").exit_code == 0
    tv.add_child("Dot Other")  # amira's next write, about another child, re-keys Cy first
    head = yamlio.load(head_file(tv.root, cy).read_bytes(), "h")
    assert "rekey" not in head
    for level in ("confidential", "safeguarding"):
        gens = [k for k in head["keys"] if k["level"] == level]
        assert len(gens) == 2 and "ben" not in gens[-1]["wrapped"]
    assert git("log", "-1", "--skip=1", "--format=%B", cwd=tv.root).count("Confide-Action: access.rekey") == 1
    assert tv.run("verify").exit_code == 0
    assert not [i for i in json.loads(tv.ok("due", "--json").stdout)["items"] if i["kind"] == "rekey"]


@pytest.mark.parametrize("forgery", ["removed", "changed"])
def test_an_old_entry_removed_or_changed_after_the_checkpoint_is_refused(tv, forgery):
    """The check before a command reads a record's version at this clone's checkpoint item by item, parsing
    only the items a later commit changed (``verify_versions.RecordVersion.at_checkpoint``): an old entry that
    ben's signed commit removes, or rewrites as another entry's block, is still found (exit 9), by amira's
    keyed check and by ben's own keyless one; the entries it leaves as they were are not reported."""
    ada = tv.records["Ada Marker"]
    third = tv.add_entry(ada, "built a tower", "general")  # amira's checkpoint, and her key's, is here
    assert tv.run("child", "list", who="ben").exit_code == 0  # ben's too
    path = entries_file(tv.root, ada)
    items = envelope.load_entries(path.read_bytes(), str(path))
    assert len(items) == 3 and items[2]["id"] == third
    general = [i for i, e in enumerate(items) if e["key"] == items[2]["key"]]
    assert len(general) == 2
    if forgery == "removed":
        del items[general[0]]
    else:
        items[general[0]] = dict(items[general[0]], data=items[general[1]]["data"])
    path.write_bytes(envelope.dump_entries(items))
    bad = tv.commit_as("ben", "add", action="entry.add", trailers={"Confide-Record": ada, "Confide-Entry": third})
    check = "entry-removed" if forgery == "removed" else "entry-changed"
    for who in ("amira", "ben"):
        r = tv.run("show", ada, who=who)
        assert r.exit_code == FINDINGS and bad[:12] in r.stderr and check in r.stderr, (who, r.stderr)
    fs = [f for f in findings(tv) if f["commit"] == bad]
    assert [f["check"] for f in fs if f["check"].startswith("entry-")] == [check], fs
