"""Raw TCP peers on 127.0.0.1 that break HTTP on purpose, and a tiny forward/CONNECT proxy.

Each :class:`RawServer` runs one behaviour per accepted connection on its own
thread; ``stop()`` shuts every socket down and joins every thread, so nothing
outlives a test. Behaviours: :func:`trickle` (the answer, two bytes a second),
:func:`silent` (reads the request, never answers), :func:`never_read` (never reads
at all), :func:`endless_body` (headers, then a body that never ends) and
:func:`proxy` (HTTP forward proxy and ``CONNECT`` tunnel).
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = [
    "ProxyLog",
    "RawServer",
    "dead_port",
    "endless_body",
    "never_read",
    "proxy",
    "raw_server",
    "read_request",
    "silent",
    "trickle",
]

Behaviour = Callable[[socket.socket, threading.Event], None]

ACCEPTED = json.dumps({"accepted": 0, "rejected": 0, "results": []}).encode()


def http_answer(status: int = 202, body: bytes = ACCEPTED) -> bytes:
    """A complete HTTP/1.1 answer with a Content-Length."""
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


class RawServer:
    """Accepts on ``127.0.0.1:<ephemeral>``; runs ``behaviour(conn, stopping)`` per connection."""

    def __init__(self, behaviour: Behaviour, *, receive_buffer: int | None = None) -> None:
        self._behaviour = behaviour
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:  # before listen(): accepted sockets inherit it
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, name=f"raw-{self.port}", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self.connections += 1
                self._sockets.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._behaviour(conn, self._stopping)
        except OSError:
            pass  # the client gave up: its business
        finally:
            conn.close()

    def stop(self) -> None:
        """Shut every connection down and join every thread."""
        self._stopping.set()
        self._acceptor.join(5.0)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(5.0)


@contextmanager
def raw_server(behaviour: Behaviour, *, receive_buffer: int | None = None) -> Iterator[RawServer]:
    """A started :class:`RawServer`, stopped at the end of the block."""
    server = RawServer(behaviour, receive_buffer=receive_buffer)
    try:
        yield server
    finally:
        server.stop()


def read_request(conn: socket.socket, stopping: threading.Event) -> tuple[bytes, bytes]:
    """Read one request: (head, body) by its Content-Length; ``(b"", b"")`` at EOF."""
    conn.settimeout(0.1)
    data = b""
    while b"\r\n\r\n" not in data:
        if stopping.is_set():
            return b"", b""
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return b"", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length and not stopping.is_set():
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        body += chunk
    return head, body


def trickle(answer: bytes | None = None, *, bytes_per_s: float = 2.0) -> Behaviour:
    """Read the request, then send ``answer`` a few bytes at a time, slowly."""
    payload = answer if answer is not None else http_answer()

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        read_request(conn, stopping)
        for index in range(0, len(payload), 2):
            if stopping.wait(2 / bytes_per_s):
                return
            conn.sendall(payload[index : index + 2])

    return behave


def silent() -> Behaviour:
    """Read the request and never answer."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        read_request(conn, stopping)
        stopping.wait(60.0)

    return behave


def never_read() -> Behaviour:
    """Accept, with a tiny receive buffer, and never read a byte."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        stopping.wait(60.0)

    return behave


def endless_body(*, chunk: bytes = b"x" * 4096, pause_s: float = 0.0) -> Behaviour:
    """Read the request, send 200 headers without a length, then body bytes forever."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        read_request(conn, stopping)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
        while not stopping.is_set():
            conn.sendall(chunk)
            if pause_s:
                stopping.wait(pause_s)

    return behave


@dataclass
class ProxyLog:
    """What a :func:`proxy` saw: request lines and ``Proxy-Authorization`` values."""

    lines: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


def proxy(log: ProxyLog) -> Behaviour:
    """An HTTP proxy: absolute-form requests are forwarded, ``CONNECT`` opens a tunnel."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        head, body = read_request(conn, stopping)
        if not head:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [line for line in lines[1:] if line]
        auth = next(
            (
                h.split(":", 1)[1].strip()
                for h in headers
                if h.lower().startswith("proxy-authorization:")
            ),
            None,
        )
        log.lines.append(lines[0])
        log.auth.append(auth)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=5.0)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _relay(conn, upstream, stopping)
            return
        rest = target.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=5.0)
        kept = [h for h in headers if not h.lower().startswith(("proxy-", "connection:"))]
        request = "\r\n".join([f"{method} /{path} HTTP/1.1", *kept, "Connection: close", "", ""])
        upstream.sendall(request.encode("latin-1") + body)
        _relay(conn, upstream, stopping, one_way=True)

    return behave


def _relay(
    client: socket.socket,
    upstream: socket.socket,
    stopping: threading.Event,
    *,
    one_way: bool = False,
) -> None:
    """Copy bytes both ways until a side closes (``one_way``: the answer only, then close)."""
    sockets = [upstream] if one_way else [client, upstream]
    try:
        while not stopping.is_set():
            ready, _, _ = select.select(sockets, [], [], 0.05)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    finally:
        upstream.close()


def dead_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
