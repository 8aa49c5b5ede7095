"""How this run of confide is set up: what the command line and the ``CONFIDE_*`` variables said.

The command line builds one ``Config`` per command (``vault_cli.cli.environment``:
its flags, then the process environment, read once) and hands it to the use
cases; nothing below the command line reads the environment. Each variable is
documented in the README's "Environment variables" table:

=======================  ==================================================  ==================================
variable                 field                                               used by
=======================  ==================================================  ==================================
``CONFIDE_VAULT``        ``vault`` (``--vault`` wins)                        services.vault
``CONFIDE_IDENTITY``     ``identity`` (``--identity`` wins)                  services.vault
``XDG_CONFIG_HOME``      ``config_home`` (else ``~/.config``)                services.vault
``CONFIDE_SIGNING_KEY``  ``signing_key_file`` (``--signing-key-file`` wins)  services.signatures
``SSH_AUTH_SOCK``        ``ssh_agent``                                       services.signatures
``CONFIDE_WORKERS``      ``workers``                                         adapters.parallel
``CONFIDE_LOCK_WAIT``    ``lock_wait``                                       adapters.store
``CONFIDE_TEST_CRASH``   ``crash_at`` (the atomicity tests only)             adapters.store
``CONFIDE_NOW``          ``clock`` (pinned; else the system's)               every use case that dates anything
=======================  ==================================================  ==================================

The command line's own variables (the editor, ``CONFIDE_SHM``, ``CONFIDE_DEBUG``,
``CONFIDE_PASSPHRASE_FILE``, which its passphrase prompt reads) stay in
``vault_cli.cli``. git's child processes inherit the process environment as it
is (``adapters.gitstore.git_env``): that is git's configuration, not confide's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from vault_cli.adapters.timeutil import SYSTEM, Clock
from vault_cli.errors import UsageError

VAULT = "CONFIDE_VAULT"
IDENTITY = "CONFIDE_IDENTITY"
SIGNING_KEY = "CONFIDE_SIGNING_KEY"
WORKERS = "CONFIDE_WORKERS"
LOCK_WAIT = "CONFIDE_LOCK_WAIT"
TEST_CRASH = "CONFIDE_TEST_CRASH"
NOW = "CONFIDE_NOW"
DEFAULT_LOCK_WAIT = 60.0


@dataclass(frozen=True)
class Given:
    """A value the user gave, and how they gave it, in their words (``--vault``, ``CONFIDE_VAULT``): messages say which."""

    value: str
    source: str


@dataclass(frozen=True)
class Config:
    """Everything a command takes from its flags and the environment; the defaults are a plain run with neither."""

    vault: Optional[Given] = None
    identity: Optional[Given] = None
    config_home: Optional[Path] = None  # where confide/identity.txt is looked for (None: ~/.config)
    signing_key_file: Optional[str] = None
    ssh_agent: Optional[str] = None
    workers: Optional[int] = None  # None: one per core
    lock_wait: float = DEFAULT_LOCK_WAIT
    crash_at: Optional[str] = None  # fault injection: die at this point of a write, as a power cut would
    clock: Clock = SYSTEM  # what time it is: the system's, or pinned by CONFIDE_NOW (tests, demos)
    # asks for the passphrase of the identity file it is given (the command line's prompt, which reads
    # CONFIDE_PASSPHRASE_FILE for scripts); None: there is nobody to ask
    passphrase: Optional[Callable[[str], Optional[str]]] = field(default=None, compare=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], **flags) -> Config:
        """The variables in ``environ``, under what the command line's flags gave (fields of this class, None when
        a flag was not given); a malformed variable is a usage error."""
        lock_wait = _number(environ, LOCK_WAIT, float)
        workers = _number(environ, WORKERS, int)
        config = cls(
            vault=_given(environ, VAULT),
            identity=_given(environ, IDENTITY),
            config_home=Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else None,
            signing_key_file=environ.get(SIGNING_KEY) or None,
            ssh_agent=environ.get("SSH_AUTH_SOCK") or None,
            workers=None if workers is None else max(1, workers),
            lock_wait=DEFAULT_LOCK_WAIT if lock_wait is None else lock_wait,
            crash_at=environ.get(TEST_CRASH) or None,
            clock=_clock(environ),
        )
        return replace(config, **{k: v for k, v in flags.items() if v is not None})


def _given(environ: Mapping[str, str], variable: str) -> Optional[Given]:
    return Given(environ[variable], variable) if environ.get(variable) else None


def _clock(environ: Mapping[str, str]) -> Clock:
    text = environ.get(NOW)
    if not text:
        return SYSTEM
    try:
        return Clock.at(text)
    except ValueError:
        raise UsageError(f"{NOW} is not a date and time", f"set {NOW} to an ISO date-time, e.g. 2026-11-24T10:00:00+00:00, "
                         "or unset it") from None


def _number(environ: Mapping[str, str], variable: str, kind):
    text = environ.get(variable)
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise UsageError(f"{variable} is not a number", f"set {variable} to a number, or unset it") from None


__all__ = ["Config", "Given"]
