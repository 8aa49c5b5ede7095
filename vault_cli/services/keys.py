"""Level keys: the machinery every access change uses, and that only it uses.

Every level of a record has a level key, one age identity per *generation*; its
secret half is wrapped once per reader. Access changes only ever change record
*heads* (grants, revocations, level keys) and carry the entries over byte for
byte (``Envelope.read(entries=False)``), so they cost O(records touched), never
O(entries): no entry is ever re-encrypted.

- a copy of every generation is wrapped for a new reader (they read the past too);
  the actor must be able to unwrap each: a level you cannot read, you cannot give;
- a reader's copies are dropped from every generation, and a new generation,
  wrapped for the remaining readers only, is started for what is written next;
  whoever makes a key knows its secret, so only a holder who reads the level
  makes one (``policy.may_make_key``); anyone else marks the level ``rekey``;
- lock-outs are refused: no generation of a touched level may be left without an
  active reader, nor without an active reader who may grant it again.

Whole-vault changes run over every core (``map_records``), and have git store their new
heads as one pack (see ``map_records``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from vault_cli.adapters import parallel
from vault_cli.adapters.store import Transaction
from vault_cli.errors import Denied, NotFound, UsageError
from vault_cli.formats import envelope
from vault_cli.model import policy, trail
from vault_cli.model.holders import HOLDERS_FILE, Holder, Holders
from vault_cli.model.levels import LevelKey, LevelKeys
from vault_cli.model.settings import Settings
from vault_cli.services import staff
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
    generations: int = 0
    wrapped: int = 0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# small helpers


def levels_given(settings: Settings, given: Optional[Sequence[str]], *, default_all: bool) -> list[str]:
    if not given:
        if default_all:
            return list(settings.levels)
        raise UsageError("which level?", "give {0} general, confidential or safeguarding (repeat it for several)",
                         fields=("level",))
    out: list[str] = []
    for lv in given:
        settings.check_level(lv)
        if lv not in out:
            out.append(lv)
    return [lv for lv in settings.levels if lv in out]


def scope(vault: Vault, record: Optional[str], all_records: bool) -> list[str]:
    if (record is None) == (not all_records):
        raise UsageError("say which records: {0} RECORD or {1}", "one of them, not both",
                         fields=("child's record", "every record"))
    if record is not None:
        vault.check_record_id(record)
        return [record]
    return vault.record_ids()


def active_target(holders: Holders, name: str, doing: str) -> Holder:
    holder = holders.find(name)
    if holder is None:
        raise NotFound(f"no holder named '{name}' to {doing}", "list them with: confide holder list")
    if not holder.active:
        raise NotFound(
            f"holder '{name}' was removed on {holder.removed or 'an earlier date'} and can be given nothing",
            "a returning member of staff is added again under a new name with a new key: confide holder add",
        )
    return holder


def is_last_manager(settings: Settings, holders: Holders, holder: Holder) -> bool:
    managers = policy.managers(settings, holders)
    return len(managers) == 1 and managers[0].name == holder.name


def require_may_change(settings: Settings, actor: Holder, levels: Iterable[str], doing: str) -> None:
    for level in levels:
        policy.require_level(settings, actor, "grants", level, f"{doing} the {level} level")


def generations(env: envelope.Envelope, level: str) -> tuple[LevelKey, ...]:
    return env.level_keys.of_level(level)


def wrap_secret(secret: str, env: envelope.Envelope, key: LevelKey, recipient: str) -> str:
    return envelope.wrap_level_key(secret, record=env.record, key=key, holder_recipient=recipient)


def unwrapped_secret(session: Session, env: envelope.Envelope, key: LevelKey, doing: str) -> str:
    ident = session.level_identity(env, key.id)
    if ident is None:
        raise Denied(
            f"you hold no copy of generation {key.generation} of the {key.level} key of {env.record}, "
            f"so you cannot {doing}: to give a level you must be able to read it",
            "a manager who reads that level of the record must run this command",
        )
    return ident.secret()


def with_copies_for(session: Session, env: envelope.Envelope, keys: LevelKeys, level: str, holder: Holder,
                    doing: str) -> tuple[LevelKeys, int]:
    """``keys`` with a copy of every generation of ``level`` the holder lacks wrapped for them, and how many."""
    n = 0
    for key in keys.of_level(level):
        if key.holds(holder.name):
            continue
        secret = unwrapped_secret(session, env, key, doing)
        keys = keys.replace(key.with_copy(holder.name, wrap_secret(secret, env, key, holder.recipient)))
        n += 1
    return keys, n


def wrap_all_generations(session: Session, env: envelope.Envelope, level: str, holder: Holder, doing: str) -> int:
    """Give a holder a copy of every generation of a level they lack. Returns copies made."""
    keys, n = with_copies_for(session, env, env.level_keys, level, holder, doing)
    if n:
        env.level_keys = keys
    return n


def drop_copies(env: envelope.Envelope, level: str, names: Iterable[str]) -> bool:
    """Drop ``names``' copies of every generation of ``level``; False when they held none."""
    names = set(names)
    keys = env.level_keys
    if not any(k.level == level and not names.isdisjoint(k.holders) for k in keys):
        return False
    env.level_keys = keys.without(level, names)
    return True


