"""Process exit and signals, each in a child interpreter: bounded, and every event counted.

- exit without stop() while sender threads are mid-request against a hanging server;
- the integration guide's SIGTERM recipe, with the signal landing inside flush();
- an event tracked by a host atexit hook after the client's exit flush;
- a runtime that refuses daemon threads (isolated subinterpreters on 3.14).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from _faults import Exchange, FaultServer, always, hang, ok
from _report import record
from _support import API_KEY, INSTANCE_ID, REPO_ROOT, make_event, run_script

pytestmark = pytest.mark.reliability

HERE = "tests/reliability/test_exit_paths.py"
Serve = Callable[..., FaultServer]

_PRELUDE = f"""
import atexit, json, sys, threading, time, uuid
from mosaic_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig

TEMPLATE = json.loads(sys.argv[2])

def event(model):
    return TaskCompletionEvent.from_dict(
        {{**TEMPLATE, "event_id": str(uuid.uuid4()), "model": model}}
    )

def make_client(**changes):
    values = dict(server_url=sys.argv[1], api_key={API_KEY!r}, instance_id={INSTANCE_ID!r},
                  submit_interval_seconds=300.0, request_timeout_seconds=30.0)
    values.update(changes)
    return TelemetryClient(TelemetryConfig(**values))

def stats_of(client):
    s = client.stats
    return {{name: getattr(s, name, 0) for name in (
        "tracked", "sent", "rejected", "dropped_queue_full", "dropped_errors",
        "dropped_shutdown", "dropped_invalid", "dropped_feedback", "unconfirmed",
        "queued", "in_flight", "retries")}}
"""

_MID_RETRY = (
    _PRELUDE
    + """
shutdown_s = float(sys.argv[3])
client = make_client(shutdown_timeout_seconds=shutdown_s, batch_size=100,
                     request_timeout_seconds=4.0, max_retries=3, submit_interval_seconds=0.2)
marks = {}

def report():  # registered before start(): runs after the client's exit flush
    print(json.dumps({"exit_flush_s": time.monotonic() - marks["end"],
                      "senders": marks["senders"], "stats": stats_of(client)}), flush=True)

atexit.register(report)
for _ in range(300):  # queued before start(): the first send cycle takes all three batches
    client.track(event("exit"))
client.start()
time.sleep(1.2)  # batch 1 went through; batches 2 and 3 now hang on the sender threads
marks["senders"] = sum(t.name.startswith("mosaic-telemetry-send") for t in threading.enumerate())
marks["end"] = time.monotonic()
# No stop(): the interpreter exits with two requests hanging, 200 events out.
"""
)


def _template() -> str:
    return json.dumps(make_event().to_dict())


def _last_json(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"the child printed no report: {stdout!r}"
    loaded: dict[str, object] = json.loads(lines[-1])
    return loaded


def _balanced(stats: dict[str, int]) -> bool:
    placed = sum(v for k, v in stats.items() if k not in ("tracked", "retries"))
    return stats["tracked"] == placed


def test_exit_with_sender_threads_mid_request_ends_within_the_shutdown_timeout(
    serve: Serve,
) -> None:
    def plan(exchange: Exchange) -> object:
        return ok() if exchange.index == 0 else hang(60.0)

    server = serve(plan)
    shutdown_s = 2.0

    done = run_script(_MID_RETRY, server.url, _template(), str(shutdown_s))

    assert done.returncode == 0, done.stderr
    report = _last_json(done.stdout)
    stats = report["stats"]
    assert isinstance(stats, dict)
    exit_flush_s = report["exit_flush_s"]
    assert isinstance(exit_flush_s, float)
    record(
        f"exit without stop(), sender threads mid-request against a hanging server, "
        f"300 events, Python {sys.version_info[0]}.{sys.version_info[1]}",
        f"python -m pytest -m reliability {HERE}::"
        "test_exit_with_sender_threads_mid_request_ends_within_the_shutdown_timeout",
        tracked=stats["tracked"],
        delivered=len(server.delivered_ids()),
        rejected=0,
        dropped=stats["dropped_shutdown"],
        retries=stats["retries"],
        seconds=exit_flush_s,
        unconfirmed=stats["unconfirmed"],
        shutdown_timeout_s=shutdown_s,
        child_wall_s=done.wall_s,
    )
    assert report["senders"] == 2
    assert exit_flush_s <= shutdown_s + 1.0, f"exit took {exit_flush_s:.2f}s"
    assert (stats["sent"], stats["unconfirmed"], stats["queued"], stats["in_flight"]) == (
        100,
        200,
        0,
        0,
    )
    assert _balanced(stats)
    assert len(server.delivered_ids()) == 100


_SIGTERM_RECIPE = (
    _PRELUDE
    + """
