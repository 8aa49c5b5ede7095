"""Help and options: every command's help reads like the README, and global options work in either position.

- Every argument and option of every (visible) command has a description, and a metavar in the README's style:
  upper-case words (``RECORD``, ``ENTRY``, ``DATE``, ``FIELD=VALUE...``) or a list of the values it takes
  (``html|md|json``). No ``{record}``, ``[[DIR]]``, ``<str>`` or ``<list[str]>`` in any usage line or help.
- ``--vault``, ``--identity`` / ``-i`` and ``--signing-key-file`` are accepted before the command's name and
  after it.
"""

from __future__ import annotations

import json
import re

import pytest
import typer
from conftest import run_cli

from vault_cli.cli.main import app

try:  # typer >= 0.25 vendors click
    from typer._click import core as click_core
except ImportError:  # pragma: no cover
    from click import core as click_core  # type: ignore[no-redef]

METAVAR = re.compile(r"^(?:[A-Z][A-Z0-9_-]*(?:=[A-Z][A-Z0-9_-]*)?(?:\.\.\.)?|[a-z0-9]+(?:-[a-z0-9]+)*(?:\|[a-z0-9]+(?:-[a-z0-9]+)*)+)$")
TYPER_NOISE = re.compile(r"<[a-z][a-z\[\]|, ]*>|\{[a-z_]+\}|\[\[|\]\]")


def _commands():
    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path, parent):
        ctx = click_core.Context(cmd, info_name=path.split()[-1] if path else "confide", parent=parent)
        out.append((path, cmd, ctx))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            if not getattr(sub, "hidden", False):
                walk(sub, f"{path} {name}".strip(), ctx)

    walk(root, "", None)
    return out


def test_the_checks_see_every_command_and_catch_typer_noise():
    paths = [p for p, _c, _x in _commands()]
    assert {"", "add", "child edit", "holder add", "request export", "serve-hook install"} <= set(paths)
    assert TYPER_NOISE.search("confide add [OPTIONS] {record}") and TYPER_NOISE.search("[[DIR]]")
    assert TYPER_NOISE.search("--level <str>") and TYPER_NOISE.search("--level <list[str]>")
    assert not TYPER_NOISE.search("confide init [OPTIONS] [DIR]  --format html|md|json  [default: .]")
    for bad in ("record", "<str>", "[DIR]", "C", "Record", "sha1|SHA256"):
        assert bad == "C" or not METAVAR.match(bad), bad
    for good in ("RECORD", "FIELD=VALUE...", "html|md|json", "sought|not-sought", "1|2", "YYYY-MM-DD"):
        assert METAVAR.match(good), good


def test_every_argument_and_option_has_a_description_and_a_readme_style_metavar():
    problems = []
    for path, cmd, _ctx in _commands():
        label = f"confide {path}".strip()
        if not (cmd.help or "").strip():
            problems.append(f"{label}: no help text")
        for p in cmd.params:
            if getattr(p, "hidden", False) or set(getattr(p, "opts", [])) & {"--help", "-h"}:
                continue
            name = "/".join(getattr(p, "opts", [])) or p.name
            if not (getattr(p, "help", None) or "").strip():
                problems.append(f"{label} {name}: no description")
            if getattr(p, "is_flag", False):
                continue
            metavar = p.metavar or (p.name.upper() if p.param_type_name == "argument" else None)
            if p.param_type_name == "option" and not p.metavar:
                problems.append(f"{label} {name}: no metavar (typer would show its type, e.g. <str>)")
            elif not METAVAR.match(metavar or ""):
                problems.append(f"{label} {name}: metavar {metavar!r} is not in the README's style (e.g. RECORD)")
    assert not problems, "\n".join(problems)


def test_no_help_shows_typer_braces_or_types():
    """The rendered --help of every command, as a user sees it."""
    problems = []
    for path, _cmd, _ctx in _commands():
        r = run_cli([*path.split(), "--help"])
        assert r.exit_code == 0, (path, r.stderr)
        for line in r.stdout.splitlines():
            if TYPER_NOISE.search(line):
                problems.append(f"confide {path} --help: {line.strip()}")
    assert not problems, "\n".join(problems)


