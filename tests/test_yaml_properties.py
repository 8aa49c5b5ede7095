"""Property-based differential tests (hypothesis) of ``formats/canonical.py`` against ruamel.yaml.

Generated records (heads and entries files: ids, levels, grants, revocations,
level keys with many wrapped copies, empty lists, long armored blocks),
holders.yaml files, and arbitrary data (unicode text, long lines, nested lists
and mappings, numbers, booleans, null):

- the canonical writer's bytes are exactly ruamel.yaml's (``yamlio.library_dump``)
  and load with ruamel.yaml to the same data; for a record or holders file in the
  shapes the schemas allow, the canonical writer always takes it (the fast path
  is exercised, not skipped);
- the strict reader gives exactly what ruamel.yaml gives for those bytes, and
  declines (None) every mutation that leaves the canonical form: a byte
  flipped, a line duplicated or dropped, indentation changed, a key repeated,
  anchors and aliases, tags, flow style, comments, a BOM, CRLF, trailing
  garbage; ``yamlio.load`` then gives ruamel.yaml's value or an IntegrityError,
  never a different answer (``test_fastpaths.check_load``);
- the adversarial documents of the trust tests (``tests/test_trust*.py``) get
  the same answer through the fast path as through ruamel.yaml.

The runs are derandomized (the same examples each run, so CI is
reproducible); ``HYPOTHESIS_EXPLORE=1`` draws new ones, ``HYPOTHESIS_EXAMPLES=N``
draws more.
"""

from __future__ import annotations

import base64
import datetime
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from test_fastpaths import check_load, typed

from vault_cli.errors import IntegrityError
from vault_cli.formats import canonical, envelope, yamlio

RUAMEL = YAML(typ="safe", pure=False)
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "120"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("HYPOTHESIS_EXPLORE"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], database=None)

# ---------------------------------------------------------------------------
# strategies: the shapes of schemas/record.schema.json and holders.schema.json

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
BECH32 = "023456789acdefghjklmnpqrstuvwxyz"
LEVELS = ["general", "confidential", "safeguarding"]


def _id(prefix: str, n: int):
    return st.text(CROCKFORD, min_size=n, max_size=n).map(lambda s: prefix + s)


record_ids, entry_ids, mark_ids, key_ids = _id("c-", 8), _id("e-", 14), _id("m-", 14), _id("k-", 4)
holders = st.from_regex(r"[a-z][a-z0-9._-]{0,39}", fullmatch=True)
levels = st.sampled_from(LEVELS)
dates = st.dates(datetime.date(1990, 1, 1), datetime.date(2100, 12, 31)).map(datetime.date.isoformat)
age_recipients = st.text(BECH32, min_size=58, max_size=58).map(lambda s: "age1" + s)
ssh_keys = st.binary(min_size=32, max_size=32).map(
    lambda b: "ssh-ed25519 " + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + b).decode())


def _armor(body: bytes) -> str:
    text = base64.b64encode(body).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN AGE ENCRYPTED FILE-----\n" + "".join(line + "\n" for line in lines) + "-----END AGE ENCRYPTED FILE-----\n"


armored = st.binary(min_size=1, max_size=900).map(_armor)  # up to ~16 lines, as a wrapped key or a long entry
blocks = st.fixed_dictionaries({"key": key_ids, "data": armored})
grants = st.fixed_dictionaries({"holder": holders, "level": levels, "granted_by": holders, "granted": dates},
                               optional={"until": st.none() | dates, "parent_permission": st.none() | dates})
revocations = st.fixed_dictionaries({"holder": holders, "level": levels, "revoked_by": holders, "revoked": dates})
level_keys = st.fixed_dictionaries({"id": key_ids, "level": levels, "generation": st.integers(1, 10**6),
                                    "recipient": age_recipients,
                                    "wrapped": st.dictionaries(holders, armored, min_size=1, max_size=6)})
HEAD_ORDER = ("format", "record", "key_person", "grants", "revoked", "rekey", "keys", "profile")


