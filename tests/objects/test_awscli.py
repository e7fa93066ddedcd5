"""The AWS CLI, unchanged, against a real cairn S3 server: mb, cp (single and multipart), ls,
sync-style round trip, rm, s3api calls and an error code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .s3server import ACCESS, SECRET, running_server

Run = Callable[..., subprocess.CompletedProcess[str]]
AWS = shutil.which("aws") or os.path.join(os.path.dirname(sys.executable), "aws")


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("awshome")
    with running_server(tmp_path_factory.mktemp("s3cli")) as url:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET,
               "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(home),
               "AWS_CONFIG_FILE": str(home / "config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}

        def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
            proc = subprocess.run([AWS, "--endpoint-url", url, *args], env=env,
                                  capture_output=True, text=True, timeout=120)
            if check and proc.returncode != 0:
                raise AssertionError(f"aws {' '.join(args)}: {proc.stderr}")
            return proc

        yield run


def test_cli_round_trip(aws: Run, tmp_path: Path) -> None:
    run = aws
    run("s3", "mb", "s3://cli-bkt")
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello from the aws cli\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024 + 1))  # above the CLI's 8 MiB multipart threshold
    run("s3", "cp", str(small), "s3://cli-bkt/dir/small.txt")
    run("s3", "cp", str(big), "s3://cli-bkt/dir/big.bin")
    listing = run("s3", "ls", "s3://cli-bkt/dir/").stdout
    assert "small.txt" in listing and "big.bin" in listing
    assert "PRE dir/" in run("s3", "ls", "s3://cli-bkt/").stdout
    out = tmp_path / "out"
    run("s3", "cp", "--recursive", "s3://cli-bkt/dir/", str(out))
    assert (out / "small.txt").read_bytes() == small.read_bytes()
    assert (out / "big.bin").read_bytes() == big.read_bytes()
    head = run("s3api", "head-object", "--bucket", "cli-bkt",
               "--key", "dir/big.bin").stdout
    assert '"ContentLength": 9437185' in head and '-2\\""' in head
    missing = run("s3api", "get-object", "--bucket", "cli-bkt", "--key",
                  "nope", str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
    run("s3", "rm", "--recursive", "s3://cli-bkt/dir/")
    run("s3", "rb", "s3://cli-bkt")
    assert "cli-bkt" not in run("s3", "ls").stdout
