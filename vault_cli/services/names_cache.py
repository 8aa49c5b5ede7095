"""The children's names a holder's key reads at the tip, kept encrypted to that holder between commands.

Verification looks for a child's name in commit messages, file names and ref
names (``Verifier.check_names``), so it needs the names of every child whose
profile the caller can open, not only of the records the commits in question
touched. Opening every profile (reading each head, unwrapping its level key,
decrypting the profile) costs ~2 s of CPU at 1,000 records, and the check
before every command paid it whenever another holder had committed
(``benchmarks/compare.py``: ``show`` of a 300-entry record after a colleague's
``add``, 2.3 s against 0.8 s).

So a clone keeps, per holder, ``.git/confide/names-<holder>.age``: for each
record at the tip, the blob id of its head and the names its profile held,
as JSON encrypted with age to that holder's own recipient (ciphertext only
on disk, like every other file confide writes; mode 0600; never committed).
A record whose head blob is unchanged since the cache was written keeps its
names; any other head is opened again. A record gone from the tip is dropped
from the cache. A cache that does not open with the holder's key, or does not
parse, is rebuilt. Deleting the file is always safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.adapters.store import atomic_write

FORMAT = "confide/names-cache/1"


def cache_path(git_dir: Path, holder: str) -> Path:
    return git_dir / "confide" / f"names-{holder}.age"


class NamesCache:
    """{record: (head blob, names)} for one holder, read and written encrypted to that holder."""

    def __init__(self, path: Path, identities: list[crypto.Identity], holder: str) -> None:
        self.path = path
        self.identities = identities
        self.holder = holder
        self.records: dict[str, tuple[str, list[str]]] = {}
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
                return
            records = data.get("records")
            if not isinstance(records, dict):
                return
            for rid, item in records.items():
                if (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                        and isinstance(item[1], list) and all(isinstance(n, str) for n in item[1])):
                    self.records[rid] = (item[0], list(item[1]))
            return

    def names(self, heads: dict[str, str], open_names: Callable[[str], Optional[list[str]]]) -> dict[str, str]:
        """{name: record} for the records in ``heads`` ({record: head blob at the tip});
        ``open_names(record)`` opens a record's profile (None: this key does not read it)."""
        out: dict[str, str] = {}
        for rid in set(self.records) - set(heads):
            del self.records[rid]
            self.changed = True
        for rid, blob in heads.items():
            cached = self.records.get(rid)
            if cached is not None and cached[0] == blob:
                found = cached[1]
            else:
                found = open_names(rid) or []
                self.records[rid] = (blob, found)
                self.changed = True
            for name in found:
                out[name] = rid
        return out

    def save(self) -> None:
        """Write the cache back if it changed; a clone that cannot be written just goes without."""
        if not self.changed or not self.identities:
            return
        data = json.dumps({"format": FORMAT, "holder": self.holder,
                           "records": {rid: [blob, names] for rid, (blob, names) in sorted(self.records.items())}},
                          ensure_ascii=False).encode("utf-8")
        try:
            block = crypto.encrypt(data, self.identities[0].recipient)
            self.path.parent.mkdir(mode=0o700, exist_ok=True)
            atomic_write(self.path, block.encode("ascii"), 0o600)
        except OSError:
            return
        self.changed = False


__all__ = ["NamesCache", "cache_path"]
