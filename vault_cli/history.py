"""The history as an audit trail: ``confide verify`` and ``confide audit``.

verify walks the commits (all, or those after ``--since REV``) oldest first and
checks each against the vault as it stood *before* it: the holders, their roles
and signing keys in that commit's parent. Structural checks need no key; with a
holder's identity, verify also opens the blocks that holder can read and checks
their bindings and authors. Each problem is a ``Finding`` naming the commit, the
file and what is wrong; findings never quote a child's data.

Cost: one ``git rev-list``, one ``git diff-tree --stdin`` and one
``git cat-file --batch`` process for the whole walk; signatures are checked
in-process (``signing.verify_commit``); a record version is parsed once, and an
entry appended to a record is checked by parsing only the appended bytes. So
the cost per commit stays flat as history grows.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import crypto, envelope, ids, schema, signing, yamlio
from .errors import ConfideError, ExternalError, IntegrityError, UsageError
from .gitstore import git_binary, git_env
from .holders import HOLDERS_FILE, Holder, Holders
from .settings import SETTINGS_FILE, Settings

SINGLE_RECORD_ACTIONS = {"entry.add", "entry.mark", "record.create", "profile.update"}
ERASE_ACTIONS = {"entry.erase", "record.erase", "history.purge", "record.purge"}
TOP_FILES = {SETTINGS_FILE, HOLDERS_FILE, "allowed_signers", ".gitattributes", ".gitignore", "records/.gitkeep"}
_TRAILER = re.compile(r"^(Confide-[A-Za-z-]+):\s*(.*)$")


@dataclass
class Finding:
    commit: str
    file: Optional[str]
    check: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class VerifyResult:
    commits: int
    findings: list
    content_checked: bool
    reader: Optional[str]
    head: Optional[str]
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "commits": self.commits, "head": self.head, "findings": [f.to_dict() for f in self.findings],
            "content_checked": self.content_checked, "reader": self.reader, "notes": self.notes,
            "ok": not self.findings,
        }


# ---------------------------------------------------------------------------
# git plumbing




class CatFile:
    """One ``git cat-file --batch`` process for every object of a walk (``--batch-check`` with ``check``:
    object ids only, for names such as ``COMMIT:PATH``)."""

    def __init__(self, root: Path, *, check: bool = False) -> None:
        mode = "--batch-check" if check else "--batch"
        self.proc = subprocess.Popen([git_binary(), "-C", str(root), "cat-file", mode], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=git_env())

    def _header(self, name: str) -> Optional[list]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(name.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline()
        if header.endswith(b" missing\n") or not header:
            return None
        return header.split()

    def get(self, name: str) -> Optional[bytes]:
        header = self._header(name)
        if header is None:
            return None
        assert self.proc.stdout
        return self.proc.stdout.read(int(header[2]) + 1)[:-1]

    def oid(self, name: str) -> Optional[str]:
        """The object id ``name`` resolves to (a ``check`` process), None when there is none."""
        header = self._header(name)
        return header[0].decode() if header else None

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:  # pragma: no cover
            self.proc.kill()


class StreamCat:
    """``git cat-file --batch`` fed a known list of names by a thread: no round trip per object."""

    def __init__(self, root: Path, names: list) -> None:
        import threading

        self.proc = subprocess.Popen([git_binary(), "-C", str(root), "cat-file", "--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=git_env(), bufsize=1 << 20)
        data = "".join(n + "\n" for n in names).encode()

        def feed() -> None:
            try:
                assert self.proc.stdin
                self.proc.stdin.write(data)
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

        self.thread = threading.Thread(target=feed, daemon=True)
        self.thread.start()

    def next(self) -> Optional[bytes]:
        assert self.proc.stdout
        header = self.proc.stdout.readline()
        if not header or header.endswith(b" missing\n"):
            return None
        size = int(header.split()[2])
        return self.proc.stdout.read(size + 1)[:-1]

    def close(self) -> None:
        try:
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc.wait(timeout=10)
        except Exception:  # pragma: no cover
            self.proc.kill()


def _run(root: Path, *args: str, input: Optional[bytes] = None) -> bytes:
    proc = subprocess.run([git_binary(), "-C", str(root), *args], input=input, capture_output=True, env=git_env())
    if proc.returncode != 0:
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise ExternalError(f"git {args[0]} failed: {first[0] if first else proc.returncode}", "check the vault with: git status")
    return proc.stdout


@dataclass
class CommitInfo:
    sha: str
    parents: list
    author: str
    author_email: str
    time: int
    tz: str
    message: str
    trailers: dict
    sig: signing.SigInfo

    @property
    def action(self) -> Optional[str]:
        return self.trailers.get("Confide-Action")

    @property
    def claimed(self) -> str:
        return self.trailers.get("Confide-Holder") or self.author

    @property
    def when(self) -> dt.datetime:
        sign = -1 if self.tz.startswith("-") else 1
        off = dt.timedelta(hours=int(self.tz[1:3]), minutes=int(self.tz[3:5])) * sign
        return dt.datetime.fromtimestamp(self.time, dt.timezone(off))


def parse_commit(sha: str, raw: bytes) -> CommitInfo:
    head, _, body = raw.partition(b"\n\n")
    parents, author, email, when, tz = [], "", "", 0, "+0000"
    for line in head.split(b"\n"):
        if line.startswith(b"parent "):
            parents.append(line[7:].decode())
        elif line.startswith(b"author "):
            text = line[7:].decode("utf-8", "replace")
            m = re.match(r"^(.*) <([^>]*)> (\d+) ([+-]\d{4})$", text)
            if m:
                author, email, when, tz = m.group(1), m.group(2), int(m.group(3)), m.group(4)
    message = body.decode("utf-8", "replace")
    trailers = {}
    for line in message.splitlines():
        m = _TRAILER.match(line.strip())
        if m and m.group(1) not in trailers:
            trailers[m.group(1)] = m.group(2).strip()
    return CommitInfo(sha, parents, author, email, when, tz, message, trailers, signing.verify_commit(raw))


def resolve_rev(root: Path, rev: str) -> str:
    proc = subprocess.run([git_binary(), "-C", str(root), "rev-parse", "--verify", "-q", rev + "^{commit}"],
                          capture_output=True, env=git_env())
    if proc.returncode != 0:
        raise UsageError(f"--since {rev[:60]} is not a commit of this vault", "give a commit id, tag or branch, e.g. --since HEAD~10")
    return proc.stdout.decode().strip()


def rev_list(root: Path, since: Optional[str], reverse: bool = True) -> list[tuple[str, list]]:
    if _run(root, "rev-parse", "--verify", "-q", "HEAD^{commit}").strip() == b"":  # pragma: no cover
        return []
    spec = [f"{since}..HEAD"] if since else ["HEAD"]
    args = ["rev-list", "--topo-order", "--parents", *spec]
    if reverse:
        args.insert(1, "--reverse")
    out = []
    for line in _run(root, *args).decode().splitlines():
        parts = line.split()
        if parts:
            out.append((parts[0], parts[1:]))
    return out


def diff_tree(root: Path, commits: list[tuple[str, list]]) -> dict[str, list]:
    """Changed files of each commit against its first parent: {sha: [(path, old, new)]}."""
    if not commits:
        return {}
    lines = "".join(f"{c} {ps[0]}\n" if ps else f"{c}\n" for c, ps in commits).encode()
    out = _run(root, "diff-tree", "--stdin", "-r", "-z", "--raw", "--no-renames", "--always", "--root", input=lines)
    result: dict[str, list] = {}
    tokens = out.split(b"\0")
    current = None
    i = 0
    zero = "0" * 40
    while i < len(tokens):
        t = tokens[i]
        if not t:
            i += 1
            continue
        if t.startswith(b":"):
            meta = t[1:].decode().split()
            path = tokens[i + 1].decode("utf-8", "surrogateescape")
            old, new = meta[2], meta[3]
            result[current].append((path, None if old == zero else old, None if new == zero else new))
            i += 2
            continue
        current = t.decode().strip().split()[0]
        result.setdefault(current, [])
        i += 1
    return result


# ---------------------------------------------------------------------------
# The reader: whoever runs verify/audit, and which blocks they can open


class Reader:
    def __init__(self, identities: list, name: Optional[str]) -> None:
        self.identities = identities
        self.name = name
        self._keys: dict = {}
        self.head_keys: dict = {}  # record -> {key id: key dict} from HEAD, for copies granted later

    @classmethod
    def none(cls) -> "Reader":
        return cls([], None)

    def level_identity(self, record: str, key: dict, source: str) -> Optional[crypto.Identity]:
        if self.name is None:
            return None
        ck = (record, key["id"])
        if ck in self._keys:
            return self._keys[ck]
        result = None
        candidates = [key]
        later = self.head_keys.get(record, {}).get(key["id"])
        if later is not None and later is not key:
            candidates.append(later)
        for k in candidates:
            wrapped = (k.get("wrapped") or {}).get(self.name)
            if not wrapped:
                continue
            for ident in self.identities:
                try:
                    result = envelope.unwrap_level_key(wrapped, ident, record=record, key=key, source=source)
                    break
                except crypto.NotForThisKey:
                    continue
                except IntegrityError:  # a damaged or moved copy: check_head reports it; here it opens nothing
                    break
            if result is not None:
                break
        self._keys[ck] = result
        return result


def make_reader(root: Path, identity: Optional[str], holders: Holders) -> tuple[Reader, Optional[str]]:
    """The caller's identity, if one is given or found; verify and audit work without one."""
    from .vault import identity_location, load_identities

    path, how = identity_location(identity)
    if not path.exists() and how == "the default location":
        return Reader.none(), "no identity found: checks that need a key were skipped"
    idents, _ = load_identities(identity)
    recips = {i.recipient for i in idents}
    for h in holders.all:
        if h.recipient in recips or recips & set(h.previous_recipients or []):
            return Reader(idents, h.name), None
    return Reader.none(), "the identity is not a holder's: checks that need a key were skipped"


