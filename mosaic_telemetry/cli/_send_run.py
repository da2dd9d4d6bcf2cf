"""The machinery of ``send``: items on time, and delivery within the deadline.

The command's thread reads and checks events and hands them over in whole
batches; one sender thread owns a client that is never started: it tracks each
batch and flushes it, so the bodies are the batches ``--dry-run`` prints, and
every request is bounded by the command's deadline.
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
"""Batches handed over ahead of the sender before the reader waits for it."""
_GIVE_UP = 3
_POLL_S = 0.25


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
    """Hands checked events, batch by batch, to a sender thread that owns the client.

    A file is read no faster than it is sent; stdin is read on even while the
    server fails, so the harness writing it never blocks (batches that find no room
    then are dropped and counted). The sender is a daemon thread and every flush is
    bounded by the command's deadline: nothing outlives the command.
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
        spool_dir = config.spool_dir
        self._spool_dir = spool_dir if isinstance(spool_dir, str) and spool_dir else None
        # One flush with every retry, when no --timeout bounds it.
        self._flush_s = config.request_timeout_seconds * (config.max_retries + 1) + 15.0
        self._from_harness = from_harness
        self.url = config.server_url
        self.dropped = 0
        """Events of stdin dropped because the sender had no room (the server failing)."""
        self._causes = Causes()
        self._logger = logging.getLogger(PACKAGE_LOGGER)
        self._old_level = self._logger.level
        self._logger.addHandler(self._causes)
        if self._logger.getEffectiveLevel() > logging.DEBUG:
            self._logger.setLevel(logging.DEBUG)
        from ..client import TelemetryClient  # noqa: PLC0415  # only when sending

        self._client: TelemetryClient = TelemetryClient(config)
        self._pending: list[TaskCompletionEvent] = []
        self._pending_since = 0.0
        self._handoff: queue.Queue[list[TaskCompletionEvent] | None] = queue.Queue(
            maxsize=HIGH_WATER_BATCHES
        )
        self._closing = False
        self._failing = False
        self._failures = 0
        self._retry_at = 0.0
        self._pause_s = 0.0
        self._sender = threading.Thread(
            target=self._send_loop, name="mosaic-telemetry-send-cli", daemon=True
        )
        self._sender.start()

    # -- the command's thread ------------------------------------------------------------

    def past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    @property
    def gave_up(self) -> bool:
        """Reading a file without --timeout: the server failed too often in a row to wait on."""
        return not self._from_harness and self._deadline is None and self._failures >= _GIVE_UP

    def next_wait_s(self) -> float:
        """How long reading may block before the command's thread must look at the clock."""
        if self._deadline is None:
            return FLUSH_EVERY_S
        return max(0.001, min(FLUSH_EVERY_S, self._deadline - time.monotonic()))

    def track(self, event: TaskCompletionEvent) -> None:
        """Add ``event`` to the batch being filled; hand the batch over once it is full."""
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(event)
        if len(self._pending) >= self._batch_size:
            self._hand_over()

    def tick(self) -> None:
        """A batch that waited a second goes as it is: a slow stream is still sent."""
        if self._pending and time.monotonic() - self._pending_since >= FLUSH_EVERY_S:
            self._hand_over()

    def stats(self) -> ClientStats:
        return self._client.stats

    def spool_left(self) -> tuple[str, int] | None:
        """With a spool: its directory and the unsent events it holds now (None without)."""
        directory = self._spool_dir
        if directory is None:
            return None
        from .._spool_admin import inspect_spool  # noqa: PLC0415  # only with a spool

        try:
            return directory, inspect_spool(directory).unsent
        except Exception:  # the summary says what the client counted instead
            return directory, self._client.stats.spooled

    def _hand_over(self) -> None:
        batch, self._pending = self._pending, []
        while not self.past_deadline() and not self.gave_up:
            if self._failing and self._from_harness:  # never block the harness
                try:
                    self._handoff.put_nowait(batch)
                except queue.Full:
                    self.dropped += len(batch)
                return
            try:
                self._handoff.put(batch, timeout=self._wait_s(_POLL_S))
            except queue.Full:
                continue
            return
        self._pending = batch  # not sent: still counted as undelivered in the end

    def _wait_s(self, at_most: float) -> float:
        return max(0.001, min(at_most, remaining_s(self._deadline, at_most)))

    def finish(self, outcome: Outcome) -> None:
        """Send what is left: once more without a deadline, until it passes with one."""
        if self._pending:
            self._hand_over()
        try:
            self._handoff.put(None, timeout=self._wait_s(self._flush_s))
        except queue.Full:
            pass  # the sender is past the deadline too: what it holds stays undelivered
        self._sender.join(self._wait_s(self._flush_s) + 1.0)
        self.abandon(outcome)

    def abandon(self, outcome: Outcome) -> None:
        """Stop at once; what is still undelivered is counted as such."""
        self._closing = True
        try:
            self._client.stop(timeout=0)
        finally:
            self._logger.removeHandler(self._causes)
            self._logger.setLevel(self._old_level)
        outcome.delivered(self, self._client.stats, self._causes)

    # -- the sender thread -----------------------------------------------------------------

    def _send_loop(self) -> None:
        """Track each batch handed over and send it; at the end (None), send the rest."""
        client = self._client
        while not self._closing:
            if self._holding():  # a file, a failing server: take no more until it recovers
                pause_s = self._retry_at - time.monotonic()
                if pause_s > 0:
                    time.sleep(min(pause_s, _POLL_S))
                else:
                    self._flush()
                continue
            wait_s = max(_POLL_S, self._retry_at - time.monotonic()) if self._failing else None
            try:
                batch = self._handoff.get(timeout=wait_s)
            except queue.Empty:
                batch = []  # a pause ended: try again what is queued
            if batch is None:
                self._send_rest()
                return
            for event in batch:
                client.track(event)
            if self._spool_dir is not None:
                client.persist()  # on disk first: a kill or the --timeout loses nothing
            if client.queue_size and time.monotonic() >= self._retry_at:
                self._flush()

    def _holding(self) -> bool:
        return (
            self._failing
            and not self._from_harness
            and not self.gave_up
            and self._client.queue_size >= self._backlog
        )

    def _send_rest(self) -> None:
        client = self._client
        if self._deadline is None:
            if client.queue_size and not self.gave_up:
                self._flush()
            return
        while client.queue_size and not self.past_deadline() and not self._closing:
            pause_s = self._retry_at - time.monotonic()
            if pause_s > 0:
                time.sleep(min(pause_s, remaining_s(self._deadline, 0.0)))
            elif self._flush():
                return

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
