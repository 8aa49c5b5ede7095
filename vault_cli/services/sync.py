"""Several machines and backups: sync, clone, backup, restore, and git's merge driver.

``confide sync`` fetches, **verifies what it fetched before merging anything**
(from this clone's checkpoint, with the caller's key when they have one, so what
it opens is checked too; a remote whose history no longer contains what this
clone last verified of it, rewritten or cut back, is refused), merges with
``services.merge`` (keyless, deterministic, the same function ``confide verify``
recomputes for every merge commit), commits the merge signed, and pushes.
Fetching, pushing, cloning, bundles and the repository's configuration go
through GitPython (``adapters.gitrepo``). A conflict is never settled by choosing a side: the
sync stops and leaves the vault as it was.

``confide clone`` and ``confide restore`` take the vault's identity
(``--trust``) and verify the whole history against it before keeping anything.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vault_cli.adapters.gitrepo import GitFailed, Repository
from vault_cli.adapters.gitstore import Git
from vault_cli.adapters.timeutil import Clock
from vault_cli.errors import ConfideError, ExternalError, NotFound, UsageError, VaultStateError
from vault_cli.model.holders import HOLDERS_FILE
from vault_cli.model.settings import SETTINGS_FILE
from vault_cli.services.merge import Conflict, StateReader, merge_commits, merge_entries_file, merge_head_file

DRIVER_NAME = "confide"


# ---------------------------------------------------------------------------
# Repository configuration


def register_repo_config(root: Path) -> None:
    """Register the merge driver, and point git's allowed signers at the file confide derives from verified
    history (``.git/confide/allowed_signers``, which no commit can change)."""
    repo = Repository(root)
    driver = f"{shlex.quote(sys.executable)} -m vault_cli merge-driver %O %A %B %P"
    repo.set_config(f'merge "{DRIVER_NAME}"', "name", "confide: the keyless merge confide sync makes")
    repo.set_config(f'merge "{DRIVER_NAME}"', "driver", driver)
    repo.set_config("transfer", "fsckObjects", "true")  # what is fetched is checked to be well formed
    repo.set_config('gpg "ssh"', "allowedSignersFile", str((root / ".git" / "confide" / "allowed_signers").resolve()))


# ---------------------------------------------------------------------------
# The merge driver (for a merge made with plain git: confide sync merges by itself)


def merge_driver(base_file: str, ours_file: str, theirs_file: str, path: str,
                 root: Optional[Path] = None) -> Optional[ConfideError]:
    """git's merge driver: writes the result into ``ours_file`` and returns None, or returns why the file cannot
    be merged without choosing a side (the command says so, and exits 1: git stops the merge).

    During ``git merge`` the answer is ``merge.merge_states`` of HEAD, MERGE_HEAD and their
    merge base for this path: exactly what ``confide sync`` would commit and ``confide verify``
    recomputes. Elsewhere (a rebase, a cherry-pick) the three files alone are merged.
    """
    def read(p: str) -> Optional[bytes]:
        try:
            return Path(p).read_bytes()
        except FileNotFoundError:
            return None

    base, ours, theirs = read(base_file), read(ours_file), read(theirs_file)
    root = root or Path.cwd()
    try:
        merged = _merged_in_context(root, path)
        if merged is None:
            from vault_cli.formats import envelope
            part = envelope.record_of(path)
            if part is not None and part[1] == "entries":
                merged = merge_entries_file(base, ours or b"", theirs or b"", path)
            elif part is not None:
                merged = merge_head_file(base, ours, theirs, path)
            else:
                raise Conflict(f"{path} was changed on both sides")
    except (Conflict, ConfideError) as exc:
        reason = exc.message if isinstance(exc, (Conflict, ConfideError)) else str(exc)
        subprocess.run(["git", "merge-file", "-L", "ours", "-L", "base", "-L", "theirs", ours_file, base_file, theirs_file],
                       capture_output=True)
        return VaultStateError(
            f"cannot merge {path} without choosing a side: {reason}",
            "go back with 'git merge --abort', then merge with 'confide sync', which never "
            "settles a conflict by choosing a side",
        )
    Path(ours_file).write_bytes(merged)
    return None


# The merge is computed from the same readings of history (``gitlog``: merge bases, files, changed
# paths, acting holders) that ``confide verify`` recomputes every merge commit with
# (``verify_merges``): one reading, never two that could disagree. The repository-level questions
# of a sync (remotes, fetch and push, ancestry of what was fetched) go through ``gitrepo``.


def _merged_in_context(root: Path, path: str) -> Optional[bytes]:
    from vault_cli.adapters import gitlog

    merge_head_file_ = root / ".git" / "MERGE_HEAD"
    if not merge_head_file_.is_file():
        return None
    theirs = merge_head_file_.read_text().split()[0]
    ours = gitlog.run(root, "rev-parse", "HEAD").decode().strip()
    bases = gitlog.merge_bases(root, ours, theirs)
    if not bases:
        return None
    cat = gitlog.CatFile(root)
    try:
        result = merge_commits(bases, ours, theirs, _reader(cat), _changed(root), _acting(root))
    finally:
        cat.close()
    value = result.get(path)
    if value is None:
        raise Conflict(f"{path} is removed by the merge")
    return value


def _reader(cat) -> Callable[[str], StateReader]:
    def at(commit: str) -> StateReader:
        return StateReader(lambda path: cat.get(f"{commit}:{path}"))

    return at


def _changed(root: Path) -> Callable[[str, str], list]:
    from vault_cli.adapters import gitlog

    return lambda base, side: [p for p, _o, _n in gitlog.diff_paths(root, base, side)]


def _acting(root: Path) -> Callable[[str, str], set]:
    from vault_cli.adapters import gitlog

    return lambda base, side: gitlog.holders_acting(root, base, side)


# ---------------------------------------------------------------------------
# sync


@dataclass
class SyncResult:
    remote: str
    branch: str
    fetched: bool = True
    merged: Optional[str] = None  # "fast-forward", "merge" or None
    pushed: bool = False
    commit: Optional[str] = None
    notes: list = field(default_factory=list)


def _current_branch(repo: Repository) -> str:
    branch = repo.branch()
    if not branch:
        raise VaultStateError("the vault is not on a branch (detached HEAD)", "check out the vault's branch: git checkout main")
    return branch


def _default_remote(repo: Repository, branch: str) -> str:
    name = repo.get_config(f'branch "{branch}"', "remote")
    if name:
        return name
    remotes = repo.remotes()
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    if not remotes:
        raise UsageError("this vault has no remote to sync with", "add one: git remote add origin URL, or clone with 'confide clone URL DIR'")
    raise UsageError(f"this vault has several remotes ({', '.join(remotes)}); say which", "confide sync REMOTE")


def sync(session, remote: Optional[str], *, attempts: int = 3) -> SyncResult:
    """Fetch, verify what came, merge (signed, keyless), push; retry when the push races another."""
    from vault_cli.services import trust

    vault = session.vault
    root = vault.root
    repo = Repository(root)
    if (root / ".git" / "MERGE_HEAD").exists():
        raise VaultStateError(
            "a merge made with plain git is in progress",
            "abandon it with 'git merge --abort', then merge with 'confide sync'",
        )
    branch = _current_branch(repo)
    remote = remote or _default_remote(repo, branch)
    if remote not in repo.remotes():
        raise NotFound(f"no remote named '{remote}'", "see them with 'git remote -v'; add one with 'git remote add NAME URL'")
    register_repo_config(root)
    result = SyncResult(remote, branch)
    key = f"{remote}/{branch}"
    with vault.transaction() as tx:  # the vault lock, crash recovery, verified HEAD, no uncommitted changes
        tx.require_clean()  # before anything reaches the working tree
        actor = session.require_writer()
        for attempt in range(attempts):
            try:
                repo.fetch(remote)
            except GitFailed as exc:
                raise ExternalError(
                    f"could not fetch from '{remote}': {exc.detail}; your local commits are kept",
                    "check the network and the remote's address ('git remote -v'), then run 'confide sync' again",
                ) from None
            tracking = f"refs/remotes/{remote}/{branch}"
            theirs = repo.resolve(tracking)
            state = trust.TrustState.load(trust.git_dir_of(root))
            if theirs is not None:
                seen = state.remotes.get(key)
                if seen and not repo.is_ancestor(seen, theirs):
                    raise VaultStateError(
                        f"'{remote}' no longer holds the history this clone verified of it (its {branch} was at "
                        f"{seen[:12]}): it was rewritten or cut back; nothing was merged",
                        "ask whoever runs the shared repository what happened; 'git log " + tracking + "' shows what it "
                        "holds now; do not push until it is explained",
                    )
                if not repo.is_ancestor(theirs, vault.commit):
                    from vault_cli.services.verify import verify

                    # keyed, with the caller's identities: nothing they open in it is merged or shown unchecked
                    keyed = vault.reader is not None and bool(vault.identities)
                    checked = verify(root, clock=vault.config.clock, tip=theirs, exclude=(vault.commit,),
                                     repudiated=tuple(state.repudiated),
                                     identities=vault.identities if keyed else None,
                                     holders=vault.holders if keyed else None)
                    if not checked.ok:
                        raise trust.findings_error(checked, None, f"what '{remote}' holds", fetched=f"{remote}/{branch}")
                    state.repudiated = sorted(set(state.repudiated) | set(checked.repudiated_commits))
                state.remotes[key] = theirs
                state.save()
                ahead = repo.count(f"{theirs}..HEAD")
                behind = repo.count(f"HEAD..{theirs}")
                if behind and not ahead:
                    try:
                        repo.merge_ff_only(theirs)
                    except GitFailed as exc:
                        raise ExternalError(f"git merge failed: {exc.detail}",
                                            "the vault was left as it was; check it with: git status") from None
                    trust.advance(root, vault.commit, theirs, reader=vault.reader)
                    trust.write_allowed_signers(root, trust.git_dir_of(root), theirs)  # their holders may differ
                    vault.load(theirs)
                    result.merged = "fast-forward"
                elif behind and ahead:
                    _merge(tx, vault, theirs, remote, branch, actor.name)
                    result.merged = "merge"
                if not behind and not ahead or (result.merged == "fast-forward" and not ahead):
                    result.commit = vault.commit
                    return result
            try:
                repo.push(remote, f"HEAD:refs/heads/{branch}", set_upstream=True)
            except GitFailed as exc:
                if exc.rejected and attempt < attempts - 1:
                    continue  # someone pushed first: fetch, verify and merge theirs, then push again
                raise ExternalError(
                    f"could not push to '{remote}': {exc.detail}; your local commits are kept",
                    "run 'confide sync' again later; if the remote refuses pushes, ask whoever runs it "
                    "(its hook names what it found)",
                ) from None
            result.pushed = True
            result.commit = vault.commit
            state = trust.TrustState.load(trust.git_dir_of(root))
            state.remotes[key] = vault.commit
            state.save()
            return result
    result.commit = vault.commit
    return result


def _merge(tx, vault, theirs: str, remote: str, branch: str, holder: str) -> str:
    """Commit the merge of HEAD and ``theirs`` that ``merge.merge_states`` gives; a conflict changes nothing."""
    from vault_cli.adapters import gitlog
    from vault_cli.model import trail

    root = vault.root
    ours = vault.commit
    bases = gitlog.merge_bases(root, ours, theirs)
    if not bases:
        raise VaultStateError(f"'{remote}/{branch}' shares no history with this vault; nothing was merged",
                              "check the remote's address: it is another vault")
    cat = gitlog.CatFile(root)
    try:
        try:
            merged = merge_commits(bases, ours, theirs, _reader(cat), _changed(root), _acting(root))
        except Conflict as exc:
            raise VaultStateError(
                f"cannot merge '{remote}/{branch}' without choosing a side: {exc.message}; nothing was merged or pushed",
                "your commits are kept; decide with the people involved whose change stands",
                f"to take the other side here: see what your unpushed commits did ('git log {remote}/{branch}..HEAD'), "
                f"then 'git reset --keep {remote}/{branch}' and redo what is still needed with confide; to keep yours, "
                "the other machine does that instead; then run 'confide sync' again",
            ) from None
        _require_writer_after(merged, cat.get(f"{ours}:{HOLDERS_FILE}"), cat.get(f"{ours}:{SETTINGS_FILE}"), holder,
                              remote, branch)
        for path, value in sorted(merged.items()):
            now = cat.get(f"{ours}:{path}")
            if value is None and now is not None:
                tx.remove(path)
            elif value is not None and value != now:
                tx.write(path, value)
    finally:
        cat.close()
    msg = trail.message(f"merge {remote}/{branch}", "vault.merge", holder)
    return tx.commit(msg, holder, merge_head=theirs)


def _require_writer_after(merged: dict, holders_now: Optional[bytes], settings_now: Optional[bytes], holder: str,
                          remote: str, branch: str) -> None:
    """The merge commit is signed by ``holder``; verify judges it by the merged holders and settings."""
    from vault_cli.formats.policyfiles import holders_from_bytes, settings_from_bytes
    from vault_cli.model import policy

    holders = holders_from_bytes(merged.get(HOLDERS_FILE, holders_now) or b"")
    settings = settings_from_bytes(merged.get(SETTINGS_FILE, settings_now) or b"")
    me = holders.find(holder)
    if me is None or not me.active or not policy.may(settings, me, "write"):
        raise VaultStateError(
            f"'{remote}/{branch}' no longer lets '{holder}' write to this vault (removed, or their role changed), so "
            "you cannot sign the merge; nothing was merged",
            f"your unpushed commits stay here: 'git log {remote}/{branch}..HEAD' lists them; ask a manager",
        )


# ---------------------------------------------------------------------------
# clone


def _take_trust(target: Path, anchor: Optional[str], confirm: Optional[Callable[[str], bool]], what: str,
                identities: Optional[list] = None, *, clock: Clock) -> str:
    """Verify a new clone's whole history against its anchor and keep it; remove the clone if it fails."""
    from vault_cli.services import trust
    from vault_cli.services.verify import Anchor

    head = Git(target).head()
    if head is None:
        raise VaultStateError(f"{what} holds no commits", "check the address or the file")
    roots = Repository(target).roots(head)
    found = trust.anchor_of(target, roots[-1]) if roots else ""
    if anchor is None:
        if confirm is None or not confirm(found):
            raise VaultStateError(
                f"{what} was not trusted: its identity is {found}, and no {{0}} was given to check it against",
                "get the vault's identity from its manager (or from where it was written down when the vault was made) "
                "and pass it: {0} ANCHOR",
                fields=("vault's identity",),
            )
        anchor = found
    Anchor.parse(anchor)
    trust.pin(target, anchor, head, clock=clock, what=what, identities=identities)
    return anchor


