"""Task -> TaskCompletionEvent: deterministic ids, prices, provider, schema caps (clamped)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from ..enums import Complexity, Outcome, TaskType
from ..models import (
    MAX_COMPACTIONS,
    MAX_COST_MICROS,
    MAX_DURATION_MS,
    MAX_MODEL_LEN,
    MAX_RETRIES,
    MAX_TOKENS,
    TaskCompletionEvent,
)
from ._pricing import PriceTable, provider_of
from ._task import Notes, Task

__all__ = ["EVENT_NAMESPACE", "EventFactory", "event_id"]

EVENT_NAMESPACE = uuid.UUID("6c1d3f0e-2b7a-5c4e-9f10-8a2d4b6e0c31")
"""The UUIDv5 namespace of adapter event ids (a constant: never change it)."""

UNKNOWN_MODEL = "unknown"


def event_id(family: str, session: str, key: str) -> uuid.UUID:
    """The event id of a task: UUIDv5 over harness family, session and task key."""
    return uuid.uuid5(EVENT_NAMESPACE, "\x1f".join((family, session, key)))


class EventFactory:
    """Builds events from tasks with one instance id, one price table and one Notes.

    Costs: the harness's own figure when it gives one, else the price table per
    model; a model with no price costs 0 and is warned about (never guessed). A value
    above a schema cap is clamped to the cap and warned about, naming the field.
    """

    def __init__(
        self,
        instance_id: uuid.UUID,
        prices: PriceTable,
        notes: Notes,
        *,
        task_type: TaskType = TaskType.UNKNOWN,
        complexity: Complexity = Complexity.MEDIUM,
        default_time: datetime | None = None,
    ) -> None:
        self._instance_id = instance_id
        self._prices = prices
        self._notes = notes
        self._task_type = task_type
        self._complexity = complexity
        self._default_time = default_time

    def build(self, task: Task) -> TaskCompletionEvent:
        """The event of ``task`` (always valid: out-of-range values are clamped)."""
        model = task.main_model() or UNKNOWN_MODEL
        price = self._prices.lookup(model)
        cost = self._cost(task)
        tokens_in = sum(t.input for t in task.tokens.values())
        tokens_out = sum(t.output for t in task.tokens.values())
        window = task.context_window or (price.context_window if price is not None else None)
        utilization = 0.0
        if task.context_tokens and window:
            utilization = min(1.0, task.context_tokens / window)
        if len(model) > MAX_MODEL_LEN:
            self._notes.warn(f"model: a name longer than {MAX_MODEL_LEN} characters was cut")
            model = model[:MAX_MODEL_LEN]
        when = task.ended_at or self._default_time or datetime.now(timezone.utc)
        return TaskCompletionEvent(
            instance_id=self._instance_id,
            event_id=event_id(task.family, task.session, task.key),
            timestamp=when.astimezone(timezone.utc),
            task_duration_ms=self._cap("task_duration_ms", task.duration_ms, MAX_DURATION_MS),
            task_type=self._task_type,
            complexity=self._complexity,
            harness=task.harness,
            model=model,
            provider=provider_of(model, price),
            estimated_input_tokens=0,
            estimated_output_tokens=0,
            actual_input_tokens=self._cap("actual_input_tokens", tokens_in, MAX_TOKENS),
            actual_output_tokens=self._cap("actual_output_tokens", tokens_out, MAX_TOKENS),
            estimated_cost_usd_micros=0,
            actual_cost_usd_micros=self._cap("actual_cost_usd_micros", cost, MAX_COST_MICROS),
            quality_gate_passed=False,
            quality_gates_run=[],
            quality_gates_failed=[],
            context_compactions=self._cap("context_compactions", task.compactions, MAX_COMPACTIONS),
            context_rotations=0,
            context_utilization_final=float(utilization),
            outcome=task.outcome if isinstance(task.outcome, Outcome) else Outcome.SUCCESS,
            retry_count=self._cap("retry_count", task.retries, MAX_RETRIES),
            language=None,
            repo_size_category=None,
        )

    def _cost(self, task: Task) -> int:
        reported = task.reported_cost_usd
        if reported is not None:
            return round(reported * 1_000_000)
        micros = 0.0
        for name, tokens in task.tokens.items():
            if tokens.input + tokens.output == 0:
                continue
            price = self._prices.lookup(name) if name else None
            if price is None:
                shown = name[:MAX_MODEL_LEN] if name else UNKNOWN_MODEL
                self._notes.warn(f"no price for model {shown!r}: its tokens cost 0")
                continue
            micros += price.cost_micros(tokens)
        return round(micros)

    def _cap(self, field: str, value: int, cap: int) -> int:
        if value > cap:
            self._notes.warn(f"{field}: a task over the schema cap of {cap:,} was clamped to it")
            return cap
        return max(0, value)
