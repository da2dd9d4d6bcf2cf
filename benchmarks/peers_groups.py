"""The measurements of benchmarks/peers.py, each as rounds that alternate the clients.

Every group runs its rounds one after another, and inside a round every client once, in
an order rotated by one per round (so no client always runs first or last, when the
machine is freshest or the page cache warmest). Samples are kept per client; the report
takes medians. Shutdown rounds run all clients at once: they spend the measured time
waiting on sockets and timers, not on the CPU.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peers_clients import OURS, PEERS
from peers_run import (
    BENCH_DIR,
    Child,
    DeadServer,
    Server,
    child_env,
    run_child,
    timed_marks,
    timed_python,
)

BARE = "(bare interpreter)"
OWN_COLLECTOR = f"{OURS} to its collector"


@dataclass(frozen=True)
class Plan:
    """Rounds and event counts of one run (``QUICK`` or ``FULL``)."""

    import_rounds: int
    track_rounds: int
    track_calls: int
    track_calls_sync: int  # clients whose call sends (one request per call)
    memory_rounds: int
    memory_events: int
    e2e_rounds: int
    e2e_events: int
    e2e_events_per_request: int  # clients that send one request per event
    cold_rounds: int
    shutdown_rounds: int
    shutdown_events: int
    shutdown_cap_s: float


FULL = Plan(11, 3, 20_000, 200, 2, 2000, 3, 5000, 500, 10, 3, 100, 20.0)
QUICK = Plan(3, 1, 5000, 60, 1, 1000, 1, 1000, 200, 2, 1, 100, 6.0)


@dataclass
class Results:
    """Samples per figure and client, and what a sample cannot say (per figure and client)."""

    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    notes: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: str, key: str, value: float) -> None:
        self.samples.setdefault(figure, {}).setdefault(key, []).append(value)

    def censor(self, figure: str, key: str, bound: float) -> None:
        """No value, only a bound: the client was still at it after ``bound`` (killed)."""
        self.extra.setdefault("censored", {}).setdefault(figure, {})[key] = bound

    def note(self, figure: str, key: str, text: str) -> None:
        self.notes.setdefault(figure, {})[key] = text

    def phoned_home(self, key: str, result: dict[str, Any]) -> None:
        for target in result.get("phoned_home", []):
            self.extra.setdefault("phoned_home", {}).setdefault(key, [])
            if target not in self.extra["phoned_home"][key]:
                self.extra["phoned_home"][key].append(target)


@dataclass
class Context:
    """What every group needs: the venv's Python, the checkout, the servers, the plan."""

    python: Path
    root: Path
    keys: list[str]
    plan: Plan
    sink: Server
    hang: Server
    dead: DeadServer
    results: Results = field(default_factory=Results)


def rotated(keys: list[str], round_index: int) -> list[str]:
    """``keys`` starting at a different client each round."""
    shift = round_index % len(keys)
    return keys[shift:] + keys[:shift]


def import_group(ctx: Context) -> None:
    """Wall time of ``python -I -c "<imports>"`` next to a bare interpreter, per round."""
    prefix = f"import sys; sys.path[:0] = [{str(ctx.root)!r}]\n"
    for r in range(ctx.plan.import_rounds):
        for key in rotated([BARE, *ctx.keys], r):
            code = prefix + ("" if key == BARE else PEERS[key].imports)
            ctx.results.add("import_ms", key, timed_python(ctx.python, code) * 1000)


def track_group(ctx: Context) -> None:
    """µs per call on fresh payloads, to the hanging server (the sink for clients that send)."""
    plan = ctx.plan
    for r in range(plan.track_rounds):
        for key in rotated(ctx.keys, r):
            peer = PEERS[key]
            url = ctx.sink.url if peer.sends_in_call else ctx.hang.url
            count = plan.track_calls_sync if peer.sends_in_call else plan.track_calls
            result = run_child(
                ctx.python, ctx.root, measure="track", key=key, url=url, count=count, timeout_s=300
            )
            ctx.results.phoned_home(key, result)
            # The caller thread's CPU time, as benchmarks/bench_client.py takes it: on a shared
            # machine the wall clock mostly measures the neighbours.
            ctx.results.add("track_us", key, result["cpu_ns"] / 1000)
            ctx.results.add("track_wall_us", key, result["wall_ns"] / 1000)
    for key, walls in ctx.results.samples.get("track_wall_us", {}).items():
        if PEERS[key].sends_in_call:
            wall = statistics.median(walls)
            text = f"the call sends (a request per call or per 50th): {wall:,.0f} µs wall clock"
            ctx.results.note("track_us", key, text)


def memory_group(ctx: Context) -> None:
    """Bytes still allocated per event queued behind a hanging server (tracemalloc)."""
    for r in range(ctx.plan.memory_rounds):
        for key in rotated(ctx.keys, r):
            if PEERS[key].sends_in_call:
                ctx.results.note("bytes_per_event", key, "no queue: track() sends")
                continue
            url, count = ctx.hang.url, ctx.plan.memory_events
            result = run_child(
                ctx.python, ctx.root, measure="memory", key=key, url=url, count=count, timeout_s=300
            )
            ctx.results.phoned_home(key, result)
            ctx.results.add("bytes_per_event", key, result["bytes_per_event"])


