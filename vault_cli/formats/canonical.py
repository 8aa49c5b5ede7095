"""confide's own YAML files in their canonical form, without ruamel.yaml: the writer and the strict reader.

Every YAML file confide writes (record heads, entries files, holders.yaml) is
in one canonical form, the bytes ruamel.yaml's safe dumper writes with
``yamlio``'s settings for data of the shapes the schemas allow. This module
writes and reads that form by hand because ruamel.yaml (its C loader and
emitter) costs a user time they notice. ``benchmarks/bench_yaml.py`` against
this same code with every function here declining (ruamel.yaml alone), 2
shared cores, median CPU of 4 interleaved runs, 1,000 records x 50 entries:

- ``confide revoke --all`` 3.1 s instead of 5.6 s, ``grant --all`` 3.1 s
  instead of 6.0 s, ``holder rotate`` 4.4 s instead of 6.9 s: every head is
  read (0.18 ms here, 0.88 ms with ruamel.yaml) and written (0.10 ms, 0.68 ms);
- ``confide show`` of a 300-entry record 1.2 s instead of 2.2 s, ``add`` to
  it 1.2 s instead of 2.2 s, ``add`` after pulling 100 commits 1.7 s instead
  of 3.8 s (an entries file: 0.8 ms to read here, 3.5 ms with ruamel.yaml, at
  50 entries; 4.8 and 18 ms at 300);
- ``confide verify`` over 3,006 commits (300 records): 6.2 s instead of
  16.8 s, most of it ``entry_items`` (only new or changed entries are parsed);
- a plain ``confide add`` gains nothing (0.36 s either way): confide.yaml is
  the user's file, read by ruamel.yaml in every command.

It never guesses. Each function returns None for anything outside the
canonical form, and the caller (``yamlio.load`` / ``yamlio.dump``) uses
ruamel.yaml, which then gives the same value, bytes or error as if this module
did not exist. ``load`` accepts a document only if ``dump`` would write exactly
those bytes for the value it read (no comments, flow style, quoting, anchors,
tags, BOM, CR, tabs, trailing spaces, blank lines or other indentation), so
whatever it returns is what ruamel.yaml returns: ``tests/test_fastpaths.py``
and ``tests/test_yaml_properties.py`` check both directions against
ruamel.yaml on real files, generated records and mutated and adversarial
documents.

The canonical form: a block mapping at the top; block mappings indented two
spaces; block sequences at their key's indentation (``- `` items: plain
scalars, or mappings whose first key follows the dash); ``key: []`` and
``key: {}`` for empty ones; ``key: |`` literal blocks of armored-style lines
(age blocks) two spaces deeper; and these scalars: ``null``, decimal integers,
dates quoted ``'2026-11-24'``, and plain words of a few fixed patterns (ids,
holder and level names, age recipients, SSH ed25519 public keys,
``confide/<kind>/<n>``) that YAML can only read as that same string.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from vault_cli.model import ids

# Plain (unquoted) strings the canonical form holds; YAML reads each back as the same string.
_PLAIN = re.compile(r"(?:[a-z][a-z0-9._-]{0,39}|[ck]-[0-9a-z]{4,14}|age1[0-9a-z]{58}|confide/[a-z]+/[0-9]+"
                    r"|ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]{48})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT = re.compile(r"0|-?[1-9][0-9]*")
_RESERVED = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf"}
# A literal block: armored-style lines (no leading or trailing space), each ending in a newline.
_BLOCK = re.compile(r"(?:[A-Za-z0-9+/=-](?:[A-Za-z0-9+/= -]*[A-Za-z0-9+/=-])?\n)+")
_NOT_BLOCK = re.compile(r"[^A-Za-z0-9+/= \n-]")
MAX_DEPTH = 16  # confide's files nest 4 deep; yamlio refuses past 32, so nothing read here comes near


class _Decline(Exception):
    pass


# ---------------------------------------------------------------------------
# writing


def _plain_ok(value: str) -> bool:
    return _PLAIN.fullmatch(value) is not None and value not in _RESERVED and not value.replace(".", "").isdigit()


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        raise _Decline
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _plain_ok(value):
            return value
        if _DATE.fullmatch(value):
            return f"'{value}'"
    raise _Decline


def _key(key: Any) -> str:
    if not isinstance(key, str) or not _plain_ok(key):  # keys too: not '12', 'null', 1
        raise _Decline
    return key


def _value(key: str, value: Any, indent: str, out: list, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Decline
    if isinstance(value, dict):
        if not value:
            out.append(f"{indent}{key}: {{}}")
            return
        out.append(f"{indent}{key}:")
        _mapping(value, indent + "  ", out, depth + 1)
    elif isinstance(value, list):
        if not value:
            out.append(f"{indent}{key}: []")
            return
        out.append(f"{indent}{key}:")
        for item in value:
            if isinstance(item, str) and "\n" not in item:  # a list of plain words (a head's 'rekey' levels)
                out.append(f"{indent}- {_scalar(item)}")
                continue
            if not isinstance(item, dict) or not item:
                raise _Decline
            first = len(out)
            _mapping(item, indent + "  ", out, depth + 2)
            out[first] = indent + "- " + out[first][len(indent) + 2:]
    elif isinstance(value, str) and "\n" in value:
        if not _BLOCK.fullmatch(value):
            raise _Decline
        out.append(f"{indent}{key}: |")
        pre = indent + "  "
        out.extend(pre + line for line in value[:-1].split("\n"))
    else:
        out.append(f"{indent}{key}: {_scalar(value)}")


def _mapping(data: dict, indent: str, out: list, depth: int) -> None:
    for k, v in data.items():
        _value(_key(k), v, indent, out, depth)


def dump(data: Any) -> Optional[str]:
    """The text ruamel.yaml writes for ``data`` with ``yamlio``'s settings, or None when ``data`` is not in
    the canonical form (the caller then asks ruamel.yaml)."""
    if not isinstance(data, dict) or not data:
        return None
    out: list = []
    try:
        _mapping(data, "", out, 1)
    except (_Decline, RecursionError):
        return None
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# reading


def _read_scalar(raw: str) -> Any:
    if not raw:
        raise _Decline
    if raw == "null":
        return None
    if raw[0] == "'":
        inner = raw[1:-1]
        if raw[-1] != "'" or not _DATE.fullmatch(inner):
            raise _Decline
        return inner
    if _INT.fullmatch(raw):
        return int(raw)
    if not _plain_ok(raw):
        raise _Decline
    return raw


class _Reader:
    """Recursive descent over the lines of a canonical document; any other line declines."""

    def __init__(self, lines: list) -> None:
        self.lines = lines
        self.i = 0

    def mapping(self, indent: int, depth: int, first: Optional[str] = None) -> dict:
        """Keys at ``indent``; ``first``: the first key's line when it follows a ``- `` (a sequence item)."""
        if depth > MAX_DEPTH:
            raise _Decline
        lines, n = self.lines, len(self.lines)
        pre = " " * indent
        out: dict = {}
        while True:
            if first is not None:
                line, first = first, None
            else:
                if self.i >= n:
                    break
                line = lines[self.i]
                if not line.startswith(pre) or line[indent:indent + 1] in (" ", "-"):
                    break  # a shallower line, or a sequence item of the parent's: this mapping ends
                line = line[indent:]
            self.i += 1
            key, sep, rest = line.partition(":")
            if not sep or not _plain_ok(key) or key in out:
                raise _Decline
            if rest == "":
                # a nested mapping two deeper, or a sequence at this indent
                if self.i < n and lines[self.i].startswith(pre + "- "):
                    out[key] = self.sequence(indent, depth + 1)
                elif self.i < n and lines[self.i].startswith(pre + "  ") and lines[self.i][indent + 2:indent + 3] not in (" ", "-", ""):
                    out[key] = self.mapping(indent + 2, depth + 1)
                else:
                    raise _Decline  # 'key:' alone is null in YAML; confide writes 'key: null'
            elif rest[0] != " ":
                raise _Decline
            elif rest == " |":
                out[key] = self.block(indent + 2)
            elif rest == " []":
                out[key] = []
            elif rest == " {}":
                out[key] = {}
            else:
                out[key] = _read_scalar(rest[1:])
        if not out:
            raise _Decline
        return out

    def sequence(self, indent: int, depth: int) -> list:
        if depth > MAX_DEPTH:
            raise _Decline
        lines, n = self.lines, len(self.lines)
        dash = " " * indent + "- "
        cut = indent + 2
        out: list = []
        while self.i < n and lines[self.i].startswith(dash):
            item = lines[self.i][cut:]
            key, sep, rest = item.partition(":")
            if sep and (rest == "" or rest[0] == " "):
                out.append(self.mapping(indent + 2, depth + 1, first=item))
            else:
                self.i += 1
                value = _read_scalar(item)
                if not isinstance(value, str):  # the writer puts only strings in a list of words
                    raise _Decline
                out.append(value)
        return out

    def block(self, indent: int) -> str:
        lines, n = self.lines, len(self.lines)
        pre = " " * indent
        start = i = self.i
        while i < n and lines[i].startswith(pre):
            i += 1
        if i == start:
            raise _Decline
        self.i = i
        text = "\n".join([line[indent:] for line in lines[start:i]]) + "\n"
        # what _BLOCK allows, checked with substring searches (~3x faster on a 300-entry file): a deeper line,
        # an empty one, a space at either end of one or any other character is not the canonical form
        if (text[0] == " " or "\n " in text or " \n" in text or "\n\n" in text or _NOT_BLOCK.search(text)):
            raise _Decline
        return text


