"""What a parser reads from a harness's output: one Task per finished task, and Notes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from ..enums import Harness, Outcome

__all__ = ["Notes", "Task", "Tokens"]


@dataclass(slots=True)
class Tokens:
    """Token counts of one model, split the way prices are: every input token is in one bucket.

    ``fresh`` is input billed at the input price (Anthropic's ``input_tokens``; OpenAI's
    ``input_tokens`` minus ``cached_input_tokens``), ``cache_read`` and ``cache_write``
    are billed at the cache prices, and ``output`` includes reasoning tokens.
    """

    fresh: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0

    @property
    def input(self) -> int:
        """All input tokens: fresh + cache read + cache write (what the event reports)."""
        return self.fresh + self.cache_read + self.cache_write

    def add(self, other: Tokens) -> None:
        """Add ``other``'s counts to these."""
        self.fresh += other.fresh
        self.cache_read += other.cache_read
        self.cache_write += other.cache_write
        self.output += other.output

    def as_list(self) -> list[int]:
        """The four counts, for a JSON cursor state."""
        return [self.fresh, self.cache_read, self.cache_write, self.output]

    @classmethod
    def from_list(cls, values: object) -> Tokens:
        """The counts of :meth:`as_list`; anything unusable reads as zeros."""
        if not isinstance(values, list) or len(values) != 4:
            return cls()
        counts = [v if type(v) is int and v >= 0 else 0 for v in values]
        return cls(*counts)


@dataclass(slots=True)
class Task:
    """One finished task as a harness recorded it, before prices and schema caps apply.

    ``family`` and ``session`` and ``key`` identify the task: the event id is derived
    from them, so reading the same output twice gives the same event.
    """

    harness: Harness
    family: str
    session: str
    key: str
    tokens: dict[str, Tokens] = field(default_factory=dict)
    """Tokens per model name (an empty name when the output names no model)."""
    model: str | None = None
    """The task's main model; when None, the model with the most tokens."""
    reported_cost_usd: float | None = None
    """The harness's own cost figure, used instead of the price table when given."""
    ended_at: datetime | None = None
    duration_ms: int = 0
    outcome: Outcome = Outcome.SUCCESS
    compactions: int = 0
    retries: int = 0
    context_tokens: int | None = None
    """Tokens in the context at the task's last request (prompt and reply), if known."""
    context_window: int | None = None
    """The model's context window, when the harness reports it."""

    def add_tokens(self, model: str, tokens: Tokens) -> None:
        """Count ``tokens`` for ``model``."""
        bucket = self.tokens.get(model)
        if bucket is None:
            self.tokens[model] = bucket = Tokens()
        bucket.add(tokens)

    def main_model(self) -> str:
        """The model the event names: the given one, else the one with the most tokens."""
        if self.model:
            return self.model
        named = [(t.input + t.output, m) for m, t in self.tokens.items() if m]
        return max(named)[1] if named else ""


class Notes:
    """Counted warnings of one parse: each distinct message once, with how often it happened.

    Messages name fields, models, counts and line numbers only, never record content.
    """

    __slots__ = ("_counts", "lines", "records")

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self.lines = 0
        """Lines (or documents) read."""
        self.records = 0
        """Lines recognised as records of the format."""

    def warn(self, message: str, times: int = 1) -> None:
        """Count ``times`` occurrences of ``message``."""
        self._counts[message] += times

    @property
    def warnings(self) -> int:
        """Total number of warnings."""
        return sum(self._counts.values())

    def items(self) -> list[tuple[str, int]]:
        """``(message, count)`` pairs, most frequent first."""
        return self._counts.most_common()

    def count(self, message: str) -> int:
        """How many times ``message`` was warned."""
        return self._counts[message]

    def merge(self, other: Notes) -> None:
        """Add ``other``'s warnings and counters to these."""
        self._counts.update(other._counts)
        self.lines += other.lines
        self.records += other.records
