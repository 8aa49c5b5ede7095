"""Judging and recovering a vault's history: verify, trust, repudiate, adopt signing.

These are the commands that must work when history does *not* verify (every
other command refuses then), so they do not open a ``Vault``: they read this
clone's trust state (``services.trust``) and the commits themselves.

- ``verify_vault``: the whole history from the vault's anchor (or what came
  after ``--since``); a clean result moves this clone's checkpoint.
- ``trust``: show or pin the vault's identity.
- ``repudiate``: a manager's signed commit that restores the last verified
  state and names every commit since; verify then reports those commits as
  repudiated, not as open findings, and commands go on. Nothing is rewritten.
- ``adopt_signing``: for a vault whose early history is unsigned (made before
  signing was required, or with ``--unsigned``), one signed commit by a manager
  vouching for the history before it, after which signatures are required.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vault_cli.adapters import gitlog
from vault_cli.adapters.config import Config
from vault_cli.adapters.gitstore import ensure_repository
from vault_cli.adapters.store import Transaction
from vault_cli.errors import IdentityProblem, UsageError, VaultStateError
from vault_cli.formats.policyfiles import holders_from_bytes, settings_from_bytes
from vault_cli.model import policy, trail
from vault_cli.model.holders import HOLDERS_FILE
from vault_cli.model.settings import SETTINGS_FILE
from vault_cli.services import signatures, trust


def identities_if_any(config: Config) -> Optional[list]:
    return _identities(config)


def _identities(config: Config) -> Optional[list]:
    """The caller's identities if any can be found (verify and audit work without one)."""
    from vault_cli.services.vault import identity_location, load_identities

    path, how = identity_location(config)
    if not path.exists() and how == "the default location":
        return None
    return load_identities(config)[0]


def _policy_at(root: Path, commit: str):
    tree = gitlog.CommitTree(root, commit)
    try:
        raw_s, raw_h = tree.read(SETTINGS_FILE), tree.read(HOLDERS_FILE)
    finally:
        tree.close()
    if raw_s is None or raw_h is None:
        raise VaultStateError(f"commit {commit[:12]} holds no confide.yaml or holders.yaml", "run 'confide verify'")
    return settings_from_bytes(raw_s), holders_from_bytes(raw_h)


def open_for_reading(config: Config):
    """A verified vault and the caller's identities (None when there are none), for audit."""
    from vault_cli.services.vault import Vault, find_root

    identities = _identities(config)  # first: what their key opens is checked before anything is listed
    return Vault(find_root(config), identities=identities, config=config), identities


def verify_vault(root: Path, config: Config, *, since: Optional[str] = None):
    """``confide verify``: judge the history; a clean full walk moves this clone's checkpoint to HEAD."""
    from vault_cli.services.verify import Anchor, verify

    git = ensure_repository(root)
    head = git.head()
    state = trust.TrustState.load(trust.git_dir_of(root))
    identities = _identities(config)
    holders = None
    try:
        holders = _policy_at(root, state.verified or head)[1] if head else None
    except Exception:  # an unreadable holders.yaml: verify reports it; the reader is just unnamed
        holders = None
    exclude = (gitlog.resolve_rev(root, since, "start commit"),) if since else ()
    anchor = Anchor.parse(state.anchor) if state.anchor and not since else None
    result = verify(root, clock=config.clock, exclude=exclude, identities=identities, holders=holders, anchor=anchor,
                    repudiated=tuple(state.repudiated) if since else ())
    if not since and state.anchor is None and head:
        result.notes.append("this clone has no trust anchor: the history was checked from its own first commit, "
                            "which a forger could have made too; pin the vault's identity with 'confide trust IDENTITY'")
    if result.ok and not since and state.anchor and head and (
            state.verified is None or gitlog.is_ancestor(root, state.verified, head)):
        state.verified = head
        state.repudiated = sorted(set(state.repudiated) | set(result.repudiated_commits))
        try:
            state.save()
            trust.write_allowed_signers(root, state.git_dir, head)
        except OSError:
            pass  # read-only media: nothing to keep
    return result


