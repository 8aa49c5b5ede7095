"""Property-based tests (hypothesis) of the merge driver: ``services/merge.py``.

Two sides are derived from a generated base the way confide changes a record
(entries appended, erased or marked; grants and revocations added or removed;
a new key generation; wrapped copies added or dropped; the key person
changed), with real age blocks (pyrage, to the test keys in ``tests/keys``),
and merged:

- merging a side with itself changes nothing, whatever the base;
- a side that changed nothing takes the other side's state;
- ``merge(base, a, b)`` and ``merge(base, b, a)`` agree, or both are a conflict;
- entries appended on both sides all survive, in order of their ids;
- a removal on one side (an erased entry, a removed grant or wrapped copy) wins;
- nothing is invented: every entry, mark, grant, key and wrapped copy in the
  result is one of the sides';
- the entries file the merge driver writes is the canonical file of the merged
  entries, read back as they are.

Two orders are not symmetric today, and the strategies stay clear of them
(sides are derived from a base holding a key for every level, and grants are
never listed twice, as confide writes them): level keys of two levels that
neither the base nor the other side holds come out in the order of the side
passed first, and a grant listed twice on one side survives twice or once
depending on the order. Changing either would change the bytes of merges that
``confide verify`` recomputes for merge commits already in vaults.

Derandomized like ``test_yaml_properties`` (``HYPOTHESIS_EXPLORE=1`` draws new examples).
"""

from __future__ import annotations

import copy
import datetime
import os
from pathlib import Path

import pytest
from conftest import recipient_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault_cli.adapters import crypto
from vault_cli.formats import canonical, envelope
from vault_cli.services import merge
from vault_cli.services.merge import Conflict

SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "120")), deadline=None,
                    derandomize=not os.environ.get("HYPOTHESIS_EXPLORE"), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = Path(__file__).parent / "keys"
RECIPIENTS = [recipient_of(KEYS / f"{name}.txt") for name in ("amira", "ben", "cara", "dara")]
# Real sealed blocks: what an entry's, a mark's, a profile's or a wrapped key's 'data' holds.
BLOCKS = [crypto.encrypt(f"block {i}".encode(), RECIPIENTS[i % len(RECIPIENTS)]) for i in range(16)]
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
LEVELS = ["general", "confidential", "safeguarding"]
NAMES = ["amira", "ben", "cara", "dara", "eve", "jo.smith-2"]


def _ids(prefix: str, n: int):
    return st.text(CROCKFORD, min_size=n, max_size=n).map(lambda s: prefix + s)


entry_ids, mark_ids, key_ids = _ids("e-", 14), _ids("m-", 14), _ids("k-", 4)
blocks = st.sampled_from(BLOCKS)
dates = st.dates(datetime.date(2024, 1, 1), datetime.date(2030, 12, 31)).map(datetime.date.isoformat)


def _sorted(entries: list) -> list:
    return sorted(entries, key=lambda e: e["id"])


@st.composite
def entry_lists(draw, taken: frozenset = frozenset(), min_size: int = 0):
    ids = draw(st.lists(entry_ids.filter(lambda i: i not in taken), min_size=min_size, max_size=5, unique=True))
    out = []
    for eid in ids:
        e = {"id": eid, "key": draw(key_ids), "data": draw(blocks)}
        if draw(st.booleans()):
            ms = draw(st.lists(st.fixed_dictionaries({"id": mark_ids, "key": key_ids, "data": blocks}), min_size=1,
                               max_size=2, unique_by=lambda m: m["id"]))
            e["marks"] = sorted(ms, key=lambda m: m["id"])
        out.append(e)
    return _sorted(out)


@st.composite
def entry_side(draw, base: list):
    """A side: some base entries erased, some marked (a new mark), new entries appended."""
    side = []
    for e in base:
        what = draw(st.sampled_from(["keep", "keep", "erase", "mark"]))
        if what == "erase":
            continue
        e = copy.deepcopy(e)
        if what == "mark":
            mark = {"id": draw(mark_ids), "key": draw(key_ids), "data": draw(blocks)}
            if mark["id"] not in {m["id"] for m in e.get("marks", [])}:
                e["marks"] = sorted(e.get("marks", []) + [mark], key=lambda m: m["id"])
        side.append(e)
    side += draw(entry_lists(taken=frozenset(e["id"] for e in base)))
    return _sorted(side)


@st.composite
def three_entry_lists(draw):
    base = draw(entry_lists())
    return base, draw(entry_side(base)), draw(entry_side(base))


def _canon(x):
    return merge._canon(x)


def _merge_or_conflict(fn, *args):
    try:
        return fn(*args)
    except Conflict as exc:
        return ("conflict", exc.message)


# ---------------------------------------------------------------------------
# entries


@SETTINGS
@given(three_entry_lists())
def test_merging_entries_with_itself_changes_nothing(case):
    base, a, _ = case
    assert merge.merge_entries(base, a, a) == a
    assert merge.merge_entries([], a, a) == a
    assert merge.merge_entries(a, a, a) == a


