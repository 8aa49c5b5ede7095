"""A child's record as the caller can read it: the profile, the entries with their markings, a sync's conflict.

Typed values, built from the payloads ``formats.envelope`` has opened and checked against their schemas
(``schemas/entry.schema.json``, ``mark.schema.json``, ``profile.schema.json``), and knowing nothing of files,
keys or git. ``to_json()`` gives each back as the mapping ``--json`` prints, key for key and in the same
order as the stored payload, so the output does not depend on how the values are held here.

- ``Entry``: an entry the caller can read, as it now stands (its markings applied); ``SealedEntry``: one
  they hold no key for (its id and level are all they may know).
- ``Marking``: what was learnt about an entry later, one change ``{from, to}`` per field.
- ``NewEntry``: an entry's fields as a person gave them, checked, before it is sealed.
- ``Profile`` (with ``Person`` for parents and emergency contacts): the child's general information.
- ``ProfileVersion`` and ``Conflict``: the versions of a profile a sync kept until someone resolves them.
- ``Record``: what ``show`` shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from vault_cli.model import ids

JsonMap = Mapping[str, Any]

# the fields a marking may change besides the level (the level is the entry's key's: it is re-sealed)
MARKABLE = ("parent_view", "parents_informed", "parents_not_informed")


@dataclass(frozen=True)
class Change:
    before: Optional[str]
    after: Optional[str]

    def to_json(self) -> dict[str, Optional[str]]:
        return {"from": self.before, "to": self.after}


@dataclass(frozen=True)
class Marking:
    id: str
    entry: str
    level: str
    author: str
    recorded_at: str
    reason: Optional[str]
    changes: Mapping[str, Change]  # field -> change, in the order the marking lists them

    @classmethod
    def from_payload(cls, p: JsonMap) -> Marking:
        """From a ``mark/1`` payload as ``envelope.open_block`` returns it (validated)."""
        return cls(id=p["block"], entry=p["entry"], level=p["level"], author=p["author"],
                   recorded_at=p["recorded_at"], reason=p["reason"],
                   changes={k: Change(v["from"], v["to"]) for k, v in p["changes"].items()})

    @classmethod
    def from_json(cls, d: JsonMap, *, entry: str, level: str) -> Marking:
        """From ``to_json()``'s mapping (which leaves out the entry and level it belongs to)."""
        return cls(id=d["id"], entry=entry, level=level, author=d["author"], recorded_at=d["recorded_at"],
                   reason=d["reason"], changes={k: Change(v["from"], v["to"]) for k, v in d["changes"].items()})

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "author": self.author, "recorded_at": self.recorded_at, "reason": self.reason,
                "changes": {k: c.to_json() for k, c in self.changes.items()}}


@dataclass(frozen=True)
class NewEntry:
    """An entry's fields as a person gave them, checked and normalised (``records.check_entry``), to be sealed.

    ``at`` None: it happened when it is recorded."""

    level: str
    category: str
    text: str
    parent_view: str
    at: Optional[str]
    parents_informed: Optional[str]
    parents_not_informed: Optional[str]
    third_parties: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "category": self.category, "text": self.text, "parent_view": self.parent_view,
                "at": self.at, "parents_informed": self.parents_informed,
                "parents_not_informed": self.parents_not_informed, "third_parties": list(self.third_parties)}


