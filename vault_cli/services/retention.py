"""A record's retention: its review date explained (``confide retention``), the reviews ``due`` lists.

The review date is worked out here, from the decrypted profile and entries, with the rules of
confide.yaml (``model.retention``); it is never stored. Only a holder who reads the whole record (its
profile and every entry) is given it: a date worked out from part of a record would be wrong, and the
difference between it and the true date would tell which rule applies to what they cannot read (a
date of birth + 25 years marks a child protection file). Such a holder is told the review date is not
theirs to see (``retention``), and ``due`` lists no review of that record for them (the record is
among those counted as holding entries sealed to them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from vault_cli.adapters import timeutil
from vault_cli.errors import Denied, UsageError
from vault_cli.model import policy, retention
from vault_cli.model.duty import Duty
from vault_cli.model.record import Entry, Profile
from vault_cli.services import records, requests
from vault_cli.services.vault import Session

REVIEW_CATEGORY = retention.REVIEW_CATEGORY
# What to do about each of retention.review_problems' fields (the rules are the model's; the words here)
REVIEW_HINTS = {
    "keep-until date": "give a later date, e.g. keep_until: {later} in --from FILE",
    "reason for the review decision": 'say why, e.g. {{0}} "..." (or reason: in --from FILE)',
}
assert set(REVIEW_HINTS) == {retention.KEEP_UNTIL, retention.REASON}


def review_of(session: Session, profile: Profile, entries: list[Entry]) -> retention.Review:
    return retention.review(session.settings.retention.rules, dob=profile.dob, leaving_date=profile.leaving_date,
                            items=retention.items_of(session.settings.levels[0], entries),
                            decisions=retention.decisions_in(entries))


def open_whole(session: Session, env) -> Optional[tuple[Profile, list[Entry]]]:
    """The profile and every entry, or None when any of them is sealed to the caller."""
    profile = records.read_profile(session, env)
    if profile is None:
        return None
    entries, sealed = requests.open_entries(session, env)
    return None if sealed else (profile, entries)


def record_review(session: Session, record_id: str) -> tuple[Profile, list[Entry], retention.Review]:
    """The record's retention, for a caller who reads all of it; else ``Denied``, naming nothing of it."""
    session.require_reader()
    session.vault.check_record_id(record_id)
    env = session.vault.envelope(record_id)
    whole = open_whole(session, env)
    if whole is None:
        raise Denied(f"you cannot read all of {record_id}, so its review date is not yours to see: it depends on "
                     "every entry of the record", "ask a manager, or a holder who reads every level of it")
    profile, entries = whole
    return profile, entries, review_of(session, profile, entries)


def _requirement(r: retention.Requirement) -> dict[str, Any]:
    return {"item": r.item.id, "level": r.item.level, "category": r.item.category, "rule": r.rule.name,
            "until": r.until.isoformat() if r.until else None}


def explain(session: Session, record_id: str) -> dict[str, Any]:
    """``confide retention RECORD``: the review date, what sets it and under which rule, the decisions taken."""
    profile, _entries, rev = record_review(session, record_id)
    today = session.clock.today()
    rules = session.settings.retention
    used = {r.rule.name for r in rev.requirements}
    setting = rev.setting()
    return {
        "record": record_id, "name": profile.name, "dob": profile.dob, "leaving_date": profile.leaving_date,
        "left": retention.has_left(profile.leaving_date, today),
        "state": rev.state, "review_date": rev.date.isoformat() if rev.date else None,
        "rules_date": rev.computed.isoformat() if rev.computed else None,
        "due": rev.due(today),
        "rules_from": "defaults" if rules.defaults else "confide.yaml", "note": rules.note,
        "set_by": [_requirement(r) for r in setting],
        "missing": list(rev.missing),
        "rules": [r.to_json() for r in rules.rules if r.name in used],
        "requirements": [_requirement(r) for r in rev.requirements],
        "decisions": [d.to_json() for d in sorted(rev.decisions, key=lambda d: (d.decided_on, d.id))],
    }


