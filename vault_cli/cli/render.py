"""Rich rendering of library results for people at a terminal (the CLI's only view code)."""

from __future__ import annotations


def _profile_lines(profile: dict) -> list[tuple[str, str]]:
    rows = []
    for k, v in profile.items():
        if v in (None, [], {}):
            continue
        if isinstance(v, list):
            v = "; ".join(", ".join(f"{a}: {b}" for a, b in i.items() if b is not None) if isinstance(i, dict) else str(i) for i in v)
        elif isinstance(v, dict):
            v = ", ".join(f"{a}: {'yes' if b is True else 'no' if b is False else b}" for a, b in v.items())
        rows.append((k.replace("_", " "), str(v)))
    return rows


# A chronology longer than this reads better (and renders ~10x faster) as a list of
# entries than as a rich table whose every cell rich must measure and fold.
TABLE_MAX_ENTRIES = 50


def _entry_lines(e: dict) -> tuple[str, list[str]]:
    """One entry as a header line and its indented body lines (no styling)."""
    if not e["readable"]:
        return f"{e['id']}  {e['level']}  sealed", []
    head = f"{e['at'][:16].replace('T', ' ')}  {e['id']}  {e['level']}  {e['category']}  by {e['author']}"
    body = [line for line in e["text"].splitlines() or [""]]
    if e["third_parties"]:
        body.append("third parties: " + ", ".join(e["third_parties"]))
    if e["corrects"]:
        body.append(f"corrects {e['corrects']}")
    parents = f"parents: view {e['parent_view']}"
    if e["parents_informed"]:
        parents += f"; informed {e['parents_informed']}"
    elif e["parents_not_informed"]:
        parents += f"; not informed: {e['parents_not_informed']}"
    body.append(parents)
    for m in e["markings"]:
        body.append(_marking_line(m))
    return head, body


def _marking_line(m: dict) -> str:
    def say(v) -> str:
        return "(none)" if v is None else str(v)

    ch = ", ".join(f"{k.replace('_', ' ')} {say(v['from'])} -> {say(v['to'])}" for k, v in m["changes"].items())
    return f"marked by {m['author']} {m['recorded_at'][:16].replace('T', ' ')}: {ch}" + (f" ({m['reason']})" if m["reason"] else "")


def record_plain(data: dict) -> str:
    """The record as plain text, for pipes and files: no rich, no colour, nothing to measure.

    The profile as ``field: value`` lines, then the chronology, one entry per
    paragraph: a header line (when, id, level, category, author) and the text
    and notes indented by four spaces. Use ``--json`` for anything a script parses.
    """
    lines = []
    prof = data["profile"]
    if prof is None:
        lines.append(f"{data['record']}  profile: sealed (you hold no general-level key for this record)")
    else:
        lines.append(f"{data['record']}: {prof.get('name', '')}")
        lines.extend(f"  {k}: {v}" for k, v in _profile_lines(prof))
    lines.append("")
    lines.append(f"Chronology ({len(data['entries'])} entries)")
    for e in data["entries"]:
        head, body = _entry_lines(e)
        lines.append(head)
        lines.extend("    " + b for b in body)
    return "\n".join(lines) + "\n"


def _record_list(console, data: dict) -> None:
    """A long chronology on a terminal: styled entries, one rich Text printed at once.

    Lines are wrapped here (textwrap, with the four-space indent kept on every
    line) and printed with ``soft_wrap`` so rich does not measure them again:
    half the time of letting rich wrap 300 entries.
    """
    import textwrap

    from rich.text import Text

    width = max(40, console.width - 4)

    def wrapped(line: str) -> str:
        if len(line) <= width:
            return "    " + line + "\n"
        return "".join("    " + part + "\n" for part in textwrap.wrap(line, width, break_on_hyphens=False) or [""])

    t = Text()
    t.append(f"Chronology ({len(data['entries'])} entries)\n", style="bold")
    for e in data["entries"]:
        head, body = _entry_lines(e)
        if not e["readable"]:
            t.append(head + "\n", style="dim")
            continue
        t.append(head + "\n", style="bold")
        n_text = len(e["text"].splitlines() or [""])
        t.append("".join(wrapped(b) for b in body[:n_text]))
        for b in body[n_text:]:
            t.append(wrapped(b), style="dim")
    console.print(t, soft_wrap=True)


def record(console, data: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    prof = data["profile"]
    if prof is None:
        console.print(f"[bold]{data['record']}[/bold]  profile: sealed (you hold no general-level key for this record)")
    else:
        # Everything a person typed is escaped: rich must never read '[...]' in a record as markup.
        t = Table(title=f"{data['record']}: {escape(str(prof.get('name', '')))}", show_header=False)
        t.add_column("field", style="bold")
        t.add_column("value")
        for k, v in _profile_lines(prof):
            t.add_row(escape(k), escape(v))
        console.print(t)
    if len(data["entries"]) > TABLE_MAX_ENTRIES:
        _record_list(console, data)
        return
    t = Table(title="Chronology")
    for c in ("when", "entry", "level", "category", "text", "by", "parents"):
        t.add_column(c, overflow="fold")
    for e in data["entries"]:
        if not e["readable"]:
            t.add_row("", e["id"], e["level"], "", "[dim]sealed[/dim]", "", "")
            continue
        parents = []
        parents.append(f"view: {e['parent_view']}")
        if e["parents_informed"]:
            parents.append(f"informed {e['parents_informed']}")
        elif e["parents_not_informed"]:
            parents.append(f"not informed: {e['parents_not_informed']}")
        text = escape(e["text"])
        if e["third_parties"]:
            text += "\n[dim]third parties: " + escape(", ".join(e["third_parties"])) + "[/dim]"
        if e["corrects"]:
            text += f"\n[dim]corrects {e['corrects']}[/dim]"
        for m in e["markings"]:
            text += "\n[dim]" + escape(_marking_line(m)) + "[/dim]"
        t.add_row(e["at"][:16].replace("T", " "), e["id"], e["level"], e["category"], text, e["author"],
                  escape("\n".join(parents)))
    console.print(t)
