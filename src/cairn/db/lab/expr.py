"""A tiny, safe expression language for scenario files: the client-side logic of a session.

An application does not write blindly: it reads, decides, then writes ("if at least two doctors
are on call, take me off call"; "set the counter to what I read plus one"). That logic runs in
the *client*, between statements, which is exactly why read-modify-write cycles race (DDIA
ch. 7). Scenario steps carry it as small expressions over earlier steps' results, evaluated
here: literals (``true``/``false``/``null`` as in JSON), dicts and lists, ``+ - *``,
comparisons, ``and``/``or``/``not``, ``row.column``, ``len(...)``, ``total(rows, "col")`` and
``committed(session)``. The expression is parsed with :mod:`ast` and only those node types are
evaluated: a scenario file can never run arbitrary Python.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from cairn.db.lab.errors import SpecError

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_CONSTANTS = {"true": True, "false": False, "null": None}


def _total(rows: Any, column: str) -> Any:
    if not isinstance(rows, list):
        raise SpecError(f"total() wants the rows of a select, got {rows!r}")
    return sum(r[column] for r in rows)


def parse(text: str) -> ast.expr:
    """Parse and validate once, so that a bad expression fails when the file is read."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"bad expression {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise SpecError(f"expression {text!r} uses {type(node).__name__}, not allowed")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise SpecError(f"expression {text!r}: attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Call) and not (
                isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise SpecError(f"expression {text!r}: only {', '.join(_FUNCTIONS)} may be called")
    return tree.body


def names(tree: ast.expr) -> set[str]:
    """Step and session names an expression refers to (functions and constants excluded)."""
    out = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return out - set(_FUNCTIONS) - set(_CONSTANTS)


def evaluate(tree: ast.expr, env: Mapping[str, Any],
             committed: Callable[[str], bool] | None = None) -> Any:
    """Evaluate ``tree`` with step results from ``env`` (rows are dicts, selects are lists)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            if node.id not in env:
                raise SpecError(f"{node.id!r} has no result yet (did that step run?)")
            return env[node.id]
        if isinstance(node, ast.Attribute):
            base = ev(node.value)
            if not isinstance(base, dict):
                raise SpecError(f".{node.attr} of {base!r}: not a row")
            if node.attr not in base:
                raise SpecError(f"row {base!r} has no column {node.attr!r}")
            return base[node.attr]
        if isinstance(node, ast.Subscript):
            return ev(node.value)[ev(node.slice)]
        if isinstance(node, ast.Dict):
            return {ev(k): ev(v) for k, v in zip(node.keys, node.values, strict=True)
                    if k is not None}
        if isinstance(node, ast.List):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(node.op, ast.Not):
                return not v
            if isinstance(node.op, ast.USub):
                return -v
            raise SpecError("unsupported unary operator")
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for v in node.values:
                    result = ev(v)
                    if not result:
                        return result
                return result
            result = False
            for v in node.values:
                result = ev(v)
                if result:
                    return result
            return result
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = ev(right_node)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            fn = node.func.id
            if fn == "committed":
                if committed is None or len(node.args) != 1 or not isinstance(
                        node.args[0], ast.Name):
                    raise SpecError("committed(session) takes one session name")
                return committed(node.args[0].id)
            args = [ev(a) for a in node.args]
            return _FUNCTIONS[fn](*args)
        raise SpecError(f"cannot evaluate {type(node).__name__}")

    try:
        return ev(tree)
    except SpecError:
        raise
    except (LookupError, TypeError, ValueError, ArithmeticError) as exc:
        raise SpecError(f"expression {ast.unparse(tree)!r}: {type(exc).__name__}: {exc}") from None


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "total": _total, "committed": lambda name: False,
}
_ALLOWED = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Dict,
    ast.List, ast.UnaryOp, ast.Not, ast.USub, ast.BinOp, ast.Add, ast.Sub, ast.Mult,
    ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
    ast.GtE, ast.Call,
)
