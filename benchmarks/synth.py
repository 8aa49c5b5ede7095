"""Build a synthetic confide vault fast, through the library, in the real format.

Benchmarks need a realistic vault (1,000 records of 50 entries, the size the
project's performance figures are for), and building it with 50,000 ``confide
add`` processes would take an hour. This module builds the same thing in well
under a minute:

- the vault itself, its settings and holders are made with ``setup.init_vault``
  and ``holders.add_holder`` (so ``confide.yaml``, ``holders.yaml``,
  ``.gitattributes`` and the repository config are exactly what ``confide
  init`` writes);
- every record is made with the same ``envelope`` functions the commands use:
  one level key per level (``envelope.new_level_key``), wrapped once per
  default reader (``policy.readers_for`` + ``envelope.wrap_level_key``), the
  profile and every entry sealed to its level key (``envelope.seal``, which
  validates the payload against its schema), the two files (head
  ``records/<id>.yaml``, entries ``records/<id>.entries.yaml``) written by
  ``Envelope.files``: real age, one stanza per block, readable by
  ``confide`` and by the ``age`` tool;
- record size (see docs/design.md, "Record size"): every entry is its own armored age block
  (header, X25519 stanza, age's random "grease" stanza, base64, YAML indent),
  ~1.2 KB each with a 1-2 sentence text, and the head carries 13 wrapped level
  keys, so a 50-entry record is ~70 KB and 1,000 of them ~70 MB
  (``SynthVault.bytes_per_record`` reports the median, head and entries files together);
- records are built in forked workers over every core
  (``vault_cli.adapters.parallel.workers()``, ``CONFIDE_WORKERS`` caps it), each worker
  writing its files straight into ``records/``;
- the result is committed with git: one commit (default), or one commit per
  record made with ``git fast-import`` (``commits="per-record"``), or a history
  grown by N more one-entry commits (``grow_history``), for history benchmarks.

Signed, as the trust model requires (``vault_cli/services/trust.py``):

- every holder who writes has a fixed SSH ed25519 key, derived from ``seed`` and
  the holder's name (benchmark keys, public by construction: never use them for
  anything else), written as an OpenSSH private key file (mode 0600) exactly as
  ``confide keygen`` writes one. ``identities="ssh"`` (default) uses that one key
  to read and to sign, as ``confide keygen`` makes it; ``identities="age"``
  gives each holder a native age identity to read with and the SSH key only to
  sign (``CONFIDE_SIGNING_KEY``, as ``--signing-key-file`` does), so the
  encryption work is the same as in a vault made before signing. The recovery
  holder always has a native age key (it never signs);
- the vault is made by ``setup.init_vault`` (``confide.yaml`` from
  ``settings.render_template``: ``signing: required`` and the rules table) and
  its holders by ``holders.add_holder``, which sign their commits through git;
- commits this module makes itself are signed too: a single commit with
  ``git commit -S`` (``gpg.format=ssh``, one ``ssh-keygen -Y sign``); a
  fast-import history is written unsigned and then re-signed in bulk
  (``_sign_history``): each commit object is rewritten onto its signed parent
  with a ``gpgsig`` header made in-process with ``cryptography`` (the SSHSIG
  format ``ssh-keygen -Y sign`` writes, namespace ``git``, SHA-512), and the new
  commits are handed to ``git index-pack`` as one pack (~0.1 ms a commit, where
  one ``ssh-keygen`` each would take ~5 ms). Each commit is signed by the holder
  its ``Confide-Holder`` trailer names, who is also its author;
- the bulk creation of records is one ``record.import`` commit by the manager
  (``Confide-Records: N``): verify judges each record in it as a creation by
  the manager; ``record.create`` would claim a single record;
- after building, the clone's trust state is pinned as a real clone's would be
  (``.git/confide/trust.json``: anchor ``trust.anchor_of`` the first commit,
  ``verified`` = HEAD, and the derived ``allowed_signers``), so commands start
  from a verified checkpoint. ``pin_trust(sv, verify=True)`` (``--verify``)
  verifies the whole history from the anchor instead of trusting the build.

Stable API (other benchmarks import it; add keyword arguments, do not change
the meaning of existing ones):

    from benchmarks.synth import build_vault, add_big_record, grow_history, env_for

    sv = build_vault(Path("/tmp/v"), records=1000, entries=50)   # ~20 s on 2 cores, ~70 MB
    sv.root, sv.keys["amira"], sv.roles, sv.records, sv.key_person, sv.manager, sv.head ...
    big = add_big_record(sv, entries=300)          # one more record, 300 entries
    grow_history(sv, 9000)                         # 9,000 more one-entry commits (fast-import)
    env = env_for(sv, "amira")                     # os.environ for running the CLI as amira
    sv = load(Path("/tmp/v"))                      # reuse a vault built earlier (None if gone)
    remove(Path("/tmp/v"))                         # the vault, its keys folder and manifest

    build_vault(..., commits="per-record")         # one commit per record instead of one in all
    build_vault(..., entry_authors="committer")    # entries name the committing manager, so a verify
                                                   # with the manager's key finds no author mismatch
    build_vault(..., identities="age")             # age identities to read, SSH keys only to sign
    pin_trust(sv, verify=True)                     # verify the whole history, then pin it

Holders made (names are fixed, so benchmarks can name them):

    amira     manager
    dara      dsl
    ben       practitioner   key person of half the records (and of big records)
    cara      practitioner   key person of the other half
    vault-recovery  recovery (only with recovery=True, the default; a native age key, never signs)

Keys are in ``<root>.keys/``: ``NAME.key`` (the identity ``env_for`` gives as
``CONFIDE_IDENTITY``) and, with ``identities="age"``, ``NAME.sign`` (the SSH key
``env_for`` gives as ``CONFIDE_SIGNING_KEY``); ``.pub`` files beside them.

Run it directly to build one and print a summary::

    .venv/bin/python benchmarks/synth.py /tmp/confide-vault --records 1000 --entries 50 [--verify]
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from vault_cli.adapters import crypto, gitlog, parallel  # noqa: E402
from vault_cli.adapters.config import Config, Given  # noqa: E402
from vault_cli.formats import envelope  # noqa: E402
from vault_cli.model import ids, policy, trail  # noqa: E402
from vault_cli.services import holders as holders_svc  # noqa: E402
from vault_cli.services import setup  # noqa: E402
from vault_cli.services.vault import Session, Vault  # noqa: E402


def _config(root: Path, identity: Optional[Path] = None, signing_key: Optional[Path] = None) -> Config:
    """What the command line would build for ``--vault root --identity identity --signing-key-file signing_key``,
    with the rest from this process's environment."""
    return Config.from_environment(os.environ, vault=Given(str(root), "--vault"),
                                   identity=Given(str(identity), "--identity") if identity else None,
                                   signing_key_file=str(signing_key) if signing_key else None)

