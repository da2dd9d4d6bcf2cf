"""Security: the key never leaks, nothing leaves for the wrong place, TLS is verified, SQL is bound.

Every scenario of this directory also runs under the ``key_watch`` fixture of
conftest.py, which captures the package's log records at DEBUG and fails the test
if one of them holds the API key.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _faults import FaultServer, always, redirect, status
from _report import record
from _support import (
    API_KEY,
    REPO_ROOT,
    key_fragments,
    make_config,
    make_event,
    track_all,
    wait_until,
)

import mosaic_telemetry.collector._wire as wire
import mosaic_telemetry.collector.store as collector_store
from mosaic_telemetry import (
    ConfigurationError,
    TaskCompletionEvent,
    TelemetryClient,
    TelemetryConfig,
)
from mosaic_telemetry.collector import Collector
from mosaic_telemetry.transport import Transport, TransportError

pytestmark = pytest.mark.reliability

HERE = "tests/reliability/test_security.py"
MakeClient = Callable[..., TelemetryClient]
Serve = Callable[..., FaultServer]


def _no_wait(seconds: float) -> None:
    """Backoff waits that return at once."""


# -- the key never shows ----------------------------------------------------------------------


def test_the_key_is_in_no_repr_str_stats_or_error(serve: Serve, make_client: MakeClient) -> None:
    server = serve(always(status(401)))
    config = make_config(server.url, max_retries=0)
    client = make_client(config, sleep=_no_wait)
    track_all(client, [make_event() for _ in range(3)])
    client.flush(timeout=5.0)
    stats = client.stats

    errors: list[BaseException] = []
    for bad in (
        make_config("ftp://example.invalid"),
        make_config(server.url, api_key=API_KEY + "\r\nX-Evil: 1"),
    ):
        with pytest.raises(ConfigurationError) as refused:
            Transport(bad)
        errors.append(refused.value)
    with pytest.raises(TransportError) as failed:
        Transport(make_config("http://127.0.0.1:9")).post("/v1/events/batch", b"{}", timeout_s=1)
    errors.append(failed.value)

    with Collector(API_KEY) as collector:
        texts = [
            repr(config),
            str(config),
            repr(client),
            str(client),
            repr(stats),
            str(stats),
            repr(collector),
            repr(Transport(config)),
            *(repr(e) for e in errors),
            *(str(e) for e in errors),
        ]
    assert stats.dropped_errors == 3
    assert [text for text in texts if key_fragments(text)] == []


ECHOES = {
    "401 error message": status(401, body=json.dumps({"error": f"bad key {API_KEY}"}).encode()),
    "503 error message": status(503, body=json.dumps({"error": f"bad key {API_KEY}"}).encode()),
    "401 key across the 200-character cut": status(
        401, body=json.dumps({"error": "." * 180 + " " + API_KEY}).encode()
    ),
    "2xx body that is not JSON": status(202, body=f"echo: {API_KEY}".encode()),
    "2xx JSON with the key in a result": status(
        202,
        body=json.dumps(
            {"accepted": 0, "rejected": 1, "results": [{"event_id": API_KEY, "status": "x"}]}
        ).encode(),
    ),
}


@pytest.mark.parametrize("answer", list(ECHOES), ids=list(ECHOES))
def test_a_server_that_echoes_the_key_gets_it_redacted_everywhere(
    answer: str, serve: Serve, make_client: MakeClient, key_watch: Any
) -> None:
    # Debug pages and echoing proxies repeat request headers; the client must not repeat
    # them on. key_watch (conftest) also reads every log record of this test.
    server = serve(always(ECHOES[answer]))
    client = make_client(make_config(server.url, max_retries=0), sleep=_no_wait)
    track_all(client, [make_event()])
    client.flush(timeout=5.0)
    stats = client.stats

    assert stats.last_error is not None
    assert key_fragments(stats.last_error) == [], stats.last_error
    assert key_fragments(repr(stats)) == []
    logged = [text for text in key_watch.texts if key_fragments(text)]
    assert logged == [], logged[0]


def test_the_collector_never_echoes_a_key_it_was_sent() -> None:
    with Collector(API_KEY) as collector:
        wrong = "ab" * 32
        config = make_config(collector.url, api_key=wrong, max_retries=0)
        client = TelemetryClient(config)
        client.track(make_event())
        client.flush(timeout=5.0)
        stats = client.stats
        assert stats.dropped_errors == 1
        assert stats.last_error is not None
        assert "401" in stats.last_error
        assert wrong not in stats.last_error and API_KEY not in stats.last_error


# -- nothing goes where it must not -----------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(code: int, serve: Serve, make_client: MakeClient) -> None:
    target = serve()
    server = serve(always(redirect(target.url + "/v1/events/batch", code)))
    client = make_client(make_config(server.url), sleep=_no_wait)
    track_all(client, [make_event()])
    client.flush(timeout=5.0)

    assert target.receipts == [], "the redirect was followed (with the bearer token)"
    assert (client.stats.dropped_errors, client.stats.retries) == (1, 0)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/v1",
        "data:application/json,{}",
        "FILE:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "/relative/path",
    ],
)
def test_urls_other_than_http_and_https_are_refused(url: str, make_client: MakeClient) -> None:
    config = make_config(url)
    assert any("server_url" in problem for problem in config.validate())
    with pytest.raises(ConfigurationError, match="server_url"):
        Transport(config)
    client = make_client(config, sleep=_no_wait)
    track_all(client, [make_event(), make_event()])
    assert client.flush(timeout=5.0) is True  # refused and counted; never raised
    assert (client.stats.sent, client.stats.dropped_errors) == (0, 2)


INJECTIONS = ["\r\nX-Injected: 1", "\nX-Injected: 1", "\rX-Injected: 1", "\x00"]


@pytest.mark.parametrize("field", ["api_key", "server_url", "user_agent"])
@pytest.mark.parametrize("injection", INJECTIONS, ids=["crlf", "lf", "cr", "nul"])
def test_cr_lf_in_a_header_value_is_refused_and_nothing_is_sent(
    field: str, injection: str, serve: Serve, make_client: MakeClient
) -> None:
    server = serve(keep_bodies=True)
    if field == "server_url":
        config = make_config(server.url + "/" + injection)
    else:
        base = {"api_key": API_KEY, "user_agent": "agent/1"}
        config = make_config(server.url, **{field: base[field] + injection})
    assert config.validate() != []
    client = make_client(config, sleep=_no_wait)
    track_all(client, [make_event()])
    assert client.flush(timeout=5.0) is True

    assert server.receipts == [], "a request went out with an injected header"
    assert (client.stats.sent, client.stats.dropped_errors) == (0, 1)
    assert client.stats.last_error is not None and API_KEY not in client.stats.last_error


# -- TLS is verified by default ---------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for IP 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        print("\nskipping the TLS scenarios: the openssl command is missing")
        pytest.skip("the openssl command is missing (needed to make a test certificate)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if made.returncode != 0:
        print(f"\nskipping the TLS scenarios: openssl failed: {made.stderr.strip()}")
        pytest.skip(f"openssl could not make a certificate: {made.stderr.strip()[:200]}")
    yield cert, key


def _tls_server(serve: Serve, cert: Path, key: Path) -> FaultServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return serve(tls=context)


def test_an_unknown_certificate_is_refused_by_default(
    certificate: tuple[Path, Path], serve: Serve, make_client: MakeClient
) -> None:
    server = _tls_server(serve, *certificate)
    client = make_client(make_config(server.url, max_retries=0), sleep=_no_wait)
    track_all(client, [make_event() for _ in range(3)])

    assert client.flush(timeout=5.0) is False  # transient: kept for a later attempt

    stats = client.stats
    assert server.receipts == [], "the request went through an unverified connection"
    assert wait_until(lambda: server.tls_failures >= 1, timeout_s=5.0), "no handshake failed"
    assert (stats.sent, stats.queued) == (0, 3)
    assert stats.last_error is not None and "CERTIFICATE_VERIFY_FAILED" in stats.last_error


def test_a_certificate_signed_by_ca_file_is_accepted(
    certificate: tuple[Path, Path], serve: Serve, make_client: MakeClient
) -> None:
    cert, _ = certificate
    server = _tls_server(serve, *certificate)
    config = make_config(server.url, ca_file=str(cert))
    assert config.validate() == []
    client = make_client(config, sleep=_no_wait)
    events = [make_event() for _ in range(3)]
    track_all(client, events)

    assert client.flush(timeout=10.0) is True

    assert server.delivered_ids() == {str(e.event_id) for e in events}
    assert client.stats.sent == 3


def test_a_ca_file_does_not_make_a_wrong_host_name_pass(
    certificate: tuple[Path, Path], serve: Serve, make_client: MakeClient
) -> None:
    cert, _ = certificate
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo("localhost", None)}
    except OSError:
        addresses = set()
    if "127.0.0.1" not in addresses:
        pytest.skip("localhost does not resolve to 127.0.0.1 here")
    server = _tls_server(serve, *certificate)
    # Same server, same trusted certificate, but reached as "localhost": not in its SAN.
    config = make_config(f"https://localhost:{server.port}", ca_file=str(cert), max_retries=0)
    client = make_client(config, sleep=_no_wait)
    track_all(client, [make_event()])

    assert client.flush(timeout=5.0) is False

    assert server.receipts == []
    assert client.stats.last_error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in client.stats.last_error


# -- the collector: constant-time key check, bound SQL parameters ----------------------------


def _source_tree(module: object) -> ast.Module:
    path = getattr(module, "__file__", None)
    assert isinstance(path, str)
    return ast.parse(Path(path).read_text(encoding="utf-8"))


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise AssertionError(f"no function {name}")


_SECRET_NAMES = ("api_key", "token", "bearer", "secret")


def _mentions_secret(node: ast.AST) -> bool:
    names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
    names += [n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)]
    return any(secret in name.lower() for name in names for secret in _SECRET_NAMES)


def _collector_modules() -> dict[str, ast.Module]:
    folder = Path(wire.__file__).parent
    return {
        path.name: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.py"))
    }


def test_the_collector_compares_keys_in_constant_time_only() -> None:
    check = _function(_source_tree(wire), "check_bearer")
    digests = [
        node
        for node in ast.walk(check)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compare_digest"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "hmac"
    ]
    assert len(digests) == 1, "check_bearer must compare with hmac.compare_digest"
    assert any(_mentions_secret(arg) for arg in digests[0].args)
    modules = _collector_modules()
    callers = []
    for name, tree in modules.items():
        for node in ast.walk(tree):
            # No == / != on a key or token anywhere in the collector: those stop at the
            # first differing byte, and the time they take tells an attacker how far it got.
            if isinstance(node, ast.Compare) and _mentions_secret(node):
                assert not any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops), (
                    f"{name}: {ast.unparse(node)}"
                )
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "check_bearer"
            ):
                callers.append(name)
        source = ast.unparse(tree)
        if "Authorization" in source and name != wire.__file__.rsplit("/", 1)[-1]:
            assert "check_bearer(" in source, f"{name} reads Authorization without check_bearer"
    assert callers, "no request handler calls check_bearer"


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "ab" * 32,
        API_KEY[:-1],
        API_KEY + "0",
        API_KEY.upper(),
        API_KEY[:32],
        " " + API_KEY + "x",
    ],
    ids=["empty", "other", "one short", "one long", "upper case", "prefix", "padded"],
)
def test_the_collector_accepts_the_exact_key_only(sent: str) -> None:
    with Collector(API_KEY) as collector:
        refused = TelemetryClient(make_config(collector.url, api_key=sent, max_retries=0))
        refused.track(make_event())
        refused.flush(timeout=5.0)
        accepted = TelemetryClient(make_config(collector.url, max_retries=0))
        accepted.track(make_event())
        accepted.flush(timeout=5.0)

        assert (refused.stats.sent, refused.stats.dropped_errors) == (0, 1)
        assert accepted.stats.sent == 1
        assert collector.event_count == 1


def test_every_sql_statement_of_the_store_is_a_constant() -> None:
    executes = [
        node
        for node in ast.walk(_source_tree(collector_store))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("execute", "executemany", "executescript")
    ]
    assert executes, "the store runs no SQL at all?"
    for call in executes:
        statement = call.args[0]
        text = ast.unparse(call)
        # A literal or a module constant: never an f-string, a concatenation or a format().
        assert isinstance(statement, (ast.Constant, ast.Name)), text
        if isinstance(statement, ast.Constant):
            assert isinstance(statement.value, str), text


HOSTILE_MODELS = [
    "x'); DROP TABLE events;--",
    'x"; DELETE FROM events; --',
    "' OR '1'='1",
    "Robert'); DROP TABLE events;--",
    "日本語'; --",
]


def test_hostile_text_is_stored_verbatim_and_the_table_survives(tmp_path: Path) -> None:
    with Collector(API_KEY, db_path=str(tmp_path / "events.db")) as collector:
        client = TelemetryClient(make_config(collector.url))
        events = [make_event(model=model) for model in HOSTILE_MODELS]
        events.append(make_event(language="'); DROP TABLE events;--"))
        track_all(client, events)
        assert client.flush(timeout=10.0) is True
        assert client.stats.sent == len(events)

        later = make_event()
        client.track(later)
        assert client.flush(timeout=10.0) is True
        assert collector.event_count == len(events) + 1

    # Read the database back: every hostile value is there, byte for byte.
    store = collector_store.EventStore(str(tmp_path / "events.db"))
    try:
        with store.reading() as conn:
            models = {model for (model,) in conn.execute("SELECT model FROM events")}
        assert set(HOSTILE_MODELS) <= models
        assert store.count() == len(events) + 1
    finally:
        store.close()
    record(
        "SQL injection text through the collector",
        f"python -m pytest -m reliability {HERE}::"
        "test_hostile_text_is_stored_verbatim_and_the_table_survives",
        tracked=len(events) + 1,
        delivered=len(events) + 1,
        rejected=0,
        dropped=0,
        retries=0,
        seconds=None,
    )


# -- bandit -----------------------------------------------------------------------------------


def test_bandit_finds_nothing_in_the_package() -> None:
    if importlib.util.find_spec("bandit") is None:
        print("\nskipping bandit: it is not installed in this environment")
        pytest.skip("bandit is not installed (pip install bandit)")
    # bandit is a third-party tool, not our code: the deprecations of its own dependencies
    # (stevedore's verify_requirements) are not errors here, as they are in the package's
    # children (tests/_child_warnings.py).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", "mosaic_telemetry", "-c", "pyproject.toml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- smaller promises -------------------------------------------------------------------------


def test_a_config_built_from_the_environment_masks_the_key_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOSAIC_TELEMETRY_API_KEY", API_KEY)
    monkeypatch.setenv("MOSAIC_TELEMETRY_SERVER_URL", "https://telemetry.example.com")
    config = TelemetryConfig(instance_id=str(uuid.uuid4()))
    assert config.api_key == API_KEY
    assert API_KEY not in repr(config) and API_KEY not in str(config)
    assert API_KEY not in repr(TelemetryClient(config))


def test_a_disabled_client_opens_no_socket_even_with_events(serve: Serve) -> None:
    server = serve()
    client = TelemetryClient(make_config(server.url, enabled=False))
    client.start()
    track_all(client, [make_event()])
    assert client.flush(timeout=1.0) is True
    client.stop()
    assert not wait_until(lambda: bool(server.receipts), timeout_s=0.2)
    assert client.stats.tracked == 0


def test_events_are_sent_as_json_with_the_headers_of_the_protocol(
    serve: Serve, make_client: MakeClient
) -> None:
    server = serve(keep_bodies=True)
    client = make_client(make_config(server.url))
    event = make_event()
    client.track(event)
    assert client.flush(timeout=5.0) is True
    (receipt,) = server.receipts
    assert receipt.authorization == f"Bearer {API_KEY}"  # the key goes here, and only here
    assert receipt.headers["content-type"] == "application/json"
    body = json.loads(receipt.body)
    assert TaskCompletionEvent.from_dict(body["events"][0]) == event
