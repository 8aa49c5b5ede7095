"""Bringing records in: ``confide import FILE``.

Parses its arguments, reads the file (or stdin) once into memory, calls
``services.importing`` and prints what was made. The file holds children's
data in the clear: it is never copied, and nothing from it is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from vault_cli.cli.common import IdentityOpt, JsonOpt, VaultOpt, _print_warnings, _session, app, note, out, out_json
from vault_cli.errors import NotFound


@app.command("import")
def import_file(
    file: str = typer.Argument(..., metavar="FILE", help="The CSV or JSON lines file to import; '-' reads it from stdin."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="csv|jsonl", help="The file's format (default: JSON lines when it starts with '{', else CSV)."),
    force: bool = typer.Option(False, "--force", help="Import children even though a child with the same name and date of birth is recorded or given twice in the file (only records whose profile you can read are compared)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Bring in many children and their entries at once (CSV or JSON lines), checked in full first, in one commit.

    Prints, for each new child, the line of its first row and its new record id. As 'child add', a child with
    the same name and date of birth as one already recorded, or as another child of the file, is refused
    without --force."""
    from vault_cli.services import importing

    session = _session(vault, identity)
    data = _read(file)
    result = importing.import_records(session, data, fmt=fmt, force=force)
    _print_warnings(result)
    if as_json:
        out_json(result.to_dict())
    else:
        for line, rid, _n in result.children:
            out(f"{line}\t{rid}")
    n = len(result.children)
    note(f"imported {n} {'child' if n == 1 else 'children'} and {result.entries} "
         f"{'entry' if result.entries == 1 else 'entries'} in commit {result.commit[:12]}")
    if file != "-":
        note("the file holds children's data in the clear: remove it securely now (e.g. shred -u FILE) and never commit it")


def _read(file: str) -> bytes:
    if file == "-":
        stream = getattr(sys.stdin, "buffer", None)  # a text-only stdin (a test's) is read as UTF-8
        return stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise NotFound(f"cannot read the file to import: {exc.strerror}", "give the path of a CSV or JSON lines file, or - for stdin") from None
