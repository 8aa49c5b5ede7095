"""The record envelope: one child's record, plaintext structure, encrypted contents.

A record is two files side by side in ``records/``:

- ``<id>.yaml``, the *head*: format, record id, key person, grants, revocations,
  the level keys (every generation, wrapped once per reader) and the profile
  block. Access commands (grant, revoke, rotate, expire, holder changes) read
  and rewrite only this file.
- ``<id>.entries.yaml``, the *entries*: ``entries:``, append-only, sorted by id,
  each entry an age block with its markings under it. Only entry commands
  (add, mark, a recorded erasure) write it.

Keeping them apart means a command that re-keys every record rewrites and
commits ~15 KB per record instead of the whole chronology (~70 KB at 50
entries), so git hashes, stores and later packs only what changed, and the
entry blocks are provably untouched by access changes. Both files are validated
against ``schemas/record.schema.json`` (the head with an empty entry list, the
entries as its ``entry_list``).

Block payloads are JSON inside age. Each names the record, block id and level it
belongs to, and ``open_block`` checks that binding against where the block sits,
so a block moved to another record, entry or level is detected.

Wrapped level keys decrypt to an age identity file: a ``#`` comment carrying
the binding, then the ``AGE-SECRET-KEY-1`` line. ``age -d -i`` accepts that file
as it is, which is what keeps every record readable with plain ``age``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.errors import IntegrityError
from vault_cli.formats import canonical, schema, yamlio
from vault_cli.model import ids
from vault_cli.model.levels import Grant, LevelKey, LevelKeys, Revocation, grants_from_json, revocations_from_json

FORMAT = "confide/record/2"
HEAD_SUFFIX = ".yaml"
ENTRIES_SUFFIX = ".entries.yaml"
EMPTY_TAIL = b"entries: []\n"
_HEAD_ORDER = ("format", "record", "key_person", "grants", "revoked", "rekey", "keys", "profile", "conflict")


def record_path(root: Path, record_id: str) -> Path:
    return root / "records" / f"{record_id}{HEAD_SUFFIX}"


def entries_path(root: Path, record_id: str) -> Path:
    return root / "records" / f"{record_id}{ENTRIES_SUFFIX}"


def head_source(record_id: str) -> str:
    """``c-x`` -> ``records/c-x.yaml``: the head's path in the vault."""
    return f"records/{record_id}{HEAD_SUFFIX}"


def entries_source(source: str) -> str:
    """``records/c-x.yaml`` -> ``records/c-x.entries.yaml``."""
    return source[: -len(HEAD_SUFFIX)] + ENTRIES_SUFFIX


def record_of(path: str) -> Optional[tuple[str, str]]:
    """``(record id, "head" | "entries")`` for a record file's repository path, None for any other path."""
    if not path.startswith("records/") or "/" in path[8:]:
        return None
    name = path[8:]
    for suffix, part in ((ENTRIES_SUFFIX, "entries"), (HEAD_SUFFIX, "head")):
        if name.endswith(suffix) and ids.RECORD_RE.fullmatch(name[: -len(suffix)]):
            return name[: -len(suffix)], part
    return None


def load_head(raw: bytes, source: str) -> dict:
    """Parse and validate a head file's bytes (no entries)."""
    head = yamlio.load(raw, source) if raw.strip() else None
    if not isinstance(head, dict):
        raise IntegrityError(f"{source} is not a record envelope", "git checkout -- " + source)
    if "entries" in head:
        raise IntegrityError(
            f"{source} holds entries, which belong in {entries_source(source)}",
            "the file was edited by hand or written by an older confide; restore it from git",
        )
    probe = dict(head)
    probe["entries"] = []
    schema.check("record", probe, source)
    schema.check_real_dates(head.get("grants") or [], ("granted", "until", "parent_permission"), source)
    schema.check_real_dates(head.get("revoked") or [], ("revoked",), source)
    return head


def load_entries(tail: bytes, source: str) -> list:
    """Parse and validate an entries file's bytes: the sorted list of entry items."""
    if not tail.strip():
        raise IntegrityError(f"{source} has no 'entries' list", "git checkout -- " + source)
    data = yamlio.load(tail, source)
    if not isinstance(data, dict) or set(data) != {"entries"}:
        raise IntegrityError(f"{source} holds something other than one 'entries' list", "git checkout -- " + source)
    entries = data["entries"] or []
    schema.check_def("record", "entry_list", entries, source)
    seen = [e["id"] for e in entries]
    if seen != sorted(set(seen)):
        raise IntegrityError(f"{source} has entries out of order or repeated", "git log -p -- " + source)
    return entries


