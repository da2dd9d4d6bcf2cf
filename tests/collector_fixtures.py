"""Shared helpers of the collector and CLI tests: a valid event, samples, raw HTTP requests."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from mosaic_telemetry.collector.predictions import Sample

API_KEY = "5f" * 32
"""The key every test collector is started with (64 hex characters)."""

OTHER_KEY = "a0" * 32
INSTANCE_ID = "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11"
NIL_UUID = "00000000-0000-0000-0000-000000000000"
QUERY = {
    "task_type": "implementation",
    "model": "claude-sonnet-4",
    "provider": "anthropic",
    "complexity": "medium",
}
HTTP_TIMEOUT_S = 30.0

_EVENT: dict[str, Any] = {
    "instance_id": INSTANCE_ID,
    "event_id": "11111111-1111-4111-8111-111111111111",
    "schema_version": "1.0",
    "timestamp": "2026-11-24T22:00:00Z",
    "task_duration_ms": 120_000,
    "task_type": "implementation",
    "complexity": "medium",
    "harness": "claude_code",
    "model": "claude-sonnet-4",
    "provider": "anthropic",
    "estimated_input_tokens": 40_000,
    "estimated_output_tokens": 5_000,
    "actual_input_tokens": 44_000,
    "actual_output_tokens": 6_000,
    "estimated_cost_usd_micros": 195_000,
    "actual_cost_usd_micros": 222_000,
    "quality_gate_passed": True,
    "quality_gates_run": ["build", "lint", "test"],
    "quality_gates_failed": [],
    "context_compactions": 0,
    "context_rotations": 0,
    "context_utilization_final": 0.42,
    "outcome": "success",
    "retry_count": 0,
    "language": "python",
    "repo_size_category": "medium",
}


def event_id(number: int) -> str:
    """A distinct, readable event id for event number ``number``."""
    return f"00000000-0000-4000-8000-{number:012d}"


def event_dict(number: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid wire-format event with ``event_id(number)``; ``overrides`` replace fields."""
    data = dict(_EVENT, event_id=event_id(number))
    data.update(overrides)
    return data


def events(count: int, *, start: int = 1, **overrides: Any) -> list[dict[str, Any]]:
    """``count`` valid wire events numbered from ``start``."""
    return [event_dict(start + i, **overrides) for i in range(count)]


_SAMPLE = Sample(
    task_type="implementation",
    model="claude-sonnet-4",
    provider="anthropic",
    complexity="medium",
    estimated_input_tokens=100,
    estimated_output_tokens=10,
    actual_input_tokens=100,
    actual_output_tokens=10,
    actual_cost_usd_micros=1_000,
    task_duration_ms=1_000,
    quality_gate_passed=True,
    success=True,
)


def sample(**overrides: Any) -> Sample:
    """A prediction sample matching ``QUERY``; ``overrides`` replace fields."""
    return replace(_SAMPLE, **overrides)


@dataclass(frozen=True)
class Reply:
    """Status, headers (lower-case names) and body of one HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def request(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    content_length: bool = True,
) -> Reply:
    """Send one request exactly as described (``content_length=False`` omits that header)."""
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        all_headers = dict(headers or {})
        if body is not None and content_length:
            all_headers.setdefault("Content-Length", str(len(body)))
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return Reply(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=data,
        )
    finally:
        conn.close()


def auth(key: str = API_KEY) -> dict[str, str]:
    """The Authorization header of ``key``."""
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def post_json(
    base_url: str, path: str, payload: Any, *, key: str = API_KEY, compress: bool = False
) -> Reply:
    """POST ``payload`` as JSON (gzip-compressed when ``compress``) with ``key``."""
    body = json.dumps(payload).encode("utf-8")
    headers = auth(key)
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return request(base_url, "POST", path, body, headers)


def raw_exchange(base_url: str, data: bytes, *, half_close: bool = True) -> bytes:
    """Write raw bytes to the server, optionally half-close, and read the whole answer."""
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any MOSAIC_TELEMETRY_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
    env.update(extra)
    return env


ANNOUNCEMENT = "collector listening on "
"""The start of ``serve``'s ready line."""


class _Watched:
    """A text stream that passes everything on and notes when ``marker`` was written."""

    def __init__(self, stream: Any, marker: str) -> None:
        self._stream = stream
        self._marker = marker
        self.seen = threading.Event()

    def write(self, text: str) -> int:
        written: int = self._stream.write(text)
        if self._marker in text:
            self.seen.set()
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def sigterm_once_serving(announced: Callable[[], bool] | None = None) -> Iterator[None]:
    """Send this process SIGTERM once the collector announced itself, until the block ends.

    The announcement is ``serve``'s ready line on stdout, or whatever ``announced``
    says (for ``serve_forever`` called directly): never merely a serving thread, so
    the ready line is written before any stop can be asked. Meanwhile SIGTERM is
    ignored unless the code under test installed its own handler, so a signal can
    never kill the test run; the old handler and stdout come back.
    """
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    stdout = sys.stdout
    watched = _Watched(stdout, ANNOUNCEMENT)
    sys.stdout = watched
    ready = announced or watched.seen.is_set
    done = threading.Event()

    def nag() -> None:
        while not done.wait(0.02):
            if ready():
                os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=nag, name="test-sigterm-nag", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        sys.stdout = stdout
        signal.signal(signal.SIGTERM, previous)
