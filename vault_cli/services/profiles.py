"""A child's profile: change fields (for scripts), or edit it whole (the editor), re-encrypted as one block.

The profile is the child's general information (names, date of birth, room,
parents and contacts, medical and dietary needs, consents), sealed under the
record's general key. Every change is validated against ``schemas/profile.schema.json``
before it is sealed; the key person is changed only with its own command, which
also moves the keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Optional

from vault_cli.adapters import timeutil
from vault_cli.errors import Denied, IntegrityError, UsageError, VaultStateError
from vault_cli.formats import schema
from vault_cli.model import retention, trail
from vault_cli.model.record import PROFILE_FIELDS
from vault_cli.services import records
from vault_cli.services.vault import Session
from vault_cli.services.writing import WriteResult, warnings_for_vault, writing

DATE_FIELDS = ("dob", "start_date", "leaving_date")
LIST_FIELDS = ("home_languages", "allergies")


def _set_path(doc: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] not in PROFILE_FIELDS:
        raise UsageError(f"'{parts[0]}' is not a profile field", "profile fields: " + ", ".join(PROFILE_FIELDS))
    node: Any = doc
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit():
                raise UsageError(f"'{path}': '{part}' should be a list position (0, 1, ...)", "for example parents.0.phone=...")
            idx = int(part)
            if idx > len(node):
                raise UsageError(f"'{path}': there is no item {idx} to set (the list has {len(node)})", "add items in order")
            if idx == len(node):
                node.append({} if not last else None)
            if last:
                node[idx] = value
            else:
                if node[idx] is None:
                    node[idx] = {}
                node = node[idx]
        else:
            if last:
                if value is None:
                    node.pop(part, None)
                else:
                    node[part] = value
            else:
                nxt = node.get(part)
                if nxt is None:
                    nxt = [] if parts[i + 1].isdigit() else {}
                    node[part] = nxt
                node = nxt


def parse_assignment(text: str) -> tuple[str, Any]:
    """``FIELD=VALUE`` (a string; empty clears), ``FIELD:=JSON`` (any JSON value)."""
    if ":=" in text and (text.index(":=") < text.index("=") + 1 if "=" in text else True):
        path, raw = text.split(":=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise UsageError(f"the value for '{path}' is not valid JSON", "FIELD:=JSON takes JSON, e.g. allergies:='[\"nuts\"]'") from None
        return path.strip(), value
    if "=" not in text:
        # Not echoed: without '=' the argument may well be a child's details typed in the wrong place.
        raise UsageError("an argument is not FIELD=VALUE (it has no '=')", "for example: room=rainbow, or allergies:='[\"nuts\"]'")
    path, raw = text.split("=", 1)
    path = path.strip()
    value = raw if raw != "" else None
    top = path.split(".")[0]
    if value is not None and top in LIST_FIELDS and "." not in path:
        value = [v.strip() for v in raw.split(",") if v.strip()]
    if value is not None and path in DATE_FIELDS:
        value = timeutil.parse_date(raw, path)
    return path, value


def _validate_profile(record_id: str, profile: dict, key_person: Optional[str]) -> None:
    if profile.get("key_person") != key_person:
        raise UsageError(
            "the key person is changed with its own command, which also moves the keys",
            f"run: confide key-person {record_id} HOLDER",
        )
    for f in DATE_FIELDS:
        if profile.get(f) is not None:
            timeutil.parse_date(str(profile[f]), f)
    try:
        schema.check_def("profile", "profile", profile, f"the profile of {record_id}")
    except IntegrityError as exc:
        # A value the user just gave, not a damaged file: a usage error, not "restore it from git".
        message = exc.message.replace("breaks the profile schema (profile): ", "would not be valid: ")
        if "must be of type string" in message:
            # YAML reads 01234567890 as a number (and drops the 0): the usual cause in an editor.
            message += "; put numbers such as phone numbers in quotes, e.g. phone: '01234 567890'"
        raise UsageError(message, "see the fields and their forms in schemas/profile.schema.json; nothing was changed") from None


def check_leaving(session: Session, new: dict, old: Optional[dict]) -> None:
    """Refuse a leaving date ``retention.leaving_problems`` finds wrong (verify reports the same from history)."""
    problems = retention.leaving_problems(new, old, session.clock.today())
    if problems:
        raise UsageError(problems[0], "give the day the child left (or leaves): on or after the date of birth and the "
                         "start date, and at most a year ahead; nothing was changed")


def set_profile(session: Session, record_id: str, assignments: Sequence[str]) -> WriteResult:
    if not assignments:
        raise UsageError("nothing to set", "give FIELD=VALUE pairs, e.g. room=rainbow")
    parsed = [parse_assignment(a) for a in assignments]

    def change(profile: dict) -> None:
        for path, value in parsed:
            _set_path(profile, path, value)

    return update_profile(session, record_id, change)


def update_profile(session: Session, record_id: str, change) -> WriteResult:
    """Apply ``change(profile)`` (in place, or returning a new dict) and re-encrypt the profile."""
    session.vault.check_record_id(record_id)
    with writing(session) as (tx, actor):
        env = session.vault.envelope(record_id, entries=False)
        if env.head.get("conflict"):
            raise VaultStateError(
                f"the profile of {record_id} was changed on two machines and a sync kept both versions; it is changed "
                "again only once someone chooses", f"see both with 'confide show {record_id}', then choose with "
                f"'confide resolve {record_id} --take N' or write the profile anew with 'confide resolve {record_id} --edit'")
        profile = records.read_profile(session, env)
        if profile is None:
            raise Denied(f"you cannot read the profile of {record_id}, so you cannot change it", "ask the key person or a manager")
        old = profile.to_json()
        new = json.loads(json.dumps(old))
        result = change(new)
        if isinstance(result, dict):
            new = result
        new = {k: v for k, v in new.items() if v is not None}
        _validate_profile(record_id, new, env.head.get("key_person"))
        check_leaving(session, new, old)
        if new == {k: v for k, v in old.items() if v is not None}:
            raise UsageError("the profile already says that", "nothing was changed")
        env.head["profile"] = records.seal_profile(env, new, actor.name, session.clock.now_iso())
        env.write_to(tx)
        commit = tx.commit(
            trail.message(f"update profile of {record_id}", "profile.update", actor.name, record=record_id), actor.name
        )
    return WriteResult(record_id, commit, warnings_for_vault(session))


def profile_for_editing(session: Session, record_id: str) -> dict:
    env = session.vault.envelope(record_id, entries=False)
    profile = records.read_profile(session, env)
    if profile is None:
        raise Denied(f"you cannot read the profile of {record_id}", "ask the key person or a manager")
    stored = profile.to_json()
    full = {f: stored.get(f) for f in PROFILE_FIELDS}
    for f in ("parents", "emergency_contacts", "home_languages", "allergies"):
        full[f] = full[f] or []
    full["consents"] = full["consents"] or {}
    return full


def check_profile_document(record_id: str, doc: Any, key_person: Optional[str]) -> dict:
    if not isinstance(doc, dict):
        raise UsageError("the profile must be a YAML mapping of field: value", "see schemas/profile.schema.json")
    cleaned = {k: v for k, v in doc.items() if v not in (None, [], {})}
    for f in DATE_FIELDS:
        if f in cleaned and not isinstance(cleaned[f], str):
            cleaned[f] = str(cleaned[f])
    try:
        _validate_profile(record_id, cleaned, key_person)
    except IntegrityError as exc:
        raise UsageError(exc.message.replace("breaks the profile schema (profile): ", "is not valid: "),
                         "see schemas/profile.schema.json") from None
    return cleaned


__all__ = ["PROFILE_FIELDS", "check_leaving", "set_profile", "update_profile", "profile_for_editing", "check_profile_document",
           "parse_assignment"]
