"""Collector figures: ingest CPU per event, 50-query prediction latency, export time and memory.

Run alone: ``python benchmarks/bench_collector.py [--quick] [--sizes 10000,100000,1000000]``.
Every event is fresh and realistic (its own ``event_id``, a microsecond timestamp, every
optional field set, numbers drawn per event), spread over the dimensions the way a team's
usage is. The collector always runs in its own process, on a sqlite file, as ``serve`` runs
it; CPU is that process's ``time.process_time()``, so the client's work is not counted.
``MOSAIC_BENCH_ROOT=DIR`` measures the package in DIR (an older copy) the same way.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _util import API_KEY, INSTANCE_ID, REPO_ROOT, Figure, Summary, use_repo_package

# model, provider, weight
MODELS: tuple[tuple[str, str, int], ...] = (
    ("claude-sonnet-4", "anthropic", 30),
    ("claude-opus-4", "anthropic", 8),
    ("claude-haiku-4", "anthropic", 6),
    ("gpt-4o", "openai", 18),
    ("gpt-5", "openai", 8),
    ("gemini-2.5-pro", "google", 10),
    ("llama3.1:70b", "ollama", 6),
    ("mistral-large", "mistral", 4),
    ("deepseek-coder", "openrouter", 6),
    ("qwen2.5-coder", "custom", 4),
)
TASK_TYPES: tuple[tuple[str, int], ...] = (
    ("implementation", 30),
    ("code_review", 14),
    ("testing", 14),
    ("debugging", 14),
    ("refactoring", 8),
    ("documentation", 7),
    ("planning", 6),
    ("configuration", 4),
    ("security_audit", 2),
    ("unknown", 1),
)
COMPLEXITIES: tuple[tuple[str, float, int], ...] = (
    ("low", 0.45, 25),
    ("medium", 1.0, 45),
    ("high", 2.1, 22),
    ("critical", 3.8, 8),
)
HARNESSES = ("claude_code", "opencode", "kilo_code", "aider", "api_direct", "custom")
OUTCOMES = ("success", "success", "success", "failure", "partial", "timeout")
GATES = ("build", "lint", "test", "coverage", "typecheck", "security")
LANGUAGES = ("python", "typescript", "go", "rust", "java", "kotlin")
REPO_SIZES = ("tiny", "small", "medium", "large", "huge")
_BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)


def wire_events(count: int, *, seed: int, start: int = 0) -> list[dict[str, Any]]:
    """``count`` realistic wire events: fresh ids, microsecond timestamps, all fields set."""
    rng = random.Random(seed * 1_000_003 + start)
    models, model_weights = [m[:2] for m in MODELS], [m[2] for m in MODELS]
    tasks, task_weights = [t[0] for t in TASK_TYPES], [t[1] for t in TASK_TYPES]
    sizes, size_weights = [c[:2] for c in COMPLEXITIES], [c[2] for c in COMPLEXITIES]
    out: list[dict[str, Any]] = []
    for index in range(start, start + count):
        model, provider = rng.choices(models, model_weights)[0]
        complexity, factor = rng.choices(sizes, size_weights)[0]
        actual_in = min(10_000_000, max(1, round(40_000 * factor * rng.lognormvariate(0, 0.5))))
        actual_out = min(10_000_000, max(1, round(5_000 * factor * rng.lognormvariate(0, 0.6))))
        has_estimate = rng.random() > 0.05
        estimated_in = round(actual_in / rng.uniform(0.8, 1.5)) if has_estimate else 0
        estimated_out = round(actual_out / rng.uniform(0.8, 1.6)) if has_estimate else 0
        outcome = rng.choice(OUTCOMES)
        passed = outcome == "success" and rng.random() < 0.9
        run = rng.sample(GATES, rng.randint(1, 4))
        stamp = _BASE + timedelta(seconds=index * 7, microseconds=rng.randrange(1, 1_000_000))
        out.append(
            {
                "instance_id": INSTANCE_ID,
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "schema_version": "1.0",
                "timestamp": stamp.isoformat().replace("+00:00", "Z"),
                "task_duration_ms": min(86_400_000, round(200_000 * factor * rng.random()) + 1),
                "task_type": rng.choices(tasks, task_weights)[0],
                "complexity": complexity,
                "harness": rng.choice(HARNESSES),
                "model": model,
                "provider": provider,
                "estimated_input_tokens": estimated_in,
                "estimated_output_tokens": estimated_out,
                "actual_input_tokens": actual_in,
                "actual_output_tokens": actual_out,
                "estimated_cost_usd_micros": min(
                    100_000_000, estimated_in * 3 + estimated_out * 15
                ),
                "actual_cost_usd_micros": min(100_000_000, actual_in * 3 + actual_out * 15),
                "quality_gate_passed": passed,
                "quality_gates_run": run,
                "quality_gates_failed": [] if passed else run[: rng.randint(1, len(run))],
                "context_compactions": rng.randint(0, 5),
                "context_rotations": rng.randint(0, 2),
                "context_utilization_final": round(rng.uniform(0.1, 0.99), 4),
                "outcome": outcome,
                "retry_count": 0 if outcome == "success" else rng.randint(0, 3),
                "language": rng.choice(LANGUAGES),
                "repo_size_category": rng.choice(REPO_SIZES),
            }
        )
    return out


def prediction_queries() -> list[dict[str, str]]:
    """50 distinct queries: exact matches, and ones that fall back to every level."""
    queries: list[dict[str, str]] = []
    tasks = [t[0] for t in TASK_TYPES]
    for i, (model, provider, _) in enumerate(MODELS):  # 30 exact or near-exact matches
        for j, complexity in enumerate(("low", "medium", "high")):
            task = tasks[(i + j) % len(tasks)]
            queries.append(
                {"task_type": task, "model": model, "provider": provider, "complexity": complexity}
            )
    for i, task in enumerate(tasks):  # 10 unknown models: level 2
        provider = MODELS[i][1]
        queries.append(
            {
                "task_type": task,
                "model": f"new-model-{i}",
                "provider": provider,
                "complexity": "medium",
            }
        )
    for task in tasks:  # 10 unknown providers for the task type: level 3
        queries.append(
            {"task_type": task, "model": "gpt-4o", "provider": "unknown", "complexity": "critical"}
        )
    return queries


_COLLECTOR = """
import sys, time
sys.path.insert(0, {root!r})
from mosaic_telemetry.collector import Collector
collector = Collector({key!r}, db_path=sys.argv[1]).start()
print(collector.url, flush=True)
for line in sys.stdin:
    print(collector.event_count, time.process_time(), flush=True)
