"""Keeping access current before every write: grants past their end, and pending re-keys.

Two things are due from time to time and are applied by the next write
(``writing.writing``, inside the lock, in a commit of their own before the
command's own):

- **expiry**: a grant whose ``--until`` day has passed. Its holder's copies of
  that level key are dropped, and a new generation of the key, which they do
  not get, is started for everything written afterwards;
- **pending re-keys**: whoever makes a key knows its secret, so only a holder
  who reads a level starts a new generation of its key (``policy.may_make_key``).
  When the writer does not read the level (a practitioner applying an expiry to
  a safeguarding grant, a record made by someone who is not its key person, a
  merge that dropped a copy), the head records the level under ``rekey`` instead,
  and the next write by a holder who reads it starts the new generation.

Finding what is due must not mean reading every record on every write. Each
clone keeps a cache, ``.git/confide-expiry.json``: the commit it describes, the
earliest ``until`` date of any grant there, and the records with a pending
re-key. Before every write it is checked against the verified commit; only when
HEAD moved outside confide (a sync, a pull) is it brought up to date, from the
records that changed (``git diff``) or, failing that, one ``git grep`` over the
commit's record heads (C, no YAML parsing). After each confide commit the cache
moves to the new commit by looking only at the files that commit wrote. Only
the records that are due are read, and only those a change applies to are
written. The cache holds no child data and can be deleted at any time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Optional

from vault_cli.adapters.store import Transaction
from vault_cli.formats import envelope
from vault_cli.model import policy, trail
from vault_cli.model.holders import Holder
from vault_cli.services.keys import (
    AccessResult,
    RecordChange,
    check_no_lockout,
    drop_copies,
    map_records,
    new_generation,
    readers_of,
    write_changes,
)
from vault_cli.services.vault import Session, Vault

EXPIRY_CACHE = "confide-expiry.json"
_UNTIL_RE = re.compile(rb"^  until: '?([0-9]{4}-[0-9]{2}-[0-9]{2})'?\s*$", re.M)
_REKEY_RE = re.compile(rb"^rekey:", re.M)


def _cache_path(vault: Vault) -> Path:
    return vault.root / ".git" / EXPIRY_CACHE


def _read_cache(vault: Vault) -> Optional[dict]:
    try:
        data = json.loads(_cache_path(vault).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("head"), str) or not isinstance(data.get("rekey"), list):
        return None
    return data


def _write_cache(vault: Vault, head: Optional[str], earliest: Optional[str], rekey) -> None:
    path = _cache_path(vault)
    tmp = path.with_name(path.name + f".{os.getpid()}")
    try:
        tmp.write_text(json.dumps({"head": head, "earliest": earliest, "rekey": sorted(rekey)}))
        os.replace(tmp, path)
    except OSError:  # a cache: failing to keep it only costs a rescan
        tmp.unlink(missing_ok=True)


def _changed_heads(vault: Vault, old: Optional[str], new: Optional[str]) -> Optional[list[str]]:
    """Record heads that differ between two commits, or None when that cannot be told cheaply."""
    if not old or not new:
        return None
    proc = vault.git.run("diff", "--name-only", "-z", "--no-renames", old, new, "--", "records", check=False)
    if proc.returncode != 0:  # the old commit is gone (rewritten history): rescan
        return None
    paths = [p for p in proc.stdout.decode("utf-8", "replace").split("\0") if (envelope.record_of(p) or ("", ""))[1] == "head"]
    return paths if len(paths) <= 500 else None


def _scan(vault: Vault, paths: Optional[list[str]] = None) -> tuple[dict[str, list[str]], set[str]]:
    """Grant end dates and pending re-keys by record, in the verified commit (of every head, or of
    ``paths``): one ``git grep``, no YAML parsing."""
    if paths is not None and not paths:
        return {}, set()
    commit = vault.commit
    proc = vault.git.run("grep", "-I", "-n", "-E", "-e", "^  until: '?[0-9]{4}-[0-9]{2}-[0-9]{2}", "-e", "^rekey:", commit,
                         "--", *(paths if paths is not None else ["records", f":(exclude)records/*{envelope.ENTRIES_SUFFIX}"]),
                         check=False)
    untils: dict[str, list[str]] = {}
    rekey: set[str] = set()
    prefix = commit + ":"
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith(prefix):
            line = line[len(prefix):]
        path, _, rest = line.partition(":")
        _, _, text = rest.partition(":")
        part = envelope.record_of(path)
        if not part or part[1] != "head":
            continue
        if text.startswith("rekey:"):
            rekey.add(part[0])
            continue
        m = _UNTIL_RE.match(text.encode())
        if m:
            untils.setdefault(part[0], []).append(m.group(1).decode())
    return untils, rekey


def keep_current(session: Session, tx: Transaction, actor: Holder) -> Optional[AccessResult]:
    """Apply expired grants and the pending re-keys this writer may make, in a commit of their own.

    Called by ``writing.writing`` inside the lock, before every write; cheap when nothing is due.
    """
    vault = session.vault
    head = vault.commit
    today = session.clock.today()
    cache = _read_cache(vault)
    untils: Optional[dict[str, list[str]]] = None
    changed = None if cache is None or cache["head"] == head else _changed_heads(vault, cache["head"], head)
    if cache is not None and cache["head"] == head:
        earliest, pending = cache.get("earliest"), set(cache["rekey"])
    elif cache is not None and changed is not None:
        # HEAD moved outside confide (a sync, a pull): look only at the heads that changed. The old date
        # stays a safe lower bound: one that is too early costs a full scan below, never a missed expiry.
        new_untils, new_rekey = _scan(vault, changed)
        dates = ([cache["earliest"]] if cache.get("earliest") else []) + [d for ds in new_untils.values() for d in ds]
        earliest = min(dates) if dates else None
        touched = {part[0] for p in changed if (part := envelope.record_of(p)) is not None}  # all are heads
        pending = (set(cache["rekey"]) - touched) | new_rekey
    else:
        untils, pending = _scan(vault)
        dates = [d for ds in untils.values() for d in ds]
        earliest = min(dates) if dates else None
    session.last_expiry = None  # type: ignore[attr-defined]
    pending = {rid for rid in pending if vault.has_record(rid)}
    expire_due = earliest is not None and earliest < today.isoformat()
    if expire_due and untils is None:
        untils, _ = _scan(vault)
    due = sorted(rid for rid, ds in (untils or {}).items() if any(d < today.isoformat() for d in ds) and vault.has_record(rid)) if expire_due else []
    if expire_due:
        remaining = [d for ds in (untils or {}).values() for d in ds if d >= today.isoformat()]
        earliest = min(remaining) if remaining else None
    work = sorted(set(due) | pending)
    result = AccessResult("expired grants", None)
    if work:
        changes = map_records(lambda rid: _keep_record_current(session, rid, today, rid in due), work, None, vault)
        written = write_changes(session, tx, changes)
        for c in changes:
            if c.record in pending and c.data is not None and not _REKEY_RE.search(c.data):
                pending.discard(c.record)
        if written:
            expired_for = sorted({n for c in changes for n in c.notes})
            result.records = written
            result.generations = sum(c.generations for c in changes)
            action = "access.expire" if expired_for else "access.rekey"
            subject = (f"expire grants on {len(written)} record(s)" if expired_for
                       else f"re-key {len(written)} record(s)")
            result.commit = tx.commit(
                trail.message(subject, action, actor.name, record=written[0] if len(written) == 1 else None,
                              subject_holder=" ".join(expired_for) or None, extra={"Confide-Records": str(len(written))}),
                actor.name,
            )
            if expired_for:
                result.notes.append(
                    f"grants past their end date were applied: {', '.join(expired_for)} no longer read(s) what they "
                    f"were granted on {len(written)} record(s)")
            for c in changes:
                if c.data is not None and _REKEY_RE.search(c.data):
                    pending.add(c.record)
            head = result.commit
        tx.files.clear()
        tx.removed.clear()
    _write_cache(vault, head, earliest, pending)
    session.expiry_base = (head, earliest, pending)
    session.last_expiry = result  # type: ignore[attr-defined]
    return result


def _keep_record_current(session: Session, rid: str, today: dt.date, expire: bool) -> RecordChange:
    env = session.vault.envelope(rid, entries=False)
    head = env.head
    before = env.head_bytes()
    change = RecordChange(rid, None)
    if expire:
        grants = env.grants
        expired = [g for g in grants if not g.live(today)]
        if expired:
            env.grants = tuple(g for g in grants if g.live(today))
            for level in session.settings.levels:
                gone = {g.holder for g in expired if g.level == level}
                gone = {n for n in gone if n not in readers_of(session, head, level, today)}
                if gone and drop_copies(env, level, gone):
                    if new_generation(session, env, level, readers_of(session, head, level, today) - gone) is not None:
                        change.generations += 1
                    check_no_lockout(session, env, [level], need_grantor=False)
            change.notes.extend(sorted({g.holder for g in expired}))
    for level in env.rekey:
        if policy.may_make_key(session.settings, session.holders, head, session.actor, level):
            new_generation(session, env, level, readers_of(session, head, level, today))
            change.generations += 1
    data = env.head_bytes()
    if data != before:
        change.data = data  # access changes never touch the entries file
    return change


def clear_cache(vault: Vault) -> None:
    """Forget what the cache says, so the next write scans every record head (``confide expire``)."""
    _cache_path(vault).unlink(missing_ok=True)


def after_write(session: Session, tx: Transaction) -> None:
    """Move the cache to the new HEAD, looking only at the files this command wrote."""
    base = session.expiry_base
    if base is None:
        return
    old_head, earliest, pending = base
    head = session.vault.commit
    if head == old_head:
        return
    dates = [earliest] if earliest else []
    pending = set(pending)
    for path, data in tx.files.items():
        part = envelope.record_of(path)
        if not part or part[1] != "head":
            continue
        if b"  until: " in data:  # find() first: C speed
            dates.extend(m.group(1).decode() for m in _UNTIL_RE.finditer(data))
        if _REKEY_RE.search(data):
            pending.add(part[0])
        else:
            pending.discard(part[0])
    _write_cache(session.vault, head, min(dates) if dates else None, pending)
    session.expiry_base = (head, min(dates) if dates else None, pending)


__all__ = ["keep_current", "after_write", "clear_cache", "EXPIRY_CACHE"]
