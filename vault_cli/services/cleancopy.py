"""The clean copy: what a parent is given in answer to a request to see their child's file.

It is built from a *copy* of one record's decrypted entries, in memory; the
record itself is never changed (the only write is a ``request-export`` entry
saying that a copy was prepared, what it held and the SHA-256 of the file).
Only that one record is read, so nothing of any other child can reach it.

Left out:

- every entry tied (``--third-party``) to a third party who refused consent
  to disclosure, or whose consent has not been given (unanswered: the safe
  default; record the answer with ``confide request consent``);
- every entry withheld for the request, with its ground;
- the request procedure's own entries (requests, consents, withholdings,
  extensions, exports, closures). They are the setting's handling of the
  request, not the child's file; they name third parties and say what was
  withheld and why, which would defeat the withholding. The requester has
  their own request and the setting's letters. The information-sharing log
  *is* part of the file and is included, subject to the same rules (the
  party shared with is a third party of its entry).

The last page says how many entries were left out and, in general terms, why
(an exemption in the Data Protection Act 2018; third parties' consent), never
which entries, whose, or which exemption. Nothing is written while an entry
that needs a disclosure decision for the request has none (``model.disclosure``:
entries recorded without informing the parents, safeguarding entries; decided
with ``confide request decide``), or while the child's profile stops a copy for
the requester (no parental responsibility, a court order) without a manager's
override (``confide request override``).

The copy is written for the parent (``formats.cleancopy_page`` lays it out):
staff by their display name and role (``holder set-display-name``), never by
login; dates written out; no level names. Display names are sealed in
holders.yaml for managers, whoever may act on requests (the DSL) and a recovery
key (``services.staff``), which are the holders who export; one whose key does
not open a display name (none was set, or it was sealed before their role could
export) is named by role alone ("a practitioner").

The export is plaintext by nature. It is written only where ``--out`` says,
mode 0600, never inside the vault's folder, and the command says so: first to a
private temporary file beside it, renamed into place only once the export entry
is committed under the vault's lock, and removed on any failure or interruption
(the command line turns SIGTERM and SIGHUP into one: ``cli.interrupts``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vault_cli.errors import Denied, ExternalError, UsageError
from vault_cli.formats.cleancopy_page import long_date, render
from vault_cli.model import disclosure
from vault_cli.model.record import Entry
from vault_cli.services import request_steps, requests, staff
from vault_cli.services.vault import Session
from vault_cli.services.writing import WriteResult

FORMATS = ("html", "md", "json")


@dataclass
class ExportResult(WriteResult):
    details: dict[str, Any] = field(default_factory=dict)  # the file written: path, sha256, what it includes

GROUND_REFUSED = "information from or about a third party who refused consent to its disclosure"
GROUND_AWAITED = "information from or about a third party who has not given consent to its disclosure"
CHILD_FIELDS = (
    ("name", "Name"), ("known_as", "Known as"), ("dob", "Date of birth"), ("start_date", "Started"),
    ("leaving_date", "Left"), ("room", "Room"), ("key_person", "Key person"), ("home_languages", "Home languages"),
    ("allergies", "Allergies"), ("dietary_needs", "Dietary needs"), ("medical_needs", "Medical needs"), ("send", "SEND"),
)


def _plain(value) -> str:
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in value.items() if v not in (None, "", []))
    return str(value)


# How the copy calls a role a parent may not know by its short name (anything else: its name, in words).
ROLE_WORDS = {"dsl": "designated safeguarding lead"}
DATE_FIELDS = ("dob", "start_date", "leaving_date")


def staff_name(session: Session, login: str) -> str:
    """A member of staff as a parent's copy names them: display name and role, never the login."""
    holder = session.holders.find(login)
    staff.open_details(session.holders, session.identities)  # sealed for those who prepare parents' copies
    if holder is None:
        return "a member of staff"
    role = ROLE_WORDS.get(holder.role, holder.role.replace("-", " "))
    if holder.display_name:
        return f"{holder.display_name} ({role})"
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def _child_value(session: Session, key: str, value) -> str:
    if key == "key_person":
        return staff_name(session, value)
    if key in DATE_FIELDS:
        return long_date(value)
    return _plain(value)


