"""Client figures: track() cost, memory per queued event, end to end, stop() latency, idle CPU."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from _util import (
    API_KEY,
    BENCH_DIR,
    INSTANCE_ID,
    REPO_ROOT,
    Figure,
    Summary,
    make_events,
    run_python,
    use_repo_package,
)

if TYPE_CHECKING:
    from mosaic_telemetry import TaskCompletionEvent, TelemetryClient

# The collector runs in its own process, as it would in production: the client's
# figure is not the GIL-shared throughput of client and server in one interpreter.
_COLLECTOR = f"""
import sys, time
sys.path.insert(0, {str(REPO_ROOT)!r})
from mosaic_telemetry.collector import Collector
collector = Collector({API_KEY!r}, db_path=sys.argv[1]).start()  # a file, as serve --db
print(collector.url, flush=True)
while sys.stdin.readline().strip() == "count":
    print(collector.event_count, time.process_time(), flush=True)
collector.stop()
"""


def make_client(**settings: Any) -> TelemetryClient:
    """An enabled client of this checkout with a valid config, updated by ``settings``."""
    use_repo_package()
    from mosaic_telemetry import TelemetryClient, TelemetryConfig

    # MOSAIC_TELEMETRY_ENABLED=false in the shell would silently measure a disabled client.
    for name in [name for name in os.environ if name.startswith("MOSAIC_TELEMETRY_")]:
        del os.environ[name]
    values: dict[str, Any] = {
        "server_url": "http://127.0.0.1:9",
        "api_key": API_KEY,
        "instance_id": INSTANCE_ID,
        **settings,
    }
    return TelemetryClient(TelemetryConfig(**values))


# -- track() -------------------------------------------------------------------------


def _track_loop(
    client: TelemetryClient,
    events: list[TaskCompletionEvent],
    clock: Callable[[], int] = time.perf_counter_ns,
) -> int:
    track = client.track
    start = clock()
    for event in events:
        track(event)
    return clock() - start


def track_single_ns(calls: int, repeat: int, *, evicting: bool) -> list[float]:
    """ns per track() on one thread; a fresh, not started client per repeat.

    Timed in this thread's CPU time: on a shared machine a neighbour that takes
    the core away for a while does not count as time spent in track().

    ``evicting``: the default 1,000-event queue, full after the first thousand
    calls, so nearly every call also evicts the oldest event.
    """
    pool = make_events(1000)
    events = (pool * (calls // len(pool) + 1))[:calls]
    samples: list[float] = []
    for index in range(repeat + 1):
        client = make_client(max_queue_size=1000 if evicting else calls)
        elapsed = _track_loop(client, events, time.thread_time_ns)
        if index:  # the first round warms up
            samples.append(elapsed / calls)
    return samples


def track_threads_ns(calls: int, repeat: int, threads: int = 8) -> list[float]:
    """Wall ns per track() with ``threads`` threads calling at once (total calls / wall)."""
    pool = make_events(1000)
    per_thread = calls // threads
    events = (pool * (per_thread // len(pool) + 1))[:per_thread]
    samples: list[float] = []
    for index in range(repeat + 1):
        client = make_client(max_queue_size=per_thread * threads)
        barrier = threading.Barrier(threads + 1)

        def worker(client: TelemetryClient = client, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            _track_loop(client, events)

        workers = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in workers:
            thread.start()
        barrier.wait()
        start = time.perf_counter_ns()
        for thread in workers:
            thread.join()
        elapsed = time.perf_counter_ns() - start
        if client.queue_size != per_thread * threads:
            raise RuntimeError(f"lost events: {client.queue_size} of {per_thread * threads}")
        if index:
            samples.append(elapsed / (per_thread * threads))
    return samples


# -- memory ---------------------------------------------------------------------------


def queued_event_bytes(count: int) -> float:
    """tracemalloc bytes per event built (EventBuilder) and held in a client's queue."""
    client = make_client(max_queue_size=count)
    make_events(10)  # import and warm every code path before tracing
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for event in make_events(count):
            client.track(event)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if client.queue_size != count:
        raise RuntimeError(f"queue holds {client.queue_size}, expected {count}")
    return (after - before) / count


