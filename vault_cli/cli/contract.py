"""The JSON contract: what every command's ``--json`` prints, shaped here, in one naming scheme.

The services return what the text views need; this module turns each into the document a script
reads, described by ``schemas/output/<command>.schema.json`` (tests/test_json_contract.py holds real
output to those schemas). The rules, as the README's "For scripts" states them:

- an id is named by what it identifies: ``record``, ``entry``, ``request``, ``marking``, ``commit``;
  a holder is ``holder`` (``*_by`` and ``author`` say who did something); a child's name is ``name``;
  a level is ``level``; keys are snake_case; enumerated values are the CLI's own words (``not-asked``);
- dates are ISO 8601: ``YYYY-MM-DD``, date-times with their offset (``2026-11-24T10:00:00+00:00``);
- every key of an object is always present: what the caller cannot read (a sealed entry's text, a
  sealed profile's name) and what does not apply (a grant with no end) is ``null``, never left out;
  ``[]`` means "none", ``null`` in place of a list means "unknown to you".

Each function fills in and renames; it keeps any other key the service added, so a key that is not
in the schema yet fails the schema test rather than vanishing.
"""

from __future__ import annotations

from typing import Any

# Every key a readable entry has, in the order shown (the keys a sealed entry holds null for).
ENTRY_KEYS = ("entry", "level", "readable", "category", "text", "at", "recorded_at", "author", "parent_view",
              "parents_informed", "parents_not_informed", "third_parties", "corrects", "details", "markings")


def _with(d: dict, defaults: dict[str, Any], renames: dict[str, str] | None = None) -> dict:
    """``d`` with ``renames`` applied (old -> new, keeping the key's place) and every key of ``defaults``
    present (missing ones get their default, a fresh copy of a list or dict)."""
    renames = renames or {}
    out = {renames.get(k, k): v for k, v in d.items()}
    for k, v in defaults.items():
        if k not in out:
            out[k] = type(v)(v) if isinstance(v, (list, dict)) else v
    return out


def _ordered(d: dict, keys) -> dict:
    """``d`` with ``keys`` first, in that order (readable and sealed rows alike), then any others."""
    return {**{k: d[k] for k in keys}, **d}


def _marking(m: dict) -> dict:
    return _with(m, {"marking": None, "author": None, "recorded_at": None, "reason": None, "changes": {}},
                 {"id": "marking"})


def _entry(e: dict) -> dict:
    out = _with(e, {}, {"id": "entry"})
    if out.get("markings"):
        out["markings"] = [_marking(m) for m in out["markings"]]
    return _ordered(_with(out, dict.fromkeys(ENTRY_KEYS)), ENTRY_KEYS)


def show(data: dict) -> dict:
    """``show``: the record, its profile (null when sealed), its entries (a sealed one: null but for its id,
    level and ``readable: false``) a sync's conflict (null when there is none) and the open legal holds on it (null to
    those who may not know of holds: only managers are told)."""
    out = _with(data, {"record": None, "profile": None, "entries": [], "holds": None, "conflict": None})
    out["conflict"] = out.pop("conflict")  # last, as it always was
    out["entries"] = [_entry(e) for e in out["entries"]]
    return out


def find(rows: list[dict]) -> list[dict]:
    return [_with(r, {"name": None}) for r in rows]


CHILD_KEYS: dict[str, Any] = {"record": None, "readable": False, "name": None, "known_as": None, "dob": None,
                              "room": None, "key_person": None, "leaving_date": None, "left": None,
                              "entries": 0}


def child_list(rows: list[dict]) -> list[dict]:
    """``child list``: a sealed profile's fields are null."""
    return [_ordered(_with(r, CHILD_KEYS), CHILD_KEYS) for r in rows]


def child_find(rows: list[dict]) -> list[dict]:
    return [{"record": r["record"], "name": r.get("name")} for r in rows]


DUE_KEYS: dict[str, Any] = {"kind": None, "record": None, "records": [], "item": None, "entry": None,
                            "request": None, "holder": None, "level": None, "levels": None, "category": None,
                            "at": None, "due": None, "days_left": None, "what": None}


def due(data: dict) -> dict:
    """``due``: every item has every key; ``entry``/``request`` name the item when it is one, and
    ``records`` lists the record(s) it concerns."""
    items = []
    for i in data["items"]:
        item = _ordered(_with(i, DUE_KEYS), DUE_KEYS)
        if item["kind"] in ("parents-not-informed", "parent-view-not-asked"):
            item["entry"] = i["item"]
        elif item["kind"] == "request":
            item["request"] = i["item"]
        elif item["kind"] == "retention" and str(i["item"]).startswith("e-"):
            item["entry"] = i["item"]  # the review decision that awaits destruction
        if not item["records"] and item["record"]:
            item["records"] = [item["record"]]
        items.append(item)
    return {**data, "items": items}


def retention(data: dict) -> dict:
    """``retention``: as the service gives it (every key always present)."""
    return data


HOLDER_KEYS: dict[str, Any] = {"holder": None, "role": None, "display_name": None, "recipient": None,
                               "signing_key": None, "status": None, "added": None, "added_by": None,
                               "removed": None, "removed_by": None, "removed_reason": None,
                               "previous_recipients": [], "previous_signing_keys": [], "sealed_details": []}


def holder_list(rows: list[dict]) -> list[dict]:
    """``holder list``: ``holder`` (was ``name``); what does not apply (a holder never removed) is null, and so
    is a staff detail sealed to the caller (``sealed_details`` names those)."""
    return [_ordered(_with(r, HOLDER_KEYS, {"name": "holder"}), HOLDER_KEYS) for r in rows]


def access_record(data: dict) -> dict:
    levels = []
    for lv in data["levels"]:
        grants = [_with(g, {"until": None, "parent_permission": None}) for g in lv["grants"]]
        levels.append({**lv, "grants": grants})
    return {**data, "levels": levels}


def access_holder(data: dict) -> dict:
    """``access --holder``: ``is_key_person`` (was ``key_person``, which elsewhere names a holder)."""
    return {**data, "records": [_with(r, {}, {"key_person": "is_key_person"}) for r in data["records"]]}


def request_list(rows: list[dict]) -> list[dict]:
    """``request list``: the child's ``name`` (was ``child``), null when their profile is sealed to you."""
    return [_with(r, {"name": None}, {"child": "name"}) for r in rows]


def request_show(data: dict) -> dict:
    out = _with(data, {"name": None}, {"child": "name"})
    for k in ("decisions", "earlier_decisions"):
        out[k] = [_with(x, {}, {"id": "decision_entry"}) for x in out.get(k) or []]
    return out


def trust(data: dict) -> dict:
    """``trust``: ``last_verified`` (was ``verified``), as ``verify`` calls it."""
    return _with(data, {"anchor": None, "last_verified": None}, {"verified": "last_verified"})


def hold_list(rows: list[dict]) -> list[dict]:
    """``hold list``: one object per hold; what the caller's key cannot open is null."""
    return rows


__all__ = ["hold_list", "show", "find", "child_list", "child_find", "due", "holder_list", "access_record", "access_holder",
           "request_list", "request_show", "trust", "ENTRY_KEYS"]
