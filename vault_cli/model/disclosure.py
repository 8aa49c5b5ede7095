"""What a parent's copy may disclose: the decisions each request needs, their grounds, and when export must stop.

Pure rules on decrypted entries (``model.record.Entry``; no IO), used by the commands (``request decide``,
``request override``, ``request export``) and by ``confide verify`` alike, so what a
command refuses, verify reports.

**Decisions.** For each request, every entry of the child's file that was recorded
with the parents not informed (and not informed since), and every entry at the top
level (safeguarding), needs a recorded decision before a clean copy is exported:
*withhold*, with a ground from ``GROUNDS``, or *disclose*, with who decided and why.
A decision belongs to one request: a second request for the same child shows the
first request's decisions as information and needs its own (circumstances change,
and the requester may be someone else). The latest decision for an entry counts.
Withholdings recorded by ``request withhold`` before decisions existed
(``request-withhold/1``) count as decisions to withhold.

**Refusals.** Where the child's profile records that the requester has no parental
responsibility, or records a court order (which may bear on who may see the child's
records), export refuses until a manager overrides the refusal with a reason,
recorded for the request.

**A closed request** takes no more steps (``AFTER_CLOSE``): no consent, decision, override, extension or
second closing once it was gone through with the requester; a clean copy may still be made again.

**Decisions sit at the decided entry's level or above** (``decision_level``): a decision says what the
entry is about, so it must not be readable by anyone the entry is kept from.

**An override lifts only what the profile said when it was made** (``pending_refusals``), and is made by
someone who was a manager then (``policy.may_override_refusal``, asked with the roles of that moment).

**Old formats.** Until decisions existed, confide wrote ``request-withhold/1`` and ``request-export/1``
(a copy judged by no decisions). History written then still counts; a new commit may not use them
(``old_format_problem``): one dated after ``OLD_FORMATS_UNTIL``, or in a record that already holds a
step in the formats that replaced them, is a verify finding, as a copy recorded as ``/1`` to escape the
decisions would otherwise be.

**Grounds** (Data Protection Act 2018, Schedules 2 and 3; ICO guidance on the right
of access and on information about other individuals). The parent's copy names none
of them: it says in general terms that information was withheld under an exemption
in the Act (telling the requester which exemption may itself reveal what was
withheld). Where even that would cause the harm the exemption prevents, a
withholding on ``UNTOLD_GROUNDS`` may be recorded as not told: the copy then
neither counts it nor says that nothing was removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from vault_cli.model.record import Entry, Profile
from vault_cli.model.settings import LEVELS, PROCEDURE_CATEGORIES

JsonMap = Mapping[str, Any]

# ground -> what it means, with where the law says so. The list is fixed: a ground outside it
# is refused, because each must be an exemption the Act provides.
GROUNDS = {
    "serious-harm": "disclosure would be likely to cause serious harm to the physical or mental health of the "
                    "child or another person (DPA 2018 Sch 3)",
    "child-abuse": "child abuse data whose disclosure to a person with parental responsibility would not be in "
                   "the child's best interests (DPA 2018 Sch 3 para 21)",
    "third-party": "information about another person who has not consented, where disclosing it without their "
                   "consent is not reasonable (DPA 2018 Sch 2 para 16)",
    "crime": "disclosure would be likely to prejudice the prevention or detection of crime (DPA 2018 Sch 2 para 2)",
    "legal-privilege": "information covered by legal professional privilege (DPA 2018 Sch 2 para 19)",
}
# What the parent's copy says of every entry withheld under any of them, in general terms.
TOLD = "information withheld under an exemption in the Data Protection Act 2018"
# Grounds under which even saying that something was withheld may be left out, where telling the requester
# would itself cause the harm the exemption prevents (ICO: "neither confirm nor deny").
UNTOLD_GROUNDS = ("serious-harm", "child-abuse", "crime")
DECISIONS = ("withhold", "disclose")

# Why an entry needs a decision (shown to staff, never on the copy).
NOT_INFORMED = "parents were not informed"
TOP_LEVEL = LEVELS[-1]

# Refusals the profile can raise, and what each says.
NO_PR = "no-parental-responsibility"
COURT_ORDER = "court-order"
REFUSALS = {
    NO_PR: "the child's profile records that the requester has no parental responsibility",
    COURT_ORDER: "the child's profile records a court order, which may bear on who may see the child's records",
}

REQUEST_CATEGORIES = tuple(c for c in PROCEDURE_CATEGORIES if c.startswith("request"))

DECISION_PROCEDURE = "request-decision/1"
OVERRIDE_PROCEDURE = "request-override/1"
LEGACY_WITHHOLD = "request-withhold/1"
EXPORT_DECIDED = "request-export/2"  # an export made under these rules (verify checks it against them)
CLOSE_PROCEDURE = "request-close/1"

# The formats confide wrote before decisions existed (category -> procedure), the moment it stopped
# (the change was released on 30 November 2026, 14:27 UTC), and the formats that replaced them.
OLD_FORMATS = {"request-withhold": LEGACY_WITHHOLD, "request-export": "request-export/1"}
OLD_FORMATS_UNTIL = dt.datetime(2026, 11, 30, 14, 27, tzinfo=dt.timezone.utc)
NEW_FORMATS = (DECISION_PROCEDURE, OVERRIDE_PROCEDURE, EXPORT_DECIDED)

# The steps a closed request takes no more (a clean copy may still be made again).
AFTER_CLOSE = ("request-consent", "request-withhold", "request-decision", "request-override", "request-extend",
               "request-close")


def state_of(payload: JsonMap, marks: Sequence[JsonMap]) -> Entry:
    """An entry's current state from its decrypted block and markings (validated), for ``confide verify``, which
    reads blocks without a session."""
    return Entry.from_payloads(payload, marks)


def details_of(entry: Entry) -> JsonMap:
    """What a procedure recorded besides the text (``{}`` when nothing)."""
    return entry.details or {}


def is_request_step(entry: Entry) -> bool:
    """A request procedure's own entry, not part of the child's file."""
    return entry.category in REQUEST_CATEGORIES


def needs_decision(entry: Entry) -> list[str]:
    """Why an entry (its current state) needs a decision before it can be disclosed; empty when it does not."""
    why = []
    if entry.parents_not_informed:
        why.append(NOT_INFORMED)
    if entry.level == TOP_LEVEL:
        why.append(TOP_LEVEL)
    return why


@dataclass(frozen=True)
class Decision:
    entry: str
    decision: str  # withhold | disclose
    ground: Optional[str]  # a GROUNDS key (or, from before decisions, the ground as then written)
    reason: str
    by: str
    on: str  # recorded_at
    id: str  # the decision's own entry id
    request: str
    tell: bool = True  # False: withheld without telling the requester (telling them would itself cause harm)


def decision_of(e: Entry) -> Optional[Decision]:
    """The decision a procedure entry records, or None when it records none."""
    d = details_of(e)
    if e.category == "request-decision" and d.get("procedure") == DECISION_PROCEDURE:
        if d.get("decision") not in DECISIONS or not isinstance(d.get("entry"), str):
            return None
        if d["decision"] == "withhold" and d.get("ground") not in GROUNDS:
            return None
        if d.get("tell") is False and not (d["decision"] == "withhold" and d.get("ground") in UNTOLD_GROUNDS):
            return None  # not telling is allowed only on these grounds: otherwise the entry stays undecided
        return Decision(d["entry"], d["decision"], d.get("ground"), d.get("reason") or "", e.author,
                        e.recorded_at, e.id, d.get("request") or "", d.get("tell") is not False)
    if e.category == "request-withhold" and d.get("procedure") == LEGACY_WITHHOLD:
        return Decision(d.get("entry") or "", "withhold", d.get("ground"), d.get("reason") or "", e.author,
                        e.recorded_at, e.id, d.get("request") or "")
    return None


def latest(found: Iterable[Decision]) -> dict[str, dict[str, Decision]]:
    """Decisions by request, the latest (by its entry's id) for each entry: {request: {entry: Decision}}."""
    out: dict[str, dict[str, Decision]] = {}
    for dec in sorted(found, key=lambda x: x.id):
        if dec.request:
            out.setdefault(dec.request, {})[dec.entry] = dec
    return out


def decisions(entries: Iterable[Entry]) -> dict[str, dict[str, Decision]]:
    """Every request's decisions, the latest for each entry: {request: {entry: Decision}}."""
    return latest(dec for dec in map(decision_of, entries) if dec is not None)


def undecided(file_entries: Iterable[Entry], decided: Mapping[str, Decision]) -> list[Entry]:
    """The entries that need a decision and have none, in date order."""
    return [e for e in sorted(file_entries, key=lambda x: (x.at, x.id))
            if needs_decision(e) and e.id not in decided]


def decision_level(entry_level: str) -> str:
    """The lowest level a decision on an entry of ``entry_level`` may sit at: that level, and confidential at least."""
    return max("confidential", entry_level, key=LEVELS.index)


def level_below(level: str, least: str) -> bool:
    return LEVELS.index(level) < LEVELS.index(least) if level in LEVELS and least in LEVELS else True


def refused_after_close(category: str) -> bool:
    return category in AFTER_CLOSE


def closed_requests(entries: Iterable[Entry]) -> set[str]:
    """The requests a close step in ``entries`` (current states) closed."""
    return {str(details_of(e).get("request")) for e in entries
            if e.category == "request-close" and details_of(e).get("procedure") == CLOSE_PROCEDURE}


def old_format_problem(category: Any, procedure: Any, made: dt.datetime,
                       entries: Optional[Iterable[Entry]]) -> Optional[str]:
    """Why a step in an old format may not be in a commit made at ``made`` (an aware time) whose record holds
    ``entries`` besides it (None: not known); None when it may (history from before the change)."""
    if OLD_FORMATS.get(str(category)) != procedure:
        return None
    if made >= OLD_FORMATS_UNTIL:
        return (f"is in the old format {procedure}, which confide stopped writing on "
                f"{OLD_FORMATS_UNTIL.date().isoformat()}: a commit made since may not use it")
    if any(details_of(e).get("procedure") in NEW_FORMATS for e in entries or []):
        return (f"is in the old format {procedure}, in a record that already holds request steps in the "
                "formats that replaced it")
    return None


def _key(name: str) -> str:
    return " ".join(str(name).split()).casefold()


def refusals(profile: Optional[Profile], requester: str) -> list[str]:
    """Why the profile says a copy must not be given to ``requester`` without a manager's override."""
    out: list[str] = []
    if profile is None:
        return out
    for p in profile.parents:
        if _key(p.name) == _key(requester) and p.parental_responsibility is False:
            out.append(NO_PR)
            break
    orders = profile.court_orders
    if isinstance(orders, str) and orders.strip():
        out.append(COURT_ORDER)
    return out


def requester_listed(profile: Optional[Profile], requester: str) -> bool:
    """Is the requester among the parents the profile lists (by name)?"""
    return profile is not None and any(_key(p.name) == _key(requester) for p in profile.parents)


@dataclass(frozen=True)
class Override:
    """A manager's override of what the profile says about access, for one request."""

    id: str  # its own entry's id
    request: str
    refusals: tuple[str, ...]  # as the step lists them
    reason: str
    by: str
    on: str  # recorded_at

    @classmethod
    def from_entry(cls, e: Entry) -> Optional[Override]:
        """The override a procedure entry records, or None when it records none."""
        d = details_of(e)
        if e.category != "request-override" or d.get("procedure") != OVERRIDE_PROCEDURE:
            return None
        lifted = d.get("refusals")
        return cls(e.id, str(d.get("request") or ""),
                   tuple(r for r in (lifted if isinstance(lifted, list) else []) if isinstance(r, str)),
                   str(d.get("reason") or ""), e.author, e.recorded_at)


def overrides(entries: Iterable[Entry]) -> list[Override]:
    """Every override the entries record."""
    return [o for o in map(Override.from_entry, entries) if o is not None]


def overridden(found: Iterable[Override], request_id: str) -> set[str]:
    """The refusals a recorded override lifts for ``request_id``."""
    out: set[str] = set()
    for o in found:
        if o.request == request_id:
            out |= {r for r in o.refusals if r in REFUSALS}
    return out


def pending_refusals(profile: Optional[Profile], requester: str, found: Iterable[Override],
                     request_id: str) -> list[str]:
    """What the profile stops, for ``request_id``'s requester, that no override in ``found`` has lifted yet: what
    export refuses, and all an override made now may lift."""
    lifted = overridden(found, request_id)
    return [r for r in refusals(profile, requester) if r not in lifted]


__all__ = ["GROUNDS", "TOLD", "DECISIONS", "REFUSALS", "Decision", "needs_decision", "decisions", "undecided",
           "refusals", "overridden", "pending_refusals", "requester_listed", "decision_of", "decision_level",
           "refused_after_close", "closed_requests", "old_format_problem", "Override", "overrides", "latest",
           "state_of", "details_of", "is_request_step"]
