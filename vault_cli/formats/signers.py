"""The signers file git reads for ``git log --show-signature`` (``gpg.ssh.allowedSignersFile``).

One line per signing key of a holder, the principal being the holder's name;
keys of removed holders and replaced keys carry ``valid-before``, so that what
they signed while they held them still checks. confide derives it from the
verified holders into ``.git/confide/allowed_signers`` (``services.trust``);
vaults made before that keep a tracked copy that confide keeps in step and
never trusts.
"""

from __future__ import annotations

import datetime as dt

from vault_cli.formats import policyfiles
from vault_cli.model.holders import Holders

ALLOWED_SIGNERS_FILE = "allowed_signers"
# The header of the signers file, byte for byte as vaults made before it moved into .git committed it
# (verify compares their tracked copy with what holders.yaml gives, so it never changes).
ALLOWED_SIGNERS_HEADER = (
    "# confide: generated from holders.yaml; do not edit by hand.\n"
    "# Signing keys of the vault's holders, for 'git log --show-signature' and 'confide verify'.\n"
    "# Use it with: git config gpg.ssh.allowedSignersFile \"$PWD/allowed_signers\"\n"
)


def _day_after(date: str) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).strftime("%Y%m%d")


def allowed_signers_text(holders: Holders) -> str:
    lines = [ALLOWED_SIGNERS_HEADER]
    for h in holders.all:
        for old in getattr(h, "previous_signing_keys", []) or []:
            lines.append(f'{h.name} namespaces="git",valid-before="{_day_after(old["until"])}Z" {old["key"]}\n')
        if h.signing_key:
            if h.status == "active":
                lines.append(f'{h.name} namespaces="git" {h.signing_key}\n')
            elif h.removed:
                lines.append(f'{h.name} namespaces="git",valid-before="{_day_after(h.removed)}Z" {h.signing_key}\n')
    return "".join(lines)


def allowed_signers_for(holders_yaml: bytes) -> bytes:
    """The signers file for a holders.yaml's bytes."""
    return allowed_signers_text(policyfiles.holders_from_bytes(holders_yaml)).encode("utf-8")


__all__ = ["ALLOWED_SIGNERS_FILE", "ALLOWED_SIGNERS_HEADER", "allowed_signers_text", "allowed_signers_for"]
