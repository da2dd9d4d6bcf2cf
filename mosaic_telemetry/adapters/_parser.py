"""The shape every line parser shares, and the loop that feeds one a whole stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, ClassVar

from ..enums import Harness
from ._lines import LineReader, decode
from ._task import Notes, Task

__all__ = ["LineParser", "read_whole"]


class LineParser:
    """Turns the records of one session, in order, into finished Tasks.

    A parser keeps only what the open task needs (counts, ids, times: never
    content), and :meth:`state` gives that as plain JSON so that a hook run can
    stop anywhere and the next one go on from a byte-offset cursor.
    """

    family: ClassVar[str] = ""
    """The harness family of the event ids (``claude-code``, ``codex``, ``aider``)."""
    harness: ClassVar[Harness] = Harness.UNKNOWN

    def __init__(
        self,
        notes: Notes,
        session: str,
        state: dict[str, Any] | None = None,
        *,
        model_hint: str | None = None,
    ) -> None:
        self.notes = notes
        self.session = session
        """The session id: the one the records give, else ``session`` (a file's name)."""
        self.model_hint = model_hint
        """The model to name when the records name none (``ingest --model``)."""
        if state:
            self.restore(state)

    def feed(self, record: dict[str, Any], offset: int) -> list[Task]:
        """Read one record (``offset``: where its line starts); return tasks it finished."""
        raise NotImplementedError

    def end(self, *, close: bool, turn_id: str | None = None) -> list[Task]:
        """No more records for now: close the open task if ``close`` or it is ``turn_id``."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """What the next run needs to go on, as JSON-ready data."""
        raise NotImplementedError

    def restore(self, state: dict[str, Any]) -> None:
        """Take up a :meth:`state` again (unusable parts are dropped, not trusted)."""
        raise NotImplementedError

    def task(self, key: str) -> Task:
        """A new Task of this parser's harness and session."""
        return Task(harness=self.harness, family=self.family, session=self.session, key=key)


def read_whole(parser: LineParser, stream: IO[bytes]) -> Iterator[Task]:
    """Feed ``parser`` every line of a complete stream; yield tasks as they finish."""
    notes = parser.notes
    reader = LineReader(stream, take_unterminated=True)
    for offset, _end, line in reader.lines():
        notes.lines += 1
        record = decode(line)
        if record is None:
            if reader.unterminated:
                notes.warn("the last line is incomplete (still being written?) and was skipped")
            elif line.strip():
                notes.warn("a line that is not a JSON object was skipped")
            continue
        yield from parser.feed(record, offset)
    if reader.overlong:
        notes.warn("a line over 64 MiB was skipped", reader.overlong)
    yield from parser.end(close=True)
