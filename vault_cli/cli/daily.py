"""The daily commands: keygen, init, whoami, holders, children, add, show, mark.

Each parses its arguments, calls one library function and renders the result.
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
    _closing,
    _config,
    _print_warnings,
    _progress,
    _session,
    _table,
    app,
    child_app,
    console,
    holder_app,
    note,
    on_terminal,
    out,
    out_json,
    read_stdin_text,
)
from vault_cli.cli.personal import Field, from_file_help, gather
from vault_cli.errors import UsageError

# ---------------------------------------------------------------------------
# keygen, init, whoami


@app.command()
def keygen(
    out_file: Optional[str] = typer.Option(None, "--out", "-o", metavar="FILE", help="Where to write the key (default ~/.config/confide/identity.txt)."),
    passphrase: bool = typer.Option(False, "--passphrase", help="Protect the key with a passphrase (asked twice on a terminal, or read from CONFIDE_PASSPHRASE_FILE)."),
    age_only: bool = typer.Option(False, "--age", help="A native age identity that never signs, e.g. for an offline recovery key."),
) -> None:
    """Make your key (mode 0600): one SSH ed25519 key that reads and signs. Prints the public line to send your manager."""
    from vault_cli.cli import prompts
    from vault_cli.services import setup

    secret = prompts.new_passphrase() if passphrase else None
    result = setup.keygen(_config(), out_file, secret, age_only=age_only)
    note(f"wrote a new key to {result.path} (mode 0600); keep it secret and back it up")
    if not age_only:
        note("send your manager the line below; it is your public key, for reading and for signing")
    out(result.recipient)


@app.command()
def init(
    directory: str = typer.Argument(".", metavar="DIR", help="Folder for the new vault (created if missing)."),
    name: str = typer.Option(..., "--name", metavar="NAME", help="The setting's name."),
    holder: str = typer.Option(..., "--holder", metavar="NAME", help="Your holder name; you become the first manager."),
    recipient: Optional[str] = typer.Option(None, "--recipient", metavar="KEY", help="Your public key (default: your identity's)."),
    signing_key: Optional[str] = typer.Option(None, "--signing-key", metavar="PUBKEY", help="Your SSH signing key, if your identity is not one (\"ssh-ed25519 AAAA...\")."),
    unsigned: bool = typer.Option(False, "--unsigned", help="For experiments only: a vault that does not require signed commits (recorded in confide.yaml)."),
    object_format: str = typer.Option("sha1", "--object-format", metavar="sha1|sha256", help="git's object format for the new repository (default sha1)."),
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Create a vault: a git repository whose first commit, signed by you, is its identity. Prints the folder."""
    from vault_cli.services import setup

    result = setup.init_vault(directory, _config(identity=identity), name=name, holder=holder, recipient=recipient,
                              signing_key=signing_key, unsigned=unsigned, object_format=object_format)
    _print_warnings(result)
    note(f"created vault {result.id} with '{holder}' as its first manager")
    note(f"the vault's identity is {result.anchor}")
    note("write it down, keep it off site, and give it to everyone who clones the vault: confide clone URL DIR --trust IDENTITY")
    out(result.id)


@app.command()
def whoami(vault: Optional[str] = VaultOpt, identity: Optional[str] = IdentityOpt, as_json: bool = JsonOpt) -> None:
    """Show the holder, role and recipient your identity resolves to."""
    s = _session(vault, identity)
    if s.actor is None:
        s.require_actor()
    data = {"holder": s.actor.name, "role": s.actor.role, "recipient": s.actor.recipient, "identity": str(s.identity_path)}
    if as_json:
        out_json(data)
    else:
        out(f"{data['holder']} ({data['role']}) {data['recipient']}")


# ---------------------------------------------------------------------------
# holders


HOLDER_ADD_FIELDS = (
    Field("display_name", "--display-name", "How a parent's copy names them, e.g. Sam Taylor"),
)


