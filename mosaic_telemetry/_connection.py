"""One HTTP/1.1 keep-alive connection whose every request has a hard deadline.

The deadline covers the whole request, not each socket call (see ``_sockets.py``):
a peer that trickles a byte a second, never reads, never answers or sends an
endless body ends the request at its deadline. ``http://`` without a proxy speaks
HTTP/1.1 on the socket itself (``_wire.py``); ``https://`` and proxies go through
``http.client``, imported (with ``ssl`` and ``email``) only then.
"""

from __future__ import annotations

import os
import select
import socket
import time

from ._diagnose import Phase, TransportError, describe
from ._http import MAX_RESPONSE_BYTES, HttpResult
from ._sockets import DeadlineSocket, arm, resolve
from ._wire import Answer, WireError, host_header, request_bytes

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import http.client
    import ssl

    from ._deadline import Deadline
    from ._route import Route


__all__ = ["Connection"]


class _Progress:
    """How far the request in progress got, and its deadline (what a failure is named by).

    http.client calls :meth:`open_socket` to connect; it is this object's, not the
    connection's, so no reference cycle keeps sockets alive past their owner.
    """

    __slots__ = ("deadline", "opened", "phase")

    def __init__(self) -> None:
        self.deadline: Deadline | None = None
        self.phase = Phase.CONNECT
        self.opened = 0
        """How many TCP connections were opened."""

    def open_socket(
        self, address: tuple[str, int], timeout: object = None, source: object = None
    ) -> DeadlineSocket:
        """``socket.create_connection`` with the request's deadline, DNS included."""
        deadline = self.deadline
        if deadline is None:  # connect() is only called from _exchange, which sets it
            raise TimeoutError("no deadline for this connection")
        host, port = address
        self.phase = Phase.DNS
        infos = resolve(host, port, deadline)
        self.phase = Phase.CONNECT
        failure: OSError = OSError(f"no address for {host}")
        for family, kind, proto, _, sockaddr in infos:
            sock = DeadlineSocket(family, kind, proto)
            try:
                sock.deadline = deadline
                arm(sock, deadline)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            self.opened += 1
            # Next: the proxy tunnel, the TLS handshake (bounded: its timeout is what is
            # left), or the request itself.
            self.phase = Phase.SETUP
            return sock
        raise failure