def clone(url: str, directory: str, *, clock: Clock, anchor: Optional[str] = None,
          confirm: Optional[Callable[[str], bool]] = None, identities: Optional[list] = None) -> tuple[Path, str, str]:
    """Clone a vault and trust it only once its whole history verifies against ``anchor``
    (or ``confirm`` accepts the identity it shows, as ssh does for a host key)."""
    target = Path(directory).expanduser()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise VaultStateError(f"{target} already exists", "clone into a new folder")
    created = not target.exists()
    try:
        repo = Repository.clone(url, target)
    except GitFailed as exc:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise ExternalError(f"could not clone {url}: {exc.detail}", "check the address and the network, then try again") from None
    try:
        if not (target / "confide.yaml").is_file():
            raise VaultStateError(f"{url} is not a confide vault (no confide.yaml)", "check the address")
        register_repo_config(target.resolve())
        kept = _take_trust(target.resolve(), anchor, confirm, f"the vault at {url}", identities, clock=clock)
        from vault_cli.services import trust

        state = trust.TrustState.load(trust.git_dir_of(target.resolve()))
        branch = _current_branch(repo)
        state.remotes[f"origin/{branch}"] = Git(target).head()
        state.save()
    except BaseException:
        shutil.rmtree(target, ignore_errors=True) if created else None
        raise
    return target.resolve(), Git(target).head() or "", kept


