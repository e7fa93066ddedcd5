"""Crash and resume: the service process is SIGKILLed between two saga steps, restarted, and
the saga is finished (or compensated) from its durable log, charging exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from cairn.booking.db import Database
from cairn.booking.schema import drop_schema, migrate

from .conftest import DSN, Sim, make_stage

ADMIN = "crash-admin-token-0123456789"


class Service:
    """``python -m cairn.booking.cli serve`` as a child process on a free port."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.url = ""
        self.http = httpx.Client(timeout=10)

    @staticmethod
    def launch(schema: str, sim_url: str, crash_after: str | None = None) -> Service:
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            CAIRN_BOOKING_DSN=DSN,
            CAIRN_BOOKING_SCHEMA=schema,
            CAIRN_BOOKING_PAYMENTS_URL=sim_url,
            CAIRN_BOOKING_ADMIN_TOKEN=ADMIN,
            CAIRN_BOOKING_SAGA_LEASE_S="1",
            CAIRN_BOOKING_PAYMENT_TIMEOUT_S="1",
            CAIRN_BOOKING_IDEMPOTENCY_LOCK_S="1",
        )
        env.pop("CAIRN_BOOKING_CRASH_AFTER", None)
        if crash_after:
            env["CAIRN_BOOKING_CRASH_AFTER"] = crash_after
            # no recovery worker in the processes meant to die: they must not pick up each
            # other's sagas before their own crash
            env["CAIRN_BOOKING_WORKERS"] = "0"
        proc = subprocess.Popen(
            [sys.executable, "-m", "cairn.booking.cli", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        return Service(proc)

    def ready(self) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if "booking API listening on" in line:
                self.url = line.split(" on ", 1)[1].split()[0]
                break
        assert self.url, "service did not start"
        self.http = httpx.Client(base_url=self.url, timeout=10)
        while time.monotonic() < deadline:
            try:
                if self.http.get("/health").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("service never became healthy")

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"booking_c_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN) as conn:
        migrate(conn, name)
    try:
        yield name
    finally:
        with psycopg.connect(DSN) as conn:
            drop_schema(conn, name)


FORWARD = ["running:begun", "running:authorized", "running:confirmed", "running:captured"]
BACKWARD = "compensating:authorized"  # after a refused capture un-sold the seat, before the void


def _crash_checkout(svc: Service, event_id: int, token: str, seat: int) -> str:
    """Hold a seat and check it out on a service that dies mid-saga; return the hold id."""
    auth = {"Authorization": f"Bearer {token}"}
    hold = svc.http.post(
        f"/events/{event_id}/holds",
        json={"seat_ids": [seat]},
        headers=auth | {"Idempotency-Key": f"crash-hold-{seat}"},
    ).json()
    with pytest.raises(httpx.HTTPError):  # the process dies mid-request
        svc.http.post(
            f"/holds/{hold['id']}/checkout",
            headers=auth | {"Idempotency-Key": f"crash-pay-{seat}"},
        )
    assert svc.proc.wait(20) == -signal.SIGKILL
    svc.stop()
    return str(hold["id"])


def test_sigkill_between_steps_then_resume(sim: Sim, schema: str) -> None:
    """One process per crash point (killed by SIGKILL right after that step committed), then
    one restarted process whose recovery worker finishes or compensates all of them."""
    sim.reset()
    with Database(DSN, schema, min_size=1, max_size=2) as db:
        stage = make_stage(db, users=5)
        seats = stage.seat_ids["A"][:5]
        points = [*FORWARD, BACKWARD]
        # the forward crashes run side by side (one process each)
        crashing = [Service.launch(schema, sim.url, crash_after=p) for p in FORWARD]
        holds = {}
        for i, svc in enumerate(crashing):
            svc.ready()
            holds[points[i]] = _crash_checkout(svc, stage.event.id, stage.tokens[i], seats[i])
        sim.faults(script=[{"op": "capture", "fault": "decline"}])
        svc = Service.launch(schema, sim.url, crash_after=BACKWARD)
        svc.ready()
        holds[BACKWARD] = _crash_checkout(svc, stage.event.id, stage.tokens[4], seats[4])

        orders: dict[str, str] = {}
        with db.pool.connection() as conn:
            for point, hold_id in holds.items():
                row = conn.execute(
                    "SELECT g.state || ':' || g.step, o.id FROM sagas g JOIN orders o "
                    "ON o.id = g.order_id WHERE o.hold_id = %s",
                    (hold_id,),
                ).fetchone()
                assert row is not None and row[0] == point  # the log says where it stopped
                orders[point] = str(row[1])

        resumer = Service.launch(schema, sim.url)
        resumer.ready()
        try:
            for i, point in enumerate(points):
                final = "failed" if point == BACKWARD else "paid"
                auth = {"Authorization": f"Bearer {stage.tokens[i]}"}
                deadline = time.monotonic() + 30
                status = ""
                while time.monotonic() < deadline:
                    got = resumer.http.get(f"/orders/{orders[point]}", headers=auth).json()
                    status = got["status"]
                    if status in ("paid", "failed"):
                        break
                    time.sleep(0.1)
                assert status == final, point
                # the client's retry (same key) is answered from the finished saga
                retry = resumer.http.post(
                    f"/holds/{holds[point]}/checkout",
                    headers=auth | {"Idempotency-Key": f"crash-pay-{seats[i]}"},
                )
                if final == "paid":
                    assert retry.status_code == 201, retry.text
                    assert retry.json()["id"] == orders[point]
                    assert len(retry.json()["tickets"]) == 1
                else:
                    assert retry.status_code == 409 and retry.json()["code"] == "checkout_failed"
        finally:
            resumer.stop()
        # exactly one charge per paid order, the compensated one voided, nothing else
        assert sim.ledger()["by_status"] == {"captured": 4, "voided": 1}
        assert sim.ledger()["captured_cents"] == 4 * 9000
        states = dict(_seat_states(db, stage.event.id))
        assert [states[s] for s in seats] == ["sold"] * 4 + ["free"]


def _seat_states(db: Database, event_id: int) -> list[tuple[int, str]]:
    with db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT seat_id, status FROM event_seats WHERE event_id = %s", (event_id,)
        ).fetchall()
    return [(int(a), str(b)) for a, b in rows]