def _undecided_error(request_id: str, pending: list[Entry], earlier: dict) -> UsageError:
    def one(e: Entry) -> str:
        before = ", ".join(f"{'withheld' if x.decision == 'withhold' else 'disclosed'} for {x.request}"
                           for x in earlier.get(e.id, []))
        return f"{e.id}{' (' + before + ')' if before else ''}"  # ids only: an entry's date and category are its data

    shown = "; ".join(one(e) for e in pending[:10]) + ("; ..." if len(pending) > 10 else "")
    return UsageError(
        f"{len(pending)} {'entry needs' if len(pending) == 1 else 'entries need'} a decision before a clean copy "
        f"can be made: {shown}",
        f"decide each: confide request decide {request_id} ENTRY --withhold --ground GROUND, or --disclose "
        f"(the reason is asked for); see why with: confide request show {request_id}; nothing was written",
    )


def check_refusals(loaded: requests.Loaded) -> None:
    """Refuse where the child's profile says the requester may not have a copy, unless a manager overrode it.

    While a sync's conflict keeps two versions of the profile, which of them stands (one may record a court
    order) is not decided: no copy until it is resolved."""
    req = loaded.request
    requests.refuse_while_conflicted(loaded.env.head, loaded.env.record)
    pending = disclosure.pending_refusals(loaded.profile, req.opening.requester, req.overrides, req.id)
    if pending:
        raise Denied(
            "no clean copy for this request: " + "; and ".join(disclosure.REFUSALS[r] for r in pending),
            "check the profile (confide show) and the order; where the copy may still be given, a manager "
            f"records why with: confide request override {req.id}; nothing was written",
        )


def build(session: Session, request_id: str) -> dict:
    """The clean copy's content, or an error saying why it cannot be made yet."""
    actor = requests.require_manager_or_dsl(session, "prepare a clean copy")
    loaded = requests.load(session, request_id)
    req = loaded.request
    if loaded.sealed:
        raise Denied(
            f"you cannot read {loaded.sealed} entries of {req.record}, so a clean copy would be incomplete",
            "a manager or the DSL who reads every level of the record must prepare it",
        )
    check_refusals(loaded)
    file = requests.file_entries(loaded.entries)
    decided = req.decided()
    pending = disclosure.undecided(file, decided)
    if pending:
        raise _undecided_error(request_id, pending, requests.earlier_decisions(loaded.entries, req.id))
    answers = req.answers()
    given = {k for k, a in answers.items() if a.answer == "given"}
    refused = {k for k, a in answers.items() if a.answer == "refused"}
    removed: Counter = Counter()
    kept, not_told = [], 0
    for e in sorted(file, key=lambda x: (x.at, x.id)):
        parties = {requests.party_key(n) for n in e.third_parties}
        dec = decided.get(e.id)
        if dec is not None and dec.decision == "withhold":
            if dec.tell:
                removed[disclosure.TOLD] += 1
            else:
                not_told += 1
        elif parties & refused:
            removed[GROUND_REFUSED] += 1
        elif parties - given:
            removed[GROUND_AWAITED] += 1
        else:
            kept.append(e)
    at_of = {e.id: e.at for e in loaded.entries}
    profile = loaded.profile
    child = [(label, _child_value(session, k, profile.get(k))) for k, label in CHILD_FIELDS
             if profile is not None and profile.get(k) not in (None, "", [], {})]
    out_entries: list[dict[str, Any]] = []
    for e in kept:
        out_entries.append({
            "date": e.at[:10], "time": e.at[11:16], "category": e.category,
            "text": e.text, "recorded_by": staff_name(session, e.author), "recorded_on": e.recorded_at[:10],
            "parent_view": e.parent_view, "parents_informed": e.parents_informed,
            "parents_not_informed": e.parents_not_informed, "third_parties": list(e.third_parties),
            "corrects": at_of.get(e.corrects, "")[:10] if e.corrects else None,
        })
    d = req.opening
    dates = [e["date"] for e in out_entries]
    return {
        "format": "confide/clean-copy/2",
        "setting": session.settings.name,
        "request": request_id,
        "requester": d.requester, "relationship": d.relationship, "received": d.received,
        "prepared_on": session.clock.today().isoformat(), "prepared_by": staff_name(session, actor.name),
        "child": [{"field": label, "value": value} for label, value in child],
        "child_name": profile.name if profile is not None else "",
        "from": min(dates) if dates else None, "to": max(dates) if dates else None,
        "entries": out_entries,
        "removed": [{"ground": g, "count": n} for g, n in sorted(removed.items())],
        "removed_total": sum(removed.values()),
        "decisions": {k: x.id for k, x in sorted(decided.items())},
        "not_told": not_told,
        "overrides": [o.id for o in req.overrides],
        "requester_listed": (disclosure.requester_listed(profile, d.requester)
                             if profile is not None and profile.parents else None),
    }


