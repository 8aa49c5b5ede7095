"""Children by name, with real vaults: the picker through a real pseudo-terminal, ``child find`` on stdin,
``child list`` filters, ``find`` matching names, and the duplicate child refused.

The names here are markers: each test proves it never reaches the argv of a process it starts (confide's
own, and every git it runs, logged by a wrapper on PATH), nor an error message. The vaults are built
in-process (``VaultFixture.add_child`` runs the CLI in this process), so no process is ever given a name.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from vault_cli.errors import ExitCode
from vault_cli.model import names

LIVENESS_SECONDS = 300  # only for a hung process; never a measure of speed
MARKER = "Zyxquorra Mbelvinskë"  # a name no test vault holds otherwise
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# helpers


def _git_wrapper(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with a 'git' that logs its argv (one NUL-separated line per call), then runs the real git."""
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout.strip()
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "git-argv.log"
    wrapper = folder / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" >> "{log}"\necho >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return folder, log


def _env(v, who: str, path_first: Path | None = None, **extra: str) -> dict:
    env = dict(os.environ)
    env["CONFIDE_VAULT"] = str(v.root)
    env["CONFIDE_IDENTITY"] = str(v.keys[who])
    if who + ".sign" in v.keys:
        env["CONFIDE_SIGNING_KEY"] = str(v.keys[who + ".sign"])
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    env.update(extra)
    return env


def _argv_of_tree(pid: int) -> list[bytes]:
    """The argv of ``pid`` and of every process below it, as /proc shows them to any local user."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            seen.append(Path(f"/proc/{p}/cmdline").read_bytes())
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return seen


def _ready(fd: int, timeout: float) -> bool:
    """poll(), not select(): a long test run may hold descriptors beyond select()'s limit (1024)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