# ---------------------------------------------------------------------------
# Parsed versions of files, cached by blob id


def _holders_from(raw: bytes) -> Holders:
    data = yamlio.load(raw, HOLDERS_FILE)
    schema.check("holders", data, HOLDERS_FILE)
    return Holders(Holder(**h) for h in data["holders"])


def _settings_from(raw: bytes) -> Settings:
    data = yamlio.load(raw, SETTINGS_FILE)
    schema.check("settings", data, SETTINGS_FILE)
    return Settings(data)


@dataclass
class RecordVersion:
    """One version of a record: its head file's bytes and its entries file's bytes, parsed."""

    head_raw: bytes
    tail: bytes
    head: Optional[dict]
    error: Optional[Finding] = None
    _entries: Optional[dict] = None

    def entries(self) -> dict:
        if self._entries is None:
            data = yamlio.load(self.tail, "entries") if self.tail.strip() else {"entries": []}
            items = (data or {}).get("entries") or []
            self._entries = {e["id"]: e for e in items}
        return self._entries

    def key(self, key_id: str) -> Optional[dict]:
        for k in (self.head or {}).get("keys", []):
            if k["id"] == key_id:
                return k
        return None


def _plaintext_in(node: Any, path: str = "") -> Optional[str]:
    """Where an age block should be and something else is."""
    if isinstance(node, dict):
        for k, v in node.items():
            where = f"{path}.{k}" if path else str(k)
            if k == "data" or path.endswith("wrapped"):
                if not crypto.block_is_armored(v):
                    return where
            else:
                hit = _plaintext_in(v, where)
                if hit:
                    return hit
    elif isinstance(node, list):
        for i, v in enumerate(node):
            hit = _plaintext_in(v, f"{path}[{i}]")
            if hit:
                return hit
    return None


def parse_record(head_raw: bytes, tail: Optional[bytes], path: str, commit: str) -> RecordVersion:
    """Parse a record's head (``path``) and entries file; damage becomes the version's ``error``."""
    epath = envelope.entries_source(path)
    rv = RecordVersion(head_raw, tail or b"", None)
    if tail is None:
        rv.error = Finding(commit, epath, "removed", f"{epath} is missing: the record {Path(path).stem} has no entries file")
        return rv
    try:
        head = yamlio.load(head_raw, path) if head_raw.strip() else None
        if not isinstance(head, dict):
            raise IntegrityError(f"{path} is not a record envelope")
        if "entries" in head:
            raise IntegrityError(f"{path} holds entries, which belong in {epath}")
    except IntegrityError as exc:
        rv.error = Finding(commit, path, "schema", exc.message)
        return rv
    try:
        tail_data = yamlio.load(tail, epath) if tail.strip() else None
        if not isinstance(tail_data, dict) or set(tail_data) != {"entries"}:
            raise IntegrityError(f"{epath} holds something other than one 'entries' list")
    except IntegrityError as exc:
        rv.error = Finding(commit, epath, "schema", exc.message)
        return rv
    spot = _plaintext_in(head)
    if spot:
        rv.error = Finding(commit, path, "plaintext", f"{path} holds unencrypted content where an age block belongs ({spot})")
        return rv
    spot = _plaintext_in({"entries": tail_data["entries"] or []})
    if spot:
        rv.error = Finding(commit, epath, "plaintext", f"{epath} holds unencrypted content where an age block belongs ({spot})")
        return rv
    probe = dict(head)
    probe["entries"] = []
    try:
        schema.check("record", probe, path)
    except IntegrityError as exc:
        rv.error = Finding(commit, path, "schema", exc.message)
        return rv
    entries = tail_data["entries"] or []
    try:
        schema.check_def("record", "entry_list", entries, epath)
    except IntegrityError as exc:
        rv.error = Finding(commit, epath, "schema", exc.message)
        return rv
    seen = [e["id"] for e in entries]
    if seen != sorted(set(seen)):
        rv.error = Finding(commit, epath, "schema", f"{epath} has entries out of order or repeated")
        return rv
    if head["record"] + envelope.HEAD_SUFFIX != Path(path).name:
        rv.error = Finding(commit, path, "binding", f"{path} holds record {head['record']}, not the one its file name says")
        return rv
    rv.head = head
    rv._entries = {e["id"]: e for e in entries}
    return rv