@SETTINGS
@given(three_entry_lists())
def test_an_unchanged_side_takes_the_other(case):
    base, a, _ = case
    assert merge.merge_entries(base, base, a) == a
    assert merge.merge_entries(base, a, base) == a


@SETTINGS
@given(three_entry_lists())
def test_entries_merge_the_same_either_way_round(case):
    base, a, b = case
    ab = _merge_or_conflict(merge.merge_entries, base, a, b)
    ba = _merge_or_conflict(merge.merge_entries, base, b, a)
    if isinstance(ab, tuple) or isinstance(ba, tuple):
        assert isinstance(ab, tuple) and isinstance(ba, tuple), (ab, ba)  # both a conflict
    else:
        assert ab == ba


@SETTINGS
@given(st.data())
def test_entries_appended_on_both_sides_all_survive_in_id_order(data):
    base = data.draw(entry_lists())
    ours = data.draw(entry_lists(taken=frozenset(e["id"] for e in base), min_size=1))
    theirs = data.draw(entry_lists(taken=frozenset(e["id"] for e in base + ours), min_size=1))
    merged = merge.merge_entries(base, _sorted(base + ours), _sorted(base + theirs))
    assert merged == _sorted(base + ours + theirs)


@SETTINGS
@given(st.data())
def test_an_erasure_on_one_side_wins(data):
    base = data.draw(entry_lists(min_size=1))
    erased = data.draw(st.sets(st.sampled_from([e["id"] for e in base]), min_size=1))
    added = data.draw(entry_lists(taken=frozenset(e["id"] for e in base)))
    ours = [e for e in base if e["id"] not in erased]
    theirs = _sorted(base + added)
    for a, b in ((ours, theirs), (theirs, ours)):
        merged = merge.merge_entries(base, a, b)
        assert not erased & {e["id"] for e in merged}
        assert merged == _sorted(ours + added)


@SETTINGS
@given(three_entry_lists())
def test_a_merge_invents_no_entry_and_no_mark(case):
    base, a, b = case
    try:
        merged = merge.merge_entries(base, a, b)
    except Conflict:
        return
    sides = {e["id"]: [x for x in (a + b) if x["id"] == e["id"]] for e in merged}
    for e in merged:
        assert sides[e["id"]], f"entry {e['id']} is on neither side"
        assert any((e["key"], e["data"]) == (x["key"], x["data"]) for x in sides[e["id"]])
        theirs_marks = {_canon(m) for x in sides[e["id"]] for m in x.get("marks", [])}
        assert all(_canon(m) in theirs_marks for m in e.get("marks", []))
        assert [m["id"] for m in e.get("marks", [])] == sorted(m["id"] for m in e.get("marks", []))
    assert [e["id"] for e in merged] == sorted({e["id"] for e in merged})


@SETTINGS
@given(three_entry_lists())
def test_the_merge_driver_writes_the_canonical_file_of_the_merged_entries(case):
    base, a, b = case
    files = [envelope.dump_entries(x) for x in (base, a, b)]
    path = "records/c-7f3k9m2q.entries.yaml"
    try:
        expected = merge.merge_entries(base, a, b)
    except Conflict:
        with pytest.raises(Conflict):
            merge.merge_entries_file(*files, path)
        return
    out = merge.merge_entries_file(*files, path)
    assert out == envelope.dump_entries(expected)
    assert canonical.load(out) == {"entries": expected}  # confide's own form: the fast path reads it back
    assert envelope.load_entries(out, path) == expected


# ---------------------------------------------------------------------------
# record heads (the structure alone: merge_head without a policy to hold them to)


@st.composite
def heads(draw):
    keys = []
    for level in LEVELS:
        readers = draw(st.sets(st.sampled_from(NAMES), min_size=1, max_size=4))
        keys.append({"id": draw(key_ids.filter(lambda i: i not in {k["id"] for k in keys})), "level": level,
                     "generation": 1, "recipient": "age1" + "q" * 58,
                     "wrapped": {n: draw(blocks) for n in sorted(readers)}})
    grants = draw(st.lists(st.fixed_dictionaries({"holder": st.sampled_from(NAMES), "level": st.sampled_from(LEVELS),
                                                  "granted_by": st.just("amira"), "granted": dates}),
                           max_size=3, unique_by=lambda g: _canon(g)))
    head = {"format": envelope.FORMAT, "record": "c-7f3k9m2q", "key_person": draw(st.sampled_from(NAMES)),
            "grants": grants, "keys": keys, "profile": {"key": keys[0]["id"], "data": draw(blocks)}}
    return head


