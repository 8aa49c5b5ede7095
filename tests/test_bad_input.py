"""What bad input gets (issue 2): a clear error with its documented exit code,
a hint, no traceback, no secret echoed back, and the vault exactly as it was
(same HEAD, clean working tree).

Damaged record files are made the way they would arrive in real life: edited
by hand (or by a faulty tool) and committed with plain git, so the working
tree is clean and only confide's own checks can notice. A record is two files,
``records/<id>.yaml`` (the head: keys, grants, profile) and
``records/<id>.entries.yaml`` (the entries); damage to an entry is made in the
entries file, damage to the head in the head, and the error must name the file
that is damaged.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import VaultFixture, copy_vault, entries_file, head_file, recipient_of, record_doc, run_cli
from vault_cli import crypto, envelope, yamlio
from vault_cli.errors import ExitCode

SECRET_OF = lambda path: [l for l in Path(path).read_text().splitlines() if l.startswith("AGE-SECRET-KEY-1")][0]  # noqa: E731


def assert_refused(v, r, code: ExitCode, head: str | None, *, secrets: tuple[str, ...] = (), words: str | None = None) -> None:
    """The common contract for every refusal."""
    assert r.exit_code == code, f"expected {code!r}, got {r.exit_code}: {r.stderr}"
    assert r.stderr.startswith("confide: error: "), r.stderr
    lines = r.stderr.splitlines()
    assert any(line.startswith("confide: hint: ") for line in lines[1:]), r.stderr
    assert all(line.startswith(("confide: error: ", "confide: hint: ", "confide: warning: ")) for line in lines), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "internal error" not in r.stderr
    for s in secrets:
        assert s not in r.stdout and s not in r.stderr
        assert s.lower() not in r.stdout.lower() and s.lower() not in r.stderr.lower()
    if words is not None:
        assert words in r.stderr, r.stderr
    if head is not None:
        assert v.head() == head
        assert v.is_clean()


_TEMPLATE: dict = {}


def _add_children(v: VaultFixture) -> dict:
    data = {}
    for name, kp in (("Ada Marker", "ben"), ("Bea Marker", "cara")):
        rid = v.add_child(name, key_person=kp)
        entries = {}
        for level in ("general", "confidential", "safeguarding"):
            entries[level] = [v.add_entry(rid, f"{name} {level} {i}", level, "note") for i in range(2)]
        data[name] = (rid, entries)
    return data


@pytest.fixture
def filled(tmp_path, keys, vault, tmp_path_factory):
    """The conftest vault plus two children with two entries at every level.

    The children are added through the CLI once and the result kept as a
    template; each test gets a copy. Returns (vault, {name: (rid, {level: [eid, eid]})}).
    """
    if "root" not in _TEMPLATE:
        _TEMPLATE["data"] = _add_children(vault)
        template = tmp_path_factory.mktemp("filled-template") / "vault"
        shutil.copytree(vault.root, template, symlinks=True)
        _TEMPLATE["root"] = template
    v = copy_vault(_TEMPLATE["root"], tmp_path / "filled", keys)
    return v, copy.deepcopy(_TEMPLATE["data"])


# ---------------------------------------------------------------------------
# missing things and unknown words


def test_missing_record_and_entry(filled):
    v, data = filled
    rid, entries = data["Ada Marker"]
    head = v.head()
    cases = [
        (("show", "c-00000000"), "no record c-00000000"),
        (("show", "not-an-id"), "is not a record id"),
        (("add", "c-00000000", "--level", "general", "--category", "note", "--text", "x"), "no record c-00000000"),
        (("child", "set", "c-00000000", "room=x"), "no record c-00000000"),
        (("mark", "e-00000000000000", "--parent-view", "confidential"), "no entry e-00000000000000"),
        (("mark", "e-00000000000000", "--record", rid, "--parent-view", "confidential"), "no entry e-00000000000000"),
        (("mark", entries["general"][0], "--record", "c-00000000", "--parent-view", "confidential"), "no record c-00000000"),
        (("mark", "bogus", "--parent-view", "confidential"), "is not an entry id"),
        (("add", rid, "--level", "general", "--category", "note", "--text", "x", "--corrects", "e-00000000000000"),
         "--corrects names e-00000000000000"),
    ]
    for args, words in cases:
        r = v.run(*args)
        assert_refused(v, r, ExitCode.NOT_FOUND, head, words=words)


def test_unknown_level_category_role_and_parent_view(filled, keys):
    v, data = filled
    rid, entries = data["Ada Marker"]
    head = v.head()
    r = v.run("add", rid, "--level", "secret", "--category", "note", "--text", "x")
    assert_refused(v, r, ExitCode.USAGE, head, words="unknown level 'secret'")
    assert "general, confidential, safeguarding" in r.stderr
    r = v.run("mark", entries["general"][0], "--level", "secret", "--reason", "x")
    assert_refused(v, r, ExitCode.USAGE, head, words="unknown level 'secret'")
    r = v.run("add", rid, "--level", "general", "--category", "gossip", "--text", "x")
    assert_refused(v, r, ExitCode.USAGE, head, words="unknown category 'gossip'")
    assert "observation" in r.stderr and "family-change" in r.stderr  # the list of categories
    r = v.run("holder", "add", "zed", "--role", "janitor", "--recipient", recipient_of(keys["eve"]))
    assert_refused(v, r, ExitCode.USAGE, head, words="unknown role 'janitor'")
    assert "manager, dsl, practitioner" in r.stderr
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x", "--parent-view", "maybe")
    assert_refused(v, r, ExitCode.USAGE, head, words="unknown parent view 'maybe'")
    r = v.run("holder", "add", "Zed Smith", "--role", "practitioner", "--recipient", recipient_of(keys["eve"]))
    assert_refused(v, r, ExitCode.USAGE, head, words="not a valid holder name")


def test_usage_errors_from_the_parser_exit_2(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    r = v.run("add", rid, "--level", "general", "--text", "x")  # no --category
    assert_refused(v, r, ExitCode.USAGE, head, words="--category")
    r = v.run("show", rid, "--colour")
    assert_refused(v, r, ExitCode.USAGE, head, words="--colour")
    r = v.run("frobnicate")
    assert_refused(v, r, ExitCode.USAGE, head)


@pytest.mark.parametrize("flag, value", [
    ("--parents-informed", "24/11/2026"),
    ("--parents-informed", "2026-02-30"),
    ("--parents-informed", "2026-11-24T10:00"),
    ("--at", "yesterday"),
    ("--at", "2026-13-01T10:00"),
])
def test_malformed_dates_on_add(filled, flag, value):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x", flag, value)
    assert_refused(v, r, ExitCode.USAGE, head, words=flag)


def test_malformed_dates_elsewhere(filled):
    v, data = filled
    rid, entries = data["Ada Marker"]
    head = v.head()
    r = v.run("child", "add", "--name", "Zed", "--dob", "2022-02-30")
    assert_refused(v, r, ExitCode.USAGE, head, words="--dob needs a date as YYYY-MM-DD")
    r = v.run("child", "add", "--name", "Zed", "--dob", "3 March 2022")
    assert_refused(v, r, ExitCode.USAGE, head, words="--dob")
    r = v.run("mark", entries["general"][0], "--parents-informed", "last tuesday")
    assert_refused(v, r, ExitCode.USAGE, head, words="--parents-informed")
    r = v.run("child", "set", rid, "leaving_date=2026-1-5")
    assert_refused(v, r, ExitCode.USAGE, head, words="leaving_date")


def test_empty_text(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    for text, stdin in (("", None), ("   \n\t", None), ("-", ""), ("-", "\n\n")):
        r = v.run("add", rid, "--level", "general", "--category", "note", "--text", text, input=stdin)
        assert_refused(v, r, ExitCode.USAGE, head, words="the entry text is empty")
        assert "--text -" in r.stderr
    r = v.run("child", "add", "--name", "  ")
    assert_refused(v, r, ExitCode.USAGE, head, words="name is empty")
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x", "--parents-not-informed", " ")
    assert_refused(v, r, ExitCode.USAGE, head, words="--parents-not-informed")
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x", "--third-party", "")
    assert_refused(v, r, ExitCode.USAGE, head, words="--third-party")
    eid = v.add_entry(rid, "y")
    head = v.head()
    r = v.run("mark", eid, "--level", "confidential", "--reason", " ")
    assert_refused(v, r, ExitCode.USAGE, head, words="--reason")


def test_contradicting_parents_flags(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x",
              "--parents-informed", "2026-11-24", "--parents-not-informed", "risk")
    assert_refused(v, r, ExitCode.USAGE, head, words="contradict")


# ---------------------------------------------------------------------------
# identities


def _write_identity(path: Path, content, mode: int = 0o600) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    os.chmod(path, mode)
    return path


WRITE = ("add", "{rid}", "--level", "general", "--category", "note", "--text", "x")
READ = ("show", "{rid}")


def _cli(v, args, identity, rid):
    return run_cli([a.format(rid=rid) for a in args], identity=identity, env={"CONFIDE_VAULT": str(v.root)})


@pytest.mark.parametrize("args", [WRITE, READ], ids=["write", "read"])
def test_identity_missing(filled, tmp_path, args):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    r = _cli(v, args, tmp_path / "nope.txt", rid)
    assert_refused(v, r, ExitCode.IDENTITY, head, words="does not exist")
    # nothing given and nothing at the default location
    r = run_cli([a.format(rid=rid) for a in args], env={"CONFIDE_VAULT": str(v.root)})
    assert_refused(v, r, ExitCode.IDENTITY, head, words="no identity given")
    assert "confide keygen" in r.stderr


@pytest.mark.parametrize("args", [WRITE, READ], ids=["write", "read"])
def test_identity_is_a_folder(filled, tmp_path, args):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    for mode in (0o755, 0o700):
        folder = tmp_path / f"idfolder{mode:o}"
        folder.mkdir(mode=mode)
        os.chmod(folder, mode)
        r = _cli(v, args, folder, rid)
        assert_refused(v, r, ExitCode.IDENTITY, head, words="is a folder")
        assert "chmod" not in r.stderr


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
@pytest.mark.parametrize("args", [WRITE, READ], ids=["write", "read"])
def test_identity_readable_by_others(filled, tmp_path, mode, args):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    path = tmp_path / "open.txt"
    shutil.copyfile(v.keys["amira"], path)
    os.chmod(path, mode)
    r = _cli(v, args, path, rid)
    assert_refused(v, r, ExitCode.IDENTITY, head, secrets=(SECRET_OF(path),), words="can be read by others")
    assert f"chmod 600 {path}" in r.stderr


@pytest.mark.parametrize("content, words", [
    ("AGE-SECRET-KEY-1L9A2RAUQ23920094JL3WFA2VQVXNQ7J96LF83QFTV0E3QXDLE\n", "line 1 is a malformed age identity"),
    ("# a comment\nAGE-SECRET-KEY-1L9A2RAUQ23920094JL3WFA2VQVXNQ7J96LF83QFTV0E3QXDLEZNSQ4LXE3\n",
     "line 2 is a malformed age identity"),
    ("my password is hunter2\n", "line 1 is not an age identity"),
    ("", "holds no identity"),
    ("# only a comment\n", "holds no identity"),
    (b"\xff\xfe\x00\x01binary", "is not text"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAnonsense\n-----END OPENSSH PRIVATE KEY-----\n", "damaged or not an OpenSSH"),
])
@pytest.mark.parametrize("args", [WRITE, READ], ids=["write", "read"])
def test_identity_malformed(filled, tmp_path, content, words, args):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    path = _write_identity(tmp_path / "bad.txt", content)
    secrets = ()
    if isinstance(content, str):
        secrets = tuple(l for l in content.splitlines() if l and not l.startswith("#"))
    r = _cli(v, args, path, rid)
    assert_refused(v, r, ExitCode.IDENTITY, head, secrets=secrets, words=words)
    assert str(path) in r.stderr


@pytest.mark.parametrize("args", [
    WRITE, READ, ("child", "list"), ("child", "add", "--name", "Zed"), ("child", "set", "{rid}", "room=x"),
    ("mark", "{eid}", "--parent-view", "confidential"),
], ids=["add", "show", "child-list", "child-add", "child-set", "mark"])
def test_identity_not_a_holder(filled, args):
    v, data = filled
    rid, entries = data["Ada Marker"]
    head = v.head()
    r = run_cli([a.format(rid=rid, eid=entries["general"][0]) for a in args], identity=v.keys["eve"],
                env={"CONFIDE_VAULT": str(v.root)})
    assert_refused(v, r, ExitCode.IDENTITY, head, secrets=(SECRET_OF(v.keys["eve"]),),
                   words="is not an active holder of this vault")
    assert "confide holder add" in r.stderr
    assert "Ada Marker" not in r.stdout


def test_a_non_manager_cannot_add_holders(filled, keys):
    v, _ = filled
    head = v.head()
    r = v.run("holder", "add", "zed", "--role", "practitioner", "--recipient", recipient_of(keys["eve"]), who="ben")
    assert_refused(v, r, ExitCode.DENIED, head, words="only a manager")


# ---------------------------------------------------------------------------
# recipients


@pytest.mark.parametrize("bad", [
    "age1notarecipient",
    "age1ngf8u57sjrtezwg6jqe6l02735lg9vuml0cah0gtm4msepegl98q8x3d0y",  # checksum broken
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC",
    "ben",
    "",
])
def test_recipient_that_is_not_one(filled, bad):
    v, _ = filled
    head = v.head()
    r = v.run("holder", "add", "zed", "--role", "practitioner", "--recipient", bad)
    assert_refused(v, r, ExitCode.USAGE, head, words="is not an age recipient")
    assert "age1..." in r.stderr


def test_secret_key_pasted_as_recipient_is_named_but_never_printed(filled, keys, tmp_path):
    v, _ = filled
    head = v.head()
    secret = SECRET_OF(keys["eve"])
    for pasted in (secret, secret.lower(), f"  {secret}  ", secret + "\n"):
        r = v.run("holder", "add", "zed", "--role", "practitioner", "--recipient", pasted)
        assert_refused(v, r, ExitCode.USAGE, head, secrets=(secret, secret[16:40]), words="is a secret key")
    assert secret not in (v.root / "holders.yaml").read_text()
    # init refuses it too, and leaves no folder behind
    target = tmp_path / "newvault"
    r = run_cli(["init", str(target), "--name", "N", "--holder", "eve", "--recipient", secret])
    assert_refused(v, r, ExitCode.USAGE, head, secrets=(secret,), words="is a secret key")
    assert not target.exists()


# ---------------------------------------------------------------------------
# damaged record files


def _record_file(v, rid) -> Path:
    """The record's head file."""
    return head_file(v.root, rid)


