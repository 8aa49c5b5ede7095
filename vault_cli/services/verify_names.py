"""verify's search for children's names in plaintext: commit messages, file names and ref names.

The names are those of every child whose profile the caller's key opens: the
profiles the walk opened (any version), and for the other records the
profile at the tip, through the holder's encrypted names cache
(``services.names_cache``) so that the check before every command opens only
the profiles that changed since the last one.
"""

from __future__ import annotations

import re
from typing import Optional

from vault_cli.adapters import crypto, gitlog
from vault_cli.errors import ConfideError
from vault_cli.formats import envelope
from vault_cli.model.levels import LevelKeys
from vault_cli.services.names_cache import DAMAGED, NamesCache, fields_of, names_in
from vault_cli.services.verify_versions import VerifierState

_WORDS = re.compile(r"\w+")  # compiled once: the check splits every child's names, a thousand at 1,000 records


class NameChecks(VerifierState):
    names_cache: Optional[NamesCache]
    messages: list[tuple[str, str]]
    _tip_heads: dict[str, tuple[str, str]]  # record -> (path, head blob) at the tip
    _head_profiles: dict[str, tuple[str, dict]]  # record -> (path, profile block) at the tip

    def _load_head(self, rid: str, path: str, blob: str) -> bool:
        try:
            head = envelope.load_head(self.cat.get(blob) or b"", path)
        except ConfideError:
            return False
        self.reader.head_keys[rid] = LevelKeys.from_json(head.get("keys", []))
        self._head_profiles[rid] = (path, head["profile"])
        return True

    def _profile_fields(self, rid: str):
        """What the names cache keeps of ``rid``'s profile at the tip (``names_cache.fields_of``); None if this
        reader's key does not open it; ``names_cache.DAMAGED`` if the head or profile does not open as it
        should (the walk reports that; the cache keeps nothing of it)."""
        if rid not in self._head_profiles:
            path, blob = self._tip_heads[rid]
            if not self._load_head(rid, path, blob):
                return DAMAGED
        path, block = self._head_profiles[rid]
        at_tip = self.reader.head_keys.get(rid)
        key_id = block.get("key")
        key = at_tip.find(key_id) if at_tip is not None and isinstance(key_id, str) else None
        if key is None:
            return DAMAGED
        ident = self.reader.level_identity(rid, key, path)
        if ident is None:
            return None
        try:
            payload = envelope.open_block(block["data"], ident, schema_name="profile", record=rid, block="profile",
                                          level=key.level, source=path)
        except (crypto.NotForThisKey, ConfideError):
            return DAMAGED
        return fields_of(payload.get("profile") or {})

    # -- names in plaintext ------------------------------------------------------------
    def check_names(self) -> None:
        """Commit messages, file and ref names holding a child's name (word-wise, so cheap at any size)."""
        # children whose profile the walk did not open: from the tip, through the holder's names cache
        others = {rid: blob for rid, (_path, blob) in self._tip_heads.items()}
        if self.names_cache is not None:
            # every record, also those the walk opened: the cache then serves the next command's check
            tip_names = self.names_cache.names(others, self._profile_fields)
            self.names_cache.save()
        else:
            seen = set(self.names.values())
            tip_names = {}
            for rid in others:
                if rid not in seen:
                    for name in names_in(self._profile_fields(rid)):
                        tip_names[name] = rid
        for name, rid in tip_names.items():
            self.names.setdefault(name, rid)
        if not self.names:
            return
        single: dict = {}
        full: dict = {}
        for name, rid in self.names.items():
            words = _WORDS.findall(name)
            if words:
                full[tuple(w.lower() for w in words)] = rid
            for w in words:
                if len(w) >= 3 and w[0].isupper():
                    single.setdefault(w, rid)
        lengths = sorted({len(k) for k in full})

        def hit(text: str) -> Optional[str]:
            words = _WORDS.findall(text)
            for w in words:
                if w in single:
                    return single[w]
            lower = [w.lower() for w in words]
            for n in lengths:
                for i in range(len(lower) - n + 1):
                    rid = full.get(tuple(lower[i:i + n]))
                    if rid:
                        return rid
            return None

        for sha, message in self.messages:
            found = hit(message)
            if found:
                self.add(sha, None, "plaintext", f"the commit message holds what looks like a child's name (from the profile of {found})")
        for path in sorted(self.paths):
            found = hit(path.replace("_", " ").replace("-", " ").replace(".", " "))
            if found:
                self.add("", path, "plaintext", f"a file name holds what looks like a child's name (from the profile of {found})")
        for ref in gitlog.ref_names(self.root):
            found = hit(ref.replace("_", " ").replace("-", " ").replace("/", " "))
            if found:
                self.add("", ref, "plaintext", f"a branch or tag name holds what looks like a child's name (from the profile of {found})")


__all__ = ["NameChecks"]
