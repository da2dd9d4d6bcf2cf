"""Shared helpers of the reliability suite: events, configs, exact accounting, subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from _faults import FaultServer

import mosaic_telemetry
from mosaic_telemetry import (
    ClientStats,
    Complexity,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    TaskCompletionEvent,
    TaskType,
    TelemetryClient,
    TelemetryConfig,
)

__all__ = [
    "API_KEY",
    "INSTANCE_ID",
    "LEAK_WINDOW",
    "MARGIN_S",
    "REPO_ROOT",
    "ScriptResult",
    "assert_balanced",
    "assert_nothing_silent",
    "heavy_enabled",
    "key_fragments",
    "make_config",
    "make_event",
    "quick_sleep",
    "rss_kib",
    "run_script",
    "track_all",
    "wait_until",
]

API_KEY = "9c4f0b7e2d5a81c36e0f4b9d27a1c58e3f6b0d92a4c7e15b8d3f6a09c2e5b71d"
"""The key every scenario uses (64 hex characters, no repeats); it must never show up."""

LEAK_WINDOW = 12
"""A run of this many characters of the key, anywhere, counts as a leak (a masked form
shows the last 4 at most)."""


def key_fragments(text: str) -> list[str]:
    """The runs of ``LEAK_WINDOW`` characters of :data:`API_KEY` that appear in ``text``."""
    return [
        API_KEY[start : start + LEAK_WINDOW]
        for start in range(len(API_KEY) - LEAK_WINDOW + 1)
        if API_KEY[start : start + LEAK_WINDOW] in text
    ]


INSTANCE_ID = "6f1c1a52-8f1e-4c39-9a4e-0d7a1f3b5c2e"

MARGIN_S = 1.5
"""Slack on every "returns within" promise: the machine is shared and noisy."""

REPO_ROOT = Path(mosaic_telemetry.__file__).resolve().parent.parent
"""The checkout whose package is under test (put on a subprocess's PYTHONPATH)."""


def heavy_enabled() -> bool:
    """Whether the load and soak scenarios run: on Python 3.11, or when asked for."""
    if os.environ.get("MOSAIC_RELIABILITY_HEAVY", "").strip() in ("1", "true", "yes"):
        return True
    return sys.version_info[:2] == (3, 11)


def make_event(model: str = "claude-sonnet-4", **changes: object) -> TaskCompletionEvent:
    """A valid event with a fresh ``event_id``; ``model`` tags it for the server side."""
    fields: dict[str, object] = {
        "instance_id": uuid.UUID(INSTANCE_ID),
        "task_duration_ms": 120_000,
        "task_type": TaskType.IMPLEMENTATION,
        "complexity": Complexity.MEDIUM,
        "harness": Harness.CLAUDE_CODE,
        "model": model,
        "provider": Provider.ANTHROPIC,
        "estimated_input_tokens": 40_000,
        "estimated_output_tokens": 5_000,
        "actual_input_tokens": 44_000,
        "actual_output_tokens": 6_000,
        "estimated_cost_usd_micros": 195_000,
        "actual_cost_usd_micros": 222_000,
        "quality_gate_passed": True,
        "quality_gates_run": [QualityGate.BUILD, QualityGate.TEST],
        "quality_gates_failed": [],
        "context_compactions": 0,
        "context_rotations": 0,
        "context_utilization_final": 0.42,
        "outcome": Outcome.SUCCESS,
        "retry_count": 0,
        "language": "python",
    }
    fields.update(changes)
    return TaskCompletionEvent(**fields)  # type: ignore[arg-type]  # a table of valid fields


def make_config(server_url: str, **changes: object) -> TelemetryConfig:
    """A config for ``server_url`` with short timeouts; ``changes`` override any field."""
    values: dict[str, object] = {
        "server_url": server_url,
        "api_key": API_KEY,
        "instance_id": INSTANCE_ID,
        "submit_interval_seconds": 0.1,
        "request_timeout_seconds": 2.0,
        "shutdown_timeout_seconds": 5.0,
        "max_retries": 3,
        "batch_size": 20,
        "max_queue_size": 1000,
    }
    values.update(changes)
    return TelemetryConfig(**values)  # type: ignore[arg-type]  # keyword table of the fields


def quick_sleep(seconds: float) -> None:
    """A backoff wait cut to 20 ms at most, so retry scenarios take seconds, not minutes."""
    time.sleep(min(seconds, 0.02))


def track_all(client: TelemetryClient, events: Iterable[TaskCompletionEvent]) -> None:
    """``client.track`` each event."""
    for event in events:
        client.track(event)


def assert_balanced(stats: ClientStats) -> None:
    """Every tracked event is in exactly one place: the client's accounting identity."""
    placed = (
        stats.sent
        + stats.rejected
        + stats.dropped_queue_full
        + stats.dropped_errors
        + stats.dropped_shutdown
        + stats.dropped_invalid
        + stats.dropped_feedback
        + stats.unconfirmed
        + stats.queued
        + stats.in_flight
    )
    assert stats.tracked == placed, f"unbalanced: tracked {stats.tracked} != placed {placed}"


def assert_nothing_silent(
    stats: ClientStats, server: FaultServer, tracked: Iterable[TaskCompletionEvent]
) -> None:
    """Balanced, and the server stored exactly what the client counts as sent."""
    assert_balanced(stats)
    tracked_ids = {str(event.event_id) for event in tracked}
    delivered = server.delivered_ids()
    assert delivered <= tracked_ids, "the server stored events nobody tracked"
    assert len(delivered) == stats.sent, f"server stored {len(delivered)}, client sent {stats.sent}"
    assert len(server.rejected_ids()) == stats.rejected


def wait_until(condition: Callable[[], bool], timeout_s: float, step_s: float = 0.01) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step_s)


def rss_kib() -> int:
    """This process's resident set size in KiB (``VmRSS``), 0 where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class ScriptResult:
    """What a child Python process did."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float


def run_script(source: str, *args: str, timeout_s: float = 60.0) -> ScriptResult:
    """Run ``source`` with this very interpreter (``sys.executable``) and the checkout importable.

    Raises:
        subprocess.TimeoutExpired: the child did not finish (it is killed first).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", source, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )
    return ScriptResult(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
