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

The last page says how many entries were left out under which grounds, never
which entries or whose. Entries recorded without informing parents (the
reason recorded instead) stop the export until each is withheld or the
manager confirms with ``--include-not-informed``: the reason was usually that
telling the parents could put the child at risk.

The export is plaintext by nature. It is written only where ``--out`` says,
mode 0600, never inside the vault's folder, and the command says so.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vault_cli.errors import Denied, ExternalError, UsageError
from vault_cli.services import request_steps, requests
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
PARENT_VIEW_TEXT = {
    "confidential": "Parent regards this as confidential.",
    "not-confidential": "Parent does not regard this as confidential.",
    "not-asked": "Parent's view on confidentiality was not asked.",
}


def _plain(value) -> str:
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in value.items() if v not in (None, "", []))
    return str(value)


def build(session: Session, request_id: str, *, include_not_informed: bool = False) -> dict:
    """The clean copy's content, or an error saying why it cannot be made yet."""
    actor = requests.require_manager_or_dsl(session, "prepare a clean copy")
    loaded = requests.load(session, request_id)
    req = loaded.request
    if loaded.sealed:
        raise Denied(
            f"you cannot read {loaded.sealed} entries of {req.record}, so a clean copy would be incomplete",
            "a manager or the DSL who reads every level of the record must prepare it",
        )
    answers = req.answers()
    given = {k for k, a in answers.items() if a["details"]["answer"] == "given"}
    refused = {k for k, a in answers.items() if a["details"]["answer"] == "refused"}
    withheld = req.withheld()
    removed: Counter = Counter()
    kept, not_informed = [], []
    for e in sorted(requests.file_entries(loaded.entries), key=lambda x: (x["at"], x["id"])):
        parties = {requests.party_key(n) for n in e["third_parties"]}
        if e["id"] in withheld:
            removed[withheld[e["id"]]["details"]["ground"]] += 1
        elif parties & refused:
            removed[GROUND_REFUSED] += 1
        elif parties - given:
            removed[GROUND_AWAITED] += 1
        else:
            if e["parents_not_informed"] and not include_not_informed:
                not_informed.append(e["id"])
            kept.append(e)
    if not_informed:
        raise UsageError(
            f"{len(not_informed)} entries of this file were recorded without informing the parents "
            f"({', '.join(not_informed[:5])}{', ...' if len(not_informed) > 5 else ''})",
            f"decide for each: withhold it with 'confide request withhold {request_id} --entry ENTRY --reason ...', "
            "or disclose it by exporting with {0}; nothing was written",
            fields=("entries parents were not told of",),
        )
    at_of = {e["id"]: e["at"] for e in loaded.entries}
    profile = loaded.profile or {}
    child = [(label, _plain(profile[k])) for k, label in CHILD_FIELDS if profile.get(k) not in (None, "", [], {})]
    out_entries = []
    for e in kept:
        out_entries.append({
            "date": e["at"][:10], "time": e["at"][11:16], "category": e["category"], "level": e["level"],
            "text": e["text"], "recorded_by": e["author"], "recorded_on": e["recorded_at"][:10],
            "parent_view": e["parent_view"], "parents_informed": e["parents_informed"],
            "parents_not_informed": e["parents_not_informed"], "third_parties": e["third_parties"],
            "corrects": at_of.get(e["corrects"], "")[:10] if e["corrects"] else None,
        })
    d = req.details
    dates = [e["date"] for e in out_entries]
    return {
        "format": "confide/clean-copy/1",
        "setting": session.settings.name,
        "request": request_id,
        "requester": d["requester"], "relationship": d["relationship"], "received": d["received"],
        "prepared_on": session.clock.today().isoformat(), "prepared_by": actor.name,
        "child": [{"field": label, "value": value} for label, value in child],
        "child_name": profile.get("name", ""),
        "from": min(dates) if dates else None, "to": max(dates) if dates else None,
        "entries": out_entries,
        "removed": [{"ground": g, "count": n} for g, n in sorted(removed.items())],
        "removed_total": sum(removed.values()),
    }


# ---------------------------------------------------------------------------
# Rendering


