"""Codex rollout files (``~/.codex/sessions/.../rollout-*.jsonl``): one Task per turn.

Lines are ``{"timestamp", "type", "payload"}``. A turn runs from ``task_started`` (or
a user message) to ``task_complete`` / ``turn_aborted``. Usage comes from
``event_msg`` ``token_count`` records: each request's ``last_token_usage`` is added
once; a record whose running ``total_token_usage`` did not move is a repeat of the
previous one and is skipped, so the running totals are never counted twice. OpenAI's
``input_tokens`` already include ``cached_input_tokens`` and ``output_tokens`` include
reasoning tokens. Codex is not in the ``Harness`` enum: events say ``custom``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..enums import Harness, Outcome
from ._lines import count, epoch, ident, mapping, real
from ._parser import LineParser
from ._task import Task, Tokens

__all__ = ["CodexRolloutParser", "openai_tokens"]

_USAGE_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")


def openai_tokens(usage: dict[str, Any] | Any) -> Tokens:
    """OpenAI usage as Tokens: cached input is part of ``input_tokens``, so it is split out."""
    if not isinstance(usage, dict):
        return Tokens()
    inp = count(usage, "input_tokens")
    cached = min(count(usage, "cached_input_tokens"), inp)
    return Tokens(fresh=inp - cached, cache_read=cached, output=count(usage, "output_tokens"))


@dataclass(slots=True)
class _Turn:
    key: str
    segment: int = 0
    explicit: bool = False
    first: float | None = None
    last: float | None = None
    tokens: dict[str, list[int]] = field(default_factory=dict)
    context: int = 0
    outcome: str = Outcome.SUCCESS.value
    compactions: int = 0
    retries: int = 0
    duration_ms: int | None = None

    def touch(self, when: float | None) -> None:
        if when is not None:
            self.first = when if self.first is None else self.first
            self.last = when if self.last is None else max(self.last, when)


class CodexRolloutParser(LineParser):
    """One Task per turn of a Codex session rollout file."""

    family = "codex"
    harness = Harness.CUSTOM

    _turn: _Turn | None = None
    _model: str = ""
    _window: int = 0
    _previous_total: list[int] | None = None
    _closed_key: str | None = None
    _closed_segment: int = 0
    _pending_compactions: int = 0

    def feed(self, record: dict[str, Any], offset: int) -> list[Task]:
        kind = record.get("type")
        payload = mapping(record, "payload")
        when = epoch(record.get("timestamp"))
        if kind == "session_meta":
            self.notes.records += 1
            self.session = ident(payload, "id") or self.session
        elif kind == "turn_context":
            self.notes.records += 1
            self._model = ident(payload, "model") or self._model
        elif kind == "compacted":
            self.notes.records += 1
            if self._turn is None:
                self._pending_compactions += 1
            else:
                self._turn.compactions += 1
        elif kind == "event_msg":
            self.notes.records += 1
            return self._event(payload, offset, when)
        elif kind == "response_item":
            self.notes.records += 1
        return []

    def _event(self, payload: Any, offset: int, when: float | None) -> list[Task]:
        kind = payload.get("type")
        turn_id = ident(payload, "turn_id")
        done: list[Task] = []
        if kind == "task_started":
            self._window = count(payload, "model_context_window") or self._window
            if self._turn is not None and (self._turn.tokens or self._turn.explicit):
                done.append(self._close())
            self._open(turn_id or f"offset:{offset}", explicit=True)
        elif kind == "user_message":
            turn = self._turn
            if turn is not None and turn.tokens and not turn.explicit:
                done.append(self._close())
            if self._turn is None:
                self._open(f"offset:{offset}", explicit=False)
        elif kind == "token_count":
            self._usage(mapping(payload, "info"), offset)
        elif kind in ("task_complete", "turn_aborted"):
            turn = self._turn
            if turn is not None and (turn_id is None or turn_id == turn.key or not turn.explicit):
                if kind == "turn_aborted":
                    turn.outcome = Outcome.PARTIAL.value
                turn.duration_ms = count(payload, "duration_ms") or turn.duration_ms
                turn.touch(when)
                return [self._close()]
        elif kind == "error" and self._turn is not None:
            self._turn.outcome = Outcome.FAILURE.value
        elif kind == "stream_error" and self._turn is not None:
            self._turn.retries += 1
        if self._turn is not None:
            self._turn.touch(when)
        return done

    def _open(self, key: str, *, explicit: bool, segment: int = 0) -> _Turn:
        turn = _Turn(key=key, segment=segment, explicit=explicit)
        turn.compactions, self._pending_compactions = self._pending_compactions, 0
        if not segment:
            self._closed_key = None
        self._turn = turn
        return turn

    def _usage(self, info: Any, offset: int) -> None:
        if not info:
            return  # a rate-limit-only update
        total = info.get("total_token_usage")
        total_counts = [count(total, f) for f in _USAGE_FIELDS] if isinstance(total, dict) else None
        if total_counts is not None and total_counts == self._previous_total:
            return  # the same running total again: this request was counted already
        last = info.get("last_token_usage")
        if isinstance(last, dict):
            tokens = openai_tokens(last)
        elif total_counts is not None:  # no per-request figure: the growth of the total
            before = self._previous_total or [0, 0, 0, 0]
            delta = [max(0, a - b) for a, b in zip(total_counts, before, strict=True)]
            tokens = openai_tokens(dict(zip(_USAGE_FIELDS, delta, strict=True)))
        else:
            return
        if total_counts is not None:
            self._previous_total = total_counts
        self._window = count(info, "model_context_window") or self._window
        turn = self._turn
        if turn is None:
            if self._closed_key is not None:
                turn = self._open(self._closed_key, explicit=True, segment=self._closed_segment + 1)
            else:
                turn = self._open(f"offset:{offset}", explicit=False)
        model = ident(info, "model") or self._model or self.model_hint or ""
        bucket = turn.tokens.setdefault(model, [0, 0, 0, 0])
        for index, value in enumerate(tokens.as_list()):
            bucket[index] += value
        turn.context = tokens.input + tokens.output

    def end(self, *, close: bool, turn_id: str | None = None) -> list[Task]:
        turn = self._turn
        if turn is None or not turn.tokens:
            return []
        if close or (turn_id is not None and turn_id == turn.key):
            return [self._close()]
        return []

    def _close(self) -> Task:
        turn, self._turn = self._turn, None
        if turn is None:  # callers check first; an empty task keeps the type honest
            return self.task("")
        task = self.task(turn.key if not turn.segment else f"{turn.key}#{turn.segment}")
        for model, counts in turn.tokens.items():
            task.add_tokens(model, Tokens.from_list(counts))
        if turn.duration_ms is not None:
            task.duration_ms = turn.duration_ms
        elif turn.first is not None and turn.last is not None:
            task.duration_ms = round((turn.last - turn.first) * 1000)
        if turn.last is not None:
            task.ended_at = datetime.fromtimestamp(turn.last, timezone.utc)
        task.outcome = Outcome(turn.outcome)
        task.compactions = turn.compactions
        task.retries = turn.retries
        task.context_tokens = turn.context or None
        task.context_window = self._window or None
        self._closed_key, self._closed_segment = turn.key, turn.segment
        return task

    def state(self) -> dict[str, Any]:
        turn = self._turn
        return {
            "session": self.session,
            "model": self._model,
            "window": self._window,
            "previous_total": self._previous_total,
            "closed_key": self._closed_key,
            "closed_segment": self._closed_segment,
            "pending_compactions": self._pending_compactions,
            "turn": None if turn is None else {
                "key": turn.key, "segment": turn.segment, "explicit": turn.explicit,
                "first": turn.first, "last": turn.last, "tokens": turn.tokens,
                "context": turn.context, "outcome": turn.outcome,
                "compactions": turn.compactions, "retries": turn.retries,
                "duration_ms": turn.duration_ms,
            },
        }  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.session = ident(state, "session") or self.session
        self._model = ident(state, "model") or ""
        self._window = count(state, "window")
        total = state.get("previous_total")
        if isinstance(total, list) and len(total) == 4 and all(type(v) is int for v in total):
            self._previous_total = total
        self._closed_key = ident(state, "closed_key")
        self._closed_segment = count(state, "closed_segment")
        self._pending_compactions = count(state, "pending_compactions")
        data = state.get("turn")
        if isinstance(data, dict) and ident(data, "key"):
            turn = _Turn(key=data["key"], segment=count(data, "segment"))
            turn.explicit = data.get("explicit") is True
            turn.first, turn.last = real(data.get("first")), real(data.get("last"))
            tokens = data.get("tokens")
            if isinstance(tokens, dict):
                turn.tokens = {
                    m: Tokens.from_list(v).as_list()
                    for m, v in tokens.items()
                    if isinstance(m, str)
                }
            turn.context = count(data, "context")
            outcome = data.get("outcome")
            turn.outcome = outcome if outcome in {o.value for o in Outcome} else "success"
            turn.compactions = count(data, "compactions")
            turn.retries = count(data, "retries")
            duration = data.get("duration_ms")
            turn.duration_ms = duration if type(duration) is int and duration >= 0 else None
            self._turn = turn
