"""The schema registry: rules on an in-memory store, durability on real cairn engines, and the
HTTP API driven by a real client library (confluent-kafka's SchemaRegistryClient and its Avro
serializer/deserializer)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from cairn.encoding.avsc import parse_schema
from cairn.encoding.cli import open_registry
from cairn.encoding.errors import (
    IncompatibleSchema,
    InvalidCompatibilityLevel,
    InvalidSchema,
    SchemaNotFound,
    SubjectNotFound,
    VersionNotFound,
)
from cairn.encoding.header import Reader, Writer, frame, unframe
from cairn.encoding.registry import MemoryStore, SchemaRegistry
from cairn.encoding.registry_http import create_app
from cairn.encoding.schema import Schema as SchemaModel
from cairn.storage import open_engine

V1 = {"type": "record", "name": "Person", "fields": [
    {"name": "userName", "type": "string"},
    {"name": "favoriteNumber", "type": ["null", "long"], "default": None}]}
V2 = {**V1, "fields": [*V1["fields"],
                       {"name": "photoURL", "type": ["null", "string"], "default": None}]}
BAD = {**V1, "fields": [*V1["fields"], {"name": "email", "type": "string"}]}


def test_versions_ids_and_dedupe() -> None:
    reg = SchemaRegistry(MemoryStore())
    id1 = reg.register("people-value", json.dumps(V1))
    assert reg.register("people-value", json.dumps(V1, indent=4)) == id1  # same canonical form
    id2 = reg.register("people-value", json.dumps(V2))
    assert reg.register("other-value", json.dumps(V2)) == id2  # global id shared
    assert reg.versions("people-value") == [1, 2]
    assert reg.get_version("people-value", "latest").id == id2
    assert reg.lookup("people-value", json.dumps(V1)).version == 1
    assert reg.subjects() == ["other-value", "people-value"]
    assert reg.ids_usage(id2) == [{"subject": "other-value", "version": 1},
                                  {"subject": "people-value", "version": 2}]


def test_compatibility_rules_and_levels() -> None:
    reg = SchemaRegistry(MemoryStore())
    reg.register("s", json.dumps(V1))
    with pytest.raises(IncompatibleSchema, match="email: field added without a default"):
        reg.register("s", json.dumps(BAD))
    assert reg.check("s", json.dumps(BAD)) != []
    reg.set_level("NONE", "s")
    reg.register("s", json.dumps(BAD))
    assert reg.effective_level("s") == "NONE" and reg.get_level() == "BACKWARD"
    with pytest.raises(InvalidCompatibilityLevel):
        reg.set_level("SOMETIMES")
    with pytest.raises(InvalidSchema, match="Invalid schema"):
        reg.register("s", '{"type": "record"}')
    with pytest.raises(InvalidSchema):
        reg.register("s", "not json")


def test_deletes_and_not_found_errors() -> None:
    reg = SchemaRegistry(MemoryStore())
    sid = reg.register("s", json.dumps(V1))
    reg.register("s", json.dumps(V2))
    assert reg.delete_version("s", 1) == 1
    assert reg.versions("s") == [2]
    assert reg.versions("s", include_deleted=True) == [1, 2]
    assert reg.schema_text(sid)  # ids outlive soft deletes
    assert reg.delete_subject("s") == [2]
    with pytest.raises(SubjectNotFound):
        reg.versions("s")
    with pytest.raises(SchemaNotFound):
        reg.schema_text(99)
    reg.register("t", json.dumps(V1))
    with pytest.raises(VersionNotFound):
        reg.get_version("t", 7)
    assert reg.register("s", json.dumps(V1)) == sid  # same schema, same id, new version
    assert reg.versions("s") == [3]


@pytest.mark.parametrize("engine", ["log", "lsm"])
def test_registry_survives_restart_on_a_cairn_engine(tmp_path: Path, engine: str) -> None:
    reg, store = open_registry(str(tmp_path), engine, open_engine)
    id1 = reg.register("people-value", json.dumps(V1))
    id2 = reg.register("people-value", json.dumps(V2))
    reg.set_level("FULL", "people-value")
    store.close()
    reg, store = open_registry(str(tmp_path), engine, open_engine)
    try:
        assert reg.versions("people-value") == [1, 2]
        assert reg.get_version("people-value", 2).id == id2
        assert json.loads(reg.schema_text(id1)) == V1
        assert reg.effective_level("people-value") == "FULL"
        assert reg.register("x", json.dumps({"type": "string"})) == id2 + 1  # ids continue
    finally:
        store.close()


def test_data_outlives_code() -> None:
    """Records written by v1 code years ago, read by v2 code through the writer's id; new
    records read by old code."""
    reg = SchemaRegistry(MemoryStore())
    v1, v2 = parse_schema(V1), parse_schema(V2)
    old_writer = Writer(v1, reg.register("p", json.dumps(V1)))
    new_writer = Writer(v2, reg.register("p", json.dumps(V2)))
    old_blob = old_writer.encode({"userName": "Martin", "favoriteNumber": 1337})
    new_blob = new_writer.encode({"userName": "Ada", "favoriteNumber": None,
                                  "photoURL": "a.png"})
    assert unframe(old_blob)[0] == 1 and old_blob[:5] == frame(1, b"")
    assert Reader(reg, v2).decode(old_blob) == {"userName": "Martin", "favoriteNumber": 1337,
                                                "photoURL": None}
    assert Reader(reg, v1).decode(new_blob) == {"userName": "Ada", "favoriteNumber": None}


# -- HTTP, with a real client library ---------------------------------------------------------

@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    reg, store = open_registry(str(tmp_path), "log", open_engine)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(reg), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()
        store.close()


def test_confluent_client_register_get_compat_config(server: str) -> None:
    client = SchemaRegistryClient({"url": server})
    sid = client.register_schema("people-value", Schema(json.dumps(V1), "AVRO"))
    assert client.register_schema("people-value", Schema(json.dumps(V1), "AVRO")) == sid
    got = client.get_schema(sid)
    assert json.loads(got.schema_str) == V1 and got.schema_type == "AVRO"
    assert client.get_subjects() == ["people-value"]
    assert client.test_compatibility("people-value", Schema(json.dumps(V2), "AVRO"))
    assert not client.test_compatibility("people-value", Schema(json.dumps(BAD), "AVRO"))
    with pytest.raises(SchemaRegistryError) as err:
        client.register_schema("people-value", Schema(json.dumps(BAD), "AVRO"))
    assert err.value.http_status_code == 409
    sid2 = client.register_schema("people-value", Schema(json.dumps(V2), "AVRO"))
    assert client.get_versions("people-value") == [1, 2]
    latest = client.get_latest_version("people-value")
    assert (latest.schema_id, latest.version) == (sid2, 2)
    assert client.lookup_schema("people-value", Schema(json.dumps(V1), "AVRO")).version == 1
    assert client.set_compatibility("people-value", "FULL_TRANSITIVE") == {
        "compatibility": "FULL_TRANSITIVE"}
    assert client.get_compatibility("people-value") == "FULL_TRANSITIVE"
    client.set_compatibility(level="FORWARD")
    assert client.get_compatibility() == "FORWARD"
    with pytest.raises(SchemaRegistryError) as err:
        client.get_schema(999)
    assert err.value.error_code == 40403
    assert client.delete_version("people-value", 1) == 1
    assert client.delete_subject("people-value") == [2]


def test_confluent_avro_serializer_and_our_reader_interoperate(server: str) -> None:
    """Their serializer writes header + Avro; our Reader decodes it with another version;
    our Writer's bytes are decoded by their deserializer."""
    client = SchemaRegistryClient({"url": server})
    ctx = SerializationContext("people", MessageField.VALUE)
    ser = AvroSerializer(client, json.dumps(V1))
    blob = ser({"userName": "Martin", "favoriteNumber": 1337}, ctx)
    sid, _ = unframe(blob)
    assert blob[0] == 0
    reader = Reader(_HttpSource(server), parse_schema(V2))
    assert reader.decode(blob) == {"userName": "Martin", "favoriteNumber": 1337,
                                   "photoURL": None}
    sid2 = client.register_schema("people-value", Schema(json.dumps(V2), "AVRO"))
    mine = Writer(parse_schema(V2), sid2).encode({"userName": "Ada", "favoriteNumber": 1,
                                                  "photoURL": "a.png"})
    de = AvroDeserializer(client)
    assert de(mine, ctx) == {"userName": "Ada", "favoriteNumber": 1, "photoURL": "a.png"}
    assert sid != sid2