MANAGER = "amira"
DSL = "dara"
PRACTITIONERS = ("ben", "cara")
KEY_PERSON = "ben"  # the key person of big records; benchmarks act as this holder for "key person" cases
RECOVERY = "vault-recovery"

# Level mix of synthetic entries: mostly routine observations, some confidential, a few safeguarding.
LEVEL_WEIGHTS = (("general", 70), ("confidential", 22), ("safeguarding", 8))
CATEGORIES = {
    "general": ("observation", "medical", "dietary", "parent-comment", "note", "consent"),
    "confidential": ("injury", "accident", "discussion", "family-change", "incident"),
    "safeguarding": ("concern", "safeguarding", "agency-contact"),
}
_WORDS = (
    "played happily in the sand area with two friends and shared the spades without prompting "
    "ate all of lunch today and asked for more fruit slept for forty minutes after lunch "
    "mum says a new baby is due in the spring and the family are moving house soon "
    "small bruise noted on the left shin on arrival parent says it happened at the park "
    "key person discussed toileting progress with dad at pick up; agreed to try pants at home "
    "was unsettled at drop off and cried for ten minutes then joined the painting table "
    "health visitor called about the two year check; parent consented to sharing the summary"
).split()


@dataclasses.dataclass
class SynthVault:
    """What ``build_vault`` made. Paths are absolute; ``keys`` maps holder -> 0600 identity file."""

    root: Path
    keys: dict  # holder name -> Path of an age identity file (mode 0600)
    roles: dict  # holder name -> role
    records: list  # record ids, sorted
    key_person: dict  # record id -> key person holder name
    entries_per_record: int
    manager: str = MANAGER
    dsl: str = DSL
    practitioners: tuple = PRACTITIONERS
    key_person_holder: str = KEY_PERSON
    recovery: Optional[str] = RECOVERY
    big_records: list = dataclasses.field(default_factory=list)  # ids made by add_big_record
    build_seconds: float = 0.0
    bytes_per_record: int = 0  # median size of a record (its head and entries files together)
    head: str = ""  # the commit the build (or the last add_big_record / grow_history) left
    # The trust model (defaults: a manifest written before it, by an older synth: unsigned, age keys)
    identities: str = "age"  # "ssh": one SSH key reads and signs; "age": age identity + SSH key to sign
    signing_keys: dict = dataclasses.field(default_factory=dict)  # holder -> Path of the SSH key that signs
    signing: str = ""  # "required" (confide.yaml's signing), or "" for a vault made before signing
    anchor: str = ""  # the vault's identity (ROOT@SHA256:fp), pinned in .git/confide/trust.json

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["root"] = str(self.root)
        d["keys"] = {k: str(v) for k, v in self.keys.items()}
        d["signing_keys"] = {k: str(v) for k, v in self.signing_keys.items()}
        d["records"] = len(self.records)
        d["key_person"] = {"ben": sum(1 for v in self.key_person.values() if v == "ben"),
                           "cara": sum(1 for v in self.key_person.values() if v == "cara")}
        return d


