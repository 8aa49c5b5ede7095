"""The attacks an adversarial review of issue 9 built against the trust model, each pinned.

Every attack is made with plain git (and, where it needs one, a holder's real key), as someone who can push
to the repository would make it. Each test shows the attack refused by the command that met it, or named
by ``confide verify``, and the vault left as it was.
"""

from __future__ import annotations

import binascii
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import VaultFixture, entries_file, head_file, new_key_public, recipient_of, run_cli

from vault_cli.errors import ExitCode
from vault_cli.formats import envelope, yamlio

FINDINGS = int(ExitCode.FINDINGS)


def git(*args, cwd: Path, env=None, input: bytes | None = None) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, env=env,
                          input=input).stdout.decode()


def findings(v: VaultFixture, who: str = "amira") -> list:
    r = v.run("verify", "--json", who=who)
    assert r.exit_code in (0, FINDINGS), r.stderr
    return json.loads(r.stdout)["findings"]


def identity_of(v: VaultFixture) -> str:
    r = run_cli(["trust", "--vault", str(v.root)])
    assert r.exit_code == 0, r.stderr
    return r.last_line


def signer_env(who: str, when: str | None = None) -> dict:
    when = when or os.environ["CONFIDE_NOW"]
    return dict(os.environ, GIT_AUTHOR_NAME=who, GIT_AUTHOR_EMAIL=f"{who}@holders.confide.invalid",
                GIT_COMMITTER_NAME=who, GIT_COMMITTER_EMAIL=f"{who}@holders.confide.invalid",
                GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)


def commit_tree(v: VaultFixture, who: str, tree: str, parents: list, message: str, key: Path | None = None) -> str:
    key = key or v.keys[who + ".sign"]
    args = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit-tree", "-S", tree]
    for p in parents:
        args += ["-p", p]
    return git(*args, "-F", "-", cwd=v.root, env=signer_env(who),
               input=f"{message}\n\nConfide-Holder: {who}\n".encode()).strip()


@pytest.fixture
def tv(vault) -> VaultFixture:
    ada = vault.add_child("Ada Marker", key_person="ben")
    vault.add_entry(ada, "played in the sand", "general", "observation")
    return vault


# ---------------------------------------------------------------------------
# The tree's shape: git accepts trees no confide command would make


def _ls(v: VaultFixture, tree: str) -> list:
    out = []
    for line in subprocess.run(["git", "-C", str(v.root), "ls-tree", "-z", tree], check=True,
                               capture_output=True).stdout.split(b"\0"):
        if line:
            meta, _, name = line.partition(b"\t")
            mode, _typ, sha = meta.split()
            out.append((mode, name, sha))
    return out


def _mktree(v: VaultFixture, items: list) -> str:
    raw = b"".join(mode + b" " + name + b"\0" + binascii.unhexlify(sha) for mode, name, sha in items)
    return git("hash-object", "-t", "tree", "-w", "--literally", "--stdin", cwd=v.root, input=raw).strip()


def test_a_tree_that_names_a_record_twice_is_a_finding(tv):
    """git reads ``COMMIT:PATH`` as one of two same-named entries while a diff reports the other: commands
    would read what verify never judged."""
    ada = tv.records["Ada Marker"]
    name = f"{ada}.yaml".encode()
    forged = git("hash-object", "-w", "--stdin", cwd=tv.root, input=b"confide: record/1\n").strip()
    records = []
    for mode, n, sha in _ls(tv, "HEAD:records"):
        if n == name:
            records.append((mode, n, forged.encode()))
        records.append((mode, n, sha))
    top = [(m, n, _mktree(tv, records).encode() if n == b"records" else s) for m, n, s in _ls(tv, "HEAD")]
    bad = commit_tree(tv, "cara", _mktree(tv, top), [tv.head()], "tidy")
    git("update-ref", "refs/heads/main", bad, cwd=tv.root)
    fs = findings(tv)
    assert any(f["check"] == "tree" and f["commit"] == bad and "twice" in f["message"] for f in fs), fs
    assert tv.run("show", ada).exit_code == FINDINGS


@pytest.mark.parametrize("mode,word", [("160000", "submodule"), ("120000", "symbolic link"), ("100755", "executable")])
def test_a_record_that_is_not_a_regular_file_is_a_finding(tv, mode, word):
    """A record re-committed as a gitlink vanishes from every listing (expiry never runs for it) while its
    blob ids, which verify compared, stay the same."""
    ada = tv.records["Ada Marker"]
    part = f"records/{ada}.yaml"
    sha = git("rev-parse", f"HEAD:{part}", cwd=tv.root).strip()
    git("update-index", "--cacheinfo", f"{mode},{sha},{part}", cwd=tv.root)
    tree = git("write-tree", cwd=tv.root).strip()
    bad = commit_tree(tv, "cara", tree, [tv.head()], "tidy")
    git("update-ref", "refs/heads/main", bad, cwd=tv.root)
    fs = findings(tv)
    assert any(f["check"] == "tree" and f["commit"] == bad and word in f["message"] for f in fs), fs


