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
from dataclasses import dataclass
from typing import Any, Literal, Optional, overload

from vault_cli.adapters import parallel, timeutil
from vault_cli.errors import Denied, NotFound, UsageError, VaultStateError
from vault_cli.model import disclosure, policy
from vault_cli.model.record import Entry, Profile
from vault_cli.model.request import (
    REQUEST_CATEGORIES,
    Request,
    earlier_decisions,
    entry_id_of,
    file_entries,
    party_key,
    request_id_of,
    requests_in,
    third_parties,
)
from vault_cli.services import records
from vault_cli.services.vault import Session

REQUEST_RE = re.compile(r"^r-[0-9a-hjkmnp-tv-z]{14}$")
LEGAL_ADVICE = ("sought", "not-sought")
ANSWERS = ("given", "refused")
DEFAULT_GROUND = "an exemption under the Data Protection Act 2018"


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


# ---------------------------------------------------------------------------
# Ids and who may act


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


def open_entries(session: Session, env, levels: Optional[tuple] = None) -> tuple[list[Entry], int]:
    """The current state of every entry the caller can read (details included), and how many are sealed.

    ``levels`` limits which entries are decrypted at all (by their key's level).
    """
    out, sealed = [], 0
    for item in env.entries:
        if levels is not None and env.key(item["key"]).level not in levels:
            continue
        opened = records.open_entry(session, env, item)
        if opened is None:
            sealed += 1
            continue
        out.append(records.current_state(opened))
    return out, sealed


@dataclass
class Loaded:
    env: Any
    profile: Optional[Profile]
    entries: list[Entry]
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
    return Loaded(env, profile, entries, sealed, req)


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
            "third_party": slot.name, "entries": slot.entries,
            "answer": ans.answer if ans else "awaited",
            "on": ans.on if ans else None,
        })
    file = file_entries(loaded.entries)
    decided = req.decided()
    earlier = earlier_decisions(loaded.entries, req.id)
    review = []
    for e in sorted(file, key=lambda x: (x.at, x.id)):
        flags = []
        if e.third_parties:
            flags.append("names a third party")
        flags += disclosure.needs_decision(e)
        dec = decided.get(e.id)
        if dec is not None:
            flags.append("withheld" if dec.decision == "withhold" else "disclosed")
        elif disclosure.needs_decision(e):
            flags.append("decision needed")
        for x in earlier.get(e.id, []):
            flags.append(f"{'withheld' if x.decision == 'withhold' else 'disclosed'} for {x.request}")
        if flags:
            review.append({"entry": e.id, "at": e.at, "level": e.level, "category": e.category, "flags": flags})
    d = req.opening
    refused = disclosure.refusals(loaded.profile, d.requester)
    lifted = disclosure.overridden(req.overrides, req.id)
    summary = req.summary(today, loaded.profile.name if loaded.profile else None)
    summary.update({
        "id_checked": d.id_checked, "acknowledged": d.acknowledged,
        "manager_informed": d.manager_informed, "legal_advice": d.legal_advice,
        "deadline_rule": d.deadline_rule, "notes": d.notes, "opened_by": req.opened.author,
        "entries_in_file": len(file), "sealed_entries": loaded.sealed,
        "third_parties": parties,
        "withheld": [{"entry": k, "reason": w.reason, "ground": w.ground, "by": w.by}
                     for k, w in sorted(withheld.items())],
        "decisions": [_decision_json(x) for _k, x in sorted(decided.items())],
        "earlier_decisions": [_decision_json(x) for _k, xs in sorted(earlier.items()) for x in xs],
        "refusals": [{"refusal": r, "why": disclosure.REFUSALS[r], "overridden": r in lifted} for r in refused],
        "overrides": [{"refusals": list(o.refusals), "reason": o.reason, "by": o.by, "on": o.on[:10]}
                      for o in req.overrides],
        "extensions": [{"until": x.until, "told_on": x.told_on, "reasons": x.reasons, "by": x.by}
                       for x in req.extensions],
        "exports": [{"on": x.on, "by": x.by, "format": x.format, "sha256": x.sha256, "included": x.included,
                     "removed": x.removed} for x in req.exports],
        "closed": None if not req.closed else {
            "on": req.closed.closed_on, "met_on": req.closed.met_on, "no_meeting": req.closed.no_meeting,
            "notes": req.closed.notes, "by": req.closed.by},
        "to_review": review,
    })
    todo = []
    if not d.acknowledged:
        todo.append("acknowledge the request in writing")
    if not d.manager_informed:
        todo.append("inform the manager")
    if d.legal_advice is None:
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


__all__ = ["show", "list_requests", "load", "locate", "requests_in", "open_entries", "Request", "Loaded",
           "file_entries", "third_parties", "earlier_decisions", "party_key", "request_id_of", "entry_id_of",
           "REQUEST_CATEGORIES"]
