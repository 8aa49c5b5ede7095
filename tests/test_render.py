"""What a person types is shown as typed: rich never reads it as markup."""

import io
import json

from rich.console import Console

from vault_cli.cli import render
from vault_cli.model.record import Record

TRICKY = "[/dim] closing tag, [bold red]not bold[/bold red] and [link=http://x]no link[/link]"


def test_terminal_rendering_shows_markup_like_text_literally(vault):
    rid = vault.add_child("Ada [red]Brackets[/red]", key_person="ben")
    e = vault.add_entry(rid, TRICKY, "confidential", "discussion", "amira", "--third-party", "[i]Dr[/i] Who")
    vault.ok("mark", e, "--parents-informed", "2026-11-24")
    data = json.loads(vault.ok("show", rid, "--json").stdout)
    for x in data["entries"]:  # the view takes the service's entries, which call an entry's id "id"
        x["id"] = x.pop("entry")
        for m in x["markings"]:
            m["id"] = m.pop("marking")
    buf = io.StringIO()
    render.record(Console(file=buf, force_terminal=True, width=400, no_color=True), Record.from_json(data))
    shown = buf.getvalue()
    assert TRICKY in shown
    assert "Ada [red]Brackets[/red]" in shown
    assert "[i]Dr[/i] Who" in shown
    assert "parents informed (none) -> 2026-11-24" in shown
