"""Parents' requests to see their child's file: the procedure, its deadlines and its record.

The procedure (the setting's "Confidentiality and client access to records"
policy, UK GDPR's right of access):

1. a written request is logged (who, relationship, received, how identity was
   checked) and acknowledged; the deadline runs from receipt;
2. the manager is informed; whether legal advice was sought is recorded;
3. the file is checked, every entry naming a third party flagged;
4. each third party is asked for consent; answers are recorded (``consent``);
5. every entry the parents were not told of, and every safeguarding entry, gets
   a recorded decision for the request: withhold (with its ground) or disclose
   (``request_steps.decide``; the rules are ``model.disclosure``'s); where the
   child's profile records no parental responsibility for the requester, or a
   court order, only a manager may let the copy go ahead (``override``);
6. a clean copy is prepared from a copy of the file (``cleancopy``), without
   what third parties who refused gave or are named in, and without entries
   withheld;
7. the file is gone through with the parent in a meeting (``close``).

Every step is an entry of its own category in the child's record (encrypted,
immutable, in the chronology, in the audit trail as an ordinary ``entry.add``):
``request``, ``request-consent``, ``request-decision``, ``request-override``, ``request-extend``,
``request-export`` and ``request-close``. Their facts live in the entry's
encrypted ``details``; the text is a readable sentence for ``confide show``.
Nothing in plaintext says a record has a request: the commit says only that
an entry was added, as for any other entry.

A request's id is its opening entry's id with ``r-`` for ``e-``: time-ordered,
random in its last characters, derived from nothing about the child, and
``git grep`` finds the record that holds it in one pass (``Vault.find_entry_record``).

Deadlines (ICO guidance): one calendar month from receipt, to the same day
of the next month, or that month's last day when it has no such day
(received 31 January: due 28 or 29 February). The setting's own deadline
(``request_deadline`` in confide.yaml: '1 month' or 'N days') is used when it is
earlier, never when later. A complex request may be extended by up to two
further months, if the requester is told, with reasons, within the first
month; anything beyond three months from receipt is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, overload

from vault_cli.adapters import parallel, timeutil
from vault_cli.errors import Denied, NotFound, UsageError, VaultStateError
from vault_cli.model import disclosure, policy
from vault_cli.model.settings import PROCEDURE_CATEGORIES
from vault_cli.services import records
from vault_cli.services.vault import Session

REQUEST_RE = re.compile(r"^r-[0-9a-hjkmnp-tv-z]{14}$")
REQUEST_CATEGORIES = tuple(c for c in PROCEDURE_CATEGORIES if c.startswith("request"))
LEGAL_ADVICE = ("sought", "not-sought")
ANSWERS = ("given", "refused")
DEFAULT_GROUND = "an exemption under the Data Protection Act 2018"
LEVEL_ORDER = ("general", "confidential", "safeguarding")


@overload
def parse_day(text: str, field: str) -> dt.date: ...
@overload
def parse_day(text: Optional[str], field: str) -> Optional[dt.date]: ...


def parse_day(text: Optional[str], field: str) -> Optional[dt.date]:
    """The date given for ``field`` (e.g. "date received"), or None when none was."""
    if text is None:
        return None
    return dt.date.fromisoformat(timeutil.parse_date(text, field))


def not_future(day: dt.date, field: str, today: dt.date) -> None:
    if day > today:
        raise UsageError("{0} is in the future", f"give the date it happened, today ({today.isoformat()}) at the latest",
                         fields=(field,))


@overload
def clean_text(text: Optional[str], field: str, *, required: Literal[True] = True, limit: int = 2000) -> str: ...
@overload
def clean_text(text: Optional[str], field: str, *, required: bool, limit: int = 2000) -> Optional[str]: ...


def clean_text(text: Optional[str], field: str, *, required: bool = True, limit: int = 2000) -> Optional[str]:
    """The text given for ``field`` on one line (None when none was and none is ``required``)."""
    if text is None or not text.strip():
        if required:
            raise UsageError("{0} is empty", "give it with {0} \"...\"", fields=(field,))
        return None
    text = " ".join(text.split())
    if len(text) > limit:
        raise UsageError(f"{{0}} is longer than {limit} characters", "shorten it; nothing was changed", fields=(field,))
    return text


def party_key(name: str) -> str:
    """Third parties are matched by name, ignoring case and spacing."""
    return " ".join(name.split()).casefold()


# ---------------------------------------------------------------------------
# Ids and who may act


def request_id_of(entry_id: str) -> str:
    return "r-" + entry_id[2:]


def entry_id_of(request_id: str) -> str:
    return "e-" + request_id[2:]


def check_request_id(request_id: str) -> str:
    if not REQUEST_RE.fullmatch(request_id or ""):
        raise NotFound(f"'{request_id}' is not a request id", "request ids look like r-01jd3x8k2m5q9w; list them with: confide request list")
    return request_id


def require_manager_or_dsl(session: Session, doing: str):
    actor = session.require_writer()
    policy.require(session.settings, actor, "requests", doing)
    return actor


def locate(session: Session, request_id: str) -> str:
    """The record holding a request: one ``git grep`` for its opening entry's id."""
    check_request_id(request_id)
    try:
        return session.vault.find_entry_record(entry_id_of(request_id))
    except NotFound:
        raise NotFound(f"no request {request_id} in this vault", "list the requests with: confide request list") from None


