"""The host's hooks on the sending side: ``before_send`` (event by event) and the dry run's view.

Both run where batches are sent (the worker or a sender thread, or the thread
calling ``flush()``/``stop()`` when no worker runs), never inside ``track()``.
Whatever ``before_send`` does wrong (raise, return something that is not an
event, an invalid event, or one with another ``event_id``) costs that event
alone: it is dropped and counted in ``dropped_before_send`` and
``before_send_errors``. Each kind of failure is logged at WARNING once per
client (then at DEBUG), and kept as ``stats.last_error``.
"""

from __future__ import annotations

from ._http import clean_text
from ._log import DEBUG, LazyLogger
from .models import TaskCompletionEvent

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from ._deadline import Deadline
    from ._health import Health
    from ._ledger import Ledger, Ticket
    from .config import TelemetryConfig


__all__ = ["Hooks"]

logger = LazyLogger(__name__.rpartition(".")[0] + ".delivery")

_MAX_KINDS = 256
_DROPPED = "event {event_id} dropped (stats.dropped_before_send, stats.before_send_errors)"


class Hooks:
    """Runs one client's ``before_send`` and ``dry_run_callback``, containing what they do."""

    __slots__ = ("_dry_run_callback", "_health", "_ledger", "_warned", "before_send")

    def __init__(self, config: TelemetryConfig, ledger: Ledger, health: Health) -> None:
        before: object = getattr(config, "before_send", None)
        callback: object = getattr(config, "dry_run_callback", None)
        # validate() warned about a hook that is not callable: it is left out.
        self.before_send: Callable[[TaskCompletionEvent], object] | None = (
            before if callable(before) else None
        )
        self._dry_run_callback: Callable[[list[TaskCompletionEvent]], object] | None = (
            callback if callable(callback) else None
        )
        self._ledger = ledger
        self._health = health
        self._warned: set[str] = set()

    def apply(
        self,
        ticket: Ticket,
        indices: list[int],
        deadline: Deadline,
        interrupt: threading.Event | None,
    ) -> tuple[dict[int, TaskCompletionEvent], list[int]]:
        """``before_send`` on each event of ``indices``; the events it drops are settled.

        Returns the events to send (by index) and, when the deadline passed or a
        stop began before every event was seen, every unsettled index instead
        (those go back to the queue; the hook sees the original events again).
        """
        events = ticket.events
        hook = self.before_send
        if hook is None:
            return {index: events[index] for index in indices}, []
        kept: dict[int, TaskCompletionEvent] = {}
        dropped: list[int] = []
        failed: list[int] = []
        for position, index in enumerate(indices):
            if deadline.expired() or (interrupt is not None and interrupt.is_set()):
                self._settle(ticket, dropped, failed)
                self._warn(
                    "late",
                    f"telemetry before_send took until the send's deadline: "
                    f"{len(indices) - position} event(s) were not seen and go back to the queue",
                )
                return {}, [*kept, *indices[position:]]
            result, ok = self._call(hook, events[index])
            if result is not None:
                kept[index] = result
            else:
                (dropped if ok else failed).append(index)
        self._settle(ticket, dropped, failed)
        return kept, []

    def _call(
        self, hook: Callable[[TaskCompletionEvent], object], event: TaskCompletionEvent
    ) -> tuple[TaskCompletionEvent | None, bool]:
        """The hook's event or None, and False when the hook failed (logged already)."""
        event_id = _event_id(event)
        try:
            result = hook(event)
        except Exception as exc:
            detail = f"raised {type(exc).__name__}: {exc}"
            kind = f"raised {type(exc).__name__}"
            self._failed(kind, detail, event_id, exc_info=self._keyless(detail))
            return None, False
        if result is None:
            return None, True
        if not isinstance(result, TaskCompletionEvent):
            kind = f"returned {type(result).__name__}"
            self._failed(kind, f"{kind}, not a TaskCompletionEvent or None", event_id)
            return None, False
        try:
            same_id = result.event_id == event.event_id
        except Exception:  # an event_id replaced by an object with a hostile __eq__
            same_id = False
        if not same_id:
            self._failed(
                "changed event_id",
                f"changed the event_id to {_event_id(result)} (keep it: the server stores "
                "each event_id once, and an event sent again must carry the same one)",
                event_id,
            )
            return None, False
        return result, True

    def returned_invalid(self, ticket: Ticket, index: int, problem: str) -> None:
        """The event ``before_send`` returned for ``index`` can't be sent: drop it."""
        event_id = _event_id(ticket.events[index])
        self._failed("returned an invalid event", f"returned an invalid event: {problem}", event_id)
        self._settle(ticket, [], [index])

    def _failed(self, kind: str, text: str, event_id: str, *, exc_info: bool = False) -> None:
        message = self._health.clean(
            f"telemetry before_send {text}; {_DROPPED.format(event_id=event_id)}", limit=500
        )
        self._ledger.error(message)
        self._warn(kind, message, exc_info=exc_info)

    def _settle(self, ticket: Ticket, dropped: list[int], failed: list[int]) -> None:
        if dropped:
            self._ledger.settle(ticket, dropped, dropped_before_send=len(dropped))
        if failed:
            self._ledger.settle(
                ticket, failed, dropped_before_send=len(failed), before_send_errors=len(failed)
            )

    def dry_run(self, events: list[TaskCompletionEvent], encoded: list[bytes]) -> None:
        """A dry-run batch: each event at DEBUG, then the batch to ``dry_run_callback``."""
        if logger.enabled_for(DEBUG):
            total = len(encoded)
            for number, body in enumerate(encoded, 1):
                text = body.decode("utf-8", "replace")
                logger.debug("dry run event %d/%d: %s", number, total, text)
        callback = self._dry_run_callback
        if callback is None:
            return
        try:
            callback(list(events))
        except Exception as exc:  # the host's callback: logged, and the batch still counts
            detail = f"raised {type(exc).__name__}: {exc}"
            message = self._health.clean(
                f"telemetry dry_run_callback {detail}; the batch still counts as sent", limit=500
            )
            kind = f"callback raised {type(exc).__name__}"
            self._warn(kind, message, exc_info=self._keyless(detail))

    def _keyless(self, text: str) -> bool:
        """Whether ``text`` (an exception's words) is free of the API key: then its
        traceback may be logged too."""
        whole = len(text) + 1
        return self._health.clean(text, limit=whole) == clean_text(text, limit=whole)

    def _warn(self, kind: str, message: str, *, exc_info: bool = False) -> None:
        """WARNING the first time for ``kind``, DEBUG after that."""
        warned = self._warned
        if kind in warned:
            logger.debug("%s", message)
            return
        if len(warned) < _MAX_KINDS:
            warned.add(kind)
        logger.warning("%s", message, exc_info=exc_info)


def _event_id(event: object) -> str:
    try:
        return str(getattr(event, "event_id", "?"))[:40]
    except Exception:  # a hostile __str__
        return "?"
