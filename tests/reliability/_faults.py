"""A loopback HTTP server that fails on purpose, on a schedule, and counts what it stored."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Exchange",
    "Fault",
    "FaultServer",
    "Plan",
    "Receipt",
    "alternate",
    "always",
    "commit_then_stall",
    "cut_before_status",
    "cut_mid_body",
    "dead_port",
    "first",
    "for_seconds",
    "garbage",
    "hang",
    "ok",
    "oversized",
    "redirect",
    "reject_models",
    "status",
    "too_large_above",
    "truncated",
]

OVERSIZED_BYTES = 1024 * 1024 + 512 * 1024
"""Size of an oversized response body: half a MiB past the client's 1 MiB cap."""


@dataclass(frozen=True)
class Fault:
    """How the server answers one request.

    Attributes:
        kind: ``reply`` (status + body), ``hang``, ``cut_before_status``,
            ``cut_mid_body`` or ``commit_then_stall``.
        status: HTTP status of the reply.
        body: the body sent; None means the protocol's own body (a
            ``BatchEventResponse`` for 2xx, ``{"error": ...}`` otherwise).
        headers: extra response headers.
        store: whether the events count as delivered (2xx bodies only).
        delay_s: how long to wait before answering (``hang``: until released).
        reject: event models the server rejects one by one in its 2xx answer.
    """

    kind: str = "reply"
    status: int = 202
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    store: bool = True
    delay_s: float = 0.0
    reject: frozenset[str] = frozenset()


def ok(*, delay_s: float = 0.0) -> Fault:
    """202 with a protocol body; every event stored."""
    return Fault(delay_s=delay_s)


def status(code: int, *, retry_after: str | None = None, body: bytes | None = None) -> Fault:
    """A failure status (nothing stored), optionally with ``Retry-After``."""
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Fault(status=code, headers=headers, store=200 <= code < 300, body=body)


def hang(seconds: float = 60.0) -> Fault:
    """Say nothing for ``seconds`` (or until the server stops), then 503; nothing stored."""
    return Fault(kind="hang", status=503, store=False, delay_s=seconds)


def cut_before_status() -> Fault:
    """Read the request, then close the connection without a word."""
    return Fault(kind="cut_before_status", store=False)


def cut_mid_body() -> Fault:
    """Send a 202 status line and headers, half a body, then close; nothing stored."""
    return Fault(kind="cut_mid_body", store=False)


