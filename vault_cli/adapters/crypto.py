"""The crypto adapter: age through pyrage, dealing in bytes and strings.

Every block confide writes is a standard armored age file with exactly one
recipient stanza, so a reader can always recover their data with the ``age``
command and no confide installed.

Nothing here knows about records or holders. Errors carry no secret: a key
file is named by its path and line, never quoted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import pyrage

from vault_cli.errors import IdentityProblem, IntegrityError, UsageError

ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
SECRET_PREFIX = "AGE-SECRET-KEY-1"
SSH_ED25519 = "ssh-ed25519"


class NotForThisKey(Exception):
    """The block has no stanza this identity can open (not an integrity problem)."""


@dataclass(frozen=True)
class Identity:
    """A private key in memory and the public recipient that goes with it."""

    recipient: str
    _key: object  # a pyrage identity

    def __repr__(self) -> str:  # never show the key
        return f"Identity(recipient={self.recipient!r})"

    def secret(self) -> str:
        """The age secret key string (``AGE-SECRET-KEY-1...``), to wrap a level key for another holder; never printed."""
        return str(self._key)


def generate_identity() -> tuple[str, str]:
    """A new native age identity: (secret string, recipient string)."""
    ident = pyrage.x25519.Identity.generate()
    return str(ident), str(ident.to_public())


def generate_ssh_identity(passphrase: Optional[str] = None) -> tuple[bytes, str]:
    """A new SSH ed25519 key: (the OpenSSH private key file's bytes, its public line ``ssh-ed25519 AAAA...``).

    The same key is an age recipient and identity (``ssh-ed25519``) and a git
    signing key. With a passphrase the file is encrypted as OpenSSH does (bcrypt KDF).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    enc = (serialization.BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase
           else serialization.NoEncryption())
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, enc)
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return data, " ".join(pub.split()[:2])


def identity_from_secret(secret: str) -> Identity:
    ident = pyrage.x25519.Identity.from_str(secret)
    return Identity(str(ident.to_public()), ident)


def looks_like_secret(text: str) -> bool:
    t = text.strip()
    return t.upper().startswith(SECRET_PREFIX) or "PRIVATE KEY-----" in t


def parse_recipient(text: str, *, what: str = "recipient") -> object:
    """Parse an age or ssh-ed25519 recipient string. Never echoes a secret back."""
    t = (text or "").strip()
    if looks_like_secret(t):
        raise UsageError(
            f"the {what} given is a secret key, not a public recipient; it was not stored or printed",
            "give the public half instead: 'age-keygen -y IDENTITY_FILE' or the 'age1...' line 'confide keygen' printed",
            "a secret key pasted on a command line may be in your shell history: consider it exposed and make a new one",
        )
    try:
        if t.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(t)
        if t.startswith(SSH_ED25519 + " "):
            parts = t.split()
            return pyrage.ssh.Recipient.from_str(" ".join(parts[:2]))
    except (pyrage.RecipientError, ValueError, TypeError):
        pass
    raise UsageError(
        f"the {what} given is not an age recipient",
        "a recipient looks like 'age1...' (from 'confide keygen' or 'age-keygen -y') or 'ssh-ed25519 AAAA...'",
    )


def normalise_recipient(text: str) -> str:
    """The canonical form stored in holders.yaml (ssh keys lose their comment)."""
    t = text.strip()
    parse_recipient(t)
    if t.startswith(SSH_ED25519 + " "):
        return " ".join(t.split()[:2])
    return t


def encrypt(plaintext: bytes, recipient: str) -> str:
    """One armored age block for exactly one recipient."""
    rcpt = parse_recipient(recipient)
    return pyrage.encrypt(plaintext, [rcpt], armored=True).decode("ascii")


def encrypt_for_all(plaintext: bytes, recipients: list[str]) -> str:
    """One armored age block that each of ``recipients`` opens (holders.yaml's sealed staff details)."""
    return pyrage.encrypt(plaintext, [parse_recipient(r) for r in recipients], armored=True).decode("ascii")