def _entries_file(v, rid) -> Path:
    return entries_file(v.root, rid)


def _commit_by_hand(v, message="hand edit") -> str:
    v.git("commit", "-q", "-a", "-m", message)
    assert v.is_clean()
    return v.head()


def _edit_doc(v, rid, change) -> str:
    """Load a record's two files into one dict, let change(doc) alter it, write back as YAML the file(s)
    whose part changed (the head's fields, or 'entries') and commit with plain git."""
    doc = record_doc(v.root, rid)
    before = copy.deepcopy(doc)
    change(doc)
    head = {k: val for k, val in doc.items() if k != "entries"}
    if head != {k: val for k, val in before.items() if k != "entries"} or list(head) != [k for k in before if k != "entries"]:
        _record_file(v, rid).write_text(yamlio.dump(head))
    if doc["entries"] != before["entries"]:
        _entries_file(v, rid).write_text(yamlio.dump({"entries": doc["entries"]}))
    head = _commit_by_hand(v)
    assert len(_damaged(v)) == 1, _damaged(v)
    return head


def _damaged(v) -> list[str]:
    """The record files the last (hand) commit changed."""
    return [p for p in v.changed() if p.startswith("records/")]


def _entry(doc, eid):
    [e] = [e for e in doc["entries"] if e["id"] == eid]
    return e