class Connection:
    """One keep-alive connection along a :class:`Route`, used by one thread at a time.

    It reconnects by itself after an error, after the server closed it, and in a
    forked child; a request that fails on a reused socket before any answer came
    is sent once more at once on a fresh one (the server had closed it idle).
    """

    def __init__(self, route: Route, context: ssl.SSLContext | None) -> None:
        self._route = route
        self._context = context
        self._direct = route.scheme == "http" and route.proxy_host is None
        """Plain HTTP straight to the server: spoken on :attr:`_sock` (``_wire.py``)."""
        self._host_header = host_header(route.host, route.port) if self._direct else ""
        self._protocol_errors: tuple[type[Exception], ...] = (WireError,)
        """What the HTTP layer in use raises for an answer that is not valid HTTP."""
        self._sock: DeadlineSocket | None = None
        self._buffer = bytearray()
        self._conn: http.client.HTTPConnection | None = None
        self._pid = os.getpid()
        self._progress = _Progress()
        self._response: http.client.HTTPResponse | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: Deadline,
    ) -> HttpResult:
        """Send one request and read its answer (at most 1 MiB of body) by ``deadline``.

        Raises:
            TransportError: no complete HTTP answer came; the message says why and where.
        """
        started = time.monotonic()
        for fresh_retry in (False, True):
            reused = self._usable()
            try:
                if self._direct:
                    return self._exchange_direct(method, path, body, headers, deadline)
                return self._exchange(method, path, body, headers, deadline)
            except BaseException as exc:  # Ctrl-C, SystemExit too: the socket is in between
                self.close()
                if not isinstance(exc, (OSError, ValueError, *self._protocol_errors)):
                    raise
                stale = (
                    reused and not fresh_retry and self._progress.phase in (Phase.SEND, Phase.WAIT)
                )
                if stale and not isinstance(exc, TimeoutError) and not deadline.expired():
                    continue  # the server closed the idle socket: once more on a new one
                failure = self._describe(exc, time.monotonic() - started)
                url = f"{self._route.scheme}://{self._route.target}{path}"
                raise TransportError(
                    f"{failure} ({method} {url})", retryable=failure.retryable, sent=failure.sent
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _open_socket(self) -> socket.socket | None:
        if self._direct:
            return self._sock
        conn = self._conn
        return None if conn is None else conn.sock

    def _usable(self) -> bool:
        """Whether an open socket can be reused; drops one that is closed, stale or inherited."""
        sock = self._open_socket()
        if sock is None:
            return False
        if self._pid != os.getpid():  # a forked child must not speak on the parent's socket
            self._conn = None
            self._sock = None
            self._pid = os.getpid()
            return False
        try:
            readable = select.select([sock], [], [], 0)[0]
        except (OSError, ValueError):
            readable = [sock]
        if readable:  # idle, yet readable: the server hung up (or sent junk)
            self.close()
            return False
        return True

    def _exchange_direct(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: Deadline,
    ) -> HttpResult:
        progress = self._progress
        progress.deadline = deadline
        route = self._route
        data = request_bytes(method, path, headers, body, host=self._host_header)
        sock = self._sock
        if sock is None:
            progress.phase = Phase.CONNECT
            sock = self._sock = progress.open_socket((route.host, route.port))
            self._buffer.clear()
        sock.deadline = deadline
        progress.phase = Phase.SEND
        sock.sendall(data)
        progress.phase = Phase.WAIT
        answer = Answer(sock, self._buffer)
        head = answer.read_head()
        progress.phase = Phase.READ
        raw = answer.read_body(MAX_RESPONSE_BYTES + 1)
        truncated = len(raw) > MAX_RESPONSE_BYTES
        if truncated or answer.will_close or self._buffer:
            self.close()  # the rest is not read (or is junk): the socket can't be reused
        return HttpResult(
            status=answer.status,
            body=raw[:MAX_RESPONSE_BYTES],
            retry_after=head.get("retry-after"),
            truncated=truncated,
        )

    def _exchange(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: Deadline,
    ) -> HttpResult:
        import http.client  # noqa: PLC0415  # https and proxies only

        self._progress.deadline = deadline
        conn = self._conn
        if conn is None:
            conn = self._conn = self._new_connection()
        if conn.sock is None:
            self._progress.phase = Phase.CONNECT
            conn.connect()  # DNS, TCP, then the proxy tunnel and TLS (Phase.SETUP)
        sock = conn.sock
        if hasattr(sock, "deadline"):
            sock.deadline = deadline  # a TLS socket replaced the TCP one: tell it too
        self._progress.phase = Phase.SEND
        route = self._route
        if route.proxy_host is not None and route.scheme == "http":
            path = f"http://{route.target}{path}"  # absolute-form: a proxy request
            if route.proxy_auth:
                headers = {**headers, "Proxy-Authorization": route.proxy_auth}
        conn.request(method, path, body=body, headers=headers)
        self._progress.phase = Phase.WAIT
        response = self._response = conn.getresponse()
        self._progress.phase = Phase.READ
        raw = response.read(MAX_RESPONSE_BYTES + 1)
        truncated = len(raw) > MAX_RESPONSE_BYTES
        if not truncated and response.length:
            # read(n) returns short, without raising, when the peer hangs up before
            # Content-Length bytes came: that is no answer at all.
            raise http.client.IncompleteRead(raw, response.length)
        if truncated or response.will_close:
            self.close()  # the rest of the body is not read: the socket can't be reused
        self._response = None
        return HttpResult(
            status=int(response.status),
            body=raw[:MAX_RESPONSE_BYTES],
            retry_after=response.getheader("Retry-After"),
            truncated=truncated,
        )

    def _new_connection(self) -> http.client.HTTPConnection:
        import http.client  # noqa: PLC0415  # https and proxies only

        self._protocol_errors = (WireError, http.client.HTTPException)
        route = self._route
        host = route.proxy_host or route.host
        port = route.proxy_port or route.port
        conn: http.client.HTTPConnection
        if route.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, context=self._context)
            if route.proxy_host is not None:
                tunnel_headers = (
                    {"Proxy-Authorization": route.proxy_auth} if route.proxy_auth else None
                )
                conn.set_tunnel(route.host, route.port, headers=tunnel_headers)
        else:
            conn = http.client.HTTPConnection(host, port)
        conn._create_connection = self._progress.open_socket  # type: ignore[attr-defined]  # its hook
        return conn

    def _describe(self, exc: BaseException, elapsed_s: float) -> TransportError:
        route = self._route
        if isinstance(exc, ValueError) and not isinstance(exc, (OSError, *self._protocol_errors)):
            return TransportError(f"request to {route.target} refused locally: {exc}"[:200])
        return describe(
            exc,
            self._progress.phase,
            target=route.target,
            proxy=route.proxy_url,
            elapsed_s=elapsed_s,
            resolving=route.proxy_host or route.host,
        )

    def abort(self) -> None:
        """From another thread: end the request in progress at once (shut the socket down)."""
        sock = self._open_socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Close the socket (a later request reconnects)."""
        response, self._response = self._response, None
        if response is not None:  # cut short: it holds a file on the socket
            try:
                response.close()
            except OSError:
                pass
        direct, self._sock = self._sock, None
        if direct is not None:
            self._buffer.clear()
            direct.close()
        conn = self._conn
        if conn is None:
            return
        sock = conn.sock
        try:
            conn.close()
        except OSError:
            pass
        # A response cut short still holds a file on the socket, and close() waits for
        # that file to close: release the descriptor now, not whenever GC gets to it.
        if sock is not None and sock.fileno() != -1:
            try:
                os.close(sock.detach())
            except OSError:
                pass