def garbage(code: int = 202, size: int = 64) -> Fault:
    """Answer ``code`` with ``size`` bytes that are not JSON (2xx: events stored)."""
    noise = bytes(range(256)) * (size // 256 + 1)
    return Fault(status=code, body=b"\xff\x00" + noise[: max(0, size - 2)], store=code < 300)


def truncated(code: int = 202) -> Fault:
    """Answer ``code`` with the first half of a JSON body (2xx: events stored)."""
    return Fault(status=code, body=b'{"accepted": 1, "rejected": 0, "resu', store=code < 300)


def oversized(code: int = 202) -> Fault:
    """Answer ``code`` with a valid-looking JSON body bigger than 1 MiB (2xx: stored)."""
    pad = b" " * OVERSIZED_BYTES
    body = b'{"accepted": 0, "rejected": 0, "results": []' + pad + b"}"
    return Fault(status=code, body=body, store=code < 300)


def reject_models(*models: str) -> Fault:
    """202 where events whose ``model`` is in ``models`` are rejected, the rest stored."""
    return Fault(reject=frozenset(models))


def redirect(location: str, code: int = 307) -> Fault:
    """A redirect to ``location`` (which a safe client never follows)."""
    return Fault(status=code, headers=(("Location", location),), store=False)


def commit_then_stall(seconds: float) -> Fault:
    """Store the events (or forward them upstream), then stall ``seconds`` before answering."""
    return Fault(kind="commit_then_stall", delay_s=seconds)


@dataclass(frozen=True)
class Exchange:
    """What a plan sees of one request."""

    index: int
    """0-based order of arrival, over every request the server got."""
    elapsed_s: float
    """Seconds since the server started."""
    path: str
    event_ids: tuple[str, ...]
    models: tuple[str, ...]


Plan = Callable[[Exchange], Fault]
"""Chooses the fault for each request."""


def always(fault: Fault) -> Plan:
    """The same answer every time."""
    return lambda exchange: fault


def first(count: int, fault: Fault, then: Fault | None = None) -> Plan:
    """``fault`` for the first ``count`` requests, ``then`` (default 202) after."""
    after = then if then is not None else ok()
    return lambda exchange: fault if exchange.index < count else after


def for_seconds(seconds: float, fault: Fault, then: Fault | None = None) -> Plan:
    """``fault`` while the server is younger than ``seconds``, ``then`` (default 202) after."""
    after = then if then is not None else ok()
    return lambda exchange: fault if exchange.elapsed_s < seconds else after


def alternate(odd: Fault, even: Fault | None = None) -> Plan:
    """``odd`` for requests 1, 3, 5... (0-based 0, 2, 4...), ``even`` for the others."""
    other = even if even is not None else ok()
    return lambda exchange: odd if exchange.index % 2 == 0 else other


def too_large_above(limit: int) -> Plan:
    """413 for a batch of more than ``limit`` events, 202 otherwise."""
    too_large = status(413)
    accepted = ok()
    return lambda exchange: too_large if len(exchange.event_ids) > limit else accepted


@dataclass
class Receipt:
    """One request as the server saw it, and how it answered."""

    index: int
    path: str
    arrived_at: float
    event_ids: tuple[str, ...]
    kind: str
    status: int
    authorization: str | None
    headers: dict[str, str]
    body: bytes
    answered_at: float = 0.0


@dataclass
class _Ledger:
    """Everything recorded, guarded by one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    receipts: list[Receipt] = field(default_factory=list)
    delivered: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    stored_twice: int = 0


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close(): no socket outlives the server.
    daemon_threads = False
    block_on_close = True
    request_queue_size = 64

    def __init__(self, owner: FaultServer, tls: ssl.SSLContext | None) -> None:
        self.owner = owner
        self.tls = tls
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall.
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.tls is None:
            return sock, address
        try:
            # Handshake in the serving thread: a client that refuses the certificate
            # fails here, and the request never reaches a handler.
            sock.settimeout(5.0)
            wrapped = self.tls.wrap_socket(sock, server_side=True)
        except (OSError, ValueError) as exc:
            sock.close()
            self.owner.tls_failures += 1
            raise OSError(f"TLS handshake failed: {exc}") from None  # the serve loop skips it
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and close are part of the game; don't print tracebacks.
        self.owner.handler_errors += 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10.0

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the default writes every request to stderr."""

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.rfile.read(length))

    def _serve(self, raw: bytes) -> None:
        owner = self.server.owner
        body = raw
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(raw)
        events = _events_of(body)
        path = urlsplit(self.path).path
        arrived = time.monotonic()
        with owner.ledger.lock:
            index = len(owner.ledger.receipts)
            exchange = Exchange(
                index=index,
                elapsed_s=arrived - owner.started_at,
                path=path,
                event_ids=tuple(str(e.get("event_id")) for e in events),
                models=tuple(str(e.get("model")) for e in events),
            )
            fault = owner.plan(exchange)
            receipt = Receipt(
                index=index,
                path=path,
                arrived_at=arrived,
                event_ids=exchange.event_ids,
                kind=fault.kind,
                # What the client gets to see: nothing at all when the connection is cut.
                status=0 if fault.kind.startswith("cut") else fault.status,
                authorization=self.headers.get("Authorization"),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body if owner.keep_bodies else b"",
            )
            owner.ledger.receipts.append(receipt)
        self.close_connection = True
        if fault.kind == "cut_before_status":
            return
        if fault.delay_s > 0 and fault.kind != "commit_then_stall":  # a hang, or a slow answer
            owner.release.wait(fault.delay_s)
        if fault.kind == "cut_mid_body":
            self.wfile.write(
                b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                b"Content-Length: 400\r\nConnection: close\r\n\r\n"
                b'{"accepted": 1, "rejec'
            )
            self.wfile.flush()
            return
        code, payload, extra = self._answer(fault, path, raw, events)
        if fault.kind == "commit_then_stall":
            owner.release.wait(fault.delay_s)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        for name, value in (*fault.headers, *extra):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        receipt.answered_at = time.monotonic()

    def _answer(
        self, fault: Fault, path: str, raw: bytes, events: list[dict[str, Any]]
    ) -> tuple[int, bytes, tuple[tuple[str, str], ...]]:
        """The status, body and extra headers of the reply; records what was stored."""
        owner = self.server.owner
        accepted_code = fault.status if fault.kind == "reply" else 202
        if owner.upstream is not None and fault.store and 200 <= accepted_code < 300:
            return self._forward(path, raw)
        if path.endswith("/events/batch") and fault.store and 200 <= accepted_code < 300:
            results = owner.store(events, fault.reject)
            if fault.body is None:
                accepted = sum(1 for r in results if r["status"] == "accepted")
                document = {
                    "accepted": accepted,
                    "rejected": len(results) - accepted,
                    "results": results,
                }
                return accepted_code, json.dumps(document).encode(), ()
            return accepted_code, fault.body, ()
        if fault.body is not None:
            return fault.status, fault.body, ()
        if 200 <= fault.status < 300:
            return fault.status, b'{"status": "ok"}', ()
        error = {"error": f"fault injected: HTTP {fault.status}"}
        return fault.status, json.dumps(error).encode(), ()

    def _forward(self, path: str, raw: bytes) -> tuple[int, bytes, tuple[tuple[str, str], ...]]:
        """Relay the request to the upstream collector and record what it accepted."""
        owner = self.server.owner
        assert owner.upstream is not None
        target = urlsplit(owner.upstream)
        connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10.0)
        try:
            headers = {
                name: value
                for name, value in self.headers.items()
                if name.lower() in ("authorization", "content-type", "content-encoding")
            }
            connection.request("POST", path, body=raw, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            code = response.status
        finally:
            connection.close()
        if path.endswith("/events/batch") and 200 <= code < 300:
            owner.record_upstream(json.loads(payload), raw)
        return code, payload, ()


def _events_of(body: bytes) -> list[dict[str, Any]]:
    """The event objects of a batch body, or [] for anything else."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []
    items = document.get("events") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


class FaultServer:
    """An HTTP(S) server on ``127.0.0.1:<ephemeral>`` that answers by a :data:`Plan`.

    It records every request (:attr:`receipts`) and, for each 2xx it gives,
    the events it stored, once per ``event_id`` (:meth:`delivered_ids`), so a
    test can compare them with the client's counters exactly. With
    ``upstream`` (a collector URL), accepted requests are forwarded there instead.
    Request bodies are kept in the receipts only with ``keep_bodies`` (a soak
    sends gigabytes).
    """

    def __init__(
        self,
        plan: Plan | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        upstream: str | None = None,
        keep_bodies: bool = False,
    ) -> None:
        self.plan: Plan = plan if plan is not None else always(ok())
        self.keep_bodies = keep_bodies
        self.upstream = upstream
        self.ledger = _Ledger()
        self.release = threading.Event()
        self.started_at = time.monotonic()
        self.handler_errors = 0
        self.tls_failures = 0
        self._tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FaultServer:
        """Bind and serve in a background thread; return ``self``."""
        server = _Server(self, self._tls)
        self._server = server
        self.started_at = time.monotonic()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fault-server-{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hung handlers, stop serving, join every handler thread, close the socket."""
        self.release.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(10.0)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "the fault server is not started"
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>`` (``https`` with TLS)."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # -- recording -------------------------------------------------------------

    def store(
        self, events: Sequence[dict[str, Any]], reject: frozenset[str]
    ) -> list[dict[str, Any]]:
        """Judge and store ``events``; return their per-event results."""
        results: list[dict[str, Any]] = []
        with self.ledger.lock:
            for event in events:
                event_id = str(event.get("event_id"))
                if event.get("model") in reject:
                    self.ledger.rejected.add(event_id)
                    results.append(
                        {"event_id": event_id, "status": "rejected", "error": "model: refused"}
                    )
                    continue
                if event_id in self.ledger.delivered:
                    self.ledger.stored_twice += 1
                else:
                    self.ledger.delivered[event_id] = dict(event)
                results.append({"event_id": event_id, "status": "accepted", "error": None})
        return results

    def record_upstream(self, response: dict[str, Any], raw: bytes) -> None:
        """Record the events an upstream collector accepted."""
        by_id = {str(e.get("event_id")): e for e in _events_of(raw)}
        with self.ledger.lock:
            for result in response.get("results", []):
                event_id = str(result.get("event_id"))
                if result.get("status") == "rejected":
                    self.ledger.rejected.add(event_id)
                elif event_id in self.ledger.delivered:
                    self.ledger.stored_twice += 1
                else:
                    self.ledger.delivered[event_id] = dict(by_id.get(event_id, {}))

    @property
    def receipts(self) -> list[Receipt]:
        """Every request so far, in arrival order (a copy)."""
        with self.ledger.lock:
            return list(self.ledger.receipts)

    def event_receipts(self) -> list[Receipt]:
        """The requests to ``/v1/events/batch``."""
        return [r for r in self.receipts if r.path.endswith("/events/batch")]

    def delivered_ids(self) -> set[str]:
        """Every event id stored (each once, however often it was sent)."""
        with self.ledger.lock:
            return set(self.ledger.delivered)

    def rejected_ids(self) -> set[str]:
        """Every event id the server rejected one by one."""
        with self.ledger.lock:
            return set(self.ledger.rejected)

    def times_received(self) -> dict[str, int]:
        """How many requests carried each event id."""
        counts: dict[str, int] = {}
        for receipt in self.receipts:
            for event_id in receipt.event_ids:
                counts[event_id] = counts.get(event_id, 0) + 1
        return counts


def dead_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_count() -> int:
    """CPUs this process may use (for the figures)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
