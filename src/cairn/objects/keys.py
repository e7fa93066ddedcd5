"""Access keys for SigV4, kept in the store's metadata engine (``K`` + access key id).

``cairn s3 serve`` takes its first (root) credentials from ``CAIRN_S3_ACCESS_KEY`` /
``CAIRN_S3_SECRET_KEY`` when set, otherwise generates and prints a pair once.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cairn.storage import Engine

PREFIX = b"K"


@dataclass(frozen=True)
class AccessKey:
    access_key: str
    secret_key: str
    created: float


class KeyStore(Mapping[str, str]):
    """access key id -> secret; a Mapping so SigV4 verification can look keys up."""

    def __init__(self, meta: Engine) -> None:
        self.meta = meta

    def __getitem__(self, access_key: str) -> str:
        raw = self.meta.get(PREFIX + access_key.encode())
        if raw is None:
            raise KeyError(access_key)
        return str(json.loads(raw)["secret_key"])

    def __iter__(self) -> Iterator[str]:
        for k, _ in self.meta.scan(PREFIX, PREFIX + b"\xff"):
            yield k[1:].decode()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def create(self, access_key: str | None = None, secret_key: str | None = None) -> AccessKey:
        ak = access_key or "CK" + secrets.token_hex(9).upper()
        if not (3 <= len(ak) <= 128 and ak.isascii() and ak.isalnum()):
            raise ValueError("access key ids are 3-128 ASCII letters and digits")
        key = AccessKey(ak, secret_key or secrets.token_urlsafe(30), time.time())
        self.meta.put(PREFIX + ak.encode(), json.dumps(key.__dict__).encode(), sync=True)
        return key

    def delete(self, access_key: str) -> bool:
        existed = self.meta.get(PREFIX + access_key.encode()) is not None
        self.meta.delete(PREFIX + access_key.encode(), sync=True)
        return existed

    def list(self) -> list[AccessKey]:
        return [AccessKey(**json.loads(v)) for _, v in self.meta.scan(PREFIX, PREFIX + b"\xff")]