def load(text: Any) -> Optional[dict]:
    """The value of a document in the canonical form (what ruamel.yaml reads from it), or None for any other
    text. Never raises."""
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("ascii")
        if not isinstance(text, str) or not text.endswith("\n") or not text.isascii():
            return None
        lines = text[:-1].split("\n")
        reader = _Reader(lines)
        if lines[0][:1] in (" ", "-", ""):
            return None
        value = reader.mapping(0, 1)
        if reader.i != len(lines):
            return None
        return value
    except (_Decline, RecursionError, UnicodeDecodeError, ValueError):
        return None


# ---------------------------------------------------------------------------
# entries files, without parsing them whole

_FOREIGN_LINE = re.compile(rb"^(?!- |  |$)", re.M)


def entry_items(tail: bytes) -> Optional[dict]:
    """The items of a canonical entries file as raw bytes, by entry id, in file order (None when it is not in
    that shape). ``verify`` compares them between versions and parses only the new or changed ones, which it
    does by ``load`` of ``entries_document`` of those items."""
    if tail in (b"entries: []\n", b"entries:\n"):
        return {}
    if not tail.startswith(b"entries:\n- id: e-"):
        return None
    parts = tail[len(b"entries:\n- id: "):].split(b"\n- id: ")
    out = {}
    for part in parts:
        eid = part[:16].decode("ascii", "replace")
        if not ids.ENTRY_RE.fullmatch(eid) or part[16:17] != b"\n" or eid in out:
            return None
        out[eid] = part.rstrip(b"\n")
    return out


