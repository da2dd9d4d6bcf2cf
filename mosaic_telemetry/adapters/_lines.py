"""Reading JSON lines from a byte stream with offsets, and reading fields of a record safely."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import IO, Any

from .._validation import parse_datetime

__all__ = [
    "MAX_LINE_BYTES",
    "LineReader",
    "count",
    "decode",
    "epoch",
    "ident",
    "mapping",
    "real",
    "timestamp",
]

MAX_LINE_BYTES = 64 * 1024 * 1024
"""A line longer than this (a huge tool result) is skipped, not held in memory."""
_CHUNK = 1024 * 1024
_MAX_IDENT = 200
_MAX_COUNT = 10**15  # far above any real count: a bigger number is garbage, read as 0


class LineReader:
    """Yields the complete lines of a binary stream with their start offsets.

    ``offset`` is where reading resumes: just after the last line yielded (or
    skipped). A last line without its newline is *torn* (the writer may be in the
    middle of it): it is left unread unless ``take_unterminated`` says the stream is
    complete (a whole file given to ``ingest``), in which case it is yielded too.
    """

    def __init__(
        self, stream: IO[bytes], offset: int = 0, *, take_unterminated: bool = False
    ) -> None:
        self._stream = stream
        self.offset = offset
        self._take_unterminated = take_unterminated
        self.overlong = 0
        """Lines skipped for being longer than MAX_LINE_BYTES."""
        self.torn = False
        """Whether reading stopped before an unterminated last line."""
        self.unterminated = False
        """Whether the last line yielded had no newline (``take_unterminated`` only)."""

    def lines(self, max_bytes: int | None = None) -> Iterator[tuple[int, int, bytes]]:
        """Yield ``(start, end, line)``: the offsets around each line, its newline stripped.

        Stops at the end of the stream, or once ``max_bytes`` were consumed (only
        whole lines are consumed, so a run may go past it by one line).
        """
        stream = self._stream
        begin = self.offset
        while max_bytes is None or self.offset - begin < max_bytes:
            start = self.offset
            line = stream.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                if not self._skip_rest(start, len(line)):
                    return
                continue
            if not line.endswith(b"\n"):
                if not self._take_unterminated:
                    self.torn = True
                    return
                self.offset += len(line)
                self.unterminated = True
                yield start, self.offset, line
                return
            self.offset += len(line)
            yield start, self.offset, line[:-1]

    def _skip_rest(self, start: int, taken: int) -> bool:
        """Discard an overlong line up to its newline; False when the stream ends first."""
        stream = self._stream
        while True:
            chunk = stream.readline(_CHUNK)
            if not chunk:
                if self._take_unterminated:
                    self.offset = start + taken
                    self.overlong += 1
                else:
                    self.torn = True
                return False
            taken += len(chunk)
            if chunk.endswith(b"\n"):
                self.offset = start + taken
                self.overlong += 1
                return True


def decode(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None when it is blank, not JSON or not an object."""
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def mapping(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``record[key]`` when it is an object, else an empty mapping."""
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def count(record: Mapping[str, Any], key: str) -> int:
    """``record[key]`` as a token count: a non-negative integer, anything else is 0."""
    value = record.get(key)
    if type(value) is int and 0 <= value <= _MAX_COUNT:
        return value
    if type(value) is float and value.is_integer() and 0 <= value <= _MAX_COUNT:
        return int(value)
    return 0


def ident(record: Mapping[str, Any], key: str) -> str | None:
    """``record[key]`` as an identifier: a short non-empty string, else None."""
    value = record.get(key)
    if isinstance(value, str) and 0 < len(value) <= _MAX_IDENT:
        return value
    return None


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 text or Unix seconds as an aware datetime; None when it is neither."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            return parse_datetime(value)
        except (ValueError, OverflowError):
            return None
    if type(value) in (int, float) and 0 < value < 1e11:
        return datetime.fromtimestamp(value, timezone.utc)
    return None


def epoch(value: Any) -> float | None:
    """:func:`timestamp` as Unix seconds (what cursor states keep)."""
    when = timestamp(value)
    return None if when is None else when.timestamp()


def real(value: Any) -> float | None:
    """A finite number (not a bool) as a float, else None."""
    if type(value) in (int, float) and math.isfinite(value):
        return float(value)
    return None
