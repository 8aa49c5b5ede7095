"""Who may read a record: grant, revoke, hand a child to a new key person, apply expiries now.

- **grant** wraps every generation of the level key for the new reader (they
  read the past too). The actor must be allowed to grant the level (a manager
  any level, a DSL ``safeguarding``) *and* must be able to unwrap each
  generation: a level you cannot read, you cannot give away.
- **revoke** drops the holder's copies from every generation and starts a new
  generation, wrapped for the remaining readers only, that every later entry
  uses. The revoked holder cannot read anything written afterwards, whatever
  copies they kept. Role or key-person access to a record is revoked with a
  ``revoked`` entry in its head (``policy.readers_for`` honours it) so later
  re-keying never hands the access back; a later grant lifts it.

Revocation and git history: git keeps old blocks. A revoked holder who kept a
clone of the vault and their key can still read what they could read before
the revocation. Revocation protects what is written *afterwards*. When a key is
compromised, rotate it and have the old blocks purged from history.

The key machinery is ``services.keys``; leavers and key rotation are
``services.holders``; expiry and pending re-keys before every write are
``services.upkeep``; the reports of who reads what are ``services.reports``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Optional

from vault_cli.adapters import timeutil
from vault_cli.errors import Denied, UsageError
from vault_cli.model import policy, trail
from vault_cli.model.holders import Holder
from vault_cli.model.levels import Grant, Revocation
from vault_cli.services import upkeep
from vault_cli.services.keys import (
    COMPROMISE_NOTE,
    HISTORY_NOTE,
    AccessResult,
    RecordChange,
    active_target,
    check_no_lockout,
    drop_copies,
    is_last_manager,
    levels_given,
    map_records,
    new_generation,
    readers_of,
    reads_without_grants,
    require_may_change,
    scope,
    wrap_all_generations,
    write_changes,
)
from vault_cli.services.records import check_key_person
from vault_cli.services.vault import Session
from vault_cli.services.writing import warnings_for_vault, writing

# ---------------------------------------------------------------------------
# grant


PERMISSION = "date of the parent's permission"  # a field, as errors name it (the command line: --parent-permission)


def grant(
    session: Session,
    holder_name: str,
    *,
    levels: Sequence[str],
    record: Optional[str] = None,
    all_records: bool = False,
    until: Optional[str] = None,
    parent_permission: Optional[str] = None,
    progress=None,
) -> AccessResult:
    """Let a holder read levels of one record or every record, the past included."""
    settings = session.settings
    levels = levels_given(settings, levels, default_all=False)
    today = session.clock.today()
    if until is not None:
        until = timeutil.parse_date(until, "end date")
        if dt.date.fromisoformat(until) < today:
            raise UsageError(f"{{0}} {until} is in the past", f"give today ({today.isoformat()}) or a later date",
                             fields=("end date",))
    if parent_permission is not None:
        parent_permission = timeutil.parse_date(parent_permission, PERMISSION)
        if dt.date.fromisoformat(parent_permission) > today:
            raise UsageError(
                f"{{0}} {parent_permission} is in the future",
                "give the date the parent's written permission was received",
                fields=(PERMISSION,),
            )
    record_ids = scope(session.vault, record, all_records)

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        target = active_target(holders, holder_name, "grant to")
        require_may_change(settings, actor, levels, "grant")
        if target.name == actor.name:
            raise Denied(f"'{actor.name}' may not grant themselves access",
                         "access beyond your role is given by someone else who may grant it")
        needs = policy.grant_needs(settings, target)
        if "parent-permission" in needs:
            if parent_permission is None:
                raise UsageError(
                    f"'{target.name}' is a {target.role}: a grant needs the parent's written permission",
                    "give the date it was received with {0} YYYY-MM-DD",
                    fields=(PERMISSION,),
                )
            if all_records:
                raise UsageError(
                    f"a grant to a {target.role} needs each child's parent's permission, so it is given one record at a time",
                    "use {0} RECORD {1} DATE for each child",
                    fields=("child's record", PERMISSION),
                )
        elif parent_permission is not None:
            raise UsageError(f"{{0}} is only for grants to a role that needs it; '{target.name}' is a {target.role}",
                             "leave it out", fields=(PERMISSION,))
        if "until" in needs and until is None:
            raise UsageError(
                f"'{target.name}' is a {target.role}: every grant to a {target.role} ends on a date",
                "give it with {0} YYYY-MM-DD",
                fields=("end date",),
            )
        fields = {"holder": target.name, "granted_by": actor.name, "granted": today.isoformat()}
        if until is not None:
            fields["until"] = until
        if parent_permission is not None:
            fields["parent_permission"] = parent_permission

        def one(rid: str) -> RecordChange:
            return _grant_record(session, rid, target, levels, fields, today)

        changes = map_records(one, record_ids, progress, session.vault)
        changed = write_changes(session, tx, changes)
        result = AccessResult(target.name, None, changed, sum(c.generations for c in changes),
                              sum(c.wrapped for c in changes))
        if not changed:
            result.notes.append(
                f"'{target.name}' already reads {', '.join(levels)} of "
                + (record if record else "every record")
                + "; nothing was committed"
            )
            return result
        extra = {"Confide-Levels": " ".join(levels), "Confide-Records": str(len(changed))}
        if until:
            extra["Confide-Until"] = until
        where = f"{record}" if record else f"{len(changed)} record(s)"
        result.commit = tx.commit(
            trail.message(f"grant {target.name} {'+'.join(levels)} on {where}", "access.grant", actor.name,
                          record=record, subject_holder=target.name, extra=extra),
            actor.name,
        )
    result.notes.append(f"granted '{target.name}' {', '.join(levels)} on {len(changed)} record(s), past entries included"
                        + (f", until {until}" if until else ""))
    result.warnings = warnings_for_vault(session)
    return result


def _grant_record(session: Session, rid: str, target: Holder, levels: Sequence[str], fields: dict, today: dt.date) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    head = env.head
    change = RecordChange(rid, None)
    dirty = False
    for level in levels:
        revoked = env.revocations
        kept_r = tuple(r for r in revoked if not r.is_for(target.name, level))
        if len(kept_r) != len(revoked):
            env.revocations = kept_r
            dirty = True
        if not reads_without_grants(session, head, target.name, level, today):
            grants = env.grants
            new = Grant.from_json(dict(fields, level=level))
            if not any(g.is_for(target.name, level) and g.same_terms(new) for g in grants):
                env.grants = (*(g for g in grants if not g.is_for(target.name, level)), new)
                dirty = True
        made = wrap_all_generations(session, env, level, target, f"grant {level} of {rid} to '{target.name}'")
        change.wrapped += made
        dirty = dirty or made > 0
    if dirty:
        change.data = env.head_bytes()  # access changes never touch the entries file
    return change


# ---------------------------------------------------------------------------
# revoke


def revoke(
    session: Session,
    holder_name: str,
    *,
    levels: Optional[Sequence[str]] = None,
    record: Optional[str] = None,
    all_records: bool = False,
    progress=None,
) -> AccessResult:
    """Stop a holder reading levels (default: every level) of one record or every record, from now on.

    Revoking what was never granted changes nothing: the result says so, has
    ``commit`` None, and the CLI exits 0 (nothing to do is success).
    """
    settings = session.settings
    levels = levels_given(settings, levels, default_all=True)
    record_ids = scope(session.vault, record, all_records)
    today = session.clock.today()

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        target = holders.get(holder_name)
        require_may_change(settings, actor, levels, "revoke")
        if target.active and is_last_manager(settings, holders, target):
            raise Denied(
                f"'{target.name}' is the last active manager: revoking their access would lock the vault's owners out",
                "add another manager first (confide holder add NAME --role manager --recipient age1...)",
            )

        def one(rid: str) -> RecordChange:
            return _revoke_record(session, rid, target, levels, actor, today)

        changes = map_records(one, record_ids, progress, session.vault)
        changed = write_changes(session, tx, changes)
        result = AccessResult(target.name, None, changed, sum(c.generations for c in changes))
        if not changed:
            result.notes.append(
                f"nothing to revoke: '{target.name}' holds no copy of and no grant to {', '.join(levels)} of "
                + (record if record else "any record") + "; nothing was committed"
            )
            return result
        extra = {"Confide-Levels": " ".join(levels), "Confide-Records": str(len(changed))}
        where = f"{record}" if record else f"{len(changed)} record(s)"
        result.commit = tx.commit(
            trail.message(f"revoke {target.name} {'+'.join(levels)} on {where}", "access.revoke", actor.name,
                          record=record, subject_holder=target.name, extra=extra),
            actor.name,
        )
    result.notes.append(
        f"revoked '{target.name}' from {', '.join(levels)} of {len(changed)} record(s); "
        f"{result.generations} new key generation(s) for what is written from now on"
    )
    kept_kp = [c.record for c in changes if c.notes]
    if kept_kp:
        result.notes.append(
            f"'{target.name}' is still the key person of {len(kept_kp)} record(s), e.g. {kept_kp[0]}, but no longer "
            "reads all of them; hand each child over with: confide key-person RECORD HOLDER"
        )
    role_levels = [lv for lv in levels if policy.may_level(settings, target, "reads", lv)]
    if all_records and role_levels and target.active:
        result.notes.append(
            f"'{target.name}' is a {target.role}, a role that reads {', '.join(role_levels)} of every record: "
            "records created from now on will be readable to them again; for a leaver use 'confide holder remove'"
        )
    result.warnings = [HISTORY_NOTE, COMPROMISE_NOTE] + warnings_for_vault(session)
    return result


def _revoke_record(session: Session, rid: str, target: Holder, levels: Sequence[str], actor: Holder, today: dt.date) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    head = env.head
    change = RecordChange(rid, None)
    touched: list[str] = []
    for level in levels:
        dirty = False
        grants = env.grants
        kept = tuple(g for g in grants if not g.is_for(target.name, level))
        if len(kept) != len(grants):
            env.grants = kept
            dirty = True
        if target.name in readers_of(session, head, level, today):
            env.revocations = (*env.revocations, Revocation(target.name, level, actor.name, today.isoformat()))
            dirty = True
        if drop_copies(env, level, [target.name]):
            readers = readers_of(session, head, level, today) - {target.name}
            new_generation(session, env, level, readers)
            change.generations += 1
            dirty = True
        if dirty:
            touched.append(level)
    if touched:
        check_no_lockout(session, env, touched)
        if head.get("key_person") == target.name:
            lost = [lv for lv in touched if lv in session.settings.key_person_reads]
            if lost:
                change.notes.append("key person")
        change.data = env.head_bytes()  # access changes never touch the entries file
    return change


# ---------------------------------------------------------------------------
# key person


def hand_over(session: Session, record_id: str, new_key_person: str) -> AccessResult:
    """Make ``new_key_person`` the child's key person: they read the key person's levels (past included);
    the previous key person loses what they read only as key person."""
    session.vault.check_record_id(record_id)
    today = session.clock.today()

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        target = active_target(holders, new_key_person, "make key person")
        check_key_person(session, target.name)
        kp_levels = [lv for lv in settings.levels if lv in settings.key_person_reads]
        require_may_change(settings, actor, kp_levels, "hand a child to a new key person, which changes")
        env = session.vault.envelope(record_id, entries=False)
        head = env.head
        old = head.get("key_person")
        if old == target.name:
            return AccessResult(target.name, None, notes=[f"'{target.name}' is already the key person of {record_id}; nothing was committed"])
        head["key_person"] = target.name
        env.revocations = tuple(r for r in env.revocations if not (r.holder == target.name and r.level in kp_levels))
        wrapped = 0
        gens = 0
        for level in kp_levels:
            wrapped += wrap_all_generations(session, env, level, target, f"give {record_id} to '{target.name}'")
        touched = list(kp_levels)
        if old:
            for level in kp_levels:
                if old not in readers_of(session, head, level, today) and drop_copies(env, level, [old]):
                    new_generation(session, env, level, readers_of(session, head, level, today) - {old})
                    gens += 1
        check_no_lockout(session, env, touched)
        env.write_to(tx)
        extra = {"Confide-Previous": old} if old else {}
        commit = tx.commit(
            trail.message(f"hand {record_id} to key person {target.name}", "record.key-person", actor.name,
                          record=record_id, subject_holder=target.name, extra=extra),
            actor.name,
        )
    result = AccessResult(target.name, commit, [record_id], gens, wrapped)
    result.notes.append(f"'{target.name}' is now the key person of {record_id} and reads its {', '.join(kp_levels)} levels, past entries included")
    if old:
        result.notes.append(f"'{old}' no longer reads what they read only as its key person")
        if gens:
            result.warnings.extend([HISTORY_NOTE, COMPROMISE_NOTE])
    result.warnings.extend(warnings_for_vault(session))
    return result


# ---------------------------------------------------------------------------
# expiry, now


def expire(session: Session) -> AccessResult:
    """``confide expire``: apply every grant whose --until has passed and every re-key you may make, now."""
    upkeep.clear_cache(session.vault)
    with writing(session) as (tx, actor):
        result = getattr(session, "last_expiry", None)
    if result is None or result.commit is None:
        return AccessResult("expired grants", None, notes=["no grant has passed its end date and no re-key you may "
                                                           "make is pending; nothing was committed"],
                            warnings=warnings_for_vault(session))
    result.warnings = [HISTORY_NOTE] + warnings_for_vault(session)
    return result


__all__ = ["AccessResult", "grant", "revoke", "hand_over", "expire", "HISTORY_NOTE", "COMPROMISE_NOTE"]
