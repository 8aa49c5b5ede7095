"""The clock, and dates and times parsed strictly, written as ISO 8601.

Nothing here reads the environment: the command line builds one ``Clock`` per
command (``CONFIDE_NOW`` pins it, for tests and demos; see ``adapters.config``)
and the use cases ask it the time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from vault_cli.errors import UsageError


@dataclass(frozen=True)
class Clock:
    """What time it is for this command: the system's, or ``fixed`` (an aware time) when pinned."""

    fixed: Optional[dt.datetime] = None

    @classmethod
    def at(cls, text: str) -> Clock:
        """A clock pinned at ``text``, an ISO date-time (a naive one is taken in the local zone)."""
        return cls(dt.datetime.fromisoformat(text).astimezone())

    def now(self) -> dt.datetime:
        """The current time, local zone, to the second."""
        if self.fixed is not None:
            return self.fixed
        return dt.datetime.now().astimezone().replace(microsecond=0)

    def now_iso(self) -> str:
        return self.now().isoformat()

    def today(self) -> dt.date:
        return self.now().date()

    def commit_date(self) -> Optional[str]:
        """The date a pinned clock gives git for the commits it makes (so verify sees one time); None: git's own."""
        return self.fixed.isoformat() if self.fixed is not None else None


SYSTEM = Clock()


def parse_date(text: str, field: str) -> str:
    """A calendar date as YYYY-MM-DD; anything else is a usage error naming the ``field`` ("date of birth"),
    which the command line shows as its flag (``--dob``)."""
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except (ValueError, TypeError):
        raise UsageError("{0} needs a date as YYYY-MM-DD, which this is not", "for example: {0} 2026-11-24",
                         fields=(field,)) from None


def parse_datetime(text: str, field: str) -> str:
    """A date and time, or a date alone; a naive time is taken in the local zone. A date alone stays a
    date (``YYYY-MM-DD``): "it happened on the 24th" is not "it happened at midnight on the 24th"."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        raise UsageError(
            "{0} needs a date or date and time, which this is not",
            "for example: {0} 2026-11-24T09:30 or {0} 2026-11-24",
            fields=(field,),
        ) from None
    if value.tzinfo is None:
        try:
            value = value.astimezone()
        except (ValueError, OverflowError):  # year 1 (or 9999) moved into the local zone leaves the calendar
            raise UsageError(
                "{0} is too close to the first or last day of the calendar (year 1 or 9999) to be placed in "
                "the local time zone",
                "give when it happened, e.g. {0} 2026-11-24T09:30 or {0} 2026-11-24",
                fields=(field,),
            ) from None
    return value.replace(microsecond=0).isoformat()


def is_date_only(value: str) -> bool:
    """Is an entry's time a date alone (``YYYY-MM-DD``), as ``parse_datetime`` keeps one?"""
    return len(value) == 10


def instant(value: str) -> dt.datetime:
    """An aware time to sort and compare by: a date alone is the start of that day in the local zone."""
    if is_date_only(value):
        midnight = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(0, 0))
        try:
            return midnight.astimezone()
        except (ValueError, OverflowError):  # 0001-01-01 (or 9999-12-31) has no local midnight in every zone
            return midnight.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(value)
