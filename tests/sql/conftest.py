"""Fixtures for the SQL tests: whether the local PostgreSQL (the oracle) answers."""

from __future__ import annotations

import pytest


def _pg_up() -> bool:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres",
                             connect_timeout=3):
            return True
    except Exception:  # any failure means no oracle
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_up()
