"""cairn.db behind the interface of :mod:`cairn.bench.txn_systems`, opened on disk.

Every benchmark cell gets a fresh database directory (``Database.open(path, engine)``), with
durable commits: a commit returns only after its WAL record is fsync'd (group commit shares one
fsync among concurrent committers), the same promise PostgreSQL makes with
``synchronous_commit = on``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any, TypeVar

from cairn.bench.txn_systems import RETRY_STATES, Abort, Client, Ops, Store, SystemSpec, TableDef
from cairn.db import Database

T = TypeVar("T")


class _CairnOps(Ops):
    __slots__ = ("tx",)

    def __init__(self, tx: Any) -> None:
        self.tx = tx

    def get(self, table: str, key: Any) -> dict[str, Any] | None:
        return self.tx.get(table, key)

    def select_eq(self, table: str, **equal: Any) -> list[dict[str, Any]]:
        return self.tx.select(table, where=equal)

    def update(self, table: str, key: Any, changes: dict[str, Any]) -> None:
        self.tx.update(table, key, changes)


class _CairnClient(Client):
    def __init__(self, db: Database, spec: SystemSpec) -> None:
        self.db = db
        self.isolation = spec.isolation
        self.method = spec.method or "ssi"

    def attempt(self, body: Callable[[Ops], T], read_only: bool = False) -> T:
        tx = self.db.begin(self.isolation, self.method, read_only=read_only)
        try:
            result = body(_CairnOps(tx))
            tx.commit()
            return result
        except BaseException as exc:
            tx.rollback()  # a no-op when the error already aborted it
            state = getattr(exc, "sqlstate", None)
            if state in RETRY_STATES:
                raise Abort(state, str(exc)) from None
            raise


class CairnStore(Store):
    def __init__(self, path: str, engine: str = "lsm") -> None:
        self.path = path
        self.db = Database.open(path, engine=engine)

    def load(self, table: TableDef, rows: list[dict[str, Any]]) -> None:
        self.db.create_table(table.name, primary_key=table.primary_key)
        for ix in table.indexes:
            self.db.create_index(table.name, [ix])
        with self.db.transaction("read committed") as tx:
            for r in rows:
                tx.insert(table.name, r)

    def client(self, spec: SystemSpec) -> Client:
        return _CairnClient(self.db, spec)

    def scan(self, table: TableDef) -> list[dict[str, Any]]:
        with self.db.transaction("repeatable read") as tx:
            return tx.select(table.name)

    def stats(self) -> dict[str, Any]:
        st = self.db.stats()
        return st.to_dict() if hasattr(st, "to_dict") else {}

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            shutil.rmtree(self.path, ignore_errors=True)