def decrypt(block: str, identity: Identity) -> bytes:
    """Open one armored block. ``NotForThisKey`` if it is not addressed to us."""
    try:
        return pyrage.decrypt(block.encode("ascii"), [identity._key])
    except pyrage.DecryptError as exc:
        if "No matching keys" in str(exc):
            raise NotForThisKey() from None
        raise IntegrityError("an age block is truncated or altered", "restore the file from git and run 'confide verify'") from None
    except UnicodeEncodeError:
        raise IntegrityError("an age block holds characters that age armor never contains",
                             "restore the file from git and run 'confide verify'") from None


def block_is_armored(text: object) -> bool:
    if not isinstance(text, str):
        return False
    t = text.strip()
    return t.startswith(ARMOR_BEGIN) and t.endswith(ARMOR_END)


def stanza_keys(block: str) -> Optional[list[tuple[str, Optional[str]]]]:
    """Whom an armored age block is sealed for, as far as its header says without a key: one (type, tag) per
    recipient stanza, sorted. ``ssh-ed25519`` stanzas carry a tag of their recipient (``recipient_key``);
    ``X25519`` ones name no one (type only, tag None). age's random ``*-grease`` stanzas are left out.
    None if the block is not an age file at all."""
    import base64
    import binascii

    lines = (block or "").strip().splitlines()
    if len(lines) < 2 or lines[0] != ARMOR_BEGIN or lines[-1] != ARMOR_END:
        return None
    try:
        raw = base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    header, sep, _ = raw.partition(b"\n---")
    if not sep or not header.startswith(b"age-encryption.org/v1\n"):
        return None
    out: list[tuple[str, Optional[str]]] = []
    for line in header.split(b"\n"):
        if not line.startswith(b"-> "):
            continue
        args = line[3:].decode("ascii", "replace").split(" ")
        if args[0].endswith("-grease"):
            continue
        out.append((args[0], args[1] if args[0] == SSH_ED25519 and len(args) > 1 else None))
    return sorted(out, key=lambda k: (k[0], k[1] or ""))


def recipient_key(recipient: str) -> tuple[str, Optional[str]]:
    """What a block sealed for ``recipient`` shows of it in its header (``stanza_keys``): ("X25519", None) for an
    age key; ("ssh-ed25519", tag) for an SSH key, the tag being the first 4 bytes of the SHA-256 of the key (as
    age writes it)."""
    import base64
    import hashlib

    t = recipient.strip()
    if t.startswith(SSH_ED25519 + " "):
        key = base64.b64decode(t.split()[1])
        return SSH_ED25519, base64.b64encode(hashlib.sha256(key).digest()[:4]).decode("ascii").rstrip("=")
    return "X25519", None


# --------------------------------------------------------------------------
# Identity files

PassphraseSource = Callable[[str], Optional[str]]


def check_private_mode(path: str) -> None:
    st = os.stat(path)
    if st.st_mode & 0o077:
        raise IdentityProblem(
            f"identity file {path} can be read by others (mode {oct(st.st_mode & 0o777)}); refusing to use it",
            f"restrict it: chmod 600 {path}",
        )


def load_identity_file(path: str, passphrase: Optional[PassphraseSource] = None) -> list[Identity]:
    """Read an identity file: native age keys, an ``age -p`` protected file, or an SSH ed25519 key."""
    try:
        if os.path.isdir(path):  # before the mode check: 'chmod 600' is no remedy for a folder
            raise IsADirectoryError(path)
        check_private_mode(path)
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise IdentityProblem(
            f"identity file {path} does not exist",
            "make one with 'confide keygen --out FILE', or point {0} / CONFIDE_IDENTITY at yours",
            fields=("identity file",),
        ) from None
    except IsADirectoryError:
        raise IdentityProblem(f"identity file {path} is a folder, not a file", "pass the key file itself with {0} FILE",
                              fields=("identity file",)) from None
    except PermissionError:
        raise IdentityProblem(f"identity file {path} cannot be read (permission denied)", f"check its owner and mode: ls -l {path}") from None
    return parse_identity_bytes(data, path, passphrase)


