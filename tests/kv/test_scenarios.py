"""Readable step scenarios (tests/kv/scenarios/*.scn) run by one small driver.

A line is a step; ``=> expected`` after a step is what it must print. Steps: ``cluster
nodes= n= r= w= [mode= sloppy= ae_ms= timeout_ms=]`` (a fresh simulated cluster), ``put NODE
KEY VALUE [ctx=NAME]``, ``get NODE KEY [as NAME]`` (values sorted, joined by `` | ``; the
context is kept under NAME), ``crash``/``restart NODE``, ``partition A,B | C`` (``rest``: all
other nodes), ``heal``, ``settle MS``, ``clock NODE skew=MS``, ``replica NODE KEY`` (that node's
stored values, ``-`` if none), ``hinted-for NODE`` (hints held for NODE by all nodes). A node is
a name or ``homeI(KEY)``, the I-th replica of KEY's preference list.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cairn.kv import KVConfig, SimCluster
from cairn.sim import Clock

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.scn"))


class Driver:
    def __init__(self) -> None:
        self.c: SimCluster | None = None
        self.contexts: dict[str, object] = {}

    def node(self, word: str) -> str:
        m = re.fullmatch(r"home(\d)\((.+)\)", word)
        return self.c.homes(m.group(2))[int(m.group(1)) - 1] if m else word

    def step(self, line: str) -> str | None:
        words = line.split()
        cmd, args = words[0], words[1:]
        opts = dict(a.split("=", 1) for a in args if "=" in a)
        if cmd == "cluster":
            cfg = {k: (v == "true" if v in ("true", "false") else
                       v if k == "mode" else float(v) if "." in v or k.endswith("_ms")
                       else int(v)) for k, v in opts.items() if k != "nodes"}
            self.c = SimCluster(int(opts.get("nodes", 5)), KVConfig(**cfg))
            return None
        c = self.c
        if cmd == "put":
            ctx = self.contexts.get(opts.get("ctx", ""))
            ok, res = c.call(self.node(args[0]), "put", args[1], args[2], ctx)
            return "ok" if ok else f"error: {res}"
        if cmd == "get":
            ok, res = c.call(self.node(args[0]), "get", args[1])
            if not ok:
                return f"error: {res}"
            if "as" in args:
                self.contexts[args[args.index("as") + 1]] = res[1]
            return " | ".join(sorted(map(str, res[0]))) or "-"
        if cmd == "crash":
            c.sim.crash(self.node(args[0]))
        elif cmd == "restart":
            c.sim.restart(self.node(args[0]))
        elif cmd == "partition":
            left, right = " ".join(args).split("|")
            a = [self.node(x) for x in left.replace(",", " ").split()]
            b = [x for x in c.names if x not in a] if right.strip() == "rest" else [
                self.node(x) for x in right.replace(",", " ").split()]
            c.sim.partition(a, b)
        elif cmd == "heal":
            c.sim.heal()
        elif cmd == "settle":
            c.settle(float(args[0]))
        elif cmd == "clock":
            c.sim.set_clock(self.node(args[0]), Clock(skew=float(opts["skew"])))
        elif cmd == "replica":
            state = c.replicas(args[1])[self.node(args[0])]
            return " | ".join(sorted(map(str, state.value))) if state else "-"
        elif cmd == "hinted-for":
            home = self.node(args[0])
            return str(sum(1 for n in c.names for h, _ in c.hints(n) if h == home))
        else:
            raise ValueError(f"unknown step {cmd!r}")
        return None


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    driver = Driver()
    last: tuple[int, str, str | None] | None = None
    for no, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("=>"):
            assert last is not None, f"{path.name}:{no}: expectation without a step"
            want = line[2:].strip()
            assert last[2] == want, f"{path.name}:{last[0]}: {last[1]!r} printed {last[2]!r}, " \
                                    f"expected {want!r}"
            continue
        last = (no, line, driver.step(line))


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 4
