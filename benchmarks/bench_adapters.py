"""Harness adapters: events per fixture, hook run time (server up, down, hanging), ingest speed.

Usage: ``python benchmarks/bench_adapters.py [--quick] [--mb N]``. The ingest figure
reads a freshly generated Claude Code transcript (new ids and timestamps on every line,
a realistic mix of prompt, streamed reply, tool-result and subagent lines) of ``--mb``
megabytes (default 100; 10 with ``--quick``) with ``ingest --dry-run`` in a child
process, and reports lines per second and the child's peak RSS, beside the peak RSS of
a file a tenth the size: equal peaks mean memory does not grow with the input.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from _util import API_KEY, INSTANCE_ID, REPO_ROOT, Figure, Summary, fmt, use_repo_package

use_repo_package()

from mosaic_telemetry.adapters import EventFactory, Notes, PriceTable, read_tasks  # noqa: E402
from mosaic_telemetry.collector import Collector  # noqa: E402

FIXTURES = REPO_ROOT / "tests" / "fixtures"
FIXTURE_FORMATS = [
    ("claude-transcript", "claude_transcript.jsonl"),
    ("claude-result", "claude_result.json"),
    ("claude-result", "claude_result_stream.jsonl"),
    ("claude-result", "claude_result_sdk.json"),
    ("codex-exec", "codex_exec.jsonl"),
    ("codex-rollout", "codex_rollout.jsonl"),
    ("aider-analytics", "aider_analytics.jsonl"),
]
_CHILD_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}


def fixture_figures() -> list[Figure]:
    """Events and tokens read from each fixture (informative)."""
    figures = []
    for fmt_name, name in FIXTURE_FORMATS:
        notes = Notes()
        factory = EventFactory(uuid.UUID(INSTANCE_ID), PriceTable.default(), notes)
        events = [factory.build(t) for t in read_tasks(fmt_name, FIXTURES / name, notes)]
        tokens_in = sum(e.actual_input_tokens for e in events)
        tokens_out = sum(e.actual_output_tokens for e in events)
        figures.append(
            Figure(
                key=f"adapters.fixture.{name}",
                label=f"{name} ({fmt_name})",
                unit="events",
                summary=Summary.of([len(events)]),
                note=f"{tokens_in:,} in / {tokens_out:,} out tokens, {notes.warnings} warning(s)",
            )
        )
    return figures


# -- hook run time ------------------------------------------------------------------------------


def _transcript_with_two_finished_turns(folder: Path) -> Path:
    lines = (FIXTURES / "claude_transcript.jsonl").read_text(encoding="utf-8").splitlines(True)
    cut = next(i for i, line in enumerate(lines) if '"uuid":"u3"' in line)
    path = folder / "sess.jsonl"
    path.write_text("".join(lines[: cut + 1]), encoding="utf-8")
    return path


def _hook_seconds(path: Path, url: str, state: Path, budget: float) -> float:
    env = dict(_CHILD_ENV, MOSAIC_TELEMETRY_SERVER_URL=url, MOSAIC_TELEMETRY_API_KEY=API_KEY,
               MOSAIC_TELEMETRY_INSTANCE_ID=INSTANCE_ID)  # fmt: skip
    payload = json.dumps(
        {"session_id": "s", "transcript_path": str(path), "hook_event_name": "Stop", "cwd": "/"}
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mosaic_telemetry", "hook", "claude-code", "--state-dir",
         str(state), "--budget", str(budget)],
        input=payload.encode(), capture_output=True, env=env, cwd=REPO_ROOT, timeout=60,
        check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    if result.returncode != 0 or result.stdout:
        raise RuntimeError(f"hook run failed: {result.returncode} {result.stderr[-500:]!r}")
    return elapsed


class _Hanging:
    """A loopback port that accepts connections and never answers."""

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self._server.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self._held.append(self._server.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self._server.close()


def hook_figures(runs: int, budget: float = 2.0) -> list[Figure]:
    """Wall time of one hook run (process start to exit) against three servers."""
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        path = _transcript_with_two_finished_turns(base)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            refused = f"http://127.0.0.1:{probe.getsockname()[1]}"
        hanging = _Hanging()
        try:
            with Collector(API_KEY) as collector:
                cases = [("up", collector.url), ("down", refused), ("hanging", hanging.url)]
                for name, url in cases:
                    samples = [
                        _hook_seconds(path, url, base / f"state-{name}-{i}", budget)
                        for i in range(runs)
                    ]
                    figures.append(
                        Figure(
                            key=f"adapters.hook.{name}",
                            label=f"hook run, server {name} (2 turns to send)",
                            unit="s",
                            summary=Summary.of(samples),
                            target=budget + 0.5,
                            note=f"budget {budget:g} s; the promise is budget + 0.5 s",
                        )
                    )
                stored = collector.event_count
        finally:
            hanging.close()
    # Every "up" run sends the same two turns: deterministic ids store them once.
    figures[0].extra["stored_after_all_runs"] = stored
    if stored != 2:
        raise RuntimeError(f"the collector stored {stored} events, expected 2 (ids repeat)")
    return figures


# -- ingest speed and memory ------------------------------------------------------------------


def _generated_lines(rng: random.Random) -> Iterator[str]:
    """An endless Claude Code session: turns of prompts, streamed replies, tools, subagents."""
    session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    clock = 1_763_632_800.0
    base = {
        "isSidechain": False,
        "userType": "external",
        "cwd": "/work/repo",
        "sessionId": session,
        "version": "2.1.63",
        "gitBranch": "main",
    }

    def record(kind: str, **fields: object) -> str:
        nonlocal clock
        clock += rng.uniform(0.2, 4.0)
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(clock))
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        stamp = f"{when}.{rng.randrange(1000):03d}Z"
        return json.dumps({**base, "type": kind, "uuid": uid, "timestamp": stamp, **fields})

    while True:
        prompt = {"role": "user", "content": "x" * rng.randrange(50, 600)}
        yield record("user", message=prompt)
        for _call in range(rng.randrange(2, 8)):
            message, request = f"msg_{rng.getrandbits(96):x}", f"req_{rng.getrandbits(96):x}"
            usage = {
                "input_tokens": rng.randrange(1, 50),
                "cache_read_input_tokens": rng.randrange(10**5),
                "cache_creation_input_tokens": rng.randrange(5000),
            }
            side = rng.random() < 0.15
            for snapshot in range(rng.randrange(1, 4)):
                reply = {
                    "id": message,
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [{"type": "text", "text": "y" * rng.randrange(100, 2500)}],
                    "usage": {**usage, "output_tokens": 10 * (snapshot + 1)},
                }
                yield record("assistant", isSidechain=side, requestId=request, message=reply)
            size = rng.choice((200, 800, 3000, 20000))
            result = {
                "type": "tool_result",
                "tool_use_id": "t",
                "content": "z" * rng.randrange(size),
            }
            yield record(
                "user",
                message={"role": "user", "content": [result]},
                toolUseResult={"stdout": "z" * rng.randrange(size)},
            )


def _write_transcript(path: Path, megabytes: float, seed: int) -> int:
    target = int(megabytes * 1024 * 1024)
    written = lines = 0
    with path.open("w", encoding="utf-8") as handle:
        for line in _generated_lines(random.Random(seed)):
            handle.write(line + "\n")
            written += len(line) + 1
            lines += 1
            if written >= target:
                return lines
    return lines


def _ingest_child(path: Path) -> tuple[float, int, int]:
    """(seconds, events printed, peak RSS in KiB) of ``ingest --dry-run`` on ``path``."""
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "mosaic_telemetry", "ingest", "claude-transcript", str(path),
         "--dry-run", "--instance-id", INSTANCE_ID],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_CHILD_ENV, cwd=REPO_ROOT,
    ) as child:  # fmt: skip
        assert child.stdout is not None
        events = sum(1 for _ in child.stdout)
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"ingest failed with {child.returncode}")
    return time.monotonic() - started, events, usage.ru_maxrss


def ingest_figures(megabytes: float, runs: int) -> list[Figure]:
    """Lines per second and peak RSS of ``ingest`` on a generated transcript."""
    with tempfile.TemporaryDirectory() as folder:
        big, small = Path(folder) / "big.jsonl", Path(folder) / "small.jsonl"
        lines = _write_transcript(big, megabytes, seed=1)
        small_lines = _write_transcript(small, megabytes / 10, seed=2)
        seconds, peaks = [], []
        events = 0
        for _ in range(runs):
            elapsed, events, peak = _ingest_child(big)
            seconds.append(elapsed)
            peaks.append(peak / 1024)
        small_peak = min(_ingest_child(small)[2] / 1024 for _ in range(runs))
    rate = Summary.of([lines / s for s in seconds])
    speed = megabytes / Summary.of(seconds).median
    return [
        Figure(
            "adapters.ingest.lines_per_s",
            f"ingest --dry-run, {megabytes:g} MB transcript",
            "lines/s",
            rate,
            note=f"{lines:,} lines, {events:,} turns, {speed:.1f} MB/s",
        ),
        Figure(
            "adapters.ingest.peak_rss",
            f"ingest peak RSS, {megabytes:g} MB transcript",
            "MiB",
            Summary.of(peaks),
            note=f"{megabytes / 10:g} MB ({small_lines:,} lines): {fmt(small_peak)} MiB",
        ),
    ]


def figures(*, quick: bool = False, megabytes: float | None = None) -> list[Figure]:
    """Every figure of this group (``quick``: fewer runs, a 10 MB transcript)."""
    size = megabytes if megabytes is not None else (10.0 if quick else 100.0)
    runs = 2 if quick else 5
    return [*fixture_figures(), *hook_figures(runs), *ingest_figures(size, 1 if quick else 3)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mb", type=float, default=None, help="size of the generated transcript")
    args = parser.parse_args()
    for figure in figures(quick=args.quick, megabytes=args.mb):
        s = figure.summary
        spread = f" ({fmt(s.minimum)} - {fmt(s.maximum)}, {s.runs} runs)" if s.runs > 1 else ""
        target = f"  [{figure.status} {figure.target_text}]" if figure.target is not None else ""
        print(f"{figure.label}: {fmt(s.median)} {figure.unit}{spread}{target}  {figure.note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
