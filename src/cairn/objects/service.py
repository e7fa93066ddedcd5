"""The S3 service as one unit that any launcher can run: store + keys + maintenance + ASGI app.

``cairn s3 serve`` and ``cairn serve`` both call :func:`open_service`, so the drive layout, the
root credentials rule (``CAIRN_S3_ACCESS_KEY``/``CAIRN_S3_SECRET_KEY`` when set, else a
credentials file the operator names, else a new pair held in memory: never in the data
folder) and the background maintenance are the same everywhere. The app also answers
``GET /_cairn/health`` and ``GET /_cairn/metrics`` (Prometheus text) without a signature:
``_`` cannot start a bucket name, so these paths never shadow a bucket.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cairn.objects.drives import Drive, DriveInfo, LocalDrive
from cairn.objects.guard import Limits, protocol
from cairn.objects.keys import AccessKey, KeyStore, load_root, new_access_key, new_secret
from cairn.objects.maintenance import Maintenance
from cairn.objects.store import ObjectStore


@dataclass
class S3Service:
    app: Any  # ASGI
    store: ObjectStore
    keys: KeyStore
    maintenance: Maintenance | None
    access_key: str
    secret_key: str | None  # printed only when it was generated here
    summary: str
    http_protocol: type[Any]  # uvicorn's ``http=``: the protocol with the header timeout
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop the maintenance thread, then close the store (flush + fsync metadata)."""
        if self.maintenance is not None:
            self.maintenance.stop()
        self.store.close()


def open_drives(data_dir: str, drives: str | None = None, nodes: str | None = None,
                count: int = 6, node_token: str | None = None) -> list[Drive]:
    """``nodes``: storage node URLs; ``drives``: directories or a count under ``data_dir``."""
    if nodes:
        from cairn.objects.node import HttpDrive

        urls = [u for u in nodes.split(",") if u]
        return [HttpDrive(u, f"n{i}", token=node_token) for i, u in enumerate(urls)]
    if drives and not drives.isdigit():
        return [LocalDrive(p, f"d{i}") for i, p in enumerate(x for x in drives.split(",") if x)]
    n = int(drives) if drives else count
    return [LocalDrive(os.path.join(data_dir, "drives", f"d{i}"), f"d{i}") for i in range(n)]


def open_service(data_dir: str, *, drives: str | None = None, nodes: str | None = None,
                 k: int = 4, m: int = 2, domain: str = "localhost",
                 node_token: str | None = None, maintenance: bool = True,
                 env: dict[str, str] | None = None, limits: Limits | None = None,
                 credentials: str | None = None) -> S3Service:
    """Open (or create) the store in ``data_dir`` and build the app. The caller serves
    ``service.app`` (any ASGI server, any port, ``http=service.http_protocol`` for uvicorn)
    and calls ``service.close()`` when done. ``credentials``: the root credentials file
    (see :func:`root_credentials`)."""
    from cairn.objects.server import make_app

    env = dict(os.environ) if env is None else env
    ds = open_drives(data_dir, drives, nodes, k + m, node_token)
    if len(ds) < k + m:
        raise ValueError(f"{k}+{m} erasure coding needs at least {k + m} drives, "
                         f"got {len(ds)}")
    root, shown = root_credentials(env, credentials, data_dir)
    store = ObjectStore(data_dir, ds, k=k, m=m)
    try:
        keys = KeyStore(store.meta, root)
        ak = root.access_key
        loop = Maintenance(store).start() if maintenance else None
    except BaseException:
        store.close()
        raise
    limits = limits or Limits()
    app = make_app(store, keys, domain=domain, limits=limits,
                   extra={"health": lambda: health(store),
                          "metrics": lambda: metrics(store, loop)})
    where = f"{len(nodes.split(','))} storage nodes" if nodes else f"{len(ds)} drives"
    return S3Service(app, store, keys, loop, ak, shown,
                     f"{k}+{m} erasure-coded over {where}, data in {data_dir}",
                     protocol(limits.header_timeout))


