"""What every command module shares: the typer app, the common options, output, the one error handler.

Results go to stdout (a rich table on a terminal, JSON with ``--json``, the new
id as the last line for commands that create something); warnings, errors and
hints go to stderr. One handler turns every ``ConfideError`` into
``confide: error: ...`` / ``confide: hint: ...`` and its documented exit code.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Optional

import typer
from typer.core import TyperArgument, TyperGroup

from vault_cli.cli import environment
from vault_cli.cli.safe_text import json_text, safe
from vault_cli.errors import ConfideError, ExitCode, UsageError

if TYPE_CHECKING:
    from rich.progress import Progress

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
    sys.stderr.write(_scrub(safe(line, lines=True)) + "\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    _stderr(f"confide: warning: {message}")


def note(message: str) -> None:
    _stderr(f"confide: {message}")


def report_error(exc: ConfideError) -> None:
    """``confide: error: ...`` and its hints, each field the library names called by its flag."""
    from vault_cli.cli.flags import FLAGS

    message, hints = exc.render(FLAGS)
    _stderr(f"confide: error: {message}")
    for hint in hints:
        _stderr(f"confide: hint: {hint}")


def read_stdin_text(what: str = "the text") -> str:
    """All of stdin as UTF-8 text; anything else is a usage error that says so (never echoing the bytes)."""
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} on stdin is not UTF-8 text (byte {exc.start + 1} of {len(data)} is not valid)",
                         "save it as UTF-8 (for example: iconv -f LATIN1 -t UTF-8 FILE) and try again") from None


def out(line: str = "") -> None:
    sys.stdout.write(safe(line, lines=True) + "\n")


def out_json(data) -> None:
    sys.stdout.write(json_text(json.dumps(data, ensure_ascii=False, indent=2)) + "\n")


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def on_terminal() -> bool:
    return sys.stdout.isatty()


def _sweep_private_folders() -> None:
    """Every command first removes the private folders of edits whose confide was killed (``cli.private``)."""
    try:
        from vault_cli.cli import private

        private.sweep_stale(environment.shm(), environment.temp_dir())
    except Exception:  # never let housekeeping stop a command
        pass


class ConfideGroup(TyperGroup):
    """Every error leaves through here: no traceback ever reaches a user."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _finish(self)
        from vault_cli.cli import completion

        completion.install()

    def _main_shell_completion(self, ctx_args, prog_name, complete_var=None) -> None:
        from vault_cli.cli import completion

        completion.accept_click_style(complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper())
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # typer turns it into exit 130 without a word: say what happened
            _stderr("confide: error: interrupted")
            raise

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        _sweep_private_folders()
        environment.clear_global_flags()
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
        except OSError as exc:  # the file system refused (read-only, permissions, full): say what to do
            from vault_cli.adapters.store import storage_failure

            failure = storage_failure(exc, "read or write a file", unchanged=False)
            report_error(failure)
            code = int(failure.code)
        except Exception as exc:  # a bug: say so without leaking anything
            if environment.debug():
                raise
            _stderr(f"confide: error: internal error ({type(exc).__name__}); nothing was committed")
            _stderr("confide: hint: this is a bug in confide; rerun with CONFIDE_DEBUG=1 to see the traceback, and report it")
            code = int(ExitCode.FAILURE)
        else:
            code = rv if isinstance(rv, int) else 0
        finally:
            environment.clear_global_flags()
        if standalone_mode:
            sys.exit(code)
        return code


# ---------------------------------------------------------------------------
# The command tree as typer builds it, finished in one place


class _Argument(TyperArgument):
    """An argument as the README writes it: ``RECORD``, ``[DIR]``, ``FIELD=VALUE...`` (typer's own usage line says
    ``{record}``, ``[[DIR]]`` and adds ``<str>``, ``<list[str]>`` to the help)."""

    @property
    def _shown(self) -> str:
        return self.metavar or (self.name or "").upper()

    def _usage_display_name(self) -> str:
        name = self._shown
        if self.nargs != 1 and not name.endswith("..."):
            name += "..."
        return name if self.required else f"[{name}]"

    def _rich_display_name(self) -> str:
        return self._shown

    def display_type_rich(self, ctx) -> None:  # type: ignore[override,unused-ignore]
        return None


VAULT_HELP = "The vault folder (else CONFIDE_VAULT, else the nearest folder above with confide.yaml)."
IDENTITY_HELP = "Your identity (else CONFIDE_IDENTITY, else ~/.config/confide/identity.txt)."
SIGNING_KEY_FILE_HELP = ("The SSH private key that signs the commits this command makes (else CONFIDE_SIGNING_KEY, "
                         "else your declared key in ssh-agent).")


def _global_option_after(ctx: typer.Context, param: typer.CallbackParam, value: Optional[str]) -> Optional[str]:
    if value is not None:  # also while completing: completion (cli.completion) reads them too
        environment.set_global_flags(**{param.name: value})
    return value


_AFTER: dict = {}


