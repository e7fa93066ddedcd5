"""PEP 249 (DB-API 2.0) connections and cursors over a cairn.sql session.

``paramstyle`` is ``pyformat`` as psycopg's (``%s`` and ``%(name)s``), so the same SQL and
parameters run on cairn and, through psycopg, on PostgreSQL. Parameters are bound server-side
(turned into ``$1``, ``$2``), never pasted into the text. ``autocommit`` behaves as psycopg's:
off by default, so the first statement opens a transaction that ``commit()`` ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cairn.sql.errors import SqlError
from cairn.sql.session import Result, Session, SqlDatabase

apilevel = "2.0"
threadsafety = 1
paramstyle = "pyformat"


class Error(Exception):
    """DB-API base error; ``sqlstate`` and ``diag``-like fields come from the SqlError."""

    def __init__(self, err: SqlError):
        super().__init__(str(err))
        self.sqlstate = err.sqlstate
        self.pgcode = err.sqlstate
        self.detail = err.detail
        self.hint = err.hint
        self.position = err.position
        self.sql_error = err


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


def _error_class(sqlstate: str) -> type[Error]:
    cls = {"22": DataError, "23": IntegrityError, "40": OperationalError,
           "42": ProgrammingError, "0A": NotSupportedError, "55": OperationalError,
           "57": OperationalError, "25": InternalError, "XX": InternalError}
    return cls.get(sqlstate[:2], DatabaseError)


def wrap(err: SqlError) -> Error:
    return _error_class(err.sqlstate)(err)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|"
                          r"\$(\w*)\$")


def convert_params(sql: str, params: Sequence[Any] | Mapping[str, Any] | None
                   ) -> tuple[str, list[Any]]:
    """pyformat placeholders into $n, outside string literals, quoted names and comments."""
    if params is None:
        return sql, []
    out: list[str] = []
    values: list[Any] = []
    names: dict[str, int] = {}
    pos = 0
    seq_i = 0
    i = 0
    n = len(sql)
    while i < n:
        m = _PLACEHOLDER.search(sql, i)
        if m is None:
            break
        text = m.group(0)
        if text.startswith("$") and m.group(2) is not None:  # dollar quoting: skip its body
            end = sql.find(text, m.end())
            i = n if end == -1 else end + len(text)
            continue
        if text[0] in "'\"-":
            i = m.end()
            continue
        out.append(sql[pos:m.start()])
        if text == "%%":
            out.append("%")
        elif text == "%s":
            if isinstance(params, Mapping):
                raise ProgrammingError(SqlError("query parameters should be a sequence",
                                                sqlstate="42601"))
            if seq_i >= len(params):
                raise ProgrammingError(SqlError(
                    f"the query has {seq_i + 1} placeholders but {len(params)} parameters "
                    "were passed", sqlstate="08P01"))
            values.append(params[seq_i])
            seq_i += 1
            out.append(f"${len(values)}")
        else:
            name = m.group(1)
            if not isinstance(params, Mapping):
                raise ProgrammingError(SqlError("query parameters should be a mapping",
                                                sqlstate="42601"))
            if name not in params:
                raise ProgrammingError(SqlError(f"query parameter missing: {name}",
                                                sqlstate="42601"))
            if name not in names:
                values.append(params[name])
                names[name] = len(values)
            out.append(f"${names[name]}")
        pos = i = m.end()
    out.append(sql[pos:])
    if not isinstance(params, Mapping) and seq_i != len(params):
        raise ProgrammingError(SqlError(
            f"the query has {seq_i} placeholders but {len(params)} parameters were passed",
            sqlstate="08P01"))
    return "".join(out), values


class Cursor:
    arraysize = 1

    def __init__(self, conn: Connection):
        self.connection = conn
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self.statusmessage: str | None = None
        self._rows: list[tuple] = []
        self._i = 0
        self._closed = False

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
                ) -> Cursor:
        if self._closed:
            raise InterfaceError(SqlError("the cursor is closed", sqlstate="08003"))
        text, values = convert_params(sql, params)
        results = self.connection._run(text, values)
        res = results[-1] if results else Result("")
        self._set(res)
        return self

    def copy(self, sql: str, data: str | None = None) -> str | None:
        """COPY ... FROM STDIN reading ``data`` (text or CSV), or COPY ... TO STDOUT returning
        its output; ``rowcount`` is the rows copied."""
        conn = self.connection
        if conn.closed:
            raise InterfaceError(SqlError("the connection is closed", sqlstate="08003"))
        s = conn.session
        try:
            if not conn.autocommit and not s.in_block:
                s.execute("BEGIN")
            res, out = s.copy(sql, data)
        except SqlError as exc:
            raise wrap(exc) from exc
        self._set(res)
        return out

    def executemany(self, sql: str, seq: Sequence[Any]) -> None:
        total = 0
        for params in seq:
            self.execute(sql, params)
            total += max(self.rowcount, 0)
        self.rowcount = total

    def _set(self, res: Result) -> None:
        self.statusmessage = res.tag
        if res.columns is not None:
            self.description = [(c.name, c.type.oid, None, None, None, None, None)
                                for c in res.columns]
        else:
            self.description = None
        self._rows = res.rows
        self._i = 0
        self.rowcount = res.rowcount

    def fetchone(self) -> tuple | None:
        if self._i >= len(self._rows):
            return None
        r = self._rows[self._i]
        self._i += 1
        return r

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        k = size or self.arraysize
        out = self._rows[self._i:self._i + k]
        self._i += len(out)
        return out

    def fetchall(self) -> list[tuple]:
        out = self._rows[self._i:]
        self._i = len(self._rows)
        return out

    def __iter__(self) -> Iterator[tuple]:
        while (r := self.fetchone()) is not None:
            yield r

    def close(self) -> None:
        self._closed = True

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Connection:
    Error = Error
    DatabaseError = DatabaseError
    IntegrityError = IntegrityError
    ProgrammingError = ProgrammingError
    OperationalError = OperationalError
    DataError = DataError
    NotSupportedError = NotSupportedError
    InterfaceError = InterfaceError
    InternalError = InternalError

    def __init__(self, sdb: SqlDatabase, user: str, owns: bool):
        self.sdb = sdb
        self.session: Session = sdb.connect(user)
        self._owns = owns
        self.autocommit = False
        self.closed = False

    def _run(self, sql: str, params: list[Any]) -> list[Result]:
        if self.closed:
            raise InterfaceError(SqlError("the connection is closed", sqlstate="08003"))
        s = self.session
        try:
            if not self.autocommit and not s.in_block:
                s.execute("BEGIN")
            return s.execute(sql, params)
        except SqlError as exc:
            raise wrap(exc) from exc

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
                ) -> Cursor:
        return self.cursor().execute(sql, params)

    def commit(self) -> None:
        if self.session.in_block:
            try:
                self.session.execute("COMMIT")
            except SqlError as exc:
                raise wrap(exc) from exc

    def rollback(self) -> None:
        if self.session.in_block:
            self.session.execute("ROLLBACK")

    def close(self) -> None:
        if self.closed:
            return
        self.session.close()
        self.closed = True
        if self._owns:
            self.sdb.close()

    @property
    def notifies(self) -> list[tuple[str, str]]:
        return self.session.notifications

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


def connect(path: str | None = None, *, user: str = "cairn", database: SqlDatabase | None = None,
            **options: Any) -> Connection:
    """A DB-API connection: to the database in directory ``path`` (None: in memory), or to an
    already open :class:`SqlDatabase` (several connections share one database)."""
    if database is not None:
        return Connection(database, user, owns=False)
    return Connection(SqlDatabase.open(path, **options), user, owns=True)
