"""TelemetryClient: non-blocking track(), background delivery, cached predictions."""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from types import TracebackType

from ._log import LazyLogger
from ._stats import ClientStats, Tally
from ._worker import Dispatcher
from .cache import PredictionCache
from .models import PredictionQuery, PredictionResponse, TaskCompletionEvent
from .queue import EventQueue

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Executor, ThreadPoolExecutor
    from typing import Any

    from .config import TelemetryConfig


__all__ = ["TelemetryClient"]

logger = LazyLogger(__name__)

_POOL_WORKERS = 4
_THREAD_NAME = "mosaic-telemetry"
_getpid = os.getpid

_live_clients: weakref.WeakSet[TelemetryClient] = weakref.WeakSet()
_fork_hook_installed = False
_fork_hook_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _fork_hook_lock  # noqa: PLW0603  # the parent may have held it at fork time
    _fork_hook_lock = threading.Lock()
    for client in list(_live_clients):
        client._reset_after_fork()


def _watch_forks(client: TelemetryClient) -> None:
    """Register ``client`` for the fork hook (installed once, on first use, not at import)."""
    global _fork_hook_installed  # noqa: PLW0603  # one process-wide hook
    with _fork_hook_lock:
        _live_clients.add(client)
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook_installed = True


# Thread waits refuse timeouts past threading.TIMEOUT_MAX; a year is "forever" here.
_MAX_WAIT_S = min(threading.TIMEOUT_MAX, 365 * 86400.0)