def trust_vault(root: Path, anchor: Optional[str], config: Config, *,
                confirm: Optional[Callable[[str], bool]] = None) -> dict:
    """Show this clone's anchor, or pin ``anchor`` once the whole history verifies from it."""
    from vault_cli.services.verify import Anchor

    git = ensure_repository(root)
    head = git.head()
    if head is None:
        raise VaultStateError("the vault has no commits", "make one with: confide init DIR --name NAME --holder YOU")
    state = trust.TrustState.load(trust.git_dir_of(root))
    if anchor is None and state.anchor is not None:
        return {"anchor": state.anchor, "verified": state.verified}
    if anchor is None:
        roots = gitlog.run(root, "rev-list", "--max-parents=0", head).decode().split()
        found = trust.anchor_of(root, roots[-1])
        if confirm is None or not confirm(found):
            raise VaultStateError(
                f"this clone has no trust anchor; the identity its history starts from is {found}",
                "compare it with the identity the vault's manager wrote down, then: confide trust IDENTITY",
            )
        anchor = found
    Anchor.parse(anchor)
    if state.anchor is not None and state.anchor != anchor:
        raise VaultStateError(
            f"this clone already trusts the vault identity {state.anchor}, not the one given",
            "a vault's identity never changes; check which vault this is ('git remote -v')",
        )
    kept = trust.pin(root, anchor, head, clock=config.clock, identities=_identities(config))
    return {"anchor": kept.anchor, "verified": kept.verified}


@dataclass
class RepudiationResult:
    commit: str
    restored: str
    commits: list


class _AtVerified:
    """What a repudiation builds on: HEAD as it is, judged and signed by the last verified state."""

    def __init__(self, root: Path, head: str, verified: str) -> None:
        self.root = root
        self.commit = head
        self.settings, self.holders = _policy_at(root, verified)
        self.tree = gitlog.CommitTree(root, verified)

    def read(self, path: str) -> bytes:
        data = self.tree.read(path)
        if data is None:
            raise FileNotFoundError(path)
        return data

    def refresh(self) -> None:
        pass

    def _load(self, commit: str) -> None:
        self.commit = commit


def repudiate(root: Path, config: Config, *, reason: Optional[str] = None,
              to: Optional[str] = None) -> RepudiationResult:
    """Restore the last verified state (or ``to``, an earlier commit of the verified history) in one signed
    commit that names every commit since."""
    git = ensure_repository(root)
    from vault_cli.adapters.store import recover_if_interrupted
    from vault_cli.services.vault import load_identities

    recover_if_interrupted(root, git)
    state = trust.TrustState.load(trust.git_dir_of(root))
    head = git.head()
    verified = state.verified
    if verified is None or state.anchor is None:
        raise VaultStateError("this clone has never verified this vault, so it has no verified state to restore",
                              "pin the vault's identity first: confide trust IDENTITY")
    if head is None:  # an unborn HEAD: refused as 'confide trust' refuses it (is_ancestor below was given None)
        raise VaultStateError("the vault has no commits", "make one with: confide init DIR --name NAME --holder YOU")
    if to is not None:
        target = gitlog.resolve_rev(root, to, "commit to restore")
        if not gitlog.is_ancestor(root, target, verified):
            raise UsageError(f"{{0}} {to[:60]} is not a commit this clone has verified",
                             "give a commit of the verified history, e.g. the one before the commit to reject",
                             fields=("commit to restore",))
        verified = target
    if head == verified and to is not None:
        raise UsageError("nothing to repudiate: the vault is at that commit", "nothing was changed")
    if not gitlog.is_ancestor(root, verified, head):
        raise VaultStateError(f"the last verified commit {verified[:12]} is not in the vault's current history",
                              f"go back to it with 'git reset --keep {verified[:12]}'")
    if reason is not None and (len(reason) > 300 or "\n" in reason):
        raise UsageError("{0} must be one line of at most 300 characters", "keep it short; never name a child",
                         fields=("reason",))
    idents, path = load_identities(config)
    if to is None:
        # what this manager's own key last checked, when that is older (a commit their key shows to be
        # forged passed the keyless check another holder's command made)
        name = trust.reader_at(root, state, idents)
        seen = state.readers.get(name) if name else None
        if name and seen and seen != verified and gitlog.is_ancestor(root, seen, verified):  # (seen only with a name)
            # their key checks what others' commands let through since: back to before what it finds forged
            verified = trust.clean_point(root, state, verified, clock=config.clock, identities=idents, reader=name)
    if head == verified:
        raise UsageError("nothing to repudiate: the vault is at its last verified commit",
                         "to reject a verified commit that verify judged with a key, give {0} the commit before it",
                         fields=("commit to restore",))
    commits = [sha for sha, _ in gitlog.rev_list(root, head, (verified,))]
    base = _AtVerified(root, head, verified)
    actor = next((base.holders.by_recipient(i.recipient) for i in idents if base.holders.by_recipient(i.recipient)), None)
    if actor is None:
        raise IdentityProblem(f"the identity in {path} is not an active holder of the last verified state",
                              "use a manager's identity")
    policy.require(base.settings, actor, "repudiate", "repudiate commits")
    changes = gitlog.diff_paths(root, verified, head)
    with Transaction(root, git, config, base=head, prepare=lambda holder, _tx: signatures.prepare(
            base.settings, base.holders, holder, config, identity_path=path)) as tx:
        tx.require_clean()
        for p, _old, _new in changes:
            data = base.tree.read(p)
            if data is None:
                tx.remove(p)
            else:
                tx.write(p, data)
        extra = {"Confide-Restores": verified, "Confide-Repudiates": " ".join(commits)}
        if reason:
            extra["Confide-Reason"] = " ".join(reason.split())
        commit = tx.commit(trail.message(f"repudiate {len(commits)} commit(s), restore {verified[:12]}", "vault.repudiate",
                                         actor.name, extra=extra), actor.name,
                           allow_empty=True)  # the commits may have put every file back by hand: still answer them
    state = trust.TrustState.load(trust.git_dir_of(root))
    state.verified = commit
    name = trust.reader_name(root, idents)
    if name:
        state.readers[name] = commit  # what the repudiating manager's key checked; others check it themselves
    state.repudiated = sorted(set(state.repudiated) | set(commits))
    state.save()
    trust.write_allowed_signers(root, state.git_dir, commit)
    base.tree.close()
    return RepudiationResult(commit, verified, commits)


