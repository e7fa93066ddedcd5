"""pg_proc and pg_operator in miniature: signatures, and PostgreSQL's overload resolution.

Functions and operators are declared once (``Catalog.add``) with their argument types; at
analysis time ``resolve_function``/``resolve_operator`` pick one as PostgreSQL's parser does
(manual chapter 10, "Type Conversion"): an exact match; for an operator with one untyped
literal, the other side's type; otherwise the candidates reachable by implicit casts, narrowed
by exact matches, then preferred types, then the category of untyped literals (string wins).
Polymorphic declarations (anyelement, anyarray, anynonarray, "any") are bound to the actual
types, and the chosen ``Function``/``Operator`` carries the per-argument conversions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cairn.sql.errors import AmbiguousFunction, DatatypeMismatch, SqlError, UndefinedFunction
from cairn.sql.types import sqltype as T
from cairn.sql.types.casts import can_coerce, find_cast
from cairn.sql.types.io import input_function

ANYELEMENT = T.ANYELEMENT
ANYARRAY = T.ANYARRAY
ANYNONARRAY = T.SqlType("anynonarray", 2776, -1, None, "P", False, 4, "anynonarray")
ANY = T.SqlType('"any"', 2276, -1, None, "P", False, 4, "any")
_POLY = {ANYELEMENT.oid, ANYARRAY.oid, ANYNONARRAY.oid, ANY.oid}

Impl = Callable[..., Any]


@dataclass(frozen=True)
class Signature:
    """One declared function or operator (a pg_proc row)."""

    name: str
    args: tuple[T.SqlType, ...]
    result: T.SqlType  # may be polymorphic (ANYELEMENT/ANYARRAY): bound at resolution
    fn: Impl | None = None
    factory: Callable[[tuple[T.SqlType, ...]], Impl] | None = None  # per actual types
    strict: bool = True
    volatility: str = "i"
    retset: bool = False
    variadic: T.SqlType | None = None  # the last arg repeats (VARIADIC); ANY for "any"
    result_fn: Callable[[tuple[T.SqlType, ...]], T.SqlType] | None = None
    columns: tuple[tuple[str, T.SqlType], ...] | None = None  # an SRF's output columns
    compatible: bool = False  # polymorphic args are anycompatible (unified by casts)


Converter = Callable[[Any, Any], Any] | None


@dataclass(frozen=True)
class Function:
    """A resolved function call: ``fn(*args, ctx)`` on arguments already converted to
    ``args`` (apply ``casts[i]`` to argument i, None = already of that type). ``strict``:
    the caller returns NULL without calling when any argument is NULL. ``retset``: the
    function returns a list of rows/values (a set-returning function)."""

    name: str
    args: tuple[T.SqlType, ...]
    result: T.SqlType
    fn: Impl
    strict: bool
    volatility: str
    retset: bool
    casts: tuple[Converter, ...]
    columns: tuple[tuple[str, T.SqlType], ...] | None = None  # rows of (value, ...) tuples

    def call(self, args: list[Any], ctx: Any) -> Any:
        """Convert, apply strictness, call: the convenience path (the executor may inline)."""
        vals = [
            a if c is None or a is None else c(a, ctx)
            for a, c in zip(args, self.casts, strict=False)
        ]
        if self.strict and any(v is None for v in vals):
            return None
        return self.fn(*vals, ctx)


@dataclass(frozen=True)
class Operator:
    """A resolved operator: ``fn(a, b, ctx)`` (``fn(b, ctx)`` for a prefix operator)."""

    name: str
    left: T.SqlType | None
    right: T.SqlType
    result: T.SqlType
    fn: Impl
    strict: bool
    casts: tuple[Converter, ...]  # (left, right), or (right,) for a prefix operator

    def call(self, a: Any, b: Any, ctx: Any) -> Any:
        if self.left is None:
            (cb,) = self.casts
            if b is None and self.strict:
                return None
            return self.fn(b if cb is None or b is None else cb(b, ctx), ctx)
        ca, cb = self.casts
        if ca is not None and a is not None:
            a = ca(a, ctx)
        if cb is not None and b is not None:
            b = cb(b, ctx)
        if self.strict and (a is None or b is None):
            return None
        return self.fn(a, b, ctx)


@dataclass
class Catalog:
    """Named signatures; one instance for functions and one for operators."""

    entries: dict[str, list[Signature]] = field(default_factory=dict)

    def add(
        self,
        name: str,
        args: tuple[T.SqlType, ...] | list[T.SqlType],
        result: T.SqlType,
        fn: Impl | None = None,
        **kw: Any,
    ) -> None:
        self.entries.setdefault(name, []).append(Signature(name, tuple(args), result, fn, **kw))

    def names(self) -> list[str]:
        return sorted(self.entries)


# --- resolution ------------------------------------------------------------------------------


def _accepts(actual: T.SqlType, declared: T.SqlType) -> bool:
    if declared.oid in _POLY:
        if actual.oid == T.UNKNOWN.oid:
            return declared.oid != ANYARRAY.oid or True
        if declared.oid == ANYARRAY.oid:
            return actual.element is not None
        if declared.oid == ANYNONARRAY.oid:
            return actual.element is None
        return True
    return can_coerce(actual, declared, "implicit")


def _expand(sig: Signature, n: int) -> tuple[T.SqlType, ...] | None:
    if sig.variadic is None:
        return sig.args if len(sig.args) == n else None
    fixed = len(sig.args) - 1
    if n < fixed + 1 and not (sig.variadic is ANY and n >= fixed):
        return None
    return sig.args[:fixed] + (sig.variadic,) * (n - fixed)


def _bind(
    sig_args: tuple[T.SqlType, ...], actual: tuple[T.SqlType, ...], compatible: bool = False
) -> tuple[T.SqlType, ...] | None:
    """Bind anyelement/anyarray to the actual types (None if inconsistent).

    ``compatible`` is PostgreSQL's anycompatible family (array_append, ||, ...): the
    arguments are unified to a common type through implicit casts, and all-unknown means
    text. Plain anyelement/anyarray need one exact type; all-unknown stays UNKNOWN, which
    ``resolve_*`` reports as 42804."""
    elem: T.SqlType | None = None
    for d, a in zip(sig_args, actual, strict=False):
        if a.oid == T.UNKNOWN.oid:
            continue
        if d.oid in (ANYELEMENT.oid, ANYNONARRAY.oid):
            e = a.base
        elif d.oid == ANYARRAY.oid:
            e = a.element.base if a.element is not None else None
        else:
            continue
        if e is None:
            return None
        if elem is None:
            elem = e
        elif elem != e:
            if not compatible:
                return None  # anyelement/anyarray must all be the same type
            if can_coerce(e, elem, "implicit"):
                continue
            if can_coerce(elem, e, "implicit"):
                elem = e
                continue
            return None
    if elem is None:
        if not compatible:
            return tuple(
                T.UNKNOWN
                if d.oid in (ANYELEMENT.oid, ANYNONARRAY.oid, ANYARRAY.oid)
                else (a if d.oid == ANY.oid else d)
                for d, a in zip(sig_args, actual, strict=False)
            )
        elem = T.TEXT
    out = []
    for d, a in zip(sig_args, actual, strict=False):
        if d.oid in (ANYELEMENT.oid, ANYNONARRAY.oid):
            out.append(elem)
        elif d.oid == ANYARRAY.oid:
            try:
                out.append(T.array_of(elem))
            except SqlError:
                return None
        elif d.oid == ANY.oid:
            out.append(a)  # "any" keeps the actual type (pg_typeof('x') is unknown)
        else:
            out.append(d)
    return tuple(out)


def _select(
    cands: list[tuple[Signature, tuple[T.SqlType, ...]]], actual: tuple[T.SqlType, ...]
) -> list[tuple[Signature, tuple[T.SqlType, ...]]]:
    """PostgreSQL's func_select_candidate on candidates that all accept the arguments."""
    if len(cands) <= 1:
        return cands
    base = tuple(a.base for a in actual)
    unknown = [i for i, a in enumerate(actual) if a.oid == T.UNKNOWN.oid]

    n = len(actual)

    def decl(c: tuple[Signature, tuple[T.SqlType, ...]]) -> tuple[T.SqlType, ...]:
        return _expand(c[0], n) or c[1]  # declared (unbound) types: polymorphic never exact

    def count(pred) -> list:
        scored = [(sum(1 for i in range(n) if pred(i, decl(c))), c) for c in cands]
        best = max(s for s, _ in scored)
        return [c for s, c in scored if s == best]

    cands = count(lambda i, d: actual[i].oid != T.UNKNOWN.oid and d[i].base == base[i])
    if len(cands) == 1:
        return cands
    cands = count(
        lambda i, d: (
            actual[i].oid != T.UNKNOWN.oid
            and d[i].base != base[i]
            and d[i].preferred
            and d[i].category == actual[i].category
        )
    )
    if len(cands) == 1 or not unknown:
        return cands
    # untyped literals: pick a category per position (string wins), then preferred types
    for i in unknown:
        cats = {decl(c)[i].category for c in cands if decl(c)[i].oid not in _POLY}
        if not cats:
            continue
        cat = "S" if "S" in cats else (cats.pop() if len(cats) == 1 else None)
        if cat is None:
            return cands
        keep = [c for c in cands if decl(c)[i].oid in _POLY or decl(c)[i].category == cat]
        pref = [c for c in keep if decl(c)[i].preferred]
        cands = pref or keep
        if len(cands) == 1:
            return cands
    known = {base[i] for i in range(len(actual)) if i not in unknown}
    if len(known) == 1:
        (k,) = known
        same = [c for c in cands if all(can_coerce(k, decl(c)[i], "implicit") for i in unknown)]
        if same:
            cands = same
    return cands


