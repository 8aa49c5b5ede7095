"""Running git, and what commits changed: ``run``, ``diff_tree``, ``diff_paths`` (``gitlog`` gives them too).

``DiffTree`` starts ``diff_tree``'s process before its result is needed: the check
before a command after a colleague's commit waits for a ``git diff-tree`` of those
few commits, and git's start-up (~3 ms on a busy machine) then overlaps the
caller's work in between (``services.verify`` reads the holder's names cache meanwhile).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

from vault_cli.adapters.gitstore import git_binary, git_env
from vault_cli.errors import ExternalError

ARGS = ("diff-tree", "--stdin", "-r", "-z", "--raw", "--no-renames", "--always", "--root")  # as diff_tree


def run(root: Path, *args: str, input: Optional[bytes] = None, check: bool = True) -> bytes:
    proc = subprocess.run([git_binary(), "-C", str(root), *args], input=input, capture_output=True, env=git_env())
    if check and proc.returncode != 0:
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise ExternalError(f"git {args[0]} failed: {first[0] if first else proc.returncode}", "check the vault with: git status")
    return proc.stdout


def diff_tree(root: Path, commits: list[tuple[str, list]], modes: Optional[dict] = None) -> dict[str, list]:
    """Changed files of each commit against its first parent: {sha: [(path, old blob, new blob)]}.

    With ``modes`` (a dict), also fills ``modes[sha]`` with [(path, new mode)] of every change,
    for checks of the tree's shape (a vault holds regular files only, each path once). ``gitdiff.DiffTree``
    starts the same process before its result is needed."""
    if not commits:
        return {}
    lines = "".join(f"{c} {ps[0]}\n" if ps else f"{c}\n" for c, ps in commits).encode()
    out = run(root, *ARGS, input=lines)
    return _parse_raw_diff(out, multi=True, modes=modes)


def diff_paths(root: Path, old: str, new: str) -> list[tuple[str, Optional[str], Optional[str]]]:
    """Files that differ between two commits (or trees): [(path, old blob, new blob)]."""
    out = run(root, "diff-tree", "-r", "-z", "--raw", "--no-renames", old, new)
    return _parse_raw_diff(out, multi=False).get("", [])


def _parse_raw_diff(out: bytes, *, multi: bool, modes: Optional[dict] = None) -> dict[str, list]:
    result: dict[str, list] = {}
    tokens = out.split(b"\0")
    current = "" if not multi else None
    if not multi:
        result[""] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if not t:
            i += 1
            continue
        if t.startswith(b":"):
            meta = t[1:].decode().split()
            path = tokens[i + 1].decode("utf-8", "surrogateescape")
            old, new = meta[2], meta[3]
            assert current is not None  # with several commits, git prints each one's id before its changes
            result[current].append((path, None if set(old) == {"0"} else old, None if set(new) == {"0"} else new))
            if modes is not None:
                modes.setdefault(current, []).append((path, meta[1]))
            i += 2
            continue
        current = t.decode().strip().split()[0]
        result.setdefault(current, [])
        i += 1
    return result


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


__all__ = ["DiffTree", "run", "diff_tree", "diff_paths"]
