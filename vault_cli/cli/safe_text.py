"""Text from a record made safe for a terminal: the one place that decides what a terminal may be sent.

Names, entry text, categories, third parties, reasons and anything else a holder typed (or
a file in the vault holds) can carry characters a terminal acts on instead of showing:
C0 and C1 control characters (ESC starts ANSI CSI colour and cursor sequences and OSC
sequences that set the window title or write the clipboard), DEL, and the Unicode bidi
overrides and isolates that reorder what is shown ("Trojan source"). ``safe`` shows each
such character visibly and inertly: ``\\x1b``, ``\\x9b``, ``<U+202E>``. Everything the
command line prints for a person passes through it (``cli.common.out``, its tables, the
messages on stderr, ``cli.render``); rich is given the result as ``Text``, never as markup,
so a name like ``[/bold]x`` is shown as typed.

``--json`` keeps the data exact: ``json_text`` writes the same characters as JSON's own
``\\uXXXX`` escapes, which decode to exactly what was stored.
"""

from __future__ import annotations

import re

# The bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI), the
# invisible direction marks (LRM RLM ALM), and the line and paragraph separators.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029"

# C0 controls, DEL, C1 controls, the bidi set, and lone surrogates (undecodable bytes).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + BIDI + "\ud800-\udfff]")
_UNSAFE_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + BIDI + "\ud800-\udfff]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f" + BIDI + "\ud800-\udfff]")


def _shown(m: re.Match) -> str:
    ch = m.group(0)
    n = ord(ch)
    if n <= 0xFF:
        return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch, f"\\x{n:02x}")
    if 0xD800 <= n <= 0xDFFF:
        return f"\\u{n:04x}"
    return f"<U+{n:04X}>"


def safe(text: object, *, lines: bool = False) -> str:
    """``text`` as a terminal may show it: every control and bidi character written out visibly.

    With ``lines`` newlines and tabs are kept (the text is printed as lines, e.g. an entry's
    text); otherwise they too are shown as ``\\n`` and ``\\t`` (a table cell, one line of a
    tab-separated row). ``None`` is the empty string.
    """
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    pattern = _UNSAFE_KEEP_LINES if lines else _UNSAFE
    if pattern.search(s) is None:  # the common case: nothing to do
        return s
    return pattern.sub(_shown, s)


def json_text(dumped: str) -> str:
    """A JSON document (``json.dumps(..., ensure_ascii=False)``) with DEL, C1, bidi characters and lone
    surrogates as ``\\uXXXX``.

    The same data (JSON decodes the escape to the same character; such characters can only
    stand inside strings), but nothing a terminal acts on. json.dumps escapes C0 itself.
    """
    if _JSON_UNSAFE.search(dumped) is None:
        return dumped
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", dumped)


__all__ = ["safe", "json_text", "BIDI"]
