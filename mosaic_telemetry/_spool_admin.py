"""What a spool directory holds, and emptying it: the ``spool status`` and ``spool purge`` work.

Neither creates the directory or writes into a segment. A segment whose writer
is alive (its lock is taken) is shown as live and never purged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ._spool_dir import SpoolDirectoryError, clean_leftovers, directory_problem, list_files
from ._spool_io import iter_lines, read_acks
from ._spool_lock import locks_across_processes, same_file, try_lock
from ._spool_record import decode_line
from ._spool_segment import QUARANTINE, acks_path_of

__all__ = ["PurgeResult", "SegmentStatus", "SpoolStatus", "inspect_spool", "purge_spool"]


@dataclass(frozen=True, slots=True)
class SegmentStatus:
    """One segment file: its size and records, and whether a live process holds it."""

    name: str
    size: int
    unsent: int
    settled: int
    damaged: int
    live: bool


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    """Everything a spool directory holds."""

    directory: str
    exists: bool
    segments: tuple[SegmentStatus, ...] = ()
    quarantined: int = 0
    locks: bool = True
    """Whether live segments can be told apart (False without fcntl)."""

    @property
    def unsent(self) -> int:
        """Records waiting to be sent, in every segment."""
        return sum(segment.unsent for segment in self.segments)

    @property
    def size(self) -> int:
        """Bytes of segment files."""
        return sum(segment.size for segment in self.segments)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What ``purge_spool`` deleted, and the segments it kept because they are live."""

    segments: int = 0
    unsent: int = 0
    quarantined: int = 0
    kept_live: int = 0


def _checked(directory: str | os.PathLike[str]) -> str | None:
    """The absolute path, or None when it does not exist.

    Raises:
        SpoolDirectoryError: it exists but is no private directory.
    """
    path = os.path.abspath(os.fspath(directory))
    if not os.path.lexists(path):
        return None
    problem = directory_problem(path)
    if problem is not None:
        raise SpoolDirectoryError(problem)
    return path


def inspect_spool(directory: str | os.PathLike[str]) -> SpoolStatus:
    """Count what the spool in ``directory`` holds, without changing anything.

    Raises:
        SpoolDirectoryError: the path is not a private directory.
        OSError: it can't be read.
    """
    path = _checked(directory)
    if path is None:
        return SpoolStatus(os.path.abspath(os.fspath(directory)), exists=False)
    segments = []
    for name in list_files(path)["jsonl"]:
        status = _segment_status(os.path.join(path, name))
        if status is not None:
            segments.append(status)
    return SpoolStatus(
        path,
        exists=True,
        segments=tuple(segments),
        quarantined=_count_lines(os.path.join(path, QUARANTINE)),
        locks=locks_across_processes(),
    )


def _segment_status(path: str) -> SegmentStatus | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:  # removed since the listing
        return None
    try:
        # A shared lock fails only while a writer or claimer holds its exclusive one.
        live = not try_lock(fd, shared=True)
        settled_offsets = read_acks(acks_path_of(path))
        unsent = settled = damaged = 0
        for offset, line in iter_lines(fd, 0, os.fstat(fd).st_size):
            if offset in settled_offsets:
                settled += 1
            elif decode_line(line) is None:
                damaged += 1
            else:
                unsent += 1
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    return SegmentStatus(os.path.basename(path), size, unsent, settled, damaged, live)


def _count_lines(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 16), b""))
    except FileNotFoundError:
        return 0


def purge_spool(directory: str | os.PathLike[str]) -> PurgeResult:
    """Delete every segment no live process holds, its ``.acks``, leftovers and the quarantine.

    Raises:
        SpoolDirectoryError: the path is not a private directory.
        OSError: a file could not be deleted.
    """
    path = _checked(directory)
    if path is None:
        return PurgeResult()
    files = list_files(path)
    removed = unsent = kept = 0
    for name in files["jsonl"]:
        segment_path = os.path.join(path, name)
        try:
            fd = os.open(segment_path, os.O_RDWR | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            continue
        try:
            if not try_lock(fd):
                kept += 1
                continue
            if not same_file(fd, segment_path):  # removed by its holder meanwhile
                continue
            settled = read_acks(acks_path_of(segment_path))
            size = os.fstat(fd).st_size
            count = sum(offset not in settled for offset, _ in iter_lines(fd, 0, size))
            try:
                os.unlink(segment_path)
            except PermissionError:  # Windows: another process has it open
                kept += 1
                continue
            _unlink_quietly(acks_path_of(segment_path))
            removed += 1
            unsent += count
        finally:
            os.close(fd)
    clean_leftovers(path, list_files(path))
    quarantine = os.path.join(path, QUARANTINE)
    quarantined = _count_lines(quarantine)
    _unlink_quietly(quarantine)
    return PurgeResult(removed, unsent, quarantined, kept)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
