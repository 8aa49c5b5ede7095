"""Who may read and do what: the setting's policy as code.

Default readers of a level of a record (DESIGN.md, "Confidentiality levels"):
every active holder whose role reads that level of every record (managers,
DSLs, recovery keys; practitioners for ``general``), the child's key person for
the levels in ``key_person_reads``, and explicit grants that have not expired.
The envelope's wrapped copies are kept equal to this set; cryptography, not
this module, is what enforces it on read.
"""

from __future__ import annotations

import datetime as dt

from .errors import Denied
from .holders import Holder, Holders
from .settings import Settings


def grant_live(grant: dict, today: dt.date) -> bool:
    until = grant.get("until")
    return until is None or dt.date.fromisoformat(until) >= today


def readers_for(
    settings: Settings,
    holders: Holders,
    head: dict,
    level: str,
    today: dt.date,
) -> set[str]:
    names: set[str] = set()
    for h in holders.active():
        role = settings.roles.get(h.role)
        if role and level in role.reads:
            names.add(h.name)
    kp = head.get("key_person")
    if kp and level in settings.key_person_reads:
        holder = holders.find(kp)
        if holder is not None and holder.active:
            names.add(kp)
    for r in head.get("revoked", []) or []:  # role or key-person access revoked for this record
        if r["level"] == level:
            names.discard(r["holder"])
    for g in head.get("grants", []) or []:
        if g["level"] == level and grant_live(g, today):
            holder = holders.find(g["holder"])
            if holder is not None and holder.active:
                names.add(g["holder"])
    return names


def reasons_for(settings: Settings, holders: Holders, head: dict, holder: Holder, level: str, today: dt.date) -> list[str]:
    """Why a holder reads a level of a record (for ``confide access``)."""
    out: list[str] = []
    role = settings.roles.get(holder.role)
    if role and level in role.reads:
        out.append(f"role {holder.role}")
    if head.get("key_person") == holder.name and level in settings.key_person_reads:
        out.append("key person")
    if any(r["holder"] == holder.name and r["level"] == level for r in head.get("revoked", []) or []):
        out = []  # 'confide revoke' took away the role / key-person access to this record
    for g in head.get("grants", []) or []:
        if g["holder"] == holder.name and g["level"] == level and grant_live(g, today):
            out.append("grant" + (f" until {g['until']}" if g.get("until") else ""))
    return out


def require_writer(settings: Settings, actor: Holder) -> None:
    role = settings.roles.get(actor.role)
    if role is None or not role.acts or not role.writes:
        raise Denied(
            f"holder '{actor.name}' ({actor.role}) may not write to the vault",
            "recovery keys and auditors read only; act with a manager's, DSL's or practitioner's identity",
        )


def require_actor_may_act(settings: Settings, actor: Holder) -> None:
    role = settings.roles.get(actor.role)
    if role is None or not role.acts:
        raise Denied(
            f"holder '{actor.name}' is a {actor.role} key and is never used for day-to-day commands",
            "act with your own identity; the recovery key is for break-glass use only",
        )


def require_holder_manager(settings: Settings, actor: Holder) -> None:
    role = settings.roles.get(actor.role)
    if role is None or not role.manages_holders or not role.acts:
        raise Denied(
            f"only a manager may change key holders; '{actor.name}' is a {actor.role}",
            "ask a manager to run this command",
        )


def may_grant(settings: Settings, actor: Holder, level: str) -> bool:
    role = settings.roles.get(actor.role)
    return bool(role and role.acts and level in role.grants)


