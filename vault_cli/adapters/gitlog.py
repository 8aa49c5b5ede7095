"""Reading git history: commits, their changes and their objects, for verify, audit and the trust checks.

Everything here runs the ``git`` binary directly: one ``git rev-list``, one
``git diff-tree --stdin`` and one ``git cat-file --batch`` process serve a walk
over any number of commits, where GitPython makes a round trip per commit or
starts a process per commit. Measured with ``benchmarks/bench_gitpython.py``
(10,000 commits, on 2 busy cores, medians): every commit's raw bytes, as
``audit`` and ``verify`` parse them, 440 ms through ``rev_list`` + ``StreamCat``
against 690 ms through GitPython's ``iter_commits`` + ``odb.stream`` (1.6x), plus
GitPython's import (86-350 ms); the files each commit changed, as ``verify``
checks them, 0.5 s for 500 commits through one ``diff_tree`` against 12.5 s
through ``Commit.diff`` (26x). GitPython 3 cannot read SHA-256 repositories at
all; this works in SHA-1 and SHA-256 alike (object ids of 40 or 64 hex digits).
Repository-level work goes through GitPython in ``gitrepo``.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from vault_cli.adapters import signing
from vault_cli.adapters.gitstore import git_binary, git_env
from vault_cli.errors import ExternalError, UsageError

_TRAILER = re.compile(r"^(Confide-[A-Za-z-]+):\s*(.*)$")


def run(root: Path, *args: str, input: Optional[bytes] = None, check: bool = True) -> bytes:
    proc = subprocess.run([git_binary(), "-C", str(root), *args], input=input, capture_output=True, env=git_env())
    if check and proc.returncode != 0:
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise ExternalError(f"git {args[0]} failed: {first[0] if first else proc.returncode}", "check the vault with: git status")
    return proc.stdout


class CatFile:
    """One ``git cat-file --batch`` process for every object of a walk (``--batch-check`` with ``check``:
    object ids and types only, for names such as ``COMMIT:PATH``)."""

    def __init__(self, root: Path, *, check: bool = False) -> None:
        mode = "--batch-check" if check else "--batch"
        self.proc = subprocess.Popen([git_binary(), "-C", str(root), "cat-file", mode], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=git_env())

    def _header(self, name: str) -> Optional[list]:
        assert self.proc.stdin and self.proc.stdout
        if "\n" in name:
            return None
        self.proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline()
        if not header or header.endswith((b" missing\n", b" ambiguous\n")):
            return None
        return header.split()

    def get(self, name: str) -> Optional[bytes]:
        header = self._header(name)
        if header is None:
            return None
        assert self.proc.stdout
        return self.proc.stdout.read(int(header[2]) + 1)[:-1]

    def get_typed(self, name: str) -> tuple[Optional[str], Optional[bytes]]:
        """(object type, contents) of ``name``, or (None, None)."""
        header = self._header(name)
        if header is None:
            return None, None
        assert self.proc.stdout
        return header[1].decode(), self.proc.stdout.read(int(header[2]) + 1)[:-1]

    def oid(self, name: str) -> Optional[str]:
        """The object id ``name`` resolves to (a ``check`` process), None when there is none."""
        header = self._header(name)
        return header[0].decode() if header else None

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:  # pragma: no cover
            self.proc.kill()


class StreamCat:
    """``git cat-file --batch`` fed a known list of names by a thread: no round trip per object."""

    def __init__(self, root: Path, names: list) -> None:
        self.proc = subprocess.Popen([git_binary(), "-C", str(root), "cat-file", "--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=git_env(), bufsize=1 << 20)
        data = "".join(n + "\n" for n in names).encode()

        def feed() -> None:
            try:
                assert self.proc.stdin
                self.proc.stdin.write(data)
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

        self.thread = threading.Thread(target=feed, daemon=True)
        self.thread.start()

    def next(self) -> Optional[bytes]:
        assert self.proc.stdout
        header = self.proc.stdout.readline()
        if not header or header.endswith(b" missing\n"):
            return None
        size = int(header.split()[2])
        return self.proc.stdout.read(size + 1)[:-1]

    def close(self) -> None:
        try:
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc.wait(timeout=10)
        except Exception:  # pragma: no cover
            self.proc.kill()


class CommitTree:
    """The files of one commit, read from git's object store, never from the working tree.

    Commands read the vault as its verified commit holds it (``vault_cli.trust``):
    a file edited, added or put back in the working tree by hand is not what they
    act on. One ``git cat-file --batch`` per process (forked workers start their own).
    """

    def __init__(self, root: Path, commit: str) -> None:
        self.root = root
        self.commit = commit
        self._cat: Optional[CatFile] = None
        self._pid = 0
        self._id_bytes = 32 if len(commit) == 64 else 20
        self._oids: dict = {}  # path -> blob id, from the folders listed: read by id, not by path

    def _catfile(self) -> CatFile:
        import os

        if self._cat is None or self._pid != os.getpid():
            self._cat = CatFile(self.root)
            self._pid = os.getpid()
        return self._cat

    def read(self, path: str) -> Optional[bytes]:
        """The file's bytes, or None when the commit has no such file."""
        # By id when the folder was listed: git resolves COMMIT:PATH by walking the trees for each
        # name (inflating the 2,000-entry records tree every time), ~6x the cost of the read itself.
        kind, data = self._catfile().get_typed(self._oids.get(path) or f"{self.commit}:{path}")
        return data if kind == "blob" else None

    def list(self, folder: str) -> list[str]:
        """Names of the files directly in ``folder`` (from the tree object itself)."""
        kind, data = self._catfile().get_typed(f"{self.commit}:{folder}")
        if kind != "tree" or data is None:
            return []
        names, i, n = [], 0, len(data)
        while i < n:
            sp = data.index(b" ", i)
            nul = data.index(b"\0", sp)
            mode = data[i:sp]
            if not mode.startswith(b"4") and mode != b"160000":  # files, not folders or submodules
                name = data[sp + 1:nul].decode("utf-8", "surrogateescape")
                names.append(name)
                self._oids[f"{folder}/{name}"] = data[nul + 1:nul + 1 + self._id_bytes].hex()
            i = nul + 1 + self._id_bytes
        return names

    def blob_id(self, path: str) -> Optional[str]:
        """The blob id of a file in a folder already listed (``list``), else None."""
        return self._oids.get(path)

    def close(self) -> None:
        if self._cat is not None:
            self._cat.close()
            self._cat = None