# ---------------------------------------------------------------------------
# Reading a record's procedure entries


def open_entries(session: Session, env, levels: Optional[tuple] = None) -> tuple[list[dict], int]:
    """The current state of every entry the caller can read (details included), and how many are sealed.

    ``levels`` limits which entries are decrypted at all (by their key's level).
    """
    out, sealed = [], 0
    for item in env.entries:
        if levels is not None and env.key(item["key"])["level"] not in levels:
            continue
        opened = records.open_entry(session, env, item)
        if opened is None:
            sealed += 1
            continue
        state = records.current_state(opened).to_json()  # the request procedure's rules still read mappings
        state["details"] = opened["payload"].get("details") or {}
        out.append(state)
    return out, sealed


@dataclass
class Request:
    id: str
    record: str
    opened: dict  # the opening entry
    consents: list = field(default_factory=list)
    decision_steps: list = field(default_factory=list)
    extensions: list = field(default_factory=list)
    exports: list = field(default_factory=list)
    overrides: list = field(default_factory=list)
    closed: Optional[dict] = None

    @property
    def details(self) -> dict:
        return self.opened["details"]

    @property
    def received(self) -> dt.date:
        return dt.date.fromisoformat(self.details["received"])

    @property
    def deadline(self) -> dt.date:
        dates = [dt.date.fromisoformat(e["details"]["until"]) for e in self.extensions]
        return max(dates) if dates else dt.date.fromisoformat(self.details["deadline"])

    def answers(self) -> dict[str, dict]:
        """The latest answer of each third party, by matching key."""
        out: dict[str, dict] = {}
        for c in sorted(self.consents, key=lambda e: (e["details"]["on"], e["id"])):
            out[party_key(c["details"]["third_party"])] = c
        return out

    def decided(self) -> dict[str, disclosure.Decision]:
        """This request's decisions, the latest for each entry."""
        return disclosure.decisions(self.decision_steps).get(self.id, {})

    def withheld(self) -> dict[str, disclosure.Decision]:
        return {k: d for k, d in self.decided().items() if d.decision == "withhold"}

    def state(self, today: dt.date) -> str:
        if self.closed:
            closed_on = dt.date.fromisoformat(self.closed["details"]["closed_on"])
            return "closed late" if closed_on > self.deadline else "closed"
        return "overdue" if today > self.deadline else ("extended" if self.extensions else "open")

    def summary(self, today: dt.date, child: Optional[str] = None) -> dict:
        d = self.details
        left = (self.deadline - today).days
        return {
            "request": self.id, "record": self.record, "child": child, "requester": d["requester"],
            "relationship": d["relationship"], "received": d["received"], "deadline": self.deadline.isoformat(),
            "statutory_deadline": d["statutory_deadline"], "days_left": None if self.closed else left,
            "state": self.state(today), "extended": bool(self.extensions),
            "closed_on": self.closed["details"]["closed_on"] if self.closed else None,
        }


# What each step's details must hold (confide writes them; anything else is not a step it made).
_NEEDS = {
    "request": ("request/1", ("requester", "relationship", "received", "deadline", "statutory_deadline")),
    "request-consent": ("request-consent/1", ("request", "third_party", "answer", "on")),
    "request-withhold": ("request-withhold/1", ("request", "entry", "reason", "ground")),
    "request-extend": ("request-extend/1", ("request", "until", "reasons", "told_on")),
    "request-export": (("request-export/1", disclosure.EXPORT_DECIDED), ("request",)),
    "request-decision": (disclosure.DECISION_PROCEDURE, ("request", "entry", "decision", "reason")),
    "request-override": (disclosure.OVERRIDE_PROCEDURE, ("request", "reason")),
    "request-close": ("request-close/1", ("request", "closed_on")),
}
_DATES = ("received", "deadline", "statutory_deadline", "on", "until", "told_on", "closed_on")


def _well_formed(e: dict) -> bool:
    need = _NEEDS.get(e["category"])
    d = e.get("details")
    if need is None or not isinstance(d, dict):
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