_RSS_CHILD = """
import os, sys
sys.path[:0] = [{root!r}, {bench!r}]
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
import mosaic_telemetry
from _util import make_events
from bench_client import make_client
base = rss()
client = make_client(max_queue_size={size})
for event in make_events({size}):
    client.track(event)
assert client.queue_size == {size}
print(base, rss())
"""


def full_queue_rss(size: int) -> tuple[int, int]:
    """(RSS after import, RSS with a client holding ``size`` events), fresh process, bytes."""
    code = _RSS_CHILD.format(root=str(REPO_ROOT), bench=str(BENCH_DIR), size=size)
    base, full = run_python(code, flags=("-I",)).stdout.split()
    return int(base), int(full)


# -- end to end -------------------------------------------------------------------------


class _CollectorProcess:
    """The local collector in a child process, on an ephemeral loopback port."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="mosaic-bench-e2e-")
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _COLLECTOR, os.path.join(self._tmp.name, "events.db")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        assert self._proc.stdout is not None and self._proc.stdin is not None
        self._stdin = self._proc.stdin
        self._stdout = self._proc.stdout
        self.url = self._stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("the collector did not start")

    def event_count(self) -> tuple[int, float]:
        """(events stored, CPU seconds the collector process has used so far)."""
        self._stdin.write("count\n")
        self._stdin.flush()
        count, cpu = self._stdout.readline().split()
        return int(count), float(cpu)

    def close(self) -> None:
        try:
            self._stdin.write("stop\n")
            self._stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stdout.close()
        self._tmp.cleanup()


def end_to_end(count: int, *, dry_run: bool) -> dict[str, float]:
    """start(), track() ``count`` new events, stop(): seconds, events/s, delivered count."""
    events = make_events(count, start=int(time.time() * 1000) % 10**6)
    collector = None if dry_run else _CollectorProcess()
    try:
        client = make_client(
            server_url=collector.url if collector else "http://127.0.0.1:9",
            dry_run=dry_run,
            batch_size=100,
            max_queue_size=count,
            submit_interval_seconds=300.0,
            request_timeout_seconds=30.0,
            shutdown_timeout_seconds=600.0,
        )
        gc.collect()
        server_cpu0 = collector.event_count()[1] if collector else 0.0
        cpu0 = time.process_time()
        start = time.perf_counter()
        client.start()
        track = client.track
        for event in events:
            track(event)
        tracked = time.perf_counter()
        client.stop()
        end = time.perf_counter()
        cpu = time.process_time() - cpu0
        stats = client.stats
        delivered, server_cpu = collector.event_count() if collector else (stats.sent, 0.0)
    finally:
        if collector is not None:
            collector.close()
    total = end - start
    return {
        "seconds": total,
        "events_per_s": count / total,
        "track_phase_s": tracked - start,
        "client_cpu_s": cpu,
        "collector_cpu_s": server_cpu - server_cpu0 if collector else 0.0,
        "delivered": delivered,
        "sent": stats.sent,
        "batches": stats.batches,
        "dropped": stats.dropped_queue_full + stats.dropped_errors + stats.dropped_shutdown,
    }


def burst(count: int, **settings: Any) -> dict[str, float]:
    """start(), ``count`` track() calls as fast as one thread can, stop(): where they went."""
    events = make_events(count, start=int(time.time() * 1000) % 10**6 + 500_000)
    collector = _CollectorProcess()
    try:
        client = make_client(server_url=collector.url, **settings)
        gc.collect()
        start = time.perf_counter()
        client.start()
        track = client.track
        for event in events:
            track(event)
        tracked = time.perf_counter()
        client.stop(timeout=600.0)
        stats = client.stats
        delivered = collector.event_count()[0]
    finally:
        collector.close()
    return {
        "track_phase_s": tracked - start,
        "delivered": delivered,
        "dropped_queue_full": stats.dropped_queue_full,
        "other_drops": stats.dropped_errors + stats.dropped_shutdown + stats.unconfirmed,
    }


def _burst_figures(count: int, runs: int) -> list[Figure]:
    out: list[Figure] = []
    for label, settings in (
        ("default settings", {}),
        ("max_queue_size=100000", {"max_queue_size": 100_000}),
    ):
        results = [burst(count, **settings) for _ in range(runs)]
        key = "burst_default" if not settings else "burst_big_queue"
        accounted = all(
            r["delivered"] + r["dropped_queue_full"] + r["other_drops"] == count for r in results
        )
        out.append(
            Figure(
                f"{key}_delivered",
                f"burst of {count:,} track(), {label}: delivered",
                "ev",
                Summary.of([float(r["delivered"]) for r in results]),
                higher_is_better=True,
                note=f"track loop {Summary.of([r['track_phase_s'] for r in results]).median:.2f} s"
                + ("" if accounted else "; NOT ACCOUNTED FOR: delivered + drops != tracked"),
            )
        )
        out.append(
            Figure(
                f"{key}_dropped",
                "  dropped (queue full, counted in stats.dropped_queue_full)",
                "ev",
                Summary.of([float(r["dropped_queue_full"]) for r in results]),
                note=f"other drops: {max(r['other_drops'] for r in results):.0f}",
            )
        )
    return out


# -- stop() and idle --------------------------------------------------------------------


def stop_latency_ms(repeat: int) -> list[float]:
    """ms for stop() of a started client with an empty queue and a 300 s interval."""
    samples: list[float] = []
    for _ in range(repeat):
        client = make_client(submit_interval_seconds=300.0)
        client.start()
        time.sleep(0.05)  # the worker is now parked in its 300 s wait
        start = time.perf_counter()
        client.stop()
        samples.append((time.perf_counter() - start) * 1000)
        if client.is_running:
            raise RuntimeError("stop() returned with the worker still running")
    return samples


_IDLE_CHILD = """
import sys, time
sys.path[:0] = [{root!r}, {bench!r}]
from bench_client import make_client
client = make_client(submit_interval_seconds=300.0) if {started} else None
if client is not None:
    client.start()
