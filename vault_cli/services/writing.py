"""Every write's frame: the lock, the verified state, the actor, what is due first, one result.

``writing(session)`` takes the vault's lock, brings the vault up to its verified
HEAD (verifying what another command committed meanwhile), finds the acting
holder again and checks they may write, applies what is due before any write
(expired grants, pending re-keys: ``services.upkeep``, in a commit of its own;
an old vault's staff details, sealed by the first manager to write: ``services.staff``),
and after the command's own commit moves the expiry cache along.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Optional

from vault_cli.adapters.store import Transaction
from vault_cli.errors import IntegrityError, UsageError
from vault_cli.formats import schema
from vault_cli.model import policy
from vault_cli.model.holders import Holder
from vault_cli.services import staff, upkeep
from vault_cli.services.vault import Session


@dataclass
class WriteResult:
    id: str
    commit: str
    warnings: list[str] = field(default_factory=list)


@contextmanager
def writing(session: Session) -> Iterator[tuple[Transaction, Holder]]:
    """Lock the vault, reload what may have changed while we waited, check the actor."""
    vault = session.vault
    with vault.transaction() as tx:  # under the lock, the vault is brought up to its verified HEAD
        session.actor = None
        for ident in session.identities:
            session.actor = vault.holders.by_recipient(ident.recipient)
            if session.actor:
                break
        actor = session.require_writer()
        upkeep.keep_current(session, tx, actor)  # expired grants, pending re-keys: before any write (own commit)
        staff.seal_if_due(session.settings, session.holders, session.identities, tx, actor)  # an old vault's staff details
        yield tx, actor
        upkeep.after_write(session, tx)


def check_input(schema_name: str, value: dict, what: str, *, definition: Optional[str] = None,
                fields: tuple = ()) -> None:
    """Validate what the user gave before it is sealed.

    A value out of bounds (a 3,000-character reason, a 200,001-character text) is a
    usage error naming the field, not a damaged file to "restore from git". ``what`` may name
    ``fields`` as ``{0}``... (``errors.ConfideError``).
    """
    try:
        if definition is None:
            schema.check(schema_name, value, what)
        else:
            schema.check_def(schema_name, definition, value, what)
    except IntegrityError as exc:
        problem = exc.message.split(" schema: ", 1)[-1].split("): ", 1)[-1]
        raise UsageError(
            f"{what} would not be valid: {problem}",
            f"shorten or correct that value; the limits are in schemas/{schema_name}.schema.json; nothing was changed",
            fields=fields,
        ) from None


def warnings_for_vault(session: Session) -> list[str]:
    out = []
    if not any(policy.is_recovery(session.settings, h) for h in session.holders.active()):
        out.append(
            "this vault has no recovery holder: if every manager loses their key, the records are lost; "
            "add an offline one with: confide holder add vault-recovery --role recovery --recipient age1..."
        )
    return out


__all__ = ["WriteResult", "writing", "check_input", "warnings_for_vault"]
