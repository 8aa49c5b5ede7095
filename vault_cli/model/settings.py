"""confide.yaml: the vault's settings and the policy it enforces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vault_cli.formats import schema

from vault_cli.formats import yamlio
from vault_cli.errors import UsageError

LEVELS = ("general", "confidential", "safeguarding")
SETTINGS_FILE = "confide.yaml"

DEFAULT_CATEGORIES = [
    "observation", "medical", "dietary", "accident", "injury", "incident", "concern",
    "discussion", "family-change", "agency-contact", "consent", "safeguarding",
    "parent-comment", "note",
]

# Categories confide's own procedures write (parents' requests to see the file,
# the information-sharing log; see vault_cli/requests.py). They are always valid,
# also in a vault whose confide.yaml predates them, and only those commands write them.
PROCEDURE_CATEGORIES = (
    "request", "request-consent", "request-withhold", "request-extend", "request-export", "request-close",
    "information-sharing",
)
DEFAULT_CATEGORIES += list(PROCEDURE_CATEGORIES)

TEMPLATE = """\
# confide.yaml: this vault's settings and the policy confide enforces.
# Edit with care and commit the change; 'confide verify' checks it against
# schemas/settings.schema.json.
format: confide/settings/1

# The setting's name, as it appears on reports and clean copies.
name: {name}

# Confidentiality levels, least to most restricted. Fixed in this format.
#   general:      profile, contacts, dietary and medical needs, routine observations
#   confidential: what parents regard as confidential; injuries, concerns, family changes
#   safeguarding: child protection records and agency correspondence
levels: [general, confidential, safeguarding]

# Roles: who may do what. This table is the one place the rules live: every
# command that acts and 'confide verify' that judges history read it.
#   reads:   levels of *every* record the role reads
#   grants:  levels it may grant to others, and revoke
#   lowers:  levels it may move an entry down from (sharing it more widely)
#   may:     what else it may do (see README, "Roles and rules")
#   key_person: false if it may never be a child's key person
#   granted_with: what a grant *to* this role needs: until (an end date),
#            parent-permission (the parent's written permission, one child at a time)
#   offline: true for a break-glass key that reads but never acts
roles:
  manager:
    description: setting manager
    reads: [general, confidential, safeguarding]
    grants: [general, confidential, safeguarding]
    lowers: [confidential, safeguarding]
    may: [write, manage-holders, change-settings, requests, repudiate, adopt-signing, destroy, approve-destruction, transfer]
  dsl:
    description: designated safeguarding lead
    reads: [general, confidential, safeguarding]
    grants: [safeguarding]
    lowers: [confidential, safeguarding]
    may: [write, requests, approve-destruction, transfer]
  practitioner:
    description: practitioner; reads the general level of every child
    reads: [general]
    lowers: [confidential]
    may: [write]
  student:
    description: student; reads nothing without a grant and the parent's written permission
    reads: []
    lowers: [confidential]
    may: [write]
    key_person: false
    granted_with: [parent-permission]
  auditor:
    description: auditor or inspector; reads only what is granted, for a limited time
    reads: []
    may: []
    key_person: false
    granted_with: [until]
  recovery:
    description: offline break-glass key; reads everything, never acts day to day
    reads: [general, confidential, safeguarding]
    offline: true

# A child's key person reads these levels of that child's record.
key_person_reads: [general, confidential, safeguarding]

# Entry categories. 'confide add --category' accepts only these.
categories:
{categories}
# How long the setting allows itself to answer a parent's request to see
# their child's file: '1 month' (UK GDPR) or fewer days, e.g. '14 days'.
request_deadline: 1 month