def git_env(home: Optional[Path] = None) -> dict:
    """An environment where git reads no user or system config (benchmarks must not depend on the host's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "GIT_"))}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    # No automatic 'git gc' after commits: runs reset the vault and repeat bulk commands
    # back to back, so the packs they leave pile up in minutes (a real vault takes months),
    # and a background gc would then repack ~400 MB on one core in the middle of a measure.
    # harness.reset_vault drops those packs instead (untimed).
    env["GIT_CONFIG_COUNT"] = "2"
    env["GIT_CONFIG_KEY_0"], env["GIT_CONFIG_VALUE_0"] = "gc.auto", "0"
    env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"] = "maintenance.auto", "false"
    if home is not None:
        env["HOME"] = str(home)
    return env


def env_for(sv: SynthVault, holder: str, **extra: str) -> dict:
    """``os.environ`` for running ``confide`` against ``sv`` as ``holder`` (no colour, no user git config).

    With ``identities="age"`` the holder's SSH key signs through ``CONFIDE_SIGNING_KEY``; with ``"ssh"`` the
    identity itself signs, as a key from ``confide keygen`` does."""
    env = git_env()
    env.update({"CONFIDE_VAULT": str(sv.root), "CONFIDE_IDENTITY": str(sv.keys[holder]), "NO_COLOR": "1"})
    sign = sv.signing_keys.get(holder)
    if sign is not None and Path(sign) != Path(sv.keys[holder]):
        env["CONFIDE_SIGNING_KEY"] = str(sign)
    env.update(extra)
    return env


# ---------------------------------------------------------------------------
# building records (runs in forked workers)


@dataclasses.dataclass
class _Plan:
    root: Path
    settings: object
    holders: object
    entries: int
    seed: int
    start_ms: int
    span_ms: int
    author_pool: Optional[list] = None


_plan: Optional[_Plan] = None


def _entry_ids(rng: random.Random, n: int, start_ms: int, span_ms: int) -> list[str]:
    """n increasing entry ids spread over [start_ms, start_ms + span_ms), shaped as ids.new_entry_id makes them."""
    times = sorted(rng.randrange(start_ms, start_ms + span_ms) for _ in range(n))
    out, last = [], None
    for t in times:
        eid = "e-" + ids._time_part(t) + "".join(rng.choice(ids.ALPHABET) for _ in range(4))
        while last is not None and eid <= last:
            t += 1
            eid = "e-" + ids._time_part(t) + "".join(rng.choice(ids.ALPHABET) for _ in range(4))
        out.append(eid)
        last = eid
    return out


def _iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).replace(microsecond=0).isoformat()


def _ms_of(entry_id: str) -> int:
    ms = 0
    for ch in entry_id[2:12]:
        ms = ms * 32 + ids.ALPHABET.index(ch)
    return ms


def _text(rng: random.Random) -> str:
    n = rng.randint(8, 30)
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


def _entry_payload(rng: random.Random, record_id: str, entry_id: str, level: str, author: str) -> dict:
    ms = _ms_of(entry_id)
    informed = None
    not_informed = None
    if level != "general":
        r = rng.random()
        if r < 0.7:
            informed = _iso(ms)[:10]
        elif r < 0.8:
            not_informed = "informing parents may place the child at risk"
    return {
        "confide": "entry/1", "record": record_id, "block": entry_id, "level": level,
        "category": rng.choice(CATEGORIES[level]), "text": _text(rng),
        "at": _iso(ms - rng.randrange(0, 6 * 3600 * 1000)), "recorded_at": _iso(ms), "author": author,
        "parent_view": rng.choice(("confidential", "not-confidential", "not-asked")),
        "parents_informed": informed, "parents_not_informed": not_informed,
        "third_parties": ["health visitor"] if rng.random() < 0.05 else [], "corrects": None,
    }


def make_record(root: Path, settings, holders, record_id: str, *, key_person: Optional[str], entries: int,
                rng: random.Random, start_ms: int, span_ms: int, author_pool=None) -> dict:
    """One record's files (repository path -> bytes: the head, then the entries file), made exactly as
    ``create_child`` + ``add_entry`` make them."""
    source = f"records/{record_id}.yaml"
    head = {"format": envelope.FORMAT, "record": record_id, "key_person": key_person, "grants": [], "keys": []}
    today = Config.from_environment(os.environ).clock.today()  # as the command line's clock (CONFIDE_NOW)
    taken: set = set()
    for level in settings.levels:
        key, secret = envelope.new_level_key(taken, level, 1)
        taken.add(key["id"])
        for name in sorted(policy.readers_for(settings, holders, head, level, today)):
            key["wrapped"][name] = envelope.wrap_level_key(secret, record=record_id, key=key,
                                                           holder_recipient=holders.get(name).recipient)
        head["keys"].append(key)
    env = envelope.Envelope(source, head, envelope.EMPTY_TAIL)
    gkey = env.current_key("general")
    first_name = rng.choice(("Ada", "Alan", "Grace", "Mary", "Tim", "Ravi", "Zainab", "Oskar", "Mei", "Kofi"))
    profile = {
        "confide": "profile/1", "record": record_id, "block": "profile", "level": "general",
        "updated_at": _iso(start_ms), "updated_by": MANAGER,
        "profile": {"name": f"{first_name} Synth-{record_id[2:]}", "dob": f"{rng.randint(2021, 2024)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                    "room": rng.choice(("rainbow", "sunflower", "acorn")), "key_person": key_person,
                    "allergies": ["nuts"] if rng.random() < 0.1 else []},
    }
    profile["profile"] = {k: v for k, v in profile["profile"].items() if v not in (None, [])}
    env.head["profile"] = {"key": gkey.id, "data": envelope.seal(profile, gkey.recipient, "profile", source)}
    authors = author_pool or [MANAGER, DSL] + [key_person or PRACTITIONERS[0]] * 4
    levels = [lv for lv, _ in LEVEL_WEIGHTS]
    weights = [w for _, w in LEVEL_WEIGHTS]
    items = []
    for eid in _entry_ids(rng, entries, start_ms, span_ms):
        level = rng.choices(levels, weights)[0]
        key = env.current_key(level)
        payload = _entry_payload(rng, record_id, eid, level, rng.choice(authors))
        items.append({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", source)})
    env._entries = items
    return env.files()


def _build_one(job: tuple) -> tuple:
    record_id, key_person, index = job
    p = _plan
    assert p is not None
    rng = random.Random(p.seed * 1_000_003 + index)
    files = make_record(p.root, p.settings, p.holders, record_id, key_person=key_person, entries=p.entries, rng=rng,
                        start_ms=p.start_ms, span_ms=p.span_ms, author_pool=p.author_pool)
    for path, data in files.items():
        (p.root / path).write_bytes(data)
    return record_id, sum(len(data) for data in files.values())


def _build_records(root: Path, vault: Vault, jobs: list, entries: int, seed: int, workers: Optional[int],
                   author_pool: Optional[list] = None) -> list:
    global _plan
    now_ms = int(time.time() * 1000)
    span = 2 * 365 * 24 * 3600 * 1000  # two years of history
    _plan = _Plan(root, vault.settings, vault.holders, entries, seed, now_ms - span - 86_400_000, span, author_pool)
    n = workers or parallel.workers(vault.config.workers)
    try:
        if n <= 1 or len(jobs) < 8:
            return [_build_one(j) for j in jobs]
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(n) as pool:
            return list(pool.imap(_build_one, jobs, chunksize=max(1, len(jobs) // (n * 16))))
    finally:
        _plan = None


# ---------------------------------------------------------------------------
# git


def _git(root: Path, *args: str, input: Optional[bytes] = None, env: Optional[dict] = None) -> bytes:
    e = git_env()
    if env:
        e.update(env)
    proc = subprocess.run(["git", "-C", str(root), *args], input=input, capture_output=True, env=e)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:2])} failed: {proc.stderr.decode(errors='replace')[:500]}")
    return proc.stdout


def _author_env(holder: str) -> dict:
    from vault_cli.adapters.gitstore import holder_email

    return {"GIT_AUTHOR_NAME": holder, "GIT_AUTHOR_EMAIL": holder_email(holder),
            "GIT_COMMITTER_NAME": holder, "GIT_COMMITTER_EMAIL": holder_email(holder)}


def _sign_args(key: Optional[Path]) -> list:
    """git options to sign a commit with the SSH key file ``key`` (as confide does), or not at all."""
    if key is None:
        return ["-c", "commit.gpgsign=false"]
    return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={Path(key).resolve()}", "-c", "gpg.ssh.program=ssh-keygen"]


def _commit_all(root: Path, message: str, holder: str, key: Optional[Path] = None) -> str:
    _git(root, "add", "--", "records")
    _git(root, *_sign_args(key), "commit", "-q", "--no-edit", *(["-S"] if key else []), "-F", "-",
         input=message.encode(), env=_author_env(holder))
    return _git(root, "rev-parse", "HEAD").decode().strip()


# ---------------------------------------------------------------------------
# signing many commits at once


def _ssh_string(b: bytes) -> bytes:
    import struct

    return struct.pack(">I", len(b)) + b


def sshsig(private_key, data: bytes, namespace: bytes = b"git") -> bytes:
    """An armored SSH signature of ``data`` (what ``ssh-keygen -Y sign -n git`` writes, SHA-512)."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import serialization

    pub = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pub_blob = _ssh_string(b"ssh-ed25519") + _ssh_string(pub)
    signed = b"SSHSIG" + _ssh_string(namespace) + _ssh_string(b"") + _ssh_string(b"sha512") + \
        _ssh_string(hashlib.sha512(data).digest())
    sig_blob = _ssh_string(b"ssh-ed25519") + _ssh_string(private_key.sign(signed))
    blob = b"SSHSIG" + (1).to_bytes(4, "big") + _ssh_string(pub_blob) + _ssh_string(namespace) + \
        _ssh_string(b"") + _ssh_string(b"sha512") + _ssh_string(sig_blob)
    b64 = base64.b64encode(blob)
    lines = [b"-----BEGIN SSH SIGNATURE-----"] + [b64[i:i + 70] for i in range(0, len(b64), 70)] + \
        [b"-----END SSH SIGNATURE-----"]
    return b"\n".join(lines) + b"\n"


