"""Processes of benchmarks/peers.py: the sink, the hanging and dead servers, and the children.

Every client runs in a fresh ``-I`` interpreter of the peers venv with an environment
cleaned of SDK settings and proxies; the servers run in their own processes on 127.0.0.1
(ephemeral ports). Nothing here times anything but whole processes and their phases.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
_ENV_PREFIXES = ("MOSAIC_TELEMETRY_", "POSTHOG_", "SEGMENT_", "SENTRY_", "OTEL_", "AMPLITUDE_")


def child_env() -> dict[str, str]:
    """This environment without any SDK's settings or proxies (-I drops the PYTHON* ones)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_ENV_PREFIXES) and not name.lower().endswith("_proxy")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


class Server:
    """``peers_sink.py`` in its own process (sink, or ``hang=True``), until :meth:`close`."""

    def __init__(self, *, hang: bool = False) -> None:
        args = [sys.executable, "-I", str(BENCH_DIR / "peers_sink.py")]
        self._proc = subprocess.Popen(
            [*args, "--hang"] if hang else args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the sink did not start (it printed {self.url!r})")

    def stats(self) -> dict[str, Any]:
        """The sink's counters (events, requests, bytes, by_path, errors, cpu_s)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/__stats", timeout=30) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def close(self) -> None:
        """Stop the server: closing its standard input is its signal."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class DeadServer:
    """An address that refuses connections: a port bound, never listening (held till close)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        """Release the port."""
        self._sock.close()


def timed_python(python: Path, code: str, *, timeout_s: float = 120.0) -> float:
    """Wall seconds of ``python -I -c code``, from spawn to exit.

    Raises:
        RuntimeError: the child failed; its stderr is in the message.
    """
    return timed_marks(python, code, timeout_s=timeout_s)[0]


def timed_marks(
    python: Path, code: str, *, timeout_s: float = 120.0
) -> tuple[float, dict[str, float]]:
    """Like :func:`timed_python`, with the seconds from spawn to each ``NAME UNIX_TIME`` line.

    Raises:
        RuntimeError: the child failed; its stderr is in the message.
    """
    spawned = time.time()
    start = time.perf_counter()
    result = subprocess.run(
        [str(python), "-I", "-c", code],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"child failed ({result.returncode}):\n{result.stderr[-1500:]}")
    marks = {}
    for line in result.stdout.splitlines():
        name, _, unix_time = line.partition(" ")
        try:
            marks[name] = float(unix_time) - spawned
        except ValueError:
            continue
    return elapsed, marks


class Child:
    """One ``peers_child.py`` run, read line by line as it goes, killed at its deadline."""

    def __init__(
        self, python: Path, root: Path, *, measure: str, key: str, url: str, count: int
    ) -> None:
        self.key = key
        self.phases: dict[str, tuple[float, Any]] = {}
        self.result: dict[str, Any] | None = None
        self.killed = False
        self.exit_time = 0.0
        self._stderr: list[str] = []
        cmd = [str(python), "-I", str(BENCH_DIR / "peers_child.py"), measure, key, url]
        self._proc = subprocess.Popen(
            [*cmd, str(count), str(root)],
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self._proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            kind, _, rest = line.strip().partition(" ")
            if kind == "phase":
                name, unix_time, data = rest.split(" ", 2)
                self.phases[name] = (float(unix_time), json.loads(data))
            elif kind == "result":
                self.result = json.loads(rest)

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr.append(line)
            del self._stderr[:-40]

    @property
    def running(self) -> bool:
        """True while the process has not exited; notes the moment it is first seen gone."""
        if self._proc.poll() is None:
            return True
        if not self.exit_time:
            self.exit_time = time.time()
        return False

    def kill(self) -> None:
        """Kill the child (it overran its deadline); :meth:`wait` then returns at once."""
        if self.running:
            self.killed = True
            self._proc.kill()

    def wait(self, deadline: float) -> Child:
        """Wait until ``deadline`` (perf_counter), then kill the child if it still runs."""
        try:
            self._proc.wait(timeout=max(0.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            self.killed = True
            self._proc.kill()
            self._proc.wait()
        if not self.exit_time:
            self.exit_time = time.time()
        for reader in self._readers:
            reader.join(timeout=5)
        return self

    @property
    def stderr_tail(self) -> str:
        """The last lines the child wrote to stderr."""
        return "".join(self._stderr[-12:])

    def outcome(self) -> dict[str, Any]:
        """The result, or why there is none.

        Raises:
            RuntimeError: the child failed without being killed.
        """
        if self.result is not None:
            return self.result
        if self.killed:
            return {"killed": True, "phases": sorted(self.phases)}
        raise RuntimeError(
            f"{self.key}: child exited {self._proc.returncode} without a result:\n"
            f"{self.stderr_tail}"
        )


def run_child(
    python: Path, root: Path, *, measure: str, key: str, url: str, count: int, timeout_s: float
) -> dict[str, Any]:
    """One child, waited for (at most ``timeout_s``), its result."""
    child = Child(python, root, measure=measure, key=key, url=url, count=count)
    return child.wait(time.perf_counter() + timeout_s).outcome()
