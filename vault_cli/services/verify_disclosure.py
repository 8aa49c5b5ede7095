"""verify's rules for a parent's clean copy: every entry needing a disclosure decision had one, and nothing in
the child's profile stopped the copy without a manager's override.

Checked at each commit that adds a ``request-export`` entry made under these rules
(``request-export/2``; copies made before decisions existed are not judged by them),
with the record as that commit holds it, by a verifier whose key opens every block
of the record (a manager's nightly ``confide verify``); a holder who cannot open them
all cannot check it, and the copy counts among the blocks they did not open. The
rules are ``model.disclosure``'s, the ones ``confide request export`` applies.
Who may record a decision or an override is checked at the commit that records it
(``verify_records``), from ``model.policy``.
"""

from __future__ import annotations

from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.errors import IntegrityError
from vault_cli.formats import envelope
from vault_cli.model import disclosure
from vault_cli.model.record import Profile
from vault_cli.services.merge import profile_versions
from vault_cli.services.verify_versions import RecordVersion


def _profile(checks, rid: str, rv: RecordVersion, path: str) -> Optional[Profile]:
    block = (rv.head or {}).get("profile")
    key = rv.key(block["key"]) if block else None
    ident = checks.reader.level_identity(rid, key, path) if key else None
    if ident is None or block is None or key is None:
        return None
    try:
        payload = envelope.open_block(block["data"], ident, schema_name="profile", record=rid, block="profile",
                                      level=key["level"], source=path)
    except (crypto.NotForThisKey, IntegrityError):
        return None
    return Profile.from_json(payload["profile"], key_person=(rv.head or {}).get("key_person"))


def check_export(checks, ctx, path: str, rid: str, rv: RecordVersion, export: dict) -> None:
    """``checks``: the verifier (``add``, ``reader``, ``open_quietly``)."""
    request_id = str((export.get("details") or {}).get("request") or "")
    if profile_versions(rv.head or {}):
        checks.add(ctx.c.sha, path, "disclosure", f"the clean copy {export.get('block')} for request {request_id} "
                   "was made while the child's profile was in two versions after a sync (what it says about "
                   "access was not settled)")
    states = []
    for eid, item in rv.entries().items():
        if eid == export.get("block"):
            continue
        payload = checks.open_quietly(rid, rv, item, "entry", path)
        marks = [checks.open_quietly(rid, rv, m, "mark", path) for m in item.get("marks") or []]
        if payload is None or any(m is None for m in marks):
            checks.reader.unopened += 1  # cannot judge this copy with this key
            return
        states.append(disclosure.state_of(payload, marks))
    where = f"the clean copy {export.get('block')} for request {request_id}"
    decided = disclosure.decisions(states).get(request_id, {})
    file = [s for s in states if not disclosure.is_request_step(s)]
    for e in disclosure.undecided(file, decided):
        checks.add(ctx.c.sha, path, "disclosure",
                   f"{where} was made with no decision on entry {e.id}, which needs one "
                   f"({', '.join(disclosure.needs_decision(e))})")
    opening = next((s for s in states if s.id == "e-" + str(request_id)[2:]), None)
    profile = _profile(checks, rid, rv, path)
    if opening is None or profile is None:
        return
    lifted = disclosure.overridden(disclosure.overrides(states), request_id)
    for r in disclosure.refusals(profile, disclosure.details_of(opening).get("requester") or ""):
        if r not in lifted:
            checks.add(ctx.c.sha, path, "disclosure", f"{where} was made although {disclosure.REFUSALS[r]}, "
                       "and no manager overrode that")


__all__ = ["check_export"]
