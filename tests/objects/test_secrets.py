"""Credentials at rest (issue 17): a copy of the data folder reveals no secret. The root
secret is never written there, other secret keys are sealed under a key derived from it, and
the folders and object files are the owner's only (0700/0600)."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest

from cairn.objects.keys import PREFIX, AccessKey, KeyStore, load_root
from cairn.objects.service import open_service
from cairn.objects.store import ObjectStore

ROOT = {"CAIRN_S3_ACCESS_KEY": "ROOTKEY1", "CAIRN_S3_SECRET_KEY": "root-secret-6f1c2a9e7b"}
ALICE_SECRET = "alice-secret-3d8e0b4c55"


def all_files(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, fs in os.walk(root) for f in fs]


def test_no_secret_in_the_data_folder_and_owner_only_modes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    svc = open_service(str(data), env=ROOT, maintenance=False)
    try:
        svc.keys.create("ALICE1", ALICE_SECRET)
        assert svc.keys["ALICE1"] == ALICE_SECRET
        assert svc.keys["ROOTKEY1"] == ROOT["CAIRN_S3_SECRET_KEY"]
        svc.store.create_bucket("bkt")
        svc.store.put_object("bkt", "big", io.BytesIO(b"x" * 300_000), 300_000)
    finally:
        svc.close()
    files = all_files(data)
    assert any("blobs" in str(f) for f in files)
    for f in files:
        raw = f.read_bytes()
        for secret in (ROOT["CAIRN_S3_SECRET_KEY"], ALICE_SECRET):
            assert secret.encode() not in raw, (f, secret)
            assert secret.encode("utf-16-le") not in raw, (f, secret)
        if "blobs" in f.parts:
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    for d, _, _ in os.walk(data):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d


def test_sealed_keys_open_only_under_the_same_root(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    svc = open_service(data, env=ROOT, maintenance=False)
    svc.keys.create("ALICE1", ALICE_SECRET)
    svc.close()
    again = open_service(data, env=ROOT, maintenance=False)
    try:
        assert again.keys["ALICE1"] == ALICE_SECRET
    finally:
        again.close()
    other = open_service(data, env={**ROOT, "CAIRN_S3_SECRET_KEY": "another-root"},
                         maintenance=False)
    try:
        assert "ALICE1" in list(other.keys)
        with pytest.raises(KeyError):
            other.keys["ALICE1"]
        assert [k.secret_key for k in other.keys.list()] == [""]
    finally:
        other.close()


def test_clear_text_records_are_sealed_on_open(tmp_path: Path) -> None:
    store = ObjectStore(str(tmp_path / "data"), inline_max=0)
    try:
        # What earlier versions wrote: the root and another key, secrets in clear.
        for ak, sk in (("ROOTKEY1", ROOT["CAIRN_S3_SECRET_KEY"]), ("BOB1", "bob-secret")):
            store.meta.put(PREFIX + ak.encode(), json.dumps(
                {"access_key": ak, "secret_key": sk, "created": 1.0}).encode(), sync=True)
        keys = KeyStore(store.meta, AccessKey("ROOTKEY1", ROOT["CAIRN_S3_SECRET_KEY"], 0))
        assert keys["BOB1"] == "bob-secret" and keys["ROOTKEY1"] == ROOT["CAIRN_S3_SECRET_KEY"]
        stored = [v for _, v in store.meta.scan(PREFIX, PREFIX + b"\xff")]
        assert len(stored) == 1 and b"bob-secret" not in stored[0]
    finally:
        store.close()


def test_root_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "root.json"
    key, created = load_root(str(path), str(tmp_path / "data"))
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_root(str(path)) == (key, False)
    path.chmod(0o644)
    with pytest.raises(ValueError, match="readable by others"):
        load_root(str(path))
    (tmp_path / "data").mkdir()
    with pytest.raises(ValueError, match="inside the data folder"):
        load_root(str(tmp_path / "data" / "root.json"), str(tmp_path / "data"))
    svc = open_service(str(tmp_path / "d2"), env={}, credentials=str(tmp_path / "r2.json"),
                       maintenance=False)
    try:
        assert svc.secret_key is not None  # generated: printed once
        assert svc.keys[svc.access_key] == svc.secret_key
    finally:
        svc.close()
    assert json.loads((tmp_path / "r2.json").read_text())["access_key"] == svc.access_key
