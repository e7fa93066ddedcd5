"""``cairn bench a2ui``: how fast the A2UI web client shows what the agent streams.

Measured end to end on the real stack: the Starlette app of :mod:`cairn.a2ui.server` under
uvicorn on a free port, its SSE transport and validator, and the built web client
(``src/cairn/a2ui/static``: the official @a2ui/lit renderer with cairn's catalog) in headless
Chromium driven by Playwright.

* **first root**: from the typed request (the chat box's submit) to the surface's root
  component in the DOM; **full seat map**: to all 2,000 seats of a SeatMap in the DOM. The
  agent is the real booking agent on PostgreSQL (``--agent booking``, the default) or a small
  scripted one (:class:`SeatMapAgent`, ``--agent scripted``) that streams the way the booking
  agent does (createSurface, the components root first, then the 2,000-seat data model), so
  its numbers are the transport's and the renderer's, not PostgreSQL's.
* **live update**: 20 browsers show the same map; one more clicks a seat, its ``hold`` action
  goes to the server, the agent marks the seat held on every open map with one
  ``updateDataModel`` per session, and each browser records when the seat's element changed
  (a MutationObserver installed once per page; clocks are ``performance.timeOrigin + now()``,
  one machine). The harness keeps its hands off for :data:`LIVE_SETTLE_S` after each click
  and only then reads the stamps, so none of its own CDP traffic (which costs CPU in the
  renderers, the browser and this process, where the server runs) falls in the window.
* **validated messages/s**: the server-side validator (official JSON Schemas + structural
  rules) on the messages above, by kind.

Targets (issue 6): first root < 150 ms, the 2,000-seat map < 1 s, live updates p99 < 250 ms.
Medians of repeats are reported; the machine is a shared 2-core box, so read the margins.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

from cairn.a2ui.catalog import CAIRN_CATALOG_ID
from cairn.a2ui.messages import ActionMessage, ErrorMessage
from cairn.a2ui.session import Session, SessionStore
from cairn.a2ui.validate import SurfaceState, Validator

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows",
]
SURFACE = "seats"
V = "v0.9"

TARGET_FIRST_ROOT_MS = 150.0
TARGET_FULL_MAP_MS = 1000.0
TARGET_LIVE_P99_MS = 250.0
LIVE_TIMEOUT_MS = 5000  # a watcher that has not seen a hold by then counts as missed
LIVE_SETTLE_S = 0.5  # after a hold, before reading the watchers' stamps


def seat_records(n: int, per_row: int = 40) -> list[dict[str, Any]]:
    """``n`` seats in two sections, in the cairn catalog's SeatMap shape."""
    stalls = n * 3 // 4
    out = []
    for i in range(n):
        balcony = i >= stalls
        k = i - stalls if balcony else i
        out.append({"id": str(i), "section": "Balcony" if balcony else "Stalls",
                    "row": f"{k // per_row + 1}", "number": k % per_row + 1,
                    "tier": "B" if balcony else "A", "price": 30.0 if balcony else 45.0,
                    "status": "sold" if i % 13 == 0 else "free"})
    return out


def seat_map_messages(n: int) -> list[dict[str, Any]]:
    """The surface as the booking agent streams it: root and layout first, then the data."""
    return [
        {"version": V, "createSurface": {"surfaceId": SURFACE, "catalogId": CAIRN_CATALOG_ID}},
        {"version": V, "updateComponents": {"surfaceId": SURFACE, "components": [
            {"id": "root", "component": "Column", "children": ["title", "map"]},
            {"id": "title", "component": "Text", "variant": "h3", "text": "Friday concert"},
            {"id": "map", "component": "SeatMap", "seats": {"path": "/seats"},
             "selection": {"path": "/selection"}, "maxSelection": 10_000, "label": "Seats",
             "action": {"event": {"name": "hold",
                                  "context": {"seats": {"path": "/selection"}}}}},
        ]}},
        {"version": V, "updateDataModel": {"surfaceId": SURFACE, "path": "/",
                                           "value": {"seats": seat_records(n),
                                                     "selection": []}}},
    ]