def _key(doc, level):
    return max((k for k in doc["keys"] if k["level"] == level), key=lambda k: k["generation"])


def _assert_show_integrity(v, rid, head, words=None, *, who=("amira", "dara"), leaked=("Marker",), file=None):
    """show is refused for each reader, naming the damaged file (by default: the one the hand commit changed)."""
    if file is None:
        [file] = _damaged(v)
    assert envelope.record_of(file)[0] == rid, file
    for w in who:
        r = v.run("show", rid, "--json", who=w)
        assert_refused(v, r, ExitCode.INTEGRITY, head, secrets=leaked, words=words)
        assert file in r.stderr, f"the error does not name the damaged file {file}: {r.stderr}"
        assert r.stdout == ""


def test_record_file_that_is_not_yaml(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]
    path, epath = _record_file(v, rid), _entries_file(v, rid)
    good, egood = path.read_bytes(), epath.read_bytes()
    # damage in the entries
    epath.write_bytes(egood + b"  - id: [unclosed\n")
    head = _commit_by_hand(v)
    _assert_show_integrity(v, rid, head, words="is not valid YAML", file=f"records/{rid}.entries.yaml")
    epath.write_bytes(egood)
    _commit_by_hand(v)
    # damage in the head
    path.write_bytes(b"format: {oops\n" + good)
    head = _commit_by_hand(v)
    _assert_show_integrity(v, rid, head, words="is not valid YAML", file=f"records/{rid}.yaml")
    r = v.run("child", "list")
    assert_refused(v, r, ExitCode.INTEGRITY, head, words="is not valid YAML")
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x")
    assert_refused(v, r, ExitCode.INTEGRITY, head, words="is not valid YAML")
    # an impossible value is not a crash either
    assert f"format: {envelope.FORMAT}\n".encode() in good
    path.write_bytes(good.replace(f"format: {envelope.FORMAT}".encode(), b"format: 2022-02-30"))
    head = _commit_by_hand(v)
    _assert_show_integrity(v, rid, head, words="cannot be read", file=f"records/{rid}.yaml")


