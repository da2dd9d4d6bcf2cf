"""Claude Code headless results: ``claude -p --output-format json`` (an object, or with
``--verbose`` an array of messages), the final ``result`` line of ``stream-json``, and the
Agent SDK's ``ResultMessage`` as a dict. One Task per result.

Tokens come from ``modelUsage`` (every model of the run) or else ``usage``; the cost is
``total_cost_usd``; the outcome follows ``subtype``/``is_error``; the model is the
``modelUsage`` entry that cost most. Context use is estimated as the mean prompt per
turn, ``(input + cache read + cache write + output) / num_turns``, over
``contextWindow``: the result gives totals, not the last request.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from typing import IO, Any

from ..enums import Harness, Outcome
from ._lines import LineReader, count, decode, ident, mapping
from ._parser import LineParser
from ._task import Task, Tokens

__all__ = ["ClaudeResultParser", "read_results"]

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
_OUTCOMES = {
    "success": Outcome.SUCCESS,
    "error_max_turns": Outcome.TIMEOUT,
    "error_max_budget_usd": Outcome.TIMEOUT,
    "error_during_execution": Outcome.FAILURE,
}
_MAX_COST_USD = 1e9


class ClaudeResultParser(LineParser):
    """One Task per result message (other stream-json messages are passed over)."""

    family = "claude-code"
    harness = Harness.CLAUDE_CODE

    _init_models: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._init_models = {}
        super().__init__(*args, **kwargs)

    def feed(self, record: dict[str, Any], offset: int) -> list[Task]:
        kind = record.get("type")
        if kind == "system" and record.get("subtype") == "init":
            session, model = ident(record, "session_id"), ident(record, "model")
            if session and model and len(self._init_models) < 1000:
                self._init_models[session] = model  # the model of a result without modelUsage
        if kind is None and "subtype" in record and ("usage" in record or "modelUsage" in record):
            kind = "result"  # the Agent SDK's ResultMessage has no type field
        if kind != "result":
            if isinstance(kind, str):
                self.notes.records += 1
            return []
        self.notes.records += 1
        return [self._task(record)]

    def _task(self, record: dict[str, Any]) -> Task:
        self.session = ident(record, "session_id") or self.session
        task = self.task(ident(record, "uuid") or _fingerprint(record))
        costs: dict[str, float] = {}
        for model, usage in mapping(record, "modelUsage").items():
            if not isinstance(usage, dict) or not isinstance(model, str) or not model:
                continue
            task.add_tokens(
                model[:200],
                Tokens(
                    fresh=count(usage, "inputTokens"),
                    cache_read=count(usage, "cacheReadInputTokens"),
                    cache_write=count(usage, "cacheCreationInputTokens"),
                    output=count(usage, "outputTokens"),
                ),
            )
            costs[model[:200]] = _usd(usage.get("costUSD")) or 0.0
        if not task.tokens:
            usage = mapping(record, "usage")
            task.add_tokens(
                self._init_models.get(self.session) or self.model_hint or "",
                Tokens(
                    fresh=count(usage, "input_tokens"),
                    cache_read=count(usage, "cache_read_input_tokens"),
                    cache_write=count(usage, "cache_creation_input_tokens"),
                    output=count(usage, "output_tokens"),
                ),
            )
        if costs:
            task.model = max(costs, key=lambda m: (costs[m], task.tokens[m].input))
        total = _usd(record.get("total_cost_usd"))
        task.reported_cost_usd = total if total is not None else (sum(costs.values()) or None)
        task.duration_ms = count(record, "duration_ms")
        task.outcome = _outcome(record)
        main = task.main_model()
        window = count(mapping(mapping(record, "modelUsage"), main), "contextWindow")
        if window and main in task.tokens:
            turns = count(record, "num_turns") or 1
            tokens = task.tokens[main]
            task.context_tokens = (tokens.input + tokens.output) // turns
            task.context_window = window
        return task

    def end(self, *, close: bool, turn_id: str | None = None) -> list[Task]:
        return []

    def state(self) -> dict[str, Any]:
        return {"session": self.session}

    def restore(self, state: dict[str, Any]) -> None:
        self.session = ident(state, "session") or self.session


def read_results(parser: ClaudeResultParser, stream: IO[bytes]) -> Iterator[Task]:
    """Tasks of a result object, an array of messages, or JSON lines (streamed)."""
    notes = parser.notes
    reader = LineReader(stream, take_unterminated=True)
    first = True
    for offset, _end, line in reader.lines():
        if not line.strip():
            continue
        notes.lines += 1
        record = decode(line)
        if record is None and first:  # a pretty-printed object, or an array
            rest = stream.read(MAX_DOCUMENT_BYTES + 1)
            yield from _document(parser, line + b"\n" + rest)
            return
        first = False
        if record is None:
            notes.warn("a line that is not a JSON object was skipped")
            continue
        yield from parser.feed(record, offset)


def _document(parser: ClaudeResultParser, data: bytes) -> Iterator[Task]:
    notes = parser.notes
    if len(data) > MAX_DOCUMENT_BYTES:
        notes.warn("a JSON document over 64 MiB was not read")
        return
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        notes.warn("the input is neither a JSON document nor JSON lines")
        return
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield from parser.feed(item, index)


def _outcome(record: dict[str, Any]) -> Outcome:
    subtype = record.get("subtype")
    outcome = _OUTCOMES.get(subtype) if isinstance(subtype, str) else None
    if outcome is None:
        outcome = (
            Outcome.FAILURE
            if isinstance(subtype, str) and subtype.startswith("error")
            else (Outcome.SUCCESS)
        )
    if record.get("is_error") is True and outcome is Outcome.SUCCESS:
        return Outcome.FAILURE
    return outcome


def _usd(value: Any) -> float | None:
    if type(value) in (int, float) and math.isfinite(value) and 0 <= value <= _MAX_COST_USD:
        return float(value)
    return None


def _fingerprint(record: dict[str, Any]) -> str:
    """A key for a result without ``uuid``: a hash of its usage figures (never its text)."""
    usage = mapping(record, "usage")
    figures = [
        count(record, "duration_ms"),
        count(record, "duration_api_ms"),
        count(record, "num_turns"),
        repr(_usd(record.get("total_cost_usd"))),
        *(count(usage, f) for f in ("input_tokens", "output_tokens")),
        *(count(usage, f) for f in ("cache_read_input_tokens", "cache_creation_input_tokens")),
    ]
    return "sha256:" + hashlib.sha256(repr(figures).encode()).hexdigest()[:32]