@st.composite
def heads(draw) -> dict:
    head = {"format": envelope.FORMAT, "record": draw(record_ids)}
    if draw(st.booleans()):
        head["key_person"] = draw(st.none() | holders)
    head["grants"] = draw(st.lists(grants, max_size=4))
    for name, items in (("revoked", st.lists(revocations, max_size=3)), ("rekey", st.lists(levels, unique=True))):
        if draw(st.booleans()):
            head[name] = draw(items)  # empty lists too
    head["keys"] = draw(st.lists(level_keys, min_size=1, max_size=3, unique_by=lambda k: k["id"]))
    head["profile"] = draw(blocks)
    return {k: head[k] for k in HEAD_ORDER if k in head}


marks = st.fixed_dictionaries({"id": mark_ids, "key": key_ids, "data": armored})


@st.composite
def entry_lists(draw) -> list:
    ids = sorted(draw(st.lists(entry_ids, max_size=6, unique=True)))
    out = []
    for eid in ids:
        e = {"id": eid, "key": draw(key_ids), "data": draw(armored)}
        if draw(st.booleans()):
            e["marks"] = sorted(draw(st.lists(marks, max_size=3, unique_by=lambda m: m["id"])), key=lambda m: m["id"])
        out.append(e)
    return out


holder_rows = st.fixed_dictionaries(
    {"name": holders, "role": st.from_regex(r"[a-z][a-z0-9-]{0,39}", fullmatch=True),
     "recipient": age_recipients | ssh_keys, "signing_key": st.none() | ssh_keys,
     "status": st.sampled_from(["active", "removed"]), "added": dates, "added_by": holders},
    optional={"previous_recipients": st.lists(st.fixed_dictionaries({"recipient": age_recipients, "until": dates}), max_size=2)})
holders_files = st.lists(holder_rows, min_size=1, max_size=5).map(lambda rows: {"format": "confide/holders/1", "holders": rows})

# Anything at all, for the writer's refusals: unicode text (line breaks, quotes, controls), long lines,
# numbers, booleans, null, nested lists and mappings.
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
           | st.text(min_size=200, max_size=3000) | holders | dates | armored)
data = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12) | holders, inner, max_size=4),
                    max_leaves=20)
documents = st.dictionaries(st.text(max_size=12) | holders, data, min_size=1, max_size=5)


def _words(x):
    if isinstance(x, dict):
        for k, v in x.items():
            yield k
            yield from _words(v)
    elif isinstance(x, list):
        for v in x:
            yield from _words(v)
    elif isinstance(x, str):
        yield x


# Names the schemas allow that YAML would read as something else unquoted (yes, no, null, y...): ruamel.yaml
# quotes them, and the canonical writer leaves such a file to it.
RESERVED = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf"}


def _canonical_roundtrip(doc: dict) -> str:
    text = canonical.dump(doc)
    if text is None:
        assert RESERVED & set(_words(doc)), "the canonical writer fell back on a document of confide's own shape"
        out = yamlio.dump(doc)
        assert out == yamlio.library_dump(doc) and typed(yamlio.load(out, "x.yaml")) == typed(doc)
        assert canonical.load(out) is None
        return out
    assert text == yamlio.library_dump(doc)
    assert typed(RUAMEL.load(text)) == typed(doc)
    assert typed(canonical.load(text)) == typed(doc) and typed(canonical.load(text.encode())) == typed(doc)
    return text


# ---------------------------------------------------------------------------
# the writer


@SETTINGS
@given(heads())
def test_a_head_is_written_as_ruamel_writes_it_and_read_back(head):
    text = _canonical_roundtrip(head)
    assert envelope.load_head(text.encode(), f"records/{head['record']}.yaml") == head  # and the schema takes it
    assert envelope.Envelope(f"records/{head['record']}.yaml", head).head_bytes() == text.encode()