def _global_options_after() -> dict:
    """``--vault``, ``--identity`` and ``--signing-key-file`` as options of a command that lacks them, by their
    first name (built once, by typer itself, from a stand-in); what they are given is a global option's value."""
    if not _AFTER:
        stand_in = typer.Typer(add_completion=False)

        @stand_in.command()
        def _stand_in(
            vault: Optional[str] = typer.Option(None, "--vault", metavar="PATH", help=VAULT_HELP, expose_value=False,
                                                callback=_global_option_after),
            identity: Optional[str] = typer.Option(None, "--identity", "-i", metavar="FILE", help=IDENTITY_HELP,
                                                   expose_value=False, callback=_global_option_after),
            signing_key_file: Optional[str] = typer.Option(None, "--signing-key-file", metavar="FILE",
                                                           help=SIGNING_KEY_FILE_HELP, expose_value=False,
                                                           callback=_global_option_after),
        ) -> None:
            pass  # pragma: no cover - never run

        for p in typer.main.get_command(stand_in).params:
            _AFTER[p.opts[0]] = p
    return _AFTER


def _finish(group) -> None:
    """Every command: arguments shown in the README's style; the global options accepted after the name of every
    command that works on a vault, as well as before it (the app's callback); each argument and option completed
    by what its metavar names (``cli.completion``)."""
    from vault_cli.cli import completion

    for cmd in getattr(group, "commands", {}).values():
        if isinstance(getattr(cmd, "commands", None), dict):
            _finish(cmd)
            continue
        opts: set[str] = set()
        for p in cmd.params:
            if type(p) is TyperArgument:
                p.__class__ = _Argument
            opts.update(getattr(p, "opts", []))
        if opts & {"--vault", "--identity"}:  # a command that works on a vault (not keygen, not serve-hook install)
            cmd.params += [p for name, p in _global_options_after().items() if name not in opts]
        for p in cmd.params:
            completion.attach(p)


app = typer.Typer(
    cls=ConfideGroup,
    name="confide",
    help="Keep an early-years setting's confidential records in an encrypted git vault.",
    no_args_is_help=True,
    add_completion=False,  # our own --install-completion / --show-completion (cli.completion's scripts)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
holder_app = typer.Typer(help="Key holders: the people who can read and write the vault.", no_args_is_help=True)
child_app = typer.Typer(help="Children's records: create, list, change the profile.", no_args_is_help=True)
app.add_typer(holder_app, name="holder")
app.add_typer(child_app, name="child")

VaultOpt = typer.Option(None, "--vault", metavar="PATH", help=VAULT_HELP)
IdentityOpt = typer.Option(None, "--identity", "-i", metavar="FILE", help=IDENTITY_HELP)
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")
NoPagerOpt = typer.Option(False, "--no-pager", help="On a terminal, print long output directly instead of through the pager (CONFIDE_PAGER, else PAGER, else less).")


def _show_completion(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from vault_cli.cli import completion

        out(completion.script(environment.shell()))
        raise typer.Exit(0)


def _install_completion(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from pathlib import Path

        from vault_cli.cli import completion

        path = completion.install_script(environment.shell(), Path.home())
        note(f"{environment.shell()} completion installed in {path}; it works in shells started from now on")
        raise typer.Exit(0)


@app.callback()
def _global(
    vault: Optional[str] = typer.Option(None, "--vault", metavar="PATH", help=VAULT_HELP),
    identity: Optional[str] = typer.Option(None, "--identity", "-i", metavar="FILE", help=IDENTITY_HELP),
    signing_key_file: Optional[str] = typer.Option(None, "--signing-key-file", metavar="FILE", help=SIGNING_KEY_FILE_HELP),
    install_completion: bool = typer.Option(False, "--install-completion", is_eager=True, expose_value=False,
                                            callback=_install_completion,
                                            help="Install completion for your shell ($SHELL: bash, zsh or fish)."),
    show_completion: bool = typer.Option(False, "--show-completion", is_eager=True, expose_value=False,
                                         callback=_show_completion,
                                         help="Print the completion script for your shell ($SHELL), to install it yourself."),
) -> None:
    """Keep an early-years setting's confidential records in an encrypted git vault.

    --vault, --identity and --signing-key-file may be given before the command's name or after it.
    """
    environment.set_global_flags(vault=vault, identity=identity, signing_key_file=signing_key_file)


def _config(vault: Optional[str] = None, identity: Optional[str] = None):
    """This command's configuration: its flags, else the environment (read once, in ``cli.environment``),
    and the prompt that asks for a passphrase."""
    from vault_cli.cli import prompts

    return environment.config(vault=vault, identity=identity, passphrase=prompts.passphrase)


def _session(vault: Optional[str], identity: Optional[str]):
    from vault_cli.services.vault import Session

    return Session.open(_config(vault, identity))


def _print_warnings(result) -> None:
    for w in getattr(result, "warnings", []):
        warn(w)



# ---------------------------------------------------------------------------
# helpers


def _table(columns, rows, title=None, lead: int = 0) -> None:
    """Tab-separated lines for pipes (use --json for structure); on a terminal a table if it fits, else cards."""
    from vault_cli.cli import tables

    if not on_terminal():
        tables.plain(columns, rows)
    else:
        tables.show(console(), columns, rows, title=title, lead=lead)


class _progress:
    """A rich progress bar on a terminal (stderr) for bulk work; nothing otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.bar: Optional[Progress] = None

    def __enter__(self):
        if self.total < 50 or not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import Progress

        bar = self.bar = Progress(console=Console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task(self.label, total=self.total)
        return lambda n=1: bar.advance(task, n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()

