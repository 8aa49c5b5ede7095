"""verify's rules for a retention review's decision (``confide review``), from history.

At each commit that adds a ``retention-review`` entry, with the record as that commit holds it:

- its author's role may 'destroy' (``model.policy``, the rule the command asks), under the roles before the
  commit; this needs no key beyond the one that opened the entry;
- the decision is what ``model.retention.review_problems`` allows: a decision to keep (with a date after the
  day of the decision) or to destroy, with a reason, at the highest level of the record's entries or above,
  taken once the record's review date had come (worked out from the record before it, with the rules of confide.yaml at that commit)
  and not after a decision to destroy; the day of the decision is its commit's (its written ``at`` must say the
  same day: ``retention.decision_day``), and the ``review_date`` it records must be the one worked out here. The review date depends on every entry: a verifier whose key does not
  open them all cannot judge it, and the decision counts among the blocks they did not open.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from vault_cli.model import policy, retention
from vault_cli.services import verify_disclosure
from vault_cli.services.verify_versions import RecordVersion


def check_review(checks, ctx, path: str, rid: str, rv: RecordVersion, payload: dict) -> None:
    """A new entry of the review category (``payload``); ``checks``: the verifier (``add``, ``reader``, ``open_quietly``)."""
    if payload.get("category") != retention.REVIEW_CATEGORY:
        return
    sha, where = ctx.c.sha, f"entry {payload.get('block')}"
    if ctx.actor is not None and not policy.may(ctx.settings, ctx.actor, "destroy"):
        checks.add(sha, path, "role", f"{where} is a retention review's decision, written by '{ctx.name}', whose role "
                   "may not decide retention reviews")
    states = verify_disclosure.states_at(checks, rid, rv, path, payload.get("block"))
    profile = verify_disclosure.profile_at(checks, rid, rv, path) if states is not None else None
    if states is None or profile is None:
        return
    rev = retention.review(ctx.settings.retention.rules, dob=profile.dob, leaving_date=profile.leaving_date,
                           items=retention.items_of(ctx.settings.levels[0], states),
                           decisions=retention.decisions_in(states))
    c = ctx.c
    made = dt.datetime.fromtimestamp(max(c.time, c.committed), c.when.tzinfo)
    decided_on, wrong_day = retention.decision_day(payload.get("at"), made, policy.CLOCK_ALLOWANCE)
    for _field, problem in wrong_day + retention.review_problems(
            payload.get("details") or {}, str(payload.get("level")), ctx.settings.levels, decided_on, rev.date,
            rev.state, retention.decision_level(ctx.settings.levels, states)):
        checks.add(sha, path, "retention", f"{where}, a retention review's decision: "
                   + problem.replace("{0}", _field))


def check_leaving(checks, ctx, path: str, rid: str, old: Optional[RecordVersion], profile: dict) -> None:
    """A profile written with a leaving date (``profile``, opened); ``old``: the record before the commit."""
    before = verify_disclosure.profile_at(checks, rid, old, path) if old is not None else None
    c = ctx.c
    made = dt.datetime.fromtimestamp(max(c.time, c.committed), c.when.tzinfo)
    for problem in retention.leaving_problems(profile, before.to_json() if before is not None else None,
                                              (made + policy.CLOCK_ALLOWANCE).date()):
        checks.add(c.sha, path, "retention", f"the profile: {problem} (by the commit's date)")


__all__ = ["check_review", "check_leaving"]
