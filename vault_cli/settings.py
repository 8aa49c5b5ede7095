"""confide.yaml: the vault's settings and the policy it enforces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import schema, yamlio
from .errors import UsageError

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

# Roles: which levels of *every* record each role reads by default, which
# levels it may grant to others, whether it manages key holders, whether it
# may write entries, and whether it may act at all (recovery keys do not).
roles:
  manager:
    description: setting manager
    reads: [general, confidential, safeguarding]
    grants: [general, confidential, safeguarding]
    manages_holders: true
  dsl:
    description: designated safeguarding lead
    reads: [general, confidential, safeguarding]
    grants: [safeguarding]
  practitioner:
    description: practitioner; reads the general level of every child
    reads: [general]
  student:
    description: student; reads nothing without a grant and the parent's written permission
    reads: []
  auditor:
    description: auditor or inspector; reads only what is granted, for a limited time
    reads: []
    writes: false
  recovery:
    description: offline break-glass key; reads everything, never acts day to day
    reads: [general, confidential, safeguarding]
    writes: false
    acts: false

# A child's key person reads these levels of that child's record.
key_person_reads: [general, confidential, safeguarding]

# Entry categories. 'confide add --category' accepts only these.
categories:
{categories}
# How long the setting allows itself to answer a parent's request to see
# their child's file: '1 month' (UK GDPR) or fewer days, e.g. '14 days'.
request_deadline: 1 month
"""


def render_template(name: str) -> str:
    import json

    cats = "".join(f"  - {c}\n" for c in DEFAULT_CATEGORIES)
    return TEMPLATE.format(name=json.dumps(name, ensure_ascii=False), categories=cats)


@dataclass
class Role:
    name: str
    reads: tuple[str, ...]
    grants: tuple[str, ...]
    manages_holders: bool
    writes: bool
    acts: bool


class Settings:
    def __init__(self, data: dict) -> None:
        self.data = data
        self.name: str = data["name"]
        self.levels: tuple[str, ...] = tuple(data["levels"])
        self.categories: list[str] = list(data["categories"])
        self.key_person_reads: tuple[str, ...] = tuple(data["key_person_reads"])
        self.request_deadline: str = data["request_deadline"]
        # None (absent): on once every holder who writes has a signing key; see signing.signatures_required.
        self.require_signatures: "bool | None" = data.get("require_signatures")
        self.roles: dict[str, Role] = {
            name: Role(
                name=name,
                reads=tuple(r.get("reads", [])),
                grants=tuple(r.get("grants", [])),
                manages_holders=bool(r.get("manages_holders", False)),
                writes=bool(r.get("writes", True)),
                acts=bool(r.get("acts", True)),
            )
            for name, r in data["roles"].items()
        }

    @classmethod
    def load(cls, root: Path) -> "Settings":
        path = root / SETTINGS_FILE
        data = yamlio.load_cached(path.read_bytes(), SETTINGS_FILE)
        schema.check("settings", data, SETTINGS_FILE)
        return cls(data)

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