def test_the_records_placeholder_holds_nothing(tv):
    (tv.root / "records" / ".gitkeep").write_text("Ada Marker was hurt\n")
    bad = tv.commit_as("cara", "tidy")
    fs = findings(tv)
    assert any(f["check"] == "file-name" and f["commit"] == bad and ".gitkeep" in f["file"] for f in fs), fs
    assert all("Ada Marker" not in f["message"] for f in fs)


def test_an_impossible_date_is_a_clear_finding_not_a_crash(tv):
    ada = tv.records["Ada Marker"]
    tv.ok("grant", "cara", "--child", ada, "--level", "confidential", "--until", "2026-12-31")
    p = head_file(tv.root, ada)
    p.write_text(re.sub(r"until: '?2026-12-31'?", "until: '2026-02-30'", p.read_text()))
    assert "2026-02-30" in p.read_text()
    bad = tv.commit_as("amira", "tidy", action="access.grant", trailers={"Confide-Record": ada})
    r = tv.run("verify", "--json")
    assert r.exit_code == FINDINGS and "Traceback" not in r.stderr, r.stderr
    fs = json.loads(r.stdout)["findings"]
    assert any(f["commit"] == bad and "impossible date" in f["message"] for f in fs), fs


def test_a_commit_dated_in_the_future_is_a_finding(tv):
    """Dates are the committer's word: a practitioner's commit dated after a grant's end would pass as the
    grant's expiry weeks early."""
    env = signer_env("amira", "2027-01-05T10:00:00+00:00")
    tree = git("write-tree", cwd=tv.root).strip()
    bad = git("-c", "gpg.format=ssh", "-c", f"user.signingkey={tv.keys['amira.sign']}", "commit-tree", "-S", tree,
              "-p", tv.head(), "-F", "-", cwd=tv.root, env=env,
              input=b"expire\n\nConfide-Action: access.expire\nConfide-Holder: amira\n").strip()
    git("update-ref", "refs/heads/main", bad, cwd=tv.root)
    fs = findings(tv)
    assert any(f["check"] == "date" and f["commit"] == bad for f in fs), fs
    # once that day has come, the same commit is an ordinary one
    r = tv.run("verify", "--json", env={"CONFIDE_NOW": "2027-01-06T10:00:00+00:00"})
    assert not [f for f in json.loads(r.stdout)["findings"] if f["check"] == "date"], r.stdout


# ---------------------------------------------------------------------------
# Keys: a rotation replaces the signing key too; a replaced key restores nothing


def test_rotate_replaces_the_signing_key_and_the_old_key_signs_nothing_after(tv, tmp_path):
    """A lost laptop holds a key that reads and signs: 'holder rotate' replaces both, in one commit."""
    new = tmp_path / "amira2.key"
    assert run_cli(["keygen", "--out", str(new)]).exit_code == 0
    public = new_key_public(new)
    r = tv.run("holder", "rotate", "amira", "--recipient", public, "--new-identity", str(new))
    assert r.exit_code == 0, r.stderr
    hs = {h["name"]: h for h in yamlio.load((tv.root / "holders.yaml").read_bytes(), "h")["holders"]}
    assert hs["amira"]["recipient"] == public and hs["amira"]["signing_key"] == public
    assert hs["amira"]["previous_signing_keys"][-1]["key"] != public
    # the new key writes; the stolen old one is refused as a signer
    tv.keys["amira"] = new
    tv.keys["amira.sign"] = new
    tv.add_child("Cy Newcomer")
    bad = tv.commit_as("amira", "tidy", key=tmp_path / "keys" / "amira.sign")
    fs = findings(tv)
    assert any(f["check"] == "signer" and f["commit"] == bad and "replaced" in f["message"] for f in fs), fs


def test_rotate_to_an_age_key_asks_for_the_new_signing_key(tv, tmp_path):
    ident = tmp_path / "ben2.txt"
    assert run_cli(["keygen", "--age", "--out", str(ident)]).exit_code == 0
    age_public = recipient_of(ident)
    head = tv.head()
    r = tv.run("holder", "rotate", "ben", "--recipient", age_public)
    assert r.exit_code == int(ExitCode.USAGE) and "--signing-key" in r.stderr, r.stderr
    assert tv.head() == head and tv.is_clean()


