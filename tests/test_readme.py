"""The README stays in step with the real command line.

- The command reference is generated from the real command line by ``docs/cli_reference.py`` through cog
  (``make docs``); ``cog --check`` fails here when README.md is stale, and every command (found by walking the
  typer app, so new commands are picked up automatically) must have a ``### confide <command path>``
  subsection with its generated block.
- No subsection names a command that no longer exists (cog itself fails on one).
- The exit-code table is generated from ``vault_cli.errors.EXIT_CODE_DOCS``.
- ``python -m vault_cli --help`` works without make or the console script.
- ``examples/confide.yaml`` (the commented settings file) says what ``confide init`` writes.

When a command is added, run ``python tests/test_readme.py`` to print a draft subsection (a heading and its
cog block) for every command the README lacks, paste it, and run ``make docs``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))

import cli_reference  # noqa: E402

from vault_cli.errors import EXIT_CODE_DOCS, ExitCode  # noqa: E402

README = ROOT / "README.md"
HEADING = re.compile(r"^###\s+`?confide(?:\s+(?P<path>[a-z0-9][a-z0-9 -]*?))?`?\s*$")


def _commands():
    return cli_reference.commands()


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


def test_the_command_reference_is_what_cog_generates_from_the_command_line():
    r = subprocess.run([sys.executable, "-m", "cogapp", "--check", "--diff", "-I", "docs", "README.md"], cwd=ROOT,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert r.returncode == 0, "README.md is out of step with --help; run 'make docs':\n" + r.stdout + r.stderr


def test_every_command_has_a_readme_subsection_with_its_generated_block():
    sections = _readme_sections(_readme())
    problems = []
    for c in _commands():
        if not cli_reference.needs_section(c):
            continue
        label = f"confide {c.path}".strip()
        block = f'ref.section("{c.path}")'
        if c.path not in sections:
            problems.append(f"no '### {label}' subsection in README.md")
        elif block not in sections[c.path]:
            problems.append(f"'### {label}' has no generated block ({block})")
    assert not problems, "README.md's command reference lacks commands (run 'python tests/test_readme.py' " \
        "for drafts):\n  " + "\n  ".join(problems)


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


def test_readme_exit_code_table_matches_the_code():
    assert set(EXIT_CODE_DOCS) == set(ExitCode), "every ExitCode needs its line in EXIT_CODE_DOCS"
    expected = [(int(c), c.name, EXIT_CODE_DOCS[c]) for c in ExitCode]
    assert _readme_exit_codes(_readme()) == expected, \
        "README.md's exit-code table differs from vault_cli.errors.EXIT_CODE_DOCS: run 'make docs'"


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
# Drafts for the README: python tests/test_readme.py


if __name__ == "__main__":
    have = _readme_sections(_readme()) if README.exists() else {}
    for c in _commands():
        if cli_reference.needs_section(c) and c.path not in have:
            print(cli_reference.draft(c))


def test_every_permission_of_the_rules_table_is_explained():
    from vault_cli.model.policy import PERMISSIONS

    m = re.search(r"^\*\*Roles and rules\.\*\*(?P<body>.*?)(?=^\*\*)", _readme(), re.M | re.S)
    assert m, "README.md has no 'Roles and rules' paragraph (confide.yaml's comments point to it)"
    missing = [p for p in PERMISSIONS if f"`{p}`" not in m.group("body")]
    assert not missing, f"README's 'Roles and rules' does not explain: {missing}"
