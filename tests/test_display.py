"""What a person sees: record text made safe for a terminal, the case file at 80 and 200 columns, the pager,
and the quieter duties.

The terminal's own path (rich, wrapping, paging) runs only when stdout is a terminal, so those tests run
the real command (``python -m vault_cli``) on a pseudo-terminal (``pty``) with its window size set, and read
everything the terminal would have been sent. Pipes and ``--json`` run through the CLI in this process.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import termios
from typing import Optional

import pytest

from vault_cli.cli.safe_text import json_text, safe

# What a record may hold that a terminal would act on: an OSC title, an ANSI colour, a C1 CSI, DEL,
# a bell, and a right-to-left override with its pop.
OSC = "\x1b]0;PWNED-TITLE\x07"
CSI = "\x1b[31mZQXRED\x1b[0m"
C1 = "\x9b31mZQXC1"
RLO = "\u202eZQXTXT\u202c"
ISOLATE = "\u2067ZQXISO\u2069"
MARKERS = [OSC, CSI, C1, RLO, ISOLATE, "DEL\x7fZQX"]
RAW = ["\x1b]", "\x1b[31m", "\x9b", "\u202e", "\u202c", "\u2067", "\u2069", "\x7f", "\x07"]
SHOWN = ["\\x1b]0;PWNED-TITLE\\x07", "\\x1b[31mZQXRED\\x1b[0m", "\\x9b31mZQXC1", "<U+202E>ZQXTXT<U+202C>",
         "<U+2067>ZQXISO<U+2069>", "DEL\\x7fZQX"]
NAME = "Ada " + OSC + RLO + " [/bold]x"
TEXT = "Said " + " and ".join(MARKERS) + "\nsecond line " + CSI
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own styling: bold, dim


# ---------------------------------------------------------------------------
# the one function


def test_safe_shows_every_control_and_bidi_character_visibly():
    assert safe("plain text, école, 日本") == "plain text, école, 日本"
    assert safe(OSC) == "\\x1b]0;PWNED-TITLE\\x07"
    assert safe(C1) == "\\x9b31mZQXC1"
    assert safe(RLO + ISOLATE) == "<U+202E>ZQXTXT<U+202C><U+2067>ZQXISO<U+2069>"
    assert safe("a\tb\nc\rd") == "a\\tb\\nc\\rd"
    assert safe("a\tb\nc\rd", lines=True) == "a\tb\nc\\rd"
    assert safe("\u200f\u061c\u2028") == "<U+200F><U+061C><U+2028>"
    assert safe(None) == "" and safe(7) == "7"
    for ch in [chr(n) for n in [*range(0x20), *range(0x7F, 0xA0)]]:
        assert not any(c in safe(ch) for c in RAW), repr(ch)


def test_json_text_keeps_the_data_exact():
    data = {"name": NAME, "text": TEXT, "lone": "\udcff"}
    dumped = json_text(json.dumps(data, ensure_ascii=False))
    assert json.loads(dumped) == data
    assert not any(c in dumped for c in RAW + ["\udcff"])


# ---------------------------------------------------------------------------
# through the CLI: pipes and --json


@pytest.fixture
def marked(vault):
    rid = vault.add_child(NAME, key_person="ben", room="rain" + CSI)
    e = vault.add_entry(rid, TEXT, "confidential", "discussion", "amira", "--third-party", "Dr " + RLO,
                        "--parents-not-informed", "it would " + OSC + "put her at risk")
    vault.ok("mark", e, "--parent-view", "confidential", "--reason", "asked " + C1)
    return vault, rid, e


def _assert_safe(out: str, *, where: str) -> None:
    for raw in RAW:
        assert raw not in out, f"{where}: {raw!r} reached the output"


def test_pipes_show_record_text_visibly(marked):
    v, rid, e = marked
    show = v.ok("show", rid).stdout
    _assert_safe(show, where="show")
    for shown in SHOWN:
        assert shown in show
    assert "[/bold]x" in show
    assert "<U+202E>ZQXTXT<U+202C>" in show.split("third parties: Dr ", 1)[1]
    lists = v.ok("child", "list").stdout
    _assert_safe(lists, where="child list")
    assert "[/bold]x" in lists and "\\x1b[31mZQXRED" in lists
    found = v.ok("find", "ZQX").stdout
    _assert_safe(found, where="find")
    audit = v.ok("audit").stdout
    _assert_safe(audit, where="audit")


def test_json_keeps_record_text_exact_and_escaped(marked):
    v, rid, e = marked
    r = v.ok("show", rid, "--json")
    _assert_safe(r.stdout, where="show --json")
    data = json.loads(r.stdout)
    assert data["profile"]["name"] == NAME
    entry = next(x for x in data["entries"] if x["entry"] == e)
    assert entry["text"] == TEXT and entry["third_parties"] == ["Dr " + RLO]
    assert entry["markings"][0]["reason"] == "asked " + C1
    rows = json.loads(v.ok("child", "list", "--json").stdout)
    assert rows[0]["name"] == NAME


# ---------------------------------------------------------------------------
# on a terminal


def run_pty(vault, *args: str, cols: int = 80, rows: int = 50, env: Optional[dict] = None,
            who: str = "amira") -> tuple[int, str]:
    """``confide ARGS`` as a person runs it: stdin, stdout and stderr a pseudo-terminal of cols x rows, no
    pager unless ``env`` names one (a value None unsets a variable). Returns the exit code and everything the terminal was sent (line ends as \\n)."""
    import pty

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    full = dict(os.environ, CONFIDE_VAULT=str(vault.root), CONFIDE_IDENTITY=str(vault.keys[who]),
                COLUMNS=str(cols), LINES=str(rows), TERM="xterm-256color", CONFIDE_PAGER="")
    full.pop("NO_COLOR", None)
    for k, val in (env or {}).items():  # None: unset
        if val is None:
            full.pop(k, None)
        else:
            full[k] = val
    p = subprocess.Popen([sys.executable, "-m", "vault_cli", *args], stdin=slave, stdout=slave, stderr=slave,
                         env=full, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = p.wait()
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def _visible(out: str) -> str:
    """What the terminal shows once rich's own styling is taken out; any other escape is a failure."""
    return SGR.sub("", out)


