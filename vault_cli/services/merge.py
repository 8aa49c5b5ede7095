"""Merging two lines of a vault's history: one keyless, deterministic function of three states.

``merge_states(base, ours, theirs)`` gives the merged contents of every file
either side changed since their merge base. ``confide sync`` builds its merge
commit from it, git's merge driver (``confide merge-driver``) answers with it for
the files git asks about, and ``confide verify`` recomputes it for every merge
commit in history and reports every file whose committed result differs: a
merge commit may only merge. It needs no key; it works on the plaintext
structure alone.

The rules:

- entries: the union by id; an entry changed on one side only (a ``mark`` that
  moved it to another level) takes that side; markings: the union by id;
- level keys: the union by id (new generations from either side, also two of
  the same number: both are kept and the level is marked for re-keying); for
  each key, the union of wrapped copies minus those one side removed;
- grants, revocations, pending re-keys: the union, minus those one side removed;
- key person, confide.yaml, other files: the side that changed them; a change
  on both sides is a conflict;
- profile: the side that changed it; changed on both sides, the merged head
  keeps every version (``conflict: {profile: [...]}``, sorted, so the answer
  does not depend on which side merges) and, in ``profile``, the version both
  sides last agreed on, until a signed ``confide resolve`` chooses
  (``services.conflicts``);
- holders.yaml: per holder; a removal on either side wins over any other change.

**A removal or revocation on one side wins over access that only the other
side's history grants.** What a side brings in is judged against the other
side's state: a holder added by someone who is not a manager there, or a
grant given by someone who may not grant there, is left out (a removed
manager cannot fork from before their removal and merge their way back).
Finally every record head is held to the merged policy: wrapped copies of
level keys for anyone who is not a reader under the merged holders, settings,
grants and revocations are dropped, and where that touches a level's current
generation (whose secret they may have seen) the level is marked ``rekey``: the
next holder who reads it starts a new generation (``access.rekey``).

A true conflict raises ``Conflict`` naming the file and what clashed; nothing
is ever settled by choosing a side silently. Only the profile (the child's
general details, which decide no one's access) is kept in both versions for a
person to choose; whatever touches keys, grants, revocations, the key person or
holders stays a conflict that stops the sync.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Optional

from vault_cli.errors import ConfideError
from vault_cli.formats import envelope, policyfiles, signers
from vault_cli.formats.policyfiles import holders_from_bytes, settings_from_bytes
from vault_cli.model import policy
from vault_cli.model.holders import HOLDERS_FILE, Holder, Holders
from vault_cli.model.levels import Grant, LevelKey, LevelKeys, WrappedCopy, grants_from_json, revocations_from_json
from vault_cli.model.settings import SETTINGS_FILE, Settings


class Conflict(Exception):
    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _canon(x) -> str:
    return json.dumps(x, sort_keys=True, ensure_ascii=False)


def _pick(o, a, b, what: str):
    if _canon(a) == _canon(b):
        return a
    if _canon(a) == _canon(o):
        return b
    if _canon(b) == _canon(o):
        return a
    raise Conflict(what)


def _merge_list(o: Sequence, a: Sequence, b: Sequence) -> list:
    """Three-way merge of a list of values (frozen, or strings) treated as a set: keep what either side
    added, drop what either removed.

    When only one side changed the list, that side's list is taken as it is (order included).
    """
    if list(a) == list(o) or list(a) == list(b):
        return list(b)
    if list(b) == list(o):
        return list(a)
    so, sa, sb = set(o), set(a), set(b)
    return [x for x in a if x in sb or x not in so] + [x for x in b if x not in sa and x not in so]


def _merge_map(o: dict, a: dict, b: dict, what: str) -> dict:
    out = {}
    for k in list(a) + [k for k in b if k not in a]:
        va, vb, vo = a.get(k), b.get(k), o.get(k)
        v = _pick(vo, va, vb, f"{what} '{k}' was changed differently on both sides")
        if v is not None:
            out[k] = v
    return out


# ---------------------------------------------------------------------------
# Record files


def _merge_keys(o: LevelKeys, a: LevelKeys, b: LevelKeys) -> LevelKeys:
    out: list[LevelKey] = []
    for kid in [k.id for k in a] + [k.id for k in b if a.find(k.id) is None]:
        x, y, base = a.find(kid), b.find(kid), o.find(kid)
        if x is not None and y is not None:
            if (x.level, x.generation, x.recipient) != (y.level, y.generation, y.recipient):
                raise Conflict(f"level key {kid} differs between the two sides (its public recipient was changed)")
            copies = _merge_map(base.wrapped() if base else {}, x.wrapped(), y.wrapped(), f"the wrapped copy of level key {kid} for")
            out.append(replace(x, copies=tuple(WrappedCopy(n, copies[n]) for n in sorted(copies))))
        else:
            present = x if x is not None else y
            assert present is not None  # the id came from one of the sides
            if base is None:
                out.append(present)
            elif not (base.same_key(present) and base.wrapped() == present.wrapped()):
                raise Conflict(f"level key {kid} was changed on one side and removed on the other")
    # Generations in order within each level (two of one number: both kept, by key id).
    order = {lv: i for i, lv in enumerate(dict.fromkeys(k.level for k in out))}
    return LevelKeys(tuple(sorted(out, key=lambda k: (order[k.level], k.generation, k.id))))


def _merge_entry(eo: Optional[dict], ea: dict, eb: dict) -> dict:
    if _canon(ea) == _canon(eb):
        return ea
    if eo is not None and _canon(ea) == _canon(eo):
        return eb
    if eo is not None and _canon(eb) == _canon(eo):
        return ea
    if (ea["key"], ea["data"]) != (eb["key"], eb["data"]):
        raise Conflict(f"entry {ea['id']} has different blocks on the two sides")
    mo = {m["id"]: m for m in ((eo or {}).get("marks") or [])}
    ma = {m["id"]: m for m in (ea.get("marks") or [])}
    mb = {m["id"]: m for m in (eb.get("marks") or [])}
    marks = _merge_map(mo, ma, mb, f"marking of entry {ea['id']}")
    out = dict(ea)
    out["marks"] = [marks[k] for k in sorted(marks)]
    if not out["marks"]:
        out.pop("marks")
    return out


def merge_entries(o: list, a: list, b: list) -> list:
    eo, ea, eb = ({e["id"]: e for e in xs} for xs in (o, a, b))
    out = []
    for eid in sorted(set(ea) | set(eb)):
        x, y, base = ea.get(eid), eb.get(eid), eo.get(eid)
        if x is not None and y is not None:
            out.append(_merge_entry(base, x, y))
            continue
        present = x if x is not None else y
        assert present is not None  # the id came from one of the sides
        if base is None:
            out.append(present)  # added on one side
        elif _canon(base) != _canon(present):
            raise Conflict(f"entry {eid} was changed on one side and erased on the other")
        # else: erased on the other side (a recorded erasure): leave it out
    return out


def merge_entries_file(base: Optional[bytes], ours: bytes, theirs: bytes, path: str) -> bytes:
    def load(raw: Optional[bytes]) -> Optional[list]:
        if raw is None or not raw.strip():
            return None
        return envelope.load_entries(raw, path)

    o, a, b = load(base), load(ours), load(theirs)
    if a is None or b is None:
        raise Conflict("the record's entries were removed on one side")
    return envelope.dump_entries(merge_entries(o or [], a, b))


@dataclass
class Side:
    """What a merge judges one side's changes against: the other side's settings and holders."""

    settings: Optional[Settings]
    holders: Optional[Holders]


def merge_head(o: Optional[dict], a: dict, b: dict, *, merged: Optional[Side] = None, sides: tuple = (None, None),
               present: tuple = (True, True)) -> dict:
    """Merge three parsed record heads. With ``merged`` (the merged settings and holders) the result is
    held to the merged policy; ``sides`` = (ours, theirs) judge what each side brought in; ``present``
    says which sides hold the record at all (a record made on one side is passed as both ``a`` and ``b``)."""
    if a.get("record") != b.get("record"):
        raise Conflict("the two sides hold different record ids")
    o = o or {"keys": [], "grants": []}
    head: dict = {"format": a["format"], "record": a["record"]}
    head["key_person"] = _pick(o.get("key_person"), a.get("key_person"), b.get("key_person"),
                               "the key person was changed differently on both sides")
    og, ag, bg = (grants_from_json(h.get("grants")) for h in (o, a, b))
    grants = _merge_list(og, ag, bg)
    if sides[0] is not None and sides[1] is not None:
        grants = [g for g in grants if _grant_stands(g, og, ag if present[0] else (), bg if present[1] else (), sides)]
    head["grants"] = sorted((g.to_json() for g in grants), key=lambda g: (g["holder"], g["level"], g["granted"], _canon(g)))
    if "revoked" in a or "revoked" in b or "revoked" in o:
        revoked = _merge_list(*[revocations_from_json(h.get("revoked")) for h in (o, a, b)])
        head["revoked"] = sorted((r.to_json() for r in revoked), key=_canon)
    if "rekey" in a or "rekey" in b or "rekey" in o:
        head["rekey"] = sorted(_merge_list(o.get("rekey") or [], a.get("rekey") or [], b.get("rekey") or []), key=_canon)
    for extra in sorted((set(a) | set(b)) - {"format", "record", "key_person", "grants", "revoked", "rekey", "keys", "profile",
                                             "conflict"}):
        head[extra] = _pick(o.get(extra), a.get(extra), b.get(extra), f"'{extra}' was changed differently on both sides")
    keys = _merge_keys(*(LevelKeys.from_json(h.get("keys") or []) for h in (o, a, b)))
    head["keys"] = keys.to_json()
    head["profile"], versions = _merge_profile(o, a, b)
    if versions:
        if any(keys.find(v["key"]) is None for v in [head["profile"], *versions]):
            raise Conflict("the profile was changed on both sides, under level keys the merge does not keep")
        head["conflict"] = {"profile": versions}
    if merged is not None and merged.settings is not None and merged.holders is not None:
        hold_to_policy(head, merged.settings, merged.holders)
    if head.get("key_person") is None and "key_person" not in a and "key_person" not in b:
        head.pop("key_person")
    for name in ("revoked", "rekey"):
        if name in head and not head[name]:
            del head[name]
    return head


def profile_versions(head: dict) -> list:
    """The profile blocks a head holds in conflict (empty when there is none)."""
    return list((head.get("conflict") or {}).get("profile") or [])


def _merge_profile(o: dict, a: dict, b: dict) -> tuple:
    """(profile, versions in conflict or None). A side's state is its profile and its conflict, if any;
    both sides changed it: every version either side holds, sorted, and the base's profile meanwhile."""
    def state(h: dict) -> tuple:
        return h.get("profile"), profile_versions(h) or None

    sa, sb, so = state(a), state(b), state(o)
    if _canon(sa) == _canon(sb) or _canon(sa) == _canon(so):
        return sb
    if _canon(sb) == _canon(so):
        return sa
    if o.get("profile") is None:
        raise Conflict("the profile was changed on both sides of a record both sides made")
    found = {_canon(v): v for h in (a, b) for v in (profile_versions(h) or [h["profile"]])}
    return o["profile"], [found[k] for k in sorted(found)]


