"""Staff details in holders.yaml: sealed for the holders who use them, opened for whoever may read them.

holders.yaml is read by everyone with a clone (verification needs each
holder's login, role, keys, status and dates), so what it says of a member of
staff beyond that, their *staff details* (``model.holders.STAFF_DETAILS``: the
display name a parent's copy uses, the reason they were removed), is sealed:
one age block per detail, for the holders ``model.policy.staff_readers`` names
(managers and a recovery key; for the display name also whoever prepares a
parent's copy), listed under ``for``. The block's payload names its holder and
detail, so a block moved to another holder or detail does not open as theirs.

Every write of holders.yaml seals first (``dump``): a changed detail anew, and
a sealed one again whenever its readers changed (a manager added or removed)
or one of them rotated their key, so a removed manager's key opens nothing
sealed after they left, and a new manager reads what is there. Only managers
write holders.yaml; a manager is always among the readers, so they can reseal.

A vault made before details were sealed keeps them in the clear (format 1):
the first write by a manager of any kind seals them, in a commit of its own
before the command's (``seal_if_due``); so, too, details sealed for other
readers than those of the moment (confide.yaml's roles changed, a merge). From then on holders.yaml is format 2,
and ``confide verify`` reports a commit that keeps a detail in the clear, or
goes back to format 1 (``verify_policy``). Git history still holds the old
plain file: purge it from history if it must go.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Optional

from vault_cli.adapters import crypto
from vault_cli.adapters.store import Transaction
from vault_cli.errors import Denied, IntegrityError
from vault_cli.formats import policyfiles
from vault_cli.model import policy, trail
from vault_cli.model.holders import FORMAT, HOLDERS_FILE, STAFF_DETAILS, Holder, Holders, detail_words
from vault_cli.model.settings import Settings

PAYLOAD = "confide/staff-detail/1"
SEAL_ACTION = "holder.seal-details"


def new_version() -> str:
    """A sealed detail's version: random (it says nothing of the value), new with each value and kept when the
    same value is sealed anew for other readers, so a merge can tell a reseal from a change
    (``services.merge.merge_holders``)."""
    import secrets

    return "v-" + secrets.token_hex(6)


def _payload(holder: str, detail: str, value: str) -> bytes:
    return json.dumps({"format": PAYLOAD, "holder": holder, "detail": detail, "value": value},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _damaged(h: Holder, detail: str, what: str) -> IntegrityError:
    return IntegrityError(f"the sealed {detail_words(detail)} of holder '{h.name}' in {HOLDERS_FILE} {what}",
                          f"restore {HOLDERS_FILE} from git (git log -p {HOLDERS_FILE}) and run 'confide verify'")


def open_detail(h: Holder, detail: str, identities: Iterable[crypto.Identity]) -> Optional[str]:
    """A sealed detail's value, or None if it is not sealed for any of these keys."""
    block = h.sealed[detail]["data"]
    for ident in identities:
        try:
            raw = crypto.decrypt(block, ident)
        except crypto.NotForThisKey:
            continue
        except IntegrityError:
            raise _damaged(h, detail, "is damaged") from None
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _damaged(h, detail, "does not hold a confide payload") from None
        if (not isinstance(payload, dict) or payload.get("format") != PAYLOAD or payload.get("holder") != h.name
                or payload.get("detail") != detail or not isinstance(payload.get("value"), str)):
            raise _damaged(h, detail, "belongs to another holder or detail (moved by hand)")
        return payload["value"]
    return None


def open_details(holders: Holders, identities: list[crypto.Identity]) -> None:
    """Open every sealed detail these keys can (once per key); the others stay None."""
    keys = {i.recipient for i in identities}
    if keys <= holders.opened:
        return
    for h in holders.all:
        for detail in list(h.sealed):
            value = open_detail(h, detail, identities)
            if value is not None:
                setattr(h, detail, value)
    holders.opened |= keys


def unread_details(holders: Holders, h: Holder) -> list[str]:
    """The details sealed in ``h``'s entry that were not opened (after ``open_details``)."""
    return [d for d in h.sealed if getattr(h, d) is None]


def seal_details(settings: Settings, holders: Holders, identities: list[crypto.Identity], *,
                 rotated: Iterable[str] = ()) -> None:
    """Before holders.yaml is written: every staff detail sealed for exactly its readers now."""
    rotated = set(rotated)
    by_name = {h.name: h for h in holders.all}
    readers = {d: policy.staff_readers(settings, holders, d) for d in STAFF_DETAILS}
    for h in holders.all:
        for detail in STAFF_DETAILS:
            sealed = h.sealed.get(detail)
            value = getattr(h, detail)
            version = None  # a new value gets a new version; the same value sealed anew keeps its own
            if sealed is not None:
                version = sealed.get("version")
                if sealed["for"] == readers[detail] and not rotated & set(sealed["for"]):
                    continue
                if value is None:
                    value = open_detail(h, detail, identities)
                if value is None:
                    raise Denied(
                        f"the {detail_words(detail)} of holder '{h.name}' is sealed for {', '.join(sealed['for'])}, not "
                        f"for you, so you cannot seal it anew for {', '.join(readers[detail])}; nothing was changed",
                        "a manager whose key opens it must make this change",
                    )
                setattr(h, detail, value)
            elif value is None:
                continue
            h.sealed[detail] = {
                "for": list(readers[detail]),
                "version": version or new_version(),
                "data": crypto.encrypt_for_all(_payload(h.name, detail, value),
                                               [by_name[n].recipient for n in readers[detail]]),
            }


def dump(settings: Settings, holders: Holders, identities: list[crypto.Identity], *,
         rotated: Iterable[str] = ()) -> bytes:
    """holders.yaml's bytes, every staff detail sealed (``rotated``: holders whose key just changed)."""
    seal_details(settings, holders, identities, rotated=rotated)
    return policyfiles.dump_holders(holders).encode("utf-8")


def _due(settings: Settings, holders: Holders) -> bool:
    if holders.format < FORMAT:
        return True
    readers = {d: policy.staff_readers(settings, holders, d) for d in STAFF_DETAILS}
    return any(h.plaintext_details() or any(b["for"] != readers[d] for d, b in h.sealed.items()) for h in holders.all)


def seal_if_due(settings: Settings, holders: Holders, identities: list[crypto.Identity], tx: Transaction,
                actor: Holder) -> Optional[str]:
    """Details in the clear (a vault whose holders.yaml is still format 1), or sealed for other readers than
    those of the moment (confide.yaml's roles changed, or a merge brought in a holder sealed by the other
    side's readers): the next manager to write anything seals them, in a commit of its own before the
    command's. Returns that commit, or None (nothing due, not a manager, or sealed for others than them)."""
    if not policy.may(settings, actor, "manage-holders") or not _due(settings, holders):
        return None
    try:
        data = dump(settings, holders, identities)
    except Denied:
        return None  # sealed for other managers: one of them will, at their next write
    tx.write(HOLDERS_FILE, data)
    commit = tx.commit(trail.message("seal staff details in holders.yaml", SEAL_ACTION, actor.name), actor.name)
    tx.files.clear()
    tx.removed.clear()
    return commit


__all__ = ["open_detail", "open_details", "unread_details", "seal_details", "dump", "seal_if_due", "SEAL_ACTION"]
