"""The command line: parse arguments, call one library function, render the result.

Nothing here decides policy or touches files; that is the library's job.
Results go to stdout (a rich table on a terminal, JSON with ``--json``, the new
id as the last line for commands that create something); warnings, errors and
hints go to stderr. One handler turns every ``ConfideError`` into
``confide: error: ...`` / ``confide: hint: ...`` and its documented exit code.
"""

from __future__ import annotations

import json
import os
import sys
from typing import List, Optional

import typer
from typer.core import TyperGroup

from .errors import ConfideError, ExitCode, UsageError

try:  # typer >= 0.25 vendors click
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover - older typer depends on click itself
    from click import exceptions as _cx  # type: ignore[no-redef]

# ---------------------------------------------------------------------------
# Output


_SECRET_KEY_TEXT = None


def _scrub(line: str) -> str:
    """A last safety net: no age secret key ever reaches the terminal, wherever it was pasted."""
    global _SECRET_KEY_TEXT
    if "SECRET-KEY" not in line.upper():
        return line
    if _SECRET_KEY_TEXT is None:
        import re

        _SECRET_KEY_TEXT = re.compile(r"AGE-SECRET-KEY-1[0-9A-Za-z]*", re.IGNORECASE)
    return _SECRET_KEY_TEXT.sub("[a secret key, withheld]", line)


