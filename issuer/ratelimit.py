"""A small token-bucket rate limiter for the public endpoints, per client address.

Per process: with N workers the effective limit is up to N times higher, which is acceptable
for its purpose (keeping a script from filling the offers table); a shared limiter would need a
service the design does not have.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from issuer.errors import RateLimitedError

MAX_TRACKED = 10_000


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, last time)
        self._lock = threading.Lock()

    def check(self, key: str, *, per_minute: int, burst: int | None = None) -> None:
        """Take one token for ``key``; raise RateLimitedError when there is none."""
        capacity = float(burst or per_minute)
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimitedError(max(1, math.ceil((1.0 - tokens) / rate)))
            if len(self._buckets) >= MAX_TRACKED and key not in self._buckets:
                self._buckets.clear()  # bounded memory; forgetting is the lenient choice
            self._buckets[key] = (tokens - 1.0, now)