import os, signal
from types import FrameType

client = make_client(request_timeout_seconds=5.0)

def on_sigterm(signum, frame):
    sys.exit(0)  # raises SystemExit: finally blocks and atexit hooks run

signal.signal(signal.SIGTERM, on_sigterm)
client.start()
ids = []
try:
    while True:  # the host's main loop: work, track, flush now and then
        e = event("sigterm")
        ids.append(str(e.event_id))
        client.track(e)
        client.flush(timeout=5.0)  # the server takes 0.5 s: SIGTERM lands in here
except SystemExit:
    pass  # a real program would let SystemExit end it
finally:
    client.stop(timeout=3.0)  # within the orchestrator's grace period
print(json.dumps({"ids": ids, "stats": stats_of(client)}), flush=True)
"""
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_guides_sigterm_recipe_delivers_when_the_signal_lands_in_flush(serve: Serve) -> None:
    server = serve(always(ok(delay_s=0.5)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    child = subprocess.Popen(
        [sys.executable, "-c", _SIGTERM_RECIPE, server.url, _template()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30.0
        while len(server.event_receipts()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # now inside a flush, waiting on the slow answer
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30.0)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    report = _last_json(out)
    stats, ids = report["stats"], report["ids"]
    assert isinstance(stats, dict) and isinstance(ids, list)
    assert (stats["in_flight"], stats["queued"]) == (0, 0)
    assert stats["sent"] == stats["tracked"] == len(ids)
    assert server.delivered_ids() == set(ids)


_LATE_TRACK = (
    _PRELUDE
    + """
client = make_client(shutdown_timeout_seconds=5.0)

def late():  # registered before start(): runs after the client's exit flush
    client.track(event("late"))
    print(json.dumps({"stats": stats_of(client)}), flush=True)

atexit.register(late)
client.start()
for _ in range(3):
    client.track(event("early"))
"""
)


def test_an_event_tracked_after_the_exit_flush_is_counted(serve: Serve) -> None:
    server = serve()
    done = run_script(_LATE_TRACK, server.url, _template())
    assert done.returncode == 0, done.stderr
    stats = _last_json(done.stdout)["stats"]
    assert isinstance(stats, dict)
    assert (stats["tracked"], stats["sent"], stats["dropped_shutdown"]) == (4, 3, 1)
    assert _balanced(stats)


_NO_DAEMONS = (
    _PRELUDE
    + """
_start = threading.Thread.start

def start(self):  # as in an isolated subinterpreter (3.14): daemon threads refused
    if self.daemon:
        raise RuntimeError("daemon threads are disabled in this (sub)interpreter")
    return _start(self)

threading.Thread.start = start
client = make_client(shutdown_timeout_seconds=3.0, batch_size=2, submit_interval_seconds=0.05)
client.start()
worker = [t for t in threading.enumerate() if t.name == "mosaic-telemetry-worker"]
for _ in range(3):
    client.track(event("no-daemons"))
time.sleep(0.5)
print(json.dumps({"daemon": [t.daemon for t in worker], "stats": stats_of(client)}), flush=True)
# No stop(): a non-daemon worker must not keep the interpreter alive.
"""
)


def test_a_runtime_that_refuses_daemon_threads_still_sends_and_exits(serve: Serve) -> None:
    server = serve()
    done = run_script(_NO_DAEMONS, server.url, _template(), timeout_s=30.0)
    assert done.returncode == 0, done.stderr
    report = _last_json(done.stdout)
    assert report["daemon"] == [False]  # the fallback: a non-daemon worker
    assert len(server.delivered_ids()) == 3  # two by the worker, the last at exit
    assert done.wall_s < 10.0
    assert "Traceback" not in done.stderr