class _HttpSource:
    """Schemas by id over our own HTTP API (what a remote consumer does)."""

    def __init__(self, url: str):
        self.url = url

    def schema_by_id(self, schema_id: int) -> SchemaModel:
        r = httpx.get(f"{self.url}/schemas/ids/{schema_id}")
        r.raise_for_status()
        return parse_schema(r.json()["schema"])


def test_http_errors_follow_the_api(server: str) -> None:
    r = httpx.get(f"{server}/subjects/nope/versions")
    assert r.status_code == 404 and r.json()["error_code"] == 40401
    r = httpx.post(f"{server}/subjects/s/versions", json={"schema": "{bad"})
    assert r.status_code == 422 and r.json()["error_code"] == 42201
    r = httpx.post(f"{server}/subjects/s/versions",
                   json={"schema": "syntax = 'proto3';", "schemaType": "PROTOBUF"})
    assert r.status_code == 422
    r = httpx.put(f"{server}/config", json={"compatibility": "MAYBE"})
    assert r.status_code == 422 and r.json()["error_code"] == 42203
    httpx.post(f"{server}/subjects/s/versions", json={"schema": json.dumps(V1)})
    r = httpx.get(f"{server}/subjects/s/versions/abc")
    assert r.status_code == 422 and r.json()["error_code"] == 42202
    r = httpx.post(f"{server}/compatibility/subjects/s/versions/latest?verbose=true",
                   json={"schema": json.dumps(BAD)})
    assert r.json()["is_compatible"] is False
    assert any("email" in m for m in r.json()["messages"])
    assert r.headers["content-type"].startswith("application/vnd.schemaregistry.v1+json")


