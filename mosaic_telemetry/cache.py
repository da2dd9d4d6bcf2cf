"""PredictionCache: a thread-safe TTL cache of prediction responses on a monotonic clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .models import PredictionQuery, PredictionResponse

__all__ = ["PredictionCache"]


DEFAULT_MAX_ENTRIES = 10_000


class PredictionCache:
    """Prediction responses keyed by a query's four dimensions, each kept for ``ttl_seconds``.

    Expiry runs on ``clock`` (``time.monotonic`` by default), so wall-clock jumps
    change nothing; an expired entry reads as ``None`` and is removed. The cache
    holds at most ``max_entries``: each ``put`` first removes the entries that have
    expired, then, if it is still full, the oldest one.
    """

    def __init__(
        self,
        ttl_seconds: float = 21600.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, (int, float)):
            raise ValueError(f"ttl_seconds must be a number, got {ttl_seconds!r}")
        if not ttl_seconds >= 0:
            raise ValueError(f"ttl_seconds must be 0 or more, got {ttl_seconds!r}")
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive int, got {max_entries!r}")
        self._max_entries = max_entries
        self._ttl_s = float(ttl_seconds)
        self._clock = clock
        self._entries: dict[tuple[str, str, str, str], tuple[float, PredictionResponse]] = {}
        self._lock = threading.Lock()

    def get(self, query: PredictionQuery) -> PredictionResponse | None:
        """Return the cached response for ``query``, or ``None`` if absent or expired."""
        key = query.key
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, response = entry
            if self._clock() >= expires_at:
                del self._entries[key]
                return None
            return response

    def put(self, query: PredictionQuery, response: PredictionResponse) -> None:
        """Store ``response`` for ``query`` until the TTL runs out (expired entries go first)."""
        now = self._clock()
        key = query.key
        with self._lock:
            entries = self._entries
            entries.pop(
                key, None
            )  # a renewed entry moves to the end: the dict stays in expiry order
            while entries:  # one TTL for all: the oldest entries expire first
                oldest = next(iter(entries))
                if entries[oldest][0] > now and len(entries) < self._max_entries:
                    break
                del entries[oldest]  # expired, or the oldest of a full cache
            entries[key] = (now + self._ttl_s, response)

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._entries.clear()

    def _after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may have been held at fork time)."""
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Number of entries, expired ones not yet read included."""
        return len(self._entries)

    @property
    def max_entries(self) -> int:
        """The most entries the cache holds."""
        return self._max_entries

    @property
    def ttl_seconds(self) -> float:
        """How long an entry lives, in seconds."""
        return self._ttl_s

    def __repr__(self) -> str:
        return f"PredictionCache(size={self.size}, ttl_seconds={self._ttl_s})"
