"""Cold start: a fresh process imports the client, tracks one event and flushes it.

What every hook and CLI run pays. Ours sends to the local collector (its own
process, a file store); amplitude-analytics (the peer, from a throwaway venv) sends
the same event's fields to a minimal sink that answers as Amplitude's HTTP API does.
Runs alternate between the two, so a slow spell of the machine hits both; the figure
is the wall time from spawning the interpreter to its exit, and the child reports
its own split (import, track + flush).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _peer_venv import PeerUnavailable, peer_venv
from _util import API_KEY, INSTANCE_ID, REPO_ROOT, Figure, Summary

_COLLECTOR = f"""
import sys
sys.path.insert(0, {str(REPO_ROOT)!r})
from mosaic_telemetry.collector import Collector
collector = Collector({API_KEY!r}, db_path=sys.argv[1]).start()
print(collector.url, flush=True)
while sys.stdin.readline().strip() == "count":
    print(collector.event_count, flush=True)
collector.stop()
"""

# Answers every POST as Amplitude's HTTP V2 API does (200, a JSON body) and counts events.
_SINK = """
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
lock = threading.Lock()
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            count += len(json.loads(body).get("events", []))
        answer = json.dumps({"code": 200, "events_ingested": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"http://127.0.0.1:{server.server_port}/2/httpapi", flush=True)
while sys.stdin.readline().strip() == "count":
    with lock:
        print(count, flush=True)
"""

_OURS = """
import time
t0 = time.perf_counter()
import sys
sys.path.insert(0, {root!r})
import mosaic_telemetry as mt
t1 = time.perf_counter()
config = mt.TelemetryConfig(server_url={url!r}, api_key={key!r}, instance_id={instance!r})
client = mt.TelemetryClient(config)
client.track(
    mt.EventBuilder({instance!r}).model("claude-sonnet-4-5").duration_ms(61234)
    .tokens(estimated_in=10123, estimated_out=2123, actual_in=11123, actual_out=2623)
    .quality(passed=False, gates_run=["build", "lint", "test"], gates_failed=["test"])
    .language("python").build()
)
ok = client.flush(timeout=10)
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000, ok and client.stats.sent == 1, flush=True)
"""

_AMPLITUDE = """
import time
t0 = time.perf_counter()
import sys
sys.path.insert(0, {site!r})
from amplitude import Amplitude, BaseEvent, Config
t1 = time.perf_counter()
client = Amplitude({key!r}, Config(server_url={url!r}))
client.track(BaseEvent(event_type="task_completed", user_id={instance!r}, event_properties={{
    "model": "claude-sonnet-4-5", "task_duration_ms": 61234, "estimated_input_tokens": 10123,
    "estimated_output_tokens": 2123, "actual_input_tokens": 11123, "actual_output_tokens": 2623,
    "quality_gate_passed": False, "quality_gates_run": ["build", "lint", "test"],
    "quality_gates_failed": ["test"], "language": "python"}}))
client.flush()
client.shutdown()
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000, True, flush=True)
"""


class _Server:
    """A child process that prints its URL, then a count per ``count`` line on stdin."""

    def __init__(self, python: str, code: str, *args: str) -> None:
        self._proc = subprocess.Popen(
            [python, "-I", "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("a cold-start server did not start")

    def count(self) -> int:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("count\n")
        self._proc.stdin.flush()
        return int(self._proc.stdout.readline())

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)


def _run(python: str, code: str) -> dict[str, Any]:
    """Spawn ``code``; ``done`` is when it reports the flush returned, ``wall`` when it exited."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [python, "-I", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    done = (time.perf_counter() - started) * 1000
    _, stderr = proc.communicate(timeout=60)
    wall = (time.perf_counter() - started) * 1000
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"cold-start child failed:\n{stderr[-2000:]}")
    import_ms, send_ms, ok = line.split()
    return {
        "done": done,
        "wall": wall,
        "import": float(import_ms),
        "send": float(send_ms),
        "ok": ok == "True",
    }


