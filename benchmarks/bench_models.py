"""Data-layer figures per event: construct, build, from_dict, to_dict, to_json, batches, memory.

Run ``python benchmarks/bench_models.py`` (``--quick`` for a rough run of a few
seconds, ``--json FILE`` to write the figures). The pydantic v2 figures of the
data-layer issue, measured on this machine kind with the original SDK's model,
are printed alongside for comparison; pydantic itself is never imported here.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import timeit
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from _util import (
    Figure,
    Summary,
    fmt,
    machine_info,
    make_events,
    realistic_builder,
    use_repo_package,
)

use_repo_package()

from mosaic_telemetry import (  # noqa: E402  # after use_repo_package(): measure the checkout
    BatchEventRequest,
    Complexity,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskCompletionEvent,
    TaskType,
)

INSTANCE_ID = "12345678-1234-4234-8234-123456789abc"

PYDANTIC_V2: dict[str, float] = {
    "construct_us": 4.8,
    "from_dict_us": 6.1,
    "to_dict_us": 6.1,
    "batch_100_json_us": 760.0,
    "memory_per_event_bytes": 3300.0,
}
"""pydantic v2 with the equivalent model, per event, as given in the data-layer issue."""

TARGETS: dict[str, float] = {
    "construct_us": 4.8,  # at least as fast as pydantic
    "from_dict_us": 6.1 * 1.3,  # within 1.3x of pydantic's validate-from-dict
    "to_dict_us": 6.1,  # at least as fast as model_dump(mode="json")
    "batch_100_json_us": 760.0,
    "memory_per_event_bytes": 800.0,
}


def _event_kwargs() -> dict[str, Any]:
    """Kwargs a user passes: Python objects, no event_id or timestamp (they default)."""
    from uuid import UUID

    return {
        "instance_id": UUID(INSTANCE_ID),
        "task_duration_ms": 61_234,
        "task_type": TaskType.IMPLEMENTATION,
        "complexity": Complexity.MEDIUM,
        "harness": Harness.CLAUDE_CODE,
        "model": "claude-sonnet-4-5",
        "provider": Provider.ANTHROPIC,
        "estimated_input_tokens": 10_123,
        "estimated_output_tokens": 2_123,
        "actual_input_tokens": 11_123,
        "actual_output_tokens": 2_623,
        "estimated_cost_usd_micros": 40_123,
        "actual_cost_usd_micros": 45_123,
        "quality_gate_passed": False,
        "quality_gates_run": [QualityGate.BUILD, QualityGate.LINT],
        "quality_gates_failed": [QualityGate.LINT],
        "context_compactions": 1,
        "context_rotations": 0,
        "context_utilization_final": 0.5123,
        "outcome": Outcome.SUCCESS,
        "retry_count": 0,
        "language": "python",
        "repo_size_category": RepoSizeCategory.MEDIUM,
    }


def time_us(func: Callable[[], object], *, repeat: int, target_s: float) -> Summary:
    """Microseconds per call of ``func``: ``repeat`` timeit runs of about ``target_s`` each.

    The garbage collector stays on during timing, as in a real program (timeit
    turns it off by default, which flatters allocation-heavy code).
    """
    timer = timeit.Timer(func, setup="import gc; gc.enable()")
    trial_calls = 200
    trial = min(timer.repeat(repeat=3, number=trial_calls)) / trial_calls
    number = max(1, int(target_s / max(trial, 1e-9)))
    samples = timer.repeat(repeat=repeat, number=number)
    return Summary.of([s / number * 1e6 for s in samples])


def memory_per_event_bytes(count: int) -> float:
    """tracemalloc bytes per live event: ``count`` builder-made events held in a list."""
    make_events(10)  # import and warm every code path before tracing
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        events = make_events(count)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if len(events) != count:
        raise RuntimeError(f"built {len(events)} events, expected {count}")
    return (after - before) / count


def _cases() -> list[tuple[str, str, Callable[[], object]]]:
    """(key, label, function) for every timed figure."""
    kwargs = _event_kwargs()
    given_ids = {
        **kwargs,
        "event_id": TaskCompletionEvent(**kwargs).event_id,
        "timestamp": TaskCompletionEvent(**kwargs).timestamp,
    }
    event = TaskCompletionEvent(**kwargs)
    wire_text = event.to_json()
    wire = json.loads(wire_text)
    builder = realistic_builder()
    gates_run = [QualityGate.BUILD, QualityGate.LINT]
    gates_failed = [QualityGate.LINT]
    batch = make_events(100)

    def build() -> TaskCompletionEvent:
        return (
            builder.duration_ms(61_234)
            .tokens(estimated_in=10_123, estimated_out=2_123, actual_in=11_123, actual_out=2_623)
            .cost(estimated=40_123, actual=45_123)
            .quality(passed=False, gates_run=gates_run, gates_failed=gates_failed)
            .context(compactions=1, rotations=0, utilization=0.5123)
            .build()
        )

    return [
        ("construct_us", "TaskCompletionEvent(**kwargs)", lambda: TaskCompletionEvent(**kwargs)),
        (
            "construct_given_ids_us",
            "  same, event_id and timestamp given",
            lambda: TaskCompletionEvent(**given_ids),
        ),
        ("build_us", "EventBuilder setters + build()", build),
        ("from_dict_us", "TaskCompletionEvent.from_dict(wire)", lambda: event.from_dict(wire)),
        ("from_json_us", "TaskCompletionEvent.from_json(text)", lambda: event.from_json(wire_text)),
        ("to_dict_us", "event.to_dict()", event.to_dict),
        ("to_json_us", "event.to_json()", event.to_json),
        (
            "batch_100_json_us",
            "100-event BatchEventRequest to JSON bytes",
            lambda: BatchEventRequest(events=batch).to_json().encode("utf-8"),
        ),
    ]


def figures(*, quick: bool = False) -> list[Figure]:
    """Every data-layer figure; ``quick`` trades precision for a run of a few seconds."""
    repeat = 5 if quick else 11
    target_s = 0.02 if quick else 0.1
    out: list[Figure] = []
    for key, label, func in _cases():
        reference = PYDANTIC_V2.get(key)
        out.append(
            Figure(
                key,
                label,
                "µs",
                time_us(func, repeat=repeat, target_s=target_s),
                target=TARGETS.get(key),
                note="" if reference is None else f"pydantic v2: {fmt(reference)} µs",
                extra={} if reference is None else {"pydantic_v2": reference},
            )
        )
    count = 10_000
    memory = [memory_per_event_bytes(count) for _ in range(1 if quick else 3)]
    out.append(
        Figure(
            "memory_per_event_bytes",
            f"memory per live event (tracemalloc, {count:,} in a list)",
            "B",
            Summary.of(memory),
            target=TARGETS["memory_per_event_bytes"],
            note=f"pydantic v2: {fmt(PYDANTIC_V2['memory_per_event_bytes'])} B",
            extra={"pydantic_v2": PYDANTIC_V2["memory_per_event_bytes"]},
        )
    )
    return out


def measure(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    """The figures as plain data, keyed by figure key (for ``benchmarks/run.py``)."""
    return {figure.key: figure.as_json() for figure in figures(quick=quick)}


def format_table(figs: Sequence[Figure]) -> str:
    """A plain-text table: median, spread (min-max), target, status and pydantic's figure."""
    rows = [("figure", "median", "min - max", "target", "status", "pydantic v2", "vs pydantic")]
    for f in figs:
        reference = f.extra.get("pydantic_v2")
        ratio = "" if reference is None else f"{f.summary.median / reference:.2f}x"
        rows.append(
            (
                f.label,
                f"{fmt(f.summary.median)} {f.unit}",
                f"{fmt(f.summary.minimum)} - {fmt(f.summary.maximum)}",
                f.target_text,
                f.status,
                "" if reference is None else f"{fmt(reference)} {f.unit}",
                ratio,
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
    figs = figures(quick=args.quick)
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
