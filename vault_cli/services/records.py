"""Children's records: create, read, add entries, mark them, edit the profile.

Each function takes a ``Session`` (the vault and who is acting), does one
thing, and for writes makes exactly one commit. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Optional

from vault_cli.adapters import parallel, timeutil
from vault_cli.adapters.crypto import NotForThisKey
from vault_cli.errors import Denied, IntegrityError, NotFound, UsageError, VaultStateError
from vault_cli.formats import envelope
from vault_cli.model import ids, policy, trail
from vault_cli.model.levels import LevelKey, LevelKeys
from vault_cli.model.record import AnyEntry, Conflict, Entry, NewEntry, Profile, ProfileVersion, Record, SealedEntry
from vault_cli.services.vault import Session
from vault_cli.services.writing import WriteResult, check_input, warnings_for_vault, writing

PARENT_VIEWS = ("confidential", "not-confidential", "not-asked")
INFORMED, NOT_INFORMED = "date parents were informed", "why parents were not informed"  # fields, as errors name them
DATE_FIELDS = ("dob", "start_date", "leaving_date")
LIST_FIELDS = ("home_languages", "allergies")


# ---------------------------------------------------------------------------
# Creating a record


def _wrap_for(session: Session, key: LevelKey, secret: str, record_id: str, names: Iterable[str]) -> LevelKey:
    for name in sorted(names):
        key = key.with_copy(name, envelope.wrap_level_key(
            secret, record=record_id, key=key, holder_recipient=session.holders.get(name).recipient
        ))
    return key


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
        check_key_person(session, key_person)
        record_id = new_record_ids(session, 1)[0]
        profile = {"name": name.strip(), "dob": dob, "room": room}
        env = new_record(session, actor, record_id, profile, key_person)
        env.write_to(tx)
        commit = tx.commit(
            trail.message(f"create record {record_id}", "record.create", actor.name, record=record_id), actor.name
        )
    return WriteResult(record_id, commit, warnings_for_vault(session))


def new_record_ids(session: Session, n: int) -> list[str]:
    """``n`` fresh record ids, none already in the vault (or its folder)."""
    vault = session.vault
    out: list[str] = []
    while len(out) < n:
        record_id = ids.new_record_id()
        if record_id not in out and not vault.has_record(record_id) and not vault.record_path(record_id).exists():
            out.append(record_id)
    return out


def new_record(session: Session, actor, record_id: str, profile: dict, key_person: Optional[str]) -> envelope.Envelope:
    """A new record in memory: a level key per level wrapped for its readers, the sealed profile, no entries.

    A level the actor does not read is marked for re-keying (they made its key, so they knew its secret:
    its first reader replaces it)."""
    settings = session.settings
    source = session.vault.record_source(record_id)
    head: dict[str, Any] = {"format": envelope.FORMAT, "record": record_id, "key_person": key_person,
                            "grants": [], "keys": []}
    today = session.clock.today()
    env = envelope.Envelope(source, head, envelope.EMPTY_TAIL)
    for level in settings.levels:
        key, secret = envelope.new_generation_key(env.level_keys.ids, level, 1)
        readers = policy.readers_for(settings, session.holders, head, level, today)
        if not readers:
            raise Denied(f"no active holder would be able to read the {level} level", "add a manager first")
        env.level_keys = LevelKeys((*env.keys, _wrap_for(session, key, secret, record_id, readers)))
        if not policy.may_make_key(settings, session.holders, head, actor, level):
            env.mark_rekey(level)
    profile = dict(profile, key_person=key_person)
    profile = {k: v for k, v in profile.items() if v is not None}
    env.head["profile"] = seal_profile(env, profile, actor.name, session.clock.now_iso())
    return env


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
    return {"key": key.id, "data": envelope.seal(payload, key.recipient, "profile", env.source)}


# ---------------------------------------------------------------------------
# Reading


def read_profile(session: Session, env: envelope.Envelope) -> Optional[Profile]:
    """The record's profile with its key person, or None when the caller's keys do not open it."""
    payload = _open_profile(session, env, env.head["profile"])
    if payload is None:
        return None
    return Profile.from_json(payload["profile"], key_person=env.head.get("key_person"))


def conflict_of(session: Session, env: envelope.Envelope) -> Optional[Conflict]:
    """A sync's unresolved conflict in the record (``merge.profile_versions``), or None: its part, and every
    version decrypted (who saved it, when, the profile) for a caller who reads the profile, else None."""
    versions = conflict_versions(session, env)
    if versions is None:
        return None
    return Conflict("profile", tuple(v for v, _block in versions) if versions else None)


def conflict_versions(session: Session, env: envelope.Envelope) -> Optional[list[tuple[ProfileVersion, dict]]]:
    """[(version, block)] numbered 1, 2... by when they were saved (then by whom): the head keeps them in an
    order only their ciphertext decides, which a person cannot see. [] when the caller cannot read them;
    None when the record holds no conflict."""
    blocks = list((env.head.get("conflict") or {}).get("profile") or [])
    if not blocks:
        return None
    opened = []
    for i, block in enumerate(blocks):
        payload = _open_profile(session, env, block)
        if payload is None:
            return []
        profile = Profile.from_json(payload["profile"], key_person=env.head.get("key_person"))
        opened.append(((payload["updated_at"], payload["updated_by"], i), payload, profile, block))
    opened.sort(key=lambda x: x[0])
    return [(ProfileVersion(n, p["updated_by"], p["updated_at"], prof), block)
            for n, (_k, p, prof, block) in enumerate(opened, 1)]


def _open_profile(session: Session, env: envelope.Envelope, block: dict) -> Optional[dict]:
    key = env.key(block["key"])
    if key.level != "general":
        raise IntegrityError(f"a profile in {env.source} is not under a general-level key", "run 'confide verify'")
    ident = session.level_identity(env, block["key"])
    if ident is None:
        return None
    try:
        return envelope.open_block(block["data"], ident, schema_name="profile", record=env.record, block="profile",
                                   level="general", source=env.source)
    except NotForThisKey:
        raise IntegrityError(f"a profile block in {env.source} is not encrypted to its level key", "run 'confide verify'") from None


def _summary(session: Session, record_id: str) -> dict:
    env = session.vault.envelope(record_id, entries=False)
    profile = read_profile(session, env)
    row: dict[str, Any] = {"record": record_id, "readable": profile is not None, "key_person": env.head.get("key_person"),
                           "entries": env.entry_count()}
    if profile is not None:
        row.update(name=profile.name, dob=profile.dob, room=profile.room,
                   known_as=profile.known_as, leaving_date=profile.leaving_date)
    return row


def list_children(session: Session, progress=None) -> list[dict]:
    session.require_reader()
    return list(parallel.map_ordered(lambda rid: _summary(session, rid), session.vault.record_ids(), progress=progress,
                                     processes=session.config.workers))


def open_entry(session: Session, env: envelope.Envelope, item: dict) -> Optional[dict]:
    """The entry's payload and its markings, or None when the caller holds no key for it."""
    where = env.entries_source  # entry blocks and their markings live in the entries file
    key = env.key(item["key"], referrer=where)
    level = key.level
    ident = session.level_identity(env, item["key"])
    if ident is None:
        return None
    try:
        payload = envelope.open_block(item["data"], ident, schema_name="entry", record=env.record, block=item["id"],
                                      level=level, source=where)
        marks = []
        for m in item.get("marks", []) or []:
            mkey = env.key(m["key"], referrer=where)
            if mkey.level != level:
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


