"""The power-cut model (cairn.storage.faults) and the power-cut sweeps (cairn.storage.powercut).

First the model itself: what a cut keeps and loses (file data, new names, renames, unlinks,
new directories), and that a seeded partial cut only ever shows a state the kernel could have
written back. Then the engines' sweeps (a fast seeded subset here, more seeds in the slow
test), and the proof that the sweeps can fail: each needed fsync call site switched off in
turn is caught (tests/db/test_faults.py does it for cairn.db and runs the whole table).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.storage.faults import FaultyFileSystem, SimulatedCrash
from cairn.storage.powercut import engine_scenario, fsync_check, record_sites, sweep

from .kinds import KINDS


# -- the model ------------------------------------------------------------------------------
def test_unsynced_data_is_lost_and_synced_data_kept(tmp_path: Path) -> None:
    fs = FaultyFileSystem()
    fs.sync_dir(str(tmp_path))
    f = fs.open(str(tmp_path / "a"))
    fs.sync_dir(str(tmp_path))
    f.append(b"durable")
    f.sync()
    f.append(b"+lost")
    f.flush()
    assert (tmp_path / "a").read_bytes() == b"durable+lost"  # the OS has it ...
    fs.crash()
    assert (tmp_path / "a").read_bytes() == b"durable"  # ... the disk does not
    with pytest.raises(SimulatedCrash):
        fs.open(str(tmp_path / "b"))  # the process is gone


def test_a_new_name_needs_an_fsync_of_its_directory(tmp_path: Path) -> None:
    fs = FaultyFileSystem()
    for name in ("unnamed", "named"):
        f = fs.open(str(tmp_path / name))
        f.append(b"data")
        f.sync()  # the data is durable, the name not yet
    fs.sync_dir(str(tmp_path))
    f = fs.open(str(tmp_path / "late"))
    f.append(b"x")
    f.sync()
    fs.crash()
    assert sorted(os.listdir(tmp_path)) == ["named", "unnamed"]  # "late" lost its name


def test_rename_unlink_and_mkdir_are_undone_without_a_directory_fsync(tmp_path: Path) -> None:
    fs = FaultyFileSystem()
    fs.write_atomic(str(tmp_path / "CURRENT"), b"old")
    fs.write_atomic(str(tmp_path / "gone"), b"kept")
    tmp = fs.open(str(tmp_path / "CURRENT.tmp"))
    tmp.append(b"new")
    tmp.sync()
    tmp.close()
    fs.rename(str(tmp_path / "CURRENT.tmp"), str(tmp_path / "CURRENT"))
    fs.remove(str(tmp_path / "gone"))
    fs.makedirs(str(tmp_path / "sub" / "deeper"))
    assert (tmp_path / "CURRENT").read_bytes() == b"new"
    fs.crash()
    assert (tmp_path / "CURRENT").read_bytes() == b"old"  # the rename was not durable
    assert (tmp_path / "gone").read_bytes() == b"kept"  # nor the unlink
    assert not (tmp_path / "sub").exists()  # nor the new directories
    assert not (tmp_path / "CURRENT.tmp").exists()  # its creation was not durable either


def test_makedirs_durable_and_write_atomic_survive(tmp_path: Path) -> None:
    fs = FaultyFileSystem()
    fs.makedirs_durable(str(tmp_path / "a" / "b"))
    fs.write_atomic(str(tmp_path / "a" / "b" / "f"), b"v")
    fs.crash()
    assert (tmp_path / "a" / "b" / "f").read_bytes() == b"v"


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=12),
       synced=st.integers(0, 12), seed=st.integers(0, 1 << 30))
def test_a_partial_cut_leaves_a_prefix_at_least_as_long_as_the_synced_one(
        tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], synced: int,
        seed: int) -> None:
    """crash(seed) keeps a random prefix of the unsynced appends, the next one possibly torn:
    the file is always a prefix of what was written and never shorter than what was synced."""
    d = tmp_path_factory.mktemp("cut")
    fs = FaultyFileSystem()
    f = fs.open(str(d / "log"))
    fs.sync_dir(str(d))
    synced = min(synced, len(chunks))
    for i, c in enumerate(chunks):
        f.append(c)
        f.flush()
        if i + 1 == synced:
            f.sync()
    fs.crash(seed)
    written = b"".join(chunks)
    got = (d / "log").read_bytes()
    assert written.startswith(got)
    assert len(got) >= len(b"".join(chunks[:synced]))


def test_cut_at_cuts_the_power_at_that_call(tmp_path: Path) -> None:
    fs = FaultyFileSystem(cut_at=3)
    f = fs.open(str(tmp_path / "a"))  # call 0
    fs.sync_dir(str(tmp_path))  # call 1
    f.append(b"one")
    with pytest.raises(SimulatedCrash, match="call 3"):
        f.sync()  # calls 2 (write) and 3 (fsync: the cut comes first)
    assert fs.crashed and fs.ops == 4
    assert (tmp_path / "a").read_bytes() == b""  # the write before the cut was unsynced


def test_a_skipped_call_site_makes_its_fsync_a_no_op(tmp_path: Path) -> None:
    def durable_write(fs: FaultyFileSystem) -> None:
        f = fs.open(str(tmp_path / "a"))
        fs.sync_dir(str(tmp_path))
        f.append(b"v")
        f.sync()

    rec = FaultyFileSystem(record_sites={})
    durable_write(rec)
    assert rec.record_sites is not None
    sites = sorted(rec.record_sites)
    assert [s.split()[0] for s in sites] == ["dirsync", "fsync"]
    assert all("test_powercut.py:durable_write" in s for s in sites)
    os.remove(tmp_path / "a")
    fs = FaultyFileSystem(skip_sites={s for s in sites if s.startswith("fsync")})
    durable_write(fs)
    fs.crash()
    assert (tmp_path / "a").read_bytes() == b""  # the name was synced, the data was not


# -- the engines' sweeps ----------------------------------------------------------------------
@pytest.mark.parametrize("subset", [False, True], ids=["lose-all", "seeded-subset"])
@pytest.mark.parametrize("kind", KINDS)
def test_power_cut_sweep_fast(kind: str, subset: bool, tmp_path: Path) -> None:
    """A seeded subset (CI): 12 cuts of a 40-batch workload, recovery checked after each."""
    result = sweep(engine_scenario(kind, seed=7, batches=40), str(tmp_path), cuts=12, seed=7,
                   subset=subset)
    assert result.violations == []
    assert result.cuts >= 10 and result.sync_points > 10


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_power_cut_sweep_many_seeds(kind: str, tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    for i, subset in enumerate([False, True, True]):
        result = sweep(engine_scenario(kind, seed=seed + i), str(tmp_path), cuts=40,
                       seed=seed + i, subset=subset)
        assert result.violations == [], f"seed {seed + i}"


# -- the sweeps can fail ----------------------------------------------------------------------
# The fsync every engine's acknowledged writes depend on, and the directory fsyncs this
# section added: switched off, each must be caught by the fast sweep.
MUST_CATCH = {
    "log": ["fsync storage/log.py:_sync_log", "dirsync storage/log.py:__init__",
            "dirsync storage/fileio.py:makedirs_durable"],
    "hash": ["fsync storage/hash/engine.py:_sync_active",
             "dirsync storage/hash/engine.py:_create_segment"],
    "lsm": ["fsync storage/lsm/engine.py:_sync_wal", "fsync storage/lsm/sstable.py:finish",
            "fsync storage/lsm/manifest.py:append"],
    "btree": ["fsync storage/btree/engine.py:_sync_wal",
              "dirsync storage/btree/engine.py:_do_checkpoint"],
}


@pytest.mark.parametrize("kind", KINDS)
def test_removing_a_needed_fsync_is_caught(kind: str, tmp_path: Path) -> None:
    scenario = engine_scenario(kind, seed=1)
    sites = record_sites(scenario, str(tmp_path))
    chosen = [s for s in sites if any(s.startswith(p + " ") for p in MUST_CATCH[kind])]
    assert len(chosen) >= len(MUST_CATCH[kind]), sorted(sites)
    results = fsync_check([scenario], str(tmp_path), cuts=30, seed=1, sites=chosen)
    for r in results:
        print(f"{r.site:70} {r.caught_by}")
    assert [r.site for r in results if r.caught_by is None] == []


def test_the_commands_print_the_table(tmp_path: Path) -> None:
    """``cairn storage fsync-check`` and ``cairn storage powercut`` on the log engine alone.
    There the marker's directory fsync (``write_atomic``) is covered by the fsync of the
    directory after ``log.dat`` is created, so no log sweep catches its removal: the table
    says why instead of calling it caught."""
    import json

    from click.testing import CliRunner

    from cairn.cli import _register, cli

    _register()
    out = tmp_path / "table.json"
    res = CliRunner().invoke(cli, ["storage", "fsync-check", "--only", "log-", "--cuts", "20",
                                   "--json", str(out)])
    assert res.exit_code == 0, res.output
    rows = {r["site"]: r for r in json.loads(out.read_text())}
    missed = [site for site, r in rows.items() if r["caught_by"] is None]
    assert missed == ['dirsync storage/fileio.py:write_atomic '
                      '`self.sync_dir(os.path.dirname(path) or ".")`'], rows
    assert rows[missed[0]]["verdict"].startswith("not caught, untested state")
    assert rows["fsync storage/log.py:_sync_log `self._file.fsync()`"]["caught_by"] == (
        "log-seed1")
    assert len(rows) >= 5 and "0 missed" in res.output
    res = CliRunner().invoke(cli, ["storage", "fsync-check", "--cuts", "0"])
    assert res.exit_code == 2 and "--cuts" in res.output
    res = CliRunner().invoke(cli, ["storage", "powercut", "--only", "hash", "--cuts", "4",
                                   "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "hash-seed1" in res.output and "violations=0" in res.output


def test_a_redundant_fsync_is_reported_not_caught(tmp_path: Path) -> None:
    """A known-bad input for the checker: a workload with a needless fsync (of a file it
    never wrote). Its removal can never be caught, and the check must say NOT CAUGHT (not
    ok), while the removal of the data's fsync is caught."""
    from cairn.storage.powercut import Scenario

    def run(fs: FaultyFileSystem, path: str, st: dict) -> None:
        fs.makedirs_durable(path)
        f = fs.open(os.path.join(path, "data"))
        g = fs.open(os.path.join(path, "untouched"))
        fs.sync_dir(path)
        f.append(b"acknowledged")
        f.sync()
        g.sync()  # needless: nothing was written to it
        st["acked"] = True
        f.close()
        g.close()

    def check(path: str, st: dict) -> list[str]:
        p = Path(path) / "data"
        data = p.read_bytes() if p.exists() else b""
        return ["acknowledged data lost"] if st.get("acked") and data != b"acknowledged" else []

    results = {r.site.split("`")[1]: r
               for r in fsync_check([Scenario("needless", run, check)], str(tmp_path),
                                    cuts=10)}
    assert results["g.sync()"].caught_by is None and not results["g.sync()"].ok
    assert results["g.sync()"].verdict == "NOT CAUGHT"
    assert results["f.sync()"].caught_by == "needless"
