"""Claude Code transcripts (``~/.claude/projects/<project>/<session>.jsonl``): one Task per turn.

A turn starts at a user prompt on the main chain and ends at the next prompt, at a
``turn_duration`` record, or when the stream is complete. Rules (docs/harnesses.md):

- Claude Code writes one API response as several lines (one per content block), each
  with the response's usage so far: lines are grouped per API message on
  ``message.id`` + ``requestId`` (``message.id`` alone when ``requestId`` is missing)
  and the LAST snapshot's ``output_tokens`` is kept. A reused id whose prompt usage
  differs (a gateway that answers every response with the same id) is another message.
- Input tokens = ``input_tokens`` + ``cache_read_input_tokens`` +
  ``cache_creation_input_tokens`` (Anthropic's ``input_tokens`` excludes the cache).
- Subagent (sidechain) lines count toward the turn that is open when they come, but
  never start a turn, never name the turn's model and never set its context use.
- Tool results, meta lines, compaction summaries are not prompts; consecutive prompts
  with no reply between them (a slash command and its expansion) are one turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..enums import Harness, Outcome
from ._lines import count, epoch, ident, mapping, real
from ._parser import LineParser
from ._task import Task, Tokens

__all__ = ["ClaudeTranscriptParser"]

_SYNTHETIC = "<synthetic>"
_NOT_PROMPT_FLAGS = ("isSidechain", "isMeta", "isCompactSummary", "isVisibleInTranscriptOnly")


@dataclass(slots=True)
class _Turn:
    key: str
    segment: int = 0
    first: float | None = None
    last: float | None = None
    messages: dict[str, list[Any]] = field(default_factory=dict)
    """Per API message: [input, cache read, cache write, output, model, sidechain]."""
    replied: bool = False
    compactions: int = 0
    context: int = 0
    failed: bool = False
    duration_ms: int | None = None

    def touch(self, when: float | None) -> None:
        if when is None:
            return
        if self.first is None:
            self.first = when
        self.last = when if self.last is None else max(self.last, when)

    def to_state(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "segment": self.segment,
            "first": self.first,
            "last": self.last,
            "messages": self.messages,
            "replied": self.replied,
            "compactions": self.compactions,
            "context": self.context,
            "failed": self.failed,
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_state(cls, data: Any) -> _Turn | None:
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            return None
        messages = data.get("messages")
        turn = cls(key=data["key"])
        turn.segment = _int(data.get("segment"))
        turn.first = real(data.get("first"))
        turn.last = real(data.get("last"))
        if isinstance(messages, dict):
            turn.messages = {
                k: v
                for k, v in messages.items()
                if isinstance(v, list)
                and len(v) == 6
                and all(type(n) is int and n >= 0 for n in v[:4])
                and isinstance(v[4], str)
                and isinstance(v[5], bool)
            }
        turn.replied = data.get("replied") is True
        turn.compactions = _int(data.get("compactions"))
        turn.context = _int(data.get("context"))
        turn.failed = data.get("failed") is True
        duration = data.get("duration_ms")
        turn.duration_ms = duration if type(duration) is int and duration >= 0 else None
        return turn


class ClaudeTranscriptParser(LineParser):
    """One Task per turn of a Claude Code session transcript."""

    family = "claude-code"
    harness = Harness.CLAUDE_CODE

    _turn: _Turn | None = None
    _closed_key: str | None = None
    _closed_segment: int = 0
    _closed_messages: set[str]
    _pending_compactions: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._closed_messages = set()
        super().__init__(*args, **kwargs)

    def feed(self, record: dict[str, Any], offset: int) -> list[Task]:
        kind = record.get("type")
        session = ident(record, "sessionId")
        if session is not None:
            self.session = session
        when = epoch(record.get("timestamp"))
        if kind == "user":
            self.notes.records += 1
            if _is_prompt(record):
                return self._prompt(record, offset, when)
            if self._turn is not None:
                self._turn.touch(when)
            return []
        if kind == "assistant":
            self.notes.records += 1
            self._reply(record, offset, when)
            return []
        if kind == "system":
            self.notes.records += 1
            return self._system(record, offset, when)
        return []

    def _prompt(self, record: dict[str, Any], offset: int, when: float | None) -> list[Task]:
        done: list[Task] = []
        if self._turn is not None and (self._turn.replied or self._turn.segment):
            done.append(self._close())
        if self._turn is None:
            self._turn = _Turn(key=ident(record, "uuid") or f"offset:{offset}")
            self._turn.compactions, self._pending_compactions = self._pending_compactions, 0
            self._closed_key, self._closed_messages = None, set()
        self._turn.touch(when)
        return done

    def _reply(self, record: dict[str, Any], offset: int, when: float | None) -> None:
        message = mapping(record, "message")
        usage = mapping(message, "usage")
        prompt_side = [
            count(usage, "input_tokens"),
            count(usage, "cache_read_input_tokens"),
            count(usage, "cache_creation_input_tokens"),
        ]
        message_id = ident(message, "id")
        if message_id is None:
            base = f"line:{offset}"  # nothing to group on: every line is its own message
        else:
            base = f"{message_id}/{ident(record, 'requestId') or ''}"
        if base in self._closed_messages:
            return  # a late copy of a message the emitted part of this turn counted
        turn = self._open_for_activity(offset)
        key, suffix = base, 0
        while key in turn.messages and turn.messages[key][:3] != prompt_side:
            suffix += 1
            key = f"{base}#{suffix}"
        model = ident(message, "model") or ""
        if model == _SYNTHETIC:
            model = ""
        sidechain = record.get("isSidechain") is True
        entry = turn.messages.get(key)
        output = count(usage, "output_tokens")
        if entry is None:
            turn.messages[key] = [*prompt_side, output, model, sidechain]
        else:
            entry[3] = output  # the last snapshot wins: earlier ones can be partial
            if model:
                entry[4] = model
        turn.replied = True
        if not sidechain:
            if sum(prompt_side) + output:  # an error line has no usage: not a context figure
                turn.context = sum(prompt_side) + output
            turn.failed = record.get("isApiErrorMessage") is True
        turn.touch(when)

    def _system(self, record: dict[str, Any], offset: int, when: float | None) -> list[Task]:
        subtype = record.get("subtype")
        if subtype == "compact_boundary":
            if self._turn is None:
                self._pending_compactions += 1
            else:
                self._turn.compactions += 1
                self._turn.touch(when)
            return []
        turn = self._turn
        if turn is None:
            return []
        turn.touch(when)
        if subtype == "turn_duration" and record.get("isSidechain") is not True:
            duration = count(record, "durationMs")
            turn.duration_ms = duration or turn.duration_ms
            if turn.replied or turn.segment:
                return [self._close()]
        return []

    def _open_for_activity(self, offset: int) -> _Turn:
        turn = self._turn
        if turn is None:
            if self._closed_key is not None:  # more of a turn that was already emitted
                turn = _Turn(key=self._closed_key, segment=self._closed_segment + 1)
            else:  # a stream that starts after its prompt
                turn = _Turn(key=f"offset:{offset}")
            turn.compactions, self._pending_compactions = self._pending_compactions, 0
            self._turn = turn
        return turn

    def end(self, *, close: bool, turn_id: str | None = None) -> list[Task]:
        turn = self._turn
        if turn is None or not turn.replied:
            return []
        if close or (turn_id is not None and turn_id == turn.key):
            return [self._close()]
        return []

    def _close(self) -> Task:
        turn, self._turn = self._turn, None
        if turn is None:  # callers check first; an empty task keeps the type honest
            return self.task("")
        key = turn.key if not turn.segment else f"{turn.key}#{turn.segment}"
        task = self.task(key)
        main: dict[str, int] = {}
        for prompt_in, read, write, output, model, sidechain in turn.messages.values():
            task.add_tokens(model, Tokens(prompt_in, read, write, output))
            if model and not sidechain:
                main[model] = main.get(model, 0) + prompt_in + read + write + output
        task.model = max(main, key=main.__getitem__) if main else None
        if turn.duration_ms is not None:
            task.duration_ms = turn.duration_ms
        elif turn.first is not None and turn.last is not None:
            task.duration_ms = round((turn.last - turn.first) * 1000)
        task.ended_at = _datetime(turn.last)
        task.outcome = Outcome.FAILURE if turn.failed else Outcome.SUCCESS
        task.compactions = turn.compactions
        task.context_tokens = turn.context or None
        self._closed_key, self._closed_segment = turn.key, turn.segment
        if not turn.segment:
            self._closed_messages = set()
        self._closed_messages.update(k.partition("#")[0] for k in turn.messages)
        return task

    def state(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "turn": None if self._turn is None else self._turn.to_state(),
            "closed_key": self._closed_key,
            "closed_segment": self._closed_segment,
            "closed_messages": sorted(self._closed_messages),
            "pending_compactions": self._pending_compactions,
        }

    def restore(self, state: dict[str, Any]) -> None:
        session = state.get("session")
        if isinstance(session, str) and session:
            self.session = session
        self._turn = _Turn.from_state(state.get("turn"))
        closed = state.get("closed_key")
        self._closed_key = closed if isinstance(closed, str) else None
        self._closed_segment = _int(state.get("closed_segment"))
        messages = state.get("closed_messages")
        if isinstance(messages, list):
            self._closed_messages = {m for m in messages if isinstance(m, str)}
        self._pending_compactions = _int(state.get("pending_compactions"))


def _is_prompt(record: dict[str, Any]) -> bool:
    """A user line a person typed (or a command expanded), not a tool result or meta line."""
    if any(record.get(flag) is True for flag in _NOT_PROMPT_FLAGS) or "toolUseResult" in record:
        return False
    content = mapping(record, "message").get("content")
    if isinstance(content, str):
        return True
    if isinstance(content, list):  # only the block types are looked at, never their text
        return any(isinstance(b, dict) and b.get("type") != "tool_result" for b in content)
    return False


def _datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def _int(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0