class Envelope:
    """A record in memory. The entries file is read only when something needs it,
    and stays raw bytes until entries themselves are needed."""

    def __init__(self, source: str, head: dict, tail: Optional[bytes] = None, *,
                 head_raw: Optional[bytes] = None, read: Optional[Callable[[str], bytes]] = None) -> None:
        self.source = source  # the head's path in the vault, e.g. records/c-7f3k9m2q.yaml
        self.head = head
        self._tail = tail  # the entries file's bytes; None until read (with ``read``)
        self._tail_raw: Optional[bytes] = None  # as read; None for a new record
        self._head_raw = head_raw  # as read; None for a new record
        self._read = read  # reads a vault path from the verified commit (Vault.read)
        self._entries: Optional[list] = None
        self._level_keys: Optional[tuple[list, LevelKeys]] = None  # the head's list, and its parse

    @property
    def entries_source(self) -> str:
        return entries_source(self.source)

    # -- loading ----------------------------------------------------------
    @classmethod
    def read(cls, source: str, read: Callable[[str], bytes], *, entries: bool = True) -> Envelope:
        """The record whose head is at ``source``, read with ``read`` (a vault path -> bytes; FileNotFoundError)."""
        raw = read(source)
        head = load_head(raw, source)
        if head["record"] + HEAD_SUFFIX != source.rsplit("/", 1)[-1]:
            raise IntegrityError(
                f"{source} holds record {head['record']}, not the one its file name says",
                "a record file was renamed or copied by hand; restore it from git",
            )
        env = cls(source, head, head_raw=raw, read=read)
        if entries:
            _ = env.entries  # read, parse and validate now
        return env

    @property
    def record(self) -> str:
        return self.head["record"]

    @property
    def tail(self) -> bytes:
        if self._tail is None:
            if self._read is None:
                raise IntegrityError(f"{self.source} has no entries file", "git checkout -- " + self.entries_source)
            try:
                self._tail = self._read(self.entries_source)
            except FileNotFoundError:
                raise IntegrityError(
                    f"{self.entries_source} is missing: the record's entries are not there",
                    f"restore it with 'git checkout -- {self.entries_source}', then run 'confide verify'",
                ) from None
            self._tail_raw = self._tail
        return self._tail

    @tail.setter
    def tail(self, value: bytes) -> None:
        _ = self.tail  # read the original first, so a change is recognised as one
        self._tail = value

    @property
    def entries(self) -> list:
        if self._entries is None:
            self._entries = load_entries(self.tail, self.entries_source)
        return self._entries

    def entry_count(self) -> int:
        """Entries in the file, counted without parsing it."""
        if self._entries is not None:
            return len(self._entries)
        return self.tail.count(b"\n- id: e-")

    # -- level keys, grants, revocations (typed: model/levels.py) -------------
    @property
    def level_keys(self) -> LevelKeys:
        """Every generation of every level key, parsed once from the head (again only if the head's list is replaced)."""
        raw = self.head["keys"]
        if self._level_keys is None or self._level_keys[0] is not raw:
            self._level_keys = (raw, LevelKeys.from_json(raw))
        return self._level_keys[1]

    @level_keys.setter
    def level_keys(self, value: LevelKeys) -> None:
        read = self.level_keys
        raw = _kept(value.keys, zip(read.keys, self.head["keys"], strict=True))
        self.head["keys"] = raw
        self._level_keys = (raw, value)

    @property
    def keys(self) -> tuple[LevelKey, ...]:
        return self.level_keys.keys

    def key(self, key_id: str, *, referrer: Optional[str] = None) -> LevelKey:
        """A level key by id; ``referrer`` is the file that names it (the entries file, for an entry block)."""
        found = self.level_keys.find(key_id)
        if found is not None:
            return found
        where = referrer or self.source
        raise IntegrityError(f"{where} refers to level key {key_id}, which {self.source} does not hold", "git log -p -- " + where)

    def current_key(self, level: str) -> LevelKey:
        key = self.level_keys.current(level)  # two of one number only after a merge (then 'rekey')
        if key is None:
            raise IntegrityError(f"{self.source} has no key for level {level}", "git log -p -- " + self.source)
        return key

    def readers(self, level: str) -> set[str]:
        """Who holds a copy of the current generation of a level key."""
        return set(self.current_key(level).holders)

    @property
    def grants(self) -> tuple[Grant, ...]:
        return grants_from_json(self.head.get("grants"))

    @grants.setter
    def grants(self, value: tuple[Grant, ...]) -> None:
        self.head["grants"] = _kept(value, ((Grant.from_json(g), g) for g in self.head.get("grants") or ()))

    @property
    def revocations(self) -> tuple[Revocation, ...]:
        return revocations_from_json(self.head.get("revoked"))

    @revocations.setter
    def revocations(self, value: tuple[Revocation, ...]) -> None:
        """None left: the head's ``revoked`` goes."""
        if value:
            self.head["revoked"] = _kept(value, ((Revocation.from_json(r), r) for r in self.head.get("revoked") or ()))
        else:
            self.head.pop("revoked", None)

    @property
    def rekey(self) -> tuple[str, ...]:
        """Levels due a new generation, made by the next holder who reads them."""
        return tuple(self.head.get("rekey") or ())

    def mark_rekey(self, level: str) -> None:
        mark_rekey(self.head, level)

    def clear_rekey(self, level: str) -> None:
        clear_rekey(self.head, level)

    # -- writing ----------------------------------------------------------
    def head_bytes(self) -> bytes:
        head = dict(self.head)
        head.pop("entries", None)
        ordered = {k: head[k] for k in _HEAD_ORDER if k in head}
        probe = dict(ordered)
        probe["entries"] = []
        schema.check("record", probe, self.source)
        return yamlio.dump(ordered).encode("utf-8")

    def tail_bytes(self) -> bytes:
        if self._entries is not None:
            # re-dumped entries (a marking, a merge) are checked like the head: nothing invalid is written
            schema.check_def("record", "entry_list", self._entries, self.entries_source)
            return dump_entries(self._entries)
        return self.tail

    def files(self) -> dict[str, bytes]:
        """The files to write for this record: only those whose bytes changed (both for a new record)."""
        out = {}
        head = self.head_bytes()
        if head != self._head_raw:
            out[self.source] = head
        if self._tail is not None or self._entries is not None:
            if self._tail is None and self._read is not None:
                _ = self.tail  # entries set without reading the file: read it, so an unchanged file is not rewritten
            tail = self.tail_bytes()
            if tail != self._tail_raw:
                out[self.entries_source] = tail
        return out

    def write_to(self, tx) -> None:
        """Stage this record's changed files in a transaction (``store.Transaction``)."""
        for path, data in self.files().items():
            tx.write(path, data)

    def append_entry(self, entry: dict) -> None:
        """Add an entry block, keeping the tail sorted; old blocks stay byte-identical."""
        schema.check_def("record", "entry", entry, self.entries_source)
        if self._entries is None:
            appended = canonical.append_entry(self.tail, entry)  # the file is not parsed: its old bytes stay
            if appended is not None:
                self.tail = appended
                return
        entries = list(self.entries)
        if any(e["id"] == entry["id"] for e in entries):
            raise IntegrityError(f"entry id {entry['id']} already exists in {self.entries_source}", "run the command again; run 'confide verify' if it happens twice")
        entries.append(entry)
        entries.sort(key=lambda e: e["id"])
        self._entries = entries

    def replace_entry(self, item: dict) -> None:
        """Put ``item`` in place of the entry with its id (as ``mark`` does when it re-seals one)."""
        self._entries = [item if e["id"] == item["id"] else e for e in self.entries]

    def find_entry(self, entry_id: str) -> Optional[dict]:
        for e in self.entries:
            if e["id"] == entry_id:
                return e
        return None


