"""Events for ``send``: a JSON object, a JSON array or JSON lines, each validated."""

from __future__ import annotations

import json
from typing import Any

from ..errors import ValidationError
from ..models import TaskCompletionEvent

__all__ = ["parse_events"]


def parse_events(label: str, text: str) -> tuple[list[TaskCompletionEvent], list[str]]:
    """Read a JSON object, a JSON array or JSON lines; return the events and the problems.

    A problem names where it is (``line N`` of JSON lines, ``index N`` of an array)
    and the validator's message; problems come in input order.
    """
    items: list[tuple[str, Any]] = []
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                items.append((f"{label} line {number}", _json_or_error(line)))
    else:
        if isinstance(document, dict):
            items.append((label, document))
        elif isinstance(document, list):
            items.extend((f"{label} index {i}", item) for i, item in enumerate(document))
        else:
            items.append((label, _NotJson("must hold a JSON object, an array or JSON lines")))
    events: list[TaskCompletionEvent] = []
    problems: list[str] = []
    for where, item in items:
        if isinstance(item, _NotJson):
            problems.append(f"{where}: {item.reason}")
            continue
        try:
            events.append(TaskCompletionEvent.from_dict(item))
        except ValidationError as exc:
            problems.append(f"{where}: {exc}")
    return events, problems


class _NotJson:
    """Stands for an input line that could not be used, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _json_or_error(line: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        return _NotJson(f"not valid JSON ({reason})")
