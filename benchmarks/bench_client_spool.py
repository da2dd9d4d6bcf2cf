"""Client spool figures: write-ahead CPU and bytes per event, replay rate, exit (server down).

Run ``python benchmarks/bench_client_spool.py`` (``--quick`` for a rough run,
``--json FILE`` to write the figures). Every run uses fresh, distinct, realistic
events and a fresh spool directory in the system's temp directory.

- write-ahead: a client that is never started tracks 100 events at a time and runs
  the spool thread's pass on this thread, up to 1,000 queued (the server down: the
  queue only grows); CPU of the passes (``time.thread_time``) per event written.
- replay: a spool of N events left by a stopped client is sent by a new client's
  ``flush()`` to the local collector on 127.0.0.1 (wall time, HTTP and sqlite
  included), and read back into memory alone (the pass, CPU).
- exit: a fresh interpreter starts a client with a spool and a dead server, tracks
  one event and returns; the time from its last line to its exit, against the same
  interpreter without a client.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _util import (
    REPO_ROOT,
    Figure,
    Summary,
    figures_main,
    fmt,
    make_events,
    use_repo_package,
)

use_repo_package()

from mosaic_telemetry import TelemetryClient, TelemetryConfig  # noqa: E402
from mosaic_telemetry.collector import Collector  # noqa: E402

API_KEY = "0123456789abcdef" * 4
INSTANCE = "2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _client(url: str, spool_dir: Path, **extra: object) -> TelemetryClient:
    config = TelemetryConfig(
        server_url=url,
        api_key=API_KEY,
        instance_id=INSTANCE,
        spool_dir=str(spool_dir),
        **extra,  # type: ignore[arg-type]  # benchmark settings
    )
    return TelemetryClient(config)


def encode_run(start: int) -> float:
    """CPU µs per event of ``encode_event`` alone: what every send costs anyway."""
    from mosaic_telemetry._encode import encode_event

    events = make_events(1000, start=start)
    began = time.thread_time()
    for event in events:
        encode_event(event)
    return (time.thread_time() - began) / 1000 * 1e6


def write_ahead_run(start: int) -> tuple[float, float]:
    """(worker CPU µs per event written ahead, bytes on disk per event)."""
    home = Path(tempfile.mkdtemp(prefix="bench-client-spool-"))
    try:
        client = _client(_dead_url(), home / "spool")
        spooling = client._slot.core.background.spooling
        assert spooling is not None
        journal = spooling.journal  # the spool thread's pass
        events = make_events(1000, start=start)
        cpu_s = 0.0
        for index in range(0, 1000, 100):
            for event in events[index : index + 100]:
                client.track(event)
            began = time.thread_time()
            journal.run_pass()
            cpu_s += time.thread_time() - began
        on_disk = sum(p.stat().st_size for p in (home / "spool").glob("seg-*.jsonl"))
        client.stop(timeout=0)
        return cpu_s / 1000 * 1e6, on_disk / 1000
    finally:
        shutil.rmtree(home)


def replay_run(count: int, start: int) -> tuple[float, float]:
    """(events/s sent from the spool to the collector, wall; events/s read back, CPU)."""
    home = Path(tempfile.mkdtemp(prefix="bench-client-spool-"))
    try:
        spool_dir = home / "spool"
        writer = _client(_dead_url(), spool_dir, max_queue_size=count)
        for event in make_events(count, start=start):
            writer.track(event)
        writer.persist()
        writer.stop(timeout=0)
        reader = _client(_dead_url(), spool_dir, max_queue_size=count)
        spooling = reader._slot.core.background.spooling
        assert spooling is not None
        journal = spooling.journal
        began = time.thread_time()
        read_back = 0
        while True:
            got = journal.run_pass()[1]
            if not got:
                break
            read_back += got
        read_cpu_s = time.thread_time() - began
        reader.stop(timeout=0)
        assert read_back == count, read_back
        with Collector(API_KEY) as collector:
            sender = _client(collector.url, spool_dir)
            began = time.perf_counter()
            assert sender.flush(120.0)
            wall_s = time.perf_counter() - began
            sender.stop()
            assert collector.event_count == count
        return count / wall_s, count / read_cpu_s
    finally:
        shutil.rmtree(home)


_EXIT_CHILD = """
import sys
sys.path.insert(0, {repo!r})
from mosaic_telemetry import EventBuilder, TelemetryClient, TelemetryConfig
if {with_client}:
    client = TelemetryClient(TelemetryConfig(server_url={url!r}, api_key={key!r},
        instance_id={instance!r}, spool_dir={spool!r}))
    client.start()
    client.track(EventBuilder({instance!r}).model("gpt-4o").build())
print("E", flush=True)
"""


def exit_run(*, with_client: bool) -> float:
    """Seconds from a child's last line to its exit (server down, a spool)."""
    home = tempfile.mkdtemp(prefix="bench-client-spool-")
    try:
        code = _EXIT_CHILD.format(
            repo=str(REPO_ROOT),
            with_client=with_client,
            url=_dead_url(),
            key=API_KEY,
            instance=INSTANCE,
            spool=os.path.join(home, "spool"),
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"E"
        began = time.monotonic()
        child.wait(timeout=60)
        child.stdout.close()
        return time.monotonic() - began
    finally:
        shutil.rmtree(home)


def figures(*, quick: bool = False) -> list[Figure]:
    """Every client spool figure; ``quick`` trades precision for a short run."""
    runs = 3 if quick else 7
    write_ahead_run(start=900_000)  # warm-up: the spool's modules load on first use
    ahead = [write_ahead_run(start=run * 1000) for run in range(runs)]
    encode_us = Summary.of([encode_run(start=800_000 + run * 1000) for run in range(runs)])
    count = 2_000 if quick else 20_000
    replay = [replay_run(count, start=100_000 + run * count) for run in range(3)]
    exits = [exit_run(with_client=True) for _ in range(runs)]
    bare = [exit_run(with_client=False) for _ in range(runs)]
    bare_ms = Summary.of([s * 1000 for s in bare]).median
    return [
        Figure(
            "client_write_ahead_cpu_us",
            "client write-ahead: spool thread CPU per event (up to 1,000 queued)",
            "µs",
            Summary.of([run[0] for run in ahead]),
            note=f"encode_event alone: {fmt(encode_us.median)} µs",
        ),
        Figure(
            "client_spool_bytes_per_event",
            "client write-ahead: bytes on disk per event",
            "B",
            Summary.of([run[1] for run in ahead]),
        ),
        Figure(
            "client_replay_events_per_s",
            f"replay of {count:,} spooled events to the local collector, flush() (wall)",
            "events/s",
            Summary.of([run[0] for run in replay]),
            higher_is_better=True,
        ),
        Figure(
            "client_read_back_cpu_events_per_s",
            "reading spooled events back into the queue (CPU)",
            "events/s",
            Summary.of([run[1] for run in replay]),
            higher_is_better=True,
        ),
        Figure(
            "client_exit_server_down_ms",
            "exit of a process that tracked one event, server down, with a spool",
            "ms",
            Summary.of([s * 1000 for s in exits]),
            target=100.0,
            note=f"a bare interpreter's exit: {fmt(bare_ms)} ms",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the figures, optionally write JSON; exit 0."""
    return figures_main(
        "mosaic_telemetry client spool", figures, argv, doc=__doc__, quick_help="a rough run"
    )


if __name__ == "__main__":
    sys.exit(main())
