"""The README stays in step with the real command line.

- Every command (found by walking the typer app, so new commands are picked up
  automatically) has a ``### confide <command path>`` subsection in the README's
  command reference, showing its usage line and naming every one of its options.
- No subsection names a command that no longer exists.
- The exit-code table equals ``vault_cli.errors.EXIT_CODE_DOCS``, row for row.
- ``python -m vault_cli --help`` works without make or the console script.
- ``examples/confide.yaml`` (the commented settings file) says what ``confide init`` writes.

When a command is added, run ``python tests/test_readme.py`` to print a draft
subsection for every command the README lacks (and ``--exit-codes`` for the
table), then paste and polish it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from vault_cli.cli.main import app
from vault_cli.errors import EXIT_CODE_DOCS, ExitCode

try:  # typer >= 0.25 vendors click
    from typer._click import core as click_core
except ImportError:  # pragma: no cover
    from click import core as click_core  # type: ignore[no-redef]


def _is_option(p) -> bool:  # duck-typed: typer's own TyperOption, or click's Option
    return getattr(p, "param_type_name", "") == "option"


def _is_argument(p) -> bool:
    return getattr(p, "param_type_name", "") == "argument"


def _is_group(cmd) -> bool:
    return isinstance(getattr(cmd, "commands", None), dict)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PROG = "confide"
HEADING = re.compile(r"^###\s+`?confide(?:\s+(?P<path>[a-z0-9][a-z0-9 -]*?))?`?\s*$")


@dataclass
class Cmd:
    path: str  # "" for the root, else e.g. "holder add"
    usage: str  # e.g. "confide holder add [OPTIONS] NAME"
    options: list[str]  # every option name: --role, -i, --json ...
    is_group: bool
    help: str
    params: list


def _commands() -> list[Cmd]:
    root = typer.main.get_command(app)
    found: list[Cmd] = []

    def walk(cmd, name: str, path: str, parent_ctx) -> None:
        ctx = click_core.Context(cmd, info_name=name, parent=parent_ctx)
        help_names = set(ctx.help_option_names)
        options = []
        for p in cmd.params:
            if _is_option(p) and not getattr(p, "hidden", False):
                options += [o for o in [*p.opts, *p.secondary_opts] if o not in help_names]
        usage = _readable_usage(" ".join([ctx.command_path, *cmd.collect_usage_pieces(ctx)]))
        is_group = _is_group(cmd)
        found.append(Cmd(path, usage, options, is_group, (cmd.help or "").strip(), list(cmd.params)))
        if is_group:
            for sub_name, sub in sorted(cmd.commands.items()):
                if getattr(sub, "hidden", False):
                    continue
                walk(sub, sub_name, f"{path} {sub_name}".strip(), ctx)

    walk(root, PROG, "", None)
    return found


def _readable_usage(usage: str) -> str:
    """typer's usage line as the README writes it: metavars upper case, without typer's braces.

    'confide add [OPTIONS] {record}' -> 'confide add [OPTIONS] RECORD';
    'confide init [OPTIONS] [[DIR]]' -> 'confide init [OPTIONS] [DIR]'. The words stay the
    ones --help prints, so a renamed or added argument still fails the test.
    """
    usage = re.sub(r"\{([^{}]+)\}", lambda m: m.group(1).upper(), usage)
    usage = re.sub(r"\[\[([^\[\]]+)\]\]", lambda m: f"[{m.group(1).upper()}]", usage)
    usage = re.sub(r"\[([a-z][a-z0-9_-]*)\]", lambda m: f"[{m.group(1).upper()}]", usage)
    return usage.replace("......", "...")


def _needs_section(c: Cmd) -> bool:
    """Leaf commands always; groups (the root included) only when they have options of their own."""
    return not c.is_group or bool(c.options)


def _readme_sections(text: str) -> dict[str, str]:
    """'holder add' -> the text of its '### confide holder add' subsection (up to the next heading)."""
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if re.match(r"^#{1,3}\s", line):
            m = HEADING.match(line)
            current = None
            if m:
                current = (m.group("path") or "").strip()
                assert current not in sections, f"README has two subsections for 'confide {current}'"
                sections[current] = ""
            continue
        if current is not None:
            sections[current] += line + "\n"
    return sections


def _readme() -> str:
    assert README.exists(), "README.md is missing"
    return README.read_text(encoding="utf-8")


def test_every_command_has_a_readme_subsection_with_its_usage_and_options():
    sections = _readme_sections(_readme())
    problems = []
    for c in _commands():
        if not _needs_section(c):
            continue
        label = f"confide {c.path}".strip()
        if c.path not in sections:
            problems.append(f"no '### {label}' subsection in README.md")
            continue
        body = sections[c.path]
        if c.usage not in body:
            problems.append(f"'### {label}': the usage line '{c.usage}' is missing")
        for opt in c.options:
            if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", body):
                problems.append(f"'### {label}': option {opt} is not described")
    assert not problems, "README.md's command reference is out of step with --help " \
        "(run 'python tests/test_readme.py' for drafts):\n  " + "\n  ".join(problems)


def test_no_readme_subsection_names_a_command_that_does_not_exist():
    paths = {c.path for c in _commands()}
    stale = [p for p in _readme_sections(_readme()) if p not in paths]
    assert not stale, "README.md describes commands that no longer exist: " + ", ".join(f"confide {p}" for p in stale)


def _readme_exit_codes(text: str) -> list[tuple[int, str, str]]:
    m = re.search(r"^## Exit codes\s*$(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, "README.md has no '## Exit codes' section"
    rows = []
    for line in m.group("body").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else []
        if len(cells) == 3 and cells[0].isdigit():
            rows.append((int(cells[0]), cells[1].strip("`"), cells[2]))
    return rows


def exit_code_table() -> str:
    lines = ["| code | name | meaning |", "|---:|---|---|"]
    lines += [f"| {int(c)} | `{c.name}` | {EXIT_CODE_DOCS[c]} |" for c in ExitCode]
    return "\n".join(lines)


def test_readme_exit_code_table_matches_the_code():
    assert set(EXIT_CODE_DOCS) == set(ExitCode), "every ExitCode needs its line in EXIT_CODE_DOCS"
    expected = [(int(c), c.name, EXIT_CODE_DOCS[c]) for c in ExitCode]
    assert _readme_exit_codes(_readme()) == expected, \
        "README.md's exit-code table differs from vault_cli.errors.EXIT_CODE_DOCS; it should read:\n" + exit_code_table()


def test_python_m_vault_cli_help_works():
    r = subprocess.run([sys.executable, "-m", "vault_cli", "--help"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: ") and "Commands:" in r.stdout
    top = [c.path for c in _commands() if c.path and " " not in c.path]
    missing = [name for name in top if not re.search(rf"^\s+{re.escape(name)}\b", r.stdout, re.M)]
    assert not missing, f"--help does not list: {missing}"


def test_example_settings_file_is_the_template_explained():
    """examples/confide.yaml is valid, and says exactly what 'confide init' writes (only the comments differ)."""
    from vault_cli.formats import policyfiles, schema, yamlio

    example = yamlio.load((ROOT / "examples" / "confide.yaml").read_bytes(), "examples/confide.yaml")
    schema.check("settings", example, "examples/confide.yaml")
    template = yamlio.load(policyfiles.render_template(example["name"]).encode(), "template")
    assert example == template, "examples/confide.yaml differs from vault_cli.formats.policyfiles.TEMPLATE; bring it in step"


# ---------------------------------------------------------------------------
# Drafts for the README: python tests/test_readme.py [--all] [--exit-codes]


def draft(c: Cmd) -> str:
    label = f"confide {c.path}".strip()
    first = c.help.split("\n\n")[0].replace("\n", " ") if c.help else ""
    out = [f"### {label}", "", first, "", "```", c.usage, "```", ""]
    rows = []
    for p in c.params:
        if _is_option(p):
            if getattr(p, "hidden", False) or set(p.opts) & {"--help", "-h"}:
                continue
            names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            if p.metavar and not p.is_flag:
                names += f" `{p.metavar}`"
            rows.append((names.replace("|", "\\|"), (p.help or "").replace("|", "\\|")))
        elif _is_argument(p):
            rows.append((f"`{p.metavar or p.name.upper()}`", (getattr(p, "help", None) or "").replace("|", "\\|")))
    if rows:
        out += ["| argument / option | meaning |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    if "--exit-codes" in sys.argv:
        print(exit_code_table())
        sys.exit(0)
    have = _readme_sections(_readme()) if README.exists() else {}
    for c in _commands():
        if _needs_section(c) and ("--all" in sys.argv or c.path not in have):
            print(draft(c))
