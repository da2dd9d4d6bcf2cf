"""``spool drain``, ``send --spool-dir`` and the hook's persist point: real processes and HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import error_lines, run_cli, write_jsonl
from collector_fixtures import API_KEY, INSTANCE_ID, events

from mosaic_telemetry import TaskCompletionEvent, TelemetryConfig
from mosaic_telemetry._spool_admin import inspect_spool
from mosaic_telemetry.adapters._hook import persist_then_send
from mosaic_telemetry.collector import Collector


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector(API_KEY) as running:
        yield running


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def server_flags(url: str) -> list[str]:
    return ["--server-url", url, "--api-key", API_KEY, "--instance-id", INSTANCE_ID]


def spool_with(tmp_path: Path, count: int) -> Path:
    """A spool left by a ``send --spool-dir`` whose server was down."""
    spool_dir = tmp_path / "spool"
    source = write_jsonl(tmp_path / "down.jsonl", events(count))
    result = run_cli(
        "send",
        str(source),
        "--spool-dir",
        str(spool_dir),
        "--timeout",
        "1",
        *server_flags(dead_url()),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"spool: {count} unsent event(s) wait in {spool_dir} for the next run"
    )
    assert inspect_spool(spool_dir).unsent == count
    return spool_dir


def test_send_with_a_spool_dir_keeps_every_event_while_the_server_is_down(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    spool_with(tmp_path, 7)
    assert time.monotonic() - started < 30.0


def test_the_next_send_with_the_spool_dir_delivers_what_the_last_one_left(
    tmp_path: Path, collector: Collector
) -> None:
    spool_dir = spool_with(tmp_path, 5)
    source = write_jsonl(tmp_path / "up.jsonl", events(2, start=100))
    result = run_cli(
        "send",
        str(source),
        "--spool-dir",
        str(spool_dir),
        "--timeout",
        "20",
        *server_flags(collector.url),
    )
    assert result.returncode == 0, result.stderr
    assert collector.event_count == 7
    assert inspect_spool(spool_dir).unsent == 0
    assert "0 unsent event(s) wait" in result.stdout


def test_spool_drain_sends_what_the_spool_holds(tmp_path: Path, collector: Collector) -> None:
    spool_dir = spool_with(tmp_path, 4)
    result = run_cli(
        "spool",
        "drain",
        "--spool-dir",
        str(spool_dir),
        "--timeout",
        "20",
        "--server-url",
        collector.url,
        "--api-key",
        API_KEY,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"drained {spool_dir}: 4 accepted, 0 rejected, 0 refused, 0 left in the spool "
        f"({collector.url})"
    )
    assert collector.event_count == 4
    assert list(spool_dir.glob("seg-*.jsonl")) == []


def test_spool_drain_against_a_dead_server_keeps_everything_and_exits_3(tmp_path: Path) -> None:
    spool_dir = spool_with(tmp_path, 3)
    result = run_cli(
        "spool",
        "drain",
        "--spool-dir",
        str(spool_dir),
        "--timeout",
        "2",
        "--server-url",
        dead_url(),
        "--api-key",
        API_KEY,
    )
    assert result.returncode == 3, result.stderr
    assert "0 accepted, 0 rejected, 0 refused, 3 left in the spool" in result.stdout
    assert inspect_spool(spool_dir).unsent == 3


def test_spool_drain_refuses_a_shared_directory_in_one_line(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    result = run_cli(
        "spool",
        "drain",
        "--spool-dir",
        str(shared),
        "--server-url",
        dead_url(),
        "--api-key",
        API_KEY,
    )
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert "must not be writable by group or others" in line


def test_the_hooks_persist_point_uses_the_spool_when_one_is_configured(
    tmp_path: Path, collector: Collector
) -> None:
    spool_dir = tmp_path / "spool"
    batch = [TaskCompletionEvent.from_dict(item) for item in events(3)]
    down = TelemetryConfig(
        server_url=dead_url(), api_key=API_KEY, instance_id=INSTANCE_ID, spool_dir=str(spool_dir)
    )
    assert persist_then_send(batch, down, time.monotonic() + 5.0)  # on disk: settled for it
    assert inspect_spool(spool_dir).unsent == 3
    more = [TaskCompletionEvent.from_dict(item) for item in events(1, start=50)]
    up = TelemetryConfig(
        server_url=collector.url,
        api_key=API_KEY,
        instance_id=INSTANCE_ID,
        spool_dir=str(spool_dir),
    )
    assert persist_then_send(more, up, time.monotonic() + 10.0)
    assert collector.event_count == 4  # this run's event and the three the last run left
    assert inspect_spool(spool_dir).unsent == 0


def test_ingest_with_a_spool_dir_keeps_the_tasks_while_the_server_is_down_and_drain_sends_them(
    tmp_path: Path, collector: Collector
) -> None:
    fixture = Path(__file__).parent / "fixtures" / "aider_analytics.jsonl"
    spool_dir = tmp_path / "spool"
    down = run_cli(
        "ingest",
        "aider-analytics",
        str(fixture),
        "--spool-dir",
        str(spool_dir),
        "--timeout",
        "1",
        *server_flags(dead_url()),
    )
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip().endswith(
        "0 accepted, 0 rejected, 0 undeliverable, 5 kept in the spool for the next run"
    ), down.stdout
    assert inspect_spool(spool_dir).unsent == 5
    drained = run_cli(
        "spool",
        "drain",
        "--spool-dir",
        str(spool_dir),
        "--timeout",
        "20",
        *server_flags(collector.url),
    )
    assert drained.returncode == 0, drained.stderr
    assert collector.event_count == 5
    assert inspect_spool(spool_dir).unsent == 0
