"""EventBuilder: a chainable way to build a TaskCompletionEvent with sensible defaults."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from ._fields import MISSING
from ._validation import Invalid, to_uuid
from .enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType
from .models import TaskCompletionEvent

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any


__all__ = ["EventBuilder"]

# The defaults of the SDK reference's builder table, from the event's field table
# (gate lists: an empty tuple the event turns into its own list).
_BUILDER_DEFAULTS: dict[str, Any] = {
    spec.name: spec.builder for spec in TaskCompletionEvent._FIELDS if spec.builder is not MISSING
}


class EventBuilder:
    """Build :class:`TaskCompletionEvent` objects step by step; every setter returns ``self``.

    The builder is reusable: each :meth:`build` gets a fresh ``event_id`` and
    ``timestamp`` unless they were set explicitly.
    """

    __slots__ = ("_values",)

    def __init__(self, instance_id: str | UUID) -> None:
        try:  # parsed once here, so every build() takes the event's fast path
            parsed_id: str | UUID = to_uuid(instance_id)
        except Invalid:
            parsed_id = instance_id  # build() reports it with every other problem
        self._values: dict[str, Any] = {**_BUILDER_DEFAULTS, "instance_id": parsed_id}

    def _set(self, name: str, value: Any) -> EventBuilder:
        self._values[name] = value
        return self

    def event_id(self, value: str | UUID) -> EventBuilder:
        """Set ``event_id`` (default: a new UUIDv4 per build)."""
        return self._set("event_id", value)

    def timestamp(self, value: datetime | str) -> EventBuilder:
        """Set ``timestamp`` (default: now, in UTC, per build)."""
        return self._set("timestamp", value)

    def task_type(self, value: TaskType | str) -> EventBuilder:
        """Set ``task_type`` (default ``TaskType.UNKNOWN``)."""
        return self._set("task_type", value)

    def complexity_level(self, value: Complexity | str) -> EventBuilder:
        """Set ``complexity`` (default ``Complexity.MEDIUM``)."""
        return self._set("complexity", value)

    def harness_type(self, value: Harness | str) -> EventBuilder:
        """Set ``harness`` (default ``Harness.UNKNOWN``)."""
        return self._set("harness", value)

    def model(self, value: str) -> EventBuilder:
        """Set ``model`` (default ``"unknown"``)."""
        return self._set("model", value)

    def provider(self, value: Provider | str) -> EventBuilder:
        """Set ``provider`` (default ``Provider.UNKNOWN``)."""
        return self._set("provider", value)

    def duration_ms(self, value: int) -> EventBuilder:
        """Set ``task_duration_ms`` (default ``0``)."""
        return self._set("task_duration_ms", value)

    def outcome_value(self, value: Outcome | str) -> EventBuilder:
        """Set ``outcome`` (default ``Outcome.FAILURE``)."""
        return self._set("outcome", value)

    def retry_count(self, value: int) -> EventBuilder:
        """Set ``retry_count`` (default ``0``)."""
        return self._set("retry_count", value)

    def language(self, value: str | None) -> EventBuilder:
        """Set ``language`` (default ``None``)."""
        return self._set("language", value)

    def repo_size(self, value: RepoSizeCategory | str | None) -> EventBuilder:
        """Set ``repo_size_category`` (default ``None``)."""
        return self._set("repo_size_category", value)

    def tokens(
        self,
        *,
        estimated_in: int = 0,
        estimated_out: int = 0,
        actual_in: int = 0,
        actual_out: int = 0,
    ) -> EventBuilder:
        """Set the four token counts (estimated and actual, input and output)."""
        values = self._values
        values["estimated_input_tokens"] = estimated_in
        values["estimated_output_tokens"] = estimated_out
        values["actual_input_tokens"] = actual_in
        values["actual_output_tokens"] = actual_out
        return self

    def cost(self, *, estimated: int = 0, actual: int = 0) -> EventBuilder:
        """Set the estimated and actual cost, in microdollars."""
        self._values["estimated_cost_usd_micros"] = estimated
        self._values["actual_cost_usd_micros"] = actual
        return self

    def quality(
        self,
        *,
        passed: bool,
        gates_run: Iterable[QualityGate | str] | None = None,
        gates_failed: Iterable[QualityGate | str] | None = None,
    ) -> EventBuilder:
        """Set whether all quality gates passed, and which gates ran and failed."""
        values = self._values
        values["quality_gate_passed"] = passed
        values["quality_gates_run"] = _gates(gates_run)
        values["quality_gates_failed"] = _gates(gates_failed)
        return self

    def context(
        self, *, compactions: int = 0, rotations: int = 0, utilization: float = 0.0
    ) -> EventBuilder:
        """Set the context-window metrics: compactions, rotations, final utilization."""
        values = self._values
        values["context_compactions"] = compactions
        values["context_rotations"] = rotations
        values["context_utilization_final"] = utilization
        return self

    def build(self) -> TaskCompletionEvent:
        """Return a validated event; the builder stays reusable.

        Raises:
            ValidationError: a value set on the builder breaks a rule of the event.
        """
        # The event copies the gate lists, so events built here never share them.
        return TaskCompletionEvent(**self._values)

    def __repr__(self) -> str:
        return f"EventBuilder(instance_id={str(self._values['instance_id'])!r})"


def _gates(gates: Iterable[QualityGate | str] | None) -> Any:
    """A list of ``gates``; a value that is no iterable is kept for build() to report."""
    if gates is None:
        return []
    try:
        return list(gates)
    except Exception:  # a setter never raises: build() names the field and the rule
        return gates
