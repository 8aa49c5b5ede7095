"""Children's names as people type them: matching a part of a name, in any case, with or without accents.

Names live only inside encrypted profiles; these functions work on names the
caller has already decrypted. "zoe" finds "Zoë", "ADA LOVE" finds "Ada
Lovelace", "lovelace ada" too: every word typed must appear in the name (or the
name the child is known as), in any order, ignoring case and accents.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Optional


def fold(text: str) -> str:
    """``text`` for comparing: case folded, accents dropped (NFKD without combining marks), spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFKC", plain).casefold().split())


def matches(query: str, names: Iterable[Optional[str]]) -> bool:
    """Whether every word of ``query`` appears in one of ``names`` (None ignored). An empty query matches nothing."""
    words = fold(query).split()
    if not words:
        return False
    for name in names:
        if name and all(w in fold(name) for w in words):
            return True
    return False


def same_name(a: Optional[str], b: Optional[str]) -> bool:
    """Whether two names are the same name, apart from case, accents and spacing."""
    return bool(a) and bool(b) and fold(a or "") == fold(b or "")


__all__ = ["fold", "matches", "same_name"]
