"""The edge: the one module that reads the process environment.

Each command builds one ``Config`` (``adapters.config``) from its flags and
the ``CONFIDE_*`` variables, here, and hands it to the use cases; below the
command line nothing reads the environment. The command line's own variables
(the editor, ``CONFIDE_SHM``, ``CONFIDE_DEBUG``, ``CONFIDE_PASSPHRASE_FILE``) are read here too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from vault_cli.adapters.config import Config, Given

_global_flags: dict = {}  # the global options (--vault, --identity, --signing-key-file), while one command runs


def set_global_flags(**flags: Optional[str]) -> None:
    """Global options given to this command: before its name (the app's callback) or after it (an option the
    command line adds to every command that acts as a holder). Only those given are set; after the name wins."""
    _global_flags.update({k: v for k, v in flags.items() if v})


def clear_global_flags() -> None:
    """The command is over (``ConfideGroup.main``): the next one, or a library caller, starts from none."""
    _global_flags.clear()


def config(*, vault: Optional[str] = None, identity: Optional[str] = None,
           passphrase: Optional[Callable[[str], Optional[str]]] = None) -> Config:
    """The command's configuration: its ``--vault`` / ``--identity`` (else those given before the command's name,
    and ``--signing-key-file``), else the variables; ``passphrase`` asks for an identity's passphrase
    (``cli.prompts.passphrase``)."""
    vault = vault or _global_flags.get("vault")
    identity = identity or _global_flags.get("identity")
    return Config.from_environment(
        os.environ,
        vault=Given(vault, "--vault") if vault else None,
        identity=Given(identity, "--identity") if identity else None,
        signing_key_file=_global_flags.get("signing_key_file"),
        passphrase=passphrase,
    )


def passphrase_file() -> Optional[str]:
    """``CONFIDE_PASSPHRASE_FILE``: where a script keeps an identity's passphrase (``cli.prompts`` reads it)."""
    return os.environ.get("CONFIDE_PASSPHRASE_FILE") or None


def hook_repository() -> Path:
    """The repository git runs a hook in (``GIT_DIR``; the working directory when git does not say)."""
    return Path(os.environ.get("GIT_DIR", ".")).resolve()


def debug() -> bool:
    """``CONFIDE_DEBUG=1``: show an internal error's traceback."""
    return os.environ.get("CONFIDE_DEBUG") == "1"


def editor() -> Optional[str]:
    return os.environ.get("VISUAL") or os.environ.get("EDITOR") or None


def shm() -> str:
    """The memory-backed folder ``child edit`` works in."""
    return os.environ.get("CONFIDE_SHM", "/dev/shm")


def temp_dir() -> str:
    """The temp folder, as ``tempfile.gettempdir`` finds it first (without importing tempfile on every run)."""
    for var in ("TMPDIR", "TEMP", "TMP"):
        if os.environ.get(var):
            return os.environ[var]
    return "/tmp"


def shell() -> str:
    """The user's shell (``$SHELL``'s name), for installing completion."""
    return os.path.basename(os.environ.get("SHELL", "")) or "bash"


def completing() -> bool:
    """Is the shell asking for completions (click's ``_CONFIDE_COMPLETE`` and kin)?"""
    return any(k.endswith("_COMPLETE") for k in os.environ)


def pager() -> Optional[str]:
    """The pager for long output on a terminal: ``CONFIDE_PAGER``, else ``PAGER``, else ``less`` if installed.

    An empty value (``CONFIDE_PAGER=``) means no pager, as ``GIT_PAGER=`` does for git.
    """
    import shutil

    for var in ("CONFIDE_PAGER", "PAGER"):
        if var in os.environ:
            return os.environ[var].strip() or None
    return "less" if shutil.which("less") else None


def pager_environment() -> dict:
    """The pager's environment: ours, with ``LESS=FRX`` and ``LV=-c`` unless set (as git does)."""
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    return env
