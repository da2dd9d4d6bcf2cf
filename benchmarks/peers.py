"""Peer SDKs measured against mosaic_telemetry in the same run, interleaved (issue 17).

Usage: ``python benchmarks/peers.py`` (under ten minutes), ``--quick`` (under two),
``--only posthog,amplitude`` for some peers (ours always runs), ``--groups import,cold`` for
some figures, ``--json FILE`` to also write every sample, ``--venv DIR`` / ``--upgrade`` for
the throwaway venv that holds the peers (benchmarks/.venv-peers by default, created on first
use; the package never depends on it). ``MOSAIC_BENCH_ROOT=DIR`` measures the package in DIR.
Prints the Markdown of docs/performance.md's last section; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

from _util import REPO_ROOT, Figure, machine_info, machine_speed
from peers_clients import OURS, PEERS
from peers_groups import FULL, GROUPS, QUICK, Context
from peers_report import medians, render
from peers_run import DeadServer, Server
from peers_venv import DEFAULT_VENV, VenvError, ensure, versions


def _ours_version(root: Path) -> str:
    """The checkout's ``__version__`` and commit (``+dirty`` when it has changes)."""
    text = (root / "mosaic_telemetry" / "__init__.py").read_text(encoding="utf-8")
    version = next(
        (
            line.split("=", 1)[1].strip().strip("\"'")
            for line in text.splitlines()
            if line.startswith("__version__")
        ),
        "?",
    )
    git = ["git", "-C", str(root)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "mosaic_telemetry"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{version} ({commit or 'no git'}{'+dirty' if dirty else ''})"


def _choose(
    text: str, known: Sequence[str], what: str, parser: argparse.ArgumentParser
) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        parser.error(f"unknown {what}: {', '.join(unknown)}; choose from {', '.join(known)}")
    return chosen


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line on stderr (argparse adds the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="peers.py", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and events (< 2 min)")
    parser.add_argument(
        "--only",
        default=",".join(k for k in PEERS if k != OURS),
        help="comma-separated peers to measure besides mosaic_telemetry (default: all)",
    )
    parser.add_argument(
        "--groups",
        default=",".join(GROUPS),
        help=f"figures to measure (default: {','.join(GROUPS)})",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every sample as JSON")
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(os.environ.get("MOSAIC_PEERS_VENV") or DEFAULT_VENV),
        help="the throwaway venv of the peers (default: benchmarks/.venv-peers)",
    )
    parser.add_argument(
        "--upgrade",
        action="store_true",
        help="upgrade the peers in the venv to their latest releases",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the report, write JSON if asked; see the module docstring."""
    parser = _parser()
    args = parser.parse_args(argv)
    peers = [k for k in PEERS if k != OURS]
    keys = [OURS, *_choose(args.only, peers, "peer(s)", parser)]
    groups = _choose(args.groups, list(GROUPS), "group(s)", parser)
    try:
        python = ensure(args.venv, upgrade=args.upgrade)
        found = versions(python)
    except VenvError as exc:
        print(f"peers.py: {exc}", file=sys.stderr)
        return 2
    info = machine_info()
    started = time.perf_counter()
    plan = QUICK if args.quick else FULL
    sink, hang, dead = Server(), Server(hang=True), DeadServer()
    ctx = Context(python, REPO_ROOT, keys, plan, sink, hang, dead)
    speed: list[Figure] = []
    loads: list[float] = []
    try:
        for name in groups:
            speed.append(machine_speed(f"before {name}"))
            loads.append(os.getloadavg()[0])
            print(f"peers.py: {name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
            GROUPS[name](ctx)
        speed.append(machine_speed("at the end"))
        loads.append(os.getloadavg()[0])
    finally:
        sink.close()
        hang.close()
        dead.close()
    seconds = time.perf_counter() - started
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    header = (
        f"Run of {date}{' (--quick)' if args.quick else ''}: {info['nproc']} CPUs "
        f"({info['cpu']}), CPython {info['python']}, {seconds:.0f} s; 1-minute load average "
        f"{info['loadavg_at_start'][0]} at the start, {min(loads):.1f} to {max(loads):.1f} "
        "during the run (other engineers' jobs share the machine). Medians of "
        f"{plan.import_rounds} (import), {plan.track_rounds} (track), {plan.memory_rounds} "
        f"(memory), {plan.e2e_rounds} (end to end), {plan.cold_rounds} (cold start) and "
        f"{plan.shutdown_rounds} (shutdown) interleaved rounds; ratios are to mosaic_telemetry "
        "in the same run."
    )
    ours_version = _ours_version(REPO_ROOT)
    print(
        render(
            ctx.results, keys, header=header, versions=found, ours_version=ours_version, speed=speed
        )
    )
    if args.json:
        payload = {
            "machine": {**info, "seconds": round(seconds, 1), "loadavg_per_group": loads},
            "versions": {"mosaic_telemetry": ours_version, **found},
            "medians": medians(ctx.results),
            "samples": ctx.results.samples,
            "notes": ctx.results.notes,
            "extra": ctx.results.extra,
            "machine_speed": [f.as_json() for f in speed],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
