"""What bad input gets (issue 2): a clear error with its documented exit code,
a hint, no traceback, no secret echoed back, and the vault exactly as it was
(same HEAD, clean working tree).

Damaged record files are made the way they would arrive in real life: edited
by hand (or by a faulty tool) and committed with plain git, signed by a holder
(``VaultFixture.commit_as``), so the working tree is clean, who made the commit
is in order, and only confide's own checks of the content can notice. Every
command verifies the commits since this clone's checkpoint before it opens the
vault, so it refuses such a commit with exit 9 (naming the commit, the file
and the check) and changes nothing; damage only a key can see is refused with
exit 6 by the holder who opens it. A record is two files, ``records/<id>.yaml``
(the head: keys, grants, profile) and ``records/<id>.entries.yaml`` (the
entries); damage to an entry is made in the entries file, damage to the head in
the head, and the error must name the file that is damaged.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import SUITE_NOW, VaultFixture, copy_vault, entries_file, head_file, recipient_of, record_doc, run_cli, signing_pub

from vault_cli.adapters import crypto
from vault_cli.errors import ExitCode
from vault_cli.formats import envelope, yamlio
from vault_cli.model import ids

SECRET_OF = lambda path: [line for line in Path(path).read_text().splitlines() if line.startswith("AGE-SECRET-KEY-1")][0]  # noqa: E731


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
        secrets = tuple(line for line in content.splitlines() if line and not line.startswith("#"))
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
    # a complete request (a key that reads and signs, as 'confide keygen' makes): only the role is wrong
    r = v.run("holder", "add", "zed", "--role", "practitioner", "--recipient", signing_pub(keys, "eve"), who="ben")
    assert_refused(v, r, ExitCode.DENIED, head, words="'ben' (practitioner) may not change key holders")
    # the hint names the roles that may, from confide.yaml's rules table
    assert "confide: hint: roles that may (add, remove and re-key key holders" in r.stderr and ": manager;" in r.stderr
    assert "zed" not in v.git("show", "HEAD:holders.yaml")


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
#
# A damaged file committed by hand is found by the checks every command runs
# before it opens the vault (the commits since this clone's checkpoint are
# verified): each command then refuses, exit 9, naming the commit, the file and
# the check, and reads and changes nothing, until a manager repudiates the
# commit or the clone is reset. Damage only a key can see (which key a new
# block opens under, what record, block and level it says it belongs to) passes
# those keyless checks; but each holder's commands also check, with their key,
# what it opens in the commits since their key last checked: the holder who
# opens it is refused, exit 9, naming the commit, and 'confide verify' with their
# key reports it. So most tests make the
# damage both ways: in what was there ("changed"), and in a new entry or grant
# committed as a holder's own write would add one ("added").

ARRIVES = ["changed", "added"]


def _record_file(v, rid) -> Path:
    """The record's head file."""
    return head_file(v.root, rid)


def _entries_file(v, rid) -> Path:
    return entries_file(v.root, rid)


def _commit_by_hand(v, message="hand edit", who="amira") -> str:
    """Commit the working tree with plain git as holder ``who`` (a manager by default), signed with their
    key and named in a Confide-Holder trailer, as a faulty tool or an edit by hand would be committed:
    who made the commit is in order, so only confide's checks of what it changed can notice the damage."""
    commit = v.commit_as(who, message)
    assert v.is_clean()
    return commit


def _edit_doc(v, rid, change) -> str:
    """Load a record's two files into one dict, let change(doc) alter it, write back as YAML the file(s)
    whose part changed (the head's fields, or 'entries') and commit by hand."""
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


def _verified(v) -> str:
    """This clone's checkpoint: the last commit it verified (.git/confide/trust.json)."""
    return json.loads((v.root / ".git" / "confide" / "trust.json").read_text())["verified"]


def _assert_findings_refusal(v, r, bad, file, check, words=None, *, verified, leaked=("Marker",)) -> None:
    """One command refused because the commits since the checkpoint do not verify: exit 9, the error names
    the commit, the file and the check (and ``words``), the hints the way back; nothing read or changed."""
    assert_refused(v, r, ExitCode.FINDINGS, bad, secrets=leaked, words=f"commit {bad[:12]} {file}: {check}: ")
    first = r.stderr.splitlines()[0]
    assert words is None or words in first, r.stderr
    assert first.endswith("; nothing was read or changed"), r.stderr
    assert f"git reset --keep {verified[:12]}" in r.stderr and "confide repudiate" in r.stderr
    assert r.stdout == ""
    assert _verified(v) == verified


