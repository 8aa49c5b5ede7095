"""verify's inputs for a record: the versions of its two files, parsed once, and whoever can open its blocks.

The same parsers read a record here as for every command (``envelope.load_head``
and ``envelope.load_entries``, on the one YAML reader). A new version is parsed
against the previous one: entry items are compared as bytes (confide writes them
deterministically, and old blocks stay byte-identical), and only new or changed
items are parsed, so the cost per commit stays flat as history grows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from vault_cli.adapters import crypto, gitlog
from vault_cli.adapters.gitlog import CommitInfo
from vault_cli.errors import ConfideError, IntegrityError
from vault_cli.formats import canonical, envelope
from vault_cli.model.holders import Holder, Holders
from vault_cli.model.levels import LevelKey, LevelKeys
from vault_cli.model.settings import Settings


@dataclass
class Finding:
    commit: str
    file: Optional[str]
    check: str
    message: str

    def to_dict(self) -> dict:
        return {"commit": self.commit, "file": self.file, "check": self.check, "message": self.message}


# ---------------------------------------------------------------------------
# Versions of a record, parsed once


class Items(Mapping):
    """A version's entry items by id, each parsed from its bytes (``canonical.entry_items``) when first asked
    for: a check that compares two versions item by item as bytes parses only the items that differ.
    Versions of one record share ``memo`` (item bytes -> parsed item), so an item whose bytes two versions
    share is parsed at most once, and is the same object in both, as a full parse's unchanged items are."""

    def __init__(self, chunks: dict, memo: dict, source: str) -> None:
        self.chunks = chunks  # entry id -> the item's bytes, in file order
        self.memo = memo
        self.source = source

    def __getitem__(self, eid: str) -> dict:
        chunk = self.chunks[eid]
        item = self.memo.get(chunk)
        if item is None:
            items = envelope.load_entries(canonical.entries_document([chunk]), self.source)
            if [e["id"] for e in items] != [eid]:
                raise IntegrityError(f"{self.source}: entry {eid} does not parse as the item it is listed as",
                                     "git log -p -- " + self.source)
            item = self.memo[chunk] = items[0]
        return item

    def __iter__(self) -> Iterator[str]:
        return iter(self.chunks)

    def __len__(self) -> int:
        return len(self.chunks)

    def __contains__(self, eid: object) -> bool:
        return eid in self.chunks


@dataclass
class RecordVersion:
    """One version of a record: its head file's bytes and its entries file's bytes, parsed."""

    head_raw: bytes
    tail: bytes
    head: Optional[dict]
    error: Optional[Finding] = None
    _entries: Optional[Mapping] = None
    _chunks: Optional[dict] = None
    _level_keys: Optional[LevelKeys] = None

    def entries(self) -> Mapping:
        if self._entries is None:
            self._entries = {e["id"]: e for e in envelope.load_entries(self.tail, "entries")} if self.tail.strip() else {}
        return self._entries

    @classmethod
    def at_checkpoint(cls, head_raw: bytes, tail: Optional[bytes], path: str) -> Optional[RecordVersion]:
        """A record's version at a commit that was verified before this walk (the checkpoint it starts from):
        its head parsed, its entries split into items that are parsed only when a check asks for one
        (``Items``). That version parsed when its own commit was verified, so only the items a later version
        changes need parsing again (``parse_record_incremental``: the new version's changed items are parsed
        and checked). None when the entries file is not in confide's shape: the caller parses it all."""
        if tail is None:
            return None
        chunks = canonical.entry_items(tail)
        if chunks is None or list(chunks) != sorted(chunks):
            return None
        try:
            head = envelope.load_head(head_raw, path)
        except IntegrityError:
            return None
        if head["record"] + envelope.HEAD_SUFFIX != Path(path).name:
            return None
        return cls(head_raw, tail, head, None, Items(chunks, {}, envelope.entries_source(path)), chunks)

    def same_items(self, other: Optional[RecordVersion]) -> set:
        """Ids of the entry items whose bytes are the same in ``other`` (a check skips those: parsed, they
        are equal); empty when either version was not split into items."""
        if other is None or self._chunks is None or other._chunks is None:
            return set()
        theirs = other._chunks
        return {eid for eid, chunk in self._chunks.items() if theirs.get(eid) == chunk}

    def level_keys(self) -> LevelKeys:
        """The head's level keys, parsed once (none when the head did not parse)."""
        if self._level_keys is None:
            self._level_keys = LevelKeys.from_json((self.head or {}).get("keys", []))
        return self._level_keys

    def key(self, key_id: str) -> Optional[LevelKey]:
        return self.level_keys().find(key_id)


