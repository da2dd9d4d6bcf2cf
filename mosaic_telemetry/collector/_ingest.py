"""One batch of wire events judged one by one, the good ones stored, the answer as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from ..errors import ValidationError
from ..models import TaskCompletionEvent
from ._schema import EVENT_ID_AT, Row, event_row, wire_row
from .store import EventStore

__all__ = ["MAX_ERROR_CHARS", "NIL_EVENT_ID", "batch_response_json", "store_batch"]

MAX_ERROR_CHARS = 1000
"""A rejection's reason is cut to this length."""

NIL_EVENT_ID = UUID(int=0)
"""``event_id`` reported for a rejected event whose own ``event_id`` is unreadable."""

_ACCEPTED_HEAD = '{"event_id":"'
_ACCEPTED_TAIL = '","status":"accepted","error":null}'
_BETWEEN = _ACCEPTED_TAIL + "," + _ACCEPTED_HEAD


def _event_id_text(item: object) -> str:
    if isinstance(item, Mapping):
        raw = item.get("event_id")
        if isinstance(raw, str):
            try:
                return str(UUID(raw))
            except ValueError:
                pass
    return str(NIL_EVENT_ID)


def store_batch(store: EventStore, items: Sequence[Any], received_at: str) -> tuple[bytes, int]:
    """Judge each wire event alone, store the good ones in one write; the answer and count.

    Returns the UTF-8 JSON of the ``BatchEventResponse`` and how many events were new.
    An event the models refuse, or the store can't take (a timestamp outside years
    1..9999 in UTC, text that is not valid Unicode, a row a constraint refuses), is
    ``rejected`` with the reason.

    Raises:
        StoreError: the write failed (no event of the batch was stored).
    """
    rows: list[Row | None] = [wire_row(item, received_at) for item in items]
    places: list[int] | None = None  # None: rows[i] is the event at i (all passed)
    errors: dict[int, tuple[str, str]] = {}
    if None in rows:
        kept: list[Row | None] = []
        places = []
        for place, (item, fast) in enumerate(zip(items, rows, strict=True)):
            row = fast
            if row is None:
                try:
                    row = event_row(TaskCompletionEvent.from_dict(item), received_at)
                except ValidationError as exc:
                    errors[place] = (_event_id_text(item), str(exc)[:MAX_ERROR_CHARS])
                    continue
            kept.append(row)
            places.append(place)
        rows = kept
    stored: list[Row] = rows  # type: ignore[assignment]  # every None was replaced or dropped
    written = store.add_rows(stored)
    for index, why in written.refused.items():
        place = index if places is None else places[index]
        errors[place] = (
            str(stored[index][EVENT_ID_AT]),
            f"cannot be stored: {why}"[:MAX_ERROR_CHARS],
        )
    ids = [row[EVENT_ID_AT] for row in stored]
    return batch_response_json(len(items), ids, places, errors), written.added


def batch_response_json(
    total: int,
    stored_ids: list[str],
    places: list[int] | None,
    errors: dict[int, tuple[str, str]],
) -> bytes:
    """The JSON of a ``BatchEventResponse``: ``stored_ids[i]`` is the event at ``places[i]``.

    ``places`` None: the ``i``-th stored id is the event at ``i``. Event ids are
    canonical UUID text (validated), so they need no escaping.
    """
    rejected = len(errors)
    counts = f'"accepted":{total - rejected},"rejected":{rejected}'
    if not errors and places is None:  # every event accepted: one join
        results = _ACCEPTED_HEAD + _BETWEEN.join(stored_ids) + _ACCEPTED_TAIL
        return f'{{{counts},"results":[{results}]}}'.encode("ascii")
    parts = [""] * total
    for place, event_id in zip(range(total) if places is None else places, stored_ids, strict=True):
        parts[place] = _ACCEPTED_HEAD + event_id + _ACCEPTED_TAIL
    for place, (event_id, reason) in errors.items():
        parts[place] = (
            f'{{"event_id":"{event_id}","status":"rejected","error":{json.dumps(reason)}}}'
        )
    return f'{{{counts},"results":[{",".join(parts)}]}}'.encode("ascii")