def test_a_rotation_that_keeps_the_old_signing_key_is_a_finding(tv, tmp_path):
    new = tmp_path / "ben2.key"
    assert run_cli(["keygen", "--out", str(new)]).exit_code == 0
    p = tv.root / "holders.yaml"
    data = yamlio.load(p.read_bytes(), "h")
    ben = next(h for h in data["holders"] if h["name"] == "ben")
    ben["previous_recipients"] = [*ben.get("previous_recipients", []), ben["recipient"]]
    ben["recipient"] = new_key_public(new)
    dumped = yamlio.dump(data)
    p.write_bytes(dumped.encode() if isinstance(dumped, str) else dumped)
    bad = tv.commit_as("amira", "rotate", action="holder.rotate")
    fs = findings(tv)
    assert any(f["commit"] == bad and "kept the old signing key" in f["message"] for f in fs), fs


def test_a_removed_managers_key_cannot_repudiate_back_to_before_the_removal(tv, tmp_path):
    """A repudiation is judged by the state it restores and by the newest verified state behind it: a key
    removed since cannot make itself a manager's again."""
    eve = tv.add_holder("eve2", "manager")
    restored = tv.head()
    tv.ok("holder", "remove", "eve2", "--reason", "left")
    since = git("rev-list", "HEAD", f"^{restored}", cwd=tv.root).split()
    git("rm", "-q", "-r", "--", ".", cwd=tv.root)
    git("checkout", restored, "--", ".", cwd=tv.root)
    bad = tv.commit_as("eve2", f"repudiate {len(since)} commit(s)", action="vault.repudiate", key=eve,
                       trailers={"Confide-Restores": restored, "Confide-Repudiates": " ".join(since)})
    fs = findings(tv)
    assert any(f["check"] == "repudiation" and f["commit"] == bad and "removed or replaced" in f["message"]
               for f in fs), fs


# ---------------------------------------------------------------------------
# Merges: every common ancestor asked; a removed holder's other line is not merged in


def _two_clones(tv: VaultFixture, tmp_path: Path) -> tuple[Path, str]:
    bare = tmp_path / "shared.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    assert run_cli(["serve-hook", "install", str(bare), "--trust", identity_of(tv)]).exit_code == 0
    git("remote", "add", "origin", str(bare), cwd=tv.root)
    assert tv.run("sync").exit_code == 0
    return bare, identity_of(tv)


def test_the_hook_sets_the_shared_branch_and_checks_objects(tv, tmp_path):
    bare, _ident = _two_clones(tv, tmp_path)
    assert git("config", "receive.fsckObjects", cwd=bare).strip() == "true"
    assert git("symbolic-ref", "HEAD", cwd=bare).strip() == "refs/heads/main"
    assert git("config", "transfer.fsckObjects", cwd=tv.root).strip() == "true"


def test_a_removed_holders_work_on_another_line_is_a_conflict_not_a_merge(tv, tmp_path):
    """eve (a manager) is removed on main; on a line forked before, her key still signs as an active
    manager's. Whatever she did there (here: confide.yaml rewritten) is never merged in."""
    eve = tv.add_holder("eve2", "manager")
    fork = tv.head()
    tv.ok("holder", "remove", "eve2", "--reason", "left")
    main = tv.head()
    # her line: a fork from before her removal, with a change only a manager may make
    git("checkout", "-q", "-b", "fork", fork, cwd=tv.root)
    p = tv.root / "confide.yaml"
    p.write_text(p.read_text().replace("    reads: [general]\n", "    reads: [general, confidential, safeguarding]\n", 1))
    theirs = tv.commit_as("eve2", "settings", action="vault.settings", key=eve)
    git("checkout", "-q", "main", cwd=tv.root)
    theirs_repo = tmp_path / "eve.git"
    subprocess.run(["git", "init", "-q", "--bare", str(theirs_repo)], check=True)
    git("push", "-q", str(theirs_repo), f"{theirs}:refs/heads/main", cwd=tv.root)
    git("branch", "-D", "fork", cwd=tv.root)
    git("remote", "add", "eve", str(theirs_repo), cwd=tv.root)
    r = tv.run("sync", "eve")
    assert r.exit_code == int(ExitCode.VAULT_STATE) and "removal wins" in r.stderr, r.stderr
    assert tv.head() == main and tv.is_clean()
    # the same merge made by hand: verify names it
    env = signer_env("amira")
    git("merge", "-q", "--no-ff", "--no-commit", "-s", "ours", theirs, cwd=tv.root, env=env)
    git("checkout", theirs, "--", "confide.yaml", cwd=tv.root)
    git("-c", "gpg.format=ssh", "-c", f"user.signingkey={tv.keys['amira.sign']}", "commit", "-q", "-S", "-m",
        "merge\n\nConfide-Action: vault.merge\nConfide-Holder: amira", cwd=tv.root, env=env)
    fs = findings(tv)
    assert any(f["check"] == "merge" and "removal wins" in f["message"] for f in fs), fs