@holder_app.command("add")
def holder_add(
    name: str = typer.Argument(..., metavar="NAME", help="The new holder's name: lower case, e.g. ben"),
    role: str = typer.Option(..., "--role", metavar="ROLE", help="manager, dsl, practitioner, student, auditor or recovery (see confide.yaml)."),
    recipient: str = typer.Option(..., "--recipient", "--key", metavar="KEY", help="Their public key: the line their 'confide keygen' printed (ssh-ed25519 AAAA...), or an age1... recipient."),
    signing_key: Optional[str] = typer.Option(None, "--signing-key", metavar="PUBKEY", help="Their SSH signing key, when --recipient is an age1... recipient (\"ssh-ed25519 AAAA...\")."),
    display_name: Optional[str] = typer.Option(None, "--display-name", metavar="TEXT", help="How a parent's copy names them, e.g. \"Sam Taylor\" (sealed in holders.yaml for managers and the DSL); safer in --from."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(HOLDER_ADD_FIELDS)),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Add a key holder (managers only); a new manager or DSL is given every level of every record."""
    from vault_cli.services import holders as holders_svc

    display_name = gather(HOLDER_ADD_FIELDS, {"display_name": display_name}, source=from_file, what="The new holder",
                          safe_form="give it in a file: --from FILE (YAML or JSON; - for stdin)")["display_name"]
    s = _session(vault, identity)
    with _progress("re-wrapping level keys", len(s.vault.record_ids())) as tick:
        result = holders_svc.add_holder(s, name, role=role, recipient=recipient, progress=tick, signing_key=signing_key,
                                        display_name=display_name)
    _print_warnings(result)
    out(result.id)


@holder_app.command("list")
def holder_list(vault: Optional[str] = VaultOpt, as_json: bool = JsonOpt) -> None:
    """List key holders with role, status and recipient (needs no key; staff details only to those who may read them)."""
    from vault_cli.errors import IdentityProblem
    from vault_cli.services import holders as holders_svc
    from vault_cli.services.recovery import identities_if_any
    from vault_cli.services.vault import Vault

    config = _config(vault)
    try:
        identities = identities_if_any(config)
    except IdentityProblem:
        identities = None  # the list needs no key: staff details stay sealed ('sealed_details' says which)
    rows = holders_svc.list_holders(_closing(Vault.open(config)), identities)
    if as_json:
        out_json(contract.holder_list(rows))
        return
    _table(["holder", "role", "status", "added", "recipient"],
           [[r["name"], r["role"], r["status"], r["added"], r["recipient"]] for r in rows], title="Key holders")


# ---------------------------------------------------------------------------
# children


CHILD_FIELDS = (
    Field("name", "--name", "The child's name", required=True),
    Field("dob", "--dob", "Date of birth (YYYY-MM-DD)"),
    Field("key_person", "--key-person", "The child's key person (a holder)", personal=False),
    Field("room", "--room", "Room or group", personal=False),
)
SAFE_CHILD = "leave them out to be asked, or give them in a file: confide child add --from child.yaml (YAML or JSON)"


@child_app.command("add")
def child_add(
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="The child's name (stored encrypted, never in plaintext). Safer asked on a terminal, or in --from: an argument stays in shell history."),
    dob: Optional[str] = typer.Option(None, "--dob", metavar="YYYY-MM-DD", help="Date of birth."),
    key_person: Optional[str] = typer.Option(None, "--key-person", metavar="HOLDER", help="The child's key person."),
    room: Optional[str] = typer.Option(None, "--room", metavar="ROOM", help="Room or group."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(CHILD_FIELDS)),
    edit: bool = typer.Option(False, "--edit", help="Write the fields in $EDITOR (a template, as git commit does; on a terminal)."),
    force: bool = typer.Option(False, "--force", help="Add the child even though a child with the same name and date of birth is recorded (only records whose profile you can read are compared)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Create a child's record; prints the new record id as the last line. On a terminal the name is asked for
    when not given. Refuses a second child with the same name and date of birth without --force."""
    from vault_cli.services import children

    v = gather(CHILD_FIELDS, {"name": name, "dob": dob, "key_person": key_person, "room": room},
               source=from_file, what="The new child", safe_form=SAFE_CHILD, edit=edit)
    s = _session(vault, identity)
    with _progress("checking for the same child", len(s.vault.record_ids())) as tick:
        result = children.add_child(s, name=v["name"], dob=v["dob"], key_person=v["key_person"], room=v["room"],
                                    force=force, progress=tick)
    _print_warnings(result)
    out(result.id)


@child_app.command("list")
def child_list(
    room: Optional[str] = typer.Option(None, "--room", metavar="ROOM", help="Only children in this room (any case)."),
    key_person: Optional[str] = typer.Option(None, "--key-person", metavar="HOLDER", help="Only children with this key person."),
    leaving_before: Optional[str] = typer.Option(None, "--leaving-before", metavar="DATE", help="Only children whose leaving date is before DATE."),
    leaving_after: Optional[str] = typer.Option(None, "--leaving-after", metavar="DATE", help="Only children whose leaving date is DATE or later."),
    sort: str = typer.Option("record", "--sort", metavar="record|name|dob|room", help="Order: by record id (default), name, date of birth or room; sealed records last."),
    show_all: bool = typer.Option(False, "--all", help="Also the children who have left (their leaving date has come), marked as such."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List the records, with what you can read of each profile; children who have left are left out unless
    --all. Room and leaving date filters pass only records whose profile you can read (a record whose
    profile you cannot read is listed as sealed: whether that child has left is not known to you)."""
    from vault_cli.services import children

    s = _session(vault, identity)
    with _progress("reading records", len(s.vault.record_ids())) as tick:
        rows = children.list_children(s, room=room, key_person=key_person, leaving_before=leaving_before,
                                      leaving_after=leaving_after, sort=sort, include_leavers=show_all, progress=tick)
    if as_json:
        out_json(contract.child_list(rows))
        return
    headers = ["record", "name", "born", "room", "key person", "entries"] + (["left"] if show_all else [])
    _table(headers,
           [[r["record"], r.get("name") if r["readable"] else "sealed", r.get("dob") or "", r.get("room") or "",
             r.get("key_person") or "", str(r["entries"])]
            + ([r["leaving_date"] if r.get("left") else ""] if show_all else []) for r in rows], title="Children")


LEAVE_FIELDS = (
    Field("date", "--date", "The day the child left (YYYY-MM-DD)", required=True, personal=False),
    Field("destination", "--destination", "Where the child went (the next setting or school), if known"),
)
SAFE_LEAVE = "give where the child went in a file: confide child leave RECORD --from leave.yaml (YAML or JSON), or with --edit"


@child_app.command("leave")
def child_leave(
    record: Optional[str] = typer.Argument(None, metavar="RECORD", help="The record id (on a terminal, left out: you are asked which child)."),
    date: Optional[str] = typer.Option(None, "--date", metavar="DATE", help="The day the child left (YYYY-MM-DD; required: here, in --from, or asked on a terminal)."),
    destination: Optional[str] = typer.Option(None, "--destination", metavar="TEXT", help="Where the child went (optional; stored encrypted in the profile). Safer in --from or --edit: an argument stays in shell history."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(LEAVE_FIELDS)),
    edit: bool = typer.Option(False, "--edit", help="Write the fields in $EDITOR (a template, as git commit does; on a terminal)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Record that a child has left: the leaving date (and where they went) go into the encrypted profile.
    From that date the child drops out of daily lists ('child list' without --all, the picker, completion, the
    daily duties of 'due'), and the record's retention clock starts ('confide retention RECORD'). Whoever may
    change profiles may; a leaving date is changed or cleared with 'child set RECORD leaving_date=...'. The date
    may not be before the child's date of birth or start date, nor more than a year ahead."""
    from vault_cli.cli import picker
    from vault_cli.services import children

    picker.require(record)
    v = gather(LEAVE_FIELDS, {"date": date, "destination": destination}, source=from_file,
               what="A child's leaving", safe_form=SAFE_LEAVE, edit=edit)
    s = _session(vault, identity)
    chosen = picker.choose(s, record)
    result = children.leave_child(s, chosen, date=v["date"], destination=v["destination"])
    _print_warnings(result)


def _name_from_stdin() -> str:
    """One name (or part of one) from stdin: asked for on a terminal, one line from a script."""
    from vault_cli.errors import UsageError

    if sys.stdin.isatty():
        sys.stderr.write("Name (or part of one): ")
        sys.stderr.flush()
    text = read_stdin_text("the name") if not sys.stdin.isatty() else sys.stdin.readline()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise UsageError("no name on stdin", "give (part of) the child's name on stdin, e.g. confide child find < name.txt")
    if len(lines) > 1:
        raise UsageError(f"stdin holds {len(lines)} lines; give one name", "run 'confide child find' once for each name")
    return lines[0]


@child_app.command("find")
def child_find(vault: Optional[str] = VaultOpt, identity: Optional[str] = IdentityOpt, as_json: bool = JsonOpt) -> None:
    """Find children by name: reads a name, or part of one, from stdin (never an argument, so it stays out of
    shell history) and prints the record id of each child you can read whose name or known-as name holds every
    word of it, in any case, accents ignored; one per line. Exits 3 when none does."""
    from vault_cli.errors import NotFound
    from vault_cli.services import children

    query = _name_from_stdin()
    s = _session(vault, identity)
    with _progress("reading names", len(s.vault.record_ids())) as tick:
        found = children.find_children(s, query, progress=tick)
    if not found:
        raise NotFound("no child you can read has a name like that",
                       "type less of the name, or check its spelling; records whose profile you cannot read are not searched")
    if as_json:
        out_json(contract.child_find(found))
        return
    for r in found:
        out(r["record"])


@child_app.command("set")
def child_set(
    record: str = typer.Argument(..., metavar="RECORD", help="The record id, e.g. c-7f3k9m2q"),
    assignments: list[str] = typer.Argument(..., metavar="FIELD=VALUE...", help="FIELD=VALUE (text; empty clears), FIELD:=JSON, dotted paths like parents.0.phone=..."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Change profile fields (for scripts; their values stay in shell history: 'child edit --from' keeps them out)."""
    from vault_cli.cli.personal import warn_argv
    from vault_cli.services import profiles

    warn_argv(["FIELD=VALUE"], "give the profile with 'confide child edit RECORD' ($EDITOR) or --from FILE")

    result = profiles.set_profile(_session(vault, identity), record, assignments)
    _print_warnings(result)


@child_app.command("edit")
def child_edit(
    record: Optional[str] = typer.Argument(None, metavar="RECORD", help="The record id (on a terminal, left out: you are asked which child)."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help="For scripts: the whole profile as YAML or JSON from FILE ('-': stdin), instead of an editor."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Edit the profile as YAML in $EDITOR (on a terminal), from a private folder in memory (/dev/shm)."""
    from vault_cli.cli import editor, picker

    picker.require(record)
    if from_file is None:
        editor.require_terminal("give the profile with --from FILE (or --from - for stdin), "
                                "or change fields with 'confide child set RECORD FIELD=VALUE'")
    s = _session(vault, identity)
    chosen = picker.choose(s, record)
    if from_file is not None:
        result = editor.profile_from(s, chosen, from_file)
    else:
        result = editor.edit_profile(s, chosen)
    if result is None:
        note("no change; nothing was committed")
        return
    _print_warnings(result)


# ---------------------------------------------------------------------------
# entries


ENTRY_FIELDS = (
    Field("level", "--level", "Level: general, confidential or safeguarding", required=True, personal=False),
    Field("category", "--category", "Category (one of confide.yaml's)", required=True, personal=False),
    Field("parent_view", "--parent-view", "Does the parent regard it as confidential? confidential, not-confidential or not-asked (default)", personal=False),
    Field("parents_informed", "--parents-informed", "When parents were told this was recorded (YYYY-MM-DD)", personal=False),
    Field("parents_not_informed", "--parents-not-informed", "Why parents were not told"),
    Field("third_parties", "--third-party", "Third parties the entry comes from or is about", kind="list"),
    Field("at", "--at", "When it happened (a date, or a date and time; default now)", personal=False),
    Field("corrects", "--corrects", "The entry this one corrects", personal=False),
    Field("text", "--text", "The entry's text", required=True, kind="long"),
)
SAFE_ENTRY = "give the text with --text - (stdin) or leave it out to write it in $EDITOR; other fields with --from FILE"


@app.command("add")
def add(
    record: Optional[str] = typer.Argument(None, metavar="RECORD", help="The record id, e.g. c-7f3k9m2q (on a terminal, left out: you are asked which child)."),
    level: Optional[str] = typer.Option(None, "--level", metavar="LEVEL", help="general, confidential or safeguarding (required: here, in --from, or asked on a terminal)."),
    category: Optional[str] = typer.Option(None, "--category", metavar="CATEGORY", help="One of the categories in confide.yaml (required: here, in --from, or asked on a terminal)."),
    text: Optional[str] = typer.Option(None, "--text", metavar="TEXT", help="The entry's text; '-' reads it from stdin (safe: an argument stays in shell history). Left out on a terminal: written in $EDITOR."),
    parent_view: Optional[str] = typer.Option(None, "--parent-view", metavar="VIEW", help="Does the parent regard it as confidential? confidential, not-confidential or not-asked (default)."),
    parents_informed: Optional[str] = typer.Option(None, "--parents-informed", metavar="DATE", help="When parents were told this was recorded."),
    parents_not_informed: Optional[str] = typer.Option(None, "--parents-not-informed", metavar="REASON", help="Why parents were not told (e.g. it would put the child at risk)."),
    third_party: Optional[list[str]] = typer.Option(None, "--third-party", metavar="NAME", help="A third party the entry comes from or is about (repeatable)."),
    at: Optional[str] = typer.Option(None, "--at", metavar="DATETIME", help="When it happened: a date and time, or a date alone (kept as a date); default now. Not in the future; the recording time is kept separately."),
    corrects: Optional[str] = typer.Option(None, "--corrects", metavar="ENTRY", help="The entry this one corrects (entries are never edited)."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(ENTRY_FIELDS)),
    edit: bool = typer.Option(False, "--edit", help="Write the fields and the text in $EDITOR (a template, as git commit does; on a terminal)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Add an entry to a child's record; prints the new entry id as the last line. On a terminal, without --text,
    the entry is written in $EDITOR."""
    from vault_cli.cli import picker
    from vault_cli.services import records

    picker.require(record)
    stdin_text = None
    if text == "-":
        if from_file == "-":
            raise UsageError("--text - and --from - both read stdin; nothing was changed", "give the text in the --from document as 'text', or the fields in a file")
        stdin_text, text = _one_newline_less(read_stdin_text("the entry's text")), None
    s = _session(vault, identity)
    record = picker.choose(s, record)
    v = gather(ENTRY_FIELDS, {"level": level, "category": category, "text": text, "parent_view": parent_view,
                              "parents_informed": parents_informed, "parents_not_informed": parents_not_informed,
                              "third_parties": third_party, "at": at, "corrects": corrects},
               given={"text": stdin_text}, source=from_file, what="A new entry", safe_form=SAFE_ENTRY, edit=edit)
    result = records.add_entry(
        s, record, level=v["level"], category=v["category"], text=v["text"], parent_view=v["parent_view"] or "not-asked",
        parents_informed=v["parents_informed"], parents_not_informed=v["parents_not_informed"],
        third_parties=v["third_parties"] or [], at=v["at"], corrects=v["corrects"],
    )
    _print_warnings(result)
    out(result.id)


def _one_newline_less(text: str) -> str:
    """Text from stdin without the one line ending that ends a file or an echo ("\\n" or "\\r\\n"):
    other blank lines at its end were meant."""
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


@app.command()
def show(
    record: Optional[str] = typer.Argument(None, metavar="RECORD", help="The record id (on a terminal, left out: you are asked which child)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
    no_pager: bool = NoPagerOpt,
) -> None:
    """Show a record as a case file: the profile, then one block per entry. Entries you hold no key for show as sealed."""
    from vault_cli.cli import picker, render
    from vault_cli.cli.pager import paged
    from vault_cli.services import holds, records

    picker.require(record)
    s = _session(vault, identity)
    chosen = picker.choose(s, record)
    data = records.show_record(s, chosen)
    held = holds.holds_on(s, chosen)  # None: the caller may not know of legal holds
    if as_json:
        out_json(contract.show({**data.to_json(), "holds": None if held is None else [h.id for h in held]}))
        return
    for h in held or []:
        sys.stdout.write(f"Legal hold {h.id}" + (f" (since {h.added_on})" if h.added_on else "")
                         + ": this record must not be destroyed or erased.\n")
    if data.conflict:  # a sync kept two versions of the profile: say so first, in plain words
        from vault_cli.cli.conflicts import conflict_text

        sys.stdout.write(conflict_text(data))
    if not on_terminal():  # plain text for pipes, unwrapped, as _table does
        sys.stdout.write(render.record_plain(data))
        return
    with paged(not no_pager):
        render.record(console(), data)


MARK_FIELDS = (
    Field("level", "--level", "Move the entry to this level (needs a reason)", personal=False),
    Field("parent_view", "--parent-view", "confidential, not-confidential or not-asked", personal=False),
    Field("parents_informed", "--parents-informed", "The parents were informed on (YYYY-MM-DD)", personal=False),
    Field("parents_not_informed", "--parents-not-informed", "Why the parents are not informed"),
    Field("reason", "--reason", "Why (required with a level)"),
)


@app.command()
def mark(
    entry: str = typer.Argument(..., metavar="ENTRY", help="The entry id, e.g. e-01jd3x8k2m5q9w"),
    level: Optional[str] = typer.Option(None, "--level", metavar="LEVEL", help="Move the entry to this level (needs --reason)."),
    parent_view: Optional[str] = typer.Option(None, "--parent-view", metavar="VIEW", help="confidential, not-confidential or not-asked."),
    parents_informed: Optional[str] = typer.Option(None, "--parents-informed", metavar="DATE", help="The parents were informed on DATE (YYYY-MM-DD): on or after the entry's date, not in the future."),
    parents_not_informed: Optional[str] = typer.Option(None, "--parents-not-informed", metavar="REASON", help="Why the parents are not informed (e.g. it would put the child at risk)."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="REASON", help="Why (required with --level)."),
    record: Optional[str] = typer.Option(None, "--record", metavar="RECORD", help="The entry's record, if you know it (saves a search)."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(MARK_FIELDS)),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Record what was learnt after an entry was written, or move it to another level. Prints the marking id.
    On a terminal, a move without --reason asks why."""
    from vault_cli.cli.personal import interactive
    from vault_cli.services import marking

    v = gather(MARK_FIELDS, {"level": level, "parent_view": parent_view, "parents_informed": parents_informed,
                             "parents_not_informed": parents_not_informed, "reason": reason},
               source=from_file, what="The marking",
               safe_form="leave --reason out to be asked, or give the fields with --from FILE (YAML or JSON)")
    if v["level"] and not v["reason"] and interactive():
        v["reason"] = typer.prompt("Why is the entry moved to another level", err=True).strip()
    result = marking.mark_entry(
        _session(vault, identity), entry, record_id=record, level=v["level"], parent_view=v["parent_view"],
        parents_informed=v["parents_informed"], parents_not_informed=v["parents_not_informed"], reason=v["reason"],
    )
    _print_warnings(result)
    out(result.id)


