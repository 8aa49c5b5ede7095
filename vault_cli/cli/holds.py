"""``confide hold add|release|list``: legal holds (``services.holds``). Thin: parse, call, render.

Which record a hold is on, and why, are as sensitive as a child's details: both are read from a
``--from`` file, a terminal (the picker for the child, a question for the reason) or ``--edit``,
and given as arguments they work with the usual warning that they reach the shell's history.
"""

from __future__ import annotations

from typing import Optional

import typer

from vault_cli.cli import contract
from vault_cli.cli.common import (
    IdentityOpt,
    JsonOpt,
    VaultOpt,
    _print_warnings,
    _session,
    _table,
    app,
    note,
    out,
    out_json,
)
from vault_cli.cli.personal import SAFE_FORM, Field, from_file_help, gather
from vault_cli.errors import UsageError

hold_app = typer.Typer(help="Legal holds: records that must not be destroyed or erased (managers only).",
                       no_args_is_help=True)
app.add_typer(hold_app, name="hold")

ADD_FIELDS = (
    Field("record", "RECORD", "The child's record id, e.g. c-7f3k9m2q (or all: true for every record)"),
    Field("all", "--all", "Hold every record in the vault", personal=False, kind="flag"),
    Field("reason", "--reason", "Why the records must be kept (the inquiry, claim or order)", required=True),
)
RELEASE_FIELDS = (Field("reason", "--reason", "Why the hold is released"),)


@hold_app.command("add")
def hold_add(
    record: Optional[str] = typer.Argument(None, metavar="RECORD", help="The child's record id; safer in --from (record: c-...) or, on a terminal, left out to be asked which child."),
    all_: bool = typer.Option(False, "--all", help="Hold every record in the vault, instead of one."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="Why the records must be kept (sealed for managers); asked on a terminal when left out."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(ADD_FIELDS)),
    edit: bool = typer.Option(False, "--edit", help="Write the fields in $EDITOR (a template, as git commit does; on a terminal)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Place a legal hold on a record, or on every record (--all): while it is open nothing it covers may be
    destroyed or erased. Managers only (roles that may destroy). Prints the hold id."""
    from vault_cli.cli import picker
    from vault_cli.services import holds

    s = _session(vault, identity)
    picked = None
    if record is None and not all_ and from_file is None and not edit and picker.interactive():
        picked = picker.choose(s, None)  # on a terminal: the child first, by name, then the reason
    v = gather(ADD_FIELDS, {"record": record, "all": all_, "reason": reason}, source=from_file,
               what="A legal hold", safe_form=SAFE_FORM, edit=edit, given={"record": picked})
    chosen = v["record"]
    if chosen is None and not v["all"]:
        if not picker.interactive():
            raise UsageError("name the record to hold, or give --all for every record; nothing was changed",
                             "for scripts: record: c-... in a file with --from FILE, or --all")
        chosen = picker.choose(s, None)
    result = holds.add_hold(s, chosen, all_records=bool(v["all"]), reason=v["reason"])
    out(result.id)


@hold_app.command("release")
def hold_release(
    hold: str = typer.Argument(..., metavar="HOLD", help="The hold id, e.g. h-3f9a0c1b2d4e (see: confide hold list)."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="Why it is released (optional; sealed for managers)."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(RELEASE_FIELDS)),
    edit: bool = typer.Option(False, "--edit", help="Write the reason in $EDITOR (a template, on a terminal)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Release an open legal hold. Managers only. Prints the hold id."""
    from vault_cli.services import holds

    v = gather(RELEASE_FIELDS, {"reason": reason}, source=from_file, what="Releasing a legal hold", safe_form=SAFE_FORM,
               edit=edit)
    result = holds.release_hold(_session(vault, identity), hold, reason=v["reason"])
    _print_warnings(result)
    out(result.id)


@hold_app.command("list")
def hold_list(
    all_: bool = typer.Option(False, "--all", help="Released holds too."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Open legal holds: what each covers, since when, by whom, why. Managers only."""
    from vault_cli.model.holds import ALL
    from vault_cli.services import holds

    rows = holds.list_holds(_session(vault, identity), include_released=all_)
    if as_json:
        out_json(contract.hold_list([h.to_json() for h in rows]))
        return
    columns = ["hold", "covers", "since", "by", "reason"] + (["released", "released by", "why released"] if all_ else [])
    table = []
    for h in rows:
        covers = "(sealed for other managers)" if not h.readable else ("every record" if h.scope == ALL else h.scope)
        row = [h.id, covers or "", h.added_on or "", h.added_by or "", h.reason or ""]
        if all_:
            row += [h.released_on or ("yes" if h.released else ""), h.released_by or "", h.release_reason or ""]
        table.append(row)
    _table(columns, table, title="Legal holds" + (" (open and released)" if all_ else ""))
    if not rows:
        note("no open legal holds" if not all_ else "no legal holds")
