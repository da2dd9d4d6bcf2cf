"""aider ``--analytics-log`` JSON lines: one Task per ``message_send`` (one LLM exchange).

A line is ``{"event", "properties", "user_id", "time"}``. ``message_send`` gives
``main_model``, ``prompt_tokens``, ``completion_tokens`` and ``cost`` (USD, for this
message); ``message_send_exception`` is a FAILURE with no usage. The duration runs
from the preceding ``message_send_starting``. aider logs no cache split:
``prompt_tokens`` are all input tokens.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from ..enums import Harness, Outcome
from ._lines import count, ident, mapping
from ._parser import LineParser
from ._task import Task, Tokens

__all__ = ["AiderAnalyticsParser"]

_MAX_COST_USD = 1e9


class AiderAnalyticsParser(LineParser):
    """One Task per message sent to the model in an aider analytics log."""

    family = "aider"
    harness = Harness.AIDER

    _started: int | None = None
    _model: str = ""
    _second: int = -1
    _in_second = 0

    def feed(self, record: dict[str, Any], offset: int) -> list[Task]:
        event = record.get("event")
        if not isinstance(event, str) or "properties" not in record:
            return []
        self.notes.records += 1
        when = record.get("time")
        second = when if type(when) is int and when > 0 else None
        if event == "message_send_starting":
            self._started = second
            return []
        if event not in ("message_send", "message_send_exception"):
            return []
        self.session = ident(record, "user_id") or self.session
        properties = mapping(record, "properties")
        model = ident(properties, "main_model") or self._model or self.model_hint or ""
        self._model = model
        task = self.task(self._key(second, offset))
        if event == "message_send":
            tokens = Tokens(
                fresh=count(properties, "prompt_tokens"),
                output=count(properties, "completion_tokens"),
            )
            task.add_tokens(model, tokens)
            task.reported_cost_usd = _usd(properties.get("cost"))
        else:
            task.add_tokens(model, Tokens())
            task.outcome = Outcome.FAILURE
        task.model = model or None
        if second is not None:
            task.ended_at = datetime.fromtimestamp(second, timezone.utc)
            if self._started is not None and self._started <= second:
                task.duration_ms = (second - self._started) * 1000
        self._started = None
        return [task]

    def _key(self, second: int | None, offset: int) -> str:
        """``time:n``, n counting exchanges logged in the same second (in file order)."""
        if second is None:
            return f"offset:{offset}"
        if second == self._second:
            self._in_second += 1
        else:
            self._second, self._in_second = second, 0
        return f"{second}:{self._in_second}"

    def end(self, *, close: bool, turn_id: str | None = None) -> list[Task]:
        return []

    def state(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "model": self._model,
            "second": self._second,
            "in_second": self._in_second,
            "started": self._started,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.session = ident(state, "session") or self.session
        self._model = ident(state, "model") or ""
        second = state.get("second")
        self._second = second if type(second) is int else -1
        self._in_second = count(state, "in_second")
        started = state.get("started")
        self._started = started if type(started) is int and started > 0 else None


def _usd(value: Any) -> float | None:
    if type(value) in (int, float) and math.isfinite(value) and 0 <= value <= _MAX_COST_USD:
        return float(value)
    return None
