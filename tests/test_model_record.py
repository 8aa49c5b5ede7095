"""The record's domain objects (``model/record.py``): built from the opened payloads, given back as --json prints them."""

import datetime as dt
import json

from vault_cli.model import ids
from vault_cli.model.record import Entry, Marking, Profile, Record, SealedEntry

ENTRY = {
    "confide": "entry/1", "record": "c-bc7vwf6q", "block": "e-01m8p8r01fm423", "level": "confidential",
    "category": "injury", "text": "Bumped her head", "at": "2026-11-24", "recorded_at": "2026-11-24T10:00:00+00:00",
    "author": "amira", "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": "at risk",
    "third_parties": ["Dr Who"], "corrects": None,
}


def _mark(block: str, changes: dict, level: str = "confidential") -> dict:
    return {"confide": "mark/1", "record": "c-bc7vwf6q", "block": block, "entry": ENTRY["block"], "level": level,
            "author": "ben", "recorded_at": "2026-11-25T09:00:00+00:00", "reason": None, "changes": changes}


def test_an_entry_stands_as_its_markings_leave_it_applied_in_id_order():
    later = _mark("m-01m8p8r2000000", {"parents_informed": {"from": "2026-11-24", "to": "2026-11-26"}})
    first = _mark("m-01m8p8r1000000", {"parents_informed": {"from": None, "to": "2026-11-24"},
                                       "parents_not_informed": {"from": "at risk", "to": None},
                                       "level": {"from": "safeguarding", "to": "confidential"}})
    e = Entry.from_payloads(ENTRY, [later, first])
    assert (e.parents_informed, e.parents_not_informed, e.level) == ("2026-11-26", None, "confidential")
    assert [m.id for m in e.markings] == ["m-01m8p8r1000000", "m-01m8p8r2000000"]
    assert e.markings[0].changes["level"].before == "safeguarding"
    assert e.third_parties == ("Dr Who",) and e.details is None and e.date == "2026-11-24"
    assert list(e.to_json()) == ["id", "level", "readable", "category", "text", "at", "recorded_at", "author",
                                 "parent_view", "parents_informed", "parents_not_informed", "third_parties",
                                 "corrects", "details", "markings"]
    assert e.to_json()["markings"][0] == {"id": "m-01m8p8r1000000", "author": "ben",
                                          "recorded_at": "2026-11-25T09:00:00+00:00", "reason": None,
                                          "changes": first["changes"]}
    assert Entry.from_json(e.to_json()) == e
    assert Marking.from_payload(first).to_json()["changes"] == first["changes"]


def test_a_sealed_entry_knows_only_its_id_level_and_when_it_was_recorded():
    old, new = SealedEntry(ids.new_entry_id(), "safeguarding"), SealedEntry(ids.new_entry_id(), "general")
    assert not old.readable and old.to_json() == {"id": old.id, "level": "safeguarding", "readable": False}
    assert abs(new.recorded - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(days=1)
    assert old.recorded <= new.recorded


def test_a_profile_keeps_its_fields_order_and_takes_the_heads_key_person():
    stored = {"name": "Ada", "room": "rainbow", "parents": [{"name": "Sam", "parental_responsibility": False}],
              "known_as": "Addie", "consents": {"photos": True}}
    p = Profile.from_json(stored, key_person="ben")
    assert (p.name, p.known_as, p.key_person, p.dob, p.allergies) == ("Ada", "Addie", "ben", None, ())
    assert p.parents[0].parental_responsibility is False and p.parents[0].relationship is None
    assert p.to_json() == {**stored, "key_person": "ben"}
    assert list(p.to_json()) == ["name", "room", "parents", "known_as", "consents", "key_person"]
    moved = Profile.from_json({"name": "Ada", "key_person": "amira", "room": "r"}, key_person=None)
    assert list(moved.to_json().items()) == [("name", "Ada"), ("key_person", None), ("room", "r")]
    assert p.to_json()["parents"] == stored["parents"] and p.gp is None
    assert p.get("parents") == stored["parents"] and p.get("name") == "Ada" and p.get("gp") is None


def test_show_json_is_the_records_to_json_and_reads_back(vault):
    rid = vault.add_child("Ada Lovelace", key_person="ben")
    e = vault.add_entry(rid, "fell over", "confidential", "injury", "amira")
    vault.add_entry(rid, "a concern", "safeguarding", "concern", "amira")
    vault.ok("mark", e, "--parents-informed", "2026-11-24")
    from vault_cli.cli import contract, environment
    from vault_cli.services import holds, records
    from vault_cli.services.vault import Session, Vault

    for who in ("cara", "amira"):  # cara is not the key person: entries sealed
        shown = json.loads(vault.ok("show", rid, "--json", who=who).stdout)
        config = environment.config(vault=str(vault.root), identity=str(vault.keys[who]))
        with Session.start(Vault.open(config)) as session:
            data = records.show_record(session, rid).to_json()
            held = holds.holds_on(session, rid)  # the open legal holds, told to managers only (None to cara)
        assert (held is None) == (who == "cara")
        if who == "cara":
            assert [x["readable"] for x in data["entries"]].count(False) >= 1
        # show --json is the record's to_json and the holds on it, shaped by the JSON contract
        assert contract.show({**data, "holds": None if held is None else [h.id for h in held]}) == shown
        record = Record.from_json(data)
        assert record.to_json() == data
        assert json.dumps(record.to_json()) == json.dumps(data)  # the same keys in the same order
        assert record.profile is not None and record.profile.name == "Ada Lovelace"
