"""Retention: ``confide retention`` (a record's review date explained) and ``confide review`` (a review's decision)."""

from __future__ import annotations

from typing import Optional

import typer

from vault_cli.cli import contract
from vault_cli.cli.common import IdentityOpt, JsonOpt, VaultOpt, _print_warnings, _session, app, note, out, out_json
from vault_cli.cli.personal import Field, from_file_help, gather
from vault_cli.cli.safe_text import safe

STATES = {
    "no-leaving-date": "no review date yet: the child has no leaving date (record it with 'confide child leave')",
    "no-date": "no review date: a rule that applies counts from a date the profile does not hold ({missing})",
    "awaiting-destruction": "awaiting destruction: a review decided to destroy this record (destruction itself "
                            "comes with a later version of confide)",
}


@app.command("retention")
def retention_cmd(
    record: str = typer.Argument(..., metavar="RECORD", help="The record id, e.g. c-7f3k9m2q"),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Explain a record's retention review date: the latest date any of its entries (or its profile) requires
    under confide.yaml's retention rules, which entries set it and under which rule, and the review decisions
    taken. Worked out from the decrypted record, never stored; only for a holder who reads all of it."""
    from vault_cli.services import retention

    data = retention.explain(_session(vault, identity), record)
    if as_json:
        out_json(contract.retention(data))
        return
    out(f"{record}: {safe(data['name'])}")
    out(f"  born: {data['dob'] or 'not recorded'}")
    out(f"  left: {data['leaving_date'] or 'no leaving date'}" if data["left"] or not data["leaving_date"]
        else f"  leaving: {data['leaving_date']} (not yet)")
    if data["state"] == "dated":
        out(f"  review date: {data['review_date']}" + (" (it has come: review the record)" if data["due"] else ""))
    else:
        out("  " + STATES[data["state"]].format(missing=", ".join(data["missing"])))
    out(f"  rules: {'confide defaults (' + data['note'] + ')' if data['note'] else 'confide.yaml'}")
    if data["rules_date"] and data["rules_date"] != data["review_date"]:
        out(f"  the rules alone would give: {data['rules_date']}")
    rules = {r["name"]: r for r in data["rules"]}
    if data["set_by"]:
        out("")
        out("Set by")
        for r in data["set_by"]:
            out(f"  {_item(r)}: {r['until']}, rule {r['rule']} ({_kept(rules[r['rule']])})")
    if data["requirements"]:
        out("")
        out("Every rule that applies")
        for r in data["requirements"]:
            out(f"  {_item(r)}: {r['until'] or 'no date'}, rule {r['rule']} ({_kept(rules[r['rule']])})")
    if data["decisions"]:
        out("")
        out("Review decisions")
        for d in data["decisions"]:
            what = f"keep until {d['keep_until']}" if d["decision"] == "keep" else "destroy"
            out(f"  {d['decided_on']}  {what}  by {d['author']}  {d['entry']}")
            out(f"      {safe(d['reason'])}")


def _item(r: dict) -> str:
    if r["item"] == "profile":
        return "profile"
    return f"{r['item']} ({r['level']} {r['category']})"


def _kept(rule: dict) -> str:
    start = {"leaving": "after leaving", "birth": "from the date of birth", "entry": "from the entry's date"}[rule["from"]]
    return f"kept {rule['keep']} {start}"


REVIEW_FIELDS = (
    # the keep-until date becomes the record's review date, which is never in the clear (not even in argv)
    Field("keep_until", "--keep-until", "Keep the record until (YYYY-MM-DD; its new review date)"),
    Field("destroy", "--destroy", "Decide to destroy the record", personal=False, kind="flag"),
    Field("reason", "--reason", "Why the record is kept longer, or destroyed", required=True),
)
SAFE_REVIEW = ("give the keep-until date and the reason in a file: --from FILE (YAML or JSON; - for stdin), "
               "or write them with --edit")


@app.command("review")
def review_cmd(
    record: str = typer.Argument(..., metavar="RECORD", help="The record id, e.g. c-7f3k9m2q"),
    keep_until: Optional[str] = typer.Option(None, "--keep-until", metavar="DATE", help="Keep the record until DATE (its new review date). Safer in --from or --edit: an argument stays in shell history, and the review date is never in the clear."),
    destroy: bool = typer.Option(False, "--destroy", help="Decide to destroy the record: it then awaits destruction (destruction itself comes with a later version of confide)."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="Why (required: here, in --from, or asked on a terminal; safer not as an argument: it stays in shell history)."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(REVIEW_FIELDS)),
    edit: bool = typer.Option(False, "--edit", help="Write the fields in $EDITOR (a template, as git commit does; on a terminal)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Record a retention review's decision, once the record's review date has come: keep it until a later
    date (which becomes its review date), or destroy it (it then awaits destruction; destroying is not yet
    built). Kept as an encrypted entry at the highest level of the record's entries; only a holder whose role may 'destroy'
    (a manager, by default) may decide. Prints the decision's entry id."""
    from vault_cli.services import retention

    v = gather(REVIEW_FIELDS, {"keep_until": keep_until, "destroy": destroy, "reason": reason}, source=from_file,
               what="A retention review's decision", safe_form=SAFE_REVIEW, edit=edit)
    result = retention.decide(_session(vault, identity), record, keep_until=v["keep_until"],
                              destroy=bool(v["destroy"]), reason=v["reason"])
    _print_warnings(result)
    if v["destroy"]:
        note(f"{record} awaits destruction")
    out(result.id)