def e2e_group(ctx: Context) -> None:
    """Events/s and process CPU per event, first track() to shutdown() returning, to the sink."""
    plan = ctx.plan
    for r in range(plan.e2e_rounds):
        for key in rotated(ctx.keys, r):
            small = PEERS[key].request_per_event
            count = plan.e2e_events_per_request if small else plan.e2e_events
            result = run_child(
                ctx.python,
                ctx.root,
                measure="e2e",
                key=key,
                url=ctx.sink.url,
                count=count,
                timeout_s=600,
            )
            ctx.results.phoned_home(key, result)
            ctx.results.add("e2e_events_per_s", key, result["events_per_s"])
            ctx.results.add("e2e_cpu_us", key, result["cpu_us_per_event"])
            ctx.results.add("e2e_delivered", key, result["delivered"])
            ctx.results.extra.setdefault("e2e_events", {})[key] = count


def _collector(ctx: Context) -> tuple[subprocess.Popen[str], str]:
    """``python -m mosaic_telemetry serve --port 0`` of the checkout, and its URL."""
    from peers_clients import API_KEY

    proc = subprocess.Popen(
        [sys.executable, "-m", "mosaic_telemetry", "serve", "--port", "0", "--api-key", API_KEY],
        cwd=ctx.root,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = next((word for word in line.split() if word.startswith("http://")), "")
    if not url:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the collector did not start (it printed {line!r})")
    return proc, url


def cold_group(ctx: Context) -> None:
    """Wall time of a fresh process: import, build the client, track one event, shut down, exit.

    To the sink for every client (each delivery is counted), and once more for ours to its
    own local collector; next to a bare ``python -I -c pass``.
    """
    collector, collector_url = _collector(ctx)
    path = f"import sys; sys.path[:0] = [{str(BENCH_DIR)!r}, {str(ctx.root)!r}]\n"
    try:
        for r in range(ctx.plan.cold_rounds):
            for key in rotated([BARE, *ctx.keys, OWN_COLLECTOR], r):
                if key == BARE:
                    ctx.results.add("cold_ms", key, timed_python(ctx.python, "pass") * 1000)
                    continue
                peer, url = (OURS, collector_url) if key == OWN_COLLECTOR else (key, ctx.sink.url)
                code = f"{path}from peers_clients import cold_start\ncold_start({peer!r}, {url!r})"
                before = ctx.sink.stats()["events"]
                exit_s, marks = timed_marks(ctx.python, code)
                ctx.results.add("cold_ms", key, exit_s * 1000)
                ctx.results.add("cold_delivered_ms", key, marks["delivered"] * 1000)
                if key != OWN_COLLECTOR and ctx.sink.stats()["events"] - before != 1:
                    ctx.results.note("cold_ms", key, "the event did not arrive")
    finally:
        collector.terminate()
        collector.wait(timeout=10)


def _watch(children: list[Child], cap_s: float) -> None:
    """Kill each child that spends more than ``cap_s`` in one phase after its setup."""
    started = time.time()
    while [child.running for child in children].count(True):  # every child polled
        now = time.time()
        for child in children:
            phases = child.phases
            last = max((t for t, _ in phases.values()), default=started)
            limit = 120.0 if "made" not in phases else cap_s  # setup: imports, on a busy machine
            if child.running and now - last > limit:
                child.kill()
        time.sleep(0.05)


def _shutdown_phase(child: Child, cap_s: float) -> tuple[float | None, float | None, str]:
    """(shutdown s, exit s, note) of one child; None where it was killed."""
    phases = child.phases
    if child.killed and "tracked" not in phases:
        return None, None, f"track() blocked > {cap_s:.0f} s (killed)"
    if child.killed and "returned" not in phases:
        return None, None, f"> {cap_s:.0f} s (killed)"
    result = child.outcome()
    returned = phases["returned"][0]
    exit_s = child.exit_time - returned
    note = f"then blocked at exit > {cap_s:.0f} s (killed)" if child.killed else ""
    raised = phases["tracked"][1]["raised"]
    if result.get("shutdown_raised"):
        note = f"shutdown raised {result['shutdown_raised']}" + (f"; {note}" if note else "")
    if raised:
        note = f"track() raised {raised}x" + (f"; {note}" if note else "")
    return result["shutdown_s"], (None if child.killed else exit_s), note


def shutdown_group(ctx: Context) -> None:
    """Shutdown with 100 events queued, against a dead and a hanging server; all clients at once."""
    plan = ctx.plan
    for scenario, url in (("dead", ctx.dead.url), ("hanging", ctx.hang.url)):
        figure, out = f"shutdown_{scenario}_s", f"exit_{scenario}_s"
        for _ in range(plan.shutdown_rounds):
            keys = [
                k for k in ctx.keys if "killed" not in ctx.results.notes.get(figure, {}).get(k, "")
            ]
            children = [
                Child(
                    ctx.python,
                    ctx.root,
                    measure="shutdown",
                    key=key,
                    url=url,
                    count=plan.shutdown_events,
                )
                for key in keys
            ]
            _watch(children, plan.shutdown_cap_s)
            for child in children:
                child.wait(time.perf_counter())
                shutdown_s, exit_s, note = _shutdown_phase(child, plan.shutdown_cap_s)
                if shutdown_s is None:
                    ctx.results.censor(figure, child.key, plan.shutdown_cap_s)
                else:
                    ctx.results.add(figure, child.key, shutdown_s)
                    if child.result is not None:
                        ctx.results.phoned_home(child.key, child.result)
                if exit_s is not None:
                    ctx.results.add(out, child.key, exit_s)
                if note:
                    ctx.results.note(figure, child.key, note)


GROUPS = {
    "import": import_group,
    "track": track_group,
    "memory": memory_group,
    "e2e": e2e_group,
    "cold": cold_group,
    "shutdown": shutdown_group,
}
