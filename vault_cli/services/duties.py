"""The policy's recurring duties: what is owed (``due``), searching (``find``), the sharing log (``share``).

``due`` lists, over every record the caller can read:

- open requests to see a child's file, with their deadlines;
- confidential and safeguarding entries with neither ``parents_informed`` nor
  ``parents_not_informed`` (markings taken into account). The request
  procedure's own entries are not such information and are not listed;
- retention: a record whose review date has come, or that a review decided to destroy (only where the
  caller reads the whole record: ``services.retention``);
- parent views never asked (not for a child who has left): entries whose ``parent_view`` is still
  ``not-asked`` among those the question is about: every confidential or
  safeguarding entry, and general entries in the categories that record what
  parents share (``PARENT_SHARED``); not entries recorded with parents not
  informed (telling them, or asking them, would put the child at risk);
- grants that end within ``--within`` days (default 14): one item per holder and
  end date, listing its levels and ``records``, however many records and levels
  the grant covered; and new key generations due, one item per level.

``find`` searches the text (and third parties) of every entry the caller can
read, and the names of the children whose profile the caller can read: a
search that matches a child's name (every word of it, any case, accents
ignored: ``model.names``) finds all of that child's entries the filters let
through. Each row carries the child's name, or None where the profile is sealed
to the caller. Whole-vault work is forked over the cores (``parallel.map_ordered``);
each worker unwraps a record's level keys once (``Session.level_identity``
caches them) and decrypts only the blocks the filters can match.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Optional

from vault_cli.adapters import crypto, parallel, timeutil
from vault_cli.errors import IntegrityError, UsageError
from vault_cli.model import names, policy
from vault_cli.model import retention as retention_rules
from vault_cli.model.duty import Due, Duty
from vault_cli.services import holds, records, requests, retention
from vault_cli.services.vault import Session

PARENT_SHARED = ("discussion", "family-change", "parent-comment", "medical", "dietary", "consent")
CONSENT = policy.SHARING_CONSENT
# What to do about each of policy.sharing_problems' fields (the rules are policy's; the words for the
# command line are here)
SHARING_HINTS = {
    "lawful basis": 'give it with {{0}} "..."',
    "consent": "{{0}} takes " + ", ".join(CONSENT),
    "reason": 'record the reasons, e.g. {{0}} "seeking consent would place the child at risk"',
    "date of the decision": "give the date it happened, today ({today}) at the latest",
    "level": "use {{0}} confidential or safeguarding",
}
assert set(SHARING_HINTS) <= {policy.BASIS, policy.CONSENT, policy.REASON, policy.DECIDED_ON, policy.LEVEL}
DEFAULT_WITHIN = 14


# ---------------------------------------------------------------------------
# due


def _record_due(session: Session, record_id: str, today: dt.date, within: int) -> dict:
    env = session.vault.envelope(record_id)
    entries, sealed = requests.open_entries(session, env)
    profile = records.read_profile(session, env)
    has_left = profile is not None and retention_rules.has_left(profile.leaving_date, today)
    items: list[Duty] = retention.due_items(session, record_id, profile, entries, sealed, today)
    for req in requests.requests_in(entries, record_id).values():
        if req.closed is None:
            s = req.summary(today)
            items.append(Duty(kind="request", record=record_id, item=req.id, due=s["deadline"],
                              days_left=s["days_left"],
                              what=f"answer the request to see the file ({s['state']}, received {s['received']})"))
    for e in entries:
        if e.category in requests.REQUEST_CATEGORIES or e.category == retention.REVIEW_CATEGORY:
            continue
        if e.level in ("confidential", "safeguarding") and e.parents_informed is None \
                and e.parents_not_informed is None:
            items.append(Duty(kind="parents-not-informed", record=record_id, item=e.id, due=None,
                              days_left=None, level=e.level, category=e.category, at=e.at,
                              what=f"record that parents were informed of this {e.level} entry, or why not"))
        if e.parent_view == "not-asked" and e.parents_not_informed is None and not has_left \
                and (e.level != "general" or e.category in PARENT_SHARED):  # a leaver's parents are not asked
            items.append(Duty(kind="parent-view-not-asked", record=record_id, item=e.id, due=None,
                              days_left=None, level=e.level, category=e.category, at=e.at,
                              what="ask whether the parent regards this as confidential"))
    for g in env.grants:
        until = g.until
        if not until:
            continue
        left = (dt.date.fromisoformat(until) - today).days
        if left <= within:
            items.append(Duty(kind="grant-ends", record=record_id, item=f"{g.holder}:{g.level}", due=until,
                              days_left=left, holder=g.holder, level=g.level,
                              what=f"{g.holder}'s {g.level} grant ends" + (" (past)" if left < 0 else "")))
    for level in env.rekey:
        if policy.may_make_key(session.settings, session.holders, env.head, session.actor, level):
            what = f"a new {level} key generation is due: your next write makes it (or run 'confide expire')"
        else:
            what = f"a new {level} key generation is due: a holder who reads that level makes it at their next write"
        items.append(Duty(kind="rekey", record=record_id, item=level, due=None, days_left=None,
                          level=level, what=what))
    return {"items": items, "sealed": sealed}


def _grouped(items: list[Duty], level_order: tuple[str, ...]) -> list[Duty]:
    """One item per thing to do: a holder's grants ending on one day (every level, every record) are one
    grant ending; a level's key generations due are one re-key. Each lists its ``records`` (sorted);
    ``record`` is the record when there is one, else None."""
    groups: dict[tuple, list[Duty]] = {}
    rest = []
    for i in items:
        if i.kind == "grant-ends":
            groups.setdefault(("grant-ends", i.holder, i.due), []).append(i)
        elif i.kind == "rekey":
            groups.setdefault(("rekey", i.level, i.what), []).append(i)
        else:
            rest.append(i)
    for key, members in groups.items():
        records_ = sorted({m.record for m in members if m.record is not None})
        present = {m.level for m in members if m.level is not None}
        levels = [lv for lv in level_order if lv in present] + sorted(present.difference(level_order))
        first = members[0]
        many = f" on {len(records_)} records" if len(records_) > 1 else ""
        if key[0] == "grant-ends":
            holder = key[1]
            what = f"{holder}'s {', '.join(levels)} grant{many} ends" + (" (past)" if (first.days_left or 0) < 0 else "")
            rest.append(Duty(kind="grant-ends", record=records_[0] if len(records_) == 1 else None,
                             records=tuple(records_), item=holder, due=first.due, days_left=first.days_left,
                             holder=holder, levels=tuple(levels), what=what))
        else:
            what = first.what.replace(" is due:", f" is due{many}:", 1)
            rest.append(Duty(kind="rekey", record=records_[0] if len(records_) == 1 else None, records=tuple(records_),
                             item=first.item, due=None, days_left=None, level=first.level, what=what))
    return rest


def due(session: Session, *, within: int = DEFAULT_WITHIN, progress=None) -> Due:
    session.require_reader()
    if within < 0:
        raise UsageError("{0} cannot be negative", "give a number of days, e.g. {0} 14", fields=("days ahead",))
    today = session.clock.today()
    items: list[Duty] = []
    sealed_records = 0
    for res in parallel.map_ordered(lambda rid: _record_due(session, rid, today, within), session.vault.record_ids(),
                                    progress=progress, processes=session.config.workers):
        items.extend(res["items"])
        sealed_records += bool(res["sealed"])
    items = _grouped(items, session.settings.levels)
    items.extend(holds.due_items(session))  # open legal holds, to those who may know of them
    items.sort(key=Duty.sort_key)
    return Due(today.isoformat(), tuple(items), sealed_records)


# ---------------------------------------------------------------------------
# find


def _peek(session: Session, env, item: dict) -> Optional[dict]:
    """An entry's payload, decrypted and checked for where it belongs, without the full schema check.

    The search's hot path: the schema check costs more than the decryption itself
    (~0.14 ms against ~0.1 ms a block), so it is kept for the entries a search
    returns (``records.open_entry`` validates those, markings included). Every
    block is still checked for its binding (record, block, level) and for the
    shape of the fields the search reads.
    """
    key = env.key(item["key"])
    ident = session.level_identity(env, item["key"])
    if ident is None:
        return None
    try:
        raw = crypto.decrypt(item["data"], ident)
        payload = json.loads(raw.decode("utf-8"))
    except crypto.NotForThisKey:
        raise IntegrityError(f"block {item['id']} in {env.source} is not encrypted to its level key", "run 'confide verify'") from None
    except IntegrityError as exc:
        raise IntegrityError(f"block {item['id']} in {env.source}: {exc.message}", "run 'confide verify'") from None
    except (UnicodeDecodeError, ValueError):
        raise IntegrityError(f"block {item['id']} in {env.source} does not hold a confide payload", "run 'confide verify'") from None
    if not isinstance(payload, dict) or (payload.get("record"), payload.get("block"), payload.get("level")) != \
            (env.record, item["id"], key.level):
        raise IntegrityError(
            f"block {item['id']} in {env.source} belongs elsewhere: it was written for another record, block or level",
            "a block was moved or copied by hand; restore the file from git and run 'confide verify'",
        )
    tp = payload.get("third_parties")
    if not (isinstance(payload.get("text"), str) and isinstance(payload.get("category"), str)
            and isinstance(payload.get("at"), str) and isinstance(tp, list) and all(isinstance(t, str) for t in tp)):
        raise IntegrityError(f"{env.source} block {item['id']} breaks the entry schema", "run 'confide verify'")
    return payload


def _record_find(session: Session, record_id: str, needle: str, category: Optional[str], levels: Optional[tuple],
                 since: Optional[str]) -> list[dict]:
    env = session.vault.envelope(record_id)
    out = []
    # The profile (None when the caller may not read it): read for a search, else for the first row found.
    profile = records.read_profile(session, env) if needle else None
    read = bool(needle)
    # A search for the child's name finds every entry of theirs the filters let through.
    named = profile is not None and names.matches(needle, (profile.name, profile.known_as))
    for item in env.entries:
        if levels is not None and env.key(item["key"]).level not in levels:
            continue
        p = _peek(session, env, item)
        if p is None:
            continue
        if category is not None and p["category"] != category:
            continue
        if since is not None and p["at"][:10] < since:
            continue
        if needle and not named:
            hay = p["text"].casefold()
            if needle not in hay and not any(needle in t.casefold() for t in p["third_parties"]):
                continue
        opened = records.open_entry(session, env, item)  # what is returned is fully validated
        assert opened is not None  # _peek opened it with the same key
        state = records.current_state(opened)
        if not read:
            profile, read = records.read_profile(session, env), True
        name = profile.name if profile else None
        out.append({"record": record_id, "entry": state.id, "at": state.at, "level": state.level,
                    "category": state.category, "author": state.author, "text": state.text,
                    "third_parties": list(state.third_parties), "name": name})
    return out


def find(session: Session, text: str, *, category: Optional[str] = None, level: Optional[str] = None,
         record: Optional[str] = None, since: Optional[str] = None, progress=None) -> list[dict]:
    session.require_reader()
    if text is None:
        text = ""
    needle = text.casefold().strip()
    if category is not None:
        session.settings.check_category(category)
    levels = None
    if level is not None:
        session.settings.check_level(level)
        levels = (level,)
    if since is not None:
        since = timeutil.parse_date(since, "start date")
    if not needle and category is None and level is None and since is None and record is None:
        raise UsageError("nothing to search for", "give TEXT, or a filter such as {0} or {1}", fields=("category", "start date"))
    if record is not None:
        session.vault.check_record_id(record)
        ids = [record]
    else:
        ids = session.vault.record_ids()
    rows: list[dict] = []
    for chunk in parallel.map_ordered(lambda rid: _record_find(session, rid, needle, category, levels, since), ids,
                                      progress=progress, processes=session.config.workers):
        rows.extend(chunk)
    rows.sort(key=lambda r: (r["at"], r["record"], r["entry"]))
    return rows


# ---------------------------------------------------------------------------
# share: the information-sharing decision log


def share(
    session: Session,
    record_id: str,
    *,
    with_whom: str,
    what: str,
    purpose: str,
    basis: Optional[str],
    consent: str,
    reason: Optional[str],
    decided_not_to: bool = False,
    on: Optional[str] = None,
    how: Optional[str] = None,
    advice: Optional[str] = None,
    level: str = "safeguarding",
    parents_informed: Optional[str] = None,
    parents_not_informed: Optional[str] = None,
) -> records.WriteResult:
    """Record a decision to share information, or not to (golden rule 7: the decision and the reasons)."""
    with_whom = requests.clean_text(with_whom, "who it was shared with", limit=200)
    what = requests.clean_text(what, "what was shared")
    purpose = requests.clean_text(purpose, "purpose")
    basis = requests.clean_text(basis, "lawful basis", required=False, limit=500)
    reason = requests.clean_text(reason, "reason", required=False)
    on_d = requests.parse_day(on, "date of the decision") or session.clock.today()
    how = requests.clean_text(how, "how it was shared", required=False, limit=200)
    advice = requests.clean_text(advice, "advice", required=False, limit=500)
    session.settings.check_level(level)
    details = {"procedure": policy.SHARING_PROCEDURE, "decision": "not-shared" if decided_not_to else "shared",
               "with": with_whom, "what": what, "purpose": purpose, "basis": basis, "consent": consent,
               "reason": reason, "on": on_d.isoformat(), "how": how, "advice": advice}
    # the rules are policy's, which verify asks of every sharing decision in history
    problems = policy.sharing_problems(session.settings.levels, level, details, [with_whom], session.clock.now())
    if problems:
        fieldname, problem = problems[0]
        hint = SHARING_HINTS.get(fieldname, "nothing was changed").format(today=session.clock.today().isoformat())
        raise UsageError(problem, hint, fields=(fieldname,))
    session.vault.check_record_id(record_id)
    if decided_not_to:
        text = f"Decided not to share {what} with {with_whom} (purpose: {purpose}); consent {consent}; reason: {reason}."
    else:
        text = (f"Shared {what} with {with_whom} on {on_d.isoformat()} for {purpose}; lawful basis: {basis}; "
                f"consent {consent}" + (f"; reason: {reason}" if reason else "") + ".")
    if advice:
        text += f" Advice: {advice}."
    return records.add_entry(session, record_id, level=level, category="information-sharing", text=text,
                             at=on_d.isoformat(), third_parties=[with_whom], details=details,
                             parents_informed=parents_informed, parents_not_informed=parents_not_informed)


__all__ = ["due", "find", "share", "PARENT_SHARED"]
