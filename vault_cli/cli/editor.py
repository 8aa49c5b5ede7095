"""Editing a profile in $EDITOR without plaintext ever touching a disk.

The profile is written to a private folder in memory-backed storage
(``/dev/shm``, mode 0700), the editor is run on it, and the folder is removed
afterwards, also when the editor fails or the profile is invalid; a folder a
killed confide left is removed by the next command (``cli.private``). Where
there is no memory-backed storage, confide refuses rather than fall back to
disk. The editor is ``$VISUAL``, else ``$EDITOR``, else the first of
``sensible-editor``, ``editor``, ``nano``, ``vi`` on PATH, and it is started
only on a terminal: scripts give the profile with ``--from``. vi, vim and neovim are
started with no swap, history (viminfo, ShaDa), undo or backup files; other
editors' own copies (an IDE's hot-exit backups, Emacs backup folders) are the
user's to turn off, as the README says.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from vault_cli.cli import environment, interrupts, private
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
            "use 'confide child set RECORD FIELD=VALUE' or 'confide child edit RECORD --from FILE' instead",
        )
    private.sweep_stale(shm, environment.temp_dir())
    # A closed terminal (SIGHUP) or a plain 'kill' (SIGTERM) would end Python without
    # running 'finally', leaving the plaintext profile in /dev/shm: turn them into an
    # interruption, which also stops the editor and cleans up. (SIGKILL: the next command sweeps it.)
    with interrupts.as_interrupt(), private.folder(shm) as folder:
        try:
            yield folder
        finally:
            interrupts.hold_off()  # no second signal half-way through the clean-up


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


FALLBACK_EDITORS = ("sensible-editor", "editor", "nano", "vi")


def require_terminal(for_scripts: str) -> None:
    """An editor needs a terminal: stdin and stdout both. Without one, say what scripts use instead."""
    if not (sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("there is no terminal to run an editor on (stdin or stdout is not a terminal)",
                         f"for scripts: {for_scripts}")


# vi and its kin keep what was edited in files of their own unless told not to: a swap file (-n), the viminfo or
# ShaDa history of registers and searches (-i NONE), undo and backup files.
_VIM_NAMES = {"vi", "vim", "vim.basic", "vim.tiny", "vim.nox", "vim.gtk3", "nvim", "view", "vimdiff"}
_VIM_PRIVATE = ["-n", "-i", "NONE", "--cmd", "set noundofile nobackup nowritebackup"]


def _private(cmd: list[str]) -> list[str]:
    """``cmd`` with the options that keep the editor's own copies of the text off the disk, where it is known to
    make them (vi, vim, neovim, also behind a symlink such as /usr/bin/editor)."""
    found = shutil.which(cmd[0]) if cmd else None
    names = {Path(cmd[0]).name, Path(os.path.realpath(found)).name if found else ""} if cmd else set()
    return [cmd[0], *_VIM_PRIVATE, *cmd[1:]] if names & _VIM_NAMES else cmd


def editor_command() -> list[str]:
    """$VISUAL, else $EDITOR, else the first of sensible-editor, editor, nano, vi found on PATH; for vi and its kin,
    with the options that keep their swap, history and undo files from holding the text."""
    cmd = environment.editor()
    if cmd:
        return _private(shlex.split(cmd))
    for name in FALLBACK_EDITORS:
        found = shutil.which(name)
        if found:
            return _private([found])
    raise UsageError("no editor: $VISUAL and $EDITOR are unset, and none of " + ", ".join(FALLBACK_EDITORS)
                     + " is installed", "set $EDITOR, for example: EDITOR=nano confide child edit RECORD")


def run_editor(editor: list[str], path: Path) -> None:
    try:
        proc = subprocess.run([*editor, str(path)])
    except FileNotFoundError:
        raise ExternalError(f"the editor '{editor[0]}' was not found", "set $EDITOR to an installed editor") from None
    if proc.returncode != 0:
        raise ExternalError(f"the editor exited with status {proc.returncode}; nothing was changed", "run it again")


def edit_profile(session: Session, record_id: str) -> Optional[records.WriteResult]:
    """The profile in the editor until it is valid (a mistake reopens it with the error at the top), then sealed."""
    session.vault.check_record_id(record_id)
    doc = profiles.profile_for_editing(session, record_id)
    key_person = doc.get("key_person")
    original = yamlio.dump(doc)
    editor = editor_command()
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
            run_editor(editor, path)
            text = _decode(path.read_bytes(), "the edited profile")
            if is_blank(text):
                return None
            try:
                new = yamlio.load(text, "the edited profile")
                cleaned = profiles.check_profile_document(record_id, new, key_person)
            except (UsageError, IntegrityError) as exc:
                error = exc.message
                text = "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"
                continue
            if yamlio.dump(cleaned) == yamlio.dump({k: v for k, v in doc.items() if v not in (None, [], {})}):
                return None
            return profiles.update_profile(session, record_id, lambda _p, new=cleaned: new)


def is_blank(text: str) -> bool:
    """Nothing but comments and white space: how an editor's file or a --from document says 'change nothing'."""
    return not "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")).strip()


def read_source(source: str, what: str) -> str:
    """A document a script gives with --from: FILE, or '-' for stdin; UTF-8 text, or a usage error naming it."""
    if source == "-":
        from vault_cli.cli.common import read_stdin_text

        return read_stdin_text(what)
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}", "give a readable YAML or JSON file, or - for stdin") from None
    return _decode(data, f"{what} in {source}")


def edit_text(text: str, name: str) -> str:
    """``text`` opened in the editor from a private folder in memory (removed afterwards); what was saved."""
    editor = editor_command()
    with private_folder() as folder:
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        run_editor(editor, path)
        return _decode(path.read_bytes(), "the edited file")


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not UTF-8 text; nothing was changed", "save it as UTF-8 and try again") from None


def profile_from(session: Session, record_id: str, source: str) -> Optional[records.WriteResult]:
    """``child edit RECORD --from FILE`` (``-``: stdin): the whole profile as YAML or JSON, for scripts.

    The same document the editor shows (comments allowed; a field left out or empty is cleared, but the key
    person, who is changed only by ``confide key-person``, may be left out), checked the same way. None when it
    changes nothing."""
    session.vault.check_record_id(record_id)
    what = "the profile on stdin" if source == "-" else f"the profile in {source}"
    text = read_source(source, "the profile")
    doc = profiles.profile_for_editing(session, record_id)
    if is_blank(text):
        raise UsageError(f"{what} is empty; nothing was changed",
                         "give the whole profile as YAML or JSON (the fields 'confide child edit' shows; "
                         "schemas/profile.schema.json)")
    try:
        new = yamlio.load(text, what)
    except IntegrityError as exc:
        raise UsageError(exc.message, "nothing was changed; fix it and run 'confide child edit --from' again") from None
    if isinstance(new, dict) and doc.get("key_person") and "key_person" not in new:
        new["key_person"] = doc["key_person"]  # changed only by 'confide key-person'; a script need not repeat it
    cleaned = profiles.check_profile_document(record_id, new, doc.get("key_person"))
    if cleaned == {k: v for k, v in doc.items() if v not in (None, [], {})}:
        return None
    return profiles.update_profile(session, record_id, lambda _p: cleaned)