def _grant_stands(g: Grant, o: Sequence[Grant], a: Sequence[Grant], b: Sequence[Grant], sides: tuple) -> bool:
    """A grant one side added stands only if its granter may grant that level on the other side too."""
    if g in o:
        return True
    in_a, in_b = g in a, g in b
    if in_a and in_b:
        return True  # both sides' histories hold it
    other = sides[1] if in_a else sides[0]
    granter = other.holders.find(g.granted_by) if other.holders else None
    return policy.may_grant(other.settings, granter, g.level) if other.settings else False


def hold_to_policy(head: dict, settings: Settings, holders: Holders) -> None:
    """Drop wrapped copies of anyone who does not read the level under the policy (end dates ignored);
    a current generation that loses a copy, or two current generations, mark the level ``rekey``.
    ``head`` is the merge's own new head: its key person, keys and ``rekey`` are replaced."""
    kp = head.get("key_person")
    if kp is not None and not policy.may_be_key_person(settings, holders.find(kp)):
        head["key_person"] = None  # removed (or no longer fit to be key person) on one side: that wins
    rekey = set(head.get("rekey") or [])
    keys = LevelKeys.from_json(head["keys"])
    held = keys
    for level in settings.levels:
        gens = [k for k in held if k.level == level]
        if not gens:
            continue
        readers = policy.readers_for(settings, holders, head, level, None)
        top = max(k.generation for k in gens)
        if sum(k.generation == top for k in gens) > 1:  # two current generations (made on both sides)
            rekey.add(level)
        for k in gens:
            dropped = [n for n in k.holders if n not in readers]
            if dropped:
                keys = keys.replace(k := k.without(dropped))
                if k.generation == top:
                    rekey.add(level)
            if not k.copies:
                raise Conflict(f"generation {k.generation} of the {level} key would be left with no reader")
    if keys is not held:
        head["keys"] = keys.to_json()
    if rekey:
        head["rekey"] = sorted(rekey)