collector.stop()
"""


class CollectorProcess:
    """A collector on ``db`` in a child process; ``probe()`` gives its event count and CPU."""

    def __init__(self, db: str, root: Path = REPO_ROOT) -> None:
        code = _COLLECTOR.format(root=str(root), key=API_KEY)
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, db],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        host, port = self.url.rsplit("/", 1)[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)

    def probe(self) -> tuple[int, float]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("probe\n")
        self.process.stdin.flush()
        count, cpu = self.process.stdout.readline().split()
        return int(count), float(cpu)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        self.conn.request("POST", path, body, headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _bodies(batches: int, *, seed: int) -> Iterator[bytes]:
    """Batches of 100 fresh events, compact JSON as the client sends them (~770 B per event)."""
    for b in range(batches):
        events = wire_events(100, seed=seed, start=b * 100)
        yield json.dumps({"events": events}, separators=(",", ":")).encode()


def floor_us_per_event(bodies: Sequence[bytes]) -> dict[str, float]:
    """``json.loads`` of ``bodies`` and the sqlite insert of their rows alone, in this process.

    The part of the collector's cost that no Python code of its own can remove: the
    parse, and the insert of the rows (built beforehand, untimed) into the
    collector's own table layout with its PRAGMAs (WAL, full sync), one transaction
    per batch. CPU per event: ``json``, ``insert`` and their sum, ``floor``.
    """
    use_repo_package()
    import sqlite3

    from mosaic_telemetry.collector._migrate import _CREATE_EVENTS
    from mosaic_telemetry.collector._schema import wire_row
    from mosaic_telemetry.collector.store import _CACHE_PRAGMA, _INSERT

    events = len(bodies) * 100
    started = time.process_time()
    parsed = [json.loads(body)["events"] for body in bodies]
    parse = time.process_time() - started
    rows = [[wire_row(e, "2026-01-01T00:00:00.000000Z") for e in batch] for batch in parsed]
    assert all(row is not None for batch in rows for row in batch)  # all take the fast path
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(str(Path(tmp) / "floor.db"), isolation_level=None)
        try:
            for pragma in ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", _CACHE_PRAGMA):
                conn.execute(pragma)
            conn.execute(_CREATE_EVENTS)
            started = time.process_time()
            for batch in rows:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(_INSERT, batch)  # type: ignore[arg-type]  # no None: checked
                conn.execute("COMMIT")
            insert = time.process_time() - started
        finally:
            conn.close()
    return {
        "json": parse / events * 1e6,
        "insert": insert / events * 1e6,
        "floor": (parse + insert) / events * 1e6,
    }


def in_process_us_per_event(bodies: Sequence[bytes]) -> float:
    """The collector's ingest without HTTP: each body parsed, judged and stored, in this process.

    What the request handler calls for ``POST /v1/events/batch`` (``parse_json``,
    then ``CollectorService.ingest_json``) on a fresh file store, after 5 bodies
    as a warm-up; CPU per event. Minus the floor, this is the collector's own
    Python work per event; the HTTP server's share is what the child spends above it.
    """
    use_repo_package()
    from mosaic_telemetry.collector import CollectorService, EventStore
    from mosaic_telemetry.collector._wire import parse_json

    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(str(Path(tmp) / "events.db"))
        try:
            service = CollectorService(store)
            for body in bodies[:5]:
                service.ingest_json(parse_json(body))
            started = time.process_time()
            for body in bodies[5:]:
                service.ingest_json(parse_json(body))
            elapsed = time.process_time() - started
            assert store.count() == len(bodies) * 100, store.count()
        finally:
            store.close()
    return elapsed / ((len(bodies) - 5) * 100) * 1e6


def ingest_rate_with_predictions(db: str, *, seconds: float, predict_every_s: float) -> float:
    """Events stored per second (4 client threads) while another asks 50 queries periodically.

    ``predict_every_s`` 0: no predictions asked.
    """
    import threading

    body = json.dumps({"queries": prediction_queries()}).encode()
    collector = CollectorProcess(db)
    stop = threading.Event()
    stored = [0]

    seed = int(time.time())
    per_worker = [list(_bodies(40, seed=seed * 10 + w)) for w in range(4)]

    def ingest(worker: int) -> None:
        host, port = collector.url.rsplit("/", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        for batch in per_worker[worker]:
            if stop.is_set():
                break
            conn.request("POST", "/v1/events/batch", batch, headers)
            conn.getresponse().read()
            stored[0] += 100
        conn.close()

    def predict() -> None:
        while not stop.wait(predict_every_s):
            collector.post("/v1/predictions/batch", body)

    try:
        collector.post("/v1/predictions/batch", body)  # the index is warm before timing
        threads = [threading.Thread(target=ingest, args=(w,)) for w in range(4)]
        if predict_every_s:
            threads.append(threading.Thread(target=predict))
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads[:4]:
            thread.join(seconds)
        elapsed = time.perf_counter() - started
        stop.set()
        for thread in threads:
            thread.join()
        return stored[0] / elapsed
    finally:
        collector.close()


def _collector_cpu(bodies: Sequence[bytes], *, db: str, root: Path) -> float:
    """Collector CPU per stored event for ``bodies`` (after 5 of them as a warm-up)."""
    collector = CollectorProcess(db, root)
    try:
        for body in bodies[:5]:  # warm-up: imports, first pages, caches
            collector.post("/v1/events/batch", body)
        before_count, before_cpu = collector.probe()
        for body in bodies[5:]:
            status, _ = collector.post("/v1/events/batch", body)
            assert status == 202, status
        after_count, after_cpu = collector.probe()
    finally:
        collector.close()
    stored = after_count - before_count
    assert stored == (len(bodies) - 5) * 100, (stored, len(bodies))
    return (after_cpu - before_cpu) / stored * 1e6


def ingest_cpu_us_per_event(
    *, batches: int, repeat: int, db: str = "", against: Path | None = None
) -> dict[str, Summary]:
    """Collector CPU per stored event at batches of 100, next to its floor, in one run.

    Each round takes fresh bodies (prepared beforehand) for this checkout's
    collector, for the one in ``against`` (an older checkout) if given, and for
    the floor (:func:`floor_us_per_event`), one after the other, so all see the
    machine in the same state. ``db``: an existing store to add to (a fresh one per
    round otherwise). ``overhead`` is the collector's CPU above the floor, per round,
    split into ``fast_path`` (its ingest in this process, without HTTP, above the
    floor) and ``http`` (the collector above that).
    """
    samples: dict[str, list[float]] = {}
    for run in range(repeat):
        roots = {"collector": REPO_ROOT, **({"against": against} if against else {})}
        for offset, (name, root) in enumerate(roots.items()):
            with tempfile.TemporaryDirectory() as tmp:
                bodies = list(_bodies(batches + 5, seed=1000 * run + 100 + offset))
                cpu = _collector_cpu(bodies, db=db or str(Path(tmp) / "events.db"), root=root)
            samples.setdefault(name, []).append(cpu)
        floor = floor_us_per_event(list(_bodies(batches, seed=1000 * run + 7)))
        for name, value in floor.items():
            samples.setdefault(name, []).append(value)
        inside = in_process_us_per_event(list(_bodies(batches + 5, seed=1000 * run + 8)))
        samples.setdefault("in_process", []).append(inside)
        samples.setdefault("overhead", []).append(samples["collector"][-1] - floor["floor"])
        samples.setdefault("fast_path", []).append(inside - floor["floor"])
        samples.setdefault("http", []).append(samples["collector"][-1] - inside)
    return {name: Summary.of(values) for name, values in samples.items()}


def prediction_latency_s(db: str, *, repeat: int) -> dict[str, Summary]:
    """Wall time of one 50-query request: first after start, cached, and after a new event."""
    body = json.dumps({"queries": prediction_queries()}).encode()
    collector = CollectorProcess(db)
    try:
        started = time.perf_counter()
        status, _ = collector.post("/v1/predictions/batch", body)
        first = time.perf_counter() - started
        assert status == 200, status
        cached: list[float] = []
        after_write: list[float] = []
        for run in range(repeat):
            started = time.perf_counter()
            collector.post("/v1/predictions/batch", body)
            cached.append(time.perf_counter() - started)
            event = wire_events(1, seed=999, start=run)
            collector.post("/v1/events/batch", json.dumps({"events": event}).encode())
            started = time.perf_counter()
            status, _ = collector.post("/v1/predictions/batch", body)
            after_write.append(time.perf_counter() - started)
            assert status == 200, status
    finally:
        collector.close()
    return {
        "first": Summary.of([first]),
        "cached": Summary.of(cached),
        "after_write": Summary.of(after_write),
    }


def export_figures(db: str) -> dict[str, float]:
    """``export`` of the whole store to a file in a child: wall seconds and peak RSS (MiB)."""
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, float] = {}
        for fmt in ("jsonl", "csv"):
            target = str(Path(tmp) / f"out.{fmt}")
            code = (
                f"import sys, resource; sys.path.insert(0, {str(REPO_ROOT)!r}); "
                "from mosaic_telemetry.cli import main; "
                f"code = main(['export', '--db', {db!r}, '--format', {fmt!r}, "
                f"'--output', {target!r}]); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)"
            )
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            )
            results[f"{fmt}_s"] = time.perf_counter() - started
            results[f"{fmt}_rss_mib"] = int(result.stdout.split()[-1]) / 1024
            results[f"{fmt}_mib"] = os.path.getsize(target) / 2**20
        del resource
    return results


INGEST_PARTS = (
    ("floor", "floor: json.loads + sqlite insert alone, same run"),
    ("json", "json.loads of the body alone"),
    ("insert", "sqlite insert of the rows alone (WAL, full sync)"),
    ("overhead", "collector's own work above the floor"),
    ("in_process", "its ingest in one process, no HTTP (parse, judge, store)"),
    ("fast_path", "of the overhead: judging, rows, store calls, answer JSON"),
    ("http", "of the overhead: HTTP server, sockets, threads"),
)


def figures(*, quick: bool, sizes: Sequence[int] = ()) -> list[Figure]:
    """The collector's figures (``quick``: fewer batches, 10k events only)."""
    ingest = ingest_cpu_us_per_event(batches=20 if quick else 100, repeat=3 if quick else 5)
    out = [
        Figure(
            "collector.ingest_cpu",
            "collector CPU per event (batches of 100, file store)",
            "µs",
            ingest["collector"],
            target=12.0,
        ),
        *(
            Figure(f"collector.ingest_{name}", f"  {label}", "µs", ingest[name])
            for name, label in INGEST_PARTS
        ),
    ]
    chosen = sizes or ((10_000,) if quick else (10_000, 100_000, 1_000_000))
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "events.db")
        filled = 0
        for size in sorted(chosen):
            fill_store_more(db, filled, size)
            filled = size
            latency = prediction_latency_s(db, repeat=3 if quick else 5)
            label = f"{size:,} events"
            out.append(
                Figure(
                    f"collector.predict_{size}_first",
                    f"50-query predictions, {label}, first request",
                    "ms",
                    latency["first"].scaled(1000),
                )
            )
            out.append(
                Figure(
                    f"collector.predict_{size}",
                    f"50-query predictions, {label}, after a new event",
                    "ms",
                    latency["after_write"].scaled(1000),
                    target=1000.0 if size == 1_000_000 else None,
                )
            )
            out.append(
                Figure(
                    f"collector.predict_{size}_cached",
                    f"50-query predictions, {label}, cached",
                    "ms",
                    latency["cached"].scaled(1000),
                )
            )
        if not quick or sizes:
            exported = export_figures(db)
            for fmt in ("jsonl", "csv"):
                out.append(
                    Figure(
                        f"collector.export_{fmt}_s",
                        f"export {filled:,} events as {fmt}",
                        "s",
                        Summary.of([exported[f"{fmt}_s"]]),
                        note=f"peak RSS {exported[f'{fmt}_rss_mib']:.0f} MiB, "
                        f"{exported[f'{fmt}_mib']:.0f} MiB written",
                    )
                )
    return out


