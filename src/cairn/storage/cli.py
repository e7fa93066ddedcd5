"""``cairn storage ...`` commands: the demo, stats of an engine directory, crash sweeps."""

from __future__ import annotations

import json
import os
import time

import click

from cairn.storage import ENGINES, open_engine


def _demo(data_dir: str, keys: int) -> None:
    """Load the same keys into every engine and print what each one did with them."""
    os.makedirs(data_dir, exist_ok=True)
    click.echo(f"{keys:,} keys (15-byte keys, ~10-byte values) put into each engine, one "
               f"flush, then one get;\ndata under {os.path.abspath(data_dir)}\n")
    click.echo(f"{'engine':6} {'puts/s':>10} {'one get':>10} {'keys':>8} {'on disk':>10} "
               f"{'write amp.':>10}")
    for kind in ENGINES:
        path = os.path.join(data_dir, kind)
        try:
            engine = open_engine(kind, path)
        except Exception as exc:  # an engine not yet built, or a damaged directory: say so
            click.echo(f"{kind:6} unavailable: {type(exc).__name__}: {exc}")
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
            click.echo(f"{kind:6} {keys / elapsed:10,.0f} {read * 1e6:7.1f} us {st['keys']:8,} "
                       f"{_size(st['disk_bytes']):>10} {st['write_amplification']:10.2f}")
    click.echo("\nlog appends to one file (fast writes, a full scan to read); hash adds an\n"
               "in-memory index of every key (Bitcask); lsm sorts writes in memory and merges\n"
               "sorted files; btree updates pages in place. Write amp.: bytes written to disk\n"
               "per byte put (DDIA ch. 3).")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def register(storage: click.Group, root: click.Group) -> None:
    register_crashtest(storage)

    @storage.command("demo")
    @click.option("--data", "data_dir", default="./data/storage-demo", show_default=True)
    @click.option("--keys", default=20_000, show_default=True, type=click.IntRange(min=1),
                  help="keys put into each engine")
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


def register_crashtest(storage: click.Group) -> None:
    @storage.command("crashtest")
    @click.option("--kind", "kinds", multiple=True, type=click.Choice(list(ENGINES)),
                  help="engine(s) to test; default: all")
    @click.option("--kills", default=200, show_default=True, type=click.IntRange(min=1),
                  help="SIGKILLs per engine")
    @click.option("--seed", default=None, type=int, help="random seed (default: random)")
    @click.option("--dir", "base", default=None, help="work directory (default: a temp dir)")
    @click.option("--options", "options_json", default="{}",
                  help="engine options as JSON, e.g. '{\"memtable_bytes\": 65536}'")
    @click.option("--max-delay", default=0.12, show_default=True,
                  type=click.FloatRange(min=0, min_open=True),
                  help="longest time (s) a child writes before it is killed")
    @click.option("--json", "json_out", default=None, help="write results as JSON to FILE")
    def crashtest(kinds: tuple[str, ...], kills: int, seed: int | None, base: str | None,
                  options_json: str, max_delay: float, json_out: str | None) -> None:
        """Kill a writer with SIGKILL again and again; verify every acknowledged write."""
        import random
        import shutil
        import tempfile

        from cairn.storage.crashtest import run_sweep

        seed = random.randrange(1 << 30) if seed is None else seed
        work = base or tempfile.mkdtemp(prefix="cairn-crash-")
        results = []
        failed = False
        for kind in kinds or tuple(ENGINES):
            path = os.path.join(work, kind)
            shutil.rmtree(path, ignore_errors=True)

            def progress(r, kind=kind) -> None:
                if r.kills % 25 == 0 or r.kills == kills:
                    click.echo(f"  {kind}: {r.kills}/{kills} kills, {r.acked_batches} acked "
                               f"batches, {len(r.violations)} violations", err=True)

            res = run_sweep(kind, path, kills, seed=seed, options=json.loads(options_json),
                            max_delay=max_delay, progress=progress)
            results.append(res.to_dict())
            failed |= bool(res.violations) or res.kills < kills
            click.echo(f"{kind:6} kills={res.kills} acked={res.acked_batches} "
                       f"checked={res.checked_keys} inflight applied/dropped="
                       f"{res.inflight_applied}/{res.inflight_dropped} "
                       f"violations={len(res.violations)} ({res.seconds}s, seed {seed})")
            for v in res.violations[:10]:
                click.echo(f"   ! {v}")
        if json_out:
            with open(json_out, "w") as f:
                json.dump({"seed": seed, "results": results}, f, indent=2)
        if not base:
            shutil.rmtree(work, ignore_errors=True)
        if failed:
            raise SystemExit(1)
