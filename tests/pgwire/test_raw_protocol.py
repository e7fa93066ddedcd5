"""The protocol by hand: startup variants, the extended protocol's corners, and hostile input.
Every violation gets PostgreSQL's FATAL ErrorResponse and a closed connection, and the server
keeps serving everyone else (checked after each)."""

from __future__ import annotations

import struct

import pytest

from cairn.pgwire.protocol import CANCEL_REQUEST, GSSENC_REQUEST, PROTOCOL_3_2, SSL_REQUEST
from tests.pgwire.rawclient import Raw, cstr, error_of, kinds, msg, startup_packet


def still_serving(pg) -> None:
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("SELECT 41 + 1")))
    out = c.until_ready()
    assert kinds(out) == "TDCZ"
    assert out[1][1].endswith(b"42")
    c.close()


def fatal(c: Raw) -> dict[str, str]:
    k, body = c.recv()
    assert k == "E"
    from cairn.pgwire.protocol import parse_error_fields

    f = parse_error_fields(body)
    assert f["S"] == "FATAL"
    assert c.closed()
    return f


def test_startup_sends_parameters_key_and_ready(pg):
    c = Raw(pg.host, pg.port)
    out = c.login(application_name="rawtest", options="-c TimeZone=Europe/Paris")
    assert out[0] == ("R", struct.pack("!i", 0))
    params = {}
    for k, body in out:
        if k == "S":
            name, value, _ = body.split(b"\0")
            params[name.decode()] = value.decode()
    for name in ("server_version", "server_encoding", "client_encoding", "DateStyle",
                 "TimeZone", "integer_datetimes", "standard_conforming_strings",
                 "is_superuser", "session_authorization", "application_name"):
        assert name in params
    assert params["TimeZone"] == "Europe/Paris"
    assert params["application_name"] == "rawtest"
    assert params["session_authorization"] == "cairn"
    assert "K" in kinds(out)
    assert out[-1] == ("Z", b"I")
    c.send(msg(b"Q", cstr("SET application_name = 'other'")))
    out = c.until_ready()
    assert ("S", b"application_name\0other\0") in out  # changes are reported


def test_simple_query_statuses_and_empty_query(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("")))
    assert kinds(c.until_ready()) == "IZ"
    c.send(msg(b"Q", cstr("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);"
                          " SELECT id FROM t ORDER BY id")))
    out = c.until_ready()
    assert kinds(out) == "CCTDDCZ"
    assert out[1][1] == b"INSERT 0 2\0"
    c.send(msg(b"Q", cstr("BEGIN")))
    assert c.until_ready()[-1] == ("Z", b"T")
    c.send(msg(b"Q", cstr("SELECT 1/0")))
    out = c.until_ready()
    assert error_of(out)["C"] == "22012"
    assert out[-1] == ("Z", b"E")
    c.send(msg(b"Q", cstr("SELECT 1")))
    out = c.until_ready()
    assert error_of(out)["C"] == "25P02"
    c.send(msg(b"Q", cstr("ROLLBACK")))
    out = c.until_ready()
    assert out == [("C", b"ROLLBACK\0"), ("Z", b"I")]


def test_error_fields_carry_position(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("SELECT * FROM nowhere")))
    f = error_of(c.until_ready())
    assert f["S"] == "ERROR" and f["V"] == "ERROR"
    assert f["C"] == "42P01"
    assert f["M"] == 'relation "nowhere" does not exist'
    assert f["P"] == "15"


def extended(c: Raw, sql: str, params: list[bytes | None] = (), *, name: str = "",
             max_rows: int = 0, result_formats: tuple[int, ...] = ()) -> None:
    body = cstr(name) + cstr(sql) + struct.pack("!h", 0)
    c.send(msg(b"P", body))
    b = cstr("") + cstr(name) + struct.pack("!hh", 0, len(params))
    for p in params:
        b += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    b += struct.pack("!h", len(result_formats)) + b"".join(struct.pack("!h", f)
                                                          for f in result_formats)
    c.send(msg(b"B", b))
    c.send(msg(b"D", b"P" + cstr("")))
    c.send(msg(b"E", cstr("") + struct.pack("!i", max_rows)))


