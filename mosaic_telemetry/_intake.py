"""What ``track()`` makes of what it is given: the event to queue, or None, counted and told.

An ``EventBuilder`` is built inside ``track()``'s never-raise boundary, on the caller's
thread. A builder that can't build (no ``instance_id`` configured, a value out of
range) is counted by the caller in ``dropped_invalid``; each kind of mistake
(the failing fields and rules, whatever the values) is logged at WARNING once
per client, with the field, the value and the rule, then at DEBUG.
"""

from __future__ import annotations

import threading

from ._ledger import FEEDBACK, INVALID
from ._log import LazyLogger, emitting
from .builder import EventBuilder
from .errors import ValidationError
from .models import TaskCompletionEvent

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from ._ledger import Ledger


__all__ = ["Intake"]

logger = LazyLogger(__name__.rpartition(".")[0] + ".client")

_MAX_KINDS = 256
_NOT_SET = {"", None}


class Intake:
    """Builds the builders given to one client's ``track()``; knows the mistakes it told of."""

    __slots__ = ("_told",)

    def __init__(self) -> None:
        # No lock: track() must never wait. Two threads may both tell of a new kind.
        self._told: set[object] = set()

    def admit(self, given: object, ledger: Ledger) -> TaskCompletionEvent | None:
        """The event to queue for ``given``, or None once the drop is counted in ``ledger``."""
        if emitting and threading.get_ident() in emitting:  # a host log handler that
            # turns one of our own records into an event: logging must not feed on itself
            ledger.put_marker(FEEDBACK)
            return None
        if not isinstance(given, TaskCompletionEvent) and isinstance(given, EventBuilder):
            given = self.build(given)  # logs why when it can't
            if given is None:
                ledger.put_marker(INVALID)
                return None
        if not isinstance(given, TaskCompletionEvent):
            ledger.put_marker(INVALID)
            logger.warning(
                "telemetry track() needs a TaskCompletionEvent or an EventBuilder, got %s; dropped",
                type(given).__name__,
            )
            return None
        return given

    def build(self, builder: EventBuilder) -> TaskCompletionEvent | None:
        """``builder.build()``, or None after logging why it failed. Never raises."""
        try:
            return builder.build()
        except ValidationError as exc:
            errors = exc.errors
            kind: object = tuple((e["field"], e["message"]) for e in errors)
            hint = _hint(errors)
            text = f"{exc}{hint}"
        except Exception as exc:  # a value with a hostile __eq__ or __hash__, say
            kind = type(exc).__name__
            text = f"building it raised {type(exc).__name__}: {exc}"
        self._tell(kind, f"telemetry event dropped, not tracked: {text}")
        return None

    def _tell(self, kind: object, message: str) -> None:
        told = self._told
        if kind in told:
            logger.debug("%s", message)
            return
        if len(told) < _MAX_KINDS:
            told.add(kind)
        logger.warning(
            "%s; counted in stats.dropped_invalid, the next ones like it at DEBUG", message
        )


def _hint(errors: list[dict[str, object]]) -> str:
    for error in errors:
        if error["field"] == "instance_id" and _is_unset(error["value"]):
            return (
                " (the client's instance_id is not set: MOSAIC_TELEMETRY_INSTANCE_ID "
                "or TelemetryConfig(instance_id=...))"
            )
    return ""


def _is_unset(value: object) -> bool:
    try:
        return value in _NOT_SET
    except Exception:  # an unhashable value is set
        return False
