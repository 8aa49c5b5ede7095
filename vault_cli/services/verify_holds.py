"""verify's rules for legal holds (``holds/<hold id>.yaml``), from history, by the same table as the command.

A commit that touches a hold file must be by a holder whose role may destroy records (``model.policy``,
``services.holds.PERMISSION``), and must be what ``confide hold`` makes:

- ``hold.add`` of that hold (its ``Confide-Hold`` trailer): a new file, sealed, with no release;
- ``hold.release`` of that hold: an existing open hold's file, its 'placed' block unchanged, with a
  'released' block added;
- ``hold.reseal``: the same blocks sealed anew for today's readers (after managers changed), what they
  say unchanged (checked by a verifier whose key opens them before and after);
- ``holder.rotate`` (a key rotation, which seals the holds anew for the new key): as a reseal, for the readers
  and keys after the rotation;
- nothing else: a hold file is never removed, a released hold never changes again (but by a reseal),
  an open one changes only by its release.

The commit's holder must also be one whose role may write (the command writes as every command does,
``services.writing``): a hold needs both 'destroy' and 'write'.

Every verifier checks these from the plaintext structure, and that each sealed block written is for exactly
the hold readers of that commit (``model.holds.readers``, as the command seals it): its 'for' list is
theirs, sorted, and its age header holds one recipient stanza for each, an ``ssh-ed25519`` stanza's key tag
matching the named holder's key (``adapters.crypto.stanza_keys``; an X25519 stanza names no key, so it is
only counted). A verifier whose key opens a block also checks that it belongs to its hold and holds a
payload of the right shape (``formats.holdfile.payload_problems``); that a placing or release says it was by
the commit's holder, on the commit's day (``model.holds.on_commit_day``); that a new hold's scope is not
already under another open hold; and, named among a block's readers, that its key opens the block (in a
reseal: still opens what it opened before); a key of its that opens a block not naming it is reported too.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.errors import IntegrityError
from vault_cli.formats import holdfile, yamlio
from vault_cli.model import holds, policy


def _doc(verifier, blob: Optional[str], path: str) -> Optional[dict]:
    raw = verifier.blob(blob) if blob is not None else None
    if raw is None:
        return None
    try:
        doc = yamlio.load(raw, path)
    except IntegrityError:
        return None
    return doc if isinstance(doc, dict) else None


ROTATE = "holder.rotate"  # a holder's key rotation, which may seal the holds anew for the new key


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
    elif not ctx.may("write"):  # the command writes as every command does (``services.writing``)
        verifier.add(c.sha, path, "hold", f"legal hold {hid} was changed by '{ctx.name}', whose role may not write "
                     "(placing or releasing a hold needs both 'destroy' and 'write')")
    if c.action in (holds.RESEAL, ROTATE) and old is not None and new is not None:
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
    opened = _check_sealed(verifier, ctx, path, hid, doc, written)
    for part, fields in opened.items():
        _check_author(verifier, ctx, path, hid, part, fields)
    if old is None and holdfile.PLACED in opened:
        _check_one_open_hold(verifier, ctx, hid, opened[holdfile.PLACED].get("scope"))


def _check_one_open_hold(verifier, ctx, hid: str, scope) -> None:
    """``hold add`` refuses a second open hold on a scope: no other hold open after this commit (that this
    verifier's key opens) may cover the same one. Two clones placing one at once, merged, are not refused:
    each commit was right on its own line (the merge is judged as a merge)."""
    for path, blob in sorted(verifier.cat.files(ctx.c.sha, holdfile.HOLDS_DIR).items()):
        other = holdfile.id_of(path)
        doc = _doc(verifier, blob, path) if other not in (None, hid) else None
        if doc is None or holdfile.problems(doc, path) or holdfile.RELEASED in doc:
            continue
        try:
            fields = holdfile.open_block(doc, holdfile.PLACED, path, verifier.reader.identities)
        except IntegrityError:
            continue  # reported where it was written
        if fields is not None and fields.get("scope") == scope:
            verifier.add(ctx.c.sha, holdfile.path_of(hid), "hold", f"legal hold {hid} was placed on "
                         f"{'every record' if scope == holds.ALL else 'a record'} already under open hold {other}")
            return


def _check_sealed(verifier, ctx, path: str, hid: str, doc: dict, written: list[str],
                  opened_before: Optional[dict] = None) -> dict:
    """The blocks a commit wrote: sealed for exactly the hold readers of that commit (``holds.readers``), as its
    'for' list says and, as far as the age header tells, as its stanzas say; one a verifier's key opens belongs
    to its hold and holds a payload of the right shape. Returns {part: fields} of those the verifier opened."""
    c = ctx.c
    # for the readers of that commit; a key rotation's reseal (carried by the rotation itself) for the keys after it
    expected = (holds.readers(ctx.after_settings, ctx.after_holders) if c.action == ROTATE
                else holds.readers(ctx.settings, ctx.holders))
    mine = {i.recipient for i in verifier.reader.identities}
    opened: dict = {}
    for part in written:
        names = doc[part]["for"]
        outsiders = sorted(set(names) - set(expected))
        missing = sorted(set(expected) - set(names))
        if outsiders:
            verifier.add(c.sha, path, "hold", f"legal hold {hid} is sealed for {', '.join(outsiders)}, who may not "
                         "read legal holds")
        if missing:
            verifier.add(c.sha, path, "hold", f"legal hold {hid} is not sealed for {', '.join(missing)}, who may "
                         "read legal holds (a hold is sealed for every one of them)")
        if not outsiders and not missing and names != sorted(expected):
            verifier.add(c.sha, path, "hold", f"legal hold {hid} names its readers twice or out of order")
        keys = crypto.stanza_keys(doc[part]["data"])
        named = sorted((crypto.recipient_key(expected[n]) for n in names if n in expected),
                       key=lambda k: (k[0], k[1] or ""))
        if not outsiders and keys != named:
            verifier.add(c.sha, path, "hold", f"the sealed '{part}' block of legal hold {hid} is not sealed for the "
                         "keys of the holders it names (its age header lists other or more keys)")
        try:
            fields = holdfile.open_block(doc, part, path, verifier.reader.identities)
        except IntegrityError as exc:
            verifier.add(c.sha, path, "hold", exc.message)
            continue
        named_mine = sorted(n for n in names if n in expected and expected[n] in mine)
        if fields is None:
            if named_mine:
                was = (opened_before or {}).get(part) is not None
                verifier.add(c.sha, path, "hold", (f"a reseal sealed legal hold {hid} so that '{named_mine[0]}', who "
                             "read it before and still may, cannot open it" if was else
                             f"legal hold {hid} names '{named_mine[0]}' among its readers, but their key does not open "
                             f"its '{part}' block"))
            continue
        opened[part] = fields
        if not named_mine:
            verifier.add(c.sha, path, "hold", f"legal hold {hid} opens with a key of this verifier's that it does not "
                         "name among its readers")
    return opened


def _check_author(verifier, ctx, path: str, hid: str, part: str, fields: dict) -> None:
    """A block placed or released by this commit says it was by the commit's holder, on the commit's day."""
    c = ctx.c
    doing = "placed" if part == holdfile.PLACED else "released"
    if fields.get("by") != ctx.name:
        verifier.add(c.sha, path, "hold", f"legal hold {hid} says it was {doing} by another holder than "
                     f"'{ctx.name}', whose commit {doing} it")
    times = [c.time, c.committed or c.time]
    if not holds.on_commit_day(str(fields.get("on")), [dt.datetime.fromtimestamp(t, c.when.tzinfo) for t in times]):
        verifier.add(c.sha, path, "hold", f"legal hold {hid} says it was {doing} on another day than its commit's")


def _check_reseal(verifier, ctx, path: str, hid: str, old: str, new: str) -> None:
    """``hold.reseal``, or a key rotation (``holder.rotate``, which seals the holds anew for the new key in the
    same commit: ``services.holders.rotate_holder``): the same hold, the same parts, each changed
    block sealed for hold readers; what it says unchanged (checked by a verifier whose key opens the block
    before and after)."""
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
    was_opened: dict = {}
    for part in written:
        try:
            was_opened[part] = holdfile.open_block(before, part, path, verifier.reader.identities)
        except IntegrityError:
            was_opened[part] = None  # reported when it was written
    now_opened = _check_sealed(verifier, ctx, path, hid, doc, written, was_opened)
    for part in written:
        was, now = was_opened.get(part), now_opened.get(part)
        if was is not None and now is not None and was != now:
            verifier.add(c.sha, path, "hold", f"a reseal changed what legal hold {hid} says: a reseal seals the same "
                         "content anew")


__all__ = ["check"]
