"""``cairn bench memtable``: why the LSM memtable is a plain dict sorted at flush time.

An LSM-tree needs its write buffer in key order only when it is flushed to an SSTable (or
scanned). A sorted container (``sortedcontainers.SortedDict``, a pure-Python B-tree-like list
of lists) keeps order on *every* insert; a ``dict`` insert is one C call and the sort happens
once, in C, at the end. This command inserts N random 16-byte keys into both, including the
final sorted iteration, and prints ops/s and the ratio (medians of ``--repeat`` runs).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Callable

import click
from sortedcontainers import SortedDict

from cairn.storage.lsm.memtable import MemTable


def _dict_memtable(keys: list[bytes], value: bytes) -> int:
    # The engine's hot path: one dict store plus the size accounting that decides the flush.
    mem = MemTable()
    data = mem.data
    for k in keys:
        data[k] = value
        mem.approx_bytes += len(k) + len(value)
    return sum(1 for _ in mem.sorted_items())


def _sorted_container(keys: list[bytes], value: bytes) -> int:
    sd: SortedDict = SortedDict()
    size = 0
    for k in keys:
        sd[k] = value
        size += len(k) + len(value)
    return sum(1 for _ in sd.items())


def _insert_dict(keys: list[bytes], value: bytes) -> int:
    data: dict[bytes, bytes] = {}
    for k in keys:
        data[k] = value
    return len(data)


def _insert_sorted(keys: list[bytes], value: bytes) -> int:
    sd: SortedDict = SortedDict()
    for k in keys:
        sd[k] = value
    return len(sd)


def _time(fn: Callable[[list[bytes], bytes], int], keys: list[bytes], value: bytes,
          repeat: int) -> float:
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn(keys, value)
        dt = time.perf_counter() - t0
        if n != len(set(keys)):
            raise click.ClickException(f"{fn.__name__} lost keys: {n} != {len(set(keys))}")
        rates.append(len(keys) / dt)
    return statistics.median(rates)


def run(n: int, repeat: int, seed: int) -> dict[str, float | int]:
    rng = random.Random(seed)
    keys = [rng.randbytes(16) for _ in range(n)]
    value = os.urandom(100)
    dict_rate = _time(_dict_memtable, keys, value, repeat)
    sorted_rate = _time(_sorted_container, keys, value, repeat)
    # The insert phase alone (what a writer waits for; the sort happens at flush time).
    dict_ins = _time(_insert_dict, keys, value, repeat)
    sorted_ins = _time(_insert_sorted, keys, value, repeat)
    return {"keys": n, "repeat": repeat, "dict_sorted_at_flush_ops_s": round(dict_rate),
            "sorteddict_ops_s": round(sorted_rate), "ratio": round(dict_rate / sorted_rate, 2),
            "insert_only_dict_ops_s": round(dict_ins),
            "insert_only_sorteddict_ops_s": round(sorted_ins),
            "insert_only_ratio": round(dict_ins / sorted_ins, 2)}


@click.command("memtable")
@click.option("--keys", "n", default=200_000, show_default=True, help="random 16-byte keys")
@click.option("--repeat", default=3, show_default=True, help="runs; the median is reported")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "json_path", default=None, help="also write the results to FILE")
def bench_memtable(n: int, repeat: int, seed: int, json_path: str | None) -> None:
    """Insert N random keys into a dict sorted at flush time vs a SortedDict."""
    if n < 1 or repeat < 1:
        raise click.BadParameter("--keys and --repeat must be >= 1")
    res = run(n, repeat, seed)
    click.echo(f"memtable inserts of {n:,} random 16-byte keys (+ one sorted iteration), "
               f"median of {repeat}:")
    click.echo(f"  dict, sorted at flush : {res['dict_sorted_at_flush_ops_s']:>12,} ops/s")
    click.echo(f"  SortedDict            : {res['sorteddict_ops_s']:>12,} ops/s")
    click.echo(f"  ratio                 : {res['ratio']:.2f}x")
    click.echo(f"insert phase only (the sort is paid once, at flush): dict "
               f"{res['insert_only_dict_ops_s']:,} ops/s, SortedDict "
               f"{res['insert_only_sorteddict_ops_s']:,} ops/s, ratio "
               f"{res['insert_only_ratio']:.2f}x")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(res, f, indent=2)