def _kept(values: Iterable, read: Iterable[tuple[object, dict]]) -> list[dict]:
    """``values`` in the file form: a value as it was read keeps the file's own mapping (and so its bytes,
    whatever order a hand-made file gave its fields); a new or changed one is written in confide's order."""
    as_read: dict = {}
    for value, raw in read:
        as_read.setdefault(value, raw)
    return [as_read.get(v) or v.to_json() for v in values]


def dump_entries(entries: list) -> bytes:
    """An entries file's bytes: ``entries:`` and the items, in confide's canonical form."""
    return yamlio.dump({"entries": entries}).encode("utf-8")


# ---------------------------------------------------------------------------
# Block payloads


def seal(payload: dict, recipient: str, schema_name: str, source: str) -> str:
    schema.check(schema_name, payload, source)
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return crypto.encrypt(data, recipient)


def open_block(
    armored: str,
    identity: crypto.Identity,
    *,
    schema_name: str,
    record: str,
    block: str,
    level: str,
    source: str,
) -> dict:
    """Decrypt a block with a level identity and check it belongs where it sits."""
    restore = f"the file was damaged or edited by hand: see 'git log -p -- {source}', restore it from git, and run 'confide verify'"
    try:
        raw = crypto.decrypt(armored, identity)
    except IntegrityError as exc:
        raise IntegrityError(f"block {block} in {source}: {exc.message}", restore) from None
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IntegrityError(f"block {block} in {source} does not hold a confide payload", restore) from None
    if not isinstance(payload, dict):
        raise IntegrityError(f"block {block} in {source} does not hold a confide payload", restore)
    if (payload.get("record"), payload.get("block"), payload.get("level")) != (record, block, level):
        raise IntegrityError(
            f"block {block} in {source} belongs elsewhere: it was written for another record, block or level",
            "a block was moved or copied by hand; restore the file from git and run 'confide verify'",
        )
    schema.check(schema_name, payload, f"{source} block {block}")
    return payload


