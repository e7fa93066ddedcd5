"""cairn.sql: PostgreSQL's dialect of SQL, executed on cairn.db's MVCC, locks and isolation.

>>> import cairn.sql
>>> conn = cairn.sql.connect()          # in memory; connect("./data") for a directory
>>> cur = conn.cursor()
>>> cur.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
>>> cur.execute("INSERT INTO t VALUES (%s, %s)", (1, "ada"))

A statement goes lexer -> parser (PostgreSQL's grammar, its error positions) -> planner
(names, types, access paths) -> executor nodes reading and writing cairn.db through a
transaction. See docs/sql.md.
"""

from cairn.sql.dbapi import (
    Connection,
    Cursor,
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    apilevel,
    connect,
    paramstyle,
    threadsafety,
)
from cairn.sql.errors import SqlError
from cairn.sql.parser import parse
from cairn.sql.session import Column, Result, Session, SqlDatabase

__all__ = ["Column", "Connection", "Cursor", "DataError", "DatabaseError", "Error",
           "IntegrityError", "InterfaceError", "InternalError", "NotSupportedError",
           "OperationalError", "ProgrammingError", "Result", "Session", "SqlDatabase",
           "SqlError", "apilevel", "connect", "paramstyle", "parse", "threadsafety"]
