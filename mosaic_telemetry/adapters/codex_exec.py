"""``codex exec --json`` output: one Task per ``turn.completed`` or ``turn.failed``.

The stream has no timestamps and names no model: the duration is 0 and the model
comes from ``ingest --model`` (else it is unknown and costs 0). ``turn.completed``
carries ``usage`` with ``input_tokens`` (cached ones included),
``cached_input_tokens`` and ``output_tokens``; ``turn.failed`` and a stream
``error`` make the turn a FAILURE. Codex is not in the ``Harness`` enum: ``custom``.
"""

from __future__ import annotations

from typing import Any

from ..enums import Harness, Outcome
from ._lines import count, ident, mapping
from ._parser import LineParser
from ._task import Task
from .codex_rollout import openai_tokens

__all__ = ["CodexExecParser"]


class CodexExecParser(LineParser):
    """One Task per turn of a ``codex exec --json`` stream."""

    family = "codex"
    harness = Harness.CUSTOM

    _turns = 0
    _open = False
    _failed = False

    def feed(self, record: dict[str, Any], offset: int) -> list[Task]:
        kind = record.get("type")
        if not isinstance(kind, str):
            return []
        if kind == "thread.started":
            self.notes.records += 1
            self.session = ident(record, "thread_id") or self.session
        elif kind == "turn.started":
            self.notes.records += 1
            self._open, self._failed = True, False
        elif kind == "turn.completed":
            self.notes.records += 1
            return [self._finish(mapping(record, "usage"), failed=self._failed)]
        elif kind == "turn.failed":
            self.notes.records += 1
            return [self._finish({}, failed=True)]
        elif kind == "error":
            self.notes.records += 1
            self._failed = True
        elif kind.startswith("item."):
            self.notes.records += 1
        return []

    def _finish(self, usage: Any, *, failed: bool) -> Task:
        self._turns += 1
        self._open, self._failed = False, False
        tokens = openai_tokens(dict(usage))
        # A resumed thread numbers its turns from 1 again: the counts keep the keys apart.
        task = self.task(
            f"{self._turns}:{count(usage, 'input_tokens')}:"
            f"{count(usage, 'cached_input_tokens')}:{count(usage, 'output_tokens')}"
        )
        task.add_tokens(self.model_hint or "", tokens)
        task.outcome = Outcome.FAILURE if failed else Outcome.SUCCESS
        return task

    def end(self, *, close: bool, turn_id: str | None = None) -> list[Task]:
        if close and self._open and self._failed:  # the stream died inside a turn
            return [self._finish({}, failed=True)]
        return []

    def state(self) -> dict[str, Any]:
        return {"session": self.session, "turns": self._turns}

    def restore(self, state: dict[str, Any]) -> None:
        self.session = ident(state, "session") or self.session
        self._turns = count(state, "turns")