def due_items(session: Session, record_id: str, profile: Optional[Profile], entries: list[Entry], sealed: int,
              today: dt.date) -> list[Duty]:
    """The retention duty of one record for ``due``: a review whose date has come, a destruction a review
    decided, or a leaver whose review date cannot be worked out (no date of birth for a rule that needs it). Nothing for a caller to whom any of the record is sealed (see the module's docstring)."""
    if profile is None or sealed:
        return []
    rev = review_of(session, profile, entries)
    if rev.state == "awaiting-destruction":
        d = rev.latest_decision
        assert d is not None
        return [Duty(kind="retention", record=record_id, item=d.id, due=None, days_left=None,
                     what=f"a review on {d.decided_on} decided to destroy this record: it awaits destruction")]
    if rev.state == "no-date" and retention.has_left(profile.leaving_date, today):
        return [Duty(kind="retention", record=record_id, item=record_id, due=None, days_left=None,
                     what="the review date cannot be worked out: a retention rule counts from the date of birth, "
                          f"which the profile does not hold (record it; see confide retention {record_id})")]
    if rev.due(today):
        assert rev.date is not None
        return [Duty(kind="retention", record=record_id, item=record_id, due=rev.date.isoformat(),
                     days_left=(rev.date - today).days,
                     what="review the record: keep it until a later date, or decide to destroy it "
                          f"(confide review {record_id}; why: confide retention {record_id})")]
    return []


def decide(session: Session, record_id: str, *, keep_until: Optional[str], destroy: bool, reason: Optional[str]
           ) -> records.WriteResult:
    """``confide review``: record a review's decision (keep until a later date, or destroy) as an encrypted entry
    at the highest level of the record's entries (``retention.decision_level``), by a holder whose role may
    destroy records, once its review date has come.
    The rules are ``retention.review_problems`` and ``policy``'s, which verify asks of every decision in history."""
    from vault_cli.services.request_steps import add_step

    if destroy == (keep_until is not None):
        raise UsageError("a review decides one thing: give {0} DATE or --destroy",
                         "for example, in --from FILE: keep_until: 2030-08-31 (or destroy: true)",
                         fields=("keep-until date",))
    until = timeutil.parse_date(keep_until, "keep-until date") if keep_until is not None else None
    reason = requests.clean_text(reason, "reason for the review decision")
    actor = session.require_actor()
    policy.require(session.settings, actor, "destroy", "decide a record's retention review")
    judged_at = session.vault.commit  # judged on this state, before the lock: refused under it if the record moved on
    _profile, entries, rev = record_review(session, record_id)
    today = session.clock.today()
    levels = session.settings.levels
    details = {"procedure": retention.REVIEW_PROCEDURE, "decision": "destroy" if destroy else "keep",
               "keep_until": until, "reason": reason,
               "review_date": rev.date.isoformat() if rev.date else None}
    level = retention.decision_level(levels, entries)
    problems = retention.review_problems(details, level, levels, today, rev.date, rev.state, level)
    if problems:
        fieldname, problem = problems[0]
        hint = REVIEW_HINTS.get(fieldname, "see the record's review date with 'confide retention {record}'").format(
            later=(today + dt.timedelta(days=365)).isoformat(), record=record_id)
        raise UsageError(problem, hint, fields=(fieldname,))
    text = (f"Retention review: keep the record until {until}. Reason: {reason}" if until else
            f"Retention review: destroy the record (it awaits destruction). Reason: {reason}")
    return add_step(session, record_id, level=level, category=REVIEW_CATEGORY, text=text,
                    at=today.isoformat(), details=details, unchanged_since=judged_at)


__all__ = ["decide", "REVIEW_CATEGORY", "review_of", "open_whole", "record_review", "explain", "due_items"]