def _plaintext_in(node: Any, path: str = "") -> Optional[str]:
    """Where an age block should be and something else is."""
    if isinstance(node, dict):
        for k, v in node.items():
            where = f"{path}.{k}" if path else str(k)
            if k == "data" or path.endswith("wrapped"):
                if not crypto.block_is_armored(v):
                    return where
            else:
                hit = _plaintext_in(v, where)
                if hit:
                    return hit
    elif isinstance(node, list):
        for i, v in enumerate(node):
            hit = _plaintext_in(v, f"{path}[{i}]")
            if hit:
                return hit
    return None


def _classify(exc: IntegrityError, raw: bytes, path: str, commit: str) -> Finding:
    """A file the parser refused: 'plaintext' when an age block's place holds something else."""
    from vault_cli.formats import yamlio

    try:
        doc = yamlio.load(raw, path)
        spot = _plaintext_in(doc) if isinstance(doc, dict) else None
    except ConfideError:
        spot = None
    if spot:
        return Finding(commit, path, "plaintext", f"{path} holds unencrypted content where an age block belongs ({spot})")
    return Finding(commit, path, "schema", exc.message)


def parse_record(head_raw: bytes, tail: Optional[bytes], path: str, commit: str) -> RecordVersion:
    """Parse a record's head (``path``) and entries file with the commands' own parsers;
    damage becomes the version's ``error``."""
    epath = envelope.entries_source(path)
    rv = RecordVersion(head_raw, tail or b"", None)
    try:
        head = envelope.load_head(head_raw, path)
    except IntegrityError as exc:  # first: a head holding the entries is why its entries file is gone
        rv.error = _classify(exc, head_raw, path, commit)
        return rv
    if tail is None:
        rv.error = Finding(commit, epath, "removed", f"{epath} is missing: the record {Path(path).stem} has no entries file")
        return rv
    try:
        entries = envelope.load_entries(tail, epath)
    except IntegrityError as exc:
        rv.error = _classify(exc, tail, epath, commit)
        return rv
    if head["record"] + envelope.HEAD_SUFFIX != Path(path).name:
        rv.error = Finding(commit, path, "binding", f"{path} holds record {head['record']}, not the one its file name says")
        return rv
    rv.head = head
    rv._entries = {e["id"]: e for e in entries}
    return rv


def parse_record_incremental(old: RecordVersion, head_raw: bytes, tail: Optional[bytes], path: str,
                             commit: str) -> Optional[RecordVersion]:
    """A new version of a record parsed against the previous one: only changed parts are parsed.

    Entry items are compared as bytes (confide writes them deterministically, and
    old blocks stay byte-identical); only new or changed items are parsed, with
    ``envelope.load_entries``. None sends the caller to the full parse (which
    also reports any damage precisely).
    """
    if old.head is None or old._entries is None or tail is None:
        return None
    old_chunks = old._chunks if old._chunks is not None else canonical.entry_items(old.tail)
    new_chunks = canonical.entry_items(tail)
    if old_chunks is None or new_chunks is None:
        return None
    old._chunks = old_chunks
    order = list(new_chunks)
    if order != sorted(order):
        return None
    if head_raw == old.head_raw:
        head = old.head
    else:
        try:
            head = envelope.load_head(head_raw, path)
        except IntegrityError:
            return None
        if head["record"] + envelope.HEAD_SUFFIX != Path(path).name:
            return None
    changed = [eid for eid, chunk in new_chunks.items() if old_chunks.get(eid) != chunk]
    entries = {}
    if changed:
        try:
            items = envelope.load_entries(canonical.entries_document([new_chunks[e] for e in changed]),
                                          envelope.entries_source(path))
        except IntegrityError:
            return None
        if [e["id"] for e in items] != changed:
            return None
        entries = {e["id"]: e for e in items}
    if isinstance(old._entries, Items):  # unchanged items stay unparsed, shared with the old version
        for eid, item in entries.items():
            old._entries.memo[new_chunks[eid]] = item
        return RecordVersion(head_raw, tail, head, None, Items(new_chunks, old._entries.memo, old._entries.source),
                             new_chunks)
    merged = {eid: (entries[eid] if eid in entries else old._entries[eid]) for eid in order}
    return RecordVersion(head_raw, tail, head, None, merged, new_chunks)