@dataclass(frozen=True)
class Entry:
    """An entry the caller can read, as it now stands: the sealed payload with its markings applied."""

    id: str
    level: str
    category: str
    text: str
    at: str  # when it happened: a time with its offset, or a date alone
    recorded_at: str
    author: str
    parent_view: str
    parents_informed: Optional[str]
    parents_not_informed: Optional[str]
    third_parties: tuple[str, ...]
    corrects: Optional[str]
    details: Optional[JsonMap]  # what a procedure recorded besides the text (a request's dates, ...), or None
    markings: tuple[Marking, ...] = ()

    @property
    def readable(self) -> bool:
        return True

    @classmethod
    def from_payloads(cls, payload: JsonMap, marks: Sequence[JsonMap]) -> Entry:
        """From an ``entry/1`` payload and its ``mark/1`` payloads (any order; validated), markings applied."""
        markings = tuple(Marking.from_payload(m) for m in sorted(marks, key=lambda m: str(m["block"])))
        now: dict[str, Optional[str]] = {f: payload[f] for f in MARKABLE}
        for m in markings:
            for name, change in m.changes.items():
                if name != "level":
                    now[name] = change.after
        parent_view = now["parent_view"]
        assert parent_view is not None  # the mark schema gives it no null, the entry schema neither
        return cls(id=payload["block"], level=payload["level"], category=payload["category"], text=payload["text"],
                   at=payload["at"], recorded_at=payload["recorded_at"], author=payload["author"],
                   parent_view=parent_view, parents_informed=now["parents_informed"],
                   parents_not_informed=now["parents_not_informed"], third_parties=tuple(payload["third_parties"]),
                   corrects=payload["corrects"], details=payload.get("details"), markings=markings)

    @classmethod
    def from_json(cls, d: JsonMap) -> Entry:
        """From ``to_json()``'s mapping (``show --json``'s entries)."""
        return cls(id=d["id"], level=d["level"], category=d["category"], text=d["text"], at=d["at"],
                   recorded_at=d["recorded_at"], author=d["author"], parent_view=d["parent_view"],
                   parents_informed=d["parents_informed"], parents_not_informed=d["parents_not_informed"],
                   third_parties=tuple(d["third_parties"]), corrects=d["corrects"], details=d["details"],
                   markings=tuple(Marking.from_json(m, entry=d["id"], level=d["level"]) for m in d["markings"]))

    @property
    def date(self) -> str:
        """The day it happened (``YYYY-MM-DD``)."""
        return self.at[:10]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "level": self.level, "readable": True, "category": self.category, "text": self.text,
            "at": self.at, "recorded_at": self.recorded_at, "author": self.author, "parent_view": self.parent_view,
            "parents_informed": self.parents_informed, "parents_not_informed": self.parents_not_informed,
            "third_parties": list(self.third_parties), "corrects": self.corrects, "details": self.details,
            "markings": [m.to_json() for m in self.markings],
        }


@dataclass(frozen=True)
class SealedEntry:
    """An entry the caller holds no key for: its id and level are all they may know of it."""

    id: str
    level: str

    @property
    def readable(self) -> bool:
        return False

    @property
    def recorded(self) -> dt.datetime:
        """When it was recorded, read from its id (which begins with the recording time)."""
        ms = 0
        for ch in self.id[2:12]:
            ms = ms * 32 + ids.ALPHABET.index(ch)
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "level": self.level, "readable": False}


AnyEntry = Union[Entry, SealedEntry]


def entry_from_json(d: JsonMap) -> AnyEntry:
    """An entry from ``to_json()``'s mapping, readable or sealed."""
    return Entry.from_json(d) if d["readable"] else SealedEntry(d["id"], d["level"])

# ---------------------------------------------------------------------------
# The profile

PERSON_FIELDS = ("name", "relationship", "parental_responsibility", "phone", "email", "address", "notes")


@dataclass(frozen=True)
class Person:
    """A parent or an emergency contact, as the profile lists them."""

    name: str
    relationship: Optional[str] = None
    parental_responsibility: Optional[bool] = None
    phone: Optional[str] = None
    email: Optional[str] = None
    address: Optional[str] = None
    notes: Optional[str] = None
    fields: tuple[str, ...] = ("name",)  # the keys the stored profile gives, in its order

    @classmethod
    def from_json(cls, d: JsonMap) -> Person:
        return cls(**{k: d[k] for k in PERSON_FIELDS if k in d}, fields=tuple(d))

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.fields}


PROFILE_FIELDS = (
    "name", "known_as", "dob", "start_date", "leaving_date", "leaving_destination", "room", "key_person", "home_languages",
    "parents", "emergency_contacts", "medical_needs", "allergies", "dietary_needs", "gp", "send",
    "court_orders", "consents",
)


