"""Legal holds: a record, or the whole vault, that must not be destroyed or erased while a hold is open.

A setting places a hold when an inquiry, a claim or a court asks it to keep records (the IICSA
moratorium on destroying records about children was one, lifted in 2023). A hold names its scope
(one record, or ``ALL``: every record), a reason, who placed it and when; a release says who lifted
it, when and (optionally) why. Holds are placed and released by holders whose role ``may``
"destroy" (``model.policy``): those who would destroy a record are those who must know it may not be.

That a particular child's record is held is itself sensitive (it hints at an inquiry or a claim),
so a hold's scope and reason are sealed for those holders and any recovery key
(``formats.holdfile``, ``services.holds``); a holder whose key does not open a hold sees only
that there is one (``Hold.readable`` False).

``held(record_id, holds, on)`` is the question the destroy and erase commands (issue 12, not built
yet) ask before they act, and must refuse on a non-empty answer. It is conservative: an open hold
the caller cannot read might cover the record, so it counts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Optional

from vault_cli.model import policy
from vault_cli.model.holders import Holders
from vault_cli.model.settings import Settings

ALL = "*"  # the scope of a hold on every record in the vault
HOLD_RE = re.compile(r"^h-[0-9a-hjkmnp-tv-z]{12}$")
REASON_LIMIT = 2000
PERMISSION = "destroy"  # the rules table's row: who destroys records places and lifts the holds that stop it
PLACE, RELEASE, RESEAL = "hold.add", "hold.release", "hold.reseal"  # the commits' actions (Confide-Action)
HOLD_TRAILER = "Confide-Hold"  # the hold a commit places or releases: its only trailer beyond action and holder


def readers(settings: Settings, holders: Holders) -> dict[str, str]:
    """Who a hold is sealed for: {holder: recipient} of active holders who may destroy, and recovery keys."""
    return {h.name: h.recipient for h in holders.active()
            if policy.may(settings, h, PERMISSION) or policy.is_recovery(settings, h)}


@dataclass
class Hold:
    """One hold as its file says it, opened as far as the caller's key allows (None where it did not)."""

    id: str
    readable: bool  # the caller's key opened what was sealed when it was placed
    scope: Optional[str] = None  # a record id, or ALL
    reason: Optional[str] = None
    added_by: Optional[str] = None
    added_on: Optional[str] = None  # YYYY-MM-DD
    released: bool = False  # plaintext: the file holds a release
    released_by: Optional[str] = None
    released_on: Optional[str] = None
    release_reason: Optional[str] = None

    def in_force(self, on: Optional[dt.date] = None) -> bool:
        """Open on ``on`` (None: now, i.e. not released). A hold placed after ``on`` was not in force then."""
        if on is None:
            return not self.released
        if self.added_on is not None and dt.date.fromisoformat(self.added_on) > on:
            return False
        if not self.released:
            return True
        # released, but we cannot read when: only "now" is known
        return self.released_on is not None and dt.date.fromisoformat(self.released_on) > on

    def covers(self, record_id: str) -> bool:
        """Does this hold cover ``record_id``? A hold the caller cannot read might: it counts."""
        return not self.readable or self.scope == ALL or self.scope == record_id

    def to_json(self) -> dict[str, Any]:
        return {"hold": self.id, "readable": self.readable, "state": "released" if self.released else "open",
                "scope": None if self.scope is None else ("all" if self.scope == ALL else "record"),
                "record": self.scope if self.scope not in (None, ALL) else None,
                "reason": self.reason, "added_by": self.added_by, "added_on": self.added_on,
                "released_by": self.released_by, "released_on": self.released_on,
                "release_reason": self.release_reason}


def held(record_id: str, holds: list[Hold], on: Optional[dt.date] = None) -> list[Hold]:
    """The holds that stop ``record_id`` from being destroyed or erased on ``on`` (None: now).

    The destroy and erase commands, when they come, call this and refuse while it is not empty,
    naming the holds (never their reasons). A hold the caller cannot read counts: it might be on
    this record."""
    return [h for h in holds if h.in_force(on) and h.covers(record_id)]


def is_open(hold_id: str, holds: list[Hold]) -> bool:
    return any(h.id == hold_id and not h.released for h in holds)


def clean_reason(text: Optional[str], *, required: bool) -> Optional[str]:
    """A reason as recorded: stripped; None when empty and not required. Raises ValueError with a
    sentence that repeats nothing of the text."""
    value = (text or "").strip()
    if not value:
        if required:
            raise ValueError("a hold needs a reason (what the inquiry, claim or order is)")
        return None
    if len(value) > REASON_LIMIT:
        raise ValueError(f"the reason is longer than {REASON_LIMIT} characters")
    return value


__all__ = ["ALL", "HOLD_RE", "PERMISSION", "PLACE", "RELEASE", "RESEAL", "HOLD_TRAILER", "readers", "Hold", "held", "is_open", "clean_reason"]
