"""The access commands: grant, revoke, key-person, holder remove, holder rotate, access, expire.

Defined on the ``app`` and ``holder_app`` of ``cli.common`` (imported by
``cli.main``); each parses arguments, calls one function of
``services.access`` and renders the result. A summary goes to stdout, notes
and warnings (including what git history keeps after a revocation) to stderr.
"""

from __future__ import annotations

from typing import Optional

import typer

from vault_cli.cli import contract
from vault_cli.cli.common import (
    IdentityOpt,
    JsonOpt,
    VaultOpt,
    _closing,
    _config,
    _progress,
    _session,
    _table,
    app,
    holder_app,
    note,
    out,
    out_json,
    warn,
)
from vault_cli.cli.personal import Field, from_file_help, gather

HISTORY_HELP = (
    " Git history keeps old blocks: a revoked holder who kept a clone and their key can still read what they could "
    "read before. If a key is lost or compromised, rotate it (confide holder rotate) and have the old blocks purged "
    "from history."
)


def _report(result) -> None:
    for n in result.notes:
        note(n)
    for w in result.warnings:
        warn(w)
    if result.commit:
        out(result.commit)


@app.command()
def grant(
    holder: str = typer.Argument(..., metavar="HOLDER", help="Who is given access, e.g. cara"),
    level: Optional[list[str]] = typer.Option(None, "--level", metavar="LEVEL", help="general, confidential or safeguarding (repeat for several; required)."),
    child: Optional[str] = typer.Option(None, "--child", metavar="RECORD", help="One record, e.g. c-7f3k9m2q."),
    all_records: bool = typer.Option(False, "--all", help="Every record in the vault (not for students)."),
    until: Optional[str] = typer.Option(None, "--until", metavar="DATE", help="Last day of access (YYYY-MM-DD; required for auditors); applied at the next write after it."),
    parent_permission: Optional[str] = typer.Option(None, "--parent-permission", metavar="DATE", help="Date of the parent's written permission (required for students)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Let a holder read a level of one record (--child) or every record (--all), past entries included.

    Managers grant any level, a DSL safeguarding; you must hold the level yourself. Prints the commit id
    as the last line; when the holder already reads it, says so and commits nothing (exit 0).
    """
    from vault_cli.services import access

    s = _session(vault, identity)
    total = 1 if child else len(s.vault.record_ids())
    with _progress("granting", total) as tick:
        result = access.grant(s, holder, levels=level or [], record=child, all_records=all_records, until=until,
                              parent_permission=parent_permission, progress=tick)
    _report(result)


@app.command(help="Stop a holder reading levels (default: every level) of one record or every record, from now on: "
                  "their copies of the level keys are dropped and a new key generation, which they do not get, is "
                  "used for everything written afterwards. Revoking what was never granted says so and commits "
                  "nothing (exit 0). Prints the commit id as the last line." + HISTORY_HELP)
def revoke(
    holder: str = typer.Argument(..., metavar="HOLDER", help="Whose access ends, e.g. ben"),
    level: Optional[list[str]] = typer.Option(None, "--level", metavar="LEVEL", help="general, confidential or safeguarding (repeat for several; default every level)."),
    child: Optional[str] = typer.Option(None, "--child", metavar="RECORD", help="One record, e.g. c-7f3k9m2q."),
    all_records: bool = typer.Option(False, "--all", help="Every record in the vault."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    from vault_cli.services import access

    s = _session(vault, identity)
    total = 1 if child else len(s.vault.record_ids())
    with _progress("revoking", total) as tick:
        result = access.revoke(s, holder, levels=level or [], record=child, all_records=all_records, progress=tick)
    _report(result)


@app.command("key-person", help="Hand a child to a new key person (managers): they read the key person's levels, "
                                "past entries included; the previous key person loses what they read only as key "
                                "person, from now on." + HISTORY_HELP)
def key_person(
    record: str = typer.Argument(..., metavar="RECORD", help="The record id, e.g. c-7f3k9m2q"),
    holder: str = typer.Argument(..., metavar="HOLDER", help="The new key person, e.g. cara"),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    from vault_cli.services import access

    _report(access.hand_over(_session(vault, identity), record, holder))


HOLDER_REMOVE_FIELDS = (
    Field("reason", "--reason", "Why they are removed, e.g. left the setting 2026-11-30 (never name a child)",
          required=True),
)


@holder_app.command("remove", help="A leaver (managers only): revoked from every level of every record and kept in "
                                   "holders.yaml as removed. The last active manager cannot be removed."
                                   + HISTORY_HELP)
def holder_remove(
    name: str = typer.Argument(..., metavar="HOLDER", help="The holder, e.g. ben"),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="REASON", help="Why, sealed in holders.yaml for managers, e.g. \"left the setting 2026-11-30\" (never name a child). (required: here, in --from, or asked on a terminal)"),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(HOLDER_REMOVE_FIELDS)),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    from vault_cli.services import holders as holders_svc

    reason = gather(HOLDER_REMOVE_FIELDS, {"reason": reason}, source=from_file, what="The holder's removal",
                    safe_form="leave --reason out to be asked, or give it in a file: --from FILE (YAML or JSON)")["reason"]
    s = _session(vault, identity)
    with _progress("revoking everywhere", len(s.vault.record_ids())) as tick:
        result = holders_svc.remove_holder(s, name, reason=reason, progress=tick)
    _report(result)


@holder_app.command("rotate", help="Move a holder to a new key (managers only), e.g. after a lost laptop: their copies "
                                   "are re-wrapped for the new key and fresh key generations are started, so the old "
                                   "key reads nothing written from now on; a holder who signs gets the new signing key "
                                   "in the same commit. Git history keeps the copies wrapped for "
                                   "the old key: if it was compromised, have the old blocks purged from history.")
def holder_rotate(
    name: str = typer.Argument(..., metavar="HOLDER", help="The holder, e.g. amira"),
    recipient: Optional[str] = typer.Option(None, "--recipient", metavar="KEY", help="The new public recipient (age1... or ssh-ed25519 ...)."),
    new_identity: Optional[str] = typer.Option(None, "--new-identity", metavar="FILE", help="The new key's identity file, as proof it is held (required to rotate the last active manager)."),
    signing_key: Optional[str] = typer.Option(None, "--signing-key", metavar="KEY", help="Their new SSH signing key (ssh-ed25519 AAAA...), when the new recipient is an age1 key: a holder who signs gets a new signing key with the new key."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    from vault_cli.services import holders as holders_svc

    s = _session(vault, identity)
    proof = holders_svc.load_new_identity(new_identity, s.config.passphrase) if new_identity else None
    with _progress("re-wrapping level keys", len(s.vault.record_ids())) as tick:
        result = holders_svc.rotate_holder(s, name, recipient=recipient, new_identities=proof, signing_key=signing_key,
                                           progress=tick)
    _report(result)


@app.command("access")
def access_report(
    record: Optional[str] = typer.Argument(None, metavar="RECORD", help="A record id: who reads each of its levels, and why."),
    holder: Optional[str] = typer.Option(None, "--holder", metavar="HOLDER", help="Instead: what this holder can read."),
    vault: Optional[str] = VaultOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Who can read which level of a record and why (role, key person, grant, until); or, with --holder, what a holder can read.

    Reads only the plaintext structure: needs no key.
    """
    from vault_cli.errors import UsageError
    from vault_cli.services import reports
    from vault_cli.services.vault import Vault

    if (record is None) == (holder is None):
        raise UsageError("give a record id or --holder NAME", "e.g. confide access c-7f3k9m2q, or confide access --holder cara")
    v = _closing(Vault.open(_config(vault)))
    if record is not None:
        data = reports.record_access(v, record)
        if as_json:
            out_json(contract.access_record(data))
            return
        rows = []
        for lv in data["levels"]:
            for r in lv["readers"]:
                rows.append([lv["level"], str(lv["generation"]), r["holder"], r["role"] or "", "; ".join(r["reasons"]),
                             r["until"] or ""])
            for r in lv["revoked"]:
                rows.append([lv["level"], str(lv["generation"]), r["holder"], "", f"revoked by {r['revoked_by']} on {r['revoked']}", ""])
            if lv["rekey_pending"]:
                rows.append([lv["level"], str(lv["generation"]), "", "", "a new generation is due: the next holder "
                             "who reads this level makes it at their next write", ""])
        _table(["level", "generation", "holder", "role", "why", "until"], rows,
               title=f"Access to {record} (key person: {data['key_person'] or 'none'})")
        return
    assert holder is not None  # one of the two was given (checked above)
    with _progress("reading records", len(v.record_ids())) as tick:
        data = reports.holder_access(v, holder, progress=tick)
    if as_json:
        out_json(contract.access_holder(data))
        return
    rows = [[r["record"], lv["level"], "; ".join(lv["reasons"]), lv["until"] or ""]
            for r in data["records"] for lv in r["levels"]]
    _table(["record", "level", "why", "until"], rows, title=f"What {holder} ({data['role']}, {data['status']}) can read")


@app.command()
def expire(vault: Optional[str] = VaultOpt, identity: Optional[str] = IdentityOpt) -> None:
    """Apply grants whose --until has passed, and re-keys you may make (confide also does this before every write).

    The holder loses their copies and a new key generation is started; prints the commit id as the last
    line, or says nothing was due (exit 0).
    """
    from vault_cli.services import access

    _report(access.expire(_session(vault, identity)))
