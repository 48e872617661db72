"""Every error code the API can return is a value of `UserErrorCode`, so a
client's `switch` over it is exhaustive. The catalogue is
`tessera.error_codes.ERROR_CODES`: adding a code is one line there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tessera.error_codes import ERROR_CODES
from tessera.schema import export_sdl

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("platform", "schema", "plugins", "admin_ui")


def _code_params(trees: list[ast.Module]) -> dict[str, int]:
    """Functions and methods taking a ``code`` parameter, with its position."""
    found = {}
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
            if "code" in names:
                found[node.name] = names.index("code") - (1 if names[0] in ("self", "cls") else 0)
    return found


def _strings(node: ast.expr | None) -> list[str]:
    """String constants an expression can evaluate to (`"A"`, `"A" if c else "B"`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def codes_in(tree: ast.Module, helpers: dict[str, int]) -> set[str]:
    """Codes a module can raise: the first argument of ``DomainError(...)``, what
    it passes as ``code`` to helpers (``problems.add("CODE", ...)``),
    ``code = "..."`` assignments (class attributes of error classes included) and
    ``{"code": "..."}`` GraphQL error extensions."""
    codes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _callee(node)
            position = 0 if name == "DomainError" else helpers.get(name)
            if position is not None and position < len(node.args):
                codes.update(_strings(node.args[position]))
            for keyword in node.keywords:
                if keyword.arg == "code":
                    codes.update(_strings(keyword.value))
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "code" for t in node.targets
        ):
            codes.update(_strings(node.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    codes.update(_strings(value))
    return codes


def raised_codes() -> dict[str, str]:
    paths = [p for folder in SOURCES for p in sorted((ROOT / folder).rglob("*.py"))]
    trees = [ast.parse(p.read_text()) for p in paths]
    helpers = _code_params(trees)
    found: dict[str, str] = {}
    for path, tree in zip(paths, trees, strict=True):
        for code in codes_in(tree, helpers):
            found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def test_the_scan_sees_codes_raised_every_way() -> None:
    found = raised_codes()
    # One of each way a code reaches a DomainError, so a scan that stops seeing
    # one of them fails here rather than passing vacuously.
    assert {"NOT_FOUND", "INSUFFICIENT_POINTS", "OUT_OF_STOCK", "INVALID_TYPE", "FORBIDDEN"} <= set(
        found
    )


def test_every_raised_code_is_in_the_catalogue() -> None:
    missing = {
        code: where
        for code, where in raised_codes().items()
        if re.fullmatch("[A-Z][A-Z0-9_]+", code) and code not in ERROR_CODES
    }
    assert not missing, (
        f"add these codes, one line each, to ERROR_CODES in platform/error_codes.py: {missing}"
    )


def test_every_code_is_a_documented_value_of_the_enum() -> None:
    sdl = export_sdl()
    enum = sdl.split("enum UserErrorCode {", 1)[1].split("}", 1)[0]
    for code, description in ERROR_CODES.items():
        assert description.strip(), code
        assert f"  {code}\n" in enum, code
    assert "code: UserErrorCode!" in sdl
