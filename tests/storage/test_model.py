"""Model-based property tests: every engine behaves like a dict under any sequence of
put / delete / write_batch / flush / compact / reopen, and its scans equal the sorted model."""

from __future__ import annotations

import shutil
import tempfile

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, rule

from cairn.storage import Delete, Put, open_engine

from .kinds import ESTIMATED_KEY_COUNT, KINDS, small

KEYS = st.one_of(
    st.sampled_from([b"a", b"aa", b"ab", b"b", b"m", b"z", b"\x00", b"\xff", b"k" * 40]),
    st.binary(min_size=1, max_size=12),
)
VALUES = st.one_of(st.binary(max_size=40), st.binary(min_size=500, max_size=3000))
BOUNDS = st.one_of(st.none(), st.binary(min_size=1, max_size=3))


def machine_for(kind: str) -> type[RuleBasedStateMachine]:
    class EngineMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.dir = tempfile.mkdtemp(prefix=f"cairn-model-{kind}-")
            self.db = open_engine(kind, self.dir + "/db", **small(kind))
            self.model: dict[bytes, bytes] = {}

        @rule(key=KEYS, value=VALUES, sync=st.booleans())
        def put(self, key: bytes, value: bytes, sync: bool) -> None:
            self.db.put(key, value, sync=sync)
            self.model[key] = value

        @rule(key=KEYS)
        def delete(self, key: bytes) -> None:
            self.db.delete(key)
            self.model.pop(key, None)

        @rule(ops=st.lists(st.one_of(st.tuples(KEYS, VALUES), KEYS), max_size=12),
              sync=st.booleans())
        def batch(self, ops: list, sync: bool) -> None:
            batch = [Put(*op) if isinstance(op, tuple) else Delete(op) for op in ops]
            self.db.write_batch(batch, sync=sync)
            for op in batch:
                if isinstance(op, Put):
                    self.model[op.key] = op.value
                else:
                    self.model.pop(op.key, None)

        @rule(key=KEYS)
        def get(self, key: bytes) -> None:
            assert self.db.get(key) == self.model.get(key)

        @rule(start=BOUNDS, end=BOUNDS, reverse=st.booleans())
        def scan(self, start: bytes | None, end: bytes | None, reverse: bool) -> None:
            expected = sorted((k, v) for k, v in self.model.items()
                              if (start is None or k >= start) and (end is None or k < end))
            if reverse:
                expected.reverse()
            assert list(self.db.scan(start, end, reverse=reverse)) == expected

        @rule()
        def flush(self) -> None:
            self.db.flush()

        @rule()
        def compact(self) -> None:
            self.db.compact()

        @rule()
        def reopen(self) -> None:
            self.db.close()
            self.db = open_engine(kind, self.dir + "/db", **small(kind))

        def teardown(self) -> None:
            try:
                assert dict(self.db.scan()) == self.model
                if kind not in ESTIMATED_KEY_COUNT:
                    assert self.db.stats().keys == len(self.model)
            finally:
                self.db.close()
                shutil.rmtree(self.dir, ignore_errors=True)

    EngineMachine.__name__ = f"EngineMachine_{kind}"
    return EngineMachine


@pytest.mark.parametrize("kind", KINDS)
def test_engine_matches_dict_model(kind: str) -> None:
    machine = machine_for(kind)
    machine.TestCase.settings = settings(
        max_examples=40, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    machine.TestCase().runTest()
