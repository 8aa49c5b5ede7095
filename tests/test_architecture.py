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