def figures(*, runs: int = 9) -> list[Figure]:
    """Cold-start wall time of this client and, in the same run, of amplitude-analytics."""
    try:
        venv = peer_venv("amplitude")
    except PeerUnavailable:
        venv = None
    with tempfile.TemporaryDirectory(prefix="mosaic-cold-") as tmp:
        collector = _Server(sys.executable, _COLLECTOR, str(Path(tmp) / "events.db"))
        sink = None if venv is None else _Server(venv.python, _SINK)
        try:
            ours_code = _OURS.format(
                root=str(REPO_ROOT), url=collector.url, key=API_KEY, instance=INSTANCE_ID
            )
            peer_code = (
                None
                if venv is None or sink is None
                else _AMPLITUDE.format(
                    site=venv.site_packages, url=sink.url, key=API_KEY, instance=INSTANCE_ID
                )
            )
            ours: list[dict[str, Any]] = []
            peers: list[dict[str, Any]] = []
            _run(sys.executable, ours_code)  # writes bytecode caches; not recorded
            if venv is not None and peer_code is not None:
                _run(venv.python, peer_code)
            for index in range(runs):
                order = [(sys.executable, ours_code, ours)]
                if venv is not None and peer_code is not None:
                    order.append((venv.python, peer_code, peers))
                for python, code, samples in order if index % 2 else order[::-1]:
                    samples.append(_run(python, code))
            delivered = collector.count()
            peer_delivered = None if sink is None else sink.count()
        finally:
            collector.close()
            if sink is not None:
                sink.close()
    wall = Summary.of([r["done"] for r in ours])
    out: list[Figure] = []
    target = None
    note = "spawn to flush() returned: import, track one event, flush to the collector"
    if peers:
        peer_wall = Summary.of([r["done"] for r in peers])
        ratio = wall.median / peer_wall.median
        target = 0.7 * peer_wall.median
        note = f"amplitude {peer_wall.median:.0f} ms, ratio {ratio:.2f}x (target <= 0.70x)"
    out.append(Figure("cold_start_ms", "cold start, fresh process", "ms", wall, target, note=note))
    out.append(
        Figure(
            "cold_start_exit_ms",
            "  spawn to process exit",
            "ms",
            Summary.of([r["wall"] for r in ours]),
        )
    )
    out.append(
        Figure(
            "cold_start_import_ms",
            "  of which import mosaic_telemetry (in the child)",
            "ms",
            Summary.of([r["import"] for r in ours]),
        )
    )
    out.append(
        Figure(
            "cold_start_send_ms",
            "  of which config, client, track and flush (first send)",
            "ms",
            Summary.of([r["send"] for r in ours]),
        )
    )
    if peers:
        peer_exit = Summary.of([r["wall"] for r in peers]).median
        peer_import = Summary.of([r["import"] for r in peers]).median
        peer_send = Summary.of([r["send"] for r in peers]).median
        out.append(
            Figure(
                "cold_start_amplitude_ms",
                "  peer: amplitude-analytics, same steps (same run)",
                "ms",
                Summary.of([r["done"] for r in peers]),
                note=f"exit {peer_exit:.0f} ms; import {peer_import:.0f} ms, "
                f"send + shutdown {peer_send:.0f} ms",
            )
        )
    expected = runs + 1
    out.append(
        Figure(
            "cold_start_delivered_ok",
            "  events the collector stored (correctness)",
            "ev",
            Summary.of([float(delivered)]),
            target=float(expected),
            higher_is_better=True,
            note="" if peer_delivered is None else f"amplitude sink got {peer_delivered}",
        )
    )
    return out


if __name__ == "__main__":
    for figure in figures(runs=5):
        print(f"{figure.label:55} {figure.summary.median:9.1f} {figure.unit} {figure.note}")
