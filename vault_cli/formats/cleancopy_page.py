"""The parent's clean copy as a page: HTML (printable, self-contained), Markdown, or JSON.

Written for the parent who reads it, not for staff: people are named as the
setting names them to families (a holder's display name and role; a login never
appears), dates are written out ("30 November 2026"), no internal level names
appear, and a fact true of many entries (the parent's view on confidentiality
was not asked) is said once, before the chronology, instead of under each entry.
The content is ``services.cleancopy.build``'s; this module only lays it out.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Optional

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
PARENT_VIEW_TEXT = {
    "confidential": "The parent regards this as confidential.",
    "not-confidential": "The parent does not regard this as confidential.",
}
NOT_ASKED = ("Unless an entry says otherwise, the parent was not asked whether they regard it as confidential.")


def long_date(iso: Optional[str]) -> str:
    """'2026-11-30' (or a date-time) as '30 November 2026'; anything else as it is."""
    if not iso:
        return ""
    try:
        d = dt.date.fromisoformat(str(iso)[:10])
    except ValueError:
        return str(iso)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def _count(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _when(e: dict) -> str:
    day = long_date(e["date"])
    return day if e["time"] in ("", "00:00") else f"{day}, {e['time']}"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _para(text: str) -> str:
    parts = [p for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{_e(p).replace(chr(10), '<br>')}</p>" for p in parts if p.strip())


def _notes(e: dict) -> list[str]:
    notes = [PARENT_VIEW_TEXT.get(e["parent_view"], "")]
    if e["parents_informed"]:
        notes.append(f"Parents informed on {long_date(e['parents_informed'])}.")
    elif e["parents_not_informed"]:
        notes.append(f"Parents were not informed at the time: {e['parents_not_informed']}")
    if e["third_parties"]:
        notes.append("Includes information from or about: " + ", ".join(e["third_parties"]) + " (consent given).")
    if e["corrects"]:
        notes.append(f"This entry corrects an earlier entry of {long_date(e['corrects'])}.")
    return [n for n in notes if n]


def _category(e: dict) -> str:
    return e["category"].replace("-", " ")


def _by(e: dict) -> str:
    return f"Recorded by {e['recorded_by']} on {long_date(e['recorded_on'])}."


def _range(data: dict) -> str:
    if not data["from"]:
        return "no entries"
    if data["from"] == data["to"]:
        return long_date(data["from"])
    return f"{long_date(data['from'])} to {long_date(data['to'])}"


def _intro(data: dict) -> str:
    return (f"Entries from {_range(data)}. Prepared on {long_date(data['prepared_on'])} for {data['requester']} "
            f"({data['relationship']}), in answer to the request received on {long_date(data['received'])}.")


def _not_asked(data: dict) -> bool:
    return any(e["parent_view"] == "not-asked" for e in data["entries"])


def _footer(data: dict) -> str:
    return (f"Prepared by {data['prepared_by']} on {long_date(data['prepared_on'])} (request {data['request']}). "
            "This copy holds personal information: keep it safe.")


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
.about { color: #333; }
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


def render_html(data: dict, quiet: bool = False) -> str:
    title = f"Records of {data['child_name']}: clean copy"
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
        f'<p class="meta">{_e(_intro(data))}</p>',
        "</header>",
        "<main>",
        "<h2>The child</h2>",
        '<dl class="child">',
    ]
    for row in data["child"]:
        out.append(f"<dt>{_e(row['field'])}</dt><dd>{_e(row['value'])}</dd>")
    out += ["</dl>", f"<h2>Chronology ({_count(len(data['entries']))})</h2>"]
    if _not_asked(data):
        out.append(f'<p class="about">{_e(NOT_ASKED)}</p>')
    out.append('<ol class="chronology">')
    for e in data["entries"]:
        notes = "".join(f"<li>{_e(n)}</li>" for n in _notes(e))
        out.append(
            "<li>"
            f'<div><span class="when">{_e(_when(e))}</span>'
            f'<span class="category">{_e(_category(e))}</span></div>'
            f'<div class="entry-text">{_para(e["text"])}</div>'
            + (f'<ul class="notes">{notes}</ul>' if notes else "")
            + f'<div class="by">{_e(_by(e))}</div>'
            "</li>"
        )
    if not data["entries"]:
        out.append("<li>No entries.</li>")
    out += ["</ol>", '<section class="removed">', "<h2>Information not included</h2>"]
    if data["removed_total"]:
        out.append(f"<p>{data['removed_total']} "
                   f"{'entry was' if data['removed_total'] == 1 else 'entries were'} not included in this copy:</p>")
        out.append('<table><thead><tr><th>Why</th><th class="n">Entries</th></tr></thead><tbody>')
        for r in data["removed"]:
            out.append(f'<tr><td>{_e(r["ground"])}</td><td class="n">{r["count"]}</td></tr>')
        out.append("</tbody></table>")
    elif not quiet:
        out.append("<p>Nothing was removed from this copy.</p>")
    out += [
        "<p>Records of how the setting handled requests to see this file are not part of this copy.</p>",
        "</section>",
        "</main>",
        f"<footer>{_e(_footer(data))}</footer>",
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


def render_md(data: dict, quiet: bool = False) -> str:
    out = [
        f"# Records of {_md(data['child_name'])}: clean copy",
        "",
        f"**{_md(data['setting'])}**",
        "",
        _md(_intro(data)),
        "",
        "## The child",
        "",
    ]
    out += [f"- **{_md(r['field'])}:** {_md(r['value'])}" for r in data["child"]]
    out += ["", f"## Chronology ({_count(len(data['entries']))})", ""]
    if _not_asked(data):
        out += [_md(NOT_ASKED), ""]
    for e in data["entries"]:
        out.append(f"### {_md(_when(e))} ({_md(_category(e))})")
        out.append("")
        out += [_md(line) for line in e["text"].splitlines()]
        out.append("")
        out += [f"- {_md(n)}" for n in _notes(e)]
        out.append(f"- {_md(_by(e))}")
        out.append("")
    out += ["## Information not included", ""]
    if data["removed_total"]:
        out += [f"{data['removed_total']} {'entry was' if data['removed_total'] == 1 else 'entries were'} "
                "not included in this copy:", "", "| why | entries |", "|---|---:|"]
        out += [f"| {_md(r['ground'])} | {r['count']} |" for r in data["removed"]]
    elif not quiet:
        out.append("Nothing was removed from this copy.")
    out += ["", "Records of how the setting handled requests to see this file are not part of this copy.", "",
            _md(_footer(data)), ""]
    return "\n".join(out)


def render(data: dict, fmt: str, quiet: bool = False) -> bytes:
    """``quiet``: say nothing about removals where none are told (an entry was withheld without telling the
    requester, so "nothing was removed" would be untrue)."""
    if fmt == "html":
        return render_html(data, quiet).encode("utf-8")
    if fmt == "md":
        return render_md(data, quiet).encode("utf-8")
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


__all__ = ["render", "render_html", "render_md", "long_date"]