@dataclass
class SeatMapAgent:
    """A scripted agent: any text shows the seat map; ``hold`` marks seats held everywhere.

    It implements the :class:`cairn.a2ui.agent.base.Agent` protocol and sends through
    ``Session.emit`` (validated, logged, streamed) like the real agents do.
    """

    seats: int = 2000
    store: SessionStore | None = None
    held: set[str] = field(default_factory=set)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def on_text(self, session: Session, text: str) -> None:
        if SURFACE in session.surfaces:
            session.emit({"version": V, "deleteSurface": {"surfaceId": SURFACE}})
        msgs = seat_map_messages(self.seats)
        # Held seats show as held on a map opened later.
        for s in msgs[2]["updateDataModel"]["value"]["seats"]:
            if s["id"] in self.held:
                s["status"] = "held"
        # Progressive, like the booking agent: each message is flushed to the stream before the
        # next is built and validated, so the root can render while the data is on its way.
        for m in msgs:
            session.emit(m)
            await asyncio.sleep(0)

    async def on_action(self, session: Session, action: ActionMessage) -> None:
        if action.name != "hold" or self.store is None:
            return
        wanted = [str(s) for s in action.context.get("seats") or []]
        new = [s for s in wanted if s not in self.held and s.isdigit() and int(s) < self.seats]
        self.held.update(new)
        for other in list(self.store.sessions.values()):
            if SURFACE not in other.surfaces:
                continue
            for seat_id in new:
                other.emit({"version": V, "updateDataModel": {
                    "surfaceId": SURFACE, "path": f"/seats/{int(seat_id)}/status",
                    "value": "mine" if other is session else "held"}})

    async def on_client_error(self, session: Session, error: ErrorMessage) -> None:
        return None


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free port in a thread; yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise click.ClickException("the A2UI server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# In-page helpers (functions, so Playwright calls them without eval: the page's CSP forbids it).
JS_CONNECTED = """() => new Promise(resolve => {
  const ok = () => window.cairnA2ui
    && document.querySelector('#status').dataset.state === 'connected';
  const tick = () => ok() ? resolve(true) : setTimeout(tick, 5);
  tick();
})"""

# Submit a request through the chat box; resolve when the root and then all seats are in the
# DOM. MutationObservers (microtasks right after each DOM commit) time the changes, not a poll
# that would queue behind the stream's events.
JS_TIME_REQUEST = """([text, seats]) => new Promise(resolve => {
  const now = () => performance.timeOrigin + performance.now();
  let tRoot = null;
  let done = false;
  const observers = [];
  const watch = (node, fn) => {
    const mo = new MutationObserver(fn);
    mo.observe(node, {childList: true, subtree: true});
    observers.push(mo);
  };
  const finish = t => {
    if (done) return;
    done = true;
    observers.forEach(mo => mo.disconnect());
    resolve({root: tRoot - t0, full: t - t0});
  };
  let mapRoot = null;
  const checkSeats = () => {
    if (tRoot !== null && mapRoot && mapRoot.querySelectorAll('button.seat').length >= seats) {
      finish(now());
    }
  };
  const checkSurface = surfaceRoot => {
    if (tRoot === null && surfaceRoot.querySelector('a2ui-basic-column, a2ui-column')) {
      tRoot = now();
    }
    const map = surfaceRoot.querySelector('cairn-seat-map');
    if (map && map.shadowRoot && !mapRoot) {
      mapRoot = map.shadowRoot;
      watch(mapRoot, checkSeats);
    }
    checkSeats();
  };
  let surfaceRoot = null;
  watch(document.querySelector('#log'), () => {
    const wrap = document.querySelector('section.surface[data-surface-id="seats"]');
    const sr = wrap && wrap.querySelector('a2ui-surface')?.shadowRoot;
    if (sr && sr !== surfaceRoot) {
      surfaceRoot = sr;
      watch(sr, () => checkSurface(sr));
      checkSurface(sr);
    }
  });
  const input = document.querySelector('#chat-input');
  input.value = text;
  const t0 = now();
  document.querySelector('#chat').requestSubmit();
})"""

JS_SEAT_MAP = """
  const wrap = document.querySelector('section.surface[data-surface-id="seats"]');
  const map = wrap.querySelector('a2ui-surface').shadowRoot.querySelector('cairn-seat-map');
"""

# Install once per watcher: a MutationObserver on the map stamps the moment each seat turns
# `held` (`performance.timeOrigin + now()`: one machine clock for every page), and
# `__waitHeld(seat, ms)` resolves with that time (or null after `ms`). The harness reads the
# stamps after the watchers have had time to settle, so no CDP traffic (which costs the
# renderers, the browser and the server's process CPU) falls inside the measured window.
JS_WATCH = """() => {""" + JS_SEAT_MAP + """
  const heldAt = new Map();
  const waiting = new Map();
  const mo = new MutationObserver(records => {
    const t = performance.timeOrigin + performance.now();
    for (const r of records) {
      const seat = r.target.dataset.seat;
      if (r.target.dataset.status === 'held' && seat && !heldAt.has(seat)) {
        heldAt.set(seat, t);
        waiting.get(seat)?.(t);
      }
    }
  });
  mo.observe(map.shadowRoot, {subtree: true, attributes: true, attributeFilter: ['data-status']});
  window.__waitHeld = (seat, ms) => heldAt.has(seat) ? heldAt.get(seat) : new Promise(resolve => {
    waiting.set(seat, resolve);
    setTimeout(() => resolve(heldAt.get(seat) ?? null), ms);
  });
  return true;
}"""

JS_CLICK = """(seat) => {""" + JS_SEAT_MAP + """
  const btn = map.shadowRoot.querySelector(`button[data-seat="${seat}"]`);
  const t = performance.timeOrigin + performance.now();
  btn.click();
  return t;
}"""

# The booking agent's map: select the seat (local), then press "Hold selected seats" (the
# action); the clock starts at the press.
JS_SELECT_AND_HOLD = """(seat) => new Promise(resolve => {""" + JS_SEAT_MAP + """
  const root = wrap.querySelector('a2ui-surface').shadowRoot;
  map.shadowRoot.querySelector(`button[data-seat="${seat}"]`).click();
  const press = () => {
    const hold = [...root.querySelectorAll('button')]
      .find(b => b.textContent.trim() === 'Hold selected seats');
    if (!hold || hold.disabled) { setTimeout(press, 1); return; }
    const t = performance.timeOrigin + performance.now();
    hold.click();
    resolve(t);
  };
  press();
})"""

JS_FREE_SEATS = """() => {
  const s = window.cairnA2ui.processor.model.getSurface('seats').dataModel.get('/seats');
  return s.filter(x => x.status === 'free').map(x => String(x.id));
}"""


@dataclass
class A2uiBenchResult:
    agent: str
    seats: int
    clients: int
    repeats: int
    first_root_ms: list[float] = field(default_factory=list)
    full_map_ms: list[float] = field(default_factory=list)
    live_ms: list[float] = field(default_factory=list)
    live_missed: int = 0
    validated_per_s: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        live = sorted(self.live_ms)

        def pct(p: float) -> float | None:
            if not live:
                return None
            return live[min(len(live) - 1, round(p / 100 * (len(live) - 1)))]

        first = statistics.median(self.first_root_ms) if self.first_root_ms else None
        full = statistics.median(self.full_map_ms) if self.full_map_ms else None
        p99 = pct(99)
        return {
            "first_root_ms_median": first,
            "full_map_ms_median": full,
            "live_ms_p50": pct(50),
            "live_ms_p99": p99,
            "live_samples": len(live),
            "live_missed": self.live_missed,
            "validated_per_s": self.validated_per_s,
            "targets": {
                "first_root_under_150ms": verdict(first, TARGET_FIRST_ROOT_MS),
                "full_map_under_1s": verdict(full, TARGET_FULL_MAP_MS),
                "live_p99_under_250ms": verdict(p99, TARGET_LIVE_P99_MS)
                if not self.live_missed else "MISS",
            },
        }


def verdict(value: float | None, limit: float) -> str:
    return "MISS" if value is None or value >= limit else "PASS"


def measure_validation(seats: int, seconds: float = 0.5) -> dict[str, float]:
    """Messages validated per second by cairn's server-side validator, per message kind."""
    validator = Validator()
    msgs = seat_map_messages(seats)
    surfaces: dict[str, SurfaceState] = {}
    for m in msgs:  # build the surface state the updates are checked against
        validator.apply(m, surfaces, None)
    single = {"version": V, "updateDataModel": {"surfaceId": SURFACE, "path": "/seats/7/status",
                                                "value": "held"}}
    cases = {
        "updateDataModel (one seat)": (single, surfaces),
        "updateComponents (seat map layout)": (msgs[1], surfaces),
        f"updateDataModel ({seats} seats)": (msgs[2], surfaces),
        "createSurface": (msgs[0], {}),
    }
    out: dict[str, float] = {}
    for name, (msg, state) in cases.items():
        n = 0
        t0 = time.perf_counter()
        while True:
            validator.validate(msg, state, None)
            n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds:
                break
        out[name] = n / dt
    return out


REQUEST = "show me seats for Friday's concert"


@contextmanager
def bench_app(agent_kind: str, seats: int, dsn: str | None) -> Iterator[tuple[Any, int]]:
    """The app under test and the number of seats its map shows."""
    if agent_kind == "scripted":
        from cairn.a2ui.server import create_app

        agent = SeatMapAgent(seats=seats)
        app = create_app(agent)
        agent.store = app.state.store
        yield app, seats
        return
    # The real thing: booking service on its own PostgreSQL schema, seeded hall (2,000 seats
    # per event), the deterministic agent, live maps from LISTEN/NOTIFY.
    import uuid

    import psycopg

    from cairn.a2ui.app import build
    from cairn.booking.db import DEFAULT_DSN
    from cairn.booking.schema import drop_schema

    dsn = dsn or DEFAULT_DSN
    schema = f"bench_a2ui_{uuid.uuid4().hex[:8]}"
    running = build(dsn, schema, seed=True, llm=False)
    try:
        with running.booking.service.db.pool.connection() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM event_seats es JOIN events e ON e.id = es.event_id "
                "WHERE e.name = 'Friday Night Concert'").fetchone()
        yield running.app, int(row[0]) if row else 0
    finally:
        running.close()
        with psycopg.connect(dsn) as conn:
            drop_schema(conn, schema)