def _assert_verify_reports(v, bad, file, check, words=None, *, who="amira", leaked=("Marker",)) -> list:
    """'confide verify --json' with ``who``'s key: exit 9, findings in commit ``bad`` only, one of them on
    ``file`` by ``check`` (its message holding ``words``)."""
    r = v.run("verify", "--json", who=who)
    assert r.exit_code == ExitCode.FINDINGS, r.stderr
    found = json.loads(r.stdout)["findings"]
    assert {f["commit"] for f in found} == {bad}, found
    assert [f for f in found if f["file"] == file and f["check"] == check and (words is None or words in f["message"])], found
    for s in leaked:
        assert s not in r.stdout and s not in r.stderr
    assert v.head() == bad and v.is_clean()
    return found


def _assert_history_refused(v, rid, bad, check, words=None, *, who=("amira", "dara"), leaked=("Marker",), file=None,
                            verify_words=None) -> None:
    """'show' is refused for each holder in ``who``, exit 9, naming the hand commit, the damaged file (by
    default: the one it changed) and the check; 'confide verify' reports that finding."""
    if file is None:
        [file] = _damaged(v)
    assert envelope.record_of(file)[0] == rid, file
    verified = _verified(v)
    assert verified != bad
    for w in who:
        r = v.run("show", rid, "--json", who=w)
        _assert_findings_refusal(v, r, bad, file, check, words, verified=verified, leaked=leaked)
    _assert_verify_reports(v, bad, file, check, verify_words or words, leaked=leaked)
    assert _verified(v) == verified


def _assert_read_refused(v, rid, bad, check, words=None, *, who=("amira", "dara"), leaked=("Marker",), file=None,
                         verify_words=None) -> None:
    """Damage only a key shows: it passes the keyless checks, but every holder in ``who`` (all hold the key
    it needs) has it checked with their key before their command acts (each holder's key is checked from
    what it last checked on this clone), so their commands are refused, exit 9, naming the commit, the
    damaged file and the check, and nothing forged is shown to them; 'confide verify' with the first one's
    key reports the finding in that commit."""
    if file is None:
        [file] = _damaged(v)
    assert envelope.record_of(file)[0] == rid, file
    for w in who:
        for args in (("show", rid, "--json"), ("child", "list", "--json")):
            r = v.run(*args, who=w)
            assert_refused(v, r, ExitCode.FINDINGS, bad, secrets=leaked, words=f"commit {bad[:12]} {file}: {check}: ")
            said = verify_words or words  # the command says what verify would: the first finding's own words
            assert said is None or said in r.stderr, r.stderr
            assert r.stdout == ""
    _assert_verify_reports(v, bad, file, check, verify_words or words, who=who[0], leaked=leaked)


def _payload(rid, eid, level, **changes) -> dict:
    """What 'confide add' seals in a block for entry ``eid`` at ``level`` of ``rid`` (``changes`` altering it)."""
    payload = {
        "confide": "entry/1", "record": rid, "block": eid, "level": level, "category": "note",
        "text": "added by hand", "at": SUITE_NOW, "recorded_at": SUITE_NOW, "author": "amira",
        "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": None,
        "third_parties": [], "corrects": None,
    }
    payload.update(changes)
    return payload


def _seal(doc, level, payload: dict) -> str:
    """A block encrypted to the record's current ``level`` key: anyone may make one, no secret needed."""
    return crypto.encrypt(json.dumps(payload).encode(), _key(doc, level)["recipient"])


def _add_entry_by_hand(v, rid, block, *, level=None, key=None, who="amira") -> tuple[str, str]:
    """A new entry holding ``block`` (a string, or ``block(doc, eid)``) under the ``level`` key (or key id
    ``key``), appended to the record as 'confide add' appends one and committed as holder ``who``, signed,
    with the trailers confide writes. Returns (entry id, commit)."""
    doc = record_doc(v.root, rid)
    eid = ids.new_entry_id()
    assert eid > doc["entries"][-1]["id"]
    data = block(doc, eid) if callable(block) else block
    doc["entries"].append({"id": eid, "key": key or _key(doc, level)["id"], "data": data})
    _entries_file(v, rid).write_text(yamlio.dump({"entries": doc["entries"]}))
    bad = v.commit_as(who, "add entry", action="entry.add", trailers={"Confide-Record": rid, "Confide-Entry": eid})
    assert _damaged(v) == [f"records/{rid}.entries.yaml"]
    return eid, bad


def _level_secret(v, rid, level, who="amira") -> str:
    """The secret of the record's current ``level`` key, from ``who``'s copy (a holder who reads it)."""
    doc = record_doc(v.root, rid)
    key = _key(doc, level)
    [ident] = crypto.load_identity_file(str(v.keys[who]), None)
    return str(envelope.unwrap_level_key(key["wrapped"][who], ident, record=rid, key=key, source="test")._key)


