"""One client connection: PostgreSQL's backend state machine over a socket.

States (docs/pgwire.md draws them): startup (SSLRequest / GSSENCRequest / CancelRequest /
StartupMessage), authentication (trust, password, md5, SCRAM-SHA-256, chosen by the hba rules),
then the query loop: simple query (``Q``: every statement of the string, one ReadyForQuery) and
the extended protocol (Parse/Bind/Describe/Execute/Close, then Sync; after an error every message
up to the next Sync is skipped). ReadyForQuery carries the transaction status: ``I`` idle, ``T``
in a block, ``E`` in a failed block.

Output is buffered and written at ReadyForQuery, Flush, a full buffer, or before the server
blocks on input, so one round trip costs one ``send``. A statement runs on this connection's
thread: a statement waiting for a lock blocks only its own client.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cairn.pgwire import protocol as p
from cairn.pgwire import scram
from cairn.pgwire.hba import choose
from cairn.pgwire.values import decode_param, encode_row, encoders, formats_for, resolve_type
from cairn.sql import Result, SqlError, parse
from cairn.sql import types as T

if TYPE_CHECKING:
    from cairn.pgwire.server import PgServer

# ParameterStatus names PostgreSQL reports (GUC_REPORT), and the session setting behind each.
REPORTED = {
    "application_name": "application_name",
    "client_encoding": "client_encoding",
    "DateStyle": "datestyle",
    "default_transaction_read_only": "default_transaction_read_only",
    "integer_datetimes": "integer_datetimes",
    "IntervalStyle": "intervalstyle",
    "server_encoding": "server_encoding",
    "server_version": "server_version",
    "standard_conforming_strings": "standard_conforming_strings",
    "TimeZone": "timezone",
}
UTF8_NAMES = {"utf8", "utf-8", "unicode"}
NOTIFY_POLL = 0.05  # seconds between looks at a listening session's queue while idle
DESCRIBE_CACHE = 256  # statements whose Describe answer a connection remembers
CANCEL_WAIT = 5.0  # seconds a CancelRequest waits for a received command to start


class Closed(Exception):
    """The client went away (EOF or a reset): nothing more can be sent."""


class Fatal(Exception):
    """A FATAL error: sent, then the connection closes."""

    def __init__(self, sqlstate: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.sqlstate, self.message, self.hint = sqlstate, message, hint


@dataclass
class Prepared:
    sql: str
    declared: list[T.SqlType | None]
    param_types: list[T.SqlType | None] | None = None  # after describe
    columns: list[Any] | None = None
    described: bool = False
    empty: bool = False
    tx_kind: str | None = None  # "begin", "commit"... for transaction control statements


@dataclass
class Portal:
    stmt: Prepared
    params: list[Any]
    result_formats: list[int]
    result: Result | None = None
    executed: bool = False
    pos: int = 0
    types: list[T.SqlType] | None = None  # the column types of the RowDescription sent
    encs: list[Any] = field(default_factory=list)


class Connection:
    def __init__(self, server: PgServer, sock: socket.socket, addr: str, pid: int):
        self.server = server
        self.cfg = server.config
        self.sock: Any = sock
        self.addr = addr
        self.conn_id = pid  # the server's own number for this socket
        self.pid = pid  # BackendKeyData's process ID: the session's pid once there is one
        self.secret = os.urandom(4)
        self.inbuf = bytearray()
        self.out: list[bytes] = []
        self.outlen = 0
        self.ssl = False
        self.session: Any = None
        self.user = ""
        self.database = ""
        self.statements: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.skipping = False
        self.busy = False
        self.reported: dict[str, str] = {}
        self.admitted = False
        self.last_kind = b""
        self.describe_cache: dict[Any, tuple[list[Any], Any]] = {}
        self.implicit = False  # an extended-protocol implicit transaction is open

    # -- bytes in and out ------------------------------------------------------------------
    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, OSError) as exc:
            if isinstance(exc, TimeoutError | socket.timeout):
                raise
            raise Closed from exc
        if not data:
            raise Closed
        self.inbuf += data

    def read_exact(self, n: int) -> bytes:
        while len(self.inbuf) < n:
            self._fill()
        b = bytes(self.inbuf[:n])
        del self.inbuf[:n]
        return b

    def read_message(self) -> Any:
        if len(self.inbuf) < 5:
            self.flush()
            self._wait_input()
        head = self.read_exact(5)
        kind, length = head[:1], struct.unpack("!i", head[1:])[0]
        self.last_kind = kind
        p.check_length(length, self.cfg.max_message)
        if len(self.inbuf) < length - 4:
            self.flush()
        return p.parse_message(kind, self.read_exact(length - 4))

    def _wait_input(self) -> None:
        """Block until input. While idle outside a transaction, deliver notifications; idle
        inside one longer than idle_in_transaction_session_timeout: FATAL 25P03."""
        s = self.session
        since = time.monotonic()
        while len(self.inbuf) < 5:
            if s is None:
                self._fill()
                continue
            limit = _ms(s.settings.get("idle_in_transaction_session_timeout", "0")) / 1000 \
                if s.in_block else 0.0
            listening = bool(s.listening) and not s.in_block
            if not listening and not limit:
                self._fill()
                continue
            if listening and s.notifications:
                self._send_notifications()
                self.flush()
            if self.ssl and self.sock.pending():
                self._fill()
                continue
            wait = NOTIFY_POLL if listening else max(0.0, since + limit - time.monotonic())
            ready, _, _ = select.select([self.sock], [], [], wait)
            if ready:
                self._fill()
            elif limit and time.monotonic() - since >= limit:
                raise Fatal("25P03", "terminating connection due to idle-in-transaction "
                                     "timeout")

    def send(self, b: bytes) -> None:
        self.out.append(b)
        self.outlen += len(b)
        if self.outlen >= 65536:
            self.flush()

    def flush(self) -> None:
        if not self.out:
            return
        data = b"".join(self.out)
        self.out.clear()
        self.outlen = 0
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise Closed from exc

    # -- the whole life ----------------------------------------------------------------------
    def run(self) -> None:
        try:
            if self._startup():
                self._loop()
        except Closed:
            pass
        except TimeoutError:
            pass  # authentication_timeout: PostgreSQL closes without a word too
        except p.ProtocolViolation as exc:
            self._fatal(exc.sqlstate, exc.message)
        except Fatal as exc:
            self._fatal(exc.sqlstate, exc.message, exc.hint)
        except Exception as exc:  # a bug of ours: the client gets an error, never a traceback
            self._fatal("XX000", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self._cleanup()

    def _fatal(self, sqlstate: str, message: str, hint: str | None = None) -> None:
        try:
            self.send(p.error_response("FATAL", sqlstate, message, hint=hint))
            self.flush()
        except (Closed, OSError):
            pass

    def _cleanup(self) -> None:
        if self.session is not None:
            with contextlib.suppress(Exception):
                self.session.close()  # rolls back an open transaction
        self.server.release(self)
        if self.ssl:  # close_notify, as PostgreSQL: libpq reads a bare EOF as an SSL error
            with contextlib.suppress(OSError, ValueError):
                self.sock.settimeout(1.0)
                self.sock = self.sock.unwrap()
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- startup and authentication ----------------------------------------------------------
    def _startup(self) -> bool:
        self.sock.settimeout(self.cfg.auth_timeout)
        while True:
            length = struct.unpack("!i", self.read_exact(4))[0]
            if not 8 <= length <= p.MAX_STARTUP_PACKET:
                raise p.ProtocolViolation("invalid length of startup packet")
            pkt = p.parse_startup(self.read_exact(length - 4))
            if isinstance(pkt, p.SslRequest):
                if self.ssl:
                    raise p.ProtocolViolation("SSL request received on an encrypted connection")
                if self.server.tls_context is None:
                    self.sock.sendall(b"N")
                    continue
                if self.inbuf:
                    raise p.ProtocolViolation("received unencrypted data after SSL request")
                self.sock.sendall(b"S")
                self.sock = self.server.tls_context.wrap_socket(self.sock, server_side=True)
                self.ssl = True
                continue
            if isinstance(pkt, p.GssEncRequest):
                self.sock.sendall(b"N")
                continue
            if isinstance(pkt, p.CancelRequest):
                self.server.cancel(pkt.pid, pkt.secret)
                return False
            break
        if pkt.version != p.PROTOCOL_3_0 or pkt.unknown_options:
            self.send(p.negotiate_protocol_version(0, pkt.unknown_options))
        params = pkt.params
        self.user = params.get("user", "")
        if not self.user:
            raise Fatal("28000", "no PostgreSQL user name specified in startup packet")
        self.database = params.get("database") or self.user
        if "replication" in params and params["replication"] not in ("false", "0", "off", "no"):
            raise Fatal("0A000", "cairn does not serve replication connections")
        if not self.server.admit(self):
            raise Fatal("53300", "sorry, too many clients already")
        self.admitted = True
        self._authenticate()
        if self.database != self.server.sdb.name:
            raise Fatal("3D000", f'database "{self.database}" does not exist')
        try:
            self.session = self.server.sdb.connect(self.user)  # the role must exist, log in
        except SqlError as exc:
            raise Fatal(exc.sqlstate, exc.message, exc.hint) from None
        if hasattr(self.session, "client_addr"):
            self.session.client_addr = self.addr  # pg_stat_activity.client_addr
        # the session's pid is the one pg_stat_activity shows: BackendKeyData names it too
        self.pid = getattr(self.session, "pid", self.pid)
        self._apply_startup_settings(params)
        self.send(p.AUTH_OK)
        self._report_parameters(initial=True)
        self.send(p.backend_key_data(self.pid, self.secret))
        self.sock.settimeout(None)
        self.server.register(self)
        self._ready()
        return True

    def _apply_startup_settings(self, params: dict[str, str]) -> None:
        settings: list[tuple[str, str]] = []
        for key, value in params.items():
            if key in ("user", "database", "replication"):
                continue
            if key == "options":
                settings.extend(parse_options(value))
            else:
                settings.append((key, value))
        for name, value in settings:
            lname = name.lower()
            if lname == "client_encoding":
                if value.strip("'").lower() not in UTF8_NAMES:
                    raise Fatal("22023", f'invalid value for parameter "client_encoding": '
                                         f'"{value}"', hint="cairn speaks UTF8 only.")
                continue
            try:
                self.session._set(lname, value)
            except SqlError as exc:
                raise Fatal(exc.sqlstate, exc.message, exc.hint) from None

    def _auth_message(self) -> bytes:
        msg = self.read_message()
        if not isinstance(msg, p.AuthData):
            raise Fatal("08P01", "expected password response, got message type "
                                 f"{type(msg).__name__}")
        return msg.data

    def _authenticate(self) -> None:
        host = self.addr
        rule = choose(self.server.rules, self.database, self.user, host, self.ssl)
        enc = "SSL encryption" if self.ssl else "no encryption"
        where = f'host "{host}", user "{self.user}", database "{self.database}", {enc}'
        if rule is None:
            raise Fatal("28000", f"no pg_hba.conf entry for {where}")
        method = rule.method
        if method == "trust":
            return
        if method == "reject":
            raise Fatal("28000", f"pg_hba.conf rejects connection for {where}")
        failed = Fatal("28P01", f'password authentication failed for user "{self.user}"')
        secret = self.server.secret_for(self.user)
        if method == "md5" and secret is not None and scram.parse_verifier(secret) is not None:
            method = "scram-sha-256"  # as PostgreSQL: an md5 rule with a SCRAM secret uses SCRAM
        if method == "password":
            self.send(p.AUTH_CLEARTEXT)
            self.flush()
            password = _password(self._auth_message())
            if secret is None or not scram.check_plain(password, self.user, secret):
                raise failed
            return
        if method == "md5":
            salt = os.urandom(4)
            self.send(p.auth_md5(salt))
            self.flush()
            answer = _password(self._auth_message())
            if secret is None:
                raise failed
            stored = secret if secret.startswith("md5") and len(secret) == 35 \
                else scram.md5_hash(secret, self.user)
            if not hmac.compare_digest(answer, scram.md5_response(stored, salt)):
                raise failed
            return
        verifier = scram.parse_verifier(secret) if secret is not None else None
        exchange = scram.ScramServer(verifier, self.user, mock_key=self.server.mock_key)
        self.send(p.auth_sasl([scram.MECHANISM]))
        self.flush()
        r = p.Reader(self._auth_message())
        mechanism = r.cstring()
        n = r.int32()
        data = r.rest()
        if n != len(data):
            raise p.ProtocolViolation("invalid SASLInitialResponse length")
        try:
            self.send(p.auth_sasl_continue(exchange.first(mechanism, data)))
            self.flush()
            final = exchange.final(self._auth_message())
        except scram.ScramError as exc:
            if exc.sqlstate == "28P01":
                raise failed from None
            raise Fatal(exc.sqlstate, exc.message) from None
        self.send(p.auth_sasl_final(final))

    def _report_parameters(self, initial: bool = False) -> None:
        s = self.session
        values = {name: s.settings.get(key, "") for name, key in REPORTED.items()}
        values["is_superuser"] = "on"
        values["session_authorization"] = s.session_user
        values["in_hot_standby"] = "off"
        for name, value in values.items():
            if initial or self.reported.get(name) != value:
                self.reported[name] = value
                self.send(p.parameter_status(name, value))

    def _send_notifications(self) -> None:
        s = self.session
        while s.notifications:
            channel, payload, pid = s.notifications.pop(0)
            self.send(p.notification(pid, channel, payload))

    def _ready(self) -> None:
        s = self.session
        self._report_parameters()
        if s.notifications and not s.in_block:
            self._send_notifications()
        status = b"I" if not s.in_block else (b"E" if s.failed else b"T")
        if status == b"I":
            self.portals.clear()  # portals live until their transaction ends
        self.send(p.ready_for_query(status))
        self.flush()

    # -- the query loop ---------------------------------------------------------------------
    def _loop(self) -> None:
        handlers = {
            p.Query: self._on_query, p.Parse: self._on_parse, p.Bind: self._on_bind,
            p.Describe: self._on_describe, p.Execute: self._on_execute,
            p.Close: self._on_close,
        }
        while True:
            try:
                msg = self.read_message()
            except p.ProtocolViolation as exc:
                if exc.fatal:
                    raise
                # a well-framed message with bad content (text not UTF-8): an ERROR
                if self.skipping:
                    continue
                self._error(SqlError(exc.message, sqlstate=exc.sqlstate))
                if self.last_kind == b"Q":
                    self._ready()
                else:
                    self.skipping = True
                continue
            t = type(msg)
            if t is p.Terminate:
                return
            if t is p.Sync:
                self.skipping = False
                self._end_implicit()
                self._ready()
                continue
            if self.skipping:
                continue
            if t is p.Flush:
                self.flush()
                continue
            h = handlers.get(t)
            try:
                if h is None:
                    if t in (p.CopyData, p.CopyDone, p.CopyFail):
                        continue  # PostgreSQL ignores stray copy messages outside COPY
                    raise SqlError(f"{t.__name__} is not supported", sqlstate="0A000")
                h(msg)
            except SqlError as exc:
                self._error(exc)
                if t is p.Query:
                    self._ready()
                else:
                    self.skipping = True
            except (p.ProtocolViolation, Closed, Fatal):
                raise
            except Exception as exc:
                self._error(SqlError(f"internal error: {type(exc).__name__}: {exc}",
                                     sqlstate="XX000"))
                if t is p.Query:
                    self._ready()
                else:
                    self.skipping = True

    def _error(self, exc: SqlError) -> None:
        extra = {k: getattr(exc, k, None) for k in ("detail", "hint", "position", "schema",
                                                   "table", "column", "constraint")}
        self.send(p.error_response("ERROR", exc.sqlstate, exc.message, **extra))

    def _execute(self, sql: str, params: list[Any] | None) -> list[Result]:
        self.busy = True
        try:
            return self.session.execute(sql, params)
        finally:
            self.busy = False
            self._send_notices()

    def _send_notices(self) -> None:
        """Warnings and INFO lines of the statement (NoticeResponse, before its results)."""
        notices = getattr(self.session, "notices", None)
        while notices:
            severity, sqlstate, text = notices.pop(0)
            self.send(p.error_response(severity, sqlstate, text, notice=True))

    def _on_query(self, msg: p.Query) -> None:
        self._end_implicit()  # a Query without the Sync that should have come first
        self.statements.pop("", None)
        self.portals.pop("", None)
        if msg.sql.lstrip()[:10].upper() == "DEALLOCATE" and self._deallocate(msg.sql):
            return
        if msg.sql.lstrip()[:4].upper() == "COPY" and self._copy(msg.sql):
            return
        if ";" in msg.sql.rstrip().rstrip(";") and self._multi(msg.sql):
            return
        results = self._execute(msg.sql, None)
        if not results:
            self.send(p.EMPTY_QUERY)
        for res in results:
            self._send_result(res)
        self._ready()

    def _multi(self, sql: str) -> bool:
        """Several statements in one Query, outside a block and without transaction control:
        one implicit transaction, as PostgreSQL, but each statement's results are sent as it
        completes, so the client sees them before a later statement's error (which rolls
        them all back). False: leave the string to ``Session.execute`` whole."""
        stmts = parse(sql)
        s = self.session
        if len(stmts) < 2 or s.in_block or any(
                type(st.node).__name__ == "TransactionStmt" for st in stmts):
            return False
        s.execute("BEGIN")
        cursor = 0
        try:
            for st in stmts:
                found = sql.find(st.text, cursor)
                start = found if found >= 0 else max(cursor, getattr(st.node, "pos", 0))
                cursor = start + len(st.text)
                try:
                    results = self._execute(st.text, None)
                except SqlError as exc:
                    if exc.position:  # PostgreSQL counts from the start of the whole string
                        exc.position += len(sql[:start])
                    raise
                for res in results:
                    self._send_result(res)
            s.execute("COMMIT")
        except BaseException:
            if s.in_block:
                s.execute("ROLLBACK")
            raise
        self._ready()
        return True

    def _copy(self, sql: str) -> bool:
        """COPY ... FROM STDIN / TO STDOUT (text or csv) in a simple query: the copy
        sub-protocol (CopyInResponse, CopyData*, CopyDone or CopyFail; CopyOutResponse,
        CopyData*, CopyDone) around cairn.sql's ``Session.copy``. False: not one of those."""
        stmts = parse(sql)
        if len(stmts) != 1 or type(stmts[0].node).__name__ != "CopyStmt":
            return False
        node = stmts[0].node
        if node.target not in ("stdin", "stdout"):
            return False  # a server-side file: cairn.sql answers it
        if node.target == "stdout":
            self.busy = True
            try:
                res, out = self.session.copy(sql)
            finally:
                self.busy = False
                self._send_notices()
            self.send(p.copy_out_response(_copy_columns(out or "", node.options)))
            # one CopyData per row, as PostgreSQL (psycopg's rows() relies on it); a CSV
            # field with a newline in it spans two messages, which readers of the stream
            # (psql, copy.read()) do not notice
            data = (out or "").encode()
            start = 0
            while start < len(data):
                end = data.find(b"\n", start)
                end = len(data) if end < 0 else end + 1
                self.send(p.copy_data(data[start:end]))
                start = end
            self.send(p.COPY_DONE)
            self.send(p.command_complete(res.tag))
            self._ready()
            return True
        self.send(p.copy_in_response())
        self.flush()
        chunks: list[bytes] = []
        size = 0
        failed: SqlError | None = None
        while True:
            m = self.read_message()
            if isinstance(m, p.CopyData):
                size += len(m.data)
                if size > self.cfg.max_copy and failed is None:
                    failed = SqlError(f"COPY data larger than {self.cfg.max_copy} bytes",
                                      sqlstate="54000")
                if failed is None:
                    chunks.append(m.data)
            elif isinstance(m, p.CopyDone):
                break
            elif isinstance(m, p.CopyFail):
                raise SqlError(f"COPY from stdin failed: {m.message}", sqlstate="57014")
            elif isinstance(m, p.Flush | p.Sync):
                continue  # ignored during COPY, as PostgreSQL does
            elif isinstance(m, p.Terminate):
                raise Closed
            else:
                raise SqlError(f"unexpected message type {type(m).__name__} during COPY from "
                               "stdin", sqlstate="08P01")
        if failed is not None:
            raise failed
        try:
            text = p.decode_text(b"".join(chunks))
        except p.ProtocolViolation as exc:
            raise SqlError(exc.message, sqlstate=exc.sqlstate) from None
        self.busy = True
        try:
            res, _ = self.session.copy(sql, text)
        finally:
            self.busy = False
            self._send_notices()
        self.send(p.command_complete(res.tag))
        self._ready()
        return True

    def _deallocate(self, sql: str) -> bool:
        """DEALLOCATE of a protocol-level prepared statement (PostgreSQL shares one namespace
        between PREPARE and Parse); False: leave the statement to cairn.sql."""
        stmts = parse(sql)
        if len(stmts) != 1 or type(stmts[0].node).__name__ != "DeallocateStmt":
            return False
        name = stmts[0].node.name
        if name is None:
            self.statements = {k: v for k, v in self.statements.items() if k == ""}
            self.session.prepared.clear()
            tag = "DEALLOCATE ALL"
        else:
            found = self.statements.pop(name, None) or self.session.prepared.pop(name, None)
            if found is None:
                raise SqlError(f'prepared statement "{name}" does not exist', sqlstate="26000")
            tag = "DEALLOCATE"
        self.send(p.command_complete(tag))
        self._ready()
        return True

    def _send_result(self, res: Result) -> None:
        if res.columns is not None:
            types = [c.type for c in res.columns]
            self.send(p.row_description([_field(c.name, c.type, 0) for c in res.columns]))
            encs = encoders(types, [0] * len(types), self.session.ctx)
            send, data_row = self.send, p.data_row
            for row in res.rows:
                send(data_row(encode_row(row, encs)))
        self.send(p.command_complete(res.tag))

    # -- extended protocol ----------------------------------------------------------------------
    def _on_parse(self, msg: p.Parse) -> None:
        if msg.name and msg.name in self.statements:
            raise SqlError(f'prepared statement "{msg.name}" already exists', sqlstate="42P05")
        declared = [resolve_type(o) for o in msg.param_oids]
        stmts = parse(msg.sql)
        if len(stmts) > 1:
            raise SqlError("cannot insert multiple commands into a prepared statement",
                           sqlstate="42601")
        if len(self.statements) >= self.cfg.max_prepared and msg.name:
            raise SqlError(f"too many prepared statements (at most {self.cfg.max_prepared} per "
                           "connection)", sqlstate="53400")
        tx_kind = getattr(stmts[0].node, "kind", None) if stmts and type(
            stmts[0].node).__name__ == "TransactionStmt" else None
        self.statements[msg.name] = Prepared(msg.sql, declared, empty=not stmts,
                                             tx_kind=tx_kind)
        self.send(p.PARSE_COMPLETE)

    def _statement(self, name: str) -> Prepared:
        st = self.statements.get(name)
        if st is None:
            what = f'prepared statement "{name}"' if name else "unnamed prepared statement"
            raise SqlError(f"{what} does not exist", sqlstate="26000")
        return st

    def _describe_statement(self, st: Prepared) -> None:
        """Parameter types and result columns without running the statement."""
        if st.described:
            return
        describe = getattr(self.session, "describe", None)
        if st.empty:
            st.param_types, st.columns = list(st.declared), None
        elif describe is not None:
            # Describing costs more than running a point query (planning in a transaction of
            # its own), and `-M extended` clients describe every statement they send: remember
            # the answer while the catalog and search_path stay the same.
            sdb = self.session.sdb
            key = (st.sql, tuple(t.oid if t else 0 for t in st.declared),
                   getattr(getattr(sdb, "catalog", None), "generation", None),
                   self.session.settings.get("search_path"))
            hit = self.describe_cache.get(key)
            if hit is None:
                d = describe(st.sql, list(st.declared))
                hit = (list(d.param_types), d.columns)
                if not getattr(self.session, "overlay", None) and key[2] is not None:
                    if len(self.describe_cache) >= DESCRIBE_CACHE:
                        self.describe_cache.clear()
                    self.describe_cache[key] = hit
            st.param_types, st.columns = list(hit[0]), hit[1]
        else:
            # Until cairn.sql describes statements: declared types only, columns unknown.
            st.param_types, st.columns = list(st.declared), None
        st.described = True

    def _on_bind(self, msg: p.Bind) -> None:
        st = self._statement(msg.statement)
        if msg.portal and msg.portal in self.portals:
            raise SqlError(f'portal "{msg.portal}" already exists', sqlstate="42P03")
        s = self.session
        if s.failed and s.in_block:
            raise SqlError("current transaction is aborted, commands ignored until end of "
                           "transaction block", sqlstate="25P02")
        n = len(msg.params)
        fmts = formats_for(msg.param_formats, n, "parameter")
        types: list[T.SqlType | None] = list(st.declared) + [None] * (n - len(st.declared))
        if any(f == 1 and t is None for f, t in zip(fmts, types, strict=False)):
            self._describe_statement(st)  # binary values need their type: infer it
            types = list(st.param_types or []) + [None] * n
        expected = len(st.param_types) if st.param_types is not None else len(st.declared)
        if n != expected and (st.described or n < expected):
            raise SqlError(f"bind message supplies {n} parameters, but prepared statement "
                           f'"{msg.statement}" requires {expected}', sqlstate="08P01")
        values = [decode_param(raw, f, t, s.ctx, i + 1)
                  for i, (raw, f, t) in enumerate(zip(msg.params, fmts, types, strict=False))]
        self.portals[msg.portal] = Portal(st, values, msg.result_formats)
        self.send(p.BIND_COMPLETE)

    def _portal(self, name: str) -> Portal:
        portal = self.portals.get(name)
        if portal is None:
            raise SqlError(f'portal "{name}" does not exist', sqlstate="34000")
        return portal

    def _on_describe(self, msg: p.Describe) -> None:
        if msg.kind == "S":
            st = self._statement(msg.name)
            self._describe_statement(st)
            self.send(p.parameter_description([t.oid if t is not None else 0
                                               for t in st.param_types or []]))
            if st.columns:
                self.send(p.row_description([_field(c.name, c.type, 0) for c in st.columns]))
            else:
                self.send(p.NO_DATA)
            return
        portal = self._portal(msg.name)
        columns = self._portal_columns(portal)
        if columns is None:
            self.send(p.NO_DATA)
            return
        fmts = formats_for(portal.result_formats, len(columns), "result")
        portal.types = [c.type for c in columns]
        self.send(p.row_description([_field(c.name, c.type, f)
                                     for c, f in zip(columns, fmts, strict=True)]))

    def _portal_columns(self, portal: Portal) -> list[Any] | None:
        st = portal.stmt
        if st.described and st.columns is not None:
            return st.columns
        if getattr(self.session, "describe", None) is not None and not st.empty:
            self._describe_statement(st)
            return st.columns
        # Without describe: run the portal now, its result has the columns.
        self._run_portal(portal)
        return portal.result.columns if portal.result is not None else None

    def _run_portal(self, portal: Portal) -> None:
        if portal.executed:
            return
        portal.executed = True
        if portal.stmt.empty:
            portal.result = None
            return
        self._begin_implicit(portal.stmt)
        results = self._execute(portal.stmt.sql, portal.params)
        portal.result = results[0] if results else None

    def _on_execute(self, msg: p.Execute) -> None:
        portal = self._portal(msg.portal)
        self._run_portal(portal)
        res = portal.result
        if res is None:
            self.send(p.EMPTY_QUERY)
            return
        if res.columns is None:
            self.send(p.command_complete(res.tag))
            return
        if not portal.encs:
            types = portal.types or [c.type for c in res.columns]
            fmts = formats_for(portal.result_formats, len(types), "result")
            portal.encs = encoders(types, fmts, self.session.ctx)
        rows = res.rows
        start = portal.pos
        end = len(rows) if msg.max_rows <= 0 else min(len(rows), start + msg.max_rows)
        send, data_row, encs = self.send, p.data_row, portal.encs
        for i in range(start, end):
            send(data_row(encode_row(rows[i], encs)))
        portal.pos = end
        if end < len(rows):
            self.send(p.PORTAL_SUSPENDED)
            return
        if start == 0:
            self.send(p.command_complete(res.tag))
        else:
            verb = res.tag.split()[0]
            self.send(p.command_complete(f"{verb} {end - start}"))

    # -- the extended protocol's implicit transaction ----------------------------------------
    def _begin_implicit(self, st: Prepared) -> None:
        """Everything executed up to Sync is one transaction outside BEGIN (PostgreSQL's
        implicit transaction: a pipeline is atomic). When the Sync is already the next message
        (libpq's one statement per Sync) the statement's own transaction is the same thing, and
        cheaper."""
        s = self.session
        if st.tx_kind is not None:
            if self.implicit and st.tx_kind == "begin":
                self.implicit = False  # BEGIN turns the implicit block into an explicit one
            elif self.implicit and st.tx_kind in ("commit", "rollback"):
                self.implicit = False  # it ends the block itself
            return
        if self.implicit or s.in_block:
            return
        if self.inbuf[:1] == b"S":
            return
        s.execute("BEGIN")
        self.implicit = True

    def _end_implicit(self) -> None:
        if not self.implicit:
            return
        self.implicit = False
        s = self.session
        if not s.in_block:
            return
        try:
            s.execute("ROLLBACK" if s.failed else "COMMIT")
        except SqlError as exc:
            self._error(exc)  # a commit-time failure (40001...): reported before ReadyForQuery

    def _on_close(self, msg: p.Close) -> None:
        if msg.kind == "S":
            self.statements.pop(msg.name, None)
        else:
            self.portals.pop(msg.name, None)
        self.send(p.CLOSE_COMPLETE)

    # -- cancel ---------------------------------------------------------------------------------
    def cancel(self, secret: bytes) -> bool:
        """A CancelRequest naming this connection: cancels the running statement, if any."""
        if not hmac.compare_digest(secret, self.secret):
            return False
        s = self.session
        # The command was received (busy) but the session may not have started it yet
        # (parsing): PostgreSQL would still cancel it, so wait for it to start, briefly. This
        # runs on the CancelRequest's own connection thread.
        deadline = time.monotonic() + CANCEL_WAIT
        while self.busy and s is not None:
            if getattr(s, "running", True):
                s.cancel()
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.001)
        return True