@dataclass
class CommitInfo:
    sha: str
    tree: str
    parents: list
    author: str
    author_email: str
    time: int
    tz: str
    message: str
    trailers: dict
    sig: signing.SigInfo
    committed: int = 0  # the committer's time (``time`` is the author's)

    @property
    def action(self) -> Optional[str]:
        return self.trailers.get("Confide-Action")

    @property
    def claimed(self) -> str:
        return self.trailers.get("Confide-Holder") or self.author

    @property
    def when(self) -> dt.datetime:
        sign = -1 if self.tz.startswith("-") else 1
        off = dt.timedelta(hours=int(self.tz[1:3]), minutes=int(self.tz[3:5])) * sign
        return dt.datetime.fromtimestamp(self.time, dt.timezone(off))

    def trailer_list(self, name: str) -> list[str]:
        return (self.trailers.get(name) or "").split()


def parse_commit(sha: str, raw: bytes) -> CommitInfo:
    head, _, body = raw.partition(b"\n\n")
    tree, parents, author, email, when, tz = "", [], "", "", 0, "+0000"
    committed = 0
    for line in head.split(b"\n"):
        if line.startswith(b"tree "):
            tree = line[5:].decode("ascii", "replace")
        elif line.startswith(b"parent "):
            parents.append(line[7:].decode("ascii", "replace"))
        elif line.startswith(b"author "):
            text = line[7:].decode("utf-8", "replace")
            m = re.match(r"^(.*) <([^>]*)> (\d+) ([+-]\d{4})$", text)
            if m:
                author, email, when, tz = m.group(1), m.group(2), int(m.group(3)), m.group(4)
        elif line.startswith(b"committer "):
            cm = re.search(rb" (\d+) [+-]\d{4}$", line)
            committed = int(cm.group(1)) if cm else 0
    message = body.decode("utf-8", "replace")
    trailers: dict = {}
    for text_line in message.splitlines():
        tm = _TRAILER.match(text_line.strip())
        if tm and tm.group(1) not in trailers:
            trailers[tm.group(1)] = tm.group(2).strip()
    return CommitInfo(sha, tree, parents, author, email, when, tz, message, trailers, signing.verify_commit(raw),
                      committed)


