"""``confide import``: a setting's children and their entries from a spreadsheet, in one commit.

The file is CSV with a header row, or JSON lines (one object per line, the
same names); README, "confide import", describes the columns. Rows with the
same ``child`` reference belong to one child: its first row gives the child's
profile (``name``, and ``dob``, ``room``, ``key_person`` if known), and any row
with ``text`` is also one entry. The reference ties rows together and is
stored nowhere.

Everything is checked before anything is written, by the rules ``child add``
and ``add`` apply (``records.check_entry``, ``records.check_key_person``'s
rule, the dates of ``policy.date_problems``, the schemas), and a refusal names
every wrong row by its line and column, never by what it holds: the file is a
child's data in the clear. The records are then made exactly as ``child add``
and ``add`` make them (``records.new_record``, ``records.seal_entry``), forked
over the cores, and committed together, signed, in one commit through the
write frame. Nothing here reads the file or prints: the command line passes
its bytes.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from vault_cli.adapters import parallel
from vault_cli.errors import ConfideError, UsageError, VaultStateError
from vault_cli.model import ids, policy, trail
from vault_cli.model.settings import PROCEDURE_CATEGORIES
from vault_cli.services import records
from vault_cli.services.vault import Session
from vault_cli.services.writing import check_input, warnings_for_vault, writing

CHILD_COLUMNS = ("name", "dob", "room", "key_person")
ENTRY_COLUMNS = ("at", "level", "category", "text", "parent_view", "parents_informed", "parents_not_informed",
                 "third_parties")
COLUMNS = ("child", *CHILD_COLUMNS, *ENTRY_COLUMNS)
ENTRY_NEEDS = ("at", "level", "category", "text")  # an entry's row must give these
FORMATS = ("csv", "jsonl")
SEPARATOR = ";"  # between third parties in one CSV cell
MAX_SHOWN = 20  # problems listed in a refusal (the count says how many more)

# the words the library's errors use for a field -> the column that gives it
FIELD_COLUMNS = {
    "child's name": "name", "date of birth": "dob", "entry text": "text", "parent view": "parent_view",
    records.INFORMED: "parents_informed", records.NOT_INFORMED: "parents_not_informed",
    "third party": "third_parties", policy.WHEN: "at", "level": "level", "category": "category",
}


@dataclass
class Child:
    line: int  # the line of its first row
    profile: dict  # name, dob, room: as child add takes them
    key_person: Optional[str]
    values: dict  # the child columns of its first row, to compare later rows with
    entries: list = field(default_factory=list)  # (line, records.check_entry's NewEntry)


@dataclass
class ImportResult:
    commit: str
    children: list  # (line of the child's first row, record id), in the file's order
    entries: int
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"commit": self.commit, "entries": self.entries,
                "records": [{"line": line, "record": rid, "entries": n} for line, rid, n in self.children],
                "warnings": list(self.warnings)}


class Problems:
    """What is wrong with the file, by line and column: never what a cell holds."""

    def __init__(self) -> None:
        self.items: list = []  # (line, sentence)

    def add(self, line: int, sentence: str) -> None:
        self.items.append((line, sentence))

    def add_error(self, line: int, exc: ConfideError) -> None:
        message, _hints = exc.render({k: f"column {v}" for k, v in FIELD_COLUMNS.items()})
        self.add(line, message)

    def raise_any(self) -> None:
        if not self.items:
            return
        items = sorted(self.items, key=lambda x: x[0])
        lines = [f"line {n}: {s}" for n, s in items[:MAX_SHOWN]]
        if len(items) > MAX_SHOWN:
            lines.append(f"and {len(items) - MAX_SHOWN} more")
        message = lines[0] if len(items) == 1 else f"{len(items)} problems in the file:\n  " + "\n  ".join(lines)
        raise UsageError(
            message,
            "correct those rows and import the file again; nothing was written (the columns are described in "
            "the README, under 'confide import')",
        )


# ---------------------------------------------------------------------------
# Reading rows: (line, {column: value}) from CSV or JSON lines


def _text(data: bytes, problems: Problems) -> Optional[str]:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(data.count(b"\n", 0, exc.start) + 1, "is not UTF-8 text (save the file as CSV UTF-8)")
        return None


def guess_format(data: bytes) -> str:
    """JSON lines when the first thing in the file is '{', CSV otherwise."""
    return "jsonl" if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


def _cell(value: str) -> Optional[str]:
    value = value.strip()
    return value or None


def csv_rows(text: str, problems: Problems) -> list:
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))  # a long text is the schema's to refuse, by name
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list = []
    try:
        header = next(reader, None)
        if header is None:
            problems.add(1, "the file is empty: it needs a header row naming its columns")
            return rows
        columns = [h.strip() for h in header]
        for i, col in enumerate(columns, 1):
            if col not in COLUMNS:
                problems.add(1, f"header column {i} is not one of confide's columns ({', '.join(COLUMNS)})")
            elif columns.index(col) != i - 1:
                problems.add(1, f"header column {i} repeats column {col}")
        _check_header(set(columns), problems)
        if problems.items:
            return rows
        last = reader.line_num
        for cells in reader:
            line, last = last + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                problems.add(line, f"has {len(cells)} values where the header has {len(columns)} columns")
                continue
            row: dict[str, Any] = {col: _cell(c) for col, c in zip(columns, cells, strict=True)}
            parties = row.get("third_parties")
            if parties is not None:
                row["third_parties"] = parties.split(SEPARATOR)
            rows.append((line, row))
    except csv.Error:
        problems.add(reader.line_num or 1, "is not well-formed CSV (a quote left open?)")
    return rows


def _check_header(columns: set, problems: Problems) -> None:
    for col in ("child", "name"):
        if col not in columns:
            problems.add(1, f"the header has no column {col}")
    if columns & set(ENTRY_COLUMNS):
        for col in ENTRY_NEEDS:
            if col not in columns:
                problems.add(1, f"the header has entry columns but no column {col}")


def jsonl_rows(text: str, problems: Problems) -> list:
    rows: list = []
    for line, raw in enumerate(text.split("\n"), 1):  # not splitlines(): only "\n" ends a line here
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            problems.add(line, "is not a JSON object on one line")
            continue
        if not isinstance(obj, dict):
            problems.add(line, "is not a JSON object on one line")
            continue
        if any(k not in COLUMNS for k in obj):
            problems.add(line, f"has a name that is not one of confide's columns ({', '.join(COLUMNS)})")
            continue
        row: dict[str, Any] = {}
        for k, v in obj.items():
            if k == "third_parties" and v is not None:
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    problems.add(line, "third_parties must be a list of text")
                    break
                row[k] = v or None
            elif v is None:
                row[k] = None
            elif isinstance(v, str):
                row[k] = (v if v.strip() else None) if k == "text" else _cell(v)  # the text stays as written
            else:
                problems.add(line, f"{k} must be text (in quotes) or null")
                break
        else:
            rows.append((line, row))
    return rows


# ---------------------------------------------------------------------------
# Checking every row by the rules of 'child add' and 'add'


def check_rows(session: Session, rows: list, problems: Problems) -> list[Child]:
    settings = session.settings
    now = session.clock.now()
    children: dict[str, Child] = {}
    for line, row in rows:
        ref = row.get("child")
        if ref is None:
            problems.add(line, "column child is empty: every row names the child it belongs to")
            continue
        child = children.get(ref)
        if child is None:  # its first row; later rows are checked against it even when it is wrong
            child = children[ref] = _new_child(session, line, row, problems)
        else:
            for col in CHILD_COLUMNS:
                if row.get(col) is not None and row[col] != child.values.get(col):
                    problems.add(line, f"column {col} differs from this child's first row (line {child.line}); "
                                 "leave it empty on later rows or repeat it exactly")
        if not any(row.get(col) for col in ENTRY_COLUMNS):
            continue
        missing = [col for col in ENTRY_NEEDS if row.get(col) is None]
        if missing:
            problems.add(line, f"gives an entry without {', '.join('column ' + m for m in missing)}")
            continue
        # values are checked here without being repeated in the refusal; the shared check names fields only
        if row["level"] not in settings.levels:
            problems.add(line, f"column level is not one of {', '.join(settings.levels)}")
            continue
        if row["category"] in PROCEDURE_CATEGORIES:
            problems.add(line, "column category is a procedure's category, written only by confide's own commands")
            continue
        if row["category"] not in settings.categories:
            problems.add(line, "column category is not one of the categories in confide.yaml")
            continue
        if (row.get("parent_view") or "not-asked") not in records.PARENT_VIEWS:
            problems.add(line, f"column parent_view is not one of {', '.join(records.PARENT_VIEWS)}")
            continue
        try:
            fields = records.check_entry(
                settings, level=row["level"], category=row["category"], text=row["text"],
                parent_view=row.get("parent_view") or "not-asked", parents_informed=row.get("parents_informed"),
                parents_not_informed=row.get("parents_not_informed"), third_parties=row.get("third_parties") or (),
                at=row["at"], now=now)
            probe = {"confide": "entry/1", "record": "c-00000000", "block": "e-00000000000000", "author": "probe",
                     "recorded_at": now.isoformat(), "corrects": None, **fields.to_json()}
            check_input("entry", probe, "the entry", fields=())
        except UsageError as exc:
            problems.add_error(line, exc)
            continue
        child.entries.append((line, fields))
    return list(children.values())


def _new_child(session: Session, line: int, row: dict, problems: Problems) -> Child:
    """The child a first row gives (reporting what is wrong with it: the file is then refused)."""
    from vault_cli.adapters import timeutil

    values = {col: row.get(col) for col in CHILD_COLUMNS}
    child = Child(line, {"name": values["name"], "dob": None, "room": values["room"]}, values["key_person"], values)
    if values["name"] is None:
        problems.add(line, "is this child's first row and gives no name (column name)")
        return child
    try:
        if values["dob"] is not None:
            child.profile["dob"] = timeutil.parse_date(values["dob"], "date of birth")
        profile = {k: v for k, v in {"name": values["name"], "room": values["room"]}.items() if v is not None}
        check_input("profile", profile, "the child's profile", definition="profile")
    except UsageError as exc:
        problems.add_error(line, exc)
    if values["key_person"] is not None:
        _may_be_key_person(session, values["key_person"], line, problems)
    return child


def _may_be_key_person(session: Session, name: str, line: int, problems: Problems) -> bool:
    holder = session.holders.find(name)
    if holder is None or not holder.active:
        problems.add(line, "column key_person names no active holder (see 'confide holder list')")
        return False
    if not policy.may_be_key_person(session.settings, holder):
        problems.add(line, f"column key_person names a {holder.role}, who cannot be a key person")
        return False
    return True


def read_plan(session: Session, data: bytes, fmt: Optional[str] = None) -> list[Child]:
    """The children and entries of a file, every row checked; a usage error listing each wrong row."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'", "give {0} csv or {0} jsonl", fields=("file format",))
    problems = Problems()
    text = _text(data, problems)
    problems.raise_any()
    assert text is not None
    rows = (jsonl_rows if (fmt or guess_format(data)) == "jsonl" else csv_rows)(text, problems)
    problems.raise_any()
    children = check_rows(session, rows, problems)
    if not children and not problems.items:
        problems.add(1, "the file holds no children")
    problems.raise_any()
    return children


