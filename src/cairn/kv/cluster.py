"""A local cluster of real ``cairn kv`` node processes on loopback ports (``cairn kv up``).

Each node binds a free port and reports it; once all have, every node receives the cluster
map. ``kill`` (SIGKILL) and ``restart`` (same name, data and port) drive fault tests; ``stop``
ends every process it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


class ClusterError(Exception):
    """A node process that did not come up (its output is in the message)."""


class LocalCluster:
    def __init__(self, nodes: int, data: str | Path, engine: str = "lsm",
                 config: dict[str, Any] | None = None):
        if nodes < 1:
            raise ClusterError("a cluster needs at least one node")
        self.names = [f"n{i + 1}" for i in range(nodes)]
        self.data = Path(data)
        self.engine = engine
        self.config = config or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    @property
    def urls(self) -> dict[str, str]:
        return {n: f"http://127.0.0.1:{p}" for n, p in self.ports.items()}

    def _spawn(self, name: str, port: int = 0) -> None:
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cairn.kv.server", "--name", name, "--port", str(port),
             "--data", str(self.data / name), "--engine", self.engine],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            proc.kill()
            raise ClusterError(f"node {name} did not start: {line}{proc.stderr.read()}")
        self.procs[name] = proc
        self.ports[name] = int(line.split()[1])

    def _configure(self, names: list[str], members: list[str] | None = None) -> int:
        """Send the cluster map (of ``members``, default every node) to ``names``; returns
        the number of (key, node) copies the nodes started for a membership change."""
        urls = self.urls
        members = members if members is not None else list(self.names)
        body = json.dumps({"nodes": {m: urls[m] for m in members},
                           "config": self.config}).encode()
        moved = 0
        for name in names:
            req = urllib.request.Request(urls[name] + "/admin/cluster", body,
                                         {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                moved += json.loads(resp.read()).get("moved", 0)
        return moved

    def add_node(self) -> tuple[str, int]:
        """Start one more node and give every node the new map: data moves to the new node
        while requests continue. Returns its name and the number of key copies sent."""
        number = len(self.names) + 1
        while f"n{number}" in self.ports:
            number += 1
        name = f"n{number}"
        self._spawn(name)
        self.names.append(name)
        self._configure([name])  # starts it with the new map
        return name, self._configure([n for n in self.names if n != name])

    def remove_node(self, name: str) -> int:
        """Give every node (the leaving one too) the map without ``name``; the remaining
        replicas copy its keys to their new owners. The process keeps running until
        ``stop`` (or ``kill``) so that requests in flight finish. Returns the copies sent."""
        self.names.remove(name)
        return self._configure([*self.names, name], list(self.names))

    def start(self) -> LocalCluster:
        try:
            for name in self.names:
                self._spawn(name)
            self._configure(self.names, self.names)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    def restart(self, name: str) -> None:
        for attempt in range(50):
            try:
                self._spawn(name, self.ports[name])
                break
            except ClusterError:
                if attempt == 49:
                    raise
                time.sleep(0.1)  # the old socket may linger a moment
        self._configure([name], self.names)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