def root_credentials(env: dict[str, str], credentials: str | None = None,
                     data_dir: str | None = None) -> tuple[AccessKey, str | None]:
    """The root pair and, when it was generated here, its secret to print once.

    ``CAIRN_S3_ACCESS_KEY``/``CAIRN_S3_SECRET_KEY`` when both are set; else the file
    ``credentials`` (or ``CAIRN_S3_CREDENTIALS_FILE``), created with a fresh pair when
    missing; else a fresh pair kept in memory only (keys created under it cannot be read
    after a restart). Never anything inside the data folder."""
    ak, sk = env.get("CAIRN_S3_ACCESS_KEY"), env.get("CAIRN_S3_SECRET_KEY")
    if ak and sk:
        return AccessKey(ak, sk, 0.0), None
    path = credentials or env.get("CAIRN_S3_CREDENTIALS_FILE")
    if path:
        key, created = load_root(path, data_dir)
        return key, key.secret_key if created else None
    key = AccessKey(new_access_key(), new_secret(), 0.0)
    return key, key.secret_key


def _drive_infos(store: ObjectStore) -> list[DriveInfo]:
    return [d.info() for d in store.drives.values()]


def health(store: ObjectStore) -> tuple[int, dict[str, Any]]:
    """200 while every stripe can still be written (a write quorum of drives is online)."""
    from cairn.objects.datapath import write_quorum

    online = sum(i.online for i in _drive_infos(store))
    ok = online >= write_quorum(store.k, store.m)
    return (200 if ok else 503), {"status": "ok" if ok else "degraded",
                                  "drives_online": online, "drives": len(store.drives)}


def metrics(store: ObjectStore, loop: Maintenance | None) -> str:
    """Prometheus text exposition of the store's counters and the maintenance loop."""
    st = store.stats
    lines = [
        "# TYPE cairn_s3_requests_total counter",
        f'cairn_s3_requests_total{{op="put"}} {st.puts}',
        f'cairn_s3_requests_total{{op="get"}} {st.gets}',
        f'cairn_s3_requests_total{{op="delete"}} {st.deletes}',
        "# TYPE cairn_s3_bytes_total counter",
        f'cairn_s3_bytes_total{{direction="in"}} {st.bytes_in}',
        f'cairn_s3_bytes_total{{direction="out"}} {st.bytes_out}',
        "# TYPE cairn_s3_degraded_reads_total counter",
        f"cairn_s3_degraded_reads_total {st.degraded_reads}",
        "# TYPE cairn_s3_shard_problems_total counter",
        *(f'cairn_s3_shard_problems_total{{kind="{k}"}} {v}'
          for k, v in sorted(st.shard_problems.items())),
        "# TYPE cairn_s3_gc_deleted_blobs_total counter",
        f"cairn_s3_gc_deleted_blobs_total {st.gc_deleted_blobs}",
        "# TYPE cairn_s3_heal_queue gauge",
        f"cairn_s3_heal_queue {len(store.heal_queue)}",
        "# TYPE cairn_s3_drive_online gauge",
        "# TYPE cairn_s3_drive_free_bytes gauge",
    ]
    for i in _drive_infos(store):
        lines.append(f'cairn_s3_drive_online{{drive="{i.drive_id}"}} {int(i.online)}')
        lines.append(f'cairn_s3_drive_free_bytes{{drive="{i.drive_id}"}} {i.free_bytes}')
    if loop is not None:
        lines.append("# TYPE cairn_s3_maintenance_runs_total counter")
        lines += [f'cairn_s3_maintenance_runs_total{{job="{k}"}} {v}'
                  for k, v in sorted(loop.stats.runs.items())]
        lines.append("# TYPE cairn_s3_maintenance_errors_total counter")
        lines += [f'cairn_s3_maintenance_errors_total{{job="{k}"}} {v}'
                  for k, v in sorted(loop.stats.errors.items())]
        lines.append("# TYPE cairn_s3_lifecycle_total counter")
        lines += [f'cairn_s3_lifecycle_total{{action="{k}"}} {v}'
                  for k, v in sorted(loop.stats.lifecycle.items())]
    return "\n".join(lines) + "\n"
