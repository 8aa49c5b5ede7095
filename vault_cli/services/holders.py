"""Key holders: add, remove (a leaver), rotate a key, declare a signing key, list.

A holder who leaves is revoked from every level of every record and kept in
holders.yaml as removed, so the history still makes sense; a rotation re-wraps
the holder's copies for their new key and starts fresh generations wherever the
old key could read the current one. Each change that touches every record runs
over every core and commits once (``services.keys.rekey_every_record``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.errors import Denied, IdentityProblem, NotFound, UsageError, VaultStateError
from vault_cli.formats import envelope
from vault_cli.model import ids, policy, trail
from vault_cli.model.holders import HOLDERS_FILE, STAFF_DETAILS, Holder, Holders
from vault_cli.services import staff
from vault_cli.services.keys import (
    COMPROMISE_NOTE,
    HISTORY_NOTE,
    AccessResult,
    RecordChange,
    check_no_lockout,
    drop_copies,
    generations,
    is_last_manager,
    new_generation,
    readers_of,
    rekey_every_record,
    unwrapped_secret,
    wrap_secret,
)
from vault_cli.services.vault import Session, Vault
from vault_cli.services.writing import WriteResult, warnings_for_vault, writing

NEW_IDENTITY = "new identity file"  # a field, as errors name it (the command line: --new-identity)


def check_holder_name(name: str) -> str:
    if not ids.HOLDER_RE.fullmatch(name or ""):
        raise UsageError(
            f"'{name[:40]}' is not a valid holder name",
            "holder names are lower case, start with a letter, and use letters, digits, '.', '_' or '-' (e.g. amira, ben.s)",
        )
    return name


def list_holders(vault: Vault, identities: Optional[list[crypto.Identity]] = None) -> list[dict]:
    """Each holder as holders.yaml has them, with their staff details opened where ``identities`` may
    (None where not: ``sealed_details`` lists what stays sealed to this caller), never the sealed blocks."""
    holders = vault.holders
    staff.open_details(holders, identities or [])
    rows = []
    for h in holders.all:
        row = {k: v for k, v in h.to_dict().items() if k not in STAFF_DETAILS}
        row["display_name"] = h.display_name
        if h.status == "removed":
            row["removed_reason"] = h.removed_reason
        row["sealed_details"] = staff.unread_details(holders, h)
        rows.append(row)
    return rows


def _rewrap_record(session: Session, record_id: str, new_holder: str, recipient: str, levels: tuple[str, ...]) -> Optional[bytes]:
    env = session.vault.envelope(record_id, entries=False)
    keys = env.level_keys
    for key in env.keys:
        if key.level not in levels or key.holds(new_holder):
            continue
        ident = session.level_identity(env, key.id)
        if ident is None:
            raise Denied(
                f"you hold no copy of the {key.level} key of {record_id}, so you cannot give it to '{new_holder}'",
                "a manager who reads every level must run this command",
            )
        secret = ident.secret()
        keys = keys.replace(key.with_copy(new_holder, envelope.wrap_level_key(secret, record=record_id, key=key,
                                                                              holder_recipient=recipient)))
    if keys is env.level_keys:
        return None
    env.level_keys = keys
    return env.head_bytes()


DISPLAY_NAME = "display name"  # the field, as errors name it


def clean_display_name(text: Optional[str]) -> Optional[str]:
    """How a parent's copy names a holder: one line, printable, at most 100 characters; empty: none."""
    if text is None or not text.strip():
        return None
    text = " ".join(text.split())
    if len(text) > 100 or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UsageError("{0} must be one printable line of at most 100 characters", "for example: {0} \"Sam Taylor\"",
                         fields=(DISPLAY_NAME,))
    return text


