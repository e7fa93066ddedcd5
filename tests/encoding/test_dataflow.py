"""The three dataflow modes between schema v1 and v2 code (DDIA ch. 4), on a real engine."""

from __future__ import annotations

from pathlib import Path

from cairn.encoding.cli import dataflow
from cairn.encoding.dataflow import messages_demo, rewrite_demo, rpc_demo
from cairn.encoding.registry import MemoryStore, SchemaRegistry
from cairn.storage import open_engine


def test_all_three_modes_on_a_cairn_engine(tmp_path: Path) -> None:
    out = dataflow(str(tmp_path), "log", open_engine)
    db = out["database"]
    assert db["records"][0]["read_by_v2"]["photoURL"] is None  # default filled in
    assert db["records"][1]["read_by_v1"] == {"userName": "Ada", "favoriteNumber": None,
                                              "interests": []}
    assert db["after_v1_rewrite_read_by_v2"]["favoriteNumber"] == 7
    assert db["photoURL_lost_by_avro_rewrite"] is True
    assert [e["userName"] for e in out["messages"]["consumed"]["v1"]] == ["e0", "e1", "e2"]
    assert out["rpc"]["avro"]["reply_as_seen_by_v1_client"]["userName"] == "Martin"


def test_fig_4_7_per_format() -> None:
    rows = {r["format"]: r for r in rewrite_demo()}
    assert all(r["update_kept"] for r in rows.values())
    for fmt in ("json", "msgpack", "thrift-binary", "thrift-compact", "protobuf"):
        assert rows[fmt]["new_field_survived"], fmt
    assert not rows["avro"]["new_field_survived"]  # the format where it is lost
    assert "photoURL" not in rows["avro"]["old_code_saw_fields"]


def test_messages_consumers_at_both_versions() -> None:
    reg, store = SchemaRegistry(MemoryStore()), MemoryStore()
    out = messages_demo(store, reg)
    v2 = out["consumed"]["v2"]
    assert [e["photoURL"] for e in v2] == [None, "e1.png", None]
    assert all("photoURL" not in e for e in out["consumed"]["v1"])


def test_rpc_between_versions_over_http() -> None:
    out = rpc_demo(SchemaRegistry(MemoryStore()))
    json_reply = out["json"]["reply_as_seen_by_v1_client"]
    assert json_reply == {"userName": "Martin", "favoriteNumber": 1337,
                          "interests": ["hacking"]}
    assert out["json"]["unknown_fields_kept"]  # the v1 client kept the server's photoURL
    assert out["avro"]["reply_as_seen_by_v1_client"] == json_reply
