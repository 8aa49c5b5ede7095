"""Signed commits: git's own SSH signing, and checking SSH signatures in-process.

Writing: every commit confide makes is signed with the acting holder's SSH key
through git (``gpg.format=ssh``; ``ssh-keygen -Y sign`` does the signing).
``prepare`` decides, *before* any file is written, how the commit will be
signed, by the verified state it builds on, and refuses clearly (vault
unchanged) when it cannot be: the key is the file named by
``--signing-key-file`` / ``CONFIDE_SIGNING_KEY``, else the identity file itself
when it is the holder's SSH key (what ``confide keygen`` makes), else the
holder's declared key in ssh-agent.

Checking: ``verify_commit`` checks a commit's ``gpgsig`` header (``gpgsig-sha256``
in a SHA-256 repository: an SSHSIG armored signature over the commit without
that header) in-process with the ``sshsig`` package (``ssh-keygen -Y
check-novalidate`` ported to Python over ``cryptography``), adding the checks
``ssh-keygen`` makes that sshsig does not (the armour's end line, a signature
that is the one encoding of its fields, sha256/sha512 only) and confide's own
(ssh-ed25519 keys only). Not ``ssh-keygen`` itself: a process per commit makes
``confide verify`` over 2,006 commits take 45 s (16 s CPU) instead of 6.6 s
(2.6 s CPU); the hand-written check sshsig replaced took 6.6 s (2.5 s CPU)
(``benchmarks/compare_schema_sig.py``, medians of 5 interleaved runs on 2
heavily loaded cores). sshsig is imported on the first signature checked:
a command whose history is already verified does not pay for it. The result is the same as ``git verify-commit`` with the signers file
confide derives from verified history (``.git/confide/allowed_signers``, written
by ``allowed_signers_text``: one line per signing key, the principal being the
holder's name; keys of removed holders and replaced keys carry ``valid-before``,
so plain ``git log --show-signature`` still accepts what they signed while they
held them). Vaults made before the signers file moved into ``.git`` keep a
tracked ``allowed_signers`` that confide keeps in step and never trusts.
``tests/test_signing.py`` checks it against the real ``ssh-keygen``.

Public keys are parsed by ``cryptography``. What stays hand-written: taking a
commit's signature header out of its payload (git's object format, which no
installed library exposes), and reading the public half from the clear header
of an OpenSSH private key file (~6 us), because no library does that for a
passphrase-protected key without its passphrase, and ``ssh-keygen -l`` would
add a process (~8 ms) to every write.

Nothing here imports GitPython: ``confide add`` pays one ``ssh-keygen`` run.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from vault_cli.errors import ExternalError, IdentityProblem, UsageError

KEY_FILE_ENV = "CONFIDE_SIGNING_KEY"
NAMESPACE = b"git"


# ---------------------------------------------------------------------------
# SSH wire format


def _read_string(buf: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(buf):
        raise ValueError("truncated")
    (n,) = struct.unpack(">I", buf[pos : pos + 4])
    pos += 4
    if pos + n > len(buf):
        raise ValueError("truncated")
    return buf[pos : pos + n], pos + n


@lru_cache(maxsize=1024)
def parse_public_key(text: str) -> bytes:
    """The wire blob of an ``ssh-ed25519 AAAA...`` public key; ``ValueError`` if it is not one.

    ``cryptography`` parses it (~14 us; verify asks again for the same few keys at every commit,
    hence the cache); the base64 is checked strictly first, as cryptography skips stray characters.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    parts = (text or "").strip().split()
    if len(parts) < 2 or parts[0] != "ssh-ed25519":
        raise ValueError("not an ssh-ed25519 public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        key = load_ssh_public_key(f"{parts[0]} {parts[1]}".encode("ascii"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("not an ssh-ed25519 public key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("not an ssh-ed25519 public key")
    return blob


def normalise_signing_key(text: str) -> str:
    """``ssh-ed25519 AAAA...`` without its comment, or a usage error that says what to give."""
    t = (text or "").strip()
    if "PRIVATE KEY" in t:
        raise UsageError(
            "the signing key given is a private key; it was not stored or printed",
            "give the public half: the one line in the .pub file (ssh-keygen -y -f KEYFILE prints it)",
            "a private key pasted on a command line may be in your shell history: consider it exposed",
        )
    try:
        parse_public_key(t)
    except ValueError:
        raise UsageError(
            "the signing key given is not an ssh-ed25519 public key",
            "give the one line of the .pub file, e.g. \"ssh-ed25519 AAAAC3Nza... ben@laptop\"; make a key with: ssh-keygen -t ed25519",
        ) from None
    return " ".join(t.split()[:2])


def fingerprint(public_key: str) -> str:
    blob = parse_public_key(public_key)
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def public_key_of_private_file(data: bytes) -> str:
    """The public key an OpenSSH private key file holds in its clear header (no passphrase needed)."""
    text = data.decode("ascii", "replace")
    begin, end = "-----BEGIN OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEY-----"
    if begin not in text or end not in text:
        raise ValueError("not an OpenSSH private key")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    raw = base64.b64decode("".join(body.split()))
    magic = b"openssh-key-v1\0"
    if not raw.startswith(magic):
        raise ValueError("not an OpenSSH private key")
    pos = len(magic)
    _cipher, pos = _read_string(raw, pos)
    _kdf, pos = _read_string(raw, pos)
    _kdfopts, pos = _read_string(raw, pos)
    (nkeys,) = struct.unpack(">I", raw[pos : pos + 4])
    pos += 4
    if nkeys != 1:
        raise ValueError("holds more than one key")
    pub, pos = _read_string(raw, pos)
    kind, _ = _read_string(pub, 0)
    if kind != b"ssh-ed25519":
        raise ValueError("not an ed25519 key")
    return "ssh-ed25519 " + base64.b64encode(pub).decode()


# ---------------------------------------------------------------------------
# Signing a commit


@dataclass
class SignPlan:
    args: list  # git -c options placed before 'commit'
    what: str  # how the key is described in messages


def _ssh_keygen() -> str:
    exe = shutil.which("ssh-keygen")
    if not exe:
        raise ExternalError(
            "ssh-keygen is not installed or not on PATH, so the commit cannot be signed; nothing was changed",
            "install OpenSSH's client tools (apt-get install openssh-client) and try again",
        )
    return exe


def _private_key_public(path: Path, what: str) -> str:
    """The public half of an OpenSSH ed25519 private key file, checked as ssh-keygen would use it."""
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise IdentityProblem(f"{what} {path} does not exist; nothing was changed",
                              f"check {{0}} or {KEY_FILE_ENV}", fields=("signing key file",)) from None
    except (IsADirectoryError, PermissionError):
        raise IdentityProblem(f"{what} {path} cannot be read; nothing was changed", f"check it: ls -l {path}") from None
    if st.st_mode & 0o077:
        raise IdentityProblem(
            f"{what} {path} can be read by others (mode {oct(st.st_mode & 0o777)}); ssh-keygen will not use it",
            f"restrict it: chmod 600 {path}",
        )
    try:
        return public_key_of_private_file(data)
    except (ValueError, struct.error, IndexError):
        raise IdentityProblem(
            f"{what} {path} is not an OpenSSH ed25519 private key that ssh-keygen can use; nothing was changed",
            "make one with 'confide keygen', and have a manager declare its public line",
        ) from None


def _is_encrypted_openssh(data: bytes) -> bool:
    try:
        text = data.decode("ascii")
        body = text.split("-----BEGIN OPENSSH PRIVATE KEY-----", 1)[1].split("-----END OPENSSH PRIVATE KEY-----", 1)[0]
        raw = base64.b64decode("".join(body.split()))
        cipher, _ = _read_string(raw, len(b"openssh-key-v1\0"))
        return cipher != b"none"
    except (UnicodeDecodeError, IndexError, ValueError):
        return False


def _file_plan(path: Path) -> SignPlan:
    _ssh_keygen()
    return SignPlan(
        ["-c", "gpg.format=ssh", "-c", f"user.signingkey={path.resolve()}", "-c", "gpg.ssh.program=ssh-keygen"],
        f"signing key file {path}",
    )


def plan_for(declared: str, *, identity_path: Optional[Path] = None, key_file: Optional[str] = None,
             agent: Optional[str] = None, holder_name: str = "") -> Optional[SignPlan]:
    """How git can sign with the private half of ``declared`` (an ``ssh-ed25519`` public line), or None.

    In order: ``key_file`` (the file named by ``--signing-key-file`` / ``CONFIDE_SIGNING_KEY``),
    which must be that key; the identity file itself when it is that key (what ``confide
    keygen`` makes: one key that reads and signs); ssh-agent (``agent``: its socket), which
    git asks for the declared key. Raises when a key file given cannot be used as it is.
    """
    if key_file:
        path = Path(key_file).expanduser()
        public = _private_key_public(path, "signing key file")
        if parse_public_key(public) != parse_public_key(declared):
            raise IdentityProblem(
                f"signing key file {path} is not the signing key declared for holder '{holder_name}' "
                f"({fingerprint(declared)}); nothing was changed",
                "use the key whose .pub line is in holders.yaml, or have a manager declare the new one: "
                f"confide holder set-signing-key {holder_name} \"$(ssh-keygen -y -f {path})\"",
            )
        return _file_plan(path)
    if identity_path is not None:
        try:
            data = identity_path.read_bytes()
        except OSError:
            data = b""
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
            try:
                same = parse_public_key(public_key_of_private_file(data)) == parse_public_key(declared)
            except (ValueError, struct.error, IndexError):
                same = False
            if same and not _is_encrypted_openssh(data):
                return _file_plan(identity_path)
            if same and not agent:
                raise IdentityProblem(
                    f"your key {identity_path} is protected by a passphrase, which git's signing cannot ask for; "
                    "nothing was changed",
                    f"load it into ssh-agent once per session: eval \"$(ssh-agent)\" && ssh-add {identity_path}",
                )
    if agent:
        _ssh_keygen()
        return SignPlan(
            ["-c", "gpg.format=ssh", "-c", f"user.signingkey=key::{declared}", "-c", "gpg.ssh.program=ssh-keygen"],
            f"the key {fingerprint(declared)} in ssh-agent",
        )
    return None


# ---------------------------------------------------------------------------
# Checking signatures (confide verify / audit)


def split_signed_commit(raw: bytes, header: bytes = b"gpgsig") -> tuple[bytes, Optional[bytes]]:
    """(payload that was signed, the armored signature or None) of a raw commit object.

    ``header`` is ``gpgsig`` in a SHA-1 repository and ``gpgsig-sha256`` in a SHA-256 one;
    as git does, only that header is taken out of the payload.
    """
    head, sep, message = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    kept, sig, in_sig = [], [], False
    prefix = header + b" "
    for line in lines:
        if in_sig and line.startswith(b" "):
            sig.append(line[1:])
            continue
        in_sig = False
        if line.startswith(prefix) and not sig:
            in_sig = True
            sig.append(line[len(prefix):])
            continue
        kept.append(line)
    payload = b"\n".join(kept) + sep + message
    return payload, (b"\n".join(sig) if sig else None)


@dataclass
class SigInfo:
    status: str  # "unsigned", "bad", "good"
    key: Optional[str] = None  # "ssh-ed25519 AAAA..." of the signer, when the signature is good
    detail: str = ""


_sshsig = None


def _load_sshsig():
    """The ``sshsig`` package, imported on first use: a command whose history is already verified pays nothing."""
    global _sshsig
    if _sshsig is None:
        import sshsig
        import sshsig.sshsig

        _sshsig = sshsig
    return _sshsig


_BEGIN, _END = b"-----BEGIN SSH SIGNATURE-----", b"-----END SSH SIGNATURE-----"
# the one encoding of an ssh-ed25519 signature: string "ssh-ed25519", string of 64 bytes
_ED25519_SIGNATURE = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 64)


