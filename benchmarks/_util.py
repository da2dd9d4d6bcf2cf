"""Shared benchmark helpers: figures with targets, robust summaries, timed loops, subprocesses."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mosaic_telemetry import EventBuilder

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = Path(os.environ.get("MOSAIC_BENCH_ROOT") or BENCH_DIR.parent).resolve()
"""The directory whose ``mosaic_telemetry`` is measured: this checkout (never an installed
copy), or ``$MOSAIC_BENCH_ROOT`` to measure a patched copy against it."""

API_KEY = "ab" * 32
"""A well-formed key (64 hex characters) shared by the client and the local collector."""
INSTANCE_ID = "12345678-1234-4234-8234-123456789abc"


def use_repo_package() -> None:
    """Put the checkout first on ``sys.path`` so ``import mosaic_telemetry`` finds it."""
    root = str(REPO_ROOT)
    if sys.path[:1] != [root]:
        sys.path.insert(0, root)


@dataclass(frozen=True)
class Summary:
    """Median and spread of repeated measurements (same unit as the samples)."""

    median: float
    minimum: float
    maximum: float
    q1: float
    q3: float
    runs: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        """Summarise ``samples`` (at least one)."""
        if not samples:
            raise ValueError("no samples to summarise")
        ordered = sorted(samples)
        if len(ordered) >= 2:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            q1 = q3 = ordered[0]
        return cls(
            median=statistics.median(ordered),
            minimum=ordered[0],
            maximum=ordered[-1],
            q1=q1,
            q3=q3,
            runs=len(ordered),
        )

    def scaled(self, factor: float) -> Summary:
        """The same summary in another unit (``factor`` > 0)."""
        return Summary(
            self.median * factor,
            self.minimum * factor,
            self.maximum * factor,
            self.q1 * factor,
            self.q3 * factor,
            self.runs,
        )


@dataclass(frozen=True)
class Figure:
    """One line of the table: a measured value, its spread and, when it has one, its target.

    ``higher_is_better`` flips the comparison (throughput); ``target`` None means
    the figure is informative only.
    """

    key: str
    label: str
    unit: str
    summary: Summary
    target: float | None = None
    higher_is_better: bool = False
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """PASS or MISS against the target (median compared), ``info`` without one."""
        if self.target is None:
            return "info"
        value = self.summary.median
        ok = value >= self.target if self.higher_is_better else value <= self.target
        return "PASS" if ok else "MISS"

    @property
    def target_text(self) -> str:
        """The target as printed in the table, such as ``<= 1.00 µs``."""
        if self.target is None:
            return ""
        sign = ">=" if self.higher_is_better else "<="
        return f"{sign} {fmt(self.target)} {self.unit}"

    def as_json(self) -> dict[str, Any]:
        """The figure as plain JSON-ready data."""
        data: dict[str, Any] = {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            **asdict(self.summary),
            "target": self.target,
            "higher_is_better": self.higher_is_better,
            "status": self.status,
        }
        if self.note:
            data["note"] = self.note
        if self.extra:
            data["extra"] = self.extra
        return data


def fmt(value: float) -> str:
    """A number with three significant digits (thousands grouped above 1,000)."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def time_per_call_ns(
    func: Callable[[], object], *, number: int, repeat: int, warmup: int = 1
) -> list[float]:
    """Nanoseconds per call of ``func``, one sample per repeat of ``number`` calls.

    The garbage collector stays on, as in a real program; the warm-up rounds
    fill caches and are not recorded.
    """
    samples: list[float] = []
    clock = time.perf_counter_ns
    for index in range(warmup + repeat):
        loop = range(number)
        start = clock()
        for _ in loop:
            func()
        elapsed = clock() - start
        if index >= warmup:
            samples.append(elapsed / number)
    return samples


def run_python(
    code: str,
    *,
    flags: Sequence[str] = (),
    timeout_s: float = 120.0,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this one's executable), from the repo root.

    Raises:
        RuntimeError: the child failed; its stderr is in the message.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
    result = subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"benchmark child failed ({result.returncode}):\n{result.stderr[-2000:]}"
        )
    return result


def machine_info() -> dict[str, Any]:
    """Where the figures come from: CPU model and count, Python, platform."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def machine_speed(when: str) -> Figure:
    """A fixed pure-Python workload, timed now: shows when the machine itself sped up or slowed.

    This VM's speed moves by up to 1.7x between minutes (other tenants, CPU
    frequency); comparing a group's figures with the reference taken next to
    them tells a slow machine from a slow change.
    """
    import timeit
    import uuid

    number = 20_000
    samples = [t / number * 1e6 for t in timeit.repeat(uuid.uuid4, number=number, repeat=7)]
    return Figure(
        key=f"reference_uuid4_{when.replace(' ', '_')}",
        label=f"reference: uuid.uuid4() per call, {when}",
        unit="µs",
        summary=Summary.of(samples),
        note="machine speed check; 1.4 µs on this machine at its usual speed",
    )


def realistic_builder() -> EventBuilder:
    """An EventBuilder with the dimensions every benchmark event shares already set."""
    use_repo_package()
    from mosaic_telemetry import (
        Complexity,
        EventBuilder,
        Harness,
        Outcome,
        Provider,
        RepoSizeCategory,
        TaskType,
    )

    return (
        EventBuilder(INSTANCE_ID)
        .task_type(TaskType.IMPLEMENTATION)
        .complexity_level(Complexity.MEDIUM)
        .harness_type(Harness.CLAUDE_CODE)
        .model("claude-sonnet-4-5")
        .provider(Provider.ANTHROPIC)
        .outcome_value(Outcome.SUCCESS)
        .language("python")
        .repo_size(RepoSizeCategory.MEDIUM)
    )


def make_events(count: int, *, start: int = 0) -> list[Any]:
    """``count`` distinct, realistic events built the way users build them (EventBuilder).

    Every event has its own ``event_id``, timestamp and numbers (no shared small
    ints), the same model name and instance, three gates run and one failed.
    """
    use_repo_package()
    from mosaic_telemetry import (
        QualityGate,
    )

    builder = realistic_builder()
    events = []
    for i in range(start, start + count):
        events.append(
            builder.duration_ms(60_000 + i)
            .tokens(
                estimated_in=10_000 + i,
                estimated_out=2_000 + i,
                actual_in=11_000 + i,
                actual_out=2_500 + i,
            )
            .cost(estimated=40_000 + i, actual=45_000 + i)
            .quality(
                passed=False,
                gates_run=[QualityGate.BUILD, QualityGate.LINT, QualityGate.TEST],
                gates_failed=[QualityGate.TEST],
            )
            .context(compactions=1, rotations=0, utilization=0.5 + (i % 1000) / 10_000)
            .build()
        )
    return events


def figures_main(
    title: str,
    measure: Callable[..., list[Figure]],
    argv: Sequence[str] | None,
    *,
    doc: str | None,
    quick_help: str = "a rough run",
) -> int:
    """The command line of a one-group benchmark: measure, print the figures, maybe write JSON."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figs = measure(quick=args.quick)
    info = machine_info()
    print(f"{title} — Python {info['python']} on {info['cpu']}")
    for f in figs:
        s = f.summary
        note = f"  ({f.note})" if f.note else ""
        print(f"{f.label}: {fmt(s.median)} {f.unit} [{fmt(s.minimum)} - {fmt(s.maximum)}]{note}")
    if args.json:
        payload = {"machine": info, "figures": [f.as_json() for f in figs]}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
    return 0
