"""Visibility rules of tuple versions under snapshots (cairn.txn.mvcc), case by case."""

from __future__ import annotations

from cairn.txn.mvcc import Snapshot, Version, dirty_version, latest_version, visible_version


def snap(xmax: int, active: set[int], me: int = 99) -> Snapshot:
    return Snapshot(min(active | {xmax}), xmax, frozenset(active), me)


def test_committed_before_snapshot_is_visible() -> None:
    chain = [Version(1, 0, {"v": "a"})]
    assert visible_version(chain, snap(5, set())) is chain[0]


def test_created_after_snapshot_is_invisible() -> None:
    chain = [Version(7, 0, {"v": "a"})]
    assert visible_version(chain, snap(5, set())) is None


def test_in_progress_at_snapshot_is_invisible_even_after_it_commits() -> None:
    chain = [Version(3, 0, {"v": "a"})]
    assert visible_version(chain, snap(5, {3})) is None


def test_own_uncommitted_version_is_visible() -> None:
    chain = [Version(1, 4, {"v": "old"}), Version(4, 0, {"v": "new"})]
    s = Snapshot(4, 6, frozenset({4}), me=4)
    assert visible_version(chain, s) is chain[1]


def test_update_in_progress_shows_old_version() -> None:
    chain = [Version(1, 4, {"v": "old"}), Version(4, 0, {"v": "new"})]
    assert visible_version(chain, snap(6, {4})) is chain[0]


def test_committed_update_shows_new_version() -> None:
    chain = [Version(1, 4, {"v": "old"}), Version(4, 0, {"v": "new"})]
    assert visible_version(chain, snap(6, set())) is chain[1]


def test_committed_delete_hides_row_but_not_from_older_snapshots() -> None:
    chain = [Version(1, 4, {"v": "a"})]
    assert visible_version(chain, snap(6, set())) is None
    assert visible_version(chain, snap(4, set())) is chain[0]  # 4 had not started
    assert visible_version(chain, snap(6, {4})) is chain[0]  # 4 was running


def test_own_delete_hides_row() -> None:
    chain = [Version(1, 4, {"v": "a"})]
    assert visible_version(chain, Snapshot(4, 5, frozenset({4}), me=4)) is None


def test_reinsert_after_delete() -> None:
    chain = [Version(1, 3, {"v": "first"}), Version(5, 0, {"v": "second"})]
    assert visible_version(chain, snap(4, set())) is None  # deleted, not yet re-inserted
    assert visible_version(chain, snap(6, set()))is chain[1]
    assert visible_version(chain, snap(3, set())) is chain[0]


def test_dirty_and_latest() -> None:
    chain = [Version(1, 4, {"v": "old"}), Version(4, 0, {"v": "new"})]
    assert dirty_version(chain) is chain[1]
    assert latest_version(chain) is chain[1]
    deleted = [Version(1, 4, {"v": "a"})]
    assert dirty_version(deleted) is None
    assert latest_version([]) is None


def test_snapshot_sees() -> None:
    s = Snapshot(3, 8, frozenset({3, 5}), me=5)
    assert s.sees(2) and s.sees(4) and s.sees(5) and s.sees(7)
    assert not s.sees(3) and not s.sees(8) and not s.sees(100)
