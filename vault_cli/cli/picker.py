"""Which child? On a terminal, a command that needs a record and was given none asks for it by name.

The user types part of the child's name; the children they can read whose name
matches are listed, numbered, and they choose one by its number (Enter searches
again). Names are read from the terminal, never from the command line, so they
reach no shell history and no process list. Without a terminal nothing is
asked: a missing record is the usage error it always was, and scripts find ids
with ``confide child find`` (a name on stdin).

Prompts and the list go to stderr; stdout keeps only the command's results.
"""

from __future__ import annotations

import sys
from typing import Optional

from vault_cli.errors import NotFound, UsageError

LIST_MAX = 20


def interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()


def require(record: Optional[str], param: str = "record") -> None:
    """Before any work: a missing record is a usage error unless there is a terminal to ask on."""
    if record is not None or interactive():
        return
    try:  # typer >= 0.25 vendors click
        from typer._click.exceptions import MissingParameter
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - older typer depends on click itself
        from click.exceptions import MissingParameter  # type: ignore[no-redef,import-not-found,unused-ignore]
        from click.globals import get_current_context  # type: ignore[no-redef,import-not-found,unused-ignore]

    ctx = get_current_context()
    found = [p for p in ctx.command.params if p.name == param]
    raise MissingParameter(ctx=ctx, param=found[0] if found else None, param_type="argument")  # type: ignore[arg-type]


def visible(text: str) -> str:
    """A name as it may be shown on a terminal: control characters, escapes and bidi marks shown, not obeyed
    (``cli.safe_text``, as all output)."""
    from vault_cli.cli.safe_text import safe

    return safe(text)


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:  # end of input (Ctrl-D)
        import typer

        raise typer.Abort()
    return line.strip()


def _describe(row: dict) -> str:
    name = visible(row["name"] or "")
    if row.get("known_as") and row["known_as"] != row["name"]:
        name += f" ({visible(row['known_as'])})"
    extra = [f"born {row['dob']}" if row.get("dob") else "", visible(row["room"]) if row.get("room") else ""]
    return "  ".join([name, row["record"]] + [e for e in extra if e])


def choose(session, record: Optional[str]) -> str:
    """``record``, or the record of the child the user chooses on the terminal."""
    if record is not None:
        return record
    from vault_cli.cli.common import _progress
    from vault_cli.services import children

    with _progress("reading names", len(session.vault.record_ids())) as tick:
        rows = children.attending(children.names_and_births(session, progress=tick), session.clock.today())
    if not any(r["readable"] for r in rows):
        raise NotFound("there is no child whose name you can read", "give the record id; see the records with 'confide child list'")
    while True:
        query = _ask("Which child? Type part of a name: ")
        if not query:
            raise UsageError("no child was chosen; nothing was done", "give the record id, or type part of the child's name")
        found = children.matching(rows, query)
        if not found:
            sys.stderr.write("No child you can read has a name like that.\n")
            continue
        for i, row in enumerate(found[:LIST_MAX], 1):
            sys.stderr.write(f"  {i:>2}  {_describe(row)}\n")
        if len(found) > LIST_MAX:
            sys.stderr.write(f"  ... and {len(found) - LIST_MAX} more: type more of the name\n")
        shown = min(len(found), LIST_MAX)
        while True:
            answer = _ask(f"Choose 1-{shown} (Enter to search again): " if shown > 1 else "Choose 1 (Enter to search again): ")
            if not answer:
                break
            if answer.isdigit() and 1 <= int(answer) <= shown:
                chosen = found[int(answer) - 1]["record"]
                sys.stderr.write(f"confide: record {chosen}\n")
                return chosen
            sys.stderr.write(f"Not one of 1-{shown}.\n")
