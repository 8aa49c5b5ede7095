"""A parent's request to see their child's file, as the entries of the child's record tell it.

Every step of the procedure (``services.requests`` describes it) is an entry of its own category whose
encrypted ``details`` hold its facts. Here they are typed values built from the readable entries
(``model.record.Entry``), knowing nothing of files, keys or git:

- ``Request``: one request, its opening (``Opening``) and the steps taken since: third parties' answers
  (``Consent``), disclosure decisions and overrides (``model.disclosure``'s ``Decision`` and ``Override``),
  extensions (``Extension``), clean copies (``Export``) and its closing (``Closing``);
- ``requests_in``: every request in a record's entries, each with its steps;
- ``file_entries`` and ``third_parties``: the child's file proper, and who it names.

A step whose details are not in the shape confide writes is not a step of any request here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from vault_cli.model import disclosure
from vault_cli.model.record import Entry
from vault_cli.model.settings import PROCEDURE_CATEGORIES

JsonMap = Mapping[str, Any]
REQUEST_CATEGORIES = tuple(c for c in PROCEDURE_CATEGORIES if c.startswith("request"))


def party_key(name: str) -> str:
    """Third parties are matched by name, ignoring case and spacing."""
    return " ".join(name.split()).casefold()


def request_id_of(entry_id: str) -> str:
    return "r-" + entry_id[2:]


def entry_id_of(request_id: str) -> str:
    return "e-" + request_id[2:]


# What each step's details must hold (confide writes them; anything else is not a step it made).
_NEEDS: dict[str, tuple[Union[str, tuple[str, ...]], tuple[str, ...]]] = {
    "request": ("request/1", ("requester", "relationship", "received", "deadline", "statutory_deadline")),
    "request-consent": ("request-consent/1", ("request", "third_party", "answer", "on")),
    "request-withhold": (disclosure.LEGACY_WITHHOLD, ("request", "entry", "reason", "ground")),  # history only
    "request-extend": ("request-extend/1", ("request", "until", "reasons", "told_on")),
    "request-export": ((disclosure.OLD_FORMATS["request-export"], disclosure.EXPORT_DECIDED), ("request",)),
    "request-decision": (disclosure.DECISION_PROCEDURE, ("request", "entry", "decision", "reason")),
    "request-override": (disclosure.OVERRIDE_PROCEDURE, ("request", "reason")),
    "request-close": (disclosure.CLOSE_PROCEDURE, ("request", "closed_on")),
}
_DATES = ("received", "deadline", "statutory_deadline", "on", "until", "told_on", "closed_on")


def well_formed(e: Entry) -> bool:
    """Are the entry's details in the shape confide writes for a step of its category?"""
    need = _NEEDS.get(e.category)
    d = e.details
    if need is None or not isinstance(d, Mapping):
        return False
    if d.get("procedure") not in ((need[0],) if isinstance(need[0], str) else need[0]):
        return False
    for k in need[1]:
        if not isinstance(d.get(k), str):
            return False
        if k in _DATES:
            try:
                dt.date.fromisoformat(d[k])
            except ValueError:
                return False
    return True


@dataclass(frozen=True)
class Opening:
    """What the opening entry records of a request (``request/1``); the optional facts as they were recorded."""

    requester: str
    relationship: str
    received: str
    deadline: str  # the one set when it was opened (extensions move it: ``Request.deadline``)
    statutory_deadline: str
    id_checked: Optional[str] = None
    acknowledged: Optional[str] = None
    manager_informed: Optional[str] = None
    legal_advice: Optional[str] = None
    deadline_rule: Optional[str] = None
    notes: Optional[str] = None

    @classmethod
    def from_details(cls, d: JsonMap) -> Opening:
        return cls(d["requester"], d["relationship"], d["received"], d["deadline"], d["statutory_deadline"],
                   d.get("id_checked"), d.get("acknowledged"), d.get("manager_informed"), d.get("legal_advice"),
                   d.get("deadline_rule"), d.get("notes"))


@dataclass(frozen=True)
class Consent:
    """A third party's answer: consent to disclosure ``given`` or ``refused``."""

    id: str
    third_party: str
    answer: str
    on: str

    @classmethod
    def from_entry(cls, e: Entry) -> Consent:
        d = disclosure.details_of(e)
        return cls(e.id, d["third_party"], d["answer"], d["on"])


@dataclass(frozen=True)
class Extension:
    until: str
    told_on: str
    reasons: str
    by: str

    @classmethod
    def from_entry(cls, e: Entry) -> Extension:
        d = disclosure.details_of(e)
        return cls(d["until"], d["told_on"], d["reasons"], e.author)


@dataclass(frozen=True)
class Export:
    """A clean copy prepared: what its entry recorded of it (the facts as recorded; older copies hold fewer)."""

    id: str
    on: str
    by: str
    format: Optional[str]
    sha256: Optional[str]
    included: Optional[int]
    removed: Optional[Mapping[str, int]]  # ground -> how many entries it left out

    @classmethod
    def from_entry(cls, e: Entry) -> Export:
        d = disclosure.details_of(e)
        return cls(e.id, e.recorded_at[:10], e.author, d.get("format"), d.get("sha256"), d.get("included"),
                   d.get("removed"))


