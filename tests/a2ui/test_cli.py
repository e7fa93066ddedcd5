"""``cairn a2ui validate`` and ``cairn a2ui serve`` (clear error without PostgreSQL)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cairn.cli import _register, cli
from tests.a2ui.conftest import EXAMPLES


def run(*args: str) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_validate_official_example() -> None:
    code, out = run("a2ui", "validate", str(EXAMPLES / "09_login-form.json"))
    assert code == 0 and out.startswith("OK:")


def test_validate_reports_the_first_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    msgs = [{"version": "v0.9", "createSurface": {
                "surfaceId": "s",
                "catalogId": "https://a2ui.org/specification/v0_9/catalogs/basic/catalog.json"}},
            {"version": "v0.9", "updateComponents": {"surfaceId": "s", "components": [
                {"id": "root", "component": "Column", "children": ["x"]}]}}]
    bad.write_text("\n".join(json.dumps(m) for m in msgs))
    code, out = run("a2ui", "validate", str(bad))
    assert code == 1
    assert "message 1" in out and "missing component 'x'" in out and "/children/0" in out
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\x00{{not json")
    code, out = run("a2ui", "validate", str(junk))
    assert code != 0 and "Traceback" not in out


def test_serve_without_postgres_says_how_to_start_it() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CAIRN_BOOKING_DSN": f"postgresql://postgres@127.0.0.1:{port}/test"}
    proc = subprocess.run([sys.executable, "-m", "cairn.cli", "a2ui", "serve", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "PostgreSQL is not reachable" in proc.stderr and "start PostgreSQL" in proc.stderr
    assert "Traceback" not in proc.stderr
