"""The layers show, and hold: the package's import graph has no cycle, and each layer imports only what it may.

    model     the domain: records' rules, holders, roles, levels      imports: errors
    adapters  age, git, signing, storage, the clock, configuration   imports: errors
    formats   the record envelope, YAML, schemas                     imports: errors, model, adapters
    services  the use cases a command calls                          imports: errors, model, adapters, formats
    cli       commands, rendering, prompts, the editor               imports: anything above

Every import counts, also one inside a function (that is how cycles hide). The domain knows nothing of
files, git, age, typer or rich; nothing below the command line imports typer or rich.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "vault_cli"
LAYERS = {
    "model": {"errors", "model"},
    "adapters": {"errors", "adapters"},
    "formats": {"errors", "model", "adapters", "formats"},
    "services": {"errors", "model", "adapters", "formats", "services"},
    "cli": {"errors", "model", "adapters", "formats", "services", "cli"},
}
# Third-party packages a layer may not import.
FORBIDDEN = {
    "model": {"typer", "rich", "click", "ruamel", "pyrage", "git", "cryptography", "subprocess", "jsonschema"},
    "adapters": {"typer", "rich", "click"},
    "formats": {"typer", "rich", "click", "git", "subprocess"},
    "services": {"typer", "rich", "click"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict) -> tuple[set, set]:
    """(vault_cli modules, top-level third-party or stdlib packages) that ``name`` imports anywhere."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inner, outer = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                (inner if a.name.split(".")[0] == "vault_cli" else outer).add(a.name if a.name.startswith("vault_cli") else a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("vault_cli"):
                outer.add(mod.split(".")[0])
                continue
            for a in node.names:
                full = f"{mod}.{a.name}"
                inner.add(full if full in modules else mod)
    inner.discard(name)
    return {m for m in inner if m in modules}, outer


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else parts[-1]


def _graph() -> dict[str, set]:
    modules = _modules()
    return {name: _imports(name, path, modules)[0] for name, path in modules.items()}


def test_every_module_is_in_a_layer():
    stray = [m for m in _modules() if m.count(".") == 1 and m.split(".")[1] not in LAYERS
             and m not in ("vault_cli.errors", "vault_cli.__main__", "vault_cli.schemas")]
    assert stray == [], f"modules outside the layers: {stray}"


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    # Tarjan's strongly connected components
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert sccs == [], "import cycles: " + "; ".join(" -> ".join(c) for c in sccs)


def test_each_layer_imports_only_what_it_may():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        layer = _layer(name)
        if layer not in LAYERS:
            continue
        inner, outer = _imports(name, path, modules)
        for m in sorted(inner):
            target = _layer(m)
            if target not in LAYERS[layer] and not (target == "errors" or m == "vault_cli"):
                wrong.append(f"{name} imports {m}")
        for pkg in sorted(outer & FORBIDDEN.get(layer, set())):
            wrong.append(f"{name} imports {pkg}")
    assert wrong == [], "\n".join(wrong)


def test_no_module_is_over_about_500_lines_without_saying_why():
    """A module longer than ~500 lines says in its docstring why it is one module ("one module: ...")."""
    long = []
    for name, path in _modules().items():
        lines = path.read_text().count("\n")
        if lines > 520:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            if "one module:" not in doc.lower():
                long.append(f"{name} ({lines} lines)")
    assert long == [], "long modules without a reason in their docstring: " + ", ".join(long)


# Below the command line nothing reads the environment, asks the user or prints: configuration (adapters.config),
# the clock and the passphrase prompt are built at the edge (vault_cli/cli/environment.py, prompts.py) and passed in.
# The one exception: git's child processes inherit the process environment as it is (GIT_* is git's own setting).
CORE = ("model", "formats", "adapters", "services")
PASS_THROUGH = {("vault_cli.adapters.gitstore", "git_env"), ("vault_cli.adapters.gitstore", "objects_dir")}


