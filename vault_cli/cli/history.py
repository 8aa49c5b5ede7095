"""Commands for trustworthy history: verify, audit, sync, clone, backup, restore, signing keys.

Registered on the ``app`` / ``holder_app`` of ``cli.common`` (imported by
``cli.main``). Thin as the rest of the CLI: parse, call one library
function, render.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
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
    _session,
    _table,
    app,
    holder_app,
    note,
    on_terminal,
    out,
    out_json,
    report_error,
    warn,
)
from vault_cli.cli.personal import Field, from_file_help, gather
from vault_cli.errors import FindingsError, UsageError

signing_app = typer.Typer(help="The vault's signing policy.", no_args_is_help=True)
app.add_typer(signing_app, name="signing")


# ---------------------------------------------------------------------------
# signing keys


@holder_app.command("set-signing-key")
def holder_set_signing_key(
    name: str = typer.Argument(..., metavar="HOLDER", help="The holder, e.g. amira"),
    key: str = typer.Argument(..., metavar="PUBKEY", help="Their SSH public key: the .pub line, \"ssh-ed25519 AAAA... amira@laptop\"."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Declare or replace a holder's SSH signing key (managers only); allowed_signers follows."""
    from vault_cli.services import holders as holders_svc

    result = holders_svc.set_signing_key(_session(vault, identity), name, key)
    _print_warnings(result)
    out(result.commit)


DISPLAY_NAME_FIELDS = (
    Field("display_name", "TEXT", "How a parent's copy names them, e.g. Sam Taylor (empty clears it)", required=True),
)


