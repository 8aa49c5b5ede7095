"""Issue 2's "Guarantees to test", proven on real parts.

- No plaintext of a child's record reaches disk or git (working tree, every git
  object loose and packed, commit messages, the temp directories, /dev/shm),
  also when an editor session is ended by SIGHUP, SIGTERM, ^C or SIGKILL, and
  the editor's private folder must really be memory-backed.
- Every block is standard age: the ``age`` command alone, in two steps, gets
  the text ``confide show`` shows.
- Visibility by role is enforced by cryptography: a practitioner's identity
  opens no confidential or safeguarding key copy of a child who is not theirs.
- Writes are atomic: a command killed between writing and committing (fault
  injection, and a real SIGKILL from a git hook) leaves the vault as it was,
  for the next command whether it reads or writes; killed after the commit
  landed, as it is after, and the next command verifies that commit before
  acting on it (this clone's checkpoint, ``.git/confide/trust.json``).
- Two ``confide add`` at once are serialised by the lock: two commits. Readers
  never wait for a writer: they read the verified commit's objects, so a write
  held open mid-way is neither waited for nor seen.
- Entry blocks stay byte-identical when later entries are added, and
  head-only rewrites leave the record's entries file untouched: a record is
  two files, ``records/<id>.yaml`` (the head) and ``records/<id>.entries.yaml``;
  access and profile commands commit heads only, entry commands the entries
  file only.

Subprocess tests run ``python -m vault_cli`` as a real process; nothing is
mocked. No test depends on wall-clock limits.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import pytest
from conftest import age_binary, entries_file, head_file, recipient_of, record_doc, signing_pub

from vault_cli.formats import envelope

JOURNAL = Path(".git") / "confide-journal.json"


# ---------------------------------------------------------------------------
# helpers


def age_decrypt(identity: Path, armored: str) -> subprocess.CompletedProcess:
    return subprocess.run([age_binary(), "-d", "-i", str(identity)], input=armored.encode("ascii"), capture_output=True)


def doc_of(v, rid: str) -> dict:
    """Both files of a record, read into one dict."""
    return record_doc(v.root, rid)


def key_by_id(doc: dict, key_id: str) -> dict:
    [k] = [k for k in doc["keys"] if k["id"] == key_id]
    return k


def current_key(doc: dict, level: str) -> dict:
    return max((k for k in doc["keys"] if k["level"] == level), key=lambda k: k["generation"])


def show(v, rid: str, who: str = "amira") -> dict:
    return json.loads(v.ok("show", rid, "--json", who=who).stdout)


def cli_env(v, who: str = "amira", **extra: str) -> dict:
    env = dict(os.environ)
    env["CONFIDE_VAULT"] = str(v.root)
    env["CONFIDE_IDENTITY"] = str(v.keys[who])
    if who + ".sign" in v.keys:  # every commit is signed: with the holder's own signing key
        env["CONFIDE_SIGNING_KEY"] = str(v.keys[who + ".sign"])
    env.update(extra)
    return env


def confide_proc(v, *args: str, who: str = "amira", **extra: str) -> subprocess.Popen:
    """``confide ARGS`` as a real process (``python -m vault_cli``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "vault_cli", *args],
        env=cli_env(v, who, **extra), cwd=v.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def confide_on_terminal(v, *args: str, who: str = "amira", **extra: str) -> tuple[subprocess.Popen, int]:
    """``confide ARGS`` as a real process whose stdin and stdout are a terminal (a pty), as when a person runs
    it; stderr is a pipe. Returns the process and the terminal's other end (the caller closes it)."""
    import pty

    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "vault_cli", *args], env=cli_env(v, who, **extra), cwd=v.root,
                         stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    return p, master


def run_proc(v, *args: str, who: str = "amira", **extra: str) -> tuple[int, str, str]:
    p = confide_proc(v, *args, who=who, **extra)
    out, err = p.communicate()
    return p.returncode, out.decode(), err.decode()


def commit_count(v) -> int:
    return int(v.git("rev-list", "--count", "HEAD").strip())


def scan_tree(root: Path, needles: list[bytes], *, newer_than: float | None = None) -> list[str]:
    """Files under root (hidden ones and .git included) whose bytes hold any needle."""
    hits = []
    for folder, _dirs, files in os.walk(root, onerror=lambda e: None):
        for name in files:
            p = os.path.join(folder, name)
            try:
                st = os.lstat(p)
                if not os.path.isfile(p) or os.path.islink(p):
                    continue
                if newer_than is not None and max(st.st_mtime, st.st_ctime) < newer_than:
                    continue
                if st.st_size > 64 * 1024 * 1024:
                    continue
                with open(p, "rb") as fh:
                    data = fh.read().lower()
            except OSError:
                continue
            for n in needles:
                if n in data:
                    hits.append(f"{p} holds {n.decode()}")
    return hits


# ---------------------------------------------------------------------------
# 1. no plaintext anywhere


EDITOR = """\
import json, os, stat, sys
from ruamel.yaml import YAML

path = sys.argv[1]
folder = os.path.dirname(path)
with open(os.environ["EDIT_LOG"], "w") as fh:
    json.dump({"folder": folder, "folder_mode": stat.S_IMODE(os.stat(folder).st_mode),
               "file_mode": stat.S_IMODE(os.stat(path).st_mode)}, fh)
yaml = YAML(typ="safe")
with open(path) as fh:
    doc = yaml.load(fh)
doc["dietary_needs"] = os.environ["EDIT_MARK"]
doc["emergency_contacts"] = [{"name": os.environ["EDIT_MARK2"], "phone": "01234 567890"}]
with open(path, "w") as fh:
    yaml.dump(doc, fh)
"""


