#!/usr/bin/env python3
"""Shape limits from docs/architecture.md: no module in portal/ over 300 lines, no view over
25 lines counting the same-module helpers only it calls (transitively, decorators and
docstrings included); a helper several views share is a piece of its own, also within 25. Prints what is over; exits 1 if anything is. Run from the repository root:
    .venv/bin/python tools/code_shape.py [--all]
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODULE_LIMIT = 300
VIEW_LIMIT = 25


def long_modules() -> list[tuple[int, str]]:
    rows = []
    for path in sorted((ROOT / "portal").rglob("*.py")):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MODULE_LIMIT:
            rows.append((count, str(path.relative_to(ROOT))))
    return rows


def _functions(module) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(inspect.getsource(module))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _span(node: ast.FunctionDef) -> int:
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return node.end_lineno - start + 1


def _local_names(node: ast.FunctionDef) -> set[str]:
    """Parameters and assigned names: a local that shadows a module function is not a call
    of it."""
    args = node.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    names = {a.arg for a in params if a is not None}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
    return names


def _is_route(node: ast.FunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call) and getattr(d.func, "attr", "") in {"route", "get", "post"}
        for d in node.decorator_list
    )


def _calls(funcs: dict[str, ast.FunctionDef], name: str) -> set[str]:
    """The module's non-route functions that ``name`` calls (locals shadowing them aside)."""
    local = _local_names(funcs[name])
    return {
        node.id
        for node in ast.walk(funcs[name])
        if isinstance(node, ast.Name)
        and node.id in funcs
        and node.id not in local
        and node.id != name
        and not _is_route(funcs[node.id])
    }


def _reach(funcs, name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for callee in _calls(funcs, todo.pop()) - seen:
            seen.add(callee)
            todo.append(callee)
    return seen


def _views() -> dict[str, list[str]]:
    """Module name -> its view functions' names (generic views registered with a partial
    included)."""
    from portal import create_app
    from tests.helpers import base_overrides

    tmp = pathlib.Path(tempfile.mkdtemp())
    app = create_app(base_overrides(tmp), instance_path=str(tmp / "instance"))
    views: dict[str, list[str]] = {}
    for fn in app.view_functions.values():
        fn = inspect.unwrap(fn)
        while isinstance(fn, functools.partial):  # generic views registered per kind
            fn = inspect.unwrap(fn.func)
        module = inspect.getmodule(fn)
        if module is not None and module.__name__.startswith("portal"):
            names = views.setdefault(module.__name__, [])
            if fn.__name__ not in names:
                names.append(fn.__name__)
    return views


def view_sizes() -> list[tuple[int, str, list[str]]]:
    """Each view with its own helpers (reached from this view only); a helper shared by
    several views is a piece of its own, listed (and limited) by itself."""
    rows = []
    for module_name, names in _views().items():
        funcs = _functions(importlib.import_module(module_name))
        names = [n for n in names if n in funcs]
        reach = {n: _reach(funcs, n) for n in names}
        shared = {h for n in names for h in reach[n] if sum(h in reach[m] for m in names) > 1}
        for name in names:
            own = reach[name] - shared
            total = _span(funcs[name]) + sum(_span(funcs[h]) for h in own)
            rows.append((total, f"{module_name}.{name}", sorted(own)))
        for helper in shared:
            total = _span(funcs[helper]) + sum(
                _span(funcs[h]) for h in _reach(funcs, helper) - shared
            )
            rows.append((total, f"{module_name}.{helper} (shared)", []))
    return sorted(rows, reverse=True)


def main() -> int:
    show_all = "--all" in sys.argv
    bad = 0
    for count, path in long_modules():
        print(f"module {path}: {count} lines (limit {MODULE_LIMIT})")
        bad += 1
    for total, name, helpers in view_sizes():
        if total > VIEW_LIMIT or show_all:
            print(f"view {name}: {total} lines with helpers {', '.join(helpers) or '-'}")
            bad += total > VIEW_LIMIT
    print(f"{bad} over the limits")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
