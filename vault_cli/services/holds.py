"""``confide hold add|release|list``: legal holds, placed and lifted by those who may destroy records.

Each hold is one file, ``holds/<hold id>.yaml`` (``formats.holdfile``): its scope (a record, or every
record), reason, who and when are sealed for the holders whose role ``may`` "destroy"
(``model.policy``) and any recovery key, so nothing in the clear links a hold to a child's record.
Placing a hold writes the file, one commit; releasing it adds a sealed 'released' block to that
file, one commit; nothing else ever changes or removes it (``services.verify_holds`` checks that
in history). One file per hold, so two clones placing holds at once merge without a conflict.

The hold's content is sealed for the readers of the moment it is written. When they change (a manager
joins or leaves), the next manager to place or release a hold seals anew what their key opens, for
today's readers, in a commit of its own (``reseal_if_due``); until then a manager who joined later sees
that the earlier holds exist but not what they cover, and they count as covering every record
(``model.holds.held``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.errors import NotFound, UsageError
from vault_cli.formats import holdfile
from vault_cli.model import holds as model
from vault_cli.model import ids, policy, trail
from vault_cli.model.duty import Duty
from vault_cli.services.vault import Session
from vault_cli.services.writing import WriteResult, writing

PERMISSION, PLACE, RELEASE, RESEAL = model.PERMISSION, model.PLACE, model.RELEASE, model.RESEAL
HOLD_TRAILER = model.HOLD_TRAILER
readers = model.readers


def may_know(session: Session) -> bool:
    """May the caller be told of holds (in ``show`` and ``due``)? Those who place them."""
    return policy.may(session.settings, session.actor, PERMISSION)


def may_reseal(session: Session, actor) -> bool:
    """May ``actor`` write a ``hold.reseal`` commit (verify's rule: a role that may place holds, and write)?"""
    return policy.may(session.settings, actor, PERMISSION) and policy.may(session.settings, actor, "write")


def _hold_files(session: Session) -> list[str]:
    return [p for p in (f"{holdfile.HOLDS_DIR}/{n}" for n in sorted(session.vault.tree.list(holdfile.HOLDS_DIR)))
            if holdfile.id_of(p) is not None]


def load_all(session: Session) -> list[model.Hold]:
    """Every hold in the verified commit, opened as far as the caller's keys allow, oldest first where known."""
    out = []
    for path in _hold_files(session):  # any other file there is no hold (verify reports it)
        doc = holdfile.load(session.vault.read(path), path)
        placed = holdfile.open_block(doc, holdfile.PLACED, path, session.identities)
        released = holdfile.open_block(doc, holdfile.RELEASED, path, session.identities)
        h = model.Hold(id=doc["hold"], readable=placed is not None, released=holdfile.RELEASED in doc)
        if placed is not None:
            h.scope, h.reason, h.added_by, h.added_on = placed.get("scope"), placed.get("reason"), placed.get("by"), placed.get("on")
        if released is not None:
            h.released_by, h.released_on, h.release_reason = released.get("by"), released.get("on"), released.get("reason")
        out.append(h)
    # by the day placed; on one day a hold on every record first, then by record; unreadable ones last
    out.sort(key=lambda h: (h.added_on or "9999", h.scope != model.ALL, h.scope or "", h.id))
    return out


def _require(session: Session, doing: str) -> None:
    actor = session.require_actor()
    policy.require(session.settings, actor, PERMISSION, doing)


def _reason(text: Optional[str], required: bool) -> Optional[str]:
    try:
        return model.clean_reason(text, required=required)
    except ValueError as exc:
        raise UsageError(f"{exc}; nothing was changed", "give the reason with --from FILE, or leave it out to be asked") from None


def _sealed_as_now(block: dict, names: list[str], now: dict[str, str]) -> bool:
    """Is ``block`` sealed for today's readers: their names, and (as far as its header shows: an ssh-ed25519
    stanza carries a tag of its key, an X25519 one none) their keys of today?"""
    if block.get("for") != names:
        return False
    have = crypto.stanza_keys(block.get("data") or "")
    return have is None or have == sorted(crypto.recipient_key(now[n]) for n in names)


def reseal_if_due(session: Session, tx, actor, *, rotated: Iterable[str] = ()) -> Optional[str]:
    """Holds sealed for other readers than those of the moment (a manager joined, left or rotated their key
    since): the next manager to place or release a hold seals anew every block their key opens, for today's
    readers, in a commit of its own (``hold.reseal``; a key rotation carries its own: ``resealed``; the
    content stays byte for byte the same, which a verifier whose key opens both checks). Blocks their key
    does not open stay as they are. ``rotated``: holders whose key just changed (an age X25519 stanza does not
    show whose key it is, so their blocks are sealed anew whatever the header says). Returns the commit, or None."""
    files = resealed(session, rotated=rotated)
    if not files:
        return None
    for path, data in files.items():
        tx.write(path, data)
    commit = tx.commit(trail.message(f"reseal {len(files)} legal hold(s) for today's managers", RESEAL, actor.name),
                       actor.name)
    tx.files.clear()
    tx.removed.clear()
    return commit


def resealed(session: Session, *, rotated: Iterable[str] = ()) -> dict[str, bytes]:
    """{path: new bytes} of the hold files with a block due for sealing anew that the caller's key opens
    (``reseal_if_due``), each sealed for today's readers and keys; what they say is unchanged."""
    now = readers(session.settings, session.holders)
    names = sorted(now)
    changed_keys = set(rotated)
    out: dict[str, bytes] = {}
    for path in _hold_files(session):
        doc = holdfile.load(session.vault.read(path), path)
        touched = False
        for part in (holdfile.PLACED, holdfile.RELEASED):
            if part not in doc or (_sealed_as_now(doc[part], names, now) and not changed_keys & set(names)):
                continue
            fields = holdfile.open_block(doc, part, path, session.identities)
            if fields is None:
                continue  # sealed for other managers: one of them will, at their next hold command
            fields.pop("format", None)
            fields.pop("hold", None)
            doc[part] = holdfile.seal(doc["hold"], part, fields, now)
            touched = True
        if touched:
            out[path] = holdfile.dump(doc)
    return out


def add_hold(session: Session, record_id: Optional[str], *, all_records: bool, reason: Optional[str]) -> WriteResult:
    """Place a hold on one record or (``all_records``) on every record. One commit, naming only the hold."""
    if all_records == (record_id is not None):
        raise UsageError("name one record, or give --all for every record (not both)",
                         "confide hold add RECORD, or confide hold add --all")
    text = _reason(reason, required=True)
    _require(session, "place a legal hold")
    if record_id is not None:
        session.vault.check_record_id(record_id)
    scope = model.ALL if all_records else record_id
    with writing(session) as (tx, actor):
        policy.require(session.settings, actor, PERMISSION, "place a legal hold")
        same = [h for h in load_all(session) if not h.released and h.readable and h.scope == scope]
        if same:  # refused before anything is written, a reseal included
            raise UsageError(f"{'every record' if scope == model.ALL else 'that record'} is already under hold "
                             f"{same[0].id}; nothing was changed", "see the holds with: confide hold list")
        reseal_if_due(session, tx, actor)
        hid = ids.new_hold_id()
        fields = {"scope": scope, "reason": text, "by": actor.name, "on": session.clock.today().isoformat()}
        doc = {"format": holdfile.FORMAT, "hold": hid,
               holdfile.PLACED: holdfile.seal(hid, holdfile.PLACED, fields, readers(session.settings, session.holders))}
        tx.write(holdfile.path_of(hid), holdfile.dump(doc))
        commit = tx.commit(trail.message(f"place legal hold {hid}", PLACE, actor.name, extra={HOLD_TRAILER: hid}),
                           actor.name)
    return WriteResult(hid, commit)


def release_hold(session: Session, hold_id: str, *, reason: Optional[str]) -> WriteResult:
    """Release an open hold (the reason is optional). One commit, naming only the hold."""
    if not model.HOLD_RE.fullmatch(hold_id or ""):
        raise NotFound("that is not a hold id", "hold ids look like h-3f9a0c1b2d4e; see them with: confide hold list")
    text = _reason(reason, required=False)
    _require(session, "release a legal hold")
    with writing(session) as (tx, actor):
        policy.require(session.settings, actor, PERMISSION, "release a legal hold")
        path = holdfile.path_of(hold_id)
        try:
            doc = holdfile.load(session.vault.read(path), path)
        except FileNotFoundError:
            raise NotFound(f"no hold {hold_id} in this vault", "see the holds with: confide hold list") from None
        if holdfile.RELEASED in doc:  # refused before anything is written, a reseal included
            raise UsageError(f"hold {hold_id} is already released; nothing was changed",
                             "see the holds with: confide hold list --all")
        if reseal_if_due(session, tx, actor) is not None:
            doc = holdfile.load(session.vault.read(path), path)  # this hold's 'placed' block may be sealed anew
        blind = holdfile.open_block(doc, holdfile.PLACED, path, session.identities) is None
        fields = {"reason": text, "by": actor.name, "on": session.clock.today().isoformat()}
        doc[holdfile.RELEASED] = holdfile.seal(hold_id, holdfile.RELEASED, fields,
                                               readers(session.settings, session.holders))
        tx.write(path, holdfile.dump(doc))
        commit = tx.commit(trail.message(f"release legal hold {hold_id}", RELEASE, actor.name,
                                         extra={HOLD_TRAILER: hold_id}), actor.name)
    warnings = [f"hold {hold_id} was sealed before your key could read holds, so you released it without seeing "
                "what it covered or why; make sure that was meant (a manager who placed it can tell you)"] if blind else []
    return WriteResult(hold_id, commit, warnings)


def list_holds(session: Session, *, include_released: bool = False) -> list[model.Hold]:
    """Open holds (and released ones with ``include_released``), for those who may place them."""
    _require(session, "see the legal holds")
    return [h for h in load_all(session) if include_released or not h.released]


def holds_on(session: Session, record_id: str) -> Optional[list[model.Hold]]:
    """The open holds covering a record, for ``show``; None when the caller may not know of holds."""
    if not may_know(session):
        return None
    return model.held(record_id, load_all(session))


def due_items(session: Session) -> list[Duty]:
    """``due``'s lines for open holds, for those who may know of them (nobody else is told)."""
    if not may_know(session):
        return []
    out = []
    for h in load_all(session):
        if h.released:
            continue
        since = f" since {h.added_on}" if h.added_on else ""
        if not h.readable:
            what = "a legal hold sealed for other managers: count every record as held (nothing may be destroyed or erased)"
            record = None
        elif h.scope == model.ALL:
            what = f"legal hold on every record{since}: nothing may be destroyed or erased"
            record = None
        else:
            what = f"legal hold{since}: this record may not be destroyed or erased"
            record = h.scope
        out.append(Duty(kind="legal-hold", record=record, item=h.id, due=None, days_left=None, what=what))
    return out


def held_on(session: Session, record_id: str, on: Optional[dt.date] = None) -> list[model.Hold]:
    """What the destroy and erase commands (not built yet) will ask before they act: the holds that stop it.
    Counts holds the caller cannot read (``model.holds.held``)."""
    return model.held(record_id, load_all(session), on)


__all__ = ["readers", "may_know", "load_all", "add_hold", "release_hold", "list_holds", "holds_on", "due_items",
           "held_on", "reseal_if_due", "resealed", "may_reseal", "PLACE", "RELEASE", "RESEAL", "HOLD_TRAILER", "PERMISSION"]
