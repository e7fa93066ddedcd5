"""Readable agent scenarios (``scenarios/*.txt``) run against the full app on PostgreSQL.

Syntax, one command per line (``#`` comments, blank lines ignored):

* ``session NAME``: switch to (or open) the browser session NAME.
* ``> TEXT``: the user types TEXT (one turn over ``POST /a2ui/jsonl``).
* ``action SURFACE COMPONENT NAME {context json}``: a UI action, as a turn.
* ``post SURFACE COMPONENT NAME {context json}``: the same over ``/a2ui/send`` (for errors).
* ``expect text SUBSTRING``: some agent text of the last turn contains it.
* ``expect create SURFACE`` / ``expect no create SURFACE``.
* ``expect data SURFACE PATH = JSON`` (exact), ``~ SUBSTRING`` (in the value's JSON),
  ``len N`` (a list of N): an ``updateDataModel`` of the last turn at PATH.
* ``expect http STATUS CODE``: the last ``post`` answered STATUS with error CODE.
* ``capture VAR SURFACE PATH POINTER``: ``$VAR`` in later lines = that update's value at
  POINTER (a JSON Pointer into the value).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.a2ui import pointer
from tests.a2ui.conftest import LiveServer, a2ui_of, action, jsonl_turn, texts_of

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.txt"))


class Driver:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.clients: dict[str, httpx.Client] = {}
        self.current: httpx.Client | None = None
        self.last: list[dict[str, Any]] = []
        self.last_http: httpx.Response | None = None
        self.vars: dict[str, str] = {}

    def close(self) -> None:
        for c in self.clients.values():
            c.close()

    def sub(self, text: str) -> str:
        return re.sub(r"\$(\w+)", lambda m: self.vars.get(m.group(1), "0"), text)

    def updates(self, surface: str, path: str) -> list[Any]:
        return [m["updateDataModel"].get("value") for m in a2ui_of(self.last)
                if "updateDataModel" in m and m["updateDataModel"]["surfaceId"] == surface
                and m["updateDataModel"].get("path", "/") == path]

    def run(self, line: str, where: str) -> None:
        line = self.sub(line)
        if line.startswith("session "):
            name = line.split()[1]
            if name not in self.clients:
                self.clients[name] = self.server.client()
            self.current = self.clients[name]
            return
        assert self.current is not None, f"{where}: no session"
        if line.startswith("> "):
            self.last = jsonl_turn(self.current, {"text": line[2:]})
            return
        cmd, *rest = line.split(" ", 4)
        if cmd in ("action", "post"):
            surface, comp, name, ctx = rest
            body = action(surface, comp, name, json.loads(ctx))
            if cmd == "action":
                self.last = jsonl_turn(self.current, body)
            else:
                self.last_http = self.current.post("/a2ui/send", json=body)
            return
        if cmd == "capture":
            var, surface, path, ptr = line.split()[1:5]
            values = self.updates(surface, path)
            assert values, f"{where}: no update of {surface} {path}"
            self.vars[var] = str(pointer.get(values[-1], ptr))
            return
        assert cmd == "expect", f"{where}: unknown command {cmd!r}"
        kind, _, arg = line[len("expect "):].partition(" ")
        creates = [m["createSurface"]["surfaceId"] for m in a2ui_of(self.last)
                   if "createSurface" in m]
        if kind == "text":
            assert any(arg in t for t in texts_of(self.last)), \
                f"{where}: no text with {arg!r} in {texts_of(self.last)}"
        elif kind == "create":
            assert arg in creates, f"{where}: {arg} not created ({creates})"
        elif kind == "no":
            assert arg.startswith("create ") and arg[7:] not in creates, f"{where}: {creates}"
        elif kind == "http":
            status, code = arg.split()
            assert self.last_http is not None
            assert self.last_http.status_code == int(status), f"{where}: {self.last_http.text}"
            assert self.last_http.json()["error"]["code"] == code
        elif kind == "data":
            surface, path, op, *value = arg.split(" ", 3)
            values = self.updates(surface, path)
            assert values, f"{where}: no update of {surface} {path}"
            want = value[0] if value else ""
            if op == "=":
                assert json.loads(want) in values, f"{where}: {values!r}"
            elif op == "~":
                assert any(want in json.dumps(v) for v in values), f"{where}: {values!r}"[:500]
            elif op == "len":
                assert any(isinstance(v, list) and len(v) == int(want) for v in values), \
                    f"{where}: lengths {[len(v) for v in values if isinstance(v, list)]}"
            else:
                raise AssertionError(f"{where}: unknown data operator {op!r}")
        else:
            raise AssertionError(f"{where}: unknown expectation {kind!r}")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario(booking_server: tuple[LiveServer, Any], path: Path) -> None:
    driver = Driver(booking_server[0])
    try:
        for n, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.strip()
            if line and not line.startswith("#"):
                driver.run(line, f"{path.name}:{n}")
    finally:
        driver.close()