def _number(value: Any, default: float, *, minimum: float = 0.0) -> float:
    """``value`` when it is a usable number above ``minimum`` (capped), else ``default``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > minimum:
        return default
    return _seconds(value)


def _seconds(value: float) -> float:
    """``value`` as a wait every thread primitive accepts: 0 to a year, NaN as 0."""
    seconds = float(value)
    if not seconds > 0:  # also NaN
        return 0.0
    return min(seconds, _MAX_WAIT_S)


class TelemetryClient:
    """Queues events from any thread and sends them in batches in the background.

    ``track()`` never blocks and never raises. ``start()`` (a thread) or
    ``await start_async()`` (an asyncio task) sends every
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
        self._batch_size = int(config.batch_size) if 1 <= _int(config.batch_size) <= 100 else 100
        self._max_queue = _int(config.max_queue_size) if _int(config.max_queue_size) > 0 else 1000
        self._interval_s = _number(config.submit_interval_seconds, 300.0)
        self._shutdown_s = _number(config.shutdown_timeout_seconds, 5.0)
        self._request_timeout_s = _number(config.request_timeout_seconds, 10.0)
        self._max_retries = max(0, _int(config.max_retries))
        ttl = config.prediction_cache_ttl_seconds
        usable_ttl = isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and ttl >= 0
        self._cache = PredictionCache(_seconds(ttl) if usable_ttl else 21600.0, clock=clock)
        self._atexit_registered = False
        self._fork_claims: dict[int, int] = {}
        self._init_process_state()
        if self._enabled:
            _watch_forks(self)

    def _init_process_state(self) -> None:
        """Everything that belongs to one process: queue, counters, locks, workers."""
        self._pid = _getpid()
        self._queue = EventQueue(self._max_queue)
        self._tally = Tally()
        self._lifecycle = threading.RLock()
        self._wake = threading.Event()
        self._interrupt = threading.Event()
        self._stopping = False
        self._run_id = 0
        self._thread: threading.Thread | None = None
        self._pool_executor: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._pool_closed = False
        self._coordinator: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_wake: asyncio.Event | None = None
        self._async_wake_pending = False
        from ._sender import Sender  # noqa: PLC0415  # first client only

        self._sender = Sender(
            self._config,
            self._tally,
            clock=self._clock,
            sleeper=self._sleeper,
            max_retries=self._max_retries,
            request_timeout_s=self._request_timeout_s,
        )
        self._dispatcher = Dispatcher(
            self._queue,
            self._tally,
            self._sender,
            batch_size=self._batch_size,
            clock=self._clock,
            pool=self._pool,
        )

    def _sleeper(self, seconds: float, interrupt: threading.Event | None) -> bool:
        if self._sleep is None:
            from ._sender import real_sleeper  # noqa: PLC0415

            return real_sleeper(seconds, interrupt)
        self._sleep(seconds)
        return interrupt is not None and interrupt.is_set()

    def _pool(self) -> Executor | None:
        """The client's HTTP thread pool, created on first use."""
        # Its own lock, not the life-cycle one: stop() holds that while it flushes,
        # and a worker asking for the pool then must not wait for stop() to end.
        with self._pool_lock:
            if self._pool_closed:  # after stop(): stragglers send on their own thread
                return None
            if self._pool_executor is None:
                from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

                self._pool_executor = ThreadPoolExecutor(
                    max_workers=_POOL_WORKERS, thread_name_prefix=f"{_THREAD_NAME}-send"
                )
            return self._pool_executor

    # -- properties -------------------------------------------------------------

    @property
    def config(self) -> TelemetryConfig:
        """The configuration this client was made with."""
        return self._config

    @property
    def queue_size(self) -> int:
        """Number of events waiting in the in-memory queue."""
        return self._queue.size

    @property
    def is_running(self) -> bool:
        """Whether the background submitter (thread or asyncio task) is active."""
        thread, task = self._thread, self._task
        return bool(
            (thread is not None and thread.is_alive()) or (task is not None and not task.done())
        )

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the delivery counters (see :class:`ClientStats`)."""
        self._check_fork()
        queue = self._queue
        return self._tally.snapshot(
            tracked=queue.total_put, dropped_queue_full=queue.dropped, queued=queue.size
        )

    def __repr__(self) -> str:
        return (
            f"TelemetryClient(server_url={self._config.server_url!r}, "
            f"enabled={self._enabled}, running={self.is_running}, queued={self.queue_size})"
        )

    # -- hot path ---------------------------------------------------------------

    def track(self, event: TaskCompletionEvent) -> None:
        """Queue ``event`` for sending. Never blocks, never raises, does no I/O.

        Disabled: the event is dropped silently. Queue full: the oldest event is
        evicted (counted in ``stats.dropped_queue_full``). Not an event: logged and
        counted in ``stats.dropped_invalid``.
        """
        try:
            if not self._enabled:
                return
            if self._pid != _getpid():  # inline: this is the hot path
                self._reset_after_fork()
            given: object = event  # the annotation is a promise callers may break
            if not isinstance(given, TaskCompletionEvent):
                self._tally.add("dropped_invalid")
                logger.warning(
                    "telemetry track() needs a TaskCompletionEvent, got %s; dropped",
                    type(given).__name__,
                )
                return
            queue = self._queue
            queue.put(given)
            if queue.size >= self._batch_size:
                self._batch_ready()
        except Exception:  # never into the host; logging itself is guarded too
            try:
                logger.exception("telemetry track() failed; event dropped")
            except Exception:  # noqa: S110  # nothing left to report to
                pass

    def _batch_ready(self) -> None:
        if self._thread is not None:
            if not self._wake.is_set():
                self._wake.set()
            return
        loop, wake = self._loop, self._async_wake
        if loop is not None and wake is not None and not self._async_wake_pending:
            self._async_wake_pending = True
            try:
                loop.call_soon_threadsafe(self._set_async_wake)
            except RuntimeError:  # the loop is closed; the stop path sends what is left
                self._async_wake_pending = False

    def _set_async_wake(self) -> None:
        self._async_wake_pending = False
        if self._async_wake is not None:
            self._async_wake.set()

    # -- sending ----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now and wait for it; works without :meth:`start`.

        Args:
            timeout: seconds to wait at most (default: ``shutdown_timeout_seconds``).

        Returns:
            True when the queue was emptied and nothing is in flight in time.
        """
        if not self._enabled:
            return True
        try:
            self._check_fork()
            # Without a running submitter, stay on the caller's thread: plugin
            # sandboxes that call flush() themselves may not want threads at all.
            inline = not self.is_running
            return self._dispatcher.flush(self._deadline(timeout), inline=inline)
        except Exception:
            logger.exception("telemetry flush failed")
            return False

    def _check_fork(self) -> None:
        """After a fork the hooks missed (a C-level fork), start this process afresh."""
        if self._pid != _getpid():
            self._reset_after_fork()

    def _deadline(self, timeout: float | None) -> float:
        return self._clock() + (self._shutdown_s if timeout is None else _seconds(timeout))

    # -- sync life cycle ----------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (no-op when disabled or already running)."""
        if not self._enabled:
            return
        self._check_fork()
        with self._lifecycle:
            if self.is_running:
                return
            self._begin()
            thread = threading.Thread(
                target=self._dispatcher.run_thread,
                kwargs={
                    "interval_s": self._interval_s,
                    "cycle_s": max(self._interval_s, self._request_timeout_s),
                    "wake": self._wake,
                    "interrupt": self._interrupt,
                    "stopping": self._stop_check(),
                },
                name=f"{_THREAD_NAME}-worker",
                daemon=True,
            )
            self._thread = thread
            thread.start()

    def _begin(self) -> None:
        with self._pool_lock:
            self._pool_closed = False
        self._run_id += 1
        self._stopping = False
        self._dispatcher.closed = False
        self._interrupt.clear()
        self._wake.clear()
        if not self._atexit_registered:
            atexit.register(self._at_exit)
            self._atexit_registered = True

    def _stop_check(self) -> Callable[[], bool]:
        """A check for one run's worker: true once stop() ran, even if start() ran again."""
        run_id = self._run_id

        def stopping() -> bool:
            return self._stopping or self._run_id != run_id

        return stopping

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background thread and send what is left, within ``timeout`` seconds.

        Safe to call twice, or without :meth:`start`. Events still undelivered at
        the deadline are dropped and counted in ``stats.dropped_shutdown``.
        """
        if not self._enabled:
            return
        self._check_fork()
        deadline = self._deadline(timeout)
        with self._lifecycle:
            thread = self._signal_stop()
            self._final_flush(deadline, inline=False)
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - self._clock()))
            self._close()

    def _signal_stop(self) -> threading.Thread | None:
        self._stopping = True
        self._interrupt.set()  # cut short any backoff sleep of a running cycle
        self._wake.set()
        loop = self._loop
        if loop is not None and self._async_wake is not None:  # an async run: wake it too
            try:
                loop.call_soon_threadsafe(self._async_wake.set)
            except RuntimeError:  # its loop is closed
                pass
        thread, self._thread = self._thread, None
        return thread

    def _final_flush(self, deadline: float, *, inline: bool) -> None:
        try:
            self._dispatcher.flush(deadline, inline=inline)
        except Exception:
            logger.exception("telemetry final flush failed")
        self._dispatcher.closed = True
        left = self._queue.clear()
        if left:
            self._tally.settle(0, dropped_shutdown=left)
            logger.warning("telemetry shutdown: %d event(s) could not be delivered in time", left)

    def _close(self) -> None:
        with self._pool_lock:
            pool, self._pool_executor = self._pool_executor, None
            self._pool_closed = True
        coordinator, self._coordinator = self._coordinator, None
        for executor in (pool, coordinator):
            if executor is not None:
                # No cancel_futures: a queued batch must still run, see the passed
                # deadline and settle as dropped, or flush() would wait for it forever.
                executor.shutdown(wait=False)
        if self._atexit_registered:
            atexit.unregister(self._at_exit)
            self._atexit_registered = False

    def _at_exit(self) -> None:
        """Interpreter exit without stop(): send what is left on this very thread.

        At exit no new thread may start (3.12+) and the pool refuses work, so the
        final flush runs inline; it still ends within the shutdown timeout.
        """
        try:
            deadline = self._deadline(None)
            self._signal_stop()
            self._final_flush(deadline, inline=True)
        except Exception:  # noqa: S110  # at exit there is nowhere left to report
            pass

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
        """Start the background asyncio task in the running loop (no-op when disabled)."""
        if not self._enabled:
            return
        import asyncio  # noqa: PLC0415  # only for the async submitter
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        with self._lifecycle:
            if self.is_running:
                return
            self._begin()
            self._loop = asyncio.get_running_loop()
            self._async_wake = asyncio.Event()
            self._coordinator = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"{_THREAD_NAME}-async"
            )
            self._task = self._loop.create_task(
                self._dispatcher.run_async(
                    interval_s=self._interval_s,
                    cycle_s=max(self._interval_s, self._request_timeout_s),
                    wake=self._async_wake,
                    interrupt=self._interrupt,
                    stopping=self._stop_check(),
                    coordinator=self._coordinator,
                ),
                name=f"{_THREAD_NAME}-submitter",
            )

    async def stop_async(self, timeout: float | None = None) -> None:
        """Stop the asyncio task and send what is left, within ``timeout`` seconds.

        The loop is never blocked: the final flush runs on a helper thread.
        """
        if not self._enabled:
            return
        import asyncio  # noqa: PLC0415

        deadline = self._deadline(timeout)
        task, self._task = self._task, None
        self._signal_stop()
        if self._async_wake is not None:
            self._async_wake.set()
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(
                    asyncio.shield(task), timeout=max(0.0, deadline - self._clock())
                )
            except asyncio.TimeoutError:
                pass  # its batches are in flight; the final flush waits for them
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def _flush_then_report() -> None:
            self._final_flush(deadline, inline=False)
            loop.call_soon_threadsafe(_resolve, done)

        threading.Thread(
            target=_flush_then_report, name=f"{_THREAD_NAME}-stop", daemon=True
        ).start()
        await done
        if task is not None and not task.done():
            task.cancel()
        self._loop = None
        self._async_wake = None
        self._close()

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

        A failure is logged and leaves the cache as it was. No-op when empty or disabled.
        """
        if not self._enabled:
            return
        try:
            wanted = [q for q in queries if isinstance(q, PredictionQuery)]
            if not wanted:
                return
            deadline = self._clock() + self._request_timeout_s * (self._max_retries + 1)
            for query, response in self._sender.fetch_predictions(wanted, deadline):
                self._cache.put(query, response)
        except Exception:
            logger.exception("telemetry prediction refresh failed")

    async def refresh_predictions(self, queries: Iterable[PredictionQuery]) -> None:
        """Like :meth:`refresh_predictions_sync`, without blocking the event loop."""
        if not self._enabled:
            return
        import asyncio  # noqa: PLC0415

        wanted = list(queries)
        if not wanted:
            return
        loop = asyncio.get_running_loop()
        # The client's pool while it runs; otherwise the loop's default executor, so
        # a client that was never started leaves no threads of its own behind.
        pool = self._pool() if self.is_running else None
        await loop.run_in_executor(pool, self.refresh_predictions_sync, wanted)

    # -- fork safety ----------------------------------------------------------------

    def _reset_after_fork(self) -> None:
        """In a forked child: fresh locks, an empty queue, and a worker if the parent had one."""
        pid = _getpid()
        # Two threads of a C-forked child may notice at once: only the first resets.
        if self._fork_claims.setdefault(pid, threading.get_ident()) != threading.get_ident():
            return
        was_running = self._thread is not None and not self._stopping
        self._init_process_state()
        self._cache._after_fork()
        if was_running:
            self.start()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value
