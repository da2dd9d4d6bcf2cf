"""HTTP edges of the collector: Expect: 100-continue, slow or missing bodies, codings, logs."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from collector_fixtures import API_KEY, OTHER_KEY, clean_env, events, post_json, raw_exchange

from mosaic_telemetry.collector import Collector

EVENTS = "/v1/events/batch"
LOGGER = "mosaic_telemetry.collector"


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector(API_KEY, request_timeout_s=1.0) as running:
        yield running


def _connect(collector: Collector) -> socket.socket:
    parts = urlsplit(collector.url)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _head(body: bytes, *, key: str = API_KEY, extra: str = "") -> bytes:
    return (
        f"POST {EVENTS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode()


def _read_until(sock: socket.socket, marker: bytes, limit_s: float = 10.0) -> bytes:
    deadline = time.monotonic() + limit_s
    data = b""
    while marker not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_expect_100_continue_is_answered_before_the_body_is_sent(collector: Collector) -> None:
    body = json.dumps({"events": events(3)}).encode()
    with _connect(collector) as sock:
        sock.sendall(_head(body, extra="Expect: 100-continue\r\n"))
        started = time.monotonic()
        interim = _read_until(sock, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        assert time.monotonic() - started < 5
        sock.sendall(body)
        answer = _read_until(sock, b'"results"')
    assert answer.startswith(b"HTTP/1.1 202 "), answer
    assert collector.event_count == 3


def test_expect_100_continue_with_a_wrong_key_gets_401_without_waiting_for_the_body(
    collector: Collector,
) -> None:
    body = json.dumps({"events": events(3)}).encode()
    with _connect(collector) as sock:
        sock.sendall(_head(body, key=OTHER_KEY, extra="Expect: 100-continue\r\n"))
        answer = _read_all(sock)  # the collector answers and closes: no body ever sent
    assert answer.startswith(b"HTTP/1.1 401 "), answer
    assert b"100 Continue" not in answer
    assert collector.event_count == 0


def test_an_expectation_other_than_100_continue_gets_417(collector: Collector) -> None:
    body = b"{}"
    answer = raw_exchange(collector.url, _head(body, extra="Expect: teapot\r\n") + body)
    assert answer.startswith(b"HTTP/1.1 417 "), answer


@pytest.mark.parametrize("sent", [b"", b'{"events": [', b"{"], ids=["none", "half", "one byte"])
def test_a_body_that_does_not_arrive_in_time_gets_408_and_one_log_line(
    collector: Collector, caplog: pytest.LogCaptureFixture, sent: bytes
) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER), _connect(collector) as sock:
        sock.sendall(_head(b"x" * 100) + sent)
        started = time.monotonic()
        answer = _read_all(sock)  # 408, then the collector closes the connection
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"did not arrive within 1 s" in answer
    assert waited < 5
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    lines = [r.getMessage() for r in caplog.records if " 408 " in r.getMessage()]
    assert len(lines) == 1
    assert collector.event_count == 0


def test_a_body_trickled_a_byte_at_a_time_still_ends_at_the_deadline(collector: Collector) -> None:
    body = json.dumps({"events": events(1)}).encode()
    with _connect(collector) as sock:
        sock.sendall(_head(body))
        started = time.monotonic()
        answer = b""
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sock.settimeout(0.2)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                pass
            if answer:
                break
        sock.settimeout(10)
        answer += _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started < 5  # not len(body) * 0.2 s
    assert collector.event_count == 0


@pytest.mark.parametrize(
    ("coding", "status"),
    [("gzip", 400), ("chunked", 411), ("gzip, chunked", 411), ("identity", 400)],
)
def test_a_transfer_coding_is_refused_even_with_a_content_length(
    collector: Collector, coding: str, status: int
) -> None:
    body = json.dumps({"events": events(1)}).encode()
    answer = raw_exchange(
        collector.url, _head(body, extra=f"Transfer-Encoding: {coding}\r\n") + body
    )
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert b"Connection: close" in answer
    assert collector.event_count == 0


def test_every_answered_request_logs_one_info_line(
    collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        post_json(collector.url, EVENTS, {"events": events(2)})
        post_json(collector.url, EVENTS, {"events": events(2)}, key=OTHER_KEY)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 2
    assert '"POST /v1/events/batch HTTP/1.1" 202' in lines[0]
    assert '"POST /v1/events/batch HTTP/1.1" 401' in lines[1]
    assert all(line.endswith(" ms") for line in lines)
    assert API_KEY not in " ".join(lines) and OTHER_KEY not in " ".join(lines)


def test_control_characters_of_a_request_line_are_escaped_in_the_log(
    collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        raw_exchange(collector.url, b"GET /v1/\x1b[2J\x07\x85health HTTP/1.1\r\nHost: x\r\n\r\n")
        raw_exchange(collector.url, b"GET /\x1b]0;pwned\x07 HTTP/1.1\rforged line\r\n\r\n")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "\\x1b[2J\\x07\\x85health" in text
    assert not any((ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F for ch in text)


@pytest.mark.parametrize("flags", [["serve", "-v"], ["--verbose", "serve"], ["serve", "--verbose"]])
def test_serve_logs_each_request_with_verbose_anywhere_on_the_command_line(
    flags: list[str],
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mosaic_telemetry", *flags, "--port", "0"],
        env=clean_env(MOSAIC_TELEMETRY_API_KEY=API_KEY),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[3]
        assert post_json(url, EVENTS, {"events": events(1)}).status == 202
        process.terminate()
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert '"POST /v1/events/batch HTTP/1.1" 202' in err
    assert " INFO " in err
    assert "Traceback" not in err


_HEADER_CASES = [
    ("folded header", b"GET /v1/health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
    ("no colon", b"GET /v1/health HTTP/1.1\r\nHost x\r\n\r\n", 400),
    ("space before colon", b"GET /v1/health HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("long line", b"GET /v1/health HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    ("101 headers", b"GET /v1/health HTTP/1.1\r\n" + b"X: 1\r\n" * 101 + b"\r\n", 431),
    ("HTTP/2", b"GET /v1/health HTTP/2.0\r\n\r\n", 505),
    ("HTTP/0.9", b"GET /v1/health\r\n\r\n", 400),
    ("bad version", b"GET /v1/health HTTP/1.x\r\n\r\n", 400),
    ("four words", b"GET /v1/health HTTP/1.1 extra\r\n\r\n", 400),
]


@pytest.mark.parametrize(
    ("data", "status"), [c[1:] for c in _HEADER_CASES], ids=[c[0] for c in _HEADER_CASES]
)
def test_malformed_request_heads_get_a_json_error(
    collector: Collector, data: bytes, status: int
) -> None:
    answer = raw_exchange(collector.url, data)
    assert answer.startswith((f"HTTP/1.1 {status} ".encode(), f"HTTP/1.0 {status} ".encode())), (
        answer[:80]
    )
    assert answer.rstrip().endswith(b"}")


@pytest.mark.parametrize(
    ("version", "connection", "kept"),
    [("1.1", "", True), ("1.1", "close", False), ("1.0", "", False), ("1.0", "keep-alive", True)],
)
def test_keep_alive_follows_the_version_and_the_connection_header(
    collector: Collector, version: str, connection: str, kept: bool
) -> None:
    extra = f"Connection: {connection}\r\n" if connection else ""
    request = f"GET /v1/health HTTP/{version}\r\nHost: x\r\n{extra}\r\n".encode()
    with _connect(collector) as sock:
        sock.sendall(request)
        first = _read_until(sock, b"}")
        sock.settimeout(0.5)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
    assert first.split(b" ")[1] == b"200"
    assert closed is not kept