def _chunks(tail: bytes) -> Optional[dict]:
    """Entry items of a tail as written by confide, by id, as raw bytes; None if it is not in that shape."""
    if tail.strip() in (b"entries: []", b"entries:"):
        return {}
    if not tail.startswith(b"entries:\n- id: e-"):
        return None
    parts = tail[len(b"entries:\n- id: "):].split(b"\n- id: ")
    out = {}
    for part in parts:
        eid = part[:16].decode("ascii", "replace")
        if not ids.ENTRY_RE.fullmatch(eid) or part[16:17] != b"\n" or eid in out:
            return None
        out[eid] = part.rstrip(b"\n")
    return out


_ARMOR_LINE = re.compile(r"^[A-Za-z0-9+/=-]+(?: [A-Z]+)*[A-Za-z0-9+/=-]*$")


def _block(lines: list, i: int, indent: str) -> tuple[Optional[str], int]:
    """A literal block scalar (``|``) of armored lines at ``indent``, as YAML reads it (one final newline)."""
    out = []
    while i < len(lines) and lines[i].startswith(indent) and not lines[i][len(indent):].startswith(" "):
        body = lines[i][len(indent):]
        if not body or not _ARMOR_LINE.match(body):
            return None, i
        out.append(body)
        i += 1
    if not out:
        return None, i
    return "\n".join(out) + "\n", i


def parse_entry_chunk(chunk: bytes) -> Optional[dict]:
    """An entry item exactly as confide writes it, without the YAML machinery (~20x faster).

    Only the one shape confide writes is accepted (id, key, armored data, optional
    marks of id, key, armored data); anything else returns None and the caller
    parses it with YAML, which reports what is wrong.
    """
    try:
        lines = chunk.decode("ascii").split("\n")
    except UnicodeDecodeError:
        return None
    if len(lines) < 4 or not lines[0].startswith("- id: ") or not lines[1].startswith("  key: ") or lines[2] != "  data: |":
        return None
    entry = {"id": lines[0][6:], "key": lines[1][7:]}
    data, i = _block(lines, 3, "    ")
    if data is None:
        return None
    entry["data"] = data
    if i < len(lines) and lines[i] == "  marks:":
        i += 1
        marks = []
        while i < len(lines) and lines[i].startswith("  - id: "):
            if i + 2 >= len(lines) or not lines[i + 1].startswith("    key: ") or lines[i + 2] != "    data: |":
                return None
            mark = {"id": lines[i][8:], "key": lines[i + 1][9:]}
            mdata, i = _block(lines, i + 3, "      ")
            if mdata is None:
                return None
            mark["data"] = mdata
            marks.append(mark)
        if not marks:
            return None
        entry["marks"] = marks
    if i != len(lines):
        return None
    return entry


def parse_record_incremental(old: RecordVersion, head_raw: bytes, tail: Optional[bytes], path: str, commit: str) -> Optional[RecordVersion]:
    """A new version of a record parsed against the previous one: only changed parts are parsed.

    Entry items are compared as bytes (confide writes them deterministically, and
    old blocks stay byte-identical); only new or changed items are parsed and
    validated. The head is parsed only when its bytes changed. None sends the
    caller to the full parse (which also reports any damage precisely).
    """
    if old.head is None or old._entries is None or tail is None:
        return None
    old_chunks = old.__dict__.get("_chunks")
    if old_chunks is None:
        old_chunks = _chunks(old.tail)
        if old_chunks is None:
            return None
    new_chunks = _chunks(tail)
    if new_chunks is None:
        return None
    order = list(new_chunks)
    if order != sorted(order):
        return None
    if head_raw == old.head_raw:
        head = old.head
    else:
        try:
            head = yamlio.load(head_raw, path) if head_raw else None
            if not isinstance(head, dict) or _plaintext_in(head):
                return None
            probe = dict(head)
            probe["entries"] = []
            schema.check("record", probe, path)
        except IntegrityError:
            return None
        if "entries" in head or head.get("record", "") + envelope.HEAD_SUFFIX != Path(path).name:
            return None
    changed = [eid for eid, chunk in new_chunks.items() if old_chunks.get(eid) != chunk]
    entries = {}
    if changed:
        try:
            items = [parse_entry_chunk(b"- id: " + new_chunks[e]) for e in changed]
            if any(x is None for x in items):
                data = yamlio.load(b"entries:\n" + b"".join(b"- id: " + new_chunks[e] + b"\n" for e in changed), path)
                items = data["entries"]
            schema.check_def("record", "entry_list", items, path)
        except (IntegrityError, KeyError, TypeError):
            return None
        if _plaintext_in({"entries": items}) or [e["id"] for e in items] != changed:
            return None
        entries = {e["id"]: e for e in items}
    merged = {eid: (entries[eid] if eid in entries else old._entries[eid]) for eid in order}
    rv = RecordVersion(head_raw, tail, head)
    rv._entries = merged
    rv.__dict__["_chunks"] = new_chunks
    return rv


# ---------------------------------------------------------------------------
# verify


