"""The collector's HTTP handler: routing, auth, body limits, JSON answers and errors."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ._http_io import StrictRequestHandler
from ._wire import RequestError, check_bearer, decode_body, parse_content_length, parse_json
from .service import CollectorService
from .store import StoreError

__all__ = ["REQUEST_TIMEOUT_S", "CollectorHTTPServer"]

_DRAIN_LIMIT = 16 * 1024 * 1024  # read and drop at most this much of a refused body
_CHUNK = 64 * 1024
REQUEST_TIMEOUT_S = 30.0
"""Default time a whole request (line, headers and body) may take to arrive."""

_log = logging.getLogger(__name__)

_ROUTES: dict[str, tuple[str, ...]] = {
    "/v1/health": ("GET", "HEAD"),
    "/v1/events/batch": ("POST",),
    "/v1/predictions/batch": ("POST",),
}


class _Raw:
    """A JSON body already encoded."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class CollectorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that holds the service and the key, and logs quietly."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of connections for a second

    def __init__(
        self,
        address: tuple[str, int],
        service: CollectorService,
        api_key: bytes,
        max_body_bytes: int,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.service = service
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.request_timeout_s = request_timeout_s
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can hang
        # for seconds on a machine without a resolver; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a collector logs instead.
        _log.debug("error while serving %s", client_address, exc_info=True)


class _Handler(StrictRequestHandler):
    """Routes the three endpoints; every error body is ``{"error": "..."}``."""

    server: CollectorHTTPServer
    server_version = "mosaic-telemetry-collector/1"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # Buffered: headers and body leave in one send. Two small sends make a
    # keep-alive client wait for its delayed ACK (Nagle): 40 ms per request.
    wbufsize = 64 * 1024
    request_log = _log
    _body_read = False

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self._body_read = False
        try:
            status, body = self._route()
        except RequestError as exc:
            self._send_json(exc.status, {"error": exc.message}, allow=self._allowed(exc))
        except StoreError as exc:
            _log.warning("collector store failure: %s", exc)
            self._send_json(500, {"error": "the collector could not use its event store"})
        except Exception:  # a bug must cost one request, never the server
            _log.warning("collector failed on %s %s", self.command, self._path(), exc_info=True)
            self._send_json(500, {"error": "internal error in the collector"})
        else:
            self._send_json(status, body)

    def _path(self) -> str:
        return urlsplit(self.path).path

    def _allowed(self, exc: RequestError) -> tuple[str, ...] | None:
        if exc.status == 405:
            return _ROUTES.get(self._path())
        return None

    def _route(self) -> tuple[int, Any]:
        path = self._path()
        methods = _ROUTES.get(path)
        if methods is None:
            raise RequestError(404, f"unknown path; the endpoints are {', '.join(_ROUTES)}")
        if self.command not in methods:
            raise RequestError(405, f"method {self.command} not allowed; use {methods[0]}")
        service = self.server.service
        if path == "/v1/health":
            return 200, service.health()
        expect = self.headers.get("Expect")
        if expect is not None and expect.strip().lower() != "100-continue":
            raise RequestError(417, "the only expectation understood is 100-continue")
        check_bearer(self.headers.get("Authorization"), self.server.api_key)
        payload = parse_json(self._read_body())
        if path == "/v1/events/batch":
            return 202, _Raw(service.ingest_json(payload))
        return 200, {"results": [r.to_dict() for r in service.predict(payload)]}

    def _read_body(self) -> bytes:
        codings = self.headers.get_all("Transfer-Encoding")
        if codings:
            # Where such a body ends is unknown: answer, and read nothing more.
            self._body_read = True
            self.close_connection = True
            if "chunked" in ",".join(codings).lower():
                raise RequestError(
                    411, "Content-Length header is required (chunked bodies refused)"
                )
            raise RequestError(
                400, "Transfer-Encoding is not supported; send a Content-Length body"
            )
        limit = self.server.max_body_bytes
        length = parse_content_length(self.headers.get_all("Content-Length") or [], limit)
        if self._expect_continue:
            self._expect_continue = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        self._body_read = True
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            timeout = self.server.request_timeout_s
            raise RequestError(408, f"the request did not arrive within {timeout:g} s") from None
        if len(body) < length:
            self.close_connection = True
            raise RequestError(400, "body is shorter than its Content-Length")
        return decode_body(body, self.headers.get("Content-Encoding"), limit)

    def _drain_unread_body(self) -> None:
        """Read and drop a body that was refused unread, so the client sees the answer.

        Closing a socket with unread data makes the kernel send a reset, and the
        client would get a connection error instead of the 401 or 413.
        """
        if self._body_read or self.command in (None, "GET", "HEAD"):
            return
        self._body_read = True
        self.close_connection = True
        if self._expect_continue:  # the client waits for a 100 that will never come
            return
        try:
            remaining = int(self.headers.get("Content-Length", "0").strip())
        except ValueError:
            return
        if not 0 < remaining <= _DRAIN_LIMIT:
            return
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(_CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
        except OSError:
            return

    def _send_json(self, status: int, body: Any, *, allow: tuple[str, ...] | None = None) -> None:
        if status >= 400:
            self._drain_unread_body()
        if isinstance(body, _Raw):
            data = body.data
        else:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="mosaic-telemetry"')
        if allow:
            self.send_header("Allow", ", ".join(allow))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a protocol-level failure of http.server (bad request line, ...) in JSON."""
        self.close_connection = True
        self._body_read = True  # the request could not be parsed: drain nothing
        if self.request_version == "HTTP/0.9":  # unparsable line: still send a status line
            self.request_version = "HTTP/1.0"
        try:
            text = message or HTTPStatus(code).phrase
        except ValueError:
            text = "request refused"
        self._send_json(code, {"error": text})
