"""Process: what one client holds for one process, and the switch to a fresh one after a fork."""

from __future__ import annotations

from . import _fork
from ._deadline import MAX_WAIT_S, Deadline
from ._ledger import Ledger

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from ._health import Health
    from ._request import Requester
    from ._settings import Settings
    from ._stats import ClientStats
    from ._supervisor import Supervisor
    from ._worker import Background
    from .cache import PredictionCache
    from .config import TelemetryConfig


__all__ = ["Process", "ProcessSlot"]


class Process:
    """Everything of a client that belongs to one process; a forked child makes its own."""

    __slots__ = ("_clock", "background", "health", "ledger", "pid", "requester", "supervisor")

    def __init__(
        self,
        config: TelemetryConfig,
        settings: Settings,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None,
    ) -> None:
        from ._health import Health  # noqa: PLC0415  # first client only: import stays cheap
        from ._hooks import Hooks  # noqa: PLC0415
        from ._request import Requester  # noqa: PLC0415
        from ._sender import Sender  # noqa: PLC0415
        from ._supervisor import Supervisor  # noqa: PLC0415
        from ._worker import Background  # noqa: PLC0415

        self.pid = _fork.getpid()
        self._clock = clock
        self.ledger = ledger = Ledger(settings.max_queue)
        self.health: Health = Health(ledger, config.api_key)
        self.requester: Requester = Requester(
            config,
            ledger,
            self.health,
            clock=clock,
            sleep=sleep,
            max_retries=settings.max_retries,
            request_timeout_s=settings.request_timeout_s,
        )
        hooks = Hooks(config, ledger, self.health)
        sender = Sender(
            self.requester, ledger, self.health, dry_run=bool(config.dry_run), hooks=hooks
        )
        journal = None
        if config.spool_dir and isinstance(config.spool_dir, str):
            from ._journal import Journal  # noqa: PLC0415  # only with a spool

            max_bytes = config.spool_max_bytes
            if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 65536:
                max_bytes = 64 * 1024 * 1024  # validate() warned about it
            journal = Journal(ledger, config.spool_dir, max_bytes, settings.max_queue)
        self.background: Background = Background(
            ledger,
            sender,
            self.requester,
            batch_size=settings.batch_size,
            interval_s=settings.interval_s,
            request_timeout_s=settings.request_timeout_s,
            max_retries=settings.max_retries,
            shutdown_s=settings.shutdown_s,
            clock=clock,
            journal=journal,
        )
        self.supervisor: Supervisor = Supervisor(self.background)

    def stats(self) -> ClientStats:
        """A snapshot of the delivery counters, the spool's included."""
        snapshot = self.ledger.snapshot()
        spooling = self.background.spooling
        counts = None if spooling is None else spooling.counts
        if counts is None:
            return snapshot
        from dataclasses import replace  # noqa: PLC0415

        return replace(
            snapshot,
            spool_bytes=counts.spool_bytes,
            spool_evicted=counts.spool_evicted,
            spool_corrupt=counts.spool_corrupt,
        )

    def persist(self, timeout_s: float | None) -> int:
        """Write every event queued or in flight to the spool, durably; how many (0: no spool)."""
        deadline = Deadline.after(MAX_WAIT_S if timeout_s is None else timeout_s, self._clock)
        spooling = self.background.spooling
        return 0 if spooling is None else spooling.persist(deadline)


class ProcessSlot:
    """Holds a client's :class:`Process`; in a forked child, swaps in a fresh one."""

    __slots__ = ("__weakref__", "_cache", "_clock", "_config", "_settings", "_sleep", "core")

    def __init__(
        self,
        config: TelemetryConfig,
        settings: Settings,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None,
        cache: PredictionCache,
    ) -> None:
        self._config = config
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._cache = cache  # emptied in a child with the rest
        self.core = Process(config, settings, clock, sleep)

    def get(self) -> Process:
        """This process's state; a fresh one after a fork the at-fork hook missed."""
        core = self.core
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
            core = self.core
            if core.pid == pid:  # another thread of this child was first
                return core
            was_running = core.background.started
            spooling = core.background.spooling
            if spooling is not None:  # never write the parent's spool segment
                spooling.after_fork_in_child()
            fresh = Process(self._config, self._settings, self._clock, self._sleep)
            if self.core.pid == pid:  # a signal handler's track() on this thread was first
                return self.core
            self.core = fresh
            self._cache._after_fork()
        finally:
            if locked:
                lock.release()
        if was_running:
            fresh.background.start()
        return fresh
