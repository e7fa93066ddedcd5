"""Window functions: OVER (PARTITION BY ... ORDER BY ... frame), computed after grouping.

As in PostgreSQL's WindowAgg node, the input rows are split into partitions, each sorted by
the window's ORDER BY; rows with equal ORDER BY values are *peers*. Ranking functions
(row_number, rank, dense_rank, percent_rank, cume_dist, ntile) look at positions and peers;
value functions (lag, lead, first_value, last_value, nth_value) and aggregates look at the
*frame*: by default RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (the current row and
its peers) when there is an ORDER BY, the whole partition when there is none; ROWS and
GROUPS frames count rows or peer groups. A frame starting at UNBOUNDED PRECEDING is
aggregated incrementally; other frames re-aggregate their rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cairn.sql import ast as a
from cairn.sql import plan as P
from cairn.sql import types as T
from cairn.sql.errors import SqlError

Fn = Callable[[tuple, Any], Any]

RANKING = {"row_number": T.INT8, "rank": T.INT8, "dense_rank": T.INT8,
           "percent_rank": T.FLOAT8, "cume_dist": T.FLOAT8, "ntile": T.INT4}
VALUE = {"lag", "lead", "first_value", "last_value", "nth_value"}


@dataclass
class WindowFunc:
    name: str
    args: list[Fn]
    partition: list[Fn]
    hashers: list[Callable[[Any], Any]]
    order: list[P.SortKey]
    frame: a.FrameSpec | None
    agg: P.AggSpec | None = None  # an aggregate used as a window function
    offsets: list[Fn] = field(default_factory=list)  # frame offsets (start, end)


def _peer_key(order: list[P.SortKey], row: tuple, ex: Any) -> tuple:
    return tuple((v is None, None if v is None else k.key(v))
                 for k, v in ((k, k.fn(row, ex)) for k in order))


def _sort(rows: list[tuple], order: list[P.SortKey], ex: Any) -> list[tuple]:
    for k in reversed(order):
        vals = [k.fn(r, ex) for r in rows]
        nn = [(v, r) for v, r in zip(vals, rows, strict=True) if v is not None]
        nulls = [r for v, r in zip(vals, rows, strict=True) if v is None]
        nn.sort(key=lambda p, kf=k.key: kf(p[0]), reverse=k.desc)
        srt = [r for _, r in nn]
        rows = nulls + srt if k.nulls_first else srt + nulls
    return rows


def compute(wf: WindowFunc, rows: list[tuple], ex: Any) -> list[Any]:
    """One value per input row (in input order)."""
    index = {id(r): i for i, r in enumerate(rows)}
    parts: dict[Any, list[tuple]] = {}
    for r in rows:
        key = tuple(None if v is None else h(v) for v, h in zip(
            (f(r, ex) for f in wf.partition), wf.hashers, strict=True))
        parts.setdefault(key, []).append(r)
    out: list[Any] = [None] * len(rows)
    for part in parts.values():
        srt = _sort(part, wf.order, ex) if wf.order else part
        vals = _partition(wf, srt, ex)
        for r, v in zip(srt, vals, strict=True):
            out[index[id(r)]] = v
    return out


def _peers(wf: WindowFunc, rows: list[tuple], ex: Any) -> list[int]:
    """Peer-group number of each row (rows with equal ORDER BY values share one)."""
    if not wf.order:
        return [0] * len(rows)
    groups, g, prev = [], -1, object()
    for r in rows:
        k = _peer_key(wf.order, r, ex)
        if k != prev:
            g += 1
            prev = k
        groups.append(g)
    return groups


def _partition(wf: WindowFunc, rows: list[tuple], ex: Any) -> list[Any]:
    n = len(rows)
    name = wf.name
    peers = _peers(wf, rows, ex)
    if name == "row_number":
        return list(range(1, n + 1))
    if name in ("rank", "dense_rank", "percent_rank", "cume_dist"):
        out = []
        first_of: dict[int, int] = {}
        last_of: dict[int, int] = {}
        for i, g in enumerate(peers):
            first_of.setdefault(g, i)
            last_of[g] = i
        for g in peers:
            if name == "rank":
                out.append(first_of[g] + 1)
            elif name == "dense_rank":
                out.append(g + 1)
            elif name == "percent_rank":
                out.append(0.0 if n <= 1 else first_of[g] / (n - 1))
            else:
                out.append((last_of[g] + 1) / n)
        return out
    if name == "ntile":
        buckets = wf.args[0](rows[0], ex) if rows else None
        if buckets is None:
            return [None] * n
        if buckets <= 0:
            raise SqlError("argument of ntile must be greater than zero", sqlstate="22014")
        out, size, extra = [], n // buckets, n % buckets
        b, left = 1, (size + 1 if extra else size)
        for _ in range(n):
            if left == 0:
                b += 1
                left = size + 1 if b <= extra else size
            out.append(b)
            left -= 1
        return out
    if name in ("lag", "lead"):
        out = []
        for i, r in enumerate(rows):
            off = wf.args[1](r, ex) if len(wf.args) > 1 else 1
            if off is None:
                out.append(None)
                continue
            j = i - off if name == "lag" else i + off
            if 0 <= j < n:
                out.append(wf.args[0](rows[j], ex))
            else:
                out.append(wf.args[2](r, ex) if len(wf.args) > 2 else None)
        return out
    frames = _frames(wf, rows, peers, ex)
    if name in ("first_value", "last_value", "nth_value"):
        out = []
        for i, (s, e) in enumerate(frames):
            if s >= e:
                out.append(None)
            elif name == "first_value":
                out.append(wf.args[0](rows[s], ex))
            elif name == "last_value":
                out.append(wf.args[0](rows[e - 1], ex))
            else:
                k = wf.args[1](rows[i], ex)
                if k is not None and k <= 0:
                    raise SqlError("argument of nth_value must be greater than zero",
                                   sqlstate="22016")
                out.append(None if k is None or s + k - 1 >= e else
                           wf.args[0](rows[s + k - 1], ex))
        return out
    assert wf.agg is not None
    return _aggregate(wf.agg, rows, frames, ex)


def _frames(wf: WindowFunc, rows: list[tuple], peers: list[int], ex: Any
            ) -> list[tuple[int, int]]:
    """[start, end) of each row's frame."""
    n = len(rows)
    fr = wf.frame
    if fr is None:
        if not wf.order:
            return [(0, n)] * n
        ends = _peer_ends(peers)
        return [(0, ends[i]) for i in range(n)]
    starts = _peer_starts(peers)
    ends = _peer_ends(peers)
    out = []
    for i in range(n):
        s = _bound(fr.mode, fr.start, i, rows, n, peers, starts, ends, ex, True, wf)
        e = _bound(fr.mode, fr.end, i, rows, n, peers, starts, ends, ex, False, wf)
        out.append((max(0, s), min(n, e)))
    return out


