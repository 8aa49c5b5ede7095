"""Commands for parents' requests to see their child's file, and the policy's duties.

``confide request open|list|show|consent|decide|override|extend|export|close``,
``confide due``, ``confide find``, ``confide share``. Thin: parse, call one
library function (``requests``, ``cleancopy``, ``duties``), render.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from vault_cli.cli import contract
from vault_cli.cli.common import (
    IdentityOpt,
    JsonOpt,
    NoPagerOpt,
    VaultOpt,
    _print_warnings,
    _progress,
    _session,
    _table,
    app,
    note,
    out,
    out_json,
)
from vault_cli.cli.interrupts import as_interrupt
from vault_cli.cli.personal import SAFE_FORM, Field, from_file_help, gather
from vault_cli.errors import UsageError

request_app = typer.Typer(help="Parents' requests to see their child's file: log, consents, clean copy, close.",
                          no_args_is_help=True)
app.add_typer(request_app, name="request")

RequestArg = typer.Argument(..., metavar="REQUEST", help="The request id, e.g. r-01jd3x8k2m5q9w")


OPEN_FIELDS = (
    Field("requester", "--requester", "Who asked (a parent or person with parental responsibility)", required=True),
    Field("relationship", "--relationship", "Their relationship to the child, e.g. mother", required=True),
    Field("received", "--received", "When the written request was received (YYYY-MM-DD)", required=True, personal=False),
    Field("id_checked", "--id-checked", "How the requester's identity was checked"),
    Field("acknowledged", "--acknowledged", "When the request was acknowledged in writing (YYYY-MM-DD)", personal=False),
    Field("manager_informed", "--manager-informed", "When the manager was informed (YYYY-MM-DD)", personal=False),
    Field("legal_advice", "--legal-advice", "Whether legal advice was sought: sought or not-sought", personal=False),
    Field("notes", "--notes", "Anything else about the request"),
)


@request_app.command("open")
def request_open(
    record: Optional[str] = typer.Argument(None, metavar="RECORD", help="The child's record id, e.g. c-7f3k9m2q (on a terminal, left out: you are asked which child)."),
    requester: Optional[str] = typer.Option(None, "--requester", metavar="NAME", help="Who asked (a parent or person with parental responsibility); asked on a terminal when left out."),
    relationship: Optional[str] = typer.Option(None, "--relationship", metavar="TEXT", help="Their relationship to the child, e.g. mother; asked on a terminal when left out."),
    received: Optional[str] = typer.Option(None, "--received", metavar="DATE", help="When the written request was received; the deadline runs from it (required: here, in --from, or asked on a terminal)."),
    id_checked: Optional[str] = typer.Option(None, "--id-checked", metavar="HOW", help="How the requester's identity was checked."),
    acknowledged: Optional[str] = typer.Option(None, "--acknowledged", metavar="DATE", help="When the request was acknowledged in writing."),
    manager_informed: Optional[str] = typer.Option(None, "--manager-informed", metavar="DATE", help="When the manager was informed (default today when a manager opens it)."),
    legal_advice: Optional[str] = typer.Option(None, "--legal-advice", metavar="sought|not-sought", help="Whether legal advice was sought (advised where litigation is possible)."),
    notes: Optional[str] = typer.Option(None, "--notes", metavar="TEXT", help="Anything else about the request."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(OPEN_FIELDS)),
    edit: bool = typer.Option(False, "--edit", help="Write the fields in $EDITOR (a template, as git commit does; on a terminal)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Log a parent's written request to see their child's file (manager or DSL); prints the request id."""
    from vault_cli.cli import picker
    from vault_cli.services import request_steps

    picker.require(record)
    s = _session(vault, identity)
    chosen = picker.choose(s, record)
    v = gather(OPEN_FIELDS, {"requester": requester, "relationship": relationship, "received": received,
                             "id_checked": id_checked, "acknowledged": acknowledged, "manager_informed": manager_informed,
                             "legal_advice": legal_advice, "notes": notes},
               source=from_file, what="A parent's request to see their child's file", safe_form=SAFE_FORM, edit=edit)
    result = request_steps.open_request(s, chosen, **v)
    _print_warnings(result)
    out(result.id)


