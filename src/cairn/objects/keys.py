"""Access keys for SigV4: the root pair in memory only, every other pair encrypted at rest.

A copy of the data folder must reveal no secret (issue 17). So:

* the **root** credentials never touch the data folder: they come from the environment
  (``CAIRN_S3_ACCESS_KEY`` / ``CAIRN_S3_SECRET_KEY``) or from a file the operator names
  (:func:`load_root`: mode 0600, outside the data folder; created with a fresh pair when
  missing), and live in this process's memory;
* **other** access keys are stored in the metadata engine (``K`` + access key id) with their
  secret sealed by AES-256-GCM under a key derived (HKDF-SHA256) from the root secret, the
  access key id as associated data (a sealed secret cannot be moved to another id). This is
  MinIO's scheme (its IAM data is encrypted with a key derived from the root credentials);
  rotating the root secret makes the old sealed keys unreadable, so they must be re-created.

Records written before encryption (``secret_key`` in clear) are sealed on open; a stored copy
of the root key is deleted.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cairn.storage import Engine

PREFIX = b"K"
_INFO = b"cairn s3 access keys v1"


@dataclass(frozen=True)
class AccessKey:
    access_key: str
    secret_key: str
    created: float


def new_access_key() -> str:
    return "CK" + secrets.token_hex(9).upper()


def new_secret() -> str:
    return secrets.token_urlsafe(30)


def _check_id(ak: str) -> None:
    if not (3 <= len(ak) <= 128 and ak.isascii() and ak.isalnum()):
        raise ValueError("access key ids are 3-128 ASCII letters and digits")


def load_root(path: str, data_dir: str | None = None) -> tuple[AccessKey, bool]:
    """The root pair from ``path`` (``{"access_key": ..., "secret_key": ...}``), created
    with a fresh pair and mode 0600 when missing; (pair, created). A file that others can
    read, or one inside ``data_dir``, is refused (ValueError)."""
    real = os.path.realpath(path)
    if data_dir is not None:
        root = os.path.realpath(data_dir)
        if os.path.commonpath([real, root]) == root:
            raise ValueError(f"the root credentials file {path} must not be inside the data "
                             f"folder {data_dir} (a copy of the folder would reveal it)")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); "
                             "chmod 600 it") from None
        with open(path, encoding="utf-8") as fh:
            try:
                doc = json.load(fh)
                key = AccessKey(str(doc["access_key"]), str(doc["secret_key"]),
                                float(doc.get("created", 0)))
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{path}: expected {{\"access_key\": ..., "
                                 f"\"secret_key\": ...}}") from None
        _check_id(key.access_key)
        return key, False
    key = AccessKey(new_access_key(), new_secret(), time.time())
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(key.__dict__, fh)
        fh.flush()
        os.fsync(fh.fileno())
    return key, True


class KeyStore(Mapping[str, str]):
    """access key id -> secret; a Mapping so SigV4 verification can look keys up.

    ``root``: the root pair (kept in memory; its secret keys the sealing of the others).
    """

    def __init__(self, meta: Engine, root: AccessKey) -> None:
        _check_id(root.access_key)
        self.meta, self.root = meta, root
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
        self._aead = AESGCM(hkdf.derive(root.secret_key.encode()))
        self._migrate()

    def _seal(self, ak: str, secret: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, secret.encode(),
                                                           ak.encode())).decode()

    def _open(self, ak: str, sealed: str) -> str | None:
        raw = base64.b64decode(sealed)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], ak.encode()).decode()
        except InvalidTag:
            return None  # sealed under another root secret

    def _migrate(self) -> None:
        for k, v in list(self.meta.scan(PREFIX, PREFIX + b"\xff")):
            doc = json.loads(v)
            if "secret_key" not in doc:
                continue
            ak = k[1:].decode()
            if ak == self.root.access_key:
                self.meta.delete(k, sync=True)
            else:
                self._put(ak, doc["secret_key"], float(doc.get("created", 0)))

    def _put(self, ak: str, secret: str, created: float) -> None:
        doc = {"sealed": self._seal(ak, secret), "created": created}
        self.meta.put(PREFIX + ak.encode(), json.dumps(doc).encode(), sync=True)

    def __getitem__(self, access_key: str) -> str:
        if access_key == self.root.access_key:
            return self.root.secret_key
        raw = self.meta.get(PREFIX + access_key.encode())
        secret = self._open(access_key, json.loads(raw)["sealed"]) if raw is not None else None
        if secret is None:
            raise KeyError(access_key)
        return secret

    def __iter__(self) -> Iterator[str]:
        yield self.root.access_key
        for k, _ in self.meta.scan(PREFIX, PREFIX + b"\xff"):
            yield k[1:].decode()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def create(self, access_key: str | None = None, secret_key: str | None = None) -> AccessKey:
        ak = access_key or new_access_key()
        _check_id(ak)
        if ak == self.root.access_key:
            raise ValueError("that is the root access key")
        key = AccessKey(ak, secret_key or new_secret(), time.time())
        self._put(ak, key.secret_key, key.created)
        return key

    def delete(self, access_key: str) -> bool:
        existed = self.meta.get(PREFIX + access_key.encode()) is not None
        self.meta.delete(PREFIX + access_key.encode(), sync=True)
        return existed

    def list(self) -> list[AccessKey]:
        """The stored (non-root) keys; a secret sealed under another root reads as ''."""
        out = []
        for k, v in self.meta.scan(PREFIX, PREFIX + b"\xff"):
            ak, doc = k[1:].decode(), json.loads(v)
            out.append(AccessKey(ak, self._open(ak, doc["sealed"]) or "", doc["created"]))
        return out
