"""The HTTP envelope over a real uvicorn server: SSE framing, resume, JSONL, sessions,
and clear errors for malformed requests."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from cairn.a2ui import session as session_mod
from tests.a2ui.conftest import BASIC, LiveServer, action, jsonl_turn


def read_sse(client: httpx.Client, n: int, last_id: str | None = None,
             until: Any = None) -> list[dict[str, Any]]:
    """Read SSE frames until ``n`` events (or ``until(event)``); returns parsed events."""
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    events: list[dict[str, Any]] = []
    cur: dict[str, Any] = {}
    with client.stream("GET", "/a2ui/stream", headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line == "":
                if "data" in cur:
                    cur["json"] = json.loads(cur["data"])
                    events.append(cur)
                    if len(events) >= n or (until and until(cur)):
                        break
                cur = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            cur[key] = value
    return events


def test_cookie_is_set_once_with_safe_flags(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        r = c.get("/")  # the page a browser opens
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("cairn_session=")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert len(cookie.split(";")[0].split("=")[1]) >= 40
        assert "set-cookie" not in c.get("/").headers  # known session: no new cookie
        # a forged or unknown cookie gets a fresh session, never someone else's
        c.cookies.set("cairn_session", "A" * 43)
        assert c.get("/").headers["set-cookie"].split(";")[0] != "cairn_session=" + "A" * 43


def test_health_checks_and_assets_never_create_a_session(demo_server: LiveServer) -> None:
    """200 cookieless health checks made 200 sessions (and evicted idle users' sessions)."""
    with httpx.Client(base_url=demo_server.url, timeout=10) as probe:
        before = probe.get("/health").json()["sessions"]
        for _ in range(200):
            r = probe.get("/health")
            assert r.status_code == 200 and "set-cookie" not in r.headers
            probe.cookies.clear()
        for path in ("/a2ui/capabilities", "/a2ui/catalogs/cairn/catalog.json"):
            assert "set-cookie" not in probe.get(path).headers
        assert probe.get("/health").json()["sessions"] == before
        # a cookieless A2UI request still gets its session (curl, scripts)
        r = probe.post("/a2ui/send", json={"text": "demo"})
        assert r.status_code == 202 and "set-cookie" in r.headers
        assert probe.get("/health").json()["sessions"] == before + 1


def test_jsonl_turn_and_sse_replay(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        lines = jsonl_turn(c, {"text": "demo"})
        kinds = [next(k for k in m if k != "version") for m in lines if "version" in m]
        assert kinds == ["createSurface", "updateComponents", "updateDataModel"]
        comps = lines[1]["updateComponents"]["components"]
        assert comps[0]["id"] == "root"  # root first: progressive rendering
        events = read_sse(c, 5, last_id="0")
        assert [e["id"] for e in events] == ["1", "2", "3", "4", "5"]
        assert [e["event"] for e in events] == ["a2ui", "a2ui", "a2ui", "cairn", "cairn"]
        assert events[0]["json"] == lines[0]
        assert events[4]["json"]["type"] == "done"


def test_send_then_live_stream(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        c.get("/")
        got: list[dict[str, Any]] = []
        reader = threading.Thread(target=lambda: got.extend(read_sse(
            c, 100, until=lambda e: e["event"] == "cairn" and e["json"]["type"] == "done")))
        reader.start()
        import time

        time.sleep(0.3)  # let the stream attach (its first frame is the 'ready' status)
        r = c.post("/a2ui/send", json={"text": "demo"})
        assert r.status_code == 202 and r.json()["accepted"] is True
        reader.join(20)
        a2ui = [e["json"] for e in got if e["event"] == "a2ui"]
        assert "createSurface" in a2ui[0]
        assert got[-1]["json"]["turn"] == r.json()["turn"]
        ids = [int(e["id"]) for e in got if e["id"].isdigit()]
        assert ids == sorted(ids)


def test_resume_replays_after_the_id_without_duplicates(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        jsonl_turn(c, {"text": "demo"})
        jsonl_turn(c, {"text": "chart"})
        first = read_sse(c, 1, last_id="1")  # after createSurface(demo)
        assert first[0]["id"] == "2" and "updateComponents" in first[0]["json"]
        rest = read_sse(c, 100, last_id="5", until=lambda e: e["json"].get("type") == "done"
                        and e["id"] == "10")
        creates = [e for e in rest if "createSurface" in e["json"]]
        assert [e["json"]["createSurface"]["surfaceId"] for e in creates] == ["chart"]


def test_resume_with_unknown_id_recreates_cleanly(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        jsonl_turn(c, {"text": "demo"})
        events = read_sse(c, 4, last_id="bogus")
        kinds = [next(k for k in e["json"] if k != "version") for e in events]
        assert kinds == ["deleteSurface", "createSurface", "updateComponents",
                         "updateDataModel"]
        assert [e["id"] for e in events] == ["s5", "s5", "s5", "5"]
        fresh = read_sse(c, 3)  # a new page: no delete, straight create
        assert "createSurface" in fresh[0]["json"]


def test_resume_after_log_truncation(demo_server: LiveServer,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "LOG_MAX", 3)
    with demo_server.client() as c:
        jsonl_turn(c, {"text": "demo"})  # 5 events, only the last 3 kept
        events = read_sse(c, 4, last_id="1")
        assert "deleteSurface" in events[0]["json"]  # id 1 fell off the log: snapshot
        assert events[-1]["json"]["updateDataModel"]["value"]["items"][0]["label"] == "alpha"


def test_sessions_are_isolated(demo_server: LiveServer) -> None:
    with demo_server.client() as a, demo_server.client() as b:
        jsonl_turn(a, {"text": "demo"})
        b.get("/")
        r = b.post("/a2ui/send", json=action("demo", "send", "greet", {"name": "x"}))
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "UNKNOWN_SURFACE"
        # b's stream has nothing of a's
        events = read_sse(b, 1)
        assert events[0]["json"] == {"type": "status", "text": "ready"}
        # a's own action works
        lines = jsonl_turn(a, action("demo", "send", "greet", {"name": "Ada"}))
        assert lines[0]["cairn"]["text"] == "Hello, Ada!"


def test_template_action_is_accepted(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        jsonl_turn(c, {"text": "demo"})
        lines = jsonl_turn(c, action("demo", "item", "pick", {"item": "beta"}))
        assert lines[0]["cairn"]["text"] == "You picked beta."


@pytest.mark.parametrize("body,status,code,path", [
    (b"{not json", 400, "MALFORMED_REQUEST", ""),
    (b"[1,2]", 400, "MALFORMED_REQUEST", ""),
    (b'{"text": "x", "evil": 1}', 400, "MALFORMED_REQUEST", ""),
    (b'{"text": "demo", "a2ui": {}}', 400, "MALFORMED_REQUEST", ""),
    (b'{"text": "   "}', 400, "MALFORMED_REQUEST", "/text"),
    (b'{"text": "a\\u0000b"}', 400, "MALFORMED_REQUEST", "/text"),
    (json.dumps({"text": "x" * 3000}).encode(), 400, "MALFORMED_REQUEST", "/text"),
    (b'{"text": 5}', 400, "MALFORMED_REQUEST", "/text"),
    (b'\xff\xfe', 400, "MALFORMED_REQUEST", ""),
    (b'{"text": NaN}', 400, "MALFORMED_REQUEST", ""),
    # ~1,000 deep made the parser raise RecursionError: a plain-text 500
    (b'{"text": ' + b"[" * 1000 + b"]" * 1000 + b"}", 400, "MALFORMED_REQUEST", ""),
    (b'{"a2ui": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_001, 400, "MALFORMED_REQUEST", ""),
])
def test_malformed_requests(demo_server: LiveServer, body: bytes, status: int, code: str,
                            path: str) -> None:
    with demo_server.client() as c:
        r = c.post("/a2ui/send", content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["path"] == path


def test_oversize_bodies_refused(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        big = b'{"text": "' + b"a" * (10 << 20) + b'"}'
        r = c.post("/a2ui/send", content=big)
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

        def chunks() -> Any:  # no Content-Length: the limit applies while reading
            for _ in range(11):
                yield b"a" * (1 << 20)

        r = c.post("/a2ui/send", content=chunks())
        assert r.status_code == 413
        assert c.get("/health").status_code == 200  # the server is fine


@pytest.mark.parametrize("act,path", [
    (action("demo", "ghost", "greet", {}), "/a2ui/action/sourceComponentId"),
    (action("demo", "send", "format_disk", {}), "/a2ui/action/name"),
    (action("demo", "send", "greet", {"name": "x", "admin": True}), "/a2ui/action/context"),
    (action("demo", "send", "greet", {"name": "x" * 70000}), "/a2ui/action/context"),
    (action("nope", "send", "greet", {}), "/a2ui/action/surfaceId"),
])
def test_forged_actions_refused(demo_server: LiveServer, act: dict[str, Any],
                                path: str) -> None:
    with demo_server.client() as c:
        jsonl_turn(c, {"text": "demo"})
        r = c.post("/a2ui/send", json=act)
        assert r.status_code in (400, 404), r.text
        assert r.json()["error"]["path"] == path


def test_deeply_nested_context_refused(demo_server: LiveServer) -> None:
    nested: Any = "x"
    for _ in range(40):
        nested = {"n": nested}
    with demo_server.client() as c:
        jsonl_turn(c, {"text": "demo"})
        r = c.post("/a2ui/send", json=action("demo", "send", "greet", {"name": nested}))
        assert r.status_code == 400 and "deeper" in r.json()["error"]["message"]


def test_client_data_model_only_for_send_data_model_surfaces(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        jsonl_turn(c, {"text": "demo"})
        r = c.post("/a2ui/send", json={"text": "hi", "a2uiClientDataModel": {
            "version": "v0.9", "surfaces": {"demo": {"name": "x"}}}})
        assert r.status_code == 400 and "sendDataModel" in r.json()["error"]["message"]
        r = c.post("/a2ui/send", json={"text": "hi", "a2uiClientDataModel": {
            "version": "v0.9", "surfaces": {"someone-elses": {}}}})
        assert r.status_code == 404


def test_unsupported_catalog_means_no_ui_and_a_clear_error(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        lines = jsonl_turn(c, {"text": "demo", "a2uiClientCapabilities": {
            "v0.9": {"supportedCatalogIds": [BASIC]}}})
        assert not [m for m in lines if "version" in m]
        errors = [m["cairn"] for m in lines if "cairn" in m and m["cairn"]["type"] == "error"]
        assert errors and "does not support catalog" in errors[0]["text"]


def test_capabilities_and_catalog_endpoints(demo_server: LiveServer) -> None:
    with demo_server.client() as c:
        caps = c.get("/a2ui/capabilities").json()
        assert BASIC in caps["v0.9"]["supportedCatalogIds"]
        assert caps["v0.9"]["acceptsInlineCatalogs"] is False
        cat = c.get("/a2ui/catalogs/cairn/catalog.json").json()
        assert {"SeatMap", "Chart"} <= set(cat["components"])


def test_slow_subscriber_is_cut_and_sessions_are_bounded(validator: Any) -> None:
    import asyncio

    from cairn.a2ui.session import Session, SessionStore, StreamEvent, Subscriber

    async def run() -> None:
        sub = Subscriber(asyncio.Queue(3))
        for i in range(5):
            sub.put(StreamEvent(i, "cairn", {"type": "status", "text": str(i)}))
        assert sub.overflowed and await sub.queue.get() is None  # the stream ends, resumes

    asyncio.run(run())
    store = SessionStore(validator, max_sessions=3, idle_s=0.0)
    made = [store.create() for _ in range(5)]
    assert len(store.sessions) <= 3
    assert store.get(made[-1].id) is made[-1]
    assert store.get("../../etc/passwd") is None and store.get(None) is None
    assert isinstance(Session("a" * 43, validator).snapshot(recreate=False)[0], StreamEvent)


def test_queued_events_leave_in_one_write() -> None:
    """The stream writes everything already queued at once (one wake-up of the browser per
    change, however many seats it has), in order, without waiting for more."""
    import asyncio

    from cairn.a2ui.server import sse_chunks
    from cairn.a2ui.session import StreamEvent, Subscriber

    def ev(i: int) -> StreamEvent:
        return StreamEvent(i, "a2ui", {"version": "v0.9", "updateDataModel": {
            "surfaceId": "s", "path": f"/seats/{i}/status", "value": "held"}})

    async def run() -> None:
        sub = Subscriber()
        gen = sse_chunks(sub, [ev(1)], keepalive_s=0.05)
        first = await anext(gen)
        assert first.startswith(b"retry: 1000\n\n") and b"id: 1\n" in first
        assert await anext(gen) == b": keepalive\n\n"  # nothing queued: a comment, no data
        for i in (2, 3, 4):
            sub.put(ev(i))
        chunk = await anext(gen)
        frames = chunk.decode().split("\n\n")[:-1]
        assert [f.split("\n")[0] for f in frames] == ["id: 2", "id: 3", "id: 4"]
        assert all(json.loads(f.split("data: ", 1)[1])["updateDataModel"] for f in frames)
        sub.put(ev(5))
        sub.queue.put_nowait(None)  # overflow marker: what is queued goes out, then the end
        assert (await anext(gen)).startswith(b"id: 5\n")
        with pytest.raises(StopAsyncIteration):
            await anext(gen)

    asyncio.run(run())


def test_the_log_keeps_sent_messages_as_json_only(validator: Any) -> None:
    """A sent A2UI message is logged (and replayed) from its encoding alone, byte for byte."""
    from cairn.a2ui.session import Session

    session = Session("a" * 43, validator)
    msgs = [{"version": "v0.9", "createSurface": {"surfaceId": "s", "catalogId": BASIC}},
            {"version": "v0.9", "updateComponents": {"surfaceId": "s", "components": [
                {"id": "root", "component": "Text", "text": "hi"}]}},
            {"version": "v0.9", "updateDataModel": {"surfaceId": "s", "path": "/rows",
                                                    "value": [{"n": i} for i in range(50)]}}]
    session.emit_all(msgs)
    session.say("done", "", turn=1)
    logged = list(session.log)
    assert [ev.data for ev in logged[:3]] == [None, None, None]
    assert [json.loads(ev.json) for ev in logged[:3]] == msgs
    assert logged[3].data == {"type": "done", "text": "", "turn": 1}
    msgs[2]["updateDataModel"]["value"].append({"n": "changed later"})  # no aliasing
    assert json.loads(session.backlog("0")[2].json)["updateDataModel"]["value"][-1] == {"n": 49}