def _copy_columns(out: str, options: dict[str, Any]) -> int:
    """CopyOutResponse's column count, read off the first record (Session.copy returns text
    only); clients such as psycopg split rows by it."""
    if not out:
        return 0
    if str(options.get("format", "text")).lower() == "csv":
        import csv
        import io

        delim = str(options.get("delimiter", ","))
        quote = str(options.get("quote", '"'))
        first = next(csv.reader(io.StringIO(out), delimiter=delim, quotechar=quote), [])
        return len(first)
    return out.split("\n", 1)[0].count(str(options.get("delimiter", "\t"))) + 1


def _ms(value: str) -> int:
    """A time setting in milliseconds (PostgreSQL's units; a bare number is ms; bad: 0)."""
    v = value.strip().lower()
    for unit, scale in (("ms", 1), ("min", 60000), ("s", 1000), ("h", 3600000),
                        ("d", 86400000)):
        if v.endswith(unit) and v[:-len(unit)].strip().isdigit():
            return int(v[:-len(unit)].strip()) * scale
    return int(v) if v.isdigit() else 0


def _password(data: bytes) -> str:
    r = p.Reader(data)
    pw = r.cstring()
    r.end()
    if not pw:
        raise Fatal("28P01", "empty password returned by client")
    return pw


def _field(name: str, t: T.SqlType, fmt: int) -> p.FieldDesc:
    return p.FieldDesc(name, t.oid, t.typlen, t.typmod, fmt)


def parse_options(text: str) -> list[tuple[str, str]]:
    """The ``options`` startup parameter: ``-c name=value`` or ``--name=value`` words,
    separated by blanks, a backslash escaping the next character (PostgreSQL's rules)."""
    words: list[str] = []
    cur: list[str] = []
    escape = False
    for ch in text:
        if escape:
            cur.append(ch)
            escape = False
        elif ch == "\\":
            escape = True
        elif ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "-c" and i + 1 < len(words):
            w, i = "--" + words[i + 1], i + 1
        elif w.startswith("-c") and len(w) > 2:
            w = "--" + w[2:]
        if not w.startswith("--") or "=" not in w:
            raise Fatal("42601", f'invalid command-line argument for server process: {w}',
                        hint='Use "-c name=value".')
        name, value = w[2:].split("=", 1)
        out.append((name.replace("-", "_"), value))
        i += 1
    return out
