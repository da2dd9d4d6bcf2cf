"""benchmarks/peers.py's own parts: its CLI, its sink's decoders and answers, its payloads.

No peer SDK is installed here: the sink is fed hand-built bodies of each wire format, and
our real client talks to it over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from mosaic_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import peers_clients  # noqa: E402  # from benchmarks/, after the path is set
import peers_sink  # noqa: E402


def test_peers_help_runs_without_a_venv() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "peers.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout
    assert "--only" in result.stdout


def test_peers_unknown_peer_is_one_line_on_stderr(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = subprocess.run(
        [sys.executable, str(BENCH / "peers.py"), "--only", "nosuch", "--venv", str(venv)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "nosuch" in result.stderr
    assert "Traceback" not in result.stderr
    assert not venv.exists()  # refused before anything is installed


def test_peer_payload_is_a_valid_event_of_our_wire_shape() -> None:
    payload = peers_clients.event_properties(7)
    event = TaskCompletionEvent.from_dict(payload)
    assert list(payload) == list(event.to_dict())
    assert event.to_dict() == payload


def test_peer_payloads_are_fresh_per_call() -> None:
    first, second = peers_clients.event_properties(1), peers_clients.event_properties(1)
    assert first["event_id"] != second["event_id"]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _otlp_body(per_scope: list[int]) -> bytes:
    """ExportLogsServiceRequest: one resource, a scope per entry, that many records each."""
    record = _field(5, b"body") + _varint(1 << 3) + _varint(1_700_000_000)  # a varint field too
    scopes = b"".join(
        _field(2, _field(1, b"scope") + b"".join(_field(2, record) for _ in range(n)))
        for n in per_scope
    )
    return _field(1, _field(1, b"resource") + scopes)


@pytest.mark.parametrize(("per_scope", "expected"), [([3], 3), ([2, 5], 7), ([], 0)])
def test_protobuf_count_finds_every_record(per_scope: list[int], expected: int) -> None:
    assert peers_sink.protobuf_count(_otlp_body(per_scope), (1, 2, 2)) == expected


def test_envelope_counts_events_and_every_log() -> None:
    logs = json.dumps({"items": [{"body": "a"}, {"body": "b"}, {"body": "c"}]}).encode()
    event = json.dumps({"message": "x\ny"}).encode()  # a newline inside: read by length
    body = b"\n".join(
        [
            b'{"dsn": "http://k@127.0.0.1/1"}',
            json.dumps({"type": "log", "length": len(logs)}).encode(),
            logs,
            json.dumps({"type": "event", "length": len(event)}).encode(),
            event,
            b'{"type": "client_report"}',
            b'{"discarded_events": []}',
        ]
    )
    assert peers_sink.envelope_events(body) == 4


@pytest.fixture
def sink() -> Iterator[str]:
    server = peers_sink._SinkServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return response.status, response.read()


def _stats(url: str) -> dict[str, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/__stats", timeout=10) as response:
        data: dict[str, object] = json.loads(response.read())
    return data


def test_sink_answers_each_sdk_and_counts_its_events(sink: str) -> None:
    batch = json.dumps({"batch": [{"event": "a"}, {"event": "b"}]}).encode()
    status, _ = _post(f"{sink}/batch/", gzip.compress(batch), {"Content-Encoding": "gzip"})
    assert status == 200  # posthog
    assert _post(f"{sink}/v1/batch", batch)[0] == 200  # segment
    status, body = _post(f"{sink}/2/httpapi", json.dumps({"events": [{}, {}, {}]}).encode())
    assert (status, json.loads(body)["code"]) == (200, 200)  # amplitude reads "code"
    form = urlencode({"data": json.dumps([{"event": "a"}, {"event": "b"}])}).encode()
    status, body = _post(f"{sink}/track", form)
    assert (status, json.loads(body)["status"]) == (200, 1)  # mixpanel needs status 1
    assert _post(f"{sink}/v1/logs", _otlp_body([4]))[0] == 200
    assert _post(f"{sink}/nowhere", b"{}")[0] == 200
    stats = _stats(sink)
    assert stats["events"] == 2 + 2 + 3 + 2 + 4
    assert stats["errors"] == []
    assert stats["by_path"] == {
        "/batch/": 2,
        "/v1/batch": 2,
        "/2/httpapi": 3,
        "/track": 2,
        "/v1/logs": 4,
        "unknown /nowhere": 0,
    }


def test_sink_is_success_for_our_client_and_counts_every_event(sink: str) -> None:
    config = TelemetryConfig(
        server_url=sink,
        api_key=peers_clients.API_KEY,
        instance_id=peers_clients.INSTANCE_ID,
        gzip=True,
    )
    events = [TaskCompletionEvent.from_dict(peers_clients.event_properties(i)) for i in range(150)]
    client = TelemetryClient(config)
    for event in events:
        client.track(event)
    assert client.flush(timeout=10)
    assert (client.stats.sent, client.stats.rejected, client.stats.invalid_responses) == (150, 0, 0)
    assert _stats(sink)["events"] == 150