# ---------------------------------------------------------------------------
# Writing it out


OUT, FORCE = "clean copy file", "replace it"  # fields, as errors name them (the command line: --out, --force)


def _check_out(session: Session, out: str, force: bool) -> Path:
    if not out or not out.strip():
        raise UsageError("{0} is empty", "name the file to write, e.g. {0} clean-copy.html", fields=(OUT, FORCE))
    path = Path(out).expanduser()
    parent = path.parent.resolve()
    if not parent.is_dir():
        raise UsageError(f"the folder for {{0}}, {path.parent}, does not exist", "create it first, or choose another",
                         fields=(OUT, FORCE))
    target = parent / path.name
    root = session.vault.root.resolve()
    if target == root or root in target.parents:
        raise UsageError("{0} is inside the vault's folder, where plaintext must never be",
                         "write the clean copy outside the vault, e.g. {0} ~/clean-copy.html", fields=(OUT, FORCE))
    if target.is_dir():
        raise UsageError(f"{{0}} names a folder, {path}", "give a file name", fields=(OUT, FORCE))
    if target.exists() and not force:
        raise UsageError(f"{path} already exists", "choose another {0}, or replace it with {1}", fields=(OUT, FORCE))
    return target


_TEMP = re.compile(r"^\..+\.confide-([A-Za-z0-9_]+)-(\d+)\.tmp$")


def _host() -> str:
    """This machine's name as a temporary copy's name carries it: a pid means something only on its own host
    (a shared or network folder may hold another machine's export still running)."""
    import socket

    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "_"