def _count(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _when(e: dict) -> str:
    return e["date"] if e["time"] in ("", "00:00") else f"{e['date']} {e['time']}"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _para(text: str) -> str:
    parts = [p for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{_e(p).replace(chr(10), '<br>')}</p>" for p in parts if p.strip())


def _notes(e: dict) -> list[str]:
    notes = [PARENT_VIEW_TEXT.get(e["parent_view"], "")]
    if e["parents_informed"]:
        notes.append(f"Parents informed on {e['parents_informed']}.")
    elif e["parents_not_informed"]:
        notes.append(f"Parents were not informed at the time: {e['parents_not_informed']}")
    if e["third_parties"]:
        notes.append("Includes information from or about: " + ", ".join(e["third_parties"]) + " (consent given).")
    if e["corrects"]:
        notes.append(f"This entry corrects an earlier entry of {e['corrects']}.")
    return [n for n in notes if n]


CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #1b1b1b;
       background: #fff; margin: 0 auto; max-width: 48rem; padding: 2rem 1.5rem; line-height: 1.5; font-size: 16px; }
header { border-bottom: 3px solid #2f5d62; margin-bottom: 1.5rem; padding-bottom: .75rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; color: #2f5d62; }
h2 { font-size: 1.2rem; margin: 2rem 0 .75rem; color: #2f5d62; border-bottom: 1px solid #c9d6d8; padding-bottom: .25rem; }
.setting { font-size: 1.05rem; font-weight: bold; margin: 0; }
.meta { color: #444; margin: .25rem 0 0; }
dl.child { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.child dt { font-weight: bold; }
dl.child dd { margin: 0; }
ol.chronology { list-style: none; padding: 0; margin: 0; }
ol.chronology > li { border-left: 4px solid #8fb3b6; padding: .5rem 0 .5rem 1rem; margin: 0 0 1rem; break-inside: avoid; }
.when { font-weight: bold; }
.category { display: inline-block; background: #e6eff0; border-radius: 3px; padding: 0 .4rem; margin-left: .5rem;
            font-size: .9rem; }
.entry-text p { margin: .35rem 0; white-space: normal; overflow-wrap: anywhere; }
.notes { color: #444; font-size: .9rem; margin: .25rem 0 .25rem; padding-left: 1.2rem; list-style: disc; }
.notes li { margin: 0; }
.by { color: #555; font-size: .85rem; }
section.removed { margin-top: 2.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; border-bottom: 1px solid #d5d5d5; padding: .35rem .5rem; vertical-align: top; }
td.n { text-align: right; width: 5rem; }
footer { margin-top: 2rem; color: #555; font-size: .85rem; }
@media print {
  @page { size: A4; margin: 18mm 16mm; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  header { border-bottom-width: 2px; }
  ol.chronology > li { border-left-color: #777; }
  .category { background: none; border: 1px solid #777; }
  section.removed { break-before: page; page-break-before: always; }
  a { color: inherit; text-decoration: none; }
}
"""


def render_html(data: dict) -> str:
    title = f"Records of {data['child_name']}: clean copy"
    rng = f"{data['from']} to {data['to']}" if data["from"] else "no entries"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f'<p class="setting">{_e(data["setting"])}</p>',
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Entries from {_e(rng)}. Prepared on {_e(data["prepared_on"])} for {_e(data["requester"])} '
        f'({_e(data["relationship"])}), in answer to the request received on {_e(data["received"])}.</p>',
        "</header>",
        "<main>",
        "<h2>The child</h2>",
        '<dl class="child">',
    ]
    for row in data["child"]:
        out.append(f"<dt>{_e(row['field'])}</dt><dd>{_e(row['value'])}</dd>")
    out += ["</dl>", f"<h2>Chronology ({_count(len(data['entries']))})</h2>", '<ol class="chronology">']
    for e in data["entries"]:
        notes = "".join(f"<li>{_e(n)}</li>" for n in _notes(e))
        out.append(
            "<li>"
            f'<div><span class="when">{_e(_when(e))}</span>'
            f'<span class="category">{_e(e["category"])}</span></div>'
            f'<div class="entry-text">{_para(e["text"])}</div>'
            f'<ul class="notes">{notes}</ul>'
            f'<div class="by">Recorded by {_e(e["recorded_by"])} on {_e(e["recorded_on"])}; held as {_e(e["level"])}.</div>'
            "</li>"
        )
    if not data["entries"]:
        out.append("<li>No entries.</li>")
    out += ["</ol>", '<section class="removed">', "<h2>Information not included</h2>"]
    if data["removed_total"]:
        out.append(f"<p>{data['removed_total']} "
                   f"{'entry was' if data['removed_total'] == 1 else 'entries were'} not included in this copy:</p>")
        out.append('<table><thead><tr><th>Ground</th><th class="n">Entries</th></tr></thead><tbody>')
        for r in data["removed"]:
            out.append(f'<tr><td>{_e(r["ground"])}</td><td class="n">{r["count"]}</td></tr>')
        out.append("</tbody></table>")
    else:
        out.append("<p>Nothing was removed from this copy.</p>")
    out += [
        "<p>Records of how the setting handled requests to see this file are not part of this copy.</p>",
        "</section>",
        "</main>",
        f'<footer>Clean copy prepared by {_e(data["prepared_by"])} on {_e(data["prepared_on"])} '
        f'(request {_e(data["request"])}). This copy holds personal information: keep it safe.</footer>',
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out)


def _md(text: str) -> str:
    out = []
    for ch in str(text):
        out.append("\\" + ch if ch in "\\`*_[]<>#|" else ch)
    return "".join(out)


def render_md(data: dict) -> str:
    rng = f"{data['from']} to {data['to']}" if data["from"] else "no entries"
    out = [
        f"# Records of {_md(data['child_name'])}: clean copy",
        "",
        f"**{_md(data['setting'])}**",
        "",
        f"Entries from {rng}. Prepared on {data['prepared_on']} for {_md(data['requester'])} "
        f"({_md(data['relationship'])}), in answer to the request received on {data['received']}.",
        "",
        "## The child",
        "",
    ]
    out += [f"- **{_md(r['field'])}:** {_md(r['value'])}" for r in data["child"]]
    out += ["", f"## Chronology ({_count(len(data['entries']))})", ""]
    for e in data["entries"]:
        out.append(f"### {_when(e)} ({_md(e['category'])})")
        out.append("")
        out += [_md(line) for line in e["text"].splitlines()]
        out.append("")
        out += [f"- {_md(n)}" for n in _notes(e)]
        out.append(f"- Recorded by {_md(e['recorded_by'])} on {e['recorded_on']}; held as {e['level']}.")
        out.append("")
    out += ["## Information not included", ""]
    if data["removed_total"]:
        out += [f"{data['removed_total']} {'entry was' if data['removed_total'] == 1 else 'entries were'} "
                "not included in this copy:", "", "| ground | entries |", "|---|---:|"]
        out += [f"| {_md(r['ground'])} | {r['count']} |" for r in data["removed"]]
    else:
        out.append("Nothing was removed from this copy.")
    out += ["", "Records of how the setting handled requests to see this file are not part of this copy.", "",
            f"Prepared by {_md(data['prepared_by'])} on {data['prepared_on']} (request {data['request']}). "
            "This copy holds personal information: keep it safe.", ""]
    return "\n".join(out)


def render(data: dict, fmt: str) -> bytes:
    if fmt == "html":
        return render_html(data).encode("utf-8")
    if fmt == "md":
        return render_md(data).encode("utf-8")
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


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


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), atomically."""
    tmp = path.parent / f".{path.name}.confide-{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ExternalError(f"could not write {path}: {exc.strerror}", "check the folder and the disk; nothing was written") from None


def export(session: Session, request_id: str, *, out: str, fmt: str = "html", force: bool = False,
           include_not_informed: bool = False) -> ExportResult:
    """Write the clean copy to ``out`` (0600) and record that it was prepared. Returns the export entry's result."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'", "--format takes " + ", ".join(FORMATS))
    requests.check_request_id(request_id)
    session.require_reader()
    requests.require_manager_or_dsl(session, "prepare a clean copy")
    path = _check_out(session, out, force)
    data = build(session, request_id, include_not_informed=include_not_informed)
    body = render(data, fmt)
    digest = hashlib.sha256(body).hexdigest()
    write_private(path, body)
    details = {"procedure": "request-export/1", "request": request_id, "format": fmt, "sha256": digest,
               "included": len(data["entries"]), "removed": {r["ground"]: r["count"] for r in data["removed"]},
               "from": data["from"], "to": data["to"]}
    text = (f"Clean copy prepared for request {request_id} ({fmt}): {len(data['entries'])} entries included, "
            f"{data['removed_total']} left out; SHA-256 {digest}.")
    try:
        result = request_steps.add_step(session, requests.locate(session, request_id), level="confidential",
                               category="request-export", text=text, at=None, details=details)
    except BaseException:
        try:
            path.unlink()
        except OSError:
            pass
        raise
    details = {"path": str(path), "sha256": digest, "included": len(data["entries"]),
               "removed": data["removed"], "removed_total": data["removed_total"], "format": fmt}
    return ExportResult(result.id, result.commit, result.warnings, details=details)


__all__ = ["build", "render", "render_html", "render_md", "export", "write_private", "FORMATS"]
