"""One hook run: the harness's JSON on stdin, what is new in its transcript, sent in a budget.

The order of one run: read stdin (file descriptor reads, so a silent stdin cannot
wedge interpreter exit), lock this transcript's cursor, read at most
``MAX_BYTES_PER_RUN`` new bytes, build the events of the turns that finished, then
:func:`persist_then_send`; the cursor is saved only when that confirms every event.
A run cut short by its budget saves nothing, so the next run reads the same lines
again: delivery is at-least-once, and the deterministic event ids make the server
store each task once.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._log import LazyLogger
from .._validation import to_uuid
from ..config import TelemetryConfig
from ..errors import TelemetryError
from ..models import TaskCompletionEvent
from ._cursor import CursorStore
from ._events import EventFactory
from ._formats import FORMATS
from ._lines import ident
from ._pricing import PriceTable
from ._sources import MAIN, Feed, session_files
from ._task import Notes

__all__ = [
    "CLOSING_EVENTS",
    "HOOK_FORMATS",
    "MAX_BYTES_PER_RUN",
    "HookInput",
    "HookInputError",
    "HookReport",
    "parse_input",
    "persist_then_send",
    "read_stdin",
    "run_hook",
]

logger = LazyLogger(__name__)

HOOK_FORMATS = {"claude-code": "claude-transcript", "codex": "codex-rollout"}
"""The transcript format each ``hook`` harness writes."""
CLOSING_EVENTS = frozenset({"SessionEnd", "UserPromptSubmit"})
"""Hook events after which the open turn is certainly over (the transcript is flushed)."""
MAX_BYTES_PER_RUN = 8 * 1024 * 1024
"""A run reads at most this much, so a long backlog is worked off over several runs."""
MAX_STDIN_BYTES = 1024 * 1024


class HookInputError(TelemetryError):
    """The hook's stdin is not the JSON object a harness sends (the reason, never the text)."""


@dataclass(frozen=True, slots=True)
class HookInput:
    """The fields of a hook payload the adapters use (``last_assistant_message`` is not one)."""

    event: str
    transcript_path: Path
    session_id: str | None = None
    turn_id: str | None = None
    model: str | None = None


@dataclass(slots=True)
class HookReport:
    """What one hook run did, for its log line."""

    harness: str
    event: str = "?"
    bytes_read: int = 0
    files: int = 0
    events: int = 0
    confirmed: bool = False
    saved: bool = False
    notes: Notes = field(default_factory=Notes)

    def summary(self) -> str:
        """One line: what was read, sent and saved."""
        if self.saved:
            cursor = "cursor saved"
        elif self.confirmed:
            cursor = "nothing new"
        else:
            cursor = "cursor kept: the same lines are read next run"
        return (
            f"hook {self.harness} {self.event}: read {self.bytes_read} bytes of "
            f"{self.files} file(s), {self.events} event(s), "
            f"{'confirmed' if self.confirmed else 'not confirmed'}, {cursor}"
        )