def test_usage_lines_read_as_the_readme_writes_them():
    def usage(*path: str) -> str:
        return run_cli([*path, "--help"]).stdout.splitlines()[0]

    assert usage("add") == "Usage: confide add [OPTIONS] [RECORD]"  # on a terminal, left out: you are asked which child
    assert usage("init") == "Usage: confide init [OPTIONS] [DIR]"
    assert usage("child", "set") == "Usage: confide child set [OPTIONS] RECORD FIELD=VALUE..."
    assert usage("find") == "Usage: confide find [OPTIONS] [TEXT]"
    assert usage("grant") == "Usage: confide grant [OPTIONS] HOLDER"
    assert usage("request", "show") == "Usage: confide request show [OPTIONS] REQUEST"


# ---------------------------------------------------------------------------
# global options, before or after the command


def _bare(vault) -> dict:
    """No CONFIDE_VAULT, CONFIDE_IDENTITY or CONFIDE_SIGNING_KEY: everything comes from the options."""
    return {"CONFIDE_VAULT": "", "CONFIDE_IDENTITY": "", "CONFIDE_SIGNING_KEY": ""}


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_global_options_before_or_after_the_command(vault, before, monkeypatch, tmp_path):
    rid = vault.add_child("Ada Global", key_person="ben")
    monkeypatch.chdir(tmp_path)  # not inside the vault: it is found only through --vault
    ident = str(vault.keys["dara"])
    sign = str(vault.keys["dara.sign"])
    globals_ = ["--vault", str(vault.root), "-i", ident, "--signing-key-file", sign]

    def run(*args: str):
        argv = [*globals_, *args] if before else [*args, *globals_]
        return run_cli(argv, env=_bare(vault))

    r = run("whoami", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["holder"] == "dara"
    r = run("show", rid, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["record"] == rid, r.stderr
    n = int(vault.git("rev-list", "--count", "HEAD"))
    r = run("add", rid, "--level", "safeguarding", "--category", "concern", "--text", "global options")
    assert r.exit_code == 0, r.stderr
    assert int(vault.git("rev-list", "--count", "HEAD")) == n + 1
    # signed with the key --signing-key-file named: dara's, as the vault's allowed signers know it
    assert "Good" in vault.git("log", "-1", "--format=%G? %GS %GK") or vault.git("log", "-1", "--format=%G?").strip() == "G"
    assert vault.git("log", "-1", "--format=%an").strip() == "dara"
    r = run("child", "list", "--json")
    assert r.exit_code == 0 and rid in r.stdout
    r = run("holder", "list", "--json")
    assert r.exit_code == 0 and "dara" in r.stdout


def test_signing_key_file_is_needed_where_nothing_else_names_one(vault, monkeypatch, tmp_path):
    """The test above is not vacuous: without --signing-key-file (in either place) dara's age identity cannot sign."""
    rid = vault.add_child("Ada Unsigned", key_person="ben")
    monkeypatch.chdir(tmp_path)
    head = vault.head()
    r = run_cli(["--vault", str(vault.root), "-i", str(vault.keys["dara"]), "add", rid, "--level", "general",
                 "--category", "note", "--text", "x"], env=_bare(vault))
    assert r.exit_code != 0 and vault.head() == head


def test_an_option_after_the_command_wins_over_one_before_it(vault, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    r = run_cli(["-i", str(vault.keys["ben"]), "whoami", "--json", "-i", str(vault.keys["cara"]),
                 "--vault", str(vault.root)], env=_bare(vault))
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["holder"] == "cara"
    r = run_cli(["--vault", str(tmp_path), "whoami", "--vault", str(vault.root), "-i", str(vault.keys["ben"])],
                env=_bare(vault))
    assert r.exit_code == 0, r.stderr
