"""A fast, exact reader for the small YAML subset confide's own files use.

``yamlio.load`` tries this first and falls back to ruamel.yaml for anything it
does not accept, so ruamel is imported only when a file needs it: ~7 ms of
start-up and ~0.4-0.7 ms per small file that every single-record command
(``confide add``, ``show``) would otherwise pay, and ~0.3 ms per record head in
whole-vault commands.

It accepts block mappings and sequences, ``key: value`` lines, literal ``|``
blocks (the armored age blocks), flow lists of plain words (``[a, b]``), ``[]``
and ``{}``, full-line comments, and these scalars: ``null``, ``true``,
``false``, decimal integers, single- or double-quoted strings with no escapes,
and plain words that YAML can only read as that same string (a letter first;
letters, digits, single spaces and ``._/+=@()-;,':#``, with no ``: `` or `` #``
and no final ``:``; never a word YAML 1.1 or 1.2 might read as a boolean or
null). Anything else (tabs, CR, control or non-printable characters, the line
breaks NEL/LS/PS, keys over 256 characters, trailing spaces, anchors,
tags, document markers, multi-line plain or quoted scalars, ``|-``/``>``,
duplicate keys, nesting deeper than ``MAX_DEPTH`` (which ``yamlio`` refuses),
indentation it does not expect) makes ``load`` return
``UNSUPPORTED`` and the caller uses the YAML parser, which then gives the same
value or the same error as before. Whatever this returns, ruamel's safe loader
returns too (checked against it on every kind of file confide writes).
"""

from __future__ import annotations

import re
from typing import Any

UNSUPPORTED = object()
MAX_DEPTH = 32  # mappings and sequences nested deeper are refused by yamlio; never read them here

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*):(?: (.*))?")
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._/+=@()\-;,':#]*")
_FLOW_ITEM = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")
_COUNT_WORD = re.compile(r"[1-9][0-9]{0,5} [a-z]+")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters YAML does not read as plain printable text: C0/C1 controls, DEL, surrogates, U+FFFE/FFFF
# (ruamel's reader rejects them) and the other line breaks NEL, LS, PS (ruamel splits lines there, and
# U+FEFF mid-stream); a document holding any of them is left to ruamel.
_NOT_PLAIN_TEXT = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


class _Unsupported(Exception):
    pass


def load(text: Any) -> Any:
    """The document's value, or ``UNSUPPORTED``. Never raises."""
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        if (not isinstance(text, str) or not text.endswith("\n") or "\t" in text or "\r" in text
                or text.startswith("\ufeff") or _NOT_PLAIN_TEXT.search(text)):
            return UNSUPPORTED  # (a file that ends mid-line changes what a final literal block holds)
        return _Parser(text).document()
    except (_Unsupported, UnicodeDecodeError, RecursionError, IndexError, ValueError):
        return UNSUPPORTED


def _scalar(raw: str) -> Any:
    if raw in ("null", "~"):
        return None
    if raw == "true":
        return True
    if raw == "false":
        return False
    if raw == "[]":
        return []
    if raw == "{}":
        return {}
    first = raw[0]
    if first == "'":
        inner = raw[1:-1]
        if len(raw) < 2 or raw[-1] != "'" or "'" in inner or _CONTROL.search(inner):
            raise _Unsupported
        return inner
    if first == '"':
        inner = raw[1:-1]
        if len(raw) < 2 or raw[-1] != '"' or '"' in inner or "\\" in inner or _CONTROL.search(inner):
            raise _Unsupported
        return inner
    if first == "[":
        if raw[-1] != "]":
            raise _Unsupported
        items = raw[1:-1].split(", ")
        if not all(_FLOW_ITEM.fullmatch(item) for item in items):
            raise _Unsupported
        return [_plain(item) for item in items]
    if _INT.fullmatch(raw):
        return int(raw)
    if _COUNT_WORD.fullmatch(raw):  # "1 month", "14 days": YAML reads these as strings
        return raw
    return _plain(raw)


def _strip_comment(rest: Any) -> Any:
    """A value with its trailing ``# comment`` removed (None if only a comment was left)."""
    if rest is None or "#" not in rest:
        return rest
    if rest.startswith("#"):
        return None
    if "'" in rest or '"' in rest:
        raise _Unsupported
    idx = rest.find(" #")
    if idx < 0:
        return rest  # a '#' inside a word is part of it
    return rest[:idx].rstrip(" ") or None


def _plain(raw: str) -> str:
    if (not _PLAIN.fullmatch(raw) or raw.endswith((" ", ":")) or "  " in raw or ": " in raw or " #" in raw
            or raw.lower() in _RESERVED):
        raise _Unsupported
    return raw


