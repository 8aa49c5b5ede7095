"""Dates and times, parsed strictly, written as ISO 8601."""

from __future__ import annotations

import datetime as dt
import os

from vault_cli.errors import UsageError


def now() -> dt.datetime:
    """The current time, local zone, to the second. CONFIDE_NOW fixes it (tests, demos)."""
    fixed = os.environ.get("CONFIDE_NOW")
    if fixed:
        return dt.datetime.fromisoformat(fixed).astimezone()
    return dt.datetime.now().astimezone().replace(microsecond=0)


def now_iso() -> str:
    return now().isoformat()


def today() -> dt.date:
    return now().date()


def parse_date(text: str, flag: str) -> str:
    """A calendar date as YYYY-MM-DD; anything else is a usage error naming the flag."""
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except (ValueError, TypeError):
        raise UsageError(f"{flag} needs a date as YYYY-MM-DD, which this is not", f"for example: {flag} 2026-11-24") from None


def parse_datetime(text: str, flag: str) -> str:
    """A date or date and time; a naive time is taken in the local zone."""
    try:
        if len(text) == 10:
            value = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(0, 0))
        else:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        raise UsageError(
            f"{flag} needs a date or date and time, which this is not",
            f"for example: {flag} 2026-11-24T09:30 or {flag} 2026-11-24",
        ) from None
    if value.tzinfo is None:
        value = value.astimezone()
    return value.replace(microsecond=0).isoformat()
