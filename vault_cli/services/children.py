"""Children by name: finding a record by (part of) the child's name, filtering the list, refusing a duplicate.

Names are encrypted in each record's profile. What the caller's key reads of
each (name, known-as name, date of birth, room) is kept in their encrypted
names cache (``services.names_cache``), so only the profiles changed since the
caller's last command are decrypted (forked over the cores,
``parallel.map_ordered``, when there are many); the comparison is in memory
(``model.names``: any case, with or without accents). A record whose profile the caller cannot read is never
matched, and never said to match: the count of such records is all that is
reported.
"""

from __future__ import annotations

from typing import Optional

from vault_cli.adapters import parallel, timeutil
from vault_cli.errors import NotFound, UsageError, VaultStateError
from vault_cli.model import names, retention
from vault_cli.services import names_cache, profiles, records, trust
from vault_cli.services.vault import Session
from vault_cli.services.writing import WriteResult

SORTS = ("record", "name", "dob", "room")


def _sort_key(sort: str):
    def key(row: dict):
        if not row["readable"]:
            return (1, "", row["record"])  # sealed rows last: nothing to sort them by
        value = row.get(sort)
        folded = names.fold(str(value)) if value else ""
        return (0 if value else 0.5, folded, row["record"])  # rows without the value after those with it

    return key


def list_children(session: Session, *, room: Optional[str] = None, key_person: Optional[str] = None,
                  leaving_before: Optional[str] = None, leaving_after: Optional[str] = None,
                  sort: str = "record", include_leavers: bool = False, progress=None) -> list[dict]:
    """The records with what the caller can read of each profile, filtered and sorted; each readable row
    says whether the child has ``left`` (its leaving date has come: ``retention.has_left``).

    Leavers are left out unless ``include_leavers`` (a record whose profile the caller cannot read cannot be
    told apart, and is listed).

    ``room`` (any case) and the leaving dates are read from the profile, so a
    record whose profile the caller cannot read never passes them;
    ``key_person`` is in the record's plaintext head and filters every record.
    ``leaving_before`` / ``leaving_after`` compare the profile's
    ``leaving_date`` (strictly before / on or after); a child with no leaving
    date passes neither. ``sort``: record (the id; default), name, dob or room.
    """
    if sort not in SORTS:
        raise UsageError(f"cannot sort by '{sort}'", "{0} takes " + ", ".join(SORTS), fields=("sort order",))
    before = timeutil.parse_date(leaving_before, "leaving before") if leaving_before is not None else None
    after = timeutil.parse_date(leaving_after, "leaving after") if leaving_after is not None else None
    if key_person is not None and session.holders.find(key_person) is None:
        raise NotFound(f"no holder named '{key_person}'", "list holders with 'confide holder list'")
    rows = records.list_children(session, progress=progress)

    def keep(row: dict) -> bool:
        if key_person is not None and row["key_person"] != key_person:
            return False
        if room is not None and (not row["readable"] or names.fold(row.get("room") or "") != names.fold(room)):
            return False
        if before is not None or after is not None:
            leaving = row.get("leaving_date") if row["readable"] else None
            if leaving is None or (before is not None and not leaving < before) or (after is not None and not leaving >= after):
                return False
        return True

    today = session.clock.today()
    for r in rows:
        r["left"] = retention.has_left(r.get("leaving_date"), today) if r["readable"] else None
    rows = [r for r in rows if keep(r) and (include_leavers or not r["left"])]
    if sort != "record":
        rows.sort(key=_sort_key(sort))
    return rows


def _fields_of(session: Session, record_id: str) -> names_cache.Fields:
    env = session.vault.envelope(record_id, entries=False)  # the head alone: the entries file is not read
    profile = records.read_profile(session, env)
    return None if profile is None else names_cache.fields_of(profile)


def _row(record_id: str, fields: names_cache.Fields) -> dict:
    if fields is None:
        return {"record": record_id, "readable": False}
    return {"record": record_id, "readable": True, **fields}


def _open_all(session: Session, record_ids: list[str], progress=None) -> list:
    return list(parallel.map_ordered(lambda rid: _fields_of(session, rid), record_ids, progress=progress,
                                     processes=session.config.workers))


