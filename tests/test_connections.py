"""Connections over real HTTP on 127.0.0.1: keep-alive reuse, stale sockets, proxies, forks."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable

import pytest
from _hostile import ProxyLog, dead_port, proxy, raw_server
from _server import (  # noqa: F401  # fixtures are used by name
    API_KEY,
    EVENTS_PATH,
    Reply,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    make_server_fixture,
    server_fixture,
    tls_cert_fixture,
    wait_until,
)

from mosaic_telemetry import TelemetryClient
from mosaic_telemetry._worker import SENDER_THREADS
from mosaic_telemetry.transport import Transport, TransportError

pytestmark = pytest.mark.usefixtures("clean_env")

BODY = b'{"events":[]}'


def test_fifty_sequential_batches_travel_over_one_connection(
    make_server: Callable[..., TelemetryServer],
) -> None:
    server = make_server(keep_alive=True)
    client = TelemetryClient(make_config(server))
    for _ in range(50):
        client.track(make_event())
        assert client.flush() is True
    assert len(server.batches()) == 50
    assert server.connections == 1
    assert client.stats.sent == 50


def test_fifty_parallel_batches_use_at_most_one_connection_per_sending_thread(
    make_server: Callable[..., TelemetryServer],
) -> None:
    server = make_server(keep_alive=True, keep_json=False)
    server.default = Reply(delay_s=0.02)  # slow enough for the senders to overlap
    config = make_config(server, batch_size=1, max_queue_size=100, submit_interval_seconds=0.05)
    client = TelemetryClient(config)
    for _ in range(50):  # queued first: one send cycle takes all fifty batches
        client.track(make_event())
    client.start()
    try:
        assert wait_until(lambda: client.stats.sent == 50, timeout_s=20.0), client.stats
    finally:
        client.stop()
    assert len(server.batches()) == 50
    # The worker sends the first batch alone, the sender threads the other 49.
    assert 1 <= server.connections <= SENDER_THREADS + 1, server.connections


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failure(
    make_server: Callable[..., TelemetryServer],
) -> None:
    server = make_server(keep_alive=True)
    client = TelemetryClient(make_config(server, max_retries=0))
    client.track(make_event())
    assert client.flush() is True
    server._httpd.hang_up_everyone()  # the server's idle timeout, say
    time.sleep(0.05)
    client.track(make_event())
    assert client.flush() is True
    stats = client.stats
    assert (stats.sent, stats.retries, stats.last_error) == (2, 0, None)
    assert server.connections == 2


def test_an_error_answer_that_closes_the_connection_is_followed_by_a_new_one(
    make_server: Callable[..., TelemetryServer],
) -> None:
    server = make_server(keep_alive=True)
    server.script(Reply(drop_connection=True))
    client = TelemetryClient(make_config(server), sleep=lambda s: None)
    client.track(make_event())
    assert client.flush() is True
    assert (client.stats.sent, client.stats.retries) == (1, 1)
    assert server.connections == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_opens_its_own_connection(
    make_server: Callable[..., TelemetryServer],
) -> None:
    server = make_server(keep_alive=True)
    client = TelemetryClient(make_config(server))
    client.track(make_event())
    assert client.flush() is True  # the parent now holds an idle keep-alive socket
    pid = os.fork()
    if pid == 0:  # pragma: no cover  # the child: never return into pytest
        code = 1
        try:
            client.track(make_event(model="child"))
            code = 0 if client.flush(timeout=5.0) and client.stats.sent == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    client.track(make_event(model="parent"))
    assert client.flush() is True  # the parent's socket was not disturbed by the child
    assert [len(b.event_ids) for b in server.batches()] == [1, 1, 1]
    assert server.connections == 2


# -- proxies ------------------------------------------------------------------------------


def test_http_goes_through_the_proxy_in_absolute_form_with_its_credentials(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = ProxyLog()
    with raw_server(proxy(log)) as relay:
        monkeypatch.setenv("HTTP_PROXY", f"http://alice:s3cret@127.0.0.1:{relay.port}")
        client = TelemetryClient(make_config(server))
        client.track(make_event())
        assert client.flush() is True
    assert log.lines == [f"POST {server.url}{EVENTS_PATH} HTTP/1.1"]
    assert log.auth == ["Basic " + base64.b64encode(b"alice:s3cret").decode()]
    (batch,) = server.batches()
    assert batch.header("Authorization") == f"Bearer {API_KEY}"
    assert batch.header("Proxy-Authorization") is None  # the proxy's, not the server's


def test_https_goes_through_a_connect_tunnel_and_is_verified_end_to_end(
    make_server: Callable[..., TelemetryServer],
    tls_cert: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_server(tls=tls_cert)
    log = ProxyLog()
    with raw_server(proxy(log)) as relay:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{relay.port}")
        client = TelemetryClient(make_config(server, ca_file=tls_cert[0]))
        client.track(make_event())
        assert client.flush() is True
    assert log.lines[0].startswith(f"CONNECT 127.0.0.1:{server.port} HTTP/1.")
    assert len(log.lines) == 1
    assert client.stats.sent == 1
    assert server.batches()[0].header("Authorization") == f"Bearer {API_KEY}"


def test_no_proxy_sends_directly(server: TelemetryServer, monkeypatch: pytest.MonkeyPatch) -> None:
    log = ProxyLog()
    with raw_server(proxy(log)) as relay:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{relay.port}")
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        Transport(make_config(server)).post(EVENTS_PATH, BODY, timeout_s=2.0)
    assert log.lines == []
    assert len(server.requests) == 1


def test_a_proxy_that_refuses_is_named_with_its_password_masked(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = dead_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://alice:s3cret@127.0.0.1:{port}")
    client = TelemetryClient(make_config(server, max_retries=0))
    client.track(make_event())
    assert client.flush(timeout=3.0) is False
    error = client.stats.last_error
    assert error is not None
    assert f"proxy http://***@127.0.0.1:{port} could not be reached" in error
    assert "s3cret" not in error and "alice" not in error
    assert server.requests == []  # the server is up; only the proxy refused
    assert client.stats.queued == 1


def test_a_proxy_that_refuses_the_tunnel_says_so(
    make_server: Callable[..., TelemetryServer],
    tls_cert: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_server(tls=tls_cert)
    refusing = make_server()  # answers CONNECT with 501 (http.server has no do_CONNECT)
    monkeypatch.setenv("HTTPS_PROXY", refusing.url)
    with pytest.raises(TransportError, match=r"proxy http://127\.0\.0\.1:\d+ refused the tunnel"):
        Transport(make_config(server, ca_file=tls_cert[0])).post(EVENTS_PATH, BODY, timeout_s=2)