@SETTINGS
@given(entry_lists())
def test_an_entries_file_is_written_as_ruamel_writes_it_and_read_back(entries):
    text = _canonical_roundtrip({"entries": entries})
    assert envelope.dump_entries(entries) == text.encode()
    assert envelope.load_entries(text.encode(), "records/c-7f3k9m2q.entries.yaml") == entries
    items = canonical.entry_items(text.encode())  # verify's incremental parse: the same entries, item by item
    assert items is not None and list(items) == [e["id"] for e in entries]
    for e in entries:
        assert canonical.load(canonical.entries_document([items[e["id"]]])) == {"entries": [e]}


@SETTINGS
@given(entry_lists(), entry_lists())
def test_appending_as_bytes_is_writing_the_whole_list(entries, more):
    """``confide add`` appends an entry's bytes without parsing the file: the same bytes as writing the list."""
    tail = envelope.dump_entries(entries)
    for e in more:
        appended = canonical.append_entry(tail, e)
        if entries and e["id"] <= entries[-1]["id"]:
            assert appended is None  # not last: the caller parses and sorts
            continue
        assert appended == envelope.dump_entries(entries + [e])
        tail, entries = appended, entries + [e]


@SETTINGS
@given(holders_files)
def test_holders_yaml_is_written_as_ruamel_writes_it(doc):
    _canonical_roundtrip(doc)


@SETTINGS
@given(documents)
def test_the_writer_declines_or_agrees_with_ruamel_on_anything(doc):
    text = canonical.dump(doc)
    if text is not None:
        assert text == yamlio.library_dump(doc)
        assert typed(RUAMEL.load(text)) == typed(doc)
        assert typed(canonical.load(text)) == typed(doc)
    # and through yamlio, whichever writes it, the text reads back the same way with either reader
    out = yamlio.dump(doc)
    assert out == yamlio.library_dump(doc)
    check_load(out, "yamlio.dump output")


# ---------------------------------------------------------------------------
# the reader, on mutations of canonical documents

MUTATIONS = ["flip", "duplicate", "drop", "indent", "dedent", "repeat-key", "anchor", "alias", "tag", "flow", "comment",
             "bom", "crlf", "garbage", "tab", "trailing-space", "blank", "quote", "document", "unicode"]
# These always leave the canonical form: the reader must decline, whatever ruamel.yaml makes of them.
ALWAYS_OUTSIDE = {"repeat-key", "anchor", "alias", "tag", "flow", "comment", "bom", "crlf", "garbage", "tab",
                  "trailing-space", "blank", "document", "unicode"}


def _mutate(text: str, how: str, draw) -> str:
    lines = text.split("\n")[:-1]
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    if how == "flip":
        raw = bytearray(text.encode())
        j = draw(st.integers(0, len(raw) - 1))
        raw[j] ^= 1 << draw(st.integers(0, 6))
        return raw.decode("ascii", "replace")
    if how == "duplicate":
        lines.insert(i, line)
    elif how == "drop":
        del lines[i]
    elif how == "indent":
        lines[i] = " " * draw(st.integers(1, 3)) + line
    elif how == "dedent":
        lines[i] = line[draw(st.integers(1, 2)):] if line.startswith("  ") else " " + line
    elif how == "repeat-key":
        first = lines[0]
        lines.append(first.split(":")[0] + ": x")
    elif how == "anchor":
        lines[i] = line.replace(": ", ": &a ", 1) if ": " in line else line + " &a"
    elif how == "alias":
        lines.append("zz: *a")
        lines[0] = lines[0].replace(": ", ": &a ", 1) if ": " in lines[0] else lines[0]
    elif how == "tag":
        lines[i] = line.replace(": ", ": !!str ", 1) if ": " in line else "!!map " + line
    elif how == "flow":
        lines.append("flow: {a: 1, b: [x, y]}")
    elif how == "comment":
        lines.insert(i, draw(st.sampled_from(["# a comment", "  # indented comment"]))) if draw(st.booleans()) else (
            lines.__setitem__(i, line + " # c"))
    elif how == "bom":
        return "\ufeff" + text
    elif how == "crlf":
        return text.replace("\n", "\r\n")
    elif how == "garbage":
        return text + draw(st.sampled_from(["x", "---\nb: 1\n", "...\n", "\x00", "}", "- a\n", " ", "\n\n"]))
    elif how == "tab":
        lines[i] = "\t" + line
    elif how == "trailing-space":
        lines[i] = line + " "
    elif how == "blank":
        lines.insert(i + 1, "")
    elif how == "quote":
        k, sep, v = line.partition(": ")
        lines[i] = f'{k}: "{v}"' if sep else line
    elif how == "document":
        return "---\n" + text
    elif how == "unicode":
        pos = draw(st.integers(0, len(line)))
        lines[i] = line[:pos] + draw(st.sampled_from(["é", "\u2028", "\x85", "\ufeff", "日本"])) + line[pos:]
    return "\n".join(lines) + "\n"


