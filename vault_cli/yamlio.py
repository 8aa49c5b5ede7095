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

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import SafeRepresenter

from .errors import IntegrityError


class _Representer(SafeRepresenter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sort_base_mapping_type_on_output = False  # keep the order confide writes


def _str(rep: SafeRepresenter, data: str):
    if "\n" in data:
        return rep.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return rep.represent_scalar("tag:yaml.org,2002:str", data)


_Representer.add_representer(str, _str)

_loader = YAML(typ="safe", pure=False)
_dumper = YAML(typ="safe", pure=False)
_dumper.Representer = _Representer
_dumper.default_flow_style = False
_dumper.width = 4096
_dumper.allow_unicode = True


def load(text: str | bytes, source: str) -> Any:
    """Parse YAML safely. A syntax error names the file and line, never the content."""
    try:
        return _loader.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise IntegrityError(
            f"{source}{where} is not valid YAML",
            "if it was edited by hand, restore it: git checkout -- " + source,
        ) from None


def dump(data: Any) -> str:
    buf = io.StringIO()
    _dumper.dump(data, buf)
    return buf.getvalue()


def load_round_trip(text: str, source: str) -> Any:
    yaml = YAML()  # round-trip: keeps comments
    try:
        return yaml.load(text)
    except YAMLError:
        raise IntegrityError(f"{source} is not valid YAML", "git diff " + source) from None


def dump_round_trip(data: Any) -> str:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()
