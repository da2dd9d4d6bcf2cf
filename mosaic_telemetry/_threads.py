"""Thread tools of the background worker: named threads, a wake-up flag, the sender pool."""

from __future__ import annotations

import threading
from collections import deque

from ._log import LazyLogger

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")


__all__ = ["PREFIX", "SenderPool", "Wakeup", "in_thread", "start_thread"]

PREFIX = "mosaic-telemetry"

logger = LazyLogger(__name__)


def start_thread(
    target: Callable[[], object], name: str, *, daemon_only: bool = True
) -> threading.Thread | None:
    """Start ``target`` on a daemon thread named ``mosaic-telemetry-<name>``.

    Where daemon threads are refused (isolated subinterpreters) a non-daemon thread
    is started instead, unless ``daemon_only``; its owner must stop it at exit.
    Returns None when no thread may start at all (interpreter shutdown).
    """
    for daemon in (True, False):
        if not daemon and daemon_only:
            break
        try:
            # 3.14's isolated subinterpreters refuse a daemon thread when it is made,
            # not when it starts; an exiting interpreter refuses any at start().
            thread = threading.Thread(target=target, name=f"{PREFIX}-{name}", daemon=daemon)
            thread.start()
        except RuntimeError:
            continue
        return thread
    return None


class Wakeup:
    """A wake-up flag that is safe to raise from anywhere, even a signal handler.

    ``set()`` is one C-level ``Lock.release()`` (no Python-level lock is taken, so a
    handler that interrupts its own thread inside ``set()`` can't deadlock); one
    thread waits. The lock is held while no wake-up is pending.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        """Wake the waiter (a no-op when a wake-up is already pending)."""
        lock = self._lock
        if lock.locked():  # cheap, and nearly always right; a race ends below
            try:
                lock.release()
            except RuntimeError:  # another thread released it first: a wake-up is pending
                pass

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a wake-up; True if one came (and consume it)."""
        return self._lock.acquire(timeout=timeout_s)

    def clear(self) -> None:
        """Forget a pending wake-up."""
        self._lock.acquire(blocking=False)


class SenderPool:
    """Up to ``size`` sender threads that run the jobs handed to them, oldest first.

    Threads start when work comes and there is no idle one; they wait on a
    condition between jobs. The lock is an RLock so that a signal handler that
    flushes on a thread already inside the pool re-enters instead of deadlocking.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: deque[Callable[[], None]] = deque()
        self._ready = threading.Condition(threading.RLock())
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue ``job``; False when no sender thread can run it (the caller runs it)."""
        with self._ready:
            if self._closed:
                return False
            if self._idle == 0 and len(self._threads) < self._size:
                thread = start_thread(self._run, f"send-{len(self._threads) + 1}")
                if thread is not None:
                    self._threads.append(thread)
            if not self._threads:
                return False
            self._jobs.append(job)
            self._ready.notify()
            return True

    def cancel(self, job: Callable[[], None]) -> bool:
        """Take ``job`` back if no thread has started it; True if it was taken back."""
        with self._ready:
            try:
                self._jobs.remove(job)
            except ValueError:
                return False
            return True

    def close(self) -> None:
        """Let the threads end once the queued jobs are done."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._closed:
                    self._idle += 1
                    try:
                        self._ready.wait()
                    finally:
                        self._idle -= 1
                if not self._jobs:
                    return
                job = self._jobs.popleft()
            try:
                job()
            except Exception:  # a job settles its own events; a bug must not end the thread
                logger.exception("telemetry sender job failed")


async def in_thread(work: Callable[[], T], name: str) -> T:
    """Run blocking ``work`` on a helper thread and await its result without blocking the loop."""
    import asyncio  # noqa: PLC0415  # only for the async API

    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = work()
        except Exception as exc:  # handed to the awaiting coroutine
            _resolve(loop, done, None, exc)
        else:
            _resolve(loop, done, result, None)

    if start_thread(run, name) is None:  # no thread may start: the default executor
        return await loop.run_in_executor(None, work)
    return await done


def _resolve(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[T],
    result: T | None,
    exc: Exception | None,
) -> None:
    def settle() -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # None only with exc

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop closed meanwhile: nobody awaits it any more
        pass
