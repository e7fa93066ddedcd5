"""Built-in functions and operators of cairn.sql (PostgreSQL's pg_proc and pg_operator).

``resolve_function(name, arg_types)`` and ``resolve_operator(op, left, right)`` choose an
implementation by PostgreSQL's overload rules; the modules imported here declare the
built-ins into the registry when this package is first imported.
"""

from cairn.sql.functions import (  # noqa: F401  (declare the built-ins)
    arith,
    arrayfns,
    comparison,
    datetime_fns,
    formatting,
    jsonfns,
    mathfns,
    misc,
    strings,
)
from cairn.sql.functions.registry import (
    ANY,
    ANYNONARRAY,
    FUNCTIONS,
    OPERATORS,
    PREFIX,
    Function,
    Operator,
    Signature,
    resolve_function,
    resolve_operator,
)

__all__ = [
    "ANY",
    "ANYNONARRAY",
    "FUNCTIONS",
    "OPERATORS",
    "PREFIX",
    "Function",
    "Operator",
    "Signature",
    "resolve_function",
    "resolve_operator",
]