def run_bench(seats: int = 2000, clients: int = 20, repeats: int = 5, holds: int = 20,
              progress: Any = None, agent_kind: str = "scripted",
              dsn: str | None = None) -> A2uiBenchResult:
    """Run the benchmark in a thread of its own: Playwright's sync API refuses to run where an
    asyncio loop is running (e.g. beside another Playwright session in the same process)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = _run_bench(seats, clients, repeats, holds, progress, agent_kind,
                                       dsn)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="bench-a2ui")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def _run_bench(seats: int, clients: int, repeats: int, holds: int, progress: Any,
               agent_kind: str, dsn: str | None) -> A2uiBenchResult:
    from playwright.sync_api import sync_playwright

    say = progress or (lambda _msg: None)
    if not Path(CHROMIUM).exists():
        raise click.ClickException(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with bench_app(agent_kind, seats, dsn) as (app, seats), serve(app) as url, \
            sync_playwright() as p:
        result = A2uiBenchResult(agent=agent_kind, seats=seats, clients=clients,
                                 repeats=repeats)
        click_js = JS_CLICK if agent_kind == "scripted" else JS_SELECT_AND_HOLD
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            say(f"first root and full {seats}-seat map, {repeats} repeats")
            for i in range(repeats + 1):  # the first run warms the server and the browser
                ctx = browser.new_context(viewport={"width": 1100, "height": 900})
                page = ctx.new_page()
                page.goto(url + "/")
                page.evaluate(JS_CONNECTED)
                t = page.evaluate(JS_TIME_REQUEST, [REQUEST, seats])
                if i > 0:
                    result.first_root_ms.append(t["root"])
                    result.full_map_ms.append(t["full"])
                    say(f"  run {i}: root {t['root']:.1f} ms, map {t['full']:.1f} ms")
                ctx.close()
            say(f"live updates: {clients} watching clients, {holds} holds")
            pages = []
            for _ in range(clients + 1):
                ctx = browser.new_context(viewport={"width": 1100, "height": 900})
                page = ctx.new_page()
                page.goto(url + "/")
                page.evaluate(JS_CONNECTED)
                page.evaluate(JS_TIME_REQUEST, [REQUEST, seats])
                pages.append(page)
            holder, watchers = pages[0], pages[1:]
            for w in watchers:
                w.evaluate(JS_WATCH)
            candidates = holder.evaluate(JS_FREE_SEATS)
            if len(candidates) < holds + 1:  # each timed hold needs a seat never held before
                raise click.ClickException(f"the map has {len(candidates)} free seats; "
                                           f"{holds} holds need {holds + 1}")
            # One untimed hold first, as the page loads above have an untimed first run: it
            # pays one-time costs (the holder's first checkout form, the first run of the
            # update path in each page's JIT) that a running service has already paid.
            holder.evaluate(click_js, candidates[-1])
            time.sleep(LIVE_SETTLE_S)
            for k in range(holds):
                seat = candidates[(k * 97) % (len(candidates) - 1)]
                t_click = holder.evaluate(click_js, seat)
                time.sleep(LIVE_SETTLE_S)  # hands off while the change travels
                for w in watchers:
                    seen = w.evaluate("([s, ms]) => window.__waitHeld(s, ms)",
                                      [seat, LIVE_TIMEOUT_MS])
                    if seen is None:
                        result.live_missed += 1
                    else:
                        result.live_ms.append(seen - t_click)
            for page in pages:
                page.context.close()
        finally:
            browser.close()
    say("validator throughput")
    result.validated_per_s = measure_validation(seats)
    return result


def print_report(result: A2uiBenchResult) -> None:
    s = result.summary()

    def ms(v: float | None) -> str:
        return "n/a" if v is None else f"{v:,.1f} ms"

    click.echo(f"\nA2UI web client ({result.agent} agent): {result.seats} seats, "
               f"{result.clients} live clients, medians of {result.repeats} repeats")
    rows = [
        ("request -> first rendered root", ms(s["first_root_ms_median"]),
         f"< {TARGET_FIRST_ROOT_MS:.0f} ms", s["targets"]["first_root_under_150ms"]),
        (f"request -> full {result.seats}-seat map", ms(s["full_map_ms_median"]),
         f"< {TARGET_FULL_MAP_MS:.0f} ms", s["targets"]["full_map_under_1s"]),
        ("live update p50", ms(s["live_ms_p50"]), "", ""),
        (f"live update p99 ({s['live_samples']} samples, {s['live_missed']} missed)",
         ms(s["live_ms_p99"]), f"< {TARGET_LIVE_P99_MS:.0f} ms",
         s["targets"]["live_p99_under_250ms"]),
    ]
    for name, value, target, ok in rows:
        click.echo(f"  {name:<52} {value:>12}  {target:<10} {ok}")
    if s["full_map_ms_median"] and s["first_root_ms_median"]:
        click.echo(f"  full map / first root: "
                   f"{s['full_map_ms_median'] / s['first_root_ms_median']:.1f}x")
    click.echo("\nserver-side validation (official schemas + structural rules), messages/s:")
    base = result.validated_per_s.get("updateDataModel (one seat)")
    for name, rate in result.validated_per_s.items():
        rel = f"{rate / base:.3f}x of one-seat" if base else ""
        click.echo(f"  {name:<40} {rate:>12,.0f}  {rel}")


@click.command("a2ui")
@click.option("--seats", default=2000, show_default=True,
              help="seats on the map (scripted agent; the booking hall has its own)")
@click.option("--clients", default=20, show_default=True, help="open clients watching holds")
@click.option("--repeats", default=5, show_default=True, help="timed page loads")
@click.option("--holds", default=20, show_default=True, help="holds timed across all clients")
@click.option("--agent", "agent_kind", type=click.Choice(["booking", "scripted"]),
              default="booking", show_default=True,
              help="booking: the real agent on the booking service (PostgreSQL); "
                   "scripted: a stand-in agent, transport and renderer only")
@click.option("--dsn", default=None, envvar="CAIRN_BOOKING_DSN",
              help="PostgreSQL for --agent booking (a throwaway schema is used and dropped)")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="write the raw samples and summary as JSON")
def bench_a2ui(seats: int, clients: int, repeats: int, holds: int, agent_kind: str,
               dsn: str | None, json_path: str | None) -> None:
    """A2UI web client in headless Chromium: first root, 2,000-seat map, live updates."""
    if seats < 1 or clients < 1 or repeats < 1 or holds < 1:
        raise click.BadParameter("seats, clients, repeats and holds must be positive")
    result = run_bench(seats, clients, repeats, holds,
                       progress=lambda m: click.echo(m, err=True), agent_kind=agent_kind,
                       dsn=dsn)
    print_report(result)
    if json_path:
        doc = {**asdict(result), "summary": result.summary()}
        Path(json_path).write_text(json.dumps(doc, indent=2))
        click.echo(f"\nwrote {json_path}")
