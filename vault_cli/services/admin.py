"""Keys, vaults and key holders: keygen, init, holder add and list."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from vault_cli.adapters import crypto

from vault_cli.formats import envelope

from vault_cli.model import ids

from vault_cli.model import policy

from vault_cli.adapters import timeutil

from vault_cli.model import trail
from vault_cli.errors import Denied, ExternalError, UsageError, VaultStateError
from vault_cli.adapters.gitstore import init_repository
from vault_cli.model.holders import HOLDERS_FILE, Holder, Holders
from vault_cli.services.records import WriteResult, warnings_for_vault, writing
from vault_cli.model.settings import SETTINGS_FILE, render_template
from vault_cli.adapters.store import Transaction
from vault_cli.services.vault import Session, Vault, default_identity_path, load_identities

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


def keygen(out: Optional[str] = None, passphrase: Optional[str] = None, *, age_only: bool = False) -> KeygenResult:
    """A new key for a holder, written with mode 0600 (never over an existing file).

    By default one SSH ed25519 key that both reads and signs: it is the holder's age
    recipient (age reads ``ssh-ed25519`` keys) and their commit-signing key (git signs
    with it through ``ssh-keygen``), so a holder has one file to keep and one public
    line to send. ``age_only`` makes a native age identity instead, for a key that
    never signs (an offline recovery key). The recipient returned is the public line.
    """
    path = Path(out).expanduser() if out else default_identity_path()
    if path.exists() or path.is_symlink():
        raise VaultStateError(
            f"{path} already exists; confide never overwrites a key",
            "choose another file with --out FILE, or move the old key away first if you really mean to replace it",
        )
    if not out:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise UsageError(f"the folder {path.parent} does not exist", "create it first, or choose another --out")
    if age_only:
        secret, recipient = crypto.generate_identity()
        text = f"# created: {timeutil.now_iso()}\n# public key: {recipient}\n{secret}\n"
        data = crypto.protect_identity(text, passphrase) if passphrase else text.encode("ascii")
    else:
        data, recipient = crypto.generate_ssh_identity(passphrase)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise VaultStateError(f"{path} already exists; confide never overwrites a key", "choose another file with --out FILE") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return KeygenResult(path, recipient)


def _check_holder_name(name: str) -> str:
    if not ids.HOLDER_RE.fullmatch(name or ""):
        raise UsageError(
            f"'{name[:40]}' is not a valid holder name",
            "holder names are lower case, start with a letter, and use letters, digits, '.', '_' or '-' (e.g. amira, ben.s)",
        )
    return name


def init_vault(
    directory: str,
    *,
    name: str,
    holder: str,
    recipient: Optional[str] = None,
    identity: Optional[str] = None,
    passphrase: Optional[Callable] = None,
    signing_key: Optional[str] = None,
    unsigned: bool = False,
    object_format: str = "sha1",
) -> WriteResult:
    """Make a vault: a git repository whose first commit, signed by its founding manager, is its identity.

    The vault requires signed commits from that first commit on, unless ``unsigned``
    (for experiments), which confide.yaml then says. This clone pins the vault's
    anchor (``trust``) and ``WriteResult.id`` is the folder; the anchor is in ``notes``.
    """
    _check_holder_name(holder)
    if object_format not in ("sha1", "sha256"):
        raise UsageError(f"unknown object format '{object_format}'", "--object-format takes sha1 or sha256")
    if not name or not name.strip():
        raise UsageError("the setting's name is empty", "give it with --name")
    from vault_cli.adapters import signing
    from vault_cli.formats import yamlio
    from vault_cli.services.records import _check_input
    from vault_cli.model.settings import settings_from_bytes

    template = render_template(name.strip(), signing="unsigned" if unsigned else "required")
    # Validate confide.yaml before it is written (a usage error naming the field, not a damaged file).
    _check_input("settings", yamlio.load(template, SETTINGS_FILE), "--name (confide.yaml)")
    settings = settings_from_bytes(template.encode("utf-8"))
    role = next((r.name for r in settings.roles.values() if "manage-holders" in r.may), None)
    if role is None:  # pragma: no cover - the template always has one
        raise UsageError("confide.yaml has no role that may manage holders", "the vault needs a founding manager")
    if recipient is None:
        idents, _ = load_identities(identity, passphrase)
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
            "or give --signing-key \"ssh-ed25519 AAAA...\"; --unsigned makes an experimental vault without signatures",
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        git = init_repository(root, object_format)
        (root / "records").mkdir(exist_ok=True)
        today = timeutil.today().isoformat()
        holders = Holders([Holder(name=holder, role=role, recipient=recipient, status="active", added=today, added_by=holder,
                                  signing_key=signing_key)])
        from vault_cli.services.sync import register_repo_config

        register_repo_config(root)  # the merge driver, and allowed_signers for plain git
        ident_path = None
        if identity is not None or recipient is not None:
            from vault_cli.services.vault import identity_location

            ident_path = identity_location(identity)[0]
        with Transaction(root, git, identity_path=ident_path) as tx:
            tx.write(SETTINGS_FILE, template.encode("utf-8"))
            tx.write(HOLDERS_FILE, holders.dump().encode("utf-8"))
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
    result = WriteResult(str(root.resolve()), commit, warnings)
    result.anchor = state.anchor  # type: ignore[attr-defined]
    return result


def list_holders(vault: Vault) -> list[dict]:
    return [h.to_dict() for h in vault.holders.all]


def _rewrap_record(session: Session, record_id: str, new_holder: str, recipient: str, levels: tuple[str, ...]) -> Optional[bytes]:
    env = session.vault.envelope(record_id, entries=False)
    changed = False
    for key in env.keys:
        if key["level"] not in levels or new_holder in key["wrapped"]:
            continue
        ident = session.level_identity(env, key["id"])
        if ident is None:
            raise Denied(
                f"you hold no copy of the {key['level']} key of {record_id}, so you cannot give it to '{new_holder}'",
                "a manager who reads every level must run this command",
            )
        secret = str(ident._key)
        key["wrapped"][new_holder] = envelope.wrap_level_key(secret, record=record_id, key=key, holder_recipient=recipient)
        key["wrapped"] = dict(sorted(key["wrapped"].items()))
        changed = True
    return env.head_bytes() if changed else None


def add_holder(session: Session, name: str, *, role: str, recipient: str, progress=None,
               signing_key: Optional[str] = None) -> WriteResult:
    _check_holder_name(name)
    if signing_key is not None:
        from vault_cli.adapters.signing import normalise_signing_key

        signing_key = normalise_signing_key(signing_key)
    session.settings.role(role)
    recipient = crypto.normalise_recipient(recipient)
    writes = "write" in session.settings.roles[role].may
    if signing_key is None and writes and recipient.startswith(crypto.SSH_ED25519 + " "):
        signing_key = recipient  # one key that reads and signs, as 'confide keygen' makes
    with writing(session) as (tx, actor):
        settings, holders = session.settings, session.holders
        policy.require_holder_manager(settings, actor)
        if signing_key is None and writes and policy.signatures_required(settings, holders):
            raise UsageError(
                f"this vault requires signed commits, and a {role} writes: '{name}' needs a signing key",
                "give the line their 'confide keygen' printed (ssh-ed25519 AAAA...) as --recipient, "
                "or add --signing-key \"ssh-ed25519 AAAA...\"",
            )
        if holders.find(name) is not None:
            raise VaultStateError(f"a holder named '{name}' already exists", "choose another name; see them with: confide holder list")
        owner = holders.recipient_owner(recipient)
        if owner is not None:
            raise VaultStateError(
                f"that recipient already belongs to holder '{owner.name}'",
                "every holder needs their own key: have them run 'confide keygen' and send you the line it prints",
            )
        for h in holders.all:
            if signing_key and signing_key in [h.signing_key] + [k["key"] for k in h.previous_signing_keys]:
                raise VaultStateError(f"that signing key already belongs to holder '{h.name}'",
                                      "every holder signs with their own key: ssh-keygen -t ed25519")
        today = timeutil.today().isoformat()
        holders.all.append(Holder(name=name, role=role, recipient=recipient, status="active", added=today, added_by=actor.name,
                                  signing_key=signing_key))
        levels = tuple(lv for lv in settings.levels if policy.may_level(settings, holders.get(name), "reads", lv))
        from vault_cli.services.access import RecordChange, rekey_every_record  # parallel, one pack for the new heads

        _, _, commit = rekey_every_record(
            session, tx, actor, lambda rid: RecordChange(rid, _rewrap_record(session, rid, name, recipient, levels)),
            f"add holder {name} ({role})", "holder.add", name, progress, record_ids=None if levels else [],
        )
    return WriteResult(name, commit, warnings_for_vault(session))


__all__ = ["keygen", "init_vault", "add_holder", "list_holders", "ExternalError"]
