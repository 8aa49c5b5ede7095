"""Typed domain errors and the exit codes that never move.

Every failure the library can foresee is a ``ConfideError`` carrying a message,
hints that say what fixes it, and an ``ExitCode``. The CLI has one handler that
prints them as ``confide: error: ...`` and ``confide: hint: ...`` on stderr.
Messages must never contain a secret or any of a child's data: they name files,
lines, ids and fields, never contents.

The library does not know the command line's flags. Where a message is about a
value the user gave, it names that value as ``{0}``, ``{1}``... and the error
carries ``fields``: what each one is, in the setting's words ("date of birth").
``message`` and ``hints`` read with those words; the command line renders the
same sentences with the flag that gives each field (``vault_cli/cli/flags.py``),
so ``{0} needs a date as YYYY-MM-DD`` reaches a user as ``--dob needs a date as
YYYY-MM-DD``.

The numbers in ``ExitCode`` are a public contract documented in the README.
Add new codes at the end; never renumber or reuse one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence


class ExitCode(enum.IntEnum):
    OK = 0  # success (also: nothing to do)
    FAILURE = 1  # an unexpected internal error: a bug in confide
    USAGE = 2  # the command line is wrong: unknown option, bad value, malformed date
    NOT_FOUND = 3  # no such vault, record, entry or holder
    IDENTITY = 4  # identity missing, unreadable, too open, malformed, or not an active holder's
    DENIED = 5  # the acting holder's role or keys do not allow it
    INTEGRITY = 6  # a vault file is malformed, breaks its schema, or holds an altered or misplaced block
    VAULT_STATE = 7  # the vault cannot be written now: not a git repository, uncommitted changes, busy, exists
    EXTERNAL = 8  # an outside tool failed: git, the editor, the file system
    FINDINGS = 9  # the history does not verify: verify lists the findings; every other command refuses to act


class ConfideError(Exception):
    """Base of every foreseen failure. ``str(e)`` is the one-line message.

    ``fields``: what the message's ``{0}``, ``{1}``... name (see the module's docstring).
    """

    code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *hints: str, fields: Sequence[str] = ()) -> None:
        self.template = message
        self.hint_templates = [h for h in hints if h]
        self.fields = tuple(fields)
        self.message = self._fill(message, {})
        self.hints = [self._fill(h, {}) for h in self.hint_templates]
        super().__init__(self.message)

    def render(self, names: Mapping[str, str]) -> tuple[str, list[str]]:
        """The message and hints with each field called what ``names`` calls it (field -> name; the command
        line's flags), else by its own words."""
        if not self.fields:
            return self.message, list(self.hints)
        return self._fill(self.template, names), [self._fill(h, names) for h in self.hint_templates]

    def _fill(self, text: str, names: Mapping[str, str]) -> str:
        for i, f in enumerate(self.fields):
            text = text.replace("{" + str(i) + "}", names.get(f, f))
        return text

    def __reduce__(self) -> tuple[Callable[..., ConfideError], tuple[object, ...]]:  # survive the trip back from a worker process
        if not self.fields:
            return (_rebuild, (self.__class__, self.message, tuple(self.hints), ()))
        return (_rebuild, (self.__class__, self.template, tuple(self.hint_templates), self.fields))


def _rebuild(cls: type[ConfideError], template: str, hints: tuple[str, ...], fields: tuple[str, ...]) -> ConfideError:
    return cls(template, *hints, fields=fields)


class UsageError(ConfideError):
    code = ExitCode.USAGE


class NotFound(ConfideError):
    code = ExitCode.NOT_FOUND


class IdentityProblem(ConfideError):
    code = ExitCode.IDENTITY


class Denied(ConfideError):
    code = ExitCode.DENIED


class IntegrityError(ConfideError):
    code = ExitCode.INTEGRITY


class VaultStateError(ConfideError):
    code = ExitCode.VAULT_STATE


class ExternalError(ConfideError):
    code = ExitCode.EXTERNAL


class FindingsError(ConfideError):
    """History does not verify: a command refuses to act on it, verify and restore report it."""

    code = ExitCode.FINDINGS


EXIT_CODE_DOCS: dict[ExitCode, str] = {
    ExitCode.OK: "success, or nothing needed doing",
    ExitCode.FAILURE: "an unexpected internal error (a bug: please report it)",
    ExitCode.USAGE: "the command line is wrong: unknown option, bad value, malformed date, unknown level, category or role",
    ExitCode.NOT_FOUND: "no such vault, record, entry or holder",
    ExitCode.IDENTITY: "the identity is missing, unreadable, readable by others, malformed, or not an active holder's",
    ExitCode.DENIED: "the acting holder's role or keys do not allow this",
    ExitCode.INTEGRITY: "a vault file is malformed, breaks its schema, or holds an altered or misplaced block",
    ExitCode.VAULT_STATE: "the vault cannot be written now: not a git repository, uncommitted changes, busy, or already exists",
    ExitCode.EXTERNAL: "an outside tool failed: git, the editor, the file system",
    ExitCode.FINDINGS: "the vault's history does not verify: verify lists each finding; every other command refuses to act on it",
}
