"""The event loop: a heap of timed events on one virtual timeline, driven by one seed.

Events are message deliveries, timers and scheduled actions (faults, client steps). Ties in
time are broken by a sequence number, so the order of events is a function of the seed alone;
``log`` records every send, delivery, drop, timer and fault, and ``digest()`` hashes it, which is
how a test shows that a seed replays identically.

A process loses its memory when it crashes; its ``disk`` (a plain dict it owns) survives, as a
disk would, and ``restart`` builds a new process from the factory with that disk.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from math import log as _log
from typing import Any, Protocol

from cairn.sim.clock import Clock
from cairn.sim.network import NetConfig

_DELIVER, _TIMER, _CALL = 0, 1, 2


class SimulatorError(Exception):
    """A scenario asked for something impossible (unknown node, duplicate name)."""


class Process(Protocol):
    """What the simulator drives; cairn's protocols implement these three methods."""

    def start(self) -> None: ...
    def on_message(self, src: str, msg: tuple) -> None: ...
    def on_timer(self, tag: Hashable) -> None: ...


class Context:
    """A process's view of the world: its name, clock, disk, random generator and the network."""

    __slots__ = ("_sim", "_slot", "disk", "name", "rng", "send")

    def __init__(self, sim: Simulator, slot: _Slot):
        self._sim = sim
        self._slot = slot
        self.name = slot.name
        self.disk = slot.disk
        self.rng = random.Random(f"{sim.seed}/{slot.name}/{slot.incarnation}")
        # send(dst, msg): the simulator's send from this node (a partial: no extra frame on
        # the hottest call of every protocol)
        self.send = functools.partial(sim.send, slot.name)

    def now(self) -> float:
        """Local clock time in ms (skewed and drifting: never compare it across nodes)."""
        return self._slot.clock.local(self._sim.now)

    def set_timer(self, delay_ms: float, tag: Hashable) -> None:
        slot = self._slot
        sim = self._sim
        sim._seq += 1
        heapq.heappush(sim._queue, (sim.now + slot.clock.true_delay(delay_ms), sim._seq, _TIMER,
                                    slot.name, slot.incarnation, tag))


@dataclass(slots=True)
class _Slot:
    name: str
    factory: Callable[[Context], Any]
    clock: Clock
    disk: dict = field(default_factory=dict)
    process: Any = None
    up: bool = False
    incarnation: int = 0


