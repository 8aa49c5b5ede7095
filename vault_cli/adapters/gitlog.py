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
from vault_cli.adapters.gitdiff import diff_paths, diff_tree, run  # given here too, to every caller of gitlog
from vault_cli.adapters.gitstore import git_binary, git_env
from vault_cli.errors import UsageError

_TRAILER = re.compile(r"^(Confide-[A-Za-z-]+):\s*(.*)$")
_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def parse_tree(data: bytes, id_bytes: int, prefix: str = "") -> dict[str, str]:
    """{prefix + name: blob id} of the files (not folders or submodules) in a raw tree object, as
    ``git ls-tree`` lists them as blobs."""
    out: dict[str, str] = {}
    i, n = 0, len(data)
    while i < n:
        sp = data.index(b" ", i)
        nul = data.index(b"\0", sp)
        mode = data[i:sp]
        if not mode.startswith(b"4") and mode != b"160000":
            out[prefix + data[sp + 1:nul].decode("utf-8", "surrogateescape")] = data[nul + 1:nul + 1 + id_bytes].hex()
        i = nul + 1 + id_bytes
    return out


class CatFile:
    """One ``git cat-file --batch`` process for every object of a walk (``--batch-check`` with ``check``:
    object ids and types only, for names such as ``COMMIT:PATH``), started at the first question."""

    # Objects never change, so what was read by id (or a folder of a commit named by its id) is kept: the trust
    # check and the command share the big entries files and the records folder's listing, read and parsed once.
    KEEP_FROM, KEEP_BLOBS = 16 * 1024, 8  # the last 8 blobs of 16 KB or more (small ones cost git little)

    def __init__(self, root: Path, *, check: bool = False) -> None:
        self.root = root
        self.check = check
        self._proc: Optional[subprocess.Popen] = None
        self._blobs: dict[str, tuple[str, bytes]] = {}  # object id -> (type, contents), the last KEEP_BLOBS big ones
        self._listings: dict[str, dict[str, str]] = {}  # 'COMMIT:FOLDER' (COMMIT an id) -> files()

    def start(self) -> None:
        """Start the process now rather than at the first question (its start-up then overlaps other work)."""
        _ = self.proc

    @property
    def proc(self) -> subprocess.Popen:
        if self._proc is None:
            mode = "--batch-check" if self.check else "--batch"
            self._proc = subprocess.Popen([git_binary(), "-C", str(self.root), "cat-file", mode], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, env=git_env())
        return self._proc

    def _header(self, name: str) -> Optional[list]:
        if "\n" in name:
            return None
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline()
        if not header or header.endswith((b" missing\n", b" ambiguous\n")):
            return None
        return header.split()

    def get(self, name: str) -> Optional[bytes]:
        return self.get_typed(name)[1]

    def get_typed(self, name: str) -> tuple[Optional[str], Optional[bytes]]:
        """(object type, contents) of ``name``, or (None, None)."""
        kept = self._blobs.get(name)
        if kept is not None:
            return kept
        header = self._header(name)
        if header is None:
            return None, None
        assert self.proc.stdout
        kind, data = header[1].decode(), self.proc.stdout.read(int(header[2]) + 1)[:-1]
        if len(data) >= self.KEEP_FROM and not self.check and _OID.fullmatch(name):
            self._keep(name, (kind, data))
        return kind, data

    def get_many(self, names: list[str]) -> list[Optional[bytes]]:
        """``get`` of each name, asked all at once: one round trip to git, not one per object (a few dozen
        ids, whose few KB of questions never fill the pipe while git answers)."""
        # what is kept is taken now: reading the others may let a kept one go (KEEP_BLOBS)
        kept = {n: self._blobs[n][1] for n in names if n in self._blobs}
        todo = list(dict.fromkeys(n for n in names if n not in kept))
        ask = "".join(n + "\n" for n in todo).encode("utf-8", "surrogateescape")
        if any("\n" in n for n in todo) or len(ask) > 32 * 1024:
            return [self.get(n) for n in names]
        got: dict[str, Optional[bytes]] = {}
        if todo:
            assert self.proc.stdin and self.proc.stdout
            self.proc.stdin.write(ask)
            self.proc.stdin.flush()
            for n in todo:
                header = self.proc.stdout.readline()
                if not header or header.endswith((b" missing\n", b" ambiguous\n")):
                    got[n] = None
                    continue
                fields = header.split()
                got[n] = self.proc.stdout.read(int(fields[2]) + 1)[:-1]
                if len(got[n] or b"") >= self.KEEP_FROM and not self.check and _OID.fullmatch(n):
                    self._keep(n, (fields[1].decode(), got[n] or b""))
        return [got[n] if n in got else kept[n] for n in names]

    def _keep(self, name: str, obj: tuple[str, bytes]) -> None:
        if len(self._blobs) >= self.KEEP_BLOBS:
            del self._blobs[next(iter(self._blobs))]
        self._blobs[name] = obj

    def listed(self, commit: str, folder: str) -> Optional[dict[str, str]]:
        """``files(commit, folder)`` when this reader has already read it (``commit`` an id), else None."""
        return self._listings.get(f"{commit}:{folder}")

    def oid(self, name: str) -> Optional[str]:
        """The object id ``name`` resolves to, None when there is none (a ``--batch`` process reads
        the object and drops it: one process serves both, where a second would cost more)."""
        return (self.info(name) or (None, None))[0]

    def info(self, name: str) -> Optional[tuple[str, str]]:
        """(object id, type) of ``name``, or None when there is none."""
        header = self._header(name)
        if header is None:
            return None
        if not self.check:
            assert self.proc.stdout
            self.proc.stdout.read(int(header[2]) + 1)
        return header[0].decode(), header[1].decode()

    def is_commit(self, name: str) -> bool:
        """Does ``name`` (an object id) name a commit in this repository?"""
        got = self.info(name)
        return got is not None and got[1] == "commit"

    def files(self, commit: str, folder: Optional[str] = None) -> dict[str, str]:
        """{path: blob id} of the files of ``commit`` (at the top, or directly in ``folder``): what
        ``tree_files`` gives, read from the tree object through this process instead of a ``git ls-tree``."""
        name = f"{commit}:{folder}" if folder else f"{commit}^{{tree}}"
        if name in self._listings:
            return dict(self._listings[name])
        header = self._header(name)
        if header is None:
            return {}
        assert self.proc.stdout
        data = self.proc.stdout.read(int(header[2]) + 1)[:-1]
        if header[1] != b"tree" or self.check:
            return {}
        files = parse_tree(data, len(header[0]) // 2, folder + "/" if folder else "")
        if folder and _OID.fullmatch(commit):
            self._listings[name] = files
            return dict(files)
        return files

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=10)
        except Exception:  # pragma: no cover
            proc.kill()


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

    def __init__(self, root: Path, commit: str, *, cat: Optional[CatFile] = None) -> None:
        """``cat``: a ``git cat-file --batch`` of the caller's to read through (it stays open on ``close``),
        so the trees a command reads one after another need one process, not one each."""
        import os

        self.root = root
        self.commit = commit
        self._cat: Optional[CatFile] = cat
        self._shared = cat is not None
        self._pid = os.getpid() if cat is not None else 0
        self._id_bytes = 32 if len(commit) == 64 else 20
        self._oids: dict = {}  # path -> blob id, from the folders listed: read by id, not by path

    def _catfile(self) -> CatFile:
        import os

        if self._cat is None or self._pid != os.getpid():
            self._cat = CatFile(self.root)  # a forked worker starts its own
            self._shared = False
            self._pid = os.getpid()
        return self._cat

    def read(self, path: str) -> Optional[bytes]:
        """The file's bytes, or None when the commit has no such file."""
        # By id when the folder was listed: git resolves COMMIT:PATH by walking the trees for each
        # name (inflating the 2,000-entry records tree every time), ~6x the cost of the read itself.
        cat = self._catfile()
        oid = self._oids.get(path)
        if oid is None:
            folder, _, _name = path.rpartition("/")
            listed = cat.listed(self.commit, folder) if folder else None  # the trust check's listing
            if listed is not None:
                if path not in listed:
                    return None  # no file there (a folder, a submodule or nothing), as COMMIT:PATH would say
                oid = listed[path]
        kind, data = cat.get_typed(oid or f"{self.commit}:{path}")
        return data if kind == "blob" else None

    def list(self, folder: str) -> list[str]:
        """Names of the files directly in ``folder`` (from the tree object itself)."""
        kind, data = self._catfile().get_typed(f"{self.commit}:{folder}")
        if kind != "tree" or data is None:
            return []
        files = parse_tree(data, self._id_bytes)  # files, not folders or submodules
        self._oids.update((f"{folder}/{name}", oid) for name, oid in files.items())
        return list(files)

    def blob_id(self, path: str) -> Optional[str]:
        """The blob id of a file in a folder already listed (``list``), else None."""
        return self._oids.get(path)

    def close(self) -> None:
        if self._cat is not None and not self._shared:
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