def test_a_terminal_is_sent_no_escape_or_override_from_a_record(marked):
    v, rid, e = marked
    for args in (["show", rid], ["child", "list"], ["find", "ZQX"], ["audit"], ["due"]):
        code, out = run_pty(v, *args)
        assert code == 0, (args, out)
        assert "\x1b[31mZQXRED" not in out and "\x9b31m" not in out
        _assert_safe(_visible(out), where=" ".join(args))
        assert "\x1b" not in _visible(out), (args, out)
    code, out = run_pty(v, "child", "list", cols=200)
    assert code == 0 and "internal error" not in out
    assert "[/bold]x" in _visible(out)
    code, out = run_pty(v, "show", rid)
    for shown in SHOWN[:4]:
        assert shown in _visible(out).replace("\n    ", " ") or shown in _visible(out)


LONG = ("The child arrived quiet and stayed close to her key person all morning; at snack time she said "
        "that her brother had shouted at home and that she did not want to go back there tonight. ") * 3


_CASEFILE: dict = {}


@pytest.fixture
def casefile(vault, keys, tmp_path, tmp_path_factory):
    """A child with 13 entries, built through the CLI once per test session, then copied for each test."""
    from conftest import copy_vault

    if "root" not in _CASEFILE:
        rid = vault.add_child("Ada Lovelace", key_person="ben", dob="2022-03-04", room="rainbow")
        ids = [vault.add_entry(rid, LONG, "safeguarding", "concern", "dara", "--parents-not-informed",
                               "informing parents may place the child at risk", "--third-party", "Her brother")]
        for i in range(12):
            ids.append(vault.add_entry(rid, f"Built a tower of {i} blocks", who="ben"))
        template = tmp_path_factory.mktemp("casefile-template") / "vault"
        shutil.copytree(vault.root, template, symlinks=True)
        _CASEFILE.update(root=template, rid=rid, ids=ids)
    v = copy_vault(_CASEFILE["root"], tmp_path / "casefile", keys)
    return v, _CASEFILE["rid"], list(_CASEFILE["ids"])


