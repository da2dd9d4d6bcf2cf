"""CollectorService: what the endpoints do with a parsed body, independent of HTTP."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import ValidationError
from ..models import (
    MAX_BATCH_EVENTS,
    MAX_PREDICTION_QUERIES,
    SCHEMA_VERSION,
    BatchEventResponse,
    PredictionQuery,
    PredictionResponse,
)
from ._answer import LEVEL_POSITIONS, answer, new_index, path
from ._index import PredictionIndex
from ._index import dump as dump_index
from ._index import load as load_index
from ._ingest import MAX_ERROR_CHARS, NIL_EVENT_ID, store_batch
from ._reads import Groups, index_groups, snapshot, store_position
from ._schema import utc_text
from ._wire import RequestError
from .predictions import MIN_SAMPLES
from .store import EventStore

__all__ = ["API_VERSION", "MAX_CACHED_PREDICTIONS", "NIL_EVENT_ID", "CollectorService"]

API_VERSION = "v1"
MAX_CACHED_PREDICTIONS = 10_000
"""Result-cache entries kept before the cache is emptied and starts over."""


_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _items(payload: Any, key: str, lo: int, hi: int) -> list[Any]:
    """Return ``payload[key]``, checked to be a list of ``lo..hi`` items."""
    if not isinstance(payload, dict) or not isinstance(payload.get(key), list):
        raise RequestError(400, f'body must be a JSON object with a "{key}" list')
    items: list[Any] = payload[key]
    if not lo <= len(items) <= hi:
        raise RequestError(422, f"{key} must hold {lo} to {hi} items, got {len(items)}")
    return items


def _int(value: object) -> int:
    assert isinstance(value, int)  # an INTEGER column or SUM of one  # nosec B101
    return value


def _dimensions(row: tuple[object, ...]) -> tuple[str, str, str, str]:
    return row[0], row[1], row[2], row[3]  # type: ignore[return-value]  # TEXT columns


class CollectorService:
    """Store event batches and answer prediction batches, with a result cache.

    Predictions read an in-memory index of every stored event's prediction
    fields. Before each batch of queries the index catches up with what any
    connection, in any process, stored since (``EventStore.data_version``), and it
    is rebuilt when stored events were deleted or changed. A cached answer is
    reused while the pools of its fallback levels hold the same events.
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
        self._lock = threading.Lock()  # owns the index, its position and the cache
        self._index = new_index()
        self._seen_version: tuple[int, int] | None = None
        self._last_seq = 0
        self._rewrites = 0
        self._epoch = 0
        self._cache: dict[tuple[str, str, str, str], _Cached] = {}
        self._warm = False
        self._building = threading.Lock()  # held while warm_up builds an index

    @property
    def is_warm(self) -> bool:
        """Whether :meth:`warm_up` has built the prediction index once."""
        return self._warm

    @property
    def store(self) -> EventStore:
        """The event store behind this service."""
        return self._store

    def health(self) -> dict[str, str]:
        """Body of ``GET /v1/health``."""
        return {"status": "ok", "api_version": API_VERSION, "schema_version": SCHEMA_VERSION}

    def ingest(self, payload: Any) -> BatchEventResponse:
        """Validate each event of a ``{"events": [...]}`` body and store the good ones.

        Each event is judged alone: one the models refuse, or the store can't take
        (a timestamp outside years 1..9999 in UTC, text that is not valid Unicode,
        a row a constraint refuses), is ``rejected`` with the reason, and the rest
        are stored in one transaction.

        Raises:
            RequestError: 400 when the body is not of that shape, 422 for 0 or
                more than 100 events.
            StoreError: the store failed (no event of the batch was stored).
        """
        return BatchEventResponse.from_dict(json.loads(self.ingest_json(payload)))

    def ingest_json(self, payload: Any) -> bytes:
        """:meth:`ingest`, answered as the UTF-8 JSON of its ``BatchEventResponse``."""
        items = _items(payload, "events", 1, MAX_BATCH_EVENTS)
        body, added = store_batch(self._store, items, utc_text(self._clock()))
        _log.debug("stored %d new of %d events", added, len(items))
        return body

    def warm_up(self) -> None:
        """Build the prediction index from the whole store, then swap it in.

        The build runs without the lock, so queries meanwhile are answered from
        the old index; the collector calls this at start and after deleting old
        events. The first query then waits less.

        Raises:
            StoreError: the store could not be read.
        """
        with self._building:
            version = self._store.data_version()
            with self._store.reading() as conn:
                fresh, groups = self._from_snapshot(conn)
                if fresh is None:
                    fresh = new_index()
                    groups = index_groups(conn, 0, -1)
                _fold(fresh, groups.rows)
            fresh.settle()
            self._swap(fresh, groups, version)

    def _from_snapshot(self, conn: Any) -> tuple[PredictionIndex | None, Groups]:
        """The saved index and the events stored after it, when the save is still valid."""
        saved = snapshot(conn) if not self._warm else None  # only at start
        if saved is not None:
            last_seq, rewrites, data = saved
            now_rewrites, now_last = store_position(conn)
            if now_rewrites == rewrites and now_last >= last_seq:
                try:
                    loaded = load_index(LEVEL_POSITIONS, data)
                except (ValueError, KeyError, TypeError):
                    _log.info("the saved prediction index is unusable; building it anew")
                else:
                    return loaded, index_groups(conn, last_seq, rewrites)
        return None, Groups(rewrites=-1, last_seq=0, rows=())

    def save_index(self) -> None:
        """Save the prediction index in the store, so the next start loads it at once.

        Raises:
            StoreError: the store could not be written.
        """
        with self._lock:
            if not self._warm:
                return
            data = dump_index(self._index)
            last_seq, rewrites = self._last_seq, self._rewrites
        self._store.save_snapshot(last_seq, rewrites, data)

    def _swap(self, fresh: PredictionIndex, groups: Groups, version: tuple[int, int]) -> None:
        with self._lock:
            self._index = fresh
            self._last_seq = groups.last_seq
            self._rewrites = groups.rewrites
            self._seen_version = version
            self._epoch += 1
            self._cache.clear()
            self._catch_up()
            self._warm = True

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
                raise RequestError(422, f"queries[{index}]: {exc}"[:MAX_ERROR_CHARS]) from None
        if not self._warm:
            with self._building:  # the first build is under way: wait, don't build twice
                pass
        with self._lock:
            self._catch_up()
            return [self._answer(query) for query in queries]

    def _catch_up(self) -> None:
        """Fold into the index what was stored since the last look (caller holds the lock)."""
        version = self._store.data_version()  # before the snapshot: a later write shows next time
        if version == self._seen_version:
            return
        with self._store.reading() as conn:
            groups = index_groups(conn, self._last_seq, self._rewrites)
            if groups.rewrites != self._rewrites:
                self._index = new_index()
                self._last_seq = 0
                self._rewrites = groups.rewrites
                self._epoch += 1
                self._cache.clear()
            try:
                _fold(self._index, groups.rows)
            except BaseException:
                self._seen_version = None  # half folded in: start over from nothing next time
                self._index = new_index()
                self._last_seq = 0
                self._epoch += 1
                self._cache.clear()
                raise
        self._last_seq = groups.last_seq
        self._seen_version = version

    def _answer(self, query: PredictionQuery) -> PredictionResponse:
        key = query.key
        nodes = path(self._index, query)
        counts = tuple(node.count for node in nodes)
        cached = self._cache.get(key)
        if cached is not None and cached.counts == counts and cached.epoch == self._epoch:
            metadata = dataclasses.replace(cached.response.metadata, cache_hit=True)
            return PredictionResponse(prediction=cached.response.prediction, metadata=metadata)
        response = answer(query, nodes, now=self._clock(), min_samples=self._min_samples)
        if len(self._cache) >= MAX_CACHED_PREDICTIONS:
            self._cache.clear()
        self._cache[key] = _Cached(counts, self._epoch, response)
        return response


def _fold(index: PredictionIndex, rows: Iterable[tuple[object, ...]]) -> None:
    """Add the groups ``_reads.index_groups`` gives to ``index``."""
    for row in rows:
        index.add(
            _dimensions(row),
            [map(int, str(text).split(",")) for text in row[5:9]],
            count=_int(row[4]),
            sums=[_int(value) for value in row[9:]],
        )


@dataclass(frozen=True, slots=True)
class _Cached:
    """A computed answer and the pool sizes it was computed from."""

    counts: tuple[int, ...]
    epoch: int
    response: PredictionResponse
