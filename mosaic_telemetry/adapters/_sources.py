"""Records of one or more JSON-lines files, from per-file byte offsets, in time order.

Claude Code 2.x writes each subagent's lines to ``<session>/subagents/agent-*.jsonl``
beside the session file; :func:`session_files` finds them, and :class:`Feed` merges
every file's lines by timestamp so that a subagent's usage falls in the turn it ran
in. Within one file the order of lines is always kept.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ._lines import LineReader, decode, epoch
from ._task import Notes

__all__ = ["MAIN", "Feed", "session_files"]

MAIN = ""
"""The name of the main file among a Feed's files (subagent files go by their names)."""
_MAX_SUBAGENT_FILES = 1000

_Item = tuple[float, int, str, int, int, "dict[str, Any] | None"]
"""(time, file rank, file name, start offset, end offset, record or None for a bad line)"""


def session_files(path: Path, *, subagents: bool) -> dict[str, Path]:
    """The main file as ``MAIN``, plus (when asked) the session's subagent files by name."""
    files = {MAIN: path}
    if subagents:
        folder = path.with_suffix("") / "subagents"
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".jsonl"))
        except OSError:
            names = []
        for name in names[:_MAX_SUBAGENT_FILES]:
            files[name] = folder / name
    return files


class Feed:
    """Reads ``files`` from ``offsets``; :attr:`offsets` says how far each was consumed.

    ``complete`` streams are finished files (``ingest``): a last line without a
    newline is read. Otherwise such a torn line is left for the next run.
    """

    def __init__(
        self,
        files: dict[str, Path],
        offsets: dict[str, int],
        notes: Notes,
        *,
        complete: bool,
    ) -> None:
        self._files = files
        self.offsets = {name: max(0, offsets.get(name, 0)) for name in files}
        self._notes = notes
        self._complete = complete
        self.torn = False
        """Whether some file ended in a line still being written."""
        self.exhausted = False
        """Whether the last :meth:`records` read every file to its end (not cut by a limit)."""

    def records(self, max_bytes: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(offset, record)`` in time order, up to about ``max_bytes`` in all."""
        with ExitStack() as stack:
            readers: dict[str, LineReader] = {}
            for name, path in self._files.items():
                try:
                    stream = stack.enter_context(open(path, "rb"))
                except OSError:
                    if name == MAIN:
                        raise
                    continue
                offset = self.offsets[name]
                stream.seek(offset)
                readers[name] = LineReader(stream, offset, take_unterminated=self._complete)
            timed = len(readers) > 1  # one file needs no merge, so no timestamps either
            streams = [self._decoded(name, reader, timed=timed) for name, reader in readers.items()]
            merged: Iterator[_Item] = (
                heapq.merge(*streams, key=lambda item: (item[0], item[1])) if timed else streams[0]
            )
            consumed = 0
            self.exhausted = True
            for _when, _rank, name, start, end, record in merged:
                self.offsets[name] = end
                consumed += end - start
                if record is not None:
                    yield start, record
                if max_bytes is not None and consumed >= max_bytes:
                    self.exhausted = False
                    break
            self.torn = any(reader.torn for reader in readers.values())
            overlong = sum(reader.overlong for reader in readers.values())
            if overlong:
                self._notes.warn("a line over 64 MiB was skipped", overlong)

    def _decoded(self, name: str, reader: LineReader, *, timed: bool) -> Iterator[_Item]:
        notes = self._notes
        rank = 0 if name == MAIN else 1  # at equal times the main file goes first
        last = 0.0
        for start, end, line in reader.lines():
            notes.lines += 1
            record = decode(line)
            if record is None and reader.unterminated:
                notes.warn("the last line is incomplete (still being written?) and was skipped")
            elif record is None and line.strip():
                notes.warn("a line that is not a JSON object was skipped")
            if timed and record is not None:
                when = epoch(record.get("timestamp"))
                last = last if when is None else max(last, when)
            yield last, rank, name, start, end, record
