"""Transport over real HTTP(S) on 127.0.0.1: headers, no redirects, schemes, caps, proxies, TLS."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    API_KEY,
    EVENTS_PATH,
    PREDICTIONS_PATH,
    Reply,
    TelemetryServer,
    clean_env_fixture,
    make_config,
    make_server_fixture,
    server_fixture,
    tls_cert_fixture,
)

from mosaic_telemetry import ConfigurationError, TelemetryConfig, TelemetryError
from mosaic_telemetry._http import MAX_RESPONSE_BYTES
from mosaic_telemetry.transport import Transport, TransportError

pytestmark = pytest.mark.usefixtures("clean_env")

BODY = b'{"events":[]}'


def test_post_sends_the_protocol_headers_and_body(server: TelemetryServer) -> None:
    transport = Transport(make_config(server, user_agent="agent/1.0"))
    result = transport.post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert result.status == 202
    assert json.loads(result.body) == {"accepted": 0, "rejected": 0, "results": []}
    assert not result.truncated
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", EVENTS_PATH)
    assert request.header("Authorization") == f"Bearer {API_KEY}"
    assert request.header("Content-Type") == "application/json"
    assert request.header("Accept") == "application/json"
    assert request.header("User-Agent") == "agent/1.0"
    assert request.header("Content-Encoding") is None
    assert request.header("Content-Length") == str(len(BODY))
    assert request.raw_body == BODY


def test_trailing_slashes_of_the_server_url_are_dropped(server: TelemetryServer) -> None:
    transport = Transport(make_config(server.url + "///"))
    transport.post(PREDICTIONS_PATH, b'{"queries":[]}', timeout_s=2.0)
    assert [r.path for r in server.requests] == [PREDICTIONS_PATH]


@pytest.mark.parametrize("status", [400, 401, 404, 413, 422, 429, 500, 503])
def test_error_statuses_come_back_as_results(server: TelemetryServer, status: int) -> None:
    server.script(Reply.error(status, "nope", **{"Retry-After": "7"}))
    result = Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert result.status == status
    assert json.loads(result.body) == {"error": "nope"}
    assert result.retry_after == "7"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_the_key_stays_home(
    server: TelemetryServer, make_server: Callable[..., TelemetryServer], status: int
) -> None:
    elsewhere = make_server()
    location = elsewhere.url + EVENTS_PATH
    server.script(Reply(status=status, body=b"", headers={"Location": location}))
    result = Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert result.status == status
    assert len(server.requests) == 1
    assert elsewhere.requests == []


def test_get_sends_no_credentials(server: TelemetryServer) -> None:
    result = Transport(make_config(server)).get("/v1/health", timeout_s=2.0)
    assert result.status == 202
    assert json.loads(result.body)["status"] == "ok"
    (request,) = server.requests
    assert request.method == "GET"
    assert request.header("Authorization") is None


def test_gzip_bodies_are_compressed_and_announced(server: TelemetryServer) -> None:
    body = json.dumps({"events": [], "pad": "x" * 5000}).encode()
    Transport(make_config(server, gzip=True)).post(EVENTS_PATH, body, timeout_s=2.0)
    (request,) = server.requests
    assert request.header("Content-Encoding") == "gzip"
    assert request.raw_body[:2] == b"\x1f\x8b"
    assert len(request.raw_body) < len(body)
    assert gzip.decompress(request.raw_body) == body


def test_response_bodies_are_capped_at_one_mebibyte(server: TelemetryServer) -> None:
    server.script(Reply(status=200, body=b"x" * (MAX_RESPONSE_BYTES + 4096)))
    result = Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=5.0)
    assert result.status == 200
    assert result.truncated
    assert len(result.body) == MAX_RESPONSE_BYTES


def test_a_body_of_exactly_the_cap_is_not_truncated(server: TelemetryServer) -> None:
    server.script(Reply(status=200, body=b"y" * MAX_RESPONSE_BYTES))
    result = Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=5.0)
    assert not result.truncated
    assert len(result.body) == MAX_RESPONSE_BYTES


def test_a_dropped_connection_is_a_transport_error_without_the_key(
    server: TelemetryServer,
) -> None:
    server.script(Reply(drop_connection=True))
    with pytest.raises(TransportError) as info:
        Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert isinstance(info.value, TelemetryError)
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_a_refused_connection_is_a_transport_error() -> None:
    closed = TelemetryServer()
    closed.close()  # nothing listens on its port any more
    with pytest.raises(TransportError, match=r"Connection refused by 127\.0\.0\.1:\d+") as info:
        Transport(make_config(closed)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert API_KEY not in str(info.value)


def test_a_slow_server_times_out_within_the_timeout(server: TelemetryServer) -> None:
    server.default = Reply(delay_s=5.0)
    started = time.monotonic()
    with pytest.raises(TransportError, match="timed out"):
        Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=0.3)
    assert time.monotonic() - started < 0.3 + 1.5


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:text/plain,hi", "127.0.0.1:80"]
)
def test_only_http_and_https_urls_are_accepted(url: str) -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        Transport(make_config(url))


@pytest.mark.parametrize(
    "override",
    [
        {"server_url": "http://127.0.0.1:9/\r\nHost: evil"},
        {"api_key": API_KEY + "\r\nX-Injected: 1"},
        {"user_agent": "agent\r\nX-Injected: 1"},
        {"user_agent": "agent\nX-Injected: 1"},
    ],
)
def test_control_characters_in_headers_are_refused(override: dict[str, str]) -> None:
    config = make_config("http://127.0.0.1:9", **override)
    with pytest.raises(ConfigurationError, match="control characters") as info:
        Transport(config)
    assert API_KEY not in str(info.value)


def test_repr_names_the_server_but_not_the_key(server: TelemetryServer) -> None:
    transport = Transport(make_config(server))
    assert server.url in repr(transport)
    assert API_KEY not in repr(transport)


def test_the_http_proxy_from_the_environment_is_used(
    server: TelemetryServer,
    make_server: Callable[..., TelemetryServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = make_server()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert server.requests == []
    (request,) = proxy.requests
    assert request.path == server.url + EVENTS_PATH  # absolute-form: a proxy request


def test_no_proxy_bypasses_the_proxy(
    server: TelemetryServer,
    make_server: Callable[..., TelemetryServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = make_server()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert proxy.requests == []
    assert [r.path for r in server.requests] == [EVENTS_PATH]


# -- TLS ---------------------------------------------------------------------------


def test_tls_certificates_are_verified(
    make_server: Callable[..., TelemetryServer], tls_cert: tuple[str, str]
) -> None:
    server = make_server(tls=tls_cert)
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert server.requests == []


def test_ca_file_trusts_a_private_ca(
    make_server: Callable[..., TelemetryServer], tls_cert: tuple[str, str]
) -> None:
    server = make_server(tls=tls_cert)
    result = Transport(make_config(server, ca_file=tls_cert[0])).post(
        EVENTS_PATH, BODY, timeout_s=2.0
    )
    assert result.status == 202
    (request,) = server.requests
    assert request.header("Authorization") == f"Bearer {API_KEY}"


def test_a_missing_ca_file_is_a_configuration_error_for_https(tmp_path: Path) -> None:
    config = TelemetryConfig(
        server_url="https://127.0.0.1:9", api_key=API_KEY, ca_file=str(tmp_path / "none.pem")
    )
    # Permanent: retrying cannot load a file that is not there.
    with pytest.raises(ConfigurationError, match=r"ca_file .*none\.pem.* can't be used"):
        Transport(config)