@pytest.mark.parametrize("what", [
    "format", "extra-field-head", "extra-field-tail", "generation-zero", "entry-extra", "entry-key-missing", "not-armored", "unsorted",
    "renamed", "unknown-key", "profile-level",
])
def test_record_file_failing_its_schema(filled, what):
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    e0, e1 = entries["general"]

    def change(doc):
        if what == "format":
            doc["format"] = "confide/record/9"
        elif what == "extra-field-head":
            items = list(doc.items())
            doc.clear()
            doc.update([("name", "whatever")] + items)
        elif what == "generation-zero":
            doc["keys"][0]["generation"] = 0
        elif what == "entry-extra":
            _entry(doc, e0)["text"] = "plaintext!"
        elif what == "entry-key-missing":
            del _entry(doc, e0)["key"]
        elif what == "not-armored":
            _entry(doc, e0)["data"] = "hello"
        elif what == "unsorted":
            doc["entries"].reverse()
        elif what == "renamed":
            doc["record"] = other
        elif what == "unknown-key":
            _entry(doc, e0)["key"] = "k-zzzz" if _entry(doc, e0)["key"] != "k-zzzz" else "k-yyyy"
        elif what == "profile-level":
            doc["profile"]["key"] = _key(doc, "confidential")["id"]

    if what == "extra-field-tail":  # in the entries file, after 'entries', where a command that appends would not look
        epath = _entries_file(v, rid)
        epath.write_bytes(epath.read_bytes() + b"name: whatever\n")
        head = _commit_by_hand(v)
    else:
        head = _edit_doc(v, rid, change)
    # the damage is in the file where it belongs: the head's fields in the head, an entry's in the entries file
    in_entries = what in ("extra-field-tail", "entry-extra", "entry-key-missing", "not-armored", "unsorted", "unknown-key")
    assert _damaged(v) == [f"records/{rid}.entries.yaml" if in_entries else f"records/{rid}.yaml"]
    _assert_show_integrity(v, rid, head)
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x")
    if what in ("format", "extra-field-head", "extra-field-tail", "generation-zero", "renamed"):
        # damage to the file's structure stops writes too; a damaged block is only
        # noticed by commands that open it, and appending never makes it worse
        assert_refused(v, r, ExitCode.INTEGRITY, head)
    else:
        assert r.exit_code == 0 and v.head() != head


def _body_lines(block: str) -> list[str]:
    lines = block.strip("\n").split("\n")
    assert lines[0] == crypto.ARMOR_BEGIN and lines[-1] == crypto.ARMOR_END
    return lines


