"""CollectorService: what the endpoints do with a parsed body, independent of HTTP."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from ..errors import ValidationError
from ..models import (
    MAX_BATCH_EVENTS,
    MAX_PREDICTION_QUERIES,
    SCHEMA_VERSION,
    BatchEventResponse,
    BatchEventResult,
    PredictionQuery,
    PredictionResponse,
    TaskCompletionEvent,
)
from ._wire import RequestError
from .predictions import MIN_SAMPLES, predict
from .store import EventStore

__all__ = ["API_VERSION", "MAX_CACHED_PREDICTIONS", "NIL_EVENT_ID", "CollectorService"]

API_VERSION = "v1"
MAX_CACHED_PREDICTIONS = 10_000
"""Result-cache entries kept before the cache is emptied and starts over."""

NIL_EVENT_ID = UUID(int=0)
"""``event_id`` reported for a rejected event whose own ``event_id`` is unreadable."""

_MAX_ERROR_CHARS = 1000

_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _event_id_of(item: object) -> UUID:
    if isinstance(item, Mapping):
        raw = item.get("event_id")
        if isinstance(raw, str):
            try:
                return UUID(raw)
            except ValueError:
                pass
    return NIL_EVENT_ID


def _items(payload: Any, key: str, lo: int, hi: int) -> list[Any]:
    """Return ``payload[key]``, checked to be a list of ``lo..hi`` items."""
    if not isinstance(payload, dict) or not isinstance(payload.get(key), list):
        raise RequestError(400, f'body must be a JSON object with a "{key}" list')
    items: list[Any] = payload[key]
    if not lo <= len(items) <= hi:
        raise RequestError(422, f"{key} must hold {lo} to {hi} items, got {len(items)}")
    return items


class CollectorService:
    """Store event batches and answer prediction batches, with a result cache.

    The cache maps a query's four dimensions to its last computed response; any
    write that stores a new event empties it (a resent duplicate does not).
    """

    def __init__(
        self,
        store: EventStore,
        *,
        min_samples: int = MIN_SAMPLES,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 1:
            raise ValueError(f"min_samples must be an integer of at least 1, got {min_samples!r}")
        self._store = store
        self._min_samples = min_samples
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str, str], PredictionResponse] = {}
        self._cache_generation = store.generation

    @property
    def store(self) -> EventStore:
        """The event store behind this service."""
        return self._store

    def health(self) -> dict[str, str]:
        """Body of ``GET /v1/health``."""
        return {"status": "ok", "api_version": API_VERSION, "schema_version": SCHEMA_VERSION}

    def ingest(self, payload: Any) -> BatchEventResponse:
        """Validate each event of a ``{"events": [...]}`` body and store the good ones.

        Raises:
            RequestError: 400 when the body is not of that shape, 422 for 0 or
                more than 100 events.
            StoreError: the store failed (no event of the batch was stored).
        """
        items = _items(payload, "events", 1, MAX_BATCH_EVENTS)
        good: list[TaskCompletionEvent] = []
        results: list[BatchEventResult] = []
        for item in items:
            try:
                event = TaskCompletionEvent.from_dict(item)
            except ValidationError as exc:
                results.append(
                    BatchEventResult(
                        event_id=_event_id_of(item),
                        status="rejected",
                        error=str(exc)[:_MAX_ERROR_CHARS],
                    )
                )
                continue
            good.append(event)
            results.append(BatchEventResult(event_id=event.event_id, status="accepted"))
        added = self._store.add(good, received_at=self._clock())
        _log.debug("stored %d new of %d accepted events", added, len(good))
        return BatchEventResponse(
            accepted=len(good), rejected=len(items) - len(good), results=results
        )

    def predict(self, payload: Any) -> list[PredictionResponse]:
        """Answer each query of a ``{"queries": [...]}`` body, in order.

        Raises:
            RequestError: 400 when the body is not of that shape, 422 for 0 or
                more than 50 queries or for an invalid query (the whole batch is
                refused, naming the query's index and the rule it broke).
            StoreError: the store could not be read.
        """
        items = _items(payload, "queries", 1, MAX_PREDICTION_QUERIES)
        queries: list[PredictionQuery] = []
        for index, item in enumerate(items):
            try:
                queries.append(PredictionQuery.from_dict(item))
            except ValidationError as exc:
                raise RequestError(422, f"queries[{index}]: {exc}"[:_MAX_ERROR_CHARS]) from None
        return [self._answer(query) for query in queries]

    def _answer(self, query: PredictionQuery) -> PredictionResponse:
        key = query.key
        generation = self._store.generation
        with self._lock:
            if self._cache_generation != generation:
                self._cache.clear()
                self._cache_generation = generation
            cached = self._cache.get(key)
        if cached is not None:
            metadata = dataclasses.replace(cached.metadata, cache_hit=True)
            return PredictionResponse(prediction=cached.prediction, metadata=metadata)
        samples = self._store.samples(query.task_type.value)
        response = predict(query, samples, now=self._clock(), min_samples=self._min_samples)
        with self._lock:
            # Computed from data older than a write that landed meanwhile: don't keep it.
            if self._cache_generation == generation == self._store.generation:
                if len(self._cache) >= MAX_CACHED_PREDICTIONS:
                    self._cache.clear()
                self._cache[key] = response
        return response