def rev_list_from(root: Path, tip: str, start: str) -> tuple[list[tuple[str, list]], bool]:
    """``rev_list(root, tip, (start,))`` and whether ``start`` is an ancestor of ``tip``, from one
    ``git rev-list --boundary`` (not a ``git merge-base --is-ancestor`` beside it): ``start`` is an
    ancestor exactly when it is ``tip`` or a parent of a listed commit, which git prints as the boundary."""
    if start == tip:
        return [], True
    out, boundary = [], set()
    for line in run(root, "rev-list", "--reverse", "--topo-order", "--parents", "--boundary", tip, "^" + start).decode().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0].startswith("-"):
            boundary.add(parts[0][1:])
        else:
            out.append((parts[0], parts[1:]))
    return out, start in boundary


def line_since(cat: CatFile, tip: str, start: str, limit: int = 32) -> Optional[list[tuple[str, list]]]:
    """``rev_list(root, tip, (start,))`` read through ``cat`` when ``tip`` is at most ``limit`` commits of one
    parent each ahead of ``start`` (after a colleague's commit or a pull of a few: no ``git rev-list``);
    None for anything else (a merge, a first commit, a longer line, ``start`` not on it). Those commits are
    exactly what is reachable from ``tip`` and not from ``start``, so ``start`` is their ancestor."""
    line: list = []
    sha = tip
    while sha != start:
        if len(line) >= limit:
            return None
        kind, raw = cat.get_typed(sha)
        if kind != "commit" or raw is None:
            return None
        header = raw.split(b"\n\n", 1)[0]
        parents = [h[7:].decode("ascii", "replace") for h in header.split(b"\n") if h.startswith(b"parent ")]
        if len(parents) != 1:
            return None
        line.append((sha, parents))
        sha = parents[0]
    return line[::-1]


