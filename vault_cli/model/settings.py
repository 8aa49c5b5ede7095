"""A vault's settings and the roles of its rules table, as the domain knows them.

The file they come from, confide.yaml (its template and its parsing), is ``formats.policyfiles``'s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vault_cli.errors import UsageError
from vault_cli.model import retention

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
    "information-sharing", "request-decision", "request-override", "retention-review",
)
DEFAULT_CATEGORIES += list(PROCEDURE_CATEGORIES)

PERMISSIONS = ("write", "manage-holders", "change-settings", "requests", "repudiate", "adopt-signing",
               "destroy", "approve-destruction", "transfer")
GRANT_CONDITIONS = ("until", "parent-permission")
SIGNING_POLICIES = ("required", "unsigned")


@dataclass(frozen=True)
class Role:
    """One row of the rules table (``roles`` in confide.yaml); ``model.policy`` reads it."""

    name: str
    reads: tuple[str, ...]
    grants: tuple[str, ...]
    lowers: tuple[str, ...]
    may: frozenset[str]
    key_person: bool
    granted_with: tuple[str, ...]
    offline: bool

    @property
    def acts(self) -> bool:
        return not self.offline


def _role(name: str, r: dict[str, Any], levels: tuple[str, ...], legacy: bool) -> Role:
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
        legacy_may: set[str] = set()
        if writes:
            legacy_may.add("write")
        if r.get("manages_holders"):
            legacy_may |= {"manage-holders", "change-settings", "repudiate", "adopt-signing"}
        if writes and (r.get("manages_holders") or (levels and levels[-1] in grants)):
            legacy_may.add("requests")
        may = frozenset(legacy_may)
        lowers = tuple(lv for lv in levels if lv in grants or lv != levels[-1]) if writes else ()
        key_person = writes and bool(r.get("reads"))
        granted_with = ("until",) if not writes and not r.get("reads") else (
            ("parent-permission",) if writes and not r.get("reads") else ())
    if offline:
        may, grants, lowers, key_person = frozenset(), (), (), False
    return Role(name=name, reads=tuple(r.get("reads", [])), grants=grants, lowers=lowers, may=may,
                key_person=key_person, granted_with=granted_with, offline=offline)


class Settings:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.name: str = data["name"]
        self.levels: tuple[str, ...] = tuple(data["levels"])
        self.categories: list[str] = list(data["categories"])
        self.key_person_reads: tuple[str, ...] = tuple(data["key_person_reads"])
        self.request_deadline: str = data["request_deadline"]
        # 'required' or 'unsigned'; None in a vault made before signing was a policy (see policy.signing).
        self.signing: str | None = data.get("signing")
        # confide.yaml as written before the rules table (manages_holders / writes / acts, no 'may' anywhere)
        # is still read, for the history of older vaults; once any role says 'may', every role is read the new way.
        legacy = not any(k in r for r in data["roles"].values() for k in ("may", "offline", "lowers", "key_person"))
        self.roles: dict[str, Role] = {name: _role(name, r, self.levels, legacy) for name, r in data["roles"].items()}
        # the retention rules (confide.yaml's, else the defaults, saying why: model.retention)
        self.retention: retention.Rules = retention.rules_of(data)

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
