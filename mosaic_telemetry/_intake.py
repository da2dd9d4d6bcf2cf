"""What ``track()`` makes of an ``EventBuilder``: its event, or None and one WARNING per mistake.

The builder is built inside ``track()``'s never-raise boundary, on the caller's
thread. A builder that can't build (no ``instance_id`` configured, a value out of
range) is counted by the caller in ``dropped_invalid``; each kind of mistake
(the failing fields and rules, whatever the values) is logged at WARNING once
per client, with the field, the value and the rule, then at DEBUG.
"""

from __future__ import annotations

from ._log import LazyLogger
from .errors import ValidationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from .builder import EventBuilder
    from .models import TaskCompletionEvent


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
