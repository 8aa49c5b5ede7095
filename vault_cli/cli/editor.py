"""Editing a profile in $EDITOR without plaintext ever touching a disk.

The profile is written to a private folder in memory-backed storage
(``/dev/shm``, mode 0700), the editor is run on it, and the folder is removed
afterwards, also when the editor fails or the profile is invalid. Where there
is no memory-backed storage, confide refuses rather than fall back to disk.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from vault_cli.cli import environment
from vault_cli.errors import ExternalError, IntegrityError, UsageError, VaultStateError
from vault_cli.formats import yamlio
from vault_cli.services import profiles, records
from vault_cli.services.vault import Session

HEADER = """\
# Profile of {record}. Save and close to re-encrypt it; an empty file or an
# unchanged one changes nothing. Fields: see schemas/profile.schema.json.
# The key person is changed with: confide key-person {record} HOLDER
"""


@contextmanager
def private_folder() -> Iterator[Path]:
    shm = environment.shm()
    if not os.path.isdir(shm) or not _memory_backed(shm):
        raise VaultStateError(
            f"there is no memory-backed folder at {shm}, so the profile cannot be edited without writing it to disk",
            "use 'confide child set RECORD FIELD=VALUE' instead",
        )
    _sweep_stale(shm)
    # The pid in the name lets a later edit remove what a SIGKILLed confide could not.
    folder = Path(tempfile.mkdtemp(prefix=f"confide-{os.getpid()}-", dir=shm))
    os.chmod(folder, 0o700)
    # A closed terminal (SIGHUP) or a plain 'kill' (SIGTERM) would end Python without
    # running 'finally', leaving the plaintext profile in /dev/shm: turn them into an
    # interruption, which also stops the editor and cleans up.
    previous = {}
    for sig in (signal.SIGHUP, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, _interrupted)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield folder
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # no second signal half-way through the clean-up
        shutil.rmtree(folder, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _memory_backed(path: str) -> bool:
    """Is ``path`` on tmpfs or ramfs? (CONFIDE_SHM must not quietly point at a disk.)"""
    real = os.path.realpath(path)
    best, fstype = "", None
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, fstype = mount, parts[2]
    except OSError:
        return False
    return fstype in ("tmpfs", "ramfs")


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def _sweep_stale(shm: str) -> None:
    """Remove this user's editor folders whose confide process is gone (killed with SIGKILL)."""
    try:
        entries = list(os.scandir(shm))
    except OSError:
        return
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) < 3 or parts[0] != "confide" or not parts[1].isdigit():
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue  # alive, or not ours to judge


def _editor() -> list[str]:
    cmd = environment.editor()
    if not cmd:
        raise UsageError("no editor: set $EDITOR (or $VISUAL)", "for example: EDITOR=nano confide child edit RECORD")
    return shlex.split(cmd)


def edit_profile(session: Session, record_id: str, *, interactive: bool) -> Optional[records.WriteResult]:
    session.vault.check_record_id(record_id)
    doc = profiles.profile_for_editing(session, record_id)
    key_person = doc.get("key_person")
    original = yamlio.dump(doc)
    editor = _editor()
    error: Optional[str] = None
    text = original
    with private_folder() as folder:
        path = folder / "profile.yaml"
        while True:
            head = HEADER.format(record=record_id)
            if error:
                head += "#\n# ERROR: " + error + "\n# Fix it and save again, or empty the file to give up.\n"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(head + text)
            try:
                proc = subprocess.run([*editor, str(path)])
            except FileNotFoundError:
                raise ExternalError(f"the editor '{editor[0]}' was not found", "set $EDITOR to an installed editor") from None
            if proc.returncode != 0:
                raise ExternalError(f"the editor exited with status {proc.returncode}; nothing was changed", "run it again")
            text = path.read_text(encoding="utf-8")
            body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
            if not body.strip():
                return None
            try:
                new = yamlio.load(text, "the edited profile")
                cleaned = profiles.check_profile_document(record_id, new, key_person)
            except (UsageError, IntegrityError) as exc:
                if not interactive:
                    raise UsageError(exc.message.replace("the edited profile", "the edited profile"),
                                     "nothing was changed; fix the field and run 'confide child edit' again") from None
                error = exc.message
                text = "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"
                continue
            if yamlio.dump(cleaned) == yamlio.dump({k: v for k, v in doc.items() if v not in (None, [], {})}):
                return None
            return profiles.update_profile(session, record_id, lambda _p, new=cleaned: new)
