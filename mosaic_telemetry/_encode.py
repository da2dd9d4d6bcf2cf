"""The request bodies of event batches: each event encoded alone, then joined.

The usual event (exact types, UTC timestamp) is written by its generated JSON writer,
which emits the fixed schema's text directly and escapes strings with the standard
library's C encoder; its bytes parse to the same JSON as ``json.dumps(to_dict())``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .models import TaskCompletionEvent


__all__ = ["batch_body", "encode_event"]


def encode_event(event: TaskCompletionEvent) -> bytes:
    """The compact UTF-8 JSON of one event, as it goes in ``{"events": [...]}``.

    Raises:
        ValidationError: a field no longer passes its rule (the event was changed
            after it was built); the message names it. The caller drops that event
            alone and keeps the others.
        AttributeError: ``event`` is not a TaskCompletionEvent.
    """
    encoded = event._encoded()  # exact types, in range, UTC: the generated writer's case
    if encoded is not None:
        return encoded
    # Mutated since it was built, or a timestamp with an offset: the rules check every
    # field (raising ValidationError naming the bad one), then the general writer runs.
    event._validate()
    import json  # noqa: PLC0415  # loaded on first use: import stays cheap

    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def batch_body(encoded_events: Sequence[bytes]) -> bytes:
    """The body of ``POST /v1/events/batch`` from events :func:`encode_event` wrote."""
    return b'{"events":[' + b",".join(encoded_events) + b"]}"
