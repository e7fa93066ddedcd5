"""A multi-leader replica: a cairn.db database that accepts local writes and applies the
other leaders' changes (DDIA ch. 5 "Multi-Leader Replication").

Every local write becomes a ``Change`` (origin leader, its sequence number, the row, the row's
version vector after the write, the origin's clock, and ``deps``: everything the origin had
applied). Changes travel pushed along the topology (forwarded with the list of replica ids
they passed, so a ring or star never loops them) and pulled periodically from upstream
leaders (which repairs lost messages and partitions).

Two modes:

- ``"vv"``: causal delivery (a change waits until its ``deps`` have been applied: the update of
  DDIA fig. 5-9 waits for its insert) and per-row version vectors: a change whose row version
  neither dominates nor is dominated by the local row's is a **conflict**, resolved by the rule
  (``lww``: greatest (timestamp, leader); ``replica``: greatest leader id; ``merge``: list
  columns united, others by lww; ``siblings``: both kept for the application) and recorded;
- ``"naive"``: changes apply in arrival order, last write wins by timestamp, and an update whose
  row is not there is dropped (recorded as an anomaly): fig. 5-9's failure.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from cairn.db import Database

TOPOLOGIES = ("circular", "star", "all")
RULES = ("lww", "replica", "merge", "siblings")
META = ("_vv", "_ts", "_origin", "_siblings")


class ReplicationError(ValueError):
    """A bad configuration (unknown topology, rule or mode) or a write to an unknown table."""


@dataclass(frozen=True, slots=True)
class MultiLeaderConfig:
    topology: str = "all"
    mode: str = "vv"        # "vv" | "naive"
    rule: str = "lww"
    sync_ms: float = 100.0  # how often a leader pulls from its upstream leaders

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise ReplicationError(f"unknown topology {self.topology!r}: {', '.join(TOPOLOGIES)}")
        if self.rule not in RULES:
            raise ReplicationError(f"unknown conflict rule {self.rule!r}: {', '.join(RULES)}")
        if self.mode not in ("vv", "naive"):
            raise ReplicationError(f"unknown mode {self.mode!r}: vv or naive")


@dataclass(frozen=True, slots=True)
class Change:
    origin: str
    seq: int
    table: str
    key: Any
    op: str                       # "insert" | "update" | "delete"
    values: tuple                 # sorted (column, value) pairs of the row (empty: delete)
    row_vv: tuple                 # the row's version vector after this write
    ts: float                     # the origin's clock
    deps: tuple                   # the origin's applied vector when it wrote

    @property
    def id(self) -> tuple[str, int]:
        return (self.origin, self.seq)


def downstream(name: str, names: list[str], topology: str) -> list[str]:
    """The leaders ``name`` pushes its changes to."""
    if topology == "all":
        return [x for x in names if x != name]
    if topology == "circular":
        return [names[(names.index(name) + 1) % len(names)]] if len(names) > 1 else []
    center = names[0]
    return [x for x in names if x != center] if name == center else [center]


def upstream(name: str, names: list[str], topology: str) -> list[str]:
    """The leaders ``name`` receives from (and pulls from)."""
    return [x for x in names if name in downstream(x, names, topology)]


def _dominates(a: dict, b: dict) -> bool:
    return all(a.get(k, 0) >= v for k, v in b.items())


def _vv_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if out.get(k, 0) < v:
            out[k] = v
    return out


class Leader:
    """One leader; its durable state (database, change log, applied vector) lives in ``disk``
    so that a simulated crash keeps it. ``ctx`` is a ``cairn.sim`` context (or any object
    with ``name``, ``now``, ``send``, ``set_timer``, ``disk``)."""

    def __init__(self, ctx: Any, names: list[str], config: MultiLeaderConfig,
                 tables: tuple[str, ...] = ("rows",)):
        self.ctx = ctx
        self.name = ctx.name
        self.names = names
        self.cfg = config
        d = ctx.disk
        if "db" not in d:
            db = Database.memory()
            for t in tables:
                db.create_table(t, primary_key="id")
            db.create_table("_conflicts", primary_key="id")
            d.update(db=db, log=[], applied={}, applied_ids=set(), seq=0, pending=[],
                     anomalies=[], conflict_no=itertools.count(1))
        self.d = d
        self.db: Database = d["db"]
        self.down = downstream(self.name, names, config.topology)
        self.up = upstream(self.name, names, config.topology)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.ctx.set_timer(self.cfg.sync_ms * (0.5 + self.ctx.rng.random()), ("sync",))

    def on_timer(self, tag: tuple) -> None:
        if tag[0] == "sync":
            for peer in self.up:
                self.ctx.send(peer, ("pull", self._have()))
            self.ctx.set_timer(self.cfg.sync_ms, ("sync",))

    def on_message(self, src: str, msg: tuple) -> None:
        kind = msg[0]
        if kind == "chg":
            change, via = msg[1], msg[2]
            if self._receive(change):
                self._forward(change, via)
        elif kind == "pull":
            have = dict(msg[1]) if self.cfg.mode == "vv" else set(msg[1])
            missing = tuple(c for c in self.d["log"] if not self._covered(have, c))
            if missing:
                self.ctx.send(src, ("changes", missing))
        elif kind == "changes":
            for c in msg[1]:
                self._receive(c)

    # --- local writes ------------------------------------------------------------------------
    def write(self, table: str, key: Any, values: dict[str, Any] | None,
              op: str | None = None) -> Change:
        """A local write (insert if the row is absent, update otherwise, delete if ``values``
        is None); it commits here and is shipped to the other leaders asynchronously."""
        with self.db.transaction() as tx:
            row = tx.get(table, key)
            op = op or ("delete" if values is None else "update" if row else "insert")
            d = self.d
            d["seq"] += 1
            seq = d["seq"]
            row_vv = _vv_merge(dict(row["_vv"]) if row else {}, {self.name: seq})
            ts = self.ctx.now()
            change = Change(self.name, seq, table, key, op,
                            tuple(sorted((values or {}).items())),
                            tuple(sorted(row_vv.items())), ts,
                            tuple(sorted(self._applied_vector().items())))
            self._store(tx, change, dict(change.values) if values is not None else None,
                        row_vv)
        self._record_applied(change)
        for peer in self.down:
            self.ctx.send(peer, ("chg", change, (self.name,)))
        return change

    # --- applying remote changes -------------------------------------------------------------
    def _have(self) -> Any:
        if self.cfg.mode == "vv":
            return tuple(sorted(self.d["applied"].items()))
        return tuple(sorted(self.d["applied_ids"]))

    def _covered(self, have: Any, c: Change) -> bool:
        if self.cfg.mode == "vv":
            return have.get(c.origin, 0) >= c.seq
        return c.id in have

    def _applied_vector(self) -> dict[str, int]:
        return dict(self.d["applied"])

    def _seen(self, c: Change) -> bool:
        if self.cfg.mode == "vv":
            return self.d["applied"].get(c.origin, 0) >= c.seq
        return c.id in self.d["applied_ids"]

    def _record_applied(self, c: Change) -> None:
        d = self.d
        d["log"].append(c)
        d["applied_ids"].add(c.id)
        if d["applied"].get(c.origin, 0) < c.seq:
            d["applied"][c.origin] = c.seq

    def _receive(self, c: Change) -> bool:
        """Apply ``c`` if new (and, in vv mode, once its dependencies are applied). True if
        it was new (so it is forwarded)."""
        if c.origin == self.name or self._seen(c) or c in self.d["pending"]:
            return False
        if self.cfg.mode == "naive":
            self._apply_naive(c)
            self._record_applied(c)
            return True
        self.d["pending"].append(c)
        progress = True
        while progress:  # causal delivery: apply whatever became ready
            progress = False
            for p in list(self.d["pending"]):
                if self._ready(p):
                    self.d["pending"].remove(p)
                    self._apply_vv(p)
                    self._record_applied(p)
                    progress = True
        return True

    def _ready(self, c: Change) -> bool:
        applied = self.d["applied"]
        if applied.get(c.origin, 0) != c.seq - 1:
            return False
        return all(applied.get(k, 0) >= v for k, v in c.deps if k != c.origin)

    def _forward(self, c: Change, via: tuple) -> None:
        if self.cfg.topology == "all":
            return  # every leader hears from the origin directly
        for peer in self.down:
            if peer not in via and peer != c.origin:
                self.ctx.send(peer, ("chg", c, (*via, self.name)))

    def _store(self, tx: Any, c: Change, values: dict | None, row_vv: dict,
               siblings: list | None = None) -> None:
        if values is None:
            # A delete keeps a tombstone row so that its version still orders later writes.
            row = {"id": c.key, "_deleted": True}
        else:
            row = {**values, "id": c.key}
        row.update(_vv=row_vv, _ts=c.ts, _origin=c.origin)
        if siblings:
            row["_siblings"] = siblings
        if tx.get(c.table, c.key) is None:
            tx.insert(c.table, row)
        else:
            tx.delete(c.table, c.key)
            tx.insert(c.table, row)

    def _apply_vv(self, c: Change) -> None:
        remote_vv = dict(c.row_vv)
        with self.db.transaction() as tx:
            local = tx.get(c.table, c.key)
            if local is None or _dominates(remote_vv, dict(local["_vv"])):
                self._store(tx, c, dict(c.values) if c.op != "delete" else None, remote_vv)
                return
            local_vv = dict(local["_vv"])
            if _dominates(local_vv, remote_vv):
                return  # already superseded here
            merged_vv = _vv_merge(local_vv, remote_vv)
            winner, values, siblings = self._resolve(local, c)
            self._store(tx, c if winner == "remote" else _as_change(local, c), values,
                        merged_vv, siblings)
            no = next(self.d["conflict_no"])
            tx.insert("_conflicts", {
                "id": f"{self.name}:{no}", "table": c.table, "key": c.key, "rule": self.cfg.rule,
                "local": _user(local), "remote": dict(c.values), "winner": winner,
                "local_origin": local["_origin"], "remote_origin": c.origin})

    def _resolve(self, local: dict, c: Change) -> tuple[str, dict | None, list | None]:
        rule = self.cfg.rule
        remote = None if c.op == "delete" else dict(c.values)
        mine = None if local.get("_deleted") else _user(local)
        remote_key = (c.ts, c.origin)
        local_key = (local["_ts"], local["_origin"])
        if rule == "replica":
            remote_wins = c.origin > local["_origin"]
        else:
            remote_wins = remote_key > local_key
        if rule == "merge" and remote is not None and mine is not None:
            base, other = (remote, mine) if remote_wins else (mine, remote)
            merged = dict(base)
            for col, v in other.items():
                if isinstance(v, list) and isinstance(merged.get(col), list):
                    merged[col] = sorted(set(merged[col]) | set(v), key=repr)
            return ("remote" if remote_wins else "local"), merged, None
        if rule == "siblings":
            sibs = {repr(v): v for v in (local.get("_siblings") or [mine]) + [remote]
                    if v is not None}
            values = [sibs[k] for k in sorted(sibs)]
            chosen = remote if remote_wins else mine
            return ("remote" if remote_wins else "local"), chosen, values
        return ("remote" if remote_wins else "local"), (remote if remote_wins else mine), None

    def _apply_naive(self, c: Change) -> None:
        with self.db.transaction() as tx:
            local = tx.get(c.table, c.key)
            if local is None and c.op == "update":
                # DDIA fig. 5-9: the update overtook its insert; there is no row to update.
                self.d["anomalies"].append(f"{self.name}: update {c.id} of {c.key!r} "
                                           f"arrived before its insert: dropped")
                return
            if local is not None and (local["_ts"], local["_origin"]) > (c.ts, c.origin):
                return  # last write wins by timestamp
            self._store(tx, c, dict(c.values) if c.op != "delete" else None, dict(c.row_vv))

    # --- reading -----------------------------------------------------------------------------
    def rows(self, table: str = "rows") -> dict[Any, dict]:
        """The table's live rows without replication metadata (siblings kept)."""
        with self.db.transaction() as tx:
            out = {}
            for row in tx.select(table):
                if row.get("_deleted"):
                    continue
                user = _user(row)
                if row.get("_siblings"):
                    user["_siblings"] = row["_siblings"]
                out[row["id"]] = user
            return out

    def conflicts(self) -> list[dict]:
        with self.db.transaction() as tx:
            return tx.select("_conflicts")

    @property
    def anomalies(self) -> list[str]:
        return list(self.d["anomalies"])

    @property
    def pending(self) -> int:
        return len(self.d["pending"])


def _user(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in META and k not in ("id", "_deleted")}


def _as_change(row: dict, c: Change) -> Change:
    """The local row dressed as a change, to store it again (the local side won)."""
    return Change(row["_origin"], 0, c.table, c.key, "update", (), (), row["_ts"], ())