class Terminal:
    """``confide ARGS`` on a real pseudo-terminal (stdin, stdout and stderr all the terminal), as a person runs it."""

    def __init__(self, v, *args: str, who: str = "amira", env_extra: dict | None = None, path_first: Path | None = None):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        env = _env(v, who, path_first, **(env_extra or {}))
        env.pop("NO_COLOR", None)
        env["TERM"] = "dumb"
        self.argv = [sys.executable, "-m", "vault_cli", *args]
        self.proc = subprocess.Popen(self.argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=v.root,
                                     start_new_session=True)
        os.close(slave)
        self.master = master
        self.seen = b""
        self.mark = 0

    def _read(self) -> bool:
        if not _ready(self.master, 1.0):
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the process closed the terminal
            return False
        if not data:
            return False
        self.seen += data
        return True

    def expect(self, text: str) -> str:
        """Read until ``text`` has been printed since the last ``expect`` matched; what was printed since."""
        deadline = time.monotonic() + LIVENESS_SECONDS
        want = text.encode()
        while want not in self.seen[self.mark:]:
            if not self._read():
                raise AssertionError(f"the terminal closed before {text!r}:\n{self.seen.decode(errors='replace')}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"no {text!r} (liveness guard):\n{self.seen.decode(errors='replace')}")
        start = self.mark
        self.mark = self.seen.index(want, start) + len(want)
        return self.seen[start:self.mark].decode(errors="replace")

    def type(self, line: str) -> None:
        os.write(self.master, line.encode())

    def finish(self) -> tuple[int, str]:
        deadline = time.monotonic() + LIVENESS_SECONDS
        while self._read():
            if self.proc.poll() is not None and not _ready(self.master, 0.1):
                break
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("confide did not finish (liveness guard)")
        code = self.proc.wait()
        os.close(self.master)
        return code, self.seen.decode(errors="replace")


@pytest.fixture
def named(vault):
    """The test vault with three children: the marker (born 2022-05-06, room owls), Ada and Adam (room
    wrens), Ada leaving first."""
    v = vault
    v.add_child(MARKER, "ben", dob="2022-05-06", room="owls")
    v.add_child("Ada Lovelace", "cara", dob="2022-03-04", room="wrens")
    v.add_child("Adam Smith", "ben", dob="2021-09-10", room="Wrens")
    v.ok("child", "set", v.records["Ada Lovelace"], "leaving_date=2026-12-18")
    v.ok("child", "set", v.records["Adam Smith"], "leaving_date=2027-07-31")
    v.add_entry(v.records[MARKER], "Built a tower")
    v.add_entry(v.records["Ada Lovelace"], "Painted a boat")
    return v


# ---------------------------------------------------------------------------
# matching names


def test_names_match_every_word_in_any_case_with_or_without_accents():
    assert names.matches("mbelvinske", [MARKER])
    assert names.matches("MBELVINSKË zyx", [MARKER])
    assert names.matches("zyxq", [None, MARKER])
    assert names.matches("Straße", ["Anna Strasse"])
    assert not names.matches("zyx other", [MARKER])
    assert not names.matches("   ", [MARKER])
    assert not names.matches("ada", [None, ""])
    assert names.same_name("  zyxquorra   mbelvinske", MARKER)
    assert not names.same_name("Zyxquorra", MARKER)


# ---------------------------------------------------------------------------
# the picker, on a real terminal


def test_picker_asks_which_child_on_a_terminal_and_names_stay_out_of_argv(named, tmp_path):
    v = named
    bin_dir, git_log = _git_wrapper(tmp_path)
    rid = v.records[MARKER]
    head = v.head()
    t = Terminal(v, "add", "--level", "general", "--category", "observation", "--text", "Climbed the frame",
                 path_first=bin_dir)
    t.expect("Type part of a name: ")
    # while it waits at the prompt, any local user could read its argv (and its children's)
    for argv in _argv_of_tree(t.proc.pid):
        assert MARKER.encode() not in argv and b"Zyxquorra" not in argv
    t.type("nobody at all\n")
    t.expect("No child you can read has a name like that.")
    t.type("zyxquorra mbelvinske\n")  # no accent, another case
    shown = t.expect("Choose 1 (Enter to search again): ")
    assert MARKER in shown and rid in shown
    t.type("7\n")
    t.expect("Not one of 1-1.")
    t.type("\n")  # Enter: search again
    t.expect("Type part of a name: ")
    t.type("Zyx\n")
    t.expect("Choose 1")
    t.type("1\n")
    code, screen = t.finish()
    assert code == 0, screen
    assert f"confide: record {rid}" in screen
    assert v.head() != head
    entry = [line for line in screen.splitlines() if line.strip().startswith("e-")][-1].strip()
    assert v.ok("show", rid, "--json").stdout.count(entry) == 1
    logged = git_log.read_bytes()
    assert b"commit" in logged  # the wrapper saw confide's git calls
    assert b"Zyxquorra" not in logged and b"belvinsk" not in logged
    assert all(MARKER not in a for a in t.argv)


def test_picker_lists_matching_children_the_caller_can_read(named):
    v = named
    t = Terminal(v, "show", who="ben")
    t.expect("Type part of a name: ")
    t.type("ADA\n")
    shown = t.expect("Choose 1-2 (Enter to search again): ")
    ada, adam = v.records["Ada Lovelace"], v.records["Adam Smith"]
    # numbered, by name, with what tells two children apart
    assert shown.index(f"1  Ada Lovelace  {ada}  born 2022-03-04  wrens") < shown.index(f"2  Adam Smith  {adam}  born 2021-09-10  Wrens")
    assert MARKER not in shown
    t.type("2\n")
    code, screen = t.finish()
    assert code == 0, screen
    assert f"{adam}: Adam Smith" in screen


def test_picker_offers_nobody_to_a_holder_who_reads_no_profile(named):
    v = named
    v.add_holder("eve", "student")
    t = Terminal(v, "show", who="eve")
    code, screen = t.finish()
    assert code == ExitCode.NOT_FOUND, screen
    assert "there is no child whose name you can read" in screen
    assert "Type part of a name" not in screen


def test_picker_end_of_input_or_an_empty_name_changes_nothing(named):
    v = named
    head = v.head()
    t = Terminal(v, "add", "--level", "general", "--category", "observation", "--text", "Slept")
    t.expect("Type part of a name: ")
    t.type("\x04")  # Ctrl-D
    code, screen = t.finish()
    assert code == 130, screen
    assert "nothing was changed" in screen
    t = Terminal(v, "child", "edit")
    t.expect("Type part of a name: ")
    t.type("\n")
    code, screen = t.finish()
    assert code == ExitCode.USAGE, screen
    assert "no child was chosen" in screen
    assert v.head() == head and v.is_clean()


@pytest.mark.parametrize("args", [["show"], ["child", "edit"], ["add", "--level", "general", "--category", "observation", "--text", "x"],
                                  ["share", "--with", "GP", "--what", "x", "--purpose", "y", "--consent", "given", "--basis", "z"],
                                  ["request", "open", "--requester", "P", "--relationship", "mother", "--received", "2026-11-20"]])
def test_without_a_terminal_a_missing_record_is_a_usage_error(named, args):
    v = named
    head = v.head()
    p = subprocess.run([sys.executable, "-m", "vault_cli", *args], env=_env(v, "amira"), cwd=v.root,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert p.returncode == ExitCode.USAGE, p.stderr
    assert "Missing argument 'RECORD'" in p.stderr and p.stdout == ""
    assert v.head() == head


# ---------------------------------------------------------------------------
# child find, for scripts


def _find(v, stdin: bytes, *args: str, who: str = "amira", path_first: Path | None = None):
    argv = [sys.executable, "-m", "vault_cli", "child", "find", *args]
    assert not any("Zyx" in a for a in argv)
    return subprocess.run(argv, env=_env(v, who, path_first), cwd=v.root, input=stdin, capture_output=True)


def test_child_find_reads_the_name_on_stdin_and_prints_ids(named, tmp_path):
    v = named
    bin_dir, git_log = _git_wrapper(tmp_path)
    p = _find(v, b"mbelvinske\n", path_first=bin_dir)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == [v.records[MARKER]]
    assert b"Zyxquorra" not in git_log.read_bytes() and b"belvinsk" not in git_log.read_bytes()
    p = _find(v, "zyxQUORRA  Mbelvinskë".encode())
    assert p.stdout.decode().splitlines() == [v.records[MARKER]]
    p = _find(v, b"ada", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [{"record": v.records["Ada Lovelace"], "name": "Ada Lovelace"},
                                    {"record": v.records["Adam Smith"], "name": "Adam Smith"}]
    # the name known as counts too
    v.ok("child", "set", v.records["Adam Smith"], "known_as=Zyxquorra")
    p = _find(v, b"ZYXQUORRA")
    assert sorted(p.stdout.decode().split()) == sorted([v.records[MARKER], v.records["Adam Smith"]])


def test_child_find_without_a_match_exits_not_found_and_repeats_no_name(named):
    v = named
    p = _find(v, b"Zyxquorra Smith\n")
    assert p.returncode == ExitCode.NOT_FOUND
    assert p.stdout == b"" and b"Zyxquorra" not in p.stderr and b"no child you can read" in p.stderr
    # a holder who reads no profile finds no one, though the child is there
    v.add_holder("eve", "student")
    p = _find(v, b"Zyxquorra\n", who="eve")
    assert p.returncode == ExitCode.NOT_FOUND and p.stdout == b"" and b"Zyxquorra" not in p.stderr
    for bad in (b"", b"\n  \n", b"Zyxquorra\nAda\n", b"Zyx\xffquorra"):
        p = _find(v, bad)
        assert p.returncode == ExitCode.USAGE, (bad, p.stderr)
        assert p.stdout == b"" and b"Zyx" not in p.stderr and b"internal error" not in p.stderr


# ---------------------------------------------------------------------------
# child list filters and sort; find by name


def _list(v, *args: str, who: str = "amira") -> list[dict]:
    return json.loads(v.ok("child", "list", "--json", *args, who=who).stdout)


def test_child_list_filters_and_sorts(named):
    v = named
    m, ada, adam = v.records[MARKER], v.records["Ada Lovelace"], v.records["Adam Smith"]
    assert [r["record"] for r in _list(v, "--room", "WRENS", "--sort", "name")] == [ada, adam]
    assert [r["record"] for r in _list(v, "--key-person", "ben", "--sort", "dob")] == [adam, m]
    assert [r["record"] for r in _list(v, "--leaving-before", "2027-01-01")] == [ada]
    assert [r["record"] for r in _list(v, "--leaving-after", "2026-12-18", "--sort", "name")] == [ada, adam]
    assert [r["record"] for r in _list(v, "--leaving-after", "2026-12-19")] == [adam]
    assert [r["record"] for r in _list(v, "--leaving-before", "2027-01-01", "--leaving-after", "2027-01-01")] == []
    assert [r["record"] for r in _list(v, "--sort", "name")] == [ada, adam, m]
    assert [r["record"] for r in _list(v, "--sort", "room")][0] == m  # owls before wrens
    row = _list(v, "--room", "owls")[0]
    assert {"record", "readable", "key_person", "entries", "name", "dob", "room"} <= set(row)
    assert row["leaving_date"] is None and row["name"] == MARKER
    # a holder who reads no profile: the key person filter still works, room and leaving date pass nothing
    v.add_holder("eve", "student")
    assert sorted(r["record"] for r in _list(v, "--key-person", "ben", who="eve")) == sorted([m, adam])
    assert _list(v, "--room", "owls", who="eve") == []
    assert _list(v, "--leaving-before", "2030-01-01", who="eve") == []
    r = v.run("child", "list", "--leaving-after", "soon")
    assert r.exit_code == ExitCode.USAGE and "--leaving-after" in r.stderr


def test_find_matches_childrens_names_for_those_who_read_the_profile(named):
    v = named
    rows = json.loads(v.ok("find", "--json", "mbelvinske").stdout)
    assert [(r["record"], r["text"], r["name"]) for r in rows] == [(v.records[MARKER], "Built a tower", MARKER)]
    # entry text still matches, with the child named
    rows = json.loads(v.ok("find", "--json", "boat").stdout)
    assert [(r["record"], r["name"]) for r in rows] == [(v.records["Ada Lovelace"], "Ada Lovelace")]
    v.add_holder("eve", "student")
    assert json.loads(v.ok("find", "--json", "mbelvinske", who="eve").stdout) == []


# ---------------------------------------------------------------------------
# the same child twice


def test_child_add_refuses_the_same_child_and_writes_nothing(named):
    v = named
    head = v.head()
    for name, dob in ((MARKER, "2022-05-06"), ("zyxquorra  MBELVINSKE", "2022-05-06")):
        args = ["child", "add", "--name", name] + (["--dob", dob] if dob else [])
        r = v.run(*args)
        assert r.exit_code == ExitCode.VAULT_STATE, r.stderr
        assert v.records[MARKER] in r.stderr and "--force" in r.stderr
        assert "Zyx" not in r.stderr and "zyx" not in r.stderr and "MBEL" not in r.stderr and r.stdout == ""
        assert v.head() == head and v.is_clean()
    # another date of birth, or none, is another child
    other = v.ok("child", "add", "--name", MARKER, "--dob", "2023-01-01").last_line
    assert other != v.records[MARKER]
    undated = v.ok("child", "add", "--name", MARKER).last_line
    # ... but two without a date of birth are the same child
    r = v.run("child", "add", "--name", MARKER.upper())
    assert r.exit_code == ExitCode.VAULT_STATE and undated in r.stderr, r.stderr
    # --force adds a second, and says so
    r = v.ok("child", "add", "--name", MARKER, "--dob", "2022-05-06", "--force")
    assert "added a second child with the same name and date of birth" in r.stderr and "Zyx" not in r.stderr
    assert r.last_line not in (v.records[MARKER], other)


def test_child_add_compares_only_what_the_caller_reads_and_says_so(named):
    v = named
    # a practitioner reads every profile: everything was compared, nothing to say
    r = v.ok("child", "add", "--name", "Bo Chen", who="cara")
    assert "not checked" not in r.stderr
    # a student reads none: the same child goes in unnoticed, and the warning says how many were not compared
    v.add_holder("eve", "student")
    r = v.run("child", "add", "--name", MARKER, "--dob", "2022-05-06", who="eve")
    assert r.exit_code == 0, r.stderr
    assert "4 records whose profile you cannot read were not checked for the same child" in r.stderr
    assert "Zyx" not in r.stderr
    # the help says so before anyone relies on it
    assert "only records whose profile you can read are compared" in " ".join(v.ok("child", "add", "--help").stdout.split())