def add_holder(session: Session, name: str, *, role: str, recipient: str, progress=None,
               signing_key: Optional[str] = None, display_name: Optional[str] = None) -> WriteResult:
    check_holder_name(name)
    display_name = clean_display_name(display_name)
    if signing_key is not None:
        from vault_cli.adapters.signing import normalise_signing_key

        signing_key = normalise_signing_key(signing_key)
    session.settings.role(role)
    recipient = crypto.normalise_recipient(recipient)
    writes = "write" in session.settings.roles[role].may
    if signing_key is None and writes and recipient.startswith(crypto.SSH_ED25519 + " "):
        signing_key = recipient  # one key that reads and signs, as 'confide keygen' makes
    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        policy.require_holder_manager(settings, actor)
        if signing_key is None and writes and policy.signatures_required(settings, holders):
            raise UsageError(
                f"this vault requires signed commits, and a {role} writes: '{name}' needs a signing key",
                "give the line their 'confide keygen' printed (ssh-ed25519 AAAA...) as {0}, "
                "or add {1} \"ssh-ed25519 AAAA...\"",
                fields=("recipient", "signing key"),
            )
        if holders.find(name) is not None:
            raise VaultStateError(f"a holder named '{name}' already exists", "choose another name; see them with: confide holder list")
        owner = holders.recipient_owner(recipient)
        if owner is not None:
            raise VaultStateError(
                f"that recipient already belongs to holder '{owner.name}'",
                "every holder needs their own key: have them run 'confide keygen' and send you the line it prints",
            )
        for h in holders.all:
            if signing_key and signing_key in [h.signing_key] + [k["key"] for k in h.previous_signing_keys]:
                raise VaultStateError(f"that signing key already belongs to holder '{h.name}'",
                                      "every holder signs with their own key: ssh-keygen -t ed25519")
        today = session.clock.today().isoformat()
        holders.all.append(Holder(name=name, role=role, recipient=recipient, status="active", added=today, added_by=actor.name,
                                  signing_key=signing_key, display_name=display_name))
        levels = tuple(lv for lv in settings.levels if policy.may_level(settings, holders.get(name), "reads", lv))

        _, _, commit = rekey_every_record(
            session, tx, actor, lambda rid: RecordChange(rid, _rewrap_record(session, rid, name, recipient, levels)),
            f"add holder {name} ({role})", "holder.add", name, progress, record_ids=None if levels else [],
        )
    return WriteResult(name, commit, warnings_for_vault(session))


def set_signing_key(session, name: str, key: str):
    """Declare (or replace) a holder's SSH signing key; managers only. One commit."""
    from vault_cli.adapters.signing import fingerprint, normalise_signing_key, parse_public_key

    key = normalise_signing_key(key)
    with writing(session) as (tx, actor):
        policy.require_holder_manager(session.settings, actor)
        holders = session.holders
        target = holders.get(name)
        if not target.active:
            raise VaultStateError(f"holder '{name}' has been removed", "only active holders sign commits")
        blob = parse_public_key(key)
        if target.signing_key and parse_public_key(target.signing_key) == blob:
            raise UsageError(f"holder '{name}' already has that signing key", "nothing was changed")
        for h in holders.all:
            keys = [h.signing_key] + [k["key"] for k in (h.previous_signing_keys or [])] + [
                r for r in [h.recipient, *h.previous_recipients] if r.startswith("ssh-")]
            if h is target and target.recipient.startswith("ssh-") and parse_public_key(target.recipient) == blob:
                continue  # the ssh key they read with also signs
            if any(k and parse_public_key(k) == blob for k in keys):
                raise VaultStateError(
                    f"that signing key is one '{name}' used before; a key is never used again once replaced"
                    if h is target else f"that signing key belongs to holder '{h.name}'",
                    "every holder signs with their own key: have them run 'confide keygen' and send you the line it prints",
                )
        if target.signing_key:
            target.previous_signing_keys = list(target.previous_signing_keys or []) + [
                {"key": target.signing_key, "until": session.clock.today().isoformat()}
            ]
        target.signing_key = key
        tx.write(HOLDERS_FILE, staff.dump(session.settings, holders, session.identities))
        commit = tx.commit(
            trail.message(f"set signing key of {name}", "holder.signing-key", actor.name, subject_holder=name,
                          extra={"Confide-Key": fingerprint(key)}),
            actor.name,
        )
    return WriteResult(name, commit, warnings_for_vault(session))


