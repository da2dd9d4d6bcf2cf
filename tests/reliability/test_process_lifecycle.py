"""Process life cycle: the atexit flush and forked children, each in a child interpreter.

The children run with ``sys.executable``, so each Python the suite runs on (3.10 to
3.13 in CI) proves its own exit path. Forking happens in a child script with
timeouts, so a wedged grandchild can never hang pytest.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

import pytest
from _faults import FaultServer, always, hang
from _report import record
from _support import API_KEY, INSTANCE_ID, MARGIN_S, make_event, run_script

pytestmark = pytest.mark.reliability

HERE = "tests/reliability/test_process_lifecycle.py"
Serve = Callable[..., FaultServer]

# Shared head of the child scripts: a client for argv[1] and events from a template.
_PRELUDE = f"""
import json, sys, time, uuid
from mosaic_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig

TEMPLATE = json.loads(sys.argv[2])

def event(model):
    return TaskCompletionEvent.from_dict(
        {{**TEMPLATE, "event_id": str(uuid.uuid4()), "model": model}}
    )

def stats_of(client):
    s = client.stats
    return {{name: getattr(s, name) for name in (
        "tracked", "sent", "rejected", "dropped_queue_full", "dropped_errors",
        "dropped_shutdown", "unconfirmed", "queued", "in_flight", "retries")}}

def make_client(**changes):
    values = dict(server_url=sys.argv[1], api_key={API_KEY!r}, instance_id={INSTANCE_ID!r},
                  submit_interval_seconds=300.0, request_timeout_seconds=30.0)
    values.update(changes)
    return TelemetryClient(TelemetryConfig(**values))
"""

_EXIT_WITHOUT_STOP = (
    _PRELUDE
    + """
count, shutdown_s = int(sys.argv[3]), float(sys.argv[4])
client = make_client(shutdown_timeout_seconds=shutdown_s, batch_size=100)
marks = {}

def report():
    # Registered before start(): atexit runs it after the client's own exit flush.
    print(json.dumps({"exit_flush_s": time.monotonic() - marks["end"], "ids": ids,
                      "stats": stats_of(client)}), flush=True)

import atexit
atexit.register(report)
client.start()
events = [event("atexit") for _ in range(count)]
for e in events:
    client.track(e)
ids = [str(e.event_id) for e in events]
marks["end"] = time.monotonic()
# No stop(): the interpreter exits here, with a daemon worker that never sent a thing.
"""
)

_FORK = (
    _PRELUDE
    + """
import ctypes, os, select, signal, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads

mode = sys.argv[3]
client = make_client(batch_size=100)
client.start()
parent_events = [event("parent") for _ in range(5)]
for e in parent_events:
    client.track(e)
hooks_ran = []
os.register_at_fork(after_in_child=lambda: hooks_ran.append(True))
read_end, write_end = os.pipe()
if mode == "os":
    pid = os.fork()
else:
    # A C-level fork, as uWSGI does: Python's at-fork hooks do not run. PyDLL keeps the
    # GIL held across the call (CDLL would release it, and the child could deadlock).
    pid = ctypes.PyDLL(None).fork()
if pid == 0:
    code = 3
    try:
        os.close(read_end)
        child_events = [event("child") for _ in range(3)]
        for e in child_events:
            client.track(e)
        flushed = client.flush(timeout=10.0)
        report = {"flushed": flushed, "ids": [str(e.event_id) for e in child_events],
                  "stats": stats_of(client), "pid": os.getpid(), "hooks_ran": bool(hooks_ran)}
        client.stop(timeout=5.0)
        report["stats_after_stop"] = stats_of(client)
        os.write(write_end, json.dumps(report).encode())
        code = 0
    finally:
        os._exit(code)
os.close(write_end)
chunks, deadline = [], time.monotonic() + 30.0
while time.monotonic() < deadline:
    ready, _, _ = select.select([read_end], [], [], 0.1)
    if ready:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
os.close(read_end)
status = None
while time.monotonic() < deadline:
    done, raw = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(raw)
        break
    time.sleep(0.02)
if status is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
child = json.loads(b"".join(chunks) or b"null")
client.stop(timeout=10.0)
print(json.dumps({"child": child, "child_exit": status, "parent_pid": os.getpid(),
                  "parent_ids": [str(e.event_id) for e in parent_events],
                  "parent_stats": stats_of(client)}), flush=True)
