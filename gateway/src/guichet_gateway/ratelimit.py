"""A token bucket per client: enough for a person typing, not for enumerating numbers."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """In-process: each gateway replica limits on its own (a shared store is a later step)."""

    def __init__(self, rate_per_minute: float, burst: int, max_clients: int = 100_000) -> None:
        self._rate = rate_per_minute / 60.0
        self._burst = float(burst)
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, client: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait before the next request would pass."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.pop(client, None) or _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        self._buckets[client] = bucket
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)  # forget the least recently seen client
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate
