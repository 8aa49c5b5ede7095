"""Resolving a sync's conflict: one signed commit that chooses a version of the profile, or writes it anew.

When both machines changed a child's profile, ``services.merge`` keeps every
version in the head's ``conflict`` field (a keyless, deterministic answer that
``confide verify`` recomputes) and leaves ``profile`` at the version both sides
last agreed on. ``resolve`` is the one command that ends it: ``take`` puts one of
the versions, byte for byte, in ``profile``; ``edited`` seals a new profile by
the caller (from the editor or a file). Either way the ``conflict`` field goes,
in a commit whose ``Confide-Resolution`` trailer says which (``take`` or ``edit``),
so verify can check that a taken version was one of the versions and an edit is
the signer's own. Who may: whoever may change the profile (a writer who reads the
record's general level). Until then the profile is not changed otherwise
(``profiles.update_profile`` refuses); entries, markings and access go on.
"""

from __future__ import annotations

from typing import Optional

from vault_cli.errors import Denied, UsageError
from vault_cli.formats import envelope
from vault_cli.model import trail
from vault_cli.services import profiles, records
from vault_cli.services.merge import Conflict, profile_versions
from vault_cli.services.vault import Session
from vault_cli.services.writing import WriteResult, warnings_for_vault, writing

ACTION, TRAILER = trail.RESOLVE, trail.RESOLUTION


def resolve(session: Session, record_id: str, *, take: Optional[int] = None,
            edited: Optional[dict] = None) -> WriteResult:
    """End the record's profile conflict: ``take`` (1, 2, ... as ``show`` numbers them: by when they were saved)
    or ``edited`` (a profile)."""
    if (take is None) == (edited is None):
        raise UsageError("say how to resolve: --take N (a version as 'confide show' numbers them) or --edit",
                         f"see the versions with 'confide show {record_id}'")
    session.vault.check_record_id(record_id)
    with writing(session) as (tx, actor):
        env = session.vault.envelope(record_id, entries=False)
        versions = profile_versions(env.head)
        if not versions:
            raise UsageError(f"record {record_id} has no conflict to resolve", "nothing was changed")
        numbered = records.conflict_versions(session, env)
        if records.read_profile(session, env) is None or not numbered:
            raise Denied(f"you cannot read the profile of {record_id}, so you cannot choose between its versions",
                         "ask the key person or a manager")
        if take is not None:
            if not 1 <= take <= len(numbered):
                raise UsageError(f"record {record_id} has versions 1 to {len(numbered)}, not {take}",
                                 f"see them with 'confide show {record_id}'")
            env.head["profile"] = dict(numbered[take - 1][1])
            how = "take"
        else:
            assert edited is not None
            if isinstance(edited, dict) and env.head.get("key_person") and "key_person" not in edited:
                edited = dict(edited, key_person=env.head["key_person"])  # changed only by 'confide key-person'
            cleaned = profiles.check_profile_document(record_id, edited, env.head.get("key_person"))
            current = records.read_profile(session, env)
            profiles.check_leaving(session, cleaned, current.to_json() if current is not None else None)
            env.head["profile"] = records.seal_profile(env, cleaned, actor.name, session.clock.now_iso())
            how = "edit"
        env.head.pop("conflict")
        env.write_to(tx)
        commit = tx.commit(trail.message(f"resolve the profile conflict of {record_id}", ACTION, actor.name,
                                         record=record_id, extra={TRAILER: how}), actor.name)
    return WriteResult(record_id, commit, warnings_for_vault(session))


def record_of(path: str) -> str:
    part = envelope.record_of(path)
    assert part is not None, path
    return part[0]


def newly_conflicted(path: str, before: Optional[bytes], after: Optional[bytes]) -> bool:
    """Does ``after`` (a record head's bytes) hold a profile conflict ``before`` did not (or other versions)?"""
    part = envelope.record_of(path)
    if part is None or part[1] != "head" or after is None or b"\nconflict:" not in after:
        return False
    if before is None or b"\nconflict:" not in before:
        return True
    return profile_versions(envelope.load_head(before, path)) != profile_versions(envelope.load_head(after, path))


def conflict_note(record_id: str) -> str:
    """What a sync says of a record whose profile it kept in both versions."""
    return (f"record {record_id}: the profile was changed on both machines; both versions are kept and nothing is "
            f"lost. See them with 'confide show {record_id}', then choose with 'confide resolve {record_id} --take N' "
            "(or --edit)")


def plain(exc: Conflict) -> str:
    """A conflict that stops a sync, in words: 'record c-x: ...' rather than the record file's path."""
    part = envelope.record_of(exc.path or "")
    message = exc.message
    if part is not None:
        for prefix in (f"{exc.path}: ", f"{envelope.entries_source(exc.path)}: "):
            message = message.removeprefix(prefix)
        return f"record {part[0]}: {message}"
    return message


def versions_for_editing(session: Session, record_id: str, start: int) -> dict:
    """The version ``start`` as the editor shows a profile (every field), to edit into the resolution."""
    session.vault.check_record_id(record_id)
    env = session.vault.envelope(record_id, entries=False)
    conflict = records.conflict_of(session, env)
    if conflict is None:
        raise UsageError(f"record {record_id} has no conflict to resolve", "nothing was changed")
    if conflict.versions is None:
        raise Denied(f"you cannot read the profile of {record_id}, so you cannot resolve its conflict",
                     "ask the key person or a manager")
    if not 1 <= start <= len(conflict.versions):
        raise UsageError(f"record {record_id} has versions 1 to {len(conflict.versions)}, not {start}",
                         f"see them with 'confide show {record_id}'")
    stored = conflict.versions[start - 1].profile.to_json()
    full = {f: stored.get(f) for f in profiles.PROFILE_FIELDS}
    for f in ("parents", "emergency_contacts", "home_languages", "allergies"):
        full[f] = full[f] or []
    full["consents"] = full["consents"] or {}
    return full


__all__ = ["resolve", "versions_for_editing", "newly_conflicted", "conflict_note", "plain", "ACTION", "TRAILER"]
