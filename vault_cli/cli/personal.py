"""Personal values without the command line: asked on a terminal, written in $EDITOR, or read from a file.

A child's name, an entry's text, a third party, a requester, a reason: given as
arguments, they land in the shell's history file and any local user can read
them in ``/proc/PID/cmdline`` while the command runs. So each command that
takes such values lists them as ``Field``\\ s and ``gather`` fills them in from,
in turn:

- ``--from FILE`` (``-``: stdin): a YAML or JSON mapping whose keys are the
  fields' names (``name``, ``dob``, ``requester``...), for scripts. Checked in
  full before anything is done: an unknown key, a value of the wrong kind or a
  field given both in the file and as an argument is a usage error that names
  the key, never a value;
- ``--edit``: a template in ``$EDITOR``, as ``git commit`` does (every field,
  comments explaining them; an empty file gives up, nothing is recorded);
- on a terminal, a question for each required field that is still missing
  (a long text, such as an entry's, opens the editor template instead). Without
  a terminal nothing is asked: a clear error names ``--from``.

Values given as arguments still work, for compatibility; on a terminal they
bring one warning per process (stderr) that they go to the shell's history,
with a hint naming the safe form. Scripts (no terminal) are not warned.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from vault_cli.errors import IntegrityError, UsageError

_FIELD_KEYS: set[str] = set()  # every command's field names: the only keys an error repeats


@dataclass(frozen=True)
class Field:
    key: str  # its name in a --from file and in the editor template
    option: str  # its flag, e.g. --name
    ask: str  # what it is, as asked on a terminal and explained in the template
    required: bool = False
    personal: bool = True  # a child's or another person's details, or free text
    kind: str = "text"  # text, long (free text: the editor), list (of text), flag, int

    def __post_init__(self) -> None:
        _FIELD_KEYS.add(self.key)


_warned = False


# The safe way to give personal values, as a refusal or warning names it (``safe_form``) where a command has several.
SAFE_FORM = "leave them out to be asked on a terminal, or give them in a file: --from FILE (YAML or JSON; - for stdin)"


def interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()


def present(value: Any) -> bool:
    return value is not None and value is not False and value != [] and value != ()


def warn_argv(options: Sequence[str], safe_form: str) -> None:
    """Once per process and only on a terminal: personal values given as arguments reach shell history."""
    global _warned
    if _warned or not options or not interactive():
        return
    _warned = True
    import shutil
    import textwrap

    from vault_cli.cli.safe_text import safe

    one = len(options) == 1
    message = (f"confide: warning: {', '.join(options)} {'was' if one else 'were'} given as "
               f"{'an argument' if one else 'arguments'}: {'it stays' if one else 'they stay'} in your shell's history, "
               f"and other users of this computer can see {'it' if one else 'them'} while the command runs")
    width = max(40, shutil.get_terminal_size().columns)  # only ever shown on a terminal: wrapped to it
    for line in (message, f"confide: hint: {safe_form}"):
        sys.stderr.write(textwrap.fill(safe(line), width=width, subsequent_indent="  ", break_on_hyphens=False) + "\n")
    sys.stderr.flush()


def from_file_help(fields: Sequence[Field]) -> str:
    return ("For scripts: the fields as a YAML or JSON mapping from FILE ('-': stdin), instead of arguments; keys: "
            + ", ".join(f.key for f in fields) + ".")


def _key_shown(key: object) -> str:
    """A key as an error may name it: only if it is some command's field name ('requester' given to 'child add').
    Anything else, even a word that looks like one (a surname, 'Evans: x', or a typo), is not repeated."""
    return f"'{key}'" if isinstance(key, str) and key in _FIELD_KEYS else ""


def _value(field: Field, value: Any, where: str) -> Any:
    """``value`` from a document, as the field's kind; a usage error naming the key (never the value) if it is not."""
    if value is None:
        return None
    if field.kind == "flag":
        if isinstance(value, bool):
            return value
        raise UsageError(f"'{field.key}' in {where} must be true or false; nothing was changed",
                         f"write {field.key}: true (no quotes)")
    if field.kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UsageError(f"'{field.key}' in {where} must be a whole number; nothing was changed",
                         f"write it in digits, e.g. {field.key}: 1")
    if field.kind == "list":
        items = value if isinstance(value, list) else [value]
        return [_text(field, v, where) for v in items]
    return _text(field, value, where)