def _grant_by_hand(v, rid, holder, level, wrapped, who="amira") -> str:
    """A grant of ``level`` of the record to ``holder``, written as 'confide grant' writes one but with ``wrapped``
    as the holder's copy of the level key (a string, or ``wrapped(doc, key)``), committed as ``who``, signed."""
    doc = record_doc(v.root, rid)
    head = {k: val for k, val in doc.items() if k != "entries"}
    head["grants"] = [*head.get("grants", []), {"holder": holder, "level": level, "granted_by": who, "granted": SUITE_NOW[:10]}]
    key = _key(head, level)
    assert holder not in key["wrapped"]
    key["wrapped"] = dict(sorted({**key["wrapped"], holder: wrapped(head, key) if callable(wrapped) else wrapped}.items()))
    _record_file(v, rid).write_text(yamlio.dump(head))
    bad = v.commit_as(who, f"grant {holder} {level} on {rid}", action="access.grant",
                      trailers={"Confide-Record": rid, "Confide-Subject": holder, "Confide-Levels": level, "Confide-Records": "1"})
    assert _damaged(v) == [f"records/{rid}.yaml"]
    return bad


def test_entries_and_grants_added_by_hand_as_confide_writes_them_are_accepted(filled):
    """The baseline for the "added" damage below: the same hand commits, undamaged, verify and read."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    eid, bad = _add_entry_by_hand(v, rid, lambda doc, eid: _seal(doc, "confidential", _payload(rid, eid, "confidential")),
                                  level="confidential")
    shown = json.loads(v.ok("show", rid, "--json", who="ben").stdout)
    assert [e for e in shown["entries"] if e["entry"] == eid][0]["text"] == "added by hand"
    assert _verified(v) == bad
    secret = _level_secret(v, rid, "confidential")
    cara = recipient_of(v.keys["cara"])
    bad = _grant_by_hand(v, rid, "cara", "confidential",
                         lambda doc, key: envelope.wrap_level_key(secret, record=rid, key=key, holder_recipient=cara))
    shown = json.loads(v.ok("show", rid, "--json", who="cara").stdout)
    assert [e for e in shown["entries"] if e["entry"] == eid][0]["text"] == "added by hand"
    r = v.ok("verify", "--json", who="cara")
    assert json.loads(r.stdout)["ok"] is True
    r = v.ok("verify", "--json")
    assert json.loads(r.stdout)["ok"] is True and json.loads(r.stdout)["content_checked"] is True
    assert _verified(v) == bad


def test_record_file_that_is_not_yaml(filled):
    v, data = filled
    rid, _ = data["Ada Marker"]
    path, epath = _record_file(v, rid), _entries_file(v, rid)
    good, egood = path.read_bytes(), epath.read_bytes()
    before = json.loads(v.ok("show", rid, "--json").stdout)
    verified = _verified(v)
    # damage in the entries
    epath.write_bytes(egood + b"  - id: [unclosed\n")
    head = _commit_by_hand(v)
    _assert_history_refused(v, rid, head, "schema", "is not valid YAML", file=f"records/{rid}.entries.yaml")
    # mending it by hand does not help: a commit built on one that does not verify is not trusted either
    epath.write_bytes(egood)
    mended = _commit_by_hand(v, "mend")
    r = v.run("show", rid, "--json")
    assert_refused(v, r, ExitCode.FINDINGS, mended, secrets=("Marker",),
                   words=f"commit {head[:12]} records/{rid}.entries.yaml: schema: ")  # the commit with the finding
    assert r.stdout == "" and _verified(v) == verified
    # a manager rejects both: one signed commit that restores the verified state; then all is as before
    r = v.run("repudiate", "--reason", "a damaged record file")
    assert r.exit_code == 0, r.stderr
    assert f"repudiated 2 commit(s); restored the verified state {verified[:12]}" in r.stderr
    repudiation = v.head()
    assert r.stdout.strip() == repudiation and v.is_clean() and _verified(v) == repudiation
    assert json.loads(v.ok("show", rid, "--json").stdout) == before
    report = json.loads(v.ok("verify", "--json").stdout)
    assert report["ok"] is True and report["findings"] == []
    assert [(f["commit"], f["file"], f["check"], f["repudiated_by"]) for f in report["repudiated"]] == [
        (head, f"records/{rid}.entries.yaml", "schema", repudiation)]
    # damage in the head
    path.write_bytes(b"format: {oops\n" + good)
    head = _commit_by_hand(v)
    _assert_history_refused(v, rid, head, "schema", "is not valid YAML", file=f"records/{rid}.yaml")
    for args in (("child", "list"), ("add", rid, "--level", "general", "--category", "note", "--text", "x")):
        r = v.run(*args)
        _assert_findings_refusal(v, r, head, f"records/{rid}.yaml", "schema", "is not valid YAML", verified=repudiation)
    # going back to the last verified commit on this machine, as the hint says, also brings it back
    v.git("reset", "-q", "--keep", repudiation)
    assert json.loads(v.ok("show", rid, "--json").stdout) == before
    # an impossible value is not a crash either
    assert f"format: {envelope.FORMAT}\n".encode() in good
    path.write_bytes(good.replace(f"format: {envelope.FORMAT}".encode(), b"format: 2022-02-30"))
    head = _commit_by_hand(v)
    _assert_history_refused(v, rid, head, "schema", "cannot be read", file=f"records/{rid}.yaml")


SCHEMA_CHECKS = {  # what verify calls each damage, and where it is
    "format": ("head", "schema", "format must be 'confide/record/2'"),
    "extra-field-head": ("head", "schema", "unexpected field 'name'"),
    "extra-field-tail": ("entries", "schema", "holds something other than one 'entries' list"),
    "generation-zero": ("head", "schema", "generation must be at least 1"),
    "entry-extra": ("entries", "schema", "unexpected field 'text'"),
    "entry-key-missing": ("entries", "schema", "lacks the required field 'key'"),
    "not-armored": ("entries", "plaintext", "holds unencrypted content where an age block belongs"),
    "unsorted": ("entries", "schema", "entries out of order or repeated"),
    "renamed": ("head", "binding", "not the one its file name says"),
    "unknown-key": ("entries", "entry-changed", "was changed after it was written"),
    "profile-level": ("head", "binding", "the profile is not under a general-level key"),
}


@pytest.mark.parametrize("what", list(SCHEMA_CHECKS))
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

    verified = _verified(v)
    if what == "extra-field-tail":  # in the entries file, after 'entries', where a command that appends would not look
        epath = _entries_file(v, rid)
        epath.write_bytes(epath.read_bytes() + b"name: whatever\n")
        head = _commit_by_hand(v)
    else:
        head = _edit_doc(v, rid, change)
    # the damage is in the file where it belongs: the head's fields in the head, an entry's in the entries file
    part, check, words = SCHEMA_CHECKS[what]
    file = f"records/{rid}.entries.yaml" if part == "entries" else f"records/{rid}.yaml"
    assert _damaged(v) == [file]
    _assert_history_refused(v, rid, head, check, words)
    # whatever the damage, and whichever record a command would touch, nothing is written on top of it
    # (before, a damaged block was noticed only by commands that opened it, and 'add' went on)
    for args in (("add", rid, "--level", "general", "--category", "note", "--text", "x"),
                 ("add", other, "--level", "general", "--category", "note", "--text", "x"),
                 ("child", "list")):
        r = v.run(*args)
        _assert_findings_refusal(v, r, head, file, check, words, verified=verified)


def _body_lines(block: str) -> list[str]:
    lines = block.strip("\n").split("\n")
    assert lines[0] == crypto.ARMOR_BEGIN and lines[-1] == crypto.ARMOR_END
    return lines


def _damage_block(block: str, how: str) -> str:
    lines = _body_lines(block)
    if how == "truncated":  # lose the last body line(s), keep the armor frame
        return "\n".join(lines[:2] + lines[-1:]) + "\n"
    if how == "truncated-end":  # the file stops in the middle of the block
        return "\n".join(lines[:-2]) + "\n"
    if how in ("altered", "altered-wrapped"):  # one character of ciphertext changed
        body = lines[-2]
        i = len(body) // 2
        lines[-2] = body[:i] + ("A" if body[i] != "A" else "B") + body[i + 1:]
    elif how == "altered-header":
        body = lines[1]
        lines[1] = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("arrives", ARRIVES)
@pytest.mark.parametrize("how", ["truncated", "truncated-end", "altered", "altered-header", "altered-wrapped"])
def test_truncated_or_altered_age_block(filled, how, arrives):
    v, data = filled
    rid, entries = data["Ada Marker"]
    eid = entries["confidential"][0]
    if arrives == "changed":
        def change(doc):
            if how == "altered-wrapped":
                key = _key(doc, "confidential")
                key["wrapped"]["amira"] = _damage_block(key["wrapped"]["amira"], how)
            else:
                _entry(doc, eid)["data"] = _damage_block(_entry(doc, eid)["data"], how)

        head = _edit_doc(v, rid, change)
        if how == "altered-wrapped":
            check, words = "reader", "held by 'amira' was replaced, and not by a key rotation"
        elif how == "truncated-end":  # a block cut short is no age block at all
            check, words = "plaintext", "holds unencrypted content where an age block belongs"
        else:
            check, words = "entry-changed", f"entry {eid} was changed after it was written"
        # every holder is refused, even a practitioner who holds no key to the level and never opens the block
        _assert_history_refused(v, rid, head, check, words, who=("amira", "dara", "ben", "cara"))
        return
    if how == "altered-wrapped":  # a grant to cara whose copy of the level key is damaged
        secret = _level_secret(v, rid, "confidential")
        cara = recipient_of(v.keys["cara"])
        head = _grant_by_hand(v, rid, "cara", "confidential", lambda doc, key: _damage_block(
            envelope.wrap_level_key(secret, record=rid, key=key, holder_recipient=cara), how))
        _assert_read_refused(v, rid, head, "level-key", who=("cara",))
        # the holders whose own copies are intact read on
        assert json.loads(v.ok("show", rid, "--json", who="ben").stdout)["record"] == rid
        return
    new, head = _add_entry_by_hand(v, rid, lambda doc, new: _damage_block(
        _seal(doc, "confidential", _payload(rid, new, "confidential")), how), level="confidential")
    if how == "truncated-end":  # a block cut short breaks the file's schema: no key is needed to see that
        _assert_history_refused(v, rid, head, "plaintext", "holds unencrypted content where an age block belongs",
                                who=("amira", "dara", "ben", "cara"))
        return
    _assert_read_refused(v, rid, head, "binding", who=("amira", "dara", "ben"), verify_words=f"block {new} in ")
    # a practitioner who holds no key for that level never opens the block: they see it sealed
    shown = json.loads(v.ok("show", rid, "--json", who="cara").stdout)
    assert [(e["level"], e["readable"], e["text"]) for e in shown["entries"] if e["entry"] == new] == [("confidential", False, None)]


@pytest.mark.parametrize("arrives", ARRIVES)
def test_block_copied_from_another_record_is_detected(filled, arrives):
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, other_entries = data["Bea Marker"]
    theirs = record_doc(v.root, other)
    stolen = _entry(theirs, other_entries["general"][0])["data"]
    if arrives == "changed":
        eid = entries["general"][0]
        head = _edit_doc(v, rid, lambda doc: _entry(doc, eid).__setitem__("data", stolen))
        _assert_history_refused(v, rid, head, "entry-changed", f"entry {eid} was changed after it was written",
                                who=("amira", "cara"))
    else:
        new, head = _add_entry_by_hand(v, rid, stolen, level="general")
        _assert_read_refused(v, rid, head, "binding", "not encrypted to its level key", who=("amira", "cara"),
                             verify_words=f"entry {new} is not encrypted to the level key it names")


@pytest.mark.parametrize("arrives", ARRIVES)
def test_wrapped_key_copied_from_another_record_is_detected(filled, arrives):
    v, data = filled
    rid, _ = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    theirs = record_doc(v.root, other)
    if arrives == "changed":
        stolen = _key(theirs, "general")["wrapped"]["cara"]
        head = _edit_doc(v, rid, lambda doc: _key(doc, "general")["wrapped"].__setitem__("cara", stolen))
        _assert_history_refused(v, rid, head, "reader", "held by 'cara' was replaced, and not by a key rotation",
                                who=("cara", "ben"))
        return
    # cara is Bea's key person: her copy of Bea's confidential key, given as her copy of Ada's
    head = _grant_by_hand(v, rid, "cara", "confidential", _key(theirs, "confidential")["wrapped"]["cara"])
    _assert_read_refused(v, rid, head, "level-key", "belongs to another record", who=("cara",))
    # readers whose own copy is intact are unaffected by cara's copy
    assert json.loads(v.ok("show", rid, "--json", who="ben").stdout)["record"] == rid


@pytest.mark.parametrize("arrives", ARRIVES)
def test_blocks_moved_within_a_record_are_detected(filled, arrives):
    v, data = filled
    rid, entries = data["Ada Marker"]
    a, b = entries["confidential"]
    if arrives == "changed":
        def swap(doc):
            ea, eb = _entry(doc, a), _entry(doc, b)
            ea["data"], eb["data"] = eb["data"], ea["data"]

        head = _edit_doc(v, rid, swap)
        _assert_history_refused(v, rid, head, "entry-changed", f"entry {a} was changed after it was written",
                                who=("amira", "ben"))
        return
    new, head = _add_entry_by_hand(v, rid, _entry(record_doc(v.root, rid), a)["data"], level="confidential")
    _assert_read_refused(v, rid, head, "binding", "belongs elsewhere", who=("amira", "ben"))


@pytest.mark.parametrize("arrives", ARRIVES)
def test_profile_block_moved_into_an_entry_is_detected(filled, arrives):
    v, data = filled
    rid, entries = data["Ada Marker"]
    profile = record_doc(v.root, rid)["profile"]["data"]
    if arrives == "changed":
        eid = entries["general"][1]
        head = _edit_doc(v, rid, lambda doc: _entry(doc, eid).__setitem__("data", profile))
        _assert_history_refused(v, rid, head, "entry-changed", f"entry {eid} was changed after it was written",
                                who=("cara", "amira"))
        return
    new, head = _add_entry_by_hand(v, rid, profile, level="general")
    _assert_read_refused(v, rid, head, "binding", "belongs elsewhere", who=("cara", "amira"))


@pytest.mark.parametrize("arrives", ARRIVES)
@pytest.mark.parametrize("claim", ["record", "level", "block"])
def test_forged_block_naming_another_record_or_level_is_detected(filled, claim, arrives):
    """Anyone may encrypt to a level's public recipient; the payload's binding is what gives a forgery away."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, _ = data["Bea Marker"]

    def forge(doc, eid):
        payload = _payload(rid, eid, "general", text="forged")
        if claim == "record":
            payload["record"] = other
        elif claim == "level":
            payload["level"] = "confidential"
        else:
            payload["block"] = entries["general"][1]
        return _seal(doc, "general", payload)

    if arrives == "changed":
        eid = entries["general"][0]
        head = _edit_doc(v, rid, lambda doc: _entry(doc, eid).__setitem__("data", forge(doc, eid)))
        _assert_history_refused(v, rid, head, "entry-changed", f"entry {eid} was changed after it was written",
                                who=("amira", "cara"), leaked=("Marker", "forged"))
        return
    new, head = _add_entry_by_hand(v, rid, forge, level="general")
    _assert_read_refused(v, rid, head, "binding", "belongs elsewhere", who=("amira", "cara"), leaked=("Marker", "forged"))