# ---------------------------------------------------------------------------
# backup and restore


@dataclass
class BackupResult:
    path: str
    size: int
    commit: str
    refs: int


def backup(root: Path, file: str) -> BackupResult:
    """A git bundle of every ref, verified before it replaces ``file``. Needs no identity."""
    git = Git(root)
    head = git.head()
    if head is None:
        raise VaultStateError("the vault has no commits to back up", "make one first: confide init")
    out = Path(file).expanduser().resolve()
    if out.is_dir():
        raise UsageError(f"{out} is a folder", "give a file name, e.g. /mnt/backup/vault-2026-11-24.bundle")
    if not out.parent.is_dir():
        raise NotFound(f"the folder {out.parent} does not exist", "create it, or choose another place")
    tmp = out.parent / f".{out.name}.confide-tmp-{os.getpid()}"
    repo = Repository(root)
    try:
        try:
            repo.bundle_create(tmp)
        except GitFailed as exc:
            raise ExternalError(f"git bundle could not write {out}: {exc.detail}", "check the free space and permissions there") from None
        try:
            repo.bundle_verify(tmp)
        except GitFailed as exc:
            raise ExternalError(f"the bundle written to {out} does not verify: {exc.detail}", "check the disk, then try again") from None
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    refs = len(repo.refs())
    return BackupResult(str(out), out.stat().st_size, head, refs)


