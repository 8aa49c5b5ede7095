"""A legal hold's file, ``holds/<hold id>.yaml``: plaintext structure, sealed content.

    format: confide/hold/1
    hold: h-3f9a0c1b2d4e
    placed:               # sealed when the hold was placed
      for: [alice, recovery]
      data: |             # age, for each holder named under 'for'
        -----BEGIN AGE ENCRYPTED FILE-----
    released:             # only once it is released; sealed alike
      for: [...]
      data: ...

What the clear text says: that a hold with this random id exists, whether it is released, and for
whom its content is sealed (holders who may destroy, and recovery keys). What it does not say: which
record it is on (or that it is on all of them), why, by whom or when: those are in the sealed
payloads, each padded to a multiple of ``PAD`` bytes so that its length tells neither the scope nor
the reason's length. The commit that writes it names only the hold id (``services.holds``).

A payload (JSON) names its hold and what it is, so a block copied into another hold's file, or
from 'placed' to 'released', does not open as that hold's.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from vault_cli.adapters import crypto
from vault_cli.errors import IntegrityError
from vault_cli.formats import yamlio
from vault_cli.model.holds import HOLD_RE

FORMAT = "confide/hold/1"
HOLDS_DIR = "holds"
PAD = 512
PLACED, RELEASED = "placed", "released"
PAYLOADS = {PLACED: "confide/hold-placed/1", RELEASED: "confide/hold-released/1"}


def path_of(hold_id: str) -> str:
    return f"{HOLDS_DIR}/{hold_id}.yaml"


def id_of(path: str) -> Optional[str]:
    """The hold id a path names, or None if it is not a hold file's path."""
    if not path.startswith(HOLDS_DIR + "/") or not path.endswith(".yaml"):
        return None
    hid = path[len(HOLDS_DIR) + 1:-5]
    return hid if HOLD_RE.fullmatch(hid) else None


def problems(doc: Any, path: str) -> list[str]:
    """What is wrong with a hold file's plaintext structure (empty: nothing)."""
    if not isinstance(doc, dict):
        return [f"{path} is not a mapping"]
    out = []
    if doc.get("format") != FORMAT:
        out.append(f"{path} is not a {FORMAT} file")
    if doc.get("hold") != id_of(path):
        out.append(f"{path} names another hold than its file name")
    extra = set(doc) - {"format", "hold", PLACED, RELEASED}
    if extra:
        out.append(f"{path} holds keys a hold file does not have")
    for part in (PLACED, RELEASED):
        block = doc.get(part)
        if block is None:
            if part == PLACED:
                out.append(f"{path} has no sealed '{PLACED}' block")
            continue
        if (not isinstance(block, dict) or set(block) != {"for", "data"} or not isinstance(block["for"], list)
                or not block["for"] or not all(isinstance(n, str) for n in block["for"])
                or not crypto.block_is_armored(block["data"])):
            out.append(f"{path}'s '{part}' block is not a sealed block (for: names, data: age)")
    return out


def load(raw: bytes, path: str) -> dict:
    """A hold file's plaintext structure, checked (IntegrityError otherwise)."""
    doc = yamlio.load(raw, path)
    found = problems(doc, path)
    if found:
        raise IntegrityError(found[0], f"restore it from git (git log -p {path}) and run 'confide verify'")
    return doc


def dump(doc: dict) -> bytes:
    return yamlio.dump(doc).encode("utf-8")


def payload(hold_id: str, part: str, fields: dict) -> bytes:
    """A sealed payload's bytes: the fields, naming hold and part, padded to a multiple of PAD bytes."""
    body = {"format": PAYLOADS[part], "hold": hold_id, **fields}
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    size = len(raw.encode("utf-8")) + len(',"pad":""')
    body["pad"] = " " * (-size % PAD)
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def seal(hold_id: str, part: str, fields: dict, readers: dict[str, str]) -> dict:
    """A sealed block for ``readers`` ({holder: recipient})."""
    names = sorted(readers)
    return {"for": names, "data": crypto.encrypt_for_all(payload(hold_id, part, fields), [readers[n] for n in names])}


def open_block(doc: dict, part: str, path: str, identities: list[crypto.Identity]) -> Optional[dict]:
    """A sealed block's fields, or None if no key here opens it (IntegrityError if it is damaged or moved)."""
    block = doc.get(part)
    if block is None:
        return None
    for ident in identities:
        try:
            raw = crypto.decrypt(block["data"], ident)
        except crypto.NotForThisKey:
            continue
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        if not isinstance(body, dict) or body.get("format") != PAYLOADS[part] or body.get("hold") != doc.get("hold"):
            raise IntegrityError(f"the sealed '{part}' block of {path} does not belong to this hold (moved by hand)",
                                 f"restore it from git (git log -p {path}) and run 'confide verify'")
        body.pop("pad", None)
        return body
    return None


__all__ = ["FORMAT", "HOLDS_DIR", "PAD", "PLACED", "RELEASED", "path_of", "id_of", "problems", "load", "dump",
           "payload", "seal", "open_block"]