@dataclass(frozen=True)
class Closing:
    closed_on: str
    met_on: Optional[str]
    no_meeting: Optional[str]
    notes: Optional[str]
    by: str

    @classmethod
    def from_entry(cls, e: Entry) -> Closing:
        d = disclosure.details_of(e)
        return cls(d["closed_on"], d.get("met_on"), d.get("no_meeting"), d.get("notes"), e.author)


@dataclass
class Request:
    """One request and the steps recorded for it, in the order of their entries' ids."""

    id: str
    record: str
    opened: Entry  # the opening entry
    consents: list[Consent] = field(default_factory=list)
    decision_steps: list[disclosure.Decision] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    overrides: list[disclosure.Override] = field(default_factory=list)
    closed: Optional[Closing] = None

    @property
    def opening(self) -> Opening:
        return Opening.from_details(disclosure.details_of(self.opened))

    @property
    def received(self) -> dt.date:
        return dt.date.fromisoformat(self.opening.received)

    @property
    def deadline(self) -> dt.date:
        dates = [dt.date.fromisoformat(e.until) for e in self.extensions]
        return max(dates) if dates else dt.date.fromisoformat(self.opening.deadline)

    def answers(self) -> dict[str, Consent]:
        """The latest answer of each third party, by matching key."""
        out: dict[str, Consent] = {}
        for c in sorted(self.consents, key=lambda c: (c.on, c.id)):
            out[party_key(c.third_party)] = c
        return out

    def decided(self) -> dict[str, disclosure.Decision]:
        """This request's decisions, the latest for each entry."""
        return disclosure.latest(self.decision_steps).get(self.id, {})

    def withheld(self) -> dict[str, disclosure.Decision]:
        return {k: d for k, d in self.decided().items() if d.decision == "withhold"}

    def state(self, today: dt.date) -> str:
        if self.closed:
            closed_on = dt.date.fromisoformat(self.closed.closed_on)
            return "closed late" if closed_on > self.deadline else "closed"
        return "overdue" if today > self.deadline else ("extended" if self.extensions else "open")

    def summary(self, today: dt.date, child: Optional[str] = None) -> dict[str, Any]:
        """The request as ``request list --json`` gives it."""
        o = self.opening
        left = (self.deadline - today).days
        return {
            "request": self.id, "record": self.record, "child": child, "requester": o.requester,
            "relationship": o.relationship, "received": o.received, "deadline": self.deadline.isoformat(),
            "statutory_deadline": o.statutory_deadline, "days_left": None if self.closed else left,
            "state": self.state(today), "extended": bool(self.extensions),
            "closed_on": self.closed.closed_on if self.closed else None,
        }


def requests_in(entries: Iterable[Entry], record_id: str) -> dict[str, Request]:
    """Every request in a record's readable entries, with its later steps attached.

    Procedure entries whose details are not in the shape confide writes are ignored.
    """
    entries = list(entries)
    found: dict[str, Request] = {}
    for e in entries:
        if e.category == "request" and well_formed(e):
            rid = request_id_of(e.id)
            found[rid] = Request(rid, record_id, e)
    for e in sorted(entries, key=lambda x: x.id):
        cat = e.category
        if cat not in REQUEST_CATEGORIES or cat == "request" or not well_formed(e):
            continue
        req = found.get(disclosure.details_of(e)["request"])
        if req is None:
            continue  # a step whose request the caller cannot read: ignored here
        if cat == "request-consent":
            req.consents.append(Consent.from_entry(e))
        elif cat in ("request-withhold", "request-decision"):
            dec = disclosure.decision_of(e)
            if dec is not None:
                req.decision_steps.append(dec)
        elif cat == "request-override":
            override = disclosure.Override.from_entry(e)
            if override is not None:
                req.overrides.append(override)
        elif cat == "request-extend":
            req.extensions.append(Extension.from_entry(e))
        elif cat == "request-export":
            req.exports.append(Export.from_entry(e))
        elif cat == "request-close" and req.closed is None:
            req.closed = Closing.from_entry(e)
    return found


def file_entries(entries: Iterable[Entry]) -> list[Entry]:
    """The child's file proper: every entry but the request procedure's own."""
    return [e for e in entries if e.category not in REQUEST_CATEGORIES]


@dataclass
class ThirdParty:
    """A third party named in the file: the name as first written, and the entries naming them."""

    name: str
    entries: list[str] = field(default_factory=list)


def third_parties(entries: Iterable[Entry]) -> dict[str, ThirdParty]:
    """Third parties named in the file, by matching key."""
    out: dict[str, ThirdParty] = {}
    for e in file_entries(entries):
        for name in e.third_parties:
            out.setdefault(party_key(name), ThirdParty(name)).entries.append(e.id)
    return out


def earlier_decisions(entries: Iterable[Entry], request_id: str) -> dict[str, list[disclosure.Decision]]:
    """Decisions made for the record's other requests, by entry: shown as information, never applied."""
    out: dict[str, list[disclosure.Decision]] = {}
    for rid, decided in sorted(disclosure.decisions(entries).items()):
        if rid == request_id:
            continue
        for eid, dec in decided.items():
            out.setdefault(eid, []).append(dec)
    return out


__all__ = ["Request", "Opening", "Consent", "Extension", "Export", "Closing", "ThirdParty", "requests_in",
           "file_entries", "third_parties", "earlier_decisions", "party_key", "request_id_of", "entry_id_of",
           "well_formed", "REQUEST_CATEGORIES"]
