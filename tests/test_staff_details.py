"""Staff details (a holder's display name, the reason they were removed) are sealed in holders.yaml.

Sealed for the holders ``policy.staff_readers`` names (managers, the DSL for display names, a recovery key), in
no git object in the clear, sealed anew when those readers change; an old vault with plain details is sealed by
the next manager's write; verify reports a forged commit that keeps them in the clear or seals them too widely.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import VaultFixture, recipient_of, run_cli, signing_pub

from vault_cli.adapters import crypto
from vault_cli.errors import ExitCode
from vault_cli.formats import yamlio

FINDINGS = int(ExitCode.FINDINGS)
NAME = "Zelda Quillmarker"  # markers: a display name and a removal reason
REASON = "dismissed after Quillreason hearing"


def all_objects(v: VaultFixture) -> bytes:
    """Every object in the repository, decompressed (blobs, trees, commits), as git itself reads them."""
    return subprocess.run(["git", "-C", str(v.root), "cat-file", "--batch-all-objects", "--batch"],
                          check=True, capture_output=True).stdout


def holders_doc(v: VaultFixture, rev: str = "HEAD") -> dict:
    return yamlio.load(v.git("show", f"{rev}:holders.yaml"), "holders.yaml")


def entry(v: VaultFixture, name: str, rev: str = "HEAD") -> dict:
    return next(h for h in holders_doc(v, rev)["holders"] if h["name"] == name)


def listed(v: VaultFixture, who: str = "amira") -> dict:
    return {r["holder"]: r for r in json.loads(v.ok("holder", "list", "--json", who=who).stdout)}


def findings(v: VaultFixture) -> list:
    r = v.run("verify", "--json")
    assert r.exit_code in (0, FINDINGS), r.stderr
    return json.loads(r.stdout)["findings"]


def opens(block: str, key: Path) -> bool:
    ident = crypto.load_identity_file(str(key))[0]
    try:
        crypto.decrypt(block, ident)
        return True
    except crypto.NotForThisKey:
        return False


def test_display_names_and_removal_reasons_are_in_no_git_object_in_the_clear(vault):
    v = vault
    v.ok("holder", "add", "rec", "--role", "recovery", "--recipient", recipient_of(v.keys["rec"]))
    v.ok("holder", "set-display-name", "cara", NAME)
    v.ok("holder", "remove", "ben", "--reason", REASON)
    blob = all_objects(v)
    assert b"Quillmarker" not in blob and b"Quillreason" not in blob
    assert "Quill" not in (v.root / "holders.yaml").read_text()
    assert holders_doc(v)["format"] == "confide/holders/2"
    # sealed for those who use them: the display name for whoever prepares a parent's copy, the reason for managers
    assert entry(v, "cara")["display_name"]["for"] == ["amira", "dara", "rec"]
    assert entry(v, "ben")["removed_reason"]["for"] == ["amira", "rec"]
    assert {"name", "role", "recipient", "signing_key", "status", "removed", "removed_by"} <= set(entry(v, "ben"))
    rows = listed(v)
    assert rows["cara"]["display_name"] == NAME and rows["ben"]["removed_reason"] == REASON
    assert rows["cara"]["sealed_details"] == [] and rows["ben"]["sealed_details"] == []
    dsl = listed(v, "dara")
    assert dsl["cara"]["display_name"] == NAME and dsl["ben"]["removed_reason"] is None
    assert dsl["ben"]["sealed_details"] == ["removed_reason"]
    other = listed(v, "cara")  # a practitioner reads neither, not even her own
    assert other["cara"]["display_name"] is None and other["ben"]["removed_reason"] is None
    assert opens(entry(v, "cara")["display_name"]["data"], v.keys["rec"])
    # the list needs no key: with none (or one that cannot be loaded) the details stay sealed
    r = run_cli(["holder", "list", "--json"], env={"CONFIDE_VAULT": str(v.root), "CONFIDE_IDENTITY": str(v.root / "nowhere")})
    assert r.exit_code == 0, r.stderr
    assert {row["holder"]: row["sealed_details"] for row in json.loads(r.stdout)}["ben"] == ["removed_reason"]
    # the commands' own output never repeats them
    r = v.run("holder", "set-display-name", "cara", NAME)
    assert r.exit_code == int(ExitCode.USAGE) and "Quill" not in r.stdout + r.stderr
    assert findings(v) == []


def test_details_are_sealed_anew_when_their_readers_change(vault):
    v = vault
    v.ok("holder", "set-display-name", "cara", NAME)
    v.ok("holder", "remove", "ben", "--reason", REASON)
    v.add_holder("erin", "manager")  # a new manager reads what is there
    assert entry(v, "ben")["removed_reason"]["for"] == ["amira", "erin"]
    assert listed(v, "erin")["ben"]["removed_reason"] == REASON
    before = entry(v, "cara")["display_name"]["data"]
    v.ok("holder", "rotate", "dara", "--recipient", run_key(v, "dara2"))  # a reader's new key: sealed anew
    after = entry(v, "cara")["display_name"]["data"]
    assert after != before and not opens(after, v.keys["dara"]) and opens(before, v.keys["dara"])
    v.ok("holder", "remove", "erin", "--reason", "moved away")  # a manager who leaves no longer opens them
    for h in holders_doc(v)["holders"]:
        for detail in ("display_name", "removed_reason"):
            if isinstance(h.get(detail), dict):
                assert "erin" not in h[detail]["for"] and not opens(h[detail]["data"], v.keys["erin"])
    assert findings(v) == []


def run_key(v: VaultFixture, name: str) -> str:
    path = Path(v.keys["amira"]).parent / f"{name}.key"
    r = run_cli(["keygen", "--out", str(path)])
    assert r.exit_code == 0, r.stderr
    from conftest import new_key_public

    return new_key_public(path)


def _legacy_vault(tmp_path, keys, monkeypatch) -> VaultFixture:
    """A vault as confide made them before staff details were sealed: holders.yaml format 1, details in the clear."""
    from vault_cli.formats import policyfiles
    from vault_cli.services import staff

    def old_dump(holders, **_):
        data = {"format": "confide/holders/1", "holders": []}
        for h in holders.all:
            d = h.to_dict()
            if h.display_name:
                d["display_name"] = h.display_name
            if h.status == "removed":
                d["removed_reason"] = h.removed_reason
            data["holders"].append(d)
        return yamlio.dump(data)

    with monkeypatch.context() as m:
        m.setattr(policyfiles, "dump_holders", old_dump)
        m.setattr(staff, "seal_details", lambda *a, **k: None)
        m.setattr(staff, "seal_if_due", lambda *a, **k: None)
        root = tmp_path / "old"
        r = run_cli(["init", str(root), "--name", "Old Nursery", "--holder", "amira",
                     "--signing-key", signing_pub(keys, "amira")], identity=keys["amira"],
                    env={"CONFIDE_SIGNING_KEY": str(keys["amira.sign"])})
        assert r.exit_code == 0, r.stderr
        v = VaultFixture(root, keys)
        for name, role in (("ben", "practitioner"), ("dara", "dsl")):
            v.ok("holder", "add", name, "--role", role, "--recipient", recipient_of(keys[name]),
                 "--signing-key", signing_pub(keys, name), "--display-name", NAME if name == "ben" else "Dara D")
        v.ok("holder", "remove", "ben", "--reason", REASON)
    assert holders_doc(v)["format"] == "confide/holders/1" and "Quillreason" in v.git("show", "HEAD:holders.yaml")
    return v


def test_an_old_vault_is_sealed_by_the_next_managers_write(tmp_path, keys, monkeypatch):
    v = _legacy_vault(tmp_path, keys, monkeypatch)
    assert findings(v) == []  # the old format is history, not a finding
    rid = v.ok("child", "add", "--name", "Ada Old", who="dara").last_line  # a DSL's write does not seal
    assert holders_doc(v)["format"] == "confide/holders/1"
    before = v.head()
    v.ok("add", rid, "--level", "general", "--category", "observation", "--text", "x")  # a manager's write does
    log = v.git("log", "--format=%s", f"{before}..HEAD").splitlines()
    assert log == ["confide: add entry " + log[0].split("add entry ")[-1], "confide: seal staff details in holders.yaml"]
    text = v.git("show", "HEAD:holders.yaml")
    assert "Quill" not in text and "Dara D" not in text and holders_doc(v)["format"] == "confide/holders/2"
    assert listed(v)["ben"]["display_name"] == NAME and listed(v)["ben"]["removed_reason"] == REASON
    assert findings(v) == []


def _forge(v: VaultFixture, edit) -> str:
    doc = yamlio.load((v.root / "holders.yaml").read_text(), "holders.yaml")
    edit(doc)
    (v.root / "holders.yaml").write_text(yamlio.dump(doc))
    return v.commit_as("amira", "tidy holders", action="holder.display-name")


@pytest.mark.parametrize("how", ["plain", "downgrade", "too-wide"])
def test_a_forged_commit_with_staff_details_in_the_clear_or_sealed_too_widely_is_found(vault, how):
    v = vault
    v.ok("holder", "set-display-name", "cara", NAME)

    def edit(doc):
        cara = next(h for h in doc["holders"] if h["name"] == "cara")
        if how == "plain":
            cara["display_name"] = "Plain Marker"
        elif how == "downgrade":
            doc["format"] = "confide/holders/1"
            cara["display_name"] = "Plain Marker"
        else:
            cara["display_name"]["for"] = ["amira", "ben", "dara"]  # ben, a practitioner, may not read it

    bad = _forge(v, edit)
    fs = [f for f in findings(v) if f["check"] == "staff-details"]
    assert fs and all(f["commit"] == bad and f["file"] == "holders.yaml" for f in fs), fs
    assert not any("Plain Marker" in f["message"] or "Quill" in f["message"] for f in fs)
    r = v.run("holder", "list")
    assert r.exit_code == FINDINGS and bad[:12] in r.stderr and "Plain Marker" not in r.stderr


def test_a_block_moved_to_another_holder_does_not_open_as_theirs(vault):
    v = vault
    v.ok("holder", "set-display-name", "cara", NAME)

    def edit(doc):
        by = {h["name"]: h for h in doc["holders"]}
        by["ben"]["display_name"] = dict(by["cara"]["display_name"])

    _forge(v, edit)
    r = v.run("holder", "list", "--json")
    assert r.exit_code == int(ExitCode.INTEGRITY), r.stderr
    assert "display name of holder 'ben'" in r.stderr and "Quill" not in r.stdout + r.stderr


def test_readers_changed_in_confide_yaml_are_sealed_for_by_the_next_managers_write(vault):
    v = vault
    v.ok("holder", "set-display-name", "cara", NAME)
    p = v.root / "confide.yaml"
    p.write_text(p.read_text().replace("    reads: [general]\n    lowers: [confidential]\n    may: [write]\n",
                                       "    reads: [general]\n    lowers: [confidential]\n    may: [write, requests]\n", 1))
    v.commit_as("amira", "practitioners answer requests too")
    assert listed(v, "ben")["cara"]["display_name"] is None  # sealed before ben's role could export
    before = v.head()
    v.ok("child", "add", "--name", "Ada Newcomer", who="ben")
    assert v.git("rev-list", "--count", f"{before}..HEAD").strip() == "1"  # a practitioner's write seals nothing
    v.ok("child", "add", "--name", "Bea Newcomer")
    assert v.git("log", "-2", "--format=%s").splitlines()[1] == "confide: seal staff details in holders.yaml"
    assert entry(v, "cara")["display_name"]["for"] == ["amira", "ben", "cara", "dara"]
    assert listed(v, "ben")["cara"]["display_name"] == NAME
    assert findings(v) == []


def test_two_clones_change_holders_and_sync_with_the_details_still_sealed(tmp_path, vault):
    """The merge driver has no key: holders changed on both sides merge per holder, sealed blocks as they are,
    compared by their versions: a side that only sealed the same values anew for other readers gives way to the
    other side's change (or, both only resealing, to the first side), and the next manager's write seals anew."""
    from test_history import as_signed
    from test_history_sync import clone_of, git

    v = as_signed(vault)
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("remote", "add", "origin", str(bare), cwd=v.root)
    assert v.run("sync").exit_code == 0
    other = clone_of(v, str(bare), tmp_path / "other")
    v.ok("holder", "set-display-name", "cara", NAME)
    other.ok("holder", "set-display-name", "ben", "Ben Quillmarker")
    assert v.run("sync").exit_code == 0
    r = other.run("sync")
    assert r.exit_code == 0, r.stderr
    rows = listed(other)
    assert rows["cara"]["display_name"] == NAME and rows["ben"]["display_name"] == "Ben Quillmarker"
    assert b"Quillmarker" not in all_objects(other)
    code, data = other.verify("amira")
    assert code == 0, data["findings"]
    # one side adds a manager (every block sealed anew for her too: same values, same versions), the other
    # changes cara's name (a new version): the change wins, and the next manager's write seals it for eve too
    assert v.run("sync").exit_code == 0
    v.ok("holder", "add", "eve", "--role", "manager", "--recipient", recipient_of(v.keys["eve"]),
         "--signing-key", signing_pub(v.keys, "eve"))
    other.ok("holder", "set-display-name", "cara", "Cara Quillmarker")
    assert v.run("sync").exit_code == 0
    r = other.run("sync")
    assert r.exit_code == 0, r.stderr
    assert listed(other)["cara"]["display_name"] == "Cara Quillmarker"
    code, data = other.verify("amira")
    assert code == 0, data["findings"]
    assert v.run("sync").exit_code == 0
    v.ok("add", v.add_child("Ada Seal"), "--level", "general", "--category", "observation", "--text", "x")
    assert listed(v, who="eve")["cara"]["display_name"] == "Cara Quillmarker"  # sealed anew for her
    # both sides only seal anew (one adds a recovery key, the other removes the DSL): before versions, every
    # holder with a detail was "changed differently on both sides" and the sync stopped
    assert other.run("sync").exit_code == 0
    v.ok("holder", "add", "rec", "--role", "recovery", "--recipient", recipient_of(v.keys["rec"]))
    other.ok("holder", "remove", "dara", "--reason", "left the setting")
    assert v.run("sync").exit_code == 0
    r = other.run("sync")
    assert r.exit_code == 0, r.stderr
    assert listed(other)["cara"]["display_name"] == "Cara Quillmarker"
    code, data = other.verify("amira")
    assert code == 0, data["findings"]
    other.ok("add", other.add_child("Bo Seal"), "--level", "general", "--category", "observation", "--text", "y")
    sealed = yamlio.load((other.root / "holders.yaml").read_bytes(), "holders.yaml")
    cara = next(h for h in sealed["holders"] if h["name"] == "cara")
    assert "dara" not in cara["display_name"]["for"] and "rec" in cara["display_name"]["for"]


def test_a_rotation_forged_to_keep_a_detail_sealed_for_the_old_key_is_found(vault):
    """A reader's key replaced, but a detail left sealed as it was (the old key, perhaps lost, still opens it):
    the rotation commit made again with plain git, that block put back, signed by the same manager."""
    v = vault
    v.ok("holder", "set-display-name", "cara", NAME)
    old_block = entry(v, "cara")["display_name"]
    v.ok("holder", "rotate", "dara", "--recipient", run_key(v, "dara2"))
    doc = holders_doc(v)
    next(h for h in doc["holders"] if h["name"] == "cara")["display_name"] = old_block
    (v.root / "holders.yaml").write_text(yamlio.dump(doc))
    v.git("add", "holders.yaml")
    v.git("-c", "gpg.format=ssh", "-c", f"user.signingkey={v.keys['amira.sign']}", "commit", "-q", "-S", "--amend",
          "--no-edit")
    bad = v.head()
    fs = [f for f in findings(v) if f["check"] == "staff-details"]
    assert [f["commit"] for f in fs] == [bad] and "rotated their key" in fs[0]["message"], fs


def test_a_detail_changed_but_keeping_its_version_is_found(vault):
    """A merge takes an unchanged version for the same value sealed anew, so a commit that changes a value must
    give it a new version (``services.staff`` does): one made with plain git that keeps the version is a finding
    for a verifier whose key opens both blocks; the same value sealed anew with its version kept is not."""
    from vault_cli.services import staff

    v = vault
    v.ok("holder", "set-display-name", "cara", NAME)
    block = entry(v, "cara")["display_name"]
    recipients = [recipient_of(v.keys[n]) for n in block["for"]]

    def forge(value: str) -> str:
        doc = holders_doc(v)
        forged = dict(block, data=crypto.encrypt_for_all(staff._payload("cara", "display_name", value), recipients))
        next(h for h in doc["holders"] if h["name"] == "cara")["display_name"] = forged
        (v.root / "holders.yaml").write_text(yamlio.dump(doc))
        v.git("add", "holders.yaml")
        v.git("-c", "gpg.format=ssh", "-c", f"user.signingkey={v.keys['amira.sign']}", "commit", "-q", "-S",
              "-m", "holder.set-display-name", "--author", "amira <amira@holders.confide.invalid>")
        return v.head()

    resealed = forge(NAME)  # the same value, new ciphertext, same version: a reseal
    assert [f for f in findings(v) if f["commit"] == resealed and f["check"] == "staff-details"] == []
    changed = forge("Cara Someone Else")
    fs = [f for f in findings(v) if f["commit"] == changed and f["check"] == "staff-details"]
    assert len(fs) == 1 and "was changed but kept its version" in fs[0]["message"], fs
    assert "Someone" not in fs[0]["message"] and NAME not in fs[0]["message"]