def test_no_plaintext_reaches_disk_git_or_temp(vault, tmp_path, tmp_path_factory, monkeypatch):
    started = time.time() - 2  # file systems with coarse timestamps
    # Anything confide or git puts in "the temp directory" lands here, and is scanned.
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))

    tag = uuid.uuid4().hex[:12]
    m = {k: f"mk{k}{tag}" for k in (
        "name", "knownas", "medical", "parent", "allergy", "general", "confidential", "safeguarding",
        "stdin", "third", "third2", "notinformed", "reason", "dietary", "contact", "kpname", "other", "gp",
    )}
    v = vault
    rid = v.add_child(f"Child {m['name']}", key_person="ben", dob="2022-03-04", room="rainbow")
    other = v.add_child(f"Other {m['other']}", key_person="cara")
    v.ok("child", "set", rid, f"known_as={m['knownas']}", f"medical_needs=inhaler {m['medical']}",
         f"parents.0.name=Parent {m['parent']}", "parents.0.parental_responsibility:=true",
         f"allergies=nuts,{m['allergy']}", f"gp=Dr {m['gp']}")
    e_gen = v.add_entry(rid, f"played well {m['general']}", "general", "observation", "ben",
                        "--third-party", f"Grandma {m['third']}")
    e_conf = v.add_entry(rid, f"bruise {m['confidential']}", "confidential", "injury", "amira",
                         "--parents-informed", "2026-11-24", "--parent-view", "not-confidential")
    e_safe = v.add_entry(rid, f"disclosure {m['safeguarding']}", "safeguarding", "concern", "dara",
                         "--parents-not-informed", f"risk {m['notinformed']}",
                         "--third-party", f"Social worker {m['third2']}")
    e_stdin = v.ok("add", rid, "--level", "confidential", "--category", "discussion", "--text", "-",
                   input=f"long talk\nabout {m['stdin']}\n").last_line
    v.add_entry(other, f"note {m['kpname']}", "general", "note", "cara")
    v.ok("mark", e_gen, "--level", "confidential", "--reason", f"parent asked {m['reason']}")
    v.ok("mark", e_conf, "--parent-view", "confidential")

    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR)
    log = tmp_path / "editor-log.json"
    r = v.run_on_terminal("child", "edit", rid, env={"EDITOR": f"{sys.executable} {editor}", "EDIT_LOG": str(log),
                                                     "EDIT_MARK": f"no pork {m['dietary']}",
                                                     "EDIT_MARK2": f"Aunt {m['contact']}"})
    assert r.exit_code == 0, r.stderr
    info = json.loads(log.read_text())
    assert info["folder"].startswith("/dev/shm/"), info
    assert info["folder_mode"] == 0o700 and info["file_mode"] == 0o600, info
    assert not os.path.exists(info["folder"]), "the editor's private folder was not removed"

    # Everything was really recorded: the markers are all readable through confide.
    shown = show(v, rid)
    blob = json.dumps(shown) + json.dumps(show(v, other))
    for k, marker in m.items():
        assert marker in blob, f"marker {k} never made it into the record"
    assert {e_gen, e_conf, e_safe, e_stdin} <= {e["entry"] for e in shown["entries"]}
    assert v.is_clean()
    needles = [x.encode() for x in m.values()]

    # The scanners themselves find what is there: a canary in a file and in a git object.
    canary = f"canary{tag}".encode()
    (v.root / ".git" / "canary").write_bytes(b"x" + canary.upper())
    assert len(scan_tree(v.root, [canary])) == 1
    (v.root / ".git" / "canary").unlink()
    subprocess.run(["git", "-C", str(v.root), "hash-object", "-w", "--stdin"], input=b"blob with " + canary, check=True,
                   capture_output=True)

    # Working tree, .git included (refs, logs, index, COMMIT_EDITMSG, the lock, ...).
    assert scan_tree(v.root, needles) == []

    # Every loose git object, decompressed.
    objects = v.root / ".git" / "objects"
    loose = [p for p in objects.glob("??/*") if p.is_file()]
    assert len(loose) > 20
    canaries = 0
    for p in loose:
        data = zlib.decompress(p.read_bytes()).lower()
        canaries += canary in data
        for n in needles:
            assert n not in data, f"git object {p.parent.name}{p.name} holds {n.decode()}"
    assert canaries == 1

    # Commit messages, authors and the reflog.
    text = v.git("log", "--all", "--format=%H%n%an %ae%n%cn %ce%n%B").lower() + v.git("reflog").lower()
    for n in needles:
        assert n.decode() not in text

    # Every object again after packing (deltas and all), through git itself.
    keep = subprocess.run(["git", "-C", str(v.root), "hash-object", "-w", "--stdin"], input=b"blob with " + canary,
                          check=True, capture_output=True).stdout.decode().strip()
    v.git("tag", "canary-blob", keep)  # keep the canary reachable, so gc packs it
    v.git("gc", "-q", "--prune=now")
    assert list(objects.glob("pack/*.pack"))
    assert not [p for p in objects.glob("??/*") if p.is_file()]
    dump = subprocess.run(["git", "-C", str(v.root), "cat-file", "--batch-all-objects", "--batch"],
                          check=True, capture_output=True).stdout.lower()
    assert dump.count(b" commit ") >= 10
    assert canary in dump
    for n in needles:
        assert n not in dump, f"a packed git object holds {n.decode()}"
    assert scan_tree(v.root, needles) == []

    # The pytest temp dir (this test's and every other test's of this run), the
    # temp dir confide and git were given, the system temp dir (every file
    # written during this test) and memory-backed storage.
    hits = scan_tree(tmp_path_factory.getbasetemp(), needles)
    hits += scan_tree(private_tmp, needles)
    hits += scan_tree(Path("/tmp"), needles, newer_than=started)
    if os.path.isdir("/dev/shm"):
        hits += scan_tree(Path("/dev/shm"), needles)
    assert hits == []


LIVENESS_SECONDS = 300  # only for a hung process; never a measure of speed

HANGING_EDITOR = """\
import json, os, sys, time
log = os.environ["EDIT_LOG"]
with open(log + ".tmp", "w") as fh:
    json.dump({"folder": os.path.dirname(sys.argv[1]), "pid": os.getpid()}, fh)
os.rename(log + ".tmp", log)
while True:  # an editor left open until something kills it
    time.sleep(0.05)
"""


def _start_hanging_edit(v, tmp_path, rid):
    """``confide child edit RID`` on a terminal, with an editor that never returns: (process, terminal, editor info)."""
    editor = tmp_path / "hang.py"
    editor.write_text(HANGING_EDITOR)
    log = tmp_path / f"hang-{uuid.uuid4().hex}.json"
    p, terminal = confide_on_terminal(v, "child", "edit", rid, EDITOR=f"{sys.executable} {editor}", EDIT_LOG=str(log))
    # A liveness guard, not a speed limit: a stuck confide fails the test instead of hanging CI.
    deadline = time.monotonic() + LIVENESS_SECONDS
    while not log.exists():
        if p.poll() is not None:
            os.close(terminal)
            pytest.fail("confide ended before starting the editor: " + p.communicate()[1].decode())
        if time.monotonic() > deadline:
            p.kill()
            os.close(terminal)
            pytest.fail("confide never started the editor")
        time.sleep(0.01)
    info = json.loads(log.read_text())
    assert info["folder"].startswith("/dev/shm/") and (Path(info["folder"]) / "profile.yaml").exists()
    return p, terminal, info


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_editor_session_killed_by_a_signal_leaves_no_plaintext(vault, tmp_path, sig):
    """Closing the terminal (SIGHUP) or stopping confide (SIGTERM, ^C) mid-edit still removes the folder."""
    v = vault
    rid = v.add_child("Ada Hangup")
    head = v.head()
    p, terminal, info = _start_hanging_edit(v, tmp_path, rid)
    try:
        p.send_signal(sig)
        try:
            p.communicate(timeout=LIVENESS_SECONDS)
        except subprocess.TimeoutExpired:
            p.kill()
            pytest.fail("confide did not exit after the signal, or left its editor holding its output")
        assert p.returncode != 0
        assert not os.path.exists(info["folder"]), "the plaintext profile was left in /dev/shm"
        # confide stopped (and reaped) its editor before exiting: it is not left running on the plaintext
        assert _gone(info["pid"]), "the editor was left running"
    finally:
        os.close(terminal)
        if not _gone(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)
    assert v.head() == head and v.is_clean()