@request_app.command("list")
def request_list(
    all_: bool = typer.Option(False, "--all", help="Closed requests too."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Open requests: received, deadline, days left, state."""
    from vault_cli.services import requests

    s = _session(vault, identity)
    with _progress("reading records", len(s.vault.record_ids())) as tick:
        rows = requests.list_requests(s, include_closed=all_, progress=tick)
    if as_json:
        out_json(contract.request_list(rows))
        return
    _table(["request", "record", "child", "requester", "received", "deadline", "days left", "state"],
           [[r["request"], r["record"], r["child"] or "", f"{r['requester']} ({r['relationship']})", r["received"],
             r["deadline"], "" if r["days_left"] is None else str(r["days_left"]), r["state"]] for r in rows],
           title="Requests to see a child's file")


@request_app.command("show")
def request_show(
    request: str = RequestArg,
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
) -> None:
    """A request: its log, the third parties and their answers, the decisions on what to disclose, what is left to do."""
    from vault_cli.services import requests

    data = requests.show(_session(vault, identity), request)
    if as_json:
        out_json(contract.request_show(data))
        return
    lines = [
        f"request      {data['request']}  ({data['state']})",
        f"record       {data['record']}  {data['child'] or ''}".rstrip(),
        f"requester    {data['requester']} ({data['relationship']})",
        f"received     {data['received']}",
        f"deadline     {data['deadline']}  (statutory {data['statutory_deadline']}; setting's rule {data['deadline_rule']})"
        + ("" if data["days_left"] is None else f"; {data['days_left']} days left"),
        f"id checked   {data['id_checked'] or 'not recorded'}",
        f"acknowledged {data['acknowledged'] or 'not recorded'}",
        f"manager told {data['manager_informed'] or 'not recorded'}",
        f"legal advice {data['legal_advice'] or 'not recorded'}",
        f"file         {data['entries_in_file']} entries" + (f", {data['sealed_entries']} sealed to you" if data["sealed_entries"] else ""),
    ]
    for x in data["extensions"]:
        lines.append(f"extended     to {x['until']} (told {x['told_on']}): {x['reasons']}")
    lines.append("third parties:" if data["third_parties"] else "third parties: none named in the file")
    for p in data["third_parties"]:
        lines.append(f"  {p['third_party']}: {p['answer']}" + (f" on {p['on']}" if p["on"] else "")
                     + f"  ({len(p['entries'])} entries)")
    lines.append("decisions:" if data["decisions"] else "decisions: none yet")
    for w in data["decisions"]:
        what = f"withhold ({w['ground']}{'; not told' if w['told'] is False else ''})" if w["decision"] == "withhold" else "disclose"
        lines.append(f"  {w['entry']}: {what}, by {w['by']} on {w['on']}: {w['reason']}")
    if data["earlier_decisions"]:
        lines.append("earlier requests' decisions (for information; this request needs its own):")
        for w in data["earlier_decisions"]:
            what = f"withhold ({w['ground']})" if w["decision"] == "withhold" else "disclose"
            lines.append(f"  {w['entry']}: {what} for {w['request']}, by {w['by']} on {w['on']}")
    for r in data["refusals"]:
        lines.append(f"refused      {r['why']}" + (" (overridden by a manager)" if r["overridden"] else ""))
    if data["to_review"]:
        lines.append("entries to check before disclosure:")
        for r in data["to_review"]:
            lines.append(f"  {r['entry']}  {r['at'][:10]}  {r['level']:<12} {r['category']:<16} {', '.join(r['flags'])}")
    for x in data["exports"]:
        lines.append(f"clean copy   {x['on']} by {x['by']} ({x['format']}): {x['included']} included, sha256 {x['sha256']}")
    if data["closed"]:
        c = data["closed"]
        lines.append(f"closed       {c['on']} by {c['by']}: " + (f"met on {c['met_on']}" if c["met_on"] else f"no meeting: {c['no_meeting']}")
                     + (f"; {c['notes']}" if c["notes"] else ""))
    if data["to_do"]:
        lines.append("to do:")
        lines += [f"  - {t}" for t in data["to_do"]]
    for line in lines:
        out(line)


CONSENT_FIELDS = (
    Field("third_party", "--third-party", "The third party, as the entries name them", required=True),
    Field("given", "--given", "They consent to disclosure", kind="flag", personal=False),
    Field("refused", "--refused", "They refuse", kind="flag", personal=False),
    Field("on", "--on", "When the answer came (YYYY-MM-DD; default today)", personal=False),
    Field("notes", "--notes", "E.g. how they were asked"),
)


@request_app.command("consent")
def request_consent(
    request: str = RequestArg,
    third_party: Optional[str] = typer.Option(None, "--third-party", metavar="NAME", help="The third party, as the entries name them; asked on a terminal when left out."),
    given: bool = typer.Option(False, "--given", help="They consent to disclosure."),
    refused: bool = typer.Option(False, "--refused", help="They refuse: their entries are left out of the clean copy."),
    on: Optional[str] = typer.Option(None, "--on", metavar="DATE", help="When the answer came (default today)."),
    notes: Optional[str] = typer.Option(None, "--notes", metavar="TEXT", help="E.g. how they were asked."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(CONSENT_FIELDS)),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Record a third party's consent to disclosure, or refusal; prints the entry id."""
    from vault_cli.services import request_steps

    v = gather(CONSENT_FIELDS, {"third_party": third_party, "given": given, "refused": refused, "on": on, "notes": notes},
               source=from_file, what="A third party's answer", safe_form=SAFE_FORM)
    result = request_steps.record_consent(_session(vault, identity), request, third_party=v["third_party"],
                                          given=bool(v["given"]), refused=bool(v["refused"]), on=v["on"], notes=v["notes"])
    _print_warnings(result)
    out(result.id)


def _read_reason(question: str) -> str:
    """A reason, never from the command line: asked at a terminal, else read from stdin (all of it)."""
    if sys.stdin is not None and sys.stdin.isatty():
        return typer.prompt(question, err=True, default="", show_default=False)
    try:
        return sys.stdin.read() if sys.stdin is not None else ""
    except UnicodeDecodeError:
        raise UsageError("stdin is not UTF-8 text", "give the reason as UTF-8 text; nothing was changed") from None


GROUND_HELP = ("serious-harm (likely serious harm to the child or another person), child-abuse (disclosure not in "
               "the child's best interests), third-party (another person's information, without their consent), "
               "crime (would prejudice its prevention or detection), legal-privilege")


@request_app.command("decide")
def request_decide(
    request: str = RequestArg,
    entry: str = typer.Argument(..., metavar="ENTRY", help="The entry decided on, e.g. e-01jd3x8k2m5q9w"),
    withhold: bool = typer.Option(False, "--withhold", help="Leave the entry out of the clean copy (with --ground)."),
    disclose: bool = typer.Option(False, "--disclose", help="Give the entry in the clean copy."),
    ground: Optional[str] = typer.Option(None, "--ground", metavar="GROUND", help="Why it is withheld (DPA 2018 exemptions): " + GROUND_HELP + "."),
    not_told: bool = typer.Option(False, "--not-told", help="Withhold it without the copy saying that anything was withheld: only where telling the requester would itself cause the harm (serious-harm, child-abuse, crime)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Decide for a request whether an entry is withheld from the clean copy or disclosed (manager or DSL); the reason is asked for, or read from stdin; prints the decision's entry id."""
    from vault_cli.services import request_steps

    request_steps.check_decision(withhold=withhold, disclose=disclose, ground=ground, tell=not not_told)
    session = _session(vault, identity)
    result = request_steps.decide(session, request, entry_id=entry, withhold=withhold, disclose=disclose, ground=ground,
                                  tell=not not_told,
                                  reason=lambda: _read_reason("Why (recorded with the decision, never shown to the requester)"))
    _print_warnings(result)
    out(result.id)


@request_app.command("override")
def request_override(
    request: str = RequestArg,
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Let a clean copy be made although the child's profile records no parental responsibility or a court order (a manager); the reason is asked for, or read from stdin; prints the entry id."""
    from vault_cli.services import request_steps

    session = _session(vault, identity)
    result = request_steps.override(session, request, reason=lambda: _read_reason("Why the copy may still be given (recorded)"))
    _print_warnings(result)
    out(result.id)


@request_app.command("withhold", hidden=True,
                     context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def request_withhold(ctx: typer.Context) -> None:
    """Removed: each entry is decided with 'confide request decide'."""
    raise UsageError("'confide request withhold' was replaced: disclosure is decided entry by entry, with its ground",
                     "confide request decide REQUEST ENTRY --withhold --ground GROUND (the reason is asked for, or read "
                     "from stdin); nothing was changed")


EXTEND_FIELDS = (
    Field("months", "--months", "Extend by one or two further months", kind="int", personal=False),
    Field("until", "--until", "Or: the new deadline (YYYY-MM-DD)", personal=False),
    Field("reasons", "--reasons", "Why the request is complex", required=True),
    Field("told_on", "--told-on", "When the requester was told, with the reasons (YYYY-MM-DD)", required=True, personal=False),
)


@request_app.command("extend")
def request_extend(
    request: str = RequestArg,
    months: Optional[int] = typer.Option(None, "--months", metavar="1|2", help="Extend by one or two further months."),
    until: Optional[str] = typer.Option(None, "--until", metavar="DATE", help="Or: the new deadline (at most three months from receipt)."),
    reasons: Optional[str] = typer.Option(None, "--reasons", metavar="TEXT", help="Why the request is complex; asked on a terminal when left out."),
    told_on: Optional[str] = typer.Option(None, "--told-on", metavar="DATE", help="When the requester was told, with the reasons (within the first month) (required: here, in --from, or asked on a terminal)."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(EXTEND_FIELDS)),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Extend a complex request's deadline by up to two months (manager or DSL); prints the entry id."""
    from vault_cli.services import request_steps

    v = gather(EXTEND_FIELDS, {"months": months, "until": until, "reasons": reasons, "told_on": told_on},
               source=from_file, what="An extension of the deadline", safe_form=SAFE_FORM)
    result = request_steps.extend(_session(vault, identity), request, **v)
    _print_warnings(result)
    out(result.id)


@request_app.command("export")
def request_export(
    request: str = RequestArg,
    out_file: str = typer.Option(..., "--out", "-o", metavar="FILE", help="Where to write the clean copy (outside the vault; mode 0600)."),
    fmt: str = typer.Option("html", "--format", metavar="html|md|json", help="html (printable, self-contained), md or json."),
    force: bool = typer.Option(False, "--force", help="Replace FILE if it exists."),
    include_not_informed: bool = typer.Option(False, "--include-not-informed", hidden=True),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Write the clean copy of the child's file for a request (manager or DSL); the file holds plaintext."""
    from vault_cli.services import cleancopy

    if include_not_informed:
        raise UsageError("--include-not-informed was removed: nothing is disclosed by one flag",
                         f"decide for each entry: confide request decide {request} ENTRY --withhold --ground GROUND, "
                         "or --disclose; nothing was written")
    with as_interrupt():  # a kill while the copy waits for the lock removes it (nothing plaintext is left)
        result = cleancopy.export(_session(vault, identity), request, out=out_file, fmt=fmt, force=force)
    _print_warnings(result)
    d = result.details
    note(f"wrote the clean copy to {d['path']} (mode 0600): {d['included']} entries, {d['removed_total']} left out"
         + (f" ({d['not_told']} without the copy saying so)" if d["not_told"] else ""))
    note("the file holds the child's information in plaintext: keep it safe, and delete it once it has been given")
    out(d["path"])


CLOSE_FIELDS = (
    Field("met_on", "--met-on", "When the file was gone through with the requester (YYYY-MM-DD)", personal=False),
    Field("no_meeting", "--no-meeting", "Or: why there was no meeting"),
    Field("notes", "--notes", "How it went, anything agreed"),
)


@request_app.command("close")
def request_close(
    request: str = RequestArg,
    met_on: Optional[str] = typer.Option(None, "--met-on", metavar="DATE", help="When the file was gone through with the requester."),
    no_meeting: Optional[str] = typer.Option(None, "--no-meeting", metavar="REASON", help="Or: why there was no meeting."),
    notes: Optional[str] = typer.Option(None, "--notes", metavar="TEXT", help="How it went, anything agreed."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(CLOSE_FIELDS)),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Close a request once the file was gone through with the requester (manager or DSL); prints the entry id."""
    from vault_cli.services import request_steps

    v = gather(CLOSE_FIELDS, {"met_on": met_on, "no_meeting": no_meeting, "notes": notes},
               source=from_file, what="The request's close", safe_form=SAFE_FORM)
    result = request_steps.close(_session(vault, identity), request, **v)
    _print_warnings(result)
    out(result.id)


# ---------------------------------------------------------------------------
# due, find, share


@app.command("due")
def due_cmd(
    within: int = typer.Option(14, "--within", metavar="DAYS", help="List grants that end within DAYS days."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
    no_pager: bool = NoPagerOpt,
) -> None:
    """Everything owed: request deadlines, retention reviews (records whose review date has come, or that await
    destruction; only records you read in full), parents never informed, parent views never asked (not for
    children who have left), grants ending."""
    from vault_cli.cli.pager import paged
    from vault_cli.services import duties

    s = _session(vault, identity)
    with _progress("reading records", len(s.vault.record_ids())) as tick:
        data = duties.due(s, within=within, progress=tick)
    if as_json:
        out_json(contract.due(data.to_json()))
        return
    with paged(not no_pager):
        _table(["kind", "record", "item", "due", "days left", "what"],
               [[i.kind, i.record or ", ".join(i.records or []), i.item, i.due or "",
                 "" if i.days_left is None else str(i.days_left), i.what] for i in data.items],
               title=f"Due on {data.today}", lead=5)
    if data.records_with_sealed_entries:
        note(f"{data.records_with_sealed_entries} records hold entries you cannot read; they were not checked")


def _find_text(text: Optional[str]) -> str:
    """The search text: '-' reads it from stdin (one line), left out it is asked on a terminal (Enter: every entry);
    given as an argument it works, with the warning that it stays in shell history."""
    from vault_cli.cli.common import read_stdin_text
    from vault_cli.cli.personal import interactive, warn_argv

    if text == "-":
        lines = [line.strip() for line in read_stdin_text("the search text").splitlines() if line.strip()]
        if len(lines) > 1:
            raise UsageError(f"stdin holds {len(lines)} lines; give the text to look for on one line", "run 'confide find -' once for each")
        return lines[0] if lines else ""
    if text is None:
        if interactive():
            return typer.prompt("Text to look for (Enter: every entry)", err=True, default="", show_default=False).strip()
        return ""
    if text:
        warn_argv(["TEXT"], "give it on stdin (confide find - < words.txt), or leave it out to be asked")
    return text


@app.command("find")
def find_cmd(
    text: Optional[str] = typer.Argument(None, metavar="TEXT", help="Text to look for (any case), in entries and their third parties, and in the names of children whose profile you can read (all of a child's entries). '-' reads it from stdin; left out on a terminal, it is asked for (Enter: every entry)."),
    category: Optional[str] = typer.Option(None, "--category", metavar="CATEGORY", help="Only entries of this category."),
    level: Optional[str] = typer.Option(None, "--level", metavar="LEVEL", help="Only entries at this level."),
    record: Optional[str] = typer.Option(None, "--record", metavar="RECORD", help="Only this record."),
    since: Optional[str] = typer.Option(None, "--since", metavar="DATE", help="Only entries from DATE on."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
    no_pager: bool = NoPagerOpt,
) -> None:
    """Search every entry you can read, and children's names: a child whose name holds every word of TEXT
    (any case, accents ignored) has all their entries found. Each entry's text is shown whole, never cut (in
    tab-separated output on one line, line breaks as spaces); --json gives it exactly."""
    from vault_cli.cli.pager import paged
    from vault_cli.services import duties

    text = _find_text(text)
    s = _session(vault, identity)
    with _progress("searching", len(s.vault.record_ids())) as tick:
        rows = duties.find(s, text, category=category, level=level, record=record, since=since, progress=tick)
    if as_json:
        out_json(contract.find(rows))
        return
    with paged(not no_pager):
        _table(["when", "record", "entry", "level", "category", "text", "child"],  # child last: earlier columns keep their place
               [[r["at"][:16].replace("T", " "), r["record"], r["entry"], r["level"], r["category"],
                 " ".join(r["text"].split()), r["name"] or ""] for r in rows], title=f"{len(rows)} entries found", lead=5)


SHARE_FIELDS = (
    Field("with", "--with", "Who it was shared with (or not)", required=True),
    Field("what", "--what", "What information", required=True),
    Field("purpose", "--purpose", "Why: the purpose of sharing", required=True),
    Field("basis", "--basis", "The lawful basis (needed when sharing)"),
    Field("consent", "--consent", "Consent to share: given, refused or not-sought", required=True, personal=False),
    Field("reason", "--reason", "Why: needed when consent was not given, and for a decision not to share"),
    Field("decided_not_to", "--decided-not-to", "A decision not to share", kind="flag", personal=False),
    Field("on", "--on", "When (YYYY-MM-DD; default today)", personal=False),
    Field("how", "--how", "How it was shared (phone, secure email...)"),
    Field("advice", "--advice", "Advice taken, and from whom"),
    Field("level", "--level", "confidential or safeguarding (default)", personal=False),
    Field("parents_informed", "--parents-informed", "When parents were told of it (YYYY-MM-DD)", personal=False),
    Field("parents_not_informed", "--parents-not-informed", "Why parents were not told"),
)


@app.command("share")
def share_cmd(
    record: Optional[str] = typer.Argument(None, metavar="RECORD", help="The child's record id (on a terminal, left out: you are asked which child)."),
    with_whom: Optional[str] = typer.Option(None, "--with", metavar="WHO", help="Who it was shared with (or not) (required: here, in --from, or asked on a terminal)."),
    what: Optional[str] = typer.Option(None, "--what", metavar="TEXT", help="What information (required: here, in --from, or asked on a terminal)."),
    purpose: Optional[str] = typer.Option(None, "--purpose", metavar="TEXT", help="Why: the purpose of sharing (required: here, in --from, or asked on a terminal)."),
    basis: Optional[str] = typer.Option(None, "--basis", metavar="TEXT", help="The lawful basis (needed when sharing)."),
    consent: Optional[str] = typer.Option(None, "--consent", metavar="given|refused|not-sought", help="Consent to share (required: here, in --from, or asked on a terminal)."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="Why: needed when consent was not given, and for a decision not to share."),
    decided_not_to: bool = typer.Option(False, "--decided-not-to", help="Record a decision not to share."),
    on: Optional[str] = typer.Option(None, "--on", metavar="DATE", help="When (default today)."),
    how: Optional[str] = typer.Option(None, "--how", metavar="TEXT", help="How it was shared (phone, secure email...)."),
    advice: Optional[str] = typer.Option(None, "--advice", metavar="TEXT", help="Advice taken, and from whom."),
    level: Optional[str] = typer.Option(None, "--level", metavar="LEVEL", help="confidential or safeguarding (default)."),
    parents_informed: Optional[str] = typer.Option(None, "--parents-informed", metavar="DATE", help="When parents were told of it."),
    parents_not_informed: Optional[str] = typer.Option(None, "--parents-not-informed", metavar="REASON", help="Why parents were not told."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(SHARE_FIELDS)),
    edit: bool = typer.Option(False, "--edit", help="Write the fields in $EDITOR (a template, as git commit does; on a terminal)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Record a decision to share information about a child, or not to; prints the entry id. On a terminal,
    what is needed and not given is asked for."""
    from vault_cli.cli import picker
    from vault_cli.services import duties

    picker.require(record)
    s = _session(vault, identity)
    chosen = picker.choose(s, record)
    v = gather(SHARE_FIELDS, {"with": with_whom, "what": what, "purpose": purpose, "basis": basis, "consent": consent,
                              "reason": reason, "decided_not_to": decided_not_to, "on": on, "how": how, "advice": advice,
                              "level": level, "parents_informed": parents_informed, "parents_not_informed": parents_not_informed},
               source=from_file, what="A decision to share information, or not to", safe_form=SAFE_FORM, edit=edit)
    result = duties.share(
        s, chosen, with_whom=v["with"], what=v["what"], purpose=v["purpose"], basis=v["basis"],
        consent=v["consent"], reason=v["reason"], decided_not_to=bool(v["decided_not_to"]), on=v["on"], how=v["how"],
        advice=v["advice"], level=v["level"] or "safeguarding",
        parents_informed=v["parents_informed"], parents_not_informed=v["parents_not_informed"],
    )
    _print_warnings(result)
    out(result.id)


__all__ = ["request_app"]
