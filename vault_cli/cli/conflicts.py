"""A sync's conflict at the command line: the notice ``show`` gives, and ``confide resolve``.

When a sync kept both versions of a profile (``services.merge``), ``show`` says
so in plain words and, to whoever reads the profile, shows how the versions
differ; ``confide resolve RECORD`` chooses one (``--take N``) or writes the
profile anew (``--edit`` in the editor, ``--from FILE`` for scripts), in one
signed commit (``services.conflicts``). Nothing personal is taken from argv:
an edited profile comes from the editor's private folder in memory or a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from vault_cli.cli.common import IdentityOpt, VaultOpt, _print_warnings, _session, app, note
from vault_cli.cli.render import when
from vault_cli.cli.safe_text import safe
from vault_cli.errors import IntegrityError, UsageError
from vault_cli.formats import yamlio

if TYPE_CHECKING:
    from vault_cli.model.record import Record


def _say(value) -> str:
    if value in (None, [], {}):
        return "(empty)"
    if isinstance(value, (list, dict)):
        return safe(yamlio.dump(value).strip().replace("\n", "; "))
    return safe(str(value))


def conflict_text(data: Record) -> str:
    """The notice ``show`` prints for a record with an unresolved conflict (plain text; nothing for others)."""
    conflict = data.conflict
    if not conflict:
        return ""
    rid = data.record
    lines = [f"CONFLICT: the profile of {rid} was changed on two machines, and a sync kept both versions.",
             "Until someone chooses, the profile shown is the one both machines last agreed on."]
    versions = conflict.versions
    if versions is None:
        lines.append("You cannot read the profile, so the versions are not shown: the key person or a manager chooses.")
        return "\n".join(lines) + "\n\n"
    stored = [v.profile.to_json() for v in versions]
    fields = sorted({f for p in stored for f in p})
    differ = [f for f in fields if len({repr(p.get(f)) for p in stored}) > 1]
    lines.append("The versions differ in: " + (", ".join(f.replace("_", " ") for f in differ) or "nothing but who saved them"))
    for v, p in zip(versions, stored, strict=True):
        lines.append(f"  version {v.version}, saved by {safe(v.updated_by)} at {when(v.updated_at)}:")
        lines.extend(f"    {f.replace('_', ' ')}: {_say(p.get(f))}" for f in differ)
    numbers = ", ".join(str(v.version) for v in versions[:-1]) + f" or {versions[-1].version}"
    lines.append(f"Choose one with 'confide resolve {rid} --take N' (N is {numbers}), or write the profile anew "
                 f"with 'confide resolve {rid} --edit'.")
    return "\n".join(lines) + "\n\n"


HEADER = """\
# Resolving the profile conflict of {record}: this is version {start}, to edit
# into the profile that stands. Save and close to seal it and end the conflict;
# an empty file changes nothing. The other versions: confide show {record}
"""


def _edit(doc: dict, record_id: str, start: int) -> Optional[str]:
    """The editor on ``doc`` in a private folder in memory (``cli.editor``); the text saved, or None if blank."""
    from vault_cli.cli import editor

    editor.require_terminal(f"confide resolve {record_id} --from FILE")
    text = editor.edit_text(HEADER.format(record=record_id, start=start) + yamlio.dump(doc), "profile.yaml")
    return None if editor.is_blank(text) else text


@app.command()
def resolve(
    record: str = typer.Argument(..., metavar="RECORD", help="The record id, e.g. c-7f3k9m2q"),
    take: Optional[int] = typer.Option(None, "--take", metavar="N", help="Keep version N of the profile, as 'confide show' numbers them."),
    edit: bool = typer.Option(False, "--edit", help="Write the profile anew in $EDITOR, starting from version --start."),
    start: int = typer.Option(1, "--start", metavar="N", help="The version --edit starts from (default 1)."),
    from_file: Optional[str] = typer.Option(None, "--from", metavar="FILE", help="The resolved profile as YAML or JSON, from FILE ('-': stdin), for scripts."),
    vault: Optional[str] = VaultOpt,
    identity: Optional[str] = IdentityOpt,
) -> None:
    """End a sync's conflict in a profile: keep one version, or write it anew; one signed commit."""
    from vault_cli.services import conflicts

    if sum((take is not None, edit, from_file is not None)) != 1:
        raise UsageError("say how to resolve: one of --take N, --edit or --from FILE",
                         f"see the versions with 'confide show {record}'")
    session = _session(vault, identity)
    if take is not None:
        result = conflicts.resolve(session, record, take=take)
        note(f"the profile of {record} is version {take} now; the conflict is resolved")
        _print_warnings(result)
        return
    if from_file is not None:
        from vault_cli.cli import editor

        text: Optional[str] = editor.read_source(from_file, "the profile")
        if editor.is_blank(text or ""):
            raise UsageError(f"the profile {'on stdin' if from_file == '-' else 'in ' + from_file} is empty; nothing "
                             "was changed", "give the whole profile as YAML or JSON (the fields 'confide show --json' "
                             "shows; schemas/profile.schema.json)")
    else:
        text = _edit(conflicts.versions_for_editing(session, record, start), record, start)
    if text is None:
        note("the file was empty; nothing was changed, and the conflict stands")
        return
    try:
        doc = yamlio.load(text, "the resolved profile")
    except IntegrityError as exc:
        raise UsageError(exc.message, "nothing was changed; fix it and run 'confide resolve' again") from None
    result = conflicts.resolve(session, record, edited=doc)
    note(f"the profile of {record} is the one you wrote now; the conflict is resolved")
    _print_warnings(result)