@pytest.mark.parametrize("how", ["truncated", "truncated-end", "altered", "altered-header", "altered-wrapped"])
def test_truncated_or_altered_age_block(filled, how):
    v, data = filled
    rid, entries = data["Ada Marker"]
    eid = entries["confidential"][0]

    def change(doc):
        item = _entry(doc, eid)
        lines = _body_lines(item["data"])
        if how == "truncated":  # lose the last body line(s), keep the armor frame
            item["data"] = "\n".join(lines[:2] + lines[-1:]) + "\n"
        elif how == "truncated-end":  # the file stops in the middle of the block
            item["data"] = "\n".join(lines[:-2]) + "\n"
        elif how == "altered":  # one character of ciphertext changed
            body = lines[-2]
            i = len(body) // 2
            lines[-2] = body[:i] + ("A" if body[i] != "A" else "B") + body[i + 1:]
            item["data"] = "\n".join(lines) + "\n"
        elif how == "altered-header":
            body = lines[1]
            lines[1] = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
            item["data"] = "\n".join(lines) + "\n"
        elif how == "altered-wrapped":
            key = _key(doc, "confidential")
            wl = _body_lines(key["wrapped"]["amira"])
            body = wl[-2]
            wl[-2] = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
            key["wrapped"]["amira"] = "\n".join(wl) + "\n"

    head = _edit_doc(v, rid, change)
    who = ("amira",) if how == "altered-wrapped" else ("amira", "dara", "ben")
    _assert_show_integrity(v, rid, head, who=who)
    # a practitioner who holds no key for that level never opens the block: they see it sealed
    if how not in ("altered-wrapped", "truncated-end"):  # a block cut short breaks the file's schema for everyone
        shown = json.loads(v.ok("show", rid, "--json", who="cara").stdout)
        assert {"id": eid, "level": "confidential", "readable": False} in shown["entries"]


def test_block_copied_from_another_record_is_detected(filled):
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, other_entries = data["Bea Marker"]
    theirs = record_doc(v.root, other)
    stolen = _entry(theirs, other_entries["general"][0])["data"]
    head = _edit_doc(v, rid, lambda doc: _entry(doc, entries["general"][0]).__setitem__("data", stolen))
    _assert_show_integrity(v, rid, head, who=("amira", "cara"), words="not encrypted to its level key")