def verify_commit(raw: bytes, sha256: Optional[bool] = None) -> SigInfo:
    """Check a raw commit's SSH signature; ``sha256``: the repository's object format (None: told by the commit).

    ``sshsig`` reads the signature and ``sshsig.check_signature`` (``ssh-keygen -Y check-novalidate -n git``)
    checks it. Before that, what ``ssh-keygen`` (and so ``git verify-commit``) refuses and sshsig lets through:
    armour without its end line, a signature that is not the one encoding of its fields (sshsig reads a
    length past the end of the data, and data after the last field, without a word), a hash other than
    sha256/sha512; and what confide refuses: a key that is not ssh-ed25519 (its one signing key type).
    """
    if sha256 is None:
        tree = raw[5:raw.find(b"\n")] if raw.startswith(b"tree ") else b""
        sha256 = len(tree) == 64
    payload, armored = split_signed_commit(raw, b"gpgsig-sha256" if sha256 else b"gpgsig")
    if armored is None:
        return SigInfo("unsigned")
    if not armored.startswith(_BEGIN):
        return SigInfo("bad", detail="not an SSH signature (gpg or x509 signatures are not accepted)")
    lib = _load_sshsig()
    try:
        if _END not in armored:
            raise ValueError("no end line")
        blob = base64.b64decode(b"".join(armored[len(_BEGIN):armored.index(_END)].split()), validate=True)
        outer = lib.sshsig.SshsigSignature(blob)
        if bytes(outer) != blob:  # (ssh-keygen writes an empty 'reserved' field; sshsig drops it)
            raise ValueError("not the one encoding of its fields")
        key = lib.PublicKey.from_ssh_encoding(outer.public_key)
    except NotImplementedError:  # a key type or signature version sshsig does not know
        return SigInfo("bad", detail="the signature is not an ssh-ed25519 signature")
    except (ValueError, TypeError):  # (binascii.Error is a ValueError)
        return SigInfo("bad", detail="the signature is malformed")
    if outer.namespace != NAMESPACE:
        return SigInfo("bad", detail="the signature is not a git commit signature")
    if key.algo_name != "ssh-ed25519":
        return SigInfo("bad", detail="the signature is not an ssh-ed25519 signature")
    if outer.hash_algo not in (b"sha512", b"sha256"):  # what ssh-keygen accepts
        return SigInfo("bad", detail="the signature uses an unknown hash")
    public = key.openssh_str()
    if outer.public_key != base64.b64decode(public.split()[1]) or not (
            len(outer.signature) == len(_ED25519_SIGNATURE) + 64 and outer.signature.startswith(_ED25519_SIGNATURE)):
        return SigInfo("bad", detail="the signature is malformed")
    try:
        lib.check_signature(payload, armored, NAMESPACE.decode())
    except Exception:  # noqa: BLE001 - InvalidSignature, and whatever else a damaged signature makes sshsig raise
        return SigInfo("bad", key=public, detail="the signature does not match the commit (altered after signing)")
    return SigInfo("good", key=public)
