"""The three modes of dataflow of DDIA ch. 4, run for real with two schema versions.

- **Through a database** (:func:`database_demo`): v1 code and v2 code share one key-value
  store (a cairn engine); each writes records framed with its schema id and reads the other's
  through the registry and Avro resolution. Then fig. 4-7: old code reads a new record,
  updates it and writes it back; :func:`rewrite_demo` shows, per format, whether the field
  only the new code knows survives (it does where the codec keeps unknown fields; with Avro
  resolution the reader's schema has no place for it, so it is lost).
- **Through services** (:func:`rpc_demo`): an HTTP server speaking v2 and a client speaking v1,
  once with JSON bodies and once with Avro bodies that carry the schema id, still understand
  each other.
- **Through messages** (:func:`messages_demo`): producers at v1 and v2 append events to a log
  (keys are offsets) and consumers at either version read every event.

Every function returns plain data (what was written and what each side read) for the CLI and
the tests.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from typing import Any

from cairn.encoding.avsc import parse_schema
from cairn.encoding.formats import FORMATS, codec_for
from cairn.encoding.header import Reader, Writer
from cairn.encoding.jsoncodec import JsonCodec
from cairn.encoding.registry import KeyValueStore, SchemaRegistry
from cairn.encoding.resolve import ResolvingDecoder

V1_AVSC: dict[str, Any] = {"type": "record", "name": "Person", "fields": [
    {"name": "userName", "type": "string"},
    {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
    {"name": "interests", "type": {"type": "array", "items": "string"}, "default": []}]}
V2_AVSC: dict[str, Any] = {**V1_AVSC, "fields": [
    *V1_AVSC["fields"],
    {"name": "photoURL", "type": ["null", "string"], "default": None, "tag": 4}]}
SUBJECT = "people-value"


def _versions(registry: SchemaRegistry) -> tuple[Writer, Writer, Reader, Reader]:
    v1, v2 = parse_schema(V1_AVSC), parse_schema(V2_AVSC)
    id1 = registry.register(SUBJECT, json.dumps(V1_AVSC))
    id2 = registry.register(SUBJECT, json.dumps(V2_AVSC))
    return Writer(v1, id1), Writer(v2, id2), Reader(registry, v1), Reader(registry, v2)


def database_demo(store: KeyValueStore, registry: SchemaRegistry) -> dict[str, Any]:
    w1, w2, r1, r2 = _versions(registry)
    store.put(b"person/1", w1.encode({"userName": "Martin", "favoriteNumber": 1337,
                                      "interests": ["hacking"]}), sync=True)
    store.put(b"person/2", w2.encode({"userName": "Ada", "favoriteNumber": None,
                                      "interests": [], "photoURL": "ada.png"}), sync=True)
    rows = []
    for key, blob in store.scan(b"person/", b"person0"):
        rows.append({"key": key.decode(), "writer_schema_id": int.from_bytes(blob[1:5], "big"),
                     "read_by_v1": r1.decode(blob), "read_by_v2": r2.decode(blob)})
    # fig. 4-7: v1 code updates the record v2 wrote, through its own schema
    old_view = r1.decode(store.get(b"person/2") or b"")
    old_view["favoriteNumber"] = 7
    store.put(b"person/2", w1.encode(old_view), sync=True)
    after = r2.decode(store.get(b"person/2") or b"")
    return {"records": rows, "after_v1_rewrite_read_by_v2": after,
            "photoURL_lost_by_avro_rewrite": after["photoURL"] is None}


def rewrite_demo() -> list[dict[str, Any]]:
    """Fig. 4-7 for every format: does old code's read-modify-write keep the new field?"""
    v1, v2 = parse_schema(V1_AVSC), parse_schema(V2_AVSC)
    new = {"userName": "Ada", "favoriteNumber": 1, "interests": [], "photoURL": "ada.png"}
    out = []
    for fmt in FORMATS:
        blob = codec_for(fmt, v2).encode(new)
        if fmt == "avro":  # each side reads with its own schema, by resolution
            old = ResolvingDecoder(v2, v1).decode(blob)
        else:
            old = codec_for(fmt, v1).decode(blob)
        old["favoriteNumber"] = 2
        rewritten = codec_for(fmt, v1).encode(old)
        if fmt == "avro":
            back = ResolvingDecoder(v1, v2).decode(rewritten)
        else:
            back = codec_for(fmt, v2).decode(rewritten)
        out.append({"format": fmt, "old_code_saw_fields": sorted(old),
                    "kept_unknown_bytes": len(b"".join(getattr(old, "unknown", {}).values())),
                    "size_written_by_new_code": len(blob),
                    "size_rewritten_by_old_code": len(rewritten),
                    "new_field_survived": back.get("photoURL") == "ada.png",
                    "update_kept": back["favoriteNumber"] == 2})
    return out


def messages_demo(store: KeyValueStore, registry: SchemaRegistry) -> dict[str, Any]:
    """An event log (offset keys) written by v1 and v2 producers, read by both consumers."""
    w1, w2, r1, r2 = _versions(registry)
    events = [(w1, {"userName": "e0", "favoriteNumber": 0, "interests": []}),
              (w2, {"userName": "e1", "favoriteNumber": 1, "interests": ["x"],
                    "photoURL": "e1.png"}),
              (w1, {"userName": "e2", "favoriteNumber": None, "interests": []})]
    start = len(list(store.scan(b"log/", b"log0")))
    for i, (writer, value) in enumerate(events):
        store.put(b"log/%016d" % (start + i), writer.encode(value), sync=True)
    consumed: dict[str, list[Any]] = {"v1": [], "v2": []}
    for _, blob in store.scan(b"log/", b"log0"):
        consumed["v1"].append(r1.decode(blob))
        consumed["v2"].append(r2.decode(blob))
    return {"appended": len(events), "consumed": consumed}


def rpc_demo(registry: SchemaRegistry) -> dict[str, Any]:
    """A v2 server and a v1 client over real HTTP on 127.0.0.1, JSON and Avro bodies."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    w1, w2, r1, r2 = _versions(registry)
    v1, v2 = parse_schema(V1_AVSC), parse_schema(V2_AVSC)
    server_json, client_json = JsonCodec(v2), JsonCodec(v1)

    async def greet_json(request: Request) -> Response:
        person = server_json.decode(await request.body())  # v1 body: photoURL defaulted
        person["photoURL"] = person["photoURL"] or f"{person['userName']}.png"
        return Response(server_json.encode(person), media_type="application/json")

    async def greet_avro(request: Request) -> Response:
        person = r2.decode(await request.body())  # any writer version, by schema id
        person["photoURL"] = person["photoURL"] or f"{person['userName']}.png"
        return Response(w2.encode(person), media_type="application/octet-stream")

    app = Starlette(routes=[Route("/json/greet", greet_json, methods=["POST"]),
                            Route("/avro/greet", greet_avro, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        me = {"userName": "Martin", "favoriteNumber": 1337, "interests": ["hacking"]}

        def post(path: str, body: bytes) -> bytes:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                         method="POST")
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.read()
        json_reply = client_json.decode(post("/json/greet", client_json.encode(me)))
        avro_reply = r1.decode(post("/avro/greet", w1.encode(me)))
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    return {"client_version": 1, "server_version": 2,
            "json": {"sent": me, "reply_as_seen_by_v1_client": dict(json_reply),
                     "unknown_fields_kept": bool(getattr(json_reply, "unknown", None))},
            "avro": {"sent": me, "reply_as_seen_by_v1_client": avro_reply}}
