"""Making keys and vaults: ``confide keygen`` and ``confide init``.

A vault starts as a git repository whose first commit, signed by its founding
manager, is its identity: this clone pins it (``services.trust``) and prints it,
and every other clone is given it (``confide clone --trust``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.adapters.config import Config
from vault_cli.adapters.gitrepo import GitFailed, Repository
from vault_cli.adapters.gitstore import Git
from vault_cli.adapters.store import Transaction
from vault_cli.errors import ExternalError, UsageError, VaultStateError
from vault_cli.formats import policyfiles
from vault_cli.formats.policyfiles import holders_from_bytes, render_template, settings_from_bytes
from vault_cli.model import trail
from vault_cli.model.holders import HOLDERS_FILE, Holder, Holders
from vault_cli.model.settings import SETTINGS_FILE
from vault_cli.services import signatures
from vault_cli.services.holders import check_holder_name
from vault_cli.services.vault import default_identity_path, load_identities
from vault_cli.services.writing import WriteResult


@dataclass
class InitResult(WriteResult):
    anchor: Optional[str] = None  # the vault's identity, first commit @ founding key's fingerprint


GITATTRIBUTES = """\
# confide: record files merge as a union of entries, with no key needed.
records/*.yaml merge=confide
*.yaml text eol=lf
"""
GITIGNORE = """\
# confide's temporary files while it writes (ciphertext only)
.confide-tmp-*
records/.confide-tmp-*
"""


@dataclass
class KeygenResult:
    path: Path
    recipient: str


def keygen(config: Config, out: Optional[str] = None, passphrase: Optional[str] = None, *,
           age_only: bool = False) -> KeygenResult:
    """A new key for a holder, written with mode 0600 (never over an existing file).

    By default one SSH ed25519 key that both reads and signs: it is the holder's age
    recipient (age reads ``ssh-ed25519`` keys) and their commit-signing key (git signs
    with it through ``ssh-keygen``), so a holder has one file to keep and one public
    line to send. ``age_only`` makes a native age identity instead, for a key that
    never signs (an offline recovery key). The recipient returned is the public line.
    """
    path = Path(out).expanduser() if out else default_identity_path(config)
    if path.exists() or path.is_symlink():
        raise VaultStateError(
            f"{path} already exists; confide never overwrites a key",
            "choose another file with {0} FILE, or move the old key away first if you really mean to replace it",
            fields=("key file",),
        )
    if not out:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise UsageError(f"the folder {path.parent} does not exist", "create it first, or choose another {0}",
                         fields=("key file",))
    if age_only:
        secret, recipient = crypto.generate_identity()
        text = f"# created: {config.clock.now_iso()}\n# public key: {recipient}\n{secret}\n"
        data = crypto.protect_identity(text, passphrase) if passphrase else text.encode("ascii")
    else:
        data, recipient = crypto.generate_ssh_identity(passphrase)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise VaultStateError(f"{path} already exists; confide never overwrites a key", "choose another file with {0} FILE",
                              fields=("key file",)) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return KeygenResult(path, recipient)


def init_vault(
    directory: str,
    config: Config,
    *,
    name: str,
    holder: str,
    recipient: Optional[str] = None,
    passphrase: Optional[Callable] = None,
    signing_key: Optional[str] = None,
    unsigned: bool = False,
    object_format: str = "sha1",
) -> InitResult:
    """Make a vault: a git repository whose first commit, signed by its founding manager, is its identity.

    The vault requires signed commits from that first commit on, unless ``unsigned``
    (for experiments), which confide.yaml then says. This clone pins the vault's
    anchor (``trust``) and ``WriteResult.id`` is the folder; the anchor is in ``notes``.
    """
    check_holder_name(holder)
    if object_format not in ("sha1", "sha256"):
        raise UsageError(f"unknown object format '{object_format}'", "{0} takes sha1 or sha256", fields=("object format",))
    if not name or not name.strip():
        raise UsageError("the setting's name is empty", "give it with {0}", fields=("setting's name",))
    from vault_cli.adapters import signing
    from vault_cli.formats import yamlio
    from vault_cli.services.writing import check_input as _check_input

    template = render_template(name.strip(), signing="unsigned" if unsigned else "required")
    # Validate confide.yaml before it is written (a usage error naming the field, not a damaged file).
    _check_input("settings", yamlio.load(template, SETTINGS_FILE), "{0} (confide.yaml)", fields=("setting's name",))
    settings = settings_from_bytes(template.encode("utf-8"))
    role = next((r.name for r in settings.roles.values() if "manage-holders" in r.may), None)
    if role is None:  # pragma: no cover - the template always has one
        raise UsageError("confide.yaml has no role that may manage holders", "the vault needs a founding manager")
    if recipient is None:
        idents, _ = load_identities(config, passphrase)
        recipient = idents[0].recipient
    recipient = crypto.normalise_recipient(recipient)
    if signing_key is not None:
        signing_key = signing.normalise_signing_key(signing_key)
    elif recipient.startswith(crypto.SSH_ED25519 + " "):
        signing_key = recipient  # one key that reads and signs, as 'confide keygen' makes
    root = Path(directory).expanduser()
    if (root / SETTINGS_FILE).exists():
        raise VaultStateError(f"{root} is already a confide vault", "use it as it is, or choose another folder")
    created_dir = not root.exists()
    if root.exists():
        if not root.is_dir():
            raise VaultStateError(f"{root} exists and is not a folder", "choose another path")
        if any(p.name != ".git" for p in root.iterdir()):
            raise VaultStateError(f"{root} is not empty", "make the vault in a new or empty folder")
    if signing_key is None and not unsigned:
        raise UsageError(
            "a vault requires signed commits from its first one, and no signing key was given",
            "make your key with 'confide keygen' (one SSH key that reads and signs) and use it as your identity, "
            "or give {0} \"ssh-ed25519 AAAA...\"; {1} makes an experimental vault without signatures",
            fields=("signing key", "no signatures"),
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        try:
            Repository.init(root, object_format)
        except GitFailed as exc:
            raise ExternalError(f"git could not make a repository in {root}: {exc.detail}",
                                "check the folder's permissions and the free space there") from None
        git = Git(root)
        (root / "records").mkdir(exist_ok=True)
        today = config.clock.today().isoformat()
        holders = Holders([Holder(name=holder, role=role, recipient=recipient, status="active", added=today, added_by=holder,
                                  signing_key=signing_key)])
        from vault_cli.services.sync import register_repo_config

        register_repo_config(root)  # the merge driver, and allowed_signers for plain git
        from vault_cli.services.vault import identity_location

        ident_path = identity_location(config)[0]

        def sign_plan(holder_name: str, tx: Transaction):
            return signatures.prepare(settings_from_bytes(tx.files[SETTINGS_FILE]),
                                      holders_from_bytes(tx.files[HOLDERS_FILE]), holder_name, config,
                                      identity_path=ident_path)

        with Transaction(root, git, config, base=None, prepare=sign_plan) as tx:
            tx.write(SETTINGS_FILE, template.encode("utf-8"))
            tx.write(HOLDERS_FILE, policyfiles.dump_holders(holders).encode("utf-8"))
            tx.write(".gitattributes", GITATTRIBUTES.encode())
            tx.write(".gitignore", GITIGNORE.encode())
            tx.write("records/.gitkeep", b"")
            commit = tx.commit(trail.message("create vault", "vault.init", holder, subject_holder=holder), holder)
        from vault_cli.services import trust

        state = trust.TrustState(trust.git_dir_of(root), anchor=trust.anchor_of(root, commit), verified=commit)
        state.save()
        trust.write_allowed_signers(root, state.git_dir, commit)
    except BaseException:
        if created_dir:
            shutil.rmtree(root, ignore_errors=True)
        else:
            shutil.rmtree(root / ".git", ignore_errors=True) if not any(root.glob(".git/refs/heads/*")) else None
        raise
    warnings = ["this vault has no recovery holder yet; add an offline one (confide keygen --age --out FILE on a "
                "machine kept offline): confide holder add vault-recovery --role recovery --recipient age1..."]
    if unsigned:
        warnings.append("this vault does not require signatures (--unsigned): anyone who can write to the repository "
                        "can write as anyone; use it only for experiments")
    return InitResult(str(root.resolve()), commit, warnings, anchor=state.anchor)


__all__ = ["keygen", "init_vault", "KeygenResult", "GITATTRIBUTES", "GITIGNORE"]