def test_editor_folder_left_by_a_sigkilled_confide_is_removed_by_the_next_command(vault, tmp_path):
    """SIGKILL leaves the plaintext behind (nothing runs after it); the next confide command of any kind
    removes it, even while the orphaned editor still runs, but never the folder of an edit still going on."""
    v = vault
    rid = v.add_child("Ada Sweep")
    live, live_terminal, live_info = _start_hanging_edit(v, tmp_path, rid)
    p, terminal, info = _start_hanging_edit(v, tmp_path, rid)
    try:
        assert v.run("holder", "list").exit_code == 0
        assert os.path.exists(info["folder"]) and os.path.exists(live_info["folder"])  # both edits are alive
        p.kill()  # SIGKILL: confide cleans up nothing
        p.wait()
        assert os.path.exists(info["folder"]) and not _gone(info["pid"])  # its editor still runs, on the plaintext
        r = v.run("holder", "list")  # any command, here one that needs no key
        assert r.exit_code == 0, r.stderr
        assert not os.path.exists(info["folder"]), "the next command must remove what a killed confide left"
        assert os.path.exists(live_info["folder"]), "a live edit's folder was removed"
        assert live.poll() is None
    finally:
        for proc in (p, live):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stderr.close()
        for pid in (info["pid"], live_info["pid"]):
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        os.close(terminal)
        os.close(live_terminal)


def test_a_killed_edit_is_swept_from_the_temp_folder_and_by_its_pid_before_it_locked(vault, tmp_path):
    """Folders in the temp folder are swept too; one whose confide died before locking it goes by its pid;
    another user's, a live process's and anything not confide's are left alone."""
    from vault_cli.cli import private

    tmp = tmp_path / "tmp"
    shm = tmp_path / "shm"
    tmp.mkdir()
    shm.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    unlocked_dead = tmp / f"confide-edit-{dead}-abc"
    unlocked_alive = tmp / f"confide-edit-{os.getpid()}-abc"
    legacy_dead = shm / f"confide-{dead}-xyz"
    other = shm / "confide-notes"
    for d in (unlocked_dead, unlocked_alive, legacy_dead, other):
        d.mkdir()
        (d / "profile.yaml").write_text("name: x\n")
    with private.folder(str(shm)) as mine:
        removed = private.sweep_stale(str(shm), str(tmp))
        assert mine.exists() and (mine / private.LOCK).exists()
    assert not mine.exists()
    assert sorted(removed) == sorted([str(unlocked_dead), str(legacy_dead)])
    assert unlocked_alive.exists() and other.exists()


def test_editor_refuses_a_private_folder_that_is_on_disk(vault, tmp_path):
    v = vault
    rid = v.add_child("Ada Disk")
    disk = tmp_path / "not-memory"
    disk.mkdir()
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR)
    r = v.run_on_terminal("child", "edit", rid, env={
        "CONFIDE_SHM": str(disk), "EDITOR": f"{sys.executable} {editor}", "EDIT_LOG": str(tmp_path / "log.json"),
        "EDIT_MARK": "x", "EDIT_MARK2": "y"})
    code, err = r.exit_code, r.stderr
    assert code == 7, err  # VAULT_STATE
    assert "memory-backed" in err and "child set" in err and "--from" in err
    assert list(disk.iterdir()) == [] and not (tmp_path / "log.json").exists()


# ---------------------------------------------------------------------------
# 2. every block is plain age


def test_age_cli_alone_reads_entries_marks_and_profile(vault, tmp_path):
    v = vault
    rid = v.add_child("Ada Interop", key_person="ben", dob="2022-03-04")
    v.ok("child", "set", rid, "allergies=nuts,eggs", "parents.0.name=Pat Interop")
    e1 = v.add_entry(rid, "Bruise on left arm — parent says fall at home ✓", "confidential", "injury", "amira",
                     "--third-party", "Dr Who")
    e2 = v.add_entry(rid, "routine nappy change", "general", "observation", "cara")
    mark_id = v.ok("mark", e1, "--parents-informed", "2026-11-24").last_line
    doc = doc_of(v, rid)

    for who in ("ben", "amira", "dara"):
        data = show(v, rid, who)
        for eid in (e1, e2):
            [item] = [e for e in doc["entries"] if e["id"] == eid]
            key = key_by_id(doc, item["key"])
            # step 1: unwrap this holder's copy of the level key with their own identity
            unwrapped = age_decrypt(v.keys[who], key["wrapped"][who])
            assert unwrapped.returncode == 0, unwrapped.stderr
            level_key = tmp_path / f"{who}-{key['id']}.txt"
            level_key.write_bytes(unwrapped.stdout)
            os.chmod(level_key, 0o600)
            assert f"# public key: {key['recipient']}" in unwrapped.stdout.decode()
            # step 2: the entry with the level key file, exactly as unwrapped
            opened = age_decrypt(level_key, item["data"])
            assert opened.returncode == 0, opened.stderr
            payload = json.loads(opened.stdout.decode("utf-8"))
            [shown] = [e for e in data["entries"] if e["entry"] == eid]
            assert payload["text"] == shown["text"]
            assert (payload["record"], payload["block"], payload["level"]) == (rid, eid, shown["level"])
            for f in ("category", "at", "recorded_at", "author", "third_parties"):
                assert payload[f] == shown[f]
            for mk in item.get("marks", []):
                mp = json.loads(age_decrypt(level_key, mk["data"]).stdout)
                assert mp["block"] == mark_id and mp["entry"] == eid
                assert mp["changes"]["parents_informed"]["to"] == "2026-11-24" == shown["parents_informed"]
        # and the profile, under the general key
        key = key_by_id(doc, doc["profile"]["key"])
        assert key["level"] == "general"
        level_key = tmp_path / f"{who}-profile.txt"
        level_key.write_bytes(age_decrypt(v.keys[who], key["wrapped"][who]).stdout)
        opened = age_decrypt(level_key, doc["profile"]["data"])
        assert opened.returncode == 0, opened.stderr
        profile = json.loads(opened.stdout)["profile"]
        expected = {k: val for k, val in data["profile"].items() if val is not None}
        assert dict(profile, key_person=doc["key_person"]) == expected
        assert profile["name"] == "Ada Interop" and profile["allergies"] == ["nuts", "eggs"]


