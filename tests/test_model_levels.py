"""The typed level keys, grants and revocations (model/levels.py): what they do, that nothing changes a
value in place, and that a record read into them and written back is byte for byte the file it was."""

from __future__ import annotations

import copy
import datetime as dt

from conftest import head_file
from hypothesis import given
from test_yaml_properties import SETTINGS, heads

from vault_cli.formats import envelope
from vault_cli.model.levels import Grant, LevelKey, LevelKeys, Revocation, WrappedCopy, grants_from_json, revocations_from_json

R1, R2 = "age1" + "q" * 58, "age1" + "p" * 58


def _key(kid: str, level: str, generation: int, *holders: str) -> LevelKey:
    return LevelKey(kid, level, generation, R1, tuple(WrappedCopy(h, f"copy of {kid} for {h}") for h in holders))


def test_a_copy_added_is_sorted_in_and_one_replaced_keeps_its_place():
    k = _key("k-aaaa", "general", 1, "cara", "amira")  # a file may hold them in any order
    added = k.with_copy("ben", "new")
    assert added.holders == ("amira", "ben", "cara") and added.copy_for("ben") == "new"
    replaced = k.with_copy("cara", "again")
    assert replaced.holders == ("cara", "amira") and replaced.copy_for("cara") == "again"
    assert k.without(["cara", "nobody"]).holders == ("amira",)
    assert k.holders == ("cara", "amira") and k.copy_for("cara") == "copy of k-aaaa for cara"  # k itself is unchanged
    assert k.copy_for("ben") is None and not k.holds("ben") and k.holds("amira")


def test_generations_current_next_and_without():
    g1, c1, g2 = _key("k-g1", "general", 1, "amira"), _key("k-c1", "confidential", 1, "amira", "ben"), _key("k-g2", "general", 2, "amira")
    keys = LevelKeys((g1, c1, g2))
    assert keys.of_level("general") == (g1, g2) and keys.current("general") == g2 and keys.current("safeguarding") is None
    assert keys.find("k-c1") is c1 and keys.find("k-none") is None and keys.ids == {"k-g1", "k-c1", "k-g2"}
    c2 = _key("k-c2", "confidential", 2, "amira")
    assert [k.id for k in keys.with_next(c2)] == ["k-g1", "k-c1", "k-c2", "k-g2"]  # after the last of its level
    s1 = _key("k-s1", "safeguarding", 1, "dara")
    assert [k.id for k in keys.with_next(s1)] == ["k-g1", "k-c1", "k-g2", "k-s1"]  # a level with none: at the end
    twin = _key("k-zz", "general", 2, "amira")
    assert LevelKeys((g1, twin, g2)).current("general") == twin  # two of one number (after a merge): the higher id
    dropped = keys.without("confidential", ["ben"])
    assert dropped.find("k-c1").holders == ("amira",) and dropped.find("k-g1") is g1
    assert keys.find("k-c1").holders == ("amira", "ben")  # the original keys are unchanged
    assert keys.replace(c1.with_copy("cara", "x")).find("k-c1").holders == ("amira", "ben", "cara")
    assert not g1.same_key(LevelKey("k-g1", "general", 1, R2, g1.copies)) and g1.same_key(g1.without(["amira"]))


def test_grants_and_revocations():
    raw = {"holder": "sam", "level": "general", "granted_by": "amira", "granted": "2026-11-01", "until": "2026-12-01"}
    g = Grant.from_json(raw)
    assert g.to_json() == raw and list(g.to_json()) == list(raw)
    assert g.live(None) and g.live(dt.date(2026, 12, 1)) and not g.live(dt.date(2026, 12, 2))
    nulls = dict(raw, until=None, parent_permission=None)
    assert Grant.from_json(nulls).to_json() == nulls and Grant.from_json(nulls).live(dt.date(2099, 1, 1))
    assert g.is_for("sam", "general") and not g.is_for("sam", "confidential")
    assert g.same_terms(Grant("sam", "general", "dara", "2026-11-20", "2026-12-01")) and not g.same_terms(Grant.from_json(nulls))
    r = {"holder": "ben", "level": "confidential", "revoked_by": "amira", "revoked": "2026-11-02"}
    assert Revocation.from_json(r).to_json() == r and revocations_from_json(None) == () == grants_from_json([])


def _assert_round_trips(raw: bytes, source: str) -> None:
    head = envelope.load_head(raw, source)
    before, originals = copy.deepcopy(head), list(head["keys"])
    keys = LevelKeys.from_json(head["keys"])
    assert keys.to_json() == head["keys"]  # the same fields and values (in confide's order: see below)
    assert [g.to_json() for g in grants_from_json(head.get("grants"))] == (head.get("grants") or [])
    assert [r.to_json() for r in revocations_from_json(head.get("revoked"))] == (head.get("revoked") or [])
    env = envelope.Envelope(source, head, head_raw=raw)
    env.level_keys = LevelKeys.from_json(head["keys"])  # written back from the typed values
    if "grants" in head:
        env.grants = env.grants
    if head.get("revoked"):
        env.revocations = env.revocations  # (none left: the setter drops the field, as 'grant' does)
    assert env.head_bytes() == raw and env.files() == {}
    assert env.head == before
    # a changed key is written in confide's field order; the others keep the file's own bytes
    first = env.keys[0]
    env.level_keys = env.level_keys.replace(first.without(first.holders[:1]))
    assert list(env.head["keys"][0]) == ["id", "level", "generation", "recipient", "wrapped"]
    assert all(a is b for a, b in zip(env.head["keys"][1:], originals[1:], strict=True))  # the file's own mappings
    assert keys.keys[0] == first and before["keys"][0] == first.to_json()  # what was read is unchanged


def test_real_vault_files_round_trip_byte_for_byte(vault):
    v = vault
    ada = v.add_child("Ada Keys", key_person="ben")
    v.add_entry(ada, "a note", "confidential", "note")
    v.ok("grant", "cara", "--child", ada, "--level", "confidential", "--until", "2027-01-31")
    v.ok("revoke", "ben", "--child", ada, "--level", "confidential")  # a revocation and a new generation
    bo = v.ok("child", "add", "--name", "Bo Keys", who="ben").last_line  # ben does not read safeguarding: 'rekey'
    for rid in (ada, bo):
        raw = head_file(v.root, rid).read_bytes()
        _assert_round_trips(raw, f"records/{rid}.yaml")
    ada_head = envelope.load_head(head_file(v.root, ada).read_bytes(), "h")
    assert ada_head["grants"] and ada_head["revoked"] and len(LevelKeys.from_json(ada_head["keys"]).of_level("confidential")) == 2
    assert envelope.load_head(head_file(v.root, bo).read_bytes(), "h").get("rekey")


@SETTINGS
@given(heads())
def test_any_head_round_trips_through_the_typed_values(head):
    raw = envelope.Envelope(f"records/{head['record']}.yaml", head).head_bytes()
    _assert_round_trips(raw, f"records/{head['record']}.yaml")
