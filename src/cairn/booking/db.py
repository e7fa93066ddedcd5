"""Connection handling: a psycopg 3 connection pool bound to one schema of one PostgreSQL.

Every connection of the pool gets ``search_path`` set to the service's schema, so tests can
run many isolated services side by side in one database (one schema each).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg_pool import ConnectionPool

from cairn.booking.errors import DatabaseUnavailable
from cairn.booking.schema import check_schema_name

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"

HOW_TO_START = (
    "start PostgreSQL (e.g. `pg_ctlcluster 15 main start`, or "
    "`docker run -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`) "
    "and point {option} / CAIRN_BOOKING_DSN at it"
)


def check_reachable(dsn: str, timeout_s: float = 3.0, option: str = "--dsn") -> None:
    """Raise :class:`DatabaseUnavailable` with instructions when PostgreSQL does not answer;
    ``option`` is the command's DSN option the instructions name."""
    try:
        with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s))) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(
            f"PostgreSQL is not reachable at {dsn} ({first}); "
            + HOW_TO_START.format(option=option)
        ) from exc


@dataclass
class Database:
    """A pool of connections whose ``search_path`` is ``schema``."""

    dsn: str
    schema: str
    min_size: int = 2
    max_size: int = 10
    pool: ConnectionPool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_schema_name(self.schema)
        check_reachable(self.dsn)
        self.pool = ConnectionPool(
            self.dsn,
            min_size=self.min_size,
            max_size=self.max_size,
            kwargs={"options": f"-c search_path={self.schema}"},
            open=True,
            timeout=30.0,
        )
        self.pool.wait(timeout=30.0)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