def merge_head_file(base: Optional[bytes], ours: Optional[bytes], theirs: Optional[bytes], path: str, *,
                    merged: Optional[Side] = None, sides: tuple = (None, None)) -> bytes:
    def load(raw: Optional[bytes]) -> Optional[dict]:
        if raw is None or not raw.strip():
            return None
        try:
            return envelope.load_head(raw, path)
        except ConfideError as exc:
            raise Conflict(f"a side is not a valid record head: {exc.message}") from None

    o, a, b = load(base), load(ours), load(theirs)
    present = (a is not None, b is not None)
    if o is not None and not all(present):
        raise Conflict("the record was removed on one side")
    if not any(present):
        raise Conflict("the record is on neither side")
    a, b = a if a is not None else b, b if b is not None else a  # a record made on one side only
    assert a is not None and b is not None  # (one side holds it: checked above)
    return envelope.Envelope(path, merge_head(o, a, b, merged=merged, sides=sides, present=present)).head_bytes()


# ---------------------------------------------------------------------------
# holders.yaml


def _as_valued(d: dict) -> dict:
    """A holder's entry, each sealed staff detail by its version (its value), not its readers and ciphertext."""
    out = dict(d)
    for k, v in d.items():
        if isinstance(v, dict) and isinstance(v.get("version"), str):
            out[k] = {"version": v["version"]}
    return out