def _converters(
    actual: tuple[T.SqlType, ...], declared: tuple[T.SqlType, ...]
) -> tuple[Converter, ...]:
    out: list[Converter] = []
    for a, d in zip(actual, declared, strict=False):
        if a == d or (a.base == d and d.typmod == -1) or d.oid == ANY.oid:
            out.append(None)
        elif a.oid == T.UNKNOWN.oid:
            out.append(input_function(d))
        else:
            cast = find_cast(a, d, "implicit")
            out.append(None if cast is None else cast.fn)
    return tuple(out)


def resolve(catalog: Catalog, name: str, actual: tuple[T.SqlType, ...], *, is_operator: bool):
    """The best signature for ``actual`` argument types: (Signature, bound arg types)."""
    sigs = catalog.entries.get(name.lower() if not is_operator else name, [])
    cands: list[tuple[Signature, tuple[T.SqlType, ...]]] = []
    for sig in sigs:
        args = _expand(sig, len(actual))
        if args is None:
            continue
        if all(_accepts(a, d) for a, d in zip(actual, args, strict=False)):
            bound = _bind(args, actual, sig.compatible)
            if bound is not None:
                cands.append((sig, bound))
    if not cands:
        return None
    base = tuple(a.base for a in actual)
    has_unknown = any(a.oid == T.UNKNOWN.oid for a in actual)
    exact = [] if has_unknown else [c for c in cands if c[1] == base]
    if exact:
        return exact[0]
    if is_operator and len(actual) == 2:
        a, b = actual
        if (a.oid == T.UNKNOWN.oid) != (b.oid == T.UNKNOWN.oid):
            k = b.base if a.oid == T.UNKNOWN.oid else a.base
            same = [c for c in cands if c[1] == (k, k)]
            if same:
                return same[0]
    chosen = _select(cands, actual)
    if len(chosen) == 1:
        return chosen[0]
    return chosen  # ambiguous: the caller reports