def _pack_objects(root: Path, objects: list) -> None:
    """Store ``[(type number, bytes)]`` (1 = commit) as one pack through ``git index-pack --stdin``."""
    import hashlib
    import struct
    import zlib

    out = [b"PACK" + struct.pack(">II", 2, len(objects))]
    for kind, data in objects:
        n = len(data)
        byte = (kind << 4) | (n & 15)
        n >>= 4
        head = bytearray()
        while n:
            head.append(byte | 0x80)
            byte = n & 0x7F
            n >>= 7
        head.append(byte)
        out.append(bytes(head) + zlib.compress(data, 1))
    pack = b"".join(out)
    pack += hashlib.sha1(pack).digest()
    _git(root, "index-pack", "--stdin", input=pack)


def _load_signer(path: Path):
    from cryptography.hazmat.primitives import serialization

    return serialization.load_ssh_private_key(Path(path).read_bytes(), password=None)


def _sign_history(root: Path, base: str, tip: str, signing_keys: dict, ref: str = "refs/heads/main") -> str:
    """Re-make the unsigned commits ``base..tip`` (a line of one-parent commits, as fast-import wrote them)
    as commits signed by the holder each one's ``Confide-Holder`` trailer names, each on its signed parent;
    point ``ref`` at the new tip and return it. Trees, authors, dates and messages are kept.

    Signing is in-process (``sshsig``) and the commits go to git as one pack: ~0.1 ms a commit, where
    ``git commit -S`` runs one ``ssh-keygen`` per commit (~5 ms). The result is what git would have
    signed: ``git verify-commit`` accepts these commits with the vault's allowed signers."""
    import hashlib

    shas = _git(root, "rev-list", "--reverse", "--topo-order", f"{base}..{tip}").decode().split()
    if not shas:
        return tip
    raw_all = _git(root, "cat-file", "--batch", input="".join(x + "\n" for x in shas).encode())
    signers: dict = {}
    new_of: dict = {}
    objects = []
    pos = 0
    for sha in shas:
        nl = raw_all.index(b"\n", pos)
        size = int(raw_all[pos:nl].split()[2])
        raw = raw_all[nl + 1:nl + 1 + size]
        pos = nl + 1 + size + 1
        head, sep, message = raw.partition(b"\n\n")
        lines = head.split(b"\n")
        parents = [ln for ln in lines if ln.startswith(b"parent ")]
        if len(parents) > 1 or any(ln.startswith(b"gpgsig") for ln in lines):
            raise RuntimeError(f"commit {sha} is a merge or already signed: only fast-import lines are re-signed")
        lines = [b"parent " + new_of.get(ln[7:].decode(), ln[7:].decode()).encode() if ln.startswith(b"parent ")
                 else ln for ln in lines]
        holder = next((ln.split(b":", 1)[1].strip().decode() for ln in message.split(b"\n")
                       if ln.startswith(b"Confide-Holder:")), None)
        if holder not in signing_keys:
            raise RuntimeError(f"commit {sha} names holder {holder!r}, who has no signing key here")
        if holder not in signers:
            signers[holder] = _load_signer(signing_keys[holder])
        payload = b"\n".join(lines) + sep + message
        sig = sshsig(signers[holder], payload).rstrip(b"\n").split(b"\n")
        lines += [b"gpgsig " + sig[0]] + [b" " + ln for ln in sig[1:]]
        obj = b"\n".join(lines) + sep + message
        new = hashlib.sha1(b"commit %d\0" % len(obj) + obj).hexdigest()
        new_of[sha] = new
        objects.append((1, obj))
    _pack_objects(root, objects)
    new_tip = new_of[shas[-1]]
    _git(root, "update-ref", ref, new_tip)
    return new_tip