def restore(file: str, directory: str, *, clock: Clock, anchor: Optional[str] = None,
            confirm: Optional[Callable[[str], bool]] = None, identities: Optional[list] = None) -> tuple[Path, str, str]:
    """Clone a bundle into a new folder and trust it only once its whole history verifies against ``anchor``."""
    src = Path(file).expanduser()
    target = Path(directory).expanduser()
    if target.exists() or target.is_symlink():
        raise VaultStateError(f"{target} already exists; restore never writes into an existing folder",
                              "choose a new folder, e.g. ./restored")
    if not src.is_file():
        raise NotFound(f"no bundle at {src}", "give the path of a file written by 'confide backup'")
    with open(src, "rb") as fh:
        first = fh.readline(64)
    if first not in (b"# v2 git bundle\n", b"# v3 git bundle\n"):
        raise ExternalError(f"{src} is not a git bundle", "give a file written by 'confide backup'")
    try:
        repo = Repository.clone(str(src.resolve()), target)
    except GitFailed as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ExternalError(f"the bundle {src} is truncated or damaged: {exc.detail}",
                            "nothing was restored; use another backup (and check the disk it was on)") from None
    try:
        git = Git(target)
        why = None
        try:
            repo.bundle_verify(src.resolve())
        except GitFailed as exc:
            why = exc.detail
        if why or not (target / "confide.yaml").is_file():
            raise ExternalError(f"the bundle {src} cannot be restored: {why or 'it holds no confide vault'}",
                                "nothing was restored; use another backup")
        repo.remove_remote("origin")  # a bundle is not a remote to sync with
        register_repo_config(target.resolve())
        kept = _take_trust(target.resolve(), anchor, confirm, f"the backup {src}", identities, clock=clock)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target.resolve(), git.head() or "", kept