def set_display_name(session: Session, name: str, display_name: Optional[str]) -> WriteResult:
    """Set (or, given nothing, clear) how a parent's copy names a holder; managers only. One commit."""
    display_name = clean_display_name(display_name)
    with writing(session) as (tx, actor):
        policy.require_holder_manager(session.settings, actor)
        holders = session.holders
        target = holders.get(name)
        staff.open_details(holders, session.identities)
        if target.display_name == display_name:
            raise UsageError(f"holder '{name}' already has that display name", "nothing was changed")
        target.set_detail("display_name", display_name)
        tx.write(HOLDERS_FILE, staff.dump(session.settings, holders, session.identities))
        commit = tx.commit(trail.message(f"set display name of {name}", "holder.display-name", actor.name,
                                         subject_holder=name), actor.name)
    return WriteResult(name, commit, warnings_for_vault(session))


# ---------------------------------------------------------------------------
# leavers


def remove_holder(session: Session, name: str, *, reason: str, progress=None) -> AccessResult:
    """A leaver: revoked from every level of every record, kept in holders.yaml as removed."""
    if reason is None or not reason.strip():
        raise UsageError("removing a holder needs a reason", "for example: {0} \"left the setting 2026-11-30\"",
                         fields=("reason",))
    reason = reason.strip()
    if len(reason) > 500 or "\n" in reason:
        raise UsageError("{0} must be one line of at most 500 characters", "keep it short; never name a child",
                         fields=("reason",))
    today = session.clock.today()

    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        policy.require_holder_manager(settings, actor)
        target = holders.get(name)
        if not target.active:
            return AccessResult(name, None, notes=[f"'{name}' was already removed on {target.removed}; nothing was committed"])
        if is_last_manager(settings, holders, target):
            raise Denied(
                f"'{name}' is the last active manager: removing them would lock the vault's owners out",
                "add another manager first (confide holder add NAME --role manager --recipient age1...)",
            )
        target.status = "removed"
        target.removed = today.isoformat()
        target.removed_by = actor.name
        target.set_detail("removed_reason", reason)

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
    result.warnings = [HISTORY_NOTE, COMPROMISE_NOTE] + result.warnings + warnings_for_vault(session)
    return result


def _remove_from_record(session: Session, rid: str, target: Holder, today: dt.date) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    head = env.head
    change = RecordChange(rid, None)
    dirty = False
    grants = env.grants
    kept = tuple(g for g in grants if g.holder != target.name)
    if len(kept) != len(grants):
        env.grants = kept
        dirty = True
    revoked = env.revocations
    if any(r.holder == target.name for r in revoked):
        env.revocations = tuple(r for r in revoked if r.holder != target.name)
        dirty = True
    if head.get("key_person") == target.name:
        head["key_person"] = None
        change.notes.append("key person cleared")
        dirty = True
    touched = []
    for level in session.settings.levels:
        if drop_copies(env, level, [target.name]):
            new_generation(session, env, level, readers_of(session, head, level, today) - {target.name})
            change.generations += 1
            touched.append(level)
            dirty = True
    if dirty:
        check_no_lockout(session, env, touched)
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
    signing_key: Optional[str] = None,
    progress=None,
) -> AccessResult:
    """Move a holder to a new key: their copies re-wrapped for it, fresh generations for what comes next.

    The old key can no longer act, and cannot read anything written after the
    rotation: a holder who signs gets a new signing key in the same commit (the
    new ssh-ed25519 recipient, which both reads and signs, or ``signing_key``),
    since a lost laptop holds both. ``new_identities`` (from ``--new-identity
    FILE``) proves the new key is held; it is required to rotate the last active
    manager, since a wrong recipient there would lock every manager out for good.
    """
    if signing_key is not None:
        from vault_cli.adapters.signing import normalise_signing_key

        signing_key = normalise_signing_key(signing_key)
    if recipient is None and not new_identities:
        raise UsageError("give the new key", "{0} age1... (or ssh-ed25519 ...), or {1} FILE",
                         fields=("recipient", NEW_IDENTITY))
    if recipient is not None:
        recipient = crypto.normalise_recipient(recipient)
    if new_identities:
        recipients = [i.recipient for i in new_identities]
        if recipient is None:
            recipient = recipients[0]
        elif recipient not in recipients:
            raise UsageError("{0} is not the secret half of {1}", "give the identity file that goes with the recipient",
                             fields=(NEW_IDENTITY, "recipient"))
    assert recipient is not None
    today = session.clock.today()

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
        if is_last_manager(settings, holders, target) and not new_identities:
            raise Denied(
                f"'{name}' is the last active manager: rotating to a key nobody has shown they hold could lock "
                "the vault's owners out",
                "prove the new key with {0} FILE (its secret half), or add another manager first",
                fields=(NEW_IDENTITY,),
            )
        new_signing = _new_signing_key(settings, holders, target, recipient, signing_key)
        old = target.recipient
        target.previous_recipients = list(target.previous_recipients) + [old]
        target.recipient = recipient
        if new_signing is not None:
            if target.signing_key:
                target.previous_signing_keys = list(target.previous_signing_keys or []) + [
                    {"key": target.signing_key, "until": today.isoformat()}]
            target.signing_key = new_signing

        # Legal holds are sealed to their readers' keys: the rotation commit also seals anew for the new key the
        # holds the actor's key opens (verify_holds accepts that in a rotation, for the readers after it), when
        # the actor's role may place holds; else another manager's next hold command does (``holds.resealed``).
        from vault_cli.services import holds

        if holds.may_reseal(session, actor):
            for path, data in holds.resealed(session, rotated=(name,)).items():
                tx.write(path, data)
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
    ] + warnings_for_vault(session)
    return result


