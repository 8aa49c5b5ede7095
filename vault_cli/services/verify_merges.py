"""verify's rules for merge commits and repudiations.

Mixed into ``verify.Verifier``. A merge may only merge: its tree must be what
``merge.merge_states`` makes of its parents and their merge base, file for
file (also a file equal to one parent's version), and its signer may write on
the merged line. A repudiation is a manager's signed commit that restores the
last verified state and names every commit since: valid, it answers their
findings; otherwise it is a finding itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from vault_cli.adapters import gitlog, signing
from vault_cli.adapters.gitlog import CommitInfo
from vault_cli.formats import envelope
from vault_cli.model import policy
from vault_cli.services.verify_versions import VerifierState

if TYPE_CHECKING:  # imported where a merge is judged: the check before a command seldom meets one
    from vault_cli.services.merge import StateReader


class MergeChecks(VerifierState):
    """Provided by ``verify.Verifier``: add, cat, blob, top, settings_of, holders_of, is_tainted, check_signature
    (see ``VerifierState``)."""

    # -- merges ----------------------------------------------------------------------
    def _reader_at(self, commit: Optional[str]) -> StateReader:
        from vault_cli.services.merge import StateReader

        if commit is None:
            return StateReader(lambda path: None)
        at: str = commit

        def read(path: str) -> Optional[bytes]:
            return self.cat.get(f"{at}:{path}")

        return StateReader(read)

    def check_merge(self, c: CommitInfo, changes: list) -> None:
        """A merge may only merge: its tree must be what ``merge.merge_states`` makes of its parents."""
        from vault_cli.services.merge import Conflict, merge_commits

        p1, p2 = c.parents
        self._tip_blobs, self._tip_commit = {}, None
        bases = gitlog.merge_bases(self.root, p1, p2)
        if not bases:
            self.add(c.sha, None, "merge", "the merge joins two lines with no common history")
            self._top[c.sha] = self._after_top(c, changes)
            return
        changed = {(b, side): [p for p, _o, _n in gitlog.diff_paths(self.root, b, side)] for b in bases for side in (p1, p2)}
        paths = {path for side in changed.values() for path in side}
        try:
            expected = merge_commits(bases, p1, p2, self._reader_at, lambda b, side: changed[(b, side)],
                                     lambda b, side: gitlog.holders_acting(self.root, b, side))
        except Conflict as exc:
            expected = None
            self.add(c.sha, exc.path or None, "merge", f"the two sides conflict ({exc.message}); a merge commit may "
                     "only merge, so it cannot settle that by choosing")
        actual_changed = {path for path, _o, _n in changes}  # against the first parent
        if expected is not None:
            for path in sorted(paths | actual_changed):
                want = expected.get(path, self.cat.get(f"{p1}:{path}"))
                got = self.cat.get(f"{c.sha}:{path}")
                if want != got:
                    self.add(c.sha, path, "merge", f"{path} is not what merging the two sides gives: the merge "
                             "commit changed it (a merge may only merge)")
        for path in actual_changed:
            self.paths.add(path)
        after = self._after_top(c, changes)
        self._top[c.sha] = after
        settings, holders = self.settings_of(after), self.holders_of(after)
        if settings is None or holders is None:
            return
        actor = self.check_signature(c, holders, settings)
        if actor is not None and not policy.may(settings, actor, "write"):
            self.add(c.sha, None, "role", f"the merge is by '{actor.name}', who may not write to the vault on the merged line")
        if c.action != "vault.merge":
            self.add(c.sha, None, "trailer", f"a merge commit that says it is '{c.action}'")
        for path in paths:
            part = envelope.record_of(path)
            if part is not None and part[1] == "head" and expected is not None and expected.get(path) is not None:
                self._records.pop(part[0], None)

    # -- repudiation -------------------------------------------------------------------
    def _still_valid(self, c: CommitInfo, restores: str) -> list:
        """The signer must still be a manager with that key in the newest state behind the repudiation that
        verified: a key history removed or rotated away since ``restores`` cannot restore its own past."""
        if c.sig.status != "good":
            return []  # unsigned: judged by the signing policy of the state it restores
        line = gitlog.run(self.root, "rev-list", "--first-parent", c.parents[0], f"^{restores}").decode().split()
        clean = next((sha for sha in line if not self.is_tainted(sha)), restores)
        top = self.top(clean)
        settings, holders = self.settings_of(top), self.holders_of(top)
        if settings is None or holders is None:
            return []
        blob = signing.parse_public_key(c.sig.key)
        now = next((h for h in holders.all if h.signing_key and signing.parse_public_key(h.signing_key) == blob), None)
        if now is None or not now.active or now.name != c.claimed or not policy.may(settings, now, "repudiate"):
            return [f"its signing key is not that of a manager who may repudiate in the newest verified state "
                    f"before it ({clean[:12]}): a key removed or replaced since cannot restore the past"]
        return []

    def check_repudiation(self, c: CommitInfo) -> None:
        """A manager's signed commit that puts the vault back to its last verified state ``V`` and names
        every commit since: their findings are answered, and history goes on from here."""
        restores = c.trailers.get("Confide-Restores", "")
        listed = set(c.trailer_list("Confide-Repudiates"))
        problems = []
        if len(c.parents) != 1:
            problems.append("a repudiation has exactly one parent")
        valid_v = bool(re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", restores))
        if not valid_v or self.is_tainted(restores):
            problems.append(f"the state it restores ({restores[:12] or 'none named'}) is not a verified commit")
        elif c.parents and not gitlog.is_ancestor(self.root, restores, c.parents[0]):
            problems.append("the state it restores is not in its history")
        top_v = self.top(restores) if valid_v and not problems else {}
        settings, holders = self.settings_of(top_v), self.holders_of(top_v)
        if not problems:
            since = {sha for sha, _ in gitlog.rev_list(self.root, c.parents[0], (restores,))}
            if since != listed:
                problems.append(f"it names {len(listed)} commit(s), but {len(since)} were made after the state it restores")
            v_tree = gitlog.run(self.root, "rev-parse", f"{restores}^{{tree}}").decode().strip()
            if v_tree != c.tree:
                problems.append("its files are not those of the state it restores")
        actor = None
        if settings is not None and holders is not None:
            actor = self.check_signature(c, holders, settings)
            if not policy.may(settings, actor, "repudiate"):
                problems.append(f"'{c.claimed}' may not repudiate commits (by the verified state it restores)")
            elif not problems:
                problems.extend(self._still_valid(c, restores))
        else:
            problems.append("the state it restores holds no valid policy files")
        self._top[c.sha] = dict(top_v) if top_v else self._after_top(c, [])
        self._tip_blobs, self._tip_commit, self._records = {}, None, {}
        if problems or c.sha in self.bad:
            for p in problems:
                self.add(c.sha, None, "repudiation", p)
            stem = next((p for p in c.parents if self.is_tainted(p)), None)
            if stem is not None:
                self.tainted[c.sha] = self.tainted.get(stem, stem)
            return
        for sha in listed:
            self.repudiated[sha] = c.sha
            self.tainted.pop(sha, None)
        self.last_clean = c.sha