def parse_identity_bytes(data: bytes, source: str, passphrase: Optional[PassphraseSource] = None) -> list[Identity]:
    text_start = data[:64]
    if text_start.startswith(b"age-encryption.org/v1") or text_start.lstrip().startswith(ARMOR_BEGIN.encode()):
        return _load_passphrase_protected(data, source, passphrase)
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        return [_load_ssh_key(data, source, passphrase)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IdentityProblem(
            f"identity file {source} is not text, an age-encrypted identity, or an SSH key",
            "point {0} / CONFIDE_IDENTITY at your age identity ('AGE-SECRET-KEY-1...'), or make one with 'confide keygen'",
            fields=("identity file",),
        ) from None
    idents: list[Identity] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if not s.startswith(SECRET_PREFIX):
            raise IdentityProblem(
                f"identity file {source} line {lineno} is not an age identity",
                "an identity file holds 'AGE-SECRET-KEY-1...' lines (and '#' comments); make one with 'confide keygen'",
            )
        try:
            idents.append(identity_from_secret(s))
        except (pyrage.IdentityError, ValueError):
            raise IdentityProblem(
                f"identity file {source} line {lineno} is a malformed age identity",
                "the key may be truncated; restore it from your backup or make a new one with 'confide keygen'",
            ) from None
    if not idents:
        raise IdentityProblem(f"identity file {source} holds no identity", "make one with 'confide keygen --out FILE'")
    return idents


def _ask(passphrase: Optional[PassphraseSource], source: str) -> str:
    value = passphrase(source) if passphrase else None
    if value is None:
        raise IdentityProblem(
            f"identity file {source} is protected by a passphrase and none was given",
            "run on a terminal to be asked, or set CONFIDE_PASSPHRASE_FILE to a 0600 file holding it",
        )
    return value


def _load_passphrase_protected(data: bytes, source: str, passphrase: Optional[PassphraseSource]) -> list[Identity]:
    secret = _ask(passphrase, source)
    try:
        inner = pyrage.passphrase.decrypt(data, secret)
    except pyrage.DecryptError:
        raise IdentityProblem(
            f"wrong passphrase for identity file {source}, or the file is damaged",
            "try again; scripts read it from the file named by CONFIDE_PASSPHRASE_FILE",
        ) from None
    return parse_identity_bytes(inner, source, None)


def _load_ssh_key(data: bytes, source: str, passphrase: Optional[PassphraseSource]) -> Identity:
    # pyrage refuses encrypted OpenSSH keys, so cryptography opens them in memory.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    plain = data
    try:
        key = serialization.load_ssh_private_key(data, password=None)
    except TypeError:  # encrypted: a passphrase is needed
        secret = _ask(passphrase, source)
        try:
            key = serialization.load_ssh_private_key(data, password=secret.encode("utf-8"))
        except UnsupportedAlgorithm:
            raise IdentityProblem(
                f"SSH key {source} is protected by a passphrase, which needs the 'bcrypt' Python package to open",
                "install it (pip install bcrypt), or use an age identity made with 'confide keygen --passphrase'",
            ) from None
        except ValueError:
            raise IdentityProblem(
                f"wrong passphrase for SSH key {source}, or the key is damaged",
                "try again; scripts read it from the file named by CONFIDE_PASSPHRASE_FILE",
            ) from None
        plain = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    except (ValueError, Exception):
        raise IdentityProblem(
            f"SSH key {source} is damaged or not an OpenSSH private key",
            "restore it from your backup, or use an age identity made with 'confide keygen'",
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise IdentityProblem(f"SSH key {source} is not an ed25519 key", "make one with: ssh-keygen -t ed25519")
    try:
        ident = pyrage.ssh.Identity.from_buffer(plain)
    except Exception:
        raise IdentityProblem(f"SSH key {source} cannot be used by age", "confide accepts ssh-ed25519 keys") from None
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return Identity(" ".join(pub.split()[:2]), ident)


def protect_identity(secret_text: str, passphrase: str) -> bytes:
    """An identity file encrypted with a passphrase, as ``age -p -a`` writes it."""
    return pyrage.passphrase.encrypt(secret_text.encode("utf-8"), passphrase, armored=True)
