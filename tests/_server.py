"""A scriptable stdlib Telemetry API server on 127.0.0.1 for end-to-end tests, and its fixtures.

Test modules import the fixtures by their function names (pytest registers them
under ``name=``), so a test's ``server`` parameter shadows nothing::

    from _server import clean_env_fixture, make_server_fixture, server_fixture  # noqa: F401
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
from strategies import sample_event_kwargs

from mosaic_telemetry import (
    ClientStats,
    Complexity,
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    Provider,
    QualityPrediction,
    TaskCompletionEvent,
    TaskType,
    TelemetryConfig,
    TokenDistribution,
)

__all__ = [
    "API_KEY",
    "EVENTS_PATH",
    "INSTANCE_ID",
    "PREDICTIONS_PATH",
    "FakeTime",
    "Recorded",
    "Reply",
    "TelemetryServer",
    "assert_balanced",
    "clean_env_fixture",
    "make_config",
    "make_event",
    "make_query",
    "make_server_fixture",
    "prediction_for",
    "server_fixture",
    "tls_cert_fixture",
    "wait_until",
]

EVENTS_PATH = "/v1/events/batch"
PREDICTIONS_PATH = "/v1/predictions/batch"
HEALTH_PATH = "/v1/health"

API_KEY = "5ec7e7" + "c0ffee" * 8 + "a1b2c3d4e5"  # 64 hex characters, easy to grep for
INSTANCE_ID = "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11"

_SOCKET_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Reply:
    """How the server answers one request.

    ``body=None`` means the protocol's normal answer for the path (a
    ``BatchEventResponse`` or prediction results); ``reject`` maps event ids to
    the error of a per-event rejection inside that normal answer.
    """

    status: int = 202
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop_connection: bool = False
    reject: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, status: int, message: str, **headers: str) -> Reply:
        """A failure answer with the protocol's ``{"error": message}`` body."""
        body = json.dumps({"error": message}).encode()
        return cls(status=status, body=body, headers=headers)


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it (headers with lower-case names)."""

    method: str
    path: str
    headers: Mapping[str, str]
    raw_body: bytes
    body: bytes
    event_ids: tuple[str, ...]
    json: Any = None

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        return self.headers.get(name.lower())

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events of an events batch (empty for other requests)."""
        if isinstance(self.json, dict) and isinstance(self.json.get("events"), list):
            return cast("list[dict[str, Any]]", self.json["events"])
        return []

    @property
    def queries(self) -> list[dict[str, Any]]:
        """The queries of a predictions batch (empty for other requests)."""
        if isinstance(self.json, dict) and isinstance(self.json.get("queries"), list):
            return cast("list[dict[str, Any]]", self.json["queries"])
        return []


