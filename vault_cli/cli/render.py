"""The record as a case file, for people: plain text for pipes, wrapped and styled on a terminal.

One layout for both (the CLI's only view code for ``show``): the profile as ``field: value``
lines, then the chronology, one block per entry::

    2026-11-24 10:00  concern  by dara  safeguarding                 e-01jd3x8k2m5q9w
        parents not told: informing parents may place the child at risk; view not asked
        Said she is scared to go home
        third parties: ...

a header (when, category, author, level, and the entry id), the parents' side (whether they
were told, and their view on confidentiality), the text, then notes (third parties, the entry
it corrects, how a sharing decision was carried out, markings). On a terminal the header is
bold, the notes dim, and every line is wrapped to the terminal's width here (words kept
whole, the indent kept), so dates and ids are never split. Everything from the record passes
through ``safe_text.safe`` and reaches rich as ``Text``, never as markup.
"""

from __future__ import annotations

import textwrap

from vault_cli.cli.safe_text import safe
from vault_cli.model.record import AnyEntry, Entry, Marking, Profile, Record

INDENT = "    "
MAX_WIDTH = 100


def _profile_lines(profile: Profile) -> list[tuple[str, str]]:
    rows = []
    for k, v in profile.to_json().items():
        if v in (None, [], {}):
            continue
        if isinstance(v, list):
            v = "; ".join(", ".join(f"{a}: {b}" for a, b in i.items() if b is not None) if isinstance(i, dict) else str(i) for i in v)
        elif isinstance(v, dict):
            v = ", ".join(f"{a}: {'yes' if b is True else 'no' if b is False else b}" for a, b in v.items())
        rows.append((safe(k.replace("_", " ")), safe(v)))
    return rows


def when(at: str) -> str:
    """An entry's time as the case file shows it: ``2026-11-24 10:00``."""
    return safe(at[:16].replace("T", " "))


def _say(v) -> str:
    return "(none)" if v is None else safe(v)


def _marking_line(m: Marking) -> str:
    ch = ", ".join(f"{safe(k.replace('_', ' '))} {_say(v.before)} -> {_say(v.after)}" for k, v in m.changes.items())
    return (f"marked by {safe(m.author)} {when(m.recorded_at)}: {ch}"
            + (f" ({safe(m.reason)})" if m.reason else ""))


VIEWS = {"not-asked": "view not asked", "confidential": "they regard it as confidential",
         "not-confidential": "they do not regard it as confidential"}


def parents_line(e: Entry) -> str:
    """Whether the parents were told, and their view on confidentiality, in one line."""
    if e.parents_informed:
        told = f"parents told {safe(e.parents_informed)}"
    elif e.parents_not_informed:
        told = f"parents not told: {safe(e.parents_not_informed)}"
    elif e.level == "general":
        told = "parents"
    else:
        told = "parents not yet told"
    view = VIEWS.get(e.parent_view, f"view {safe(e.parent_view)}")
    return f"{told}; {view}" if told != "parents" else f"parents: {view}"


def entry_block(e: AnyEntry) -> tuple[str, str, list[str], list[str], list[str]]:
    """One entry as (header, id, parents' lines, text lines, note lines), unstyled and unwrapped."""
    if not isinstance(e, Entry):
        return f"sealed {safe(e.level)} entry (you hold no key for it)", safe(e.id), [], [], []
    head = f"{when(e.at)}  {safe(e.category)}  by {safe(e.author)}  {safe(e.level)}"
    text = safe(e.text, lines=True).splitlines() or [""]
    notes = []
    if e.third_parties:
        notes.append("third parties: " + ", ".join(safe(t) for t in e.third_parties))
    if e.corrects:
        notes.append(f"corrects {safe(e.corrects)}")
    how = e.details.get("how") if e.details else None
    if how:
        notes.append(f"how it was shared: {safe(how)}")
    for m in e.markings:
        notes.append(_marking_line(m))
    return head, safe(e.id), [parents_line(e)], text, notes


def _profile_head(data: Record) -> tuple[str, list[tuple[str, str]]]:
    prof = data.profile
    if prof is None:
        return f"{safe(data.record)}  profile: sealed (you hold no general-level key for this record)", []
    return f"{safe(data.record)}: {safe(prof.name)}", _profile_lines(prof)


def _count(data: Record) -> str:
    n = len(data.entries)
    return f"Chronology ({n} {'entry' if n == 1 else 'entries'})"


def record_plain(data: Record) -> str:
    """The record as plain text, for pipes and files: no styling, no wrapping, nothing to measure.

    Use ``--json`` for anything a script parses.
    """
    title, fields = _profile_head(data)
    lines = [title]
    lines.extend(f"  {k}: {v}" for k, v in fields)
    lines.append("")
    lines.append(_count(data))
    for e in data.entries:
        head, eid, parents, text, notes = entry_block(e)
        lines.append("")
        lines.append(f"{head}  {eid}")
        lines.extend(INDENT + x for x in parents + text + notes)
    return "\n".join(lines) + "\n"


def _wrap(line: str, width: int, indent: str = INDENT, hang: str = "") -> str:
    """``line`` wrapped to ``width`` columns with ``indent`` (and ``hang`` more on continuation lines)."""
    room = max(20, width - len(indent))
    if len(line) <= room:
        return indent + line + "\n"
    parts = textwrap.wrap(line, room, subsequent_indent=hang, break_on_hyphens=False) or [""]
    return "".join(indent + p + "\n" for p in parts)


def record(console, data: Record) -> None:
    """The case file on a terminal: one rich ``Text``, wrapped here to the console's width and printed once.

    Wrapping here (textwrap, words whole) rather than in rich keeps the indent on every line and
    costs a fraction of letting rich measure and fold a table (300 entries: ~0.13 s).
    """
    from rich.text import Text

    # a full-width line makes some terminals wrap early; past 100 columns lines grow too long to read
    width = max(40, min(console.width - 1, MAX_WIDTH))
    title, fields = _profile_head(data)
    t = Text()
    t.append(title + "\n", style="bold")
    for k, v in fields:
        t.append(_wrap(f"{k}: {v}", width, "  ", "    "))
    t.append("\n" + _count(data) + "\n", style="bold")
    for e in data.entries:
        head, eid, parents, text, notes = entry_block(e)
        t.append("\n")
        if len(head) + 2 + len(eid) <= width:
            t.append(head + " " * (width - len(head) - len(eid)) + eid + "\n", style="dim" if not e.readable else "bold")
        else:
            t.append(_wrap(head, width, "", "  "), style="bold")
            t.append(eid + "\n", style="dim")
        for x in parents:
            t.append(_wrap(x, width, INDENT, "  "), style="dim")
        t.append("".join(_wrap(x, width) if x else "\n" for x in text) if e.readable else "")
        for x in notes:
            t.append(_wrap(x, width, INDENT, "  "), style="dim")
    console.print(t, soft_wrap=True, end="")