def _stderr(line: str) -> None:
    sys.stderr.write(_scrub(line) + "\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    _stderr(f"confide: warning: {message}")


def note(message: str) -> None:
    _stderr(f"confide: {message}")


def report_error(exc: ConfideError) -> None:
    _stderr(f"confide: error: {exc.message}")
    for hint in exc.hints:
        _stderr(f"confide: hint: {hint}")


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def out_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def on_terminal() -> bool:
    return sys.stdout.isatty()


class ConfideGroup(TyperGroup):
    """Every error leaves through here: no traceback ever reaches a user."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        try:
            rv = super().main(args=args, prog_name=prog_name or "confide", complete_var=complete_var,
                              standalone_mode=False, **extra)
        except ConfideError as exc:
            report_error(exc)
            code = int(exc.code)
        except getattr(_cx, "NoArgsIsHelpError", ()) as exc:  # bare 'confide' / 'confide child': help on stderr
            _stderr(exc.format_message())
            code = int(ExitCode.USAGE)
        except _cx.UsageError as exc:
            msg = exc.format_message()
            _stderr(f"confide: error: {msg}")
            cmd = exc.ctx.command_path if exc.ctx is not None else "confide"
            _stderr(f"confide: hint: see '{cmd} --help'")
            code = int(ExitCode.USAGE)
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.Abort:
            _stderr("confide: error: interrupted; nothing was changed")
            code = 130
        except _cx.ClickException as exc:
            _stderr(f"confide: error: {exc.format_message()}")
            code = exc.exit_code
        except KeyboardInterrupt:
            _stderr("confide: error: interrupted")
            code = 130
        except BrokenPipeError:
            code = 0
        except Exception as exc:  # a bug: say so without leaking anything
            if os.environ.get("CONFIDE_DEBUG") == "1":
                raise
            _stderr(f"confide: error: internal error ({type(exc).__name__}); nothing was committed")
            _stderr("confide: hint: this is a bug in confide; rerun with CONFIDE_DEBUG=1 to see the traceback, and report it")
            code = int(ExitCode.FAILURE)
        else:
            code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=ConfideGroup,
    name="confide",
    help="Keep an early-years setting's confidential records in an encrypted git vault.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
holder_app = typer.Typer(help="Key holders: the people who can read and write the vault.", no_args_is_help=True)
child_app = typer.Typer(help="Children's records: create, list, change the profile.", no_args_is_help=True)
app.add_typer(holder_app, name="holder")
app.add_typer(child_app, name="child")

VaultOpt = typer.Option(None, "--vault", metavar="PATH", help="The vault folder (else CONFIDE_VAULT, else the nearest folder above with confide.yaml).")
IdentityOpt = typer.Option(None, "--identity", "-i", metavar="FILE", help="Your age identity (else CONFIDE_IDENTITY, else ~/.config/confide/identity.txt).")
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")


def _session(vault: Optional[str], identity: Optional[str]):
    from .vault import Session, Vault

    return Session.open(vault, identity)


def _print_warnings(result) -> None:
    for w in getattr(result, "warnings", []):
        warn(w)


# ---------------------------------------------------------------------------
# keygen, init, whoami


@app.command()
def keygen(
    out_file: Optional[str] = typer.Option(None, "--out", "-o", metavar="FILE", help="Where to write the key (default ~/.config/confide/identity.txt)."),
    passphrase: bool = typer.Option(False, "--passphrase", help="Protect the key with a passphrase (asked twice on a terminal, or read from CONFIDE_PASSPHRASE_FILE)."),
    age_only: bool = typer.Option(False, "--age", help="A native age identity that never signs, e.g. for an offline recovery key."),
) -> None:
    """Make your key (mode 0600): one SSH ed25519 key that reads and signs. Prints the public line to send your manager."""
    from . import admin
    from .vault import passphrase_from_env_or_terminal

    secret = None
    if passphrase:
        if os.environ.get("CONFIDE_PASSPHRASE_FILE"):
            secret = passphrase_from_env_or_terminal("the new identity")
        elif sys.stdin.isatty():
            import getpass

            first = getpass.getpass("New passphrase: ")
            if first != getpass.getpass("Repeat it: "):
                raise UsageError("the two passphrases differ", "run it again")
            secret = first
        else:
            raise UsageError("--passphrase needs a terminal to ask, or CONFIDE_PASSPHRASE_FILE", "never pass a passphrase as an argument")
        if not secret:
            raise UsageError("the passphrase is empty", "choose a long passphrase")
    result = admin.keygen(out_file, secret, age_only=age_only)
    note(f"wrote a new key to {result.path} (mode 0600); keep it secret and back it up")
    if not age_only:
        note("send your manager the line below; it is your public key, for reading and for signing")
    out(result.recipient)


@app.command()
def init(
    directory: str = typer.Argument(".", metavar="[DIR]", help="Folder for the new vault (created if missing)."),
    name: str = typer.Option(..., "--name", help="The setting's name."),
    holder: str = typer.Option(..., "--holder", help="Your holder name; you become the first manager."),
    recipient: Optional[str] = typer.Option(None, "--recipient", help="Your public key (default: your identity's)."),
    signing_key: Optional[str] = typer.Option(None, "--signing-key", metavar="PUBKEY", help="Your SSH signing key, if your identity is not one (\"ssh-ed25519 AAAA...\")."),
    unsigned: bool = typer.Option(False, "--unsigned", help="For experiments only: a vault that does not require signed commits (recorded in confide.yaml)."),
    object_format: str = typer.Option("sha1", "--object-format", metavar="sha1|sha256", help="git's object format for the new repository."),
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Create a vault: a git repository whose first commit, signed by you, is its identity. Prints the folder."""
    from . import admin

    result = admin.init_vault(directory, name=name, holder=holder, recipient=recipient, identity=identity,
                              signing_key=signing_key, unsigned=unsigned, object_format=object_format)
    _print_warnings(result)
    note(f"created vault {result.id} with '{holder}' as its first manager")
    note(f"the vault's identity is {result.anchor}")
    note("write it down, keep it off site, and give it to everyone who clones the vault: confide clone URL DIR --trust IDENTITY")
    out(result.id)


@app.command()
def whoami(vault: Optional[str] = VaultOpt, identity: Optional[str] = IdentityOpt, as_json: bool = JsonOpt) -> None:
    """Show the holder, role and recipient your identity resolves to."""
    s = _session(vault, identity)
    if s.actor is None:
        s.require_actor()
    data = {"holder": s.actor.name, "role": s.actor.role, "recipient": s.actor.recipient, "identity": str(s.identity_path)}
    if as_json:
        out_json(data)
    else:
        out(f"{data['holder']} ({data['role']}) {data['recipient']}")


# ---------------------------------------------------------------------------
# holders


@holder_app.command("add")
def holder_add(
    name: str = typer.Argument(..., help="Holder name: lower case, e.g. ben"),
    role: str = typer.Option(..., "--role", help="manager, dsl, practitioner, student, auditor or recovery (see confide.yaml)."),
    recipient: str = typer.Option(..., "--recipient", "--key", help="Their public key: the line their 'confide keygen' printed (ssh-ed25519 AAAA...), or an age1... recipient."),
    signing_key: Optional[str] = typer.Option(None, "--signing-key", metavar="PUBKEY", help="Their SSH signing key, when --recipient is an age1... recipient (\"ssh-ed25519 AAAA...\")."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Add a key holder (managers only); a new manager or DSL is given every level of every record."""
    from . import admin

    s = _session(vault, identity)
    with _progress("re-wrapping level keys", len(s.vault.record_ids())) as tick:
        result = admin.add_holder(s, name, role=role, recipient=recipient, progress=tick, signing_key=signing_key)
    _print_warnings(result)
    out(result.id)


@holder_app.command("list")
def holder_list(vault: Optional[str] = VaultOpt, as_json: bool = JsonOpt) -> None:
    """List key holders with role, status and recipient (needs no key)."""
    from . import admin
    from .vault import Vault

    rows = admin.list_holders(Vault.open(vault))
    if as_json:
        out_json(rows)
        return
    _table(["holder", "role", "status", "added", "recipient"],
           [[r["name"], r["role"], r["status"], r["added"], r["recipient"]] for r in rows], title="Key holders")


# ---------------------------------------------------------------------------
# children


@child_app.command("add")
def child_add(
    name: str = typer.Option(..., "--name", help="The child's name (stored encrypted, never in plaintext)."),
    dob: Optional[str] = typer.Option(None, "--dob", metavar="YYYY-MM-DD", help="Date of birth."),
    key_person: Optional[str] = typer.Option(None, "--key-person", metavar="HOLDER", help="The child's key person."),
    room: Optional[str] = typer.Option(None, "--room", help="Room or group."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Create a child's record; prints the new record id as the last line."""
    from . import records

    result = records.create_child(_session(vault, identity), name=name, dob=dob, key_person=key_person, room=room)
    _print_warnings(result)
    out(result.id)


@child_app.command("list")
def child_list(vault: Optional[str] = VaultOpt, identity: Optional[str] = IdentityOpt, as_json: bool = JsonOpt) -> None:
    """List the records, with what you can read of each profile."""
    from . import records

    s = _session(vault, identity)
    with _progress("reading records", len(s.vault.record_ids())) as tick:
        rows = records.list_children(s, progress=tick)
    if as_json:
        out_json(rows)
        return
    _table(["record", "name", "born", "room", "key person", "entries"],
           [[r["record"], r.get("name") if r["readable"] else "sealed", r.get("dob") or "", r.get("room") or "",
             r.get("key_person") or "", str(r["entries"])] for r in rows], title="Children")


@child_app.command("set")
def child_set(
    record: str = typer.Argument(..., help="The record id, e.g. c-7f3k9m2q"),
    assignments: List[str] = typer.Argument(..., metavar="FIELD=VALUE...", help="FIELD=VALUE (text; empty clears), FIELD:=JSON, dotted paths like parents.0.phone=..."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Change profile fields (for scripts)."""
    from . import records

    result = records.set_profile(_session(vault, identity), record, assignments)
    _print_warnings(result)


@child_app.command("edit")
def child_edit(
    record: str = typer.Argument(..., help="The record id"),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Edit the profile as YAML in $EDITOR, from a private folder in memory (/dev/shm)."""
    from . import editor

    result = editor.edit_profile(_session(vault, identity), record, interactive=sys.stdin.isatty())
    if result is None:
        note("no change; nothing was committed")
        return
    _print_warnings(result)


# ---------------------------------------------------------------------------
# entries


@app.command("add")
def add(
    record: str = typer.Argument(..., help="The record id, e.g. c-7f3k9m2q"),
    level: str = typer.Option(..., "--level", help="general, confidential or safeguarding."),
    category: str = typer.Option(..., "--category", help="One of the categories in confide.yaml."),
    text: str = typer.Option(..., "--text", help="The entry's text; '-' reads it from stdin."),
    parent_view: str = typer.Option("not-asked", "--parent-view", help="Does the parent regard it as confidential? confidential, not-confidential or not-asked."),
    parents_informed: Optional[str] = typer.Option(None, "--parents-informed", metavar="DATE", help="When parents were told this was recorded."),
    parents_not_informed: Optional[str] = typer.Option(None, "--parents-not-informed", metavar="REASON", help="Why parents were not told (e.g. it would put the child at risk)."),
    third_party: Optional[List[str]] = typer.Option(None, "--third-party", metavar="NAME", help="A third party the entry comes from or is about (repeatable)."),
    at: Optional[str] = typer.Option(None, "--at", metavar="DATETIME", help="When it happened (default now); the recording time is kept separately."),
    corrects: Optional[str] = typer.Option(None, "--corrects", metavar="ENTRY", help="The entry this one corrects (entries are never edited)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Add an entry to a child's record; prints the new entry id as the last line."""
    from . import records

    if text == "-":
        text = sys.stdin.read()
    result = records.add_entry(
        _session(vault, identity), record, level=level, category=category, text=text, parent_view=parent_view,
        parents_informed=parents_informed, parents_not_informed=parents_not_informed,
        third_parties=third_party or [], at=at, corrects=corrects,
    )
    _print_warnings(result)
    out(result.id)


@app.command()
def show(
    record: str = typer.Argument(..., help="The record id"),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show a record: the profile and the chronology. Entries you hold no key for show as sealed."""
    from . import records, render

    data = records.show_record(_session(vault, identity), record)
    if as_json:
        out_json(data)
        return
    if not on_terminal():  # plain text for pipes, as _table does; rich costs ~0.3 s for 300 entries
        sys.stdout.write(render.record_plain(data))
        return
    render.record(console(), data)


@app.command()
def mark(
    entry: str = typer.Argument(..., help="The entry id, e.g. e-01jd3x8k2m5q9w"),
    level: Optional[str] = typer.Option(None, "--level", help="Move the entry to this level (needs --reason)."),
    parent_view: Optional[str] = typer.Option(None, "--parent-view", help="confidential, not-confidential or not-asked."),
    parents_informed: Optional[str] = typer.Option(None, "--parents-informed", metavar="DATE"),
    parents_not_informed: Optional[str] = typer.Option(None, "--parents-not-informed", metavar="REASON"),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required with --level)."),
    record: Optional[str] = typer.Option(None, "--record", help="The entry's record, if you know it (saves a search)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Record what was learnt after an entry was written, or move it to another level. Prints the marking id."""
    from . import records

    result = records.mark_entry(
        _session(vault, identity), entry, record_id=record, level=level, parent_view=parent_view,
        parents_informed=parents_informed, parents_not_informed=parents_not_informed, reason=reason,
    )
    _print_warnings(result)
    out(result.id)


# ---------------------------------------------------------------------------
# helpers


def _table(columns, rows, title=None) -> None:
    if not on_terminal():
        # Plain, stable, tab-separated text for pipes; use --json for structure.
        out("\t".join(columns))
        for r in rows:
            out("\t".join(str(c) for c in r))
        return
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[str(c) for c in r])
    console().print(t)


class _progress:
    """A rich progress bar on a terminal (stderr) for bulk work; nothing otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.bar = None

    def __enter__(self):
        if self.total < 50 or not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda n=1: self.bar.advance(task, n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()


from . import cli_access  # noqa: E402,F401  (grant, revoke, key-person, holder remove/rotate, access, expire)
from . import cli_history  # noqa: E402,F401  (verify, audit, sync, clone, backup, restore, holder set-signing-key)
from . import cli_requests  # noqa: E402,F401  (request open/list/show/consent/withhold/extend/export/close, due, find, share)


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


def _only_the_command_run(args: List[str]) -> None:
    """Keep only the command this process runs, so typer builds one click command, not all of them.

    Building the whole tree costs ~13 ms on every run (a fifth of a minimal typer
    program's start-up); one command costs a fraction of a millisecond. Pruning
    happens only for the console script, only when the arguments name a command
    exactly, and never for help or shell completion: those see the full app.
    The test-suite's CliRunner calls ``app`` directly and is never pruned.
    """
    if any(k.endswith("_COMPLETE") for k in os.environ) or any(a in ("--help", "-h") for a in args):
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
