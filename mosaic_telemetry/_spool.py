"""Spool: the durable, multi-process store of unsent events in one directory (docs/spool.md).

One :class:`Spool` per process and directory owns its segment files, the records
it has handed out, and its counters, under one lock. It only ever sees event
bytes (``_encode.encode_event``): no key, URL or log record reaches the disk.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from ._spool_dir import (
    SpoolDirectoryError,
    SpoolError,
    SpoolWriteError,
    clean_leftovers,
    list_files,
    prepare_directory,
    segment_bytes_on_disk,
)
from ._spool_files import SegmentFiles
from ._spool_ledger import Ledger, SpoolRecord
from ._spool_record import check_record, encode_line

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Spool",
    "SpoolCounts",
    "SpoolDirectoryError",
    "SpoolError",
    "SpoolRecord",
    "SpoolWriteError",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_MAX_SEGMENT_BYTES = 4 * 1024 * 1024
_MIN_SEGMENT_BYTES = 16 * 1024
_getpid = os.getpid


@dataclass(frozen=True, slots=True)
class SpoolCounts:
    """A snapshot of a spool's counters (this process's, since open or fork)."""

    spooled: int = 0
    """Records written by :meth:`Spool.append`."""
    spool_bytes: int = 0
    """Bytes of segment files in the directory, as last counted (own writes exact)."""
    replayed: int = 0
    """Records handed out by :meth:`Spool.replay` (a record given back and handed out
    again counts again)."""
    spool_evicted: int = 0
    """Unsettled records deleted to stay under ``max_bytes``, oldest first."""
    spool_corrupt: int = 0
    """Damaged records moved to ``quarantine.jsonl``."""


class Spool:
    """Unsent events of one directory, shared by processes, each writing its own segment.

    Every method is thread-safe: it holds the spool's one lock for its whole run,
    file I/O (and :meth:`sync`'s fsync) included, so call it from a worker
    thread, never from code that must not block. A forked child gets a fresh,
    empty view by itself (checked by pid on every call, or at once through
    :meth:`after_fork_in_child`); it never writes into its parent's files.
    """

    def __init__(self, directory: str, max_bytes: int, segment_bytes: int) -> None:
        """Use :meth:`open`."""
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._closed = False
        files = list_files(directory)
        clean_leftovers(directory, files)
        self._fresh_process_state(sum(segment_bytes_on_disk(directory, files["jsonl"]).values()))

    def _fresh_process_state(self, known_bytes: int) -> None:
        self._pid = _getpid()
        self._lock = threading.Lock()
        self._files = SegmentFiles(self._dir, self._max_bytes, self._segment_bytes, known_bytes)
        self._ledger = Ledger()
        self._spooled = self._replayed = self._evicted = self._corrupt = 0

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        segment_bytes: int | None = None,
    ) -> Spool:
        """Open the spool in ``directory``, creating the directory (mode 0700) if missing.

        Leftovers of crashed processes (an unrenamed ``.tmp``, an ``.acks`` whose
        segment is gone) are deleted; segments of processes that are gone are
        adopted later, by :meth:`replay`.

        Args:
            directory: a private directory: owned by this user, not writable by
                group or others (``/tmp`` itself is refused).
            max_bytes: the most bytes of segment files the directory holds; past
                it the oldest records are evicted (counted in ``spool_evicted``).
            segment_bytes: the size past which the own segment is closed and a
                new one begun (default: ``max_bytes / 8``, from 16 KiB to 4 MiB).

        Raises:
            ValueError: ``max_bytes`` or ``segment_bytes`` is not a positive int.
            SpoolDirectoryError: the path is not a directory, or is shared or not ours.
            SpoolWriteError: the directory can't be created or written (read-only).
        """
        _check_positive("max_bytes", max_bytes)
        if segment_bytes is None:
            segment_bytes = min(_MAX_SEGMENT_BYTES, max(_MIN_SEGMENT_BYTES, max_bytes // 8))
        _check_positive("segment_bytes", segment_bytes)
        path = prepare_directory(directory)
        try:
            return cls(path, max_bytes, segment_bytes)
        except OSError as exc:
            raise SpoolWriteError.of(f"open the spool in {path!r}", exc) from None

    # -- process and life cycle -------------------------------------------------------------

    @property
    def directory(self) -> str:
        """The absolute path of the spool directory."""
        return self._dir

    @property
    def held(self) -> int:
        """How many records are held (appended with ``held=True`` or handed out, not yet
        settled or released)."""
        with self._lock:
            return len(self._ledger)

    def after_fork_in_child(self) -> None:
        """In a forked child: forget the parent's files and records; start from zero.

        Each inherited descriptor is closed, never unlocked: a flock is shared with
        the parent, which keeps holding it. The child's next append starts a
        segment of its own. Called by itself on the child's first use of the spool.
        """
        self._files.forget_all()
        self._fresh_process_state(self._files.known_bytes)

    def _check_process(self) -> None:
        if self._pid != _getpid():  # a fork the caller's hook missed
            self.after_fork_in_child()

    def _usable(self) -> None:
        if self._closed:
            raise SpoolError(f"the spool in {self._dir!r} is closed")

    def close(self) -> None:
        """Remove what is fully settled and let go of every file; unsettled records stay.

        Held records are given back (the next process replays them). Nothing is
        fsynced here: call :meth:`sync` first for power-loss safety. Safe to call
        twice; afterwards :meth:`append`, :meth:`sync` and :meth:`replay` raise
        :class:`SpoolError`, :meth:`settle` and :meth:`release` return 0.
        """
        self._check_process()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._files.close()
                self._ledger = Ledger()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def counts(self) -> SpoolCounts:
        """A snapshot of the counters."""
        self._check_process()
        with self._lock:
            return SpoolCounts(
                spooled=self._spooled,
                spool_bytes=self._files.known_bytes,
                replayed=self._replayed,
                spool_evicted=self._evicted,
                spool_corrupt=self._corrupt,
            )

    def __repr__(self) -> str:
        return f"Spool({self._dir!r}, max_bytes={self._max_bytes}, held={len(self._ledger)})"

    # -- writing ------------------------------------------------------------------------------

    def append(self, records: Iterable[tuple[str, bytes]], *, held: bool = True) -> int:
        """Write ``records`` (``(event_id, event JSON bytes)``) to this process's segment.

        One ``write`` for the whole batch, no fsync: once this returns the records
        survive the process being killed, and after :meth:`sync` a power loss too.

        Args:
            records: each event's id and its bytes from ``_encode.encode_event``.
            held: True when the caller keeps these events in memory and will
                :meth:`settle` or :meth:`release` each; False when the spool now
                has the only copy (a spill), so :meth:`replay` hands them out.

        Returns:
            How many were written: all, unless ``max_bytes`` can't hold the batch
            even after evicting every older record this process may delete; then
            the oldest of the batch are left out (and counted as evicted).

        Raises:
            ValueError: a record is not ``(non-empty str, compact JSON object
                bytes)``; nothing was written.
            SpoolWriteError: the disk refused (full, read-only, quota, I/O error);
                nothing was written (a partial write is cut back).
            SpoolError: the spool is closed.
        """
        batch = list(records)
        for index, record in enumerate(batch):
            check_record(index, record)
        lines = [encode_line(data) for _, data in batch]
        self._check_process()
        with self._lock:
            self._usable()
            left_out, evicted = self._files.make_room([len(line) for line in lines], self._ledger)
            self._evicted += evicted
            if left_out:
                batch, lines = batch[left_out:], lines[left_out:]
            if not lines:
                return 0
            try:
                segment, start = self._files.write(b"".join(lines))
            except OSError as exc:
                raise SpoolWriteError.of(f"write to the spool in {self._dir!r}", exc) from None
            segment.records += len(lines)
            if held:
                self._ledger.hold_written(segment, start, [i for i, _ in batch], lines)
            self._spooled += len(lines)
            return len(lines)

    def sync(self) -> None:
        """fsync what was appended (and the directory after a new segment): power-loss safe.

        Raises:
            SpoolWriteError: an fsync failed; the segment is closed for writing,
                since what the disk kept of it is unknown.
            SpoolError: the spool is closed.
        """
        self._check_process()
        with self._lock:
            self._usable()
            try:
                self._files.sync()
            except OSError as exc:
                raise SpoolWriteError.of(f"fsync the spool in {self._dir!r}", exc) from None

    # -- settling and replay ------------------------------------------------------------------

    def settle(self, event_ids: Iterable[str]) -> int:
        """Mark held records settled (the server answered for them: accepted or rejected).

        Each settled record is listed in its segment's ``.acks`` file; a segment
        whose records are all settled is deleted. Ids this spool does not hold
        are ignored. Returns how many records were settled.
        """
        ids = list(event_ids)
        self._check_process()
        with self._lock:
            if self._closed:
                return 0
            settled = self._ledger.settle(ids)
            for segment, offsets in settled.items():
                try:
                    segment.ack(offsets)
                except OSError:
                    pass  # not listed: these are sent again later (the server de-duplicates)
                if segment.is_done():
                    self._files.drop(segment)
            return sum(len(offsets) for offsets in settled.values())

    def release(self, event_ids: Iterable[str]) -> int:
        """Give held records back unsettled: :meth:`replay` hands them out again, first.

        Returns how many were held (other ids are ignored).
        """
        ids = list(event_ids)
        self._check_process()
        with self._lock:
            return 0 if self._closed else self._ledger.release(ids)

    def replay(self, limit: int) -> list[SpoolRecord]:
        """Hand out up to ``limit`` unsettled records nobody holds, oldest first.

        Oldest first: by segment (creation time), then by place in the segment.
        Own segments and those of processes that are gone (their lock is free)
        are read; a live process's segments are left to it, so no record is
        handed to two processes. Each record returned is held until
        :meth:`settle` or :meth:`release`. Damaged records are quarantined and
        counted instead; a segment that can't be read is skipped.

        Raises:
            ValueError: ``limit`` is not a positive int.
            SpoolError: the spool is closed.
        """
        _check_positive("limit", limit)
        self._check_process()
        with self._lock:
            self._usable()
            out: list[SpoolRecord] = []
            for name in self._files.oldest_first():
                if len(out) >= limit:
                    break
                segment = self._files.get(name)
                if segment is None:
                    continue
                try:
                    self._corrupt += self._ledger.hand_out(segment, limit, out)
                except OSError:  # unreadable now: skip it, never stop the others
                    continue
                if segment.is_done():
                    self._files.drop(segment)
            self._replayed += len(out)
            return out


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