def _text(field: Field, value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if field.kind == "list":
        kind, example = "a list of texts", f'{field.key}: ["one", "two"]'
    else:
        kind, example = "text", f'{field.key}: "..."'
    raise UsageError(f"'{field.key}' in {where} must be {kind}; nothing was changed", f"write it in quotes, e.g. {example}")


def load_document(source: str, what: str) -> tuple[dict, str]:
    """The mapping a script gives with --from FILE ('-': stdin), and how errors name it."""
    from vault_cli.cli.editor import is_blank, read_source
    from vault_cli.formats import yamlio

    where = "the document on stdin" if source == "-" else source
    text = read_source(source, what)
    if is_blank(text):
        raise UsageError(f"{where} is empty; nothing was changed", "give the fields as YAML or JSON, e.g. key: value")
    try:
        doc = yamlio.library_load(text, where)
    except IntegrityError as exc:
        raise UsageError(exc.message, "fix it and run the command again; nothing was changed") from None
    if not isinstance(doc, Mapping):
        raise UsageError(f"{where} is not a mapping of keys to values; nothing was changed",
                         "give the fields as YAML (key: value, one a line) or a JSON object")
    return dict(doc), where


def _merge(fields: Sequence[Field], values: dict, doc: Mapping, where: str, taken: set) -> None:
    by_key = {f.key: f for f in fields}
    keys = ", ".join(by_key)
    for key, raw in doc.items():
        field = by_key.get(key) if isinstance(key, str) else None
        if field is None:
            shown = _key_shown(key)
            raise UsageError(f"{where} has {shown}, which is not one of this command's fields; nothing was changed"
                             if shown else f"{where} has a key that is not one of this command's fields (not repeated "
                             "here, in case it is personal); nothing was changed",
                             f"the keys are: {keys}")
        if key in taken:
            raise UsageError(f"'{key}' is given both in {where} and as {field.option}; nothing was changed",
                             "give each value once (in the file, so that it stays out of shell history)")
        values[key] = _value(field, raw, where)


def _ask(field: Field) -> Any:
    import typer

    from vault_cli.cli.safe_text import safe

    if field.kind == "int":
        return typer.prompt(safe(field.ask), type=int, err=True)
    answer = typer.prompt(safe(field.ask), err=True).strip()
    return [answer] if field.kind == "list" else answer


def gather(fields: Sequence[Field], argv: Mapping[str, Any], *, source: Optional[str], what: str, safe_form: str,
           edit: bool = False, given: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Every field's value: from ``argv`` (the command's arguments), ``given`` (read safely already, e.g. ``--text
    -``), ``source`` (--from), the editor template (``edit``), or asked on a terminal; None where none gave it.

    A required field still missing is asked on a terminal, and without one is a usage error naming --from."""
    in_argv = [f for f in fields if present(argv.get(f.key))]
    warn_argv([f.option for f in in_argv if f.personal], safe_form)
    values: dict[str, Any] = {f.key: None for f in fields}
    values.update({f.key: argv[f.key] for f in in_argv})
    values.update({k: v for k, v in (given or {}).items() if present(v)})
    if source is not None:
        doc, where = load_document(source, what)
        _merge(fields, values, doc, where, {k for k in values if present(values[k])})
    missing = [f for f in fields if f.required and not present(values[f.key])]
    if edit or any(f.kind == "long" for f in missing):
        if not edit and not interactive():
            raise _missing(missing, source)
        values = edit_template(fields, values, what)
        missing = [f for f in fields if f.required and not present(values[f.key])]
    if missing:
        if not interactive():
            raise _missing(missing, source)
        for f in missing:
            values[f.key] = _ask(f)
    return values


def _missing(missing: Sequence[Field], source: Optional[str]) -> UsageError:
    opts = ", ".join(f.option for f in missing)
    keys = ", ".join(f.key for f in missing)
    if source is not None:
        return UsageError(f"{opts} missing: neither given nor in the --from document; nothing was changed",
                          f"add {keys} to it")
    text = next((f for f in missing if f.kind == "long"), None)
    stdin = f"give the {text.key} on stdin with {text.option} -, or " if text is not None else "give "
    return UsageError(f"{opts} missing, and there is no terminal to ask on; nothing was changed",
                      f"for scripts: {stdin}{keys} in a file with --from FILE (YAML or JSON; --from - reads stdin)")


# ---------------------------------------------------------------------------
# the editor template, as git commit does


TEXT_MARK = "# ------------------------ the text goes below this line ------------------------"


def _yaml_value(value: Any) -> str:
    if value is None or value == []:
        return ""
    return json.dumps(value, ensure_ascii=False)  # a JSON string or list is valid YAML flow


def template(fields: Sequence[Field], values: Mapping[str, Any], what: str) -> str:
    lines = [f"# {what}. Fill in the fields and save; lines starting with # are ignored.",
             "# Leave the file empty to give up: nothing is recorded. Nothing here reaches the command line."]
    long_field = next((f for f in fields if f.kind == "long"), None)
    for f in fields:
        if f is long_field:
            continue
        need = " (required)" if f.required else ""
        kind = {"flag": " (true or false)", "list": " (a list: [\"one\", \"two\"])", "int": " (a number)"}.get(f.kind, "")
        lines.append(f"# {f.ask}{need}{kind}")
        lines.append(f"{f.key}: {_yaml_value(values.get(f.key))}".rstrip())
    if long_field is not None:
        lines.append(TEXT_MARK)
        lines.append(f"# {long_field.ask} (required): everything below the line")
        if values.get(long_field.key):
            lines.append(values[long_field.key])
    return "\n".join(lines) + "\n"


def parse_template(fields: Sequence[Field], text: str) -> dict[str, Any]:
    """The fields written in the template: YAML above the text line, the free text below it."""
    from vault_cli.formats import yamlio

    long_field = next((f for f in fields if f.kind == "long"), None)
    head, sep, body = text.partition(TEXT_MARK + "\n") if long_field is not None else (text, "", "")
    try:
        doc = yamlio.library_load(head, "the template") if head.strip() else {}
    except IntegrityError as exc:
        raise UsageError(exc.message, "") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise UsageError("the fields above the text are not 'key: value' lines", "")
    values: dict[str, Any] = {f.key: None for f in fields}
    _merge([f for f in fields if f is not long_field], values, doc, "the template", set())
    if long_field is not None:
        kept = [line for line in body.splitlines() if not line.startswith("#")]
        values[long_field.key] = "\n".join(kept).strip("\n") or None
    return values


def edit_template(fields: Sequence[Field], values: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The template in $EDITOR (a private folder in memory) until every required field is filled; an empty file
    gives up (a usage error: nothing is recorded)."""
    from vault_cli.cli import editor

    editor.require_terminal("give the fields with --from FILE (YAML or JSON; --from - reads stdin)")
    text = template(fields, values, what)
    while True:
        text = editor.edit_text(text, "confide.yaml")
        if editor.is_blank(text):
            raise UsageError("the template was left empty; nothing was recorded", "run the command again to start over")
        try:
            current = parse_template(fields, text)
            missing = [f.key for f in fields if f.required and not present(current[f.key])]
            if not missing:
                return current
            error = "still missing: " + ", ".join(missing)
        except UsageError as exc:
            error = exc.message
        kept = [line for line in text.splitlines() if not line.startswith(("# ERROR: ", "# Fix it and save again"))]
        text = f"# ERROR: {error}\n# Fix it and save again, or empty the file to give up.\n" + "\n".join(kept) + "\n"
