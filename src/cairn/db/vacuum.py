"""VACUUM: reclaim versions that no running transaction can see any more.

A version whose ``xmax`` committed before the *horizon* (PostgreSQL's OldestXmin: the oldest
xid or snapshot xmin of any running transaction) is invisible to every snapshot now running
and to every one taken later, so it and its index entries can go. A long-running transaction
holds the horizon back: versions deleted after it started stay, and the table bloats until it
ends (``cairn txn bloat`` shows it). Vacuum works in batches of chains, taking the database
mutex per batch, so transactions keep running while it works. It visits only the chains
that may hold dead versions (:func:`candidates`), paging them in a batch at a time.

Autovacuum (the background thread of :class:`~cairn.db.database.Database`) vacuums a table
when its dead versions since the last vacuum exceed ``autovacuum_threshold +
autovacuum_scale_factor * rows`` (PostgreSQL's defaults: 50 and 0.2).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from cairn.db.heap import Heap
from cairn.db.stats import TableStats, VacuumResult
from cairn.storage.keycodec import pack, prefix_end

if TYPE_CHECKING:
    from cairn.db.database import Database

BATCH = 512


def candidates(heap: Heap) -> list[bytes]:
    """The chains that may hold dead versions (database mutex held): resident ones with an
    ``xmax`` set, and those the engine's dead-version map lists (``("d", table) + pk``,
    written by checkpoints for every chain stored with an ``xmax``). Like PostgreSQL's
    visibility map, it lets vacuum skip the chains where every version is live."""
    out = {pkb for pkb, chain in heap.chains.items() if any(v.xmax for v in chain)}
    if heap.store is not None:
        prefix = pack(("d", heap.name))
        n = len(prefix)
        out.update(k[n:] for k, _ in heap.store.scan(prefix, prefix_end(prefix)))
    return sorted(out)


def vacuum_heap(db: Database, heap: Heap, *, auto: bool) -> VacuumResult:
    start = time.monotonic()
    with db._mu:
        horizon = db._horizon()
        keys = candidates(heap)
    removed = 0
    kept_dead = 0
    for i in range(0, len(keys), BATCH):
        batch = keys[i:i + BATCH]
        if heap.store is not None:
            for pkb in batch:
                heap.chain(pkb)  # page them in before taking the mutex
        with db._mu:
            active = db._active
            for pkb in batch:
                chain = heap.chain(pkb)
                if not chain:
                    continue
                keep = []
                gone = []
                for v in chain:
                    d = v.xmax
                    if d and d < horizon and d not in active:
                        gone.append(v)
                    else:
                        if d and d not in active:
                            kept_dead += 1
                        keep.append(v)
                if not gone:
                    continue
                removed += len(gone)
                chain[:] = keep
                for idx in heap.indexes.values():
                    still = {idx.key(v.row) for v in keep}
                    for v in gone:
                        vb = idx.key(v.row)
                        if vb not in still:
                            idx.discard(vb, pkb)
                if not keep:
                    heap.drop_chain(pkb)
                heap.dirty.add(pkb)
    with db._mu:
        c = heap.counters
        c.versions_removed += removed
        c.dead_since_vacuum = kept_dead
        now = time.time()
        if auto:
            c.autovacuum_count += 1
            c.last_autovacuum = now
        else:
            c.vacuum_count += 1
            c.last_vacuum = now
    return VacuumResult(heap.name, removed, kept_dead, horizon,
                        round(time.monotonic() - start, 6), auto)


def table_stats(db: Database, heap: Heap) -> TableStats:
    """Count live and dead versions and their bytes (database mutex held). It reads every
    chain, paged out or not (PostgreSQL's pgstattuple, not the estimates of pg_class)."""
    active = db._active
    rows = live = dead = versions = size = 0
    for _pkb, chain in heap.scan_chains():
        if not chain[-1].xmax:
            rows += 1
        for v in chain:
            versions += 1
            if v.xmax and v.xmax not in active:
                dead += 1
            else:
                live += 1
            size += len(json.dumps(v.row, separators=(",", ":")))
    c = heap.counters
    return TableStats(
        name=heap.name, rows=rows, live_versions=live, dead_versions=dead, versions=versions,
        bytes=size, indexes={n: i.count() for n, i in heap.indexes.items()},
        inserts=c.inserts, updates=c.updates, deletes=c.deletes,
        dead_since_vacuum=c.dead_since_vacuum, vacuum_count=c.vacuum_count,
        autovacuum_count=c.autovacuum_count, last_vacuum=c.last_vacuum,
        last_autovacuum=c.last_autovacuum, versions_removed=c.versions_removed)
