"""The wire server: a listening socket, one thread per client, the table of backends that
CancelRequest and max_connections consult.

Threads, not asyncio: cairn.sql's ``Session.execute`` is synchronous and may wait on a lock for
as long as the holder keeps it; on its own thread that wait blocks only its client (PostgreSQL
has a process per connection for the same reason). Backend ids (PostgreSQL's "process ID" in
BackendKeyData) are numbers of this server, with a random 32-bit secret each.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cairn.pgwire import tls
from cairn.pgwire.connection import Connection
from cairn.pgwire.hba import load_rules


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 5433
    data_dir: str | None = None  # where the TLS certificate is kept (and the database)
    hba_file: str | None = None  # None: trust on loopback, scram-sha-256 elsewhere
    tls: bool = True  # False: SSLRequest answered 'N'
    tls_cert: str | None = None
    tls_key: str | None = None
    max_connections: int = 100
    max_message: int = 64 << 20  # bytes of one message body (PostgreSQL: 1 GiB)
    max_prepared: int = 10000
    max_copy: int = 256 << 20  # bytes of one COPY FROM STDIN
    auth_timeout: float = 60.0  # PostgreSQL's authentication_timeout
    # user -> stored secret ("SCRAM-SHA-256$...", "md5...", or a plain password); default:
    # the database's roles (``SqlDatabase.role_secret``) once cairn.sql has them.
    secrets: Callable[[str], str | None] | None = None


class PgServer:
    """``PgServer(sdb, config).start()`` binds and serves until ``stop()``."""

    def __init__(self, sdb: Any, config: ServerConfig | None = None):
        self.sdb = sdb
        self.config = config or ServerConfig()
        self.rules = load_rules(self.config.hba_file)
        self.mock_key = os.urandom(16)
        self.tls_context = self._tls()
        self._lock = threading.Lock()
        self._conns: dict[int, Connection] = {}  # admitted or in startup
        self._registered: dict[int, Connection] = {}  # after startup: cancel targets
        self._threads: set[threading.Thread] = set()
        self._next_pid = 1000 + int.from_bytes(os.urandom(2), "big")
        self._sock: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._stopping = threading.Event()
        self.admitted = 0

    def _tls(self) -> Any:
        c = self.config
        if not c.tls:
            return None
        if c.tls_cert and c.tls_key:
            return tls.server_context(c.tls_cert, c.tls_key)
        if c.data_dir:
            cert, key = tls.ensure_certificate(c.data_dir)
            return tls.server_context(cert, key)
        with tempfile.TemporaryDirectory(prefix="cairn-pgwire-tls-") as d:
            cert, key = tls.ensure_certificate(d)  # in memory: a throwaway certificate
            return tls.server_context(cert, key)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> tuple[str, int]:
        host = self.config.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, self.config.port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.settimeout(0.2)
        self._sock = sock
        self._accepting = threading.Thread(target=self._accept_loop, name="pgwire-accept",
                                           daemon=True)
        self._accepting.start()
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        assert self._sock is not None
        host, port = self._sock.getsockname()[:2]
        return host, port

    def dsn(self, user: str) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"postgresql://{user}@{shown}:{port}/{self.sdb.name}"

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                client, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.settimeout(None)
            with self._lock:
                pid = self._next_pid
                self._next_pid += 1
                conn = Connection(self, client, addr[0], pid)
                self._conns[conn.conn_id] = conn
                t = threading.Thread(target=self._serve, args=(conn,), name=f"pgwire-{pid}",
                                     daemon=True)
                self._threads.add(t)
            t.start()

    def _serve(self, conn: Connection) -> None:
        try:
            conn.run()
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every client connection (their transactions roll back)."""
        self._stopping.set()
        if self._accepting is not None:
            self._accepting.join(timeout)
        if self._sock is not None:
            self._sock.close()
        with self._lock:
            conns = list(self._conns.values())
            threads = list(self._threads)
        for c in conns:
            with contextlib.suppress(OSError):
                c.sock.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join(timeout)

    def __enter__(self) -> PgServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the backend table ------------------------------------------------------------------
    def admit(self, conn: Connection) -> bool:
        """max_connections: PostgreSQL's 53300 beyond it (counted after the startup packet)."""
        with self._lock:
            if self.admitted >= self.config.max_connections:
                return False
            self.admitted += 1
            return True

    def register(self, conn: Connection) -> None:
        with self._lock:
            self._registered[conn.pid] = conn

    def release(self, conn: Connection) -> None:
        with self._lock:
            self._conns.pop(conn.conn_id, None)
            if self._registered.get(conn.pid) is conn:
                del self._registered[conn.pid]
            if conn.admitted:
                self.admitted -= 1
                conn.admitted = False

    def cancel(self, pid: int, secret: bytes) -> bool:
        with self._lock:
            conn = self._registered.get(pid)
        if conn is None:
            hmac.compare_digest(secret, b"\0\0\0\0")  # same work for unknown ids
            return False
        return conn.cancel(secret)

    def connections(self) -> list[dict[str, Any]]:
        """What pg_stat_activity would show of each backend (pid, user, address, state)."""
        with self._lock:
            conns = list(self._registered.values())
        out = []
        for c in conns:
            s = c.session
            state = "active" if c.busy else ("idle in transaction" if s is not None and
                                             s.in_block else "idle")
            out.append({"pid": c.pid, "user": c.user, "database": c.database,
                        "client_addr": c.addr, "ssl": c.ssl, "state": state})
        return out

    def secret_for(self, user: str) -> str | None:
        if self.config.secrets is not None:
            return self.config.secrets(user)
        role_secret = getattr(self.sdb, "role_secret", None)
        return role_secret(user) if role_secret is not None else None