@st.composite
def mutated(draw):
    kind = draw(st.sampled_from(["head", "entries", "holders"]))
    doc = draw(heads() if kind == "head" else st.builds(lambda e: {"entries": e}, entry_lists()) if kind == "entries"
               else holders_files)
    text = yamlio.dump(doc)  # (ruamel.yaml's text where a name is a YAML word: 'no', 'y', ...)
    how = draw(st.sampled_from(MUTATIONS))
    return how, text, _mutate(text, how, draw)


@SETTINGS
@given(mutated())
def test_the_reader_gives_ruamels_answer_or_declines_on_mutations(case):
    how, original, text = case
    if text == original:
        return
    if how in ALWAYS_OUTSIDE:
        assert canonical.load(text) is None, f"{how}: {text!r:.300}"
        assert canonical.load(text.encode("utf-8", "surrogatepass")) is None
    check_load(text, how)  # whatever it accepts is ruamel's value, and its own canonical text
    check_load(text.encode("utf-8", "surrogatepass"), how)


# ---------------------------------------------------------------------------
# the adversarial documents of the trust tests


def _bomb() -> str:  # test_trust.py: nested aliases in a head
    return "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(12))


@SETTINGS
@given(holders_files, ssh_keys, heads())
def test_the_trust_tests_adversarial_documents(doc, public, head):
    holders_text = yamlio.dump(doc)
    forged = [
        # test_trust.py / test_trust_sync.py: a manager appended to holders.yaml by hand (canonical: read as ruamel reads it)
        holders_text + f"- name: mallory\n  role: manager\n  recipient: {public}\n  signing_key: {public}\n"
                       "  status: active\n  added: '2026-11-24'\n  added_by: amira\n",
        holders_text + f"- name: mallory\n  role: manager\n  recipient: {public}\n  signing_key: null\n"
                       "  status: active\n  added: '2026-11-24'\n  added_by: ben\n",
        # test_trust.py: a "billion laughs" head
        _bomb(),
        # test_trust_review.py: an impossible date, quoted as confide quotes dates (a string: the schema's date check refuses it)
        yamlio.dump(dict(head, grants=[{"holder": "cara", "level": "confidential", "granted_by": "amira",
                                           "granted": "2026-11-24", "until": "2026-02-30"}])),
        # the same date unquoted: YAML reads a date, which cannot be built
        yamlio.dump(dict(head, grants=[{"holder": "cara", "level": "confidential", "granted_by": "amira",
                                           "granted": "2026-11-24"}])).replace("granted: '2026-11-24'", "granted: 2026-02-30"),
        # plaintext where an age block belongs, and a head holding entries
        yamlio.dump(head).replace("-----BEGIN AGE ENCRYPTED FILE-----", "Ada Marker was hurt", 1),
        yamlio.dump(head) + "entries: []\n",
    ]
    for text in forged:
        took = check_load(text, "adversarial")
        if (text is forged[0] or text is forged[1]) and canonical.dump(doc) is not None:
            assert took, "a hand-appended holder in the canonical form is read by the fast path"
            assert yamlio.load(text, "holders.yaml")["holders"][-1]["name"] == "mallory"
    try:
        envelope.load_head(forged[3].encode(), f"records/{head['record']}.yaml")
        raise AssertionError("an impossible date was accepted")
    except IntegrityError:
        pass
