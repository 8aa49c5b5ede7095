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
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from . import records, yamlio
from .errors import ExternalError, IntegrityError, UsageError, VaultStateError
from .vault import Session

SHM = os.environ.get("CONFIDE_SHM", "/dev/shm")

HEADER = """\
# Profile of {record}. Save and close to re-encrypt it; an empty file or an
# unchanged one changes nothing. Fields: see schemas/profile.schema.json.
# The key person is changed with: confide key-person {record} HOLDER
"""


@contextmanager
def private_folder() -> Iterator[Path]:
    if not os.path.isdir(SHM):
        raise VaultStateError(
            f"there is no memory-backed folder at {SHM}, so the profile cannot be edited without writing it to disk",
            "use 'confide child set RECORD FIELD=VALUE' instead",
        )
    folder = Path(tempfile.mkdtemp(prefix="confide-", dir=SHM))
    os.chmod(folder, 0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _editor() -> list[str]:
    cmd = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not cmd:
        raise UsageError("no editor: set $EDITOR (or $VISUAL)", "for example: EDITOR=nano confide child edit RECORD")
    return shlex.split(cmd)


def edit_profile(session: Session, record_id: str, *, interactive: bool) -> Optional[records.WriteResult]:
    session.vault.check_record_id(record_id)
    doc = records.profile_for_editing(session, record_id)
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
                cleaned = records.check_profile_document(record_id, new, key_person)
            except (UsageError, IntegrityError) as exc:
                if not interactive:
                    raise UsageError(exc.message.replace("the edited profile", "the edited profile"),
                                     "nothing was changed; fix the field and run 'confide child edit' again") from None
                error = exc.message
                text = "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"
                continue
            if yamlio.dump(cleaned) == yamlio.dump({k: v for k, v in doc.items() if v not in (None, [], {})}):
                return None
            return records.update_profile(session, record_id, lambda _p: cleaned)