def requests_in(entries: list[dict], record_id: str) -> dict[str, Request]:
    """Every request in a record's readable entries, with its later steps attached.

    Procedure entries whose details are not in the shape confide writes are ignored.
    """
    found: dict[str, Request] = {}
    for e in entries:
        if e["category"] == "request" and _well_formed(e):
            rid = request_id_of(e["id"])
            found[rid] = Request(rid, record_id, e)
    for e in sorted(entries, key=lambda x: x["id"]):
        cat = e["category"]
        if cat not in REQUEST_CATEGORIES or cat == "request" or not _well_formed(e):
            continue
        req = found.get(e["details"]["request"])
        if req is None:
            continue  # a step whose request the caller cannot read: ignored here
        if cat == "request-consent":
            req.consents.append(e)
        elif cat in ("request-withhold", "request-decision"):
            req.decision_steps.append(e)
        elif cat == "request-override":
            req.overrides.append(e)
        elif cat == "request-extend":
            req.extensions.append(e)
        elif cat == "request-export":
            req.exports.append(e)
        elif cat == "request-close" and req.closed is None:
            req.closed = e
    return found


def file_entries(entries: list[dict]) -> list[dict]:
    """The child's file proper: every entry but the request procedure's own."""
    return [e for e in entries if e["category"] not in REQUEST_CATEGORIES]


def third_parties(entries: list[dict]) -> dict[str, dict]:
    """Third parties named in the file, by matching key: the name as first written, and their entries."""
    out: dict[str, dict] = {}
    for e in file_entries(entries):
        for name in e["third_parties"]:
            slot = out.setdefault(party_key(name), {"name": name, "entries": []})
            slot["entries"].append(e["id"])
    return out


@dataclass
class Loaded:
    env: Any
    profile: Optional[dict]
    entries: list
    sealed: int
    request: Request


def refuse_while_conflicted(head: dict, record_id: str) -> None:
    """No clean copy, and no override, while a sync's conflict keeps two versions of the profile: which stands
    (one may record a court order) is not settled."""
    from vault_cli.services.merge import profile_versions

    if profile_versions(head):
        raise VaultStateError(
            f"the profile of {record_id} is in two versions since a sync, so what it says about access is not settled",
            f"resolve it first: confide show {record_id}, then confide resolve {record_id} --take N; nothing was written",
        )


def load(session: Session, request_id: str) -> Loaded:
    """A request with its whole record, as the caller can read it."""
    session.require_reader()
    record_id = locate(session, request_id)
    env = session.vault.envelope(record_id)
    entries, sealed = open_entries(session, env)
    req = requests_in(entries, record_id).get(request_id)
    if req is None:
        item = env.find_entry(entry_id_of(request_id))
        if item is not None:
            if records.open_entry(session, env, item) is None:
                raise Denied(f"you hold no key to request {request_id}", "ask the manager or the DSL")
        raise NotFound(f"no request {request_id} in this vault", "list the requests with: confide request list")
    profile = records.read_profile(session, env)
    return Loaded(env, profile.to_json() if profile else None, entries, sealed, req)


# ---------------------------------------------------------------------------
# Reading: one request, every request


