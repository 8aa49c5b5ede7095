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


def record(console, data: dict) -> None:
    from rich.table import Table

    prof = data["profile"]
    if prof is None:
        console.print(f"[bold]{data['record']}[/bold]  profile: sealed (you hold no general-level key for this record)")
    else:
        t = Table(title=f"{data['record']}: {prof.get('name', '')}", show_header=False)
        t.add_column("field", style="bold")
        t.add_column("value")
        for k, v in _profile_lines(prof):
            t.add_row(k, v)
        console.print(t)
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
        text = e["text"]
        if e["third_parties"]:
            text += "\n[dim]third parties: " + ", ".join(e["third_parties"]) + "[/dim]"
        if e["corrects"]:
            text += f"\n[dim]corrects {e['corrects']}[/dim]"
        for m in e["markings"]:
            ch = ", ".join(f"{k} {v['from']} -> {v['to']}" for k, v in m["changes"].items())
            text += f"\n[dim]marked by {m['author']} {m['recorded_at'][:16]}: {ch}" + (f" ({m['reason']})" if m["reason"] else "") + "[/dim]"
        t.add_row(e["at"][:16].replace("T", " "), e["id"], e["level"], e["category"], text, e["author"], "\n".join(parents))
    console.print(t)
