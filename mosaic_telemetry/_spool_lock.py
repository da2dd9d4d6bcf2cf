"""Locks on spool files that die with their process: ``fcntl.flock``, or none without fcntl.

A process holds an exclusive ``flock`` on every segment it writes or has claimed
for sending, from the moment it opens the file until it closes it. The kernel
drops the lock when the process dies (``kill -9`` included), which is how another
process knows a segment is free to adopt. ``flock`` locks belong to the open file
description: a forked child shares its parent's lock, so the child must only close
its copies (never ``LOCK_UN``, which would unlock the parent's too).

Without ``fcntl`` (Windows), :func:`try_lock` always succeeds: one directory is
then meant for one process at a time (see docs/spool.md). ``fcntl`` is imported on
first use, so the package imports everywhere.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["locks_across_processes", "same_file", "try_lock"]

_UNSET = object()
_fcntl: object = _UNSET


def _fcntl_module() -> ModuleType | None:
    global _fcntl  # noqa: PLW0603  # imported once, on first use
    if _fcntl is _UNSET:
        try:
            import fcntl  # noqa: PLC0415  # POSIX only: Windows has no fcntl
        except ImportError:
            _fcntl = None
        else:
            _fcntl = fcntl
    return _fcntl  # type: ignore[return-value]  # the module or None, set just above


def locks_across_processes() -> bool:
    """Whether locks keep other processes out (True on POSIX, False without fcntl)."""
    return _fcntl_module() is not None


def try_lock(fd: int, *, shared: bool = False) -> bool:
    """Take an exclusive (or shared) lock on ``fd`` without waiting; False when it is taken.

    Raises:
        OSError: the file system refused the lock for another reason.
    """
    fcntl = _fcntl_module()
    if fcntl is None:
        return True
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:  # EWOULDBLOCK: another open file holds it
        return False
    return True


def same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not removed or replaced)."""
    try:
        named = os.stat(path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
