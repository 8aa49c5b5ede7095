"""What the command line asks its user: passphrases (on a terminal, or from a file for scripts).

The use cases never ask anyone anything: they are given ``passphrase`` (a
callback, through ``Config.passphrase``) and call it with the name of the
identity file that needs one.
"""

from __future__ import annotations

import sys
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.cli import environment
from vault_cli.errors import IdentityProblem, UsageError


def _from_file(pfile: str) -> str:
    try:
        crypto.check_private_mode(pfile)
        with open(pfile, encoding="utf-8") as fh:
            return fh.read().rstrip("\r\n")
    except FileNotFoundError:
        raise IdentityProblem(
            f"CONFIDE_PASSPHRASE_FILE names {pfile}, which does not exist",
            "point CONFIDE_PASSPHRASE_FILE at a 0600 file holding the passphrase, or unset it to be asked",
        ) from None


def scripted_passphrase(source: str) -> Optional[str]:
    """The passphrase of ``source`` from CONFIDE_PASSPHRASE_FILE, or None: never asked (shell completion)."""
    pfile = environment.passphrase_file()
    return _from_file(pfile) if pfile else None


def passphrase(source: str) -> Optional[str]:
    """The passphrase of the identity file ``source``: CONFIDE_PASSPHRASE_FILE for scripts, else asked on a
    terminal; never an argument. None when there is neither."""
    pfile = environment.passphrase_file()
    if pfile:
        return _from_file(pfile)
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"Passphrase for {source}: ")
    return None


def new_passphrase() -> str:
    """A passphrase for a new key: from CONFIDE_PASSPHRASE_FILE, else asked twice on a terminal."""
    pfile = environment.passphrase_file()
    if pfile:
        secret = _from_file(pfile)
    elif sys.stdin.isatty():
        import getpass

        secret = getpass.getpass("New passphrase: ")
        if secret != getpass.getpass("Repeat it: "):
            raise UsageError("the two passphrases differ", "run it again")
    else:
        raise UsageError("--passphrase needs a terminal to ask, or CONFIDE_PASSPHRASE_FILE", "never pass a passphrase as an argument")
    if not secret:
        raise UsageError("the passphrase is empty", "choose a long passphrase")
    return secret
