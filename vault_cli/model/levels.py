"""Who may open each level of a record: level keys, their generations and wrapped copies, grants,
revocations and the levels due a new generation (``rekey``).

Every level of a record has a level key, one age identity per *generation*; its secret half is
wrapped once per reader: a ``WrappedCopy`` names the holder it was wrapped for and holds the
armored age block. A ``LevelKey`` is one generation: its id, level, number, public recipient and
copies. It says nothing of where it is kept: today the record head holds every generation
(``formats/envelope.py`` reads and writes them); a separate key store (issue 12) would hold the
same values.

``LevelKeys`` is a record's generations in the order the file lists them. ``Grant`` and
``Revocation`` are the record's explicit access rules (``model/policy.py`` decides who reads from
them). Every value is frozen: a change makes a new value (``with_copy``, ``without``, ``replace``,
``with_next``), so nothing read from a file is changed under a reader's feet.

``from_json`` takes the validated file form (the record schema checked it); ``to_json`` gives it
back field for field and in the same order, so a record rewritten from these values is byte for
byte the file it was read from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional


@dataclass(frozen=True)
class WrappedCopy:
    """A level key's secret, wrapped (age-encrypted) for one holder."""

    holder: str
    armored: str


@dataclass(frozen=True)
class LevelKey:
    """One generation of a level's key, and the holders it is wrapped for (in file order)."""

    id: str
    level: str
    generation: int
    recipient: str  # the public half: what blocks of this generation are sealed to
    copies: tuple[WrappedCopy, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LevelKey:
        wrapped: Mapping[str, str] = data["wrapped"]
        return cls(str(data["id"]), str(data["level"]), int(data["generation"]), str(data["recipient"]),
                   tuple(WrappedCopy(name, armored) for name, armored in wrapped.items()))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "level": self.level, "generation": self.generation, "recipient": self.recipient,
                "wrapped": self.wrapped()}

    @property
    def holders(self) -> tuple[str, ...]:
        """Who holds a copy, in file order."""
        return tuple(c.holder for c in self.copies)

    def wrapped(self) -> dict[str, str]:
        """Holder -> their armored copy, in file order (a new dict)."""
        return {c.holder: c.armored for c in self.copies}

    def holds(self, holder: str) -> bool:
        return any(c.holder == holder for c in self.copies)

    def copy_for(self, holder: str) -> Optional[str]:
        """The armored copy wrapped for ``holder``, None when they hold none."""
        for c in self.copies:
            if c.holder == holder:
                return c.armored
        return None

    def with_copy(self, holder: str, armored: str) -> LevelKey:
        """This generation with ``holder``'s copy put in place of theirs, or added (copies then sorted by holder)."""
        if self.holds(holder):
            copies = tuple(WrappedCopy(holder, armored) if c.holder == holder else c for c in self.copies)
        else:
            copies = tuple(sorted((*self.copies, WrappedCopy(holder, armored)), key=lambda c: c.holder))
        return LevelKey(self.id, self.level, self.generation, self.recipient, copies)

    def without(self, holders: Iterable[str]) -> LevelKey:
        """This generation without the copies of ``holders`` (the rest keep their order)."""
        gone = set(holders)
        return LevelKey(self.id, self.level, self.generation, self.recipient,
                        tuple(c for c in self.copies if c.holder not in gone))

    def same_key(self, other: LevelKey) -> bool:
        """Do both describe the same key (id, level, generation, recipient), whoever holds copies?"""
        return (self.id, self.level, self.generation, self.recipient) == (other.id, other.level, other.generation, other.recipient)


