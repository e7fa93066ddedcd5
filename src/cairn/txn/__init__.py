"""cairn.txn: transaction internals below the database (DDIA ch. 7, PostgreSQL's lmgr/predicate).

* :mod:`cairn.txn.errors`: the typed errors with their SQLSTATE codes;
* :mod:`cairn.txn.locks`: the lock manager (modes, FIFO wait queues, timeouts, deadlock
  detection on the wait-for graph);
* :mod:`cairn.txn.mvcc`: tuple versions, snapshots and the visibility rules;
* :mod:`cairn.txn.ssi`: serializable snapshot isolation's rw-antidependency tracker.

:mod:`cairn.db` builds the database on these; this package imports nothing above storage.
"""
