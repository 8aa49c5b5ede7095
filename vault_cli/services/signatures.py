"""How the commit a holder is about to make is signed: the vault's rule, and the key that can do it.

The rule (``policy.signatures_required``) comes from the verified state the
commit builds on: those are the keys ``confide verify`` will judge it by. The
key is found by ``adapters.signing.plan_for``: ``--signing-key-file`` /
``CONFIDE_SIGNING_KEY``, else the identity file itself when it is the holder's
SSH key (what ``confide keygen`` makes), else the declared key in ssh-agent.
Everything here is decided before any file is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from vault_cli.adapters.config import SIGNING_KEY, Config
from vault_cli.adapters.signing import SignPlan, plan_for
from vault_cli.errors import IdentityProblem
from vault_cli.model.holders import Holders
from vault_cli.model.policy import signatures_required
from vault_cli.model.settings import Settings


def prepare(settings: Settings, holders: Holders, holder_name: str, config: Config, *,
            identity_path: Optional[Path] = None) -> Optional[SignPlan]:
    """How to sign the commit ``holder_name`` is about to make, or None to commit unsigned.

    Raises before anything is written when the vault requires signatures and no key can sign.
    """
    required = signatures_required(settings, holders)
    holder = holders.find(holder_name)
    declared = holder.signing_key if holder is not None else None
    if not declared:
        if required:
            raise IdentityProblem(
                f"this vault requires signed commits and holder '{holder_name}' has no signing key; nothing was changed",
                f"a manager declares it with: confide holder set-signing-key {holder_name} \"ssh-ed25519 AAAA...\" "
                "(the line 'confide keygen' printed)",
            )
        return None
    plan = plan_for(declared, identity_path=identity_path, key_file=config.signing_key_file,
                    agent=config.ssh_agent, holder_name=holder_name)
    if plan is None and required:
        raise IdentityProblem(
            f"this vault requires signed commits and no private signing key for '{holder_name}' was found; nothing was changed",
            f"use the identity 'confide keygen' made, or pass {{0}} FILE (or set {SIGNING_KEY}), "
            "or load the key into ssh-agent (ssh-add FILE)",
            fields=("signing key file",),
        )
    return plan


__all__ = ["prepare"]
