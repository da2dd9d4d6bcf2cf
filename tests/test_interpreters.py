"""Where the host runs the client: an isolated subinterpreter, forkserver and spawn children.

Each scenario is a real program in a child Python (``-W error``: a warning anywhere in it,
a "multi-threaded fork" DeprecationWarning included, fails it) that sends to a real server
on 127.0.0.1; the server's event ids are the proof.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    API_KEY,
    INSTANCE_ID,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    server_fixture,
)

from mosaic_telemetry import TelemetryClient

pytestmark = pytest.mark.usefixtures("clean_env")

_CONFIG = f"""
def make_client(url, **changes):
    values = dict(server_url=url, api_key={API_KEY!r}, instance_id={INSTANCE_ID!r},
                  submit_interval_seconds=300.0, request_timeout_seconds=5.0,
                  shutdown_timeout_seconds=10.0)
    values.update(changes)
    return TelemetryClient(TelemetryConfig(**values))
"""


def _run(args: list[str], timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """Run a child Python with warnings as errors; each stdout line is a JSON report."""
    done = subprocess.run(  # our own interpreter and script
        [sys.executable, "-W", "error", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Nothing on stderr: no warning, no "Exception ignored", no traceback, no log line.
    assert done.stderr == "", done.stderr
    return [json.loads(line) for line in done.stdout.strip().splitlines()]


def _templates(count: int, model: str) -> list[dict[str, Any]]:
    return [make_event(model=model).to_dict() for _ in range(count)]


# -- isolated subinterpreters (3.14+) -------------------------------------------------------

# Runs inside the subinterpreter. There daemon threads are refused and fork is not allowed.
_IN_SUBINTERPRETER = (
    """
import atexit, json, sys, threading, time
from mosaic_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig
"""
    + _CONFIG
    + """
batches = [[TaskCompletionEvent.from_dict(d) for d in batch] for batch in json.loads(events)]
client = make_client(url, batch_size=len(batches[0]))
report = {}

def final_report():  # atexit: after the client's own exit hook (a threading exit hook)
    s = client.stats
    report["final"] = [s.tracked, s.sent, s.queued, s.in_flight, s.dropped_shutdown]
    print(json.dumps(report), flush=True)

atexit.register(final_report)
client.start()  # must not raise, though no daemon thread may start here
ours = [t for t in threading.enumerate() if t.name.startswith("mosaic")]
report["threads"] = [[t.name, t.daemon] for t in ours]
report["running"] = client.is_running
for event in batches[0]:  # a full batch: the worker thread sends it on its own
    client.track(event)
give_up = time.monotonic() + 10.0
while client.stats.sent < len(batches[0]) and time.monotonic() < give_up:
    time.sleep(0.01)
report["worker_sent"] = client.stats.sent
for event in batches[1]:
    client.track(event)
report["flushed"] = client.flush(timeout=10.0)
for event in batches[2]:  # left for the end of the subinterpreter, without stop()
    client.track(event)
if mode == "stop":
    client.stop()
    report["running_after_stop"] = client.is_running
"""
)

_SUBINTERPRETER_HOST = """
import json, sys
from concurrent import interpreters