def ref_names(root: Path) -> list[str]:
    """The names of every ref (``git for-each-ref --format=%(refname)``), read from the loose ref files
    and ``packed-refs`` when the repository keeps them that way (no process: this runs before every
    command that verifies); anything else (a worktree's ``.git`` file, reftable) asks git."""
    import os

    git_dir = root / ".git" if (root / ".git").is_dir() else root
    refs = git_dir / "refs"
    if (not refs.is_dir() or not (git_dir / "HEAD").is_file() or (git_dir / "reftable").exists()
            or (git_dir / "commondir").exists()):
        return run(root, "for-each-ref", "--format=%(refname)").decode("utf-8", "surrogateescape").splitlines()
    names: set = set()
    for folder, _dirs, files in os.walk(refs):
        rel = os.path.relpath(folder, git_dir).replace(os.sep, "/")
        names.update(f"{rel}/{f}" for f in files if not f.endswith(".lock"))
    try:
        with open(git_dir / "packed-refs", "rb") as fh:
            for line in fh:
                if line.startswith((b"#", b"^")):
                    continue
                _oid, _, name = line.rstrip(b"\n").partition(b" ")
                if name.startswith(b"refs/"):
                    names.add(name.decode("utf-8", "surrogateescape"))
    except FileNotFoundError:
        pass
    return sorted(names)


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
           "tree_files", "parse_tree", "rev_list_from", "line_since", "ref_names", "is_ancestor", "merge_base", "merge_bases",
           "holders_acting", "run"]
