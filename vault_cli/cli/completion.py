"""Shell completion: what each argument and option is completed with, and the shells' scripts.

``confide --install-completion`` (or ``--show-completion``) installs a script
that, on TAB, runs confide with ``_CONFIDE_COMPLETE=complete_bash`` (zsh,
fish: ``complete_zsh``, ``complete_fish``) and the words typed so far. What a
value is completed with follows from its metavar, the same names the help
and the README use:

- ``RECORD``: the ids of the records whose profile you can read, matched by id
  or by any part of the child's name (the name is the completion's
  description, where the shell shows one); ``ENTRY``: the ids of the entries
  you can read (of the command's record, when it names one);
- ``HOLDER``, ``LEVEL``, ``CATEGORY``, ``ROLE``: from the vault's
  ``holders.yaml`` and ``confide.yaml``;
- ``FILE``, ``DIR``, ``PATH``: file or folder names, by the shell;
- anything else: nothing. In particular, never file names: the scripts here,
  unlike typer's own, do not fall back to them.

Completion runs as you, with your identity (``--identity`` as typed, else
``CONFIDE_IDENTITY``, else the default); with none, or one that is not a
holder's, or one that needs a passphrase (unless ``CONFIDE_PASSPHRASE_FILE``
gives it), records and entries offer nothing. It never asks, never prints an
error, and never writes to stderr.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

try:  # typer >= 0.25 vendors click
    from typer._click.shell_completion import CompletionItem, ShellComplete, add_completion_class, split_arg_string
except ImportError:  # pragma: no cover
    from click.shell_completion import (  # type: ignore[no-redef]
        CompletionItem,
        ShellComplete,
        add_completion_class,
        split_arg_string,
    )

# What a metavar is completed with.
FILES = {"FILE": "file", "DIR": "dir", "PATH": "dir"}
FROM_VAULT = {"RECORD", "ENTRY", "HOLDER", "LEVEL", "CATEGORY", "ROLE"}


def attach(param) -> None:
    """Give ``param`` (a click parameter) the completion its metavar names; no completion for the rest."""
    if getattr(param, "hidden", False) or getattr(param, "is_flag", False):
        return
    metavar = (param.metavar or (param.name or "").upper()).rstrip(".")
    if metavar in FILES:
        kind = FILES[metavar]
        param._custom_shell_complete = lambda ctx, p, incomplete: [CompletionItem(incomplete, type=kind)]
    elif metavar in FROM_VAULT:
        param._custom_shell_complete = lambda ctx, p, incomplete, what=metavar: _safely(what, ctx, incomplete)
    elif getattr(param, "param_type_name", "") in ("option", "argument"):
        param._custom_shell_complete = lambda ctx, p, incomplete: []


def _safely(what: str, ctx, incomplete: str) -> list:
    try:
        return _complete(what, ctx, incomplete)
    except BaseException:  # a completion never fails, whatever the vault or the identity is like
        return []


def _given(ctx, name: str) -> Optional[str]:
    """A value typed on the command line being completed, after the command's name or before it."""
    c = ctx
    while c is not None:
        value = (c.params or {}).get(name)
        if isinstance(value, str) and value:
            return value
        c = c.parent
    return None


def _config(ctx):
    from vault_cli.cli import environment, prompts

    # the passphrase from CONFIDE_PASSPHRASE_FILE only: completion never asks
    return environment.config(vault=_given(ctx, "vault"), identity=_given(ctx, "identity"),
                              passphrase=prompts.scripted_passphrase)


def _matches(incomplete: str, *words: Optional[str]) -> bool:
    """A prefix match as the picker and 'child find' match names: any case, accents ignored (``model.names``)."""
    from vault_cli.model.names import fold

    inc = fold(incomplete)
    return any(w is not None and fold(w).startswith(inc) for w in words)


def _complete(what: str, ctx, incomplete: str) -> list:
    from vault_cli.services.vault import Session, Vault

    config = _config(ctx)
    if what in ("RECORD", "ENTRY"):
        with Session.open(config) as session:
            if session.actor is None:
                return []
            if what == "RECORD":
                return _records(session, incomplete, leavers=ctx.info_name in LEAVER_COMMANDS)
            return _entries(session, incomplete, ctx)
    with Vault.open(config) as vault:
        if what == "HOLDER":
            return [CompletionItem(h.name, help=h.role) for h in vault.holders.active() if _matches(incomplete, h.name)]
        if what == "LEVEL":
            values = list(vault.settings.levels)
        elif what == "CATEGORY":
            values = list(vault.settings.categories)
        else:
            values = list(vault.settings.roles)
    return [CompletionItem(v) for v in values if _matches(incomplete, v)]


# The commands about a record's end of life, whose RECORD is offered leavers too (every other command's, not).
LEAVER_COMMANDS = ("retention", "review")


def _records(session, incomplete: str, *, leavers: bool = False) -> list:
    from vault_cli.services import children

    out = []
    rows = children.names_and_births(session)
    if not leavers:
        rows = children.attending(rows, session.clock.today())
    for row in rows:  # the profiles alone, not every entries file as child list
        if not row.get("readable"):
            continue  # only the records whose profile you can read: no id you could not open
        name = row.get("name") or ""
        words = [*name.split(), *(row.get("known_as") or "").split()]
        if _matches(incomplete, row["record"], name, *words):
            out.append(CompletionItem(row["record"], help=name))
    return out


def _entries(session, incomplete: str, ctx) -> list:
    from vault_cli.model import ids
    from vault_cli.services import duties

    record = ctx.params.get("record") if isinstance(ctx.params.get("record"), str) else None
    if record is None:  # 'add RECORD --corrects <TAB>': click stops parsing at the option that lacks its value
        record = next((w for w in _TYPED if ids.RECORD_RE.fullmatch(w)), None)
    if record is not None and not session.vault.has_record(record):
        record = None
    rows = []
    for rid in [record] if record else session.vault.record_ids():
        rows += duties.find(session, "", record=rid)
    return [CompletionItem(r["entry"], help=f"{r['at'][:10]} {r['record']} {r['level']} {r['category']}")
            for r in rows if _matches(incomplete, r["entry"])]


# ---------------------------------------------------------------------------
# The shells: each line says what kind of completion it is, so that no shell falls back to file names
# unless the value is a file. (typer's own scripts do: 'complete -o default' in bash, '_files' in zsh.)

BASH = """\
%(complete_func)s() {
    local IFS=$'\\n'
    local response
    response=$(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD %(autocomplete_var)s=complete_bash $1 2>/dev/null)
    COMPREPLY=()
    for completion in $response; do
        IFS=',' read -r type value <<< "$completion"
        if [[ $type == 'dir' ]]; then
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=("$value")
        fi
    done
    return 0
}

complete -o nosort -F %(complete_func)s %(prog_name)s
"""

ZSH = """\
#compdef %(prog_name)s

%(complete_func)s() {
    local -a completions described
    local -a response
    (( ! $+commands[%(prog_name)s] )) && return 1
    response=("${(@f)$(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" %(autocomplete_var)s=complete_zsh %(prog_name)s 2>/dev/null)}")
    for type key descr in ${response}; do
        if [[ "$type" == "plain" ]]; then
            if [[ "$descr" == "_" ]]; then
                completions+=("$key")
            else
                described+=("$key":"$descr")
            fi
        elif [[ "$type" == "dir" ]]; then
            _path_files -/
        elif [[ "$type" == "file" ]]; then
            _path_files -f
        fi
    done
    [ -n "$described" ] && _describe -V unsorted described -U
    [ -n "$completions" ] && compadd -U -V unsorted -a completions
}

compdef %(complete_func)s %(prog_name)s
"""

FISH = """\
function %(complete_func)s
    set -l response (env %(autocomplete_var)s=complete_fish _TYPER_COMPLETE_ARGS=(commandline -cp) %(prog_name)s 2>/dev/null)
    for completion in $response
        set -l metadata (string split "," -m 1 -- $completion)
        if test $metadata[1] = "dir"
            __fish_complete_directories (commandline -ct)
        else if test $metadata[1] = "file"
            __fish_complete_path (commandline -ct)
        else if test $metadata[1] = "plain"
            echo $metadata[2]
        end
    end
end

complete --no-files --command %(prog_name)s --arguments "(%(complete_func)s)"
"""