def _result_type(sig: Signature, bound: tuple[T.SqlType, ...]) -> T.SqlType:
    if sig.result_fn is not None:
        return sig.result_fn(bound)
    r = sig.result
    if r.oid in (ANYELEMENT.oid, ANYARRAY.oid):
        elem = next(
            (
                b.element if d.oid == ANYARRAY.oid else b
                for d, b in zip(_expand(sig, len(bound)) or (), bound, strict=False)
                if d.oid in (ANYELEMENT.oid, ANYARRAY.oid, ANYNONARRAY.oid)
            ),
            T.TEXT,
        )
        return elem if r.oid == ANYELEMENT.oid else T.array_of(elem)
    return r


def _impl(sig: Signature, bound: tuple[T.SqlType, ...]) -> Impl:
    if sig.factory is not None:
        return sig.factory(bound)
    assert sig.fn is not None
    return sig.fn


def _check_resolved(sig: Signature, bound: tuple[T.SqlType, ...], n: int) -> None:
    declared = _expand(sig, n) or ()
    for d, b in zip(declared, bound, strict=False):
        if d.oid in (ANYELEMENT.oid, ANYNONARRAY.oid, ANYARRAY.oid) and b.oid == T.UNKNOWN.oid:
            raise DatatypeMismatch(
                "could not determine polymorphic type because input has type unknown"
            )


