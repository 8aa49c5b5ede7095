"""Differential tests: the hand-written YAML fast path (``formats/canonical.py``) against ruamel.yaml.

* ``canonical.load`` vs ruamel's safe loader (``YAML(typ='safe', pure=False)``, used
  directly, not through yamlio): whatever canonical.load returns, ruamel must return
  too (same value, same types), and ``canonical.dump`` of it must be the document's
  exact text (it reads only the canonical form); everything else it declines (None),
  so ``yamlio.load`` ends in ruamel's value or ruamel's error either way.
  ``yamlio.load`` also refuses what confide never writes and ruamel would build
  (anchors, aliases, tags, several documents, nesting deeper than ``MAX_DEPTH``,
  found in ruamel's own parser events): canonical must never read such a document.
* ``envelope.load_entries`` vs ruamel on entries files (``records/<id>.entries.yaml``),
  under the same rule.
* ``canonical.dump`` (heads, entries, holders.yaml) vs ``yamlio.library_dump``
  (ruamel's emitter with yamlio's representer): byte-identical, or None (fallback).
* ``Git.head()`` vs ``git rev-parse HEAD``.

Inputs: real files written by the CLI, and seeded random mutations of them (the seed
is fixed, so a failure is reproducible). ``tests/test_yaml_properties.py`` adds
generated records and documents (hypothesis). No mocks.
"""

from __future__ import annotations

import datetime
import functools
import io
import os
import random
import subprocess
from pathlib import Path

import pytest
from conftest import recipient_of, signing_pub
from ruamel.yaml import YAML, events
from ruamel.yaml.error import YAMLError

from vault_cli.adapters.gitstore import Git
from vault_cli.errors import IntegrityError
from vault_cli.formats import canonical, envelope, yamlio

RUAMEL = YAML(typ="safe", pure=False)
SEED = int(os.environ.get("FASTPATHS_SEED", "20261124"))
SCALE = int(os.environ.get("FASTPATHS_SCALE", "1"))  # more random cases when hunting

# ---------------------------------------------------------------------------
# helpers


def typed(x):
    """A structure that compares equal only when values AND types agree (True != 1, 1 != 1.0)."""
    if isinstance(x, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in x.items()])
    if isinstance(x, list):
        return ("list", [typed(v) for v in x])
    return (type(x).__name__, x)


def ruamel_load(text):
    """('ok', value) or ('err', exception class name)."""
    try:
        return "ok", RUAMEL.load(text)
    except (YAMLError, ValueError, TypeError, OverflowError) as exc:
        return "err", type(exc).__name__


# What yamlio.load says when it refuses a construct ruamel would build (see refused_construct).
REFUSALS = {"alias": "a YAML alias", "anchor": "a YAML anchor", "tag": "a YAML tag",
            "documents": "more than one YAML document", "nesting": f"nesting deeper than {yamlio.MAX_DEPTH} levels"}


