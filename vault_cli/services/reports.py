"""Who reads what, from the plaintext structure of the record heads: no key needed.

``confide access RECORD`` lists, per level, each reader of the current key
generation with the reasons (role, key person, grant and until); ``confide
access --holder NAME`` lists every record and level a holder can read. An
inspector can run both on a clone.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from vault_cli.adapters import parallel
from vault_cli.formats import envelope
from vault_cli.model import policy
from vault_cli.services.keys import generations
from vault_cli.services.vault import Vault


def _level_report(vault: Vault, env: envelope.Envelope, level: str, today: dt.date) -> dict:
    settings, holders = vault.settings, vault.holders
    head = env.head
    cur = env.current_key(level)
    gens = generations(env, level)
    readers = []
    for name in sorted(cur.holders):
        h = holders.find(name)
        row: dict = {"holder": name, "role": h.role if h else None, "status": h.status if h else "unknown"}
        reasons = policy.reasons_for(settings, holders, head, h, level, today) if h else []
        until = None
        for g in env.grants:
            if g.is_for(name, level):
                until = g.until
                if not g.live(today):
                    reasons.append(f"expired grant (until {until}): ends at the next write or 'confide expire'")
        row["reasons"] = reasons or ["a copy with no reason in the policy: run 'confide verify'"]
        row["until"] = until
        row["generations"] = [k.generation for k in gens if k.holds(name)]
        readers.append(row)
    grants = [g.to_json() for g in env.grants if g.level == level]
    revoked = [r.to_json() for r in env.revocations if r.level == level]
    return {"level": level, "generation": cur.generation, "key": cur.id, "readers": readers,
            "grants": grants, "revoked": revoked, "rekey_pending": level in env.rekey}


def record_access(vault: Vault, record_id: str) -> dict:
    """Who can read which level of a record, and why (role, key person, grant, until)."""
    env = vault.envelope(record_id, entries=False)
    today = vault.config.clock.today()
    return {"record": record_id, "key_person": env.head.get("key_person"),
            "levels": [_level_report(vault, env, lv, today) for lv in vault.settings.levels]}


def holder_access(vault: Vault, name: str, progress=None) -> dict:
    """What a holder can read: every record and level they hold a copy of the current generation of."""
    holder = vault.holders.get(name)
    today = vault.config.clock.today()
    settings, holders = vault.settings, vault.holders

    def one(rid: str) -> Optional[dict]:
        env = vault.envelope(rid, entries=False)
        levels = []
        for level in settings.levels:
            gens = generations(env, level)
            held = [k.generation for k in gens if k.holds(name)]
            if not held:
                continue
            reasons = policy.reasons_for(settings, holders, env.head, holder, level, today)
            until = None
            for g in env.grants:
                if g.is_for(name, level):
                    until = g.until
                    if not g.live(today):
                        reasons.append(f"expired grant (until {until}): ends at the next write or 'confide expire'")
            current = gens[-1].generation in held
            if not current:
                reasons.append("older generations only: reads entries written before a later key change")
            levels.append({"level": level, "current": current, "generations": held,
                           "reasons": reasons or ["a copy with no reason in the policy: run 'confide verify'"],
                           "until": until})
        if not levels:
            return None
        return {"record": rid, "key_person": env.head.get("key_person") == name, "levels": levels}

    rows = [r for r in parallel.map_ordered(one, vault.record_ids(), progress=progress,
                                                      processes=vault.config.workers) if r is not None]
    return {"holder": name, "role": holder.role, "status": holder.status, "records": rows}


__all__ = ["record_access", "holder_access"]
