"""A fast, exact writer for record heads, for the commands that rewrite every record.

``yamlio.dump`` spends ~2 ms per record head in ruamel's pure-Python
representer; grant, revoke, rotate and holder commands rewrite up to every
record, so that alone was half their time. A head holds only what
``schemas/record.schema.json`` allows: ids, holder names, level names, dates,
age recipients, small integers, null, and armored age blocks. ``dump`` writes
exactly the bytes ``yamlio.dump`` would for such data (the tests compare the two
on real heads), and returns None for anything it does not recognise, so the
caller falls back to ``yamlio.dump``. It never guesses at quoting: a string is
written plain only when it matches a pattern that YAML reads back as that same
string.
"""

from __future__ import annotations

import re
from typing import Any, Optional

# (holders.yaml: an SSH public line, the recipient and signing key 'confide keygen' makes, is plain too)
_PLAIN = re.compile(r"^(?:[a-z][a-z0-9._-]{0,39}|[ck]-[0-9a-z]{4,14}|age1[0-9a-z]{58}|confide/[a-z]+/[0-9]+"
                    r"|ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]{48})$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_RESERVED = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf"}
_BLOCK = re.compile(r"(?:[A-Za-z0-9+/=-](?:[A-Za-z0-9+/= -]*[A-Za-z0-9+/=-])?\n)+")


class _Unsupported(Exception):
    pass


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        raise _Unsupported
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value not in _RESERVED and not value.replace(".", "").isdigit():
            return value
        if _DATE.fullmatch(value):  # (match() and "$" would let a final "\n" through)
            return f"'{value}'"
    raise _Unsupported


def _block(value: str, indent: str) -> list[str]:
    # Only armored-style text: printable lines without leading or trailing spaces, one trailing newline.
    if not _BLOCK.fullmatch(value):
        raise _Unsupported
    return ["|"] + [indent + line for line in value[:-1].split("\n")]


def _value(key: str, value: Any, indent: str, out: list[str]) -> None:
    if isinstance(value, dict):
        if not value:
            out.append(f"{indent}{key}: {{}}")
            return
        out.append(f"{indent}{key}:")
        _mapping(value, indent + "  ", out)
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
                raise _Unsupported
            first = True
            for k, v in item.items():
                if not isinstance(k, str) or _scalar(k) != k:  # keys in list items too: '12', 'null', 1
                    raise _Unsupported
                sub: list[str] = []
                _value(k, v, indent + "  ", sub)
                if first:
                    sub[0] = indent + "- " + sub[0][len(indent) + 2:]
                    first = False
                out.extend(sub)
    elif isinstance(value, str) and "\n" in value:
        block = _block(value, indent + "  ")
        out.append(f"{indent}{key}: {block[0]}")
        out.extend(block[1:])
    else:
        out.append(f"{indent}{key}: {_scalar(value)}")


def _mapping(data: dict, indent: str, out: list[str]) -> None:
    for k, v in data.items():
        if not isinstance(k, str) or _scalar(k) != k:
            raise _Unsupported
        _value(k, v, indent, out)


def dump(head: dict) -> Optional[str]:
    """The YAML text ``yamlio.dump(head)`` would write, or None when ``head`` holds anything unusual."""
    out: list[str] = []
    try:
        _mapping(head, "", out)
    except (_Unsupported, RecursionError):
        return None
    return "\n".join(out) + "\n"
