"""Marking an entry: recording afterwards that parents were told, their view, or a change of level.

An entry is never edited: a marking is a block of its own, sealed with the entry's key, and a
change of level re-seals the entry and its markings under the new level's key, in one commit.
"""

from __future__ import annotations

from typing import Optional

from vault_cli.errors import Denied, NotFound, UsageError
from vault_cli.formats import envelope, schema
from vault_cli.model import ids, policy, retention, trail
from vault_cli.services.records import (
    INFORMED,
    NOT_INFORMED,
    PARENT_VIEWS,
    check_dates,
    check_informed,
    current_state,
    open_entry,
)
from vault_cli.services.vault import Session
from vault_cli.services.writing import WriteResult, check_input, warnings_for_vault, writing


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
    parents_informed, parents_not_informed = check_informed(parents_informed, parents_not_informed)
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
        if parents_informed is not None:
            check_dates(state.at, parents_informed, session.clock.now(), only=policy.INFORMED)
        changes: dict[str, dict] = {}
        if level is not None:
            if level == state.level:
                raise UsageError(f"entry {entry_id} is already at level {level}", "leave {0} out, or give another level",
                                 fields=("level",))
            pinned = retention.moved_down(state.category, state.level, level, settings.levels)
            if pinned:
                raise UsageError(pinned, "leave {0} out: the decision stays where it is", fields=("level",))
            if settings.levels.index(level) < settings.levels.index(state.level):
                # Moving an entry down shares it more widely: a decision the rules table reserves
                # ('lowers' in confide.yaml; a safeguarding entry only by a manager or the DSL).
                policy.require_level(settings, actor, "lowers", state.level,
                                     f"move an entry down from the {state.level} level")
            changes["level"] = {"from": state.level, "to": level}
        for name, value in (("parent_view", parent_view), ("parents_informed", parents_informed),
                            ("parents_not_informed", parents_not_informed)):
            if value is not None and value != getattr(state, name):
                changes[name] = {"from": getattr(state, name), "to": value}
        if parents_informed is not None and state.parents_not_informed is not None:
            changes["parents_not_informed"] = {"from": state.parents_not_informed, "to": None}
        if parents_not_informed is not None and state.parents_informed is not None:
            changes["parents_informed"] = {"from": state.parents_informed, "to": None}
        if not changes:
            raise UsageError(f"entry {entry_id} already says that", "nothing was changed")
        new_level = level or state.level
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
            new_item["key"] = key.id
            new_item["data"] = envelope.seal(payload, key.recipient, "entry", env.source)
            marks = []
            for old_item, mp in zip(sorted(item.get("marks", []) or [], key=lambda m: m["id"]),
                                    sorted(opened["marks"], key=lambda m: m["block"]), strict=True):  # open_entry opened every marking (block == id)
                marks.append({"id": old_item["id"], "key": key.id,
                              "data": envelope.seal(dict(mp, level=new_level), key.recipient, "mark", env.source)})
        marks.append({"id": mark_id, "key": key.id, "data": envelope.seal(mark_payload, key.recipient, "mark", env.source)})
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


__all__ = ["mark_entry"]