time.sleep(0.2)
cpu0, wall0 = time.process_time(), time.perf_counter()
time.sleep({window})
cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
if client is not None:
    assert client.is_running
    client.stop()
print(cpu, wall)
"""


def idle_cpu_percent(window_s: float, *, started: bool = True) -> float:
    """CPU of a process whose only activity is an idle started client, as % of one core."""
    code = _IDLE_CHILD.format(
        root=str(REPO_ROOT),
        bench=str(BENCH_DIR),
        started=started,
        window=window_s,
    )
    cpu, wall = map(float, run_python(code, flags=("-I",)).stdout.split())
    return 100.0 * cpu / wall


# -- the figures ------------------------------------------------------------------------


def _e2e_figures(count: int, runs: int, *, dry_run: bool) -> list[Figure]:
    """Rate, CPU per event on each side, total time and the delivered count, over ``runs``."""
    results = [end_to_end(count, dry_run=dry_run) for _ in range(runs)]
    name = "e2e_dry_run" if dry_run else "e2e"
    where = "dry_run (the client's own cost)" if dry_run else "local collector (own process)"
    out = [
        Figure(
            f"{name}_events_per_s",
            f"end to end, {count:,} events, {where}",
            "ev/s",
            Summary.of([r["events_per_s"] for r in results]),
            target=None if dry_run else 60_000.0,  # issue 17, storing to a file
            higher_is_better=True,
            note=f"{runs} run(s) of start(), track() x {count:,}, stop()",
            extra={"runs": results},
        )
    ]
    for side in ("client",) if dry_run else ("client", "collector"):
        out.append(
            Figure(
                f"{name}_{side}_cpu_us_per_event",
                f"  {side} CPU per event",
                "µs",
                Summary.of([r[f"{side}_cpu_s"] / count * 1e6 for r in results]),
                target=6.0 if side == "client" and not dry_run else None,
                note="" if side == "client" else "rate bound on 2 free cores: 1e6 / the larger",
            )
        )
    out.append(
        Figure(
            f"{name}_seconds",
            "  total time, start() to stop() returning",
            "s",
            Summary.of([r["seconds"] for r in results]),
        )
    )
    worst = min(int(r["delivered"]) for r in results)
    out.append(
        Figure(
            f"{name}_delivered_ok",
            "  events delivered (correctness, worst run)",
            "ev",
            Summary.of([float(worst)]),
            target=float(count),
            higher_is_better=True,
            note="" if worst == count else f"LOST {count - worst:,} events",
        )
    )
    return out


def figures(*, quick: bool = False) -> list[Figure]:
    """Every client figure; ``quick`` trades precision for a run of a few seconds."""
    calls = 50_000 if quick else 200_000
    repeat = 3 if quick else 9
    out: list[Figure] = []
    single = Summary.of(track_single_ns(calls, repeat, evicting=False)).scaled(1e-3)
    out.append(Figure("track_us", "track() per call, 1 thread", "µs", single, target=1.0))
    evict = Summary.of(track_single_ns(calls, repeat, evicting=True)).scaled(1e-3)
    out.append(Figure("track_evicting_us", "track() per call, 1 thread, queue full", "µs", evict))
    multi = Summary.of(track_threads_ns(calls, repeat)).scaled(1e-3)
    out.append(
        Figure(
            "track_8_threads_us",
            "track() per call, 8 threads (wall / calls)",
            "µs",
            multi,
            note="aggregate: total wall time over all threads' calls",
        )
    )

    per_event = Summary.of([queued_event_bytes(10_000) for _ in range(1 if quick else 3)])
    out.append(
        Figure(
            "queued_event_bytes",
            "memory per queued event (tracemalloc, 10,000 events)",
            "B",
            per_event,
            target=800.0,
        )
    )
    for size in (1000,) if quick else (1000, 100_000):
        rss = [full_queue_rss(size) for _ in range(1 if quick else 3)]
        full = Summary.of([f / 2**20 for _, f in rss])
        delta = Summary.of([(f - b) / size for b, f in rss])
        out.append(
            Figure(
                f"rss_full_queue_{size}_mib",
                f"RSS, client holding a full queue of {size:,}",
                "MiB",
                full,
                extra={"rss_after_import_mib": rss[0][0] / 2**20},
            )
        )
        out.append(
            Figure(
                f"rss_per_event_{size}_bytes",
                f"  RSS growth per queued event ({size:,})",
                "B",
                delta,
            )
        )

    count = 20_000 if quick else 100_000
    runs = 1 if quick else 3
    out.extend(_e2e_figures(count, runs, dry_run=False))
    out.extend(_e2e_figures(count, runs, dry_run=True))
    out.extend(_burst_figures(20_000 if quick else 50_000, runs))

    out.append(
        Figure(
            "stop_empty_ms",
            "stop() with an empty queue, 300 s interval",
            "ms",
            Summary.of(stop_latency_ms(3 if quick else 9)),
            target=50.0,
        )
    )
    window = 2.0 if quick else 10.0
    out.append(
        Figure(
            "idle_cpu_percent",
            f"CPU of an idle started client over {window:g} s",
            "% core",
            Summary.of([idle_cpu_percent(window)]),
            target=0.1,
            note=f"bare interpreter: {idle_cpu_percent(min(window, 2.0), started=False):.3f} %",
        )
    )
    return out


if __name__ == "__main__":
    for figure in figures(quick="--quick" in sys.argv):
        print(figure.key, figure.summary, figure.status, figure.note)
