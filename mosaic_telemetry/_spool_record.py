"""The spool's record line: an event's JSON with the CRC-32 of its bytes as one more key.

A record is one line: the event's compact JSON (as ``_encode.encode_event`` wrote
it) with ``"_spool_crc32":"<8 hex digits>"`` added as its last key, then ``\\n``.
The line is still a JSON object that ``TaskCompletionEvent.from_dict`` reads (it
ignores unknown keys), so ``mosaic-telemetry send SEGMENT`` sends a segment as it
is; and the original bytes come back exactly by cutting the added key off again,
so a replayed event keeps its ``event_id`` and every other byte.
"""

from __future__ import annotations

import binascii
import re

__all__ = [
    "CRC_KEY",
    "check_record",
    "decode_line",
    "encode_line",
    "event_id_of",
    "valid_event_bytes",
]

CRC_KEY = "_spool_crc32"
"""The key a record adds to its event's JSON object."""

_KEY = b'"_spool_crc32":"'
_END = b'"}\n'
_TAIL = len(_KEY) + 8 + len(_END)  # the key, 8 hex digits, the closing quote, brace, newline
# Compact JSON writes the top-level key as exactly this; inside a JSON string every
# quote is escaped, so the sequence cannot come from a value.
_EVENT_ID = re.compile(rb'"event_id":"([^"\\]{1,64})"')
_HEX = frozenset(b"0123456789abcdef")
_OPEN, _CLOSE = b"{}"


def valid_event_bytes(data: object) -> str | None:
    """Why ``data`` can't be a record's event bytes, or None when it can."""
    if type(data) is not bytes:
        if not isinstance(data, bytes):
            return f"must be bytes, got {type(data).__name__}"
        data = bytes(data)
    if len(data) < 2 or data[0] != _OPEN or data[-1] != _CLOSE:
        return f"must be one JSON object, got {data[:40]!r}"
    if b"\n" in data or b"\r" in data:
        return "must be compact JSON on one line (no CR or LF)"
    return None


def encode_line(data: bytes) -> bytes:
    """The record line of ``data`` (checked by :func:`valid_event_bytes` first)."""
    comma = b"," if data[1:-1].strip() else b""  # an empty object takes no comma
    return b"%s%s%s%08x%s" % (data[:-1], comma, _KEY, binascii.crc32(data), _END)


def decode_line(line: bytes) -> bytes | None:
    """The event bytes of a record line (with its ``\\n``), or None when it is damaged."""
    if len(line) <= _TAIL or not line.endswith(_END):
        return None
    digits = line[-_TAIL + len(_KEY) : -len(_END)]
    if line[-_TAIL : -_TAIL + len(_KEY)] != _KEY or not _HEX.issuperset(digits):
        return None
    head = line[:-_TAIL]
    data = (head[:-1] if head.endswith(b",") else head) + b"}"
    if binascii.crc32(data) != int(digits, 16):
        return None
    return data


def event_id_of(data: bytes) -> str | None:
    """The ``event_id`` written in an event's compact JSON, or None when there is none."""
    match = _EVENT_ID.search(data)
    if match is None:
        return None
    try:
        return match[1].decode("ascii")
    except UnicodeDecodeError:
        return None


def check_record(index: int, record: object) -> None:
    """Check ``records[index]`` of an append: ``(non-empty str, event bytes)``.

    Raises:
        ValueError: it is not; the message names the index, the rule and the value.
    """
    if not isinstance(record, tuple) or len(record) != 2:
        raise ValueError(f"records[{index}] must be (event_id, bytes), got {record!r:.80}")
    event_id, data = record
    if not isinstance(event_id, str) or not event_id:
        raise ValueError(f"records[{index}] event_id must be a non-empty str, got {event_id!r:.80}")
    problem = valid_event_bytes(data)
    if problem is not None:
        raise ValueError(f"records[{index}] data {problem}")
