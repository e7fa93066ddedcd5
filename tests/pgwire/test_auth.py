"""Authentication: SCRAM-SHA-256 checked against scramp (an independent implementation) as the
client, md5 and cleartext passwords, and the hba rules choosing among them, with real clients."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.pgwire import HbaError, make_verifier, md5_hash, parse_rules
from cairn.pgwire.hba import choose
from cairn.pgwire.scram import ScramError, ScramServer, parse_verifier

scramp = pytest.importorskip("scramp")
psycopg = pytest.importorskip("psycopg")


def exchange(verifier: str | None, password: str) -> None:
    client = scramp.ScramClient(["SCRAM-SHA-256"], "ignored", password)
    server = ScramServer(parse_verifier(verifier) if verifier else None, "u")
    first = server.first("SCRAM-SHA-256", client.get_client_first().encode())
    client.set_server_first(first.decode())
    final = server.final(client.get_client_final().encode())
    client.set_server_final(final.decode())  # scramp checks the server's signature


def test_verifier_matches_scramp():
    salt = os.urandom(16)
    _, stored, server_key, _ = scramp.ScramMechanism().make_auth_info(
        "s3cret", iteration_count=4096, salt=salt)
    v = parse_verifier(make_verifier("s3cret", salt=salt))
    assert v is not None
    assert (v.salt, v.stored_key, v.server_key, v.iterations) == (salt, stored, server_key, 4096)


@settings(max_examples=15, deadline=None)
@given(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30),
       st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=5))
def test_scram_against_scramp(password, suffix):
    verifier = make_verifier(password)
    exchange(verifier, password)
    with pytest.raises(ScramError) as e:
        exchange(verifier, password + suffix)
    assert e.value.sqlstate == "28P01"


def test_scram_unknown_user_fails_only_at_the_proof():
    with pytest.raises(ScramError) as e:
        exchange(None, "anything")
    assert e.value.sqlstate == "28P01"


@pytest.mark.parametrize("client_first, message", [
    (b"p=tls-server-end-point,,n=,r=abc", "channel binding"),
    (b"n,,n=", "malformed"),
    (b"x,,n=,r=abc", "malformed"),
    (b"n,a=bob,n=,r=abc", "authorization identity"),
    ("n,,n=,r=\u00e9".encode(), "malformed"),
])
def test_scram_malformed_client_first(client_first, message):
    server = ScramServer(parse_verifier(make_verifier("pw", iterations=64)), "u")
    with pytest.raises(ScramError) as e:
        server.first("SCRAM-SHA-256", client_first)
    assert message in e.value.message
    assert e.value.sqlstate == "08P01"


def test_scram_tampered_final():
    server = ScramServer(parse_verifier(make_verifier("pw", iterations=64)), "u")
    server.first("SCRAM-SHA-256", b"n,,n=,r=abc")
    bogus_proof = base64.b64encode(b"\0" * 32).decode()
    c = base64.b64encode(b"n,,").decode()
    with pytest.raises(ScramError) as e:
        server.final(f"c={c},r=abcWRONG,p={bogus_proof}".encode())
    assert "nonce" in e.value.message
    with pytest.raises(ScramError) as e:
        server.final(f"c={c},r={server.nonce},p={bogus_proof}".encode())
    assert e.value.sqlstate == "28P01"


def test_hba_rules_parse_and_match():
    rules = parse_rules("""
        # comment
        hostssl cairn alice 10.0.0.0/8 scram-sha-256
        host all bob,carol 127.0.0.1/32 md5   # trailing comment
        hostnossl all all samehost trust
        host all all all reject
    """)
    assert choose(rules, "cairn", "alice", "10.1.2.3", True).method == "scram-sha-256"
    assert choose(rules, "cairn", "alice", "10.1.2.3", False).method == "reject"
    assert choose(rules, "x", "carol", "127.0.0.1", False).method == "md5"
    assert choose(rules, "x", "dave", "::1", False).method == "trust"
    assert choose(rules, "x", "dave", "::ffff:127.0.0.1", True).method == "reject"
    assert choose(parse_rules("host all all 10.0.0.0/8 trust"), "x", "y", "127.0.0.1",
                  False) is None


@pytest.mark.parametrize("line", [
    "host all all",
    "hots all all all trust",
    "host all all 300.1.1.1/8 trust",
    "host all all all ident",
])
def test_hba_bad_lines(line):
    with pytest.raises(HbaError):
        parse_rules(line)


ROLES = [  # roles of cairn.sql: CREATE ROLE keeps a SCRAM verifier, or an md5 hash as given
    "CREATE ROLE alice LOGIN PASSWORD 'wonder land'",
    f"CREATE ROLE bob LOGIN PASSWORD '{md5_hash('builder', 'bob')}'",
    "CREATE ROLE carol LOGIN PASSWORD 'c4rol'",
    "CREATE ROLE dave LOGIN",
    "CREATE ROLE mallory LOGIN PASSWORD 'x'",
    "CREATE ROLE trudy LOGIN",
]
RULES = """
host all alice all scram-sha-256
host all bob all md5
host all carol all password
host all dave all md5
host all mallory all reject
host all nobody all scram-sha-256
host all all all trust
"""


@pytest.fixture
def secured(make_server, tmp_path):
    hba = tmp_path / "hba.conf"
    hba.write_text(RULES)
    pg = make_server(hba_file=str(hba))
    admin = pg.server.sdb.connect("cairn")
    for sql in ROLES:
        admin.execute(sql)
    admin.close()
    return pg


@pytest.mark.parametrize("user, password", [
    ("alice", "wonder land"), ("bob", "builder"), ("carol", "c4rol"), ("trudy", None)])
def test_psycopg_logs_in(secured, user, password):
    with psycopg.connect(secured.dsn(user, password)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (user,)


@pytest.mark.parametrize("user, password, code", [
    ("alice", "wrong", "28P01"), ("bob", "wrong", "28P01"), ("carol", "wrong", "28P01"),
    ("dave", "anything", "28P01"),  # md5 for a role with no password
    ("nobody", "anything", "28P01"),  # no such role: the same answer, nothing leaks
    ("mallory", "x", "28000"),
])
def test_wrong_passwords_refused(secured, user, password, code):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(secured.dsn(user, password))
    text = str(e.value)
    if code == "28P01":
        assert f'password authentication failed for user "{user}"' in text
    else:
        assert "pg_hba.conf rejects connection" in text
    with psycopg.connect(secured.dsn("alice", "wonder land")) as conn:  # others still served
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_unknown_role_under_trust(pg):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(pg.dsn("ghost"))
    assert 'role "ghost" does not exist' in str(e.value)


def test_no_hba_entry(make_server, tmp_path):
    hba = tmp_path / "hba.conf"
    hba.write_text("host all all 10.0.0.0/8 trust\n")
    pg = make_server(hba_file=str(hba))
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(pg.dsn())
    assert 'no pg_hba.conf entry for host "127.0.0.1", user "cairn", database "cairn"' in \
        str(e.value)


def test_psql_and_asyncpg_and_pg8000_with_passwords(secured):
    env = dict(os.environ, PGPASSWORD="wonder land")
    out = subprocess.run(["psql", secured.dsn("alice"), "-X", "-A", "-t", "-c",
                          "SELECT current_user"], capture_output=True, text=True, timeout=60,
                         env=env)
    assert out.stdout.strip() == "alice", out.stderr
    asyncpg = pytest.importorskip("asyncpg")

    async def run() -> str:
        conn = await asyncpg.connect(host=secured.host, port=secured.port, user="alice",
                                     password="wonder land", database="cairn")
        try:
            return await conn.fetchval("SELECT current_user")
        finally:
            await conn.close()

    assert asyncio.run(run()) == "alice"
    pg8000 = pytest.importorskip("pg8000.native")
    conn = pg8000.Connection("bob", password="builder", host=secured.host, port=secured.port,
                             database="cairn")
    assert conn.run("SELECT current_user") == [["bob"]]
    conn.close()
