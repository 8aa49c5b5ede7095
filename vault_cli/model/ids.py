"""Identifiers. Random or time-ordered, never derived from anything about a child.

All ids use Crockford's base32 alphabet in lower case.

- record ids: ``c-`` + 8 random characters (40 bits);
- entry ids: ``e-`` + 10 characters of milliseconds since the epoch + 4 random
  characters, so that sorting entries by id sorts them by recording time and two
  clones writing in the same millisecond almost never collide;
- mark ids: ``m-`` with the same shape as entry ids;
- level key ids: ``k-`` + 4 random characters, unique within their record;
- legal hold ids: ``h-`` + 12 random characters (60 bits).
"""

from __future__ import annotations

import os
import re
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

RECORD_RE = re.compile(r"^c-[0-9a-hjkmnp-tv-z]{8}$")
ENTRY_RE = re.compile(r"^e-[0-9a-hjkmnp-tv-z]{14}$")
MARK_RE = re.compile(r"^m-[0-9a-hjkmnp-tv-z]{14}$")
KEY_RE = re.compile(r"^k-[0-9a-hjkmnp-tv-z]{4}$")
HOLDER_RE = re.compile(r"^[a-z][a-z0-9._-]{0,39}$")


def _random(n: int) -> str:
    # os.urandom, as ``secrets`` uses, without importing ``secrets`` (~3 ms of start-up, and every
    # command pays its imports). 32 divides 256, so ``byte & 31`` picks each character uniformly.
    return "".join(ALPHABET[b & 31] for b in os.urandom(n))


def _time_part(ms: int | None = None) -> str:
    if ms is None:
        ms = time.time_ns() // 1_000_000
    out = []
    for _ in range(10):
        out.append(ALPHABET[ms & 31])
        ms >>= 5
    return "".join(reversed(out))


def new_record_id() -> str:
    return "c-" + _random(8)


def new_entry_id() -> str:
    return "e-" + _time_part() + _random(4)


def new_mark_id() -> str:
    return "m-" + _time_part() + _random(4)


def new_hold_id() -> str:
    return "h-" + _random(12)


def new_key_id(taken: set[str]) -> str:
    while True:
        kid = "k-" + _random(4)
        if kid not in taken:
            return kid
