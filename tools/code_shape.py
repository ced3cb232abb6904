#!/usr/bin/env python3
"""Shape limits from docs/architecture.md: no module in portal/ over 300 lines, no view over
25 lines counting the same-module helpers it calls (transitively, decorators and docstrings
included). Prints what is over; exits 1 if anything is. Run from the repository root:
    .venv/bin/python tools/code_shape.py [--all]
"""

from __future__ import annotations

import ast
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


def _is_route(node: ast.FunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call) and getattr(d.func, "attr", "") in {"route", "get", "post"}
        for d in node.decorator_list
    )


def view_sizes() -> list[tuple[int, str, list[str]]]:
    from portal import create_app
    from tests.helpers import base_overrides

    tmp = pathlib.Path(tempfile.mkdtemp())
    app = create_app(base_overrides(tmp), instance_path=str(tmp / "instance"))
    rows, seen = [], set()
    for fn in app.view_functions.values():
        fn = inspect.unwrap(fn)
        module = inspect.getmodule(fn)
        if module is None or not module.__name__.startswith("portal"):
            continue
        if (module.__name__, fn.__name__) in seen:
            continue
        seen.add((module.__name__, fn.__name__))
        funcs = _functions(module)
        if fn.__name__ not in funcs:
            continue
        total, todo, done = 0, [fn.__name__], set()
        while todo:
            name = todo.pop()
            if name in done:
                continue
            done.add(name)
            total += _span(funcs[name])
            for node in ast.walk(funcs[name]):
                if isinstance(node, ast.Name) and node.id in funcs and node.id not in done:
                    if not _is_route(funcs[node.id]):
                        todo.append(node.id)
        rows.append((total, f"{module.__name__}.{fn.__name__}", sorted(done - {fn.__name__})))
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