url, events, mode, body = sys.argv[1:5]
interp = interpreters.create()
interp.prepare_main(url=url, events=events, mode=mode)
interp.exec(body)
interp.close()  # ends the subinterpreter: its threads must not keep it (or us) waiting
print(json.dumps({"closed": True}), flush=True)
"""


@pytest.mark.skipif(sys.version_info < (3, 14), reason="concurrent.interpreters is new in 3.14")
@pytest.mark.parametrize("mode", ["exit", "stop"])
def test_a_client_in_an_isolated_subinterpreter_starts_and_delivers_every_event(
    server: TelemetryServer, mode: str
) -> None:
    batches = [_templates(5, "worker"), _templates(3, "flush"), _templates(4, mode)]
    events = json.dumps(batches)
    args = ["-c", _SUBINTERPRETER_HOST, server.url, events, mode, _IN_SUBINTERPRETER]
    inner, outer = _run(args)
    # The fallback: a non-daemon worker, stopped before the subinterpreter joins it.
    assert inner["threads"] == [["mosaic-telemetry-worker", False]]
    assert inner["running"] is True
    assert inner["worker_sent"] == 5
    assert inner["flushed"] is True
    assert inner["final"] == [12, 12, 0, 0, 0]
    assert inner.get("running_after_stop", False) is False
    assert outer == {"closed": True}
    expected = [str(e["event_id"]) for batch in batches for e in batch]
    received = server.event_ids()
    assert sorted(received) == sorted(expected)  # each exactly once


# -- multiprocessing: forkserver and spawn ------------------------------------------------------

_HOST_PROGRAM = (
    '''"""A host program: its client is made at import, its children come from multiprocessing."""
import json, multiprocessing, os, sys, threading, uuid
from mosaic_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig
'''
    + _CONFIG
    + '''
URL, TEMPLATE = os.environ["MT_TEST_URL"], json.loads(os.environ["MT_TEST_TEMPLATE"])
# At import: in the parent, in the forkserver process and in each spawn child.
client = make_client(URL, batch_size=7)


def event(tag):
    return TaskCompletionEvent.from_dict({**TEMPLATE, "event_id": str(uuid.uuid4()), "model": tag})


def child(tag, mode, results):
    ids = []
    if mode == "start-stop":
        client.start()
    for _ in range(10 if mode != "none" else 0):
        item = event(tag)
        ids.append(str(item.event_id))
        client.track(item)
    ok = True
    if mode == "flush":
        ok = client.flush(timeout=10.0)
    elif mode == "start-stop":
        client.stop(timeout=10.0)
    s = client.stats
    results.put({"tag": tag, "ids": ids, "ok": ok, "stats": [s.tracked, s.sent, s.queued]})


def forkserver_threads():
    """OS threads of the forkserver process (Linux /proc), None for other start methods."""
    from multiprocessing import forkserver
    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None or not os.path.isdir(f"/proc/{pid}/task"):
        return None
    return len(os.listdir(f"/proc/{pid}/task"))


if __name__ == "__main__":
    method = sys.argv[1]
    context = multiprocessing.get_context(method)
    client.start()
    parent_ids = []
    for _ in range(15):  # queued in the parent while its children start
        item = event("parent")
        parent_ids.append(str(item.event_id))
        client.track(item)
    results = context.Queue()
    modes = ["flush", "start-stop", "none", "flush"]
    children = [context.Process(target=child, args=(f"child-{i}", mode, results))
                for i, mode in enumerate(modes)]
    for process in children:
        process.start()
    found = [results.get(timeout=30) for _ in children]
    for process in children:
        process.join(30)
    threads = forkserver_threads()
    client.stop(timeout=10.0)
    s = client.stats
    print(json.dumps({"parent_ids": parent_ids, "children": found,
                      "exitcodes": [p.exitcode for p in children],
                      "forkserver_threads": threads,
                      "parent": [s.tracked, s.sent, s.queued, s.in_flight]}))
'''
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forkserver needs a POSIX system")
@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_children_of_a_multiprocessing_host_deliver_their_own_events_and_the_parents_once(
    server: TelemetryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    program = tmp_path / "host_program.py"
    program.write_text(textwrap.dedent(_HOST_PROGRAM), encoding="utf-8")
    monkeypatch.setenv("MT_TEST_URL", server.url)
    monkeypatch.setenv("MT_TEST_TEMPLATE", json.dumps(make_event().to_dict()))
    (report,) = _run([str(program), method], timeout_s=90.0)

    assert report["exitcodes"] == [0, 0, 0, 0]
    assert report["parent"] == [15, 15, 0, 0]
    if method == "forkserver" and sys.platform == "linux":
        # The client made at import in the forkserver process started no thread there.
        assert report["forkserver_threads"] == 1
    by_tag = {child["tag"]: child for child in report["children"]}
    for tag, child in by_tag.items():
        assert child["ok"] is True, tag
        count = len(child["ids"])
        assert child["stats"] == [count, count, 0], tag  # its own events only, all sent
    assert len(by_tag["child-2"]["ids"]) == 0  # a child that tracks nothing sends nothing
    expected = report["parent_ids"] + [i for child in by_tag.values() for i in child["ids"]]
    received = server.event_ids()
    assert len(received) == len(set(received))  # nothing sent twice
    assert sorted(received) == sorted(expected)
    models = {e["model"] for r in server.batches() for e in r.events}
    assert models == {"parent", "child-0", "child-1", "child-3"}


class _NoDaemonThread(threading.Thread):
    """A Thread as an isolated subinterpreter has it: a daemon one is refused when made."""

    def __init__(self, *args: Any, daemon: bool | None = None, **kwargs: Any) -> None:
        if daemon:
            raise RuntimeError("daemon threads are disabled in this (sub)interpreter")
        super().__init__(*args, daemon=daemon, **kwargs)


def test_without_threadings_exit_hook_a_runtime_refusing_daemons_sends_on_flush_and_stop(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A non-daemon worker that nothing could stop before Python joins it would hang the
    # exit: with no threading exit hook there is no worker, and the calls send themselves.
    monkeypatch.setattr(threading, "Thread", _NoDaemonThread)
    monkeypatch.delattr(threading, "_register_atexit")
    before = set(threading.enumerate())
    client = TelemetryClient(make_config(server, batch_size=5))
    client.start()  # does not raise
    assert client.is_running is False
    assert [t.name for t in set(threading.enumerate()) - before] == []
    first = [make_event() for _ in range(7)]
    for event in first:
        client.track(event)
    assert client.flush(timeout=5.0) is True
    assert sorted(server.event_ids()) == sorted(str(e.event_id) for e in first)
    last = [make_event() for _ in range(3)]
    for event in last:
        client.track(event)
    client.stop(timeout=5.0)
    assert sorted(server.event_ids()) == sorted(str(e.event_id) for e in first + last)
    stats = client.stats
    assert (stats.tracked, stats.sent, stats.queued, stats.in_flight) == (10, 10, 0, 0)
    assert_balanced(stats)