def resolve_rev(root: Path, rev: str, field: str) -> str:
    """The commit ``rev`` names; a usage error naming ``field`` (what the user gave it as) when none."""
    proc = subprocess.run([git_binary(), "-C", str(root), "rev-parse", "--verify", "-q", rev + "^{commit}"],
                          capture_output=True, env=git_env())
    if proc.returncode != 0:
        raise UsageError(f"{{0}} {rev[:60]} is not a commit of this vault", "give a commit id, tag or branch, e.g. {0} HEAD~10",
                         fields=(field,))
    return proc.stdout.decode().strip()


def rev_list(root: Path, tip: str, exclude: Sequence[str] = (), reverse: bool = True) -> list[tuple[str, list]]:
    """(commit, parents) reachable from ``tip`` and not from any of ``exclude``, parents first (``reverse``)."""
    args = ["rev-list", "--topo-order", "--parents", tip, *("^" + e for e in exclude)]
    if reverse:
        args.insert(1, "--reverse")
    out = []
    for line in run(root, *args).decode().splitlines():
        parts = line.split()
        if parts:
            out.append((parts[0], parts[1:]))
    return out


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    proc = subprocess.run([git_binary(), "-C", str(root), "merge-base", "--is-ancestor", older, newer],
                          capture_output=True, env=git_env())
    return proc.returncode == 0


def merge_base(root: Path, a: str, b: str) -> Optional[str]:
    out = run(root, "merge-base", a, b, check=False).decode().strip()
    return out or None


def merge_bases(root: Path, a: str, b: str) -> list[str]:
    """Every best common ancestor of ``a`` and ``b`` (several after a criss-cross merge)."""
    return run(root, "merge-base", "--all", a, b, check=False).decode().split()


def holders_acting(root: Path, base: str, tip: str) -> set[str]:
    """The holders (``Confide-Holder`` trailers) who made the commits in ``base..tip``."""
    out = run(root, "log", "--format=%(trailers:key=Confide-Holder,valueonly,separator=%x2C)", f"{base}..{tip}")
    return {name.strip() for line in out.decode("utf-8", "replace").splitlines() for name in line.split(",")
            if name.strip()}


def diff_tree(root: Path, commits: list[tuple[str, list]], modes: Optional[dict] = None) -> dict[str, list]:
    """Changed files of each commit against its first parent: {sha: [(path, old blob, new blob)]}.

    With ``modes`` (a dict), also fills ``modes[sha]`` with [(path, new mode)] of every change,
    for checks of the tree's shape (a vault holds regular files only, each path once)."""
    if not commits:
        return {}
    lines = "".join(f"{c} {ps[0]}\n" if ps else f"{c}\n" for c, ps in commits).encode()
    out = run(root, "diff-tree", "--stdin", "-r", "-z", "--raw", "--no-renames", "--always", "--root", input=lines)
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


def tree_files(root: Path, commit: str, folder: Optional[str] = None) -> dict[str, str]:
    """{path: blob id} of the files of ``commit`` (at the top, or in ``folder``), from one ``git ls-tree``."""
    args = ["ls-tree", "-z", commit] + ([folder + "/"] if folder else [])
    out: dict[str, str] = {}
    for item in run(root, *args).split(b"\0"):
        if not item:
            continue
        meta, _, name = item.partition(b"\t")
        parts = meta.split()
        if parts[1] == b"blob":
            out[name.decode("utf-8", "surrogateescape")] = parts[2].decode()
    return out


__all__ = ["CatFile", "CommitTree", "StreamCat", "CommitInfo", "parse_commit", "resolve_rev", "rev_list", "diff_tree", "diff_paths",
           "tree_files", "is_ancestor", "merge_base", "merge_bases", "holders_acting", "run"]