@pytest.mark.parametrize("arrives", ARRIVES)
def test_an_entry_under_the_wrong_level_key_is_detected(filled, arrives):
    """An entry moved to another level's key id (its block left as it was) no longer opens under that key."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    eid = entries["confidential"][0]
    if arrives == "changed":
        head = _edit_doc(v, rid, lambda doc: _entry(doc, eid).__setitem__("key", _key(doc, "general")["id"]))
        _assert_history_refused(v, rid, head, "entry-changed", f"entry {eid} was changed after it was written",
                                who=("amira", "cara"))
        return
    # a sound confidential block for the new entry, filed under the general key
    doc = record_doc(v.root, rid)
    new, head = _add_entry_by_hand(v, rid, lambda doc, new: _seal(doc, "confidential", _payload(rid, new, "confidential")),
                                   key=_key(doc, "general")["id"])
    _assert_read_refused(v, rid, head, "binding", who=("amira", "cara"),
                         verify_words=f"entry {new} is not encrypted to the level key it names")


@pytest.mark.parametrize("arrives", ARRIVES)
def test_wrapped_key_copied_from_another_level_is_detected(filled, arrives):
    v, data = filled
    rid, _ = data["Ada Marker"]
    if arrives == "changed":
        def move(doc):
            _key(doc, "general")["wrapped"]["ben"] = _key(doc, "safeguarding")["wrapped"]["ben"]

        head = _edit_doc(v, rid, move)
        _assert_history_refused(v, rid, head, "reader", "held by 'ben' was replaced, and not by a key rotation",
                                who=("ben", "amira"))
        return
    # cara's copy of the record's general key, given as her copy of its confidential key
    doc = record_doc(v.root, rid)
    head = _grant_by_hand(v, rid, "cara", "confidential", _key(doc, "general")["wrapped"]["cara"])
    _assert_read_refused(v, rid, head, "level-key", "belongs to another record, key or level", who=("cara",))
    assert json.loads(v.ok("show", rid, "--json", who="ben").stdout)["record"] == rid


@pytest.mark.parametrize("arrives", ARRIVES)
def test_block_copied_from_another_level_is_detected(filled, arrives):
    v, data = filled
    rid, entries = data["Ada Marker"]
    block = _entry(record_doc(v.root, rid), entries["safeguarding"][0])["data"]
    if arrives == "changed":
        eid = entries["confidential"][0]
        head = _edit_doc(v, rid, lambda doc: _entry(doc, eid).__setitem__("data", block))
        _assert_history_refused(v, rid, head, "entry-changed", f"entry {eid} was changed after it was written",
                                who=("amira", "ben"))
        return
    new, head = _add_entry_by_hand(v, rid, block, level="confidential")
    _assert_read_refused(v, rid, head, "binding", "not encrypted to its level key", who=("amira", "ben"),
                         verify_words=f"entry {new} is not encrypted to the level key it names")


def test_a_tamper_left_uncommitted_is_never_read(filled):
    """Reads come from the verified commit: a record file altered in the working tree only is not what
    'show' shows; writes refuse the uncommitted change."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, other_entries = data["Bea Marker"]
    head = v.head()
    before = {w: json.loads(v.ok("show", rid, "--json", who=w).stdout) for w in ("amira", "cara")}
    epath = _entries_file(v, rid)
    doc = record_doc(v.root, rid)
    theirs = record_doc(v.root, other)
    _entry(doc, entries["general"][0])["data"] = _entry(theirs, other_entries["general"][0])["data"]
    epath.write_text(yamlio.dump({"entries": doc["entries"]}))
    tampered = epath.read_bytes()
    for w in ("amira", "cara"):
        assert json.loads(v.ok("show", rid, "--json", who=w).stdout) == before[w]
    r = v.run("add", rid, "--level", "general", "--category", "note", "--text", "x")
    assert_refused(v, r, ExitCode.VAULT_STATE, None, words="uncommitted changes")
    assert f"records/{rid}.entries.yaml" in r.stderr
    assert v.head() == head and epath.read_bytes() == tampered and _verified(v) == head


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
    before = json.loads(v.ok("show", rid, "--json").stdout)
    changed = path.read_bytes() + b"# a note someone left\n"
    path.write_bytes(changed)
    for args in (("add", other, "--level", "general", "--category", "note", "--text", "x"),
                 ("add", rid, "--level", "general", "--category", "note", "--text", "x"),
                 ("child", "add", "--name", "Zed"),
                 ("child", "set", other, "room=x"),
                 ("holder", "add", "zed", "--role", "practitioner", "--recipient", signing_pub(v.keys, "eve"))):
        r = v.run(*args)
        assert_refused(v, r, ExitCode.VAULT_STATE, None, words="uncommitted changes")
        assert f"records/{rid}{suffix}" in r.stderr and "git status" in r.stderr
        assert v.head() == head
        # the user's own change is left exactly as they made it
        assert path.read_bytes() == changed
        assert v.git("status", "--porcelain", "--untracked-files=all").strip() == f"M records/{rid}{suffix}"
    # reading is still fine
    v.ok("show", other)
    assert json.loads(v.ok("show", rid, "--json").stdout) == before
    assert path.read_bytes() == changed


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
    # a vault is signed from its first commit: an age identity that cannot sign, and no --signing-key
    r = run_cli(["init", str(target), "--name", "N", "--holder", "amira"], identity=keys["amira"])
    _refused_init(r, ExitCode.USAGE, "no signing key was given", target)
    assert "confide keygen" in r.stderr and "--unsigned" in r.stderr
    r = run_cli(["init", str(target), "--name", "N", "--holder", "amira", "--signing-key", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC"],
                identity=keys["amira"])
    _refused_init(r, ExitCode.USAGE, "is not an ssh-ed25519 public key", target)
    private = Path(keys["amira.sign"]).read_text()
    r = run_cli(["init", str(target), "--name", "N", "--holder", "amira", "--signing-key", private], identity=keys["amira"])
    _refused_init(r, ExitCode.USAGE, "is a private key; it was not stored or printed", target,
                  secrets=tuple(line for line in private.splitlines() if "PRIVATE KEY" not in line))
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = run_cli(["init", str(afile), "--name", "N", "--holder", "amira", "--signing-key", signing_pub(keys, "amira")],
                identity=keys["amira"], env={"CONFIDE_SIGNING_KEY": str(keys["amira.sign"])})
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
    assert len([e for e in json.loads(v.ok("show", rid, "--json").stdout)["entries"] if e["entry"] == eid][0]["text"]) == 100_000


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
        if args[0] == "show":  # a record id's refusal repeats nothing typed there, secret or not
            assert "that is not a record id" in r.stderr
        else:
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
    """Committed by a manager, who may change both files: the damage, not who made it, is the finding."""
    v, data = filled
    rid, _ = data["Ada Marker"]
    path = v.root / file
    path.write_text(damage(path.read_text()))
    verified = _verified(v)
    head = _commit_by_hand(v)
    for args in (("show", rid), ("add", rid, "--level", "general", "--category", "note", "--text", "x"), ("holder", "list")):
        r = v.run(*args)
        _assert_findings_refusal(v, r, head, file, "schema", words, verified=verified)
    _assert_verify_reports(v, head, file, "schema", words)


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
    """Deleted by hand and committed: every command refuses, naming the commit and the file that is gone."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    epath = _entries_file(v, rid)
    file = f"records/{rid}.entries.yaml"
    good = epath.read_bytes()
    verified = _verified(v)
    v.git("rm", "-q", file)
    head = _commit_by_hand(v)
    files = sorted(p.name for p in (v.root / "records").iterdir())
    # the other child's record too: nothing is read from a history that does not verify
    for args in _reads_and_writes(rid, entries) + [("show", other, "--json")]:
        r = v.run(*args)
        _assert_findings_refusal(v, r, head, file, "removed", f"{file} is missing", verified=verified)
        assert sorted(p.name for p in (v.root / "records").iterdir()) == files  # nothing was written or recreated
    _assert_verify_reports(v, head, file, "removed", f"{file} is missing")
    # restoring the file from git in a new commit is not enough: that commit is built on one that does not verify
    v.git("checkout", "HEAD~1", "--", file)
    assert epath.read_bytes() == good
    restored = _commit_by_hand(v, "restore")
    r = v.run("show", rid, "--json")
    assert_refused(v, r, ExitCode.FINDINGS, restored, secrets=("Marker",), words=f"commit {head[:12]} {file}: removed: ")
    # a manager repudiates both (together they change nothing), and the record is back as it was
    r = v.run("repudiate")
    assert r.exit_code == 0, r.stderr
    assert f"repudiated 2 commit(s); restored the verified state {verified[:12]}" in r.stderr
    assert v.git("rev-parse", "HEAD^{tree}") == v.git("rev-parse", f"{verified}^{{tree}}")
    shown = json.loads(v.ok("show", rid, "--json").stdout)
    assert {e["entry"] for e in shown["entries"]} == {e for ids in entries.values() for e in ids}
    report = json.loads(v.ok("verify", "--json").stdout)
    assert report["ok"] is True and [(f["commit"], f["check"]) for f in report["repudiated"]] == [(head, "removed")]


def test_missing_entries_file_uncommitted_the_hint_restores_it(filled):
    """Deleted in the working tree only: reads come from the verified commit and still show the record;
    writes refuse the uncommitted change, naming the file, and what they hint restores it."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    other, _ = data["Bea Marker"]
    epath = _entries_file(v, rid)
    good = epath.read_bytes()
    head = v.head()
    before = json.loads(v.ok("show", rid, "--json").stdout)
    epath.unlink()
    assert json.loads(v.ok("show", rid, "--json").stdout) == before
    r = v.run("add", other, "--level", "general", "--category", "note", "--text", "x")
    assert_refused(v, r, ExitCode.VAULT_STATE, None, words="uncommitted changes")
    assert f"records/{rid}.entries.yaml" in r.stderr and "'git checkout -- FILE'" in r.stderr
    assert v.head() == head and not epath.exists() and _verified(v) == head
    # the hint, followed exactly
    v.git("checkout", "--", f"records/{rid}.entries.yaml")
    assert epath.read_bytes() == good and v.is_clean()
    shown = json.loads(v.ok("show", rid, "--json").stdout)
    assert {e["entry"] for e in shown["entries"]} == {e for ids in entries.values() for e in ids}
    v.ok("add", other, "--level", "general", "--category", "note", "--text", "x")


@pytest.mark.parametrize("how", ["entries-appended", "entries-moved"])
def test_head_file_holding_entries_is_refused(filled, how):
    """The single-file layout (entries after the head, in records/<id>.yaml) is no longer a valid head."""
    v, data = filled
    rid, entries = data["Ada Marker"]
    path, epath = _record_file(v, rid), _entries_file(v, rid)
    path.write_bytes(path.read_bytes() + epath.read_bytes())
    if how == "entries-moved":  # and the entries file gone, as the old layout had it
        v.git("rm", "-q", f"records/{rid}.entries.yaml")
    verified = _verified(v)
    head = _commit_by_hand(v)
    file = f"records/{rid}.yaml"
    words = f"{file} holds entries, which belong in records/{rid}.entries.yaml"
    for args in _reads_and_writes(rid, entries) + [
        ("grant", "cara", "--child", rid, "--level", "confidential"),
        ("revoke", "ben", "--all"),
        ("child", "set", rid, "room=x"),
    ]:
        r = v.run(*args)
        _assert_findings_refusal(v, r, head, file, "schema", words, verified=verified)
    _assert_verify_reports(v, head, file, "schema", words)


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
        words = f"records/{rid}.yaml breaks the record schema: format must be '{envelope.FORMAT}'"
    verified = _verified(v)
    head = _commit_by_hand(v)
    for args in _reads_and_writes(rid, entries) + [("grant", "cara", "--child", rid, "--level", "confidential")]:
        r = v.run(*args)
        _assert_findings_refusal(v, r, head, f"records/{rid}.yaml", "schema", words, verified=verified)
    _assert_verify_reports(v, head, f"records/{rid}.yaml", "schema", words)


def test_what_was_typed_in_the_wrong_place_is_not_repeated(vault):
    """A name typed where a record id goes, and a line of free text that YAML reads as a field, are refused
    without the error repeating them (they may be a child's details)."""
    rid = vault.add_child("Ada Echo")
    r = vault.run("show", "Ada Lovelace")
    assert r.exit_code == ExitCode.NOT_FOUND and "not a record id" in r.stderr
    assert "Lovelace" not in r.stderr
    r = vault.run("child", "edit", rid, "--from", "-", input="name: Ada Echo\nMum said Quillon hit her: yes\n")
    assert r.exit_code == ExitCode.USAGE, r.stderr
    assert "not repeated here because it is not a field name" in r.stderr and "Quillon" not in r.stderr
    r = vault.run("child", "edit", rid, "--from", "-", input="name: Ada Echo\nnickname: Ad\n")
    assert r.exit_code == ExitCode.USAGE and "unexpected field 'nickname'" in r.stderr  # a field name is named
