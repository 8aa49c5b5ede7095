"""``git diff-tree`` started before its result is needed (``gitlog.diff_tree``'s process, read later).

The check before a command after a colleague's commit waits for a ``git diff-tree``
of those few commits; started first (``DiffTree``), git's start-up (~3 ms on a busy
machine) overlaps the caller's work in between (``services.verify`` reads the
holder's names cache meanwhile).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

from vault_cli.adapters.gitlog import _parse_raw_diff
from vault_cli.adapters.gitstore import git_binary, git_env
from vault_cli.errors import ExternalError

ARGS = ("diff-tree", "--stdin", "-r", "-z", "--raw", "--no-renames", "--always", "--root")  # as gitlog.diff_tree


class DiffTree:
    """``gitlog.diff_tree(root, commits, modes)`` as ``DiffTree(root, commits).result(modes)``, its process
    started at once; ``close`` ends one whose result was never asked for."""

    def __init__(self, root: Path, commits: list[tuple[str, list]]) -> None:
        self.lines = "".join(f"{c} {ps[0]}\n" if ps else f"{c}\n" for c, ps in commits).encode()
        self.proc: Optional[subprocess.Popen] = None
        if commits:
            self.proc = subprocess.Popen([git_binary(), "-C", str(root), *ARGS], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env())

    def result(self, modes: Optional[dict] = None) -> dict[str, list]:
        proc, self.proc = self.proc, None
        if proc is None:
            return {}
        out, err = proc.communicate(self.lines)  # the input is written now: no pipe fills while the caller works
        if proc.returncode != 0:
            first = err.decode("utf-8", "replace").strip().splitlines()[:1]
            raise ExternalError(f"git diff-tree failed: {first[0] if first else proc.returncode}",
                                "check the vault with: git status")
        return _parse_raw_diff(out, multi=True, modes=modes)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


__all__ = ["DiffTree"]