def _typed(key: LevelKey | Mapping) -> LevelKey:
    """A level key given in its file form (a hand-made file, a test) as the typed value."""
    return key if isinstance(key, LevelKey) else LevelKey(key["id"], key["level"], key["generation"], key["recipient"])


def wrap_level_key(level_secret: str, *, record: str, key: LevelKey | Mapping, holder_recipient: str) -> str:
    key = _typed(key)
    text = (
        f"# confide level key: record {record}, key {key.id}, level {key.level}, "
        f"generation {key.generation}\n# public key: {key.recipient}\n{level_secret}\n"
    )
    return crypto.encrypt(text.encode("ascii"), holder_recipient)


def unwrap_level_key(armored: str, holder_identity: crypto.Identity, *, record: str, key: LevelKey | Mapping,
                     source: str) -> crypto.Identity:
    key = _typed(key)
    restore = f"the file was damaged or edited by hand: see 'git log -p -- {source}', restore it from git, and run 'confide verify'"
    try:
        raw = crypto.decrypt(armored, holder_identity)
    except IntegrityError as exc:
        raise IntegrityError(f"a wrapped copy of level key {key.id} in {source}: {exc.message}", restore) from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise IntegrityError(f"a wrapped copy of level key {key.id} in {source} is not a level key", restore) from None
    lines = text.splitlines()
    expected = (
        f"# confide level key: record {record}, key {key.id}, level {key.level}, generation {key.generation}"
    )
    secrets_ = [line for line in lines if line.startswith(crypto.SECRET_PREFIX)]
    if not lines or lines[0] != expected or len(secrets_) != 1:
        raise IntegrityError(
            f"a wrapped copy of level key {key.id} in {source} belongs to another record, key or level",
            "a wrapped key was moved or copied by hand; restore the file from git and run 'confide verify'",
        )
    try:
        ident = crypto.identity_from_secret(secrets_[0])
    except Exception:
        raise IntegrityError(f"a wrapped copy of level key {key.id} in {source} is damaged", restore) from None
    if ident.recipient != key.recipient:
        raise IntegrityError(
            f"level key {key.id} in {source} has a public recipient that does not match its secret",
            "someone replaced the recipient: writing to it would lock readers out; run 'confide verify'",
        )
    return ident


def mark_rekey(head: dict, level: str) -> None:
    """Ask the next holder who reads ``level`` to start a new generation of its key."""
    head["rekey"] = sorted(set(head.get("rekey") or []) | {level})


def clear_rekey(head: dict, level: str) -> None:
    left = [lv for lv in head.get("rekey") or [] if lv != level]
    if left:
        head["rekey"] = left
    else:
        head.pop("rekey", None)


def new_generation_key(taken: Iterable[str], level: str, generation: int) -> tuple[LevelKey, str]:
    """A new generation of a level's key, wrapped for nobody yet, and its secret."""
    secret, recipient = crypto.generate_identity()
    return LevelKey(ids.new_key_id(set(taken)), level, generation, recipient), secret


def new_level_key(taken: set[str], level: str, generation: int) -> tuple[dict, str]:
    """``new_generation_key`` in the file form (for a record head built by hand)."""
    key, secret = new_generation_key(taken, level, generation)
    return key.to_json(), secret