def refused_construct(text):
    """The first construct in ``text`` that yamlio must refuse though ruamel builds it, from ruamel's own
    parser events: an alias, an anchor, a tag, a second document, or nesting deeper than yamlio.MAX_DEPTH.
    None when there is none (or the parser stops first: ruamel then raises anyway)."""
    depth = documents = 0
    try:
        for event in RUAMEL.parse(text):
            if isinstance(event, events.AliasEvent):
                return "alias"
            if getattr(event, "anchor", None) is not None:
                return "anchor"
            if getattr(event, "tag", None) is not None:
                return "tag"
            if isinstance(event, (events.MappingStartEvent, events.SequenceStartEvent)):
                depth += 1
                if depth > yamlio.MAX_DEPTH:
                    return "nesting"
            elif isinstance(event, (events.MappingEndEvent, events.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, events.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    return "documents"
    except (YAMLError, ValueError, TypeError):
        return None
    return None


SAFE_TYPES = (dict, list, tuple, str, int, float, bool, type(None), bytes, datetime.date, datetime.datetime)


def first_diff(a, b, path="$"):
    """Where two loaded values first differ (for failure messages)."""
    if type(a) is not type(b):
        return f"{path}: {a!r:.200} != {b!r:.200}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path} keys: {list(a)!r:.300} != {list(b)!r:.300}"
        for k in a:
            d = first_diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return ""
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path} length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return ""
    return "" if a == b else f"{path}: {a!r:.200} != {b!r:.200}"


def assert_plain_data(x):
    """Nothing but data came out: no object of an arbitrary class was constructed."""
    assert isinstance(x, SAFE_TYPES), type(x)
    if isinstance(x, dict):
        for k, v in x.items():
            assert_plain_data(k)
            assert_plain_data(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            assert_plain_data(v)


def check_load(text, label=""):
    """canonical vs ruamel, and yamlio.load's combined behaviour. Returns True if canonical took it."""
    fast = canonical.load(text)
    status, ref = ruamel_load(text)
    refused = refused_construct(text) if status == "ok" else None
    if os.environ.get("FASTPATHS_DUMP") and fast is not None and (status != "ok" or refused or typed(fast) != typed(ref)):
        Path(os.environ["FASTPATHS_DUMP"]).write_text(repr(text))
    if fast is not None:
        assert status == "ok", f"canonical accepted what ruamel rejects ({ref}): {label} {text!r:.400}"
        assert refused is None, f"canonical read a document holding {REFUSALS[refused]}, which yamlio refuses: {label} {text!r:.400}"
        assert typed(fast) == typed(ref), f"canonical and ruamel disagree: {label} at {first_diff(fast, ref)} in {text!r:.300}"
        raw = text if isinstance(text, str) else bytes(text).decode("ascii")
        assert canonical.dump(fast) == raw, f"canonical read a document not in the canonical form: {label} {text!r:.300}"
    # yamlio.load: ruamel's value when ruamel reads it and it holds nothing confide refuses; otherwise
    # IntegrityError (for a refused construct, one that says which).
    try:
        got = yamlio.load(text, "x.yaml")
    except IntegrityError as exc:
        assert status == "err" or refused, f"yamlio raised where ruamel reads it: {label} {text!r:.400}"
        if refused:
            assert exc.message.startswith("x.yaml") and f"holds {REFUSALS[refused]}, which confide never writes" in exc.message, (
                f"{label}: {exc.message}")
    else:
        assert status == "ok", f"yamlio read what ruamel rejects ({ref}): {label} {text!r:.400}"
        assert refused is None, f"yamlio read a document holding {REFUSALS[refused]}: {label} {text!r:.400}"
        assert typed(got) == typed(ref), label
        assert_plain_data(got)
    return fast is not None


def check_tail(tail: bytes, label=""):
    """An entries file: canonical against ruamel, and envelope.load_entries' list against ruamel's (or an error)."""
    took = check_load(tail, label)
    status, ref = ruamel_load(tail)
    try:
        entries = envelope.load_entries(tail, "records/c-7f3k9m2q.entries.yaml")
    except IntegrityError:
        return took
    assert status == "ok" and refused_construct(tail) is None, f"load_entries read what yamlio refuses: {label}"
    assert isinstance(ref, dict) and list(ref) == ["entries"], label
    assert typed(entries) == typed(ref["entries"] or []), f"load_entries and ruamel disagree: {label} {tail!r:.400}"
    return took


# ---------------------------------------------------------------------------
# a real vault, built once through the CLI


_CORPUS: dict = {}


@pytest.fixture
def corpus(request, tmp_path_factory):
    if not _CORPUS:
        v = request.getfixturevalue("vault")
        keys = request.getfixturevalue("keys")
        # a holder name with dots and dashes, a student (needs parent permission), an auditor-like until;
        # both write, so each has a signing key as well as an age recipient
        v.ok("holder", "add", "jo.smith-2", "--role", "practitioner", "--recipient", recipient_of(keys["eve"]),
             "--signing-key", signing_pub(keys, "eve"))
        v.ok("holder", "add", "sam", "--role", "student", "--recipient", recipient_of(keys["rec"]),
             "--signing-key", signing_pub(keys, "rec"))
        r1 = v.add_child("Sky Fast", key_person="ben", dob="2022-03-04", room="Rainbow Room")
        r2 = v.add_child("Tam Fast")
        ids = {}
        for rid in (r1, r2):
            for level in ("general", "confidential", "safeguarding"):
                who = "dara" if level == "safeguarding" else "amira"
                ids[(rid, level)] = v.add_entry(rid, f"{level} note: it's fine # not a comment", level, "observation", who)
        v.ok("mark", ids[(r1, "general")], "--parent-view", "not-confidential")
        v.ok("mark", ids[(r1, "general")], "--parents-informed", "2026-11-24")
        v.ok("grant", "cara", "--child", r1, "--level", "confidential")
        v.ok("grant", "jo.smith-2", "--child", r2, "--level", "general", "--until", "2026-12-31")
        v.ok("grant", "sam", "--child", r1, "--level", "general", "--parent-permission", "2026-11-20")
        v.ok("revoke", "cara", "--child", r1)
        v.add_entry(r1, "after revoke", "general", "observation", "amira")
        # last: a record made by a holder who does not read its higher levels, so its head holds 'rekey'
        v.ok("child", "add", "--name", "Uma Fast", who="ben")
        files = {}
        for p in sorted(v.root.rglob("*.yaml")):
            if ".git" not in p.parts:
                files[str(p.relative_to(v.root))] = p.read_bytes()
        assert any(k.startswith("records/") for k in files)
        assert any(b"\nrekey:\n" in raw for k, raw in files.items() if (envelope.record_of(k) or ("", ""))[1] == "head")
        assert b"signing_key: ssh-ed25519 " in files["holders.yaml"]
        _CORPUS["files"] = files
    return _CORPUS["files"]


def record_files(corpus):
    """{head path: (head bytes, entries bytes)} for every record: its two files, side by side."""
    heads = {k: v for k, v in corpus.items() if (envelope.record_of(k) or ("", ""))[1] == "head"}
    tails = {k: v for k, v in corpus.items() if (envelope.record_of(k) or ("", ""))[1] == "entries"}
    assert heads and {envelope.entries_source(k) for k in heads} == set(tails)
    assert set(heads) | set(tails) == {k for k in corpus if k.startswith("records/")}
    return {k: (raw, tails[envelope.entries_source(k)]) for k, raw in heads.items()}


# ---------------------------------------------------------------------------
# 1. canonical.load vs ruamel


def test_canonical_load_reads_every_real_file_exactly_as_ruamel(corpus):
    took = 0
    for name, raw in corpus.items():
        for text in (raw, raw.decode("utf-8")):
            took += check_load(text, name)
    # the fast path is really exercised on the files confide writes (else this test proves nothing); confide.yaml
    # is the user's file, with comments and flow lists: ruamel.yaml reads it
    assert canonical.load(corpus["confide.yaml"]) is None
    assert took == (len(corpus) - 1) * 2


EDGE_SCALARS = [
    "null", "~", "Null", "NULL", "true", "True", "false", "FALSE", "yes", "no", "Yes", "NO", "on", "off", "y", "n",
    "1.0", "0o17", "017", "0x1f", "1_000", "+1", "-0", "-1", "1e3", ".inf", "-.inf", ".nan", "nan", "inf",
    "2026-11-24", "2026-13-45", "2026-11-24T10:00:00Z", "'2026-11-24'", '"2026-11-24"', "'it''s'", "'a # b'",
    '"a\\nb"', '"tab\\there"', "''", '""', "' x '", "[a, b]", "[a,b]", "[]", "{}", "{a: 1}", "[a, [b]]", "[1, 2]",
    "[yes, no]", "&a x", "*a", "!!str 1", "!!int 3", "!!binary aGVsbG8=", "!!python/object:os.system",
    "!!python/name:os.system", "a: b", "a #c", "a#c", "x'", "a:", "a:b", "http://x.y/z", "1 month", "14 days",
    "99999999999999999999", "123456789012345678", "|", ">", "|-", "|+", ">-", "- x", "? x", "%x", "@x", "`x",
    "café", "'café'", '"naïve"', "日本", "a  b", "a b", "=", "<<", "a,b", "(x)", "x;y", "Rainbow Room",
    "'\u2028'", '"\u2028"', "'\x85'", '"a\x85b"', "'\x7f'", "'\x80'", "'\ufeff'", "'\ufffe'", "'\x0c'",
]


def test_canonical_load_edge_cases(tmp_path):
    docs = []
    for s in EDGE_SCALARS:
        docs += [f"k: {s}\n", f"k:\n- {s}\n", f"- {s}\n", f"a:\n  k: {s}\n  z: 1\n", f"k: {s} # c\n", f"{s}: 1\n"]
    docs += [
        "a: 1\na: 2\n", "a:\n  b: 1\n  b: 1\n", "- a: 1\n  a: 2\n",  # duplicate keys
        "a: 1\r\nb: 2\r\n", "\ufeffa: 1\n", "a: 1 \n", "a:\t1\n", "\ta: 1\n", "a: 1", "a: |\n  x", "",
        "---\na: 1\n", "a: 1\n---\nb: 2\n", "a: 1\n...\n", "%YAML 1.1\n---\na: yes\n",
        "a: &x 1\nb: *x\n", "a: &x\n  c: 1\nb:\n  <<: *x\n",
        "a: !!python/object/apply:os.system ['true']\n", "a: !!binary |\n  aGVsbG8=\n",
        "a: |\n  x\n\n  y\n", "a: |\n  x\n   y\n", "a: |\n   x\n  y\n", "a: |-\n  x\n", "a: |+\n  x\n\n",
        "a: >\n  x\n  y\n", "a: |2\n   x\n", "a: | # c\n  x\n", "a: |\n  # not a comment\n",
        "a: |\n  x\n# c\n  y\n", "a: |\n  x\n\n", "a: |\n  x\nb: |\n  y\n",
        "a: b\n  c\n", "a: 'b\n  c'\n", "a:\n- x\n-\n", "a:\n- x\nb: 1\n", "- - x\n", "- a:\n  - x\n",
        "- a:\n    - x\n", "- a: 1\n   b: 2\n", "a:\n  - x\n  - y\n", "a:\n   b: 1\n  c: 2\n",
        " a: 1\n", "# only\n", "a: 1\n# end\n", "a: #c\n", "a:  b\n", "a: b: c\n", "a: {b: 1}\n",
        "a: [a, b] # c\n", "- x # c\n", "- # c\n", "- 'a: b'\n", "- a: 'x' # c\n",
        "a: " + "x" * 5000 + "\n", "x" * 1100 + ": 1\n", "- " + "k" * 1100 + ": 1\n",
        "k" * 1020 + ": 1\n", "a: '" + "é" * 3000 + "'\n",
        "a: 1\n\x00\n", "# \x00\na: 1\n", "# \x85 x\na: 1\n", "# \u2028\na: 1\n", "a: |\n  x\x85y\n",
        "a: |\n  x\u2028y\n", "a: |\n  x\x00y\n", "a: |\n  x\x7fy\n", "a: |\n  x\x9fy\n", "a: |\n  x\ufffey\n",
        "a: |\n  x\ud800y\n", "a: 'x\ud800'\n", "a: |\n  x\x0cy\n", "a: |\n  x\x1by\n",
        "a: |\n  x\rz\n", "a: |\n  é\n", "a: |\n  \ufeffx\n", "a: '\u00a0'\n", "a: '\U0001F600'\n",
    ]
    # nesting at and just past yamlio.MAX_DEPTH, in block style and in flow style
    deep = yamlio.MAX_DEPTH
    for n in (deep - 2, deep - 1, deep, deep + 1, deep + 8):
        mappings = "".join("  " * i + "a:\n" for i in range(n - 1))
        docs += [mappings + "  " * (n - 1) + "a: 1\n", mappings + "  " * (n - 1) + "a: []\n",
                 mappings + "  " * (n - 1) + "a: [b, c]\n", mappings + "  " * (n - 1) + "a:\n" + "  " * (n - 1) + "- x\n",
                 "".join("  " * i + "- a:\n" for i in range(n - 1)) + "  " * (n - 1) + "- 1\n",
                 "a: " + "[" * (n - 1) + "]" * (n - 1) + "\n"]
    for d in docs:
        check_load(d)
        check_load(d.encode("utf-8", "surrogatepass"), "bytes")
    for raw in (b"a: \xff\n", b"a: \xc3\n", "a: 1\n".encode("utf-16"), b"\xef\xbb\xbfa: 1\n", b"a: '\xc2\x85'\n"):
        check_load(raw, "raw bytes")


_WORDS = EDGE_SCALARS + ["x", "plain words", "a-b.c", "k-abcd", "e-0123456789abcd"]
_JUNK = list(" :#-'\"[]{}&*!|>%@,?\t\r\n\\") + ["\x85", "\u2028", "\x00", "\x7f", "\x9f", "\ufeff", "é", "  ", "---", "# c"]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        n = len(lines)
        if n == 0:  # a mutation deleted the last line: nothing left to mutate
            break
        i = rng.randrange(n)
        op = rng.randrange(22)
        line = lines[i]
        if op == 0:
            lines[i] = " " + line
        elif op == 1:
            lines[i] = line[1:] if line.startswith(" ") else line
        elif op == 2:
            lines[i] = "  " + line
        elif op == 3:
            lines[i] = line.replace("  ", "\t", 1)
        elif op in (4, 5) and ": " in line:
            k, _, v = line.partition(": ")
            q = "'" if op == 4 else '"'
            lines[i] = f"{k}: {q}{v}{q}"
        elif op in (6, 7) and ":" in line:
            k, _, _ = line.partition(":")
            lines[i] = f"{k}: {rng.choice(_WORDS)}"
        elif op == 8:
            lines[i] = line + rng.choice([" # c", " #", "#c", " ", "  "])
        elif op == 9:
            lines.insert(i, rng.choice(["# comment", "  # c", "", " ", "---", "...", "%TAG ! x"]))
        elif op == 10:
            lines.insert(i, line)  # duplicate key / line
        elif op == 11:
            del lines[i]
        elif op == 12 and n > 1:
            j = rng.randrange(n)
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 13:
            pos = rng.randint(0, len(line))
            lines[i] = line[:pos] + rng.choice(_JUNK) + line[pos:]
        elif op == 14:
            lines[i] = line + "\r"
        elif op == 15 and line.strip().startswith("- "):
            lines[i] = line.replace("- ", "- &a ", 1)
            lines.append("zz: *a")
        elif op == 16 and ":" in line:
            k, _, v = line.partition(":")
            lines[i] = f"{k}: !!python/object/apply:os.system ['true']" if rng.random() < 0.5 else f"{k}: !!binary aGVsbG8="
        elif op == 17:
            lines[i] = line + "x" * rng.choice([100, 1100, 5000])
        elif op == 18 and ":" in line:
            k, _, _ = line.partition(":")
            lines[i] = f"{k}: [{', '.join(rng.sample(['a', 'b', 'yes', 'c-d', '1', 'x/y'], 2))}]"
        elif op == 19:
            lines[i] = line.upper() if rng.random() < 0.3 else line.replace(":", ": &x", 1)
        elif op == 20 and ":" in line:
            k, _, v = line.partition(":")
            lines[i] = f"{k}: {rng.choice(_WORDS)}{rng.choice(_JUNK)}{rng.choice(_WORDS)}"
        elif op == 21:
            lines[i] = line.replace(" ", "  ", 1)
    out = "\n".join(lines)
    r = rng.random()
    if r < 0.03:
        out = out.replace("\n", "\r\n")
    elif r < 0.06:
        out = "\ufeff" + out
    elif r < 0.09:
        out = "---\n" + out
    elif r < 0.12:
        out = out.rstrip("\n")
    elif r < 0.14:
        out = out + "---\nb: 1\n"
    return out


def _first_items(tail: str, n: int) -> str:
    """The tail cut after its first n entries (so the seed is still a whole, valid tail)."""
    parts = tail.split("\n- id: ")
    return "\n- id: ".join(parts[: n + 1]) + ("\n" if len(parts) > n + 1 else "")


def _small_seeds(corpus):
    seeds = []
    for name, raw in corpus.items():
        text = raw.decode("utf-8")
        part = envelope.record_of(name)
        if part and part[1] == "head":  # keep mutations fast: the head's first ~25 lines
            seeds.append("\n".join(text.rstrip("\n").split("\n")[:25]) + "\n")
        elif part:  # and the first entries
            seeds.append(_first_items(text, 2))
        else:
            seeds.append(text)
    seeds += ["a: 1\nb:\n- x\n- y\nc:\n  d: 'q'\n  e: |\n    L1\n    L2\n", "- a: b\n  c: [x, y]\n- d\n"]
    return seeds


def test_canonical_load_mutated_real_files(corpus):
    rng = random.Random(SEED)
    seeds = _small_seeds(corpus)
    took = 0
    for n in range(2500 * SCALE):
        text = mutate(rng.choice(seeds), rng)
        took += check_load(text, f"mutation {n}")
    assert took > 200  # many mutants are still in the canonical form: the comparison is not vacuous


def test_malicious_tags_never_construct_objects(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        f"a: !!python/object/apply:os.system ['touch {marker}']\n",
        f"a: !!python/object/apply:subprocess.call [['touch', '{marker}']]\n",
        "a: !!python/object/new:collections.OrderedDict [[[x, 1]]]\n",
        "a: !!python/object:argparse.Namespace {x: 1}\n",
        "a: !!python/name:os.system\n",
        "a: !!python/module:os\n",
        f"- !!python/object/apply:os.system ['touch {marker}']\n",
        "a: !custom 1\n",
    ]
    for p in payloads:
        assert canonical.load(p) is None
        for load in (functools.partial(yamlio.load, p, "x.yaml"), functools.partial(yamlio.load_cached, p.encode(), "x.yaml")):
            with pytest.raises(IntegrityError) as exc:
                load()
            # refused for the tag itself, before anything is built; the message never quotes the content
            assert exc.value.message.startswith("x.yaml line 1 holds a YAML tag"), exc.value.message
            assert "python" not in exc.value.message and "touch" not in exc.value.message
    assert not marker.exists()
    # every tag is refused, even one the safe loader would build harmlessly: confide never writes one
    assert RUAMEL.load("a: !!binary aGVsbG8=\n") == {"a": b"hello"}
    with pytest.raises(IntegrityError, match="holds a YAML tag"):
        yamlio.load("a: !!binary aGVsbG8=\n", "x.yaml")


def test_yamlio_refuses_what_confide_never_writes(tmp_path):
    """What ruamel would build and confide never writes is refused before anything is built, with an
    IntegrityError naming the file and the line, never the content: the fast path takes none of it."""
    lol = "lol-" + "x" * 20
    laughs = f"a: &a [{', '.join([lol] * 9)}]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    nested = "".join("  " * i + "a:\n" for i in range(yamlio.MAX_DEPTH)) + "  " * yamlio.MAX_DEPTH + "a: secret\n"
    cases = [
        (laughs, "line 1 holds a YAML anchor"),  # "billion laughs": nine levels of nine aliases each
        ("a: x\nb: *a\n", "line 2 holds a YAML alias"),
        ("a: !!str secret\n", "line 1 holds a YAML tag"),
        ("a: 1\nsecret: 2\nsecret: 3\n", "line 3 holds a key given twice"),
        ("a: 1\n---\nb: secret\n", "line 2 holds more than one YAML document"),
        (nested, f"line {yamlio.MAX_DEPTH + 1} holds nesting deeper than {yamlio.MAX_DEPTH} levels"),
    ]
    for text, words in cases:
        assert canonical.load(text) is None, words
        for data in (text, text.encode()):
            with pytest.raises(IntegrityError) as exc:
                yamlio.load(data, "records/c-7f3k9m2q.yaml")
            assert exc.value.message == f"records/c-7f3k9m2q.yaml {words}, which confide never writes; it was not read"
            assert "secret" not in " ".join([exc.value.message, *exc.value.hints])
    status, value = ruamel_load(laughs)
    assert status == "ok" and len(value["i"]) == 9  # ruamel builds it (9**9 strings, if one walked it)
    assert typed(yamlio.load(nested.replace("  " * yamlio.MAX_DEPTH + "a: secret\n", ""), "x.yaml")) == typed(
        RUAMEL.load(nested.replace("  " * yamlio.MAX_DEPTH + "a: secret\n", "")))  # exactly MAX_DEPTH deep: read
    # a file far larger than any confide writes is refused before it is parsed
    huge = b"a: " + b"x" * yamlio.MAX_BYTES + b"\n"
    with pytest.raises(IntegrityError, match=r"^records/c-7f3k9m2q.entries.yaml is larger than 64 MB"):
        yamlio.load(huge, "records/c-7f3k9m2q.entries.yaml")
    with pytest.raises(IntegrityError, match="larger than 64 MB"):
        yamlio.load_cached(huge, "x.yaml")


def test_load_cached_agrees_and_copies(corpus):
    for name, raw in corpus.items():
        a = yamlio.load_cached(raw, name)
        b = yamlio.load_cached(raw, name)
        assert typed(a) == typed(RUAMEL.load(raw)) == typed(b)
        if isinstance(a, dict):
            a["__poison__"] = 1
            assert "__poison__" not in yamlio.load_cached(raw, name)


# ---------------------------------------------------------------------------
# 2. entries files and the writers


def test_entries_files_real_and_mutated(corpus):
    tails = [tail for _, tail in record_files(corpus).values()]
    assert tails and all(check_tail(t, "real") for t in tails)
    assert any(b"  marks:\n" in t for t in tails), "the corpus should hold a marked entry"
    for t in (b"entries: []\n", b"entries:\n", b"entries: []", b"entries: ~\n", b"entries:\n- id: e-1\n"):
        check_tail(t)
    rng = random.Random(SEED + 1)
    seeds = [t.decode() for t in tails]
    seeds = [_first_items(s, 3) for s in seeds] + [_first_items(s, 1) for s in seeds]
    assert all(canonical.load(s.encode()) is not None for s in seeds)
    took = 0
    for n in range(1500 * SCALE):
        s = rng.choice(seeds)
        lines = s.split("\n")
        i = rng.randrange(len(lines))
        pos = rng.randint(0, len(lines[i]))
        op = rng.randrange(4)
        if op == 0:
            lines[i] = lines[i][:pos] + rng.choice(_JUNK + ["\x01", "\x0b", "\x1f", "\x7f", "\r", "\x0c"]) + lines[i][pos:]
            mutated = "\n".join(lines)
        else:
            mutated = mutate(s, rng)
        took += check_tail(mutated.encode("utf-8", "surrogatepass"), f"tail mutation {n}")
    assert took > 50


def _ref_dump(data) -> str:
    """The reference writer: ruamel's safe dumper with yamlio's representer."""
    return yamlio.library_dump(data)


def _ref_dump_direct(data) -> str:
    d = yamlio._yaml()["dumper"]
    buf = io.StringIO()
    d.dump(data, buf)
    return buf.getvalue()


def test_writers_reproduce_real_files_byte_for_byte(corpus, tmp_path):
    (tmp_path / "records").mkdir()
    for name, (head_raw, tail) in record_files(corpus).items():
        head = RUAMEL.load(head_raw)
        entries = RUAMEL.load(tail)["entries"] or []
        fast_head = canonical.dump(head)
        assert fast_head is not None, f"canonical.dump falls back on a real head: {name}"
        assert fast_head == _ref_dump(head) == _ref_dump_direct(head) == head_raw.decode(), name
        assert canonical.dump({"entries": entries}) is not None
        assert envelope.dump_entries(entries) == _ref_dump({"entries": entries}).encode() == tail, name
        # the round trip through the Envelope writer: a new record writes both files, as they are
        env = envelope.Envelope(name, dict(head), tail)
        assert env.head_bytes() == head_raw and env.tail_bytes() == tail
        assert env.files() == {name: head_raw, envelope.entries_source(name): tail}
        env._entries = entries
        assert env.head_bytes() == head_raw and env.tail_bytes() == tail
        # as read from disk, an unchanged record writes nothing
        (tmp_path / envelope.entries_source(name)).write_bytes(tail)
        path = tmp_path / name
        path.write_bytes(head_raw)
        read = envelope.Envelope.read(name, lambda source: (tmp_path / source).read_bytes())
        assert read.files() == {}
        assert read.head_bytes() == head_raw and read.tail_bytes() == tail


def test_holders_writer_matches_ruamel(corpus, tmp_path):
    """holders.yaml goes through canonical.dump too (bulk holder commands rewrite it): the same bytes as ruamel, or a fallback."""
    from vault_cli.formats import policyfiles

    raw = corpus["holders.yaml"]
    data = RUAMEL.load(raw)
    assert canonical.dump(data) == _ref_dump(data) == raw.decode()
    (tmp_path / "holders.yaml").write_bytes(raw)
    assert policyfiles.dump_holders(policyfiles.holders_from_bytes((tmp_path / "holders.yaml").read_bytes())) == raw.decode()
    odd = [
        ("removed", {"status": "removed", "removed": "2026-11-30", "removed_by": "amira",
                     "reason": "left the setting 2026-11-30"}),
        ("previous", {"previous_recipients": [{"recipient": "age1" + "q" * 58, "until": "2026-11-24"}]}),
        ("ssh", {"recipient": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5dGVzdGtleXRlc3RrZXl0ZXN0a2V5"}),
        ("quote", {"reason": "it's 'quoted': yes"}),
        ("unicode", {"reason": "Zoë left"}),
    ]
    for label, change in odd:
        changed = RUAMEL.load(raw)
        changed["holders"][-1].update(change)
        fast = canonical.dump(changed)
        assert fast is None or fast == _ref_dump(changed), label
    # SSH public lines (what 'confide keygen' makes: every holder's signing key, often the recipient too) are
    # written by the fast path, byte for byte as ruamel writes them, whatever base64 characters they hold
    import base64

    rng = random.Random(SEED + 4)
    took = 0
    for n in range(300):
        blob = base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + rng.randbytes(32)).decode()
        line = "ssh-ed25519 " + blob
        odd_line = rng.choice([line, line + "=", line[:-1], "ssh-ed25519  " + blob, line + " comment", "ssh-rsa " + blob])
        changed = RUAMEL.load(raw)
        changed["holders"][-1].update(recipient=line, signing_key=odd_line if n % 3 == 0 else line,
                                      previous_signing_keys=[{"key": line, "until": "2026-11-24"}])
        fast = canonical.dump(changed)
        if n % 3:
            assert fast is not None, line
        if fast is not None:
            took += 1
            assert fast == _ref_dump(changed), line
            assert typed(RUAMEL.load(fast)) == typed(changed)
    assert took >= 200


def _armor(rng, lines=None):
    body = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(64))
    n = lines if lines is not None else rng.randint(1, 6)
    return "-----BEGIN AGE ENCRYPTED FILE-----\n" + "".join(body + "\n" for _ in range(n)) + "-----END AGE ENCRYPTED FILE-----\n"


ODD_NAMES = ["jo.smith-2", "a", "a.", "a-", "a..b", "a-b-c", "x" * 40, "x" * 41, "n", "y", "no", "yes", "on", "off",
             "null", "true", "nan", "inf", "e1", "e", "a1.5", "k-abcd", "c-12345678", "o17", "x_y", "a.b.c.d"]
GOOD_NAMES = ["jo.smith-2", "a", "a.", "a-", "a..b", "a-b-c", "x" * 40, "o17", "x_y", "a.b.c.d", "amira", "b-1", "e"]
ODD_STRINGS = ["2026-11-24", "2026-13-45", "0000-00-00", "1.0", "0o17", "017", "12", "-1", "", " ", "a b", "a: b",
               "# c", "café", "Null", "NULL", "True", "~", "'", '"', "a'", "-", "- x", "x\n", "x\ny\n", "x\n\n",
               " x\n", "x \n", "\nx\n", "x", "confide/record/1", "confide/Record/1", "age1" + "q" * 58,
               "age1" + "q" * 57, "=", "<<", "2026-11-24 10:00"]
ODD_VALUES = [None, 0, 1, -5, 10**20, True, False, 1.5, [], {}, datetime.date(2026, 11, 24)]


def _head(rng):
    names = rng.sample(GOOD_NAMES, rng.randint(1, 8))
    grants = [{"holder": rng.choice(GOOD_NAMES), "level": rng.choice(["general", "confidential"]), "granted_by": "amira",
               "granted": rng.choice(["2026-11-24", "2026-01-01"]), "until": rng.choice([None, "2026-12-31"])}
              for _ in range(rng.randint(0, 3))]
    keys = []
    for g in range(rng.randint(1, 3)):
        wrapped = {n: _armor(rng) for n in (names if rng.random() < 0.8 else GOOD_NAMES * 1 + ODD_NAMES)}  # many wrapped copies
        keys.append({"id": f"k-ab{g:02d}", "level": "general", "generation": g + 1, "recipient": "age1" + "q" * 58,
                     "wrapped": wrapped})
    head = {"format": envelope.FORMAT, "record": "c-7f3k9m2q", "key_person": rng.choice(GOOD_NAMES),
            "grants": grants, "keys": keys, "profile": {"key": "k-ab00", "data": _armor(rng)}}
    if rng.random() < 0.3:
        head["revoked"] = [{"holder": rng.choice(GOOD_NAMES), "at": "2026-11-24", "levels": ["general"]}]
    # an odd value somewhere
    r = rng.random()
    target = rng.choice([head, keys[0], keys[0]["wrapped"], head["profile"]] + grants)
    if r < 0.4:
        target[rng.choice(list(target))] = rng.choice(ODD_STRINGS + ODD_VALUES + ODD_NAMES)
    elif r < 0.5:
        target[rng.choice(ODD_NAMES + ODD_STRINGS)] = rng.choice(ODD_NAMES)
    return head


NESTED_HEADS = [
    {"a": [{"b": [{"c": 1, "d": "x"}], "e": {}}, {"f": []}]},
    {"a": [{"b": {"c": [{"d": None}]}}]},
    {"a": [{"12": 1}]}, {"a": [{"null": 1}]}, {"a": [{1: 1}]}, {"a": [{"x\n": 1}]}, {"x\n": 1},
    {"a": "amira\n"}, {"a": "2026-11-24\n"}, {"a": ["x"]}, {"a": [[]]}, {"a": [{}]},
    {"a": {"b": {"c": {"d": "A\nB\n"}}}}, {"revoked": [{"holder": "jo.smith-2", "levels": ["general"]}]},
]


def test_canonical_dump_nested_and_odd_keys():
    for head in NESTED_HEADS:
        fast = canonical.dump(head)
        if fast is not None:
            assert fast == _ref_dump(head), head


def test_canonical_dump_matches_ruamel_on_odd_heads():
    rng = random.Random(SEED + 2)
    took = 0
    for _ in range(600 * SCALE):
        head = _head(rng)
        fast = canonical.dump(head)
        if fast is not None:
            took += 1
            assert fast == _ref_dump(head), f"canonical.dump differs from ruamel on {head!r:.600}"
            assert typed(RUAMEL.load(fast)) == typed(head)
    assert took > 100


def _entry(rng, eid, marks=True):
    e = {"id": eid, "key": "k-" + "".join(rng.choice("abcdefgh0123") for _ in range(4)), "data": _armor(rng)}
    r = rng.random()
    if r < 0.15:
        e["data"] = rng.choice(ODD_STRINGS + ["A B\n", "A  B\n", "A\n\nB\n", "AB\n\n", "#A\n", "A#\n", "é\n",
                                              "-\n", "---\n", "A\nB", "A \n", "=\n", "a: b\n", " A\n",
                                              "- x\n", "A\n-\n", "= =\n", "A B C\n", "A" * 5000 + "\n",
                                              "A\tB\n", "A\x85B\n", "A\u2028B\n", "A\rB\n", "\n"])
    elif r < 0.2:
        e["id"] = rng.choice(ODD_NAMES + ["e-1", "n-0", "y-1", "e-1e3", "E-1", "e-", "e-1.5", "ab-1"])
    elif r < 0.25:
        e = {k: e[k] for k in rng.sample(list(e), 3)}
    elif r < 0.28:
        e["extra"] = "x"
    if marks and rng.random() < 0.4:
        e["marks"] = [_entry(rng, f"m-{i:014d}", marks=rng.random() < 0.1) for i in range(rng.randint(0, 3))]
    return e


def test_entry_writer_matches_ruamel():
    rng = random.Random(SEED + 3)
    took = 0
    for _ in range(600 * SCALE):
        entries = [_entry(rng, f"e-{i:014d}") for i in range(rng.randint(1, 5))]
        fast = canonical.dump({"entries": entries})
        fast = fast.encode("ascii") if fast is not None else None
        ref = _ref_dump({"entries": entries}).encode("utf-8")
        assert envelope.dump_entries(entries) == ref
        if fast is not None:
            took += 1
            assert fast == ref, f"fast entry writer differs on {entries!r:.600}"
            assert canonical.load(fast) == {"entries": entries}  # and the fast reader reads it back
    assert took > 150


# ---------------------------------------------------------------------------
# 3. Git.head() vs git rev-parse HEAD


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


def _rev_parse(root: Path):
    p = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True, text=True)
    return p.stdout.strip() or None


def _agree(root: Path, expect_fast: bool = True):
    g = Git(root)
    assert g.head() == _rev_parse(root)
    if expect_fast:
        assert g._head_from_files() == _rev_parse(root)  # answered from the files, not by falling back


def test_git_head_matches_rev_parse(tmp_path):
    root = tmp_path / "repo"
    _git(tmp_path, "init", "-q", "-b", "main", str(root))
    assert Git(root).head() is None and _rev_parse(root) is None  # no commits yet
    _git(root, "commit", "-q", "--allow-empty", "-m", "one")
    _agree(root)  # loose ref
    _git(root, "branch", "side")
    _git(root, "tag", "-a", "-m", "t", "v1")  # an annotated tag: a peeled '^' line once packed
    _git(root, "pack-refs", "--all")
    assert not (root / ".git/refs/heads/main").exists()
    _agree(root)  # packed ref
    _git(root, "commit", "-q", "--allow-empty", "-m", "two")
    assert (root / ".git/refs/heads/main").exists()
    _agree(root)  # a loose ref newer than its packed line
    _git(root, "checkout", "-q", "--detach", "HEAD~1")
    _agree(root)  # detached
    _git(root, "symbolic-ref", "HEAD", "refs/heads/side")
    assert not (root / ".git/refs/heads/side").exists()
    _agree(root)  # a symbolic ref to a branch only in packed-refs
    assert Git(root).head() == _git(root, "rev-parse", "side")
    _git(root, "symbolic-ref", "HEAD", "refs/heads/nowhere")
    assert Git(root).head() is None and _rev_parse(root) is None  # unborn branch
    _git(root, "symbolic-ref", "HEAD", "refs/heads/main")
    _git(root, "symbolic-ref", "refs/heads/alias", "refs/heads/side")  # a symbolic ref chain
    _git(root, "symbolic-ref", "HEAD", "refs/heads/alias")
    _agree(root)


def test_git_head_sha256_and_worktree(tmp_path):
    root = tmp_path / "r256"
    p = subprocess.run(["git", "init", "-q", "--object-format=sha256", str(root)], capture_output=True)
    if p.returncode == 0:
        _git(root, "commit", "-q", "--allow-empty", "-m", "one")
        _agree(root)
        _git(root, "pack-refs", "--all")
        _agree(root)
    main = tmp_path / "main"
    _git(tmp_path, "init", "-q", "-b", "main", str(main))
    _git(main, "commit", "-q", "--allow-empty", "-m", "one")
    _git(main, "worktree", "add", "-q", "-b", "wt", str(tmp_path / "wt"))
    _git(tmp_path / "wt", "commit", "-q", "--allow-empty", "-m", "two")
    _agree(tmp_path / "wt", expect_fast=False)  # a .git file: falls back to git, still right
    _agree(main)


def test_confide_yaml_parse_is_kept_so_a_command_needs_no_ruamel_import(vault):
    """confide.yaml (comments, [a, b] lists) is the one file 'canonical' declines: its parse is kept, as JSON
    named by its bytes' hash, in the clone's .git/confide/parsed, so the next command does not import
    ruamel.yaml (~13 ms). The kept parse equals ruamel's; a damaged kept file is parsed again and kept anew."""
    import json
    import sys

    raw = (vault.root / "confide.yaml").read_bytes()
    assert canonical.load(raw) is None  # the premise: canonical declines it
    folder = vault.root / ".git" / "confide" / "parsed"
    probe = ("import sys\nfrom vault_cli.cli.main import app\n"
             "try:\n    app(['child', 'list'])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
             "print('ruamel.yaml' in sys.modules)\n")
    env = dict(os.environ, CONFIDE_VAULT=str(vault.root), CONFIDE_IDENTITY=str(vault.keys["amira"]))

    def imports_ruamel() -> bool:
        r = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip().splitlines()[-1] == "True"

    assert imports_ruamel()  # the first command parses it with ruamel.yaml, and keeps the parse
    [kept] = folder.glob("*.json")
    assert json.loads(kept.read_text()) == RUAMEL.load(raw)
    assert not imports_ruamel()
    kept.write_text("not json")
    assert imports_ruamel()  # a kept parse that does not read is parsed again, and kept anew
    assert json.loads(kept.read_text()) == RUAMEL.load(raw)
    assert not imports_ruamel()
