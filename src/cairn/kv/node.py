"""A Dynamo-style leaderless node (DDIA ch. 5 "Leaderless replication"; Dynamo, SOSP 2007).

The node is a message-driven state machine written once: the simulator drives it through
``cairn.sim``'s context, a real process through ``cairn.kv.server``'s (same four calls: ``send``,
``set_timer``, ``now``, and a store). Every node accepts client requests:

- a write goes to its coordinator, the first reachable node of the key's preference list (a
  home replica, so the dot it issues follows every dot it issued before: its copy is never
  deleted); the coordinator applies it locally, ships the new state to the other ``n - 1``
  replicas and answers after ``w`` acknowledgements (itself included);
- a read is coordinated by whichever node received it: ``r`` replies are merged (siblings
  survive), the client gets the values and their causal context, and replicas that answered
  with an older state are repaired (read repair);
- a sloppy quorum replaces an unreachable home node by the next node of the ring walk, which
  keeps the write under a hint and hands it back when the home node answers again;
- anti-entropy: each node periodically compares a Merkle tree of the keys it shares with a
  random peer and exchanges only the keys in differing leaves.

Per-request ``n``/``r``/``w`` override the cluster's defaults; ``mode`` picks the register type:
``"mv"`` (dotted version vectors, siblings) or ``"lww"`` (last write wins by the coordinator's
clock, which drops acknowledged writes when clocks are skewed: DDIA fig. 8-3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cairn.kv.crdt import VV, LWWRegister, MVRegister, ORSet, PNCounter, digest
from cairn.kv.merkle import HASH_BYTES, INDEX_BYTES, MerkleTree, naive_bytes
from cairn.kv.ring import Ring

WRITE_OPS = {"put", "del", "incr", "sadd", "srem"}
OPS = WRITE_OPS | {"get"}


@dataclass(frozen=True, slots=True)
class KVConfig:
    n: int = 3
    r: int = 2
    w: int = 2
    sloppy: bool = True
    mode: str = "mv"            # "mv" (siblings) | "lww"
    timeout_ms: float = 20.0    # a replica that has not answered by then is suspected
    suspect_ms: float = 200.0
    handoff_ms: float = 50.0    # how often hinted writes are offered back
    ae_ms: float = 250.0        # how often anti-entropy runs (0: never)
    ae_depth: int = 6
    read_repair: bool = True
    vnodes: int = 32


class KVError(Exception):
    """A request the cluster refuses (bad n/r/w, wrong type for the key, unknown operation)."""


@dataclass(slots=True)
class _Pending:
    kind: str                   # "w" | "r"
    origin: str
    rid: Any
    key: str
    need: int
    targets: dict[str, str | None]  # node -> the home node it stands in for (None: itself)
    result: Any = None
    state: Any = None               # the state a write ships (re-sent to stand-ins)
    replies: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    round: int = 0


class KVNode:
    def __init__(self, ctx: Any, ring: Ring, config: KVConfig, store: Any,
                 observer: Callable[..., None] | None = None):
        self.ctx = ctx
        self.name: str = ctx.name
        self.ring = ring
        self.cfg = config
        self.store = store
        self.obs = observer or (lambda *a: None)
        self.pending: dict[Any, _Pending] = {}
        self.suspect: dict[str, float] = {}
        self.handoffs: dict[tuple[str, str], Any] = {}
        self.ae_sessions: dict[Any, MerkleTree] = {}
        self.seq = 0
        self.digests: dict[str, bytes] = {}
        self.key_hashes: dict[str, int] = {}

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        jitter = self.ctx.rng.random()
        self.ctx.set_timer(self.cfg.handoff_ms * (1 + jitter), ("handoff",))
        if self.cfg.ae_ms:
            self.ctx.set_timer(self.cfg.ae_ms * (1 + jitter), ("ae",))

    def on_timer(self, tag: tuple) -> None:
        kind = tag[0]
        if kind == "to":
            self._timeout(tag[1])
        elif kind == "handoff":
            self._offer_hints()
            self.ctx.set_timer(self.cfg.handoff_ms, ("handoff",))
        elif kind == "ae":
            self._start_anti_entropy()
            self.ctx.set_timer(self.cfg.ae_ms, ("ae",))

    def on_message(self, src: str, msg: tuple) -> None:
        if src in self.suspect:
            del self.suspect[src]
        kind = msg[0]
        if kind == "rep":                       # rid, key, state, hint
            self._merge(msg[2], msg[3], msg[4])
            self.ctx.send(src, ("ack", msg[1]))
        elif kind == "ack":
            self._ack(msg[1], src)
        elif kind == "read":                    # rid, key, hint
            key, hint = msg[2], msg[3]
            state = self.store.get(key) if hint is None else self.store.hint_get(hint, key)
            self.ctx.send(src, ("rresp", msg[1], state))
        elif kind == "rresp":
            self._read_reply(msg[1], src, msg[2])
        elif kind == "req":
            self._request(*msg[1:])
        elif kind == "repair":                  # key, state, hint
            self._merge(msg[1], msg[2], msg[3])
        elif kind == "handoff":                 # key, state
            self._merge(msg[1], msg[2], None)
            self.ctx.send(src, ("hoff_ack", msg[1]))
        elif kind == "hoff_ack":
            sent = self.handoffs.pop((src, msg[1]), None)
            if sent is not None and self.store.hint_get(src, msg[1]) == sent:
                self.store.hint_delete(src, msg[1])
                self.obs("handoff", self.name, src, msg[1])
        elif kind == "ae":
            self._ae_compare(src, *msg[1:])
        elif kind == "ae_keys":
            self._ae_keys(src, *msg[1:])
        elif kind == "ae_objs":
            self._ae_objs(src, *msg[1:])

    # --- helpers -----------------------------------------------------------------------------
    def _suspected(self, node: str) -> bool:
        if not self.suspect:
            return False
        until = self.suspect.get(node)
        if until is None:
            return False
        if until < self.ctx.now():
            del self.suspect[node]
            return False
        return True

    def _merge(self, key: str, state: Any, hint: str | None) -> None:
        if state is None:
            return
        if hint is None or hint == self.name:
            old = self.store.get(key)
            new = state if old is None else old.merge(state)
            if new is not old:
                self.store.put(key, new)
                self.digests.pop(key, None)
        else:
            old = self.store.hint_get(hint, key)
            new = state if old is None else old.merge(state)
            if new is not old:
                self.store.hint_put(hint, key, new)

    def _targets(self, key: str, n: int, exclude: str | None = None) -> dict[str, str | None]:
        """The n replicas to use: home nodes, with a fallback in place of each suspected one
        when quorums are sloppy."""
        walk = self.ring.walk(key)
        homes = walk[:n]
        if not self.suspect or not self.cfg.sloppy:
            return {h: None for h in homes if h != exclude}
        targets: dict[str, str | None] = {}
        spare = [f for f in walk[n:] if not self._suspected(f)]
        for h in homes:
            if h == exclude:
                continue
            if self.cfg.sloppy and h != self.name and self._suspected(h) and spare:
                targets[spare.pop(0)] = h
            else:
                targets[h] = None
        return targets

    def _reply(self, p: _Pending, ok: bool, result: Any) -> None:
        if not p.done:
            p.done = True
            self.ctx.send(p.origin, ("resp", p.rid, ok, result))

    # --- client requests ---------------------------------------------------------------------
    def _request(self, rid: Any, origin: str, op: str, key: str, arg: Any, context: VV | None,
                 opts: tuple | None, hops: int = 0) -> None:
        cfg = self.cfg
        n, r, w = opts or (cfg.n, cfg.r, cfg.w)
        if op not in OPS or not (1 <= r <= n and 1 <= w <= n <= len(self.ring.nodes)):
            self.ctx.send(origin, ("resp", rid, False, f"bad request: {op} n={n} r={r} w={w}"))
            return
        if op == "get":
            self._start_read(rid, origin, key, n, r)
            return
        homes = self.ring.walk(key)[:n]
        # A last-write-wins put needs no local history (the timestamp is the version), so any
        # node may coordinate it as a proxy, as Cassandra does; everything else is coordinated
        # by a home replica, whose copy holds every dot it issued before.
        proxy = self.name not in homes and cfg.mode == "lww" and op in ("put", "del")
        if self.name not in homes and not proxy:
            live = [h for h in homes if not self._suspected(h)] or list(homes)
            self.ctx.send(live[0], ("req", rid, origin, op, key, arg, context, opts, hops + 1))
            return
        if not self.store.first_time(rid):
            return  # a duplicated or retransmitted request: applied once already
        try:
            state, result = self._apply(None if proxy else self.store.get(key), op, arg,
                                        context or ())
        except KVError as e:
            self.ctx.send(origin, ("resp", rid, False, str(e)))
            return
        if not proxy:
            self.store.put(key, state)
            self.digests.pop(key, None)
        if op in ("put", "del") and cfg.mode == "mv":
            self.obs("dot", key, result, context or ())
        targets = self._targets(key, n, exclude=self.name)
        p = _Pending("w", origin, rid, key, w, targets, result, state)
        if not proxy:
            p.replies[self.name] = True
        self.pending[rid] = p
        if len(p.replies) >= w:
            self._reply(p, True, result)
        for t, hint in targets.items():
            self.ctx.send(t, ("rep", rid, key, state, hint))
        self.ctx.set_timer(cfg.timeout_ms, ("to", rid))

    def _apply(self, state: Any, op: str, arg: Any, context: VV) -> tuple[Any, Any]:
        if op in ("put", "del"):
            value = None if op == "del" else arg
            if self.cfg.mode == "lww":
                self._check_type(state, LWWRegister)
                ts = self.ctx.now()
                return (state or LWWRegister()).assign(self.name, value, ts), ts
            self._check_type(state, MVRegister)
            return (state or MVRegister()).assign(self.name, value, context)
        if op == "incr":
            self._check_type(state, PNCounter)
            new = (state or PNCounter()).add(self.name, int(arg))
            return new, new.value
        self._check_type(state, ORSet)
        s = state or ORSet()
        new = s.add(self.name, arg) if op == "sadd" else s.remove(arg)
        return new, None

    @staticmethod
    def _check_type(state: Any, cls: type) -> None:
        if state is not None and not isinstance(state, cls):
            raise KVError(f"WRONGTYPE: key holds a {type(state).__name__}, not a {cls.__name__}")

    def _ack(self, rid: Any, src: str) -> None:
        p = self.pending.get(rid)
        if p is None:
            return
        p.replies[src] = True
        if len(p.replies) >= p.need:
            self._reply(p, True, p.result)
        if all(t in p.replies for t in p.targets):
            del self.pending[rid]

    def _start_read(self, rid: Any, origin: str, key: str, n: int, r: int) -> None:
        targets = self._targets(key, n)
        p = _Pending("r", origin, rid, key, r, targets)
        self.pending[rid] = p
        for t, hint in targets.items():
            if t == self.name:
                local = self.store.get(key) if hint is None else self.store.hint_get(hint, key)
                self._read_reply(rid, t, local)
            else:
                self.ctx.send(t, ("read", rid, key, hint))
        if rid in self.pending:
            self.ctx.set_timer(self.cfg.timeout_ms, ("to", rid))

    def _read_reply(self, rid: Any, src: str, state: Any) -> None:
        p = self.pending.get(rid)
        if p is None or src in p.replies:
            return
        p.replies[src] = state
        if not p.done and len(p.replies) >= p.need:
            merged = self._merged(p)
            self._reply(p, True, self._view(merged))
        if len(p.replies) == len(p.targets):
            self._repair(p)
            del self.pending[rid]

    @staticmethod
    def _merged(p: _Pending) -> Any:
        merged = None
        for s in p.replies.values():
            if s is not None:
                merged = s if merged is None else merged.merge(s)
        return merged

    @staticmethod
    def _view(state: Any) -> tuple[tuple, VV | None]:
        """What a client sees: the values (siblings) and the causal context to write back."""
        if state is None:
            return (), ()
        if isinstance(state, MVRegister):
            return state.value, state.vv
        if isinstance(state, LWWRegister):
            return (() if state.val is None else (state.val,)), None
        if isinstance(state, PNCounter):
            return (state.value,), None
        return tuple(sorted(state.value, key=repr)), None

    def _repair(self, p: _Pending) -> None:
        if not self.cfg.read_repair:
            return
        merged = self._merged(p)
        if merged is None:
            return
        for node, state in p.replies.items():
            if state != merged:
                self.obs("repair", p.key, node)
                hint = p.targets.get(node)
                if node == self.name:
                    self._merge(p.key, merged, hint)
                else:
                    self.ctx.send(node, ("repair", p.key, merged, hint))

    def _timeout(self, rid: Any) -> None:
        p = self.pending.get(rid)
        if p is None:
            return
        missing = [t for t in p.targets if t not in p.replies]
        until = self.ctx.now() + self.cfg.suspect_ms
        for t in missing:
            self.suspect[t] = until
        if p.round == 0 and self.cfg.sloppy and not p.done:
            # Sloppy quorum: stand-ins for the silent replicas, further along the ring.
            walk = self.ring.walk(p.key)
            used = set(p.targets) | {self.name}
            spare = [f for f in walk if f not in used and not self._suspected(f)]
            extra = {}
            for t in missing:
                if spare:
                    extra[spare.pop(0)] = p.targets[t] or t
            if extra:
                p.round = 1
                p.targets.update(extra)
                for t, hint in extra.items():
                    if p.kind == "w":
                        self.ctx.send(t, ("rep", rid, p.key, p.state, hint))
                    else:
                        self.ctx.send(t, ("read", rid, p.key, hint))
                self.ctx.set_timer(self.cfg.timeout_ms, ("to", rid))
                return
        if not p.done:
            got = len(p.replies)
            self._reply(p, False, f"timeout: {got} of {p.need} replicas answered")
        if p.kind == "r":
            self._repair(p)
        del self.pending[rid]

    # --- membership ---------------------------------------------------------------------------
    def change_ring(self, ring: Ring) -> int:
        """Adopt a new ring (a node added or removed) and copy each key this node is
        responsible for sending to its new owners, while requests go on. One holder sends
        each key: the first node of the old preference list that stays a replica (or the old
        first replica when none stays). Returns the number of (key, node) copies sent."""
        old, self.ring = self.ring, ring
        n = self.cfg.n
        sent = 0
        for key in self.store.stored_keys():
            before = old.walk(key)[:n] if self.name in old.nodes else ()
            after = ring.walk(key)[:n]
            gained = [x for x in after if x not in before and x != self.name]
            if not gained:
                continue
            staying = [x for x in before if x in after]
            sender = staying[0] if staying else (before[0] if before else None)
            if sender != self.name:
                continue
            state = self.store.get(key)
            for x in gained:
                self.ctx.send(x, ("handoff", key, state))
                sent += 1
        self.obs("moved", self.name, sent)
        return sent

    # --- hinted handoff ----------------------------------------------------------------------
    def _offer_hints(self) -> None:
        for (home, key), state in self.store.hint_items():
            if not self._suspected(home):
                self.handoffs[(home, key)] = state
                self.ctx.send(home, ("handoff", key, state))

    # --- anti-entropy ------------------------------------------------------------------------
    def _digest(self, key: str) -> bytes:
        d = self.digests.get(key)
        if d is None:
            d = self.digests[key] = digest(self.store.get(key))
        return d

    def _tree(self, peer: str) -> MerkleTree:
        n = self.cfg.n
        walk = self.ring.walk
        items = [(k, self._digest(k)) for k in self.store.stored_keys() if peer in walk(k)[:n]]
        tree = MerkleTree(items, self.cfg.ae_depth, self.key_hashes)
        tree.naive = naive_bytes(items)
        return tree

    def _session(self, sid: Any, peer: str) -> MerkleTree:
        tree = self.ae_sessions.get(sid)
        if tree is None:
            if len(self.ae_sessions) > 16:  # sessions whose messages were lost
                self.ae_sessions.pop(next(iter(self.ae_sessions)))
            tree = self.ae_sessions[sid] = self._tree(peer)
        return tree

    def _start_anti_entropy(self) -> None:
        peers = [p for p in self.ring.nodes if p != self.name and not self._suspected(p)]
        if not peers:
            return
        peer = peers[self.ctx.rng.randrange(len(peers))]
        self.seq += 1
        sid = (self.name, self.seq)
        tree = self._session(sid, peer)
        self.obs("ae_start", self.name, peer, tree.naive)
        self._ae_send(peer, ("ae", sid, tree.depth, ((0, tree.root),)))

    def _ae_send(self, peer: str, msg: tuple) -> None:
        kind = msg[0]
        if kind == "ae":
            size = len(msg[3]) * (HASH_BYTES + INDEX_BYTES)
        elif kind == "ae_keys":
            size = sum(len(k) + HASH_BYTES for leaf in msg[2] for k, _ in leaf[1])
        else:
            size = sum(len(k) + len(repr(s)) for k, s in msg[2]) + sum(len(k) for k in msg[3])
        self.obs("ae_bytes", kind, size)
        self.ctx.send(peer, msg)

    def _ae_compare(self, src: str, sid: Any, height: int, pairs: tuple) -> None:
        tree = self._session(sid, src)
        diff = [i for i, h in pairs if tree.node(height, i) != h]
        if not diff:
            self.ae_sessions.pop(sid, None)
            return
        if height == 0:
            leaves = tuple((i, tuple(sorted(tree.leaves[i].items()))) for i in diff)
            self._ae_send(src, ("ae_keys", sid, leaves))
            self.ae_sessions.pop(sid, None)
            return
        children = tuple((c, tree.node(height - 1, c)) for i in diff for c in (2 * i, 2 * i + 1))
        self._ae_send(src, ("ae", sid, height - 1, children))

    def _ae_keys(self, src: str, sid: Any, leaves: tuple) -> None:
        tree = self._session(sid, src)
        self.ae_sessions.pop(sid, None)
        give, want = [], []
        for i, theirs in leaves:
            theirs = dict(theirs)
            mine = tree.leaves[i]
            for k in sorted(set(mine) | set(theirs)):
                if mine.get(k) != theirs.get(k):
                    if k in mine:
                        give.append((k, self.store.get(k)))
                    if k in theirs:
                        want.append(k)
        self.obs("ae_diff", len({k for k, _ in give} | set(want)))
        self._ae_send(src, ("ae_objs", sid, tuple(give), tuple(want)))

    def _ae_objs(self, src: str, sid: Any, give: tuple, want: tuple) -> None:
        for k, s in give:
            self._merge(k, s, None)
        if want:
            self._ae_send(src, ("ae_objs", sid, tuple((k, self.store.get(k)) for k in want), ()))
