"""Children's records: create, read, add entries, mark them, edit the profile.

Each function takes a ``Session`` (the vault and who is acting), does one
thing, and for writes makes exactly one commit. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Optional

from vault_cli.adapters import parallel, timeutil
from vault_cli.adapters.crypto import NotForThisKey
from vault_cli.errors import Denied, IntegrityError, NotFound, UsageError
from vault_cli.formats import envelope, schema
from vault_cli.model import ids, policy, trail
from vault_cli.services.vault import Session
from vault_cli.services.writing import WriteResult, check_input, warnings_for_vault, writing

PARENT_VIEWS = ("confidential", "not-confidential", "not-asked")
INFORMED, NOT_INFORMED = "date parents were informed", "why parents were not informed"  # fields, as errors name them
PROFILE_FIELDS = (
    "name", "known_as", "dob", "start_date", "leaving_date", "room", "key_person", "home_languages",
    "parents", "emergency_contacts", "medical_needs", "allergies", "dietary_needs", "gp", "send",
    "court_orders", "consents",
)
DATE_FIELDS = ("dob", "start_date", "leaving_date")
LIST_FIELDS = ("home_languages", "allergies")


# ---------------------------------------------------------------------------
# Creating a record


def _wrap_for(session: Session, key: dict, secret: str, record_id: str, names: Iterable[str]) -> None:
    for name in sorted(names):
        key["wrapped"][name] = envelope.wrap_level_key(
            secret, record=record_id, key=key, holder_recipient=session.holders.get(name).recipient
        )


def check_key_person(session: Session, name: Optional[str]) -> Optional[str]:
    if name is None:
        return None
    holder = session.holders.find(name)
    if holder is None or not holder.active:
        raise NotFound(
            f"no active holder named '{name}' to be the key person",
            "list holders with 'confide holder list'; add one with 'confide holder add'",
        )
    # e.g. students see a child's records only with the parent's written permission, which a
    # key person's standing access would bypass; auditors and recovery keys never act.
    if not policy.may_be_key_person(session.settings, holder):
        raise UsageError(f"holder '{name}' is a {holder.role} and cannot be a key person", "choose a member of staff")
    return name


def create_child(
    session: Session,
    *,
    name: str,
    dob: Optional[str] = None,
    key_person: Optional[str] = None,
    room: Optional[str] = None,
) -> WriteResult:
    if not name or not name.strip():
        raise UsageError("the child's name is empty", "give it with {0}", fields=("child's name",))
    if dob is not None:
        dob = timeutil.parse_date(dob, "date of birth")
    check_input("profile", {k: v for k, v in {"name": name.strip(), "room": room}.items() if v is not None},
                 "the new child's profile", definition="profile")
    with writing(session) as (tx, actor):
        settings = session.settings
        vault = session.vault
        check_key_person(session, key_person)
        record_id = ids.new_record_id()
        while vault.has_record(record_id) or vault.record_path(record_id).exists():
            record_id = ids.new_record_id()
        source = vault.record_source(record_id)
        head: dict[str, Any] = {"format": envelope.FORMAT, "record": record_id, "key_person": key_person,
                                "grants": [], "keys": []}
        today = session.clock.today()
        taken: set[str] = set()
        for level in settings.levels:
            key, secret = envelope.new_level_key(taken, level, 1)
            taken.add(key["id"])
            readers = policy.readers_for(settings, session.holders, head, level, today)
            if not readers:
                raise Denied(f"no active holder would be able to read the {level} level", "add a manager first")
            _wrap_for(session, key, secret, record_id, readers)
            head["keys"].append(key)
            if not policy.may_make_key(settings, session.holders, head, actor, level):
                # we made a key of a level we do not read, so we knew its secret: its first reader replaces it
                envelope.mark_rekey(head, level)
        profile = {"name": name.strip(), "dob": dob, "room": room, "key_person": key_person}
        profile = {k: v for k, v in profile.items() if v is not None}
        env = envelope.Envelope(source, head, envelope.EMPTY_TAIL)
        env.head["profile"] = seal_profile(env, profile, actor.name, session.clock.now_iso())
        env.write_to(tx)
        commit = tx.commit(
            trail.message(f"create record {record_id}", "record.create", actor.name, record=record_id), actor.name
        )
    return WriteResult(record_id, commit, warnings_for_vault(session))


def seal_profile(env: envelope.Envelope, profile: dict, author: str, updated_at: str) -> dict:
    key = env.current_key("general")
    payload = {
        "confide": "profile/1",
        "record": env.record,
        "block": "profile",
        "level": "general",
        "updated_at": updated_at,
        "updated_by": author,
        "profile": profile,
    }
    return {"key": key["id"], "data": envelope.seal(payload, key["recipient"], "profile", env.source)}


# ---------------------------------------------------------------------------
# Reading


def read_profile(session: Session, env: envelope.Envelope) -> Optional[dict]:
    block = env.head["profile"]
    key = env.key(block["key"])
    if key["level"] != "general":
        raise IntegrityError(f"the profile in {env.source} is not under a general-level key", "run 'confide verify'")
    ident = session.level_identity(env, block["key"])
    if ident is None:
        return None
    try:
        payload = envelope.open_block(
            block["data"], ident, schema_name="profile", record=env.record, block="profile", level="general",
            source=env.source,
        )
    except NotForThisKey:
        raise IntegrityError(f"the profile block in {env.source} is not encrypted to its level key", "run 'confide verify'") from None
    profile = dict(payload["profile"])
    profile["key_person"] = env.head.get("key_person")
    return profile


def _summary(session: Session, record_id: str) -> dict:
    env = session.vault.envelope(record_id, entries=False)
    profile = read_profile(session, env)
    row: dict[str, Any] = {"record": record_id, "readable": profile is not None, "key_person": env.head.get("key_person"),
                           "entries": env.entry_count()}
    if profile is not None:
        row.update(name=profile.get("name"), dob=profile.get("dob"), room=profile.get("room"))
    return row


def list_children(session: Session, progress=None) -> list[dict]:
    session.require_reader()
    return list(parallel.map_ordered(lambda rid: _summary(session, rid), session.vault.record_ids(), progress=progress,
                                     processes=session.config.workers))


def open_entry(session: Session, env: envelope.Envelope, item: dict) -> Optional[dict]:
    """The entry's payload and its markings, or None when the caller holds no key for it."""
    where = env.entries_source  # entry blocks and their markings live in the entries file
    key = env.key(item["key"], referrer=where)
    level = key["level"]
    ident = session.level_identity(env, item["key"])
    if ident is None:
        return None
    try:
        payload = envelope.open_block(item["data"], ident, schema_name="entry", record=env.record, block=item["id"],
                                      level=level, source=where)
        marks = []
        for m in item.get("marks", []) or []:
            mkey = env.key(m["key"], referrer=where)
            if mkey["level"] != level:
                raise IntegrityError(f"a marking of {item['id']} in {where} is not at the entry's level", "run 'confide verify'")
            mident = session.level_identity(env, m["key"])
            if mident is None:
                raise IntegrityError(f"a marking of {item['id']} in {where} is under a key you lack", "run 'confide verify'")
            mp = envelope.open_block(m["data"], mident, schema_name="mark", record=env.record, block=m["id"],
                                     level=level, source=where)
            if mp["entry"] != item["id"]:
                raise IntegrityError(f"marking {m['id']} in {where} belongs to another entry", "run 'confide verify'")
            marks.append(mp)
    except NotForThisKey:
        raise IntegrityError(f"block {item['id']} in {where} is not encrypted to its level key", "run 'confide verify'") from None
    return {"payload": payload, "marks": marks}