# Signed history: 'required' (every commit signed by its holder's SSH key,
# checked by every command and by 'confide verify'), or 'unsigned' for
# experiments only (anyone who can push could then write as anyone).
signing: {signing}
"""


def render_template(name: str, *, signing: str = "required") -> str:
    import json

    cats = "".join(f"  - {c}\n" for c in DEFAULT_CATEGORIES)
    return TEMPLATE.format(name=json.dumps(name, ensure_ascii=False), categories=cats, signing=signing)


PERMISSIONS = ("write", "manage-holders", "change-settings", "requests", "repudiate", "adopt-signing",
               "destroy", "approve-destruction", "transfer")
GRANT_CONDITIONS = ("until", "parent-permission")
SIGNING_POLICIES = ("required", "unsigned")


@dataclass(frozen=True)
class Role:
    """One row of the rules table (``roles`` in confide.yaml); ``vault_cli.policy`` reads it."""

    name: str
    reads: tuple[str, ...]
    grants: tuple[str, ...]
    lowers: tuple[str, ...]
    may: frozenset
    key_person: bool
    granted_with: tuple[str, ...]
    offline: bool

    @property
    def acts(self) -> bool:
        return not self.offline


def _role(name: str, r: dict, levels: tuple[str, ...], legacy: bool) -> Role:
    offline = bool(r.get("offline", False)) or r.get("acts") is False
    grants = tuple(r.get("grants", []))
    if not legacy:  # a role that says nothing under 'may' may do nothing beyond reading
        may = frozenset(r.get("may", []))
        lowers = tuple(r.get("lowers", []))
        key_person = bool(r.get("key_person", "write" in may and bool(r.get("reads"))))
        granted_with = tuple(r.get("granted_with", []))
    else:
        # confide.yaml as confide wrote it before the rules table (still read for old history):
        # manages_holders / writes / acts; the rest follows from them as the code then did.
        writes = bool(r.get("writes", True))
        may = set()
        if writes:
            may.add("write")
        if r.get("manages_holders"):
            may |= {"manage-holders", "change-settings", "repudiate", "adopt-signing"}
        if writes and (r.get("manages_holders") or (levels and levels[-1] in grants)):
            may.add("requests")
        may = frozenset(may)
        lowers = tuple(lv for lv in levels if lv in grants or lv != levels[-1]) if writes else ()
        key_person = writes and bool(r.get("reads"))
        granted_with = ("until",) if not writes and not r.get("reads") else (
            ("parent-permission",) if writes and not r.get("reads") else ())
    if offline:
        may, grants, lowers, key_person = frozenset(), (), (), False
    return Role(name=name, reads=tuple(r.get("reads", [])), grants=grants, lowers=lowers, may=may,
                key_person=key_person, granted_with=granted_with, offline=offline)


class Settings:
    def __init__(self, data: dict) -> None:
        self.data = data
        self.name: str = data["name"]
        self.levels: tuple[str, ...] = tuple(data["levels"])
        self.categories: list[str] = list(data["categories"])
        self.key_person_reads: tuple[str, ...] = tuple(data["key_person_reads"])
        self.request_deadline: str = data["request_deadline"]
        # 'required' or 'unsigned'; None in a vault made before signing was a policy (see policy.signing).
        self.signing: "str | None" = data.get("signing")
        # confide.yaml as written before the rules table (manages_holders / writes / acts, no 'may' anywhere)
        # is still read, for the history of older vaults; once any role says 'may', every role is read the new way.
        legacy = not any(k in r for r in data["roles"].values() for k in ("may", "offline", "lowers", "key_person"))
        self.roles: dict[str, Role] = {name: _role(name, r, self.levels, legacy) for name, r in data["roles"].items()}

    @classmethod
    def load(cls, root: Path) -> "Settings":
        """confide.yaml in a folder (a vault being made); a vault's commands read it from the verified commit."""
        return settings_from_bytes((root / SETTINGS_FILE).read_bytes())

    def role(self, name: str) -> Role:
        try:
            return self.roles[name]
        except KeyError:
            raise UsageError(
                f"unknown role '{name}'",
                "roles in this vault: " + ", ".join(self.roles),
            ) from None

    def check_level(self, level: str) -> str:
        if level not in self.levels:
            raise UsageError(f"unknown level '{level}'", "levels: " + ", ".join(self.levels))
        return level

    def check_category(self, category: str) -> str:
        if category not in self.categories and category not in PROCEDURE_CATEGORIES:
            raise UsageError(
                f"unknown category '{category}'",
                "categories in this vault: " + ", ".join(self.categories),
                "add one to 'categories' in confide.yaml and commit it",
            )
        return category


def settings_from_bytes(raw: bytes) -> Settings:
    """Parse and check confide.yaml against its schema."""
    data = yamlio.load_cached(raw, SETTINGS_FILE)
    schema.check("settings", data, SETTINGS_FILE)
    return Settings(data)
