"""What a holder's key reads of each child's profile at the tip (names, date of birth, room, leaving date), kept encrypted
to that holder between commands.

Two kinds of reader need it for every record at once, not only for the records a
command is about:

- verification looks for a child's name in commit messages, file names and ref
  names (``Verifier.check_names``), so it needs the names of every child whose
  profile the caller can open;
- finding a child by name: ``child add`` (the duplicate check), ``child find``,
  the picker (``cli.picker``) and shell completion of record ids
  (``services.children.names_and_births``).

Opening every profile (reading each head, unwrapping its level key, decrypting
the profile) costs ~2 s of CPU at 1,000 records (``benchmarks/bench_names.py``).
So a clone keeps, per holder, ``.git/confide/names-<holder>.age``: for each
record at the tip, the blob id of its head and what its profile held
(``FIELDS``; null when this holder's key does not open it), as JSON encrypted
with age to that holder's own recipient (ciphertext only on disk, like every
other file confide writes; mode 0600; never committed). A record whose head
blob is unchanged since the cache was written keeps its entry; any other head
is opened again (any change to the profile, its level key or who may read it
changes the head's blob). A record gone from the tip is dropped from the cache.
A cache that does not open with the holder's key, does not parse, or was
written in another format (``names-cache/1`` held names only, ``/2`` no leaving date) is rebuilt.
Deleting the file is always safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.adapters.store import atomic_write
from vault_cli.model.record import Profile

FORMAT = "confide/names-cache/3"
FIELDS = ("name", "known_as", "dob", "room", "leaving_date")  # the leaving date: leavers drop out of pickers

Fields = Optional[dict]  # {field: str or None} for FIELDS; None: the holder's key does not open the profile
DAMAGED: dict = {}  # what an opener returns for a head or profile that does not open as it should: not kept


def cache_path(git_dir: Path, holder: str) -> Path:
    return git_dir / "confide" / f"names-{holder}.age"


def fields_of(profile: Profile | Mapping) -> dict:
    """The cached part of a decrypted profile (a ``Profile`` as ``records.read_profile`` gives it, or the
    profile mapping a verifier opened)."""
    return {f: (profile.get(f) if isinstance(profile.get(f), str) else None) for f in FIELDS}


def names_in(fields: Fields) -> list[str]:
    """The names a child goes by (name, known-as name), stripped, as verification looks for them."""
    if not fields:
        return []
    return [v.strip() for v in (fields.get("name"), fields.get("known_as")) if isinstance(v, str) and v.strip()]


_FIELD_SET = frozenset(FIELDS)


def _valid(item) -> bool:
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
        return False
    fields = item[1]
    if fields is None:
        return True
    if not isinstance(fields, dict) or fields.keys() != _FIELD_SET:
        return False
    for v in fields.values():
        if v is not None and not isinstance(v, str):
            return False
    return True


class NamesCache:
    """{record: (head blob, fields)} for one holder, read and written encrypted to that holder."""

    def __init__(self, path: Path, identities: list[crypto.Identity], holder: str) -> None:
        self.path = path
        self.identities = identities
        self.holder = holder
        self.records: dict[str, tuple[str, Fields]] = {}
        self.changed = False
        self._load()

    def _load(self) -> None:
        try:
            block = self.path.read_text("ascii")
        except (OSError, UnicodeDecodeError):
            return
        for ident in self.identities:
            try:
                data = json.loads(crypto.decrypt(block, ident))
            except Exception:  # not this key's, damaged, or not JSON: try the next key, else rebuild
                continue
            if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("holder") != self.holder:
                return  # an older format (names only) or another holder's: rebuilt
            records = data.get("records")
            if not isinstance(records, dict):
                return
            for rid, item in records.items():
                if _valid(item):
                    self.records[rid] = (item[0], item[1])  # json.loads made the dict: ours alone
            return

    def stale(self, heads: dict[str, str]) -> list[str]:
        """The records of ``heads`` ({record: head blob at the tip}) to open again, in ``heads``' order; records
        no longer at the tip are dropped."""
        for rid in set(self.records) - set(heads):
            del self.records[rid]
            self.changed = True
        out = []
        for rid, blob in heads.items():
            cached = self.records.get(rid)
            if cached is None or cached[0] != blob:
                out.append(rid)
        return out

    def put(self, rid: str, blob: str, fields: Fields) -> None:
        if fields is DAMAGED:
            if self.records.pop(rid, None) is not None:  # opened again next time, reported by whoever opens it
                self.changed = True
            return
        if self.records.get(rid) != (blob, fields):
            self.records[rid] = (blob, fields)
            self.changed = True

    def fields(self, rid: str) -> Fields:
        return self.records[rid][1]

    def refresh(self, heads: dict[str, str], open_fields: Callable[[Iterable[str]], Iterable[Fields]]) -> None:
        """Bring the cache up to ``heads``: ``open_fields(records)`` opens the changed records' profiles (in
        order; None where this key does not read one)."""
        todo = self.stale(heads)
        for rid, fields in zip(todo, open_fields(todo), strict=True):
            self.put(rid, heads[rid], fields)

    def names(self, heads: dict[str, str], open_fields: Callable[[str], Fields]) -> dict[str, str]:
        """{name: record} for the records in ``heads``; ``open_fields(record)`` opens one record's profile."""
        self.refresh(heads, lambda rids: map(open_fields, rids))
        out: dict[str, str] = {}
        for rid in heads:
            if rid not in self.records:
                continue  # damaged: no names from it
            for name in names_in(self.fields(rid)):
                out[name] = rid
        return out

    def save(self) -> None:
        """Write the cache back if it changed; a clone that cannot be written just goes without."""
        if not self.changed or not self.identities:
            return
        data = json.dumps({"format": FORMAT, "holder": self.holder,
                           "records": {rid: [blob, fields] for rid, (blob, fields) in sorted(self.records.items())}},
                          ensure_ascii=False).encode("utf-8")
        try:
            block = crypto.encrypt(data, self.identities[0].recipient)
            self.path.parent.mkdir(mode=0o700, exist_ok=True)
            atomic_write(self.path, block.encode("ascii"), 0o600)
        except OSError:
            return
        self.changed = False


__all__ = ["NamesCache", "cache_path", "fields_of", "names_in", "FIELDS", "DAMAGED"]
