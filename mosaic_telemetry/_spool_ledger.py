"""Ledger: which spooled records are out in memory (held), by event_id, and handing out the rest.

A record is *held* from the moment it is appended by a caller that keeps the
event (or handed out by replay) until it is settled or released. A held record
is never handed out again, so one event is never in two batches at once.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from ._spool_io import iter_lines
from ._spool_record import decode_line, event_id_of
from ._spool_segment import Segment

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Ledger", "SpoolRecord"]


class SpoolRecord(NamedTuple):
    """One event as the spool keeps it: its ``event_id`` and its JSON bytes."""

    event_id: str
    data: bytes


class Ledger:
    """The held records of one process: event_id -> (segment, offset), and each segment's side.

    Not thread-safe by itself: the spool calls it under its lock.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[str, tuple[Segment, int]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold_written(
        self, segment: Segment, start: int, ids: list[str], lines: list[bytes]
    ) -> None:
        """Hold records just written at ``start`` of ``segment`` (an id held already is not)."""
        offset = start
        for event_id, line in zip(ids, lines, strict=True):
            if event_id not in self._held:
                segment.held[offset] = len(line)
                self._held[event_id] = (segment, offset)
            offset += len(line)

    def settle(self, event_ids: Iterable[str]) -> dict[Segment, list[int]]:
        """Mark held records settled in their segments; return the offsets, by segment."""
        by_segment: dict[Segment, list[int]] = {}
        for event_id in event_ids:
            ref = self._held.pop(event_id, None)
            if ref is None:
                continue
            segment, offset = ref
            del segment.held[offset]
            segment.settled.add(offset)
            segment.settled_count += 1
            by_segment.setdefault(segment, []).append(offset)
        return by_segment

    def release(self, event_ids: Iterable[str]) -> int:
        """Give held records back, to be handed out again first; return how many were held."""
        count = 0
        for event_id in event_ids:
            ref = self._held.pop(event_id, None)
            if ref is None:
                continue
            segment, offset = ref
            length = segment.held.pop(offset)
            if offset < segment.scanned:  # behind the read position: listed to come back
                bisect.insort(segment.pending, (offset, length))
            count += 1
        return count

    def forget(self, segment: Segment) -> None:
        """Drop every hold on ``segment`` (it is being evicted)."""
        for event_id, (holder, _) in list(self._held.items()):
            if holder is segment:
                del self._held[event_id]
        segment.held.clear()
        segment.pending.clear()

    def hand_out(self, segment: Segment, limit: int, out: list[SpoolRecord]) -> int:
        """Hold and append to ``out`` up to ``limit`` records of ``segment``.

        Given-back records come first, then the ones not read yet. A damaged
        record is quarantined instead (:meth:`Segment.quarantine`).

        Returns:
            How many damaged records were quarantined.

        Raises:
            OSError: the segment could not be read.
        """
        damaged = 0
        queue = segment.pending
        kept: list[tuple[int, int]] = []
        segment.pending = kept
        done = 0
        try:
            for offset, length in queue:
                if len(out) >= limit:
                    break
                if offset not in segment.settled and offset not in segment.held:
                    taken = self._take(segment, offset, segment.read_at(offset, length), out)
                    if taken is None:
                        kept.append((offset, length))
                    else:
                        damaged += taken
                done += 1
        finally:  # a read error leaves the rest listed, in order
            kept.extend(queue[done:])
        if len(out) >= limit:
            return damaged
        counted = segment.own  # an own segment's records were counted as they were written
        for offset, line in iter_lines(segment.fd, segment.scanned, segment.size):
            segment.scanned = offset + len(line)
            if not counted:
                segment.records += 1
            if offset in segment.settled:
                if not counted:
                    segment.settled_count += 1
                continue
            if offset in segment.held:
                continue
            taken = self._take(segment, offset, line, out)
            if taken is None:
                segment.pending.append((offset, len(line)))
            else:
                damaged += taken
            if len(out) >= limit:
                break
        return damaged

    def _take(
        self, segment: Segment, offset: int, line: bytes, out: list[SpoolRecord]
    ) -> int | None:
        """Hand out one record line: 0 when taken, 1 when quarantined, None to wait.

        A record waits when an event with its event_id is held already (the same
        event spooled twice): it comes after the first is settled or released.
        """
        data = decode_line(line)
        event_id = None if data is None else event_id_of(data)
        if data is None or event_id is None:
            segment.quarantine(offset, line)
            return 1
        if event_id in self._held:
            return None
        segment.held[offset] = len(line)
        self._held[event_id] = (segment, offset)
        out.append(SpoolRecord(event_id, data))
        return 0
