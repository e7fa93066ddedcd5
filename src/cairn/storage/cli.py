"""``cairn storage ...`` commands and, until the services exist, ``cairn serve``."""

from __future__ import annotations

import json
import os
import time

import click

from cairn.storage import ENGINES, open_engine


def _demo(data_dir: str, keys: int) -> None:
    """Load the same keys into every engine and print what each one did with them."""
    os.makedirs(data_dir, exist_ok=True)
    for kind in ENGINES:
        path = os.path.join(data_dir, kind)
        try:
            engine = open_engine(kind, path)
        except Exception as exc:  # an engine not yet built, or a damaged directory: say so
            click.echo(f"{kind:6} unavailable: {exc}")
            continue
        with engine:
            t0 = time.perf_counter()
            for i in range(keys):
                engine.put(b"key%012d" % i, b"value-%d" % i)
            engine.flush()
            elapsed = time.perf_counter() - t0
            probe = b"key%012d" % (keys // 2)
            t1 = time.perf_counter()
            engine.get(probe)
            read = time.perf_counter() - t1
            st = engine.stats().to_dict()
            click.echo(f"{kind:6} {keys / elapsed:10.0f} puts/s  one get {read * 1e6:9.1f} us  "
                       f"keys={st['keys']} disk={st['disk_bytes']}B "
                       f"write-amp={st['write_amplification']}")


def register(storage: click.Group, root: click.Group) -> None:
    @storage.command("demo")
    @click.option("--data", "data_dir", default="./data/storage-demo", show_default=True)
    @click.option("--keys", default=20_000, show_default=True)
    def demo(data_dir: str, keys: int) -> None:
        """Load keys into every engine and print their stats."""
        _demo(data_dir, keys)

    @storage.command("stats")
    @click.argument("kind", type=click.Choice(list(ENGINES)))
    @click.argument("path", type=click.Path(exists=True, file_okay=False))
    def stats(kind: str, path: str) -> None:
        """Open an engine directory and print its stats as JSON."""
        with open_engine(kind, path) as engine:
            click.echo(json.dumps(engine.stats().to_dict(), indent=2))

    @root.command("serve")
    @click.option("--data", "data_dir", default="./data", show_default=True,
                  help="data directory (CAIRN_SERVE_DATA)")
    def serve(data_dir: str) -> None:
        """Start every cairn service that exists. Today: the storage demo."""
        click.echo("cairn serve: the services arrive with later layers; running the storage "
                   "demo on embedded defaults.")
        _demo(os.path.join(data_dir, "storage-demo"), 20_000)