def names_and_births(session: Session, progress=None, *, cached: bool = True) -> list[dict]:
    """Every record's name, known-as name, date of birth and room where the caller reads the profile
    (``readable`` False elsewhere), in record order: from the caller's names cache, decrypting only the
    profiles whose head changed since it was written (``cached=False``: every profile, as before the cache;
    the benchmark and the differential test compare the two)."""
    actor = session.require_reader()
    vault = session.vault
    record_ids = vault.record_ids()
    if not cached or not session.identities:
        return [_row(rid, f) for rid, f in zip(record_ids, _open_all(session, record_ids, progress), strict=True)]
    heads = vault.head_blobs()
    cache = names_cache.NamesCache(names_cache.cache_path(trust.git_dir_of(vault.root), actor.name),
                                   list(session.identities), actor.name)
    todo = cache.stale(heads)
    for rid, fields in zip(todo, _open_all(session, todo, progress), strict=True):
        cache.put(rid, heads[rid], fields)
    cache.save()
    if progress and len(record_ids) > len(todo):
        progress(len(record_ids) - len(todo))
    unlisted = [rid for rid in record_ids if rid not in heads]  # no blob id known: opened, not cached
    extra = dict(zip(unlisted, _open_all(session, unlisted), strict=True))
    return [_row(rid, extra[rid] if rid in extra else cache.fields(rid)) for rid in record_ids]


def find_children(session: Session, query: str, progress=None) -> list[dict]:
    """The children the caller can read whose name (or known-as name) holds every word of ``query``,
    by name: ``{"record", "name", "known_as", "dob", "room"}`` each."""
    if not query or not query.strip():
        raise UsageError("no name to look for", "type part of the child's name")
    return matching(names_and_births(session, progress=progress), query)


def attending(rows: list[dict], today) -> list[dict]:
    """The rows of ``names_and_births`` less the children who have left (a picker's and completion's list)."""
    return [r for r in rows if not (r["readable"] and retention.has_left(r.get("leaving_date"), today))]


def leave_child(session: Session, record_id: str, *, date: str, destination: Optional[str] = None) -> WriteResult:
    """Record the child's leaving date and, optionally, where they went, in the profile (sealed like the rest of
    it: the commit says only that the profile changed). Whoever may change profiles may."""
    day = timeutil.parse_date(date, "leaving date")
    if destination is not None:
        destination = destination.strip() or None

    def change(profile: dict) -> None:
        profile["leaving_date"] = day
        if destination is not None:
            profile["leaving_destination"] = destination

    return profiles.update_profile(session, record_id, change)


def matching(rows: list[dict], query: str) -> list[dict]:
    """The readable rows of ``names_and_births`` whose names match ``query``, sorted by name."""
    found = [{"record": r["record"], "name": r.get("name"), "known_as": r.get("known_as"), "dob": r.get("dob"),
              "room": r.get("room")}
             for r in rows if r["readable"] and names.matches(query, (r.get("name"), r.get("known_as")))]
    found.sort(key=lambda r: (names.fold(r["name"] or ""), r["record"]))
    return found


def duplicates(session: Session, name: str, dob: Optional[str], progress=None) -> tuple[list[str], int]:
    """Records the caller can read of a child with the same name and the same date of birth (both none counts
    as the same), and how many records could not be compared because their profile is sealed to the caller."""
    rows = names_and_births(session, progress=progress)
    same = [r["record"] for r in rows if r["readable"] and names.same_name(r.get("name"), name)
            and r.get("dob") == dob]
    return same, sum(1 for r in rows if not r["readable"])


def add_child(session: Session, *, name: str, dob: Optional[str] = None, key_person: Optional[str] = None,
              room: Optional[str] = None, force: bool = False, progress=None) -> WriteResult:
    """``records.create_child``, refusing a second child with the same name and date of birth unless ``force``.

    Only records whose profile the caller can read are compared; the result warns
    how many could not be. Nothing is written when it refuses.
    """
    if not name or not name.strip():
        return records.create_child(session, name=name, dob=dob, key_person=key_person, room=room)  # its own error
    if dob is not None:
        dob = timeutil.parse_date(dob, "date of birth")
    session.require_reader()
    same, unchecked = duplicates(session, name.strip(), dob, progress=progress)
    if same and not force:
        raise VaultStateError(
            f"a child with the same name and date of birth is already recorded: {', '.join(same)}",
            f"check with 'confide show {same[0]}'; if this is another child, add it again with {{0}}",
            fields=("add a second child",),
        )
    result = records.create_child(session, name=name, dob=dob, key_person=key_person, room=room)
    if same:
        result.warnings.insert(0, f"added a second child with the same name and date of birth as {', '.join(same)}")
    if unchecked:
        result.warnings.append(f"{unchecked} records whose profile you cannot read were not checked for the same child")
    return result


__all__ = ["SORTS", "list_children", "attending", "leave_child", "names_and_births", "find_children", "matching", "duplicates", "add_child"]