@holder_app.command("set-display-name")
def holder_set_display_name(
    name: str = typer.Argument(..., metavar="HOLDER", help="The holder, e.g. sam"),
    display_name: Optional[str] = typer.Argument(None, metavar="TEXT", help="How a parent's copy names them, e.g. \"Sam Taylor\"; \"\" clears it. Safer left out: asked on a terminal, or given with --from."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help=from_file_help(DISPLAY_NAME_FIELDS)),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Set how a parent's clean copy names a holder (managers only); the copy never shows logins."""
    from vault_cli.services import holders as holders_svc

    if display_name == "":  # clearing it carries nothing personal
        text = ""
    else:
        text = gather(DISPLAY_NAME_FIELDS, {"display_name": display_name}, source=from_file, what="The display name",
                      safe_form="leave TEXT out to be asked, or give it in a file: --from FILE (YAML or JSON)")["display_name"]
    result = holders_svc.set_display_name(_session(vault, identity), name, text)
    _print_warnings(result)
    out(result.commit)


# ---------------------------------------------------------------------------
# verify


def _open_root(config) -> Path:
    from vault_cli.services.vault import find_root

    return find_root(config)


def _report_verify(result, as_json: bool, quiet: bool = False) -> None:
    if as_json:
        out_json(result.to_dict())
    elif not quiet:
        for f in result.findings:
            where = f" {f.file}" if f.file else ""
            out(f"{(f.commit or '-')[:12]}{where}: {f.check}: {f.message}")
        for f, by in result.repudiated:
            where = f" {f.file}" if f.file else ""
            out(f"{(f.commit or '-')[:12]}{where}: repudiated by {by[:12]}: {f.check}: {f.message}")
    for n in result.notes:
        note(n)
    if result.findings:
        commits = len({f.commit for f in result.findings})
        raise FindingsError(
            f"verify found {len(result.findings)} problem(s) in {commits} commit(s) of {result.commits}",
            "see each commit with 'git show --show-signature COMMIT'; nothing built on them is trusted: go back to "
            + (f"the last verified commit ({result.last_clean[:12]}) " if result.last_clean else "a verified commit ")
            + "with 'git reset --keep COMMIT', or have a manager reject them: confide repudiate",
        )
    if not as_json and not quiet:
        what = "signatures, roles, entries, keys and schemas" + (f"; content as {result.reader}" if result.content_checked else "")
        anchor = f", from the vault's identity {result.anchor}" if result.anchor else ""
        out(f"ok: {result.commits} commit(s) verified ({what}{anchor}), no findings")


@app.command()
def verify(
    since: Optional[str] = typer.Option(None, "--since", metavar="REV", help="Check only the commits after REV (a commit, tag or branch)."),
    as_json: bool = JsonOpt,
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Check the history from the vault's identity: signatures, role rules, merges, entries, keys, schemas. Exit 9 on findings."""
    from vault_cli.services import recovery

    config = _config(vault, identity)
    result = recovery.verify_vault(_open_root(config), config, since=since)
    _report_verify(result, as_json)


@app.command("trust")
def trust_cmd(
    anchor: Optional[str] = typer.Argument(None, metavar="IDENTITY", help="The vault's identity, as 'confide init' printed it (ROOT@SHA256:...)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show this clone's trust anchor and last verified commit, or pin the vault's identity after verifying its history."""
    from vault_cli.services import recovery

    config = _config(vault, identity)
    data = recovery.trust_vault(_open_root(config), anchor, config, confirm=_confirm_identity)
    if as_json:
        out_json(contract.trust(data))
        return
    note(f"verified up to {data['verified']}")
    out(data["anchor"])


def _confirm_identity(found: str) -> bool:
    """As ssh does for a host key: show the identity and ask, on a terminal only."""
    if not sys.stdin.isatty() or not sys.stderr.isatty():
        return False
    sys.stderr.write(f"confide: this vault's identity is\n  {found}\n"
                     "confide: compare it with the one its manager wrote down; trust it? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


@app.command()
def repudiate(
    reason: Optional[str] = typer.Option(None, "--reason", metavar="REASON", help="Why (plain text in the commit: never name a child)."),
    to: Optional[str] = typer.Option(None, "--to", metavar="COMMIT", help="Restore this earlier commit instead of the last verified one (e.g. one before a commit that only 'confide verify' with a key can judge)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Reject every commit since the last verified one (managers): restore that state in one signed commit.

    The rejected commits stay in history, reported by verify as repudiated, not as open findings; commands
    then proceed. Prints the new commit id.
    """
    from vault_cli.services import recovery

    config = _config(vault, identity)
    result = recovery.repudiate(_open_root(config), config, reason=reason, to=to)
    note(f"repudiated {len(result.commits)} commit(s); restored the verified state {result.restored[:12]}")
    out(result.commit)


@signing_app.command("adopt")
def signing_adopt(vault: Optional[str] = VaultOpt, identity: Optional[str] = IdentityOpt) -> None:
    """Require signed commits from now on (managers): one signed commit vouching for the unsigned history before it."""
    from vault_cli.services import recovery

    result = recovery.adopt_signing(_session(vault, identity))
    for w in result.warnings:
        warn(w)
    note(f"signatures are required from commit {result.commit[:12]} on; the vault's identity is now {result.anchor}")
    note("give the new identity to everyone who clones or restores the vault: --trust IDENTITY")
    out(result.commit)


# ---------------------------------------------------------------------------
# audit


@app.command()
def audit(
    record: Optional[str] = typer.Option(None, "--record", metavar="RECORD", help="Only this record, e.g. c-7f3k9m2q."),
    holder: Optional[str] = typer.Option(None, "--holder", metavar="HOLDER", help="Only what this holder did (or what was done to them)."),
    action: Optional[str] = typer.Option(None, "--action", metavar="ACTION", help="Only this action, e.g. entry.add, or a family: access."),
    since: Optional[str] = typer.Option(None, "--since", metavar="DATE", help="Only from this date (YYYY-MM-DD)."),
    as_json: bool = JsonOpt,
    fmt: str = typer.Option("table", "--format", metavar="FORMAT", help="table, csv or json."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
    no_pager: bool = NoPagerOpt,
) -> None:
    """Who did what, when, to which record, from the commits' trailers, with each signature's status."""
    from vault_cli.services import history, recovery

    if fmt not in ("table", "csv", "json"):
        raise UsageError(f"unknown --format '{fmt}'", "--format takes table, csv or json")
    v, identities = recovery.open_for_reading(_config(vault, identity))
    _closing(v)
    rows, n = history.audit(v.root, v.commit, holders=v.holders, identities=identities, record=record, holder=holder,
                            action=action, since=since)
    if n:
        note(n)
    if as_json or fmt == "json":
        out_json(rows)
        return
    if fmt == "csv":  # exact for a file or a spreadsheet; made safe only when a terminal shows it
        from vault_cli.cli.safe_text import safe

        shown = safe if on_terminal() else (lambda v: v)
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(history.AUDIT_COLUMNS)
        for r in rows:
            w.writerow(["" if r.get(c) is None else shown(r.get(c)) for c in history.AUDIT_COLUMNS])
        return
    from vault_cli.cli.pager import paged

    with paged(not no_pager):
        _table(["date", "holder", "action", "record", "entry", "level", "category", "signature", "commit"],
               [[r["date"][:19].replace("T", " "), r["holder"] or "", r["action"] or "",
                 (r["record"] or "") + (f" ({r['name']})" if r["name"] else ""), r["entry"] or r["subject"] or "",
                 r["level"] or "", r["category"] or "", r["signature"], r["commit"][:12]] for r in rows],
               title="Audit trail")


# ---------------------------------------------------------------------------
# several machines


@app.command()
def sync(
    remote: Optional[str] = typer.Argument(None, metavar="REMOTE", help="The remote (default: the branch's upstream, else origin)."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Fetch, verify what came before merging it, merge (keyless, signed), then push. Retries when the push races."""
    from vault_cli.services import sync as syncmod

    result = syncmod.sync(_session(vault, identity), remote)
    parts = [f"fetched {result.remote}"]
    if result.merged:
        parts.append(f"merged ({result.merged})")
    parts.append("pushed" if result.pushed else "nothing to push")
    note(", ".join(parts))
    for n in result.notes:  # profiles changed on both machines: kept in both versions until 'confide resolve'
        note(n)
    out(result.commit or "")


@app.command()
def clone(
    url: str = typer.Argument(..., metavar="URL", help="Where the vault is: a path, ssh://, https:// or git:// address."),
    directory: str = typer.Argument(..., metavar="DIR", help="A new folder for the clone."),
    trust: Optional[str] = typer.Option(None, "--trust", metavar="IDENTITY", help="The vault's identity (from its manager); the clone is kept only if its history verifies from it."),
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Clone a vault, verify its whole history from its identity, and keep it only if it verifies."""
    from vault_cli.services import recovery
    from vault_cli.services import sync as syncmod

    config = _config(identity=identity)
    path, head, anchor = syncmod.clone(url, directory, clock=config.clock, anchor=trust, confirm=_confirm_identity,
                                       identities=recovery.identities_if_any(config))
    note(f"cloned into {path}; its history verifies from the vault's identity {anchor}")
    out(str(path))


@app.command("merge-driver", hidden=True)
def merge_driver(
    base: str = typer.Argument(...),
    ours: str = typer.Argument(...),
    theirs: str = typer.Argument(...),
    path: str = typer.Argument("record"),
) -> None:
    """git's merge driver for records/*.yaml (git runs it: python -m vault_cli merge-driver %O %A %B %P)."""
    from vault_cli.services import sync as syncmod

    problem = syncmod.merge_driver(base, ours, theirs, path)
    if problem is not None:
        report_error(problem)
        raise typer.Exit(1)


# ---------------------------------------------------------------------------
# backups


@app.command()
def backup(
    file: str = typer.Argument(..., metavar="FILE", help="The bundle to write, e.g. /mnt/backup/vault-2026-11-24.bundle."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success (for cron)."),
    as_json: bool = JsonOpt,
    vault: Optional[str] = VaultOpt,
) -> None:
    """Write a git bundle of every ref and verify it; needs no identity."""
    from vault_cli.services import sync as syncmod

    result = syncmod.backup(_open_root(_config(vault)), file)
    if quiet:
        return
    if as_json:
        out_json({"path": result.path, "size": result.size, "commit": result.commit, "refs": result.refs})
    else:
        out(f"{result.path}: {result.size} bytes, {result.refs} ref(s), at commit {result.commit}")


@app.command()
def restore(
    file: str = typer.Argument(..., metavar="FILE", help="A bundle written by 'confide backup'."),
    directory: str = typer.Argument(..., metavar="DIR", help="A new folder (must not exist)."),
    trust: Optional[str] = typer.Option(None, "--trust", metavar="IDENTITY", help="The vault's identity; the restore is kept only if its history verifies from it."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success (for cron)."),
    as_json: bool = JsonOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """Restore a backup bundle into a new folder, kept only if its whole history verifies from the vault's identity."""
    from vault_cli.services import recovery
    from vault_cli.services import sync as syncmod

    config = _config(identity=identity)
    path, head, anchor = syncmod.restore(file, directory, clock=config.clock, anchor=trust, confirm=_confirm_identity,
                                         identities=recovery.identities_if_any(config))
    if as_json:
        out_json({"path": str(path), "commit": head, "anchor": anchor, "ok": True})
    elif not quiet:
        note(f"restored {path} at commit {head}; its history verifies from the vault's identity {anchor}")
        out(str(path))


# ---------------------------------------------------------------------------
# the shared repository

serve_app = typer.Typer(help="The shared repository: refuse pushes that do not verify.", no_args_is_help=True)
app.add_typer(serve_app, name="serve-hook")


@serve_app.command("install")
def serve_hook_install(
    repo: str = typer.Argument(..., metavar="REPO", help="The bare repository clones push to, e.g. /srv/git/vault.git."),
    trust: str = typer.Option(..., "--trust", metavar="IDENTITY", help="The vault's identity, as 'confide init' printed it."),
    as_json: bool = JsonOpt,
) -> None:
    """Install a pre-receive hook that verifies every push (keylessly) and refuses what does not verify."""
    from vault_cli.services import serve_hook

    data = serve_hook.install(repo, trust, _config().clock)
    if as_json:
        out_json(data)
        return
    note(f"verified {data['refs']} branch(es) in {data['repository']}; every push is verified from now on")
    out(data["hook"])


@serve_app.command("run", hidden=True)
def serve_hook_run() -> None:
    """git runs this from the pre-receive hook, with the pushed refs on stdin."""
    from vault_cli.cli import environment
    from vault_cli.services import serve_hook

    raise typer.Exit(serve_hook.run(sys.stdin, _SafeStream(sys.stderr), environment.hook_repository(), _config().clock))


class _SafeStream:
    """The pusher's terminal (git relays the hook's stderr): what the hook says is made safe, as all output is
    (a pushed file's name may hold escapes)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        from vault_cli.cli.safe_text import safe

        return self.stream.write(safe(text, lines=True))

    def flush(self) -> None:
        self.stream.flush()
