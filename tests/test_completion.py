"""Shell completion, through the shells' own protocol, of the real CLI in a real process, against a real vault.

The shell runs confide with ``_CONFIDE_COMPLETE`` set (click's ``bash_complete`` or typer's ``complete_bash``;
zsh: ``complete_zsh``) and the words typed so far in ``COMP_WORDS`` / ``COMP_CWORD`` (zsh:
``_TYPER_COMPLETE_ARGS``); confide prints one ``type,value`` line per candidate. Record ids are offered only to
those who can read the record's profile, matched by id or by part of the child's name; entry ids only to those who
can read the entry; holders, levels and categories from the vault's files; file names only where a file is asked
for. A completion never prints an error and never fails. The last test sources the bash script that
``--show-completion`` prints into a real bash and completes with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _env(v, who: str | None, extra: dict | None = None) -> dict:
    env = {k: val for k, val in os.environ.items() if not k.startswith("CONFIDE_") and not k.endswith("_COMPLETE")}
    env["CONFIDE_VAULT"] = str(v.root)
    if who is not None:
        env["CONFIDE_IDENTITY"] = str(v.keys[who])
    env.update(extra or {})
    return env


def complete(v, line: str, *, who: str | None = "amira", protocol: str = "bash_complete", env: dict | None = None,
             cwd: Path | None = None) -> list[tuple[str, str]]:
    """What confide offers when TAB is pressed at the end of ``line``: (type, value) pairs."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    e = _env(v, who, env)
    e.update({"_CONFIDE_COMPLETE": protocol, "COMP_WORDS": line, "COMP_CWORD": str(cword)})
    p = subprocess.run([sys.executable, "-m", "vault_cli"], env=e, cwd=cwd or v.root, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "", "a completion printed on stderr"
    return [tuple(line.split(",", 1)) for line in p.stdout.splitlines() if line]  # type: ignore[misc]


def values(pairs) -> list[str]:
    assert all(t == "plain" for t, _ in pairs), pairs
    return [val for _, val in pairs]


@pytest.fixture
def setting(vault):
    v = vault
    ada = v.add_child("Ada Lovelace", key_person="cara")
    bo = v.add_child("Bo Chen", key_person="cara")
    general = v.add_entry(ada, "tower of blocks", "general", "observation", "ben")
    safe = v.add_entry(ada, "said she is scared", "safeguarding", "concern", "dara")
    other = v.add_entry(bo, "painted", "general", "observation", "ben")
    return v, ada, bo, general, safe, other


def test_record_ids_by_id_or_by_name(setting):
    v, ada, bo, *_ = setting
    assert sorted(values(complete(v, "confide show "))) == sorted([ada, bo])
    assert values(complete(v, "confide show Ad")) == [ada]
    assert values(complete(v, "confide show love")) == [ada]  # any word of the name
    assert values(complete(v, f"confide show {bo[:4]}")) == [bo] or bo[:4] == ada[:4]
    assert values(complete(v, "confide show Zed")) == []
    # every command's RECORD, argument or option, and typer's own protocol name too
    assert sorted(values(complete(v, "confide find --record ", protocol="complete_bash"))) == sorted([ada, bo])
    assert sorted(values(complete(v, "confide grant cara --child "))) == sorted([ada, bo])


def test_record_names_are_the_description_where_the_shell_shows_one(setting):
    v, ada, *_ = setting
    e = _env(v, "amira", {"_CONFIDE_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "confide show Ada"})
    p = subprocess.run([sys.executable, "-m", "vault_cli"], env=e, cwd=v.root, capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == ""
    assert p.stdout.splitlines() == ["plain", ada, "Ada Lovelace"]


def test_only_records_and_entries_the_identity_can_read(setting, vault):
    v, ada, bo, general, safe, other = setting
    # amira (manager) reads every entry; ben (practitioner) only the general ones
    assert sorted(values(complete(v, "confide mark "))) == sorted([general, safe, other])
    assert sorted(values(complete(v, "confide mark ", who="ben"))) == sorted([general, other])
    assert sorted(values(complete(v, "confide show ", who="ben"))) == sorted([ada, bo])
    # the entries of the command's own record, when it names one
    assert sorted(values(complete(v, f"confide add {ada} --corrects "))) == sorted([general, safe])
    assert sorted(values(complete(v, f"confide mark --record {bo} "))) == [other]
    # a student reads nothing without a grant: no record, no entry
    v.add_holder("eve", "student")
    assert complete(v, "confide show ", who="eve") == []
    assert complete(v, "confide mark ", who="eve") == []
    # a key that is no holder's, and no identity at all: nothing, quietly
    assert complete(v, "confide show ", who="rec") == []
    home = v.root.parent / "empty-home"
    home.mkdir()
    assert complete(v, "confide show ", who=None, env={"HOME": str(home), "XDG_CONFIG_HOME": str(home)}) == []
    # the identity typed on the line counts, before or after the command's name
    typed = complete(v, f"confide -i {v.keys['ben']} mark ", who=None, env={"HOME": str(home), "XDG_CONFIG_HOME": str(home)})
    assert sorted(values(typed)) == sorted([general, other])
    typed = complete(v, f"confide mark -i {v.keys['ben']} ", who=None, env={"HOME": str(home), "XDG_CONFIG_HOME": str(home)})
    assert sorted(values(typed)) == sorted([general, other])


def test_holders_levels_categories_and_roles_from_the_vault(setting):
    v, ada, *_ = setting
    assert values(complete(v, "confide grant ")) == ["amira", "ben", "cara", "dara"]
    assert values(complete(v, "confide key-person c-x c")) == ["cara"]
    assert values(complete(v, "confide audit --holder d")) == ["dara"]
    assert values(complete(v, f"confide add {ada} --level ")) == ["general", "confidential", "safeguarding"]
    assert values(complete(v, "confide grant ben --level conf")) == ["confidential"]
    cats = values(complete(v, f"confide add {ada} --category "))
    assert {"observation", "injury", "concern", "note"} <= set(cats)
    assert values(complete(v, f"confide add {ada} --category inj")) == ["injury"]
    assert values(complete(v, "confide find --category obs")) == ["observation"]
    assert "practitioner" in values(complete(v, "confide holder add zed --role "))


def test_file_names_only_where_a_file_is_asked_for(setting, tmp_path):
    v, ada, *_ = setting
    assert complete(v, "confide backup ") == [("file", "")]
    assert complete(v, "confide request export r-x --out ") == [("file", "")]
    assert complete(v, "confide init ") == [("dir", "")]
    # a free-text value, a new name, a date: nothing at all (and never files)
    for line in (f"confide add {ada} --text ", "confide child add --name ", f"confide add {ada} --at ",
                 "confide holder add "):
        assert complete(v, line) == [], line
    # outside any vault there are no categories to offer: still nothing, not file names
    assert complete(v, "confide find --category ", env={"CONFIDE_VAULT": str(tmp_path)}, cwd=tmp_path) == []
    assert complete(v, "confide find --category ", env={"CONFIDE_VAULT": ""}, cwd=tmp_path) == []


def test_commands_and_options_complete_as_before(setting):
    v, *_ = setting
    assert "show" in values(complete(v, "confide sh"))
    assert values(complete(v, "confide child ed")) == ["edit"]
    assert "--category" in values(complete(v, "confide add c-x --cat"))


def test_the_bash_script_offers_no_file_names_after_category(setting, tmp_path):
    """The script --show-completion prints, in a real bash: values for --category, nothing at all (not this
    folder's file names) where confide offers nothing, and no '-o default' fallback to file names."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    v, ada, *_ = setting
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "confide"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -m vault_cli \"$@\"\n")
    wrapper.chmod(0o755)
    env = _env(v, "amira", {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    script = subprocess.run(["confide", "--show-completion"], env={**env, "SHELL": "/bin/bash"}, capture_output=True, text=True,
                            cwd=v.root)
    assert script.returncode == 0, script.stderr
    [spec] = [line for line in script.stdout.splitlines() if line.startswith("complete ")]
    assert "-o default" not in spec  # typer's own script falls back to file names: this one does not
    (tmp_path / "a-file-here.txt").write_text("x")

    def in_bash(*words: str, cwd: Path) -> list[str]:
        arr = " ".join(f"'{w}'" for w in words)
        prog = (script.stdout + f"\nCOMP_WORDS=({arr}); COMP_CWORD={len(words) - 1}; _confide_completion confide\n"
                "printf '%s\\n' \"${COMPREPLY[@]}\"\ncomplete -p confide\n")
        p = subprocess.run([bash, "--norc", "--noprofile", "-c", prog], env=env, cwd=cwd, capture_output=True,
                           text=True)
        assert p.returncode == 0, p.stderr
        *replies, spec = [line for line in p.stdout.splitlines() if line]
        assert "-o default" not in spec and "_confide_completion" in spec
        return replies

    assert in_bash("confide", "add", ada, "--category", "inj", cwd=v.root) == ["injury"]
    assert in_bash("confide", "show", "Ada", cwd=v.root) == [ada]
    outside = tmp_path
    env["CONFIDE_VAULT"] = str(outside)
    assert in_bash("confide", "find", "--category", "", cwd=outside) == []


@pytest.mark.parametrize("shell, where", [("bash", ".bash_completions/confide.sh"), ("zsh", ".zfunc/_confide"),
                                          ("fish", ".config/fish/completions/confide.fish")])
def test_install_completion_for_the_users_shell(tmp_path, shell, where):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "SHELL": f"/bin/{shell}"}
    for _ in range(2):  # twice: the rc file gets its lines once
        p = subprocess.run([sys.executable, "-m", "vault_cli", "--install-completion"], env=env, capture_output=True,
                           text=True)
        assert p.returncode == 0, p.stderr
    script = (home / where).read_text()
    assert "_CONFIDE_COMPLETE=complete_" + shell in script
    if shell == "bash":
        rc = (home / ".bashrc").read_text()
        assert rc.count("source ~/.bash_completions/confide.sh") == 1
