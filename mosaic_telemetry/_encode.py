"""The request bodies of event batches: each event encoded alone, then joined."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .models import TaskCompletionEvent


__all__ = ["batch_body", "encode_event"]


def encode_event(event: TaskCompletionEvent) -> bytes:
    """The compact UTF-8 JSON of one event, as it goes in ``{"events": [...]}``.

    Raises:
        Exception: whatever keeps this one event from being written (the caller
            drops that event alone and keeps the others).
    """
    import json  # noqa: PLC0415  # loaded on the first send: import stays cheap

    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def batch_body(encoded_events: Sequence[bytes]) -> bytes:
    """The body of ``POST /v1/events/batch`` from events :func:`encode_event` wrote."""
    return b'{"events":[' + b",".join(encoded_events) + b"]}"
