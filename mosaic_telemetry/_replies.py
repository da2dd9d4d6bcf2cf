"""Reading what came back (rejected events of a 2xx) and naming what can't go out."""

from __future__ import annotations

from ._validation import UUID_TEXT, to_uuid
from .errors import ValidationError
from .models import BatchEventResponse

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from uuid import UUID

    from ._http import HttpResult


__all__ = ["rejections", "unwritable_field"]


def rejections(result: HttpResult) -> list[tuple[UUID, str | None]]:
    """The rejected events of a 2xx answer, as ``(event_id, error)``.

    The usual answer (every event accepted) is checked field by field as the models
    would, in one ``json.loads`` and a loop instead of a model per result; anything
    unusual goes through :class:`BatchEventResponse`, which names what is wrong.

    Raises:
        ValidationError: the body is not a BatchEventResponse (or passed the size cap).
    """
    if result.truncated:
        raise ValidationError(
            "BatchEventResponse",
            [{"field": "__root__", "message": "must be at most 1 MiB", "value": None}],
        )
    import json  # noqa: PLC0415  # loaded on the first send

    body = result.body
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if type(data) is dict:
        items = data.get("results", [])
        accepted, rejected = data.get("accepted"), data.get("rejected")
        if type(items) is list and type(accepted) is int and type(rejected) is int:
            found: list[tuple[UUID, str | None]] = []
            for item in items:
                if type(item) is not dict:
                    break
                event_id, status, error = (
                    item.get("event_id"),
                    item.get("status"),
                    item.get("error"),
                )
                if (
                    type(event_id) is not str
                    or not UUID_TEXT.match(event_id)
                    or status not in ("accepted", "rejected")
                    or not (error is None or type(error) is str)
                ):
                    break
                if status == "rejected":
                    found.append((to_uuid(event_id), error))
            else:
                if accepted >= 0 and rejected >= 0:
                    return found
    response = BatchEventResponse.from_json(body)
    return [(r.event_id, r.error) for r in response.results if r.status == "rejected"]


def unwritable_field(event: object, exc: BaseException) -> str:
    """Which field of ``event`` keeps it from being written, in words (for one log line)."""
    if isinstance(exc, ValidationError):
        return str(exc)[:200]
    import json  # noqa: PLC0415

    try:
        data = event.to_dict()  # type: ignore[attr-defined]  # an event, or what it became
    except Exception as failure:
        return f"{type(failure).__name__}: {str(failure)[:160]}"
    for name, value in data.items():
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except Exception as failure:
            return f"{name}: {type(failure).__name__}: {str(failure)[:160]}"
    return f"{type(exc).__name__}: {str(exc)[:160]}"
