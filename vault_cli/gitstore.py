"""The git adapter: paths and bytes in, commits out.

The hot path (one commit per command) runs the ``git`` binary directly: it is
what signs commits (``gpg.format=ssh``) and what a user's own git will read,
and importing GitPython costs ~30 ms on every command. GitPython is used where
its object model pays for that: walking history (see ``history``) and creating
repositories.

Every git call runs with a fixed environment: no pager, no prompts, the
author and committer set to the acting holder, and stdout captured so nothing
but confide's own results reaches the user's stdout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from .errors import ExternalError, VaultStateError

TRACKED = ("confide.yaml", "holders.yaml", "allowed_signers", ".gitattributes", ".gitignore", "records")


def _git_binary() -> str:
    git = shutil.which("git")
    if not git:
        raise ExternalError("git is not installed or not on PATH", "install git (apt-get install git) and try again")
    return git


def holder_email(name: str) -> str:
    return f"{name}@holders.confide.invalid"


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._bin = _git_binary()

    def run(
        self,
        *args: str,
        input: Optional[bytes] = None,
        env: Optional[dict] = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        full_env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"})
        if env:
            full_env.update(env)
        proc = subprocess.run(
            [self._bin, "-C", str(self.root), *args],
            input=input,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
        )
        if check and proc.returncode != 0:
            first = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
            raise ExternalError(
                f"git {args[0]} failed: {first[0] if first else 'exit ' + str(proc.returncode)}",
                "the vault was left as it was; check it with: git status",
            )
        return proc

    def is_repository(self) -> bool:
        proc = self.run("rev-parse", "--show-toplevel", check=False)
        if proc.returncode != 0:
            return False
        return Path(proc.stdout.decode().strip()).resolve() == self.root.resolve()

    def head(self) -> Optional[str]:
        proc = self.run("rev-parse", "--verify", "-q", "HEAD", check=False)
        return proc.stdout.decode().strip() or None

    def dirty_paths(self, paths: Sequence[str] = TRACKED) -> list[str]:
        proc = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
        items = [p for p in proc.stdout.decode("utf-8", "replace").split("\0") if p]
        return [p[3:] for p in items if len(p) > 3]

    def commit(self, paths: Sequence[str], message: str, holder: str, *, removed: Sequence[str] = ()) -> str:
        env = {
            "GIT_AUTHOR_NAME": holder,
            "GIT_AUTHOR_EMAIL": holder_email(holder),
            "GIT_COMMITTER_NAME": holder,
            "GIT_COMMITTER_EMAIL": holder_email(holder),
        }
        if paths:
            self.run("add", "--", *paths, env=env)
        if removed:
            self.run("rm", "-q", "--cached", "--ignore-unmatch", "--", *removed, env=env)
        self.run(
            "-c", "commit.gpgsign=false",
            "commit", "-q", "--no-edit", "-F", "-",
            input=message.encode("utf-8"),
            env=env,
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

    def grep_files(self, needle: str, path: str) -> list[str]:
        proc = self.run("grep", "-l", "-F", "-e", needle, "--", path, check=False)
        return [line for line in proc.stdout.decode().splitlines() if line]


def init_repository(root: Path) -> Git:
    git = Git(root)
    proc = git.run("init", "-q", "-b", "main", check=False)
    if proc.returncode != 0:
        proc = git.run("init", "-q")
    return git


def ensure_repository(root: Path) -> Git:
    if not (root / ".git").exists():
        raise VaultStateError(
            f"{root} is not a git repository",
            "a vault is a git repository: restore it from a backup or clone, or make a new one with 'confide init'",
        )
    return Git(root)