def test_a_criss_cross_merge_whose_answer_depends_on_the_base_is_a_conflict(tv):
    """After a criss-cross there are two best common ancestors. From the older one, a grant revoked on one
    line looks "added on the other": every base is asked, and answers that differ are a conflict."""
    from vault_cli.adapters import gitlog
    from vault_cli.services.merge import Conflict, StateReader, merge_commits

    ada = tv.records["Ada Marker"]
    x0 = tv.head()
    tv.ok("grant", "cara", "--child", ada, "--level", "confidential")
    g = tv.head()
    # cara's line: a note, from before the grant
    git("checkout", "-q", "-b", "cara", x0, cwd=tv.root)
    x = tv.commit_as("cara", "a commit of hers")
    git("checkout", "-q", "main", cwd=tv.root)
    tree_a1 = git("rev-parse", f"{g}^{{tree}}", cwd=tv.root).strip()
    a1 = commit_tree(tv, "amira", tree_a1, [g, x], "merge\n\nConfide-Action: vault.merge")
    b = commit_tree(tv, "cara", tree_a1, [x, g], "merge\n\nConfide-Action: vault.merge")
    git("update-ref", "refs/heads/main", a1, cwd=tv.root)
    git("reset", "-q", "--hard", a1, cwd=tv.root)
    tv.ok("revoke", "cara", "--child", ada, "--level", "confidential")
    a2 = tv.head()
    bases = gitlog.merge_bases(tv.root, a2, b)
    assert sorted(bases) == sorted([g, x])
    cat = gitlog.CatFile(tv.root)
    try:
        reader = lambda c: StateReader(lambda p, _c=c: cat.get(f"{_c}:{p}"))  # noqa: E731
        changed = lambda base, side: [p for p, _o, _n in gitlog.diff_paths(tv.root, base, side)]  # noqa: E731
        with pytest.raises(Conflict, match="criss-cross"):
            merge_commits(bases, a2, b, reader, changed)
    finally:
        cat.close()


# ---------------------------------------------------------------------------
# The keyed check reaches every path a commit comes in by


