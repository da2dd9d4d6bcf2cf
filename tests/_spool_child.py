"""A child process of the spool tests: ``python tests/_spool_child.py MODE DIR [ARGS]``.

Modes (each prints one line per step, flushed, so a parent that kills it still
reads what it did):

- ``zygote``: imports once, then for each line ``writer DIR START SEED HOOK DELAY_S
  OUT`` on stdin forks a writer (its lines go to the file OUT) and prints its pid;
  a line ``reap PID`` waits for that child and prints how it ended. Forking from
  a warm process lets a test kill fifty writers in a second or two.
- writer (forked by the zygote): replay and settle a few records, then append
  and sync sequence-numbered events from START until killed. Lines: ``O``
  opened, ``A n,..`` about to settle, ``D n,..`` settled, ``W n,..`` about to
  append, ``S n,..`` appended and synced. HOOK (``fsync``, ``rename``,
  ``unlink``, ``write`` or ``-``) is slowed by DELAY_S and announced with
  ``HOOK>`` before and ``HOOK<`` after, so the parent can kill inside it;
  ``write`` also writes only half, pausing, so a kill tears a record.
- ``hold DIR START COUNT``: append and sync COUNT events, print ``S ..``, then
  wait for a line on stdin (alive, holding its segment) and exit.
- ``take DIR LIMIT``: replay up to LIMIT records, print ``T n,..``, wait for a
  line on stdin, settle them, print ``D``.
- ``fsize DIR LIMIT_BYTES``: append under ``RLIMIT_FSIZE`` until the disk
  "fills"; print ``S ..`` per synced batch, then ``E <error>`` once.
- ``open DIR [freeze]``: open the spool (a read-only directory, ...); print
  ``OK`` or ``E <class>: <message>``, then (with ``freeze``, after making DIR
  read-only) try one append and print the same.

``SPOOL_CHILD_UID`` makes the child drop to that user (and group) id first.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mosaic_telemetry import (  # after the path: the checkout under test
    Complexity,
    Harness,
    Outcome,
    Provider,
    TaskCompletionEvent,
    TaskType,
)
from mosaic_telemetry._encode import encode_event
from mosaic_telemetry._spool import Spool, SpoolError

INSTANCE_ID = "6f1c1a52-8f1e-4c39-9a4e-0d7a1f3b5c2e"
_TIMESTAMP = datetime(2026, 5, 15, 12, 0, 0, 123456, tzinfo=timezone.utc)


def event_id(seq: int) -> str:
    """The event_id that carries sequence number ``seq``."""
    return f"00000000-0000-4000-8000-{seq:012d}"


def seq_of(event_id_text: str) -> int:
    """The sequence number in an event_id made by :func:`event_id`."""
    return int(event_id_text.rsplit("-", 1)[1])


def duration_of(seq: int) -> int:
    """The task duration the event numbered ``seq`` carries (as many digits for every seq)."""
    return 1_000_000 + seq % 1_000_000


def record(seq: int) -> tuple[str, bytes]:
    """The spool record of the event numbered ``seq``: the same bytes, and length, every time."""
    event = TaskCompletionEvent(
        instance_id=uuid.UUID(INSTANCE_ID),
        event_id=uuid.UUID(event_id(seq)),
        timestamp=_TIMESTAMP,
        task_duration_ms=duration_of(seq),
        task_type=TaskType.IMPLEMENTATION,
        complexity=Complexity.MEDIUM,
        harness=Harness.CLAUDE_CODE,
        model="claude-sonnet-4",
        provider=Provider.ANTHROPIC,
        estimated_input_tokens=1000,
        estimated_output_tokens=200,
        actual_input_tokens=1100,
        actual_output_tokens=250,
        estimated_cost_usd_micros=4000,
        actual_cost_usd_micros=4500,
        quality_gate_passed=True,
        quality_gates_run=[],
        quality_gates_failed=[],
        context_compactions=0,
        context_rotations=0,
        context_utilization_final=0.5,
        outcome=Outcome.SUCCESS,
        retry_count=0,
        language="python",
    )
    return str(event.event_id), encode_event(event)


_REAL_WRITE = os.write
_out_fd = -1  # the writer's report file; stdout elsewhere


def _emit(tag: str, seqs: list[int] | None = None) -> None:
    text = tag if seqs is None else f"{tag} {','.join(map(str, seqs))}"
    if _out_fd >= 0:
        _REAL_WRITE(_out_fd, (text + "\n").encode())
    else:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _hook(name: str, delay_s: float) -> None:
    """Slow ``os.<name>`` down in this process and announce each call."""
    real = getattr(os, name)

    def slow(*args: Any, **kwargs: Any) -> Any:
        _emit(f"{name}>")
        time.sleep(delay_s)
        result = real(*args, **kwargs)
        time.sleep(delay_s)
        _emit(f"{name}<")
        return result

    def torn_write(fd: int, data: Any) -> int:
        data = bytes(data)
        if len(data) < 2:
            written: int = real(fd, data)
            return written
        written = real(fd, data[: len(data) // 2])  # half now; the caller's loop writes the rest
        _emit("write>")
        time.sleep(delay_s)
        _emit("write<")
        return written

    setattr(os, name, torn_write if name == "write" else slow)


def _zygote() -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "reap":
            _, status = os.waitpid(int(args[0]), 0)
            _emit(f"{os.WIFSIGNALED(status) and os.WTERMSIG(status)} {os.WEXITSTATUS(status)}")
            continue
        directory, start, seed, hook, delay_s, out = args
        pid = os.fork()
        if pid == 0:
            global _out_fd  # this child reports to its own file
            _out_fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                if hook != "-":
                    _hook(hook, float(delay_s))
                _writer(directory, int(start), int(seed))
            finally:
                os._exit(3)  # never back into the zygote's loop
        _emit(str(pid))


def _writer(directory: str, start: int, seed: int) -> None:
    rng = random.Random(seed)
    spool = Spool.open(directory, 1 << 30, segment_bytes=rng.choice([4096, 65536]))
    _emit("O")
    taken = spool.replay(rng.randint(1, 40))
    seqs = [seq_of(r.event_id) for r in taken]
    _emit("A", seqs)
    spool.settle(r.event_id for r in taken)
    _emit("D", seqs)
    seq = start
    while True:
        batch = list(range(seq, seq + rng.randint(1, 20)))
        seq = batch[-1] + 1
        _emit("W", batch)
        spool.append([record(n) for n in batch], held=rng.random() < 0.5)
        spool.sync()
        _emit("S", batch)


def _hold(directory: str, start: int, count: int) -> None:
    spool = Spool.open(directory)
    spool.append([record(n) for n in range(start, start + count)], held=False)
    spool.sync()
    _emit("S", list(range(start, start + count)))
    sys.stdin.readline()
    spool.close()


def _take(directory: str, limit: int) -> None:
    spool = Spool.open(directory)
    taken = spool.replay(limit)
    _emit("T", [seq_of(r.event_id) for r in taken])
    sys.stdin.readline()
    spool.settle(r.event_id for r in taken)
    spool.close()
    _emit("D")


def _fsize(directory: str, limit: int) -> None:
    import resource

    spool = Spool.open(directory, 1 << 30)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    seq = 1
    while True:
        batch = list(range(seq, seq + 3))
        try:
            spool.append([record(n) for n in batch], held=False)
            spool.sync()
        except SpoolError as exc:
            _emit(f"E {type(exc).__name__} errno={getattr(exc, 'errno', None)}: {exc}")
            return
        _emit("S", batch)
        seq += 3


def _open(directory: str, freeze: bool) -> None:
    try:
        spool = Spool.open(directory)
        _emit("OK")
        if freeze:
            os.chmod(directory, 0o500)
        spool.append([record(1)])
        _emit("OK")
    except SpoolError as exc:
        _emit(f"E {type(exc).__name__}: {exc}")


def main(argv: list[str]) -> None:
    uid = os.environ.get("SPOOL_CHILD_UID")
    if uid:
        import fcntl  # noqa: F401  # loaded now: the new user may not read the stdlib
        import json  # noqa: F401

        os.setgid(int(uid))
        os.setuid(int(uid))
    if argv == ["zygote"]:
        _zygote()
        return
    mode, directory, *rest = argv
    if mode == "hold":
        _hold(directory, int(rest[0]), int(rest[1]))
    elif mode == "take":
        _take(directory, int(rest[0]))
    elif mode == "fsize":
        _fsize(directory, int(rest[0]))
    elif mode == "open":
        _open(directory, rest == ["freeze"])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
