"""verify's rules for a record's two files: what a commit may change in a head and in the entries.

The same parsers read a record here as for every command (``envelope.load_head``
and ``envelope.load_entries``, on the one YAML reader), and the rules are
``model.policy``'s, asked with the state before the commit (who acted, and
what their role allowed) and after it (who may now read). Keyless checks cover
the whole head; with a holder's identity, the blocks that holder can open are
checked too (their binding, their author against the commit's signer).

Cost: a record version is parsed once; an entry appended to a record is checked
by parsing only the appended bytes, so the cost per commit stays flat as
history grows.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.adapters.gitlog import CommitInfo
from vault_cli.errors import IntegrityError
from vault_cli.formats import envelope
from vault_cli.model import policy, retention, trail
from vault_cli.model.holders import Holder, Holders
from vault_cli.model.levels import LevelKey, grants_from_json, revocations_from_json
from vault_cli.model.settings import PROCEDURE_CATEGORIES, Settings
from vault_cli.services.verify_versions import RecordVersion, VerifierState

ERASE_ACTIONS = {"entry.erase", "record.erase", "history.purge", "record.purge"}
# Entry categories that only a role with 'requests' writes (consent is recorded by any writer).
REQUEST_STEPS = {"request", "request-withhold", "request-extend", "request-export", "request-close", "request-decision",
                 "request-override"}


# ---------------------------------------------------------------------------
# The context of one commit


class Ctx:
    """A commit being judged: who acted (by the state before it) and the state after it."""

    def __init__(self, c, actor: Optional[Holder], settings: Settings, holders: Holders,
                 after_settings: Optional[Settings], after_holders: Optional[Holders]) -> None:
        self.c = c
        self.actor = actor
        self.settings = settings
        self.holders = holders
        self.after_settings = after_settings or settings
        self.after_holders = after_holders or holders
        self.name = actor.name if actor else c.claimed
        self.action = c.action
        self.today = c.when.date()
        self.erasure = bool(self.action in ERASE_ACTIONS and self.may("manage-holders"))

    def may(self, permission: str) -> bool:
        return policy.may(self.settings, self.actor, permission)

    def may_level(self, rule: str, level: str) -> bool:
        return policy.may_level(self.settings, self.actor, rule, level)

    def readers_after(self, head: dict, level: str, today=None) -> set[str]:
        return policy.readers_for(self.after_settings, self.after_holders, head, level, today)


def _minus_level(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "level"}


# the actions whose commit changes one record, named by its Confide-Record trailer
SINGLE_RECORD_ACTIONS = {"entry.add", "entry.mark", "record.create", "profile.update", trail.RESOLVE}
IMPORT_ACTION = "record.import"  # many new records, with their entries (confide import)


class RecordChecks(VerifierState):
    """The record rules, mixed into ``verify.Verifier`` (which provides ``add``, ``reader``, ``names``
    and ``_records``: see ``VerifierState``)."""

    def check_trailers(self, c: CommitInfo, changes: list) -> None:
        """The audit trail must say what the commit did: its record and entry trailers match its changes."""
        if c.action == IMPORT_ACTION:
            self.check_import(c, changes)
        if c.action not in SINGLE_RECORD_ACTIONS:
            return
        rec = c.trailers.get("Confide-Record")
        touched = sorted(p for p, _o, _n in changes if p.startswith("records/") and p != "records/.gitkeep")
        own = {f"records/{rec}{envelope.HEAD_SUFFIX}", f"records/{rec}{envelope.ENTRIES_SUFFIX}"}
        if not touched or not set(touched) <= own:
            self.add(c.sha, None, "trailer", f"the commit says '{c.action}' on record {rec} but changes "
                     + (", ".join(touched[:3]) if touched else "no record"))
            return
        eid = c.trailers.get("Confide-Entry")
        if c.action in ("entry.add", "entry.mark"):
            last = self._records.get(rec) if rec is not None else None
            if last is None or last[1].head is None or eid not in last[1].entries():
                self.add(c.sha, touched[0], "trailer", f"the commit says '{c.action}' of entry {eid}, which the record does not hold")

    def check_import(self, c: CommitInfo, changes: list) -> None:
        """An import only brings in new records: it changes no record that was there, and says how many."""
        made = set()
        for path, old, _new in changes:
            part = envelope.record_of(path)
            if part is None:
                continue
            if old is not None:
                self.add(c.sha, path, "trailer", f"the commit says '{IMPORT_ACTION}' but changes a record that was "
                         "already there")
            made.add(part[0])
        if c.trailers.get("Confide-Records") != str(len(made)):
            self.add(c.sha, None, "trailer", f"the commit says '{IMPORT_ACTION}' of "
                     f"{c.trailers.get('Confide-Records') or 'no number of'} records but brings in {len(made)}")

    def check_record(self, ctx: Ctx, path: str, old: Optional[RecordVersion], new: RecordVersion) -> None:
        c = ctx.c
        assert new.head is not None  # only a version that parsed is judged (verify.check_record_change)
        rid = new.head["record"]
        if new.head_raw != (old.head_raw if old else None):
            self.check_head(ctx, path, rid, old, new)
        path = envelope.entries_source(path)  # entry findings name the entries file
        old_entries = old.entries() if old else {}
        new_entries = new.entries()
        same = new.same_items(old)  # byte-identical items are equal parsed: not parsed to be compared
        for eid in old_entries:
            if eid in same:
                continue
            item = old_entries[eid]
            now = new_entries.get(eid)
            if now is None:
                if not ctx.erasure:
                    self.add(c.sha, path, "entry-removed", f"entry {eid} was removed, and not by a recorded erasure")
                continue
            if now is item or now == item:
                continue
            self.check_entry_change(ctx, path, rid, old, new, item, now)
        for eid in new_entries:
            if eid not in old_entries:
                item = new_entries[eid]
                self.check_new_block(ctx, path, rid, new, item, "entry")
                for m in item.get("marks") or []:
                    self.check_new_block(ctx, path, rid, new, m, "mark", entry=eid)

    # -- entries --------------------------------------------------------------
    def check_entry_change(self, ctx: Ctx, path, rid, old, new, item, now) -> None:
        c = ctx.c
        eid = item["id"]
        if not (ctx.action == "entry.mark" and c.trailers.get("Confide-Entry") == eid):
            self.add(c.sha, path, "entry-changed", f"entry {eid} was changed after it was written, and not by a marking of it")
            return
        old_marks = {m["id"]: m for m in item.get("marks") or []}
        new_marks = {m["id"]: m for m in now.get("marks") or []}
        missing = set(old_marks) - set(new_marks)
        if missing:
            self.add(c.sha, path, "entry-changed", f"marking {sorted(missing)[0]} of entry {eid} was removed")
        added = [m for mid, m in new_marks.items() if mid not in old_marks]
        if not added:
            self.add(c.sha, path, "entry-changed", f"entry {eid} was changed by a 'mark' commit that adds no marking")
        moved_to = None
        if (now["key"], now["data"]) != (item["key"], item["data"]):
            ok_old, ok_new = old.key(item["key"]), new.key(now["key"])
            if ok_new is None or ok_old is None or ok_old.level == ok_new.level:
                self.add(c.sha, path, "entry-changed", f"entry {eid} was re-encrypted without moving to another level")
            else:
                moved_to = ok_new.level
                levels = ctx.settings.levels
                if levels.index(moved_to) < levels.index(ok_old.level) and not ctx.may_level("lowers", ok_old.level):
                    self.add(c.sha, path, "lower",
                             f"entry {eid} was moved down from {ok_old.level} to {moved_to} by '{ctx.name}', "
                             f"whose role may not lower the {ok_old.level} level")
                before = self.open_quietly(rid, old, item, "entry", path)
                pinned = retention.moved_down((before or {}).get("category"), ok_old.level, moved_to, levels)
                if pinned:
                    self.add(c.sha, path, "retention", f"entry {eid} was moved down to {moved_to}: {pinned}")
                after = self.check_new_block(ctx, path, rid, new, now, "entry", rewrap=True)
                if before is not None and after is not None and _minus_level(before) != _minus_level(after):
                    self.add(c.sha, path, "entry-changed", f"entry {eid} was altered while being moved to another level")
                for mid, m in new_marks.items():
                    if mid in old_marks:
                        b0 = self.open_quietly(rid, old, old_marks[mid], "mark", path)
                        b1 = self.check_new_block(ctx, path, rid, new, m, "mark", entry=eid, rewrap=True)
                        if b0 is not None and b1 is not None and _minus_level(b0) != _minus_level(b1):
                            self.add(c.sha, path, "entry-changed", f"marking {mid} of entry {eid} was altered while being moved")
        else:
            for mid, m in old_marks.items():
                if mid in new_marks and new_marks[mid] != m:
                    self.add(c.sha, path, "entry-changed", f"marking {mid} of entry {eid} was changed after it was written")
        entry_at = None
        for m in added:
            payload = self.check_new_block(ctx, path, rid, new, m, "mark", entry=eid)
            informed = ((payload or {}).get("changes") or {}).get("parents_informed") or {}
            if informed.get("to"):
                if entry_at is None:
                    entry_at = (self.open_quietly(rid, new, now, "entry", path) or {}).get("at")
                self.check_dates(ctx, path, f"marking {m['id']} of entry {eid}", entry_at, informed["to"],
                                 only=policy.INFORMED)
            if moved_to and payload is not None and (payload.get("changes", {}).get("level") or {}).get("to") != moved_to:
                self.add(c.sha, path, "entry-changed", f"entry {eid} moved to {moved_to} without a marking that says so")

    def open_quietly(self, rid, rv: RecordVersion, item, kind: str, path: str) -> Optional[dict]:
        """A block's payload if the reader can open it and it is sound; None otherwise (reported elsewhere)."""
        key = rv.key(item["key"])
        if key is None:
            return None
        ident = self.reader.level_identity(rid, key, path)
        if ident is None:
            return None
        try:
            return envelope.open_block(item["data"], ident, schema_name=kind, record=rid, block=item["id"],
                                       level=key.level, source=path)
        except (crypto.NotForThisKey, IntegrityError):
            return None

    def check_new_block(self, ctx: Ctx, path, rid, rv: RecordVersion, item, kind: str, entry: Optional[str] = None,
                        rewrap: bool = False) -> Optional[dict]:
        key = rv.key(item["key"])
        if key is None:
            self.add(ctx.c.sha, path, "binding", f"{kind} {item['id']} refers to level key {item['key']}, which the record does not hold")
            return None
        ident = self.reader.level_identity(rid, key, path)
        if ident is None:
            self.reader.unopened += 1
            return None
        try:
            payload = envelope.open_block(item["data"], ident, schema_name=kind, record=rid, block=item["id"],
                                          level=key.level, source=path)
        except crypto.NotForThisKey:
            self.add(ctx.c.sha, path, "binding", f"{kind} {item['id']} is not encrypted to the level key it names")
            return None
        except IntegrityError as exc:
            self.add(ctx.c.sha, path, "schema" if " schema" in exc.message else "binding", exc.message)
            return None
        if kind == "mark" and payload.get("entry") != entry:
            self.add(ctx.c.sha, path, "binding", f"marking {item['id']} belongs to another entry than {entry}")
        if not rewrap and ctx.actor is not None and payload.get("author") != ctx.name:
            self.add(ctx.c.sha, path, "author",
                     f"{kind} {item['id']} says it was written by '{payload.get('author')}' but the commit that added it is by '{ctx.name}'")
        if (kind == "entry" and not rewrap and payload.get("category") in REQUEST_STEPS and ctx.actor is not None
                and not ctx.may("requests")):
            self.add(ctx.c.sha, path, "role",
                     f"entry {item['id']} is a step of a parents' request ({payload.get('category')}), written by "
                     f"'{ctx.name}', whose role may not handle requests")
        if kind == "entry" and not rewrap and ctx.action == IMPORT_ACTION and payload.get("category") in PROCEDURE_CATEGORIES:
            self.add(ctx.c.sha, path, "trailer", f"the commit says '{IMPORT_ACTION}' but brings in entry {item['id']}, "
                     "a procedure's entry (a request step or a sharing decision), which an import never writes")
        if kind == "entry" and not rewrap and payload.get("category") in PROCEDURE_CATEGORIES and not payload.get("details"):
            self.add(ctx.c.sha, path, "entry-changed", f"entry {item['id']} claims a procedure's category without its details")
        if kind == "entry" and not rewrap:
            self._check_disclosure(ctx, path, rid, rv, payload)
            self.check_dates(ctx, path, f"entry {item['id']}", payload.get("at"), payload.get("parents_informed"))
        return payload

    def _check_disclosure(self, ctx: Ctx, path, rid, rv: RecordVersion, payload: dict) -> None:
        category = payload.get("category")
        # a request's step (model.disclosure.REQUEST_CATEGORIES: the procedure's categories named request-*);
        # verify_disclosure and model.disclosure are imported only for one (an everyday entry is none)
        if isinstance(category, str) and category.startswith("request") and category in PROCEDURE_CATEGORIES:
            from vault_cli.services import verify_disclosure

            verify_disclosure.check_step(self, ctx, path, rid, rv, payload)
        elif category == "retention-review":  # a retention review's decision (verify_retention, imported for one)
            from vault_cli.services import verify_retention

            verify_retention.check_review(self, ctx, path, rid, rv, payload)
        if payload.get("category") == "information-sharing":
            self.check_sharing(ctx, path, payload)

    def check_sharing(self, ctx: Ctx, path, payload: dict) -> None:
        """A sharing decision holds what 'share' requires (``policy.sharing_problems``), judged at its commit's date."""
        c = ctx.c
        made = dt.datetime.fromtimestamp(max(c.time, c.committed), c.when.tzinfo)
        for fieldname, problem in policy.sharing_problems(ctx.settings.levels, str(payload.get("level")),
                                                          payload.get("details") or {},
                                                          list(payload.get("third_parties") or []), made):
            self.add(c.sha, path, "sharing", f"entry {payload.get('block')}, a sharing decision: "
                     + problem.replace("{0}", f"its {fieldname}"))

    def check_dates(self, ctx: Ctx, path, what: str, at, parents_informed, only: Optional[str] = None) -> None:
        """The dates 'add', 'mark' and 'import' refuse (``policy.date_problems``), judged at the commit's time."""
        c = ctx.c
        made = dt.datetime.fromtimestamp(max(c.time, c.committed), c.when.tzinfo)
        for fieldname, problem in policy.date_problems(at, parents_informed, made):
            if only is None or fieldname == only:
                words = "the time it happened" if fieldname == policy.WHEN else "the date parents were informed"
                self.add(c.sha, path, "date", f"{what}: " + problem.replace("{0}", words)
                         + " (by the commit's date)")

    # -- the head ---------------------------------------------------------------
    def check_head(self, ctx: Ctx, path: str, rid: str, old: Optional[RecordVersion], new: RecordVersion) -> None:
        c = ctx.c
        oh = old.head if old else {}
        nh = new.head
        assert oh is not None and nh is not None  # only versions that parsed are judged (verify.check_record_change)
        sha = c.sha
        removed_holders = {h.name for h in ctx.after_holders.all if not h.active}

        # key person
        kp_old, kp_new = oh.get("key_person"), nh.get("key_person")
        if kp_old != kp_new:
            cleared_for_leaver = kp_new is None and kp_old in removed_holders and ctx.action == "holder.remove"
            if not cleared_for_leaver and old is not None:
                bad = policy.may_hand_over(ctx.settings, ctx.actor)
                if bad:
                    self.add(sha, path, "role", f"the key person was changed by '{ctx.name}', who cannot grant the {bad[0]} level")
            if kp_new is not None and not policy.may_be_key_person(ctx.after_settings, ctx.after_holders.find(kp_new)):
                self.add(sha, path, "role", f"'{kp_new}' was made the key person, whose role may not be one")

        # grants
        og = dict.fromkeys(grants_from_json(oh.get("grants")))
        ng = dict.fromkeys(grants_from_json(nh.get("grants")))
        for g in ng:
            if g in og:
                continue
            if not ctx.may_level("grants", g.level):
                self.add(sha, path, "grant", f"a grant of {g.level} to '{g.holder}' was added by '{ctx.name}', who cannot grant that level")
            elif g.holder == ctx.name:
                self.add(sha, path, "self-grant", f"'{ctx.name}' granted themselves the {g.level} level")
            if g.granted_by != ctx.name and ctx.actor is not None:
                self.add(sha, path, "grant", f"a grant says it was given by '{g.granted_by}' but the commit is by '{ctx.name}'")
            target = ctx.after_holders.find(g.holder)
            needs = policy.grant_needs(ctx.after_settings, target) if target else ()
            role = target.role if target else None  # 'needs' is empty without a target holder
            if "until" in needs and not g.until:
                self.add(sha, path, "grant", f"a grant to '{g.holder}' ({role}) has no end date, which that role's grants need")
            if "parent-permission" in needs and not g.parent_permission:
                self.add(sha, path, "grant", f"a grant to '{g.holder}' ({role}) has no parent's permission, which that role's grants need")
            if "parent-permission" in needs and c.trailers.get("Confide-Records", "1") != "1":
                self.add(sha, path, "grant", f"a grant to '{g.holder}' ({role}) was given for several records at once; "
                         "that role's grants are given one child at a time")
        for g in og:
            if g in ng:
                continue
            expired = bool(g.until) and g.until < ctx.today.isoformat()
            leaver = g.holder in removed_holders and ctx.action == "holder.remove"
            if not ctx.may_level("grants", g.level) and not (ctx.action == "access.expire" and expired) and not leaver:
                self.add(sha, path, "grant", f"a grant of {g.level} to '{g.holder}' was removed by '{ctx.name}', who cannot change that level")

        # revocations of role or key-person access
        orv, nrv = revocations_from_json(oh.get("revoked")), revocations_from_json(nh.get("revoked"))
        for r in nrv:
            if r not in orv and not ctx.may_level("grants", r.level):
                self.add(sha, path, "grant", f"a revocation of {r.level} was recorded by '{ctx.name}', who cannot change that level")
        for r in orv:
            if r not in nrv and not ctx.may_level("grants", r.level) and not (
                    r.holder in removed_holders and ctx.action == "holder.remove"):
                self.add(sha, path, "grant", f"a revocation of {r.level} for '{r.holder}' was lifted by '{ctx.name}', who cannot change that level")

        # level keys and their wrapped copies
        old_keys = {lk.id: lk for lk in (old.level_keys() if old is not None else ())}
        new_keys = new.level_keys()
        for kid, lk in old_keys.items():
            if new_keys.find(kid) is None and not ctx.erasure:
                self.add(sha, path, "level-key", f"level key {kid} ({lk.level}) was removed")
        rekey_old, rekey_new = set(oh.get("rekey") or []), set(nh.get("rekey") or [])
        readers_cache: dict = {}

        def readers(level: str, today=None) -> set:
            key = (level, today)
            if key not in readers_cache:
                readers_cache[key] = ctx.readers_after(nh, level, today)
            return readers_cache[key]

        new_generation: set = set()
        rotated = self._rotated(ctx)
        for lk in new_keys:
            level = lk.level
            ok = old_keys.get(lk.id)
            if ok is None:
                gens = [x.generation for x in old_keys.values() if x.level == level]
                if gens and lk.generation <= max(gens):
                    self.add(sha, path, "level-key", f"a new {level} key {lk.id} reuses generation {lk.generation}")
                new_generation.add(level)
                # a record's maker who does not read a level makes its first key and marks it for re-keying;
                # a later generation is made only by a holder who reads the level
                if ctx.name not in readers(level) and not (old is None and level in rekey_new):
                    self.add(sha, path, "level-key",
                             f"a new generation {lk.generation} of the {level} key was made by '{ctx.name}', who does not "
                             "read that level: whoever makes a key knows its secret")
                for name in sorted(readers(level, ctx.today) - set(lk.holders)):
                    self.add(sha, path, "reader", f"the new generation {lk.generation} of the {level} key {lk.id} "
                             f"leaves out '{name}', who reads that level: what is written under it is kept from them")
                added, removed, changed = set(lk.holders), set(), set()
            else:
                if not ok.same_key(lk):
                    self.add(sha, path, "level-key", f"level key {lk.id} had its public recipient, level or generation replaced")
                added = set(lk.holders) - set(ok.holders)
                removed = set(ok.holders) - set(lk.holders)
                changed = {n for n in set(lk.holders) & set(ok.holders) if lk.copy_for(n) != ok.copy_for(n)}
            for name in sorted(added - readers(level)):
                check = "self-grant" if name == ctx.name else "reader"
                self.add(sha, path, check, f"'{name}' was given a copy of the {level} key {lk.id}, but does not read "
                         "that level of this record under the policy")
            for name in sorted(removed & readers(level, ctx.today)):
                self.add(sha, path, "reader", f"the copy of the {level} key {lk.id} held by '{name}', who still reads "
                         f"that level, was removed by '{ctx.name}'")
            for name in sorted(changed - rotated):
                self.add(sha, path, "reader", f"the copy of the {level} key {lk.id} held by '{name}' was replaced, "
                         "and not by a key rotation of theirs")
            self._own_copy_opens(ctx, path, rid, lk)
        for level in ctx.settings.levels:
            for lk in (lk for lk in new_keys if lk.level == level):
                if not any((h := ctx.after_holders.find(n)) is not None and h.active for n in lk.holders):
                    self.add(sha, path, "lockout", f"generation {lk.generation} of the {level} key is left with no "
                             "reader who is an active holder: what was written under it is lost")
        for level in sorted(rekey_old - rekey_new):
            if level not in new_generation or ctx.name not in readers(level):
                self.add(sha, path, "level-key", f"the pending re-key of the {level} level was cleared without a new "
                         "generation made by a holder who reads it")
        # profile, and a sync's conflict in it (only a merge keeps versions; only 'confide resolve' chooses)
        taken = self.check_conflict(ctx, path, rid, oh, nh) if (oh.get("conflict") or nh.get("conflict")) else False
        if ctx.action == trail.RESOLVE and not oh.get("conflict"):
            self.add(c.sha, path, "conflict", "the commit says it resolves a conflict, but the record held none")
        if (old is None or oh.get("profile") != nh.get("profile")) and not taken:
            self.check_profile(ctx, path, rid, new, old)

    def check_conflict(self, ctx: Ctx, path: str, rid: str, oh: dict, nh: dict) -> bool:
        """A commit on a record whose head holds a conflict, or gets one. True: the profile is a version taken
        as it was (sealed and checked on its own line), so it is not judged as this commit's writing."""
        from vault_cli.services.merge import profile_versions  # only for a record with a conflict

        sha, before, after = ctx.c.sha, profile_versions(oh), profile_versions(nh)
        if after and after != before:
            self.add(sha, path, "conflict", "a conflict was written into the record by a commit that is not a merge: "
                     "only a sync's merge keeps both versions of a profile")
            return False
        if not before:
            return False
        if after == before and oh.get("profile") == nh.get("profile"):
            return False  # the conflict stands; this commit changed something else (entries, access)
        if ctx.action != trail.RESOLVE:
            self.add(sha, path, "conflict", f"the profile of a record with an unresolved conflict was changed by a "
                     f"'{ctx.action}' commit: only 'confide resolve' chooses between the versions")
            return False
        if after:
            self.add(sha, path, "conflict", "a resolution that leaves the conflict in place")
            return False
        general = ctx.settings.levels[0]
        if ctx.actor is not None and ctx.name not in policy.readers_for(ctx.settings, ctx.holders, oh, general, ctx.today):
            self.add(sha, path, "role", f"the conflict was resolved by '{ctx.name}', who does not read the profile "
                     "(only whoever may change it may choose)")
        how = ctx.c.trailers.get(trail.RESOLUTION)
        if how == "take":
            if nh.get("profile") not in before:
                self.add(sha, path, "conflict", "the resolution says it takes one of the versions, but the profile "
                         "it leaves is none of them (an edit is sealed anew by whoever resolves, with --edit)")
                return False
            return True
        if how != "edit":
            self.add(sha, path, "trailer", f"a resolution must say how it chose ({trail.RESOLUTION}: take or edit)")
        return False

    def _rotated(self, ctx: Ctx) -> set:
        """Holders whose copies this commit may re-wrap: a rotation of theirs, by a holder manager."""
        if ctx.action != "holder.rotate" or not ctx.may("manage-holders"):
            return set()
        name = ctx.c.trailers.get("Confide-Subject")
        before, after = ctx.holders.find(name or ""), ctx.after_holders.find(name or "")
        if before is None or after is None or before.recipient == after.recipient:
            return set()
        return {name}

    def _own_copy_opens(self, ctx: Ctx, path: str, rid: str, k: LevelKey) -> None:
        """The verifier's own copy of a level key must open and match its key."""
        copy = k.copy_for(self.reader.name) if self.reader.name else None
        if copy is None:
            return
        for ident in self.reader.identities:
            try:
                envelope.unwrap_level_key(copy, ident, record=rid, key=k, source=path)
                return
            except crypto.NotForThisKey:
                continue
            except IntegrityError as exc:
                self.add(ctx.c.sha, path, "level-key", exc.message)
                return

    def check_profile(self, ctx: Ctx, path, rid, rv: RecordVersion, old: Optional[RecordVersion] = None) -> None:
        assert rv.head is not None  # called from check_head, on a version that parsed
        block = rv.head["profile"]
        key = rv.key(block["key"])
        if key is None or key.level != ctx.settings.levels[0]:
            self.add(ctx.c.sha, path, "binding", "the profile is not under a general-level key of the record")
            return
        ident = self.reader.level_identity(rid, key, path)
        if ident is None:
            self.reader.unopened += 1
            return
        try:
            payload = envelope.open_block(block["data"], ident, schema_name="profile", record=rid, block="profile",
                                          level=key.level, source=path)
        except crypto.NotForThisKey:
            self.add(ctx.c.sha, path, "binding", "the profile is not encrypted to the level key it names")
            return
        except IntegrityError as exc:
            self.add(ctx.c.sha, path, "schema" if " schema" in exc.message else "binding", exc.message)
            return
        if ctx.actor is not None and payload.get("updated_by") != ctx.name:
            self.add(ctx.c.sha, path, "author", f"the profile says it was updated by '{payload.get('updated_by')}' but the commit is by '{ctx.name}'")
        prof = payload.get("profile") or {}
        if prof.get("leaving_date"):  # its bounds (verify_retention, imported for a leaver's profile)
            from vault_cli.services import verify_retention

            verify_retention.check_leaving(self, ctx, path, rid, old, prof)
        for fieldname in ("name", "known_as"):
            value = prof.get(fieldname)
            if isinstance(value, str) and value.strip():
                self.names[value.strip()] = rid


__all__ = ["Ctx", "RecordChecks", "ERASE_ACTIONS"]
