"""SSH commit signatures, checked by ``vault_cli.adapters.signing`` against vectors the real ``ssh-keygen`` makes.

Every vector is made at run time by ``ssh-keygen -Y sign`` (directly, or through
``git commit -S`` with ``gpg.format=ssh``) with keys ``ssh-keygen -t`` makes: good
signatures over real commit payloads (SHA-1 and SHA-256 repositories), and bad ones:
another namespace, an altered commit, another key's signature, a swapped key, truncated
and garbled armour, RSA and ECDSA keys, a hash ssh-keygen refuses. ``ssh-keygen -Y
check-novalidate -n git`` is the reference: confide calls a signature good exactly when
it does, except that confide accepts only ssh-ed25519 keys (its one signing key type).
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import struct
import subprocess
from pathlib import Path

import pytest

from vault_cli.adapters import signing
from vault_cli.errors import UsageError


def _run(*args: str, input: bytes | None = None, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(list(args), input=input, capture_output=True, cwd=cwd, check=check, env=env)


class Keys:
    """SSH keys made by ssh-keygen in a folder: ``path(name)``, ``public(name)`` (its .pub line, no comment)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def make(self, name: str, kind: str, *extra: str, passphrase: str = "") -> Path:
        path = self.folder / name
        _run("ssh-keygen", "-q", "-t", kind, *extra, "-N", passphrase, "-C", f"{name}@test", "-f", str(path))
        return path

    def path(self, name: str) -> Path:
        return self.folder / name

    def public(self, name: str) -> str:
        return " ".join((self.folder / f"{name}.pub").read_text().split()[:2])


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Keys:
    k = Keys(tmp_path_factory.mktemp("sshkeys"))
    k.make("alice", "ed25519")
    k.make("bob", "ed25519")
    k.make("locked", "ed25519", passphrase="correct horse")
    k.make("rsa", "rsa", "-b", "2048")
    k.make("ecdsa", "ecdsa", "-b", "256")
    return k


def ssh_sign(keys: Keys, who: str, payload: bytes, namespace: str = "git") -> bytes:
    """The armoured signature ``ssh-keygen -Y sign -n NAMESPACE`` makes over ``payload``."""
    return _run("ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", str(keys.path(who)), input=payload).stdout


