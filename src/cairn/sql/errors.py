"""SQL errors with PostgreSQL's SQLSTATE codes and condition names.

Every error cairn.sql raises is an ``SqlError`` carrying PostgreSQL's five-character SQLSTATE,
its message text and optional detail, hint and cursor position, so that clients (and the wire
protocol) see exactly what PostgreSQL would send. Subclasses are named after PostgreSQL's
condition names (Appendix A of its manual).
"""

from __future__ import annotations


class SqlError(Exception):
    """An error with a SQLSTATE; ``str(e)`` is the message as PostgreSQL prints it."""

    sqlstate_default = "XX000"

    def __init__(
        self,
        message: str,
        *,
        sqlstate: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate or self.sqlstate_default
        self.detail = detail
        self.hint = hint
        self.position = position

    def __str__(self) -> str:
        return self.message


def _condition(name: str, code: str) -> type[SqlError]:
    return type(name, (SqlError,), {"sqlstate_default": code, "__doc__": f"SQLSTATE {code}."})


SyntaxError_ = _condition("SyntaxError_", "42601")
UndefinedTable = _condition("UndefinedTable", "42P01")
UndefinedColumn = _condition("UndefinedColumn", "42703")
UndefinedFunction = _condition("UndefinedFunction", "42883")
UndefinedObject = _condition("UndefinedObject", "42704")
DuplicateObject = _condition("DuplicateObject", "42710")
DatatypeMismatch = _condition("DatatypeMismatch", "42804")
InvalidTextRepresentation = _condition("InvalidTextRepresentation", "22P02")
NumericValueOutOfRange = _condition("NumericValueOutOfRange", "22003")
DivisionByZero = _condition("DivisionByZero", "22012")
StringDataRightTruncation = _condition("StringDataRightTruncation", "22001")
InvalidDatetimeFormat = _condition("InvalidDatetimeFormat", "22007")
DatetimeFieldOverflow = _condition("DatetimeFieldOverflow", "22008")
InvalidParameterValue = _condition("InvalidParameterValue", "22023")
CannotCoerce = _condition("CannotCoerce", "42846")
AmbiguousFunction = _condition("AmbiguousFunction", "42725")
InvalidEscapeSequence = _condition("InvalidEscapeSequence", "22025")
FeatureNotSupported = _condition("FeatureNotSupported", "0A000")
DataException = _condition("DataException", "22000")

_BY_STATE: dict[str, type[SqlError]] = {
    cls.sqlstate_default: cls
    for cls in (
        SyntaxError_, UndefinedTable, UndefinedColumn, UndefinedFunction, UndefinedObject,
        DuplicateObject, DatatypeMismatch, InvalidTextRepresentation, NumericValueOutOfRange,
        DivisionByZero, StringDataRightTruncation, InvalidDatetimeFormat, DatetimeFieldOverflow,
        InvalidParameterValue, CannotCoerce, AmbiguousFunction, InvalidEscapeSequence,
        FeatureNotSupported, DataException,
    )
}


def by_sqlstate(sqlstate: str) -> type[SqlError]:
    """The condition class for a SQLSTATE (``SqlError`` itself for codes without one)."""
    return _BY_STATE.get(sqlstate, SqlError)
