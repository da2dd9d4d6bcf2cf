"""The spool under ``kill -9``: writers killed at random moments and inside fsync, rename,
unlink and torn writes; every record synced comes back exactly once, none damaged.

Run with ``MOSAIC_RELIABILITY_HEAVY=1`` for 500 kills instead of 60.
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest
from _report import record as report_row

from mosaic_telemetry import TaskCompletionEvent
from mosaic_telemetry._spool import Spool
from mosaic_telemetry._spool_segment import QUARANTINE

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="the zygote forks its writers"),
]

HERE = "tests/reliability/test_spool_kill.py"
CHILD = Path(__file__).resolve().parents[1] / "_spool_child.py"
HOOKS = ("-", "fsync", "rename", "unlink", "write")
DELAY_S = 0.004
"""How long each hooked call pauses, before and after itself: the window a kill aims at."""


def _child_module() -> ModuleType:
    """The child script as a module (tests/ itself need not be on ``sys.path``)."""
    spec = importlib.util.spec_from_file_location("_spool_child", CHILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seq(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


@dataclass
class Ledger:
    """What the writers said they did, gathered from their report files after each kill."""

    written: set[int] = field(default_factory=set)  # W: about to append (may or may not exist)
    synced: set[int] = field(default_factory=set)  # S: append and sync returned
    attempted: set[int] = field(default_factory=set)  # A: handed out and about to be settled
    settled: set[int] = field(default_factory=set)  # D: settle returned
    inside: dict[str, int] = field(default_factory=dict)  # kills inside each hooked call

    def read(self, out: Path, hook: str) -> None:
        lines = out.read_text(encoding="ascii").splitlines() if out.exists() else []
        for line in lines:
            tag, _, rest = line.partition(" ")
            numbers = {int(n) for n in rest.split(",") if n}
            if tag == "A":
                assert not numbers & self.settled, f"settled records handed out again: {line}"
            target = {"W": self.written, "S": self.synced, "A": self.attempted, "D": self.settled}
            if tag in target:
                target[tag] |= numbers
        if lines and lines[-1] == f"{hook}>":
            self.inside[hook] = self.inside.get(hook, 0) + 1


class Zygote:
    """A warm child process that forks writers on request, and reaps them."""

    def __init__(self, log: Path) -> None:
        self._stderr = log.open("w", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
        self._process = subprocess.Popen(
            [sys.executable, str(CHILD), "zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
            bufsize=1,
        )

    def _ask(self, line: str) -> str:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline().strip()
        assert answer, "the zygote died"
        return answer

    def fork_writer(self, *args: object) -> int:
        return int(self._ask("writer " + " ".join(map(str, args))))

    def reap(self, pid: int) -> str:
        return self._ask(f"reap {pid}")

    def close(self) -> None:
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()
        self._process.wait(timeout=30)
        self._stderr.close()


def _wait_for(out: Path, marker: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if out.exists() and marker in out.read_text(encoding="ascii").splitlines():
            return True
        time.sleep(0.0005)
    return False


def test_every_synced_record_survives_kill_9_exactly_once(tmp_path: Path) -> None:
    kills = 500 if os.environ.get("MOSAIC_RELIABILITY_HEAVY", "").strip() in ("1", "true") else 60
    rng = random.Random(20260515)
    spool_dir = tmp_path / "spool"
    zygote = Zygote(tmp_path / "zygote.err")
    ledger = Ledger()
    started = time.monotonic()
    try:
        for round_number in range(kills):
            hook = HOOKS[round_number % len(HOOKS)]
            out = tmp_path / f"out-{round_number}.txt"
            pid = zygote.fork_writer(
                spool_dir, round_number * 1_000_000, rng.randrange(1 << 30), hook, DELAY_S, out
            )
            if hook == "-":  # anywhere: in open, replay, settle, append or sync
                time.sleep(rng.uniform(0.0, 0.03))
            else:  # inside the call: just after it is announced, before or after it runs
                _wait_for(out, f"{hook}>", timeout_s=2.0)
                time.sleep(rng.uniform(0.0, 2 * DELAY_S))
            os.kill(pid, signal.SIGKILL)
            ended = zygote.reap(pid)
            assert ended == f"{int(signal.SIGKILL)} 0", f"writer {pid} ended by itself: {ended}"
            ledger.read(out, hook)
    finally:
        zygote.close()
    harness_s = time.monotonic() - started
    errors = (tmp_path / "zygote.err").read_text(encoding="utf-8")
    assert "Traceback" not in errors, errors

    record = _child_module().record
    replayed: list[int] = []
    with Spool.open(spool_dir, 1 << 30) as spool:
        while batch := spool.replay(500):
            for item in batch:
                assert (item.event_id, item.data) == record(_seq(item.event_id)), "it changed"
                assert str(TaskCompletionEvent.from_json(item.data).event_id) == item.event_id
                replayed.append(_seq(item.event_id))
            spool.settle(item.event_id for item in batch)
        counts = spool.counts()

    final = set(replayed)
    assert len(replayed) == len(final), "a record was replayed twice"
    lost = ledger.synced - ledger.attempted - final
    assert not lost, f"{len(lost)} synced records lost, e.g. {sorted(lost)[:5]}"
    assert not final & ledger.settled, "settled records came back"
    assert final | ledger.attempted <= ledger.written, "records nobody wrote"
    assert counts.spool_corrupt == 0 and not (spool_dir / QUARANTINE).exists()
    assert set(ledger.inside) == set(HOOKS) - {"-"}, ledger.inside
    assert os.listdir(spool_dir) == [], "settled segments, leftovers or orphans remain"
    report_row(
        "spool: writers killed with SIGKILL (random moments, inside fsync/rename/unlink/write)",
        f"python -m pytest -m reliability {HERE}",
        tracked=len(ledger.written),
        delivered=len(final | ledger.attempted),
        rejected=0,
        dropped=0,
        retries=0,
        seconds=round(harness_s, 2),
        kills=kills,
        synced=len(ledger.synced),
        **{f"kills_in_{name}": count for name, count in sorted(ledger.inside.items())},
    )
