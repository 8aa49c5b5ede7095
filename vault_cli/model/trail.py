"""Commit messages: the audit trail's words.

Every change is one commit whose message names no child: only ids, the
action and the acting holder, as trailers that ``git interpret-trailers`` and
``confide audit`` parse.
"""

from __future__ import annotations

from typing import Optional

ACTIONS = {
    "vault.init": "create vault",
    "holder.add": "add holder",
    "record.create": "create record",
    "profile.update": "update profile of",
    "entry.add": "add entry",
    "entry.mark": "mark entry",
    "access.grant": "grant",
    "access.revoke": "revoke",
    "access.expire": "expire grants",
    "record.key-person": "hand over",
    "holder.remove": "remove holder",
    "holder.rotate": "rotate key of",
}


def message(
    subject: str,
    action: str,
    holder: str,
    *,
    record: Optional[str] = None,
    entry: Optional[str] = None,
    subject_holder: Optional[str] = None,
    extra: Optional[dict[str, str]] = None,
) -> str:
    lines = [f"confide: {subject}", "", f"Confide-Action: {action}"]
    if record:
        lines.append(f"Confide-Record: {record}")
    if entry:
        lines.append(f"Confide-Entry: {entry}")
    if subject_holder:
        lines.append(f"Confide-Subject: {subject_holder}")
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    lines.append(f"Confide-Holder: {holder}")
    return "\n".join(lines) + "\n"