@st.composite
def head_side(draw, base: dict):
    """A side: grants added or removed, a revocation, a new generation, wrapped copies added or dropped."""
    h = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 4))):
        what = draw(st.sampled_from(["grant", "ungrant", "revoke", "generation", "copy", "uncopy", "key_person"]))
        if what == "grant":
            g = {"holder": draw(st.sampled_from(NAMES)), "level": draw(st.sampled_from(LEVELS)), "granted_by": "amira",
                 "granted": draw(dates)}
            if _canon(g) not in {_canon(x) for x in h["grants"]}:
                h["grants"].append(g)
        elif what == "ungrant" and h["grants"]:
            h["grants"].pop(draw(st.integers(0, len(h["grants"]) - 1)))
        elif what == "revoke":
            r = {"holder": draw(st.sampled_from(NAMES)), "level": draw(st.sampled_from(LEVELS)), "revoked_by": "amira",
                 "revoked": draw(dates)}
            if _canon(r) not in {_canon(x) for x in h.get("revoked", [])}:
                h.setdefault("revoked", []).append(r)
        elif what == "generation":
            level = draw(st.sampled_from(LEVELS))
            top = max(k["generation"] for k in h["keys"] if k["level"] == level)
            kid = draw(key_ids.filter(lambda i: i not in {k["id"] for k in h["keys"]}))
            h["keys"].append({"id": kid, "level": level, "generation": top + 1, "recipient": "age1" + "p" * 58,
                              "wrapped": {draw(st.sampled_from(NAMES)): draw(blocks)}})
            h["keys"].sort(key=lambda k: (LEVELS.index(k["level"]), k["generation"], k["id"]))
        elif what == "copy":
            k = draw(st.sampled_from(h["keys"]))
            name = draw(st.sampled_from(NAMES))
            if name not in k["wrapped"]:
                k["wrapped"] = dict(sorted({**k["wrapped"], name: draw(blocks)}.items()))
        elif what == "uncopy":
            k = draw(st.sampled_from(h["keys"]))
            if len(k["wrapped"]) > 1:
                k["wrapped"].pop(draw(st.sampled_from(sorted(k["wrapped"]))))
        elif what == "key_person":
            h["key_person"] = draw(st.sampled_from(NAMES))
    return h


@st.composite
def three_heads(draw):
    base = draw(heads())
    return base, draw(head_side(base)), draw(head_side(base))


@SETTINGS
@given(three_heads())
def test_merging_a_head_with_itself_changes_nothing(case):
    base, a, _ = case
    once = merge.merge_head(a, a, a)
    assert merge.merge_head(base, a, a) == once
    assert merge.merge_head(None, a, a) == once
    assert merge.merge_head(once, once, once) == once  # a merge's result is a fixed point
    assert merge.merge_head(base, base, a) == merge.merge_head(a, a, a)  # an unchanged side takes the other


@SETTINGS
@given(three_heads())
def test_heads_merge_the_same_either_way_round(case):
    base, a, b = case
    ab = _merge_or_conflict(merge.merge_head, base, a, b)
    ba = _merge_or_conflict(merge.merge_head, base, b, a)
    if isinstance(ab, tuple) or isinstance(ba, tuple):
        assert isinstance(ab, tuple) and isinstance(ba, tuple), (ab, ba)
    else:
        assert ab == ba
        # and the head file is the same bytes whichever side is 'ours'
        assert envelope.Envelope("records/c-7f3k9m2q.yaml", ab).head_bytes() == envelope.Envelope(
            "records/c-7f3k9m2q.yaml", ba).head_bytes()


@SETTINGS
@given(three_heads())
def test_a_head_merge_invents_nothing_and_removals_win(case):
    base, a, b = case
    try:
        merged = merge.merge_head(base, a, b)
    except Conflict:
        return
    side_grants = {_canon(g) for g in a["grants"] + b["grants"]}
    assert all(_canon(g) in side_grants for g in merged["grants"])
    for g in base["grants"]:  # a grant one side removed is gone
        if _canon(g) not in {_canon(x) for x in a["grants"]} or _canon(g) not in {_canon(x) for x in b["grants"]}:
            assert _canon(g) not in {_canon(x) for x in merged["grants"]}
    side_keys = {k["id"]: [x for x in a["keys"] + b["keys"] if x["id"] == k["id"]] for k in merged["keys"]}
    base_keys = {k["id"]: k for k in base["keys"]}
    for k in merged["keys"]:
        assert side_keys[k["id"]], f"key {k['id']} is on neither side"
        for name, copy_ in k["wrapped"].items():
            assert any(x["wrapped"].get(name) == copy_ for x in side_keys[k["id"]]), f"a wrapped copy for {name} was invented"
        was = base_keys.get(k["id"])
        if was is not None:  # a copy one side dropped is gone
            for name in was["wrapped"]:
                if any(name not in x["wrapped"] for x in (a, b) for x in x["keys"] if x["id"] == k["id"]):
                    assert name not in k["wrapped"]
    assert merged["key_person"] in {a["key_person"], b["key_person"]}
    assert merged["profile"] in (a["profile"], b["profile"])
