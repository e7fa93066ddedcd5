"""`cairn encode demo/explain/export/convert`: the book's sizes exactly, annotated bytes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cairn.cli import _register, cli
from cairn.encoding.demo import BOOK_SIZES, MARTIN, PERSON_AVSC, demo_data
from cairn.encoding.formats import codec_for


def run(*args: str) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_sizes_equal_the_book() -> None:
    rows = demo_data()
    assert {r["format"]: r["size"] for r in rows} == BOOK_SIZES
    assert {r["format"]: r["size"] for r in rows} == {
        "json": 81, "msgpack": 66, "thrift-binary": 59, "thrift-compact": 34, "protobuf": 33,
        "avro": 32}
    for r in rows:  # the annotated parts cover every byte, in order, with no gap
        covered = "".join(p["hex"].replace(" ", "") for p in r["parts"])
        assert covered == r["hex"], r["format"]


def test_demo_command_text_and_json() -> None:
    code, out = run("encode", "demo")
    assert code == 0
    assert "avro             32 bytes  (= book's 32)" in out
    assert "favoriteNumber: union branch 1 (long)" in out
    # fig. 4-7 for every format, and the one where the new field is lost
    assert "protobuf        photoURL survives (16 -> 16 bytes; kept 9 unknown bytes)" in out
    assert "avro            photoURL LOST     (16 -> 7 bytes" in out
    assert out.count("photoURL survives") == 5
    code, out = run("encode", "demo", "--json")
    data = json.loads(out)
    assert data["record"] == MARTIN
    assert [f["size"] for f in data["formats"]] == [81, 66, 59, 34, 33, 32]
    assert [f["book_size"] for f in data["formats"]] == [81, 66, 59, 34, 33, 32]
    assert data["formats"][5]["parts"][0] == {"offset": 0, "hex": "0c", "meaning": "length 6",
                                              "path": "userName"}
    lost = [r["format"] for r in data["rewrite_by_old_code"] if not r["new_field_survived"]]
    assert lost == ["avro"]


def test_explain_export_and_convert(tmp_path: Path) -> None:
    schema = tmp_path / "person.avsc"
    schema.write_text(json.dumps(PERSON_AVSC))
    blob = tmp_path / "martin.bin"
    blob.write_bytes(codec_for("thrift-compact", __import__(
        "cairn.encoding.demo", fromlist=["person_schema"]).person_schema()).encode(MARTIN))
    code, out = run("encode", "explain", str(blob), "--schema", str(schema), "--format",
                    "thrift-compact")
    assert code == 0 and "favoriteNumber: i64 1337 (zig-zag varint)" in out
    blob.write_bytes(blob.read_bytes()[:9])
    code, out = run("encode", "explain", str(blob), "--schema", str(schema), "--format",
                    "thrift-compact")
    assert code == 1 and "error: truncated" in out
    code, out = run("encode", "export", str(schema), "--to", "proto")
    assert "optional int64 favoriteNumber = 2;" in out
    code, out = run("encode", "export", str(schema), "--to", "thrift")
    assert "2: optional i64 favoriteNumber," in out
    code, out = run("encode", "export", str(schema), "--to", "avsc")
    assert code == 0 and json.loads(out) == PERSON_AVSC
    code, out = run("encode", "export", str(schema), "--to", "canonical")
    assert out.strip() == ('{"name":"Person","type":"record","fields":[{"name":"userName",'
                           '"type":"string"},{"name":"favoriteNumber","type":["null","long"]},'
                           '{"name":"interests","type":{"type":"array","items":"string"}}]}')
    src = tmp_path / "m.avro"
    src.write_bytes(bytes.fromhex(demo_data()[-1]["hex"]))
    code, out = run("encode", "convert", str(src), "--schema", str(schema), "--from", "avro",
                    "--to", "protobuf", "--out", str(tmp_path / "m.pb"))
    assert code == 0 and "33 bytes" in out
    assert (tmp_path / "m.pb").read_bytes().hex() == demo_data()[4]["hex"]
