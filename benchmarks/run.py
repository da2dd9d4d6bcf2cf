"""Run every benchmark and print one table of figures next to their targets (issue 7).

Usage: ``python benchmarks/run.py`` (about a minute), ``--quick`` (a smoke run of
well under 30 s, for CI), ``--json FILE`` to also write the figures, ``--markdown``
for the table of docs/performance.md, ``--only import,models,client`` to run some
groups (of ``import``, ``models``, ``client``, ``cold``, ``spool``, ``collector``).
``MOSAIC_BENCH_ROOT=DIR`` measures the package in DIR (a patched copy) instead of this
checkout. Figures are medians of repeated runs with their spread; a MISS is reported,
never an error. The exit status is 1 only when a correctness check fails (events lost end to end).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

import bench_client
import bench_cold_start
import bench_collector
import bench_import
import bench_models
import bench_spool
from _util import Figure, fmt, machine_info, machine_speed

GROUPS: dict[str, Callable[[bool], list[Figure]]] = {
    "import": lambda quick: bench_import.figures(runs=5 if quick else 15),
    "models": lambda quick: bench_models.figures(quick=quick),
    "client": lambda quick: bench_client.figures(quick=quick),
    "cold": lambda quick: bench_cold_start.figures(runs=3 if quick else 9),
    "spool": lambda quick: bench_spool.figures(quick=quick),
    # 1,000,000 stored events take minutes to write: bench_collector.py alone measures them.
    "collector": lambda quick: bench_collector.figures(
        quick=quick, sizes=() if quick else (10_000, 100_000)
    ),
}
TITLES = {
    "import": "Import",
    "models": "Per event (data layer)",
    "client": "Client: track(), memory, end to end, stop(), idle",
    "cold": "Cold start (fresh process: import, track one event, flush)",
    "spool": "Spool engine: append, sync, replay",
    "collector": "Collector: ingest CPU and its floor, 50-query predictions, export",
}


def format_table(sections: Sequence[tuple[str, Sequence[Figure]]]) -> str:
    """Plain-text table: figure, median, min-max, target, status, note; one block per group."""
    header = ("figure", "median", "min - max", "target", "status", "note")
    rows: list[tuple[str, ...]] = []
    for title, figures in sections:
        rows.append((f"[{title}]", "", "", "", "", ""))
        for f in figures:
            s = f.summary
            spread = "" if s.runs < 2 else f"{fmt(s.minimum)} - {fmt(s.maximum)}"
            rows.append(
                (
                    f.label,
                    f"{fmt(s.median)} {f.unit}",
                    spread,
                    f.target_text,
                    f.status if f.target is not None else "",
                    f.note,
                )
            )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        return "  ".join([*cells, row[-1]]).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    return "\n".join(out)


def format_markdown(sections: Sequence[tuple[str, Sequence[Figure]]]) -> str:
    """The same table in Markdown, for docs/performance.md."""
    out = [
        "| figure | median | min - max | target | status |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for title, figures in sections:
        out.append(f"| **{title}** | | | | |")
        for f in figures:
            s = f.summary
            spread = "" if s.runs < 2 else f"{fmt(s.minimum)} - {fmt(s.maximum)}"
            label = f.label.strip().replace("|", "\\|").replace("*", "\\*")
            if f.label.startswith(" "):
                label = "&nbsp;&nbsp;" + label
            status = f"**{f.status}**" if f.status == "MISS" else f.status
            out.append(
                f"| {label} | {fmt(s.median)} {f.unit} | {spread} | {f.target_text} | "
                f"{status if f.target is not None else ''} |"
            )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen groups, print the table, write JSON if asked; see the module doc."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run (< 30 s)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        help=f"comma-separated groups to run (default: all of {','.join(GROUPS)})",
    )
    args = parser.parse_args(argv)
    groups = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)}; choose from {', '.join(GROUPS)}")

    info = machine_info()
    started = time.perf_counter()
    sections: list[tuple[str, list[Figure]]] = []
    speed: list[Figure] = []
    for name in groups:
        speed.append(machine_speed(f"before {name}"))
        sections.append((TITLES[name], GROUPS[name](args.quick)))
    speed.append(machine_speed("at the end"))
    sections.append(("Machine speed (same workload before each group)", speed))
    info["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    info["loadavg_at_end"] = (
        [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []
    )
    info["quick"] = args.quick

    print(
        f"mosaic_telemetry benchmarks{' (quick)' if args.quick else ''}: "
        f"Python {info['python']} on {info['cpu']}, {info['nproc']} CPUs, "
        f"load {info['loadavg_at_start'][0]} at start, {info['loadavg_at_end'][0]} at end, "
        f"{info['benchmark_seconds']} s"
    )
    print(format_markdown(sections) if args.markdown else format_table(sections))
    figures = [f for _, figs in sections for f in figs]
    if args.json:
        payload = {"machine": info, "figures": [f.as_json() for f in figures]}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
    broken = [f.key for f in figures if f.key.endswith("_ok") and f.status == "MISS"]
    if broken:
        print(f"correctness check failed: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
