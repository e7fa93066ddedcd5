"""Ordinary mistakes on the command line end in one line on stderr (what, where, what to do)
and a non-zero exit, never a traceback; ``--debug`` and ``CAIRN_DEBUG=1`` show it.

One table of the bad inputs a newcomer hits (issue 18), each run as a real ``cairn`` process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cairn.cli import short_help
from cairn.cli_errors import describe
from cairn.storage import open_engine


def cairn(*args: str, cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "CAIRN_DEBUG"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cairn.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port with a listener on it (ours, so that nothing else is disturbed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


def _file(tmp: Path) -> str:
    (tmp / "afile").write_text("not a folder")
    return "afile"


def _junk(tmp: Path) -> str:
    (tmp / "junk").mkdir()
    (tmp / "junk" / "notes.txt").write_text("unrelated")
    return "junk"


def _corrupt(kind: str, name: str, offset_from_end: int) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        path = tmp / kind
        with open_engine(kind, str(path)) as engine:
            for i in range(3000):
                engine.put(b"key%06d" % i, b"value %d" % i)
            engine.flush()
        target = next(p for p in sorted(path.iterdir()) if p.name.endswith(name))
        size = target.stat().st_size
        with open(target, "r+b") as fh:
            fh.seek(max(0, size - offset_from_end))
            fh.write(b"\xff" * 16)
        return kind
    return make


@dataclass
class Bad:
    """A bad command line: ``make`` builds the bad thing in the test folder and returns the
    string that replaces ``{x}`` in ``args``; the one line must contain every ``expect``."""

    name: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    make: Callable[[Path], str] | None = None
    code: int = 1


CASES = [
    Bad("data is a file", ("storage", "demo", "--keys", "10", "--data", "{x}"),
        ("afile", "not a folder"), _file),
    Bad("data under /proc", ("storage", "demo", "--keys", "10", "--data", "/proc/cairn/x"),
        ("/proc/cairn", "does not exist")),
    Bad("unrelated files", ("storage", "stats", "lsm", "{x}"),
        ("EngineMismatchError", "junk", "notes.txt", "empty folder"), _junk),
    Bad("corrupted lsm", ("storage", "stats", "lsm", "{x}"),
        ("CorruptionError", ".sst", "offset", "damaged"), _corrupt("lsm", ".sst", 40)),
    Bad("corrupted btree", ("storage", "stats", "btree", "{x}"),
        ("CorruptionError", "tree.dat", "offset", "damaged"), _corrupt("btree", "tree.dat",
                                                                        10**9)),
    Bad("negative keys", ("storage", "demo", "--keys", "-5"), ("-5", "x>=1"), code=2),
    Bad("zero kills", ("storage", "crashtest", "--kills", "0"), ("0", "x>=1"), code=2),
    Bad("race of zero clients", ("booking", "race", "--clients", "0"), ("--clients",), code=2),
    Bad("port out of range", ("serve", "--s3-port", "70000"), ("70000", "0<=x<=65535"), code=2),
    Bad("encoding bench repeats", ("bench", "encoding", "--repeats", "0"), ("--repeats",),
        code=2),
    Bad("registry data is a file", ("registry", "serve", "--port", "0", "--data", "{x}"),
        ("afile", "not a folder"), _file),
    Bad("s3 data is a file", ("s3", "serve", "--port", "0", "--data", "{x}"),
        ("afile", "not a folder"), _file),
    Bad("serve data is a file", ("serve", "--no-booking", "--s3-port", "0",
                                 "--registry-port", "0", "--data", "{x}"),
        ("afile", "not a folder"), _file),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line(case: Bad, tmp_path: Path) -> None:
    x = case.make(tmp_path) if case.make else ""
    res = cairn(*(a.replace("{x}", x) for a in case.args), cwd=tmp_path)
    assert res.returncode == case.code, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    err = res.stderr.strip()
    if case.code == 1:  # our line; usage errors (2) are click's "Usage: ... Error: ..." block
        assert len(err.splitlines()) == 1, err
        assert err.startswith("cairn: ")
    for word in case.expect:
        assert word in err, (word, err)


@pytest.mark.parametrize("command", [
    ("registry", "serve", "--data", "d"),
    ("serve", "--no-booking", "--data", "d", "--registry-port", "0", "--s3-port"),
    ("a2ui", "serve"),
    ("s3", "serve", "--data", "d"),
])
def test_busy_port_fails_before_printing_an_endpoint(command: tuple[str, ...], busy_port: int,
                                                     tmp_path: Path) -> None:
    """Bind first, then print: a busy port never leaves a printed URL that does not work."""
    res = cairn(*command, *(["--port"] if command[-1] != "--s3-port" else []), str(busy_port),
                cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "http://" not in res.stdout
    assert f"cannot listen on 127.0.0.1:{busy_port}" in res.stderr
    assert "Traceback" not in res.stderr


def test_debug_flag_and_env_show_the_traceback(tmp_path: Path) -> None:
    _junk(tmp_path)
    quiet = cairn("storage", "stats", "lsm", "junk", cwd=tmp_path)
    loud = cairn("--debug", "storage", "stats", "lsm", "junk", cwd=tmp_path)
    env = cairn("storage", "stats", "lsm", "junk", cwd=tmp_path, env={"CAIRN_DEBUG": "1"})
    assert "Traceback" not in quiet.stderr and quiet.returncode == 1
    for res in (loud, env):
        assert res.returncode == 1
        assert "Traceback" in res.stderr and "EngineMismatchError" in res.stderr


def test_describe_names_what_where_and_what_to_do() -> None:
    line = describe(PermissionError(13, "Permission denied", "/srv/data"))
    assert line.startswith("Permission denied: /srv/data; ") and "permission" in line
    missing = describe(ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib"))
    assert missing.startswith("matplotlib is not installed") and "make dev" in missing
    bug = describe(ZeroDivisionError("division by zero"))
    assert "unexpected ZeroDivisionError" in bug and "--debug" in bug


def test_short_help_never_cuts_a_clause() -> None:
    assert short_help("Encodings (DDIA ch. 4): demo, export. More.") == \
        "Encodings (DDIA ch. 4): demo, export"
    long = ("Run scenario files (default: the anomaly specs) and print their traces, "
            "then compare them with the expected output")
    out = short_help(long)
    assert long.startswith(out) and out.count("(") == out.count(")")
    assert short_help("A store: erasure-coded data on drives, metadata in cairn, and more") \
        == "A store: erasure-coded data on drives, metadata in cairn"


def test_help_listings_are_not_truncated(tmp_path: Path) -> None:
    for group in ((), ("storage",), ("bench",), ("booking",), ("encode",), ("registry",)):
        res = cairn(*group, "--help", cwd=tmp_path)
        assert res.returncode == 0
        listing = res.stdout.split("Commands:")[1]
        assert "..." not in listing and "ch.\n" not in listing, listing
