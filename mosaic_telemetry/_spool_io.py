"""The spool's file I/O: files made 0600, whole writes, reads at an offset, lines, acks.

Plain ``os`` calls (no ``os.pread``, which Windows lacks; ``O_BINARY`` there, so
no newline is translated). Callers hold the spool's lock, so seeking is safe.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "append_to",
    "complete_size",
    "iter_lines",
    "open_file",
    "read_acks",
    "read_at",
    "unlink_if_there",
    "write_all",
]

_ACK_DIGITS = 16
_HEX = frozenset(b"0123456789abcdef")
_CHUNK = 1 << 16  # a replay of 100 records reads about one chunk
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_FILE_MODE = 0o600


def open_file(path: str, flags: int) -> int:
    """``os.open`` of a spool file: mode 0600, not inherited, binary."""
    return os.open(path, flags | _O_CLOEXEC | _O_BINARY, _FILE_MODE)


def append_to(path: str, data: bytes) -> None:
    """Append ``data`` to the file at ``path`` (created 0600) with one write.

    Raises:
        OSError: the file could not be opened or written.
    """
    fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data``: a write may take only part of it (a signal, a file limit)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def unlink_if_there(path: str) -> None:
    """Delete ``path``; a file that is gone already is no error."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_acks(path: str) -> set[int]:
    """The offsets listed in an ``.acks`` file; a torn or damaged line is skipped.

    Every line has the same width, so neither a torn line (shorter) nor one that a
    later write ran into (longer) can pass for an offset: at worst a record is
    sent again, never taken for settled.
    """
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except FileNotFoundError:
        return set()
    lines = text.split(b"\n")[:-1]  # what follows the last newline is torn
    return {int(line, 16) for line in lines if len(line) == _ACK_DIGITS and _HEX.issuperset(line)}


def iter_lines(fd: int, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` of every complete line (with its ``\\n``) from ``start`` to ``end``.

    The file is read a chunk at a time as the caller goes on (lazily), so a caller
    that stops after a few records reads little.
    """
    position = start
    carry = b""
    while position < end:
        os.lseek(fd, position, os.SEEK_SET)
        chunk = os.read(fd, min(_CHUNK, end - position))
        if not chunk:
            break
        data = carry + chunk
        base = position - len(carry)
        position += len(chunk)
        cut = data.rfind(b"\n") + 1
        offset = base
        for piece in data[: cut - 1].split(b"\n") if cut else ():
            yield offset, piece + b"\n"
            offset += len(piece) + 1
        carry = data[cut:]


def read_at(fd: int, offset: int, length: int) -> bytes:
    """The ``length`` bytes of ``fd`` at ``offset``."""
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, length)


def complete_size(fd: int, size: int) -> int:
    """The size of ``fd`` without its torn last line: just past its last newline."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        os.lseek(fd, start, os.SEEK_SET)
        chunk = os.read(fd, end - start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0