def test_extended_row_limit_suspends_portal(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("BEGIN")))
    c.until_ready()
    extended(c, "SELECT * FROM generate_series(1, 5) AS g", max_rows=2)
    c.send(msg(b"E", cstr("") + struct.pack("!i", 2)))
    c.send(msg(b"E", cstr("") + struct.pack("!i", 2)))
    c.send(msg(b"S"))
    out = c.until_ready()
    assert kinds(out) == "12TDDsDDsDCZ"
    assert out[-2] == ("C", b"SELECT 1\0")
    rows = [body[6:] for k, body in out if k == "D"]
    assert rows == [b"1", b"2", b"3", b"4", b"5"]


def test_binary_result_format(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    extended(c, "SELECT 7::int8 AS a, 'x'::text AS b", result_formats=(1,))
    c.send(msg(b"S"))
    out = c.until_ready()
    assert kinds(out) == "12TDCZ"
    d = out[3][1]
    assert d == struct.pack("!hi", 2, 8) + struct.pack("!q", 7) + struct.pack("!i", 1) + b"x"


def test_error_skips_until_sync(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    extended(c, "SELECT 1 / g FROM generate_series(0, 1) AS g")
    extended(c, "SELECT 2")  # skipped: the error discards everything up to Sync
    c.send(msg(b"S"))
    out = c.until_ready()
    assert kinds(out) == "12TEZ"
    assert error_of(out)["C"] == "22012"
    extended(c, "SELECT $1::int + 1", [b"41"])
    c.send(msg(b"S"))
    out = c.until_ready()
    assert kinds(out) == "12TDCZ"
    assert out[3][1].endswith(b"42")


def test_named_statements_and_portals(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"P", cstr("s1") + cstr("SELECT $1::int * 2") + struct.pack("!hI", 1, 23)))
    c.send(msg(b"P", cstr("s1") + cstr("SELECT 1") + struct.pack("!h", 0)))
    c.send(msg(b"S"))
    out = c.until_ready()
    assert kinds(out) == "1EZ"
    assert error_of(out)["C"] == "42P05"
    c.send(msg(b"D", b"S" + cstr("s1")))
    c.send(msg(b"B", cstr("p1") + cstr("s1") + struct.pack("!hhh", 1, 1, 1) +
               struct.pack("!ii", 4, 21) + struct.pack("!h", 0)))
    c.send(msg(b"E", cstr("p1") + struct.pack("!i", 0)))
    c.send(msg(b"C", b"P" + cstr("p1")))
    c.send(msg(b"C", b"S" + cstr("s1")))
    c.send(msg(b"D", b"S" + cstr("s1")))
    c.send(msg(b"S"))
    out = c.until_ready()
    assert kinds(out) == "tT2DC33EZ"
    assert out[0][1] == struct.pack("!hI", 1, 23)
    assert out[3][1].endswith(b"42")
    assert error_of(out)["C"] == "26000"


def test_portal_missing_and_bind_count(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"E", cstr("nope") + struct.pack("!i", 0)))
    c.send(msg(b"S"))
    out = c.until_ready()
    assert error_of(out)["C"] == "34000"
    c.send(msg(b"P", cstr("") + cstr("SELECT $1::int") + struct.pack("!h", 0)))
    c.send(msg(b"D", b"S" + cstr("")))
    c.send(msg(b"B", cstr("") + cstr("") + struct.pack("!hhh", 0, 0, 0)))
    c.send(msg(b"S"))
    out = c.until_ready()
    assert kinds(out) == "1tTEZ"
    f = error_of(out)
    assert f["S"] == "ERROR" and f["C"] == "08P01"  # as PostgreSQL: an ERROR, not FATAL
    assert f["M"] == 'bind message supplies 0 parameters, but prepared statement "" requires 1'



def test_ssl_and_gssenc_refused_then_startup(make_server):
    pg = make_server(tls=False)
    c = Raw(pg.host, pg.port)
    c.send(struct.pack("!ii", 8, GSSENC_REQUEST))
    assert c.byte() == b"N"
    c.send(struct.pack("!ii", 8, SSL_REQUEST))
    assert c.byte() == b"N"
    out = c.login()
    assert out[-1] == ("Z", b"I")


def test_protocol_3_2_is_negotiated_down(pg):
    c = Raw(pg.host, pg.port)
    body = struct.pack("!i", PROTOCOL_3_2) + cstr("user") + cstr("cairn") + cstr("database") + \
        cstr("cairn") + cstr("_pq_.x") + \
        cstr("1") + b"\0"
    c.send(struct.pack("!i", len(body) + 4) + body)
    k, body = c.recv()
    assert k == "v"
    assert body == struct.pack("!ii", 0, 1) + cstr("_pq_.x")
    assert c.until_ready()[-1] == ("Z", b"I")


