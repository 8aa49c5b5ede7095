"""The command line's entry point: ``confide`` (``vault_cli.cli.main:main``).

The commands live in ``daily``, ``access``, ``history``, ``requests``, ``retention`` and ``bringing``; each
parses arguments, calls one library function and renders the result. Nothing
here decides policy or touches files.
"""

from __future__ import annotations

import sys
from typing import Optional

from vault_cli.cli import access as cli_access  # noqa: F401  (grant, revoke, key-person, holder remove/rotate, access, expire)
from vault_cli.cli import bringing as cli_bringing  # noqa: F401  (import)
from vault_cli.cli import conflicts as cli_conflicts  # noqa: F401  (resolve)
from vault_cli.cli import daily as cli_daily  # noqa: F401  (keygen, init, whoami, holders, children, add, show, mark)
from vault_cli.cli import environment
from vault_cli.cli import history as cli_history  # noqa: F401  (verify, audit, sync, clone, backup, restore, trust, ...)
from vault_cli.cli import holds as cli_holds  # noqa: F401  (hold add, release, list)
from vault_cli.cli import requests as cli_requests  # noqa: F401  (request ..., due, find, share)
from vault_cli.cli import retention as cli_retention  # noqa: F401  (retention, review)
from vault_cli.cli.common import app


def _command_name(info) -> str:
    return info.name or info.callback.__name__.lower().replace("_", "-")


def _group_value_options() -> Optional[set]:
    """Options of the app's callback that take a value (e.g. --signing-key-file FILE), or None if unsure."""
    import inspect

    cb = app.registered_callback.callback if app.registered_callback else None
    if cb is None:
        return set()
    names: set = set()
    for p in inspect.signature(cb).parameters.values():
        decls = getattr(p.default, "param_decls", None)
        if decls is None:
            return None
        if "bool" in str(p.annotation):
            continue
        names.update(d for d in decls if d.startswith("-"))
    return names


def _only_the_command_run(args: list[str]) -> None:
    """Keep only the command this process runs, so typer builds one click command, not all of them.

    Building the whole tree costs ~13 ms on every run (a fifth of a minimal typer
    program's start-up); one command costs a fraction of a millisecond. Pruning
    happens only for the console script, only when the arguments name a command
    exactly, and never for help or shell completion: those see the full app.
    The test-suite's CliRunner calls ``app`` directly and is never pruned.
    """
    if environment.completing() or any(a in ("--help", "-h") for a in args):
        return
    value_opts = _group_value_options()
    if value_opts is None:
        return
    i = 0
    while i < len(args) and args[i].startswith("-"):  # the app callback's own options come first
        if "=" in args[i] and args[i].split("=", 1)[0] in value_opts:
            i += 1
        elif args[i] in value_opts:
            i += 2
        else:
            return
    if i >= len(args):
        return
    name = args[i]
    commands = [c for c in app.registered_commands if _command_name(c) == name]
    if commands:
        app.registered_commands = commands
        app.registered_groups = []
        return
    groups = [g for g in app.registered_groups if g.name == name]
    if len(groups) != 1 or i + 1 >= len(args):
        return
    sub = groups[0].typer_instance
    if sub is None:  # every group of confide's is a Typer (app.add_typer); anything else: no pruning
        return
    subcommands = [c for c in sub.registered_commands if _command_name(c) == args[i + 1]]
    if len(subcommands) == 1 and not sub.registered_groups:
        app.registered_commands = []
        app.registered_groups = groups
        sub.registered_commands = subcommands


def main() -> None:
    try:
        _only_the_command_run(sys.argv[1:])
    except Exception:  # never let an optimisation stop a command: run the full app
        pass
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