class _FastImport:
    """A ``git fast-import`` stream: many commits for the price of one process."""

    def __init__(self, root: Path, branch: str = "refs/heads/main", parent: str = "HEAD") -> None:
        self.root = root
        self.branch = branch
        self.proc = subprocess.Popen(["git", "-C", str(root), "fast-import", "--quiet", "--done"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=git_env())
        self.parent = _git(root, "rev-parse", parent).decode().strip()
        self.first = True
        self.when = int(time.time()) - 86_400

    def commit(self, holder: str, message: str, files: dict) -> None:
        from vault_cli.adapters.gitstore import holder_email

        w = self.proc.stdin
        assert w is not None
        msg = message.encode()
        self.when += 1
        who = f"{holder} <{holder_email(holder)}> {self.when} +0000\n".encode()
        out = [b"commit " + self.branch.encode() + b"\n", b"author " + who, b"committer " + who,
               b"data %d\n" % len(msg), msg, b"\n"]
        if self.first:
            out.append(b"from " + self.parent.encode() + b"\n")
            self.first = False
        for path, data in files.items():
            out.append(b"M 100644 inline " + path.encode() + b"\n")
            out.append(b"data %d\n" % len(data))
            out.append(data)
            out.append(b"\n")
        out.append(b"\n")
        w.write(b"".join(out))

    def close(self, signing_keys: Optional[dict] = None) -> str:
        """End the stream; with ``signing_keys`` (holder -> SSH key file), re-sign the new commits
        (``_sign_history``). Returns the branch's new tip."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"done\n")
        self.proc.stdin.close()
        err = self.proc.stderr.read() if self.proc.stderr else b""
        if self.proc.wait() != 0:
            raise RuntimeError(f"git fast-import failed: {err.decode(errors='replace')[:500]}")
        tip = _git(self.root, "rev-parse", self.branch).decode().strip()
        if signing_keys:
            tip = _sign_history(self.root, self.parent, tip, signing_keys, self.branch)
        if self.branch == "refs/heads/main":
            # The files are already in the working tree as committed; bring the index up to HEAD.
            _git(self.root, "reset", "-q")
        return tip


# ---------------------------------------------------------------------------
# the public API


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ssh_key_for(name: str, seed: int = 1):
    """The fixed benchmark SSH ed25519 key of ``name``: its private key from a hash of the seed and the name.
    Benchmark keys only: anyone can derive them."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"confide synthetic benchmark key/{seed}/{name}".encode()).digest())


def write_ssh_key(folder: Path, name: str, *, seed: Optional[int] = 1, suffix: str = ".key") -> tuple[Path, str]:
    """An OpenSSH private key file (0600, as ``confide keygen`` writes one) and its ``.pub``; returns
    (path, public line). ``seed=None``: a fresh random key instead of the fixed one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate() if seed is None else ssh_key_for(name, seed)
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    path = folder / f"{name}{suffix}"
    _write_private(path, data)
    Path(str(path) + ".pub").write_text(f"{pub} {name}@confide-bench\n")
    return path, pub


def _write_key(folder: Path, name: str, kind: str = "age") -> tuple[Path, str]:
    """A fresh key for a holder a benchmark adds: (identity file, recipient). ``kind="age"``: a native age
    identity; ``"ssh"``: an SSH key that also signs (the recipient is then its signing key too)."""
    if kind == "ssh":
        return write_ssh_key(folder, name, seed=None)
    secret, recipient = crypto.generate_identity()
    path = folder / f"{name}.txt"
    _write_private(path, f"# synthetic benchmark key for {name}\n# public key: {recipient}\n{secret}\n".encode())
    return path, recipient


def holder_key(sv: SynthVault, folder: Path, name: str) -> tuple[Path, list]:
    """A fresh key for a holder a benchmark adds to ``sv`` (``holder add``, ``holder rotate``), of the kind the
    vault's holders have: (identity file, CLI options naming it: ``--recipient`` and, in a signed vault with
    age identities, ``--signing-key``)."""
    if sv.signing and sv.identities == "ssh":
        path, pub = _write_key(folder, name, "ssh")
        return path, ["--recipient", pub]
    path, recipient = _write_key(folder, name, "age")
    opts = ["--recipient", recipient]
    if sv.signing:
        _, sign_pub = write_ssh_key(folder, name, seed=None, suffix=".sign")
        opts += ["--signing-key", sign_pub]
    return path, opts


def pin_trust(sv: SynthVault, *, verify: bool = False) -> str:
    """Pin this clone's trust state as a real clone's: anchor = the first commit and its signer
    (``trust.anchor_of``), verified = HEAD, and the derived ``.git/confide/allowed_signers``.
    ``verify``: verify the whole history from that anchor first (``trust.pin``; raises on findings)."""
    from vault_cli.services import trust

    root = sv.root
    first = _git(root, "rev-list", "--max-parents=0", "HEAD").decode().split()
    if len(first) != 1:
        raise RuntimeError(f"{root} has {len(first)} root commits")
    anchor = trust.anchor_of(root, first[0])
    head = _git(root, "rev-parse", "HEAD").decode().strip()
    if verify:
        state = trust.pin(root, anchor, head, clock=Config.from_environment(os.environ).clock)
    else:
        state = trust.TrustState.load(trust.git_dir_of(root))
        state.anchor, state.verified = anchor, head
    # A clone in daily use: every holder's key has already checked what it opens up to HEAD. Without this each
    # holder's first command walks the whole history with their key, and the bulk import (one commit by the
    # manager of entries that name other authors, "mixed") is reported as forged: every section would fail.
    state.readers = {name: head for name in sv.roles}
    state.save()
    trust.write_allowed_signers(root, state.git_dir, head)
    sv.anchor = state.anchor or anchor
    sv.head = head
    return sv.anchor


def build_vault(
    root: Path,
    records: int = 1000,
    entries: int = 50,
    *,
    keys_dir: Optional[Path] = None,
    recovery: bool = True,
    commits: str = "single",
    seed: int = 1,
    workers: Optional[int] = None,
    name: str = "Synthetic Days Nursery",
    quiet: bool = True,
    entry_authors: str = "mixed",
    identities: str = "ssh",
    verify: bool = False,
) -> SynthVault:
    """Build a vault of ``records`` children with ``entries`` entries each at ``root`` (must not exist or be empty).

    ``keys_dir`` (default: ``<root>.keys`` beside the vault, never inside it) receives the holders' keys
    (0600; see the module docstring). ``identities``: ``"ssh"`` (default: one SSH key per holder reads and
    signs, as ``confide keygen`` makes) or ``"age"`` (an age identity reads, a separate SSH key signs).
    ``commits``: ``"single"`` commits every record at once (one signed ``record.import`` commit after the
    vault's own init and holder commits); ``"per-record"`` makes one signed ``record.create`` commit per record
    (fast-import, then ``_sign_history``). Key persons alternate ben / cara. ``seed`` makes texts, levels,
    entry times and the holders' SSH keys reproducible (record ids and age keys are always fresh).
    ``entry_authors``: ``"mixed"`` (default: manager, DSL and the key person wrote the entries, as in a
    real record) or ``"committer"`` (every initial entry names the manager, who makes the commits, so
    ``confide verify`` with the manager's key finds no author/signer mismatch).
    The clone's trust state is pinned at the end (``pin_trust``; ``verify``: after a full verify).
    Returns a ``SynthVault``.
    """
    t0 = time.perf_counter()
    if identities not in ("ssh", "age"):
        raise ValueError("identities must be 'ssh' or 'age'")
    root = Path(root).resolve()
    keys_dir = Path(keys_dir).resolve() if keys_dir else root.with_name(root.name + ".keys")
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in ("GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL")}
    os.environ.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})
    try:
        keys, recipients, roles, signing_keys, signing_pubs = {}, {}, {}, {}, {}
        people = [(MANAGER, "manager"), (DSL, "dsl")] + [(p, "practitioner") for p in PRACTITIONERS]
        if recovery:
            people.append((RECOVERY, "recovery"))
        for holder, role in people:
            roles[holder] = role
            if role == "recovery":  # an offline break-glass key: native age, never signs
                keys[holder], recipients[holder] = _write_key(keys_dir, holder, "age")
            elif identities == "ssh":
                keys[holder], recipients[holder] = write_ssh_key(keys_dir, holder, seed=seed)
                signing_keys[holder], signing_pubs[holder] = keys[holder], recipients[holder]
            else:
                keys[holder], recipients[holder] = _write_key(keys_dir, holder, "age")
                signing_keys[holder], signing_pubs[holder] = write_ssh_key(keys_dir, holder, seed=seed, suffix=".sign")

        # how admin's transactions sign: the identity, or (age identities) this key file, as --signing-key-file does
        config = _config(root, keys[MANAGER], signing_keys[MANAGER] if identities == "age" else None)
        setup.init_vault(str(root), config, name=name, holder=MANAGER, recipient=recipients[MANAGER],
                         signing_key=signing_pubs[MANAGER])
        session = Session.start(Vault.open(config))
        for holder, role in people[1:]:
            holders_svc.add_holder(session, holder, role=role, recipient=recipients[holder],
                             signing_key=signing_pubs.get(holder))
        vault = Vault.open(config)
        taken: set = set()
        jobs = []
        for i in range(records):
            rid = ids.new_record_id()
            while rid in taken:
                rid = ids.new_record_id()
            taken.add(rid)
            jobs.append((rid, PRACTITIONERS[i % len(PRACTITIONERS)], i))
        if entry_authors not in ("mixed", "committer"):
            raise ValueError("entry_authors must be 'mixed' or 'committer'")
        built = _build_records(root, vault, jobs, entries, seed, workers,
                               [MANAGER] if entry_authors == "committer" else None)
        kp = {rid: person for rid, person, _ in jobs}
        if commits == "single":
            _commit_all(root, trail.message(f"create {records} records (synthetic benchmark data)", "record.import",
                                            MANAGER, extra={"Confide-Records": str(records)}), MANAGER,
                        signing_keys[MANAGER])
        elif commits == "per-record":
            fi = _FastImport(root)
            for rid, _person, _ in jobs:
                srcs = (f"records/{rid}{envelope.HEAD_SUFFIX}", f"records/{rid}{envelope.ENTRIES_SUFFIX}")
                fi.commit(MANAGER, trail.message(f"create record {rid}", "record.create", MANAGER, record=rid),
                          {src: (root / src).read_bytes() for src in srcs})
            fi.close(signing_keys)
        else:
            raise ValueError("commits must be 'single' or 'per-record'")
        sizes = sorted(n for _, n in built)
        sv = SynthVault(root=root, keys=keys, roles=roles, records=sorted(kp), key_person=kp,
                        entries_per_record=entries, recovery=RECOVERY if recovery else None,
                        bytes_per_record=sizes[len(sizes) // 2] if sizes else 0,
                        identities=identities, signing_keys=signing_keys, signing=vault.settings.signing or "")
        pin_trust(sv, verify=verify)
        sv.build_seconds = time.perf_counter() - t0
        _save_manifest(sv)
        if not quiet:
            print(f"built {records} x {entries} in {sv.build_seconds:.1f}s at {root}", file=sys.stderr)
        return sv
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def add_big_record(sv: SynthVault, entries: int = 300, *, key_person: str = KEY_PERSON, seed: int = 7) -> str:
    """Add one more record with ``entries`` entries (key person ``ben``) in one signed commit; returns its id.
    Its entries name the manager, who commits it, so a keyed verify finds no author/signer mismatch."""
    root = sv.root
    vault = Vault.open(_config(root))
    rid = ids.new_record_id()
    while vault.has_record(rid):
        rid = ids.new_record_id()
    now_ms = int(time.time() * 1000)
    span = 2 * 365 * 24 * 3600 * 1000
    files = make_record(root, vault.settings, vault.holders, rid, key_person=key_person, entries=entries,
                        rng=random.Random(seed), start_ms=now_ms - span - 86_400_000, span_ms=span,
                        author_pool=[MANAGER])
    for path, data in files.items():
        (root / path).write_bytes(data)
    _git(root, "add", "--", *files)
    key = sv.signing_keys.get(MANAGER)
    _git(root, *_sign_args(key), "commit", "-q", "--no-edit", *(["-S"] if key else []), "-F", "-",
         input=trail.message(f"create record {rid}", "record.create", MANAGER, record=rid).encode(),
         env=_author_env(MANAGER))
    sv.records = sorted(sv.records + [rid])
    sv.key_person[rid] = key_person
    sv.big_records.append(rid)
    sv.head = _git(root, "rev-parse", "HEAD").decode().strip()
    if sv.signing:
        pin_trust(sv)
    _save_manifest(sv)
    return rid


def history_commits(sv: SynthVault, commits: int, *, seed: int = 11, author: str = KEY_PERSON,
                    ref: str = "refs/heads/main", parent: str = "HEAD") -> tuple[str, dict]:
    """``commits`` one-entry commits (``entry.add``) by ``author`` on ``parent``, written to ``ref`` (signed in
    a signed vault); returns (the new tip, {record id: its files at the tip}). The working tree is not touched."""
    root = sv.root
    vault = Vault.open(_config(root))
    rng = random.Random(seed)
    order = list(sv.records)
    rng.shuffle(order)
    cache: dict = {}
    fi = _FastImport(root, ref, parent)
    tree = gitlog.CommitTree(root, fi.parent)  # the records as the parent commit holds them

    def read(path: str) -> bytes:
        data = tree.read(path)
        if data is None:
            raise FileNotFoundError(path)
        return data

    now_ms = int(time.time() * 1000)
    # commit i is dated a second after its entry (not a day before, as the build's commits are): verify
    # refuses an entry that happened after its commit
    fi.when = now_ms // 1000 - commits
    for i in range(commits):
        rid = order[i % len(order)]
        src = vault.record_source(rid)
        if rid not in cache:
            cache[rid] = envelope.Envelope.read(src, read, entries=False)
        env = cache[rid]
        level = rng.choices([lv for lv, _ in LEVEL_WEIGHTS], [w for _, w in LEVEL_WEIGHTS])[0]
        key = env.current_key(level)
        eid = "e-" + ids._time_part(now_ms - (commits - i) * 1000) + "".join(rng.choice(ids.ALPHABET) for _ in range(4))
        payload = _entry_payload(rng, rid, eid, level, author)
        env.append_entry({"id": eid, "key": key.id, "data": envelope.seal(payload, key.recipient, "entry", src)})
        fi.commit(author, trail.message(f"add entry {eid} to {rid}", "entry.add", author, record=rid, entry=eid),
                  env.files())  # the entries file only, as 'confide add' writes it
    tree.close()
    tip = fi.close(sv.signing_keys if sv.signing else None)
    return tip, {rid: env.files() for rid, env in cache.items()}


def grow_history(sv: SynthVault, commits: int, *, seed: int = 11, author: str = KEY_PERSON) -> str:
    """Append ``commits`` one-entry commits (``entry.add`` messages) spread over the records, with fast-import.

    Each commit adds one real sealed entry to one record (round-robin over a shuffled order), exactly as
    ``confide add`` would have written it, so history benchmarks get ``records + commits`` commits of the
    right shape without ``commits`` CLI processes; signed by ``author`` in a signed vault, whose trust state
    is then pinned at the new HEAD. Returns the new HEAD.
    """
    tip, files = history_commits(sv, commits, seed=seed, author=author)
    for per_record in files.values():
        for path, data in per_record.items():
            (sv.root / path).write_bytes(data)
    sv.head = tip
    if sv.signing:
        pin_trust(sv)
    _save_manifest(sv)
    return sv.head


def _save_manifest(sv: SynthVault) -> None:
    """``<root>.json`` beside the vault: what was built, so a later run can reuse it (see ``load``)."""
    data = dataclasses.asdict(sv)
    data["root"] = str(sv.root)
    data["keys"] = {k: str(v) for k, v in sv.keys.items()}
    data["signing_keys"] = {k: str(v) for k, v in sv.signing_keys.items()}
    sv.root.with_name(sv.root.name + ".json").write_text(json.dumps(data))


def load(root: Path) -> Optional[SynthVault]:
    """The ``SynthVault`` a previous ``build_vault`` left at ``root``, or None (missing, or changed since).
    Also reads the manifests of older synth versions (no signing fields: an unsigned vault)."""
    root = Path(root).resolve()
    manifest = root.with_name(root.name + ".json")
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    data["root"] = Path(data["root"])
    data["keys"] = {k: Path(v) for k, v in data["keys"].items()}
    data["signing_keys"] = {k: Path(v) for k, v in (data.get("signing_keys") or {}).items()}
    data["practitioners"] = tuple(data["practitioners"])
    known = {f.name for f in dataclasses.fields(SynthVault)}
    sv = SynthVault(**{k: v for k, v in data.items() if k in known})
    if not all(p.exists() for p in [*sv.keys.values(), *sv.signing_keys.values()]) or not (root / "records").is_dir():
        return None
    if sv.signing and not (root / ".git" / "confide" / "trust.json").is_file():
        return None
    names = [p.name for p in (root / "records").glob("c-*.yaml")]  # a vault in the one-file format has no entries files
    if (sum(1 for n in names if (envelope.record_of("records/" + n) or ("", ""))[1] == "head") != len(sv.records)
            or sum(1 for n in names if n.endswith(envelope.ENTRIES_SUFFIX)) != len(sv.records)):
        return None
    return sv


def remove(root: Path) -> None:
    """Delete a synthetic vault, its keys folder and its manifest."""
    root = Path(root).resolve()
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(root.with_name(root.name + ".keys"), ignore_errors=True)
    root.with_name(root.name + ".json").unlink(missing_ok=True)


def main(argv: Optional[list] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--big", type=int, default=0, help="also add one record with this many entries")
    ap.add_argument("--commits", choices=("single", "per-record"), default="single")
    ap.add_argument("--grow", type=int, default=0, help="then add this many one-entry commits")
    ap.add_argument("--identities", choices=("ssh", "age"), default="ssh")
    ap.add_argument("--verify", action="store_true", help="verify the whole history from the anchor at the end")
    ap.add_argument("--force", action="store_true", help="remove an existing vault at ROOT first")
    a = ap.parse_args(argv)
    if a.force:
        remove(a.root)
    sv = build_vault(a.root, a.records, a.entries, commits=a.commits, quiet=False, identities=a.identities)
    if a.big:
        add_big_record(sv, a.big)
    if a.grow:
        t = time.perf_counter()
        grow_history(sv, a.grow)
        print(f"grew history by {a.grow} commits in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    if a.verify:
        t = time.perf_counter()
        pin_trust(sv, verify=True)
        print(f"verified the whole history from {sv.anchor} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    print(json.dumps(sv.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
