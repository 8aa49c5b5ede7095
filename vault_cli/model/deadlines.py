"""Deadlines for parents' requests to see their child's file (ICO guidance, the setting's own rule).

One calendar month from receipt, to the same day of the next month, or that
month's last day when it has no such day (received 31 January: due 28 or 29
February). The setting's own deadline (``request_deadline`` in confide.yaml:
'1 month' or 'N days') is used when it is earlier, never when later. A complex
request may be extended by up to two further months.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Optional

from vault_cli.errors import UsageError
from vault_cli.model.settings import Settings


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar-month arithmetic: the same day ``months`` later, or that month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def statutory_deadline(received: dt.date) -> dt.date:
    return add_months(received, 1)


def latest_extension(received: dt.date) -> dt.date:
    """The statutory limit with the full extension: two further months."""
    return add_months(received, 3)


def setting_deadline(settings: Settings, received: dt.date) -> tuple[dt.date, Optional[str]]:
    """The setting's deadline for a request received on ``received``, and a note if it was capped."""
    rule = (settings.request_deadline or "1 month").strip()
    statutory = statutory_deadline(received)
    if rule == "1 month":
        return statutory, None
    m = re.fullmatch(r"([0-9]+) days?", rule)
    if not m:
        raise UsageError(f"request_deadline in confide.yaml is '{rule}', which confide does not understand",
                         "set it to '1 month' or a number of days such as '14 days', and commit the change")
    due = received + dt.timedelta(days=int(m.group(1)))
    if due > statutory:
        return statutory, f"the setting's deadline of {rule} would pass the statutory month: {statutory.isoformat()} applies"
    return due, None


__all__ = ["add_months", "statutory_deadline", "latest_extension", "setting_deadline"]
