"""The command line, as a terminal shows it: every transcript in tests/cli/*.txt, run and compared exactly.

A transcript reads like a terminal session. Each ``$`` line is a command; the
lines under it say what it must read on stdin, what it must print, in the
order a terminal shows it, and how it must exit::

    # a practitioner may not grant a level
    $ confide grant cara --child $ADA --level confidential   (as ben)
    ! exit 5
    2> confide: error: ...
    2> confide: hint: ...

``# ...``
    A comment: say what the next commands show and why. Blank lines separate cases.
``from NAME``
    (first line that is not a comment) start where tests/cli/NAME.txt ends: a copy of its folder, its
    variables, its current folder and its exports. Without it a transcript starts in an empty ``$WORK``.
``$ confide ARGS``
    The real CLI, in this process (as ``python -m vault_cli ARGS``, without the start-up). Words are split as a
    shell splits them (shlex), then variables are substituted in each word.
``$ ... (as NAME)``
    The command runs as holder NAME: ``CONFIDE_IDENTITY`` and ``CONFIDE_SIGNING_KEY`` point at
    ``$KEYS/NAME.key`` (a key 'confide keygen' made, which reads and signs) if it exists, else at
    ``$KEYS/NAME.txt`` and ``$KEYS/NAME.sign``. ``(as nobody)`` unsets both.
``$ cd DIR``, ``$ export NAME=VALUE ...``, ``$ unset NAME ...``
    As in a shell; they last until the end of the transcript (and into transcripts that start ``from`` it).
``$ git ARGS`` (or any other program)
    Run as a subprocess, without a shell; its stdout lines are shown before its stderr lines.
``$ A | B``
    A pipeline, as in a shell: A's stdout is B's stdin, and B's exit code counts. ``| sort`` puts lines whose
    order depends on random ids (records are listed by their random id) in an order that does not.
``< LINE``
    A line of the command's stdin (none: stdin is empty).
``! exit N``
    The command must exit with N (without this line: 0).
``> LINE`` / ``2> LINE``
    A line the command prints on stdout / stderr (``>`` alone: an empty line). Every line is compared exactly,
    with nothing left out and nothing extra, trailing white space included (a table whose last column is
    empty ends in a tab; tests/cli/.editorconfig tells editors to keep it).

Variables. ``$NAME`` (upper case) in a command is replaced by its value. In an expected line a bound
``$NAME`` must appear as its value; an unbound one *captures* what is printed there and binds it, but only
something random by design: a record id (c-...), an entry, marking or request id (e-, m-, r-...), a level
key id (k-...), a legal hold id (h-...), a commit id (40 or 64 hex digits, or an abbreviated 12), an SSH ed25519 public key, an age
recipient, a key fingerprint (SHA256:...), or a size in bytes (a number followed by " bytes": a backup of
encrypted blocks has no fixed size). So ``> $ADA`` binds the record id a command printed, and
``${C:0:12}`` is the first 12 characters of a bound ``$C``. ``$$`` is a literal ``$``. Predefined:
``$WORK`` (the transcript's temporary folder, where it starts), ``$KEYS`` (``$WORK/keys``: private copies,
mode 0600, of tests/keys), ``$HOME`` (``$WORK/home``) and, for each fixed test key NAME, ``$NAME_AGE`` (its
age recipient) and ``$NAME_SSH`` (its SSH signing key's public line), e.g. ``$BEN_AGE``, ``$BEN_SSH``.

Everything else is fixed: the clock (``CONFIDE_NOW`` and git's dates: 2026-11-24 10:00 UTC, ``TZ=UTC``),
``COLUMNS=100``, ``NO_COLOR=1``, an empty environment otherwise (``PATH`` and ``LANG`` only; ``HOME`` and
git's global config in ``$WORK/home``). Nothing else is normalised.

Writing transcripts. ``UPDATE_TRANSCRIPTS=1 pytest tests/test_transcripts.py`` rewrites each file's
expected lines from what the commands print now (lines that still match keep their variables; new random
values get numbered names such as ``$RECORD1`` or ``$COMMIT2``, to be renamed). It is for maintainers: read
every changed line before committing it, because the transcripts are the specification of the CLI's output.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

CLI_DIR = Path(__file__).parent / "cli"
KEYS_DIR = Path(__file__).parent / "keys"
UPDATE = os.environ.get("UPDATE_TRANSCRIPTS") == "1"
NOW = "2026-11-24T10:00:00+00:00"

# What a capture may match: values that are random by design, and nothing else.
_B32 = "[0-9a-hjkmnp-tv-z]"
SHAPES = {
    "RECORD": rf"c-{_B32}{{8}}",
    "ENTRY": rf"e-{_B32}{{14}}",
    "MARK": rf"m-{_B32}{{14}}",
    "REQUEST": rf"r-{_B32}{{14}}",
    "LEVELKEY": rf"k-{_B32}{{4}}",
    "HOLD": rf"h-{_B32}{{12}}",
    "COMMIT": r"[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{12}",
    "SSHKEY": r"ssh-ed25519 AAAA[A-Za-z0-9+/]{64,}={0,2}",
    "AGEKEY": r"age1[0-9a-z]{58}",
    "FINGERPRINT": r"SHA256:[A-Za-z0-9+/]{43}",
    "BYTES": r"[0-9]+(?= bytes)",  # the size of a file of encrypted, compressed blocks
}
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
_ANY_SHAPE = "|".join(f"(?:{s})" for s in SHAPES.values())
_SHAPED = re.compile(_EDGE_BEFORE + f"(?:{_ANY_SHAPE})" + _EDGE_AFTER)
_TOKEN = re.compile(r"\$\$|\$\{([A-Z][A-Z0-9_]*)(?::0:(\d+))?\}|\$([A-Z][A-Z0-9_]*)")
_AS = re.compile(r"\s+\(as ([a-z][a-z0-9._-]*)\)\s*$")


# ---------------------------------------------------------------------------
# the file format


@dataclass
class Step:
    line: int  # where the '$' line is, for messages
    command: str  # the text after '$ ', without '(as NAME)'
    actor: Optional[str]
    raw: list[str]  # the '$' line and its '<' lines, as written
    stdin: list[str] = field(default_factory=list)
    exit: int = 0
    expected: list[tuple[str, str]] = field(default_factory=list)  # (">" or "2>", template)


def parse(text: str, name: str) -> tuple[Optional[str], list]:
    """The transcript as ``(from_name, items)``: items are kept lines (str) and Steps, in order."""
    items: list = []
    base = None
    step: Optional[Step] = None
    seen_command = False
    for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        where = f"{name}:{n}"
        if line.startswith("$ "):
            command, actor = line[2:], None
            m = _AS.search(command)
            if m:
                command, actor = command[: m.start()], m.group(1)
            step = Step(n, command.strip(), actor, [line])
            items.append(step)
            seen_command = True
            continue
        if step is not None and (line == "<" or line.startswith("< ")):
            if step.expected or step.exit:
                raise ValueError(f"{where}: stdin ('<') must come before the expected lines")
            step.stdin.append(line[2:])
            step.raw.append(line)
            continue
        if step is not None and re.fullmatch(r"! exit \d+", line):
            step.exit = int(line.split()[-1])
            continue
        if step is not None and (line in (">", "2>") or line.startswith(("> ", "2> "))):
            stream, _, rest = line.partition(" ")
            step.expected.append((stream, rest))
            continue
        if line.startswith(("$", "<", ">", "2>", "! ")):
            raise ValueError(f"{where}: an expected line without a command above it, or a malformed line: {line!r}")
        if re.fullmatch(r"from \S+", line):
            if seen_command or base is not None:
                raise ValueError(f"{where}: 'from' must come before every command")
            base = line.split()[1]
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"{where}: not a comment, a command or an expected line: {line!r}")
        step = None
        items.append(line)
    return base, items


def render(items: list) -> str:
    lines: list[str] = []
    for it in items:
        if isinstance(it, str):
            lines.append(it)
            continue
        lines.extend(it.raw)
        if it.exit:
            lines.append(f"! exit {it.exit}")
        lines.extend(f"{s} {t}" if t else s for s, t in it.expected)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# variables: substitution, capture, and naming what was printed (for updates and diffs)


def substitute(word: str, env: dict, where: str) -> str:
    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(3)
        if name not in env:
            raise ValueError(f"{where}: ${name} is not bound yet")
        return env[name][: int(m.group(2))] if m.group(2) else env[name]

    return _TOKEN.sub(one, word)


def match_line(template: str, actual: str, env: dict) -> Optional[dict]:
    """The new bindings if ``actual`` is what ``template`` says, else None."""
    pattern, groups = [], {}
    pos = 0
    for m in _TOKEN.finditer(template):
        pattern.append(re.escape(template[pos:m.start()]))
        pos = m.end()
        if m.group(0) == "$$":
            pattern.append(re.escape("$"))
            continue
        name = m.group(1) or m.group(3)
        if name in env:
            pattern.append(re.escape(env[name][: int(m.group(2))] if m.group(2) else env[name]))
        elif m.group(2):
            return None  # a prefix of something never bound
        elif name in groups:
            pattern.append(f"(?P={groups[name]})")
        else:
            groups[name] = f"g{len(groups)}"
            pattern.append(f"{_EDGE_BEFORE}(?P<{groups[name]}>{_ANY_SHAPE}){_EDGE_AFTER}")
    pattern.append(re.escape(template[pos:]))
    found = re.fullmatch("".join(pattern), actual)
    if found is None:
        return None
    return {name: found.group(g) for name, g in groups.items()}


def _prefix_of_unbound(template: str, env: dict) -> bool:
    return any(m.group(2) and m.group(1) not in env for m in _TOKEN.finditer(template))


def name_values(actual: str, env: dict, counters: dict) -> str:
    """``actual`` written as a template: ``$`` escaped, bound values by name, new random values given names."""
    text = actual.replace("$", "$$")
    # longest first, so $KEYS wins over $WORK and a whole commit id over its prefix
    pairs = sorted(((v, f"${k}") for k, v in env.items() if len(v) >= 6), key=lambda p: -len(p[0]))
    pairs += [(v[:12], f"${{{k}:0:12}}") for k, v in env.items() if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", v)]
    for value, name in pairs:  # whole tokens only: a commit's first 12 characters are not the commit
        text = re.sub(_EDGE_BEFORE + re.escape(value.replace("$", "$$")) + _EDGE_AFTER, lambda _m, n=name: n, text)

    def fresh(m: re.Match) -> str:
        value = m.group(0)
        kind = next(k for k, s in SHAPES.items() if re.fullmatch(s, value))
        counters[kind] = counters.get(kind, 0) + 1
        name = f"{kind}{counters[kind]}"
        env[name] = value
        return f"${name}"

    # only outside what is already a variable
    parts = re.split(r"(\$\$|\$\{[A-Z0-9_:]+\}|\$[A-Z][A-Z0-9_]*)", text)
    return "".join(p if i % 2 else _SHAPED.sub(fresh, p) for i, p in enumerate(parts))


# ---------------------------------------------------------------------------
# running commands


@dataclass
class State:
    work: Path
    cwd: Path
    exports: dict
    vars: dict
    counters: dict = field(default_factory=dict)


def _keys_vars(keys: Path) -> dict:
    out = {}
    for f in sorted(keys.glob("*.txt")):
        pub = next(line.split(": ", 1)[1].strip() for line in f.read_text().splitlines() if line.startswith("# public key: "))
        out[f"{f.stem.upper()}_AGE"] = pub
    for f in sorted(keys.glob("*.sign.pub")):
        out[f"{f.name.split('.')[0].upper()}_SSH"] = " ".join(f.read_text().split()[:2])
    return out


def fresh_state(work: Path) -> State:
    keys, home = work / "keys", work / "home"
    keys.mkdir(mode=0o700)
    for src in sorted(KEYS_DIR.iterdir()):
        shutil.copyfile(src, keys / src.name)
        os.chmod(keys / src.name, 0o644 if src.name.endswith(".pub") else 0o600)
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Test Runner\n\temail = runner@example.invalid\n"
                                     "[init]\n\tdefaultBranch = main\n")
    return State(work, work, {}, {"WORK": str(work), "KEYS": str(keys), "HOME": str(home), **_keys_vars(keys)})


def copy_state(base: State, work: Path) -> State:
    """A copy of a finished transcript's folder; git's config files name absolute paths, which follow the copy."""
    shutil.rmtree(work)
    shutil.copytree(base.work, work, symlinks=True)
    old, new = str(base.work), str(work)
    for cfg in work.rglob("config"):
        if cfg.is_file() and old in (text := cfg.read_text(errors="replace")):
            cfg.write_text(text.replace(old, new))
    moved = {k: v.replace(old, new) for k, v in base.vars.items()}
    exports = {k: v.replace(old, new) for k, v in base.exports.items()}
    return State(work, work / base.cwd.relative_to(base.work), exports, moved, dict(base.counters))


def environment(state: State, actor: Optional[str]) -> dict:
    home = state.work / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC", "COLUMNS": "100", "NO_COLOR": "1",
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1", "CONFIDE_NOW": NOW, "GIT_AUTHOR_DATE": NOW, "GIT_COMMITTER_DATE": NOW,
    }
    env.update(state.exports)
    if actor == "nobody":
        env.pop("CONFIDE_IDENTITY", None)
        env.pop("CONFIDE_SIGNING_KEY", None)
    elif actor is not None:
        keys = Path(state.vars["KEYS"])
        made = keys / f"{actor}.key"
        env["CONFIDE_IDENTITY"] = str(made if made.exists() else keys / f"{actor}.txt")
        env["CONFIDE_SIGNING_KEY"] = str(made if made.exists() else keys / f"{actor}.sign")
    return env


class _Stream(io.TextIOBase):
    """stdout or stderr of the command in this process: every write kept, in order, with its stream."""

    def __init__(self, name: str, log: list) -> None:
        self.name, self.log = name, log

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.log.append((self.name, s))
        return len(s)

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


def _lines(log: list) -> list[tuple[str, str]]:
    """The writes as lines, in the order a terminal shows them (each stream line-buffered)."""
    pending = {">": "", "2>": ""}
    out = []
    for stream, text in log:
        pending[stream] += text
        *done, pending[stream] = pending[stream].split("\n")
        out.extend((stream, line) for line in done)
    for stream, rest in pending.items():
        if rest:
            out.append((stream, rest + "  (no newline at the end)"))
    return out


def run_confide(args: list[str], stdin: str, env: dict, cwd: Path) -> tuple[int, list]:
    from vault_cli.cli.main import app

    log: list = []
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_io = sys.stdin, sys.stdout, sys.stderr
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    os.chdir(cwd)
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), _Stream(">", log), _Stream("2>", log)
    try:
        app(args=args, prog_name="confide")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_io
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        time.tzset()
    return code, _lines(log)


def run_program(args: list[str], stdin: str, env: dict, cwd: Path) -> tuple[int, list]:
    p = subprocess.run(args, input=stdin, env=env, cwd=cwd, capture_output=True, text=True)
    return p.returncode, _lines([(">", p.stdout), ("2>", p.stderr)])


def run_step(step: Step, state: State, where: str) -> tuple[int, list]:
    words = [w if w == "|" else substitute(w, state.vars, where) for w in shlex.split(step.command)]
    if words[0] == "cd":
        state.cwd = (state.cwd / words[1]).resolve()
        return 0, []
    if words[0] in ("export", "unset"):
        for w in words[1:]:
            if words[0] == "export":
                k, _, v = w.partition("=")
                state.exports[k] = v
            else:
                state.exports.pop(w, None)
        return 0, []
    env = environment(state, step.actor)
    stdin = "".join(line + "\n" for line in step.stdin)
    pipeline = [[]]
    for w in words:
        if w == "|":
            pipeline.append([])
        else:
            pipeline[-1].append(w)
    errors: list = []
    for i, argv in enumerate(pipeline):  # as a shell pipes stdout on: stderr is shown, the last exit code counts
        run = run_confide if argv[0] == "confide" else run_program
        code, lines = run(argv[1:] if argv[0] == "confide" else argv, stdin, env, state.cwd)
        if i == len(pipeline) - 1:
            return code, errors + lines
        errors += [(s, t) for s, t in lines if s == "2>"]
        stdin = "".join(t + "\n" for s, t in lines if s == ">")
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# one transcript


def check_step(step: Step, code: int, actual: list, state: State) -> tuple[bool, list]:
    """Whether the step printed what it says (binding its captures), and its expected lines as they should read."""
    env = state.vars
    if code == step.exit and len(actual) == len(step.expected) and all(
            s == a_s for (s, _), (a_s, _) in zip(step.expected, actual, strict=True)):
        # line by line; a line that uses ${X:0:12} of an X bound by a later line waits for it
        trial, todo = dict(env), list(zip([t for _, t in step.expected], [a for _, a in actual], strict=True))
        while todo:
            waiting = []
            for t, a in todo:
                got = match_line(t, a, trial)
                if got is None and _prefix_of_unbound(t, trial):
                    waiting.append((t, a))
                elif got is None:
                    break
                else:
                    trial.update(got)
            else:
                if len(waiting) < len(todo):
                    todo = waiting
                    continue
            break
        if not todo:
            env.update(trial)
            return True, step.expected
    # A mismatch: keep each expected line that still matches, in order; write the rest from the output.
    rewritten, j = [], 0
    for a_s, a in actual:
        for k in range(j, len(step.expected)):
            s, t = step.expected[k]
            got = match_line(t, a, env) if s == a_s else None
            if got is not None:
                env.update(got)
                rewritten.append((s, t))
                j = k + 1
                break
        else:
            rewritten.append((a_s, name_values(a, env, state.counters)))
    return False, rewritten


def run_transcript(path: Path, work: Path, bases: dict) -> tuple[State, Optional[str], str]:
    """Run one transcript in ``work``: (its final state, the first mismatch as a readable report or None, its text
    with the expected lines rewritten from what was printed)."""
    base_name, items = parse(path.read_text(), path.name)
    if base_name is None:
        state = fresh_state(work)
    else:
        base = bases.get(base_name)
        if base is None:
            raise AssertionError(f"{path.name} starts from {base_name}, whose own transcript does not pass")
        state = copy_state(base, work)
    problem = None
    for it in items:
        if not isinstance(it, Step):
            continue
        where = f"{path.name}:{it.line}"
        code, actual = run_step(it, state, where)
        ok, lines = check_step(it, code, actual, state)
        if ok:
            continue
        if problem is None:
            expected = ([f"! exit {it.exit}"] if it.exit else []) + [f"{s} {t}".rstrip() for s, t in it.expected]
            got = ([f"! exit {code}"] if code else []) + [f"{s} {t}".rstrip() for s, t in lines]
            diff = difflib.unified_diff(expected, got, "expected", "printed", lineterm="", n=max(len(expected), len(got)))
            problem = f"{where}: $ {it.command}" + (f"   (as {it.actor})" if it.actor else "") + "\n" + "\n".join(diff)
        if not UPDATE:
            break
        it.exit, it.expected = code, lines
    return state, problem, render(items)


# ---------------------------------------------------------------------------
# the test


def _transcripts() -> list[Path]:
    return sorted(CLI_DIR.glob("*.txt"))


_RESULTS: dict = {}  # name -> (final State, problem or None): each transcript runs once per session


def _result(name: str, tmp_path_factory) -> tuple[State, Optional[str]]:
    """Run tests/cli/NAME.txt, once, after the transcript it starts from (rewriting it under UPDATE_TRANSCRIPTS=1)."""
    if name not in _RESULTS:
        path = CLI_DIR / f"{name}.txt"
        base, _ = parse(path.read_text(), path.name)
        bases = {}
        if base is not None:
            base_state, base_problem = _result(base, tmp_path_factory)
            if base_problem is None or UPDATE:
                bases[base] = base_state
        state, problem, text = run_transcript(path, tmp_path_factory.mktemp(name), bases)
        if UPDATE and text != path.read_text():
            path.write_text(text)
        _RESULTS[name] = state, problem
    return _RESULTS[name]


@pytest.mark.parametrize("path", _transcripts(), ids=lambda p: p.stem)
def test_transcript(path: Path, tmp_path_factory) -> None:
    # an internal error is a bug: a transcript (written with UPDATE_TRANSCRIPTS=1) must never pin one as expected
    assert "internal error" not in path.read_text(), f"{path.name} expects an internal error (a bug) somewhere"
    _, problem = _result(path.stem, tmp_path_factory)
    assert problem is None, f"the CLI does not print what {path.name} says:\n{problem}"


# ---------------------------------------------------------------------------
# the runner itself: it must be able to fail, and say why


def _run_text(text: str, tmp_path: Path) -> Optional[str]:
    path = tmp_path / "case.txt"
    path.write_text(text)
    work = tmp_path / "work"
    work.mkdir()
    return run_transcript(path, work, {})[1]


USAGE = "$ confide frobnicate\n! exit 2\n2> confide: error: No such command 'frobnicate'.\n2> confide: hint: see 'confide --help'\n"


def test_a_transcript_that_matches_passes(tmp_path):
    assert _run_text(USAGE, tmp_path) is None


@pytest.mark.parametrize("wrong, shown", [
    (USAGE.replace("! exit 2\n", ""), "+! exit 2"),  # the exit code
    (USAGE.replace("frobnicate'.", "frobnicate'"), "+2> confide: error: No such command 'frobnicate'."),  # one character
    (USAGE.replace("2> confide: hint: see 'confide --help'\n", ""), "+2> confide: hint: see 'confide --help'"),  # a line missing
    (USAGE + "2> confide: hint: one more\n", "-2> confide: hint: one more"),  # a line too many
    (USAGE.replace("2> confide: error", "> confide: error"), "+2> confide: error: No such command 'frobnicate'."),  # the wrong stream
])
def test_a_transcript_that_does_not_match_fails_with_a_diff(tmp_path, wrong, shown):
    problem = _run_text(wrong, tmp_path)
    assert problem is not None and problem.startswith("case.txt:1: $ confide frobnicate\n--- expected\n+++ printed")
    assert shown in problem.splitlines()


def test_a_capture_takes_only_what_is_random_by_design():
    assert match_line("> $ID", "> c-7f3k9m2q", {}) == {"ID": "c-7f3k9m2q"}
    assert match_line("made $C at $ID", "made 0123456789ab at c-7f3k9m2q", {}) == {"C": "0123456789ab", "ID": "c-7f3k9m2q"}
    for printed in ("> ben", "> 2026-11-24", "> c-7f3k9m2qx", "> 42", "> c-7F3K9M2Q", ""):
        assert match_line("> $ID", printed, {}) is None, printed
    assert match_line("$A and $A", "c-7f3k9m2q and c-00000000", {}) is None  # one name, one value
    assert match_line("$SIZE bytes", "25158 bytes", {}) == {"SIZE": "25158"}
    assert match_line("${C:0:12}", "0123456789ab", {"C": "0123456789ab" + "c" * 28}) == {}
    assert match_line("costs $$5", "costs $5", {}) == {}


def test_every_transcript_is_written_back_as_it_was_read():
    for path in _transcripts():
        text = path.read_text()
        assert render(parse(text, path.name)[1]) == text, path.name
