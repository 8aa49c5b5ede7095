"""The git adapter for a command's one commit: paths and bytes in, commits out.

It runs the ``git`` binary directly: git is what signs commits
(``gpg.format=ssh``) and what a user's own git will read, and importing
GitPython (70-90 ms: ``python -X importtime``, the fastest runs on 2 busy cores;
``benchmarks/bench_gitpython.py``) would be paid by every command.
Repository-level work (creating, cloning, configuring, remotes, bundles) goes
through GitPython in ``gitrepo``; walks over history run the binary in ``gitlog``.

Every git call runs with a fixed environment: no pager, no prompts, the
author and committer set to the acting holder, and stdout captured so nothing
but confide's own results reaches the user's stdout.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

from vault_cli.errors import ExternalError, VaultStateError

TRACKED = ("confide.yaml", "holders.yaml", "allowed_signers", ".gitattributes", ".gitignore", "records")


def git_binary() -> str:
    git = shutil.which("git")
    if not git:
        raise ExternalError("git is not installed or not on PATH", "install git (apt-get install git) and try again")
    return git


def git_env(extra: Optional[dict] = None) -> dict:
    """The environment confide runs git in: never a prompt or a pager, messages in English."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", LC_ALL="C")
    if extra:
        env.update(extra)
    return env