# -- tag rules over the registry history --------------------------------------------------------

T1 = {"type": "record", "name": "T", "fields": [
    {"name": "name", "type": "string"},
    {"name": "age", "type": ["null", "int"], "default": None}]}
T2 = {**T1, "fields": T1["fields"][:1]}  # age removed
T3 = {**T1, "fields": [*T2["fields"],  # tag 2 given to another int: Avro-compatible, tag reuse
                       {"name": "shoeSize", "type": ["null", "int"], "default": None,
                        "tag": 2}]}


def test_tag_rules_check_the_whole_history_including_deleted_versions() -> None:
    reg = SchemaRegistry(MemoryStore())
    reg.register("t", json.dumps(T1))
    reg.register("t", json.dumps(T2))
    assert reg.check("t", json.dumps(T3)) == []  # Avro alone: fields match by name
    reg.set_tag_rules("protobuf", "t")
    assert reg.effective_tag_rules("t") == "protobuf" and reg.get_tag_rules() is None
    (msg,) = reg.check("t", json.dumps(T3))
    assert "tag 2 belonged to field 'age'" in msg and "removed in version 2" in msg
    # the rule does not depend on the level: the latest version alone never had tag 2
    reg.set_level("FORWARD", "t")
    assert reg.check("t", json.dumps(T3)) != []
    # soft-deleting the versions that had the tag does not free it: their data still exists
    reg.delete_version("t", 1)
    with pytest.raises(IncompatibleSchema, match="tag 2 belonged to field 'age'"):
        reg.register("t", json.dumps(T3))
    reg.set_level("NONE", "t")
    assert reg.register("t", json.dumps(T3)) > 0  # NONE checks nothing, as documented
    with pytest.raises(InvalidCompatibilityLevel):
        reg.set_tag_rules("capnproto", "t")
    assert reg.set_tag_rules("none", "t") is None and reg.effective_tag_rules("t") is None


def test_tag_rules_over_http(server: str) -> None:
    client = SchemaRegistryClient({"url": server})
    client.register_schema("t-value", Schema(json.dumps(T1), "AVRO"))
    client.register_schema("t-value", Schema(json.dumps(T2), "AVRO"))
    r = httpx.put(f"{server}/config/t-value", json={"tagRules": "thrift"})
    assert r.status_code == 200 and r.json() == {"tagRules": "thrift"}
    assert httpx.get(f"{server}/config/t-value?defaultToGlobal=true").json() == {
        "compatibilityLevel": "BACKWARD", "tagRules": "thrift"}
    assert not client.test_compatibility("t-value", Schema(json.dumps(T3), "AVRO"))
    with pytest.raises(SchemaRegistryError) as err:
        client.register_schema("t-value", Schema(json.dumps(T3), "AVRO"))
    assert err.value.http_status_code == 409 and "never be reused" in err.value.error_message
    ok = {**T2, "fields": [*T2["fields"], {"name": "shoeSize", "type": ["null", "int"],
                                           "default": None, "tag": 3}]}
    assert client.register_schema("t-value", Schema(json.dumps(ok), "AVRO")) > 0


# -- `cairn registry serve` as its own process ---------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "cairn.cli", "registry", "serve", "--port",
                             str(port), "--data", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/subjects", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode() if proc.stdout else "exited")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("cairn registry serve did not come up")


def test_cairn_registry_serve_with_the_confluent_client_survives_sigkill(tmp_path: Path
                                                                         ) -> None:
    port = _free_port()
    proc = _start_serve(tmp_path, port)
    try:
        client = SchemaRegistryClient({"url": f"http://127.0.0.1:{port}"})
        ctx = SerializationContext("people", MessageField.VALUE)
        blob = AvroSerializer(client, json.dumps(V1))(
            {"userName": "Martin", "favoriteNumber": 1337}, ctx)
        sid = client.register_schema("people-value", Schema(json.dumps(V2), "AVRO"))
        client.set_compatibility("people-value", "FULL")
    finally:
        proc.kill()  # SIGKILL: what was acknowledged must be on disk
        proc.wait(10)
    port = _free_port()
    proc = _start_serve(tmp_path, port)
    try:
        client = SchemaRegistryClient({"url": f"http://127.0.0.1:{port}"})
        assert client.get_versions("people-value") == [1, 2]
        assert client.get_latest_version("people-value").schema_id == sid
        assert client.get_compatibility("people-value") == "FULL"
        # a record written before the kill is decoded after it, by a reader at v2
        assert AvroDeserializer(client, json.dumps(V2))(blob, ctx) == {
            "userName": "Martin", "favoriteNumber": 1337, "photoURL": None}
    finally:
        proc.terminate()
        proc.wait(10)