def _edge_uses(tree: ast.AST):
    """(function, what) for each read of the environment, prompt or print in ``tree``."""
    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            what = None
            if isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name):
                if child.value.id == "os" and child.attr in ("environ", "environb", "getenv", "putenv", "unsetenv"):
                    what = f"os.{child.attr}"
                elif child.value.id == "sys" and child.attr in ("stdin", "stdout", "stderr"):
                    what = f"sys.{child.attr}"
            elif isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id in ("print", "input"):
                what = f"{child.func.id}()"
            elif isinstance(child, ast.Import) and any(a.name == "getpass" for a in child.names):
                what = "import getpass"
            elif isinstance(child, ast.ImportFrom) and child.module in ("os", "sys", "getpass") and (
                    child.module == "getpass" or {a.name for a in child.names} & {"environ", "getenv", "stdin", "stdout", "stderr"}):
                what = f"from {child.module} import ..."
            if what:
                yield func, what
            yield from visit(child, inner)

    yield from visit(tree, None)


def test_only_the_edge_reads_the_environment_asks_or_prints():
    wrong = []
    for name, path in _modules().items():
        if _layer(name) not in CORE:
            continue
        for func, what in _edge_uses(ast.parse(path.read_text(), str(path))):
            if (name, func) not in PASS_THROUGH:
                wrong.append(f"{name}{'.' + func if func else ''}: {what}")
    assert wrong == [], "the core reads the environment, prompts or prints (take it as an argument from vault_cli/cli):\n" \
        + "\n".join(wrong)


def _core_fields() -> set:
    """The fields the core's errors name: ``fields=(...)`` and the field argument of the parsers that raise them."""
    named = {"parse_date": 1, "parse_datetime": 1, "parse_day": 1, "not_future": 1, "clean_text": 1, "resolve_rev": 2}
    found = set()
    for name, path in _modules().items():
        if _layer(name) not in CORE:
            continue
        tree = ast.parse(path.read_text(), str(path))
        consts = {}
        for node in tree.body:  # module-level names for fields: X = "..." and X, Y = "...", "..."
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                targets, values = node.targets[0], node.value
                pairs = zip(targets.elts, values.elts, strict=False) \
                    if isinstance(targets, ast.Tuple) and isinstance(values, ast.Tuple) else [(targets, values)]
                for t, v in pairs:
                    if isinstance(t, ast.Name) and isinstance(v, ast.Constant) and isinstance(v.value, str):
                        consts[t.id] = v.value

        def value(node, consts=consts):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                return node.value
            return consts.get(node.id) if isinstance(node, ast.Name) else None

        for node in tree.body:  # hints by field for errors raised with a field from a rules table: X_HINTS = {...}
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    isinstance(t, ast.Name) and t.id.endswith("_HINTS") for t in node.targets):
                found |= {v for v in map(value, [k for k in node.value.keys if k is not None]) if v}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "fields" and isinstance(kw.value, ast.Tuple):
                    found |= {v for v in map(value, kw.value.elts) if v}
            fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if fn in named and len(node.args) > named[fn] and value(node.args[named[fn]]):
                found.add(value(node.args[named[fn]]))
    return found


def test_every_field_the_core_names_has_its_flag():
    """Errors carry the field ("date of birth"); the command line names its flag (--dob): none is left unnamed."""
    from vault_cli.cli.flags import FLAGS

    fields = _core_fields()
    assert "date of birth" in fields and "end date" in fields  # the scan sees them
    assert sorted(fields - set(FLAGS)) == []
    assert sorted(set(FLAGS) - fields) == [], "flags for fields no error names any more"


# Private names of the standard library's that confide uses on purpose.
_STDLIB_PRIVATE = {"_exit"}  # os._exit: a crash test's child dies without cleanup


def _private_names_defined(tree: ast.AST) -> set:
    """The ``_name`` attributes a module's own code defines (``self._x = ...``, ``_x: T`` in a class body)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr.startswith("_"):
            names.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                target = item.target if isinstance(item, ast.AnnAssign) else None
                if isinstance(target, ast.Name) and target.id.startswith("_"):
                    names.add(target.id)
                if isinstance(item, ast.FunctionDef) and item.name.startswith("_"):
                    names.add(item.name)
    return names


def test_no_module_reaches_into_another_modules_private_attributes():
    """``obj._x`` only where this module defines ``_x`` itself: other modules' objects are used through what
    they make public (the newcomer reading a class sees every way it is used)."""
    bad = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(), str(path))
        own = _private_names_defined(tree) | _STDLIB_PRIVATE
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr not in own:
                bad.append(f"{name}:{node.lineno}: .{node.attr}")
    assert not bad, "private attributes of another module's objects:\n" + "\n".join(bad)
