"""SegmentFiles: the segments one process holds in a spool directory, their sizes and fsyncs.

It writes the process's own segment (a new one past ``segment_bytes``), claims
the segments of processes that are gone, removes segments once done, keeps the
directory under ``max_bytes`` by evicting the oldest, and knows what still needs
an fsync. Not thread-safe by itself: the spool calls it under its lock.
"""

from __future__ import annotations

import os

from ._spool_dir import list_files, segment_bytes_on_disk
from ._spool_io import iter_lines
from ._spool_segment import Segment

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from ._spool_ledger import Ledger

__all__ = ["SegmentFiles"]


class SegmentFiles:
    """Every segment whose lock this process holds, the one it writes, and the byte count."""

    __slots__ = (
        "_dir_dirty",
        "_unsynced",
        "active",
        "directory",
        "known_bytes",
        "max_bytes",
        "pid",
        "segment_bytes",
        "segments",
    )

    def __init__(
        self, directory: str, max_bytes: int, segment_bytes: int, known_bytes: int
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.known_bytes = known_bytes
        """Bytes of all segment files in the directory: exact for own writes, others as
        of the last count (at open, and whenever the bound is reached)."""
        self.pid = os.getpid()
        self.segments: dict[str, Segment] = {}
        self.active: Segment | None = None
        self._unsynced: set[Segment] = set()
        self._dir_dirty = False

    # -- writing ------------------------------------------------------------------------------

    def write(self, blob: bytes) -> tuple[Segment, int]:
        """Append ``blob`` (whole record lines) to the own segment; return it and the offset.

        Raises:
            OSError: the segment could not be created or written (nothing was written).
        """
        segment = self._writable()
        start = segment.size
        try:
            segment.write(blob)
        finally:
            if not segment.active:  # could not be cut back: the next write starts a new one
                self._retire(segment)
        self._unsynced.add(segment)
        self.known_bytes += segment.size - start
        return segment, start

    def _writable(self) -> Segment:
        active = self.active
        if active is not None and active.active and active.size < self.segment_bytes:
            return active
        if active is not None:
            self._retire(active)
        segment = Segment.create(self.directory, self.pid)
        self.segments[segment.name] = segment
        self.active = segment
        self._dir_dirty = True
        return segment

    def _retire(self, segment: Segment) -> None:
        """Close the own segment for writing; it stays (held) until its records are settled."""
        segment.active = False
        if segment is self.active:
            self.active = None
        if segment.is_done():
            self.drop(segment)

    def sync(self) -> None:
        """fsync every segment written since the last sync, then the directory if it changed.

        Raises:
            OSError: an fsync failed; that segment is closed for writing, since what
                the disk kept of it is unknown.
        """
        for segment in list(self._unsynced):
            try:
                os.fsync(segment.fd)
            except OSError:
                self._retire(segment)
                raise
            self._unsynced.discard(segment)
        if self._dir_dirty:
            _fsync_directory(self.directory)
            self._dir_dirty = False

    # -- segments of others -------------------------------------------------------------------

    def oldest_first(self) -> list[str]:
        """The names of every segment to read, held or in the directory, oldest first."""
        try:
            names = set(list_files(self.directory)["jsonl"])
        except OSError:
            names = set()
        return sorted(names | set(self.segments))

    def get(self, name: str) -> Segment | None:
        """The segment ``name``, held already or claimed now; None when it is not free."""
        segment = self.segments.get(name)
        if segment is not None:
            return segment
        try:
            segment = Segment.claim(os.path.join(self.directory, name))
        except OSError:
            return None
        if segment is not None:
            self.segments[name] = segment
        return segment

    def drop(self, segment: Segment) -> None:
        """Delete a segment's files and forget it."""
        segment.remove()
        self.segments.pop(segment.name, None)
        self._unsynced.discard(segment)
        if segment is self.active:
            self.active = None
        self.known_bytes = max(0, self.known_bytes - segment.size)

    # -- size bound ---------------------------------------------------------------------------

    def make_room(self, sizes: list[int], ledger: Ledger) -> tuple[int, int]:
        """Evict the oldest segments until records of ``sizes`` fit under ``max_bytes``.

        Only segments this process may lock are evicted (never a live process's).

        Returns:
            ``(left_out, evicted)``: how many of the records (the oldest of them)
            still do not fit, and how many unsettled records were evicted.
        """
        needed = sum(sizes)
        if self.known_bytes + needed <= self.max_bytes:
            return 0, 0
        try:
            on_disk = segment_bytes_on_disk(self.directory, list_files(self.directory)["jsonl"])
        except OSError:
            on_disk = {}
        on_disk.update({name: segment.size for name, segment in self.segments.items()})
        self.known_bytes = sum(on_disk.values())
        evicted = 0
        for name in sorted(on_disk):
            if self.known_bytes + needed <= self.max_bytes:
                break
            segment = self.get(name)
            if segment is not None:
                evicted += self._evict(segment, ledger)
        left_out = 0
        while left_out < len(sizes) and self.known_bytes + needed > self.max_bytes:
            needed -= sizes[left_out]
            left_out += 1
        return left_out, evicted + left_out

    def _evict(self, segment: Segment, ledger: Ledger) -> int:
        """Delete ``segment`` whole; return how many unsettled records it held."""
        unsettled = segment.records - segment.settled_count
        if not segment.own:  # the part not read yet is counted now
            try:
                for offset, _ in iter_lines(segment.fd, segment.scanned, segment.size):
                    unsettled += offset not in segment.settled
            except OSError:
                pass
        ledger.forget(segment)
        self.drop(segment)
        return unsettled

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the segments that are done, let go of the others (their records stay)."""
        if self.active is not None:
            self.active.active = False
            self.active = None
        for segment in list(self.segments.values()):
            segment.held.clear()
            segment.pending.clear()  # given back: unsettled, they stay on disk
            if segment.is_done():
                self.drop(segment)
            else:
                segment.close()
        self.segments.clear()
        self._unsynced.clear()

    def forget_all(self) -> None:
        """In a forked child: close the inherited descriptors (never unlock: the parent's)."""
        for segment in self.segments.values():
            segment.close()
        self.segments.clear()
        self._unsynced.clear()
        self.active = None
        self._dir_dirty = False
        self.pid = os.getpid()


def _fsync_directory(path: str) -> None:
    """fsync a directory, so a new name in it survives a power loss (POSIX only)."""
    if os.name != "posix":  # Windows can't open a directory; NTFS journals names itself
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
