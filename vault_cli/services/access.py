"""Who can read what: grant, revoke, key-person handover, leavers, key rotation, expiry, reports.

Cryptography does the enforcing. Every level of a record has a level key, one
age identity per *generation*; its secret half is wrapped once per reader.
This module only ever changes record *heads* (grants, revocations, level keys)
and carries the entries over byte for byte (``Envelope.read(entries=False)``),
so every command here costs O(records touched), never O(entries): no entry is
ever re-encrypted.

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
- **holder remove** (a leaver) revokes everything and keeps the holder in
  ``holders.yaml`` as removed; **holder rotate** re-wraps the holder's copies
  for a new key and starts fresh generations wherever the old key could read
  the current one.

Revocation and git history: git keeps old blocks. A revoked holder who kept a
clone of the vault and their key can still read what they could read before
the revocation. Revocation protects what is written *afterwards*. When a key is
compromised, rotate it and have the old blocks purged from history.

Lock-out protection: a command is refused if it would remove, revoke or
rotate away the last active manager, or leave any generation of any level of
a touched record without a reader who is an active holder, or without an
active reader who may grant that level again (without one, nobody could
ever give the level to anyone else).

Expiry and pending re-keys, applied before every write, are in ``vault_cli.upkeep``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from vault_cli.adapters import crypto

from vault_cli.formats import envelope

from vault_cli.adapters import parallel

from vault_cli.model import policy

from vault_cli.adapters import timeutil

from vault_cli.model import trail
from vault_cli.errors import Denied, IdentityProblem, NotFound, UsageError, VaultStateError
from vault_cli.model.holders import HOLDERS_FILE, Holder, Holders
from vault_cli.model.settings import Settings
from vault_cli.adapters.store import Transaction
from vault_cli.services.vault import Session, Vault

HISTORY_NOTE = (
    "git history keeps old blocks: a revoked holder who kept a clone of the vault and their key can still read "
    "what they could read before the revocation; revocation protects what is written from now on"
)
COMPROMISE_NOTE = (
    "if a key is lost or compromised, rotate it ('confide holder rotate NAME --recipient age1...') and have the "
    "old blocks purged from git history (a recorded history purge; see the README, 'Revocation and git history')"
)


@dataclass
class AccessResult:
    """What an access command did. ``commit`` is None when nothing needed doing."""

    subject: str
    commit: Optional[str]
    records: list[str] = field(default_factory=list)  # records changed
    generations: int = 0  # new level-key generations started
    wrapped: int = 0  # copies of level keys wrapped for someone
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "subject": self.subject, "commit": self.commit, "records": list(self.records),
            "generations": self.generations, "wrapped": self.wrapped, "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


@dataclass
class RecordChange:
    record: str
    data: Optional[bytes]  # new head file contents, None when unchanged
    packed: Optional[tuple] = None  # data as a git pack entry (bulk commands): gitstore.pack_entry
    generations: int = 0
    wrapped: int = 0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# small helpers


def _today() -> dt.date:
    return timeutil.today()


def _levels(settings: Settings, given: Optional[Sequence[str]], *, default_all: bool) -> list[str]:
    if not given:
        if default_all:
            return list(settings.levels)
        raise UsageError("which level?", "give --level general, confidential or safeguarding (repeat it for several)")
    out: list[str] = []
    for lv in given:
        settings.check_level(lv)
        if lv not in out:
            out.append(lv)
    return [lv for lv in settings.levels if lv in out]


def _scope(vault: Vault, record: Optional[str], all_records: bool) -> list[str]:
    if (record is None) == (not all_records):
        raise UsageError("say which records: --child RECORD or --all", "one of them, not both")
    if record is not None:
        vault.check_record_id(record)
        return [record]
    return vault.record_ids()


def _active_target(holders: Holders, name: str, doing: str) -> Holder:
    holder = holders.find(name)
    if holder is None:
        raise NotFound(f"no holder named '{name}' to {doing}", "list them with: confide holder list")
    if not holder.active:
        raise NotFound(
            f"holder '{name}' was removed on {holder.removed or 'an earlier date'} and can be given nothing",
            "a returning member of staff is added again under a new name with a new key: confide holder add",
        )
    return holder


def _is_last_manager(settings: Settings, holders: Holders, holder: Holder) -> bool:
    managers = policy.managers(settings, holders)
    return len(managers) == 1 and managers[0].name == holder.name


def _require_may_change(settings: Settings, actor: Holder, levels: Iterable[str], doing: str) -> None:
    for level in levels:
        policy.require_level(settings, actor, "grants", level, f"{doing} the {level} level")


def _sort_wrapped(key: dict) -> None:
    key["wrapped"] = dict(sorted(key["wrapped"].items()))


def _generations(env: envelope.Envelope, level: str) -> list[dict]:
    return sorted((k for k in env.keys if k["level"] == level), key=lambda k: k["generation"])


def _wrap_secret(secret: str, env: envelope.Envelope, key: dict, recipient: str) -> str:
    return envelope.wrap_level_key(secret, record=env.record, key=key, holder_recipient=recipient)


def _unwrapped_secret(session: Session, env: envelope.Envelope, key: dict, doing: str) -> str:
    ident = session.level_identity(env, key["id"])
    if ident is None:
        raise Denied(
            f"you hold no copy of generation {key['generation']} of the {key['level']} key of {env.record}, "
            f"so you cannot {doing}: to give a level you must be able to read it",
            "a manager who reads that level of the record must run this command",
        )
    return str(ident._key)


def _wrap_all_generations(session: Session, env: envelope.Envelope, level: str, holder: Holder, doing: str) -> int:
    """Give a holder a copy of every generation of a level they lack. Returns copies made."""
    n = 0
    for key in _generations(env, level):
        if holder.name in key["wrapped"]:
            continue
        secret = _unwrapped_secret(session, env, key, doing)
        key["wrapped"][holder.name] = _wrap_secret(secret, env, key, holder.recipient)
        _sort_wrapped(key)
        n += 1
    return n


def _drop_copies(env: envelope.Envelope, level: str, names: Iterable[str]) -> bool:
    names = set(names)
    dropped = False
    for key in env.keys:
        if key["level"] != level:
            continue
        for n in names:
            if key["wrapped"].pop(n, None) is not None:
                dropped = True
    return dropped


def _new_generation(session: Session, env: envelope.Envelope, level: str, readers: Iterable[str]) -> Optional[dict]:
    """Start the next generation of a level key, wrapped for ``readers`` only; new entries use it.

    Whoever makes a key knows its secret, so only a holder who reads the level makes one
    (``policy.may_make_key``, which verify asks too). Anyone else marks the level ``rekey``
    in the head instead, and the next holder who reads it makes the new generation
    (``rekey_pending``, before their next write). Returns the new key, or None when marked.
    """
    readers = sorted(set(readers))
    if not readers:
        raise Denied(
            f"that would leave the {level} level of {env.record} with no reader who is an active holder",
            "nothing was changed; keep at least one manager able to read every level",
        )
    if not policy.may_make_key(session.settings, session.holders, env.head, session.actor, level):
        envelope.mark_rekey(env.head, level)
        return None
    gens = _generations(env, level)
    taken = {k["id"] for k in env.keys}
    key, secret = envelope.new_level_key(taken, level, max(k["generation"] for k in gens) + 1)
    for name in readers:
        key["wrapped"][name] = _wrap_secret(secret, env, key, session.holders.get(name).recipient)
    keys = env.head["keys"]
    last = max(i for i, k in enumerate(keys) if k["level"] == level)
    keys.insert(last + 1, key)
    envelope.clear_rekey(env.head, level)
    return key


def _readers(session: Session, head: dict, level: str, today: dt.date) -> set[str]:
    return policy.readers_for(session.settings, session.holders, head, level, today)


def _reads_without_grants(session: Session, head: dict, name: str, level: str, today: dt.date) -> bool:
    probe = dict(head)
    probe["grants"] = []
    return name in _readers(session, probe, level, today)


def _check_no_lockout(session: Session, env: envelope.Envelope, levels: Iterable[str], *, need_grantor: bool = True) -> None:
    """Every generation of every touched level keeps an active reader, and one who may grant it again."""
    settings, holders = session.settings, session.holders
    for level in levels:
        for key in _generations(env, level):
            active = [h for h in (holders.find(n) for n in key["wrapped"]) if h is not None and h.active]
            if not active:
                raise Denied(
                    f"that would leave generation {key['generation']} of the {level} level of {env.record} "
                    "with no reader who is an active holder: what was written under it would be lost",
                    "nothing was changed; keep at least one manager able to read every level",
                )
            if need_grantor and not any(policy.may_grant(settings, h, level) for h in active):
                raise Denied(
                    f"that would leave the {level} level of {env.record} with no reader who may grant it "
                    "(a manager, or a DSL for safeguarding): nobody could ever give it to anyone again",
                    "nothing was changed; keep at least one manager able to read every level",
                )


def _write_changes(session: Session, tx: Transaction, changes: Sequence[RecordChange]) -> list[str]:
    changed = []
    for c in changes:
        if c.data is not None:
            tx.write(session.vault.record_source(c.record), c.data)
            changed.append(c.record)
    return changed


def rekey_every_record(session: Session, tx: Transaction, actor: Holder, one: Callable[[str], RecordChange],
                       subject: str, action: str, holder: str, progress,
                       record_ids: Optional[Sequence[str]] = None) -> tuple[list[RecordChange], list[str], str]:
    """A holder change that touches every record (or ``record_ids``): re-key them on every core, then
    commit them together with holders.yaml in one commit."""
    ids = session.vault.record_ids() if record_ids is None else record_ids
    changes = _map(one, ids, progress, session.vault)
    changed = _write_changes(session, tx, changes)
    tx.write(HOLDERS_FILE, session.holders.dump().encode("utf-8"))
    commit = tx.commit(
        trail.message(subject, action, actor.name, subject_holder=holder, extra={"Confide-Records": str(len(changed))}),
        actor.name,
    )
    return changes, changed, commit


def _warnings(session: Session) -> list[str]:
    from vault_cli.services.records import warnings_for_vault

    return warnings_for_vault(session)


_packing = False  # set for the duration of a bulk map; read in the forked workers


def _map(fn: Callable[[str], RecordChange], record_ids: Sequence[str], progress, vault: Optional[Vault] = None) -> list[RecordChange]:
    """Run ``fn`` over records on every core; with ``vault``, store the new files in git from the workers too.

    Bulk commands rewrite up to every record head. Committing them makes git
    compress each one and write it as a loose object: ~1,000 small files, on one
    core, and enough of them that a few bulk commands set off ``git gc --auto``.
    Instead each worker turns its new head into a pack entry (hashed and
    compressed in parallel), and the parent writes them as one pack with its
    index (``Git.store_packed``); ``git commit`` then finds every blob stored. An object no commit
    ends up using (the command failed) is ordinary garbage for ``git gc``; it
    holds only ciphertext.
    """
    global _packing
    from vault_cli.adapters.gitstore import pack_entry

    _packing = (vault is not None and len(record_ids) >= parallel.THRESHOLD and parallel.workers() > 1
                and vault.git.object_format() == "sha1")

    def job(rid: str) -> RecordChange:
        change = fn(rid)
        if change.data is not None and _packing:
            change.packed = pack_entry(change.data)
        return change

    try:
        changes = list(parallel.map_ordered(job, record_ids, progress=progress))
    finally:
        packing, _packing = _packing, False
    if packing and vault is not None:
        vault.git.store_packed([c.packed for c in changes if c.packed is not None])
        for c in changes:
            c.packed = None
    return changes


# ---------------------------------------------------------------------------
# grant


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
    levels = _levels(settings, levels, default_all=False)
    today = _today()
    if until is not None:
        until = timeutil.parse_date(until, "--until")
        if dt.date.fromisoformat(until) < today:
            raise UsageError(f"--until {until} is in the past", f"give today ({today.isoformat()}) or a later date")
    if parent_permission is not None:
        parent_permission = timeutil.parse_date(parent_permission, "--parent-permission")
        if dt.date.fromisoformat(parent_permission) > today:
            raise UsageError(
                f"--parent-permission {parent_permission} is in the future",
                "give the date the parent's written permission was received",
            )
    record_ids = _scope(session.vault, record, all_records)
    from vault_cli.services.records import writing

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        target = _active_target(holders, holder_name, "grant to")
        _require_may_change(settings, actor, levels, "grant")
        if target.name == actor.name:
            raise Denied(f"'{actor.name}' may not grant themselves access",
                         "access beyond your role is given by someone else who may grant it")
        needs = policy.grant_needs(settings, target)
        if "parent-permission" in needs:
            if parent_permission is None:
                raise UsageError(
                    f"'{target.name}' is a {target.role}: a grant needs the parent's written permission",
                    "give the date it was received with --parent-permission YYYY-MM-DD",
                )
            if all_records:
                raise UsageError(
                    f"a grant to a {target.role} needs each child's parent's permission, so it is given one record at a time",
                    "use --child RECORD --parent-permission DATE for each child",
                )
        elif parent_permission is not None:
            raise UsageError(f"--parent-permission is only for grants to a role that needs it; '{target.name}' is a {target.role}",
                             "leave it out")
        if "until" in needs and until is None:
            raise UsageError(
                f"'{target.name}' is a {target.role}: every grant to a {target.role} ends on a date",
                "give it with --until YYYY-MM-DD",
            )
        fields = {"holder": target.name, "granted_by": actor.name, "granted": today.isoformat()}
        if until is not None:
            fields["until"] = until
        if parent_permission is not None:
            fields["parent_permission"] = parent_permission

        def one(rid: str) -> RecordChange:
            return _grant_record(session, rid, target, levels, fields, today)

        changes = _map(one, record_ids, progress, session.vault)
        changed = _write_changes(session, tx, changes)
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
    result.warnings = _warnings(session)
    return result


def _grant_record(session: Session, rid: str, target: Holder, levels: Sequence[str], fields: dict, today: dt.date) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    head = env.head
    change = RecordChange(rid, None)
    dirty = False
    for level in levels:
        revoked = head.get("revoked") or []
        kept = [r for r in revoked if not (r["holder"] == target.name and r["level"] == level)]
        if len(kept) != len(revoked):
            head["revoked"] = kept
            dirty = True
        if not _reads_without_grants(session, head, target.name, level, today):
            grants = list(head.get("grants") or [])
            new = dict(fields, level=level)
            new = {k: new[k] for k in ("holder", "level", "granted_by", "granted", "until", "parent_permission") if k in new}
            same = [g for g in grants if g["holder"] == target.name and g["level"] == level]
            if not any(g.get("until") == new.get("until") and g.get("parent_permission") == new.get("parent_permission")
                       for g in same):
                grants = [g for g in grants if not (g["holder"] == target.name and g["level"] == level)]
                grants.append(new)
                head["grants"] = grants
                dirty = True
        made = _wrap_all_generations(session, env, level, target, f"grant {level} of {rid} to '{target.name}'")
        change.wrapped += made
        dirty = dirty or made > 0
    if dirty:
        if "revoked" in head and not head["revoked"]:
            del head["revoked"]
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
    levels = _levels(settings, levels, default_all=True)
    record_ids = _scope(session.vault, record, all_records)
    today = _today()
    from vault_cli.services.records import writing

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        target = holders.get(holder_name)
        _require_may_change(settings, actor, levels, "revoke")
        if target.active and _is_last_manager(settings, holders, target):
            raise Denied(
                f"'{target.name}' is the last active manager: revoking their access would lock the vault's owners out",
                "add another manager first (confide holder add NAME --role manager --recipient age1...)",
            )

        def one(rid: str) -> RecordChange:
            return _revoke_record(session, rid, target, levels, actor, today)

        changes = _map(one, record_ids, progress, session.vault)
        changed = _write_changes(session, tx, changes)
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
    result.warnings = [HISTORY_NOTE, COMPROMISE_NOTE] + _warnings(session)
    return result


def _revoke_record(session: Session, rid: str, target: Holder, levels: Sequence[str], actor: Holder, today: dt.date) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    head = env.head
    change = RecordChange(rid, None)
    touched: list[str] = []
    for level in levels:
        dirty = False
        grants = list(head.get("grants") or [])
        kept = [g for g in grants if not (g["holder"] == target.name and g["level"] == level)]
        if len(kept) != len(grants):
            head["grants"] = kept
            dirty = True
        if target.name in _readers(session, head, level, today):
            revoked = list(head.get("revoked") or [])
            revoked.append({"holder": target.name, "level": level, "revoked_by": actor.name, "revoked": today.isoformat()})
            head["revoked"] = revoked
            dirty = True
        if _drop_copies(env, level, [target.name]):
            readers = _readers(session, head, level, today) - {target.name}
            _new_generation(session, env, level, readers)
            change.generations += 1
            dirty = True
        if dirty:
            touched.append(level)
    if touched:
        _check_no_lockout(session, env, touched)
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
    today = _today()
    from vault_cli.services.records import _check_key_person, writing

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        target = _active_target(holders, new_key_person, "make key person")
        _check_key_person(session, target.name)
        kp_levels = [lv for lv in settings.levels if lv in settings.key_person_reads]
        _require_may_change(settings, actor, kp_levels, "hand a child to a new key person, which changes")
        env = session.vault.envelope(record_id, entries=False)
        head = env.head
        old = head.get("key_person")
        if old == target.name:
            return AccessResult(target.name, None, notes=[f"'{target.name}' is already the key person of {record_id}; nothing was committed"])
        head["key_person"] = target.name
        revoked = head.get("revoked") or []
        kept = [r for r in revoked if not (r["holder"] == target.name and r["level"] in kp_levels)]
        if kept:
            head["revoked"] = kept
        else:
            head.pop("revoked", None)
        wrapped = 0
        gens = 0
        for level in kp_levels:
            wrapped += _wrap_all_generations(session, env, level, target, f"give {record_id} to '{target.name}'")
        touched = list(kp_levels)
        if old:
            for level in kp_levels:
                if old not in _readers(session, head, level, today) and _drop_copies(env, level, [old]):
                    _new_generation(session, env, level, _readers(session, head, level, today) - {old})
                    gens += 1
        _check_no_lockout(session, env, touched)
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
    result.warnings.extend(_warnings(session))
    return result


# ---------------------------------------------------------------------------
# leavers


def remove_holder(session: Session, name: str, *, reason: str, progress=None) -> AccessResult:
    """A leaver: revoked from every level of every record, kept in holders.yaml as removed."""
    if reason is None or not reason.strip():
        raise UsageError("removing a holder needs a reason", "for example: --reason \"left the setting 2026-11-30\"")
    reason = reason.strip()
    if len(reason) > 500 or "\n" in reason:
        raise UsageError("--reason must be one line of at most 500 characters", "keep it short; never name a child")
    today = _today()
    from vault_cli.services.records import writing

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        policy.require_holder_manager(settings, actor)
        target = holders.get(name)
        if not target.active:
            return AccessResult(name, None, notes=[f"'{name}' was already removed on {target.removed}; nothing was committed"])
        if _is_last_manager(settings, holders, target):
            raise Denied(
                f"'{name}' is the last active manager: removing them would lock the vault's owners out",
                "add another manager first (confide holder add NAME --role manager --recipient age1...)",
            )
        target.status = "removed"
        target.removed = today.isoformat()
        target.removed_by = actor.name
        target.removed_reason = reason

        changes, changed, commit = rekey_every_record(
            session, tx, actor, lambda rid: _remove_from_record(session, rid, target, today),
            f"remove holder {name}", "holder.remove", name, progress,
        )
    result = AccessResult(name, commit, changed, sum(c.generations for c in changes))
    result.notes.append(
        f"removed '{name}': revoked from {len(changed)} record(s), {result.generations} new key generation(s); "
        "kept in holders.yaml as removed"
    )
    orphans = [c.record for c in changes if c.notes]
    if orphans:
        result.warnings.append(
            f"{len(orphans)} record(s) had '{name}' as key person and now have none, e.g. {orphans[0]}; "
            "give each a new one with: confide key-person RECORD HOLDER"
        )
    result.warnings = [HISTORY_NOTE, COMPROMISE_NOTE] + result.warnings + _warnings(session)
    return result


def _remove_from_record(session: Session, rid: str, target: Holder, today: dt.date) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    head = env.head
    change = RecordChange(rid, None)
    dirty = False
    grants = list(head.get("grants") or [])
    kept = [g for g in grants if g["holder"] != target.name]
    if len(kept) != len(grants):
        head["grants"] = kept
        dirty = True
    revoked = head.get("revoked") or []
    if any(r["holder"] == target.name for r in revoked):
        kept_r = [r for r in revoked if r["holder"] != target.name]
        if kept_r:
            head["revoked"] = kept_r
        else:
            head.pop("revoked", None)
        dirty = True
    if head.get("key_person") == target.name:
        head["key_person"] = None
        change.notes.append("key person cleared")
        dirty = True
    touched = []
    for level in session.settings.levels:
        if _drop_copies(env, level, [target.name]):
            _new_generation(session, env, level, _readers(session, head, level, today) - {target.name})
            change.generations += 1
            touched.append(level)
            dirty = True
    if dirty:
        _check_no_lockout(session, env, touched)
        change.data = env.head_bytes()  # access changes never touch the entries file
    return change


# ---------------------------------------------------------------------------
# key rotation


def rotate_holder(
    session: Session,
    name: str,
    *,
    recipient: Optional[str] = None,
    new_identities: Optional[list[crypto.Identity]] = None,
    progress=None,
) -> AccessResult:
    """Move a holder to a new key: their copies re-wrapped for it, fresh generations for what comes next.

    The old key can no longer act, and cannot read anything written after the
    rotation. ``new_identities`` (from ``--new-identity FILE``) proves the new
    key is held; it is required to rotate the last active manager, since a
    wrong recipient there would lock every manager out for good.
    """
    if recipient is None and not new_identities:
        raise UsageError("give the new key", "--recipient age1... (or ssh-ed25519 ...), or --new-identity FILE")
    if recipient is not None:
        recipient = crypto.normalise_recipient(recipient)
    if new_identities:
        recipients = [i.recipient for i in new_identities]
        if recipient is None:
            recipient = recipients[0]
        elif recipient not in recipients:
            raise UsageError("--new-identity is not the secret half of --recipient", "give the identity file that goes with the recipient")
    assert recipient is not None
    today = _today()
    from vault_cli.services.records import writing

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        policy.require_holder_manager(settings, actor)
        target = holders.get(name)
        if not target.active:
            raise NotFound(f"holder '{name}' was removed on {target.removed}; a removed holder has no key to rotate",
                           "see them with: confide holder list")
        if recipient == target.recipient:
            raise UsageError(f"'{name}' already uses that recipient", "give the new key's recipient")
        owner = holders.recipient_owner(recipient)
        if owner is target:
            raise VaultStateError(
                f"that recipient is a key '{name}' used before and gave up; a retired key is never used again",
                "make a fresh key with: confide keygen --out FILE",
            )
        if owner is not None:
            raise VaultStateError(
                f"that recipient already belongs to holder '{owner.name}'",
                "every holder needs their own key: have them run 'confide keygen' and send you the line it prints",
            )
        if _is_last_manager(settings, holders, target) and not new_identities:
            raise Denied(
                f"'{name}' is the last active manager: rotating to a key nobody has shown they hold could lock "
                "the vault's owners out",
                "prove the new key with --new-identity FILE (its secret half), or add another manager first",
            )
        old = target.recipient
        target.previous_recipients = list(target.previous_recipients) + [old]
        target.recipient = recipient

        changes, changed, commit = rekey_every_record(
            session, tx, actor, lambda rid: _rotate_record(session, rid, target, today),
            f"rotate key of {name}", "holder.rotate", name, progress,
        )
    result = AccessResult(name, commit, changed, sum(c.generations for c in changes), sum(c.wrapped for c in changes))
    result.notes.append(
        f"rotated '{name}' to the new key: {result.wrapped} copies re-wrapped in {len(changed)} record(s), "
        f"{result.generations} new key generation(s); the old key can no longer act or read anything written from now on"
    )
    result.warnings = [
        "git history keeps the copies wrapped for the old key: whoever has it and a clone can still read what "
        f"'{name}' could read before the rotation; if it was compromised, have the old blocks purged from history"
    ] + _warnings(session)
    return result


def _rotate_record(session: Session, rid: str, target: Holder, today: dt.date) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    change = RecordChange(rid, None)
    fresh = []
    for level in session.settings.levels:
        gens = _generations(env, level)
        if not any(target.name in k["wrapped"] for k in gens):
            continue
        for key in gens:
            if target.name in key["wrapped"]:
                secret = _unwrapped_secret(session, env, key, f"re-wrap '{target.name}''s copy in {rid}")
                key["wrapped"][target.name] = _wrap_secret(secret, env, key, target.recipient)
                change.wrapped += 1
        if target.name in gens[-1]["wrapped"]:
            fresh.append(level)
    for level in fresh:
        readers = set(env.current_key(level)["wrapped"]) | _readers(session, env.head, level, today)
        active = {n for n in readers if (h := session.holders.find(n)) is not None and h.active}
        _new_generation(session, env, level, active)
        change.generations += 1
    if change.wrapped:
        change.data = env.head_bytes()  # access changes never touch the entries file
    return change


# ---------------------------------------------------------------------------
# reports (plaintext heads only: no key needed)


def _level_report(vault: Vault, env: envelope.Envelope, level: str, today: dt.date) -> dict:
    settings, holders = vault.settings, vault.holders
    head = env.head
    cur = env.current_key(level)
    gens = _generations(env, level)
    readers = []
    for name in sorted(cur["wrapped"]):
        h = holders.find(name)
        row: dict = {"holder": name, "role": h.role if h else None, "status": h.status if h else "unknown"}
        reasons = policy.reasons_for(settings, holders, head, h, level, today) if h else []
        until = None
        for g in head.get("grants", []) or []:
            if g["holder"] == name and g["level"] == level:
                until = g.get("until")
                if not policy.grant_live(g, today):
                    reasons.append(f"expired grant (until {until}): ends at the next write or 'confide expire'")
        row["reasons"] = reasons or ["a copy with no reason in the policy: run 'confide verify'"]
        row["until"] = until
        row["generations"] = [k["generation"] for k in gens if name in k["wrapped"]]
        readers.append(row)
    grants = [dict(g) for g in head.get("grants", []) or [] if g["level"] == level]
    revoked = [dict(r) for r in head.get("revoked", []) or [] if r["level"] == level]
    return {"level": level, "generation": cur["generation"], "key": cur["id"], "readers": readers,
            "grants": grants, "revoked": revoked, "rekey_pending": level in (head.get("rekey") or [])}


def record_access(vault: Vault, record_id: str) -> dict:
    """Who can read which level of a record, and why (role, key person, grant, until)."""
    env = vault.envelope(record_id, entries=False)
    today = _today()
    return {"record": record_id, "key_person": env.head.get("key_person"),
            "levels": [_level_report(vault, env, lv, today) for lv in vault.settings.levels]}


def holder_access(vault: Vault, name: str, progress=None) -> dict:
    """What a holder can read: every record and level they hold a copy of the current generation of."""
    holder = vault.holders.get(name)
    today = _today()
    settings, holders = vault.settings, vault.holders

    def one(rid: str) -> Optional[dict]:
        env = vault.envelope(rid, entries=False)
        levels = []
        for level in settings.levels:
            gens = _generations(env, level)
            held = [k["generation"] for k in gens if name in k["wrapped"]]
            if not held:
                continue
            reasons = policy.reasons_for(settings, holders, env.head, holder, level, today)
            until = None
            for g in env.head.get("grants", []) or []:
                if g["holder"] == name and g["level"] == level:
                    until = g.get("until")
                    if not policy.grant_live(g, today):
                        reasons.append(f"expired grant (until {until}): ends at the next write or 'confide expire'")
            current = gens[-1]["generation"] in held
            if not current:
                reasons.append("older generations only: reads entries written before a later key change")
            levels.append({"level": level, "current": current, "generations": held,
                           "reasons": reasons or ["a copy with no reason in the policy: run 'confide verify'"],
                           "until": until})
        if not levels:
            return None
        return {"record": rid, "key_person": env.head.get("key_person") == name, "levels": levels}

    rows = [r for r in parallel.map_ordered(one, vault.record_ids(), progress=progress) if r is not None]
    return {"holder": name, "role": holder.role, "status": holder.status, "records": rows}


def load_new_identity(path: str) -> list[crypto.Identity]:
    """The identity file behind ``--new-identity`` (passphrase from CONFIDE_PASSPHRASE_FILE or the terminal)."""
    from vault_cli.services.vault import passphrase_from_env_or_terminal

    try:
        return crypto.load_identity_file(os.path.expanduser(path), passphrase_from_env_or_terminal)
    except IdentityProblem as exc:
        raise IdentityProblem("--new-identity: " + exc.message, *exc.hints) from None


__all__ = [
    "AccessResult", "grant", "revoke", "hand_over", "remove_holder", "rotate_holder", "record_access", "holder_access",
    "HISTORY_NOTE", "COMPROMISE_NOTE",
]