# ---------------------------------------------------------------------------
# Writing: one commit


def check_duplicates(session: Session, children: list[Child], *, force: bool = False) -> list[str]:
    """As ``child add``: a child of the file with the same name and date of birth (both none counts as the
    same) as a child already recorded that the caller can read, or as an earlier child of the file, is refused,
    by line and record id, never by name, unless ``force``; then the warnings to give (a second child added,
    and how many records could not be compared because their profile is sealed to the caller)."""
    from vault_cli.model import names
    from vault_cli.services import children as children_svc

    rows = children_svc.names_and_births(session)
    recorded: dict = {}
    for r in rows:
        if r["readable"] and r.get("name"):
            recorded.setdefault((names.fold(r["name"].strip()), r.get("dob")), []).append(r["record"])
    found: list = []  # (line, what it repeats)
    first_line: dict = {}
    for child in children:
        name = child.profile.get("name")
        if not name:
            continue
        key = (names.fold(name.strip()), child.profile.get("dob"))
        if key in recorded:
            found.append((child.line, f"the same name and date of birth as {', '.join(recorded[key])}, already recorded"))
        if key in first_line:
            found.append((child.line, f"the same name and date of birth as the child on line {first_line[key]}"))
        first_line.setdefault(key, child.line)
    if found and not force:
        lines = [f"line {n}: {s}" for n, s in found[:MAX_SHOWN]]
        if len(found) > MAX_SHOWN:
            lines.append(f"and {len(found) - MAX_SHOWN} more")
        lead = "a child in the file is" if len(found) == 1 else f"{len(found)} children in the file are"
        raise VaultStateError(
            f"{lead} already recorded or given twice:\n  " + "\n  ".join(lines),
            "check with 'confide show RECORD' and remove those rows; if they are other children, import the file "
            "again with {0}; nothing was written",
            fields=("add a second child",),
        )
    warnings = [f"line {n}: added a second child with {s}" for n, s in found]
    unchecked = sum(1 for r in rows if not r["readable"])
    if unchecked:
        warnings.append(f"{unchecked} records whose profile you cannot read were not checked for the same children")
    return warnings