def _forge_safeguarding_entry(v: VaultFixture, clone: Path, rid: str, as_author: str, who: str) -> str:
    """In ``clone``, ``who`` appends a safeguarding entry that says ``as_author`` wrote it (a practitioner
    who is not the key person cannot open the level, but can seal for its recipient)."""
    from vault_cli.cli import environment
    from vault_cli.services.vault import Session, Vault

    session = Session.start(Vault(clone, config=environment.config(identity=str(v.keys[who]))))
    env = session.vault.envelope(rid)
    key = env.current_key("safeguarding")
    eid = "e-01m8p2cgzd20p9"
    payload = {"confide": "entry/1", "record": rid, "block": eid, "level": "safeguarding", "category": "concern",
               "text": "forged", "at": "2026-11-24T10:00:00+00:00", "recorded_at": "2026-11-24T10:00:00+00:00",
               "author": as_author, "parent_view": "not-asked", "parents_informed": None,
               "parents_not_informed": None, "third_parties": [], "corrects": None}
    env.append_entry({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", env.source)})
    entries_file(clone, rid).write_bytes(env.tail_bytes())
    fixture = VaultFixture(clone, v.keys, dict(v.records))
    return fixture.commit_as(who, "add", action="entry.add", trailers={"Confide-Record": rid, "Confide-Entry": eid})


def test_sync_checks_what_it_fetches_with_the_callers_key(tv, tmp_path):
    """The shared repository's hook has no key: cara's forged safeguarding entry passes it. amira's sync
    opens it with her key before taking it, refuses, and says how a manager rejects it for everyone."""
    ada = tv.records["Ada Marker"]
    tv.add_entry(ada, "a worry", "safeguarding", "concern", "ben")
    bare, ident = _two_clones(tv, tmp_path)
    cara = tmp_path / "cara"
    assert run_cli(["clone", str(bare), str(cara), "--trust", ident], identity=tv.keys["cara"]).exit_code == 0
    bad = _forge_safeguarding_entry(tv, cara, ada, "amira", "cara")
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=cara)  # keyless: the hook cannot see it
    head = tv.head()
    r = tv.run("sync")
    assert r.exit_code == FINDINGS and bad[:12] in r.stderr and "author" in r.stderr, r.stderr
    assert "git merge --no-edit origin/main" in r.stderr and "confide repudiate" in r.stderr
    assert tv.head() == head and tv.is_clean()
    # the recovery the hint gives works end to end
    git("merge", "-q", "--no-edit", "origin/main", cwd=tv.root)
    r = tv.run("repudiate", "--reason", "an entry with a false author")
    assert r.exit_code == 0, r.stderr
    assert tv.run("sync").exit_code == 0
    assert findings(tv) == []
    r = tv.run("show", ada)
    assert r.exit_code == 0 and "forged" not in r.stdout


def test_audit_checks_what_the_callers_key_opens(tv):
    ada = tv.records["Ada Marker"]
    tv.add_entry(ada, "a worry", "safeguarding", "concern", "ben")
    bad = _forge_safeguarding_entry(tv, tv.root, ada, "amira", "cara")
    r = tv.run("audit", "--json")
    assert r.exit_code == FINDINGS and bad[:12] in r.stderr, r.stderr
    assert "forged" not in r.stdout and "e-01m8p2cgzd20p9" not in r.stdout


def test_what_is_built_on_a_repudiated_commit_stays_untrusted(tv):
    """A repudiation answers the commits it names; a commit made later on top of one of them (not on the
    repudiation) brings their changes back: it is a finding of its own."""
    tv.add_child("Cy Unwanted")
    unwanted = tv.head()
    before = git("rev-parse", f"{unwanted}~1", cwd=tv.root).strip()
    assert tv.run("repudiate", "--to", before, "--reason", "added by mistake").exit_code == 0
    rep = tv.head()
    tree = git("rev-parse", f"{unwanted}^{{tree}}", cwd=tv.root).strip()
    y = git("-c", "commit.gpgsign=false", "commit-tree", tree, "-p", unwanted, "-m", "y", cwd=tv.root,
            env=signer_env("mallory")).strip()
    m = git("-c", "commit.gpgsign=false", "commit-tree", tree, "-p", rep, "-p", y, "-m",
            "merge\n\nConfide-Action: vault.merge\nConfide-Holder: amira", cwd=tv.root, env=signer_env("amira")).strip()
    git("update-ref", "refs/heads/main", m, cwd=tv.root)
    git("reset", "-q", "--hard", m, cwd=tv.root)
    fs = findings(tv)
    assert any(f["check"] == "tainted" and f["commit"] in (y, m) for f in fs), fs
    assert tv.run("child", "list").exit_code == FINDINGS


def test_a_later_key_generation_is_made_only_by_a_holder_who_reads_the_level(tv):
    """Whoever makes a level key knows its secret. cara (who does not read Ada's safeguarding) makes its
    next generation, wrapped for every reader and marked for re-keying: every concern written under it
    before a reader's next write would be hers to read. Only a record's first keys may be made so."""
    from vault_cli.formats.policyfiles import holders_from_bytes, settings_from_bytes
    from vault_cli.model import policy

    ada = tv.records["Ada Marker"]
    p = head_file(tv.root, ada)
    head = yamlio.load(p.read_bytes(), str(p))
    hs = holders_from_bytes((tv.root / "holders.yaml").read_bytes())
    st = settings_from_bytes((tv.root / "confide.yaml").read_bytes())
    gens = [k for k in head["keys"] if k["level"] == "safeguarding"]
    key, secret = envelope.new_level_key({k["id"] for k in head["keys"]}, "safeguarding",
                                         max(k["generation"] for k in gens) + 1)
    for name in sorted(policy.readers_for(st, hs, head, "safeguarding", None)):
        key["wrapped"][name] = envelope.wrap_level_key(secret, record=ada, key=key,
                                                       holder_recipient=hs.find(name).recipient)
    last = max(i for i, k in enumerate(head["keys"]) if k["level"] == "safeguarding")
    head["keys"].insert(last + 1, key)
    envelope.mark_rekey(head, "safeguarding")
    p.write_bytes(envelope.Envelope(f"records/{ada}.yaml", head).head_bytes())
    bad = tv.commit_as("cara", "re-key", action="access.rekey", trailers={"Confide-Record": ada})
    fs = findings(tv)
    assert any(f["check"] == "level-key" and f["commit"] == bad and "does not read" in f["message"] for f in fs), fs
    r = tv.run("add", ada, "--level", "safeguarding", "--category", "concern", "--text", "a worry", who="ben")
    assert r.exit_code == FINDINGS, r.stderr  # nothing is sealed under her key