class Verifier:
    def __init__(self, root: Path, reader: Reader) -> None:
        self.root = root
        self.reader = reader
        self.cat = CatFile(root)
        self.check = CatFile(root, check=True)
        self._tip_commit: Optional[str] = None  # the commit being checked, and record blobs known there
        self._tip_blobs: dict = {}  # (record id, "head" | "entries") -> blob id (None: no such file)
        self.findings: list[Finding] = []
        self._holders: dict = {}
        self._settings: dict = {}
        self._records: dict = {}  # record id -> ((head blob, entries blob), RecordVersion): the last version seen
        self.state: dict = {}  # commit -> {top file: blob}
        self.names: dict = {}  # child's name -> record id (from profiles the reader can open)
        self.messages: list = []  # (commit, message)
        self.paths: set = set()
        self._pref: dict = {}  # objects of the commit being checked, streamed ahead
        self._good_holders: Optional[Holders] = None
        self._head_profiles: dict = {}  # record -> (path, profile block) at HEAD, for names outside --since
        self._good_settings: Optional[Settings] = None

    # -- helpers -------------------------------------------------------------
    def add(self, commit: str, file: Optional[str], check: str, message: str) -> None:
        self.findings.append(Finding(commit, file, check, message))

    def blob(self, sha: Optional[str]) -> Optional[bytes]:
        if sha is None:
            return None
        got = self._pref.get(sha)
        return got if got is not None else self.cat.get(sha)

    def holders(self, blob: Optional[str]) -> Optional[Holders]:
        if blob is None:
            return None
        if blob not in self._holders:
            try:
                self._holders[blob] = _holders_from(self.blob(blob) or b"")
            except ConfideError:
                self._holders[blob] = None
        return self._holders[blob]

    def settings(self, blob: Optional[str]) -> Optional[Settings]:
        if blob is None:
            return None
        if blob not in self._settings:
            try:
                self._settings[blob] = _settings_from(self.blob(blob) or b"")
            except ConfideError:
                self._settings[blob] = None
        return self._settings[blob]

    def top_state(self, commit: str) -> dict:
        if commit in self.state:
            return self.state[commit]
        out = {}
        raw = _run(self.root, "ls-tree", "-z", commit)
        for item in raw.split(b"\0"):
            if not item:
                continue
            meta, _, name = item.partition(b"\t")
            parts = meta.split()
            if parts[1] == b"blob":
                out[name.decode()] = parts[2].decode()
        out = {k: v for k, v in out.items() if k in TOP_FILES}
        self.state[commit] = out
        return out

    def record_version(self, rid: str, blobs: tuple, commit: str, base: Optional[RecordVersion] = None) -> Optional[RecordVersion]:
        """The record as its (head blob, entries blob) hold it; None when it has no head file."""
        head_blob, entries_blob = blobs
        if head_blob is None:
            return None
        last = self._records.get(rid)
        if last and last[0] == blobs:
            return last[1]
        path = f"records/{rid}{envelope.HEAD_SUFFIX}"
        head_raw = self.blob(head_blob) or b""
        tail = (self.blob(entries_blob) or b"") if entries_blob is not None else None
        rv = parse_record_incremental(base, head_raw, tail, path, commit) if base is not None and base.error is None else None
        if rv is None:
            rv = parse_record(head_raw, tail, path, commit)
        self._records[rid] = (blobs, rv)
        return rv

    def record_blobs(self, rid: str, commit: Optional[str], changed: dict) -> tuple:
        """(head blob, entries blob) of a record at ``commit``, taking ``changed`` ({part: blob}) as given."""
        out = []
        for part, suffix in (("head", envelope.HEAD_SUFFIX), ("entries", envelope.ENTRIES_SUFFIX)):
            if part in changed:
                out.append(changed[part])
            elif commit is None:
                out.append(None)
            elif commit == self._tip_commit and (rid, part) in self._tip_blobs:
                out.append(self._tip_blobs[(rid, part)])
            else:
                blob = self.check.oid(f"{commit}:records/{rid}{suffix}")
                if commit == self._tip_commit:
                    self._tip_blobs[(rid, part)] = blob
                out.append(blob)
        return tuple(out)

    def _advance_tip(self, c: CommitInfo, changes: list) -> None:
        """Keep record blobs known at the commit being checked: along a first-parent chain
        (most of any history) the blob of a file a commit did not change is already known."""
        first = c.parents[0] if c.parents else None
        if first is None or first != self._tip_commit:
            self._tip_blobs = {}
        for path, _old, new in changes:
            part = envelope.record_of(path)
            if part is not None:
                self._tip_blobs[part] = new
        self._tip_commit = c.sha

    # -- the walk ------------------------------------------------------------
    def run(self, since: Optional[str]) -> int:
        commits = rev_list(self.root, since)
        diffs = diff_tree(self.root, commits)
        self._load_head_keys()
        plan = []
        for sha, _parents in commits:
            plan.append(sha)
            plan.extend(new for _path, _old, new in diffs.get(sha, []) if new is not None)
        stream = StreamCat(self.root, plan)
        try:
            for sha, parents in commits:
                raw = stream.next()
                self._pref = {}
                for _path, _old, new in diffs.get(sha, []):
                    if new is not None:
                        self._pref[new] = stream.next()
                info = parse_commit(sha, raw or b"")
                self.messages.append((sha, info.message))
                self.check_commit(info, diffs.get(sha, []))
            self._pref = {}
        finally:
            stream.close()
        self.check_names()
        self.cat.close()
        self.check.close()
        return len(commits)

    def _load_head_keys(self) -> None:
        if self.reader.name is None:
            return
        raw = _run(self.root, "ls-tree", "-z", "HEAD", "records/")
        for item in raw.split(b"\0"):
            if not item:
                continue
            meta, _, name = item.partition(b"\t")
            path = name.decode()
            part = envelope.record_of(path)
            if part is None or part[1] != "head":
                continue
            rid = part[0]
            data = self.cat.get(meta.split()[2].decode()) or b""
            try:
                head = yamlio.load(data, path)
                self.reader.head_keys[rid] = {k["id"]: k for k in head.get("keys", [])}
                self._head_profiles[rid] = (path, head["profile"])
            except Exception:
                continue

    def check_commit(self, c: CommitInfo, changes: list) -> None:
        self._advance_tip(c, changes)
        first = c.parents[0] if c.parents else None
        before = dict(self.top_state(first)) if first else {}
        after = dict(before)
        for path, old, new in changes:
            if path in TOP_FILES:
                if new is None:
                    after.pop(path, None)
                else:
                    after[path] = new
        self.state[c.sha] = after
        ref_state = before if first else after
        holders = self.holders(ref_state.get(HOLDERS_FILE))
        settings = self.settings(ref_state.get(SETTINGS_FILE))
        # A broken holders.yaml / confide.yaml was reported where it broke; judge by the last good one.
        holders = holders or self._good_holders or Holders([])
        settings = settings or self._good_settings
        if settings is None:
            self.add(c.sha, SETTINGS_FILE, "schema", "there is no valid confide.yaml before this commit, so its roles cannot be checked")
            return
        self._good_holders, self._good_settings = holders, settings
        actor = self.check_signature(c, holders, settings)
        ctx = _Ctx(c, actor, holders, settings, after)
        if len(c.parents) > 1:
            self.check_merge(c, changes, ctx)
            return
        records: dict = {}  # record id -> {"head"/"entries": (old blob, new blob)}
        for path, old, new in changes:
            self.paths.add(path)
            part = envelope.record_of(path)
            if part is not None:
                records.setdefault(part[0], {})[part[1]] = (old, new)
            else:
                self.check_change(ctx, path, old, new)
        for rid, parts in records.items():
            self.check_record_change(ctx, rid, parts, first)
        self.check_trailers(c, changes)

    def check_trailers(self, c: CommitInfo, changes: list) -> None:
        """The audit trail must say what the commit did: its record and entry trailers match its changes."""
        if c.action not in SINGLE_RECORD_ACTIONS:
            return
        rec = c.trailers.get("Confide-Record")
        touched = sorted(p for p, _o, _n in changes if p.startswith("records/") and p != "records/.gitkeep")
        own = {f"records/{rec}{envelope.HEAD_SUFFIX}", f"records/{rec}{envelope.ENTRIES_SUFFIX}"}
        if not touched or not set(touched) <= own:
            self.add(c.sha, None, "trailer", f"the commit says '{c.action}' on record {rec} but changes "
                     + (", ".join(touched[:3]) if touched else "no record"))
            return
        eid = c.trailers.get("Confide-Entry")
        if c.action in ("entry.add", "entry.mark"):
            last = self._records.get(rec)
            if last is None or last[1].head is None or eid not in last[1].entries():
                self.add(c.sha, touched[0], "trailer", f"the commit says '{c.action}' of entry {eid}, which the record does not hold")

    def check_signature(self, c: CommitInfo, holders: Holders, settings: Settings) -> Optional[Holder]:
        claimed = holders.find(c.claimed)
        if c.author and c.trailers.get("Confide-Holder") and c.author != c.trailers["Confide-Holder"]:
            self.add(c.sha, None, "author", f"the commit's author '{c.author}' is not the holder its trailer names ('{c.claimed}')")
        sig = c.sig
        if sig.status == "unsigned":
            self.add(c.sha, None, "unsigned", f"the commit is not signed (it claims to be by '{c.claimed}')")
            return claimed
        if sig.status == "bad":
            self.add(c.sha, None, "signature", f"the commit's signature is not valid: {sig.detail}")
            return claimed
        blob = signing.parse_public_key(sig.key)
        signer = None
        for h in holders.all:
            if h.signing_key and signing.parse_public_key(h.signing_key) == blob:
                signer = h
                break
        if signer is None:
            former = None
            for h in holders.all:
                if any(signing.parse_public_key(k["key"]) == blob for k in (h.previous_signing_keys or [])):
                    former = h
            if former is not None:
                self.add(c.sha, None, "signer", f"the commit is signed with a key '{former.name}' no longer used at that point (it was replaced)")
            else:
                self.add(c.sha, None, "signer", f"the commit is signed by a key that was not any holder's at that point ({signing.fingerprint(sig.key)})")
            return claimed
        if not signer.active:
            self.add(c.sha, None, "signer", f"the commit is signed by '{signer.name}', who was not an active holder at that point")
            return claimed
        if signer.name != c.claimed:
            self.add(c.sha, None, "signer", f"the commit says it is by '{c.claimed}' but was signed by '{signer.name}'")
        return signer

    # -- one changed file ------------------------------------------------------
    def check_change(self, ctx: "_Ctx", path: str, old: Optional[str], new: Optional[str]) -> None:
        c = ctx.c
        if path in (HOLDERS_FILE, SETTINGS_FILE, ".gitattributes", ".gitignore"):
            if c.parents and not ctx.manager:
                self.add(c.sha, path, "role", f"{path} was changed by '{ctx.name}', who does not manage holders (not a manager)")
            if new is None:
                self.add(c.sha, path, "removed", f"{path} was removed")
            elif path == HOLDERS_FILE and self.holders(new) is None:
                self.add(c.sha, path, "schema", "holders.yaml is not valid (YAML or schema)")
            elif path == SETTINGS_FILE and self.settings(new) is None:
                self.add(c.sha, path, "schema", "confide.yaml is not valid (YAML or schema)")
            if path == HOLDERS_FILE and new is not None:
                self.check_allowed_signers(ctx)
            return
        if path == "allowed_signers":
            self.check_allowed_signers(ctx)
            return
        if path == "records/.gitkeep":
            return
        if new is not None:
            self.add(c.sha, path, "file-name",
                     f"unexpected file {path}: a vault holds only confide's files, records/<id>.yaml and records/<id>.entries.yaml")

    def check_record_change(self, ctx: "_Ctx", rid: str, parts: dict, parent: Optional[str]) -> None:
        """One record's files changed in a commit: judge the record as a whole (head and entries together)."""
        c = ctx.c
        path = f"records/{rid}{envelope.HEAD_SUFFIX}"
        epath = f"records/{rid}{envelope.ENTRIES_SUFFIX}"
        if ctx.role is None or not (ctx.role.acts and ctx.role.writes):
            for part in sorted(parts):
                self.add(c.sha, path if part == "head" else epath, "role",
                         f"{path if part == 'head' else epath} was changed by '{ctx.name}', whose role may not write")
        new_blobs = self.record_blobs(rid, c.sha, {p: n for p, (_o, n) in parts.items()})
        # a part this commit did not change is the same blob in its parent: no second lookup
        same = {p: new_blobs[i] for i, p in enumerate(("head", "entries")) if p not in parts}
        old_blobs = self.record_blobs(rid, parent, {**same, **{p: o for p, (o, _n) in parts.items()}})
        old_rv = self.record_version(rid, old_blobs, c.sha) if old_blobs[0] else None
        new_rv = self.record_version(rid, new_blobs, c.sha, base=old_rv)
        if new_rv is None:
            if new_blobs[1] is not None:
                self.add(c.sha, path, "removed", f"{path} is missing while {epath} is there: the record has no head")
            elif not ctx.erasure:
                self.add(c.sha, path, "removed", f"record {rid} was removed, and not by a recorded erasure")
            return
        if new_rv.error is not None:
            self.findings.append(new_rv.error)  # a head without its entries file too: an erasure removes both
            return
        if old_rv is not None and old_rv.error is not None:
            old_rv = None  # already reported; compare against nothing
        self.check_record(ctx, path, old_rv, new_rv)

    def check_allowed_signers(self, ctx: "_Ctx") -> None:
        hb, ab = ctx.after.get(HOLDERS_FILE), ctx.after.get("allowed_signers")
        holders = self.holders(hb)
        if holders is None:
            return
        expected = signing.allowed_signers_text(holders).encode()
        actual = self.blob(ab) if ab else None
        if actual != expected:
            self.add(ctx.c.sha, "allowed_signers", "allowed-signers", "allowed_signers does not match the signing keys in holders.yaml")

    # -- records -------------------------------------------------------------
    def check_record(self, ctx: "_Ctx", path: str, old: Optional[RecordVersion], new: RecordVersion) -> None:
        c = ctx.c
        rid = new.head["record"]
        if new.head_raw != (old.head_raw if old else None):
            self.check_head(ctx, path, rid, old, new)
        # entries: findings name the entries file
        path = envelope.entries_source(path)
        old_entries = old.entries() if old else {}
        new_entries = new.entries()
        for eid, item in old_entries.items():
            now = new_entries.get(eid)
            if now is None:
                if not ctx.erasure:
                    self.add(c.sha, path, "entry-removed", f"entry {eid} was removed, and not by a recorded erasure")
                continue
            if now is item or now == item:
                continue
            self.check_entry_change(ctx, path, rid, old, new, item, now)
        for eid, item in new_entries.items():
            if eid not in old_entries:
                self.check_new_block(ctx, path, rid, new, item, "entry")
                for m in item.get("marks") or []:
                    self.check_new_block(ctx, path, rid, new, m, "mark", entry=eid)

    def check_entry_change(self, ctx, path, rid, old, new, item, now) -> None:
        c = ctx.c
        eid = item["id"]
        marked = ctx.action == "entry.mark" and c.trailers.get("Confide-Entry") == eid
        if not marked:
            self.add(c.sha, path, "entry-changed", f"entry {eid} was changed after it was written, and not by a marking of it")
            return
        old_marks = {m["id"]: m for m in item.get("marks") or []}
        new_marks = {m["id"]: m for m in now.get("marks") or []}
        missing = set(old_marks) - set(new_marks)
        if missing:
            self.add(c.sha, path, "entry-changed", f"marking {sorted(missing)[0]} of entry {eid} was removed")
        added = [m for mid, m in new_marks.items() if mid not in old_marks]
        if not added:
            self.add(c.sha, path, "entry-changed", f"entry {eid} was changed by a 'mark' commit that adds no marking")
        moved_to = None
        if (now["key"], now["data"]) != (item["key"], item["data"]):
            ok_old, ok_new = old.key(item["key"]), new.key(now["key"])
            if ok_new is None or ok_old is None or ok_old["level"] == ok_new["level"]:
                self.add(c.sha, path, "entry-changed", f"entry {eid} was re-encrypted without moving to another level")
            else:
                moved_to = ok_new["level"]
                before = self.open_quietly(rid, old, item, "entry", path)
                after = self.check_new_block(ctx, path, rid, new, now, "entry", rewrap=True)
                if before is not None and after is not None and _minus_level(before) != _minus_level(after):
                    self.add(c.sha, path, "entry-changed", f"entry {eid} was altered while being moved to another level")
                for mid, m in new_marks.items():
                    if mid in old_marks:
                        b0 = self.open_quietly(rid, old, old_marks[mid], "mark", path)
                        b1 = self.check_new_block(ctx, path, rid, new, m, "mark", entry=eid, rewrap=True)
                        if b0 is not None and b1 is not None and _minus_level(b0) != _minus_level(b1):
                            self.add(c.sha, path, "entry-changed", f"marking {mid} of entry {eid} was altered while being moved")
        else:
            for mid, m in old_marks.items():
                if mid in new_marks and new_marks[mid] != m:
                    self.add(c.sha, path, "entry-changed", f"marking {mid} of entry {eid} was changed after it was written")
        for m in added:
            payload = self.check_new_block(ctx, path, rid, new, m, "mark", entry=eid)
            if moved_to and payload is not None and (payload.get("changes", {}).get("level") or {}).get("to") != moved_to:
                self.add(c.sha, path, "entry-changed", f"entry {eid} moved to {moved_to} without a marking that says so")

    def open_quietly(self, rid, rv: RecordVersion, item, kind: str, path: str) -> Optional[dict]:
        """A block's payload if the reader can open it and it is sound; None otherwise (reported elsewhere)."""
        key = rv.key(item["key"])
        if key is None:
            return None
        ident = self.reader.level_identity(rid, key, path)
        if ident is None:
            return None
        try:
            return envelope.open_block(item["data"], ident, schema_name=kind, record=rid, block=item["id"],
                                       level=key["level"], source=path)
        except (crypto.NotForThisKey, IntegrityError):
            return None

    def check_new_block(self, ctx, path, rid, rv: RecordVersion, item, kind: str, entry: Optional[str] = None,
                        rewrap: bool = False) -> Optional[dict]:
        key = rv.key(item["key"])
        if key is None:
            self.add(ctx.c.sha, path, "binding", f"{kind} {item['id']} refers to level key {item['key']}, which the record does not hold")
            return None
        ident = self.reader.level_identity(rid, key, path)
        if ident is None:
            return None
        try:
            payload = envelope.open_block(item["data"], ident, schema_name=kind, record=rid, block=item["id"],
                                          level=key["level"], source=path)
        except crypto.NotForThisKey:
            self.add(ctx.c.sha, path, "binding", f"{kind} {item['id']} is not encrypted to the level key it names")
            return None
        except IntegrityError as exc:
            self.add(ctx.c.sha, path, "binding", exc.message)
            return None
        if kind == "mark" and payload.get("entry") != entry:
            self.add(ctx.c.sha, path, "binding", f"marking {item['id']} belongs to another entry than {entry}")
        if not rewrap and ctx.actor is not None and payload.get("author") != ctx.name:
            self.add(ctx.c.sha, path, "author",
                     f"{kind} {item['id']} says it was written by '{payload.get('author')}' but the commit that added it is by '{ctx.name}'")
        return payload

    def check_head(self, ctx: "_Ctx", path: str, rid: str, old: Optional[RecordVersion], new: RecordVersion) -> None:
        c, settings = ctx.c, ctx.settings
        oh = old.head if old else {}
        nh = new.head
        ctx.old_keys = {k["id"]: k for k in oh.get("keys", [])}
        today = c.when.date()
        # key person
        if old is not None and oh.get("key_person") != nh.get("key_person"):
            bad = [lv for lv in settings.key_person_reads if not ctx.may_grant(lv)]
            if bad:
                self.add(c.sha, path, "role", f"the key person was changed by '{ctx.name}', who cannot grant the {bad[0]} level")
        # grants
        canon = lambda g: tuple(sorted(g.items()))  # noqa: E731
        og = {canon(g): g for g in oh.get("grants") or []}
        ng = {canon(g): g for g in nh.get("grants") or []}
        for k, g in ng.items():
            if k in og:
                continue
            if not ctx.may_grant(g["level"]):
                self.add(c.sha, path, "grant", f"a grant of {g['level']} to '{g['holder']}' was added by '{ctx.name}', who cannot grant that level")
            elif g["holder"] == ctx.name:
                self.add(c.sha, path, "self-grant", f"'{ctx.name}' granted themselves the {g['level']} level")
            if g.get("granted_by") != ctx.name and ctx.actor is not None:
                self.add(c.sha, path, "grant", f"a grant says it was given by '{g.get('granted_by')}' but the commit is by '{ctx.name}'")
        for k, g in og.items():
            if k in ng:
                continue
            expired = g.get("until") and g["until"] < today.isoformat()
            if not ctx.may_grant(g["level"]) and not (ctx.action == "access.expire" and expired):
                self.add(c.sha, path, "grant", f"a grant of {g['level']} to '{g['holder']}' was removed by '{ctx.name}', who cannot change that level")
        # revocations recorded in the record (access.revoke)
        orv = {canon(r) for r in oh.get("revoked") or []}
        for r in nh.get("revoked") or []:
            if canon(r) not in orv and not ctx.may_grant(r["level"]):
                self.add(c.sha, path, "grant", f"a revocation of {r['level']} was recorded by '{ctx.name}', who cannot change that level")
        # level keys
        old_by_level: dict = {}
        for k in oh.get("keys", []):
            old_by_level.setdefault(k["level"], set()).update(k["wrapped"])
        new_ids = {k["id"] for k in nh["keys"]}
        for kid, k in ctx.old_keys.items():
            if kid not in new_ids and not ctx.erasure:
                self.add(c.sha, path, "level-key", f"level key {kid} ({k['level']}) was removed")
        policy_readers = None
        for k in nh["keys"]:
            level = k["level"]
            ok = ctx.old_keys.get(k["id"])
            if old is None:
                if policy_readers is None:
                    from . import policy

                    policy_readers = {lv: policy.readers_for(settings, ctx.holders, nh, lv, today) for lv in settings.levels}
                extra = set(k["wrapped"]) - policy_readers.get(level, set())
                for name in sorted(extra):
                    if name == ctx.name:
                        self.add(c.sha, path, "self-grant", f"'{name}' made the record readable to themselves at the {level} level beyond the policy")
                    else:
                        self.add(c.sha, path, "reader", f"the record was created with '{name}' as a reader of {level}, which the policy does not give")
            elif ok is None:
                readers_before = old_by_level.get(level, set())
                if not ctx.may_grant(level):
                    expiring = ctx.action == "access.expire" and set(k["wrapped"]) <= readers_before
                    if not expiring:
                        self.add(c.sha, path, "level-key",
                                 f"a new generation {k['generation']} of the {level} key was made by '{ctx.name}', who cannot change that level")
                for name in sorted(set(k["wrapped"]) - readers_before):
                    self.reader_added(ctx, path, name, level)
            else:
                if (ok["level"], ok["generation"], ok["recipient"]) != (level, k["generation"], k["recipient"]):
                    self.add(c.sha, path, "level-key", f"level key {k['id']} had its public recipient, level or generation replaced")
                added = set(k["wrapped"]) - set(ok["wrapped"])
                removed = set(ok["wrapped"]) - set(k["wrapped"])
                changed = {n for n in set(k["wrapped"]) & set(ok["wrapped"]) if k["wrapped"][n] != ok["wrapped"][n]}
                for name in sorted(added - old_by_level.get(level, set())):
                    self.reader_added(ctx, path, name, level)
                for name in sorted(added & old_by_level.get(level, set())):
                    if not ctx.may_grant(level):
                        self.reader_added(ctx, path, name, level)
                if (removed or changed) and not ctx.may_grant(level) and ctx.action != "access.expire":
                    what = "removed" if removed else "replaced"
                    self.add(c.sha, path, "reader", f"wrapped copies of the {level} key {k['id']} were {what} by '{ctx.name}', who cannot change that level")
                if changed and ctx.action == "access.expire" and not ctx.may_grant(level):
                    self.add(c.sha, path, "reader", f"wrapped copies of the {level} key {k['id']} were replaced by '{ctx.name}', who cannot change that level")
            # the caller's own copy must open and match its key
            if self.reader.name and self.reader.name in k["wrapped"]:
                for ident in self.reader.identities:
                    try:
                        envelope.unwrap_level_key(k["wrapped"][self.reader.name], ident, record=rid, key=k, source=path)
                        break
                    except crypto.NotForThisKey:
                        continue
                    except IntegrityError as exc:
                        self.add(c.sha, path, "level-key", exc.message)
                        break
        # profile
        if (old is None) or oh.get("profile") != nh.get("profile"):
            self.check_profile(ctx, path, rid, new)

    def reader_added(self, ctx, path, name, level) -> None:
        c = ctx.c
        if name == ctx.name:
            self.add(c.sha, path, "self-grant", f"'{name}' added themselves as a reader of the {level} level")
        elif not ctx.may_grant(level):
            self.add(c.sha, path, "reader", f"'{name}' was made a reader of the {level} level by '{ctx.name}', who cannot grant it")

    def check_profile(self, ctx, path, rid, rv: RecordVersion) -> None:
        block = rv.head["profile"]
        key = rv.key(block["key"])
        if key is None or key["level"] != "general":
            self.add(ctx.c.sha, path, "binding", "the profile is not under a general-level key of the record")
            return
        ident = self.reader.level_identity(rid, key, path)
        if ident is None:
            return
        try:
            payload = envelope.open_block(block["data"], ident, schema_name="profile", record=rid, block="profile",
                                          level="general", source=path)
        except crypto.NotForThisKey:
            self.add(ctx.c.sha, path, "binding", "the profile is not encrypted to the level key it names")
            return
        except IntegrityError as exc:
            self.add(ctx.c.sha, path, "binding", exc.message)
            return
        if ctx.actor is not None and payload.get("updated_by") != ctx.name:
            self.add(ctx.c.sha, path, "author", f"the profile says it was updated by '{payload.get('updated_by')}' but the commit is by '{ctx.name}'")
        prof = payload.get("profile") or {}
        for fieldname in ("name", "known_as"):
            value = prof.get(fieldname)
            if isinstance(value, str) and value.strip():
                self.names[value.strip()] = rid

    # -- merges ----------------------------------------------------------------
    def check_merge(self, c: CommitInfo, changes: list, ctx: "_Ctx") -> None:
        from .sync import Conflict, merge_records

        p1, p2 = c.parents[0], c.parents[1]
        base = _run(self.root, "merge-base", p1, p2).decode().strip() if len(c.parents) == 2 else None
        merged_records: set = set()
        for path, old, new in changes:
            self.paths.add(path)
            part = envelope.record_of(path)
            theirs = self.cat.get(f"{p2}:{path}")
            result = self.blob(new)
            if result == theirs:
                if part is not None:
                    merged_records.add(part[0])
                continue
            if part is not None and result is not None and old is not None and theirs is not None:
                base_raw = self.cat.get(f"{base}:{path}") if base else None
                try:
                    expected = merge_records(base_raw, self.blob(old) or b"", theirs, path)
                except (Conflict, ConfideError):
                    expected = None
                if expected != result:
                    self.add(c.sha, path, "merge", f"the merge result of {path} is not the union of both sides (changed while merging)")
                merged_records.add(part[0])
                continue
            if part is not None:
                self.check_record_change(ctx, part[0], {part[1]: (old, new)}, p1)
                continue
            self.check_change(ctx, path, old, new)
        for rid in sorted(merged_records):
            rv = self.record_version(rid, self.record_blobs(rid, c.sha, {}), c.sha)
            if rv is not None and rv.error is not None:
                self.findings.append(rv.error)
        self.check_merge_kept_theirs(c, changes, base)

    def check_merge_kept_theirs(self, c: CommitInfo, changes: list, base: Optional[str]) -> None:
        """Record files the other side changed but the merge left as the first parent had them
        (``git merge -s ours``, or a hand-made merge) must already hold the other side's changes."""
        from .sync import Conflict, merge_records

        if not base:
            return
        p2 = c.parents[1]
        in_diff = {path for path, _old, _new in changes}
        raw = _run(self.root, "diff", "--name-only", "-z", "--no-renames", base, p2, "--", "records/")
        for name in raw.split(b"\0"):
            path = name.decode("utf-8", "surrogateescape")
            if not path or path in in_diff or envelope.record_of(path) is None:
                continue
            result, theirs = self.cat.get(f"{c.sha}:{path}"), self.cat.get(f"{p2}:{path}")
            if result is None or theirs is None:
                if result != theirs:
                    self.add(c.sha, path, "merge", f"the merge kept one side's version of {path} and dropped the other side's change")
                continue
            try:
                expected = merge_records(self.cat.get(f"{base}:{path}"), result, theirs, path)
            except (Conflict, ConfideError):
                expected = None
            if expected != result:
                self.add(c.sha, path, "merge", f"the merge left out what the other side changed in {path}")

    # -- names in plaintext ----------------------------------------------------
    def check_names(self) -> None:
        """Commit messages, file and ref names holding a child's name (word-wise, so cheap at any size)."""
        seen = set(self.names.values())
        for rid, (path, block) in self._head_profiles.items():
            if rid in seen:
                continue
            key = self.reader.head_keys.get(rid, {}).get(block.get("key"))
            ident = self.reader.level_identity(rid, key, path) if key else None
            if ident is None:
                continue
            try:
                payload = envelope.open_block(block["data"], ident, schema_name="profile", record=rid, block="profile",
                                              level="general", source=path)
            except (crypto.NotForThisKey, IntegrityError):
                continue
            for fieldname in ("name", "known_as"):
                value = (payload.get("profile") or {}).get(fieldname)
                if isinstance(value, str) and value.strip():
                    self.names[value.strip()] = rid
        if not self.names:
            return
        single: dict = {}  # a capitalised part of a name (3+ letters), matched as written
        full: dict = {}  # the whole name, any case, as a run of words
        for name, rid in self.names.items():
            words = re.findall(r"\w+", name)
            if words:
                full[tuple(w.lower() for w in words)] = rid
            for w in words:
                if len(w) >= 3 and w[0].isupper():
                    single.setdefault(w, rid)
        lengths = sorted({len(k) for k in full})

        def hit(text: str) -> Optional[str]:
            words = re.findall(r"\w+", text)
            for w in words:
                if w in single:
                    return single[w]
            lower = [w.lower() for w in words]
            for n in lengths:
                for i in range(len(lower) - n + 1):
                    rid = full.get(tuple(lower[i:i + n]))
                    if rid:
                        return rid
            return None

        for sha, message in self.messages:
            rid = hit(message)
            if rid:
                self.add(sha, None, "plaintext", f"the commit message holds what looks like a child's name (from the profile of {rid})")
        for path in sorted(self.paths):
            rid = hit(path.replace("_", " ").replace("-", " ").replace(".", " "))
            if rid:
                self.add("", path, "plaintext", f"a file name holds what looks like a child's name (from the profile of {rid})")
        for ref in _run(self.root, "for-each-ref", "--format=%(refname)").decode().splitlines():
            rid = hit(ref.replace("_", " ").replace("-", " ").replace("/", " "))
            if rid:
                self.add("", ref, "plaintext", f"a branch or tag name holds what looks like a child's name (from the profile of {rid})")