FUNCTIONS = Catalog()
OPERATORS = Catalog()
PREFIX = Catalog()


def _typelist(types: list[T.SqlType]) -> str:
    return ", ".join(t.base.name for t in types)


def resolve_function(name: str, args: list[T.SqlType]) -> Function:
    """The function ``name(args)`` as PostgreSQL would choose it; 42883 or 42725 if none/many."""
    actual = tuple(args)
    r = resolve(FUNCTIONS, name, actual, is_operator=False)
    if r is None:
        raise UndefinedFunction(
            f"function {name}({_typelist(args)}) does not exist",
            hint="No function matches the given name and argument types. "
            "You might need to add explicit type casts.",
        )
    if isinstance(r, list):
        raise AmbiguousFunction(
            f"function {name}({_typelist(args)}) is not unique",
            hint="Could not choose a best candidate function. "
            "You might need to add explicit type casts.",
        )
    sig, bound = r
    _check_resolved(sig, bound, len(actual))
    return Function(
        sig.name,
        bound,
        _result_type(sig, bound),
        _impl(sig, bound),
        sig.strict,
        sig.volatility,
        sig.retset,
        _converters(actual, bound),
        sig.columns,
    )


def resolve_operator(op: str, left: T.SqlType | None, right: T.SqlType) -> Operator:
    """The operator ``left op right`` (``left`` None for a prefix operator such as ``- x``)."""
    if op == "!=":
        op = "<>"
    actual = (right,) if left is None else (left, right)
    r = resolve(PREFIX if left is None else OPERATORS, op, actual, is_operator=True)
    shown = (
        f"{op} {right.base.name}" if left is None else f"{left.base.name} {op} {right.base.name}"
    )
    if r is None:
        raise UndefinedFunction(
            f"operator does not exist: {shown}",
            hint="No operator matches the given name and argument types. "
            "You might need to add explicit type casts.",
        )
    if isinstance(r, list):
        raise AmbiguousFunction(
            f"operator is not unique: {shown}",
            hint="Could not choose a best candidate operator. "
            "You might need to add explicit type casts.",
        )
    sig, bound = r
    _check_resolved(sig, bound, len(actual))
    return Operator(
        op,
        None if left is None else bound[0],
        bound[-1],
        _result_type(sig, bound),
        _impl(sig, bound),
        sig.strict,
        _converters(actual, bound),
    )