class _Parser:
    def __init__(self, text: str) -> None:
        raw_lines = text.split("\n")
        if raw_lines and raw_lines[-1] == "":
            raw_lines.pop()
        self.raw = raw_lines
        # (indent, content) for every line; None for blank lines and full-line comments.
        self.lines: list = []
        for line in raw_lines:
            stripped = line.lstrip(" ")
            if not stripped or stripped.startswith("#"):
                self.lines.append(None)
                continue
            if line.endswith(" ") or line.startswith(("---", "...", "%")):
                raise _Unsupported
            self.lines.append((len(line) - len(stripped), stripped))
        self.i = 0
        self.depth = 0  # mappings and sequences open around the current line, as YAML's parser counts them

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Unsupported

    def _collection(self, value: Any) -> Any:
        """A flow value ([], {}, [a, b]) is one level deeper than where it sits."""
        if isinstance(value, (list, dict)) and self.depth + 1 > MAX_DEPTH:
            raise _Unsupported
        return value

    def _next(self) -> int:
        """Index of the next significant line from self.i (len(lines) at the end)."""
        i = self.i
        while i < len(self.lines) and self.lines[i] is None:
            i += 1
        return i

    def document(self) -> Any:
        i = self._next()
        if i >= len(self.lines):
            raise _Unsupported
        indent, _ = self.lines[i]
        if indent != 0:
            raise _Unsupported
        self.i = i
        value = self._block(0)
        if self._next() != len(self.lines):
            raise _Unsupported
        return value

    def _block(self, indent: int) -> Any:
        i = self._next()
        _, content = self.lines[i]
        if content == "-" or content.startswith("- "):
            return self._sequence(indent)
        return self._mapping(indent)

    def _mapping(self, indent: int) -> dict:
        self._enter()
        out: dict = {}
        while True:
            i = self._next()
            if i >= len(self.lines):
                break
            ind, content = self.lines[i]
            if ind < indent:
                break
            if ind > indent or content == "-" or content.startswith("- "):
                if ind == indent:
                    break  # a sequence at this indent ends the mapping (its parent decides)
                raise _Unsupported
            m = _KEY.fullmatch(content)
            if m is None:
                raise _Unsupported
            key, rest = m.group(1), _strip_comment(m.group(2))
            if key.lower() in _RESERVED or key in out or len(key) > 256:  # (YAML: a simple key < 1024 chars)
                raise _Unsupported
            self.i = i + 1
            out[key] = self._value(rest, indent)
        self.depth -= 1
        return out

    def _value(self, rest: Any, indent: int) -> Any:
        if rest is None:
            j = self._next()
            if j < len(self.lines):
                ind, content = self.lines[j]
                if ind > indent:
                    return self._block(ind)
                if ind == indent and (content == "-" or content.startswith("- ")):
                    return self._sequence(indent)
            return None
        if rest == "|":
            return self._literal(indent)
        value = self._collection(_scalar(rest))
        j = self._next()
        if j < len(self.lines) and self.lines[j][0] > indent:
            raise _Unsupported  # a continuation line: a multi-line scalar, not ours
        return value

    def _literal(self, indent: int) -> str:
        i = self.i
        if i >= len(self.raw):
            raise _Unsupported
        first = self.raw[i]
        body = first.lstrip(" ")
        block_indent = len(first) - len(body)
        if block_indent <= indent or not body:
            raise _Unsupported
        pre = " " * block_indent
        parts = []
        while i < len(self.raw):
            line = self.raw[i]
            if not line.startswith(pre):
                if line.strip() == "" and i + 1 < len(self.raw) and self.raw[i + 1].startswith(pre):
                    raise _Unsupported  # a blank line inside the block: YAML keeps it; not ours
                break
            rest = line[block_indent:]
            if not rest or rest[0] == " ":
                raise _Unsupported
            parts.append(rest)
            i += 1
        self.i = i
        return "\n".join(parts) + "\n"

    def _sequence(self, indent: int) -> list:
        self._enter()
        out: list = []
        while True:
            i = self._next()
            if i >= len(self.lines):
                break
            ind, content = self.lines[i]
            if ind < indent:
                break
            if ind > indent:
                raise _Unsupported
            if not content.startswith("- "):
                break  # the parent mapping's next key
            item = content[2:]
            if not item or item.startswith(" "):
                raise _Unsupported
            if _KEY.fullmatch(item) is None:
                item = _strip_comment(item)
                if item is None:
                    raise _Unsupported
            m = _KEY.fullmatch(item)
            if m is not None and not item.startswith(("'", '"', "[")):
                # "- key: value": a mapping whose keys sit two columns in
                self.lines[i] = (indent + 2, item)
                self.i = i
                out.append(self._mapping(indent + 2))
                continue
            self.i = i + 1
            out.append(self._value_inline(item, indent))
        self.depth -= 1
        return out

    def _value_inline(self, item: str, indent: int) -> Any:
        if item == "|":
            raise _Unsupported
        value = self._collection(_scalar(item))
        j = self._next()
        if j < len(self.lines) and self.lines[j][0] > indent:
            raise _Unsupported
        return value