@pytest.mark.parametrize("cols", [80, 200])
def test_show_reads_as_a_case_file_at_80_and_200_columns(casefile, cols):
    v, rid, ids = casefile
    code, out = run_pty(v, "show", rid, cols=cols, rows=500)
    assert code == 0, out
    lines = _visible(out).splitlines()
    assert max(len(line) for line in lines) <= cols
    for eid in ids:  # every id whole, on its entry's header line, with the date whole beside it
        head = [line for line in lines if eid in line]
        assert len(head) == 1 and re.match(r"^2026-11-24 10:00  ", head[0]), (eid, head)
    text_lines = [line for line in lines if line.startswith("    ") and not line.startswith(("      ", "    parents"))
                  and any(w in line for w in ("child", "snack", "shouted", "tonight", "morning"))]
    assert len(text_lines) >= 3
    # wrapped, not cut into strips: every line of the text but the last is nearly a full line
    widest = min(cols - 1, 100)
    assert all(len(t) > widest - 20 for t in text_lines[:-1]), text_lines
    assert " ".join(t.strip() for t in text_lines).startswith(LONG.strip()[:200])
    assert "parents not told: informing parents may place the child at risk" in " ".join(lines)


def test_due_and_audit_read_at_80_columns(casefile):
    v, rid, ids = casefile
    v.ok("grant", "cara", "--child", rid, "--level", "confidential", "--level", "safeguarding", "--until", "2026-11-30")
    for args in (["due"], ["audit"], ["find", "tower"], ["holder", "list"]):
        code, out = run_pty(v, *args, cols=80, rows=500)
        assert code == 0, out
        lines = _visible(out).splitlines()
        assert max(len(line) for line in lines) <= 80, (args, out)
        assert args == ["holder", "list"] or rid in _visible(out)  # ids whole, never folded
    code, out = run_pty(v, "due", cols=80, rows=500)
    assert "cara's confidential, safeguarding grant ends" in out
    code, out = run_pty(v, "due", cols=200, rows=500)
    assert "┃ kind" in _visible(out)  # at 200 columns the table fits, and is drawn


# ---------------------------------------------------------------------------
# the pager


PREFIX = "sed 's/^/PAGED| /'"


def test_long_output_on_a_terminal_goes_through_the_pager(casefile):
    v, rid, ids = casefile
    code, out = run_pty(v, "show", rid, rows=10, env={"CONFIDE_PAGER": PREFIX})
    assert code == 0
    shown = [line for line in _visible(out).splitlines() if line]
    assert shown and all(line.startswith("PAGED| ") for line in shown), out
    # PAGER when CONFIDE_PAGER is not set; CONFIDE_PAGER first; an empty one means no pager
    via = PREFIX.replace("PAGED", "VIA-PAGER")
    code, out = run_pty(v, "show", rid, rows=10, env={"CONFIDE_PAGER": None, "PAGER": via})
    assert code == 0 and "VIA-PAGER| " in out
    code, out = run_pty(v, "show", rid, rows=10, env={"CONFIDE_PAGER": "", "PAGER": via})
    assert code == 0 and "VIA-PAGER" not in out and ids[0] in out
    code, out = run_pty(v, "show", rid, rows=10, env={"CONFIDE_PAGER": PREFIX, "PAGER": "false"})
    assert "PAGED| " in out
    # --no-pager, and output that fits the screen, are printed directly
    code, out = run_pty(v, "show", rid, "--no-pager", rows=10, env={"CONFIDE_PAGER": PREFIX})
    assert code == 0 and "PAGED" not in out and ids[0] in out
    code, out = run_pty(v, "show", rid, rows=500, env={"CONFIDE_PAGER": PREFIX})
    assert code == 0 and "PAGED" not in out and ids[0] in out
    code, out = run_pty(v, "audit", rows=10, env={"CONFIDE_PAGER": PREFIX})
    assert "PAGED| " in out


def test_no_pager_when_stdout_is_not_a_terminal(casefile):
    v, rid, ids = casefile
    r = v.run("show", rid, env={"CONFIDE_PAGER": PREFIX, "LINES": "5"})
    assert r.exit_code == 0 and "PAGED" not in r.stdout and ids[0] in r.stdout