def sweep_unfinished(folder: Path) -> int:
    """Remove the unfinished copies (``_private_temp``'s files) in ``folder`` whose confide is gone: a SIGKILLed
    export cannot remove its own. Only the current user's regular files made on this machine, and only when no
    process has the pid in their name (a live one, even an unrelated process that took the pid, keeps its
    file). How many went."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m is None or m.group(1) != _host():
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            os.kill(int(m.group(2)), 0)
            continue  # its process is alive
        except ProcessLookupError:
            pass
        except (OSError, ValueError, OverflowError):
            continue
        _remove(Path(entry.path))
        removed += 1
    return removed


def _private_temp(path: Path, data: bytes) -> Path:
    """``data`` in a new file beside ``path`` that only its owner can read (0600), flushed to disk."""
    tmp = path.parent / f".{path.name}.confide-{_host()}-{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise _not_written(path, exc) from None
    with _removed_on_failure(tmp, path):
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return tmp


def _not_written(path: Path, exc: OSError) -> ExternalError:
    return ExternalError(f"could not write {path}: {exc.strerror}", "check the folder and the disk; nothing was written")


@contextmanager
def _removed_on_failure(tmp: Path, path: Path) -> Iterator[None]:
    """Any failure or interruption inside removes ``tmp``; an OSError becomes the error that ``path`` was not
    written."""
    try:
        yield
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise _not_written(path, exc) from None
        raise


def _put_without_replacing(tmp: Path, path: Path) -> None:
    """``tmp`` renamed to ``path`` unless a file is there (FileExistsError). A hard link does that atomically;
    where the file system has none (a FAT-formatted USB stick), a check just before the rename does."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(17, "File exists") from None
        os.replace(tmp, path)
        return
    _remove(tmp)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), atomically."""
    tmp = _private_temp(path, data)
    with _removed_on_failure(tmp, path):
        os.replace(tmp, path)


def export(session: Session, request_id: str, *, out: str, fmt: str = "html", force: bool = False) -> ExportResult:
    """Write the clean copy to ``out`` (0600) and record that it was prepared. Returns the export entry's result."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'", "--format takes " + ", ".join(FORMATS))
    requests.check_request_id(request_id)
    session.require_reader()
    requests.require_manager_or_dsl(session, "prepare a clean copy")
    path = _check_out(session, out, force)
    built_from = session.vault.commit  # the copy is built now, outside the lock: its export is refused under the
    # lock if the record changed meanwhile (a decision to withhold made while it waited must not be bypassed)
    data = build(session, request_id)
    decisions, overrides = data.pop("decisions"), data.pop("overrides")
    listed, not_told = data.pop("requester_listed"), data.pop("not_told")
    body = render(data, fmt, quiet=bool(not_told))
    digest = hashlib.sha256(body).hexdigest()
    # The copy goes to a private temporary file first; only once the export is committed (under the vault's
    # lock) is it renamed into place. A failure or an interruption on the way (^C; the command line turns
    # SIGTERM and SIGHUP into one) removes it: no plaintext copy is left without an export recorded.
    swept = sweep_unfinished(path.parent)
    tmp = _private_temp(path, body)
    try:
        details = {"procedure": disclosure.EXPORT_DECIDED, "request": request_id, "format": fmt, "sha256": digest,
                   "included": len(data["entries"]), "removed": {r["ground"]: r["count"] for r in data["removed"]},
                   "from": data["from"], "to": data["to"], "decisions": decisions, "overrides": overrides,
                   "withheld_without_telling": not_told}
        text = (f"Clean copy prepared for request {request_id} ({fmt}): {len(data['entries'])} entries included, "
                f"{data['removed_total']} left out; SHA-256 {digest}.")
        result = request_steps.add_step(session, requests.locate(session, request_id), level="confidential",
                                        category="request-export", text=text, at=None, details=details,
                                        unchanged_since=built_from)
        try:
            if force:
                os.replace(tmp, path)
            else:  # not over a file that appeared at --out while the export waited for the lock
                _put_without_replacing(tmp, path)
        except OSError as exc:  # the export is recorded; the file is not there (nothing plaintext is left either)
            raise ExternalError(f"the export was recorded, but the clean copy could not be put in place at {path}: "
                                f"{exc.strerror}", "check the folder, then export again (--force replaces a file "
                                "that is there)") from None
    except BaseException:
        _remove(tmp)
        raise
    if swept:
        result.warnings.append(f"removed {swept} unfinished clean cop{'y' if swept == 1 else 'ies'} that a killed "
                               f"export had left in {path.parent}")
    if listed is None:
        result.warnings.append("the child's profile lists no parents: check that the requester has parental "
                               "responsibility (confide show)")
    elif not listed:
        result.warnings.append("the requester is not among the parents the child's profile lists: check that they "
                               "have parental responsibility (confide show)")
    details = {"path": str(path), "sha256": digest, "included": len(data["entries"]),
               "removed": data["removed"], "removed_total": data["removed_total"] + not_told,
               "not_told": not_told, "format": fmt}
    return ExportResult(result.id, result.commit, result.warnings, details=details)


__all__ = ["build", "render", "export", "write_private", "FORMATS"]
