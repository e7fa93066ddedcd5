"""Linearizability checking: does some total order of the operations, consistent with real time,
explain every result by a single-copy register? (DDIA ch. 9; Herlihy & Wing.)

The search is Wing & Gong's, with the memoisation of Lowe ("Testing for linearizability", 2017)
that Knossos and Porcupine use: walk the history's call/return events; at a call, try to
linearize that operation now (the model accepts it, and the pair (set of linearized operations,
model state) was not seen before); at a return event of a not-yet-linearized operation, undo
the last choice. The history is split per key first (P-compositionality), which keeps each
search small. An unknown-outcome operation (``ret`` infinite) may be linearized or skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cairn.check.history import Op


class RegisterModel:
    """A read/write register starting at ``initial``: reads must return the current value."""

    def __init__(self, initial: Any = None):
        self.initial = initial

    def step(self, state: Any, op: Op) -> list[Any]:
        """The states after ``op`` (empty: ``op`` is impossible in ``state``)."""
        if op.kind == "write":
            nxt = [op.value]
        elif op.kind == "read":
            nxt = [state] if op.value == state else []
        else:
            raise ValueError(f"register model has no operation {op.kind!r}")
        if op.unknown:
            nxt.append(state)  # it may never have happened
        return nxt


@dataclass(slots=True)
class LinearizabilityResult:
    ok: bool
    key: Any = None                     # the first key whose history is not linearizable
    linearized: list[Op] = field(default_factory=list)  # the longest order found
    stuck: Op | None = None             # the operation that order could not place
    pending: list[Op] = field(default_factory=list)     # operations concurrent with it
    searched: int = 0                   # search steps (for the report)

    def explain(self) -> str:
        if self.ok:
            return f"linearizable ({self.searched} search steps)"
        lines = [f"NOT linearizable: key {self.key!r}", "  longest linearization found:"]
        lines += [f"    {op}" for op in self.linearized]
        lines.append(f"  then no order can place: {self.stuck}")
        if self.pending:
            lines.append("  candidates tried before it returned:")
            lines += [f"    {op}" for op in self.pending]
        return "\n".join(lines)


class _Entry:
    __slots__ = ("is_call", "match", "next", "op", "op_id", "prev", "time")

    def __init__(self, time: float, is_call: bool, op_id: int, op: Op):
        self.time = time
        self.is_call = is_call
        self.op_id = op_id
        self.op = op
        self.prev: _Entry | None = None
        self.next: _Entry | None = None
        self.match: _Entry | None = None


def _check_key(ops: list[Op], model: RegisterModel, key: Any) -> LinearizabilityResult:
    # Calls sort before returns at equal times: touching operations count as concurrent.
    events = []
    for i, op in enumerate(ops):
        call = _Entry(op.call, True, i, op)
        ret = _Entry(op.ret, False, i, op)
        call.match = ret
        events.append((op.call, 0, i, call))
        events.append((op.ret, 1, i, ret))
    events.sort(key=lambda e: e[:3])
    head = _Entry(float("-inf"), True, -1, ops[0])
    prev = head
    for *_, entry in events:
        prev.next = entry
        entry.prev = prev
        prev = entry

    def lift(e: _Entry) -> None:
        e.prev.next = e.next
        if e.next:
            e.next.prev = e.prev
        m = e.match
        m.prev.next = m.next
        if m.next:
            m.next.prev = m.prev

    def unlift(e: _Entry) -> None:
        m = e.match
        m.prev.next = m
        if m.next:
            m.next.prev = m
        e.prev.next = e
        if e.next:
            e.next.prev = e

    state: Any = model.initial
    linearized = 0
    seen: set[tuple[int, Any]] = set()
    # Stack of (entry, state before it, its outcomes not tried yet).
    stack: list[tuple[_Entry, Any, list[Any]]] = []
    best: list[Op] = []
    best_stuck: Op | None = None
    steps = 0

    def place(e: _Entry, before: Any, options: list[Any]) -> Any:
        """Linearize ``e`` with its first outcome not seen yet; None: no such outcome."""
        nonlocal linearized
        bits = linearized | (1 << e.op_id)
        while options:
            after = options.pop(0)
            if (bits, _freeze(after)) not in seen:
                seen.add((bits, _freeze(after)))
                stack.append((e, before, options))
                linearized = bits
                lift(e)
                return (after,)
        return None

    entry = head.next
    while head.next is not None:
        steps += 1
        if entry.is_call:
            placed = place(entry, state, model.step(state, entry.op))
            if placed is not None:
                state = placed[0]
                entry = head.next
            else:
                entry = entry.next
            continue
        if entry.op.unknown:
            break  # only unknown operations are left un-linearized: they never took effect
        if len(stack) >= len(best):
            best = [e.op for e, _, _ in stack]
            best_stuck = entry.op
        while True:
            if not stack:
                pending = _concurrent(ops, best_stuck)
                return LinearizabilityResult(False, key, best, best_stuck, pending, steps)
            top, state, options = stack.pop()
            linearized &= ~(1 << top.op_id)
            unlift(top)
            placed = place(top, state, options)
            if placed is not None:
                state = placed[0]
                entry = head.next
            else:
                entry = top.next
            break
    return LinearizabilityResult(True, searched=steps)


def _concurrent(ops: list[Op], op: Op | None) -> list[Op]:
    if op is None:
        return []
    return [o for o in ops if o is not op and o.call <= op.ret and o.ret >= op.call]


def _freeze(state: Any) -> Any:
    if isinstance(state, (list, set)):
        return tuple(sorted(state, key=repr))
    if isinstance(state, dict):
        return tuple(sorted(state.items(), key=repr))
    return state


def check_linearizable(history: Iterable[Op], model: RegisterModel | None = None
                       ) -> LinearizabilityResult:
    """Check a register history key by key; the first non-linearizable key is reported."""
    model = model or RegisterModel()
    by_key: dict[Any, list[Op]] = defaultdict(list)
    for op in history:
        if op.call > op.ret:
            raise ValueError(f"operation returns before it is called: {op}")
        by_key[op.key].append(op)
    steps = 0
    for key in sorted(by_key, key=repr):
        result = _check_key(by_key[key], model, key)
        steps += result.searched
        if not result.ok:
            result.searched = steps
            return result
    return LinearizabilityResult(True, searched=steps)
