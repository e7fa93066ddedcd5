"""Real S3 clients, unchanged, against a real cairn server (issue 17): rclone (copy, sync,
check with 0 differences, purge) and the MinIO Python SDK. What they support passes; what
cairn does not implement fails with AWS's error, never a 500. (The AWS CLI has its own file,
``test_awscli.py``; boto3 is used everywhere.)"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio
from minio.commonconfig import Tags
from minio.error import S3Error as MinioError

from .s3server import ACCESS, SECRET, client, running_server

RCLONE = shutil.which("rclone") or os.path.join(os.path.dirname(sys.executable), "rclone")


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with running_server(tmp_path / "store") as u:
        yield u


def rclone(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RCLONE_CONFIG": "/dev/null",
           "RCLONE_CONFIG_CAIRN_TYPE": "s3", "RCLONE_CONFIG_CAIRN_PROVIDER": "Other",
           "RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID": ACCESS,
           "RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY": SECRET,
           "RCLONE_CONFIG_CAIRN_ENDPOINT": url, "RCLONE_CONFIG_CAIRN_REGION": "us-east-1",
           "RCLONE_CONFIG_CAIRN_FORCE_PATH_STYLE": "true"}
    return subprocess.run([RCLONE, "--low-level-retries", "1", "--retries", "1", *args],
                          env=env, capture_output=True, text=True, timeout=300)


def test_rclone_copy_sync_check_purge(url: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(60):
        d = src / f"dir{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file{i}.bin").write_bytes(os.urandom(100 + 997 * i))
    (src / "big.bin").write_bytes(os.urandom(12 << 20))  # multipart with rclone's chunks
    (src / "naïve name +&=.txt").write_text("odd key")
    r = rclone(url, "mkdir", "cairn:rcl")
    assert r.returncode == 0, r.stderr
    r = rclone(url, "copy", str(src), "cairn:rcl", "--s3-upload-cutoff", "5M",
               "--s3-chunk-size", "5M")
    assert r.returncode == 0, r.stderr
    r = rclone(url, "check", str(src), "cairn:rcl")
    assert r.returncode == 0 and "0 differences found" in r.stderr, r.stderr
    (src / "dir0" / "file0.bin").unlink()
    (src / "dir1" / "file1.bin").write_bytes(b"changed")
    r = rclone(url, "sync", str(src), "cairn:rcl")
    assert r.returncode == 0, r.stderr
    r = rclone(url, "check", str(src), "cairn:rcl", "--download")
    assert r.returncode == 0 and "0 differences found" in r.stderr, r.stderr
    r = rclone(url, "purge", "cairn:rcl")
    assert r.returncode == 0, r.stderr
    assert "rcl" not in [b["Name"] for b in client(url).list_buckets()["Buckets"]]


def test_minio_sdk(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    mc = Minio(parts.netloc, access_key=ACCESS, secret_key=SECRET, secure=False,
               region="us-east-1")
    assert not mc.bucket_exists("mnb")
    mc.make_bucket("mnb")
    assert mc.bucket_exists("mnb")
    data = os.urandom(300_000)
    mc.put_object("mnb", "a/b.bin", io.BytesIO(data), len(data),
                  metadata={"x-amz-meta-colour": "blue"})
    assert mc.stat_object("mnb", "a/b.bin").size == len(data)
    assert mc.get_object("mnb", "a/b.bin").read() == data
    big = os.urandom(11 << 20)  # unknown length: the SDK's multipart path
    mc.put_object("mnb", "big", io.BytesIO(big), -1, part_size=5 << 20)
    assert mc.get_object("mnb", "big").read() == big
    assert sorted(o.object_name for o in mc.list_objects("mnb", recursive=True)) == \
        ["a/b.bin", "big"]
    assert sorted(o.object_name for o in mc.list_objects("mnb")) == ["a/", "big"]
    with pytest.raises(MinioError) as e:
        mc.stat_object("mnb", "missing")
    assert e.value.code in ("NoSuchKey", "ResponseHeadError")
    with pytest.raises(MinioError) as e:
        mc.get_object("mnb", "missing")
    assert e.value.code == "NoSuchKey"
    tags = Tags.new_object_tags()
    tags["k"] = "v"
    mc.set_object_tags("mnb", "big", tags)
    assert dict(mc.get_object_tags("mnb", "big") or {}) == {"k": "v"}
    with pytest.raises(MinioError) as e:  # not built: AWS's 501, never a fake success
        mc.get_bucket_policy("mnb")
    assert e.value.code == "NotImplemented"
    mc.remove_object("mnb", "a/b.bin")
    mc.remove_object("mnb", "big")
    mc.remove_bucket("mnb")
    assert not mc.bucket_exists("mnb")
