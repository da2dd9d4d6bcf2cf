"""HTTP/1.1 over a plain socket for ``http://`` without a proxy: one request, one bounded answer.

What ``http.client`` would do for the client's two requests (a POST of JSON bytes, a
GET), without what it imports at its top (``email.parser``, and ``ssl`` even for
``http://``): a cold start pays ~40 % less for its first send. The answer is read as
``http.client`` reads it: interim 1xx answers skipped, ``Content-Length``, chunked or
read-to-close bodies, ``Connection: close`` and HTTP/1.0 honoured, at most
``limit + 1`` body bytes; the failures carry ``http.client``'s names and meanings, so
a diagnosis reads the same over either path. The socket bounds each call by the
request's deadline (``_sockets.DeadlineSocket``); this module only reads and writes.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import socket

__all__ = [
    "Answer",
    "BadStatusLine",
    "IncompleteRead",
    "LineTooLong",
    "RemoteDisconnected",
    "WireError",
    "host_header",
    "request_bytes",
]

_MAX_LINE = 65536  # http.client's _MAXLINE
_MAX_HEADERS = 100  # http.client's _MAXHEADERS
_RECV = 65536
_CONTROLS = dict.fromkeys([*range(32), 127])
"""Characters no request line or header may hold (``str.translate`` drops them)."""


class WireError(Exception):
    """The peer's answer is not valid HTTP/1.1 (``http.client.HTTPException``'s counterpart)."""


class RemoteDisconnected(WireError, ConnectionResetError):
    """The peer closed the connection before the status line (a stale keep-alive socket)."""


class BadStatusLine(WireError):
    """The first line of the answer is not an HTTP status line."""


class LineTooLong(WireError):
    """A status, header or chunk-size line longer than 64 KiB."""


class IncompleteRead(WireError):
    """The peer hung up before the body it announced was complete."""

    def __init__(self, partial: bytes, expected: int | None) -> None:
        super().__init__(f"{len(partial)} bytes read, {expected} more expected")
        self.partial = partial
        self.expected = expected


def host_header(host: str, port: int) -> str:
    """The ``Host`` value ``http.client`` sends: IDNA for a non-ASCII name, no port 80."""
    netloc = host if host.isascii() else host.encode("idna").decode("ascii")
    if ":" in netloc:
        netloc = f"[{netloc}]"
    return netloc if port == 80 else f"{netloc}:{port}"


def request_bytes(
    method: str, path: str, headers: dict[str, str], body: bytes | None, *, host: str
) -> bytes:
    """The request's bytes: the headers ``http.client`` adds (Host, Accept-Encoding, length) first.

    Raises:
        ValueError: CR, LF or another control character in the path or a header.
    """
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    for name, value in headers.items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines)
    if len(head.translate(_CONTROLS)) != len(head) - 2 * (len(lines) - 1):
        # header injection (CR/LF in a value), as http.client refuses it
        raise ValueError(f"invalid character in the request line or headers: {head[:80]!r}")
    data = (head + "\r\n\r\n").encode("latin-1")
    return data + body if body else data


class Answer:
    """Reads one answer from ``sock`` (status, headers, body), leaving the socket ready or not."""

    __slots__ = ("_buffer", "_sock", "chunked", "length", "reason", "status", "will_close")

    def __init__(self, sock: socket.socket, buffer: bytearray) -> None:
        self._sock = sock
        self._buffer = buffer
        self.status = 0
        self.reason = ""
        self.length: int | None = None
        self.chunked = False
        self.will_close = False

    def read_head(self) -> dict[str, str]:
        """Status line and headers (lower-case names; repeats joined by ``, ``); 1xx skipped.

        Raises:
            WireError: no answer, or one that is not HTTP.
            OSError: the socket failed or timed out.
        """
        while True:
            line = self._line()
            if not line:
                raise RemoteDisconnected("Remote end closed connection without response")
            version, status, reason = _status_line(line)
            headers = self._headers()
            if status >= 200:
                break
            # 1xx (100 Continue and the like): another answer follows
        self.status, self.reason = status, reason
        self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = headers.get("content-length")
        if length is not None and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            self.will_close = "keep-alive" not in connection and "keep-alive" not in headers
        else:
            self.will_close = "close" in connection
        if status in (204, 304):
            self.length, self.chunked = 0, False
        if not self.chunked and self.length is None:
            self.will_close = True  # the body ends when the peer closes
        return headers

    def read_body(self, limit: int) -> bytes:
        """At most ``limit`` bytes of the body (the caller asks for one past its cap).

        Raises:
            IncompleteRead: the peer hung up before the announced length or the last chunk.
            WireError: a chunk-size line that is not hexadecimal.
            OSError: the socket failed or timed out.
        """
        if self.chunked:
            return self._chunked(limit)
        if self.length is None:
            return self._until_close(limit)
        want = min(self.length, limit)
        data = self._exactly(want, self.length)
        self.length -= len(data)
        return data

    # -- reading ---------------------------------------------------------------------

    def _fill(self) -> bool:
        chunk = self._sock.recv(_RECV)
        if not chunk:
            return False
        self._buffer += chunk
        return True

    def _line(self) -> bytes:
        buffer = self._buffer
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end >= 0:
                if end > _MAX_LINE:
                    raise LineTooLong("header line")
                line = bytes(buffer[: end + 1])
                del buffer[: end + 1]
                return line
            if len(buffer) > _MAX_LINE:
                raise LineTooLong("header line")
            start = len(buffer)
            if not self._fill():
                line = bytes(buffer)
                buffer.clear()
                return line

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, colon, value = line.decode("iso-8859-1").partition(":")
            if not colon:
                continue  # http.client's parser skips a line that is no header
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        raise WireError(f"got more than {_MAX_HEADERS} headers")

    def _exactly(self, want: int, expected: int) -> bytes:
        buffer = self._buffer
        while len(buffer) < want:
            if not self._fill():
                partial = bytes(buffer)
                buffer.clear()
                raise IncompleteRead(partial, expected - len(partial))
        data = bytes(buffer[:want])
        del buffer[:want]
        return data

    def _until_close(self, limit: int) -> bytes:
        buffer = self._buffer
        while len(buffer) < limit and self._fill():
            pass
        data = bytes(buffer[:limit])
        del buffer[:limit]
        return data

    def _chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < limit:
            line = self._line()
            if not line:
                raise IncompleteRead(b"".join(parts), None)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise WireError(f"invalid chunk size {size_text[:20]!r}") from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.chunked = False
                self.length = 0
                return b"".join(parts)
            take = min(size, limit - got)
            try:
                parts.append(self._exactly(take, size))
                if take == size:
                    self._exactly(2, 2)  # the CRLF after the chunk
            except IncompleteRead as exc:
                raise IncompleteRead(b"".join(parts) + exc.partial, None) from None
            got += take
        return b"".join(parts)


def _status_line(line: bytes) -> tuple[str, int, str]:
    text = line.decode("iso-8859-1")
    parts = text.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise BadStatusLine(repr(text[:80]))
    status_text = parts[1]
    if len(status_text) != 3 or not status_text.isdigit() or not 100 <= int(status_text) <= 999:
        raise BadStatusLine(repr(text[:80]))
    return parts[0], int(status_text), parts[2].strip() if len(parts) > 2 else ""