def merge_holders(o: Holders, a: Holders, b: Holders, sides: tuple) -> Holders:
    """Per holder; a removal on either side wins. A holder one side added stays only if whoever
    added them may manage holders on the other side too. Sealed staff details compare by version: a side that
    only sealed the same values anew for other readers gives way to the other side (both did: the first); the
    next manager's write seals for the merged readers (``staff.seal_if_due``), and meanwhile no one can open
    a value they could not open before."""
    ho, ha, hb = ({h.name: h.to_dict() for h in hs.all} for hs in (o, a, b))
    names = [h.name for h in a.all] + [h.name for h in b.all if h.name not in ha]
    out = []
    for name in names:
        x, y, base = ha.get(name), hb.get(name), ho.get(name)
        if x is not None and y is not None:
            vx, vy = _canon(_as_valued(x)), _canon(_as_valued(y))
            vb = _canon(_as_valued(base)) if base is not None else None
            if _canon(x) == _canon(y) or vx == vy:
                v = x
            elif vb is not None and vx == vb:
                v = y
            elif vb is not None and vy == vb:
                v = x
            elif (x["status"] == "removed") != (y["status"] == "removed"):
                v = x if x["status"] == "removed" else y  # removal wins
            else:
                raise Conflict(f"holder '{name}' was changed differently on both sides", HOLDERS_FILE)
        else:
            present = x if x is not None else y
            assert present is not None  # the name came from one of the sides
            v = present
            if base is not None:
                raise Conflict(f"holder '{name}' was deleted from holders.yaml on one side (holders are never deleted)",
                               HOLDERS_FILE)
            other = sides[1] if x is not None else sides[0]
            adder = other.holders.find(v.get("added_by", "")) if other.holders else None
            if not (other.settings and policy.may(other.settings, adder, "manage-holders")):
                continue  # brought in by someone who may not add holders on the other side: removal wins
        out.append(Holder.from_dict(v))
    return Holders(out)