class Simulator:
    def __init__(self, seed: int, net: NetConfig | None = None, *, detail: bool = True):
        self.seed = seed
        self.net = net or NetConfig()
        self.rng = random.Random(seed)
        self._random = self.rng.random
        # message kind -> (is exponential, base, mean, Delay): the hot path's view of the
        # network's (fixed) delay configuration
        self._by_kind: dict[str, tuple] = {}
        self.now = 0.0
        self.detail = detail
        # detail: log every message with its contents (replay tests compare the digests);
        # without it only drops, faults, starts and crashes are logged (speed runs).
        self.log: list[tuple] = []
        self.sent = self.delivered = self.dropped = self.duplicated = self.timers = 0
        self._queue: list[tuple] = []
        self._seq = 0
        self._slots: dict[str, _Slot] = {}
        self._blocked: set[tuple[str, str]] = set()  # (src, dst) pairs that cannot talk

    # --- nodes -------------------------------------------------------------------------------
    def add(self, name: str, factory: Callable[[Context], Any], clock: Clock | None = None,
            *, start: bool = True) -> None:
        if name in self._slots:
            raise SimulatorError(f"node {name!r} already exists")
        self._slots[name] = _Slot(name, factory, clock or Clock())
        if start:
            self._boot(self._slots[name])

    def _boot(self, slot: _Slot) -> None:
        slot.up = True
        slot.process = slot.factory(Context(self, slot))
        self.log.append((self.now, "start", slot.name, slot.incarnation))
        slot.process.start()

    def _slot(self, name: str) -> _Slot:
        try:
            return self._slots[name]
        except KeyError:
            raise SimulatorError(f"unknown node {name!r}") from None

    def process(self, name: str) -> Any:
        return self._slot(name).process

    def disk(self, name: str) -> dict:
        return self._slot(name).disk

    def is_up(self, name: str) -> bool:
        return self._slot(name).up

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def crash(self, name: str) -> None:
        """Stop ``name`` now: its memory and pending timers are gone, its disk stays."""
        slot = self._slot(name)
        if slot.up:
            slot.up = False
            slot.process = None
            slot.incarnation += 1
            self.log.append((self.now, "crash", name))

    def restart(self, name: str) -> None:
        slot = self._slot(name)
        if not slot.up:
            self._boot(slot)

    def set_clock(self, name: str, clock: Clock) -> None:
        self._slot(name).clock = clock
        self.log.append((self.now, "clock", name, clock.skew, clock.drift))

    def clock(self, name: str) -> Clock:
        return self._slot(name).clock

    # --- partitions --------------------------------------------------------------------------
    def partition(self, *groups: list[str] | set[str] | tuple[str, ...]) -> None:
        """Symmetric partition: nodes in different groups cannot reach each other."""
        for i, a in enumerate(groups):
            for b in groups[i + 1:]:
                for x in a:
                    for y in b:
                        self._blocked.add((x, y))
                        self._blocked.add((y, x))
        self.log.append((self.now, "partition", tuple(tuple(sorted(g)) for g in groups)))

    def block(self, src: str, dst: str) -> None:
        """One-way partition: ``src`` cannot reach ``dst`` (``dst`` still reaches ``src``)."""
        self._blocked.add((src, dst))
        self.log.append((self.now, "block", src, dst))

    def heal(self) -> None:
        self._blocked.clear()
        self.log.append((self.now, "heal"))

    # --- messages and events -----------------------------------------------------------------
    def send(self, src: str, dst: str, msg: tuple) -> None:
        net = self.net
        rand = self._random
        self.sent += 1
        if self.detail:
            self.log.append((self.now, "send", src, dst, repr(msg)))
        blocked = self._blocked
        if (net.loss and rand() < net.loss) or (blocked and (src, dst) in blocked):
            self.dropped += 1
            if self.detail:
                self.log.append((self.now, "drop", src, dst, msg[0]))
            return
        fast = self._by_kind.get(msg[0])
        if fast is None:
            delay = net.delays.get(msg[0], net.delay) if net.delays else net.delay
            fast = self._by_kind[msg[0]] = (delay.kind == "exponential", delay.base, delay.a,
                                            delay)
        delay = fast[3]
        if fast[0]:  # the common case inlined: base - mean * ln(1 - U), as expovariate
            d = fast[1] - fast[2] * _log(1.0 - rand())
        else:
            d = delay.draw(self.rng)
        if net.reorder and rand() < net.reorder:
            d += self.rng.uniform(0.0, net.reorder_ms)
        self._seq += 1
        heapq.heappush(self._queue, (self.now + d, self._seq, _DELIVER, src, dst, msg))
        if net.duplicate and rand() < net.duplicate:
            self.duplicated += 1
            self._seq += 1
            heapq.heappush(self._queue, (self.now + delay.draw(self.rng), self._seq, _DELIVER,
                                         src, dst, msg))

    @property
    def stats(self) -> dict[str, int]:
        return {"sent": self.sent, "delivered": self.delivered, "dropped": self.dropped,
                "duplicated": self.duplicated, "timers": self.timers}

    def at(self, time_ms: float, action: Callable[[], Any], label: str = "call") -> None:
        """Run ``action()`` at simulated time ``time_ms`` (faults, client steps)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(time_ms, self.now), self._seq, _CALL, label, action, None))

    def after(self, delay_ms: float, action: Callable[[], Any], label: str = "call") -> None:
        self.at(self.now + delay_ms, action, label)

    def pending(self) -> int:
        return len(self._queue)

    def run(self, until: float | None = None, max_events: int | None = None) -> int:
        """Process events in time order until the queue is empty, ``until`` or ``max_events``."""
        queue = self._queue
        slots = self._slots
        log = self.log
        detail = self.detail
        blocked = self._blocked
        n = 0
        pop = heapq.heappop
        while queue:
            if until is not None and queue[0][0] > until:
                self.now = until
                break
            if max_events is not None and n >= max_events:
                break
            t, _, kind, a, b, c = pop(queue)
            self.now = t
            n += 1
            if kind == _DELIVER:
                slot = slots[b]
                # A partition that starts while a message is in flight also stops it.
                if not slot.up or (blocked and (a, b) in blocked):
                    self.dropped += 1
                    if detail:
                        log.append((t, "lost", a, b, c[0]))
                    continue
                self.delivered += 1
                if detail:
                    log.append((t, "recv", a, b, c[0]))
                slot.process.on_message(a, c)
            elif kind == _TIMER:
                slot = slots[a]
                if not slot.up or slot.incarnation != b:
                    continue
                self.timers += 1
                if detail:
                    log.append((t, "timer", a, repr(c)))
                slot.process.on_timer(c)
            else:
                if detail:
                    log.append((t, a))
                b()
        else:
            if until is not None:
                self.now = max(self.now, until)
        return n

    def digest(self) -> str:
        """A hash of the whole event log: equal digests, identical runs."""
        h = hashlib.sha256()
        for entry in self.log:
            h.update(repr(entry).encode())
            h.update(b"\n")
        return h.hexdigest()