def current_state(opened: dict) -> Entry:
    """The opened entry as it now stands, its markings applied."""
    return Entry.from_payloads(opened["payload"], opened["marks"])


def show_record(session: Session, record_id: str) -> Record:
    session.require_reader()
    env = session.vault.envelope(record_id)
    profile = read_profile(session, env)
    entries: list[AnyEntry] = []
    for item in env.entries:
        opened = open_entry(session, env, item)
        if opened is None:
            entries.append(SealedEntry(item["id"], env.key(item["key"]).level))
        else:
            entries.append(current_state(opened))
    # Chronology: readable entries by when they happened; sealed ones by when they were
    # recorded (read from their id), which is all the caller may know of them.
    merged = sorted(entries, key=lambda e: (_when(e), e.id))
    return Record(record_id, profile, tuple(merged), conflict_of(session, env))


def _when(entry: AnyEntry):
    if isinstance(entry, Entry):
        return timeutil.instant(entry.at)
    return entry.recorded


# ---------------------------------------------------------------------------
# Adding and marking entries


def check_informed(parents_informed: Optional[str], parents_not_informed: Optional[str]) -> tuple[Optional[str], Optional[str]]:
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


DATE_HINTS = {
    policy.WHEN: "give when it happened, e.g. {0} 2026-11-24T09:30 or {0} 2026-11-24; a date in the future is "
                 "usually a typo, and an entry is recorded after what it records",
    policy.INFORMED: "give the date parents were told (YYYY-MM-DD), on or after the entry's date and not after today",
}


def check_dates(at: Optional[str], parents_informed: Optional[str], now, *, only: Optional[str] = None) -> None:
    """Refuse an entry's dates that cannot be right (``policy.date_problems``, which verify asks too)."""
    for fieldname, problem in policy.date_problems(at, parents_informed, now):
        if only is not None and fieldname != only:
            continue
        raise UsageError(problem, DATE_HINTS[fieldname], fields=(fieldname,))