@dataclass(frozen=True)
class Profile:
    """The child's general information, from a ``profile/1`` payload's ``profile`` (validated).

    ``key_person`` is the record head's (the profile's own copy is kept equal to it)."""

    name: str
    known_as: Optional[str] = None
    dob: Optional[str] = None
    start_date: Optional[str] = None
    leaving_date: Optional[str] = None
    leaving_destination: Optional[str] = None  # where the child went (free text), recorded by 'child leave'
    room: Optional[str] = None
    key_person: Optional[str] = None
    home_languages: tuple[str, ...] = ()
    parents: tuple[Person, ...] = ()
    emergency_contacts: tuple[Person, ...] = ()
    medical_needs: Optional[str] = None
    allergies: tuple[str, ...] = ()
    dietary_needs: Optional[str] = None
    gp: Optional[str] = None
    send: Optional[str] = None
    court_orders: Optional[str] = None
    consents: Mapping[str, bool] = field(default_factory=dict)
    fields: tuple[str, ...] = ("name",)  # the keys the profile holds, in its order (``to_json`` keeps it)

    @classmethod
    def from_json(cls, d: JsonMap, *, key_person: Optional[str]) -> Profile:
        """From the stored profile mapping, with the record's key person (set, or added last, as a field)."""
        values: dict[str, Any] = {k: d[k] for k in PROFILE_FIELDS if k in d}
        for k in ("home_languages", "allergies"):
            if k in values:
                values[k] = tuple(values[k])
        for k in ("parents", "emergency_contacts"):
            if k in values:
                values[k] = tuple(Person.from_json(p) for p in values[k])
        if "consents" in values:
            values["consents"] = dict(values["consents"])
        values["key_person"] = key_person
        order = tuple(d) + (() if "key_person" in d else ("key_person",))
        return cls(**values, fields=order)

    def get(self, name: str) -> Any:
        """A field by its name, as ``to_json`` gives it; None where the profile does not hold it (for code that
        goes through fields by name, such as the names cache's)."""
        return self._json_value(name) if name in self.fields else None

    def _json_value(self, name: str) -> Any:
        v = getattr(self, name)
        if name in ("parents", "emergency_contacts"):
            return [p.to_json() for p in v]
        if name in ("home_languages", "allergies"):
            return list(v)
        if name == "consents":
            return dict(v)
        return v

    def to_json(self) -> dict[str, Any]:
        return {k: self._json_value(k) for k in self.fields}


@dataclass(frozen=True)
class ProfileVersion:
    """One of the versions of a profile a sync kept, numbered by when it was saved."""

    version: int
    updated_by: str
    updated_at: str
    profile: Profile

    @classmethod
    def from_json(cls, d: JsonMap) -> ProfileVersion:
        p = d["profile"]
        return cls(d["version"], d["updated_by"], d["updated_at"], Profile.from_json(p, key_person=p.get("key_person")))

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "updated_by": self.updated_by, "updated_at": self.updated_at,
                "profile": self.profile.to_json()}


@dataclass(frozen=True)
class Conflict:
    """A sync's unresolved conflict in a record: its part (the profile), and its versions (None: sealed to the caller)."""

    part: str
    versions: Optional[tuple[ProfileVersion, ...]]

    @classmethod
    def from_json(cls, d: JsonMap) -> Conflict:
        versions = d["versions"]
        return cls(d["part"], None if versions is None else tuple(ProfileVersion.from_json(v) for v in versions))

    def to_json(self) -> dict[str, Any]:
        return {"part": self.part,
                "versions": None if self.versions is None else [v.to_json() for v in self.versions]}


@dataclass(frozen=True)
class Record:
    """A record as ``show`` shows it: the profile (None: sealed to the caller), the chronology, any conflict."""

    record: str
    profile: Optional[Profile]
    entries: tuple[AnyEntry, ...]
    conflict: Optional[Conflict] = None

    @classmethod
    def from_json(cls, d: JsonMap) -> Record:
        """From ``show``'s mapping: ``Record.from_json(r.to_json()) == r`` (a conflict null or left out: none)."""
        p = d["profile"]
        return cls(d["record"], None if p is None else Profile.from_json(p, key_person=p.get("key_person")),
                   tuple(entry_from_json(e) for e in d["entries"]),
                   Conflict.from_json(d["conflict"]) if d.get("conflict") is not None else None)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"record": self.record,
                                "profile": None if self.profile is None else self.profile.to_json(),
                                "entries": [e.to_json() for e in self.entries]}
        if self.conflict is not None:  # only while a sync's conflict waits for 'confide resolve'
            data["conflict"] = self.conflict.to_json()
        return data


__all__ = ["Change", "Marking", "NewEntry", "Entry", "SealedEntry", "AnyEntry", "Person", "Profile", "ProfileVersion",
           "Conflict", "Record", "entry_from_json", "PROFILE_FIELDS", "PERSON_FIELDS", "MARKABLE"]
