"""Data-layer figures on fresh events, next to pydantic v2's measured in the same run.

Run ``python benchmarks/bench_models.py`` (``--quick`` for a rough run, ``--json FILE``
to write the figures). Each side runs in its own interpreter (benchmarks/_model_worker.py):
this package from the checkout, pydantic v2 with the original SDK's models
(benchmarks/_pydantic_sdk.py) from a throwaway venv made on demand
(benchmarks/_peer_venv.py). The samples are interleaved, one side then the other, so a
slow spell of the machine hits both; every figure is quoted as a median and as the
median of the per-round ratios (ours / pydantic's, each round's samples taken back to
back). Every operation reads a fresh, distinct event.
``MOSAIC_BENCH_BASELINE=DIR`` adds a third side, the package in DIR (e.g. an older commit,
``git archive``'d), in the same interleaved run: the "before" columns.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from _peer_venv import PeerUnavailable, peer_venv
from _util import BENCH_DIR, REPO_ROOT, Figure, Summary, fmt, machine_info, machine_speed

CASES: list[tuple[str, str, int, float | None]] = [
    # key, label, operations per sample, target as a ratio to pydantic (None: informative)
    ("construct", "TaskCompletionEvent(**kwargs), id and time defaulted", 2000, 0.7),
    ("construct_ids", "  same, event_id and timestamp given", 2000, 0.7),
    ("build", "EventBuilder setters + build()", 2000, None),
    ("from_dict", "TaskCompletionEvent.from_dict(wire dict)", 2000, 1.0),
    ("from_json", "TaskCompletionEvent.from_json(bytes)", 2000, None),
    ("to_dict", "event.to_dict()", 2000, 0.6),
    ("to_json", "one event to JSON bytes (encode_event)", 2000, None),
    ("batch_100", "100 events to request bytes", 20, 0.7),
]
MEMORY_TARGET_BYTES = 600.0


class Worker:
    """A side's worker process: send a command, read its answer."""

    def __init__(self, kind: str, path: str, python: str) -> None:
        self.proc = subprocess.Popen(
            [python, "-I", str(BENCH_DIR / "_model_worker.py"), kind, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        self.name = str(self._read()["ready"])

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a benchmark worker died (see its stderr above)")
        return dict(json.loads(line))

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _baseline() -> Worker | None:
    """The package at ``$MOSAIC_BENCH_BASELINE`` (an older copy), measured in the same run."""
    root = os.environ.get("MOSAIC_BENCH_BASELINE")
    return None if not root else Worker("mosaic", root, sys.executable)


def _workers() -> tuple[Worker, Worker | None, str]:
    ours = Worker("mosaic", str(REPO_ROOT), sys.executable)
    try:
        venv = peer_venv("pydantic")
    except PeerUnavailable as exc:
        return ours, None, str(exc)
    peer = Worker("pydantic", venv.site_packages, venv.python)
    return ours, peer, peer.name


def _interleaved(
    workers: list[Worker | None], op: str, number: int, repeat: int
) -> list[list[float]]:
    """``repeat`` samples per worker, rotating which goes first; one warm-up each."""
    samples: list[list[float]] = [[] for _ in workers]
    sides = [(w, out) for w, out in zip(workers, samples, strict=True) if w is not None]
    for index in range(repeat + 1):
        shift = index % len(sides)
        for worker, out in sides[shift:] + sides[:shift]:
            ns = worker.ask(op=op, number=number)["ns"]
            if index and ns is not None:
                out.append(ns / 1000)
    return samples


def _paired_ratio(mine: list[float], theirs: list[float]) -> float:
    """Median of the per-round ratios: each round's two samples were taken back to back,
    so a slow spell of a shared machine cancels out of each ratio."""
    return statistics.median(a / b for a, b in zip(mine, theirs, strict=True))


def figures(*, quick: bool = False) -> list[Figure]:
    """Every data-layer figure; ``quick`` trades precision for a run of a few seconds."""
    repeat = 3 if quick else 15
    scale = 4 if quick else 1
    ours, peer, peer_name = _workers()
    before = _baseline()
    out: list[Figure] = []
    try:
        for key, label, number, ratio_target in CASES:
            mine, theirs, old = _interleaved(
                [ours, peer, before], key, max(1, number // scale), repeat
            )
            summary = Summary.of(mine)
            extra: dict[str, Any] = {"peer": peer_name}
            if old:
                extra["before_median"] = Summary.of(old).median
                if theirs:
                    extra["before_ratio"] = _paired_ratio(old, theirs)
            note = ""
            target = None
            if theirs:
                reference = Summary.of(theirs)
                ratio = _paired_ratio(mine, theirs)
                extra.update(
                    peer_median=reference.median, peer_summary=reference.__dict__, ratio=ratio
                )
                note = f"pydantic {fmt(reference.median)} µs, ratio {ratio:.2f}x"
                if ratio_target is not None:
                    target = ratio_target * reference.median
                    note += f" (target <= {ratio_target:.2f}x)"
            out.append(
                Figure(f"{key}_us", label, "µs", summary, target=target, note=note, extra=extra)
            )
        count = 2000 if quick else 10_000
        mine_b = [ours.ask(op="memory", count=count)["bytes"] for _ in range(1 if quick else 3)]
        note = ""
        extra = {"peer": peer_name}
        if before is not None:
            extra["before_median"] = before.ask(op="memory", count=count)["bytes"]
        if peer is not None:
            theirs_b = peer.ask(op="memory", count=count)["bytes"]
            ratio = Summary.of(mine_b).median / theirs_b
            extra.update(peer_median=theirs_b, ratio=ratio)
            note = f"pydantic {fmt(theirs_b)} B, ratio {ratio:.2f}x"
        out.append(
            Figure(
                "memory_per_event_bytes",
                f"memory per live event (tracemalloc, {count:,} in a list)",
                "B",
                Summary.of(mine_b),
                target=MEMORY_TARGET_BYTES,
                note=note,
                extra=extra,
            )
        )
    finally:
        for worker in (ours, peer, before):
            if worker is not None:
                worker.close()
    return out


def format_table(figs: Sequence[Figure]) -> str:
    """A plain-text table: median, spread, pydantic's median, ratio, status."""
    rows = [
        (
            "figure",
            "median",
            "min - max",
            "pydantic v2",
            "ratio",
            "before",
            "ratio",
            "target",
            "status",
        )
    ]
    for f in figs:
        peer = f.extra.get("peer_median")
        ratio = f.extra.get("ratio")
        old = f.extra.get("before_median")
        old_ratio = f.extra.get("before_ratio")
        if old_ratio is None and old is not None and peer is not None:
            old_ratio = old / peer
        rows.append(
            (
                f.label,
                f"{fmt(f.summary.median)} {f.unit}",
                f"{fmt(f.summary.minimum)} - {fmt(f.summary.maximum)}",
                "" if peer is None else f"{fmt(peer)} {f.unit}",
                "" if ratio is None else f"{ratio:.2f}x",
                "" if old is None else f"{fmt(old)} {f.unit}",
                "" if old_ratio is None else f"{old_ratio:.2f}x",
                f.target_text,
                f.status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table, optionally write JSON; exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a rough run of a few seconds")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    before = machine_speed("before")
    figs = figures(quick=args.quick)
    figs.extend([before, machine_speed("after")])
    info = machine_info()
    print(f"mosaic_telemetry data layer — Python {info['python']} on {info['cpu']}")
    print(format_table(figs))
    if args.json:
        payload = {"machine": info, "figures": [f.as_json() for f in figs]}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
