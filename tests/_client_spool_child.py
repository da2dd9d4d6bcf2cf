"""A child process of the client spool tests: ``python tests/_client_spool_child.py MODE ARGS``.

Modes (each prints one line per step, flushed, so a parent that kills it still
reads what it did):

- ``zygote``: imports once, then for each line ``writer DIR URL START SEED OUT`` on
  stdin forks a writer (its lines go to the file OUT) and prints its pid; a line
  ``reap PID`` waits for that child and prints how it ended.
- writer (forked by the zygote): a started client with ``spool_dir=DIR`` sending
  to URL tracks sequence-numbered events from START in small bursts and calls
  ``persist()`` after each; ``P n,..`` lists the numbers a ``persist()`` returned
  for. Until killed.
- ``ahead DIR URL COUNT``: a started client tracks COUNT events, prints ``T n,..``
  and then sleeps (no ``persist()``, no stop) until killed.
- ``exit DIR URL``: a started client tracks one event, prints ``E`` and returns
  from the script: the interpreter's exit flush does the rest.
- ``readonly DIR URL``: (as ``SPOOL_CHILD_UID``, if set) a client tracks three
  events, persists, flushes them to URL, and prints ``W <warnings about the
  spool>`` and ``S <sent> <spool_errors> <spooled>``.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _spool_child import record  # the numbered events of the engine's kill test

from mosaic_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig

API_KEY = "9c4f0b7e2d5a81c36e0f4b9d27a1c58e3f6b0d92a4c7e15b8d3f6a09c2e5b71d"
INSTANCE_ID = "6f1c1a52-8f1e-4c39-9a4e-0d7a1f3b5c2e"


def numbered(seq: int) -> TaskCompletionEvent:
    """The event numbered ``seq`` (its event_id carries the number)."""
    return TaskCompletionEvent.from_json(record(seq)[1])


def client(directory: str, url: str, **overrides: object) -> TelemetryClient:
    """A client with a spool in ``directory`` sending to ``url``, with short timeouts."""
    values: dict[str, object] = {
        "server_url": url,
        "api_key": API_KEY,
        "instance_id": INSTANCE_ID,
        "spool_dir": directory,
        "submit_interval_seconds": 0.05,
        "request_timeout_seconds": 2.0,
        "max_retries": 1,
    }
    values.update(overrides)
    return TelemetryClient(TelemetryConfig(**values))  # type: ignore[arg-type]  # test values


def _say(out_fd: int, text: str) -> None:
    os.write(out_fd, (text + "\n").encode())


def writer(directory: str, url: str, start: int, seed: int, out: str) -> None:
    """Track, persist, report; until killed."""
    out_fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    rng = random.Random(seed)
    telemetry = client(directory, url)
    telemetry.start()
    _say(out_fd, "O")
    seq = start
    while True:
        burst = list(range(seq, seq + rng.randint(1, 40)))
        seq = burst[-1] + 1
        for number in burst:
            telemetry.track(numbered(number))
        telemetry.persist()
        _say(out_fd, "P " + ",".join(map(str, burst)))


def zygote() -> None:
    """Fork writers on request (see the module docstring)."""
    for line in sys.stdin:
        words = line.split()
        if words[0] == "writer":
            pid = os.fork()
            if pid == 0:
                try:
                    writer(words[1], words[2], int(words[3]), int(words[4]), words[5])
                finally:
                    os._exit(3)
            print(pid, flush=True)
        elif words[0] == "reap":
            _, status = os.waitpid(int(words[1]), 0)
            print(
                f"{os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0} "
                f"{os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0}",
                flush=True,
            )


def _readonly(directory: str, url: str) -> None:
    import logging

    uid = os.environ.get("SPOOL_CHILD_UID")
    if uid:
        import fcntl  # noqa: F401  # loaded now: the new user may not read the stdlib
        import json  # noqa: F401

        from mosaic_telemetry import _journal, _spool, transport  # noqa: F401
        from mosaic_telemetry._dispatch import load_send_path

        load_send_path()
        plain = TelemetryConfig(server_url=url, api_key=API_KEY, instance_id=INSTANCE_ID)
        TelemetryClient(plain).flush(0)  # every module of a send, loaded

        os.setgid(int(uid))
        os.setuid(int(uid))
    warnings: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING and "spool" in record.getMessage():
                warnings.append(record.getMessage())

    logging.getLogger("mosaic_telemetry").addHandler(Keep())
    telemetry = client(directory, url)
    for number in range(1, 4):
        telemetry.track(numbered(number))
    telemetry.persist()
    telemetry.persist()
    assert telemetry.flush(10.0)
    stats = telemetry.stats
    print("W " + " | ".join(warnings), flush=True)
    print(f"S {stats.sent} {stats.spool_errors} {stats.spooled}", flush=True)
    print(stats, file=sys.stderr)


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "zygote":
        zygote()
    elif mode == "ahead":
        telemetry = client(argv[1], argv[2])
        telemetry.start()
        numbers = list(range(1, int(argv[3]) + 1))
        for number in numbers:
            telemetry.track(numbered(number))
        print("T " + ",".join(map(str, numbers)), flush=True)
        time.sleep(3600)
    elif mode == "readonly":
        _readonly(argv[1], argv[2])
    elif mode == "exit":
        telemetry = client(argv[1], argv[2], submit_interval_seconds=300.0, max_retries=3)
        telemetry.start()
        telemetry.track(numbered(1))
        print("E", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