def read_stdin(fd: int, limit: int = MAX_STDIN_BYTES) -> bytes:
    """Everything on ``fd`` up to end of input (at most ``limit`` bytes)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise HookInputError(f"hook input is larger than {limit} bytes")
    return b"".join(chunks)


def parse_input(data: bytes) -> HookInput:
    """The payload's fields.

    Raises:
        HookInputError: not a JSON object, or no usable ``transcript_path``.
    """
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        raise HookInputError("hook input is not JSON") from None
    if not isinstance(payload, dict):
        raise HookInputError("hook input is not a JSON object")
    transcript = payload.get("transcript_path")
    if not isinstance(transcript, str) or not transcript or "\x00" in transcript:
        raise HookInputError("hook input has no transcript_path")
    return HookInput(
        event=ident(payload, "hook_event_name") or "?",
        transcript_path=Path(transcript).expanduser(),
        session_id=ident(payload, "session_id"),
        turn_id=ident(payload, "turn_id"),
        model=ident(payload, "model"),
    )


def run_hook(
    harness: str,
    hook_input: HookInput,
    *,
    config: TelemetryConfig,
    state_dir: Path,
    prices: PriceTable,
    deadline: float,
    report: HookReport,
) -> None:
    """Read what is new in the payload's transcript and deliver its finished turns.

    Raises:
        OSError: the transcript or the state directory cannot be used.
        CursorBusy: another run of this transcript holds its cursor.
    """
    fmt = FORMATS[HOOK_FORMATS[harness]]
    path = hook_input.transcript_path
    report.event = hook_input.event
    store = CursorStore(state_dir)
    cursor_path = store.path_for(harness, path)
    with store.lock(cursor_path):
        identity, size = _identity(path)
        state = store.load(cursor_path) or {}
        if state.get("identity") != identity:
            if state:
                logger.info("hook %s: %s is a new file; reading it from the start", harness, path)
            state = {}
        offsets = state.get("offsets")
        offsets = (
            {k: v for k, v in offsets.items() if type(v) is int}
            if isinstance(offsets, dict)
            else {}
        )
        if offsets.get(MAIN, 0) > size:  # the file shrank: it was rewritten
            offsets, state = {}, {}
        notes = report.notes
        parser_state = state.get("parser")
        parser = fmt.parser(
            notes,
            hook_input.session_id or path.stem,
            parser_state if isinstance(parser_state, dict) else None,
            model_hint=hook_input.model,
        )
        files = session_files(path, subagents=fmt.subagent_files)
        feed = Feed(files, offsets, notes, complete=False)
        tasks = []
        for offset, record in feed.records(MAX_BYTES_PER_RUN):
            tasks.extend(parser.feed(record, offset))
        if feed.exhausted:
            close = hook_input.event in CLOSING_EVENTS
            tasks.extend(parser.end(close=close, turn_id=hook_input.turn_id))
        report.files = len(files)
        report.bytes_read = sum(feed.offsets.values()) - sum(offsets.get(n, 0) for n in files)
        factory = EventFactory(to_uuid(config.instance_id), prices, notes)
        events = [factory.build(task) for task in tasks]
        report.events = len(events)
        report.confirmed = persist_then_send(events, config, deadline)
        if report.confirmed and (report.bytes_read or events):
            store.save(
                cursor_path,
                {
                    "harness": harness,
                    "identity": identity,
                    "offsets": feed.offsets,
                    "parser": parser.state(),
                },
            )
            report.saved = True


def persist_then_send(
    events: list[TaskCompletionEvent], config: TelemetryConfig, deadline: float
) -> bool:
    """Deliver ``events`` by ``deadline``; True once every one is settled.

    Settled means accepted or refused one by one by the server (a refused event would
    be refused again). With ``config.spool_dir`` the events are persisted first (and
    True is returned once they are on disk, whatever the server does): then what the
    spool holds, these events and earlier runs' alike, is sent within the budget and
    the rest waits there for the next run. Without one, they are sent straight.
    """
    if not events:
        return True
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    from ..client import TelemetryClient  # noqa: PLC0415  # only a run with events pays for it

    settings = copy.copy(config)
    settings.max_queue_size = max(int(config.max_queue_size), len(events))
    settings.max_retries = 0  # the next hook run is the retry: a run never waits out a backoff
    settings.request_timeout_seconds = max(0.05, min(config.request_timeout_seconds, remaining))
    client = TelemetryClient(settings)  # never started: flush() sends on this thread
    for event in events:
        client.track(event)
    if settings.spool_dir:
        try:
            persisted = client.persist(timeout=max(0.0, deadline - time.monotonic()))
            client.flush(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            client.stop(timeout=0)  # what is unsent stays in the spool
        stats = client.stats
        return (persisted >= len(events) and not stats.spool_errors) or (
            stats.sent + stats.rejected >= len(events)
        )
    client.flush(timeout=max(0.0, deadline - time.monotonic()))
    stats = client.stats
    return stats.sent + stats.rejected >= len(events)


def _identity(path: Path) -> tuple[list[int], int]:
    """``([device, inode], size)`` of the transcript: a new inode means a new file."""
    status = os.stat(path)
    return [status.st_dev, status.st_ino], status.st_size
