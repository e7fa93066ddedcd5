"""cairn.db.lab: the anomaly lab (DDIA ch. 7): interleaved sessions run side by side on cairn.db
and on the real PostgreSQL.

A scenario file (``*.spec``, see :mod:`cairn.db.lab.spec`) names a setup, sessions made of named
steps and a permutation, in the spirit of PostgreSQL's isolation tester specs. The driver
(:mod:`cairn.db.lab.driver`) runs every session on its own thread so that blocking is real,
prints each step's result and whether it waited or failed (with the SQLSTATE), and the same
file runs against cairn.db (:mod:`cairn.db.lab.cairn_backend`) and PostgreSQL through psycopg
(:mod:`cairn.db.lab.pg_backend`). :mod:`cairn.db.lab.anomalies` turns the six anomaly specs into
the matrix of ``cairn txn anomalies``: occurred or prevented, and how, per isolation level.
"""
