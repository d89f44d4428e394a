"""Token buckets per client, one family of routes each: enough for a person typing, not for
enumerating numbers or flooding mailboxes. A family has its own bucket, its own problem reason and
a title saying what it limits, so a registration is never refused as "too many lookups"."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class LimitFamily:
    """Routes limited together: `name` keys the settings, `reason` is the 429 problem's."""

    name: str
    reason: str
    what: str  # for the API documentation: what the limit counts


LOOKUPS = LimitFamily(
    "lookup", "LOOKUPS_RATE_LIMITED", "public lookups of an eTracking and its sheet, by number"
)
# Public and mail-sending: account creation, password resets, e-mail changes and confirmations.
ACCOUNT_REQUESTS = LimitFamily(
    "account",
    "REGISTRATIONS_RATE_LIMITED",
    "account requests: registrations, password resets, e-mail changes and confirmations",
)
# Anonymous and mail- or SMS-sending; a signed-in creation is made in someone's name.
ANONYMOUS_CREATIONS = LimitFamily(
    "creation", "CREATIONS_RATE_LIMITED", "eTracking creations without a sign-in"
)
# Issuing a challenge costs the gateway a key derivation: enough for a person's forms, not a flood.
CHALLENGES = LimitFamily(
    "challenge", "CHALLENGES_RATE_LIMITED", "anti-robot challenges issued (each costs the server)"
)
FAMILIES = (LOOKUPS, ACCOUNT_REQUESTS, ANONYMOUS_CREATIONS, CHALLENGES)


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