class _Quiet:
    """Nothing a completion does reaches the terminal's stderr (git's, a library's, a warning's)."""

    def __enter__(self):
        import sys

        sys.stderr.flush()
        self.saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)


_TYPED: list = []  # the words typed before the one being completed


class _Shell(ShellComplete):
    def source_vars(self) -> dict:
        return {"complete_func": self.func_name, "autocomplete_var": self.complete_var, "prog_name": self.prog_name}

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        _TYPED[:] = args
        try:
            with _Quiet():
                items = self.get_completions(args, incomplete)
        except Exception:
            items = []
        return "\n".join(self.format_completion(item) for item in items)


class Bash(_Shell):
    name = "bash"
    source_template = BASH

    def get_completion_args(self):
        cwords = split_arg_string(os.environ.get("COMP_WORDS", ""))
        cword = int(os.environ.get("COMP_CWORD", "0") or 0)
        args = cwords[1:cword]
        incomplete = cwords[cword] if cword < len(cwords) else ""
        return args, incomplete

    def format_completion(self, item) -> str:
        return f"{item.type},{item.value}"


def _typed_args():
    completion_args = os.environ.get("_TYPER_COMPLETE_ARGS", "")
    cwords = split_arg_string(completion_args)
    args = cwords[1:]
    if args and not completion_args.endswith(" "):
        return args[:-1], args[-1]
    return args, ""


class Zsh(_Shell):
    name = "zsh"
    source_template = ZSH

    def get_completion_args(self):
        return _typed_args()

    def format_completion(self, item) -> str:
        help_ = " ".join((item.help or "").split()) or "_"
        return f"{item.type}\n{item.value}\n{help_}"


class Fish(_Shell):
    name = "fish"
    source_template = FISH

    def get_completion_args(self):
        return _typed_args()

    def format_completion(self, item) -> str:
        if item.help:
            return f"{item.type},{item.value}\t{' '.join(item.help.split())}"
        return f"{item.type},{item.value}"


def accept_click_style(complete_var: str) -> None:
    """Click's own protocol names the shell first (``bash_complete``); typer's, the instruction first
    (``complete_bash``). Both work: a script written for either completes confide."""
    first, _, second = os.environ.get(complete_var, "").partition("_")
    if first in ("bash", "zsh", "fish") and second in ("complete", "source"):
        os.environ[complete_var] = f"{second}_{first}"


SHELLS = {"bash": Bash, "zsh": Zsh, "fish": Fish}


def install() -> None:
    """Complete with these shells' classes (``_CONFIDE_COMPLETE=complete_bash`` and kin)."""
    for name, cls in SHELLS.items():
        add_completion_class(cls, name)


def script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish), as ``--show-completion`` prints it."""
    from vault_cli.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"no completion for the shell '{shell}'", "confide completes in bash, zsh and fish")
    shell_class: Any = SHELLS[shell]  # a concrete shell; its command is not needed to write the script
    return str(shell_class(None, {}, "confide", "_CONFIDE_COMPLETE").source())


def install_script(shell: str, home: Path) -> Path:
    """Install the script where ``shell`` finds it (and, for bash and zsh, have the shell's rc file load it)."""
    text = script(shell)
    if shell == "fish":
        target = home / ".config" / "fish" / "completions" / "confide.fish"
        lines: list = []
        rc = None
    elif shell == "zsh":
        target = home / ".zfunc" / "_confide"
        rc, lines = home / ".zshrc", ["fpath+=~/.zfunc", "autoload -Uz compinit && compinit"]
    else:
        target = home / ".bash_completions" / "confide.sh"
        rc, lines = home / ".bashrc", ["source ~/.bash_completions/confide.sh"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + "\n", encoding="utf-8")
    if rc is not None:
        have = rc.read_text(encoding="utf-8", errors="replace").splitlines() if rc.exists() else []
        missing = [line for line in lines if line not in have]
        if missing:
            with open(rc, "a", encoding="utf-8") as fh:
                fh.write("\n" + "\n".join(missing) + "\n")
    return target