def keygen_accepts(payload: bytes, armored: bytes, folder: Path) -> bool:
    """The reference: does ``ssh-keygen -Y check-novalidate -n git`` accept the signature over the payload?"""
    sig = folder / "sig"
    sig.write_bytes(armored)
    return _run("ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(sig), input=payload, check=False).returncode == 0


def with_signature(payload: bytes, armored: bytes, header: bytes = b"gpgsig") -> bytes:
    """A raw commit object: ``payload`` with the signature header after its other headers, as git writes it."""
    head, sep, message = payload.partition(b"\n\n")
    lines = armored.rstrip(b"\n").split(b"\n")
    return head + b"\n" + header + b" " + b"\n ".join(lines) + sep + message


@pytest.fixture(scope="module")
def repo(tmp_path_factory, keys) -> dict:
    """A git repository with a commit signed through git by alice, and its raw object and payload."""
    root = tmp_path_factory.mktemp("repo")
    _run("git", "init", "-q", "-b", "main", str(root))
    (root / "a.txt").write_text("hello\n")
    _run("git", "add", "a.txt", cwd=root)
    env = ["-c", "user.name=Alice", "-c", "user.email=alice@example.invalid", "-c", "gpg.format=ssh",
           "-c", f"user.signingkey={keys.path('alice')}"]
    _run("git", *env, "commit", "-q", "-S", "-m", "first\n\nConfide-Holder: alice", cwd=root)
    raw = _run("git", "cat-file", "commit", "HEAD", cwd=root).stdout
    payload, armored = signing.split_signed_commit(raw)
    assert armored is not None and armored.startswith(b"-----BEGIN SSH SIGNATURE-----")
    return {"root": root, "raw": raw, "payload": payload, "armored": armored}


# ---------------------------------------------------------------------------
# good signatures


def test_a_commit_git_signed_is_good(repo, keys):
    info = signing.verify_commit(repo["raw"])
    assert (info.status, info.key, info.detail) == ("good", keys.public("alice"), "")
    assert signing.fingerprint(info.key) == _keygen_fingerprint(keys, "alice")
    # the payload is the commit without its signature header, as git (and ssh-keygen) see it
    assert b"gpgsig" not in repo["payload"] and keygen_accepts(repo["payload"], repo["armored"], repo["root"])


def test_a_commit_in_a_sha256_repository(tmp_path, keys):
    root = tmp_path / "r256"
    _run("git", "init", "-q", "--object-format=sha256", "-b", "main", str(root))
    (root / "a.txt").write_text("x\n")
    _run("git", "add", "a.txt", cwd=root)
    _run("git", "-c", "user.name=Bob", "-c", "user.email=bob@example.invalid", "-c", "gpg.format=ssh",
         "-c", f"user.signingkey={keys.path('bob')}", "commit", "-q", "-S", "-m", "x", cwd=root)
    raw = _run("git", "cat-file", "commit", "HEAD", cwd=root).stdout
    assert b"\ngpgsig-sha256 " in raw and len(raw.split(b"\n")[0]) == len(b"tree ") + 64
    assert signing.verify_commit(raw) == signing.SigInfo("good", keys.public("bob"))
    assert signing.verify_commit(raw, sha256=True).status == "good"
    # read as a SHA-1 repository's commit, the gpgsig-sha256 header is part of the payload: not signed
    assert signing.verify_commit(raw, sha256=False).status == "unsigned"


def test_signatures_made_by_ssh_keygen_directly(repo, keys):
    payload = repo["payload"]
    for who in ("alice", "bob"):
        armored = ssh_sign(keys, who, payload)
        assert keygen_accepts(payload, armored, repo["root"])
        # another key's good signature is good, and says whose it is: who may sign is verify's question
        assert signing.verify_commit(with_signature(payload, armored)) == signing.SigInfo("good", keys.public(who))


def test_a_passphrase_protected_key_signs_the_same(repo, keys):
    armored = _run("ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-P", "correct horse", "-f", str(keys.path("locked")),
                   input=repo["payload"]).stdout
    assert signing.verify_commit(with_signature(repo["payload"], armored)) == signing.SigInfo("good", keys.public("locked"))


def test_unsigned_and_foreign_signatures(repo):
    payload = repo["payload"]
    assert signing.verify_commit(payload) == signing.SigInfo("unsigned")
    pgp = b"-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n-----END PGP SIGNATURE-----\n"
    info = signing.verify_commit(with_signature(payload, pgp))
    assert info.status == "bad" and "not an SSH signature" in info.detail


# ---------------------------------------------------------------------------
# bad signatures


def _bad(raw: bytes, words: str) -> signing.SigInfo:
    info = signing.verify_commit(raw)
    assert info.status == "bad" and words in info.detail, info
    return info


def test_another_namespace_is_refused(repo, keys):
    for ns in ("file", "email", "gitx", "git "):
        armored = ssh_sign(keys, "alice", repo["payload"], namespace=ns)
        assert not keygen_accepts(repo["payload"], armored, repo["root"])
        _bad(with_signature(repo["payload"], armored), "not a git commit signature")


def test_an_altered_commit_is_refused(repo, keys):
    raw = repo["raw"]
    for old, new in ((b"first", b"First"), (b"Confide-Holder: alice", b"Confide-Holder: alicf"),
                     (b"author Alice", b"author Mallory"), (b"\n\nfirst", b"\n\nfirst ")):
        altered = raw.replace(old, new, 1)
        assert altered != raw
        payload, armored = signing.split_signed_commit(altered)
        assert not keygen_accepts(payload, armored, repo["root"])
        info = _bad(altered, "does not match the commit")
        assert info.key == keys.public("alice")
    # a signature header added to a commit's headers or message does not count
    assert signing.verify_commit(raw + b"\n").status == "bad"


def test_a_swapped_key_is_refused(repo, keys):
    """alice's signature with bob's public key put in its place (and the other way round)."""
    outer = _sshsig_fields(repo["armored"])
    bob_blob = base64.b64decode(keys.public("bob").split()[1])
    forged = _sshsig_armor(dict(outer, public_key=bob_blob))
    assert not keygen_accepts(repo["payload"], forged, repo["root"])
    info = _bad(with_signature(repo["payload"], forged), "does not match the commit")
    assert info.key == keys.public("bob")


@pytest.mark.parametrize("who,algo", [("rsa", "ssh-rsa"), ("ecdsa", "ecdsa-sha2-nistp256")])
def test_rsa_and_ecdsa_keys_are_refused(repo, keys, who, algo):
    armored = ssh_sign(keys, who, repo["payload"])
    assert _sshsig_fields(armored)["public_key"][4:4 + len(algo)] == algo.encode()
    assert keygen_accepts(repo["payload"], armored, repo["root"])  # a good signature, by a key type confide does not use
    info = _bad(with_signature(repo["payload"], armored), "not an ssh-ed25519 signature")
    assert info.key is None


def test_a_hash_ssh_keygen_refuses_is_refused(repo, keys):
    """SSHSIG over md5 or sha1, really signed by alice's key: ssh-keygen accepts only sha256 and sha512."""
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    private = load_ssh_private_key(keys.path("alice").read_bytes(), password=None)
    outer = _sshsig_fields(repo["armored"])
    for algo in ("md5", "sha1", "sha384"):
        digest = hashlib.new(algo, repo["payload"]).digest()
        signed = b"SSHSIG" + _s(b"git") + _s(b"") + _s(algo.encode()) + _s(digest)
        sig = _s(b"ssh-ed25519") + _s(private.sign(signed))
        armored = _sshsig_armor(dict(outer, hash_algo=algo.encode(), signature=sig))
        assert not keygen_accepts(repo["payload"], armored, repo["root"])
        _bad(with_signature(repo["payload"], armored), "unknown hash")
    # the same construction with sha512 is a good signature: the vector is built right
    digest = hashlib.sha512(repo["payload"]).digest()
    signed = b"SSHSIG" + _s(b"git") + _s(b"") + _s(b"sha512") + _s(digest)
    armored = _sshsig_armor(dict(outer, signature=_s(b"ssh-ed25519") + _s(private.sign(signed))))
    assert keygen_accepts(repo["payload"], armored, repo["root"])
    assert signing.verify_commit(with_signature(repo["payload"], armored)).status == "good"


def test_truncated_and_garbled_armour(repo):
    payload, armored = repo["payload"], repo["armored"]
    lines = armored.rstrip(b"\n").split(b"\n")
    cases = {
        "no end line": b"\n".join(lines[:-1]) + b"\n",
        "a line missing": b"\n".join(lines[:2] + lines[3:]) + b"\n",
        "body halved": b"\n".join([lines[0], lines[1][: len(lines[1]) // 2], lines[-1]]) + b"\n",
        "only the markers": lines[0] + b"\n" + lines[-1] + b"\n",
        "not base64": lines[0] + b"\n" + b"!!!! ????" + b"\n" + lines[-1] + b"\n",
        "bad padding": b"\n".join(lines[:-2] + [lines[-2] + b"A"] + lines[-1:]) + b"\n",
        "not SSHSIG": lines[0] + b"\n" + base64.b64encode(b"NOTSIG" + b"\0" * 60) + b"\n" + lines[-1] + b"\n",
        "version 2": _sshsig_armor(dict(_sshsig_fields(armored), version=2)),
        "short key": _sshsig_armor(dict(_sshsig_fields(armored), public_key=_s(b"ssh-ed25519") + _s(b"\1" * 31))),
        "key with a tail": _sshsig_armor(dict(_sshsig_fields(armored),
                                              public_key=_sshsig_fields(armored)["public_key"] + b"\0")),
        "signature type": _sshsig_armor(dict(_sshsig_fields(armored), signature=_s(b"ssh-rsa") + _s(b"\0" * 64))),
        "short signature": _sshsig_armor(dict(_sshsig_fields(armored),
                                              signature=_sshsig_fields(armored)["signature"][:-1])),
    }
    f, blob = _sshsig_fields(armored), _sshsig_blob(armored)
    cases.update({
        # what sshsig's reader lets through: a length past the end of the data, data after a field
        "a length past the end": _armor(blob[:-len(f["signature"]) - 4] + struct.pack(">I", len(f["signature"]) + 8)
                                        + f["signature"]),
        "data after the last field": _armor(blob + b"\0\0\0\0"),
        "data after the signature": _sshsig_armor(dict(f, signature=f["signature"] + b"\0")),
        "text before the armour": b"x\n" + armored,
    })
    for what, bad in cases.items():
        assert not keygen_accepts(payload, bad, repo["root"]), what
        info = signing.verify_commit(with_signature(payload, bad))
        assert info.status == "bad" and info.detail, (what, info)
    # what ssh-keygen ignores: text after the end line; and (confide alone refuses it) a 'reserved' field
    # that is not empty, which ssh-keygen never writes: only another signer holding the key could
    assert keygen_accepts(payload, armored + b"\ntrailing text\n", repo["root"])
    assert signing.verify_commit(with_signature(payload, armored + b"\ntrailing text\n")).status == "good"
    reserved = _sshsig_armor(dict(f, reserved=b"x"))
    assert keygen_accepts(payload, reserved, repo["root"])
    assert signing.verify_commit(with_signature(payload, reserved)) == signing.SigInfo("bad", detail="the signature is malformed")


def test_agrees_with_ssh_keygen_on_random_damage(repo):
    """Bytes of the signature blob changed or cut at random (a fixed seed): confide and ssh-keygen agree on each.
    (sshsig alone took a length field raised past the end of the data for a good signature.)"""
    payload, armored = repo["payload"], repo["armored"]
    blob = _sshsig_blob(armored)
    rng = random.Random(20261124)
    agreed = good = 0
    for _ in range(120):
        b = bytearray(blob)
        for _ in range(rng.choice((1, 1, 2, 4))):
            i = rng.randrange(len(b))
            b[i] = (b[i] + rng.randrange(1, 256)) % 256  # a different byte
        if rng.random() < 0.2:
            del b[rng.randrange(len(b)):]
        if bytes(b) == blob:  # (two changes that undid each other)
            continue
        bad = _armor(bytes(b))
        ours = signing.verify_commit(with_signature(payload, bad)).status == "good"
        assert ours == keygen_accepts(payload, bad, repo["root"]), bytes(b).hex()
        agreed += 1
        good += ours
    # every byte of a canonical signature matters: no damage leaves it good, for either
    assert agreed > 110 and good == 0


def test_the_commit_checked_is_the_one_git_signed(repo, keys):
    """A second gpgsig header, or one in the message, is not taken for the signature."""
    raw = repo["raw"]
    extra = ssh_sign(keys, "bob", repo["payload"])
    head, sep, message = raw.partition(b"\n\n")
    doubled = head + b"\ngpgsig " + b"\n ".join(extra.rstrip(b"\n").split(b"\n")) + sep + message
    info = signing.verify_commit(doubled)  # alice's signature, over a payload that now holds bob's header
    assert info.status == "bad" and info.key == keys.public("alice")
    assert signing.verify_commit(repo["payload"] + b"\ngpgsig " + repo["armored"]).status == "unsigned"


# ---------------------------------------------------------------------------
# keys


def _keygen_fingerprint(keys: Keys, who: str) -> str:
    out = _run("ssh-keygen", "-l", "-E", "sha256", "-f", str(keys.path(who)) + ".pub").stdout.decode()
    return re.search(r"SHA256:\S+", out).group(0)


def test_public_keys_parse_as_ssh_keygen_writes_them(keys):
    for who in ("alice", "bob", "locked"):
        line = (keys.path(who).with_suffix(".pub")).read_text().strip()
        blob = base64.b64decode(line.split()[1])
        assert signing.parse_public_key(line) == blob  # with its comment
        assert signing.parse_public_key(keys.public(who)) == blob
        assert signing.normalise_signing_key(line) == keys.public(who)
        assert signing.fingerprint(line) == _keygen_fingerprint(keys, who)
        printed = _run("ssh-keygen", "-y", "-P", "correct horse" if who == "locked" else "", "-f", str(keys.path(who))).stdout
        assert signing.public_key_of_private_file(keys.path(who).read_bytes()) == " ".join(printed.decode().split()[:2])
        assert signing._is_encrypted_openssh(keys.path(who).read_bytes()) == (who == "locked")


def test_what_is_not_an_ed25519_public_key(keys):
    good = keys.public("alice")
    kind, b64 = good.split()
    blob = base64.b64decode(b64)
    for bad in ("", "ssh-ed25519", "ssh-ed25519 ", keys.public("rsa"), keys.public("ecdsa"),
                "ssh-rsa " + b64, kind + " " + b64[:10] + "!" + b64[10:], kind + " " + b64[:-1],
                kind + " " + base64.b64encode(blob + b"\0").decode(), kind + " " + base64.b64encode(blob[:-1]).decode(),
                kind + " " + base64.b64encode(_s(b"ssh-rsa") + blob[15:]).decode(), kind + " AAAA", "é " + b64):
        with pytest.raises(ValueError):
            signing.parse_public_key(bad)
    for text in (keys.public("rsa"), keys.path("alice").read_text()):
        with pytest.raises(UsageError):
            signing.normalise_signing_key(text)
    with pytest.raises(ValueError):
        signing.public_key_of_private_file(keys.path("rsa").read_bytes())


# ---------------------------------------------------------------------------
# the SSHSIG wire format, to build forged and damaged vectors from real ones


def _s(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _sshsig_blob(armored: bytes) -> bytes:
    body = armored.split(b"-----BEGIN SSH SIGNATURE-----")[1].split(b"-----END SSH SIGNATURE-----")[0]
    return base64.b64decode(b"".join(body.split()))


def _sshsig_fields(armored: bytes) -> dict:
    blob = _sshsig_blob(armored)
    assert blob[:6] == b"SSHSIG"
    out, pos = {"version": struct.unpack(">I", blob[6:10])[0]}, 10
    for name in ("public_key", "namespace", "reserved", "hash_algo", "signature"):
        (n,) = struct.unpack(">I", blob[pos:pos + 4])
        out[name], pos = blob[pos + 4:pos + 4 + n], pos + 4 + n
    assert pos == len(blob)
    return out


def _armor(blob: bytes) -> bytes:
    b64 = base64.b64encode(blob)
    return b"-----BEGIN SSH SIGNATURE-----\n" + b"\n".join(b64[i:i + 70] for i in range(0, len(b64), 70)) + \
        b"\n-----END SSH SIGNATURE-----\n"


def _sshsig_armor(f: dict) -> bytes:
    blob = b"SSHSIG" + struct.pack(">I", f["version"]) + b"".join(
        _s(f[k]) for k in ("public_key", "namespace", "reserved", "hash_algo", "signature"))
    return _armor(blob)


def test_the_vector_builder_round_trips(repo, keys):
    """The helpers that build forged vectors rebuild ssh-keygen's own armour byte for byte."""
    assert _sshsig_armor(_sshsig_fields(repo["armored"])).rstrip(b"\n") == repo["armored"]  # (a header: no final newline)
    direct = ssh_sign(keys, "bob", repo["payload"])
    assert _sshsig_armor(_sshsig_fields(direct)) == direct