def current_state(opened: dict) -> dict:
    p = opened["payload"]
    state = {
        "id": p["block"], "level": p["level"], "readable": True, "category": p["category"], "text": p["text"],
        "at": p["at"], "recorded_at": p["recorded_at"], "author": p["author"], "parent_view": p["parent_view"],
        "parents_informed": p["parents_informed"], "parents_not_informed": p["parents_not_informed"],
        "third_parties": list(p["third_parties"]), "corrects": p["corrects"],
        # what a procedure recorded besides the text (a sharing decision's 'how', a request's dates), or None
        "details": p.get("details"),
    }
    markings = []
    for m in sorted(opened["marks"], key=lambda x: x["block"]):
        for fieldname, change in m["changes"].items():
            if fieldname != "level":
                state[fieldname] = change["to"]
        markings.append({"id": m["block"], "author": m["author"], "recorded_at": m["recorded_at"],
                         "reason": m["reason"], "changes": m["changes"]})
    state["markings"] = markings
    return state


def show_record(session: Session, record_id: str) -> dict:
    session.require_reader()
    env = session.vault.envelope(record_id)
    profile = read_profile(session, env)
    readable, sealed = [], []
    for item in env.entries:
        opened = open_entry(session, env, item)
        if opened is None:
            sealed.append({"id": item["id"], "level": env.key(item["key"])["level"], "readable": False})
        else:
            readable.append(current_state(opened))
    # Chronology: readable entries by when they happened; sealed ones by when they were
    # recorded (read from their id), which is all the caller may know of them.
    merged = sorted(readable + sealed, key=lambda e: (_when(e), e["id"]))
    return {"record": record_id, "profile": profile, "entries": merged}


