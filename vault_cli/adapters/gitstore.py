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


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._bin = git_binary()
        self._background: list = []  # store_packed threads, joined by commit

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
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
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

    def object_format(self) -> Optional[str]:
        proc = self.run("rev-parse", "--show-object-format", check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def store_packed(self, entries: Sequence[tuple]) -> None:
        """``write_pack`` on a thread of its own, while the caller writes the working tree;
        ``commit`` waits for it (its blobs are the commit's)."""
        import threading

        thread = threading.Thread(target=self.write_pack, args=(list(entries),), daemon=True)
        thread.start()
        self._background.append(thread)

    def wait_background(self) -> None:
        while self._background:
            self._background.pop().join()

    def write_pack(self, entries: Sequence[tuple]) -> bool:
        """Store blobs as one pack: two files, not one loose object per blob.

        ``entries`` come from ``pack_entry`` (object id, CRC-32, pack entry),
        made in the workers of a bulk command. This writes the pack and its
        index (version 2) as ``git index-pack`` would, without making git
        inflate and hash every object again on one core (~0.1 s for 1,000
        heads, all of it on the command's critical path). Each file is written
        to a temporary name, fsynced and renamed; the index last, since git
        sees a pack only through its index. Only ever an optimisation: on any
        failure nothing is left behind and git stores the blobs itself when it
        commits. The tests run ``git verify-pack`` and ``git fsck`` on it.
        """
        import hashlib
        import struct

        unique = {oid: (crc, entry) for oid, crc, entry in entries}
        if not unique:
            return True
        packdir = self.objects_dir() / "pack"
        header = b"PACK" + struct.pack(">II", 2, len(unique))
        digest = hashlib.sha1(header)
        offsets: dict = {}
        at = len(header)
        chunks = [header]
        for oid, (_crc, entry) in unique.items():
            offsets[oid] = at
            at += len(entry)
            chunks.append(entry)
            digest.update(entry)
        if at >= 1 << 31:  # 4-byte offsets only; a bulk change of heads is nowhere near 2 GB
            return False
        pack_sum = digest.digest()
        chunks.append(pack_sum)
        ordered = sorted(unique)
        fanout = [0] * 256
        for oid in ordered:
            fanout[int(oid[:2], 16)] += 1
        total = 0
        for i in range(256):
            total += fanout[i]
            fanout[i] = total
        idx = b"".join([
            b"\xfftOc", struct.pack(">I", 2), struct.pack(">256I", *fanout),
            b"".join(bytes.fromhex(oid) for oid in ordered),
            b"".join(struct.pack(">I", unique[oid][0]) for oid in ordered),
            b"".join(struct.pack(">I", offsets[oid]) for oid in ordered),
            pack_sum,
        ])
        idx += hashlib.sha1(idx).digest()
        name = "pack-" + pack_sum.hex()
        if (packdir / (name + ".idx")).exists():  # the very same pack is already there
            return True
        written = []
        try:
            packdir.mkdir(parents=True, exist_ok=True)
            # Both written and flushed under temporary names first (which recovery removes after a
            # crash), then renamed: the pack, then its index, which is what makes git see it.
            for suffix, data in ((".pack", b"".join(chunks)), (".idx", idx)):
                tmp = packdir / f"tmp_confide_{os.getpid()}{suffix}"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
                written.append(tmp)
                try:
                    view, done = memoryview(data), 0
                    while done < len(data):
                        done += os.write(fd, view[done:])
                    os.fsync(fd)
                finally:
                    os.close(fd)
            for i, suffix in enumerate((".pack", ".idx")):
                final = packdir / (name + suffix)
                os.replace(written[i], final)
                written[i] = final
            dfd = os.open(packdir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            # git's own reading of it, as a guard: every object found through the index, at an
            # offset whose header says blob and the right size (~10 ms; off the critical path)
            listing = "".join(oid + "\n" for oid in ordered).encode()
            proc = self.run("cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)", input=listing,
                            check=False)
            seen = proc.stdout.decode("ascii", "replace").split("\n")[:-1]
            if proc.returncode != 0 or seen != [f"{oid} blob {_entry_size(unique[oid][1])}" for oid in ordered]:
                raise OSError("the pack written does not read back as written")
            return True
        except OSError:
            for path in reversed(written):  # the index first: a pack without one is invisible to git
                try:
                    path.unlink()
                except OSError:
                    pass
            return False

    def objects_dir(self) -> Path:
        plain = self.root / ".git" / "objects"
        if plain.is_dir() and not os.environ.get("GIT_OBJECT_DIRECTORY"):  # the usual layout: no git process
            return plain
        proc = self.run("rev-parse", "--git-path", "objects")
        path = Path(proc.stdout.decode().strip())
        return path if path.is_absolute() else self.root / path

    def grep_files(self, needle: str, path: str, *, commit: Optional[str] = None) -> list[str]:
        """Files under ``path`` holding ``needle``: in ``commit``'s objects, or the working tree."""
        proc = self.run("grep", "-l", "-F", "-e", needle, *([commit] if commit else []), "--", path, check=False)
        lines = [line for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines() if line]
        if commit:
            lines = [line[len(commit) + 1:] if line.startswith(commit + ":") else line for line in lines]
        return lines


def init_repository(root: Path, object_format: str = "sha1") -> Git:
    git = Git(root)
    fmt = [f"--object-format={object_format}"] if object_format != "sha1" else []
    proc = git.run("init", "-q", "-b", "main", *fmt, check=False)
    if proc.returncode != 0:
        proc = git.run("init", "-q", *fmt)
    return git


def ensure_repository(root: Path) -> Git:
    dotgit = root / ".git"
    # A cheap stat, not a git call: an empty or gutted .git folder (no HEAD) is no repository either.
    if not dotgit.exists() or (dotgit.is_dir() and not (dotgit / "HEAD").is_file()):
        raise VaultStateError(
            f"{root} is not a git repository",
            "a vault is a git repository: restore it from a backup or clone, or make a new one with 'confide init'",
        )
    return Git(root)


def pack_entry(data: bytes) -> tuple[str, int, bytes]:
    """A blob as an entry of a git pack, for ``Git.store_packed``: (object id, CRC-32 of the entry, entry).

    The entry is the object header (type blob, size) and the zlib stream. Pure
    computation, so the workers of a bulk command make these in parallel.
    """
    import hashlib
    import zlib

    digest = hashlib.sha1(b"blob %d\0" % len(data))
    digest.update(data)
    n = len(data)
    byte = (3 << 4) | (n & 15)  # type 3: blob; the size's low four bits
    n >>= 4
    out = bytearray()
    while n:
        out.append(byte | 0x80)
        byte = n & 0x7F
        n >>= 7
    out.append(byte)
    entry = bytes(out) + zlib_stored(data)
    return digest.hexdigest(), zlib.crc32(entry), entry


def zlib_stored(data: bytes) -> bytes:
    """``data`` as a zlib stream of stored (not deflated) blocks: RFC 1950 around RFC 1951 type-0 blocks.

    Bulk commands store heads this way: a head is mostly base64 ciphertext, which
    deflate shrinks by only ~40% for ~0.17 ms a head (a sixth of a bulk command's
    CPU), and ``git gc`` (auto, at 50 packs) delta-compresses successive versions
    of each head anyway. ``zlib.compress(data, 0)`` writes the same kind of
    stream but takes ~8x as long.
    """
    import struct
    import zlib

    parts = [b"\x78\x01"]  # deflate, 32 KB window, no dictionary; (0x78 << 8 | 0x01) % 31 == 0
    at, n = 0, len(data)
    while True:
        chunk = data[at:at + 0xFFFF]
        at += len(chunk)
        last = at >= n
        parts.append(struct.pack("<BHH", 1 if last else 0, len(chunk), len(chunk) ^ 0xFFFF))
        parts.append(chunk)
        if last:
            break
    parts.append(struct.pack(">I", zlib.adler32(data)))
    return b"".join(parts)


def _entry_size(entry: bytes) -> int:
    """The object size a pack entry's header gives (the inverse of ``pack_entry``'s header)."""
    byte = entry[0]
    size, shift, i = byte & 15, 4, 1
    while byte & 0x80:
        byte = entry[i]
        size |= (byte & 0x7F) << shift
        shift += 7
        i += 1
    return size