# ---------------------------------------------------------------------------
# Whole states


class StateReader:
    """The files of one commit: ``read(path)`` gives bytes or None."""

    def __init__(self, read: Callable[[str], Optional[bytes]]) -> None:
        self.read = read
        self._settings: Optional[Settings] = None
        self._holders: Optional[Holders] = None

    def settings(self) -> Optional[Settings]:
        if self._settings is None:
            raw = self.read(SETTINGS_FILE)
            try:
                self._settings = settings_from_bytes(raw) if raw is not None else None
            except ConfideError:
                self._settings = None
        return self._settings

    def holders(self) -> Optional[Holders]:
        if self._holders is None:
            raw = self.read(HOLDERS_FILE)
            try:
                self._holders = holders_from_bytes(raw) if raw is not None else None
            except ConfideError:
                self._holders = None
        return self._holders


def merge_states(base: StateReader, ours: StateReader, theirs: StateReader, paths: Iterable[str]) -> dict:
    """The merged contents of ``paths`` (every path either side changed since ``base``): {path: bytes or None}."""
    paths = sorted(set(paths))
    out: dict = {}
    sides = (Side(ours.settings(), ours.holders()), Side(theirs.settings(), theirs.holders()))

    def three(path: str) -> tuple:
        return base.read(path), ours.read(path), theirs.read(path)

    # The policy files first: the records are held to the merged policy.
    for path in (SETTINGS_FILE, HOLDERS_FILE):
        o, a, b = three(path)
        if a == b or a == o:
            out[path] = b
        elif b == o:
            out[path] = a
        elif path == SETTINGS_FILE:
            raise Conflict("confide.yaml was changed differently on both sides", path)
        else:
            if a is None or b is None:
                raise Conflict("holders.yaml was removed on one side", path)
            try:
                hs = [holders_from_bytes(x) if x is not None else Holders([]) for x in (o, a, b)]
            except ConfideError as exc:
                raise Conflict(f"a side's holders.yaml is not valid: {exc.message}", path) from None
            out[path] = policyfiles.dump_holders(merge_holders(hs[0], hs[1], hs[2], sides), merging_format_1=True).encode("utf-8")
    try:
        msettings = settings_from_bytes(out[SETTINGS_FILE]) if out[SETTINGS_FILE] is not None else None
        mholders = holders_from_bytes(out[HOLDERS_FILE]) if out[HOLDERS_FILE] is not None else None
    except ConfideError as exc:
        raise Conflict(f"the merged policy files are not valid: {exc.message}", SETTINGS_FILE) from None
    merged = Side(msettings, mholders)
    for path in paths:
        if path in (SETTINGS_FILE, HOLDERS_FILE):
            continue
        o, a, b = three(path)
        part = envelope.record_of(path)
        if path == signers.ALLOWED_SIGNERS_FILE:
            # generated from holders.yaml (kept in vaults made before it moved into .git)
            out[path] = None if a is None and b is None else (
                signers.allowed_signers_text(mholders).encode() if mholders is not None else a)
            continue
        try:
            if part is not None and part[1] == "entries" and a is not None and b is not None and a != b != o != a:
                out[path] = merge_entries_file(o, a, b, path)
            elif part is not None and part[1] == "head" and (a is not None or b is not None) and not (
                    o is not None and (a is None or b is None) and (a == o or b == o)):
                # every head either side changed is held to the merged policy (erasures aside)
                out[path] = merge_head_file(o, a, b, path, merged=merged, sides=sides)
            elif a == b or a == o:
                out[path] = b
            elif b == o:
                out[path] = a
            else:
                raise Conflict(f"{path} was changed on one side and removed or changed differently on the other")
        except Conflict as exc:
            exc.path = exc.path or path
            if not exc.message.startswith(path):
                exc.message = f"{path}: {exc.message}"
            raise
    return out


