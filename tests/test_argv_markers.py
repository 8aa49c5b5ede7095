"""Nothing personal in argv: the README's session done the safe way never puts a child's details on a command line.

Every command here is a real process (``python -m vault_cli``), and while they run a sampler thread reads
``/proc/PID/cmdline`` of every process on the machine as fast as it can, as any local user could; git and
ssh-keygen (which confide starts, often too briefly to be sampled) are wrappers on PATH that log their argv.
Names, entry text, third parties, the requester, sharing details and reasons are marker strings given by the
safe ways only: ``--from FILE`` (YAML or JSON), ``--text -`` and ``find -`` on stdin, the name for
``child find`` on stdin, reasons on stdin, an ``$EDITOR`` script that copies a prepared file, answers typed
at a terminal's prompts. The test asserts that no marker was ever seen in any argv, and that the sampler did
watch every confide process it started; a positive control proves the sampler catches a marker that *is*
given as an argument, so this test can fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import recipient_of, signing_pub
from tests.test_names import Terminal  # its real pseudo-terminal, read with poll()
from vault_cli.cli.personal import TEXT_MARK

ROOT = Path(__file__).resolve().parent.parent

CHILD = "Qwertlyn Ashbrookvance"
DOB = "2021-07-19"
INJURY = "Zorbelquist bruise on the left arm"
CONCERN = "Yarnwhistle said she is scared"
NOT_TOLD = "Fendrickal informing parents may place her at risk"
THIRD = "Dr Plovkinsham"
REQUESTER = "Morwenna Quillstrap"
ID_CHECKED = "Gribbledown passport seen"
SHARE_WITH = "Thornquaile Family Centre"
SHARE_WHAT = "Vexlomby the bruise"
SHARE_HOW = "Kestrafell courier"
REASON = "Brannoweth the mother should see it"
CLOSE_NOTES = "Oskaverin went through it together"
EDITED = "Plimsquaddle wrote this in the editor"
TYPED = "Hollowmarsh Tindleby"
HOLD_REASON = "Quorvantide inquiry: keep her file"
RELEASE_REASON = "Sprellmoor the inquiry closed"
LEAVER = "Wembleforth Oddingsley"  # a child who left in 2023: her record's review date has come
KEEP_UNTIL = "2031-05-17"  # a review's keep-until date: the record's new review date
REVIEW_REASON = "Drumvellick solicitor asked us to keep it"
# every word that is in no other text: seeing any one in an argv is a leak
MARKERS = [w.encode() for w in ("Qwertlyn", "Ashbrookvance", DOB, "Zorbelquist", "Yarnwhistle", "Fendrickal",
                                "Plovkinsham", "Morwenna", "Quillstrap", "Gribbledown", "Thornquaile", "Vexlomby",
                                "Kestrafell", "Brannoweth", "Oskaverin", "Plimsquaddle", "Hollowmarsh", "Tindleby",
                                "Quorvantide", "Sprellmoor", "Wembleforth", "Oddingsley", KEEP_UNTIL,
                                "Drumvellick")]


def _descends_from(pid: int, root: int) -> bool:
    """Is ``pid`` ``root`` or a process below it? (Read while it runs; an orphan counts, to be safe.)"""
    while pid > 1:
        if pid == root:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True  # gone before it could be placed: counted
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return pid == root or pid == 1  # reparented to init: its parent is gone, so it may have been ours


class Sampler:
    """Reads every process's /proc/PID/cmdline in a loop until stopped: which argv held a marker, which pids it saw."""

    def __init__(self) -> None:
        self.hits: list[tuple[int, bytes]] = []
        self.seen: set[int] = set()
        self.rounds = 0
        self._stop = threading.Event()
        self._root = os.getpid()  # the processes this test starts, and theirs (not other users' on a shared machine)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    with open(f"/proc/{name}/cmdline", "rb") as fh:
                        argv = fh.read()
                except OSError:
                    continue
                self.seen.add(int(name))
                if any(m in argv for m in MARKERS) and _descends_from(int(name), self._root):
                    self.hits.append((int(name), argv))
            self.rounds += 1

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()