def _is_object_id(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _untracked_refusal(proc: subprocess.CompletedProcess) -> bool:
    """Did ``git commit --include -- PATHS`` refuse because a path is not tracked (LC_ALL=C messages)?"""
    out = proc.stdout + proc.stderr
    return b"known to git" in out or b"nothing added to commit" in out or b"untracked files present" in out


def holder_email(name: str) -> str:
    return f"{name}@holders.confide.invalid"


# What to do about a file system refusal, by its errno: for confide's own writes (``store.storage_failure``)
# and for git's, which git reports in words (``_storage_hint``).
STORAGE_HINTS = {
    errno.EROFS: "the file system holding it is mounted read-only: remount it read-write, or work in a clone "
                 "on a disk that can be written",
    errno.EACCES: "check who owns the vault's folders and their permissions (ls -ld), and run confide as that user",
    errno.EPERM: "check who owns the vault's folders and their permissions (ls -ld), and run confide as that user",
    errno.ENOSPC: "the disk is full: free some space (df -h shows how much is left), then run the command again",
    errno.EDQUOT: "your disk quota is used up: free some space, then run the command again",
    errno.EISDIR: "a folder is where confide expects a file: move it away",
    errno.EIO: "the disk reported an input/output error: check it (dmesg) before trusting anything on it",
}
# git's words for those refusals
_GIT_STORAGE_WORDS = {"No space left on device": errno.ENOSPC, "Out of diskspace": errno.ENOSPC,
                      "Disk quota exceeded": errno.EDQUOT, "Read-only file system": errno.EROFS}


def _storage_hint(proc: subprocess.CompletedProcess) -> str:
    """What to do when git failed because the file system refused (a full disk, a read-only mount); else ''."""
    err = proc.stderr.decode("utf-8", "replace")
    return next((STORAGE_HINTS[code] for words, code in _GIT_STORAGE_WORDS.items() if words in err), "")


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._bin = git_binary()
        self._background: list = []  # store_blobs_later threads, joined by commit

    def run(
        self,
        *args: str,
        input: Optional[bytes] = None,
        env: Optional[dict] = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [self._bin, "-C", str(self.root), *args],
            input=input,
            capture_output=True,
            env=git_env(env),
        )
        if check and proc.returncode != 0:
            self._raise(proc, args[0])
        return proc

    @staticmethod
    def _raise(proc: subprocess.CompletedProcess, what: str) -> None:
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise ExternalError(
            f"git {what} failed: {first[0] if first else 'exit ' + str(proc.returncode)}",
            _storage_hint(proc),
            "the vault was left as it was; check it with: git status",
        )

    def head(self) -> Optional[str]:
        fast = self._head_from_files()
        if fast is not None:
            return fast
        proc = self.run("rev-parse", "--verify", "-q", "HEAD", check=False)
        return proc.stdout.decode().strip() or None

    def _head_from_files(self) -> Optional[str]:
        """HEAD's commit read from ``.git/HEAD`` and the loose or packed ref, with no process.

        Every write asks for HEAD several times (the journal, the expiry cache, the new
        commit); one ``git rev-parse`` each cost more than the files. Anything unusual
        (a worktree's ``.git`` file, reftable, a ref not found, an unborn branch) returns
        None and the caller asks git itself.
        """
        gitdir = self.root / ".git"
        try:
            if not gitdir.is_dir() or (gitdir / "reftable").exists():
                return None
            text = (gitdir / "HEAD").read_text("ascii").strip()
            for _ in range(5):
                if not text.startswith("ref: "):
                    return text if _is_object_id(text) else None
                ref = text[5:].strip()
                if not ref.startswith("refs/") or ".." in ref:
                    return None
                try:
                    text = (gitdir / ref).read_text("ascii").strip()
                    continue
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    pass
                packed = gitdir / "packed-refs"
                if not packed.is_file():
                    return None
                with packed.open("r", encoding="ascii", errors="replace") as fh:
                    for line in fh:
                        if line.startswith(("#", "^")):
                            continue
                        oid, _, name = line.rstrip("\n").partition(" ")
                        if name == ref:
                            return oid if _is_object_id(oid) else None
                return None
        except (OSError, UnicodeDecodeError):
            return None
        return None

    def dirty_paths(self, paths: Sequence[str] = TRACKED) -> list[str]:
        return self.dirty_paths_later(paths)()

    def dirty_paths_later(self, paths: Sequence[str] = TRACKED) -> Callable[[], list[str]]:
        """Start ``git status`` now; the returned function waits for it and gives the changed paths.

        ``git status`` re-hashes files written in the same second as the index
        (~50 ms after a bulk command rewrote 1,000 heads), so a transaction
        starts it first and asks for the answer only before it writes.
        """
        args = ("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
        proc = subprocess.Popen([self._bin, "-C", str(self.root), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=git_env())
        answer: list = []

        def result() -> list[str]:
            if not answer:
                out, err = proc.communicate()
                done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
                if done.returncode != 0:
                    self._raise(done, "status")
                items = [p for p in out.decode("utf-8", "replace").split("\0") if p]
                answer.append([p[3:] for p in items if len(p) > 3])
            return answer[0]

        return result

    def commit(self, paths: Sequence[str], message: str, holder: str, *, removed: Sequence[str] = (), sign=None,
               tracked: bool = False, merge_head: Optional[str] = None, allow_empty: bool = False,
               date: Optional[str] = None) -> str:
        """Stage and commit; ``sign`` is a ``signing.SignPlan`` (signed with ``-S``) or None (unsigned).

        ``tracked``: every path is already tracked and nothing is removed, so one
        ``git commit --include -- PATHS`` stages and commits them (one process, not two: the
        common case of ``confide add``). Should git not know a path after all, it
        falls back to ``git add`` + ``git commit``. ``merge_head``: the commit is a merge
        of HEAD and that commit (as git records one, through ``.git/MERGE_HEAD``). ``allow_empty``:
        commit even when the tree does not change (a repudiation of commits that changed nothing in sum).
        ``date``: the author and committer date (a pinned clock's, so verify sees one time); None: now.
        """
        self.wait_background()  # the pack of this commit's blobs may still be being written
        if merge_head is not None:
            tracked = False
            (self.root / ".git" / "MERGE_HEAD").write_text(merge_head + "\n")
            try:
                return self.commit(paths, message, holder, removed=removed, sign=sign, date=date)
            finally:
                for name in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE"):
                    (self.root / ".git" / name).unlink(missing_ok=True)
        env = {
            "GIT_AUTHOR_NAME": holder,
            "GIT_AUTHOR_EMAIL": holder_email(holder),
            "GIT_COMMITTER_NAME": holder,
            "GIT_COMMITTER_EMAIL": holder_email(holder),
        }
        if date is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
        empty = ["--allow-empty"] if allow_empty else []
        only: list = []
        if tracked and paths and not removed:
            only = ["--include", "--", *paths]  # stage these into the (clean) index, then commit it
        else:
            if paths:
                self.run("add", "--", *paths, env=env)
            if removed:
                self.run("rm", "-q", "--cached", "--ignore-unmatch", "--", *removed, env=env)
        if sign is None:
            proc = self.run(
                "-c", "commit.gpgsign=false",
                "commit", "-q", "--no-edit", *empty, "-F", "-", *only,
                input=message.encode("utf-8"),
                env=env,
                check=not only,
            )
            if only and proc.returncode != 0:
                if not _untracked_refusal(proc):
                    self._raise(proc, "commit")
                return self.commit(paths, message, holder, removed=removed, sign=sign, date=date)
        else:
            proc = self.run(*sign.args, "commit", "-q", "--no-edit", *empty, "-S", "-F", "-", *only,
                            input=message.encode("utf-8"), env=env, check=False)
            if only and proc.returncode != 0 and _untracked_refusal(proc):
                return self.commit(paths, message, holder, removed=removed, sign=sign, date=date)
            if proc.returncode != 0 and _storage_hint(proc):
                self._raise(proc, "commit")  # the disk, not the key: say so
            if proc.returncode != 0:
                lines = [ln.strip() for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
                detail = next((ln for ln in lines if not ln.startswith("fatal:")), lines[0] if lines else "")
                raise ExternalError(
                    f"git could not sign the commit with {sign.what}: {detail[:200]}; nothing was changed",
                    "check the key: 'ssh-keygen -y -f KEYFILE' must print its public half without asking; "
                    "a key with a passphrase must be loaded into ssh-agent (ssh-add KEYFILE)",
                )
        head = self.head()
        assert head is not None
        return head

    def restore(self, paths: Sequence[str]) -> None:
        """Put paths back as HEAD has them, in the index and the working tree."""
        if not paths:
            return
        self.run("reset", "-q", "--", *paths, check=False)
        tracked = self.run("ls-files", "-z", "--", *paths).stdout.decode().split("\0")
        tracked = [p for p in tracked if p]
        if tracked:
            self.run("checkout", "-q", "HEAD", "--", *tracked, check=False)

    def store_blobs_later(self, blobs: Sequence[bytes]) -> None:
        """Store ``blobs`` in one pack that git writes and indexes (``git fast-import``), on a thread
        of its own while the caller writes the working tree; ``commit`` waits for it (they are its blobs)."""
        import threading

        thread = threading.Thread(target=self.store_blobs, args=(list(blobs),), daemon=True)
        thread.start()
        self._background.append(thread)

    def wait_background(self) -> None:
        while self._background:
            self._background.pop().join()

    def store_blobs(self, blobs: Sequence[bytes]) -> bool:
        """Store blobs as one pack, written and indexed by ``git fast-import``: two files, not one
        loose object per blob.

        Bulk commands rewrite up to every record head; committing them would make git compress
        each one and write it as a loose object (~1,000 small files, and enough of them that a few
        bulk commands set off ``git gc --auto``). Fed the blobs first, ``git commit`` finds every one
        stored and only hashes the files. ``--depth=0``: no deltas (successive heads are different
        records' and share nothing); ``pack.compression=0``: stored, not deflated (a head is mostly
        base64 ciphertext, which deflate shrinks by ~25 %, and ``git gc`` repacks the packs anyway).
        Measured on 1,000 heads of 13 KB: 0.25 s that way against ~0.5 s with git's defaults. Works in
        SHA-1 and SHA-256 repositories alike. Fewer blobs than ``fastimport.unpackLimit`` (100) git
        stores loose. Only ever an optimisation: on failure git stores the blobs itself as it commits.
        """
        if not blobs:
            return True
        stream = b"".join(b"blob\ndata %d\n%s\n" % (len(b), b) for b in blobs)
        proc = self.run("-c", "pack.compression=0", "fast-import", "--quiet", "--depth=0", input=stream, check=False)
        return proc.returncode == 0

    def grep_files(self, needle: str, path: str, *, commit: Optional[str] = None) -> list[str]:
        """Files under ``path`` holding ``needle``: in ``commit``'s objects, or the working tree."""
        proc = self.run("grep", "-l", "-F", "-e", needle, *([commit] if commit else []), "--", path, check=False)
        lines = [line for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines() if line]
        if commit:
            lines = [line[len(commit) + 1:] if line.startswith(commit + ":") else line for line in lines]
        return lines


def ensure_repository(root: Path) -> Git:
    dotgit = root / ".git"
    # A cheap stat, not a git call: an empty or gutted .git folder (no HEAD) is no repository either.
    if not dotgit.exists() or (dotgit.is_dir() and not (dotgit / "HEAD").is_file()):
        raise VaultStateError(
            f"{root} is not a git repository",
            "a vault is a git repository: restore it from a backup or clone, or make a new one with 'confide init'",
        )
    return Git(root)