def _peer_starts(peers: list[int]) -> list[int]:
    out, start = [], 0
    for i, g in enumerate(peers):
        if i and g != peers[i - 1]:
            start = i
        out.append(start)
    return out


def _peer_ends(peers: list[int]) -> list[int]:
    n = len(peers)
    out = [n] * n
    end = n
    for i in range(n - 1, -1, -1):
        if i < n - 1 and peers[i] != peers[i + 1]:
            end = i + 1
        out[i] = end
    return out


def _bound(mode: str, b: a.FrameBound, i: int, rows: list[tuple], n: int,
           peers: list[int], starts: list[int], ends: list[int], ex: Any, is_start: bool,
           wf: WindowFunc) -> int:
    row = rows[i]
    k = b.kind
    if k == "unbounded preceding":
        return 0
    if k == "unbounded following":
        return n
    if k == "current row":
        if mode == "rows":
            return i if is_start else i + 1
        return starts[i] if is_start else ends[i]
    off_fn = wf.offsets[0 if is_start else 1]
    off = off_fn(row, ex)
    if off is None or off < 0:
        raise SqlError("frame starting offset must not be negative" if is_start else
                       "frame ending offset must not be negative", sqlstate="22013")
    sign = -1 if k == "preceding" else 1
    if mode == "rows":
        j = i + sign * off
        return j if is_start else j + 1
    if mode == "groups":
        g = peers[i] + sign * off
        idx = [j for j, p in enumerate(peers) if p == g]
        if not idx:
            if is_start:
                return n if g > peers[-1] else 0
            return 0 if g < 0 else n
        return idx[0] if is_start else idx[-1] + 1
    # RANGE with an offset: the single ORDER BY value, shifted by the offset
    sk = wf.order[0]
    cur = sk.fn(row, ex)
    if cur is None:  # NULLs: the frame is the row's peers
        return starts[i] if is_start else ends[i]
    # in the sort's direction, "preceding" moves towards the start of the partition
    step = -off if k == "preceding" else off
    target = cur - step if sk.desc else cur + step
    key = sk.key
    tkey = key(target)

    def before(v: Any) -> bool:  # v sorts before the target in this window's order
        if v is None:
            return sk.nulls_first
        return key(v) > tkey if sk.desc else key(v) < tkey

    def after(v: Any) -> bool:
        if v is None:
            return not sk.nulls_first
        return key(v) < tkey if sk.desc else key(v) > tkey

    vals = [sk.fn(r, ex) for r in rows]
    if is_start:
        return next((j for j, v in enumerate(vals) if not before(v)), n)
    last = -1
    for j, v in enumerate(vals):
        if not after(v):
            last = j
    return last + 1


def _aggregate(spec: P.AggSpec, rows: list[tuple], frames: list[tuple[int, int]],
               ex: Any) -> list[Any]:
    out: list[Any] = []
    if all(s == 0 for s, _ in frames) and all(
            frames[i][1] <= frames[i + 1][1] for i in range(len(frames) - 1)):
        st = spec.init()
        done = 0
        for _s, e in frames:
            while done < e:
                st = _step(spec, st, rows[done], ex)
                done += 1
            out.append(spec.final(_copy(st)))
        return out
    for s, e in frames:
        st = spec.init()
        for j in range(s, e):
            st = _step(spec, st, rows[j], ex)
        out.append(spec.final(st))
    return out


def _copy(st: Any) -> Any:
    return list(st) if isinstance(st, list) else st


def _step(spec: P.AggSpec, st: Any, row: tuple, ex: Any) -> Any:
    if spec.filter is not None and spec.filter(row, ex) is not True:
        return st
    vals = [f(row, ex) for f in spec.args]
    if spec.strict and any(v is None for v in vals):
        return st
    return spec.step(st, vals)