Responder = Callable[[Recorded], "Reply | None"]
"""Decides the reply from the request; ``None`` falls back to the default reply."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins handlers: nothing outlives a test
    block_on_close = True

    def __init__(self, owner: TelemetryServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner
        self.open_sockets: set[Any] = set()
        self.connections = 0
        self.sockets_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.connections += 1
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def hang_up_everyone(self) -> None:
        """Shut every open connection down, so idle keep-alive handlers end at once."""
        import socket

        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.owner._handler_failed()


class _Handler(BaseHTTPRequestHandler):
    timeout = _SOCKET_TIMEOUT_S
    server_version = "TelemetryTestServer/1"
    protocol_version = "HTTP/1.1"  # keep-alive when the server's keep_alive is on

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        cast("_HTTPServer", self.server).owner._handle(self)

    def do_GET(self) -> None:
        cast("_HTTPServer", self.server).owner._handle(self)


class TelemetryServer:
    """A Telemetry API v1 server in a background thread, recording every request.

    Replies come from, in order: the queue filled by :meth:`script`, then the
    :attr:`responder` (if it returns a reply), then :attr:`default`.
    """

    def __init__(
        self,
        *,
        keep_json: bool = True,
        tls: tuple[str, str] | None = None,
        keep_alive: bool = False,
    ) -> None:
        """Start serving at once; ``tls=(certfile, keyfile)`` serves HTTPS instead of HTTP.

        ``keep_alive`` keeps each connection open for the next request (HTTP/1.1);
        otherwise every answer says ``Connection: close``.
        """
        self.keep_json = keep_json
        self.keep_alive = keep_alive
        self.default = Reply()
        self.responder: Responder | None = None
        self._script: deque[Reply] = deque()
        self._requests: list[Recorded] = []
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self._unexpected: list[str] = []
        self._httpd = _HTTPServer(self)
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls is not None:
            import ssl  # only the TLS tests need it

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"test-server-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- scripting ----------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue ``replies`` for the next requests, one each, in order."""
        with self._changed:
            self._script.extend(replies)

    # -- what was received ------------------------------------------------------

    @property
    def connections(self) -> int:
        """How many TCP connections the server has accepted."""
        return self._httpd.connections

    @property
    def requests(self) -> list[Recorded]:
        """Every request received so far, in arrival order."""
        with self._changed:
            return list(self._requests)

    def batches(self) -> list[Recorded]:
        """The ``POST /v1/events/batch`` requests received so far."""
        return [r for r in self.requests if r.method == "POST" and r.path == EVENTS_PATH]

    def event_ids(self) -> list[str]:
        """Event ids of every events batch received, in arrival order (repeats kept)."""
        return [event_id for r in self.batches() for event_id in r.event_ids]

    def wait_until(self, predicate: Callable[[TelemetryServer], bool], timeout_s: float) -> bool:
        """Wait until ``predicate(self)`` holds (re-checked on each request); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # -- life cycle -----------------------------------------------------------

    def close(self) -> None:
        """Cut every delayed reply short, stop serving and close every socket."""
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.hang_up_everyone()
        self._httpd.server_close()
        self._thread.join(_SOCKET_TIMEOUT_S)
        if self._unexpected:
            raise AssertionError(f"test server handler failed: {self._unexpected}")

    def __enter__(self) -> TelemetryServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- request handling (server threads) -------------------------------------

    def _handler_failed(self) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):  # a client hanging up early is normal here
            self._unexpected.append(repr(exc))

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        body = raw
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(raw)
        try:
            data: Any = json.loads(body) if body else None
        except ValueError:
            data = None
        event_ids: tuple[str, ...] = ()
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            event_ids = tuple(str(e.get("event_id")) for e in data["events"])
        path = handler.path
        record = Recorded(
            method=handler.command,
            path=path,
            headers=headers,
            raw_body=raw if self.keep_json else b"",
            body=body if self.keep_json else b"",
            event_ids=event_ids,
            json=data if self.keep_json else None,
        )
        with self._changed:
            reply = self._script.popleft() if self._script else None
        if reply is None and self.responder is not None:
            reply = self.responder(record)
        if reply is None:
            reply = self.default
        with self._changed:
            self._requests.append(record)
            self._changed.notify_all()
        if reply.delay_s > 0 and self._closing.wait(reply.delay_s):
            reply = Reply(drop_connection=True)  # shutting down: hang up at once
        handler.close_connection = not self.keep_alive
        if reply.drop_connection:
            handler.close_connection = True
            return
        payload = reply.body if reply.body is not None else _normal_answer(path, data, reply)
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        if handler.close_connection:
            handler.send_header("Connection", "close")
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        try:
            handler.wfile.write(payload)
        except OSError:
            pass  # the client gave up (timeout, size cap): its business


def _normal_answer(path: str, data: Any, reply: Reply) -> bytes:
    if path.endswith(PREDICTIONS_PATH) and isinstance(data, dict):
        queries = data.get("queries") or []
        return json.dumps({"results": [prediction_for(q) for q in queries]}).encode()
    if path.endswith(HEALTH_PATH):
        return b'{"status": "ok", "api_version": "v1", "schema_version": "1.0"}'
    events = data.get("events") if isinstance(data, dict) else None
    results = []
    rejected = 0
    for event in events if isinstance(events, list) else []:
        event_id = str(event.get("event_id"))
        error = reply.reject.get(event_id)
        rejected += error is not None
        status = "accepted" if error is None else "rejected"
        results.append({"event_id": event_id, "status": status, "error": error})
    answer = {"accepted": len(results) - rejected, "rejected": rejected, "results": results}
    return json.dumps(answer).encode()


def prediction_for(query: Mapping[str, Any]) -> dict[str, Any]:
    """The server's deterministic prediction for a query (wire form), derived from its fields."""
    key = "|".join(str(query.get(k)) for k in ("task_type", "model", "provider", "complexity"))
    seed = zlib.crc32(key.encode()) % 10_000
    response = PredictionResponse(
        prediction=PredictionData(
            input_tokens=TokenDistribution(
                p10=seed, p25=seed + 1, median=seed + 2, p75=seed + 3, p90=seed + 4
            ),
            output_tokens=TokenDistribution(p10=1, p25=2, median=3, p75=4, p90=5),
            cost_usd_micros={"median": seed * 10},
            duration_ms={"median": seed * 100},
            correction_factors=CorrectionFactors(input=1.25, output=0.75),
            quality=QualityPrediction(gate_pass_rate=0.5, success_rate=0.875),
        ),
        metadata=PredictionMetadata(
            sample_size=seed,
            fallback_level=0,
            confidence="high",
            last_updated=datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc),
            dimensions_matched={"task_type": str(query.get("task_type")), "model": None},
            fallback_note=None,
            cache_hit=False,
        ),
    )
    return response.to_dict()


