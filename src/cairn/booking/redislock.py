"""Redis leases with fencing tokens (DDIA ch. 8 "The leader and the lock"; Kleppmann 2016).

- Acquire: ``SET key token NX PX ttl`` (set-if-absent and expiry in one atomic command) and, in
  the same Lua script, ``INCR`` of a per-scope counter: the fencing token. Tokens only grow, so
  the storage can reject a write from a holder whose lease expired while it was paused.
- Release: compare-and-delete in Lua, so a client whose lease expired cannot delete its
  successor's lock. Extend: compare-and-``PEXPIRE``, driven by :class:`Renewer` for long work.

The lease is only an efficiency filter: PostgreSQL checks the fencing token and stays the
final word on who holds a seat.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import redis

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# Raise the token counter to at least ARGV[1] (after a Redis restart lost it, say): tokens
# must stay above every token PostgreSQL has already seen or every write would be "stale".
_SEED = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


@dataclass(frozen=True)
class Lease:
    key: str
    token: str  # random, identifies this holder for release/extend
    fence: int  # monotonic per scope, checked by the storage
    ttl_ms: int
    acquired_at: float  # time.monotonic() at acquire


class LeaseManager:
    """Acquire, extend and release leases on one Redis; keys live under ``prefix``."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)
        self._seed = client.register_script(_SEED)

    def lock_key(self, name: str) -> str:
        return f"{self.prefix}:lock:{name}"

    def fence_key(self, scope: str) -> str:
        return f"{self.prefix}:fence:{scope}"

    def acquire(self, name: str, scope: str, ttl_ms: int) -> Lease | None:
        """Try once; ``None`` if another holder has the lock."""
        token = secrets.token_hex(16)
        start = time.monotonic()
        fence = self._acquire(
            keys=[self.lock_key(name), self.fence_key(scope)], args=[token, ttl_ms]
        )
        if fence is None:
            return None
        return Lease(self.lock_key(name), token, int(fence), ttl_ms, start)

    def release(self, lease: Lease) -> bool:
        return bool(self._release(keys=[lease.key], args=[lease.token]))

    def extend(self, lease: Lease, ttl_ms: int) -> bool:
        return bool(self._extend(keys=[lease.key], args=[lease.token, ttl_ms]))

    def seed_fence(self, scope: str, floor: int) -> None:
        self._seed(keys=[self.fence_key(scope)], args=[floor])


class Renewer:
    """Extends leases every ``ttl/3`` in a background thread while long work runs.

    Renewal narrows, but cannot close, the expired-lease window (a pause can outlast it), which
    is why the fencing check in PostgreSQL remains necessary.
    """

    def __init__(self, manager: LeaseManager, leases: list[Lease]) -> None:
        self.manager = manager
        self.leases = leases
        self.lost = threading.Event()
        self._stop = threading.Event()
        ttl = min((lease.ttl_ms for lease in leases), default=1000)
        self._interval = max(ttl / 3000, 0.001)
        self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for lease in self.leases:
                try:
                    if not self.manager.extend(lease, lease.ttl_ms):
                        self.lost.set()
                except redis.RedisError:
                    self.lost.set()

    def __enter__(self) -> Renewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
