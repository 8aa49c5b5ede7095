"""The README's command reference, generated from the real command line (``--help``'s own data).

README.md holds one ``### confide <command>`` subsection per command. Its first part (the command's
help, its usage line and a table of its arguments and options) sits between cog markers and is written
by this module; the prose under it is the README's own. Regenerate after changing a command:

    make docs            # = .venv/bin/cog -r -I docs README.md

``tests/test_readme.py`` runs ``cog --check`` so a stale README fails the suite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import typer

from vault_cli.cli.main import app
from vault_cli.errors import EXIT_CODE_DOCS, ExitCode

try:  # typer >= 0.25 vendors click
    from typer._click import core as click_core
except ImportError:  # pragma: no cover
    from click import core as click_core  # type: ignore[no-redef]

PROG = "confide"


@dataclass
class Cmd:
    path: str  # "" for the root, else e.g. "holder add"
    usage: str  # e.g. "confide holder add [OPTIONS] NAME"
    options: list  # every option name: --role, -i, --json ...
    is_group: bool
    help: str
    params: list


def _is_option(p) -> bool:  # duck-typed: typer's own TyperOption, or click's Option
    return getattr(p, "param_type_name", "") == "option"


def _is_argument(p) -> bool:
    return getattr(p, "param_type_name", "") == "argument"


def _is_group(cmd) -> bool:
    return isinstance(getattr(cmd, "commands", None), dict)


@cache
def commands() -> list[Cmd]:
    """Every command, found by walking the typer app (new commands are picked up by themselves)."""
    root = typer.main.get_command(app)
    found: list[Cmd] = []

    def walk(cmd, name: str, path: str, parent_ctx) -> None:
        ctx = click_core.Context(cmd, info_name=name, parent=parent_ctx)
        help_names = set(ctx.help_option_names)
        options = []
        for p in cmd.params:
            if _is_option(p) and not getattr(p, "hidden", False):
                options += [o for o in [*p.opts, *p.secondary_opts] if o not in help_names]
        usage = readable_usage(" ".join([ctx.command_path, *cmd.collect_usage_pieces(ctx)]))
        is_group = _is_group(cmd)
        found.append(Cmd(path, usage, options, is_group, (cmd.help or "").strip(), list(cmd.params)))
        if is_group:
            for sub_name, sub in sorted(cmd.commands.items()):
                if not getattr(sub, "hidden", False):
                    walk(sub, sub_name, f"{path} {sub_name}".strip(), ctx)

    walk(root, PROG, "", None)
    return found


def readable_usage(usage: str) -> str:
    """typer's usage line as the README writes it: metavars upper case, without typer's braces.

    'confide add [OPTIONS] {record}' -> 'confide add [OPTIONS] RECORD';
    'confide init [OPTIONS] [[DIR]]' -> 'confide init [OPTIONS] [DIR]'."""
    usage = re.sub(r"\{([^{}]+)\}", lambda m: m.group(1).upper(), usage)
    usage = re.sub(r"\[\[([^\[\]]+)\]\]", lambda m: f"[{m.group(1).upper()}]", usage)
    usage = re.sub(r"\[([a-z][a-z0-9_-]*)\]", lambda m: f"[{m.group(1).upper()}]", usage)
    return usage.replace("......", "...")


def needs_section(c: Cmd) -> bool:
    """Leaf commands always; groups (the root included) only when they have options of their own."""
    return not c.is_group or bool(c.options)


def _cell(text: str) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def render(c: Cmd) -> str:
    """The generated part of a command's subsection: its help's first paragraph, usage and table."""
    first = " ".join(c.help.split("\n\n")[0].split()) if c.help else ""
    out = [first, "", "```", c.usage, "```", ""] if first else ["```", c.usage, "```", ""]
    rows = []
    for p in c.params:
        if _is_option(p):
            if getattr(p, "hidden", False) or set(p.opts) & {"--help", "-h"}:
                continue
            names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            if p.metavar and not p.is_flag:
                names += f" `{p.metavar}`"
            rows.append((names.replace("|", "\\|"), _cell(p.help)))
        elif _is_argument(p):
            rows.append((f"`{p.metavar or p.name.upper()}`", _cell(getattr(p, "help", None))))
    if rows:
        out += ["| argument / option | meaning |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows] + [""]
    return "\n".join(out)


def section(path: str) -> None:
    """cog: print the generated part of ``confide PATH``'s subsection."""
    import cog  # provided by cogapp while it runs

    by_path = {c.path: c for c in commands()}
    if path not in by_path:
        raise SystemExit(f"no command 'confide {path}': remove its README subsection")
    cog.out(render(by_path[path]))


def exit_codes() -> None:
    """cog: the exit-code table, from ``vault_cli.errors``."""
    import cog

    lines = ["| code | name | meaning |", "|---:|---|---|"]
    lines += [f"| {int(c)} | `{c.name}` | {EXIT_CODE_DOCS[c]} |" for c in ExitCode]
    cog.out("\n".join(lines) + "\n")


def draft(c: Cmd) -> str:
    """A new subsection, heading and cog block, for a command the README lacks."""
    label = f"confide {c.path}".strip()
    return (f"### {label}\n\n<!-- [[[cog cli_reference.section({c.path!r})]]] -->\n<!-- [[[end]]] -->\n")


__all__ = ["commands", "readable_usage", "needs_section", "render", "section", "exit_codes", "draft"]