def entries_document(items: list) -> bytes:
    """An entries file holding these raw items (from ``entry_items``)."""
    return b"entries:\n" + b"".join(b"- id: " + item + b"\n" for item in items)


def append_entry(tail: bytes, entry: dict) -> Optional[bytes]:
    """``tail`` with ``entry`` appended as bytes, when the file is shaped as confide writes it and the entry
    sorts last (its old blocks stay byte-identical, and the file is not parsed); None otherwise: the caller
    then parses the file, which reports any damage instead of appending to it.

    The shape check is a cheap scan, not a parse: ``entries:`` then only list items and their indented
    lines. The result is what writing the parsed entries plus this one would give."""
    if not tail.startswith(b"entries:") or not tail.endswith(b"\n"):
        return None
    first, _, rest = tail.partition(b"\n")
    first = first.strip()
    if first == b"entries: []":
        if rest.strip():
            return None
    elif first != b"entries:" or _FOREIGN_LINE.search(rest) is not None:
        return None
    i = tail.rfind(b"\n- id: e-")
    if i >= 0:
        last = tail[i + len(b"\n- id: "):].split(b"\n", 1)[0].decode("ascii", "replace").strip()
        if not ids.ENTRY_RE.fullmatch(last) or not isinstance(entry.get("id"), str) or entry["id"] <= last:
            return None
    item = dump({"entries": [entry]})
    if item is None:
        return None
    item_bytes = item.encode("ascii")[len(b"entries:\n"):]
    if tail.strip() in (b"entries: []", b"entries:", b""):
        return b"entries:\n" + item_bytes
    return tail + item_bytes