def _check_acting(base: StateReader, sides: tuple, acted: tuple) -> None:
    then = base.holders()
    if then is None:
        return
    for names, other in ((acted[0], sides[1]), (acted[1], sides[0])):
        now = other.holders()
        for name in sorted(names):
            was, is_ = then.find(name), now.find(name) if now is not None else None
            if was is None or is_ is None:
                continue  # added on their own line: judged there
            if not is_.active:
                raise Conflict(f"'{name}' made commits on one line after the other line removed them; a removal "
                               "wins, so what they did there is not merged", HOLDERS_FILE)
            if (is_.recipient, is_.signing_key) != (was.recipient, was.signing_key):
                raise Conflict(f"'{name}' made commits on one line with the key the other line replaced; what a "
                               "replaced key did is not merged", HOLDERS_FILE)


def merge_commits(bases: list, ours: str, theirs: str, reader: Callable[[str], StateReader],
                  changed: Callable[[str, str], Iterable[str]],
                  acting: Optional[Callable[[str, str], set]] = None) -> dict:
    """The merge of commits ``ours`` and ``theirs``: {path: bytes or None} for every path either side changed
    since a common ancestor (paths not named keep ``ours``'s version).

    git's merge base is one of the best common ancestors; after a criss-cross there are several, and the
    three-way answer can depend on which (a grant one line revoked looks "added on the other side" from a
    base older than the grant). Every base is asked; answers that differ are a conflict, never a choice.

    ``acting(base, side)`` names the holders who made commits on a line since the base: what a holder did on
    one line after the other line removed them or replaced their key is a conflict (a removal wins, and a
    lost key's commits on a line forked before the rotation are not merged in)."""
    if not bases:
        raise Conflict("the two lines share no history")
    if acting is not None:
        for base in bases:
            _check_acting(reader(base), (reader(ours), reader(theirs)), (acting(base, ours), acting(base, theirs)))
    first: Optional[dict] = None
    for base in bases:
        paths = set(changed(base, ours)) | set(changed(base, theirs))
        answer = merge_states(reader(base), reader(ours), reader(theirs), paths)
        if first is None:
            first = answer
            continue
        mine = reader(ours)
        for path in sorted(set(first) | set(answer)):
            if first.get(path, mine.read(path)) != answer.get(path, mine.read(path)):
                raise Conflict(f"{path}: the lines were merged into each other before (a criss-cross), and the "
                               "answer depends on which earlier common state is taken", path)
            first.setdefault(path, answer.get(path, mine.read(path)))
    assert first is not None
    return first


__all__ = ["Conflict", "profile_versions", "merge_states", "merge_commits", "merge_head_file", "merge_entries_file", "merge_entries", "StateReader",
           "hold_to_policy", "merge_holders"]