@dataclass
class AdoptResult:
    commit: str
    anchor: str
    warnings: list = field(default_factory=list)


def adopt_signing(session) -> AdoptResult:
    """One signed commit by a manager that vouches for the history before it and requires signatures after."""
    from vault_cli.adapters import signing
    from vault_cli.services.writing import writing

    vault = session.vault
    if policy.signatures_required(vault.settings, vault.holders):
        raise UsageError("this vault already requires signed commits", "nothing was changed")
    with writing(session) as (tx, actor):
        policy.require(vault.settings, actor, "adopt-signing", "adopt signing for the vault")
        if not actor.signing_key:
            raise IdentityProblem(f"'{actor.name}' has no signing key declared, so cannot sign the attestation",
                                  f"a manager declares it first: confide holder set-signing-key {actor.name} \"ssh-ed25519 AAAA...\"")
        text = vault.read(SETTINGS_FILE).decode("utf-8")
        if re.search(r"(?m)^signing:.*$", text):
            text = re.sub(r"(?m)^signing:.*$", "signing: required", text)
        else:
            text = text.rstrip("\n") + "\n\n# Signed history (adopted with 'confide signing adopt').\nsigning: required\n"
        settings_from_bytes(text.encode("utf-8"))  # valid before anything is written
        tx.write(SETTINGS_FILE, text.encode("utf-8"))
        before = vault.commit
        commit = tx.commit(trail.message("adopt signing: require signed commits from now on", "vault.adopt-signing",
                                         actor.name, extra={"Confide-Attests": before}), actor.name)
        unsigned = [h.name for h in vault.holders.active() if policy.may(vault.settings, h, "write") and not h.signing_key]
    state = trust.TrustState.load(trust.git_dir_of(vault.root))
    from vault_cli.services.verify import Anchor

    if state.anchor and Anchor.parse(state.anchor).fingerprint is None:
        state.anchor = str(Anchor(Anchor.parse(state.anchor).root, signing.fingerprint(actor.signing_key)))
        state.save()
    result = AdoptResult(commit, state.anchor or "")
    if unsigned:
        result.warnings.append(f"holders without a signing key can no longer write: {', '.join(unsigned)}; "
                               "declare theirs with 'confide holder set-signing-key'")
    return result


__all__ = ["verify_vault", "trust_vault", "repudiate", "adopt_signing", "open_for_reading"]
