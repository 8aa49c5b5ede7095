"""Key holders: the named people (and the recovery key) who hold keys to the vault.

The file they are kept in, holders.yaml, is ``formats.policyfiles``'s. What
verification needs of a holder (login name, role, recipient, signing keys,
status, dates, who added and removed them) is readable by anyone with a clone;
the rest, their *staff details* (``STAFF_DETAILS``: the display name a parent's
copy uses, the reason they were removed), is sealed with age for the holders
``model.policy.staff_readers`` names (``services.staff`` seals and opens it).
A holder object carries both: ``sealed`` ({detail: {"for": [names], "data":
age block}}, as the file holds it) and the plain value in memory, when opened
(or, in a file of the old format 1, as it stood in the clear)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from vault_cli.errors import NotFound

HOLDERS_FILE = "holders.yaml"
FORMAT = 2  # confide/holders/2: staff details sealed; 1 kept them in the clear (read, never written)
STAFF_DETAILS = ("display_name", "removed_reason")  # what a holder's entry seals (the words: detail_words)


def detail_words(detail: str) -> str:
    return detail.replace("_", " ")


@dataclass
class Holder:
    name: str
    role: str
    recipient: str
    status: str
    added: str
    added_by: str
    signing_key: Optional[str] = None
    removed: Optional[str] = None
    removed_by: Optional[str] = None
    removed_reason: Optional[str] = None
    previous_recipients: list[str] = field(default_factory=list)
    previous_signing_keys: list[dict[str, str]] = field(default_factory=list)  # [{key, until}]: replaced signing keys
    display_name: Optional[str] = None  # how a parent's copy names them ("Sam Taylor"); the login never appears there
    sealed: dict[str, dict[str, Any]] = field(default_factory=dict)  # {detail: {"for": [names], "data": age block}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Holder:
        """A holder as holders.yaml gives it: a staff detail is either sealed (a mapping) or, in format 1, plain."""
        d = dict(d)
        sealed = {k: dict(d.pop(k)) for k in STAFF_DETAILS if isinstance(d.get(k), dict)}
        return cls(**d, sealed=sealed)

    def set_detail(self, detail: str, value: Optional[str]) -> None:
        """Change a staff detail: its sealed form is stale from now on, and is sealed anew before writing."""
        setattr(self, detail, value)
        self.sealed.pop(detail, None)

    def plaintext_details(self) -> list[str]:
        """The staff details this entry would keep in the clear (set, but not sealed)."""
        return [k for k in STAFF_DETAILS if getattr(self, k) is not None and k not in self.sealed]

    @property
    def active(self) -> bool:
        return self.status == "active"

    def _detail(self, detail: str) -> Any:
        return dict(self.sealed[detail]) if detail in self.sealed else getattr(self, detail)

    def to_dict(self) -> dict[str, Any]:
        """The holder's entry as holders.yaml keeps it (staff details sealed where they are)."""
        d: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            **({"display_name": self._detail("display_name")} if self._detail("display_name") else {}),
            "recipient": self.recipient,
            "signing_key": self.signing_key,
            "status": self.status,
            "added": self.added,
            "added_by": self.added_by,
        }
        if self.status == "removed":
            d.update(removed=self.removed, removed_by=self.removed_by, removed_reason=self._detail("removed_reason"))
        if self.previous_recipients:
            d["previous_recipients"] = list(self.previous_recipients)
        if self.previous_signing_keys:
            d["previous_signing_keys"] = [dict(k) for k in self.previous_signing_keys]
        return d


class Holders:
    def __init__(self, holders: Iterable[Holder], format: int = FORMAT) -> None:
        self.all: list[Holder] = list(holders)
        self.format = format  # of the file they were read from (1: staff details in the clear)
        self.opened: set[str] = set()  # the recipients whose keys have opened the sealed details (services.staff)

    def get(self, name: str) -> Holder:
        for h in self.all:
            if h.name == name:
                return h
        raise NotFound(f"no holder named '{name}'", "list them with: confide holder list")

    def find(self, name: str) -> Optional[Holder]:
        for h in self.all:
            if h.name == name:
                return h
        return None

    def active(self) -> list[Holder]:
        return [h for h in self.all if h.active]

    def recipient_owner(self, recipient: str) -> Optional[Holder]:
        """Who uses, or once used, this recipient: a key is never shared and never comes back."""
        for h in self.all:
            if h.recipient == recipient or recipient in h.previous_recipients:
                return h
        return None

    def by_recipient(self, recipient: str) -> Optional[Holder]:
        for h in self.all:
            if h.active and h.recipient == recipient:
                return h
        return None
