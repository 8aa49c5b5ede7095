"""The history as an audit trail: ``confide audit``.

Rows come from the commits' trailers (who, what, which record), with each
signature's status; details (the child's name, an entry's level and category)
only from blocks the caller's identity opens. ``confide verify`` (``services.verify``)
judges the same history by the policy's rules.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

from vault_cli.adapters import crypto, gitlog, signing
from vault_cli.adapters.gitlog import CatFile, StreamCat, parse_commit
from vault_cli.errors import ConfideError, UsageError
from vault_cli.formats import envelope
from vault_cli.model import ids
from vault_cli.model.holders import Holders
from vault_cli.services.verify_versions import Reader

# ---------------------------------------------------------------------------
# audit


AUDIT_COLUMNS = ["date", "holder", "action", "record", "name", "entry", "subject", "level", "category", "signature", "commit"]


def _parse_since_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError("{0} needs a date as YYYY-MM-DD, which this is not", "for example: {0} 2026-09-01",
                         fields=("start date",)) from None


def audit(root: Path, commit: str, *, holders: Holders, identities: Optional[list] = None, record: Optional[str] = None,
          holder: Optional[str] = None, action: Optional[str] = None, since: Optional[str] = None) -> tuple[list[dict], Optional[str]]:
    """The trail of the verified ``commit`` and what came before it, newest first."""
    since_date = _parse_since_date(since) if since else None
    from vault_cli.services.verify import make_reader

    reader, note = make_reader(identities, holders)
    keys: dict = {}
    for h in holders.all:
        for k in [h.signing_key] + [x["key"] for x in (h.previous_signing_keys or [])]:
            if k:
                keys[signing.parse_public_key(k)] = h.name
    commits = gitlog.rev_list(root, commit, reverse=False)
    cat = CatFile(root)
    stream = StreamCat(root, [sha for sha, _ in commits])
    heads: dict = {}
    rows = []
    try:
        for sha, _parents in commits:
            raw = stream.next() or b""
            info = parse_commit(sha, raw)
            t = info.trailers
            rec = t.get("Confide-Record")
            who = t.get("Confide-Holder") or info.author
            act = t.get("Confide-Action")
            when = info.when
            if record and rec != record:
                continue
            if holder and who != holder and t.get("Confide-Subject") != holder:
                continue
            if action and act != action and not (act or "").startswith(action + "."):
                continue
            if since_date and when.date() < since_date:
                continue
            sig = info.sig
            if sig.status == "good":
                signer = keys.get(signing.parse_public_key(sig.key))
                status = "good" if signer == who else ("wrong-holder" if signer else "unknown-key")
            else:
                status = sig.status
            row = {"date": when.isoformat(), "holder": who, "action": act, "record": rec, "name": None,
                   "entry": t.get("Confide-Entry"), "subject": t.get("Confide-Subject"), "level": None, "category": None,
                   "signature": status, "commit": sha}
            if rec and reader.name:
                _fill_details(commit, cat, reader, heads, row)
            rows.append(row)
    finally:
        stream.close()
        cat.close()
    return rows, note


def _fill_details(commit: str, cat: CatFile, reader: Reader, heads: dict, row: dict) -> None:
    rid = row["record"]
    if not ids.RECORD_RE.fullmatch(rid or ""):
        return
    if rid not in heads:
        path = f"records/{rid}{envelope.HEAD_SUFFIX}"
        raw = cat.get(f"{commit}:{path}")
        heads[rid] = None
        if raw is not None:
            try:
                env = envelope.Envelope(path, envelope.load_head(raw, path),
                                        cat.get(f"{commit}:{envelope.entries_source(path)}") or envelope.EMPTY_TAIL)
                name = None
                block = env.head["profile"]
                ident = reader.level_identity(rid, env.key(block["key"]), path)
                if ident is not None:
                    payload = envelope.open_block(block["data"], ident, schema_name="profile", record=rid, block="profile",
                                                  level="general", source=path)
                    name = payload["profile"].get("name")
                heads[rid] = (env, name)
            except (ConfideError, KeyError, TypeError, crypto.NotForThisKey):
                heads[rid] = None
    got = heads[rid]
    if got is None:
        return
    env, name = got
    row["name"] = name
    eid = row.get("entry")
    if not eid:
        return
    try:
        item = env.find_entry(eid)
        if item is None:
            return
        key = env.key(item["key"])
        ident = reader.level_identity(rid, key, env.source)
        if ident is None:
            return
        payload = envelope.open_block(item["data"], ident, schema_name="entry", record=rid, block=eid, level=key.level,
                                      source=env.source)
        row["level"] = payload["level"]
        row["category"] = payload["category"]
    except (ConfideError, crypto.NotForThisKey):
        return


__all__ = ["audit", "AUDIT_COLUMNS"]
