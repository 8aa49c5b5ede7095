"""YAML in and out: the one reader and writer of every YAML file confide reads or writes.

ruamel.yaml is the YAML implementation: its safe mode with the C parser and
emitter (no arbitrary object construction). Multi-line strings (armored age
blocks) are written as literal blocks so files diff well.

``load`` and ``dump`` first ask ``canonical``, the hand-written reader and
writer for confide's own files in their canonical form (it says why it exists
and what it saves); it answers only where its answer is exactly ruamel.yaml's,
and declines everything else, which ruamel.yaml then reads or writes.
``library_load`` and ``library_dump`` are ruamel.yaml alone (the tests'
reference and the benchmarks' peer).

Reading refuses, at once and with a clear error, what confide never writes and
an attacker could use against a reader: anchors and aliases (a few hundred
bytes of nested aliases expand to gigabytes: "billion laughs"), tags, duplicate
keys, more than one document, nesting deeper than ``MAX_DEPTH`` and files
larger than ``MAX_BYTES`` (``canonical`` reads none of these constructs).
ruamel.yaml first scans a document as a stream of parser events, which costs
no more than the document's size, and only then builds it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Optional

from vault_cli.errors import IntegrityError
from vault_cli.formats import canonical

# ruamel.yaml is imported on first use, not at start-up (~15 ms): a command that reads only confide's own
# files (heads, entries, holders.yaml) through ``canonical`` never needs it.
_ruamel: dict = {}


def _yaml():
    if not _ruamel:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError
        from ruamel.yaml.representer import SafeRepresenter

        class _Representer(SafeRepresenter):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.sort_base_mapping_type_on_output = False  # keep the order confide writes

        def _str(rep: SafeRepresenter, data: str):
            if "\n" in data:
                return rep.represent_scalar("tag:yaml.org,2002:str", data, style="|")
            return rep.represent_scalar("tag:yaml.org,2002:str", data)

        _Representer.add_representer(str, _str)
        loader = YAML(typ="safe", pure=False)
        dumper = YAML(typ="safe", pure=False)
        dumper.Representer = _Representer
        dumper.default_flow_style = False
        dumper.width = 4096
        dumper.allow_unicode = True
        _ruamel.update(YAML=YAML, YAMLError=YAMLError, loader=loader, dumper=dumper)
    return _ruamel


MAX_BYTES = 64 * 1024 * 1024  # a record's entries after 25 years are a few MB; nothing confide reads comes near
MAX_DEPTH = 32  # confide's files nest at most 4 deep (canonical reads at most canonical.MAX_DEPTH)


def _refuse(source: str, what: str, where: str = "") -> IntegrityError:
    return IntegrityError(
        f"{source}{where} holds {what}, which confide never writes; it was not read",
        "if it was edited by hand, restore it: git checkout -- " + source + "; then run 'confide verify'",
    )


def _scan(y: dict, text: Any, source: str) -> None:
    """Refuse anchors, aliases, tags, extra documents and deep nesting before anything is built."""
    from ruamel.yaml import events as ev

    depth = documents = 0
    for event in y["loader"].parse(text):
        kind = type(event)
        mark = getattr(event, "start_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        if kind is ev.AliasEvent:
            raise _refuse(source, "a YAML alias", where)
        if getattr(event, "anchor", None) is not None:
            raise _refuse(source, "a YAML anchor", where)
        if getattr(event, "tag", None) is not None:
            raise _refuse(source, "a YAML tag", where)
        if kind in (ev.MappingStartEvent, ev.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(source, f"nesting deeper than {MAX_DEPTH} levels", where)
        elif kind in (ev.MappingEndEvent, ev.SequenceEndEvent):
            depth -= 1
        elif kind is ev.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _refuse(source, "more than one YAML document", where)


def load(text: str | bytes, source: str) -> Any:
    """Parse YAML safely. A syntax error names the file and line, never the content."""
    if len(text) > MAX_BYTES:
        raise IntegrityError(f"{source} is larger than {MAX_BYTES // (1024 * 1024)} MB, far beyond any file confide writes; "
                             "it was not read", "restore it from git: git checkout -- " + source)
    value = canonical.load(text)
    if value is not None:
        return value
    return library_load(text, source)


def library_load(text: str | bytes, source: str) -> Any:
    """``load`` by ruamel.yaml alone (no ``canonical``, no size limit)."""
    y = _yaml()
    try:
        _scan(y, text, source)
        return y["loader"].load(text)
    except y["YAMLError"] as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        if type(exc).__name__ == "DuplicateKeyError":
            raise _refuse(source, "a key given twice", where) from None
        raise IntegrityError(
            f"{source}{where} is not valid YAML",
            "if it was edited by hand, restore it: git checkout -- " + source,
        ) from None
    except (ValueError, TypeError, OverflowError):
        # The syntax is fine but a value cannot be built: an impossible date such as
        # 2022-02-30, or a tag like '!!int abc'. Never quote the value itself.
        raise IntegrityError(
            f"{source} holds a value that cannot be read: an impossible date (e.g. 2022-02-30), time or number",
            "if it was edited by hand, restore it: git checkout -- " + source,
        ) from None


_MEMO: dict = {}
_MEMO_MAX_BYTES = 65536
_KEPT: dict = {}  # {"folder": Path}: where parses of files 'canonical' declines are kept between commands
_KEPT_MAX_FILES = 8


def keep_parses_in(folder: Optional[Path]) -> None:
    """Keep, between commands, the parse of small files ``canonical`` declines (confide.yaml: its comments and
    ``[a, b]`` lists), as JSON named by the SHA-256 of their bytes, in ``folder`` (the clone's private
    ``.git/confide/parsed``). Reading confide.yaml would otherwise import ruamel.yaml in every command: ~13 ms
    of ~220 ms (``python -X importtime``; ``benchmarks/compare.py``, add: 1.08x before it, measured side by side).

    The folder is as trusted as the clone's trust checkpoint beside it (anyone who can write there can move
    that too). Only a value that JSON gives back exactly is kept (no dates), so a kept parse is the parse; the
    name also depends on the reader (``_kept_name``), so an upgrade never reads an older reader's parse."""
    if folder is None:
        _KEPT.pop("folder", None)
    else:
        _KEPT["folder"] = folder