def fill_store_more(db: str, have: int, want: int) -> None:
    """Grow the store at ``db`` from ``have`` to ``want`` events."""
    if want > have:
        started = time.perf_counter()
        fill_store_range(db, have, want)
        print(f"# filled {want:,} events in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def fill_store_range(db: str, start: int, stop: int, *, chunk: int = 5_000) -> None:
    """Write events ``start..stop`` (fresh, seeded by position) to the store at ``db``."""
    use_repo_package()
    from mosaic_telemetry import TaskCompletionEvent
    from mosaic_telemetry.collector import EventStore

    store = EventStore(db)
    fast = getattr(store, "add_rows", None)  # this checkout; an older copy has add() only
    try:
        received = datetime.now(timezone.utc)
        for first in range(start, stop, chunk):
            batch = wire_events(min(chunk, stop - first), seed=1, start=first)
            if fast is not None:
                from mosaic_telemetry.collector._schema import utc_text, wire_row

                text = utc_text(received)
                fast([wire_row(e, text) for e in batch])
            else:
                store.add([TaskCompletionEvent.from_dict(e) for e in batch], received_at=received)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default="", help="comma-separated store sizes")
    parser.add_argument("--only", default="", help="ingest, predict, export or rate")
    parser.add_argument("--db", default="", help="an existing store (predict, export, rate)")
    parser.add_argument("--against", default="", help="ingest: also an older checkout, same run")
    parser.add_argument("--repeat", type=int, default=5, help="ingest: rounds (default 5)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.only == "ingest":
        against = Path(args.against).resolve() if args.against else None
        batches = 20 if args.quick else 100
        ingest = ingest_cpu_us_per_event(batches=batches, repeat=args.repeat, db=args.db,
                                         against=against)  # fmt: skip
        labels = {"collector": f"collector CPU per event ({REPO_ROOT})", **dict(INGEST_PARTS)}
        if against:
            labels["against"] = f"collector CPU per event ({against})"
        for name, label in labels.items():
            s = ingest[name]
            print(f"{label}: median {s.median:.2f} µs ({s.minimum:.2f}..{s.maximum:.2f})")
        return 0
    if args.only == "predict" and args.db:
        for name, value in prediction_latency_s(args.db, repeat=5).items():
            print(f"50 queries, {name}: median {value.median * 1000:.1f} ms "
                  f"({value.minimum * 1000:.1f}..{value.maximum * 1000:.1f})")  # fmt: skip
        return 0
    if args.only == "export" and args.db:
        print(export_figures(args.db))
        return 0
    if args.only == "rate" and args.db:
        alone = ingest_rate_with_predictions(args.db, seconds=20, predict_every_s=0)
        asked = ingest_rate_with_predictions(args.db, seconds=20, predict_every_s=0.5)
        print(f"ingest rate alone {alone:,.0f} events/s; with 50 queries every 0.5 s "
              f"{asked:,.0f} events/s ({asked / alone:.0%})")  # fmt: skip
        return 0
    for figure in figures(quick=args.quick, sizes=sizes):
        s = figure.summary
        print(f"{figure.label}: {s.median:.2f} {figure.unit} ({s.minimum:.2f}..{s.maximum:.2f}) "
              f"{figure.status} {figure.note}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
