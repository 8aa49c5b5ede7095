"""What is owed (``confide due``): one ``Duty`` per thing to do, of one of seven kinds.

- ``request``: a parent's request to see the file, with its deadline;
- ``retention``: a record whose retention review date has come (``due``), or that a review decided to destroy;
- ``rekey``: a level's new key generation due (``level``; every record it is due in, ``records``);
- ``grant-ends``: a holder's grants ending on one day (``holder``, ``levels``, ``records``);
- ``parents-not-informed`` and ``parent-view-not-asked``: an entry (``level``, ``category``, ``at``);
- ``legal-hold``: an open legal hold (``item``: the hold; ``record``: its record, None for every record), shown
  only to those who may place holds (``services.holds``).

``record`` is the record when there is one, else None (a duty over several records lists them in
``records``). ``to_json()`` gives the fields a kind has, in one order, as ``due --json`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

KINDS = ("request", "retention", "rekey", "grant-ends", "parents-not-informed", "parent-view-not-asked",
         "legal-hold")  # also the order due lists them in


@dataclass(frozen=True)
class Duty:
    kind: str
    record: Optional[str]
    item: str  # what it is about: a request id, an entry id, a level, a holder (or holder:level per record)
    due: Optional[str]  # the day it is due, where there is one
    days_left: Optional[int]
    what: str  # what to do, in a sentence
    records: Optional[tuple[str, ...]] = None
    holder: Optional[str] = None
    level: Optional[str] = None
    levels: Optional[tuple[str, ...]] = None
    category: Optional[str] = None
    at: Optional[str] = None

    def sort_key(self) -> tuple[int, str, str, str, str]:
        return (KINDS.index(self.kind), self.due or "", self.record or "", self.at or "", self.item)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "record": self.record}
        if self.records is not None:
            out["records"] = list(self.records)
        out.update(item=self.item, due=self.due, days_left=self.days_left)
        for name in ("holder", "level", "levels", "category", "at"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        out["what"] = self.what
        return out





@dataclass(frozen=True)
class Due:
    """Everything owed on ``today``, in the order to do it, and how many records hold entries the caller cannot read
    (their entries were not checked)."""

    today: str
    items: tuple[Duty, ...]
    records_with_sealed_entries: int

    def to_json(self) -> dict[str, Any]:
        return {"today": self.today, "items": [i.to_json() for i in self.items],
                "records_with_sealed_entries": self.records_with_sealed_entries}
__all__ = ["Duty", "Due", "KINDS"]
