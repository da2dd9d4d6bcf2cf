"""True diagnoses over real sockets: each failure names its cause and where it happened."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from _hostile import dead_port, raw_server, silent
from _server import (  # noqa: F401  # fixtures are used by name
    API_KEY,
    EVENTS_PATH,
    Reply,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    make_query,
    make_server_fixture,
    server_fixture,
    tls_cert_fixture,
)

from mosaic_telemetry import ConfigurationError, TelemetryClient
from mosaic_telemetry.transport import Transport, TransportError

pytestmark = pytest.mark.usefixtures("clean_env")

BODY = b'{"events":[]}'


def failure_of(url: str, **settings: object) -> TransportError:
    with pytest.raises(TransportError) as info:
        Transport(make_config(url, **settings)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    return info.value


def test_a_refused_connection_names_the_address() -> None:
    port = dead_port()
    error = failure_of(f"http://127.0.0.1:{port}")
    assert str(error).startswith(f"Connection refused by 127.0.0.1:{port}")
    assert error.retryable and not error.sent


def test_an_unknown_host_is_a_dns_failure_naming_the_host() -> None:
    error = failure_of("http://no-such-host.invalid:8080")
    assert "DNS lookup of no-such-host.invalid" in str(error)
    assert "timed out" in str(error) or "failed" in str(error)


def test_an_untrusted_certificate_gives_the_verification_reason_and_is_not_retried(
    make_server: Callable[..., TelemetryServer], tls_cert: tuple[str, str]
) -> None:
    server = make_server(tls=tls_cert)
    error = failure_of(server.url)
    text = str(error)
    assert f"TLS certificate of 127.0.0.1:{server.port} is not trusted" in text
    assert "self-signed" in text or "self signed" in text
    assert "CERTIFICATE_VERIFY_FAILED" in text
    assert not error.retryable
    client = TelemetryClient(make_config(server, max_retries=3), sleep=lambda s: None)
    client.track(make_event())
    assert client.flush() is False
    stats = client.stats
    assert (stats.retries, stats.queued, stats.dropped_errors) == (0, 1, 0)  # kept, not retried


def test_https_against_a_plain_http_server_says_so(server: TelemetryServer) -> None:
    error = failure_of(server.url.replace("http://", "https://"))
    assert f"TLS handshake with 127.0.0.1:{server.port} failed" in str(error)
    assert "is it a plain http:// server?" in str(error)


def test_a_silent_server_is_a_timeout_waiting_for_the_answer() -> None:
    with raw_server(silent()) as peer, pytest.raises(TransportError) as info:
        Transport(make_config(peer.url)).post(EVENTS_PATH, BODY, timeout_s=0.5)
    assert f"timed out after 0.5 s waiting for the answer from 127.0.0.1:{peer.port}" in str(
        info.value
    )
    assert info.value.sent


def test_an_html_error_page_is_summarised_by_its_title(server: TelemetryServer) -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
        + b"<p>nginx</p>" * 2000
        + b"</body></html>"
    )
    server.default = Reply(status=502, body=page)
    client = TelemetryClient(make_config(server, max_retries=0))
    client.track(make_event())
    client.flush()
    assert client.stats.last_error == "HTTP 502: an HTML page (502 Bad Gateway)"


def test_a_junk_ca_file_does_not_matter_for_http(server: TelemetryServer, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    client = TelemetryClient(make_config(server, ca_file=str(junk)))
    client.track(make_event())
    assert client.flush() is True
    assert client.stats.sent == 1


def test_a_junk_ca_file_for_https_is_permanent_and_not_retried(
    make_server: Callable[..., TelemetryServer], tls_cert: tuple[str, str], tmp_path: Path
) -> None:
    server = make_server(tls=tls_cert)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigurationError, match=r"ca_file .*junk\.pem.* can't be used"):
        Transport(make_config(server, ca_file=str(junk)))
    client = TelemetryClient(make_config(server, ca_file=str(junk)), sleep=lambda s: None)
    client.track(make_event())
    assert client.flush() is True
    stats = client.stats
    assert (stats.retries, stats.dropped_errors, stats.queued) == (0, 1, 0)
    assert stats.last_error is not None and "ca_file" in stats.last_error
    assert server.requests == []


@pytest.mark.parametrize(
    ("url_of", "cause"),
    [
        pytest.param(lambda: f"http://127.0.0.1:{dead_port()}", "Connection refused", id="refused"),
        pytest.param(lambda: "http://no-such-host.invalid:8080", "DNS lookup", id="dns"),
    ],
)
def test_refresh_predictions_names_the_real_cause(
    url_of: Callable[[], str], cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mosaic_telemetry")
    client = TelemetryClient(make_config(url_of(), max_retries=0))
    client.refresh_predictions_sync([make_query()])
    error = client.stats.last_error
    assert error is not None and cause in error
    assert "did not answer in time" not in error
    assert any(cause in r.getMessage() for r in caplog.records)


def test_a_password_in_server_url_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://user:pa55word@127.0.0.1:{dead_port()}"
    with pytest.raises(ConfigurationError) as info:
        Transport(make_config(url))
    client = TelemetryClient(make_config(url, max_retries=0))
    client.track(make_event())
    client.flush(timeout=2.0)
    client.refresh_predictions_sync([make_query()])
    texts = [str(info.value), repr(info.value), repr(client), str(client.stats)]
    texts += [r.getMessage() for r in caplog.records]
    assert client.stats.dropped_errors == 1  # it can never work: dropped, said so
    assert [t for t in texts if "pa55word" in t] == []
    assert any("user info" in t for t in texts)
