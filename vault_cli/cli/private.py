"""Private folders for plaintext that an editor must see, and sweeping up those a killed confide left.

``child edit`` (``cli.editor``) writes a profile in the clear for the editor to
open; it does so in a folder of its own, mode 0700, in memory-backed storage,
and removes it afterwards, also after ^C, SIGHUP or SIGTERM. Only SIGKILL (or a
power cut) can stop that clean-up; so every confide command, of any kind, first
removes what a killed one left (``sweep_stale``, called by ``ConfideGroup.main``).

A folder is named ``confide-edit-<pid>-<random>``. While its confide runs, it
holds an exclusive ``flock`` on ``owner.lock`` inside it; the lock file appears
(by a rename) only once it is locked, and the kernel releases the lock when its
process dies, however it dies. The editor does not inherit the lock (confide's
file descriptors are not inheritable), so an editor left running by a killed
confide does not keep the plaintext alive. A folder is stale, and removed, when
its lock can be taken; a folder with no lock yet (its confide was killed between
creating it and locking it) is stale when the pid in its name is gone. Only the
current user's folders are looked at. This module is imported on every run, so
it stays small: no vault, no typer.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "confide-edit-"
LOCK = "owner.lock"


def _places(shm: str, tmp: str) -> list[str]:
    """Where private folders may be: the memory-backed folder, and the temp folder."""
    out = []
    for p in (shm, tmp):
        try:
            real = os.path.realpath(p)
        except OSError:
            continue
        if real not in out:
            out.append(real)
    return out


@contextmanager
def folder(where: str) -> Iterator[Path]:
    """A new private folder (mode 0700) in ``where``, locked as this process's for as long as it exists."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=where))
    fd = -1
    try:
        os.chmod(path, 0o700)
        tmp = path / (LOCK + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(tmp, path / LOCK)  # visible under its name only once it is held
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if fd >= 0:
            os.close(fd)


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's: not ours to judge
    return False


def _stale(path: str, name: str) -> bool:
    lock = os.path.join(path, LOCK)
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        pid = name[len(PREFIX):].split("-", 1)[0] if name.startswith(PREFIX) else name.split("-")[1]
        return pid.isdigit() and _pid_gone(int(pid))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: its confide is alive
    finally:
        os.close(fd)
    return True


def _legacy(name: str) -> bool:
    """``confide-<pid>-...``: the name folders had before the lock (swept by their pid alone)."""
    parts = name.split("-")
    return len(parts) >= 3 and parts[0] == "confide" and parts[1].isdigit()


def sweep_stale(shm: str, tmp: str) -> list[str]:
    """Remove the current user's private folders (in ``shm`` and ``tmp``) whose confide is gone; the paths removed."""
    removed = []
    uid = os.getuid()
    for place in _places(shm, tmp):
        try:
            entries = [e for e in os.scandir(place) if e.name.startswith(PREFIX) or _legacy(e.name)]
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
            except OSError:
                continue
            if _stale(entry.path, entry.name):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
    return removed