# ---------------------------------------------------------------------------
# quieter duties, and how a decision to share was carried out


def test_due_gives_one_item_per_grant_ending_and_no_view_duty_where_parents_are_not_told(vault):
    rids = [vault.add_child(n, key_person="ben") for n in ("Ada Lovelace", "Bo Chen", "Cy Young")]
    quiet = vault.add_entry(rids[0], "Said she is scared to go home", "safeguarding", "concern", "dara",
                            "--parents-not-informed", "informing parents may place the child at risk")
    owed = vault.add_entry(rids[1], "Mother says Bo sleeps badly", "confidential", "discussion")
    vault.ok("holder", "add", "olga", "--role", "auditor", "--recipient",
             __import__("conftest").recipient_of(vault.keys["eve"]))
    vault.ok("grant", "olga", "--all", "--level", "general", "--level", "confidential", "--level", "safeguarding",
             "--until", "2026-11-27")
    items = json.loads(vault.ok("due", "--json").stdout)["items"]
    grants = [i for i in items if i["kind"] == "grant-ends"]
    assert len(grants) == 1
    assert grants[0]["holder"] == "olga" and grants[0]["levels"] == ["general", "confidential", "safeguarding"]
    assert grants[0]["records"] == sorted(rids) and grants[0]["record"] is None
    assert "on 3 records" in grants[0]["what"]
    views = {i["item"] for i in items if i["kind"] == "parent-view-not-asked"}
    assert owed in views and quiet not in views
    assert owed in {i["item"] for i in items if i["kind"] == "parents-not-informed"}
    table = vault.ok("due").stdout.splitlines()
    assert sum(line.startswith("grant-ends") for line in table) == 1


def test_share_how_is_kept_in_the_record_and_shown(vault):
    rid = vault.add_child("Ada Lovelace", key_person="ben")
    marker = "by phone to the duty desk ZQXHOW"
    e = vault.ok("share", rid, "--with", "Children's services", "--what", "the bruise", "--purpose", "a referral",
                 "--basis", "safeguarding duty", "--consent", "not-sought", "--reason", "asking would put her at risk",
                 "--how", marker, "--parents-not-informed", "it would put her at risk", who="dara").last_line
    assert f"how it was shared: {marker}" in vault.ok("show", rid, who="dara").stdout
    entry = next(x for x in json.loads(vault.ok("show", rid, "--json", who="dara").stdout)["entries"] if x["entry"] == e)
    assert entry["details"]["how"] == marker
    plain = subprocess.run(["git", "-C", str(vault.root), "log", "-p", "--all", "--format=%B"], capture_output=True,
                           text=True, check=True).stdout
    assert "ZQXHOW" not in plain
    ordinary = vault.add_entry(rid, "Built a tower")
    entry = next(x for x in json.loads(vault.ok("show", rid, "--json").stdout)["entries"] if x["entry"] == ordinary)
    assert entry["details"] is None


def test_the_push_hook_tells_the_pusher_safely(vault, tmp_path):
    """A pushed file's name may hold escapes; the hook's refusal, which git relays to the pusher's
    terminal, shows them visibly."""
    from conftest import run_cli
    from test_trust_sync import identity_of

    bare = tmp_path / "srv.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    vault.git("push", "-q", str(bare), "HEAD:refs/heads/main")
    assert run_cli(["serve-hook", "install", str(bare), "--trust", identity_of(vault)]).exit_code == 0
    old = vault.head()
    (vault.root / ("evil" + OSC + RLO)).write_text("x\n")
    vault.commit_as("amira", "tidy")
    push = subprocess.run(["git", "-C", str(vault.root), "push", str(bare), "HEAD:refs/heads/main"],
                          capture_output=True, text=True)
    assert push.returncode != 0 and "confide: refused" in push.stderr, push.stderr
    assert "evil\\x1b]0;PWNED-TITLE\\x07<U+202E>ZQXTXT<U+202C>" in push.stderr, push.stderr
    _assert_safe(push.stderr, where="serve-hook")
    assert subprocess.run(["git", "-C", str(bare), "rev-parse", "main"], capture_output=True,
                          text=True).stdout.strip() == old
