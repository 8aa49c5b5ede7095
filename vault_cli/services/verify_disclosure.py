"""verify's rules for a parents' request: its steps, and the clean copy a parent is given.

At each commit that adds a request step, with the record as that commit holds it, by a verifier
whose key opens every block of the record (a manager's nightly ``confide verify``; a holder who
cannot open them all cannot check it, and the step counts among the blocks they did not open).
The rules are ``model.disclosure``'s, the ones the commands apply, and who may act is
``model.policy``'s, asked with the roles before the commit:

- a clean copy (``request-export/2``): every entry needing a disclosure decision had one for its
  request, nothing in the child's profile stopped the copy without a manager's override, and the
  profile was not in two versions after a sync;
- a decision: about an entry of the child's file, and at that entry's level or above;
- an override: by a manager, while the profile was in one version, lifting only what the profile
  stopped then and no override had lifted already;
- no consent, decision, override, extension or closing for a request already closed;
- no step in a format confide stopped writing (``request-withhold/1``, ``request-export/1``) in a
  commit made since, or in a record that already holds the formats that replaced them.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.errors import IntegrityError
from vault_cli.formats import envelope
from vault_cli.model import disclosure, ids, policy
from vault_cli.model.record import Entry, Profile
from vault_cli.services.merge import profile_versions
from vault_cli.services.verify_versions import RecordVersion


def profile_at(checks, rid: str, rv: RecordVersion, path: str) -> Optional[Profile]:
    block = (rv.head or {}).get("profile")
    key = rv.key(block["key"]) if block else None
    ident = checks.reader.level_identity(rid, key, path) if key else None
    if ident is None or block is None or key is None:
        return None
    try:
        payload = envelope.open_block(block["data"], ident, schema_name="profile", record=rid, block="profile",
                                      level=key.level, source=path)
    except (crypto.NotForThisKey, IntegrityError):
        return None
    return Profile.from_json(payload["profile"], key_person=(rv.head or {}).get("key_person"))


def states_at(checks, rid: str, rv: RecordVersion, path: str, skip: Optional[str]) -> Optional[list[Entry]]:
    """Every entry of the record as this commit leaves it (current states, ``skip`` left out); None when the
    verifier cannot open them all (then the step cannot be judged with this key)."""
    states = []
    for eid, item in rv.entries().items():
        if eid == skip:
            continue
        payload = checks.open_quietly(rid, rv, item, "entry", path)
        marks = [checks.open_quietly(rid, rv, m, "mark", path) for m in item.get("marks") or []]
        if payload is None or any(m is None for m in marks):
            checks.reader.unopened += 1  # cannot judge this step with this key
            return None
        states.append(disclosure.state_of(payload, marks))
    return states


def _shown(value, entry: bool = False) -> str:
    """An id a step names, as a finding may repeat it: only when it is one (a forged step may name anything)."""
    text = str(value)
    if isinstance(value, str) and ids.ENTRY_RE.fullmatch(("e-" + text[2:]) if not entry and text[:2] == "r-" else text):
        return text
    return "(something that is not an id)"


def _made(ctx) -> dt.datetime:
    c = ctx.c
    return dt.datetime.fromtimestamp(max(c.time, c.committed), dt.timezone.utc)


def check_step(checks, ctx, path: str, rid: str, rv: RecordVersion, step: dict) -> None:
    """A new entry of a request procedure's categories (``step``: its payload); ``checks``: the verifier
    (``add``, ``reader``, ``open_quietly``)."""
    category, details = step.get("category"), step.get("details") or {}
    if category not in disclosure.REQUEST_CATEGORIES or category == "request":
        return
    sha, where = ctx.c.sha, f"entry {step.get('block')}"
    request_id = _shown(details.get("request"))
    if category == "request-override" and ctx.actor is not None and not policy.may_override_refusal(ctx.settings, ctx.actor):
        checks.add(sha, path, "role", f"{where} overrides what a child's profile says about access, written by "
                   f"'{ctx.name}', whose role may not (a manager's)")
    if category == "request-override" and profile_versions(rv.head or {}):
        checks.add(sha, path, "disclosure", f"{where} overrides refusals for request {request_id} while the child's "
                   "profile was in two versions after a sync (what it says about access was not settled)")
    if category == "request-decision":
        entry = details.get("entry")
        target = rv.entries().get(entry) if isinstance(entry, str) else None
        key = rv.key(target["key"]) if target is not None else None
        if target is None or key is None:
            checks.add(sha, path, "disclosure", f"{where} decides for request {request_id} on "
                       f"{_shown(entry, entry=True)}, which is not an entry of this record")
        elif disclosure.level_below(str(step.get("level")), disclosure.decision_level(key.level)):
            checks.add(sha, path, "disclosure", f"{where}, a decision on entry {entry} ({key.level}), "
                       f"is kept at the {step.get('level')} level: a decision sits at its entry's level or above, "
                       "since it says what the entry is about")
    if category == "request-export" and details.get("procedure") == disclosure.EXPORT_DECIDED:
        check_export(checks, ctx, path, rid, rv, step)
        return
    old_format = disclosure.OLD_FORMATS.get(str(category)) == details.get("procedure")
    problem = disclosure.old_format_problem(category, details.get("procedure"), _made(ctx), None) if old_format else None
    needs_states = (old_format and problem is None) or disclosure.refused_after_close(category) or category in (
        "request-decision", "request-override")
    states = states_at(checks, rid, rv, path, step.get("block")) if needs_states else None
    if old_format and problem is None and states is not None:
        problem = disclosure.old_format_problem(category, details.get("procedure"), _made(ctx), states)
    if problem:
        checks.add(sha, path, "format", f"{where}, a step of request {request_id}, {problem}")
    if states is None:
        return
    opening = next((s for s in states if s.id == "e-" + request_id[2:] and s.category == "request"), None)
    if opening is None:
        checks.add(sha, path, "disclosure", f"{where} ({category}) is a step of request {request_id}, which this "
                   "record does not hold")
        return
    if disclosure.refused_after_close(category) and request_id in disclosure.closed_requests(states):
        checks.add(sha, path, "disclosure", f"{where} ({category}) is a step of request {request_id}, which was "
                   "already closed")
    if category == "request-decision":
        target_state = next((s for s in states if s.id == details.get("entry")), None)
        if target_state is not None and disclosure.is_request_step(target_state):
            checks.add(sha, path, "disclosure", f"{where} decides on {_shown(details.get('entry'), entry=True)}, a "
                       "step of a request, not an entry of the child's file")
    if category == "request-override":
        profile = profile_at(checks, rid, rv, path)
        if profile is None:
            return
        pending = disclosure.pending_refusals(profile, disclosure.details_of(opening).get("requester") or "",
                                              disclosure.overrides(states), request_id)
        given = details.get("refusals")
        lifted = [r for r in (given if isinstance(given, list) else []) if isinstance(r, str)]
        if not lifted or not set(lifted) <= set(pending):
            checks.add(sha, path, "disclosure", f"{where} overrides refusals for request {request_id} that the "
                       "child's profile did not raise when it was made, or that an earlier override had lifted: "
                       "an override lifts only what the profile says at its time")


def where_made(export: dict, request_id: str) -> str:
    return f"the clean copy {export.get('block')} for request {request_id}"


def check_export(checks, ctx, path: str, rid: str, rv: RecordVersion, export: dict) -> None:
    """``checks``: the verifier (``add``, ``reader``, ``open_quietly``)."""
    request_id = _shown((export.get("details") or {}).get("request"))
    if profile_versions(rv.head or {}):
        checks.add(ctx.c.sha, path, "disclosure", f"the clean copy {export.get('block')} for request {request_id} "
                   "was made while the child's profile was in two versions after a sync (what it says about "
                   "access was not settled)")
    states = states_at(checks, rid, rv, path, export.get("block"))
    if states is None:
        return
    where = where_made(export, request_id)
    decided = disclosure.decisions(states).get(request_id, {})
    recorded = (export.get("details") or {}).get("decisions")
    if isinstance(recorded, dict):  # what the copy was built on (copies made before decisions existed record none)
        standing = {entry: d.id for entry, d in decided.items()}
        differing = sorted({str(k) for k in set(recorded) ^ set(standing)}
                           | {str(k) for k in set(recorded) & set(standing) if recorded[k] != standing[k]})
        if differing:
            checks.add(ctx.c.sha, path, "disclosure",
                       f"{where_made(export, request_id)} was made on other decisions than those standing when it was "
                       f"recorded (entry {_shown(differing[0], entry=True)}): a decision was made while it was prepared")
    file = [s for s in states if not disclosure.is_request_step(s)]
    for e in disclosure.undecided(file, decided):
        checks.add(ctx.c.sha, path, "disclosure",
                   f"{where} was made with no decision on entry {e.id}, which needs one "
                   f"({', '.join(disclosure.needs_decision(e))})")
    opening = next((s for s in states if s.id == "e-" + request_id[2:] and s.category == "request"), None)
    if opening is None:
        checks.add(ctx.c.sha, path, "disclosure", f"{where} names a request this record does not hold")
        return
    profile = profile_at(checks, rid, rv, path)
    if profile is None:
        return
    for r in disclosure.pending_refusals(profile, disclosure.details_of(opening).get("requester") or "",
                                         disclosure.overrides(states), request_id):
        checks.add(ctx.c.sha, path, "disclosure", f"{where} was made although {disclosure.REFUSALS[r]}, "
                   "and no manager overrode that")


__all__ = ["check_step", "check_export"]