# ---------------------------------------------------------------------------
# Whoever runs verify, and which blocks they can open


class Reader:
    def __init__(self, identities: list, name: Optional[str]) -> None:
        self.identities = identities
        self.name = name
        self._keys: dict = {}
        self.head_keys: dict[str, LevelKeys] = {}  # record -> its level keys at the tip, for copies granted later
        self.unopened = 0  # blocks a check needed a key for and this reader could not open

    @classmethod
    def none(cls) -> Reader:
        return cls([], None)

    def level_identity(self, record: str, key: LevelKey, source: str) -> Optional[crypto.Identity]:
        if self.name is None:
            return None
        ck = (record, key.id)
        if ck in self._keys:
            return self._keys[ck]
        result = None
        candidates = [key]
        at_tip = self.head_keys.get(record)
        later = at_tip.find(key.id) if at_tip is not None else None
        if later is not None and later is not key:
            candidates.append(later)
        for k in candidates:
            wrapped = k.copy_for(self.name)
            if not wrapped:
                continue
            for ident in self.identities:
                try:
                    result = envelope.unwrap_level_key(wrapped, ident, record=record, key=key, source=source)
                    break
                except crypto.NotForThisKey:
                    continue
                except IntegrityError:  # a damaged or moved copy: check_head reports it; here it opens nothing
                    break
            if result is not None:
                break
        self._keys[ck] = result
        return result


def make_reader(identities: Optional[list], holders: Optional[Holders]) -> tuple[Reader, Optional[str]]:
    """The caller's identities, if any, as a reader of the blocks they hold keys to (``verify.make_reader``)."""
    if not identities:
        return Reader.none(), "no identity found: checks that need a key were skipped"
    recips = {i.recipient for i in identities}
    for h in (holders.all if holders else []):
        if h.recipient in recips or recips & set(h.previous_recipients or []):
            return Reader(identities, h.name), None
    return Reader.none(), "the identity is not a holder's: checks that need a key were skipped"


__all__ = ["Finding", "RecordVersion", "make_reader", "Items", "parse_record", "parse_record_incremental",
           "Reader"]


# ---------------------------------------------------------------------------
# What verify's check mixins share


class VerifierState:
    """The state and helpers ``verify.Verifier`` provides to the check mixins it is built from
    (``RecordChecks``, ``PolicyChecks``, ``MergeChecks``), declared once so each mixin is type-checked
    on its own. Nothing here runs: ``Verifier.__init__`` sets the attributes, and it (or a mixin)
    defines the methods."""

    root: Path
    reader: Reader
    cat: gitlog.CatFile
    findings: list[Finding]
    names: dict[str, str]  # child's name -> record id
    paths: set[str]
    tainted: dict[str, str]  # commit -> the commit with findings it is built on
    repudiated: dict[str, str]  # commit -> the repudiation that answered it
    bad: set[str]  # commits with findings of their own
    unsigned: int
    vouched: Optional[tuple[str, str, int]]  # (attestation commit, holder, commits vouched for)
    unsigned_policy_note: Optional[str]
    anchor_key: Optional[str]
    last_clean: Optional[str]
    _top: dict[str, dict[str, str]]  # commit -> {top file: blob}
    _records: dict[str, tuple[tuple[Optional[str], Optional[str]], RecordVersion]]
    _tip_commit: Optional[str]
    _tip_blobs: dict[tuple[str, str], Optional[str]]
    _modes: dict[str, list[tuple[str, str]]]  # commit -> [(path, new mode)]

    if TYPE_CHECKING:
        def add(self, commit: str, file: Optional[str], check: str, message: str) -> None: ...
        def blob(self, sha: Optional[str]) -> Optional[bytes]: ...
        def parse_error(self, blob: Optional[str], what: str) -> str: ...
        def settings_of(self, top: dict[str, str]) -> Optional[Settings]: ...
        def holders_of(self, top: dict[str, str]) -> Optional[Holders]: ...
        def top(self, commit: str) -> dict[str, str]: ...
        def is_tainted(self, commit: str) -> bool: ...
        def _after_top(self, c: CommitInfo, changes: list[tuple[str, Optional[str], Optional[str]]]) -> dict[str, str]: ...
        def check_signature(self, c: CommitInfo, holders: Holders, settings: Settings,
                            required: Optional[bool] = None) -> Optional[Holder]: ...
