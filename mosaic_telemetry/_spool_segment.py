"""One segment file of the spool and its ``.acks`` side file: create, claim, write, read, remove.

A segment ``seg-<ns>-<pid>-<token>.jsonl`` is appended to by the one process that
created it and read by whichever process holds its lock. Its ``.acks`` file lists,
one byte offset a line (16 hex digits), the records that are settled (the server
answered for them, or they were damaged and quarantined). Removal unlinks the
segment first and its ``.acks`` second, so a crash in between leaves an ``.acks`` without a
segment, which the next open deletes; a missing file is never an error.
"""

from __future__ import annotations

import os
import re
import time

from ._spool_io import (
    append_to,
    complete_size,
    open_file,
    read_acks,
    read_at,
    unlink_if_there,
    write_all,
)
from ._spool_lock import same_file, try_lock

__all__ = ["NAME", "QUARANTINE", "Segment", "acks_path_of"]

NAME = re.compile(r"\Aseg-(\d{20})-(\d{1,10})-([0-9a-f]{8})\.(jsonl|acks|tmp)\Z")
"""Every file the spool owns in its directory, but :data:`QUARANTINE`."""
QUARANTINE = "quarantine.jsonl"
"""The side file damaged records are moved to, one JSON object a line."""


def acks_path_of(segment_path: str) -> str:
    """The ``.acks`` file of the segment at ``segment_path``."""
    return segment_path[: -len(".jsonl")] + ".acks"


class Segment:
    """A segment this process holds the lock of, with what it knows of its records.

    ``records`` counts the complete lines known so far (every one for an own
    segment; for an adopted one, those up to ``scanned``), ``settled`` holds the
    offsets of settled ones and ``settled_count`` how many of ``records`` those
    are. ``held`` maps the offset of each record handed out (in memory somewhere)
    to its length; ``pending`` lists ``(offset, length)`` of records read once and
    given back, to be handed out again first.
    """

    __slots__ = (
        "_acks_fd",
        "active",
        "fd",
        "held",
        "name",
        "own",
        "path",
        "pending",
        "records",
        "scanned",
        "settled",
        "settled_count",
        "size",
    )

    def __init__(self, path: str, fd: int, *, own: bool, size: int, settled: set[int]) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.fd = fd
        self.own = own
        self.active = own
        self.size = size
        self.records = 0
        self.settled = settled
        self.settled_count = 0
        self.scanned = 0
        self.held: dict[int, int] = {}
        self.pending: list[tuple[int, int]] = []
        self._acks_fd = -1

    @property
    def acks_path(self) -> str:
        """The path of this segment's ``.acks`` file."""
        return acks_path_of(self.path)

    @classmethod
    def create(cls, directory: str, pid: int) -> Segment:
        """A new, empty, locked segment of this process, named into place by a rename.

        It is created as ``.tmp`` and locked before the rename, so no other process
        can see it under its ``.jsonl`` name unlocked and adopt it.

        Raises:
            OSError: the file could not be created (read-only or full disk, ...).
        """
        while True:
            stem = f"seg-{time.time_ns():020d}-{pid}-{os.urandom(4).hex()}"
            temp = os.path.join(directory, stem + ".tmp")
            try:
                fd = open_file(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND)
            except FileExistsError:  # the same nanosecond and token: draw again
                continue
            try:
                if not try_lock(fd):  # a cleaner took it for a leftover: try another name
                    os.close(fd)
                    continue
                path = os.path.join(directory, stem + ".jsonl")
                os.rename(temp, path)
            except BaseException:
                os.close(fd)
                unlink_if_there(temp)
                raise
            return cls(path, fd, own=True, size=0, settled=set())

    @classmethod
    def claim(cls, path: str) -> Segment | None:
        """Lock a segment whose writer is gone and make it ours; None if it is not free.

        A torn last record (no newline: its writer died mid-write) is cut off here,
        and an empty segment is removed.

        Raises:
            OSError: the file could not be read or truncated.
        """
        try:
            fd = open_file(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            # A lock got after its holder removed the file would be on a dead file.
            if not try_lock(fd) or not same_file(fd, path):
                os.close(fd)
                return None
            size = complete_size(fd, os.fstat(fd).st_size)
            if size != os.fstat(fd).st_size:
                os.ftruncate(fd, size)
        except BaseException:
            os.close(fd)
            raise
        segment = cls(path, fd, own=False, size=size, settled=read_acks(acks_path_of(path)))
        segment.active = False
        if size == 0:
            segment.remove()
            return None
        return segment

    def write(self, blob: bytes) -> None:
        """Append ``blob`` (whole records); on failure the file is cut back to ``size``.

        Raises:
            OSError: the write failed; ``size`` is unchanged.
        """
        try:
            write_all(self.fd, blob)
        except OSError:
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                self.active = False  # a torn tail stays: never write after it
            raise
        self.size += len(blob)

    def read_at(self, offset: int, length: int) -> bytes:
        """The ``length`` bytes at ``offset`` (one record line)."""
        return read_at(self.fd, offset, length)

    def ack(self, offsets: list[int]) -> None:
        """Append ``offsets`` to the ``.acks`` file (not fsynced: a lost one means a resend).

        Raises:
            OSError: the file could not be written.
        """
        text = b"".join(b"%016x\n" % offset for offset in offsets)
        if self._acks_fd < 0:
            fd = open_file(self.acks_path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
            try:
                size = os.lseek(fd, 0, os.SEEK_END)
                if size and read_at(fd, size - 1, 1) != b"\n":
                    text = b"\n" + text  # end a line torn by a holder that died, keep ours whole
            except OSError:
                os.close(fd)
                raise
            self._acks_fd = fd
        write_all(self._acks_fd, text)

    def quarantine(self, offset: int, line: bytes) -> None:
        """Copy the damaged record at ``offset`` to :data:`QUARANTINE` and settle it here.

        Best effort: a record that can't be copied is settled all the same (it is
        unreadable either way), so it is never tried, and counted, twice.
        """
        import json  # noqa: PLC0415  # only for damaged records

        entry = {
            "segment": self.name,
            "offset": offset,
            "line": line.decode("utf-8", "surrogateescape"),
        }
        text = json.dumps(entry, ensure_ascii=True).encode("ascii") + b"\n"
        try:
            append_to(os.path.join(os.path.dirname(self.path), QUARANTINE), text)
        except OSError:
            pass
        self.settled.add(offset)
        self.settled_count += 1
        try:
            self.ack([offset])
        except OSError:
            pass

    def is_done(self) -> bool:
        """Whether every record is settled and none is in memory: the files can go."""
        if self.active or self.held or self.pending:
            return False
        if not self.own and self.scanned < self.size:
            return False
        return self.settled_count >= self.records

    def remove(self) -> None:
        """Delete the segment, then its ``.acks``, then let go of the lock; never raises.

        If the segment can't be deleted (a disk turned read-only), its ``.acks``
        stays too, so the next holder still sees every record settled.
        """
        if os.name == "nt":  # Windows deletes no file that is open, ours included
            self.close()
        try:
            unlink_if_there(self.path)
            unlink_if_there(self.acks_path)
        except OSError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Close the files (which lets go of the lock); never raises."""
        for fd in (self.fd, self._acks_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fd = self._acks_fd = -1
