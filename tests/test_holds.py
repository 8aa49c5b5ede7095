"""Legal holds (``confide hold add|release|list``): placed and released by managers only (roles that may destroy),
one commit each; sealed, so nothing in the clear says which record a hold is on or why; checked by ``verify``
from history (forged commits made with plain git); shown by ``show`` and ``due`` to managers only; and
``model.holds.held``, the question the destroy and erase commands will ask, counts what the caller cannot read."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from conftest import VaultFixture

from vault_cli.adapters import crypto
from vault_cli.errors import ExitCode
from vault_cli.formats import holdfile, yamlio
from vault_cli.model import holds as model

REASON = "Inquiry-MARKER-7731 asked us to keep every record of the Larkspur room"
SHORT = "Claim-MARKER-22"
FINDINGS = ExitCode.FINDINGS


def _json(r):
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def findings(v: VaultFixture, who: str = "amira") -> list:
    r = v.run("verify", "--json", who=who)
    assert r.exit_code in (0, FINDINGS), r.stderr
    return [f for f in json.loads(r.stdout)["findings"]]


def hold_findings(v: VaultFixture, who: str = "amira") -> list[str]:
    return [f["message"] for f in findings(v, who) if f["check"] == "hold"]


def all_objects(v: VaultFixture) -> bytes:
    """Every object git holds, decompressed (loose and packed)."""
    return subprocess.run(["git", "-C", str(v.root), "cat-file", "--batch-all-objects", "--batch"],
                          check=True, capture_output=True).stdout


def place(v: VaultFixture, rid: str | None, reason: str = REASON, who: str = "amira") -> str:
    """A hold placed as a script would: record and reason in a --from file, nothing in argv."""
    doc = {"reason": reason, **({"record": rid} if rid else {"all": True})}
    r = v.ok("hold", "add", "--from", "-", who=who, input=json.dumps(doc))
    return r.last_line


def test_a_manager_places_lists_and_releases_a_hold_each_one_signed_commit(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    before = int(v.git("rev-list", "--count", "HEAD"))
    hid = place(v, rid)
    assert model.HOLD_RE.fullmatch(hid)
    assert int(v.git("rev-list", "--count", "HEAD")) == before + 1 and v.changed() == [holdfile.path_of(hid)]
    assert "Confide-Action: hold.add" in v.git("log", "-1", "--format=%B") and v.is_clean()
    [row] = _json(v.run("hold", "list", "--json"))
    assert row == {"hold": hid, "readable": True, "state": "open", "scope": "record", "record": rid, "reason": REASON,
                   "added_by": "amira", "added_on": "2026-11-24", "released_by": None, "released_on": None,
                   "release_reason": None}
    # the same record twice: refused, nothing written
    head = v.head()
    r = v.run("hold", "add", "--from", "-", input=json.dumps({"record": rid, "reason": "again"}))
    assert r.exit_code == ExitCode.USAGE and hid in r.stderr and v.head() == head
    r = v.ok("hold", "release", hid, "--from", "-", input=json.dumps({"reason": "the inquiry closed"}))
    assert r.last_line == hid and v.changed() == [holdfile.path_of(hid)]
    assert "Confide-Action: hold.release" in v.git("log", "-1", "--format=%B")
    assert _json(v.run("hold", "list", "--json")) == []
    [row] = _json(v.run("hold", "list", "--all", "--json"))
    assert row["state"] == "released" and row["released_by"] == "amira" and row["release_reason"] == "the inquiry closed"
    head = v.head()
    r = v.run("hold", "release", hid)
    assert r.exit_code == ExitCode.USAGE and "already released" in r.stderr and v.head() == head
    r = v.run("hold", "release", "h-000000000000")
    assert r.exit_code == ExitCode.NOT_FOUND and v.head() == head
    assert findings(v) == []


def test_only_a_role_that_may_destroy_places_releases_or_lists_holds(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    head = v.head()
    for who in ("ben", "dara"):  # a practitioner, the DSL: their roles may not destroy
        r = v.run("hold", "add", "--from", "-", who=who, input=json.dumps({"record": rid, "reason": SHORT}))
        assert r.exit_code == ExitCode.DENIED and "may not place a legal hold" in r.stderr, r.stderr
        assert v.run("hold", "release", hid, who=who).exit_code == ExitCode.DENIED
        assert v.run("hold", "list", who=who).exit_code == ExitCode.DENIED
        assert SHORT not in r.stderr + r.stdout
    assert v.head() == head and v.is_clean()


def test_show_and_due_tell_managers_and_no_one_else(vault):
    v = vault
    ada = v.add_child("Ada Lovelace", key_person="ben")
    bea = v.add_child("Bea Lovelace", key_person="ben")
    hid = place(v, ada)
    shown = v.ok("show", ada).stdout
    assert f"Legal hold {hid} (since 2026-11-24): this record must not be destroyed or erased." in shown
    assert "Legal hold" not in v.ok("show", bea).stdout
    assert _json(v.run("show", ada, "--json"))["holds"] == [hid]
    assert _json(v.run("show", bea, "--json"))["holds"] == []
    items = [i for i in _json(v.run("due", "--json"))["items"] if i["kind"] == "legal-hold"]
    assert [(i["record"], i["item"]) for i in items] == [(ada, hid)]
    for who in ("ben", "dara"):
        assert "Legal hold" not in v.ok("show", ada, who=who).stdout
        assert _json(v.run("show", ada, "--json", who=who))["holds"] is None
        assert hid not in v.ok("due", who=who).stdout
    every = place(v, None, SHORT)
    items = [i for i in _json(v.run("due", "--json"))["items"] if i["kind"] == "legal-hold"]
    assert {i["item"]: i["record"] for i in items} == {hid: ada, every: None}
    assert _json(v.run("show", bea, "--json"))["holds"] == [every]


def test_nothing_links_a_hold_to_its_record_or_says_why_in_the_clear(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    hid_all = place(v, None, SHORT)
    v.ok("hold", "release", hid, "--from", "-", input=json.dumps({"reason": "Release-MARKER-5150"}))
    markers = [REASON, "MARKER", "Larkspur", "Release-MARKER-5150"]
    # the working tree (every file outside .git) and every object git holds
    for path in v.root.rglob("*"):
        if ".git" not in path.parts and path.is_file():
            text = path.read_bytes()
            assert not any(m.encode() in text for m in markers), path
    objects = all_objects(v)
    assert not any(m.encode() in objects for m in markers)
    # the hold commits, message and changes: no record id, and no record file touched
    for commit in ("HEAD", "HEAD~1", "HEAD~2"):
        shown = v.git("show", "--format=%B", commit)
        assert rid not in shown and all(p.startswith("holds/") for p in v.changed(commit))
    for h in (hid, hid_all):
        raw = (v.root / holdfile.path_of(h)).read_text()
        assert rid not in raw and "*" not in raw.replace("-----", "")
    # the sealed payloads are padded: one on a record with a one-letter reason and one on every record with a
    # longer one are as long as each other (age adds its own random-length grease to the ciphertext besides)
    amira = crypto.load_identity_file(str(v.keys["amira"]))[0]
    sizes = {len(crypto.decrypt(yamlio.load((v.root / holdfile.path_of(h)).read_text(), "hold")["placed"]["data"], amira))
             for h in (hid_all, place(v, v.add_child("Bea Lovelace"), "x"))}
    assert sizes == {holdfile.PAD}
    # the record and the reason need never be in argv (the script above gave them in a --from document on
    # stdin); given as arguments, both are personal values that bring the shell-history warning on a terminal
    from vault_cli.cli import holds as cli_holds

    assert {f.key for f in cli_holds.ADD_FIELDS if f.personal} == {"record", "reason"}
    assert {f.key for f in cli_holds.RELEASE_FIELDS if f.personal} == {"reason"}


def test_without_a_terminal_the_record_and_reason_are_required_and_nothing_is_asked(vault):
    v = vault
    head = v.head()
    r = v.run("hold", "add", "--from", "-", input=json.dumps({"reason": SHORT}))
    assert r.exit_code == ExitCode.USAGE and "--all" in r.stderr and v.head() == head
    r = v.run("hold", "add", "--all")
    assert r.exit_code == ExitCode.USAGE and "--reason" in r.stderr and v.head() == head
    rid = v.add_child("Ada Lovelace")
    head = v.head()
    r = v.run("hold", "add", "--all", "--from", "-", input=json.dumps({"record": rid, "reason": SHORT}))
    assert r.exit_code == ExitCode.USAGE and v.head() == head


def test_held_counts_open_holds_on_the_record_on_every_record_and_those_it_cannot_read():
    on_one = model.Hold("h-000000000001", True, scope="c-00000001", added_on="2026-01-10")
    on_all = model.Hold("h-000000000002", True, scope=model.ALL, added_on="2026-02-10", released=True,
                        released_on="2026-03-01")
    sealed = model.Hold("h-000000000003", False, released=False)
    assert model.held("c-00000001", [on_one]) == [on_one]
    assert model.held("c-00000002", [on_one]) == []
    assert model.held("c-00000002", [on_all]) == []  # released
    assert model.held("c-00000002", [on_all], dt.date(2026, 2, 20)) == [on_all]  # in force on that day
    assert model.held("c-00000001", [on_one], dt.date(2026, 1, 9)) == []  # not yet placed
    assert model.held("c-00000002", [sealed]) == [sealed]  # might be on it: counts


def test_a_manager_added_later_does_not_read_earlier_holds_but_they_count(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    v.add_holder("mo", "manager")
    [row] = _json(v.run("hold", "list", "--json", who="mo"))
    assert row["hold"] == hid and row["readable"] is False and row["reason"] is None and row["record"] is None
    assert _json(v.run("show", rid, "--json", who="mo"))["holds"] == [hid]
    mine = place(v, None, SHORT, who="mo")
    doc = yamlio.load((v.root / holdfile.path_of(mine)).read_text(), "hold")
    assert doc["placed"]["for"] == ["amira", "mo"]
    # mo may release what he cannot read, and is told so
    r = v.ok("hold", "release", hid, who="mo")
    assert "without seeing what it covered" in r.stderr and REASON not in r.stderr
    assert "without seeing" not in v.ok("hold", "release", mine, who="mo").stderr
    assert findings(v) == []


def test_the_next_manager_who_reads_an_older_hold_reseals_it_for_todays_managers(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    v.add_holder("mo", "manager")
    before = int(v.git("rev-list", "--count", "HEAD"))
    place(v, None, SHORT)  # amira reads hid: she reseals it first, in a commit of its own
    assert int(v.git("rev-list", "--count", "HEAD")) == before + 2
    assert "Confide-Action: hold.reseal" in v.git("log", "-1", "--format=%B", "HEAD~1")
    assert v.changed("HEAD~1") == [holdfile.path_of(hid)]
    rows = {r["hold"]: r for r in _json(v.run("hold", "list", "--json", who="mo"))}
    assert rows[hid]["readable"] is True and rows[hid]["record"] == rid and rows[hid]["reason"] == REASON
    assert findings(v) == [] and findings(v, who="ben") == []


@pytest.mark.parametrize("action", ["hold.reseal", "holder.rotate"])
def test_verify_reports_a_reseal_that_changed_what_a_hold_says(vault, action):
    """A reseal, and a key rotation's (which seals holds anew for the new key), may change how a hold is
    sealed, never what it says."""
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    doc = yamlio.load((v.root / holdfile.path_of(hid)).read_text(), "hold")
    fields = {"scope": model.ALL, "reason": REASON, "by": "amira", "on": "2026-11-24"}
    doc["placed"] = _sealed(v, hid, "placed", fields, ["amira"])
    _write(v, hid, doc)
    v.commit_as("amira", "reseal", action=action)
    assert any(f"a reseal changed what legal hold {hid} says" in m for m in hold_findings(v))
    assert hold_findings(v, who="ben") == []  # a key that opens neither block cannot tell


# ---------------------------------------------------------------------------
# verify: forged commits made with plain git


def _write(v: VaultFixture, hid: str, doc: dict) -> None:
    path = v.root / holdfile.path_of(hid)
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(holdfile.dump(doc))


def _sealed(v: VaultFixture, hid: str, part: str, fields: dict, names: list[str]) -> dict:
    from vault_cli.formats.policyfiles import holders_from_bytes

    holders = holders_from_bytes((v.root / "holders.yaml").read_bytes())
    return holdfile.seal(hid, part, fields, {n: holders.get(n).recipient for n in names})


def _placed(v: VaultFixture, hid: str, scope: str, names=("amira",)) -> dict:
    fields = {"scope": scope, "reason": SHORT, "by": "amira", "on": "2026-11-24"}
    return {"format": holdfile.FORMAT, "hold": hid, "placed": _sealed(v, hid, "placed", fields, list(names))}


HID = "h-0123456789ab"


def test_verify_reports_a_hold_placed_by_a_role_that_may_not(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    _write(v, HID, _placed(v, HID, rid))
    v.commit_as("ben", "place legal hold", action="hold.add", trailers={"Confide-Hold": HID})
    found = hold_findings(v)
    assert any("'ben'" in m and "may not place or release holds" in m for m in found), found


def test_verify_reports_a_hold_removed(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    (v.root / holdfile.path_of(hid)).unlink()
    v.commit_as("amira", "remove a hold", action="hold.release", trailers={"Confide-Hold": hid})
    assert any("was removed" in m for m in hold_findings(v))


def test_verify_reports_a_hold_whose_placing_was_rewritten(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    doc = yamlio.load((v.root / holdfile.path_of(hid)).read_text(), "hold")
    other = _placed(v, hid, model.ALL)
    doc["placed"] = other["placed"]
    doc["released"] = _sealed(v, hid, "released", {"reason": None, "by": "amira", "on": "2026-11-24"}, ["amira"])
    _write(v, hid, doc)
    v.commit_as("amira", "release", action="hold.release", trailers={"Confide-Hold": hid})
    assert any("only a release may be added" in m for m in hold_findings(v))


def test_verify_reports_a_released_hold_changed_again_and_a_hold_placed_released(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    v.ok("hold", "release", hid)
    doc = yamlio.load((v.root / holdfile.path_of(hid)).read_text(), "hold")
    del doc["released"]  # re-opened by hand
    _write(v, hid, doc)
    new = _placed(v, HID, rid)
    new["released"] = _sealed(v, HID, "released", {"reason": None, "by": "amira", "on": "2026-11-24"}, ["amira"])
    _write(v, HID, new)
    v.commit_as("amira", "tidy", action="hold.release", trailers={"Confide-Hold": hid})
    found = hold_findings(v)
    assert any(f"legal hold {hid} was changed after its release" in m for m in found)
    assert any(f"legal hold {HID} was placed already released" in m for m in found)
    assert any(f"legal hold {HID} was changed by a commit that is not 'hold.add'" in m for m in found)


def test_verify_reports_a_release_of_a_hold_that_does_not_exist_and_a_change_without_release(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    (v.root / holdfile.path_of(hid)).write_bytes((v.root / holdfile.path_of(hid)).read_bytes() + b"# touched\n")
    v.commit_as("amira", "release", action="hold.release", trailers={"Confide-Hold": "h-ffffffffffff"})
    found = hold_findings(v)
    assert any("was changed without being released" in m for m in found), found
    assert any("is not 'hold.release' of that hold" in m for m in found), found


def test_verify_reports_a_hold_sealed_for_someone_who_may_not_read_holds(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    _write(v, HID, _placed(v, HID, rid, names=("amira", "ben")))
    v.commit_as("amira", "place", action="hold.add", trailers={"Confide-Hold": HID})
    [message] = hold_findings(v)
    assert "sealed for ben, who may not read legal holds" in message


def test_verify_reports_a_sealed_block_moved_from_another_hold(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    doc = yamlio.load((v.root / holdfile.path_of(hid)).read_text(), "hold")
    _write(v, HID, {"format": holdfile.FORMAT, "hold": HID, "placed": doc["placed"]})
    v.commit_as("amira", "place", action="hold.add", trailers={"Confide-Hold": HID})
    assert any("does not belong to this hold" in m for m in hold_findings(v))
    # a verifier whose key does not open it sees only the structure: nothing to report there
    assert not any("does not belong" in m for m in hold_findings(v, who="ben"))


@pytest.mark.parametrize("name", ["holds/notes.txt", "holds/h-0123456789ab.yml"])
def test_verify_reports_any_other_file_in_the_holds_folder(vault, name):
    v = vault
    (v.root / "holds").mkdir(exist_ok=True)
    (v.root / name).write_text("x\n")
    v.commit_as("amira", "tidy")
    assert any(f["check"] == "file-name" and name in f["message"] for f in findings(v))


def test_on_a_terminal_the_child_is_chosen_by_name_and_the_reason_asked_and_neither_is_in_argv(vault):
    from tests.test_names import Terminal, _argv_of_tree

    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    t = Terminal(v, "hold", "add")
    t.expect("Type part of a name: ")
    t.type("ada\n")
    t.expect("Choose 1 (Enter to search again): ")
    t.type("1\n")
    t.expect("Why the records must be kept (the inquiry, claim or order): ")
    for argv in _argv_of_tree(t.proc.pid):  # while it waits, any local user could read its argv
        assert rid.encode() not in argv and b"Ada" not in argv
    t.type(REASON + "\n")
    code, screen = t.finish()
    assert code == 0, screen
    assert "given as" not in screen  # nothing personal was given as an argument
    [row] = _json(v.run("hold", "list", "--json"))
    assert row["record"] == rid and row["reason"] == REASON


# ---------------------------------------------------------------------------
# review fixes: what a sealed block says, whom it is sealed for, refusals that write nothing, one open hold a scope


def _forge_place(v: VaultFixture, hid: str, fields: dict, names=("amira",), listed=None, who: str = "amira") -> None:
    """A hold placed by hand: ``fields`` sealed for ``names``, its 'for' list saying ``listed`` (default: names)."""
    block = _sealed(v, hid, "placed", fields, list(names))
    if listed is not None:
        block["for"] = list(listed)
    _write(v, hid, {"format": holdfile.FORMAT, "hold": hid, "placed": block})
    v.commit_as(who, "place legal hold", action="hold.add", trailers={"Confide-Hold": hid})


def test_verify_reports_a_hold_that_claims_another_placer_or_another_day(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    _forge_place(v, HID, {"scope": rid, "reason": SHORT, "by": "dara", "on": "2031-01-01"})
    found = hold_findings(v)
    assert any(f"legal hold {HID} says it was placed by another holder than 'amira'" in m for m in found), found
    assert any(f"legal hold {HID} says it was placed on another day than its commit's" in m for m in found), found
    assert hold_findings(v, who="ben") == []  # a key that does not open it cannot tell
    # released likewise
    v.git("reset", "-q", "--hard", "HEAD~1")
    hid = place(v, rid)
    doc = yamlio.load((v.root / holdfile.path_of(hid)).read_text(), "hold")
    doc["released"] = _sealed(v, hid, "released", {"reason": None, "by": "dara", "on": "2026-11-20"}, ["amira"])
    _write(v, hid, doc)
    v.commit_as("amira", "release", action="hold.release", trailers={"Confide-Hold": hid})
    found = hold_findings(v)
    assert any("says it was released by another holder than 'amira'" in m for m in found), found
    assert any("says it was released on another day than its commit's" in m for m in found), found


def test_a_hold_dated_a_moment_either_side_of_midnight_by_its_commit_is_its_days():
    utc = dt.timezone.utc
    assert model.on_commit_day("2026-11-24", [dt.datetime(2026, 11, 24, 10, 0, tzinfo=utc)])
    assert model.on_commit_day("2026-11-23", [dt.datetime(2026, 11, 24, 0, 2, tzinfo=utc)])
    assert not model.on_commit_day("2026-11-23", [dt.datetime(2026, 11, 24, 0, 6, tzinfo=utc)])
    assert not model.on_commit_day("2031-01-01", [dt.datetime(2026, 11, 24, 10, 0, tzinfo=utc)])
    assert not model.on_commit_day("20261124", [dt.datetime(2026, 11, 24, 10, 0, tzinfo=utc)])


@pytest.mark.parametrize("fields", [
    {"on": 20261124, "reason": "x", "by": "amira"},
    {"on": "2026-11-24", "reason": {"a": 1}, "by": ["amira"]},
    {"on": "not a date", "reason": "x", "by": "amira"},
    {"on": "2026-11-24", "reason": "", "by": "amira"},
    {"on": "2026-11-24", "reason": "x", "by": "amira", "extra": 1},
])
def test_a_sealed_block_of_the_wrong_shape_is_a_finding_and_commands_refuse_without_a_traceback(vault, fields):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    _forge_place(v, HID, {"scope": rid, **fields})
    assert any(f"the sealed 'placed' block of {holdfile.path_of(HID)} is damaged" in m for m in hold_findings(v))
    for args in (("hold", "list"), ("hold", "list", "--json"), ("show", rid), ("due",), ("due", "--json")):
        r = v.run(*args)
        assert r.exit_code in (ExitCode.INTEGRITY, ExitCode.FINDINGS), (args, r.exit_code, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr.lower()


def test_a_damaged_payload_read_by_a_command_is_an_integrity_error():
    from vault_cli.errors import IntegrityError

    secret, recipient = crypto.generate_identity()
    ident = crypto.identity_from_secret(secret)
    doc = {"format": holdfile.FORMAT, "hold": HID,
           "placed": holdfile.seal(HID, "placed", {"scope": "c-00000001", "reason": {"a": 1}, "by": "amira",
                                                   "on": "2026-11-24"}, {"amira": recipient})}
    with pytest.raises(IntegrityError, match="damaged: it has no reason"):
        holdfile.open_block(doc, "placed", holdfile.path_of(HID), [ident])
    good = {"scope": model.ALL, "reason": "x", "by": "amira", "on": "2026-11-24"}
    doc["placed"] = holdfile.seal(HID, "placed", good, {"amira": recipient})
    assert {k: v for k, v in holdfile.open_block(doc, "placed", "p", [ident]).items()
            if k not in ("format", "hold")} == good


def test_verify_reports_a_hold_whose_readers_list_lies(vault):
    """Sealed for a practitioner while 'for' says amira: the practitioner could read which record is held, and why."""
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    _forge_place(v, HID, {"scope": rid, "reason": SHORT, "by": "amira", "on": "2026-11-24"}, names=("ben",),
                 listed=("amira",))
    assert any(f"legal hold {HID} names 'amira' among its readers, but their key does not open" in m
               for m in hold_findings(v))
    assert any(f"legal hold {HID} opens with a key of this verifier's that it does not name" in m
               for m in hold_findings(v, who="ben"))


def test_verify_reports_a_hold_sealed_for_more_keys_than_it_names_or_not_for_every_reader(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    fields = {"scope": rid, "reason": SHORT, "by": "amira", "on": "2026-11-24"}
    _forge_place(v, HID, fields, names=("amira", "ben"), listed=("amira",))
    for who in ("amira", "dara"):  # every verifier sees the age header: two keys, one name
        assert any("is not sealed for the keys of the holders it names" in m for m in hold_findings(v, who=who))
    v.git("reset", "-q", "--hard", "HEAD~1")
    v.add_holder("mo", "manager")
    _forge_place(v, HID, fields, names=("amira",))
    assert any(f"legal hold {HID} is not sealed for mo, who may read legal holds" in m for m in hold_findings(v))


def test_verify_reports_a_hold_sealed_for_a_strangers_ssh_key_under_a_holders_name(vault):
    """An SSH recipient's stanza carries a tag of its key: a block sealed for another key under mo's name shows."""
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    v.add_holder("mo", "manager")
    _, stranger = crypto.generate_ssh_identity()
    from vault_cli.formats.policyfiles import holders_from_bytes

    holders = holders_from_bytes((v.root / "holders.yaml").read_bytes())
    fields = {"scope": rid, "reason": SHORT, "by": "amira", "on": "2026-11-24"}
    block = holdfile.seal(HID, "placed", fields, {"amira": holders.get("amira").recipient, "mo": stranger})
    assert block["for"] == ["amira", "mo"]
    _write(v, HID, {"format": holdfile.FORMAT, "hold": HID, "placed": block})
    v.commit_as("amira", "place legal hold", action="hold.add", trailers={"Confide-Hold": HID})
    for who in ("amira", "ben"):
        assert any("is not sealed for the keys of the holders it names" in m for m in hold_findings(v, who=who))


def test_verify_reports_a_reseal_to_a_key_no_reader_holds(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    doc = yamlio.load((v.root / holdfile.path_of(hid)).read_text(), "hold")
    _, stranger = crypto.generate_identity()
    doc["placed"] = holdfile.seal(hid, "placed", {"scope": rid, "reason": "changed", "by": "amira", "on": "2026-11-24"},
                                  {"amira": stranger})  # 'for: [amira]' as before; amira's key no longer opens it
    _write(v, hid, doc)
    v.commit_as("amira", "reseal", action="hold.reseal")
    assert any(f"a reseal sealed legal hold {hid} so that 'amira', who read it before and still may, cannot open it"
               in m for m in hold_findings(v))


def test_a_refused_hold_command_writes_nothing_even_when_a_reseal_is_due(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    gone = place(v, None, SHORT)
    v.ok("hold", "release", gone)
    v.add_holder("mo", "manager")  # the readers changed: amira's next hold command reseals first
    head = v.head()
    r = v.run("hold", "add", "--from", "-", input=json.dumps({"record": rid, "reason": "again"}))
    assert r.exit_code == ExitCode.USAGE and "nothing was changed" in r.stderr and v.head() == head
    r = v.run("hold", "release", "h-000000000000")
    assert r.exit_code == ExitCode.NOT_FOUND and v.head() == head
    r = v.run("hold", "release", gone)
    assert r.exit_code == ExitCode.USAGE and "already released" in r.stderr and v.head() == head
    assert v.is_clean()
    # the release that does go ahead reseals first, then releases the hold as resealed
    v.ok("hold", "release", hid)
    assert "Confide-Action: hold.reseal" in v.git("log", "-1", "--format=%B", "HEAD~1")
    assert _json(v.run("hold", "list", "--all", "--json", who="mo"))[0]["readable"] is True
    assert findings(v) == [] and findings(v, who="mo") == []


def test_verify_reports_a_second_open_hold_on_the_same_scope(vault):
    v = vault
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    _forge_place(v, HID, {"scope": rid, "reason": SHORT, "by": "amira", "on": "2026-11-24"})
    assert any(f"legal hold {HID} was placed on a record already under open hold {hid}" in m for m in hold_findings(v))
    assert hold_findings(v, who="ben") == []  # opens neither
    # once the first is released, another hold on that record is fine
    v.git("reset", "-q", "--hard", "HEAD~1")
    v.ok("hold", "release", hid)
    _forge_place(v, HID, {"scope": rid, "reason": SHORT, "by": "amira", "on": "2026-11-24"})
    assert hold_findings(v) == []


def test_holds_need_destroy_and_write_in_the_command_and_in_verify(vault):
    """A custom role that may destroy but not write: the command refuses (it writes), verify reports its commit."""
    v = vault
    p = v.root / "confide.yaml"
    p.write_text(p.read_text().replace("  practitioner:\n", "  archivist:\n    description: keeps the archive\n"
                                       "    reads: [general]\n    may: [destroy]\n  practitioner:\n", 1))
    v.commit_as("amira", "confide: add the archivist role", action="settings.change")
    assert v.run("verify").exit_code == 0
    from conftest import new_key_public

    v.ok("holder", "set-signing-key", "ola", new_key_public(v.add_holder("ola", "archivist")))  # she signs commits
    rid = v.add_child("Ada Lovelace", key_person="ben")
    head = v.head()
    r = v.run("hold", "add", "--from", "-", who="ola", input=json.dumps({"record": rid, "reason": SHORT}))
    assert r.exit_code == ExitCode.DENIED and "may not write" in r.stderr and v.head() == head
    from vault_cli.formats.policyfiles import holders_from_bytes

    holders = holders_from_bytes((v.root / "holders.yaml").read_bytes())
    fields = {"scope": rid, "reason": SHORT, "by": "ola", "on": "2026-11-24"}
    block = holdfile.seal(HID, "placed", fields, {n: holders.get(n).recipient for n in ("amira", "ola")})
    _write(v, HID, {"format": holdfile.FORMAT, "hold": HID, "placed": block})
    v.commit_as("ola", "place legal hold", action="hold.add", trailers={"Confide-Hold": HID})
    assert [m for m in hold_findings(v) if "may not write" in m] == [
        f"legal hold {HID} was changed by 'ola', whose role may not write (placing or releasing a hold needs both "
        "'destroy' and 'write')"]


def _actions(v: VaultFixture, n: int) -> list[str]:
    return subprocess.run(["git", "-C", str(v.root), "log", f"-{n}", "--format=%(trailers:key=Confide-Action,valueonly)"],
                          capture_output=True, text=True, check=True).stdout.split()


def _new_key(tmp_path, name: str):
    from conftest import new_key_public, run_cli

    path = tmp_path / f"{name}-new.key"
    assert run_cli(["keygen", "--out", str(path)]).exit_code == 0
    return path, new_key_public(path)


def _readable(v: VaultFixture, who: str) -> list:
    return [(h["hold"], h["readable"], h["record"]) for h in _json(v.ok("hold", "list", "--json", who=who))]


def _sealed_to(v: VaultFixture, hid: str, public: str) -> bool:
    doc = yamlio.load((v.root / holdfile.path_of(hid)).read_bytes(), "hold")
    return crypto.recipient_key(public) in (crypto.stanza_keys(doc[holdfile.PLACED]["data"]) or [])


@pytest.mark.parametrize("rotated", ["mona", "amira"])
def test_a_key_rotation_seals_the_holds_anew_for_the_new_key(vault, tmp_path, rotated):
    """A hold is sealed to its readers' keys, not their names: 'holder rotate' (of another manager, or of one's
    own key, whose new key must then read the holds at once) seals the holds the actor opens anew for the new
    key, in the rotation's own commit, which verify accepts there and checks as a reseal."""
    v = vault
    v.add_holder("mona", "manager")
    rid = v.add_child("Ada Lovelace", key_person="ben")
    hid = place(v, rid)
    path, public = _new_key(tmp_path, rotated)
    v.ok("holder", "rotate", rotated, "--recipient", public, "--new-identity", str(path))
    assert _actions(v, 2) == ["holder.rotate", "hold.add"]
    changed = subprocess.run(["git", "-C", str(v.root), "show", "--name-only", "--format=", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert holdfile.path_of(hid) in changed
    v.keys[rotated] = v.keys[rotated + ".sign"] = path
    assert _sealed_to(v, hid, public)
    assert _readable(v, rotated) == [(hid, True, rid)]
    assert findings(v) == [] and findings(v, "mona") == [] and findings(v, "dara") == []