def _when(entry: dict):
    import datetime as dt

    if entry["readable"]:
        return dt.datetime.fromisoformat(entry["at"])
    ms = 0
    for ch in entry["id"][2:12]:
        ms = ms * 32 + ids.ALPHABET.index(ch)
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)


# ---------------------------------------------------------------------------
# Adding and marking entries


def _check_informed(parents_informed: Optional[str], parents_not_informed: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    if parents_informed is not None and parents_not_informed is not None:
        raise UsageError(
            "{0} and {1} contradict each other",
            "give the date parents were told, or the reason they were not told, not both",
            fields=(INFORMED, NOT_INFORMED),
        )
    if parents_informed is not None:
        parents_informed = timeutil.parse_date(parents_informed, INFORMED)
    if parents_not_informed is not None and not parents_not_informed.strip():
        raise UsageError("{0} needs the reason parents were not told",
                         "for example: {0} \"informing parents may place the child at risk\"", fields=(NOT_INFORMED,))
    return parents_informed, parents_not_informed


def add_entry(
    session: Session,
    record_id: str,
    *,
    level: str,
    category: str,
    text: str,
    parent_view: str = "not-asked",
    parents_informed: Optional[str] = None,
    parents_not_informed: Optional[str] = None,
    third_parties: Sequence[str] = (),
    at: Optional[str] = None,
    corrects: Optional[str] = None,
    details: Optional[dict] = None,
) -> WriteResult:
    settings = session.settings
    settings.check_level(level)
    settings.check_category(category)
    from vault_cli.model.settings import PROCEDURE_CATEGORIES

    if category in PROCEDURE_CATEGORIES and not details:
        raise UsageError(
            f"entries of category '{category}' are written only by confide's own procedures",
            "use 'confide request ...' for parents' requests and 'confide share' for sharing decisions",
        )
    if text is None or not text.strip():
        raise UsageError("the entry text is empty", "give the text with {0} TEXT, or {0} - to read it from stdin",
                         fields=("entry text",))
    if parent_view not in PARENT_VIEWS:
        raise UsageError(f"unknown parent view '{parent_view}'", "{0} takes " + ", ".join(PARENT_VIEWS),
                         fields=("parent view",))
    parents_informed, parents_not_informed = _check_informed(parents_informed, parents_not_informed)
    parties = []
    for tp in third_parties:
        if not tp or not tp.strip():
            raise UsageError("a {0} name is empty", "name the third party, e.g. {0} \"Dr Who, health visitor\"",
                             fields=("third party",))
        if tp.strip() not in parties:
            parties.append(tp.strip())
    at_value = timeutil.parse_datetime(at, "time it happened") if at else None
    session.vault.check_record_id(record_id)
    if corrects is not None and not ids.ENTRY_RE.fullmatch(corrects):
        raise NotFound(f"'{corrects}' is not an entry id", "entry ids look like e-01jd3x8k2m5q9w")
    with writing(session) as (tx, actor):
        env = session.vault.envelope(record_id, entries=corrects is not None)
        if corrects is not None and env.find_entry(corrects) is None:
            raise NotFound(f"{{0}} names {corrects}, which is not an entry of {record_id}",
                           f"see its entries with: confide show {record_id}", fields=("corrected entry",))
        key = env.current_key(level)
        rekey_due = level in (env.head.get("rekey") or [])  # the writer does not read the level (else re-keyed)
        entry_id = ids.new_entry_id()
        now = session.clock.now_iso()
        payload: dict[str, Any] = {
            "confide": "entry/1", "record": record_id, "block": entry_id, "level": level, "category": category,
            "text": text, "at": at_value or now, "recorded_at": now, "author": actor.name, "parent_view": parent_view,
            "parents_informed": parents_informed, "parents_not_informed": parents_not_informed,
            "third_parties": parties, "corrects": corrects,
        }
        if details:
            payload["details"] = details
        check_input("entry", payload, "the new entry")
        block = envelope.seal(payload, key["recipient"], "entry", env.source)
        env.append_entry({"id": entry_id, "key": key["id"], "data": block})
        env.write_to(tx)
        commit = tx.commit(
            trail.message(f"add entry {entry_id} to {record_id}", "entry.add", actor.name, record=record_id, entry=entry_id),
            actor.name,
        )
    warnings = warnings_for_vault(session)
    if rekey_due:
        warnings.append(
            f"the {level} level of {record_id} is waiting for a new key generation, which only a holder who reads it "
            "may make (at their next write, or with 'confide expire'): this entry is sealed under the current one, "
            "which someone whose access ended may still hold")
    if level != "general" and parents_informed is None and parents_not_informed is None:
        warnings.append(
            f"parents are not recorded as informed of this {level} entry; when they are, run: "
            f"confide mark {entry_id} --parents-informed DATE (or --parents-not-informed REASON)"
        )
    return WriteResult(entry_id, commit, warnings)


def mark_entry(
    session: Session,
    entry_id: str,
    *,
    record_id: Optional[str] = None,
    level: Optional[str] = None,
    parent_view: Optional[str] = None,
    parents_informed: Optional[str] = None,
    parents_not_informed: Optional[str] = None,
    reason: Optional[str] = None,
) -> WriteResult:
    settings = session.settings
    if level is not None:
        settings.check_level(level)
        if not reason or not reason.strip():
            raise UsageError("changing an entry's level needs a reason", "add {0} \"...\" saying why", fields=("reason",))
    if parent_view is not None and parent_view not in PARENT_VIEWS:
        raise UsageError(f"unknown parent view '{parent_view}'", "{0} takes " + ", ".join(PARENT_VIEWS),
                         fields=("parent view",))
    parents_informed, parents_not_informed = _check_informed(parents_informed, parents_not_informed)
    if reason is not None and not reason.strip():
        raise UsageError("{0} is empty", "say why, or leave {0} out", fields=("reason",))
    if all(v is None for v in (level, parent_view, parents_informed, parents_not_informed)):
        raise UsageError(
            "nothing to mark",
            "give {0}, {1}, {2} or {3}",
            fields=("level", "parent view", INFORMED, NOT_INFORMED),
        )
    if record_id is None:
        record_id = session.vault.find_entry_record(entry_id)
    else:
        session.vault.check_record_id(record_id)
    with writing(session) as (tx, actor):
        env = session.vault.envelope(record_id)
        item = env.find_entry(entry_id)
        if item is None:
            raise NotFound(f"no entry {entry_id} in {record_id}", f"see its entries with: confide show {record_id}")
        opened = open_entry(session, env, item)
        if opened is None:
            raise Denied(
                f"you hold no key to entry {entry_id}, so you cannot mark it",
                "ask the child's key person, the DSL or a manager to mark it",
            )
        state = current_state(opened)
        changes: dict[str, dict] = {}
        if level is not None:
            if level == state["level"]:
                raise UsageError(f"entry {entry_id} is already at level {level}", "leave {0} out, or give another level",
                                 fields=("level",))
            if settings.levels.index(level) < settings.levels.index(state["level"]):
                # Moving an entry down shares it more widely: a decision the rules table reserves
                # ('lowers' in confide.yaml; a safeguarding entry only by a manager or the DSL).
                policy.require_level(settings, actor, "lowers", state["level"],
                                     f"move an entry down from the {state['level']} level")
            changes["level"] = {"from": state["level"], "to": level}
        for name, value in (("parent_view", parent_view), ("parents_informed", parents_informed),
                            ("parents_not_informed", parents_not_informed)):
            if value is not None and value != state[name]:
                changes[name] = {"from": state[name], "to": value}
        if parents_informed is not None and state["parents_not_informed"] is not None:
            changes["parents_not_informed"] = {"from": state["parents_not_informed"], "to": None}
        if parents_not_informed is not None and state["parents_informed"] is not None:
            changes["parents_informed"] = {"from": state["parents_informed"], "to": None}
        if not changes:
            raise UsageError(f"entry {entry_id} already says that", "nothing was changed")
        new_level = level or state["level"]
        key = env.current_key(new_level)
        mark_id = ids.new_mark_id()
        mark_payload = {
            "confide": "mark/1", "record": record_id, "block": mark_id, "entry": entry_id, "level": new_level,
            "author": actor.name, "recorded_at": session.clock.now_iso(), "reason": reason.strip() if reason else None,
            "changes": changes,
        }
        check_input("mark", mark_payload, "the marking")
        new_item = dict(item)
        marks = list(item.get("marks", []) or [])
        if level is not None:
            # Re-encrypt the entry and its earlier markings under the new level's key.
            payload = dict(opened["payload"], level=new_level)
            new_item["key"] = key["id"]
            new_item["data"] = envelope.seal(payload, key["recipient"], "entry", env.source)
            marks = []
            for old_item, mp in zip(sorted(item.get("marks", []) or [], key=lambda m: m["id"]),
                                    sorted(opened["marks"], key=lambda m: m["block"]), strict=True):  # open_entry opened every marking (block == id)
                marks.append({"id": old_item["id"], "key": key["id"],
                              "data": envelope.seal(dict(mp, level=new_level), key["recipient"], "mark", env.source)})
        marks.append({"id": mark_id, "key": key["id"], "data": envelope.seal(mark_payload, key["recipient"], "mark", env.source)})
        marks.sort(key=lambda m: m["id"])
        new_item["marks"] = marks
        schema.check_def("record", "entry", new_item, env.entries_source)
        env.replace_entry(new_item)
        env.write_to(tx)
        commit = tx.commit(
            trail.message(f"mark entry {entry_id} in {record_id}", "entry.mark", actor.name, record=record_id,
                          entry=entry_id, extra={"Confide-Mark": mark_id}),
            actor.name,
        )
    return WriteResult(mark_id, commit, warnings_for_vault(session))


__all__ = [
    "create_child", "list_children", "show_record", "add_entry", "mark_entry", "read_profile", "check_key_person",
    "open_entry", "current_state", "WriteResult", "PARENT_VIEWS",
]
