"""TelemetryClient: the public facade over the ledger, the background worker and the cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType

from . import _fork, _unsent
from ._deadline import MAX_WAIT_S, Deadline
from ._http import safe_url
from ._intake import Intake
from ._ledger import FEEDBACK, INVALID
from ._log import LazyLogger, emitting
from ._process import Process
from ._settings import Settings
from ._stats import ClientStats
from .builder import EventBuilder
from .cache import PredictionCache
from .models import PredictionQuery, PredictionResponse, TaskCompletionEvent

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from .config import TelemetryConfig


__all__ = ["TelemetryClient"]

logger = LazyLogger(__name__)


class TelemetryClient:
    """Queues events from any thread and sends them in batches in the background.

    ``track()`` never blocks and never raises. ``start()`` (a thread) or
    ``await start_async()`` (a task supervising that thread) sends every
    ``submit_interval_seconds`` and as soon as ``batch_size`` events are queued;
    ``stop()``/``stop_async()`` send what is left within ``shutdown_timeout_seconds``.

    Args:
        config: the settings; checked here, problems are logged as warnings.
        clock: monotonic clock for deadlines and the prediction cache (tests inject one).
        sleep: replaces the backoff wait (tests pass one that returns at once);
            called with the seconds to wait.
    """

    def __init__(
        self,
        config: TelemetryConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._config = config
        self._enabled = bool(config.enabled)
        self._clock = clock
        self._sleep = sleep
        if self._enabled:
            for problem in config.validate():
                logger.warning("telemetry config: %s", problem)
        self._settings = settings = Settings.of(config)
        self._batch_size = settings.batch_size
        self._cache = PredictionCache(settings.cache_ttl_s, clock=clock)
        self._core = Process(config, settings, clock, sleep)
        self._intake = Intake()
        if self._enabled:
            _fork.watch(self)
            _unsent.watch(self)

    def _process(self) -> Process:
        """This process's state; a fresh one after a fork the at-fork hook missed."""
        core = self._core
        return core if core.pid == _fork.getpid() else self._after_fork()

    def _after_fork(self) -> Process:
        """In a forked child: empty queue, new counters and sockets, a worker if one ran."""
        pid = _fork.getpid()
        # Two threads of a C-forked child may notice at once: the first resets, the other
        # waits for it (briefly, no I/O happens here) instead of tracking into the parent's
        # copy, which nobody sends. The lock is fresh in every child the at-fork hook sees;
        # after a C-level fork it may be one a parent thread held: then reset without it.
        lock = _fork.reset_lock
        locked = lock.acquire(timeout=_fork.RESET_WAIT_S)
        try:
            core = self._core
            if core.pid == pid:  # another thread of this child was first
                return core
            was_running = core.background.started
            core.background.after_fork_in_child()  # never write the parent's spool segment
            fresh = Process(self._config, self._settings, self._clock, self._sleep)
            if self._core.pid == pid:  # a signal handler's track() on this thread was first
                return self._core
            self._core = fresh
            self._cache._after_fork()
        finally:
            if locked:
                lock.release()
        if was_running:
            fresh.background.start()
        return fresh

    # -- properties -------------------------------------------------------------

    @property
    def config(self) -> TelemetryConfig:
        """The configuration this client was made with."""
        return self._config

    @property
    def queue_size(self) -> int:
        """Number of events waiting in the in-memory queue."""
        return self._core.ledger.size

    @property
    def is_running(self) -> bool:
        """Whether the background submitter (thread or asyncio task) is active."""
        return self._core.background.running

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the delivery counters (see :class:`ClientStats`)."""
        core = self._process()
        snapshot = core.ledger.snapshot()
        journal = core.background.journal
        counts = None if journal is None else journal.counts
        if counts is None:
            return snapshot
        from dataclasses import replace  # noqa: PLC0415

        return replace(
            snapshot,
            spool_bytes=counts.spool_bytes,
            spool_evicted=counts.spool_evicted,
            spool_corrupt=counts.spool_corrupt,
        )

    def __repr__(self) -> str:
        return (
            f"TelemetryClient(server_url={safe_url(self._config.server_url)!r}, "
            f"enabled={self._enabled}, running={self.is_running}, queued={self.queue_size})"
        )

    # -- hot path ---------------------------------------------------------------

    def event(self) -> EventBuilder:
        """A new :class:`EventBuilder` for this client's ``instance_id``. Never raises.

        Hand it to :meth:`track` unbuilt: a builder that can't build (no
        ``instance_id`` configured, a value out of range) is then dropped, counted
        and logged, never raised.
        """
        try:
            return EventBuilder(self._config.instance_id)
        except Exception:  # an instance_id no builder takes: build() reports it
            return EventBuilder("")

    def track(self, event: TaskCompletionEvent | EventBuilder) -> None:
        """Queue ``event`` for sending. Never blocks, never raises, does no I/O.

        ``event`` is a :class:`TaskCompletionEvent`, or an :class:`EventBuilder`
        that is built here: one that can't build is dropped, logged once per kind
        of mistake (field, value, rule) and counted in ``stats.dropped_invalid``.
        Safe from any thread, signal handler, finalizer or logging handler. Disabled:
        the event is dropped silently (a builder is not even built). Queue full: the
        oldest event is evicted (``stats.dropped_queue_full``). Neither an event nor
        a builder: logged and counted in ``stats.dropped_invalid``.
        """
        try:
            if not self._enabled:
                return
            core = self._core
            if core.pid != _fork.getpid():  # inline: this is the hot path
                core = self._after_fork()
            ledger = core.ledger
            if emitting and threading.get_ident() in emitting:  # a host log handler that
                # turns one of our own records into an event: logging must not feed on itself
                ledger.put_marker(FEEDBACK)
                return
            given: object = event  # the annotation is a promise callers may break
            if not isinstance(given, TaskCompletionEvent) and isinstance(given, EventBuilder):
                given = self._intake.build(given)  # logs why when it can't
                if given is None:
                    ledger.put_marker(INVALID)
                    return
            if not isinstance(given, TaskCompletionEvent):
                ledger.put_marker(INVALID)
                logger.warning(
                    "telemetry track() needs a TaskCompletionEvent or an EventBuilder, "
                    "got %s; dropped",
                    type(given).__name__,
                )
                return
            if ledger.put_event(given, self._batch_size):
                core.background.wake()
        except Exception:  # never into the host; logging itself is guarded too
            logger.exception("telemetry track() failed; event dropped")

    # -- sending ----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now and wait for it; works without :meth:`start`.

        Without a running submitter the batches go one by one on the calling thread
        (no thread is started). Returns by the deadline (plus at most half a second).

        Args:
            timeout: seconds to wait at most (default: ``shutdown_timeout_seconds``).

        Returns:
            True when the queue was emptied and nothing is in flight in time.
        """
        if not self._enabled:
            return True
        try:
            background = self._process().background
            return background.flush(background.deadline(timeout))
        except Exception:
            logger.exception("telemetry flush failed")
            return False

    def persist(self, timeout: float | None = None) -> int:
        """Write every event queued or in flight now to the spool, durably; works without
        :meth:`start`.

        Durably: the segment file and, after a new one was created, its directory are
        fsynced, so once this returns those events survive ``kill -9`` and a power
        loss; a later ``start()``/``flush()`` (of this or another process) or
        ``mosaic-telemetry spool drain`` sends them. Without ``spool_dir`` (or when
        the spool failed, see ``stats.spool_errors``) nothing is written.

        Args:
            timeout: seconds to wait at most for the spool's writer to be free
                (default: wait as long as it takes, normally milliseconds).

        Returns:
            How many of this client's events are on disk now (0 without a spool).
        """
        if not self._enabled:
            return 0
        try:
            return self._process().background.persist(
                Deadline.after(MAX_WAIT_S if timeout is None else timeout, self._clock)
            )
        except Exception:
            logger.exception("telemetry persist failed")
            return 0

    # -- sync life cycle ----------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (no-op when disabled or already running)."""
        if self._enabled:
            self._process().background.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background thread and send what is left, within ``timeout`` seconds.

        Safe to call twice, or without :meth:`start`. Events still unsent at the
        deadline are counted in ``stats.dropped_shutdown``, those whose request went
        out without an answer in ``stats.unconfirmed``. With ``spool_dir``, every
        unsent event is persisted first and stays in the spool (``stats.spooled``):
        ``stop(timeout=0)`` persists and returns at once.
        """
        if self._enabled:
            background = self._process().background
            background.stop(background.deadline(timeout))

    def __enter__(self) -> TelemetryClient:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- async life cycle ---------------------------------------------------------

    async def start_async(self) -> None:
        """Start the background submitter from the running loop (no-op when disabled).

        A task in this loop supervises the worker thread; the loop is never blocked.
        """
        if self._enabled:
            await self._process().background.start_async()

    async def stop_async(self, timeout: float | None = None) -> None:
        """Stop the submitter and send what is left, within ``timeout`` seconds.

        Works from any loop or thread (not only the one that started the client);
        the final flush runs on a helper thread, so the loop is never blocked.
        """
        if self._enabled:
            background = self._process().background
            await background.stop_async(background.deadline(timeout))

    async def __aenter__(self) -> TelemetryClient:
        await self.start_async()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop_async()

    # -- predictions --------------------------------------------------------------

    def get_prediction(self, query: PredictionQuery) -> PredictionResponse | None:
        """The cached prediction for ``query``, or None if absent or expired. No I/O."""
        try:
            return self._cache.get(query)
        except Exception:
            logger.exception("telemetry prediction lookup failed")
            return None

    def refresh_predictions_sync(self, queries: Iterable[PredictionQuery]) -> None:
        """Fetch predictions (``POST /v1/predictions/batch``, chunks of 50) into the cache.

        A failure is logged (with its real cause, also in ``stats.last_error``) and
        leaves the cache as it was. Returns within ``request_timeout_seconds`` times
        ``max_retries + 1``. No-op when empty or disabled.
        """
        if not self._enabled:
            return
        try:
            wanted = [q for q in queries if isinstance(q, PredictionQuery)]
            if not wanted:
                return
            from ._predictions import fetch_predictions  # noqa: PLC0415  # first use only

            settings = self._settings
            deadline = Deadline.after(
                settings.request_timeout_s * (settings.max_retries + 1), self._clock
            )
            core = self._process()
            found = fetch_predictions(core.requester, core.ledger, core.health, wanted, deadline)
            for query, response in found:
                self._cache.put(query, response)
        except Exception:
            logger.exception("telemetry prediction refresh failed")

    async def refresh_predictions(self, queries: Iterable[PredictionQuery]) -> None:
        """Like :meth:`refresh_predictions_sync`, without blocking the event loop."""
        if not self._enabled:
            return
        wanted = list(queries)
        if not wanted:
            return
        from ._threads import in_thread  # noqa: PLC0415

        await in_thread(lambda: self.refresh_predictions_sync(wanted), "predict")
