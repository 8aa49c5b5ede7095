"""``confide verify``: history judged commit by commit, from a trust anchor, by the rules of the policy.

verify walks the commits (every one, or those a clone has not verified yet)
parents first and judges each against the vault as it stood *before* it: the
holders, their roles and signing keys in its parent (``model.policy`` is
the only place the rules are written). Signing keys come only from verified
history: the first commit is pinned by the vault's anchor (its id and its
signer's fingerprint), and every later key was declared in a commit judged by
the keys before it. A file equal to one parent's version is still judged:
merges are recomputed (``services.merge``) and every file compared.

A commit with a finding *taints* every commit built on it: nothing after it is
trusted (commands refuse, exit 9) until a manager's signed repudiation restores
the last verified state (``confide repudiate``); verify then reports those
findings as repudiated, not open.

Cost: one ``git rev-list``, one ``git diff-tree --stdin`` and one streaming
``git cat-file --batch`` for the walk; signatures are checked in-process; a
record version is parsed once, and an appended entry by parsing only the
appended bytes, so the cost per commit stays flat as history grows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vault_cli.adapters import gitlog, signing
from vault_cli.adapters.gitdiff import DiffTree
from vault_cli.adapters.gitlog import CommitInfo
from vault_cli.adapters.timeutil import Clock
from vault_cli.errors import ConfideError, ExternalError, UsageError
from vault_cli.formats import envelope, signers
from vault_cli.formats.policyfiles import holders_from_bytes, settings_from_bytes
from vault_cli.model import policy
from vault_cli.model.holders import HOLDERS_FILE, Holders
from vault_cli.model.settings import SETTINGS_FILE, Settings
from vault_cli.services.names_cache import NamesCache, cache_path
from vault_cli.services.verify_merges import MergeChecks
from vault_cli.services.verify_names import NameChecks
from vault_cli.services.verify_policy import POLICY_FILES, SETTINGS_FILES, PolicyChecks
from vault_cli.services.verify_records import Ctx, RecordChecks
from vault_cli.services.verify_versions import Finding, Reader, RecordVersion, make_reader, parse_record, parse_record_incremental

STREAM_FROM = 64  # objects: more than this, a walk reads them through a gitlog.StreamCat
TOP_FILES = POLICY_FILES | SETTINGS_FILES | {signers.ALLOWED_SIGNERS_FILE, "records/.gitkeep"}


@dataclass
class Anchor:
    """A vault's identity: its first commit, and the fingerprint of the key that signed it
    (or, for a vault whose early history is unsigned, the key of the manager who adopted signing)."""

    root: str
    fingerprint: Optional[str] = None

    def __str__(self) -> str:
        return self.root + (f"@{self.fingerprint}" if self.fingerprint else "")

    @classmethod
    def parse(cls, text: str) -> Anchor:
        t = (text or "").strip()
        root, _, fp = t.partition("@")
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", root) or (fp and not re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", fp)):
            raise UsageError(
                "the trust anchor is not a vault identity",
                "it looks like 3f9a...c1@SHA256:AbCd... (the first commit's id and the founding key's fingerprint), "
                "as 'confide init' and 'confide trust' print it",
            )
        return cls(root, fp or None)


@dataclass
class VerifyResult:
    commits: int
    findings: list
    content_checked: bool
    reader: Optional[str]
    head: Optional[str]
    notes: list = field(default_factory=list)
    repudiated: list = field(default_factory=list)  # findings a valid repudiation answered: (finding, by commit)
    tainted: int = 0  # commits built on a commit with findings
    last_clean: Optional[str] = None  # the newest commit on the walked line that verified clean
    anchor: Optional[str] = None
    repudiated_commits: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        return {
            "ok": self.ok, "commits": self.commits, "head": self.head, "anchor": self.anchor,
            "findings": [f.to_dict() for f in self.findings],
            "repudiated": [dict(f.to_dict(), repudiated_by=by) for f, by in self.repudiated],
            "tainted": self.tainted, "last_verified": self.last_clean,
            "content_checked": self.content_checked, "reader": self.reader, "notes": self.notes,
        }


class Verifier(RecordChecks, PolicyChecks, MergeChecks, NameChecks):
    def __init__(self, root: Path, reader: Reader, *, clock: Clock, anchor: Optional[Anchor] = None,
                 repudiated: tuple = (), names_cache: Optional[NamesCache] = None,
                 cat: Optional[gitlog.CatFile] = None) -> None:
        self.root = root
        self.reader = reader
        self.names_cache = names_cache
        self.anchor = anchor
        # one 'git cat-file --batch' for every object, tree and blob id the walk asks for (the caller's,
        # when it has one open: the check before a command then starts no process of its own for it)
        self._own_cat = cat is None
        self.cat = cat if cat is not None else gitlog.CatFile(root)
        self.findings: list[Finding] = []
        self.names: dict = {}  # child's name -> record id (from profiles the reader can open)
        self.messages: list = []
        self.paths: set = set()
        self.known_repudiated = set(repudiated)  # commits behind the walk that were repudiated
        self.tainted: dict = {}  # commit -> the commit with findings it is built on
        self.repudiated: dict = {}  # commit -> the repudiation that answered it
        self.bad: set = set()  # commits with findings of their own
        self.roots: list = []
        self.unsigned = 0
        self.vouched: Optional[tuple] = None  # (attestation commit, holder, commits vouched for)
        self.unsigned_policy_note: Optional[str] = None
        self.anchor_key: Optional[str] = None  # fingerprint of the first signing authority seen
        self._top: dict = {}  # commit -> {top file: blob}
        self._parsed: dict = {}  # blob -> Settings / Holders / None
        self._parse_errors: dict = {}  # blob -> why it did not parse
        self._records: dict = {}  # record id -> ((head blob, entries blob), RecordVersion)
        self._tip_commit: Optional[str] = None
        self._tip_blobs: dict = {}
        self._fetched: dict = {}  # blob -> contents, read ahead for a short walk (``run``)
        # records changed so far by a walk that is one line of single-parent commits from a checkpoint verified
        # before it (``run``; None: not such a walk): the others are before each commit as the checkpoint has them
        self._touched_since_checkpoint: Optional[set] = None
        self._pref: dict = {}
        self._head_profiles: dict = {}  # record -> (path, profile block) at the tip, for names outside --since
        self._tip_heads: dict = {}  # record -> (path, head blob) at the tip
        self.last_clean: Optional[str] = None
        self.expect_root = True
        self._modes: dict = {}
        # no commit is dated after this (policy.COMMIT_DATE_ALLOWANCE says why a day, not CLOCK_ALLOWANCE)
        self.latest = int((clock.now() + policy.COMMIT_DATE_ALLOWANCE).timestamp())

    # -- helpers ---------------------------------------------------------------
    def add(self, commit: str, file: Optional[str], check: str, message: str) -> None:
        self.findings.append(Finding(commit, file, check, message))
        if commit:
            self.bad.add(commit)

    def blob(self, sha: Optional[str]) -> Optional[bytes]:
        if sha is None:
            return None
        got = self._pref.get(sha)
        if got is None:
            got = self._fetched.get(sha)
        return got if got is not None else self.cat.get(sha)

    def _parse(self, blob: Optional[str], fn):
        if blob is None:
            return None
        if blob not in self._parsed:
            try:
                self._parsed[blob] = fn(self.blob(blob) or b"")
            except ConfideError as exc:
                self._parsed[blob] = None
                self._parse_errors[blob] = exc.message
        return self._parsed[blob]

    def parse_error(self, blob: Optional[str], what: str) -> str:
        """Why a policy file did not parse (the parser's own words: file, line, field; never contents)."""
        return self._parse_errors.get(blob or "", f"{what} is not valid (YAML or schema)")

    def settings_of(self, top: dict) -> Optional[Settings]:
        return self._parse(top.get(SETTINGS_FILE), settings_from_bytes)

    def holders_of(self, top: dict) -> Optional[Holders]:
        return self._parse(top.get(HOLDERS_FILE), holders_from_bytes)

    def top(self, commit: str) -> dict:
        if commit not in self._top:
            files = self.cat.files(commit)
            if not files and not self.cat.is_commit(commit):
                raise ExternalError(f"git could not read commit {commit[:12]}", "check the vault with: git status")
            self._top[commit] = {k: v for k, v in files.items() if k in TOP_FILES}
        return self._top[commit]

    def is_tainted(self, commit: str) -> bool:
        return commit in self.tainted or commit in self.bad or commit in self.known_repudiated or (
            commit in self.repudiated)

    # -- records -------------------------------------------------------------
    def record_version(self, rid: str, blobs: tuple, commit: str, base: Optional[RecordVersion] = None, *,
                       at_checkpoint: bool = False) -> Optional[RecordVersion]:
        """``rid``'s version of ``blobs`` (head, entries), parsed once. ``at_checkpoint``: it is the version at the
        verified checkpoint the walk starts from, whose items are parsed only as a check needs them."""
        head_blob, entries_blob = blobs
        if head_blob is None:
            return None
        last = self._records.get(rid)
        if last and last[0] == blobs:
            return last[1]
        path = f"records/{rid}{envelope.HEAD_SUFFIX}"
        head_raw = self.blob(head_blob) or b""
        tail = (self.blob(entries_blob) or b"") if entries_blob is not None else None
        rv = parse_record_incremental(base, head_raw, tail, path, commit) if base is not None and base.error is None else None
        if rv is None and at_checkpoint:
            rv = RecordVersion.at_checkpoint(head_raw, tail, path)
        if rv is None:
            rv = parse_record(head_raw, tail, path, commit)
        self._records[rid] = (blobs, rv)
        return rv

    def record_blobs(self, rid: str, commit: Optional[str], changed: dict) -> tuple:
        out = []
        for part, suffix in (("head", envelope.HEAD_SUFFIX), ("entries", envelope.ENTRIES_SUFFIX)):
            if part in changed:
                out.append(changed[part])
            elif commit is None:
                out.append(None)
            elif commit == self._tip_commit and (rid, part) in self._tip_blobs:
                out.append(self._tip_blobs[(rid, part)])
            else:
                blob = self.cat.oid(f"{commit}:records/{rid}{suffix}")
                if commit == self._tip_commit:
                    self._tip_blobs[(rid, part)] = blob
                out.append(blob)
        return tuple(out)

    def _advance_tip(self, c: CommitInfo, changes: list) -> None:
        first = c.parents[0] if c.parents else None
        if first is None or first != self._tip_commit:
            self._tip_blobs = {}
        for path, _old, new in changes:
            part = envelope.record_of(path)
            if part is not None:
                self._tip_blobs[part] = new
        self._tip_commit = c.sha

    # -- the walk ------------------------------------------------------------
    def run(self, tip: str, exclude: tuple = (), commits: Optional[list] = None, *, checkpoint: bool = False,
            diff: Optional[DiffTree] = None) -> int:
        """Walk the commits from ``tip`` not reachable from ``exclude`` (``commits``: that list, parents
        first, when the caller already has it). ``checkpoint``: ``exclude`` is one commit this clone verified
        (its trust checkpoint), not any commit a user named. ``diff``: ``commits``' diff-tree, already started."""
        if commits is None:
            commits = gitlog.rev_list(self.root, tip, exclude)
        self.expect_root = not exclude  # a walk from a checkpoint never meets a first commit: one it meets is foreign
        if checkpoint and len(exclude) == 1 and all(ps == [prev] for (_sha, ps), prev in
                                     zip(commits, [exclude[0]] + [sha for sha, _ps in commits], strict=False)):
            self._touched_since_checkpoint = set()  # filled with the records changed, as the walk goes
        modes: dict = {}
        diffs = diff.result(modes) if diff is not None else gitlog.diff_tree(self.root, commits, modes)
        self._modes = modes
        # A walk from a checkpoint opens only the records its commits changed: their heads' keys are loaded
        # now; the names of the others come from check_names (and the holder's names cache).
        changed = None
        if exclude:
            changed = {part[0] for changes in diffs.values() for path, _o, _n in changes
                       if (part := envelope.record_of(path)) is not None}
        self._load_head_keys(tip, changed)
        plan = []
        for sha, _parents in commits:
            plan.append(sha)
            plan.extend(new for _path, _old, new in diffs.get(sha, []) if new is not None)
        # a few objects (the check before a command): asked of the open cat-file at once, with the records'
        # versions before each commit; many (a walk over history): streamed by a process of their own
        stream = gitlog.StreamCat(self.root, plan) if len(plan) > STREAM_FROM else None
        if stream is None:
            olds = [old for sha, _ps in commits for path, old, _new in diffs.get(sha, [])
                    if old is not None and envelope.record_of(path) is not None]
            got = self.cat.get_many(plan + olds)
            self._fetched = dict(zip(olds, got[len(plan):], strict=True))
            take = iter(got[:len(plan)]).__next__
        else:
            take = stream.next
        try:
            for sha, _parents in commits:
                raw = take()
                self._pref = {}
                for _path, _old, new in diffs.get(sha, []):
                    if new is not None:
                        self._pref[new] = take()
                info = gitlog.parse_commit(sha, raw or b"")
                self.messages.append((sha, info.message))
                self.judge(info, diffs.get(sha, []))
            self._pref = {}
        finally:
            if stream is not None:
                stream.close()
        if not exclude:
            self.check_anchor()
        self.check_names()
        if self._own_cat:
            self.cat.close()
        return len(commits)

    def judge(self, c: CommitInfo, changes: list) -> None:
        self.check_tree_shape(c)
        if max(c.time, c.committed) > self.latest:
            # the dates are the committer's word; one from the future would let a commit pass as made after
            # a grant ended (or a retention date came) when it was made before
            self.add(c.sha, None, "date", "the commit is dated more than a day in the future: made on a machine "
                     "whose clock is wrong, or dated to pass a check of time")
        if c.action == "vault.repudiate":
            self.check_repudiation(c)
            return
        stem = next((p for p in c.parents if self.is_tainted(p)), None)
        if stem is not None:
            self.tainted[c.sha] = self.tainted.get(stem, stem)
            self._top[c.sha] = self._after_top(c, changes)
            return
        if not c.parents:
            self.check_root(c, changes)
        elif len(c.parents) == 2:
            self.check_merge(c, changes)
        elif len(c.parents) > 2:
            self._top[c.sha] = self._after_top(c, changes)
            self.add(c.sha, None, "merge", "a merge of more than two parents (confide merges two lines at a time)")
        else:
            self.check_commit(c, changes)
        if c.sha not in self.bad:
            self.last_clean = c.sha

    def _after_top(self, c: CommitInfo, changes: list) -> dict:
        first = c.parents[0] if c.parents else None
        after = dict(self.top(first)) if first else {}
        for path, _old, new in changes:
            if path in TOP_FILES:
                if new is None:
                    after.pop(path, None)
                else:
                    after[path] = new
        return after

    def _load_head_keys(self, tip: str, only: Optional[set] = None) -> None:
        """The tip's heads (``only``: of these records) for the keys granted later and the profiles."""
        if self.reader.name is None:
            return
        for path, blob in self.cat.files(tip, "records").items():
            if path.endswith(envelope.ENTRIES_SUFFIX):
                continue  # not a head (record_of's answer, without its pattern match for 1,000 entries files)
            part = envelope.record_of(path)
            if part is None or part[1] != "head":
                continue
            self._tip_heads[part[0]] = (path, blob)
            if only is None or part[0] in only:
                self._load_head(part[0], path, blob)

    # -- one ordinary commit --------------------------------------------------------
    def check_commit(self, c: CommitInfo, changes: list, *, before_top: Optional[dict] = None) -> None:
        self._advance_tip(c, changes)
        first = c.parents[0] if c.parents else None
        before = before_top if before_top is not None else (dict(self.top(first)) if first else {})
        after = self._after_top(c, changes)
        self._top[c.sha] = after
        settings, holders = self.settings_of(before), self.holders_of(before)
        if settings is None or holders is None:
            self.add(c.sha, SETTINGS_FILE, "schema", "there is no valid confide.yaml and holders.yaml before this commit, "
                     "so who made it cannot be judged")
            return
        actor = self.check_signature(c, holders, settings)
        ctx = Ctx(c, actor, settings, holders, self.settings_of(after), self.holders_of(after))
        self.check_actor_acts(ctx)
        records: dict = {}
        for path, old, new in changes:
            self.paths.add(path)
            part = envelope.record_of(path)
            if part is not None:
                records.setdefault(part[0], {})[part[1]] = (old, new)
            else:
                self.check_change(ctx, path, old, new, before, after)
        if records and not (ctx.may("write") or (ctx.may("manage-holders") and (c.action or "").startswith("holder."))):
            self.add(c.sha, None, "role", f"records were changed by '{ctx.name}', whose role may not write")
        for rid, parts in records.items():
            self.check_record_change(ctx, rid, parts, first)
        self.check_trailers(c, changes)

    def check_actor_acts(self, ctx: Ctx) -> None:
        if ctx.actor is not None and not policy.acts(ctx.settings, ctx.actor):
            self.add(ctx.c.sha, None, "role", f"the commit is by '{ctx.name}', a {ctx.actor.role} key that never acts")

    def check_root(self, c: CommitInfo, changes: list) -> None:
        self.roots.append(c.sha)
        if len(self.roots) > 1 or not self.expect_root:
            self.add(c.sha, None, "root", "a second first commit: this history joins an unrelated one (a forged start?)")
            self._top[c.sha] = self._after_top(c, changes)
            return
        after = self._after_top(c, changes)
        settings, holders = self.settings_of(after), self.holders_of(after)
        if c.action != "vault.init":
            self.add(c.sha, None, "root", f"the first commit is '{c.action}', not the creation of a vault")
        if settings is None or holders is None:
            self._top[c.sha] = after
            self.add(c.sha, SETTINGS_FILE, "schema", "the first commit holds no valid confide.yaml and holders.yaml")
            return
        founders = holders.all
        if len(founders) != 1 or not policy.may(settings, founders[0], "manage-holders") or founders[0].added_by != founders[0].name:
            self.add(c.sha, HOLDERS_FILE, "root", "the first commit must name exactly one holder, its founding manager")
        # the root is judged by its own state: the founder declares themselves
        self.check_commit(c, changes, before_top=after)
        if c.sig.status == "good" and c.sig.key is not None:  # a good signature always names its key
            self.anchor_key = signing.fingerprint(c.sig.key)

    def check_anchor(self) -> None:
        if self.anchor is None or not self.roots:
            return
        root = self.roots[0]
        if root != self.anchor.root:
            self.add(root, None, "anchor", f"this vault's first commit is {root}, not {self.anchor.root} as its trust "
                     "anchor says: it is another vault, or a forged history")
            return
        if self.anchor.fingerprint and self.anchor_key != self.anchor.fingerprint:
            self.add(root, None, "anchor", f"the vault's founding signature is by {self.anchor_key or 'no key'}, "
                     f"not {self.anchor.fingerprint} as its trust anchor says")

    # -- one record ------------------------------------------------------------------
    def check_record_change(self, ctx: Ctx, rid: str, parts: dict, parent: Optional[str]) -> None:
        c = ctx.c
        path = f"records/{rid}{envelope.HEAD_SUFFIX}"
        epath = f"records/{rid}{envelope.ENTRIES_SUFFIX}"
        new_blobs = self.record_blobs(rid, c.sha, {p: n for p, (_o, n) in parts.items()})
        same = {p: new_blobs[i] for i, p in enumerate(("head", "entries")) if p not in parts}
        old_blobs = self.record_blobs(rid, parent, {**same, **{p: o for p, (o, _n) in parts.items()}})
        # on a line from the checkpoint, a record no earlier commit of the walk changed is as the checkpoint has it
        touched = self._touched_since_checkpoint
        at_checkpoint = touched is not None and rid not in touched
        if touched is not None:
            touched.add(rid)
        old_rv = self.record_version(rid, old_blobs, c.sha, at_checkpoint=at_checkpoint) if old_blobs[0] else None
        new_rv = self.record_version(rid, new_blobs, c.sha, base=old_rv)
        if new_rv is None:
            if new_blobs[1] is not None:
                self.add(c.sha, path, "removed", f"{path} is missing while {epath} is there: the record has no head")
            elif not ctx.erasure:
                self.add(c.sha, path, "removed", f"record {rid} was removed, and not by a recorded erasure")
            return
        if new_rv.error is not None:
            self.add(new_rv.error.commit, new_rv.error.file, new_rv.error.check, new_rv.error.message)
            return
        if old_rv is not None and old_rv.error is not None:
            old_rv = None
        self.check_record(ctx, path, old_rv, new_rv)

    # -- the result --------------------------------------------------------------------
    def result(self, n: int, tip: Optional[str]) -> VerifyResult:
        # Built on a commit a repudiation answered (or one repudiated before this walk): its own findings no
        # longer fail the walk, so what is built on it, on a line the repudiation does not lead to, must.
        for sha, stem in self.tainted.items():
            if sha in self.repudiated:
                continue
            if stem in self.repudiated or stem in self.known_repudiated:
                self.add(sha, None, "tainted", f"the commit is built on {stem[:12]}, which a repudiation rejected: "
                         "what it brings is not trusted")
        open_findings = [f for f in self.findings if f.commit not in self.repudiated]
        answered = [(f, self.repudiated[f.commit]) for f in self.findings if f.commit in self.repudiated]
        notes = []
        if self.unsigned_policy_note and self.unsigned and not self.vouched:
            notes.append(f"{self.unsigned_policy_note}: {self.unsigned} commit(s) are unsigned, and who made them is "
                         "taken from their own words")
        if self.vouched:
            notes.append(f"signatures are required from commit {self.vouched[0][:12]} on, where '{self.vouched[1]}' "
                         f"vouched for the {self.vouched[2]} unsigned commit(s) before it")
        live_taint = [s for s in self.tainted if s not in self.repudiated]
        if live_taint:
            notes.append(f"{len(live_taint)} later commit(s) are built on commits with findings and are not trusted either")
        if self.reader.unopened and self.reader.name:
            notes.append(f"{self.reader.unopened} block(s) could not be checked against their commit's author: "
                         f"'{self.reader.name}' holds no key to them")
        if answered:
            notes.append(f"{len(answered)} finding(s) in {len({f.commit for f, _ in answered})} commit(s) were answered by a "
                         "signed repudiation and are not open")
        return VerifyResult(n, open_findings, self.reader.name is not None, self.reader.name, tip, notes, answered,
                            len(live_taint), self.last_clean, str(self.anchor) if self.anchor else None,
                            sorted(self.repudiated))


def verify(root: Path, *, clock: Clock, tip: Optional[str] = None, exclude: tuple = (), identities: Optional[list] = None,
           holders: Optional[Holders] = None, anchor: Optional[Anchor] = None, repudiated: tuple = (),
           names_cache_dir: Optional[Path] = None, cat: Optional[gitlog.CatFile] = None,
           commits: Optional[list] = None, checkpoint: bool = False) -> VerifyResult:
    """Verify the commits reachable from ``tip`` (default HEAD) and not from ``exclude``; no commit may be dated
    more than a day after ``clock``'s now. ``names_cache_dir``: the clone's git folder, where the reader's
    names cache is kept (``services.names_cache``). ``cat``: an open ``git cat-file --batch`` to read through
    (the caller closes it); ``commits``: ``gitlog.rev_list(root, tip, exclude)``, when the caller has it;
    ``checkpoint``: ``exclude`` is a commit this clone verified before (``services.trust``)."""
    if cat is not None and tip is not None and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", tip) and cat.is_commit(tip):
        head = tip  # a commit id the caller has: no 'git rev-parse' to learn what it already says
    else:
        head = gitlog.run(root, "rev-parse", "--verify", "-q", tip or "HEAD", check=False).decode().strip()
        commits = None  # a name, not the commit the caller listed them for
    if not head:
        return VerifyResult(0, [], False, None, None, ["the vault has no commits"])
    # the few commits of a check before a command: git diff-tree starts now, while the names cache is read
    diff = DiffTree(root, commits) if commits is not None and len(commits) <= STREAM_FROM else None
    try:
        reader, note = make_reader(identities, holders)
        cache = None
        if names_cache_dir is not None and reader.name is not None and identities:
            cache = NamesCache(cache_path(names_cache_dir, reader.name), list(identities), reader.name)
        v = Verifier(root, reader, clock=clock, anchor=anchor, repudiated=repudiated, names_cache=cache, cat=cat)
        n = v.run(head, exclude, commits, checkpoint=checkpoint, diff=diff)
    finally:
        if diff is not None:
            diff.close()
    result = v.result(n, head)
    if note and identities is not None:
        result.notes.append(note)
    return result


__all__ = ["verify", "Verifier", "VerifyResult", "Finding", "Anchor", "make_reader"]