def import_records(session: Session, data: bytes, *, fmt: Optional[str] = None, force: bool = False,
                   progress=None) -> ImportResult:
    session.require_writer()  # before the file is read: a role that may not write learns that first
    children = read_plan(session, data, fmt)
    duplicate_warnings = check_duplicates(session, children, force=force)
    with writing(session) as (tx, actor):
        problems = Problems()  # holders may have changed while this command waited for the lock
        for child in children:
            if child.key_person is not None:
                _may_be_key_person(session, child.key_person, child.line, problems)
        problems.raise_any()
        record_ids = records.new_record_ids(session, len(children))
        entry_ids = _entry_ids(sum(len(c.entries) for c in children))
        now = session.clock.now_iso()
        jobs, start = [], 0
        for child, rid in zip(children, record_ids, strict=True):
            jobs.append((child, rid, entry_ids[start:start + len(child.entries)]))
            start += len(child.entries)

        def build(job) -> tuple[dict, list]:
            child, rid, eids = job
            env = records.new_record(session, actor, rid, child.profile, child.key_person)
            for eid, (_line, fields) in zip(eids, child.entries, strict=True):
                records.seal_entry(env, eid, fields, author=actor.name, now=now)
            return env.files(), sorted(env.rekey)

        built = list(parallel.map_ordered(build, jobs, progress=progress, processes=session.config.workers))
        if len(children) >= parallel.THRESHOLD:
            session.vault.git.store_blobs_later([d for files, _ in built for d in files.values()])
        rekey: set = set()
        for files, levels in built:
            for path, content in files.items():
                tx.write(path, content)
            rekey.update(levels)
        n_entries = len(entry_ids)
        commit = tx.commit(
            trail.message(f"import {len(children)} records with {n_entries} entries", "record.import", actor.name,
                          extra={"Confide-Records": str(len(children)), "Confide-Entries": str(n_entries)}),
            actor.name,
        )
    warnings = duplicate_warnings + warnings_for_vault(session)
    for level in sorted(rekey, key=session.settings.levels.index):
        warnings.append(f"you do not read the {level} level, so the new records' {level} keys wait for a new "
                        "generation, which the first holder who reads it makes at their next write")
    return ImportResult(commit, [(c.line, rid, len(c.entries)) for c, rid in zip(children, record_ids, strict=True)],
                        len(entry_ids), warnings)


def _entry_ids(n: int) -> list[str]:
    """``n`` distinct entry ids in ascending order, so that a record's entries keep the file's order."""
    out: set = set()
    while len(out) < n:
        out.add(ids.new_entry_id())
    return sorted(out)


__all__ = ["COLUMNS", "FORMATS", "ImportResult", "import_records", "read_plan", "guess_format"]