def test_age_cli_reads_with_an_ssh_ed25519_identity(vault, tmp_path):
    """Holders may use an SSH ed25519 key; plain 'age -i ~/.ssh/id_ed25519' must still read."""
    age = age_binary()
    keygen = shutil.which("ssh-keygen")
    assert keygen, "ssh-keygen is needed (apt-get install openssh-client); the signing tests need it too"
    v = vault
    key = tmp_path / "id_ed25519"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "zoe@laptop", "-f", str(key)], check=True)
    v.ok("holder", "add", "zoe", "--role", "practitioner", "--recipient", (tmp_path / "id_ed25519.pub").read_text())
    v.keys["zoe"] = key
    rid = v.add_child("Ada Ssh", key_person="zoe")
    eid = v.add_entry(rid, "written for an ssh key holder", "safeguarding", "concern")
    doc = doc_of(v, rid)
    [item] = [e for e in doc["entries"] if e["id"] == eid]
    level_key = tmp_path / "level.txt"
    r = subprocess.run([age, "-d", "-i", str(key)], input=key_by_id(doc, item["key"])["wrapped"]["zoe"].encode(),
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    level_key.write_bytes(r.stdout)
    r = subprocess.run([age, "-d", "-i", str(level_key)], input=item["data"].encode(), capture_output=True)
    assert r.returncode == 0, r.stderr
    [shown] = [e for e in show(v, rid, "zoe")["entries"] if e["entry"] == eid]
    assert json.loads(r.stdout)["text"] == shown["text"] == "written for an ssh key holder"


def test_every_block_has_exactly_one_stanza(vault):
    v = vault
    rid = v.add_child("Ada Stanza", key_person="ben")
    v.add_entry(rid, "x", "safeguarding", "concern")
    doc = doc_of(v, rid)
    assert doc["entries"]
    blocks = [doc["profile"]["data"]] + [e["data"] for e in doc["entries"]]
    blocks += [w for k in doc["keys"] for w in k["wrapped"].values()]
    import base64

    for b in blocks:
        body = "".join(b.strip().splitlines()[1:-1])
        header = base64.b64decode(body).split(b"\n--- ", 1)[0]
        assert header.startswith(b"age-encryption.org/v1\n")
        stanzas = [line.split()[1] for line in header.split(b"\n") if line.startswith(b"-> ")]
        # age implementations add one random "grease" stanza that no identity opens
        real = [s for s in stanzas if not s.endswith(b"-grease")]
        assert real == [b"X25519"], f"an age block with recipient stanzas {real}"


# ---------------------------------------------------------------------------
# 3. visibility by role, through cryptography


def test_practitioner_identity_opens_no_restricted_key_of_another_child(vault, tmp_path):
    v = vault
    theirs = v.add_child("Ben's Key Child", key_person="ben")
    not_theirs = v.add_child("Cara's Key Child", key_person="cara")
    for rid in (theirs, not_theirs):
        for level in ("general", "confidential", "safeguarding"):
            v.add_entry(rid, f"{level} text of {rid}", level, "note")
    # a practitioner added after the records exist gets general copies only
    v.ok("holder", "add", "eve", "--role", "practitioner", "--recipient", recipient_of(v.keys["eve"]),
         "--signing-key", signing_pub(v.keys, "eve"))

    for rid, kp in ((theirs, "ben"), (not_theirs, "cara")):
        doc = doc_of(v, rid)
        for key in doc["keys"]:
            level = key["level"]
            expected = {"amira", "dara", kp}
            if level == "general":
                expected |= {"ben", "cara", "eve"}
            assert set(key["wrapped"]) == expected, (rid, level)
            for who in ("ben", "cara", "eve"):
                for holder, copy in key["wrapped"].items():
                    r = age_decrypt(v.keys[who], copy)
                    assert (r.returncode == 0) == (holder == who), (rid, level, who, holder)
            # no practitioner other than the key person opens the level's blocks either
            for item in doc["entries"]:
                if item["key"] != key["id"]:
                    continue
                for who in ("ben", "cara", "eve"):
                    assert age_decrypt(v.keys[who], item["data"]).returncode != 0

    # and what confide shows follows the cryptography
    for who, rid, sealed_levels in (("ben", not_theirs, {"confidential", "safeguarding"}),
                                   ("eve", theirs, {"confidential", "safeguarding"}),
                                   ("ben", theirs, set()), ("amira", not_theirs, set())):
        data = show(v, rid, who)
        assert data["profile"] is not None
        for e in data["entries"]:
            assert e["readable"] == (e["level"] not in sealed_levels)
            if not e["readable"]:
                assert {k for k, x in e.items() if x is not None} == {"entry", "level", "readable"}


# ---------------------------------------------------------------------------
# 4. atomic writes


def _files(v, rid: str) -> tuple[bytes, bytes]:
    """A record's head and entries files, as bytes."""
    return head_file(v.root, rid).read_bytes(), entries_file(v.root, rid).read_bytes()


def _state(v, rid: str) -> tuple[str, tuple[bytes, bytes]]:
    return v.head(), _files(v, rid)


def _verified(v) -> str:
    """The commit this clone has verified up to (``.git/confide/trust.json``): what every command acts on."""
    return json.loads((v.root / ".git" / "confide" / "trust.json").read_text())["verified"]


def _history_verifies(v) -> None:
    """'confide verify' walks the whole history from the vault's identity and finds nothing."""
    data = json.loads(v.ok("verify", "--json").stdout)
    assert data["ok"] and data["findings"] == [] and data["tainted"] == 0 and data["head"] == v.head(), data


def test_crash_after_write_before_commit_is_rolled_back(vault):
    v = vault
    rid = v.add_child("Ada Crash", key_person="ben")
    v.add_entry(rid, "first", "general", "observation")
    head, before = _state(v, rid)
    records_before = sorted(os.listdir(v.root / "records"))

    # an entry: the record file is rewritten, then the process dies before committing
    code, out, err = run_proc(v, "add", rid, "--level", "confidential", "--category", "note", "--text", "lost",
                              CONFIDE_TEST_CRASH="after-write")
    assert code == 137, err
    assert (v.root / JOURNAL).exists()
    assert v.head() == head
    assert _files(v, rid) != before  # the write did happen

    # a new record: a new file appears, then the process dies
    code, _, err = run_proc(v, "child", "add", "--name", "Never Created", CONFIDE_TEST_CRASH="after-write")
    assert code == 137, err
    assert _verified(v) == head  # nothing was committed, so nothing new to verify

    # The next command, a read, sees the vault as it was: nothing half-written is shown.
    data = show(v, rid)
    assert [e["text"] for e in data["entries"]] == ["first"]
    assert v.head() == head == _verified(v)
    assert v.is_clean()
    assert not (v.root / JOURNAL).exists()
    assert _files(v, rid) == before
    assert sorted(os.listdir(v.root / "records")) == records_before

    # and the next write works as usual
    code, out, err = run_proc(v, "add", rid, "--level", "general", "--category", "note", "--text", "second")
    assert code == 0, err
    assert v.git("rev-parse", "HEAD~1").strip() == head
    assert _verified(v) == v.head()  # its own commit moved the checkpoint
    assert [e["text"] for e in show(v, rid)["entries"]] == ["first", "second"]
    assert v.is_clean()
    _history_verifies(v)


@pytest.mark.parametrize("point", ["mid-bulk-write", "after-write"])
def test_crash_in_a_bulk_write_in_place_is_rolled_back(vault, point):
    """A bulk command (8+ heads) writes over the files in place: killed halfway through, or after
    writing and before committing, the next command restores every head from HEAD."""
    v = vault
    rids = [v.add_child(f"Bulk Crash {i}", key_person="ben") for i in range(9)]
    v.add_entry(rids[0], "kept", "general", "observation")
    head = v.head()
    before = {rid: _files(v, rid) for rid in rids}
    code, _, err = run_proc(v, "revoke", "ben", "--all", CONFIDE_TEST_CRASH=point)
    assert code == 137, err
    assert (v.root / JOURNAL).exists() and v.head() == head
    changed = [rid for rid in rids if _files(v, rid) != before[rid]]
    assert changed and (point == "after-write") == (len(changed) == len(rids))  # halfway: some, not all
    # the next command, a read, sees every record as it was
    assert json.loads(v.ok("access", "--holder", "ben", "--json").stdout)["records"]
    assert not (v.root / JOURNAL).exists() and v.is_clean() and v.head() == head == _verified(v)
    assert {rid: _files(v, rid) for rid in rids} == before
    assert [e["text"] for e in show(v, rids[0], who="ben")["entries"]] == ["kept"]
    # and the command then works
    code, _, err = run_proc(v, "revoke", "ben", "--all")
    assert code == 0, err
    assert v.git("rev-parse", "HEAD~1").strip() == head and _verified(v) == v.head()
    assert json.loads(v.ok("access", "--holder", "ben", "--json").stdout)["records"] == []
    assert v.is_clean()
    _history_verifies(v)


def test_bulk_write_in_place_never_writes_through_a_hard_link(vault, tmp_path):
    """A snapshot made with hard links ('cp -al') shares the files' bytes: a bulk command must
    leave the snapshot as it was (it replaces that file instead of writing over it)."""
    v = vault
    rids = [v.add_child(f"Linked {i}", key_person="ben") for i in range(9)]
    snapshot = tmp_path / "snapshot.yaml"
    os.link(head_file(v.root, rids[0]), snapshot)
    old = snapshot.read_bytes()
    v.ok("revoke", "ben", "--all")
    assert snapshot.read_bytes() == old
    assert head_file(v.root, rids[0]).read_bytes() != old
    assert os.stat(head_file(v.root, rids[0])).st_nlink == 1
    assert v.is_clean()


def test_bulk_change_writes_heads_in_place_and_renames_holders_yaml_in(vault):
    """In a bulk command only record files are written in place (confide's readers read the verified
    commit's objects, never these files); holders.yaml is still replaced whole."""
    v = vault
    rids = [v.add_child(f"Inode {i}", key_person="ben") for i in range(9)]
    heads = {rid: os.stat(head_file(v.root, rid)).st_ino for rid in rids}
    holders = os.stat(v.root / "holders.yaml").st_ino
    v.ok("holder", "remove", "cara", "--reason", "left")
    assert {rid: os.stat(head_file(v.root, rid)).st_ino for rid in rids} == heads  # written in place
    assert os.stat(v.root / "holders.yaml").st_ino != holders  # renamed in
    assert v.is_clean()


def test_crash_then_write_recovers_first(vault):
    v = vault
    rid = v.add_child("Ada Crash Two")
    head, before = _state(v, rid)
    code, _, err = run_proc(v, "child", "set", rid, "room=lost", CONFIDE_TEST_CRASH="after-write")
    assert code == 137, err
    assert _verified(v) == head
    code, _, err = run_proc(v, "add", rid, "--level", "general", "--category", "note", "--text", "kept")
    assert code == 0, err
    assert v.git("rev-parse", "HEAD~1").strip() == head and _verified(v) == v.head()
    assert v.is_clean() and not (v.root / JOURNAL).exists()
    data = show(v, rid)
    assert data["profile"].get("room") is None
    assert [e["text"] for e in data["entries"]] == ["kept"]


def test_recovery_waits_while_the_killed_commands_git_still_holds_the_index(vault):
    """A killed confide's git may still hold .git/index.lock: the roll-back must not half happen."""
    from vault_cli.errors import ExitCode

    v = vault
    rid = v.add_child("Ada Race")
    head, before = _state(v, rid)
    code, _, err = run_proc(v, "add", rid, "--level", "general", "--category", "note", "--text", "lost",
                            CONFIDE_TEST_CRASH="after-write")
    assert code == 137, err
    index_lock = v.root / ".git" / "index.lock"
    index_lock.write_bytes(b"")  # as the orphaned git would hold it, seconds after the crash
    code, out, err = run_proc(v, "show", rid, "--json")
    assert code == ExitCode.VAULT_STATE, err
    assert "interrupted" in err and out == ""
    assert (v.root / JOURNAL).exists(), "the journal must survive a roll-back that could not finish"
    index_lock.unlink()  # that git finished (without committing)
    code, out, err = run_proc(v, "show", rid, "--json")
    assert code == 0, err
    assert json.loads(out)["entries"] == []
    assert v.head() == head == _verified(v) and v.is_clean() and not (v.root / JOURNAL).exists()
    assert _files(v, rid) == before


HOOK = """\
#!/bin/sh
# Kill confide (git's parent) with SIGKILL while git is committing, as a power cut would.
read -r _ _ _ gp _ < /proc/$PPID/stat   # git's parent: the confide process
echo "$PPID $gp" > "$GIT_DIR/../.git/killed-by-hook"
case "$(tr '\\0' ' ' < /proc/$gp/cmdline)" in
  *vault_cli*) kill -9 "$gp" ;;
  *) echo "not confide: $gp" >&2 ;;
esac
exit 1
"""


def _install_kill_hook(v) -> Path:
    hook = v.root / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(HOOK.replace("$GIT_DIR/../.git", str(v.root / ".git")))
    os.chmod(hook, 0o755)
    return hook


def _wait_for_git_to_finish(v) -> None:
    """The orphaned git may still be unwinding after confide died; wait for it (no time limit)."""
    info = (v.root / ".git" / "killed-by-hook").read_text().split()
    git_pid = int(info[0])
    while os.path.exists(f"/proc/{git_pid}") and not open(f"/proc/{git_pid}/stat").read().split(")")[-1].split()[0] == "Z":
        time.sleep(0.01)


def test_sigkill_during_commit_leaves_the_vault_as_it_was(vault):
    v = vault
    rid = v.add_child("Ada Killed", key_person="ben")
    v.add_entry(rid, "first", "general", "observation")
    head, before = _state(v, rid)
    hook = _install_kill_hook(v)

    p = confide_proc(v, "add", rid, "--level", "safeguarding", "--category", "concern", "--text", "never committed")
    _, err = p.communicate()
    assert p.returncode == -signal.SIGKILL, (p.returncode, err)
    _wait_for_git_to_finish(v)
    assert v.head() == head == _verified(v)
    assert (v.root / JOURNAL).exists()
    hook.unlink()
    (v.root / ".git" / "killed-by-hook").unlink()

    code, out, err = run_proc(v, "show", rid, "--json")
    assert code == 0, err
    assert [e["text"] for e in json.loads(out)["entries"]] == ["first"]
    assert v.head() == head
    assert v.is_clean()
    assert not (v.root / JOURNAL).exists()
    assert _files(v, rid) == before

    code, out, err = run_proc(v, "add", rid, "--level", "general", "--category", "note", "--text", "second")
    assert code == 0, err
    assert v.git("rev-parse", "HEAD~1").strip() == head and _verified(v) == v.head()
    assert [e["text"] for e in show(v, rid)["entries"]] == ["first", "second"]
    assert v.is_clean() and not (v.root / JOURNAL).exists()
    _history_verifies(v)


def _tree_files(v) -> dict[str, bytes]:
    return {str(p.relative_to(v.root)): p.read_bytes() for p in v.root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(v.root).parts}


@pytest.mark.parametrize("command", ["child add", "child set", "mark", "mark level"])
def test_sigkill_during_other_commands_restores_every_file(vault, command):
    v = vault
    rid = v.add_child("Ada Killed Too", key_person="ben")
    eid = v.add_entry(rid, "first", "confidential", "observation")
    args = {
        "child add": ["child", "add", "--name", "Never Made"],
        "child set": ["child", "set", rid, "room=never"],
        "mark": ["mark", eid, "--parents-informed", "2026-11-24"],
        "mark level": ["mark", eid, "--level", "safeguarding", "--reason", "never"],
    }[command]
    head, files = v.head(), _tree_files(v)
    _install_kill_hook(v)
    p = confide_proc(v, *args)
    p.communicate()
    assert p.returncode == -signal.SIGKILL
    _wait_for_git_to_finish(v)
    (v.root / ".git" / "hooks" / "pre-commit").unlink()
    (v.root / ".git" / "killed-by-hook").unlink()
    assert v.head() == head and (v.root / JOURNAL).exists()
    v.ok("child", "list")  # any command, a read too, rolls back first
    assert v.head() == head == _verified(v) and v.is_clean() and not (v.root / JOURNAL).exists()
    assert _tree_files(v) == files
    code, _, err = run_proc(v, *args)
    assert code == 0, err
    assert v.git("rev-parse", "HEAD~1").strip() == head and v.is_clean() and _verified(v) == v.head()


def test_sigkill_after_the_commit_landed_keeps_the_commit(vault):
    """Killed after git committed but before confide removed its journal: the vault is as after."""
    v = vault
    rid = v.add_child("Ada After")
    head = v.head()
    hook = v.root / ".git" / "hooks" / "post-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(HOOK.replace("$GIT_DIR/../.git", str(v.root / ".git")).replace("exit 1", "exit 0"))
    os.chmod(hook, 0o755)
    p = confide_proc(v, "add", rid, "--level", "general", "--category", "note", "--text", "landed")
    p.communicate()
    assert p.returncode == -signal.SIGKILL
    _wait_for_git_to_finish(v)
    hook.unlink()
    assert v.git("rev-parse", "HEAD~1").strip() == head and (v.root / JOURNAL).exists()
    # confide died before it could move this clone's checkpoint: the landed commit is not yet trusted...
    assert _verified(v) == head
    after = v.head()
    # ...so the next command verifies it (signed by amira, an entry she may add), then reads it.
    assert [e["text"] for e in show(v, rid)["entries"]] == ["landed"]
    assert v.head() == after == _verified(v) and v.is_clean() and not (v.root / JOURNAL).exists()
    v.git("log", "-1", "--format=%B").index("Confide-Action: entry.add")
    _history_verifies(v)


def test_sigkill_during_holder_add_leaves_every_file_as_it_was(vault):
    """A command that rewrites several files (holders.yaml and every record's head)."""
    v = vault
    rids = [v.add_child(f"Child {i}", key_person="ben") for i in range(9)]  # 8+ files: the threaded writer
    head = v.head()
    files = {p: p.read_bytes() for p in v.root.rglob("*") if p.is_file() and ".git" not in p.parts}
    _install_kill_hook(v)
    p = confide_proc(v, "holder", "add", "zoe", "--role", "dsl", "--recipient", recipient_of(v.keys["eve"]),
                     "--signing-key", signing_pub(v.keys, "eve"))
    p.communicate()
    assert p.returncode == -signal.SIGKILL
    _wait_for_git_to_finish(v)
    (v.root / ".git" / "hooks" / "pre-commit").unlink()
    (v.root / ".git" / "killed-by-hook").unlink()

    assert v.head() == head == _verified(v)
    code, out, err = run_proc(v, "holder", "add", "zoe", "--role", "dsl", "--recipient", recipient_of(v.keys["eve"]),
                              "--signing-key", signing_pub(v.keys, "eve"))
    assert code == 0, err
    assert v.git("rev-parse", "HEAD~1").strip() == head and _verified(v) == v.head()
    assert v.is_clean() and not (v.root / JOURNAL).exists()
    for rid in rids:
        assert "zoe" in current_key(doc_of(v, rid), "safeguarding")["wrapped"]
    # and the vault between the two commands was exactly as before
    changed = v.git("diff", "--name-only", "HEAD~1", "HEAD").split()
    assert {"holders.yaml"} | {f"records/{r}.yaml" for r in rids} <= set(changed)
    assert not [p for p in changed if p.endswith(".entries.yaml")], changed  # re-keying never touches entries
    for p, data in files.items():
        rel = str(p.relative_to(v.root))
        if rel not in changed:
            assert p.read_bytes() == data, rel


# ---------------------------------------------------------------------------
# 5. concurrency


def _holds_open(pid: int, path: Path) -> bool:
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False


def test_two_adds_at_once_are_serialised_by_the_lock(vault):
    v = vault
    rid = v.add_child("Ada Busy", key_person="ben")
    before = commit_count(v)
    procs = [confide_proc(v, "add", rid, "--level", lv, "--category", "note", "--text", f"from {who}", who=who)
             for who, lv in (("amira", "confidential"), ("dara", "safeguarding"))]
    results = [p.communicate() for p in procs]
    for p, (_out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()
    ids = {out.decode().strip().splitlines()[-1] for out, _ in results}
    assert commit_count(v) == before + 2
    assert v.is_clean()
    data = show(v, rid)
    assert {e["entry"] for e in data["entries"]} == ids
    assert sorted(e["text"] for e in data["entries"]) == ["from amira", "from dara"]


def test_writers_wait_for_the_lock_then_both_commit(vault):
    """Hold the lock while both start, so both certainly contend for it."""
    from vault_cli.adapters.store import VaultLock

    v = vault
    rid = v.add_child("Ada Queue", key_person="ben")
    before = commit_count(v)
    lock_path = v.root / ".git" / "confide.lock"
    with VaultLock(v.root):
        procs = [confide_proc(v, "add", rid, "--level", "general", "--category", "note", "--text", f"queued {i}")
                 for i in range(2)]
        while not all(_holds_open(p.pid, lock_path) for p in procs):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        assert commit_count(v) == before  # nobody got past the lock
    results = [p.communicate() for p in procs]
    for p, (_out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()
    assert commit_count(v) == before + 2
    assert sorted(e["text"] for e in show(v, rid)["entries"]) == ["queued 0", "queued 1"]
    assert v.is_clean()


PAUSE_HOOK = """\
#!/bin/sh
# Hold confide's commit open, as a slow disk or a big vault would: its files are written,
# it holds the vault's lock and its journal names them, and nothing is committed yet.
: > "{paused}"
while [ ! -e "{go}" ]; do sleep 0.01; done
exit 0
"""


def test_a_reader_during_a_held_write_neither_waits_nor_sees_its_files(vault, tmp_path):
    """Readers read the verified commit's objects, never the working tree, so they never wait for a
    writer: while a bulk command holds the vault with every head rewritten in place (one of them cut
    off halfway, as a reader could catch it mid-write), a reader finishes without it and sees the last
    commit, whole. Once the write commits, the next reader sees the write."""
    v = vault
    rids = [v.add_child(f"Ada Held {i}", key_person="ben") for i in range(9)]  # 8+ heads: written in place
    eid = v.add_entry(rids[0], "written before the revocation", "confidential", "note")
    head = v.head()
    before = {rid: _files(v, rid) for rid in rids}
    paused, go = tmp_path / "paused", tmp_path / "go"
    hook = v.root / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(PAUSE_HOOK.format(paused=paused, go=go))
    os.chmod(hook, 0o755)
    lock_path = v.root / ".git" / "confide.lock"
    writer = confide_proc(v, "revoke", "ben", "--all")
    try:
        deadline = time.monotonic() + LIVENESS_SECONDS  # a liveness guard, not a speed limit
        while not paused.exists():
            assert writer.poll() is None, writer.communicate()
            assert time.monotonic() < deadline, "the writer never reached its commit"
            time.sleep(0.01)
        # The write is under way: lock held, journal written, every head rewritten in place, uncommitted.
        assert _holds_open(writer.pid, lock_path) and (v.root / JOURNAL).exists() and v.head() == head
        assert all(_files(v, rid)[0] != before[rid][0] for rid in rids)
        half = head_file(v.root, rids[0])
        written = half.read_bytes()
        with open(half, "r+b") as fh:
            fh.truncate(len(written) // 2)
        # Readers meanwhile. One that waited for the lock at all would wait for ever here (the writer is
        # held until the readers are done), so they are told to give up soon rather than hang the test.
        readers = [confide_proc(v, "show", rids[0], "--json", who="ben", CONFIDE_LOCK_WAIT="5"),
                   confide_proc(v, "access", "--holder", "ben", "--json", CONFIDE_LOCK_WAIT="5"),
                   confide_proc(v, "child", "list", "--json", who="ben", CONFIDE_LOCK_WAIT="5")]
        outs = []
        for r in readers:
            out, err = r.communicate(timeout=LIVENESS_SECONDS)
            assert r.returncode == 0, err.decode()
            outs.append(json.loads(out))
        assert writer.poll() is None and not go.exists() and paused.exists()  # all done while the write was held
        shown, access, listed = outs
        # ...and what they saw is the last commit: ben still reads his key child's confidential entry,
        # and every record (the half-written head included) reads whole.
        assert [(e["entry"], e["readable"], e["text"]) for e in shown["entries"]] == \
            [(eid, True, "written before the revocation")]
        assert shown["profile"]["name"] == "Ada Held 0"
        assert sorted(r["record"] for r in access["records"]) == sorted(rids)
        assert len(listed) == len(rids) and (v.root / JOURNAL).exists() and v.head() == head
        half.write_bytes(written)  # the writer finishes that file
    finally:
        go.touch()
    out, err = writer.communicate(timeout=LIVENESS_SECONDS)
    assert writer.returncode == 0, err.decode()
    hook.unlink()
    assert v.git("rev-parse", "HEAD~1").strip() == head and v.is_clean() and not (v.root / JOURNAL).exists()
    # The next reader sees the write.
    assert json.loads(v.ok("access", "--holder", "ben", "--json").stdout)["records"] == []
    assert [e["readable"] for e in show(v, rids[0], "ben")["entries"]] == [False]


# ---------------------------------------------------------------------------
# 7. append-only entries; a record's head and entries are separate files


def test_entry_blocks_stay_byte_identical(vault):
    v = vault
    rid = v.add_child("Ada Append", key_person="ben")
    hpath, path = head_file(v.root, rid), entries_file(v.root, rid)
    head = hpath.read_bytes()
    assert path.read_bytes() == envelope.EMPTY_TAIL == b"entries: []\n"
    v.add_entry(rid, "entry 0", "general", "observation")
    previous = path.read_bytes()
    # the first entry turns 'entries: []' into a list; nothing else changes
    assert previous.startswith(b"entries:\n- id: e-")
    assert v.changed() == [f"records/{rid}.entries.yaml"]
    for i, level in enumerate(["confidential", "safeguarding", "general"] * 3, start=1):
        v.add_entry(rid, f"entry {i}", level, "observation", ("amira", "ben", "cara")[i % 3])
        now = path.read_bytes()
        assert now.startswith(previous), f"adding entry {i} changed bytes already written"
        assert v.changed() == [f"records/{rid}.entries.yaml"], f"adding entry {i} committed more than the entries file"
        previous = now
    assert hpath.read_bytes() == head, "adding entries rewrote the head"
    diff = v.git("diff", "--numstat", "HEAD~9", "HEAD", "--", f"records/{rid}.entries.yaml").split()
    assert diff[1] == "0", "adding entries removed lines"

    # marking one entry re-encrypts that entry only; every other block keeps its bytes
    doc = doc_of(v, rid)
    target = doc["entries"][4]["id"]
    chunks_before = _entry_chunks(path.read_bytes())
    v.ok("mark", target, "--level", "safeguarding", "--reason", "asked")
    assert v.changed() == [f"records/{rid}.entries.yaml"]
    v.ok("mark", doc["entries"][1]["id"], "--parent-view", "confidential")
    assert v.changed() == [f"records/{rid}.entries.yaml"]
    assert hpath.read_bytes() == head, "marking an entry rewrote the head"
    chunks_after = _entry_chunks(path.read_bytes())
    assert list(chunks_before) == list(chunks_after)
    for eid, chunk in chunks_before.items():
        if eid in (target, doc["entries"][1]["id"]):
            assert chunk != chunks_after[eid]
        else:
            assert chunk == chunks_after[eid], f"entry {eid} changed bytes when another was marked"
    # the marking without a level change kept the entry's own block too, adding only the marking
    [old] = [e for e in doc["entries"] if e["id"] == doc["entries"][1]["id"]]
    [new] = [e for e in doc_of(v, rid)["entries"] if e["id"] == old["id"]]
    assert new["data"] == old["data"] and len(new["marks"]) == 1


def test_an_entry_sorted_into_the_middle_keeps_every_other_block(vault):
    """Entry ids sort by recording time; one that sorts earlier (a clock step back) is inserted, not rewritten."""
    from vault_cli.adapters.store import atomic_write
    from vault_cli.model import ids

    v = vault
    rid = v.add_child("Ada Insert")
    for i in range(3):
        v.add_entry(rid, f"entry {i}", "general", "note")
    path = entries_file(v.root, rid)
    head = head_file(v.root, rid).read_bytes()
    before = _entry_chunks(path.read_bytes())
    env = envelope.Envelope.read(f"records/{rid}.yaml", lambda rel: (v.root / rel).read_bytes(), entries=False)
    first = sorted(before)[0]
    early = "e-" + ids._time_part(0) + "0000"
    assert early < first
    key = env.current_key("general")
    env.append_entry({"id": early, "key": key.id, "data": crypto_block(key.recipient)})
    files = env.files()
    assert list(files) == [f"records/{rid}.entries.yaml"]  # the head is not rewritten
    for rel, data in files.items():
        atomic_write(v.root / rel, data)
    after = _entry_chunks(path.read_bytes())
    assert list(after) == [early] + list(before)
    for eid, chunk in before.items():
        assert after[eid] == chunk
    assert head_file(v.root, rid).read_bytes() == head


def crypto_block(recipient: str) -> str:
    from vault_cli.adapters import crypto

    return crypto.encrypt(b"{}", recipient)


def _entry_chunks(tail: bytes) -> dict[str, bytes]:
    """Each entry's bytes in an entries file, by id, in file order."""
    assert tail.startswith(b"entries:"), tail[:40]
    parts = tail.split(b"\n- id: ")[1:]
    out = {}
    for part in parts:
        eid = part.split(b"\n", 1)[0].decode()
        out[eid] = part if part.endswith(b"\n") else part + b"\n"
    return out


def _entries_untouched(v, rid: str, tail: bytes) -> None:
    """The last commit left the record's entries file alone: same bytes, not in the commit."""
    assert entries_file(v.root, rid).read_bytes() == tail
    assert f"records/{rid}.entries.yaml" not in v.changed()


def test_head_rewrites_leave_the_entries_file_untouched(vault):
    v = vault
    rid = v.add_child("Ada Tail", key_person="ben")
    for level in ("general", "confidential", "safeguarding"):
        v.add_entry(rid, f"{level} entry", level, "note")
    hpath = head_file(v.root, rid)
    head0, tail0 = hpath.read_bytes(), entries_file(v.root, rid).read_bytes()
    assert tail0.startswith(b"entries:\n- id: e-")

    v.ok("holder", "add", "zoe", "--role", "dsl", "--recipient", recipient_of(v.keys["eve"]),
         "--signing-key", signing_pub(v.keys, "eve"))
    head1 = hpath.read_bytes()
    assert head1 != head0 and f"records/{rid}.yaml" in v.changed()
    _entries_untouched(v, rid, tail0)
    assert all("zoe" in k["wrapped"] for k in doc_of(v, rid)["keys"])

    v.ok("holder", "add", "rex", "--role", "practitioner", "--recipient", recipient_of(v.keys["rec"]),
         "--signing-key", signing_pub(v.keys, "rec"))
    head2 = hpath.read_bytes()
    assert head2 != head1 and f"records/{rid}.yaml" in v.changed()
    _entries_untouched(v, rid, tail0)

    v.ok("child", "set", rid, "room=sunflower")
    head3 = hpath.read_bytes()
    assert head3 != head2 and v.changed() == [f"records/{rid}.yaml"]
    _entries_untouched(v, rid, tail0)
    # and the record still reads in full for the new holders
    assert [e["readable"] for e in show(v, rid)["entries"]] == [True, True, True]
    v.keys["zoe"] = v.keys["eve"]  # zoe was added with eve's key
    assert [e["readable"] for e in show(v, rid, "zoe")["entries"]] == [True, True, True]


def test_each_command_commits_only_its_own_half_of_a_record(vault, monkeypatch):
    """Access and profile commands commit head files only; entry commands the one entries file only."""
    monkeypatch.setenv("CONFIDE_NOW", "2026-11-24T10:00:00+00:00")
    v = vault
    rids = [v.add_child("Ada Halves", key_person="ben"), v.add_child("Bo Halves", key_person="cara")]
    # child add: both files, a head without entries and an empty entries file
    r3 = v.ok("child", "add", "--name", "Cy Halves").last_line
    rids.append(r3)
    assert v.changed() == [f"records/{r3}.entries.yaml", f"records/{r3}.yaml"]
    assert entries_file(v.root, r3).read_bytes() == b"entries: []\n"
    new_head = head_file(v.root, r3).read_bytes()
    assert new_head.startswith(f"format: {envelope.FORMAT}\n".encode()) and b"entries:" not in new_head
    eids = {rid: v.add_entry(rid, "first", "confidential", "note") for rid in rids}
    v.ok("holder", "add", "eve", "--role", "auditor", "--recipient", recipient_of(v.keys["eve"]))

    assert "allowed_signers" not in v.git("ls-files").split()
    heads = lambda *which: {f"records/{r}.yaml" for r in which}  # noqa: E731
    ALL = tuple(rids)
    a, b, c = rids
    steps = [
        # (command, record files the commit must change); other files: holders.yaml only (allowed_signers
        # is derived into .git/confide from the verified holders, never tracked)
        (("add", a, "--level", "general", "--category", "note", "--text", "x"), {f"records/{a}.entries.yaml"}),
        (("mark", eids[b], "--parent-view", "confidential"), {f"records/{b}.entries.yaml"}),
        (("mark", eids[c], "--level", "safeguarding", "--reason", "asked"), {f"records/{c}.entries.yaml"}),
        (("child", "set", a, "room=rainbow"), heads(a)),
        (("grant", "cara", "--child", a, "--level", "confidential"), heads(a)),
        (("grant", "eve", "--all", "--level", "general", "--until", "2026-11-30"), heads(*ALL)),
        (("revoke", "cara", "--child", a), heads(a)),
        (("revoke", "ben", "--all"), heads(*ALL)),
        (("key-person", b, "dara"), heads(b)),
        (("holder", "rotate", "dara", "--recipient", recipient_of(v.keys["rec"]), "--signing-key",
          signing_pub(v.keys, "eve")), heads(*ALL)),
        (("holder", "remove", "cara", "--reason", "left"), heads(*ALL)),
    ]
    for args, expected in steps:
        tails = {rid: entries_file(v.root, rid).read_bytes() for rid in rids}
        heads_before = {rid: head_file(v.root, rid).read_bytes() for rid in rids}
        before = v.head()
        v.ok(*args)
        assert v.git("rev-parse", "HEAD~1").strip() == before, f"{args}: not one commit"
        changed = set(v.changed())
        assert {p for p in changed if p.startswith("records/")} == expected, (args, changed)
        assert changed - expected <= {"holders.yaml"}, (args, changed)
        for rid in rids:
            if f"records/{rid}.entries.yaml" not in expected:
                assert entries_file(v.root, rid).read_bytes() == tails[rid], (args, rid)
            if f"records/{rid}.yaml" not in expected:
                assert head_file(v.root, rid).read_bytes() == heads_before[rid], (args, rid)
        assert v.is_clean()

    # expiry, applied by 'confide expire' once the grant has ended: heads only
    monkeypatch.setenv("CONFIDE_NOW", "2026-12-02T09:00:00+00:00")
    tails = {rid: entries_file(v.root, rid).read_bytes() for rid in rids}
    before = v.head()
    v.ok("expire")
    assert v.git("rev-parse", "HEAD~1").strip() == before
    assert set(v.changed()) == heads(*ALL)
    assert {rid: entries_file(v.root, rid).read_bytes() for rid in rids} == tails
    # every record still reads in full, and exactly as many entries as were written
    for rid, n in zip(rids, (2, 1, 1), strict=True):
        data = show(v, rid)
        assert len(data["entries"]) == n and all(e["readable"] for e in data["entries"])
