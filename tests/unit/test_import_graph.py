"""The package's import graph has no cycles, and no module imports inside a function to
hide one (issue 7). Read from the source with ``ast``: nothing is imported here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PORTAL = Path(__file__).resolve().parents[2] / "portal"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PORTAL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PORTAL.rglob("*.py") if "migrations" not in p.parts}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(imported portal module, at module level?) for every import in ``path``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    type_only = {
        id(n)
        for node in tree.body  # imports under `if TYPE_CHECKING:` never run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            # Importing a.b.c runs a/__init__ and a/b/__init__ first (unless inside them).
            parts = target.split(".")
            for cut in range(2, len(parts) + 1):
                module = ".".join(parts[:cut])
                inside = name == module or name.startswith(module + ".")
                if module in known and not inside and (module == target or cut > 1):
                    found.append((module, id(node) in top))
    return found


def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {t for t, _top in _imports(name, path, set(modules))}
        for name, path in modules.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_package_has_no_import_cycles():
    # A package's __init__ importing its own submodules (its views) is the package
    # assembling itself, not a loop: only edges between different files count, and a
    # submodule's implicit import of its parent package is not an edge.
    assert cycles(graph()) == []


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Imports inside functions that are there on purpose: heavy libraries loaded only when
# needed (ldap3, cryptography, gunicorn, limits: memory per server process) and the
# application factory (importing one module must not build the whole app).
LAZY_OK = {
    "portal",
    "portal.crypto",
    "portal.providers",
    "portal.providers.sync",
    "portal.server",
    "portal.ratelimit",
}


@pytest.mark.parametrize("name", sorted(set(_modules()) - LAZY_OK))
def test_no_import_inside_a_function(name):
    modules = _modules()
    inner = [t for t, top in _imports(name, modules[name], set(modules)) if not top]
    assert inner == [], f"{name} imports {inner} inside a function"
