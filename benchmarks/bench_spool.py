"""Spool engine figures: append CPU and bytes per event, sync() per batch of 100, replay rate.

Run ``python benchmarks/bench_spool.py`` (``--quick`` for a rough run of a few
seconds, ``--json FILE`` to write the figures). Every run uses fresh, distinct,
realistic events (new ids, timestamps and numbers), encoded once beforehand as
the sender encodes them, and a fresh spool directory in the system's temp
directory (on this machine: the same disk as the checkout). append and replay
are CPU figures (``time.process_time``); sync is wall time, since it waits for
the disk.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _util import Figure, Summary, figures_main, fmt, make_events, use_repo_package

use_repo_package()

from mosaic_telemetry._encode import encode_event  # noqa: E402  # after use_repo_package()
from mosaic_telemetry._spool import Spool  # noqa: E402

BATCH = 100


def _records(count: int, start: int) -> list[tuple[str, bytes]]:
    return [(str(event.event_id), encode_event(event)) for event in make_events(count, start=start)]


def _fresh_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bench-spool-")) / "spool"


def append_run(batches: int, start: int) -> tuple[float, float, float]:
    """One run: ``batches`` appends of 100; return (CPU µs per event, disk bytes per event,
    JSON bytes per event)."""
    records = _records(batches * BATCH, start)
    directory = _fresh_dir()
    try:
        with Spool.open(directory, 1 << 34) as spool:
            began = time.process_time()
            for index in range(batches):
                spool.append(records[index * BATCH : (index + 1) * BATCH])
            cpu_s = time.process_time() - began
            on_disk = sum(path.stat().st_size for path in directory.glob("seg-*.jsonl"))
    finally:
        shutil.rmtree(directory.parent)
    count = batches * BATCH
    event_bytes = sum(len(data) for _, data in records) / count
    return cpu_s / count * 1e6, on_disk / count, event_bytes


def sync_run(batches: int, start: int) -> list[float]:
    """Milliseconds of wall time of each sync() after an append of 100 events."""
    records = _records(batches * BATCH, start)
    directory = _fresh_dir()
    samples: list[float] = []
    try:
        with Spool.open(directory, 1 << 34) as spool:
            for index in range(batches):
                spool.append(records[index * BATCH : (index + 1) * BATCH])
                began = time.perf_counter()
                spool.sync()
                samples.append((time.perf_counter() - began) * 1e3)
    finally:
        shutil.rmtree(directory.parent)
    return samples


def replay_run(count: int, start: int) -> tuple[float, float]:
    """Events per second, wall and CPU, of a new process's replay + settle of ``count``
    spilled events (segments adopted, read, checked, removed)."""
    directory = _fresh_dir()
    try:
        with Spool.open(directory, 1 << 34) as spool:
            records = _records(count, start)
            for index in range(0, count, BATCH):
                spool.append(records[index : index + BATCH], held=False)
            spool.sync()
        with Spool.open(directory, 1 << 34) as spool:
            wall, cpu = time.perf_counter(), time.process_time()
            seen = 0
            while batch := spool.replay(BATCH):
                seen += len(batch)
                spool.settle(item.event_id for item in batch)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if seen != count or os.listdir(directory):
            raise RuntimeError(f"replayed {seen} of {count}; left {os.listdir(directory)}")
    finally:
        shutil.rmtree(directory.parent)
    return count / wall, count / cpu


def figures(*, quick: bool = False) -> list[Figure]:
    """Every spool figure; ``quick`` trades precision for a run of a few seconds."""
    runs = 3 if quick else 7
    batches = 20 if quick else 100
    append = [append_run(batches, start=run * 20_000) for run in range(runs)]
    sync_ms = sync_run(20 if quick else 60, start=200_000)
    replay = [
        replay_run(5_000 if quick else 20_000, start=300_000 + run * 20_000) for run in range(3)
    ]
    event_bytes = Summary.of([run[2] for run in append]).median
    return [
        Figure(
            "spool_append_cpu_us",
            f"spool append: CPU per event (batches of {BATCH}, no fsync)",
            "µs",
            Summary.of([run[0] for run in append]),
        ),
        Figure(
            "spool_bytes_per_event",
            "spool bytes on disk per event",
            "B",
            Summary.of([run[1] for run in append]),
            note=f"the event's JSON is {fmt(event_bytes)} B",
        ),
        Figure(
            "spool_sync_ms",
            f"spool sync() after an append of {BATCH} (wall: fsync)",
            "ms",
            Summary.of(sync_ms),
            note="the first, with the directory fsync, included",
        ),
        Figure(
            "spool_replay_events_per_s",
            "spool replay + settle in a new process (wall)",
            "events/s",
            Summary.of([run[0] for run in replay]),
            higher_is_better=True,
        ),
        Figure(
            "spool_replay_cpu_events_per_s",
            "spool replay + settle in a new process (CPU)",
            "events/s",
            Summary.of([run[1] for run in replay]),
            higher_is_better=True,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the figures, optionally write JSON; exit 0."""
    return figures_main(
        "mosaic_telemetry spool",
        figures,
        argv,
        doc=__doc__,
        quick_help="a rough run of a few seconds",
    )


if __name__ == "__main__":
    sys.exit(main())
