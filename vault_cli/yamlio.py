"""YAML in and out.

Files confide writes (records, holders) go through ruamel.yaml's safe mode with
its C parser and emitter: fast, and no arbitrary object construction. Multi-line
strings (armored age blocks) are written as literal blocks so files diff well.
The round-trip loader, ~10x slower, is used only to edit ``confide.yaml``,
where a person's comments must survive.
"""

from __future__ import annotations

import io
from typing import Any

from . import fastyaml
from .errors import IntegrityError

# ruamel.yaml is imported on first use, not at start-up (~7 ms): the files
# confide writes are read by ``fastyaml`` (exactly the same values, for the subset
# confide writes), and single-record commands then never need ruamel at all.
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


def load(text: str | bytes, source: str) -> Any:
    """Parse YAML safely. A syntax error names the file and line, never the content."""
    value = fastyaml.load(text)
    if value is not fastyaml.UNSUPPORTED:
        return value
    y = _yaml()
    try:
        return y["loader"].load(text)
    except y["YAMLError"] as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
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
        hit = _MEMO[text] = load(text, source)
        if len(_MEMO) > 64:
            _MEMO.pop(next(iter(_MEMO)))
    import copy

    return copy.deepcopy(hit)


def dump(data: Any) -> str:
    buf = io.StringIO()
    _yaml()["dumper"].dump(data, buf)
    return buf.getvalue()