def show(session: Session, request_id: str) -> dict:
    loaded = load(session, request_id)
    req = loaded.request
    today = session.clock.today()
    answers = req.answers()
    withheld = req.withheld()
    parties = []
    for key, slot in sorted(third_parties(loaded.entries).items()):
        ans = answers.get(key)
        parties.append({
            "third_party": slot["name"], "entries": slot["entries"],
            "answer": ans["details"]["answer"] if ans else "awaited",
            "on": ans["details"]["on"] if ans else None,
        })
    file = file_entries(loaded.entries)
    decided = req.decided()
    earlier = earlier_decisions(loaded.entries, req)
    review = []
    for e in sorted(file, key=lambda x: (x["at"], x["id"])):
        flags = []
        if e["third_parties"]:
            flags.append("names a third party")
        flags += disclosure.needs_decision(e)
        dec = decided.get(e["id"])
        if dec is not None:
            flags.append("withheld" if dec.decision == "withhold" else "disclosed")
        elif disclosure.needs_decision(e):
            flags.append("decision needed")
        for x in earlier.get(e["id"], []):
            flags.append(f"{'withheld' if x.decision == 'withhold' else 'disclosed'} for {x.request}")
        if flags:
            review.append({"entry": e["id"], "at": e["at"], "level": e["level"], "category": e["category"], "flags": flags})
    refused = disclosure.refusals(loaded.profile, req.details["requester"])
    lifted = disclosure.overridden(req.overrides, req.id)
    d = req.details
    summary = req.summary(today, (loaded.profile or {}).get("name"))
    summary.update({
        "id_checked": d.get("id_checked"), "acknowledged": d.get("acknowledged"),
        "manager_informed": d.get("manager_informed"), "legal_advice": d.get("legal_advice"),
        "deadline_rule": d.get("deadline_rule"), "notes": d.get("notes"), "opened_by": req.opened["author"],
        "entries_in_file": len(file), "sealed_entries": loaded.sealed,
        "third_parties": parties,
        "withheld": [{"entry": k, "reason": w.reason, "ground": w.ground, "by": w.by}
                     for k, w in sorted(withheld.items())],
        "decisions": [_decision_json(x) for _k, x in sorted(decided.items())],
        "earlier_decisions": [_decision_json(x) for _k, xs in sorted(earlier.items()) for x in xs],
        "refusals": [{"refusal": r, "why": disclosure.REFUSALS[r], "overridden": r in lifted} for r in refused],
        "overrides": [{"refusals": o["details"].get("refusals") or [], "reason": o["details"]["reason"],
                       "by": o["author"], "on": o["recorded_at"][:10]} for o in req.overrides],
        "extensions": [{"until": x["details"]["until"], "told_on": x["details"]["told_on"],
                        "reasons": x["details"]["reasons"], "by": x["author"]} for x in req.extensions],
        "exports": [{"on": x["recorded_at"][:10], "by": x["author"], "format": x["details"].get("format"),
                     "sha256": x["details"].get("sha256"), "included": x["details"].get("included"),
                     "removed": x["details"].get("removed")} for x in req.exports],
        "closed": None if not req.closed else {
            "on": req.closed["details"]["closed_on"], "met_on": req.closed["details"].get("met_on"),
            "no_meeting": req.closed["details"].get("no_meeting"), "notes": req.closed["details"].get("notes"),
            "by": req.closed["author"]},
        "to_review": review,
    })
    todo = []
    if not d.get("acknowledged"):
        todo.append("acknowledge the request in writing")
    if not d.get("manager_informed"):
        todo.append("inform the manager")
    if d.get("legal_advice") is None:
        todo.append("record whether legal advice was sought")
    awaited = [p for p in parties if p["answer"] == "awaited"]
    if awaited and not req.closed:
        todo.append(f"ask {len(awaited)} third part{'y' if len(awaited) == 1 else 'ies'} for consent "
                    "(unanswered, their entries are left out of the clean copy)")
    if loaded.sealed:
        todo.append(f"{loaded.sealed} entries are sealed to you: a manager or the DSL must prepare the clean copy")
    pending = disclosure.undecided(file, decided)
    if pending and not req.closed:
        todo.append(f"decide for {len(pending)} entr{'y' if len(pending) == 1 else 'ies'} whether to disclose or "
                    f"withhold: confide request decide {request_id} ENTRY --withhold --ground GROUND, or --disclose")
    if [r for r in refused if r not in lifted] and not req.closed:
        todo.append(f"the profile stops the clean copy for this requester; only a manager may override it: "
                    f"confide request override {request_id}")
    if not req.exports and not req.closed:
        todo.append(f"prepare the clean copy: confide request export {request_id} --out FILE")
    if not req.closed:
        todo.append(f"go through the file with the requester, then: confide request close {request_id} --met-on DATE")
    summary["to_do"] = todo
    return summary


def _decision_json(x: disclosure.Decision) -> dict:
    return {"entry": x.entry, "decision": x.decision, "ground": x.ground, "reason": x.reason, "by": x.by,
            "on": x.on[:10], "request": x.request, "id": x.id, "told": x.tell if x.decision == "withhold" else None}


def earlier_decisions(entries: list[dict], req: Request) -> dict[str, list[disclosure.Decision]]:
    """Decisions made for the record's other requests, by entry: shown as information, never applied."""
    out: dict[str, list[disclosure.Decision]] = {}
    for rid, decided in sorted(disclosure.decisions(entries).items()):
        if rid == req.id:
            continue
        for eid, dec in decided.items():
            out.setdefault(eid, []).append(dec)
    return out


def _record_requests(session: Session, record_id: str) -> list[dict]:
    env = session.vault.envelope(record_id)
    entries, _ = open_entries(session, env, levels=("confidential",))
    found = requests_in(entries, record_id)
    if not found:
        return []
    profile = records.read_profile(session, env)
    today = session.clock.today()
    return [r.summary(today, profile.name if profile else None) for r in found.values()]


def list_requests(session: Session, *, include_closed: bool = False, progress=None) -> list[dict]:
    """Every request the caller can read, over the whole vault (forked over the cores)."""
    session.require_reader()
    rows: list[dict] = []
    for chunk in parallel.map_ordered(lambda rid: _record_requests(session, rid), session.vault.record_ids(),
                                      progress=progress, processes=session.config.workers):
        rows.extend(chunk)
    if not include_closed:
        rows = [r for r in rows if r["closed_on"] is None]
    rows.sort(key=lambda r: (r["closed_on"] is not None, r["deadline"], r["request"]))
    return rows


__all__ = ["show", "list_requests", "load", "locate", "requests_in", "open_entries", "Request", "Loaded"]