def _minus_level(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "level"}


class _Ctx:
    def __init__(self, c: CommitInfo, actor: Optional[Holder], holders: Holders, settings: Settings, after: dict) -> None:
        self.c = c
        self.actor = actor
        self.holders = holders
        self.settings = settings
        self.after = after
        self.name = actor.name if actor else c.claimed
        self.role = settings.roles.get(actor.role) if actor else None
        self.action = c.action
        self.old_keys: dict = {}
        r = self.role
        self.manager = bool(r and r.acts and r.manages_holders)
        self.erasure = bool(self.action in ERASE_ACTIONS and self.manager)

    def may_grant(self, level: str) -> bool:
        r = self.role
        return bool(r and r.acts and level in r.grants)


def _holders_or_none(root: Path) -> Holders:
    """holders.yaml as it is now; a damaged one (which verify reports) reads as no holders."""
    try:
        return Holders.load(root)
    except (ConfideError, OSError, TypeError):
        return Holders([])


def verify(root: Path, *, since: Optional[str] = None, identity: Optional[str] = None) -> VerifyResult:
    head = subprocess.run([git_binary(), "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True, env=git_env())
    if head.returncode != 0:
        return VerifyResult(0, [], False, None, None, ["the vault has no commits"])
    since_sha = resolve_rev(root, since) if since else None
    holders = _holders_or_none(root)
    reader, note = make_reader(root, identity, holders)
    v = Verifier(root, reader)
    n = v.run(since_sha)
    notes = [note] if note else []
    return VerifyResult(n, v.findings, reader.name is not None, reader.name, head.stdout.decode().strip(), notes)


# ---------------------------------------------------------------------------
# audit


AUDIT_COLUMNS = ["date", "holder", "action", "record", "name", "entry", "subject", "level", "category", "signature", "commit"]


def _parse_since_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError("--since needs a date as YYYY-MM-DD, which this is not", "for example: --since 2026-09-01") from None


def audit(root: Path, *, record: Optional[str] = None, holder: Optional[str] = None, action: Optional[str] = None,
          since: Optional[str] = None, identity: Optional[str] = None) -> tuple[list[dict], Optional[str]]:
    since_date = _parse_since_date(since) if since else None
    holders = _holders_or_none(root)
    reader, note = make_reader(root, identity, holders)
    keys: dict = {}
    for h in holders.all:
        for k in [h.signing_key] + [x["key"] for x in (h.previous_signing_keys or [])]:
            if k:
                keys[signing.parse_public_key(k)] = h.name
    commits = rev_list(root, None, reverse=False)
    cat = CatFile(root)
    stream = StreamCat(root, [sha for sha, _ in commits])
    heads: dict = {}
    rows = []
    try:
        for sha, _parents in commits:
            raw = stream.next() or b""
            info = parse_commit(sha, raw)
            t = info.trailers
            rec = t.get("Confide-Record")
            who = t.get("Confide-Holder") or info.author
            act = t.get("Confide-Action")
            when = info.when
            if record and rec != record:
                continue
            if holder and who != holder and t.get("Confide-Subject") != holder:
                continue
            if action and act != action and not (act or "").startswith(action + "."):
                continue
            if since_date and when.date() < since_date:
                continue
            sig = info.sig
            if sig.status == "good":
                signer = keys.get(signing.parse_public_key(sig.key))
                status = "good" if signer == who else ("wrong-holder" if signer else "unknown-key")
            else:
                status = sig.status
            row = {"date": when.isoformat(), "holder": who, "action": act, "record": rec, "name": None,
                   "entry": t.get("Confide-Entry"), "subject": t.get("Confide-Subject"), "level": None, "category": None,
                   "signature": status, "commit": sha}
            if rec and reader.name:
                _fill_details(root, cat, reader, heads, row)
            rows.append(row)
    finally:
        stream.close()
        cat.close()
    return rows, note


def _fill_details(root: Path, cat: CatFile, reader: Reader, heads: dict, row: dict) -> None:
    rid = row["record"]
    if not ids.RECORD_RE.fullmatch(rid or ""):
        return
    if rid not in heads:
        path = f"records/{rid}{envelope.HEAD_SUFFIX}"
        raw = cat.get(f"HEAD:{path}")
        heads[rid] = None
        if raw is not None:
            try:
                env = envelope.Envelope(path, yamlio.load(raw, path), cat.get(f"HEAD:{envelope.entries_source(path)}") or envelope.EMPTY_TAIL)
                name = None
                block = env.head["profile"]
                ident = reader.level_identity(rid, env.key(block["key"]), path)
                if ident is not None:
                    payload = envelope.open_block(block["data"], ident, schema_name="profile", record=rid, block="profile",
                                                  level="general", source=path)
                    name = payload["profile"].get("name")
                heads[rid] = (env, name)
            except (ConfideError, KeyError, TypeError, crypto.NotForThisKey):
                heads[rid] = None
    got = heads[rid]
    if got is None:
        return
    env, name = got
    row["name"] = name
    eid = row.get("entry")
    if not eid:
        return
    try:
        item = env.find_entry(eid)
        if item is None:
            return
        key = env.key(item["key"])
        ident = reader.level_identity(rid, key, env.source)
        if ident is None:
            return
        payload = envelope.open_block(item["data"], ident, schema_name="entry", record=rid, block=eid, level=key["level"],
                                      source=env.source)
        row["level"] = payload["level"]
        row["category"] = payload["category"]
    except (ConfideError, crypto.NotForThisKey):
        return


__all__ = ["verify", "audit", "Finding", "VerifyResult", "AUDIT_COLUMNS"]