def _wrappers(tmp_path: Path) -> tuple[Path, Path]:
    """git and ssh-keygen wrappers on PATH that log their argv (NUL-separated, one line per call)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "argv.log"
    for tool in ("git", "ssh-keygen"):
        real = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True, check=True).stdout.strip()
        wrapper = folder / tool
        wrapper.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" >> "{log}"\necho >> "{log}"\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
    return folder, log


class Session:
    """Real confide processes in one vault, each pid kept so the test can check the sampler saw it."""

    def __init__(self, tmp_path: Path, keys: dict, bin_dir: Path) -> None:
        self.tmp = tmp_path
        self.keys = keys
        self.root = tmp_path / "vault"
        self.pids: list[int] = []
        self.env = dict(os.environ)
        self.env["PATH"] = f"{bin_dir}{os.pathsep}{self.env['PATH']}"
        self.env["PYTHONPATH"] = str(ROOT) + os.pathsep + self.env.get("PYTHONPATH", "")
        self.env["CONFIDE_VAULT"] = str(self.root)

    def run(self, *args: str, who: str = "amira", stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess:
        env = dict(self.env, CONFIDE_IDENTITY=str(self.keys[who]), CONFIDE_SIGNING_KEY=str(self.keys[who + ".sign"]))
        p = subprocess.Popen([sys.executable, "-m", "vault_cli", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, cwd=self.tmp)
        self.pids.append(p.pid)
        out, err = p.communicate(stdin.encode())
        r = subprocess.CompletedProcess(p.args, p.returncode, out.decode(), err.decode())
        if ok:
            assert r.returncode == 0, f"confide {' '.join(args)}: {r.stderr}"
        return r

    def file(self, name: str, data: object) -> str:
        path = self.tmp / name
        path.write_text(json.dumps(data) if name.endswith(".json") else str(data))
        return str(path)


def test_the_readme_session_done_the_safe_way_puts_no_marker_in_any_argv(tmp_path, keys):
    bin_dir, log = _wrappers(tmp_path)
    s = Session(tmp_path, keys, bin_dir)
    with Sampler() as sampler:
        s.run("init", str(s.root), "--name", "Sunny Days Nursery", "--holder", "amira",
              "--signing-key", signing_pub(keys, "amira"))
        for name, role in (("ben", "practitioner"), ("dara", "dsl")):
            s.run("holder", "add", name, "--role", role, "--recipient", recipient_of(keys[name]),
                  "--signing-key", signing_pub(keys, name))
        child_yaml = s.file("child.yaml", f"name: {CHILD}\ndob: {DOB}\nkey_person: ben\nroom: rainbow\n")
        rid = s.run("child", "add", "--from", child_yaml).stdout.split()[-1]
        injury = s.run("add", rid, "--from", s.file("injury.json", {
            "level": "confidential", "category": "injury", "text": INJURY, "third_parties": [THIRD],
            "parent_view": "not-confidential", "parents_informed": "2026-11-24"}), who="ben").stdout.split()[-1]
        concern = s.run("add", rid, "--level", "safeguarding", "--category", "concern", "--text", "-",
                        "--from", s.file("concern.yaml", f"parents_not_informed: {NOT_TOLD}\n"),
                        who="dara", stdin=CONCERN + "\n").stdout.split()[-1]
        s.run("show", rid)
        assert s.run("child", "find", stdin="qwertlyn\n").stdout.split() == [rid]
        assert s.run("find", "-", who="ben", stdin="zorbelquist\n").stdout.count(injury) == 1
        s.run("mark", injury, "--from", "-", who="ben", stdin="parent_view: confidential\n")
        shared = s.run("share", rid, "--from", "-", who="dara", stdin=json.dumps({
            "with": SHARE_WITH, "what": SHARE_WHAT, "purpose": "a referral", "basis": "safeguarding duty",
            "consent": "not-sought", "reason": NOT_TOLD, "how": SHARE_HOW, "parents_not_informed": NOT_TOLD,
        })).stdout.split()[-1]
        req = s.run("request", "open", rid, "--from", "-", stdin=(
            f"requester: {REQUESTER}\nrelationship: mother\nreceived: 2026-11-20\nid_checked: {ID_CHECKED}\n"
            "acknowledged: 2026-11-21\nlegal_advice: not-sought\n")).stdout.split()[-1]
        s.run("request", "consent", req, "--from", "-", stdin=f"third_party: {THIRD}\ngiven: true\n")
        for entry in (concern, shared):
            s.run("request", "decide", req, entry, "--disclose", stdin=REASON + "\n")
        s.run("request", "show", req)
        s.run("request", "export", req, "--out", str(tmp_path / "copy.md"), "--format", "md")
        assert INJURY in (tmp_path / "copy.md").read_text()  # the session did its work
        s.run("request", "close", req, "--from", "-", stdin=f"met_on: 2026-11-24\nnotes: {CLOSE_NOTES}\n")
        # a legal hold: which record and why, on stdin (the record id in argv would link the hold to the child)
        hold = s.run("hold", "add", "--from", "-", stdin=json.dumps({"record": rid, "reason": HOLD_REASON})).stdout.split()[-1]
        s.run("hold", "list")
        s.run("hold", "release", hold, "--from", "-", stdin=f"reason: {RELEASE_REASON}\n")
        # a leaver's retention review: the leaving date and the keep-until date (the record's new review date,
        # never in the clear) on stdin, with the reason
        leaver = s.run("child", "add", "--from", "-", stdin=f"name: {LEAVER}\ndob: 2020-02-03\nkey_person: ben\n"
                       ).stdout.split()[-1]
        s.run("child", "leave", leaver, "--from", "-", who="ben", stdin="date: 2023-06-30\n")
        s.run("review", leaver, "--from", "-", stdin=f"keep_until: {KEEP_UNTIL}\nreason: {REVIEW_REASON}\n")
        assert json.loads(s.run("retention", leaver, "--json").stdout)["review_date"] == KEEP_UNTIL
        s.run("verify")
    assert sampler.hits == [], f"a marker was seen in a process's argv: {sampler.hits[:3]}"
    missed = [p for p in s.pids if p not in sampler.seen]
    assert not missed, f"the sampler never saw {len(missed)} of the {len(s.pids)} confide processes"
    logged = log.read_bytes()
    assert logged.count(b"\n") > 20  # git and ssh-keygen were run, and logged
    assert not [m for m in MARKERS if m in logged]


def test_the_sampler_catches_a_marker_given_as_an_argument(tmp_path, keys, vault):
    """The positive control: the same sampler, a marker given the unsafe way, caught."""
    bin_dir, log = _wrappers(tmp_path)
    s = Session(tmp_path, keys, bin_dir)
    s.root = vault.root
    s.env["CONFIDE_VAULT"] = str(vault.root)
    with Sampler() as sampler:
        s.run("child", "add", "--name", CHILD)
    assert sampler.hits and all(CHILD.split()[0].encode() in argv for _, argv in sampler.hits)
    assert s.pids[0] in {pid for pid, _ in sampler.hits}


@pytest.fixture
def editor_script(tmp_path):
    """An $EDITOR that keeps a copy of the template it was given, then replaces it with a prepared file: the
    text reaches confide by file, never by argv."""
    source = tmp_path / "typed.txt"
    script = tmp_path / "fill-in"
    script.write_text(f'#!/bin/sh\ncp "$1" "{tmp_path}/template.txt"\ncat "{source}" > "$1"\n')
    script.chmod(0o755)
    return script, source


def test_on_a_terminal_the_entry_is_written_in_the_editor_and_a_name_asked_for(vault, tmp_path, editor_script):
    v = vault
    v.add_child("Ada Lovelace", "ben")
    rid = v.records["Ada Lovelace"]
    script, source = editor_script
    source.write_text(f"level: general\ncategory: observation\n{TEXT_MARK}\n# a comment, dropped\n{EDITED}\n")
    with Sampler() as sampler:
        t = Terminal(v, "add", rid, env_extra={"EDITOR": str(script)})
        code, screen = t.finish()
        assert code == 0, screen
        entry = [line.strip() for line in screen.splitlines() if line.strip().startswith("e-")][-1]
        template = (tmp_path / "template.txt").read_text()
        assert "# Level: general, confidential or safeguarding (required)\nlevel:\n" in template
        assert template.splitlines()[-2:] == [TEXT_MARK, "# The entry's text (required): everything below the line"]
        shown = v.ok("show", rid, "--json").stdout
        assert EDITED in shown and entry in shown and "a comment, dropped" not in shown
        # a required value not given is asked for at the terminal's prompt
        t = Terminal(v, "child", "add", "--room", "owls")
        t.expect("The child's name: ")
        t.type(TYPED + "\n")
        code, screen = t.finish()
        assert code == 0, screen
        assert "given as" not in screen  # nothing personal was given as an argument
    assert sampler.hits == [], sampler.hits
    assert any(r["name"] == TYPED for r in json.loads(v.ok("child", "list", "--json").stdout))


def test_an_empty_template_records_nothing(vault, tmp_path):
    v = vault
    v.add_child("Ada Lovelace", "ben")
    empty = tmp_path / "empty"
    empty.write_text('#!/bin/sh\n: > "$1"\n')
    empty.chmod(0o755)
    head = v.head()
    t = Terminal(v, "add", v.records["Ada Lovelace"], "--level", "general", "--category", "observation",
                 env_extra={"EDITOR": str(empty)})
    code, screen = t.finish()
    assert code == 2 and "the template was left empty; nothing was recorded" in screen
    assert v.head() == head


def test_personal_values_as_arguments_warn_once_on_a_terminal_and_never_in_a_script(vault):
    v = vault
    v.add_child("Ada Lovelace", "ben")
    rid = v.records["Ada Lovelace"]
    t = Terminal(v, "add", rid, "--level", "general", "--category", "observation", "--text", "Climbed",
                 "--third-party", "Dr Who", who="ben")
    code, screen = t.finish()
    assert code == 0, screen
    words = " ".join(screen.split())  # wrapped to the terminal's 100 columns
    assert words.count("confide: warning: --third-party, --text were given as arguments: they stay in your shell's "
                       "history") == 1
    assert "confide: hint: give the text with --text - (stdin)" in words
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("confide: warning: --third-party"))
    ours = [lines[start]] + [line for line in lines[start + 1:start + 6] if line.startswith(("  ", "confide: hint: give"))]
    assert len(ours) >= 3 and max(len(line) for line in ours) <= 100  # wrapped, not cut
    r = v.ok("add", rid, "--level", "general", "--category", "observation", "--text", "Climbed", who="ben")
    assert "given as" not in r.stderr  # a script is not warned


def test_share_edit_reopens_the_template_until_what_is_required_is_there(vault, tmp_path):
    v = vault
    v.add_child("Ada Lovelace", "ben")
    rid = v.records["Ada Lovelace"]
    first = tmp_path / "first.yaml"
    first.write_text(f"with: {SHARE_WITH}\n")
    full = tmp_path / "full.yaml"
    full.write_text(f"with: {SHARE_WITH}\nwhat: {SHARE_WHAT}\npurpose: advice\nbasis: legitimate interests\n"
                    f"consent: given\nhow: {SHARE_HOW}\nparents_informed: 2026-11-24\n")
    script = tmp_path / "editor"
    script.write_text(f'#!/bin/sh\ncp "$1" "{tmp_path}/seen-$(ls {tmp_path} | grep -c seen-)"\n'
                      f'if grep -q "^# ERROR: " "$1"; then cat "{full}" > "$1"; else cat "{first}" > "$1"; fi\n')
    script.chmod(0o755)
    with Sampler() as sampler:
        t = Terminal(v, "share", rid, "--edit", who="dara", env_extra={"EDITOR": str(script)})
        code, screen = t.finish()
    assert code == 0, screen
    assert sampler.hits == []
    second = (tmp_path / "seen-1").read_text()
    assert second.startswith("# ERROR: still missing: what, purpose, consent\n")
    assert f"with: {SHARE_WITH}" in second  # what was written is kept
    shown = v.ok("show", rid, "--json", who="dara").stdout
    assert SHARE_WHAT in shown and SHARE_HOW in shown


def test_find_asks_for_its_text_on_a_terminal(vault):
    v = vault
    v.add_child("Ada Lovelace", "ben")
    entry = v.add_entry(v.records["Ada Lovelace"], "Built a tower")
    t = Terminal(v, "find", who="ben")
    t.expect("Text to look for (Enter: every entry): ")
    t.type("TOWER\n")
    code, screen = t.finish()
    assert code == 0, screen
    assert entry in screen and "given as" not in screen