def _new_signing_key(settings, holders: Holders, target: Holder, recipient: str, given: Optional[str]) -> Optional[str]:
    """The signing key a rotation gives ``target`` (None: they sign with nothing, and need not)."""
    from vault_cli.adapters.signing import parse_public_key

    signs = bool(target.signing_key) or (policy.may(settings, target, "write") and policy.signatures_required(settings, holders))
    key = given or (recipient if signs and recipient.startswith(crypto.SSH_ED25519 + " ") else None)
    if key is None:
        if signs:
            raise UsageError(
                f"'{target.name}' also signs commits, and a lost or stolen key signs as them as well as reads: the "
                "rotation replaces both",
                "rotate to the ssh-ed25519 line their 'confide keygen' printed (it reads and signs), or add "
                "{0} \"ssh-ed25519 AAAA...\"",
                fields=("signing key",),
            )
        return None
    blob = parse_public_key(key)
    for h in holders.all:
        for k in [h.signing_key, h.recipient, *[x["key"] for x in h.previous_signing_keys or []], *h.previous_recipients]:
            if k and k.startswith(crypto.SSH_ED25519 + " ") and parse_public_key(k) == blob:
                raise VaultStateError(
                    f"that signing key is one '{h.name}' uses or used before; a key is never used again once replaced"
                    if h is target else f"that signing key belongs to holder '{h.name}'",
                    "make a fresh key with: confide keygen --out FILE",
                )
    return key


def _rotate_record(session: Session, rid: str, target: Holder, today: dt.date) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    change = RecordChange(rid, None)
    fresh = []
    keys = env.level_keys
    for level in session.settings.levels:
        gens = generations(env, level)
        if not any(k.holds(target.name) for k in gens):
            continue
        for key in gens:
            if key.holds(target.name):
                secret = unwrapped_secret(session, env, key, f"re-wrap '{target.name}''s copy in {rid}")
                keys = keys.replace(key.with_copy(target.name, wrap_secret(secret, env, key, target.recipient)))
                change.wrapped += 1
        if gens[-1].holds(target.name):
            fresh.append(level)
    if change.wrapped:
        env.level_keys = keys
    for level in fresh:
        readers = set(env.current_key(level).holders) | readers_of(session, env.head, level, today)
        active = {n for n in readers if (h := session.holders.find(n)) is not None and h.active}
        new_generation(session, env, level, active)
        change.generations += 1
    if change.wrapped:
        change.data = env.head_bytes()  # access changes never touch the entries file
    return change


def load_new_identity(path: str, passphrase: Optional[Callable[[str], Optional[str]]] = None) -> list[crypto.Identity]:
    """The identity file behind ``--new-identity`` (``passphrase`` asks for its passphrase, if it has one)."""
    try:
        return crypto.load_identity_file(os.path.expanduser(path), passphrase)
    except IdentityProblem as exc:
        slot = "{" + str(len(exc.fields)) + "}"  # the next field's place
        raise IdentityProblem(slot + ": " + exc.template, *exc.hint_templates, fields=exc.fields + (NEW_IDENTITY,)) from None


__all__ = ["check_holder_name", "list_holders", "add_holder", "set_signing_key", "remove_holder", "rotate_holder",
           "load_new_identity"]