def test_unknown_user_database_and_protocol(pg):
    c = Raw(pg.host, pg.port)
    c.send(startup_packet(database="elsewhere"))
    f = fatal(c)
    assert f["C"] == "3D000"
    c = Raw(pg.host, pg.port)
    c.send(struct.pack("!ii", 8, 2 << 16))
    assert fatal(c)["C"] == "0A000"
    c = Raw(pg.host, pg.port)
    body = struct.pack("!i", 3 << 16) + cstr("database") + cstr("cairn") + b"\0"
    c.send(struct.pack("!i", len(body) + 4) + body)
    assert fatal(c)["C"] == "28000"
    still_serving(pg)


@pytest.mark.parametrize("payload", [
    struct.pack("!i", 1 << 30) + b"\0\0",                      # a 1 GiB startup packet
    struct.pack("!ii", 4, 3 << 16),                             # shorter than its own header
    msg(b"Q", cstr("SELECT 1")),                                # a query before startup
    struct.pack("!i", 9) + struct.pack("!i", 3 << 16) + b"u",   # a string without its NUL
    struct.pack("!ii", 16, CANCEL_REQUEST) + b"\0" * 4,         # a lying length
])
def test_bad_startup_packets(pg, payload):
    c = Raw(pg.host, pg.port)
    c.send(payload)
    if payload.startswith(struct.pack("!ii", 16, CANCEL_REQUEST)):
        c.sock.shutdown(1)  # the packet promised 16 bytes: EOF mid-packet just closes
        assert c.closed()
    else:
        assert fatal(c)["C"] in ("08P01", "0A000")
    still_serving(pg)


@pytest.mark.parametrize("payload, code", [
    (b"\x99" + struct.pack("!i", 4), "08P01"),                  # unknown message type
    (b"Q" + struct.pack("!i", 1 << 30), "08P01"),               # 1 GiB length field
    (b"Q" + struct.pack("!i", 2), "08P01"),                     # length below 4
    (msg(b"Q", b"SELECT 1"), "08P01"),                          # no NUL terminator
    (msg(b"Q", b"SELECT 1\0junk\0"), "08P01"),                  # trailing bytes (NUL inside)
    (msg(b"D", b"X" + cstr("")), "08P01"),                      # bad Describe subtype
    (msg(b"B", cstr("") + cstr("") + struct.pack("!hh", 1, 7)), "08P01"),  # bad format code
    (msg(b"B", cstr("") + cstr("") + struct.pack("!hhh", 0, 1, 0) + struct.pack("!i", 99)),
     "08P01"),                                                  # parameter runs past the end
])
def test_violations_after_startup_are_fatal(pg, payload, code):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(payload)
    assert fatal(c)["C"] == code
    still_serving(pg)


def test_invalid_utf8_is_an_error_and_the_session_goes_on(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", b"SELECT '\xff\xfe'\0"))
    out = c.until_ready()
    assert error_of(out)["C"] == "22021"
    c.send(msg(b"P", cstr("") + b"SELECT '\xc3'\0" + struct.pack("!h", 0)))
    c.send(msg(b"B", cstr("") + cstr("") + struct.pack("!hhh", 0, 0, 0)))
    c.send(msg(b"S"))
    out = c.until_ready()
    assert kinds(out) == "EZ"
    c.send(msg(b"Q", cstr("SELECT 'é'")))
    assert kinds(c.until_ready()) == "TDCZ"


def test_oversize_message_refused(make_server):
    pg = make_server(max_message=1024)
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("SELECT '" + "x" * 2000 + "'")))
    assert fatal(c)["C"] == "08P01"
    still_serving(pg)


def test_max_connections(make_server):
    pg = make_server(max_connections=2)
    a, b = Raw(pg.host, pg.port), Raw(pg.host, pg.port)
    a.login()
    b.login()
    c = Raw(pg.host, pg.port)
    c.send(startup_packet())
    assert fatal(c)["C"] == "53300"
    a.send(msg(b"X"))
    assert a.closed()
    # the slot is free again once the server has cleaned up the terminated backend
    for _ in range(200):
        if pg.server.admitted < 2:
            break
        import time

        time.sleep(0.01)
    d = Raw(pg.host, pg.port)
    assert d.login()[-1] == ("Z", b"I")


