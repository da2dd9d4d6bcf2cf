"""Events for ``send``, read as they arrive: JSON lines, JSON objects, or one JSON array.

The reader holds one chunk and the value being read, never the whole input, and
hands each value on as soon as it is complete, so ``harness | send -`` sends while
the harness still runs. The filler completes an event as ``EventBuilder`` would.
"""

from __future__ import annotations

import codecs
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..builder import EventBuilder
from ..models import TaskCompletionEvent

__all__ = ["CHUNK_BYTES", "MAX_VALUE_CHARS", "EventFiller", "InputError", "Item", "read_items"]

CHUNK_BYTES = 65536
MAX_VALUE_CHARS = 16 * 1024 * 1024
"""A single JSON value longer than this is refused: no event is that big."""

_SPACE = re.compile(r"[ \t\n\r]*")
_decode = json.JSONDecoder().raw_decode


class InputError(Exception):
    """The input cannot be read on from here (not UTF-8, a broken array, a huge value)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One top-level value (or array element): where it is, and the value or the problem."""

    where: str
    value: Any = None
    problem: str | None = None


def read_items(label: str, read: Callable[[int], bytes]) -> Iterator[Item]:
    """Yield each JSON value of the input as soon as it is complete.

    ``read(n)`` returns what is available (at most ``n`` bytes), ``b""`` at the
    end, like ``read1``. A UTF-8 BOM is skipped. Values are named ``label line N``
    (where they start), or ``label index N`` inside a top-level array. A broken
    value in JSON lines costs its line only; the reading goes on at the next line.

    Raises:
        InputError: the rest of the input can't be read (after the items before it).
    """
    return _Reader(label, read).items()


class _Reader:
    def __init__(self, label: str, read: Callable[[int], bytes]) -> None:
        self._label = label
        self._read = read
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._buf = ""
        self._pos = 0
        self._line = 1
        self._bytes = 0
        self._eof = False
        self._broken: InputError | None = None

    def _fill(self) -> bool:
        """Read more input; False at its end."""
        if self._eof:
            return False
        if self._broken is not None:
            raise self._broken
        data = self._read(CHUNK_BYTES)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            # The text before the bad byte is still read; the error comes after it.
            held = len(exc.object) - len(data)  # bytes the decoder kept from the last chunk
            offset = self._bytes - held + exc.start
            self._broken = InputError(f"{self._label} is not UTF-8 text (byte offset {offset})")
            text = bytes(exc.object[: exc.start]).decode("utf-8")
            if offset == exc.start:  # the very first chunk: its BOM was not stripped yet
                text = text.removeprefix("\ufeff")
            data = data or b"\0"  # not the end: the error is raised by the next read
        self._bytes += len(data)
        self._eof = not data
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        return not self._eof

    def _advance(self, end: int) -> None:
        self._line += self._buf.count("\n", self._pos, end)
        self._pos = end

    def _skip_space(self) -> bool:
        """Skip whitespace, reading on as needed; False at the end of the input."""
        while True:
            self._advance(_SPACE.match(self._buf, self._pos).end())  # type: ignore[union-attr]  # matches ""
            if self._pos < len(self._buf):
                return True
            if not self._fill():
                return False

    def _value(self) -> tuple[Any, str | None]:
        """Decode the value at the current position: (value, None) or (None, problem)."""
        while True:
            try:
                value, end = _decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                # An error on the last, unfinished line may just be a value cut by
                # the chunk: read on. Anywhere else, the value itself is broken.
                if "\n" not in self._buf[exc.pos :] and self._fill_for_value():
                    continue
                end_of_line = self._buf.find("\n", exc.pos)
                self._advance(len(self._buf) if end_of_line < 0 else end_of_line + 1)
                return None, f"not valid JSON ({exc.msg})"
            except RecursionError:
                raise InputError(f"{self._label}: a JSON value nested too deeply") from None
            self._advance(end)
            return value, None

    def _fill_for_value(self) -> bool:
        if len(self._buf) - self._pos > MAX_VALUE_CHARS:
            raise InputError(
                f"{self._label} line {self._line}: a JSON value longer than "
                f"{MAX_VALUE_CHARS // (1024 * 1024)} MiB"
            )
        return self._fill()

    def items(self) -> Iterator[Item]:
        if not self._skip_space():
            return
        if self._buf[self._pos] == "[":
            self._advance(self._pos + 1)
            yield from self._array_items()
            return
        while self._skip_space():
            where = f"{self._label} line {self._line}"
            value, problem = self._value()
            yield Item(where, value, problem)

    def _array_items(self) -> Iterator[Item]:
        index = 0
        while True:
            if not self._skip_space():
                raise InputError(f"{self._label}: the JSON array is not closed with ]")
            if index == 0 and self._buf[self._pos] == "]":
                self._advance(self._pos + 1)
                break
            where = f"{self._label} index {index}"
            value, problem = self._value()
            if problem is not None:
                yield Item(where, None, problem)
                raise InputError(f"{where} is broken: the rest of the array can't be read")
            yield Item(where, value)
            index += 1
            if not self._skip_space():
                raise InputError(f"{self._label}: the JSON array is not closed with ]")
            separator = self._buf[self._pos]
            self._advance(self._pos + 1)
            if separator == "]":
                break
            if separator != ",":
                raise InputError(f"{where}: expected , or ] after it, found {separator!r}")
        if self._skip_space():
            raise InputError(f"{self._label} line {self._line}: text after the JSON array")


class EventFiller:
    """Completes wire events as ``EventBuilder`` would, then validates them.

    A missing ``event_id`` and ``timestamp`` get a new UUID and now (UTC), a
    missing ``instance_id`` gets ``instance_id`` (``--instance-id``), and every
    other missing field gets the builder's default (read from the builder itself).
    """

    def __init__(self, instance_id: str = "") -> None:
        defaults = EventBuilder(uuid.UUID(int=0)).build().to_dict()
        for name in ("instance_id", "event_id", "timestamp"):
            del defaults[name]
        self._defaults = defaults
        self._instance_id = instance_id

    def event(self, data: object) -> TaskCompletionEvent:
        """The event ``data`` describes, completed.

        Raises:
            ValidationError: ``data`` is not an object, or a value breaks a rule.
        """
        if not isinstance(data, Mapping):
            return TaskCompletionEvent.from_dict(data)  # type: ignore[arg-type]  # it says why
        full = dict(self._defaults)
        full.update(data)
        if "event_id" not in data:
            full["event_id"] = uuid.uuid4()
        if "timestamp" not in data:
            full["timestamp"] = datetime.now(timezone.utc)
        if "instance_id" not in data and self._instance_id:
            full["instance_id"] = self._instance_id
        return TaskCompletionEvent.from_dict(full)