def test_wrapped_key_copied_from_another_record_is_detected(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    theirs = record_doc(v.root, other)
    stolen = _key(theirs, "general")["wrapped"]["cara"]
    head = _edit_doc(v, rid, lambda doc: _key(doc, "general")["wrapped"].__setitem__("cara", stolen))
    _assert_show_integrity(v, rid, head, who=("cara",), words="belongs to another record")
    # readers whose own copy is intact are unaffected by cara's copy
    assert json.loads(v.ok("show", rid, "--json", who="ben").stdout)["record"] == rid


def test_blocks_moved_within_a_record_are_detected(filled):
    v, data = filled
    rid, entries = data["Ada Marker"]
    a, b = entries["confidential"]

    def swap(doc):
        ea, eb = _entry(doc, a), _entry(doc, b)
        ea["data"], eb["data"] = eb["data"], ea["data"]

    head = _edit_doc(v, rid, swap)
    _assert_show_integrity(v, rid, head, who=("amira", "ben"), words="belongs elsewhere")


def test_profile_block_moved_into_an_entry_is_detected(filled):
    v, data = filled
    rid, entries = data["Ada Marker"]

    def move(doc):
        _entry(doc, entries["general"][1])["data"] = doc["profile"]["data"]

    head = _edit_doc(v, rid, move)
    _assert_show_integrity(v, rid, head, who=("cara", "amira"), words="belongs elsewhere")


@pytest.mark.parametrize("claim", ["record", "level", "block"])
def test_forged_block_naming_another_record_or_level_is_detected(filled, claim):
    """Anyone may encrypt to a level's public recipient; the payload's binding is what gives a forgery away."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    eid = entries["general"][0]
    opened = json.loads(v.ok("show", rid, "--json").stdout)
    real = [e for e in opened["entries"] if e["id"] == eid][0]

    def forge(doc):
        payload = {
            "confide": "entry/1", "record": rid, "block": eid, "level": "general", "category": "note",
            "text": "forged", "at": real["at"], "recorded_at": real["recorded_at"], "author": "amira",
            "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": None,
            "third_parties": [], "corrects": None,
        }
        if claim == "record":
            payload["record"] = other
        elif claim == "level":
            payload["level"] = "confidential"
        else:
            payload["block"] = entries["general"][1]
        block = crypto.encrypt(json.dumps(payload).encode(), _key(doc, "general")["recipient"])
        _entry(doc, eid)["data"] = block

    head = _edit_doc(v, rid, forge)
    _assert_show_integrity(v, rid, head, who=("amira", "cara"), words="belongs elsewhere", leaked=("Marker", "forged"))


def test_an_entry_under_the_wrong_level_key_is_detected(filled):
    """An entry moved to another level's key id (its block left as it was) no longer opens under that key."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    eid = entries["confidential"][0]
    head = _edit_doc(v, rid, lambda doc: _entry(doc, eid).__setitem__("key", _key(doc, "general")["id"]))
    _assert_show_integrity(v, rid, head, who=("amira", "cara"))


# ---------------------------------------------------------------------------
# the state of the vault folder


@pytest.mark.parametrize("how", ["removed", "emptied"])
def test_vault_folder_that_is_not_a_git_repository(filled, how):
    v, data = filled
    rid, _ = data["Ada Marker"]
    shutil.rmtree(v.root / ".git")
    if how == "emptied":
        (v.root / ".git").mkdir()
    before = {p: p.read_bytes() for p in v.root.rglob("*") if p.is_file()}
    for args in (("add", rid, "--level", "general", "--category", "note", "--text", "x"),
                 ("show", rid), ("child", "add", "--name", "Zed"), ("child", "list")):
        r = v.run(*args)
        assert_refused(v, r, ExitCode.VAULT_STATE, None, words="is not a git repository")
    after = {p: p.read_bytes() for p in v.root.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.parametrize("suffix", [".yaml", ".entries.yaml"])
def test_uncommitted_changes_in_records(filled, suffix):
    v, data = filled
    rid, _ = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    path = v.root / "records" / f"{rid}{suffix}"
    head = v.head()
    changed = path.read_bytes() + b"# a note someone left\n"
    path.write_bytes(changed)
    for args in (("add", other, "--level", "general", "--category", "note", "--text", "x"),
                 ("add", rid, "--level", "general", "--category", "note", "--text", "x"),
                 ("child", "add", "--name", "Zed"),
                 ("child", "set", other, "room=x"),
                 ("holder", "add", "zed", "--role", "practitioner", "--recipient", recipient_of(v.keys["eve"]))):
        r = v.run(*args)
        assert_refused(v, r, ExitCode.VAULT_STATE, None, words="uncommitted changes")
        assert f"records/{rid}{suffix}" in r.stderr and "git status" in r.stderr
        assert v.head() == head
        # the user's own change is left exactly as they made it
        assert path.read_bytes() == changed
        assert v.git("status", "--porcelain", "--untracked-files=all").strip() == f"M records/{rid}{suffix}"
    # reading is still fine
    v.ok("show", other)


@pytest.mark.parametrize("name, text", [("c-zzzzzzzz.yaml", "format: confide/record/2\n"),
                                        ("c-zzzzzzzz.entries.yaml", "entries: []\n")])
def test_untracked_file_in_records(filled, name, text):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    stray = v.root / "records" / name
    stray.write_text(text)
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x")
    assert_refused(v, r, ExitCode.VAULT_STATE, None, words="uncommitted changes")
    assert v.head() == head and stray.read_text() == text


def test_staged_change_to_settings(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    settings = v.root / "confide.yaml"
    settings.write_text(settings.read_text() + "\n# tweak\n")
    v.git("add", "confide.yaml")
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x")
    assert_refused(v, r, ExitCode.VAULT_STATE, None, words="confide.yaml")
    assert v.head() == head
    assert v.git("diff", "--cached", "--name-only").strip() == "confide.yaml"


# ---------------------------------------------------------------------------
# init with bad input leaves nothing behind


def _refused_init(r, code, words, target: Path, secrets=()):
    assert r.exit_code == code, r.stderr
    assert r.stderr.startswith("confide: error: ") and "\nconfide: hint: " in r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr
    for s in secrets:
        assert s not in r.stdout + r.stderr
    assert not target.exists()


def test_init_bad_input(tmp_path, keys):
    target = tmp_path / "v"
    r = run_cli(["init", str(target), "--name", "N", "--holder", "amira"], identity=tmp_path / "missing.txt")
    _refused_init(r, ExitCode.IDENTITY, "does not exist", target)
    r = run_cli(["init", str(target), "--name", "N", "--holder", "amira"])
    _refused_init(r, ExitCode.IDENTITY, "no identity given", target)
    r = run_cli(["init", str(target), "--name", "N", "--holder", "amira", "--recipient", "age1nope"])
    _refused_init(r, ExitCode.USAGE, "is not an age recipient", target)
    r = run_cli(["init", str(target), "--name", "N", "--holder", "Amira Smith"], identity=keys["amira"])
    _refused_init(r, ExitCode.USAGE, "not a valid holder name", target)
    r = run_cli(["init", str(target), "--name", " ", "--holder", "amira"], identity=keys["amira"])
    _refused_init(r, ExitCode.USAGE, "name is empty", target)
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = run_cli(["init", str(afile), "--name", "N", "--holder", "amira"], identity=keys["amira"])
    assert r.exit_code == ExitCode.VAULT_STATE and "is not a folder" in r.stderr and "\nconfide: hint: " in r.stderr
    assert afile.read_text() == "x"


# ---------------------------------------------------------------------------
# values beyond the schema's limits are usage errors, not "damaged files"


def test_values_too_long(filled):
    v, data = filled
    rid, entries = data["Ada Marker"]
    head = v.head()
    base = ("add", rid, "--level", "general", "--category", "note")
    cases = [
        (base + ("--text", "x" * 100_001), "text must be at most 100000 characters"),
        (base + ("--text", "x", "--parents-not-informed", "y" * 2001), "parents_not_informed must be at most 2000"),
        (base + ("--text", "x", "--third-party", "y" * 201), "third_parties[0] must be at most 200"),
        (("mark", entries["general"][0], "--level", "confidential", "--reason", "y" * 2001), "reason must be at most 2000"),
        (("mark", entries["general"][0], "--parents-not-informed", "y" * 2001), "at most 2000"),
        (("child", "add", "--name", "n" * 201), "name must be at most 200"),
        (("child", "add", "--name", "n", "--room", "r" * 2001), "room must be at most 2000"),
        (("child", "set", rid, "room=" + "r" * 2001), "room must be at most 2000"),
    ]
    for args, words in cases:
        r = v.run(*args)
        assert_refused(v, r, ExitCode.USAGE, head, words=words)
        assert "restore" not in r.stderr
    # the limits themselves are fine
    eid = v.ok(*base, "--text", "x" * 100_000, "--third-party", "y" * 200).last_line
    assert len([e for e in json.loads(v.ok("show", rid, "--json").stdout)["entries"] if e["id"] == eid][0]["text"]) == 100_000


def test_secret_key_pasted_as_identity_is_never_printed(filled, keys):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    secret = SECRET_OF(keys["amira"])
    r = v.run("show", rid, "--identity", secret)
    assert_refused(v, r, ExitCode.IDENTITY, head, secrets=(secret, secret[16:40]), words="--identity was given a secret key")
    r = run_cli(["add", rid, "--level", "general", "--category", "note", "--text", "x"],
                env={"CONFIDE_VAULT": str(v.root), "CONFIDE_IDENTITY": secret})
    assert_refused(v, r, ExitCode.IDENTITY, head, secrets=(secret, secret[16:40]), words="CONFIDE_IDENTITY was given a secret key")


def test_a_secret_key_pasted_anywhere_is_withheld_from_messages(filled, keys):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    secret = SECRET_OF(keys["eve"])
    for args, code in (
        (("show", secret), ExitCode.NOT_FOUND),
        (("mark", secret, "--parent-view", "confidential"), ExitCode.NOT_FOUND),
        (("holder", "add", secret, "--role", "practitioner", "--recipient", recipient_of(keys["eve"])), ExitCode.USAGE),
        (("add", rid, "--level", secret, "--category", "note", "--text", "x"), ExitCode.USAGE),
    ):
        r = v.run(*args)
        assert_refused(v, r, code, head, secrets=(secret, secret[16:40]))
        assert "[a secret key, withheld]" in r.stderr or "secret key" in r.stderr
    # child set never echoes an argument it cannot parse at all (see the test above).
    r = v.run("child", "set", rid, secret.lower())
    assert_refused(v, r, ExitCode.USAGE, head, secrets=(secret, secret.lower(), secret[16:40].lower()),
                   words="is not FIELD=VALUE")


@pytest.mark.parametrize("file, damage, words", [
    ("confide.yaml", lambda t: t + "\nroles: [unclosed\n", "confide.yaml line"),
    ("confide.yaml", lambda t: t.replace("request_deadline: 1 month", "request_deadline: [1, month]"), "confide.yaml breaks the settings schema"),
    ("holders.yaml", lambda t: t.replace("role: practitioner", "role: 7", 1), "holders.yaml breaks the holders schema"),
    ("holders.yaml", lambda t: t + "\t- x\n", "holders.yaml"),
])
def test_damaged_settings_or_holders(filled, file, damage, words):
    v, data = filled
    rid, _ = data["Ada Marker"]
    path = v.root / file
    path.write_text(damage(path.read_text()))
    head = _commit_by_hand(v)
    for args in (("show", rid), ("add", rid, "--level", "general", "--category", "note", "--text", "x"), ("holder", "list")):
        r = v.run(*args)
        assert_refused(v, r, ExitCode.INTEGRITY, head, words=words)


def test_wrapped_key_copied_from_another_level_is_detected(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]

    def move(doc):
        _key(doc, "general")["wrapped"]["ben"] = _key(doc, "safeguarding")["wrapped"]["ben"]

    head = _edit_doc(v, rid, move)
    _assert_show_integrity(v, rid, head, who=("ben",), words="belongs to another record, key or level")


def test_block_copied_from_another_level_is_detected(filled):
    v, data = filled
    rid, entries = data["Ada Marker"]

    def move(doc):
        _entry(doc, entries["confidential"][0])["data"] = _entry(doc, entries["safeguarding"][0])["data"]

    head = _edit_doc(v, rid, move)
    _assert_show_integrity(v, rid, head, who=("amira", "ben"), words="not encrypted to its level key")


def test_child_set_without_equals_does_not_echo_the_argument(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]
    head = v.head()
    r = v.run("child", "set", rid, "Grace Marker-Hopper lives at 1 Example Road")
    assert_refused(v, r, ExitCode.USAGE, head, words="is not FIELD=VALUE")
    assert "Grace" not in r.stderr and "Example Road" not in r.stderr


# ---------------------------------------------------------------------------
# a record is two files: a head and its entries


def _reads_and_writes(rid, entries):
    """Commands that read a record's entries: all must refuse a record whose files are not as confide writes them."""
    return [
        ("show", rid, "--json"),
        ("show", rid),
        ("child", "list"),
        ("child", "list", "--json"),
        ("add", rid, "--level", "general", "--category", "note", "--text", "x"),
        ("mark", entries["general"][0], "--record", rid, "--parent-view", "confidential"),
    ]


def test_missing_entries_file_is_refused_and_restorable(filled):
    """Deleted by hand and committed with plain git: every command that needs the entries says which file is gone."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    epath = _entries_file(v, rid)
    good = epath.read_bytes()
    v.git("rm", "-q", f"records/{rid}.entries.yaml")
    head = _commit_by_hand(v)
    files = sorted(p.name for p in (v.root / "records").iterdir())
    for args in _reads_and_writes(rid, entries):
        r = v.run(*args)
        assert_refused(v, r, ExitCode.INTEGRITY, head, secrets=("Marker",),
                       words=f"confide: error: records/{rid}.entries.yaml is missing")
        assert f"records/{rid}.entries.yaml" in r.stderr.split("confide: hint: ", 1)[1], r.stderr
        assert r.stdout == "" or args[:2] == ("child", "list") and "Marker" not in r.stdout
        assert sorted(p.name for p in (v.root / "records").iterdir()) == files  # nothing was written or recreated
    # the other child's record is unaffected
    assert json.loads(v.ok("show", other, "--json").stdout)["record"] == other
    # and restoring the file from git brings the record back as it was
    v.git("checkout", "HEAD~1", "--", f"records/{rid}.entries.yaml")
    assert epath.read_bytes() == good
    v.git("commit", "-q", "-m", "restore")
    shown = json.loads(v.ok("show", rid, "--json").stdout)
    assert {e["id"] for e in shown["entries"]} == {e for ids in entries.values() for e in ids}


def test_missing_entries_file_uncommitted_the_hint_restores_it(filled):
    """Deleted in the working tree only: reads name the file and give the command that restores it; writes wait."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    epath = _entries_file(v, rid)
    good = epath.read_bytes()
    head = v.head()
    epath.unlink()
    r = v.run("show", rid, "--json")
    assert_refused(v, r, ExitCode.INTEGRITY, None, secrets=("Marker",),
                   words=f"confide: error: records/{rid}.entries.yaml is missing")
    assert f"confide: hint: restore it with 'git checkout -- records/{rid}.entries.yaml'" in r.stderr
    r = v.run("add", other, "--level", "general", "--category", "note", "--text", "x")
    assert_refused(v, r, ExitCode.VAULT_STATE, None, words="uncommitted changes")
    assert f"records/{rid}.entries.yaml" in r.stderr
    assert v.head() == head and not epath.exists()
    # the hint, followed exactly
    v.git("checkout", "--", f"records/{rid}.entries.yaml")
    assert epath.read_bytes() == good and v.is_clean()
    shown = json.loads(v.ok("show", rid, "--json").stdout)
    assert {e["id"] for e in shown["entries"]} == {e for ids in entries.values() for e in ids}


@pytest.mark.parametrize("how", ["entries-appended", "entries-moved"])
def test_head_file_holding_entries_is_refused(filled, how):
    """The single-file layout (entries after the head, in records/<id>.yaml) is no longer a valid head."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    path, epath = _record_file(v, rid), _entries_file(v, rid)
    path.write_bytes(path.read_bytes() + epath.read_bytes())
    if how == "entries-moved":  # and the entries file gone, as the old layout had it
        v.git("rm", "-q", f"records/{rid}.entries.yaml")
    head = _commit_by_hand(v)
    words = f"confide: error: records/{rid}.yaml holds entries, which belong in records/{rid}.entries.yaml"
    for args in _reads_and_writes(rid, entries) + [
        ("grant", "cara", "--child", rid, "--level", "confidential"),
        ("revoke", "ben", "--all"),
        ("child", "set", rid, "room=x"),
    ]:
        r = v.run(*args)
        assert_refused(v, r, ExitCode.INTEGRITY, head, secrets=("Marker",), words=words)
        assert "restore it from git" in r.stderr


@pytest.mark.parametrize("layout", ["single-file", "two-files"])
def test_record_written_in_the_old_format_is_refused(filled, layout):
    """A record of format confide/record/1: as that format was written (one file), or with only its format line old."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    path, epath = _record_file(v, rid), _entries_file(v, rid)
    new = f"format: {envelope.FORMAT}\n".encode()
    raw = path.read_bytes()
    assert raw.startswith(new)
    old_head = b"format: confide/record/1\n" + raw[len(new):]
    if layout == "single-file":
        path.write_bytes(old_head + epath.read_bytes())
        v.git("rm", "-q", f"records/{rid}.entries.yaml")
        words = f"records/{rid}.yaml holds entries, which belong in records/{rid}.entries.yaml"
    else:
        path.write_bytes(old_head)
        words = f"records/{rid}.yaml breaks the record schema"
    head = _commit_by_hand(v)
    for args in _reads_and_writes(rid, entries) + [("grant", "cara", "--child", rid, "--level", "confidential")]:
        r = v.run(*args)
        assert_refused(v, r, ExitCode.INTEGRITY, head, secrets=("Marker",), words=words)
    if layout == "single-file":
        assert "older confide" in r.stderr
    else:
        assert f"format must be '{envelope.FORMAT}'" in r.stderr