def check_entry(settings, *, level: str, category: str, text: str, parent_view: str = "not-asked",
                parents_informed: Optional[str] = None, parents_not_informed: Optional[str] = None,
                third_parties: Sequence[str] = (), at: Optional[str] = None, now=None,
                procedure: bool = False) -> NewEntry:
    """An entry's fields as the user gave them, checked and normalised: what 'add' and 'import' both accept.

    ``at`` None is now (``now``, an aware time: the clock's). ``procedure``: written by one of confide's own
    procedures (a request step, a sharing decision), which alone use those categories."""
    settings.check_level(level)
    settings.check_category(category)
    from vault_cli.model.settings import PROCEDURE_CATEGORIES

    if category in PROCEDURE_CATEGORIES and not procedure:
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
    parents_informed, parents_not_informed = check_informed(parents_informed, parents_not_informed)
    parties: list[str] = []
    for tp in third_parties:
        if not tp or not tp.strip():
            raise UsageError("a {0} name is empty", "name the third party, e.g. {0} \"Dr Who, health visitor\"",
                             fields=("third party",))
        if tp.strip() not in parties:
            parties.append(tp.strip())
    at_value = timeutil.parse_datetime(at, "time it happened") if at else None  # policy.WHEN
    check_dates(at_value or now.isoformat(), parents_informed, now)
    return NewEntry(level=level, category=category, text=text, parent_view=parent_view, at=at_value,
                    parents_informed=parents_informed, parents_not_informed=parents_not_informed,
                    third_parties=tuple(parties))


def seal_entry(env: envelope.Envelope, entry_id: str, fields: NewEntry, *, author: str, now: str,
               corrects: Optional[str] = None, details: Optional[dict] = None) -> None:
    """Seal an entry (``check_entry``'s fields) under its level's current key and append it to the record."""
    key = env.current_key(fields.level)
    payload: dict[str, Any] = {
        "confide": "entry/1", "record": env.record, "block": entry_id, "level": fields.level,
        "category": fields.category, "text": fields.text, "at": fields.at or now, "recorded_at": now,
        "author": author, "parent_view": fields.parent_view, "parents_informed": fields.parents_informed,
        "parents_not_informed": fields.parents_not_informed, "third_parties": list(fields.third_parties),
        "corrects": corrects,
    }
    if details:
        payload["details"] = details
    check_input("entry", payload, "the new entry")
    block = envelope.seal(payload, key.recipient, "entry", env.source)
    env.append_entry({"id": entry_id, "key": key.id, "data": block})


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
    unchanged_since: Optional[str] = None,
) -> WriteResult:
    """``unchanged_since``: a commit the entry was prepared from (a clean copy built before the lock was taken);
    if the record changed since, nothing is written (what was prepared may no longer stand)."""
    fields = check_entry(session.settings, level=level, category=category, text=text, parent_view=parent_view,
                         parents_informed=parents_informed, parents_not_informed=parents_not_informed,
                         third_parties=third_parties, at=at, now=session.clock.now(), procedure=bool(details))
    parents_informed, parents_not_informed = fields.parents_informed, fields.parents_not_informed
    session.vault.check_record_id(record_id)
    if corrects is not None and not ids.ENTRY_RE.fullmatch(corrects):
        raise NotFound(f"'{corrects}' is not an entry id", "entry ids look like e-01jd3x8k2m5q9w")
    with writing(session) as (tx, actor):
        if unchanged_since is not None and session.vault.record_changed_since(record_id, unchanged_since):
            raise VaultStateError(
                f"{record_id} was changed by someone else while this command waited for the vault; nothing was "
                "recorded", "run the command again: it will use the record as it now stands")
        env = session.vault.envelope(record_id, entries=corrects is not None)
        if corrects is not None and env.find_entry(corrects) is None:
            raise NotFound(f"{{0}} names {corrects}, which is not an entry of {record_id}",
                           f"see its entries with: confide show {record_id}", fields=("corrected entry",))
        rekey_due = level in env.rekey  # the writer does not read the level (else re-keyed)
        entry_id = ids.new_entry_id()
        seal_entry(env, entry_id, fields, author=actor.name, now=session.clock.now_iso(), corrects=corrects,
                   details=details)
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


__all__ = [
    "create_child", "list_children", "show_record", "conflict_of", "conflict_versions", "add_entry", "read_profile", "check_key_person",
    "open_entry", "current_state", "WriteResult", "PARENT_VIEWS",
]
