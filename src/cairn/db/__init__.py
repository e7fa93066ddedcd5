"""cairn.db: the transactional database (DDIA ch. 7, PostgreSQL internals).

>>> from cairn.db import Database
>>> db = Database.memory()                      # or Database.open(path, engine="lsm")
>>> db.create_table("accounts", primary_key="id")
>>> with db.transaction("serializable") as tx:
...     tx.insert("accounts", {"id": 1, "owner": "ada", "balance": 100})

MVCC with every isolation level, serializability three ways (ssi, 2pl, serial), row, table and
advisory locks with deadlock detection, a WAL with group commit and crash recovery, vacuum.
See docs/transactions.md.
"""

from cairn.db.database import AdvisoryLock, Change, Database, IndexInfo, RowChange
from cairn.db.stats import DatabaseStats, TableStats, VacuumResult
from cairn.db.transaction import Transaction

__all__ = ["AdvisoryLock", "Change", "Database", "DatabaseStats", "IndexInfo", "RowChange",
           "TableStats", "Transaction", "VacuumResult"]
