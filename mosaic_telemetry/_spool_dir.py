"""The spool directory: created private, refused when shared, listed, cleaned of leftovers."""

from __future__ import annotations

import errno
import os
import stat

from ._spool_lock import same_file, try_lock
from ._spool_segment import NAME
from .errors import TelemetryError

__all__ = [
    "SpoolDirectoryError",
    "SpoolError",
    "SpoolWriteError",
    "clean_leftovers",
    "directory_problem",
    "list_files",
    "prepare_directory",
    "segment_bytes_on_disk",
]

_DIR_MODE = 0o700


class SpoolError(TelemetryError):
    """Base class of the spool's errors."""


class SpoolDirectoryError(SpoolError):
    """The spool directory can't be used safely: not a directory, shared, or not ours."""


class SpoolWriteError(SpoolError):
    """The spool could not write: a read-only or full disk, a quota, an I/O error.

    The caller keeps its events in memory instead (and says so once). ``errno``
    is the operating system's error number, when there was one.
    """

    def __init__(self, message: str, errno_value: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno_value

    @classmethod
    def of(cls, what: str, exc: OSError) -> SpoolWriteError:
        """The error for ``exc`` raised while doing ``what`` (``"write to /dir"``)."""
        code = exc.errno
        name = errno.errorcode.get(code, "") if code is not None else ""
        reason = exc.strerror or type(exc).__name__
        return cls(f"cannot {what}: {reason}" + (f" ({name})" if name else ""), code)


def directory_problem(path: str) -> str | None:
    """Why the existing directory ``path`` is no place for a spool, or None when it is.

    POSIX only: it must be a directory owned by this user and writable by nobody
    else (a shared ``/tmp`` is refused). Windows has no such modes to check.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"spool_dir {path!r} cannot be read: {exc.strerror or exc}"
    if not stat.S_ISDIR(info.st_mode):
        return f"spool_dir {path!r} must be a directory"
    if os.name != "posix":
        return None
    uid = os.geteuid()
    if info.st_uid != uid:
        return (
            f"spool_dir {path!r} must belong to this user (uid {uid}), "
            f"it belongs to uid {info.st_uid}"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"spool_dir {path!r} must not be writable by group or others, "
            f"got mode {stat.S_IMODE(info.st_mode):04o} (use a private directory)"
        )
    return None


def prepare_directory(directory: str | os.PathLike[str]) -> str:
    """Create ``directory`` (mode 0700) if it is missing, check it, return its absolute path.

    Raises:
        SpoolDirectoryError: it is not a directory, or it is shared (see
            :func:`directory_problem`).
        SpoolWriteError: it can't be created or written (a read-only disk, ...).
    """
    path = os.path.abspath(os.fspath(directory))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mkdir(path, _DIR_MODE)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SpoolWriteError.of(f"create spool_dir {path!r}", exc) from None
    else:
        try:
            os.chmod(path, _DIR_MODE)  # exactly 0700, whatever the umask let through
        except OSError as exc:
            raise SpoolWriteError.of(f"set the mode of spool_dir {path!r}", exc) from None
    problem = directory_problem(path)
    if problem is not None:
        raise SpoolDirectoryError(problem)
    if not os.access(path, os.W_OK | os.X_OK):
        raise SpoolWriteError(f"cannot write to spool_dir {path!r}: read-only", errno.EACCES)
    return path


def list_files(directory: str) -> dict[str, list[str]]:
    """The spool's files by kind (``jsonl``, ``acks``, ``tmp``), each list oldest first."""
    found: dict[str, list[str]] = {"jsonl": [], "acks": [], "tmp": []}
    with os.scandir(directory) as entries:
        for entry in entries:
            match = NAME.match(entry.name)
            if match is not None:
                found[match[4]].append(entry.name)
    for names in found.values():
        names.sort()
    return found


def clean_leftovers(directory: str, files: dict[str, list[str]]) -> None:
    """Delete what crashed processes left half-done: unlocked ``.tmp``, orphan ``.acks``.

    A ``.tmp`` is a segment that was never renamed into place, so it holds no
    record. An ``.acks`` without its segment is what a crash between the two
    unlinks of a removal leaves. Errors are ignored: the next open tries again.
    """
    for name in files["tmp"]:
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if try_lock(fd) and same_file(fd, path):
                os.unlink(path)
        except OSError:
            pass
        finally:
            os.close(fd)
    segments = set(files["jsonl"])
    for name in files["acks"]:
        segment = name[: -len(".acks")] + ".jsonl"
        # Checked again now: a segment is created before its .acks and removed before it.
        if segment not in segments and not os.path.exists(os.path.join(directory, segment)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def segment_bytes_on_disk(directory: str, names: list[str]) -> dict[str, int]:
    """The size of each named segment that still exists."""
    sizes: dict[str, int] = {}
    for name in names:
        try:
            sizes[name] = os.stat(os.path.join(directory, name)).st_size
        except OSError:
            continue
    return sizes