def test_cancel_request_with_wrong_key_changes_nothing(pg):
    c = Raw(pg.host, pg.port)
    out = c.login()
    key = next(body for k, body in out if k == "K")
    pid, secret = struct.unpack("!ii", key)
    x = Raw(pg.host, pg.port)
    x.send(struct.pack("!iii", 16, CANCEL_REQUEST, pid) + struct.pack("!i", secret ^ 1))
    assert x.closed()  # a CancelRequest gets no answer, right or wrong
    c.send(msg(b"Q", cstr("SELECT 1")))
    assert kinds(c.until_ready()) == "TDCZ"


def test_disconnect_mid_transaction_rolls_back(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("CREATE TABLE t (id int PRIMARY KEY)")))
    c.until_ready()
    c.send(msg(b"Q", cstr("BEGIN; INSERT INTO t VALUES (1)")))
    assert c.until_ready()[-1] == ("Z", b"T")
    c.close()
    d = Raw(pg.host, pg.port)
    d.login()
    # the row lock is gone with the rolled-back transaction: this insert does not wait
    d.send(msg(b"Q", cstr("INSERT INTO t VALUES (1); SELECT count(*) FROM t")))
    out = d.until_ready()
    assert "E" not in kinds(out)
    assert out[-3][1].endswith(b"1")


def test_idle_in_transaction_timeout_ends_the_session(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("SET idle_in_transaction_session_timeout = '300ms'; BEGIN")))
    assert c.until_ready()[-1] == ("Z", b"T")
    f = fatal(c)  # nothing more is sent: the server gives up after the timeout
    assert f["C"] == "25P03"
    assert f["M"] == "terminating connection due to idle-in-transaction timeout"
    still_serving(pg)


def test_warnings_arrive_as_notices(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")))
    out = c.until_ready()
    assert kinds(out) == "NCZ"
    from cairn.pgwire.protocol import parse_error_fields

    f = parse_error_fields(out[0][1])
    assert (f["S"], f["C"]) == ("WARNING", "25P01")
    assert f["M"] == "SET TRANSACTION can only be used in transaction blocks"


def test_describe_follows_ddl(pg):
    """The connection remembers Describe answers; committed DDL must invalidate them."""
    c = Raw(pg.host, pg.port)
    c.login()

    def described_fields() -> int:
        c.send(msg(b"P", cstr("") + cstr("SELECT * FROM d") + struct.pack("!h", 0)))
        c.send(msg(b"D", b"S" + cstr("")))
        c.send(msg(b"S"))
        out = c.until_ready()
        assert kinds(out) == "1tTZ"
        return struct.unpack("!h", out[2][1][:2])[0]

    c.send(msg(b"Q", cstr("CREATE TABLE d (a int)")))
    c.until_ready()
    assert described_fields() == 1
    c.send(msg(b"Q", cstr("DROP TABLE d; CREATE TABLE d (a int, b text)")))
    c.until_ready()
    assert described_fields() == 2


def test_slow_startup_is_cut_off(make_server):
    """A client that trickles its startup packet (slowloris) is dropped after auth_timeout;
    the server keeps serving others meanwhile."""
    pg = make_server(auth_timeout=0.5)
    slow = Raw(pg.host, pg.port)
    slow.send(startup_packet()[:6])  # and then nothing
    still_serving(pg)
    assert slow.closed()  # EOF: closed by the server, as PostgreSQL does, without a message


def test_multi_statement_query_sends_results_before_the_error(pg):
    c = Raw(pg.host, pg.port)
    c.login()
    c.send(msg(b"Q", cstr("CREATE TABLE m (id int); INSERT INTO m VALUES (1); SELECT 7; "
                          "SELECT * FROM nowhere; SELECT 8")))
    out = c.until_ready()
    assert kinds(out) == "CCTDCEZ"  # the statements before the error answered, 8 never ran
    f = error_of(out)
    assert f["C"] == "42P01" and f["P"] == str(len("CREATE TABLE m (id int); INSERT INTO m "
                                                   "VALUES (1); SELECT 7; SELECT * FROM ") + 1)
    assert out[-1] == ("Z", b"I")
    c.send(msg(b"Q", cstr("SELECT * FROM m")))  # one implicit transaction: all rolled back
    assert error_of(c.until_ready())["C"] == "42P01"
    c.send(msg(b"Q", cstr("CREATE TABLE m (id int); INSERT INTO m VALUES (1), (2); "
                          "SELECT count(*) FROM m")))
    out = c.until_ready()
    assert kinds(out) == "CCTDCZ"
    assert out[3][1].endswith(b"2")
