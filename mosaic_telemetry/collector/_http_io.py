"""Socket reading under one deadline per request, and log text made safe to print."""

from __future__ import annotations

import io
import re
import socket
import time

__all__ = ["DeadlineReader", "escape_controls"]

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
