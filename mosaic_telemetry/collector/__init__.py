"""A local Telemetry API v1 collector: stdlib HTTP server, sqlite3 store, predictions.

The client never imports this package; a vendored copy of the client may leave
it out. Importing the top-level package does not load it (nor ``sqlite3``).
"""

from __future__ import annotations

from ._wire import MAX_BODY_BYTES
from .predictions import CONFIDENCE_THRESHOLDS, FALLBACK_LEVELS, MIN_SAMPLES
from .server import DEFAULT_HOST, Collector
from .service import CollectorService
from .serving import serve_forever
from .store import EventStore, StoreError

__all__ = [
    "CONFIDENCE_THRESHOLDS",
    "DEFAULT_HOST",
    "FALLBACK_LEVELS",
    "MAX_BODY_BYTES",
    "MIN_SAMPLES",
    "Collector",
    "CollectorService",
    "EventStore",
    "StoreError",
    "serve_forever",
]
