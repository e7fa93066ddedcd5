"""cairn.pgwire: the PostgreSQL wire protocol (3.0) in front of cairn.sql, so psql, psycopg,
asyncpg, pg8000 and every other PostgreSQL client talk to cairn unchanged.

>>> from cairn.sql import SqlDatabase
>>> from cairn.pgwire import PgServer, ServerConfig
>>> server = PgServer(SqlDatabase.open(None), ServerConfig(port=0))
>>> host, port = server.start()      # psql -h 127.0.0.1 -p PORT cairn
>>> server.stop()

The protocol codec (``protocol``), the values' text and binary forms (``values``), SCRAM-SHA-256
and md5 (``scram``), the pg_hba-like rules (``hba``), TLS (``tls``), one connection's state
machine (``connection``) and the server (``server``). ``cairn sql serve`` runs it; see
docs/pgwire.md.
"""

from cairn.pgwire.hba import HbaError, Rule, parse_rules
from cairn.pgwire.protocol import ProtocolViolation
from cairn.pgwire.scram import make_verifier, md5_hash
from cairn.pgwire.server import PgServer, ServerConfig

__all__ = ["HbaError", "PgServer", "ProtocolViolation", "Rule", "ServerConfig", "make_verifier",
           "md5_hash", "parse_rules"]