@dataclass(frozen=True)
class LevelKeys:
    """A record's level keys, every generation of every level, in file order."""

    keys: tuple[LevelKey, ...] = ()
    _by_id: dict[str, LevelKey] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        self._by_id.update((k.id, k) for k in self.keys)

    @classmethod
    def from_json(cls, data: Iterable[Mapping[str, Any]]) -> LevelKeys:
        return cls(tuple(LevelKey.from_json(k) for k in data))

    def to_json(self) -> list[dict[str, Any]]:
        return [k.to_json() for k in self.keys]

    def __iter__(self) -> Iterator[LevelKey]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, key_id: str) -> Optional[LevelKey]:
        return self._by_id.get(key_id)

    @cached_property
    def ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    def of_level(self, level: str) -> tuple[LevelKey, ...]:
        """A level's generations, oldest first (by number; file order among equal numbers)."""
        return tuple(sorted((k for k in self.keys if k.level == level), key=lambda k: k.generation))

    def current(self, level: str) -> Optional[LevelKey]:
        """The generation new blocks of ``level`` are sealed to: the highest number (two of one number
        only after a merge, until the level is re-keyed; then the higher id)."""
        gens = [k for k in self.keys if k.level == level]
        return max(gens, key=lambda k: (k.generation, k.id)) if gens else None

    def replace(self, key: LevelKey) -> LevelKeys:
        """These keys with ``key`` in place of the one with its id."""
        return LevelKeys(tuple(key if k.id == key.id else k for k in self.keys))

    def with_next(self, key: LevelKey) -> LevelKeys:
        """These keys with a new generation added after the last of its level (at the end if it has none)."""
        at = max((i for i, k in enumerate(self.keys) if k.level == key.level), default=len(self.keys) - 1)
        return LevelKeys((*self.keys[: at + 1], key, *self.keys[at + 1:]))

    def without(self, level: str, holders: Iterable[str]) -> LevelKeys:
        """These keys with the copies of ``holders`` dropped from every generation of ``level``."""
        gone = set(holders)
        return LevelKeys(tuple(k.without(gone) if k.level == level and any(c.holder in gone for c in k.copies) else k
                               for k in self.keys))


_GRANT_OPTIONAL = ("until", "parent_permission")


@dataclass(frozen=True)
class Grant:
    """A level of one record given to a holder beyond their role ('confide grant'), maybe until a day."""

    holder: str
    level: str
    granted_by: str
    granted: str  # ISO date
    until: Optional[str] = None  # ISO date; the grant ends after it
    parent_permission: Optional[str] = None  # ISO date the parents agreed, for roles whose grants need it
    null_fields: tuple[str, ...] = ()  # optional fields the file writes as null (kept so it rewrites byte for byte)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Grant:
        return cls(data["holder"], data["level"], data["granted_by"], data["granted"], data.get("until"),
                   data.get("parent_permission"), tuple(f for f in _GRANT_OPTIONAL if f in data and data[f] is None))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"holder": self.holder, "level": self.level, "granted_by": self.granted_by,
                               "granted": self.granted}
        for name in _GRANT_OPTIONAL:
            value = getattr(self, name)
            if value is not None or name in self.null_fields:
                out[name] = value
        return out

    def is_for(self, holder: str, level: str) -> bool:
        return self.holder == holder and self.level == level

    def live(self, today: Optional[dt.date]) -> bool:
        """In force on ``today`` (None: end dates aside, as merges and verify's invariants ask)."""
        return today is None or self.until is None or dt.date.fromisoformat(self.until) >= today

    def same_terms(self, other: Grant) -> bool:
        """The same end date and parent's permission (who granted it and when aside)."""
        return (self.until, self.parent_permission) == (other.until, other.parent_permission)


@dataclass(frozen=True)
class Revocation:
    """A holder's role or key-person access to one level of one record, taken away ('confide revoke')."""

    holder: str
    level: str
    revoked_by: str
    revoked: str  # ISO date

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Revocation:
        return cls(data["holder"], data["level"], data["revoked_by"], data["revoked"])

    def to_json(self) -> dict[str, Any]:
        return {"holder": self.holder, "level": self.level, "revoked_by": self.revoked_by, "revoked": self.revoked}

    def is_for(self, holder: str, level: str) -> bool:
        return self.holder == holder and self.level == level


def grants_from_json(data: Optional[Iterable[Mapping[str, Any]]]) -> tuple[Grant, ...]:
    return tuple(Grant.from_json(g) for g in data or ())


def revocations_from_json(data: Optional[Iterable[Mapping[str, Any]]]) -> tuple[Revocation, ...]:
    return tuple(Revocation.from_json(r) for r in data or ())


__all__ = ["WrappedCopy", "LevelKey", "LevelKeys", "Grant", "Revocation", "grants_from_json", "revocations_from_json"]
