"""Socket reading under one deadline per request, and log text made safe to print."""

from __future__ import annotations

import io
import re
import socket
import time

__all__ = [
    "MAX_HEADERS",
    "DeadlineReader",
    "HeaderError",
    "escape_controls",
    "parse_request_line",
    "read_headers",
]

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return "\\\\" if char == "\\" else f"\\x{ord(char):02x}"


def escape_controls(text: str) -> str:
    r"""``text`` with control characters (and backslashes) written as ``\xNN`` escapes.

    A request line can hold CR, LF or terminal escapes; written raw to a log, they
    could forge lines or recolour a terminal.
    """
    return _CONTROLS.sub(_escape, text)


class DeadlineReader(io.RawIOBase):
    """A socket's bytes, where a whole request must arrive within ``request_s``.

    Waiting for the first byte of a request (an idle keep-alive connection) may
    take ``idle_s``; from that byte on, every read shares one deadline, so a peer
    that trickles a byte at a time can't hold a thread longer. ``begin()`` starts
    the next request. A read past the deadline raises ``TimeoutError``.
    """

    def __init__(self, sock: socket.socket, *, idle_s: float, request_s: float) -> None:
        super().__init__()
        self._sock = sock
        self._idle_s = idle_s
        self._request_s = request_s
        self._deadline: float | None = None

    def begin(self) -> None:
        """The next byte starts a new request (and its deadline)."""
        self._deadline = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]  # the buffer types sockets take
        deadline = self._deadline
        if deadline is None:
            self._sock.settimeout(self._idle_s)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the request did not arrive in time")
            self._sock.settimeout(remaining)
        count = self._sock.recv_into(buffer)
        if deadline is None and count:
            self._deadline = time.monotonic() + self._request_s
        return count


MAX_HEADERS = 100
MAX_LINE = 65536
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class HeaderError(Exception):
    """A header block the collector refuses: ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


def read_headers(rfile: io.BufferedIOBase) -> list[tuple[str, str]]:
    """Read header lines up to the blank line; names and values as latin-1 text.

    A plain split, not the ``email`` parser ``http.server`` uses (which costs a
    quarter of a millisecond a request here).

    Raises:
        HeaderError: 431 for a line over 64 KiB or more than 100 headers, 400 for
            a line that is not ``name: value`` (folded lines included).
    """
    headers: list[tuple[str, str]] = []
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeaderError(431, "header line too long")
        if line in (b"\r\n", b"\n", b""):
            return headers
        if len(headers) >= MAX_HEADERS:
            raise HeaderError(431, f"more than {MAX_HEADERS} headers")
        text = line.decode("iso-8859-1").rstrip("\r\n")
        name, colon, value = text.partition(":")
        if not colon or _TOKEN.fullmatch(name) is None:
            raise HeaderError(400, "malformed header line")
        headers.append((name, value.strip(" \t")))


def parse_request_line(line: str) -> tuple[str, str, str]:
    """Split ``METHOD PATH HTTP/x.y`` (CR/LF already stripped).

    Raises:
        HeaderError: 400 for anything else (HTTP/0.9 lines included), 505 for
            HTTP/2 and later.
    """
    words = line.split()
    if len(words) != 3:
        raise HeaderError(400, f"bad request line ({line[:100]!r})")
    command, path, version = words
    major, dot, minor = version[5:].partition(".")
    if not (
        version.startswith("HTTP/")
        and dot
        and major.isdigit()
        and minor.isdigit()
        and len(major) <= 10
        and len(minor) <= 10
    ):
        raise HeaderError(400, f"bad request version ({version[:40]!r})")
    if int(major) >= 2:
        raise HeaderError(505, f"HTTP version {major}.{minor} is not supported")
    return command, path, version