def new_generation(session: Session, env: envelope.Envelope, level: str, readers: Iterable[str]) -> Optional[LevelKey]:
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
        env.mark_rekey(level)
        return None
    keys = env.level_keys
    key, secret = envelope.new_generation_key(keys.ids, level, max(k.generation for k in keys.of_level(level)) + 1)
    for name in readers:
        key = key.with_copy(name, wrap_secret(secret, env, key, session.holders.get(name).recipient))
    env.level_keys = keys.with_next(key)
    env.clear_rekey(level)
    return key


def readers_of(session: Session, head: dict, level: str, today: dt.date) -> set[str]:
    return policy.readers_for(session.settings, session.holders, head, level, today)


def reads_without_grants(session: Session, head: dict, name: str, level: str, today: dt.date) -> bool:
    probe = dict(head)
    probe["grants"] = []
    return name in readers_of(session, probe, level, today)


def check_no_lockout(session: Session, env: envelope.Envelope, levels: Iterable[str], *, need_grantor: bool = True) -> None:
    """Every generation of every touched level keeps an active reader, and one who may grant it again."""
    settings, holders = session.settings, session.holders
    for level in levels:
        for key in generations(env, level):
            active = [h for h in (holders.find(n) for n in key.holders) if h is not None and h.active]
            if not active:
                raise Denied(
                    f"that would leave generation {key.generation} of the {level} level of {env.record} "
                    "with no reader who is an active holder: what was written under it would be lost",
                    "nothing was changed; keep at least one manager able to read every level",
                )
            if need_grantor and not any(policy.may_grant(settings, h, level) for h in active):
                raise Denied(
                    f"that would leave the {level} level of {env.record} with no reader who may grant it "
                    "(a manager, or a DSL for safeguarding): nobody could ever give it to anyone again",
                    "nothing was changed; keep at least one manager able to read every level",
                )


def write_changes(session: Session, tx: Transaction, changes: Sequence[RecordChange]) -> list[str]:
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
    changes = map_records(one, ids, progress, session.vault)
    changed = write_changes(session, tx, changes)
    tx.write(HOLDERS_FILE, staff.dump(session.settings, session.holders, session.identities,
                                      rotated=(holder,) if action == "holder.rotate" else ()))
    commit = tx.commit(
        trail.message(subject, action, actor.name, subject_holder=holder, extra={"Confide-Records": str(len(changed))}),
        actor.name,
    )
    return changes, changed, commit


def map_records(fn: Callable[[str], RecordChange], record_ids: Sequence[str], progress, vault: Optional[Vault] = None) -> list[RecordChange]:
    """Run ``fn`` over records on every core; with ``vault``, store the new files in git as one pack.

    Bulk commands rewrite up to every record head. Rather than have ``git commit`` write
    each as a loose object, git stores them as one pack (``Git.store_blobs``, ``git
    fast-import``) on a thread of its own while the command writes the working tree;
    ``git commit`` then finds every blob stored. An object no commit ends up using (the
    command failed) is ordinary garbage for ``git gc``; it holds only ciphertext.
    """
    processes = vault.config.workers if vault is not None else None
    changes = list(parallel.map_ordered(fn, record_ids, progress=progress, processes=processes))
    if vault is not None and len(record_ids) >= parallel.THRESHOLD:
        vault.git.store_blobs_later([c.data for c in changes if c.data is not None])
    return changes


__all__ = ["HISTORY_NOTE", "COMPROMISE_NOTE", "AccessResult", "RecordChange", "levels_given", "scope",
           "active_target", "is_last_manager", "require_may_change", "generations", "wrap_secret",
           "unwrapped_secret", "with_copies_for", "wrap_all_generations", "drop_copies", "new_generation", "readers_of",
           "reads_without_grants", "check_no_lockout", "write_changes", "rekey_every_record", "map_records"]
