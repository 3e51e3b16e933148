"""The shape rules of the tree (STYLE.md, issue #10): small modules, short functions.

No module under src/twinbeat is over MAX_MODULE_LINES lines and no function over
MAX_FUNCTION_LINES (decorators and docstring included). A checker that could never fire
would prove nothing, so each rule is also run on a synthetic source that breaks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "twinbeat"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """`name (N lines)` for every function or method longer than `limit` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > limit:
                found.append(f"{node.name} ({length} lines)")
    return found


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "templates" not in p.parts)


def test_the_tree_is_found() -> None:
    assert len(modules()) > 40


def test_no_module_is_over_the_limit() -> None:
    too_long = [
        f"{p.relative_to(SRC)}: {n} lines"
        for p in modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert too_long == []


def test_no_function_is_over_the_limit() -> None:
    too_long = [
        f"{p.relative_to(SRC)}: {what}"
        for p in modules()
        for what in long_functions(p.read_text())
    ]
    assert too_long == []


def test_the_function_rule_can_fire() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = f"@staticmethod\ndef f():\n{body}\n\nasync def g():\n    pass\n"
    assert long_functions(source) == [f"f ({MAX_FUNCTION_LINES + 2} lines)"]
