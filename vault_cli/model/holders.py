"""Key holders: the named people (and the recovery key) who hold keys to the vault.

The file they are kept in, holders.yaml, is ``formats.policyfiles``'s."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from vault_cli.errors import NotFound

HOLDERS_FILE = "holders.yaml"


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

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            **({"display_name": self.display_name} if self.display_name else {}),
            "recipient": self.recipient,
            "signing_key": self.signing_key,
            "status": self.status,
            "added": self.added,
            "added_by": self.added_by,
        }
        if self.status == "removed":
            d.update(removed=self.removed, removed_by=self.removed_by, removed_reason=self.removed_reason)
        if self.previous_recipients:
            d["previous_recipients"] = list(self.previous_recipients)
        if self.previous_signing_keys:
            d["previous_signing_keys"] = [dict(k) for k in self.previous_signing_keys]
        return d


class Holders:
    def __init__(self, holders: Iterable[Holder]) -> None:
        self.all: list[Holder] = list(holders)


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