def _kept_name(text: bytes) -> Optional[Path]:
    """The file a parse of ``text`` is kept in: named by the bytes and by the reader that parsed them (confide's
    version and these modules' files), so a parse kept before an upgrade that reads differently is never used."""
    folder = _KEPT.get("folder")
    if folder is None:
        return None
    import hashlib
    import os

    from vault_cli import __version__

    reader = _KEPT.get("reader")
    if reader is None:
        stamps = []
        for module in (__file__, canonical.__file__):
            try:
                stamps.append(f"{os.stat(module).st_mtime_ns}:{os.stat(module).st_size}")
            except OSError:
                stamps.append("?")
        reader = _KEPT["reader"] = f"{__version__}|{'|'.join(stamps)}|".encode()
    return folder / (hashlib.sha256(reader + text).hexdigest() + ".json")


def _recall(text: bytes) -> Any:
    path = _kept_name(text)
    if path is None:
        return None
    import json

    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _keep(text: bytes, value: Any) -> None:
    path = _kept_name(text)
    if path is None or not isinstance(value, dict):
        return
    import json
    import os

    try:
        data = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):  # a date, a float JSON cannot give back: not kept
        return
    if json.loads(data) != value:
        return
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        temp.write_text(data, encoding="utf-8")
        os.replace(temp, path)
        kept = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-_KEPT_MAX_FILES]:
            old.unlink(missing_ok=True)
    except OSError:  # read-only media, a full disk: the parse is only not kept
        pass


def load_cached(text: bytes, source: str) -> Any:
    """``load`` for small files a command reads several times (confide.yaml, holders.yaml).

    A write parses them when the vault opens, again under the lock, and again to
    decide how to sign; history walks meet the same versions commit after commit.
    Parsed once per distinct content; every caller gets its own deep copy, so
    nothing it changes leaks to the next.
    """
    if not isinstance(text, bytes) or len(text) > _MEMO_MAX_BYTES:
        return load(text, source)
    hit = _MEMO.get(text)
    if hit is None:
        hit = _recall(text)
        if hit is None:
            hit = load(text, source)
            if not isinstance(canonical.load(text), dict):  # only what ruamel.yaml had to read is worth keeping
                _keep(text, hit)
        _MEMO[text] = hit
        if len(_MEMO) > 64:
            _MEMO.pop(next(iter(_MEMO)))
    import copy

    return copy.deepcopy(hit)


def dump(data: Any) -> str:
    """YAML text for ``data``: confide's canonical form for its own files, the same bytes ruamel.yaml writes."""
    text = canonical.dump(data)
    return text if text is not None else library_dump(data)


def library_dump(data: Any) -> str:
    """``dump`` by ruamel.yaml alone."""
    buf = io.StringIO()
    _yaml()["dumper"].dump(data, buf)
    return buf.getvalue()
