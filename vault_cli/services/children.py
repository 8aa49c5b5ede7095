"""Children by name: finding a record by (part of) the child's name, filtering the list, refusing a duplicate.

Names are encrypted in each record's profile, so every function here decrypts
what the caller can read, over the whole vault at once (forked over the cores,
``parallel.map_ordered``, as ``child list`` does), and compares in memory (``model.names``: any case, with
or without accents). A record whose profile the caller cannot read is never
matched, and never said to match: the count of such records is all that is
reported.
"""

from __future__ import annotations

from typing import Optional

from vault_cli.adapters import parallel, timeutil
from vault_cli.errors import NotFound, UsageError, VaultStateError
from vault_cli.model import names
from vault_cli.services import records
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
                  sort: str = "record", progress=None) -> list[dict]:
    """The records with what the caller can read of each profile, filtered and sorted.

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

    rows = [r for r in rows if keep(r)]
    if sort != "record":
        rows.sort(key=_sort_key(sort))
    return rows


def _names_of(session: Session, record_id: str) -> dict:
    env = session.vault.envelope(record_id, entries=False)  # the head alone: the entries file is not read
    profile = records.read_profile(session, env)
    if profile is None:
        return {"record": record_id, "readable": False}
    return {"record": record_id, "readable": True, "name": profile.get("name"), "known_as": profile.get("known_as"),
            "dob": profile.get("dob"), "room": profile.get("room")}


def names_and_births(session: Session, progress=None) -> list[dict]:
    """Every record's name, known-as name, date of birth and room where the caller reads the profile
    (``readable`` False elsewhere): the profiles alone, decrypted over the cores, about half the work of
    ``records.list_children``, which also reads every entries file to count it."""
    session.require_reader()
    return list(parallel.map_ordered(lambda rid: _names_of(session, rid), session.vault.record_ids(),
                                     progress=progress, processes=session.config.workers))


def find_children(session: Session, query: str, progress=None) -> list[dict]:
    """The children the caller can read whose name (or known-as name) holds every word of ``query``,
    by name: ``{"record", "name", "known_as", "dob", "room"}`` each."""
    if not query or not query.strip():
        raise UsageError("no name to look for", "type part of the child's name")
    return matching(names_and_births(session, progress=progress), query)


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


__all__ = ["SORTS", "list_children", "names_and_births", "find_children", "matching", "duplicates", "add_child"]