# -- client-side helpers shared by the end-to-end suites ---------------------------


def make_config(server: TelemetryServer | str, **overrides: Any) -> TelemetryConfig:
    """A valid config for ``server`` with short timeouts; ``overrides`` replace fields."""
    url = server if isinstance(server, str) else server.url
    values: dict[str, Any] = {
        "server_url": url,
        "api_key": API_KEY,
        "instance_id": INSTANCE_ID,
        "submit_interval_seconds": 300.0,
        "request_timeout_seconds": 2.0,
        "shutdown_timeout_seconds": 3.0,
        "max_retries": 2,
    }
    values.update(overrides)
    return TelemetryConfig(**values)


def make_event(model: str = "test-model", **overrides: Any) -> TaskCompletionEvent:
    """A valid event with every field set to a non-default value and a fresh ``event_id``."""
    values = sample_event_kwargs(
        instance_id=uuid.UUID(INSTANCE_ID), event_id=uuid.uuid4(), model=model
    )
    values.update(overrides)
    return TaskCompletionEvent(**values)


def make_query(index: int = 0, model: str = "claude-sonnet-4") -> PredictionQuery:
    """A distinct, valid prediction query per ``index``."""
    return PredictionQuery(
        task_type=list(TaskType)[index % len(TaskType)],
        model=f"{model}-{index}",
        provider=Provider.ANTHROPIC,
        complexity=Complexity.MEDIUM,
    )


def assert_balanced(stats: ClientStats) -> None:
    """Every tracked event is in exactly one place (the ClientStats invariant)."""
    placed = (
        stats.sent
        + stats.rejected
        + stats.dropped_queue_full
        + stats.dropped_errors
        + stats.dropped_shutdown
        + stats.dropped_invalid
        + stats.dropped_feedback
        + stats.dropped_before_send
        + stats.unconfirmed
        + stats.spooled
        + stats.queued
        + stats.in_flight
    )
    assert stats.tracked + stats.replayed == placed, stats


class FakeTime:
    """A monotonic clock that only the fake :meth:`sleep` moves forward (besides real time).

    Pass ``clock=fake.clock, sleep=fake.sleep`` to a client: its waits return at
    once but are recorded in :attr:`sleeps`, and deadlines see the time "slept".
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        """Real monotonic time plus every second slept or advanced."""
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and move the clock on by them, without waiting."""
        self.sleeps.append(seconds)
        self.offset += seconds

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` (not recorded as a sleep)."""
        self.offset += seconds


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``predicate`` every 10 ms until it holds; False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


# -- fixtures --------------------------------------------------------------------


@pytest.fixture(name="server")
def server_fixture() -> Iterator[TelemetryServer]:
    """A running :class:`TelemetryServer`, closed after the test."""
    with TelemetryServer() as srv:
        yield srv


@pytest.fixture(name="make_server")
def make_server_fixture() -> Iterator[Callable[..., TelemetryServer]]:
    """A factory of extra servers (``make_server(keep_json=, tls=, keep_alive=)``), all closed."""
    made: list[TelemetryServer] = []

    def make(
        *, keep_json: bool = True, tls: tuple[str, str] | None = None, keep_alive: bool = False
    ) -> TelemetryServer:
        srv = TelemetryServer(keep_json=keep_json, tls=tls, keep_alive=keep_alive)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.close()


@pytest.fixture(name="clean_env")
def clean_env_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``MOSAIC_TELEMETRY_*`` or proxy variable of the host leaks into a test."""
    import os

    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith("MOSAIC_TELEMETRY_") or upper in {
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
        }:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session", name="tls_cert")
def tls_cert_fixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (certfile, keyfile), made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,digitalSignature",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)
