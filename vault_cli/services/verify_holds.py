"""verify's rules for legal holds (``holds/<hold id>.yaml``), from history, by the same table as the command.

A commit that touches a hold file must be by a holder whose role may destroy records (``model.policy``,
``services.holds.PERMISSION``), and must be what ``confide hold`` makes:

- ``hold.add`` of that hold (its ``Confide-Hold`` trailer): a new file, sealed, with no release;
- ``hold.release`` of that hold: an existing open hold's file, its 'placed' block unchanged, with a
  'released' block added;
- ``hold.reseal``: the same blocks sealed anew for today's readers (after managers changed), what they
  say unchanged (checked by a verifier whose key opens them before and after);
- nothing else: a hold file is never removed, a released hold never changes again (but by a reseal),
  an open one changes only by its release.

Every verifier checks these from the plaintext structure, and that the sealed blocks written are for
holders who may read holds (no one else); a verifier whose key opens a block also checks that it
belongs to its hold and names a record id or every record.
"""

from __future__ import annotations

from typing import Optional

from vault_cli.errors import IntegrityError
from vault_cli.formats import holdfile, yamlio
from vault_cli.model import holds, ids, policy
from vault_cli.model.holds import ALL


def _doc(verifier, blob: Optional[str], path: str) -> Optional[dict]:
    raw = verifier.blob(blob) if blob is not None else None
    if raw is None:
        return None
    try:
        doc = yamlio.load(raw, path)
    except IntegrityError:
        return None
    return doc if isinstance(doc, dict) else None


def check(verifier, ctx, path: str, old: Optional[str], new: Optional[str]) -> None:
    """One hold file's change in one ordinary commit (``ctx``: the commit, judged by the state before it)."""
    c = ctx.c
    hid = holdfile.id_of(path)
    if hid is None:
        if new is not None:
            verifier.add(c.sha, path, "file-name", f"unexpected file {path}: the holds folder holds only "
                         "holds/<hold id>.yaml")
        return
    if not ctx.may(holds.PERMISSION):
        verifier.add(c.sha, path, "hold", f"legal hold {hid} was changed by '{ctx.name}', whose role may not place "
                     f"or release holds ({policy.PERMISSIONS[holds.PERMISSION]})")
    if c.action == holds.RESEAL and old is not None and new is not None:
        _check_reseal(verifier, ctx, path, hid, old, new)
        return
    wanted = holds.PLACE if old is None else holds.RELEASE
    if c.action != wanted or c.trailers.get(holds.HOLD_TRAILER) != hid:
        verifier.add(c.sha, path, "hold", f"legal hold {hid} was changed by a commit that is not '{wanted}' of that "
                     "hold: a hold is placed and released by 'confide hold', and changes in no other way")
    if new is None:
        verifier.add(c.sha, path, "hold", f"legal hold {hid} was removed: a hold is released, never removed")
        return
    doc = _doc(verifier, new, path)
    found = holdfile.problems(doc, path)
    if found:
        for p in found:
            verifier.add(c.sha, path, "hold", p)
        return
    assert doc is not None  # problems() refuses anything else
    if old is None:
        if holdfile.RELEASED in doc:
            verifier.add(c.sha, path, "hold", f"legal hold {hid} was placed already released")
        written = [holdfile.PLACED]
    else:
        before = _doc(verifier, old, path) or {}
        if holdfile.RELEASED in before:
            verifier.add(c.sha, path, "hold", f"legal hold {hid} was changed after its release")
            return
        if before.get(holdfile.PLACED) != doc.get(holdfile.PLACED) or before.get("format") != doc.get("format"):
            verifier.add(c.sha, path, "hold", f"what legal hold {hid} says was changed: only a release may be added")
        if holdfile.RELEASED not in doc:
            verifier.add(c.sha, path, "hold", f"legal hold {hid} was changed without being released")
            return
        written = [holdfile.RELEASED]
    _check_sealed(verifier, ctx, path, hid, doc, written)


def _check_sealed(verifier, ctx, path: str, hid: str, doc: dict, written: list[str]) -> None:
    """The blocks a commit wrote: sealed for hold readers only; one a verifier's key opens belongs to its hold."""
    c = ctx.c
    allowed = set(holds.readers(ctx.settings, ctx.holders))
    for part in written:
        outsiders = sorted(set(doc[part]["for"]) - allowed)
        if outsiders:
            verifier.add(c.sha, path, "hold", f"legal hold {hid} is sealed for {', '.join(outsiders)}, who may not "
                         "read legal holds")
        try:
            fields = holdfile.open_block(doc, part, path, verifier.reader.identities)
        except IntegrityError as exc:
            verifier.add(c.sha, path, "hold", exc.message)
            continue
        if fields is not None and part == holdfile.PLACED:
            scope = fields.get("scope")
            if scope != ALL and not (isinstance(scope, str) and ids.RECORD_RE.fullmatch(scope)):
                verifier.add(c.sha, path, "hold", f"legal hold {hid} covers neither a record nor every record")


def _check_reseal(verifier, ctx, path: str, hid: str, old: str, new: str) -> None:
    """``hold.reseal``: the same hold, the same parts, each changed block sealed for hold readers; what it says
    unchanged (checked by a verifier whose key opens the block before and after)."""
    c = ctx.c
    before, doc = _doc(verifier, old, path), _doc(verifier, new, path)
    found = holdfile.problems(doc, path)
    if before is None or found:
        for p in found or [f"{path} could not be read before the reseal"]:
            verifier.add(c.sha, path, "hold", p)
        return
    assert doc is not None  # problems() refuses anything else
    if set(before) != set(doc) or before.get("format") != doc.get("format"):
        verifier.add(c.sha, path, "hold", f"legal hold {hid} was changed by a reseal: a reseal seals the same hold anew")
        return
    written = [part for part in (holdfile.PLACED, holdfile.RELEASED) if part in doc and doc[part] != before[part]]
    _check_sealed(verifier, ctx, path, hid, doc, written)
    for part in written:
        try:
            was = holdfile.open_block(before, part, path, verifier.reader.identities)
            now = holdfile.open_block(doc, part, path, verifier.reader.identities)
        except IntegrityError:
            continue  # reported by _check_sealed (the new block) or when the old one was written
        if was is not None and now is not None and was != now:
            verifier.add(c.sha, path, "hold", f"a reseal changed what legal hold {hid} says: a reseal seals the same "
                         "content anew")


__all__ = ["check"]