"""
)


def _template() -> str:
    return json.dumps(make_event().to_dict())


def _last_json(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"the child printed no report: {stdout!r}"
    loaded: dict[str, object] = json.loads(lines[-1])
    return loaded


def test_a_host_that_exits_without_stop_delivers_everything_at_exit(serve: Serve) -> None:
    server = serve()
    count, shutdown_s = 250, 5.0

    done = run_script(_EXIT_WITHOUT_STOP, server.url, _template(), str(count), str(shutdown_s))

    assert done.returncode == 0, done.stderr
    report = _last_json(done.stdout)
    ids = report["ids"]
    stats = report["stats"]
    assert isinstance(ids, list) and isinstance(stats, dict)
    assert server.delivered_ids() == set(ids), "events were lost at interpreter exit"
    assert stats["sent"] == count
    assert stats["dropped_shutdown"] == stats["queued"] == stats["in_flight"] == 0
    exit_flush_s = report["exit_flush_s"]
    assert isinstance(exit_flush_s, float)
    assert exit_flush_s <= shutdown_s + MARGIN_S
    assert "Traceback" not in done.stderr
    record(
        f"exit without stop() (atexit flush), Python {sys.version_info[0]}.{sys.version_info[1]}",
        f"python -m pytest -m reliability {HERE}::"
        "test_a_host_that_exits_without_stop_delivers_everything_at_exit",
        tracked=count,
        delivered=len(server.delivered_ids()),
        rejected=stats["rejected"],
        dropped=0,
        retries=stats["retries"],
        seconds=exit_flush_s,
        child_wall_s=done.wall_s,
    )


def test_exit_without_stop_ends_within_the_shutdown_timeout_when_the_server_hangs(
    serve: Serve,
) -> None:
    server = serve(always(hang(60.0)))
    count, shutdown_s = 40, 1.0

    done = run_script(_EXIT_WITHOUT_STOP, server.url, _template(), str(count), str(shutdown_s))

    assert done.returncode == 0, done.stderr
    report = _last_json(done.stdout)
    stats = report["stats"]
    assert isinstance(stats, dict)
    exit_flush_s = report["exit_flush_s"]
    assert isinstance(exit_flush_s, float)
    assert exit_flush_s <= shutdown_s + MARGIN_S, f"the exit flush took {exit_flush_s:.2f}s"
    # The batch reached the server, which never answered: unconfirmed, not "never sent".
    assert (stats["sent"], stats["unconfirmed"], stats["dropped_shutdown"]) == (0, count, 0)
    assert server.delivered_ids() == set()
    record(
        f"exit without stop() against a hanging server, Python {sys.version_info[0]}."
        f"{sys.version_info[1]}",
        f"python -m pytest -m reliability {HERE}::"
        "test_exit_without_stop_ends_within_the_shutdown_timeout_when_the_server_hangs",
        tracked=count,
        delivered=0,
        rejected=0,
        dropped=stats["dropped_shutdown"],
        unconfirmed=stats["unconfirmed"],
        retries=stats["retries"],
        seconds=exit_flush_s,
        shutdown_timeout_s=shutdown_s,
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("mode", ["os", "raw"], ids=["os.fork", "C-level fork"])
def test_a_forked_child_delivers_its_own_events_and_none_of_the_parents(
    mode: str, serve: Serve
) -> None:
    server = serve()

    done = run_script(_FORK, server.url, _template(), mode, timeout_s=90.0)

    assert done.returncode == 0, done.stderr
    report = _last_json(done.stdout)
    child = report["child"]
    assert isinstance(child, dict), f"the child reported nothing: {done.stderr}"
    assert report["child_exit"] == 0
    assert child["pid"] != report["parent_pid"]
    assert child["hooks_ran"] is (mode == "os"), "the fork was not the kind this test is about"
    parent_ids, child_ids = report["parent_ids"], child["ids"]
    assert isinstance(parent_ids, list) and isinstance(child_ids, list)
    assert child["flushed"] is True
    assert child["stats"] == {
        "tracked": 3,
        "sent": 3,
        "rejected": 0,
        "dropped_queue_full": 0,
        "dropped_errors": 0,
        "dropped_shutdown": 0,
        "unconfirmed": 0,
        "queued": 0,
        "in_flight": 0,
        "retries": 0,
    }, "the child's counters are not its own"
    parent_stats = report["parent_stats"]
    assert isinstance(parent_stats, dict)
    assert (parent_stats["tracked"], parent_stats["sent"]) == (5, 5)
    assert server.delivered_ids() == set(parent_ids) | set(child_ids)
    received = server.times_received()
    assert all(received[i] == 1 for i in parent_ids), "the child sent the parent's events too"
    assert all(received[i] == 1 for i in child_ids)
    record(
        f"{'os.fork()' if mode == 'os' else 'C-level fork (PyDLL fork)'} child",
        f"python -m pytest -m reliability '{HERE}::"
        "test_a_forked_child_delivers_its_own_events_and_none_of_the_parents'",
        tracked=8,
        delivered=len(server.delivered_ids()),
        rejected=0,
        dropped=0,
        retries=0,
        seconds=done.wall_s,
        child_sent=3,
        parent_sent=parent_stats["sent"],
    )
