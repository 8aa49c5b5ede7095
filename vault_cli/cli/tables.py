"""Rows for people: tab-separated lines for pipes; on a terminal a table where its columns fit, else cards.

A rich table squeezed into a narrow terminal folds every cell into strips a few characters
wide (dates and ids split across lines). So a table is drawn only when every column fits at
its natural width; otherwise each row becomes a card: its lead column on a line of its own
(bold), then ``column: value`` pairs flowed onto indented lines, never split inside a value
unless the value alone is wider than the line. Every cell passes through ``safe_text.safe``
and reaches rich as ``Text``: a name like ``[/bold]x`` is shown as typed, never read as markup.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from typing import Optional

from vault_cli.cli.safe_text import safe


def plain(columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Plain, stable, tab-separated text for pipes (a tab or newline inside a value is shown as ``\\t``/``\\n``)."""
    w = sys.stdout.write
    w("\t".join(columns) + "\n")
    for r in rows:
        w("\t".join(safe(c) for c in r) + "\n")


def fits(columns: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> bool:
    """Does a rich table (one space of padding each side, a border between columns) fit ``width``?"""
    from rich.cells import cell_len

    natural = [max([cell_len(c)] + [max((cell_len(x) for x in r[i].split("\n")), default=0) for r in rows])
               for i, c in enumerate(columns)]
    return sum(natural) + 3 * len(columns) + 1 <= width


def _cards(console, columns: Sequence[str], rows: Sequence[Sequence[str]], title: Optional[str], lead: int) -> None:
    from rich.text import Text

    width = max(40, console.width - 1)
    t = Text()
    if title:
        t.append(title + "\n", style="bold")
    for r in rows:
        t.append("\n")
        t.append(textwrap.fill(r[lead] or "-", width, subsequent_indent="  ", break_on_hyphens=False) + "\n", style="bold")
        line = "  "
        for i, (c, v) in enumerate(zip(columns, r, strict=True)):
            if i == lead or not v:
                continue
            pair = f"{c}: {v}".replace("\n", "; ")
            if line.strip() and len(line) + 3 + len(pair) > width:
                t.append(line + "\n")
                line = "  "
            if len(line) + len(pair) > width:  # one value wider than the line: wrapped on its own
                t.append(textwrap.fill(pair, width, initial_indent="  ", subsequent_indent="    ",
                                       break_on_hyphens=False) + "\n")
                continue
            line += ("   " if line.strip() else "") + pair
        if line.strip():
            t.append(line + "\n")
    console.print(t, soft_wrap=True, end="")


def show(console, columns: Sequence[str], rows: Sequence[Sequence], title: Optional[str] = None, lead: int = 0) -> None:
    """``rows`` on a terminal: a table if its columns fit the console's width, else one card per row."""
    from rich.table import Table
    from rich.text import Text

    cells = [[safe(c) for c in r] for r in rows]
    title = safe(title) if title else None
    if not fits(columns, cells, console.width):
        _cards(console, columns, cells, title, lead)
        return
    t = Table(title=Text(title) if title else None)
    for c in columns:
        t.add_column(c, no_wrap=True)
    for r in cells:
        t.add_row(*[Text(c) for c in r])
    console.print(t)


__all__ = ["plain", "show", "fits"]
