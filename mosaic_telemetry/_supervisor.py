"""Supervisor: owns the asyncio task that watches the worker thread (start_async/stop_async)."""

from __future__ import annotations

from ._threads import in_thread, start_thread

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import asyncio

    from ._deadline import Deadline
    from ._worker import Background


__all__ = ["Supervisor"]


class Supervisor:
    """The async side of one process's background: a task in the loop that started it."""

    __slots__ = ("_background", "_task")

    def __init__(self, background: Background) -> None:
        self._background = background
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the worker and a task in the running loop that supervises it."""
        import asyncio  # noqa: PLC0415  # only for the async API

        background = self._background
        loop = asyncio.get_running_loop()
        if background.running or not background.start():
            return
        thread = background.worker_thread
        ended: asyncio.Future[None] = loop.create_future()

        def watch() -> None:  # on a helper thread: tell the task when the worker ends
            if thread is not None:
                thread.join()
            try:
                loop.call_soon_threadsafe(_resolve, ended)
            except RuntimeError:  # the loop is closed
                pass

        start_thread(watch, "watch")
        supervise = self._supervise(ended, background.run_id)
        self._task = loop.create_task(supervise, name="mosaic-telemetry-submitter")

    async def _supervise(self, ended: asyncio.Future[None], run_id: int) -> None:
        import asyncio  # noqa: PLC0415

        try:
            await ended
        except asyncio.CancelledError:  # the loop is going away without stop_async()
            self._background.halt_unless_busy(run_id)
            raise

    async def stop(self, deadline: Deadline) -> None:
        """Like ``Background.stop``, awaited from any loop or thread without blocking it."""
        import asyncio  # noqa: PLC0415

        task, self._task = self._task, None
        background = self._background
        await in_thread(lambda: background.stop(deadline), "stop")
        if task is not None and not task.done():
            try:
                if task.get_loop() is asyncio.get_running_loop():
                    task.cancel()
                else:
                    task.get_loop().call_soon_threadsafe(task.cancel)
            except RuntimeError:  # its loop is closed: nothing left to cancel
                pass


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
