"""Plain http:// spoken on the socket (_wire.py): what http.client reads is read the same way."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
from _hostile import ACCEPTED, Behaviour, raw_server, read_request
from _server import (  # noqa: F401  # fixtures are used by name
    EVENTS_PATH,
    TelemetryServer,
    clean_env_fixture,
    make_config,
    server_fixture,
)

from mosaic_telemetry._http import MAX_RESPONSE_BYTES
from mosaic_telemetry._wire import request_bytes
from mosaic_telemetry.transport import Transport, TransportError

pytestmark = pytest.mark.usefixtures("clean_env")

BODY = b'{"events":[]}'


def answering(*answers: bytes, close: bool = True) -> Behaviour:
    """A peer that reads a request and sends the next answer, per request, on one connection."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        for answer in answers:
            head, _ = read_request(conn, stopping)
            if not head:
                return
            conn.sendall(answer)
        if not close:
            stopping.wait(30.0)

    return behave


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [
        b"%x;ext=1\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\nX-Trailer: 1\r\n\r\n"


HEAD = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"

GOOD_ANSWERS = {
    "content-length": HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(ACCEPTED), ACCEPTED),
    "chunked": HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(ACCEPTED),
    "read to close": HEAD + b"Connection: close\r\n\r\n" + ACCEPTED,
    "http/1.0": b"HTTP/1.0 202 Accepted\r\nContent-Length: %d\r\n\r\n%s"
    % (len(ACCEPTED), ACCEPTED),
    "100 continue first": b"HTTP/1.1 100 Continue\r\n\r\n"
    + HEAD
    + b"Content-Length: %d\r\n\r\n%s" % (len(ACCEPTED), ACCEPTED),
    "bare LF line ends": b"HTTP/1.1 202 Accepted\nContent-Length: %d\n\n%s"
    % (len(ACCEPTED), ACCEPTED),
}


@pytest.mark.parametrize("answer", list(GOOD_ANSWERS.values()), ids=list(GOOD_ANSWERS))
def test_every_body_framing_http_client_reads_is_read(answer: bytes) -> None:
    with raw_server(answering(answer)) as peer:
        result = Transport(make_config(peer.url)).post(EVENTS_PATH, BODY, timeout_s=5.0)
    assert (result.status, result.body, result.truncated) == (202, ACCEPTED, False)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(
            HEAD + b"Content-Length: 100\r\n\r\n0123456789",
            "closed the connection in the middle of the answer (10 of 100 bytes)",
            id="short body",
        ),
        pytest.param(
            HEAD + b"Transfer-Encoding: chunked\r\n\r\n10\r\n0123",
            "closed the connection in the middle of the answer (4 of 4 bytes)",
            id="short chunk",
        ),
        pytest.param(
            b"hello there\r\n\r\n",
            "answered with something that is not HTTP",
            id="no status line",
        ),
        pytest.param(
            b"HTTP/1.1 2x2 Odd\r\n\r\n", "answered with something that is not HTTP", id="bad code"
        ),
        pytest.param(
            HEAD + b"X-A: 1\r\n" * 101 + b"\r\n",
            "sent an answer that is not valid HTTP: got more than 100 headers",
            id="too many headers",
        ),
        pytest.param(
            HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
            "sent an answer that is not valid HTTP: invalid chunk size",
            id="bad chunk size",
        ),
        pytest.param(
            HEAD + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n",
            "sent an answer that is not valid HTTP",
            id="header line too long",
        ),
        pytest.param(b"", "closed the connection without an answer", id="no answer"),
    ],
)
def test_a_broken_answer_is_named_as_http_client_would_name_it(answer: bytes, reason: str) -> None:
    with raw_server(answering(answer)) as peer, pytest.raises(TransportError) as info:
        Transport(make_config(peer.url)).post(EVENTS_PATH, BODY, timeout_s=5.0)
    assert f"127.0.0.1:{peer.port} {reason}" in str(info.value)
    assert info.value.sent


def test_a_chunked_body_over_the_cap_is_cut_and_the_socket_dropped() -> None:
    big = b"x" * (MAX_RESPONSE_BYTES + 5000)
    answer = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(big, size=65536)
    with raw_server(answering(answer, answer, close=False)) as peer:
        transport = Transport(make_config(peer.url))
        first = transport.post(EVENTS_PATH, BODY, timeout_s=10.0)
        second = transport.post(EVENTS_PATH, BODY, timeout_s=10.0)
    assert first.truncated and len(first.body) == MAX_RESPONSE_BYTES
    assert second.truncated
    assert peer.connections == 2  # the rest of the first body was never read: a new socket


def test_chunked_answers_keep_the_connection_and_retry_after_is_read() -> None:
    answer = (
        b"HTTP/1.1 429 Slow down\r\nRETRY-AFTER: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked(b'{"error": "slow"}')
    )
    with raw_server(answering(answer, answer, answer, close=False)) as peer:
        transport = Transport(make_config(peer.url))
        results = [transport.post(EVENTS_PATH, BODY, timeout_s=5.0) for _ in range(3)]
    assert [(r.status, r.retry_after, r.body) for r in results] == [
        (429, "7", b'{"error": "slow"}')
    ] * 3
    assert peer.connections == 1


def test_the_request_carries_what_http_client_sends() -> None:
    seen: list[bytes] = []

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        head, body = read_request(conn, stopping)
        seen.append(head + b"\r\n\r\n" + body)
        conn.sendall(GOOD_ANSWERS["content-length"])

    with raw_server(behave) as peer:
        Transport(make_config(peer.url + "/base")).post(EVENTS_PATH, BODY, timeout_s=5.0)
    lines = seen[0].split(b"\r\n")
    assert lines[0] == f"POST /base{EVENTS_PATH} HTTP/1.1".encode()
    assert f"Host: 127.0.0.1:{peer.port}".encode() in lines
    assert b"Content-Length: %d" % len(BODY) in lines
    assert b"Accept-Encoding: identity" in lines
    assert seen[0].endswith(b"\r\n\r\n" + BODY)


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b", "a\x7fb"])
def test_a_control_character_in_a_header_is_refused_before_sending(value: str) -> None:
    with pytest.raises(ValueError, match="invalid character in the request line or headers"):
        request_bytes("POST", "/v1/events/batch", {"X-Test": value}, b"{}", host="h")


def test_a_cold_http_send_imports_neither_http_client_ssl_email_nor_logging(
    server: TelemetryServer,
) -> None:
    code = f"""
import sys
import mosaic_telemetry as mt
from mosaic_telemetry.transport import Transport
result = Transport(mt.TelemetryConfig(server_url={server.url!r}, api_key="k" * 64,
                   instance_id="12345678-1234-4234-8234-123456789012")).post(
    "/v1/events/batch", b'{{"events":[]}}', timeout_s=10.0)
assert result.status == 202, result
heavy = sorted(m for m in ("http.client", "ssl", "email.parser", "urllib.request",
               "encodings.idna", "logging") if m in sys.modules)
print(heavy)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
