"""Helpers of the command-line tests: run ``python -m mosaic_telemetry`` as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from collector_fixtures import clean_env

__all__ = [
    "TIMEOUT_S",
    "assert_one_error_line",
    "cli_command",
    "error_lines",
    "feed",
    "finish",
    "run_cli",
    "spawn",
    "write_jsonl",
]

# Generous: a subprocess imports the package and may talk HTTP on a shared, noisy machine.
TIMEOUT_S = 60.0


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mosaic_telemetry", *args]


def run_cli(
    *args: str,
    stdin: str | bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the command line to its end; text out, whatever the input."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    result = subprocess.run(
        cli_command(*args),
        input=data,
        env=clean_env() if env is None else env,
        cwd=cwd,
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The stderr lines of a run (never a traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()


def assert_one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mosaic-telemetry: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def write_jsonl(path: Path, items: Sequence[Any]) -> Path:
    """Write ``items`` as JSON lines (strings are written as they are)."""
    lines = [item if isinstance(item, str) else json.dumps(item) for item in items]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@contextmanager
def spawn(*args: str, stderr: int = subprocess.PIPE) -> Iterator[subprocess.Popen[bytes]]:
    """Start the command line with pipes; on the way out it is killed if still running."""
    process = subprocess.Popen(
        cli_command(*args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=clean_env(),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def feed(process: subprocess.Popen[bytes], *items: object) -> None:
    """Write ``items`` to the process's stdin as JSON lines, at once, leaving it open."""
    assert process.stdin is not None
    process.stdin.write(b"".join(json.dumps(item).encode() + b"\n" for item in items))
    process.stdin.flush()


def finish(process: subprocess.Popen[bytes], *, close_stdin: bool = True) -> tuple[str, str]:
    """Wait for the end (closing stdin first, unless not); its stdout and stderr as text."""
    assert process.stdin is not None and process.stdout is not None
    if close_stdin:
        process.stdin.close()
    process.wait(TIMEOUT_S)
    out = process.stdout.read().decode()
    err = process.stderr.read().decode() if process.stderr is not None else ""
    return out, err
