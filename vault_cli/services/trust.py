"""What this clone trusts: the vault's anchor and the last commit it verified.

Each clone keeps ``.git/confide/trust.json`` (never tracked, so no commit can
change it):

- ``anchor``: the vault's identity, its first commit and the fingerprint of the
  key that signed it (``verify.Anchor``), pinned when the vault was made
  (``confide init``) or first trusted (``confide clone/restore --trust``,
  ``confide trust``);
- ``verified``: the newest commit this clone has verified, and every commit
  behind it is verified too;
- ``repudiated``: commits behind it that a signed repudiation answered (what is
  built on them alone stays untrusted);
- ``remotes``: what this clone last verified of each remote branch; a fetch
  that no longer contains it (history rewritten or cut back) is refused.

Before a command reads or writes, ``ensure_verified`` verifies the commits
since ``verified`` (cost in proportion to the new commits, not the history;
nothing at all when HEAD has not moved) and refuses, exit 9, when they do not
verify. Commands then read the vault from that commit (``gitlog.CommitTree``),
never from the working tree. A commit confide makes itself moves the checkpoint
(``advance``): it was built under the vault's lock from the verified state.

Beside it, ``.git/confide/allowed_signers`` is derived from the verified
holders, and git's ``gpg.ssh.allowedSignersFile`` points at it, so plain
``git log --show-signature`` never trusts a signers file a commit could edit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vault_cli.adapters.timeutil import Clock
from vault_cli.errors import FindingsError, VaultStateError
from vault_cli.formats import signers

STATE_FILE = "trust.json"


def state_dir(git_dir: Path) -> Path:
    return git_dir / "confide"


@dataclass
class TrustState:
    git_dir: Path
    anchor: Optional[str] = None
    verified: Optional[str] = None
    repudiated: list = field(default_factory=list)
    remotes: dict = field(default_factory=dict)
    readers: dict = field(default_factory=dict)  # holder -> newest commit whose blocks they could open were checked

    @classmethod
    def load(cls, git_dir: Path) -> TrustState:
        path = state_dir(git_dir) / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(git_dir)
        except (OSError, ValueError):
            raise VaultStateError(
                f"{path} is damaged, so this clone does not know what it has verified",
                "remove it and pin the vault again with: confide trust ANCHOR (the vault's identity, from a manager)",
            ) from None
        return cls(git_dir, data.get("anchor"), data.get("verified"), list(data.get("repudiated") or []),
                   dict(data.get("remotes") or {}), dict(data.get("readers") or {}))

    def save(self) -> None:
        """Write the state; commits another process recorded as repudiated meanwhile are kept.

        A short lock of its own (never the vault's) serialises the writes, so readers never wait
        for a writer; what any process writes is something it verified, so the file only ever holds
        verified commits, at worst an older one than the newest (which costs a re-verification).
        """
        import fcntl

        folder = state_dir(self.git_dir)
        folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder / "trust.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = TrustState.load(self.git_dir)
            except VaultStateError:
                current = TrustState(self.git_dir)
            data = {"anchor": self.anchor, "verified": self.verified,
                    "repudiated": sorted(set(self.repudiated) | set(current.repudiated)),
                    "remotes": {**current.remotes, **self.remotes}, "readers": {**current.readers, **self.readers}}
            tmp = folder / f".{STATE_FILE}.{os.getpid()}"
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(tmp, folder / STATE_FILE)
        finally:
            os.close(fd)


def git_dir_of(root: Path) -> Path:
    plain = root / ".git"
    if plain.is_dir():
        return plain
    return root  # a bare repository (the shared one, for the server hook)


def anchor_of(root: Path, root_commit: str) -> str:
    """The anchor a verified history gives: its first commit and that commit's signer (if signed)."""
    from vault_cli.adapters import gitlog, signing
    from vault_cli.services.verify import Anchor

    raw = gitlog.run(root, "cat-file", "commit", root_commit)
    sig = signing.verify_commit(raw)
    return str(Anchor(root_commit, signing.fingerprint(sig.key) if sig.status == "good" and sig.key is not None else None))


def findings_error(result, verified: Optional[str], what: str = "this vault's history",
                   fetched: Optional[str] = None) -> FindingsError:
    """The error for a walk with findings; ``fetched`` names the remote-tracking branch when the commits
    came from a remote (this clone has not taken them)."""
    first = result.findings[0]
    if fetched:
        return FindingsError(
            f"{what} does not verify: commit {first.commit[:12]}{' ' + first.file if first.file else ''}: "
            f"{first.check}: {first.message}"
            + (f" (and {len(result.findings) - 1} more finding(s))" if len(result.findings) > 1 else "")
            + "; nothing was merged, read or changed",
            f"see the commits with 'git log --show-signature HEAD..{fetched}'",
            f"a manager rejects them for everyone: 'git merge --no-edit {fetched}' (plain git, taking nothing on trust), then "
            "'confide repudiate --reason TEXT', then 'confide sync'",
        )
    where = f" {first.file}" if first.file else ""
    since = f"{verified[:12]}..HEAD" if verified else "HEAD"
    return FindingsError(
        f"{what} does not verify: commit {first.commit[:12]}{where}: {first.check}: {first.message}"
        + (f" (and {len(result.findings) - 1} more finding(s))" if len(result.findings) > 1 else "")
        + "; nothing was read or changed",
        f"see every finding with 'confide verify', and the commits with 'git log --show-signature {since}'",
        (f"go back to the last verified commit on this machine with 'git reset --keep {verified[:12]}', "
         if verified else "")
        + "or have a manager reject the commits, restoring the last verified state: confide repudiate",
    )


def ensure_verified(root: Path, git, *, clock: Clock, identities: Optional[list] = None, cat=None) -> str:
    """The verified commit the command acts on: HEAD, once the commits since the checkpoint verify.

    With the caller's ``identities``, the blocks their key opens in those commits are checked
    too (an entry's author against its commit's signer, its binding, its schema), from the
    newest commit this holder's key last checked on this clone: no entry is shown to them as
    genuine that their key could show to be forged.

    ``cat``: the command's ``gitlog.CatFile``, which every object read of the check goes through (else
    one of its own, closed at the end). The check after a colleague's commit runs ``git diff-tree`` and,
    when history was not a straight line since the checkpoint, ``git rev-list``, and nothing else: each
    git process costs 2-4 ms of CPU, and this check before every command had grown to ~15 of them
    (``benchmarks/compare.py``: figures in ``_walk``).
    """
    head = git.head()
    if head is None:
        raise VaultStateError("the vault has no commits", "make one with: confide init DIR --name NAME --holder YOU")
    state = TrustState.load(git_dir_of(root))
    with _objects(root, cat) as objects:
        reader, holders = _reader_and_holders(root, state, identities, objects)
        if state.verified == head and (reader is None or state.readers.get(reader) == head):
            return head
        if state.anchor is None:
            raise VaultStateError(
                "this clone has no trust anchor, so confide cannot tell this vault from a forged one",
                "pin the vault's identity (printed by 'confide init'; ask its manager) with: confide trust ANCHOR",
            )
        # Verifying reads only git's objects, which never change: no lock is needed, and a reader never waits
        # for a writer. Only the state file's update is serialised (TrustState.save).
        keep = os.access(state_dir(git_dir_of(root)).parent, os.W_OK)  # read-only media: verify, keep nothing
        verify_and_advance(root, state, head, clock=clock, identities=identities, reader=reader, keep=keep,
                           cat=objects, holders=holders)
    return head


class _objects:
    """``with _objects(root, cat) as objects``: the caller's ``gitlog.CatFile``, or one closed at the end."""

    def __init__(self, root: Path, cat) -> None:
        self.root, self.cat, self.own = root, cat, cat is None

    def __enter__(self):
        if self.cat is None:
            from vault_cli.adapters import gitlog

            self.cat = gitlog.CatFile(self.root)
        return self.cat

    def __exit__(self, *exc) -> None:
        if self.own:
            self.cat.close()


def reader_name(root: Path, identities: Optional[list], cat=None) -> Optional[str]:
    """The holder whose key ``identities`` are, by the holders of this clone's verified checkpoint."""
    return reader_at(root, TrustState.load(git_dir_of(root)), identities, cat)


def reader_at(root: Path, state: TrustState, identities: Optional[list], cat=None) -> Optional[str]:
    """Whose blocks the caller's identities open, by the holders of the verified checkpoint."""
    with _objects(root, cat) as objects:
        return _reader_and_holders(root, state, identities, objects)[0]


def _reader_and_holders(root: Path, state: TrustState, identities: Optional[list], cat):
    """(whose blocks the caller's identities open, the holders of the verified checkpoint they were named by):
    (None, None) without identities, a checkpoint, valid holders there or a holder with those keys."""
    if not identities or not state.verified:
        return None, None
    from vault_cli.adapters import gitlog
    from vault_cli.errors import ConfideError
    from vault_cli.formats.policyfiles import holders_from_bytes
    from vault_cli.model.holders import HOLDERS_FILE

    try:
        raw = gitlog.CommitTree(root, state.verified, cat=cat).read(HOLDERS_FILE)
        holders = holders_from_bytes(raw) if raw is not None else None
    except ConfideError:
        holders = None
    if holders is None:
        return None, None
    recips = {i.recipient for i in identities}
    for h in holders.all:
        if h.active and h.recipient in recips:
            return h.name, holders
    return None, None


def verify_and_advance(root: Path, state: TrustState, tip: str, *, clock: Clock, what: str = "this vault's history",
                       keep: bool = True, identities: Optional[list] = None, reader: Optional[str] = None,
                       cat=None, holders=None) -> None:
    """Verify ``tip`` from the checkpoint (or from the anchor) and make it the checkpoint; refuse on findings.

    With ``reader`` (and their identities), the walk starts from the newest commit that holder's key
    last checked when that is older, and opens what their key opens. ``holders``: those of the checkpoint,
    when the caller has read them (``_reader_and_holders``)."""
    from vault_cli.adapters import gitlog

    with _objects(root, cat) as objects:
        result, start, known, ahead = _walk(root, state, tip, clock=clock, identities=identities, reader=reader,
                                            cat=objects, holders=holders)
        if not result.ok:
            raise findings_error(result, start or result.last_clean or known, what)
        if reader:
            state.readers[reader] = tip
        if known and not ahead(known) and gitlog.is_ancestor(root, tip, known):
            if keep and reader:
                state.save()
            return  # HEAD went back to a commit already verified (a local reset): keep the checkpoint
        moved = state.verified != tip
        state.verified = tip
        state.repudiated = sorted(set(state.repudiated) | set(result.repudiated_commits))
        if keep:
            state.save()
            # derived when the checkpoint moved here (this, ``advance`` or ``pin``); a key's check of commits
            # behind it changes no holder
            if moved or not (state_dir(state.git_dir) / signers.ALLOWED_SIGNERS_FILE).is_file():
                write_allowed_signers(root, state.git_dir, tip, cat=objects)


def _walk(root: Path, state: TrustState, tip: str, *, clock: Clock, identities: Optional[list], reader: Optional[str],
          cat, holders=None):
    """Verify ``tip`` from the checkpoint, or keyed from what ``reader``'s key last checked:
    (result, start, known, ahead), ``ahead(commit)`` telling whether ``known`` is an ancestor of ``tip``.

    Its git processes, after a colleague's one-entry commit: before issue 10, none (``advance`` moved every
    holder's checkpoint with the commit, so no other key checked it); issue 9's keyed check then ran ~15
    ('cat-file -t' twice, 'merge-base --is-ancestor' twice, 'rev-parse', three 'cat-file --batch',
    'cat-file --batch-check', 'rev-list', 'diff-tree', 'ls-tree' twice, 'for-each-ref'), and the Vault two
    more 'cat-file --batch'. Now the command's one 'cat-file --batch' reads every object, tree listing,
    commit type and short line of commits (``gitlog.line_since``; else one 'rev-list --boundary' that also
    says whether the start is their ancestor), the refs are read from their files, and 'diff-tree' remains.

    ``benchmarks/compare.py --tree before=<tree before issue 10>@ssh --tree main=<main at c72a5cb>@ssh
    --tree perf=<this>@ssh --runs 5`` (1,000 records x 50 entries, 2 cores shared with other jobs; median CPU
    ms, user + sys with git's, before / main / perf, ratios to before):
    add 216 / 238 / 240 (1.10x, 1.11x: no check to run, the same in main); add as key person after a
    colleague's add 224 / 289 / 254 (1.29x -> 1.13x); add to the 300-entry record 231 / 304 / 271 (1.32x ->
    1.17x); add in a clone with no expiry cache 312 / 385 / 349 (1.23x -> 1.12x); show of 300 entries after
    a colleague's adds 230 / 302 / 277 (1.32x -> 1.20x); bulk commands 0.63-0.96x in both. Again on a quiet
    machine after rebasing on main at ab53fd0 (``--only daily``): add 208 / 230 / 225 (1.11x -> 1.08x), as key
    person 208 / 276 / 251 (1.33x -> 1.21x), to the 300-entry record 219 / 285 / 258 (1.30x -> 1.18x), show
    222 / 298 / 272 (1.34x -> 1.23x), show --json 1.10x in both. In-process, this
    check (ensure_verified) for one colleague's commit: ~40 ms of CPU on main, ~16 ms now. What is left is
    the keyed check's own work (signatures, the changed records parsed and their blocks opened, the
    children's names), and, in every command, ~13 ms of importing ruamel.yaml for confide.yaml, which
    ``formats.canonical`` declines (comments, flow lists). Then (issue 10, perf10): the version at the checkpoint
    is read item by item (``RecordVersion.at_checkpoint``), cat-file and diff-tree start early, a short walk's
    objects come in one round trip, and the command reads what the check read; the same 11-run comparison,
    fe264e1 / main c2e950c / this, median wall ms: as key person 232 / 280 / 275, show 262 / 316 / 299 (1.20x
    -> 1.14x). In-process the check costs ~19 ms of CPU as key person (names ~5, the records folder ~3, the
    verify modules' imports ~5), and every command ~12 ms more than fe264e1 in importing the CLI (dataclasses)."""
    from vault_cli.adapters import gitlog
    from vault_cli.formats.policyfiles import holders_from_bytes
    from vault_cli.model.holders import HOLDERS_FILE
    from vault_cli.services.verify import Anchor, verify

    known = state.verified if state.verified and cat.is_commit(state.verified) else None
    start = known
    keyed = bool(reader and identities)
    commits = None
    below: dict = {}  # commit -> whether it is an ancestor of tip, as the walk's rev-list said
    if keyed:
        seen = state.readers.get(reader)
        # from what this holder's key last checked; a holder's first command on this clone checks the whole
        # history with their key, once (what another holder's keyless check let through is checked too)
        start = None
        if seen and cat.is_commit(seen):
            listed, below[seen] = _since(root, cat, tip, seen)
            if below[seen]:
                start, commits = seen, listed
    elif start:
        commits, below[start] = _since(root, cat, tip, start)
    exclude = (start,) if start else ()
    if not (keyed and known):
        holders = None
    elif holders is None:  # else the caller's, read from the checkpoint (known) to name the reader
        holders = holders_from_bytes(gitlog.CommitTree(root, known, cat=cat).read(HOLDERS_FILE) or b"")
    result = verify(root, clock=clock, tip=tip, exclude=exclude, anchor=None if start else Anchor.parse(state.anchor or ""),
                    repudiated=tuple(state.repudiated), identities=identities if keyed else None,
                    holders=holders, names_cache_dir=state.git_dir if keyed else None, cat=cat,
                    commits=commits, checkpoint=bool(start))
    walked = {sha for sha, _parents in commits} if commits is not None else set()

    def ahead(commit: str) -> bool:
        if commit == tip or commit in walked:
            return True  # reachable from tip
        if commit in below:
            return below[commit]
        return gitlog.is_ancestor(root, commit, tip)

    return result, start, known, ahead


def _since(root: Path, cat, tip: str, start: str) -> tuple[list, bool]:
    """(the commits reachable from ``tip`` and not from ``start``, parents first; whether ``start`` is an
    ancestor of ``tip``): read through ``cat`` when ``tip`` is a short line of single-parent commits ahead
    of ``start``, else from one ``git rev-list --boundary``."""
    from vault_cli.adapters import gitlog

    line = gitlog.line_since(cat, tip, start)
    return (line, True) if line is not None else gitlog.rev_list_from(root, tip, start)


def clean_point(root: Path, state: TrustState, tip: str, *, clock: Clock, identities: list, reader: str) -> str:
    """What ``reader``'s key finds clean up to ``tip`` (an ancestor of it, or ``tip`` itself, recorded as
    checked): the newest commit on ``tip``'s first-parent line built on no commit with findings."""
    from vault_cli.adapters import gitlog

    with _objects(root, None) as objects:
        result, start, _known, _ahead = _walk(root, state, tip, clock=clock, identities=identities, reader=reader,
                                              cat=objects)
    if result.ok:
        state.readers[reader] = tip
        state.save()
        return tip
    bad = {f.commit for f in result.findings}
    for sha in gitlog.run(root, "rev-list", "--first-parent", tip, *((f"^{start}",) if start else ())).decode().split():
        if not any(gitlog.is_ancestor(root, b, sha) for b in bad):
            return sha
    return start or tip


def advance(root: Path, before: Optional[str], after: str, *, holders_changed: Optional[bool] = None,
            reader: Optional[str] = None) -> None:
    """``after`` was made by confide on top of the verified ``before`` (a commit of its own, or a fast-forward
    to what it verified): move the checkpoint, and ``reader``'s, who checked what it opens; another holder's
    key checks the new commit at their next command. Re-derive ``allowed_signers`` when holders.yaml changed
    (None: compare the two commits)."""
    state = TrustState.load(git_dir_of(root))
    if state.verified != before:
        return  # not built on the checkpoint (should not happen): the next command verifies it
    state.verified = after
    if reader and state.readers.get(reader) == before:
        state.readers[reader] = after
    state.save()
    if holders_changed is None:
        from vault_cli.adapters import gitlog
        from vault_cli.model.holders import HOLDERS_FILE

        blobs = gitlog.run(root, "rev-parse", f"{before}:{HOLDERS_FILE}", f"{after}:{HOLDERS_FILE}", check=False).split()
        holders_changed = len(blobs) != 2 or blobs[0] != blobs[1]
    if holders_changed:
        write_allowed_signers(root, state.git_dir, after)


def pin(root: Path, anchor: str, tip: str, *, clock: Clock, what: str = "the vault",
        identities: Optional[list] = None) -> TrustState:
    """Trust ``anchor`` for this clone: verify the whole history from it (with the caller's key, when
    given, also what it opens), then keep it."""
    state = TrustState(git_dir_of(root), anchor=anchor)
    reader = None
    if identities:
        state.verified = tip  # only to name the reader by the holders at the tip; the walk below is whole
        reader = reader_at(root, state, identities)
        state.verified = None
    verify_and_advance(root, state, tip, clock=clock, what=what, identities=identities, reader=reader)
    return state


def write_allowed_signers(root: Path, git_dir: Path, commit: str, cat=None) -> None:
    """``.git/confide/allowed_signers`` from the verified holders, for plain ``git log --show-signature``."""
    from vault_cli.adapters import gitlog
    from vault_cli.formats.policyfiles import holders_from_bytes
    from vault_cli.model.holders import HOLDERS_FILE

    tree = gitlog.CommitTree(root, commit, cat=cat)
    try:
        raw = tree.read(HOLDERS_FILE)
        if raw is None:
            return
        text = signers.allowed_signers_text(holders_from_bytes(raw))
    finally:
        tree.close()
    folder = state_dir(git_dir)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / signers.ALLOWED_SIGNERS_FILE
    tmp = folder / f".allowed_signers.{os.getpid()}"
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = ["TrustState", "ensure_verified", "verify_and_advance", "advance", "pin", "anchor_of", "findings_error",
           "write_allowed_signers", "git_dir_of", "reader_name", "reader_at", "clean_point"]
