"""The machinery of ``send``: items on time, and delivery within the deadline.

Every request goes out on the command's own thread through a client that is never
started, so each one is bounded by the command's deadline and nothing is left
running when the command ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator

from ..config import TelemetryConfig
from ..models import TaskCompletionEvent
from ._common import PACKAGE_LOGGER, remaining_s, require_usable
from ._input import Item
from ._send_report import MAX_QUEUED, Causes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .._stats import ClientStats
    from ..client import TelemetryClient
    from ._send_report import Outcome

__all__ = ["FLUSH_EVERY_S", "HIGH_WATER_BATCHES", "Delivery", "timed_items"]

NIL_UUID = "00000000-0000-0000-0000-000000000000"
FLUSH_EVERY_S = 1.0
"""Stdin: what has arrived is sent at least this often, full batch or not."""
_MAX_PAUSE_S = 30.0
HIGH_WATER_BATCHES = 20
"""Batches queued ahead of the sender before the reader waits for it."""
_BACKLOG_POLL_S = 0.01
_GIVE_UP = 3


# -- items, with a tick when none came for a while ---------------------------------------


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def timed_items(items: Iterator[Item], *, tick_s: float | None) -> Iterator[Item | None]:
    """``items``; with ``tick_s``, read on a thread, and ``None`` after ``tick_s`` without one.

    The reading thread is a daemon: a command that ends at its deadline does not
    wait for a harness that stopped writing.
    """
    if tick_s is None:
        yield from items
        return
    handoff: queue.Queue[object] = queue.Queue(maxsize=1000)  # a full queue slows the reader

    def pump() -> None:
        try:
            for item in items:
                handoff.put(item)
        except BaseException as exc:  # handed to the command's thread, which reports it
            handoff.put(_Failed(exc))
            return
        handoff.put(_END)

    threading.Thread(target=pump, name="mosaic-telemetry-send-reader", daemon=True).start()
    while True:
        try:
            got = handoff.get(timeout=tick_s)
        except queue.Empty:
            yield None
            continue
        if got is _END:
            return
        if isinstance(got, _Failed):
            raise got.error
        yield got  # type: ignore[misc]  # the pump puts Items, _Failed or _END only


# -- delivery ----------------------------------------------------------------------------------


class Delivery:
    """A client that is never started, fed as events are read, flushed by one sender thread.

    The sender thread sends while the command's thread reads and checks the next
    events. Every flush is bounded by the command's deadline, so nothing outlives
    it; the thread is a daemon, so nothing holds up the exit either.
    """

    def __init__(
        self, config: TelemetryConfig, deadline: float | None, *, from_harness: bool = False
    ) -> None:
        if not config.instance_id:
            config.instance_id = NIL_UUID  # events carry their own; the config needs one
        require_usable(config)  # exit 2 before a single line is read
        config.max_queue_size = MAX_QUEUED
        self._deadline = deadline
        self._batch_size = int(config.batch_size)
        self._backlog = HIGH_WATER_BATCHES * self._batch_size
        # One flush with every retry, when no --timeout bounds it.
        self._flush_s = config.request_timeout_seconds * (config.max_retries + 1) + 15.0
        self.url = config.server_url
        self._causes = Causes()
        self._logger = logging.getLogger(PACKAGE_LOGGER)
        self._old_level = self._logger.level
        self._logger.addHandler(self._causes)
        if self._logger.getEffectiveLevel() > logging.DEBUG:
            self._logger.setLevel(logging.DEBUG)
        from ..client import TelemetryClient  # noqa: PLC0415  # only when sending

        self._client: TelemetryClient = TelemetryClient(config)
        self._wake = threading.Event()
        self._closing = False
        # Stdin: a harness writes it, and must never block because the server is down,
        # so while flushes fail, reading goes on and up to MAX_QUEUED events wait. A
        # file has no one to block: reading waits for the sender, until the deadline,
        # or (without one) until several flushes in a row have failed.
        self._from_harness = from_harness
        self._failing = False
        self._failures = 0
        self._retry_at = 0.0
        self._pause_s = 0.0
        self._sender = threading.Thread(
            target=self._send_loop, name="mosaic-telemetry-send-cli", daemon=True
        )
        self._sender.start()

    def past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def next_wait_s(self) -> float | None:
        """How long reading may block before the command's thread must look at the clock."""
        if self._deadline is None:
            return FLUSH_EVERY_S
        return max(0.001, min(FLUSH_EVERY_S, self._deadline - time.monotonic()))

    def track(self, event: TaskCompletionEvent) -> None:
        """Queue ``event``; wait while a backlog is sent (for stdin: not while the server fails)."""
        client = self._client
        client.track(event)
        size = client.queue_size
        if size >= self._batch_size:
            self._wake.set()
        if size < self._backlog:
            return
        # Queued and in flight together: a file never has more than twice the backlog
        # waiting, far below MAX_QUEUED, so none of its events is ever dropped.
        while not self.past_deadline() and not self.gave_up:
            if self._failing and self._from_harness:
                return
            stats = client.stats
            if stats.queued + stats.in_flight < self._backlog:
                return
            time.sleep(_BACKLOG_POLL_S)  # the sender is draining it, batch by batch

    @property
    def gave_up(self) -> bool:
        """Reading a file without --timeout: the server failed too often in a row to wait on."""
        return not self._from_harness and self._deadline is None and self._failures >= _GIVE_UP

    def tick(self) -> None:
        """Nothing to do on the command's thread: the sender sends at least every second."""

    def stats(self) -> ClientStats:
        return self._client.stats

    def _send_loop(self) -> None:
        """The sender thread: whatever is queued, every second or as soon as a batch is full."""
        while True:
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()
            if self._closing:  # finish() sends the rest on the command's thread
                return
            if self._client.queue_size and time.monotonic() >= self._retry_at:
                self._flush()

    def _flush(self) -> bool:
        done = self._client.flush(timeout=remaining_s(self._deadline, self._flush_s))
        if done:
            self._failing = False
            self._failures = 0
            self._pause_s = 0.0
        else:  # let the server rest before the next try
            self._failing = True
            self._failures += 1
            self._pause_s = min(_MAX_PAUSE_S, max(FLUSH_EVERY_S, self._pause_s * 2))
            self._retry_at = time.monotonic() + self._pause_s
        return done

    def finish(self, outcome: Outcome) -> None:
        """Send what is left: once more without a deadline, until it passes with one."""
        self._closing = True
        self._wake.set()
        self._sender.join(remaining_s(self._deadline, self._flush_s))
        client = self._client
        if self._deadline is None:
            if client.queue_size:
                client.flush(timeout=self._flush_s)
        else:
            while client.queue_size and not self.past_deadline():
                pause_s = self._retry_at - time.monotonic()
                if pause_s > 0:
                    time.sleep(min(pause_s, remaining_s(self._deadline, 0.0)))
                    continue
                if self._flush():
                    break
        self.abandon(outcome)

    def abandon(self, outcome: Outcome) -> None:
        """Stop at once; what is still undelivered is counted as such."""
        self._closing = True
        self._wake.set()
        try:
            self._client.stop(timeout=0)
        finally:
            self._logger.removeHandler(self._causes)
            self._logger.setLevel(self._old_level)
        outcome.delivered(self._client.stats, self._causes, deadline_passed=self.past_deadline())
