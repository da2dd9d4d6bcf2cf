"""track() re-entered on its own thread: from a signal handler and from a GC finalizer.

Each scenario runs in a child interpreter with a timeout, so a deadlock fails the
test instead of hanging the suite. Thousands of track() calls come from the
handler or the finalizers while the main thread tracks and the worker drains;
the counts must come out exact. (A call that lands while the client itself is
inside a log call is refused as ``dropped_feedback``: counted, so summed with sent.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    API_KEY,
    INSTANCE_ID,
    TelemetryServer,
    clean_env_fixture,
    make_event,
    make_server_fixture,
)

pytestmark = [pytest.mark.usefixtures("clean_env"), pytest.mark.slow]

_PRELUDE = f"""
import dataclasses, gc, json, signal, sys, threading, uuid
from mosaic_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig

TEMPLATE = json.loads(sys.argv[2])
POOL = [TaskCompletionEvent.from_dict({{**TEMPLATE, "event_id": str(uuid.uuid4())}})
        for _ in range(500)]
config = TelemetryConfig(server_url=sys.argv[1], api_key={API_KEY!r}, instance_id={INSTANCE_ID!r},
                         batch_size=100, submit_interval_seconds=0.01, max_queue_size=1_000_000,
                         request_timeout_seconds=10.0, shutdown_timeout_seconds=30.0)
client = TelemetryClient(config)
client.start()
main_calls = 0
nested_calls = [0]

def report():
    assert client.flush(timeout=30.0), f"flush failed: {{client.stats}}"
    client.stop(timeout=10.0)
    s = client.stats
    print(json.dumps({{"main": main_calls, "nested": nested_calls[0], "tracked": s.tracked,
                      "sent": s.sent + s.dropped_feedback, "queued": s.queued,
                      "in_flight": s.in_flight, "feedback": s.dropped_feedback,
                      "dropped": s.dropped_queue_full + s.dropped_errors + s.dropped_shutdown
                                 + s.dropped_invalid + s.unconfirmed}}))
"""

_SIGNAL = """
def on_alarm(signum, frame):
    for _ in range(10):  # several calls per signal: the handler itself is busy too
        client.track(POOL[nested_calls[0] % len(POOL)])
        nested_calls[0] += 1

signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
while nested_calls[0] < 6000:
    client.track(POOL[main_calls % len(POOL)])
    main_calls += 1
signal.setitimer(signal.ITIMER_REAL, 0)
report()
"""

_FINALIZER = """
# Dry run: the worker drains and settles at once. Before each burst the main thread
# brings the GC's young generation to a few allocations short of a collection, then
# waits: the collection (and the finalizers of the garbage cycles) then runs on the
# worker, at a different allocation each time, inside its drain among others.
import random
client.stop()
client = TelemetryClient(dataclasses.replace(config, dry_run=True, batch_size=5))
client.start()

class Cycle:
    def __init__(self):
        self.me = self  # only the cyclic GC frees it

    def __del__(self):
        client.track(POOL[nested_calls[0] % len(POOL)])
        nested_calls[0] += 1

rng = random.Random(11)
threshold = gc.get_threshold()[0]
while nested_calls[0] < 6000:
    short = rng.randint(1, 30)
    while gc.get_count()[0] < threshold - short:
        Cycle()
    for event in POOL[:5]:
        client.track(event)
        main_calls += 1
    while client.queue_size:
        pass
gc.collect()
report()
"""


def run_child(script: str, server: TelemetryServer) -> dict[str, int]:
    template = json.dumps(make_event().to_dict())
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_PRELUDE + script), server.url, template],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.skipif(not hasattr(__import__("signal"), "setitimer"), reason="needs setitimer")
def test_track_from_a_signal_handler_never_deadlocks_and_never_loses_count(
    make_server: object,
) -> None:
    server = make_server(keep_json=False, keep_alive=True)  # type: ignore[operator]
    report = run_child(_SIGNAL, server)
    total = report["main"] + report["nested"]
    assert report["nested"] >= 6000
    assert report["tracked"] == total
    assert (report["sent"], report["queued"], report["in_flight"]) == (total, 0, 0)
    assert report["dropped"] == 0
    assert sum(len(b.event_ids) for b in server.batches()) == total


def test_track_from_a_finalizer_during_the_workers_drain_never_deadlocks(
    make_server: object,
) -> None:
    server = make_server(keep_json=False, keep_alive=True)  # type: ignore[operator]
    report = run_child(_FINALIZER, server)
    total = report["main"] + report["nested"]
    assert report["nested"] >= 6000
    assert report["tracked"] == total
    assert (report["sent"], report["queued"], report["in_flight"]) == (total, 0, 0)
