"""``mosaic-telemetry hook`` as a harness runs it: a subprocess fed JSON on stdin.

Whatever happens (server down or hanging, transcript missing, garbage on stdin, no
config, a mistyped command line) the run exits 0, prints nothing on stdout and ends
within its budget plus 0.5 s.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from collector_fixtures import API_KEY, INSTANCE_ID, clean_env

from mosaic_telemetry.collector import Collector

FIXTURES = Path(__file__).parent / "fixtures"
SLACK_S = 0.5  # the promise: budget + 0.5 s, interpreter start and exit included
BUDGET_S = 20.0  # runs that must finish their work get room on a loaded machine (2 cores, 6 suites)
TIMEOUT_S = 60.0


def transcript_lines() -> list[str]:
    """The fixture transcript's complete lines (each with its newline)."""
    text = (FIXTURES / "claude_transcript.jsonl").read_text(encoding="utf-8")
    return text.splitlines(keepends=True)[:-1]


def index_of(lines: list[str], uuid: str) -> int:
    return next(i for i, line in enumerate(lines) if f'"uuid":"{uuid}"' in line)


def hook_env(url: str | None, **extra: str) -> dict[str, str]:
    env = clean_env(**extra)
    env["MOSAIC_TELEMETRY_INSTANCE_ID"] = INSTANCE_ID
    env["MOSAIC_TELEMETRY_API_KEY"] = API_KEY
    if url is not None:
        env["MOSAIC_TELEMETRY_SERVER_URL"] = url
    return env


def payload(path: Path, event: str = "Stop", **extra: str) -> bytes:
    data = {"session_id": "sess-claude-1", "transcript_path": str(path),
            "hook_event_name": event, "cwd": str(path.parent), **extra}  # fmt: skip
    return json.dumps(data).encode()


def _cpu_wait_s(schedstat: str) -> float:
    """How long a thread was runnable but given no CPU, in seconds (Linux); 0 elsewhere."""
    try:
        with open(schedstat, encoding="ascii") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def run_timed(
    argv: list[str], stdin: bytes | None, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """Run to the end; its wall time, less the time the OS kept it waiting for a CPU.

    The promise is the hook's, not the scheduler's: on a loaded machine a runnable process
    can wait seconds for a core. Linux counts that wait per thread; it is read from the
    hook's main thread once it has exited and before it is reaped, and from this thread.
    ``stdin`` None: it stays open, and empty, until the run ends.
    """
    own_wait_s = _cpu_wait_s("/proc/thread-self/schedstat")
    started = time.monotonic()
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdin is not None and process.stdout is not None
    assert process.stderr is not None
    outputs: dict[int, bytes] = {}

    def drain(stream: Any) -> None:
        outputs[stream.fileno()] = stream.read()

    def write(data: bytes) -> None:
        try:
            process.stdin.write(data)  # type: ignore[union-attr]  # asserted above
            process.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:  # the hook stopped reading: its own business
            pass

    helpers = [threading.Thread(target=drain, args=(s,)) for s in (process.stdout, process.stderr)]
    if stdin is not None:
        helpers.append(threading.Thread(target=write, args=(stdin,)))
    watchdog = threading.Timer(TIMEOUT_S, process.kill)
    for thread in (*helpers, watchdog):
        thread.start()
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        elapsed = time.monotonic() - started
        waited_s = _cpu_wait_s(f"/proc/{process.pid}/schedstat")
        waited_s += _cpu_wait_s("/proc/thread-self/schedstat") - own_wait_s
    finally:
        watchdog.cancel()
        process.wait()
        for thread in helpers:
            thread.join()
        if stdin is None:
            process.stdin.close()
    out = outputs[process.stdout.fileno()]
    err = outputs[process.stderr.fileno()]
    process.stdout.close()
    process.stderr.close()
    return subprocess.CompletedProcess(argv, process.returncode, out, err), elapsed - waited_s


def run_hook(
    state: Path,
    stdin: bytes,
    env: dict[str, str],
    *args: str,
    harness: str = "claude-code",
    budget: float = BUDGET_S,
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    env = {**env, "XDG_STATE_HOME": str(state.parent / "xdg")}  # where a bad command line logs
    return run_timed(
        [sys.executable, "-m", "mosaic_telemetry", "hook", harness, "--state-dir", str(state),
         "--budget", str(budget), *args],
        stdin, env,
    )  # fmt: skip


def assert_quiet_exit(
    result: subprocess.CompletedProcess[bytes], elapsed: float, budget: float
) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert elapsed <= budget + SLACK_S, f"took {elapsed:.2f}s (CPU waits aside) for {budget}s"


def log_of(state: Path) -> str:
    path = state / "hook.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector(API_KEY) as running:
        yield running


@pytest.fixture
def refused_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A loopback server that accepts connections, reads, and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_each_run_sends_only_the_turns_finished_since_the_last(
    tmp_path: Path, collector: Collector
) -> None:
    lines = transcript_lines()
    path = tmp_path / "sess-claude-1.jsonl"
    state = tmp_path / "state"
    env = hook_env(collector.url)
    # turns 1 and 2, and the prompt of turn 3: turns 1 and 2 are finished
    path.write_text("".join(lines[: index_of(lines, "u3") + 1]), encoding="utf-8")
    result, elapsed = run_hook(state, payload(path), env)
    assert_quiet_exit(result, elapsed, BUDGET_S)
    assert collector.event_count == 2, log_of(state)
    # the rest of turn 3 (closed by its turn_duration record) arrives
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(lines[index_of(lines, "u3") + 1 : index_of(lines, "d3") + 1]))
    result, elapsed = run_hook(state, payload(path), env)
    assert_quiet_exit(result, elapsed, BUDGET_S)
    assert collector.event_count == 3
    assert "read 0 bytes" not in log_of(state).splitlines()[-1]
    assert log_of(state).splitlines()[-1].endswith("1 event(s), confirmed, cursor saved")
    # nothing new: nothing is sent again
    result, _ = run_hook(state, payload(path), env)
    assert collector.event_count == 3 and "nothing new" in log_of(state).splitlines()[-1]


def test_the_open_turn_is_sent_when_the_session_ends(tmp_path: Path, collector: Collector) -> None:
    lines = transcript_lines()
    path = tmp_path / "s.jsonl"
    path.write_text("".join(lines[: index_of(lines, "b3") + 1]), encoding="utf-8")
    state = tmp_path / "state"
    run_hook(state, payload(path), hook_env(collector.url))
    assert collector.event_count == 1  # turn 2 is still open: the Stop may come before its end
    run_hook(state, payload(path, "SessionEnd"), hook_env(collector.url))
    assert collector.event_count == 2


def test_a_torn_last_line_is_read_once_it_is_complete(tmp_path: Path, collector: Collector) -> None:
    lines = transcript_lines()
    path = tmp_path / "s.jsonl"
    cut = index_of(lines, "u2")
    path.write_text("".join(lines[:cut]) + lines[cut][:40], encoding="utf-8")
    state = tmp_path / "state"
    run_hook(state, payload(path), hook_env(collector.url))
    assert collector.event_count == 0  # turn 1 ends at the prompt on the torn line
    with path.open("a", encoding="utf-8") as handle:
        handle.write(lines[cut][40:])
    run_hook(state, payload(path), hook_env(collector.url))
    assert collector.event_count == 1


def test_server_down_exits_quietly_and_the_next_run_sends_what_was_missed(
    tmp_path: Path, refused_url: str, collector: Collector
) -> None:
    lines = transcript_lines()
    path = tmp_path / "s.jsonl"
    path.write_text("".join(lines[: index_of(lines, "u3") + 1]), encoding="utf-8")
    state = tmp_path / "state"
    result, elapsed = run_hook(state, payload(path), hook_env(refused_url), budget=1.0)
    assert_quiet_exit(result, elapsed, 1.0)
    assert not list((state / "cursors").glob("*.json")), log_of(state)  # nothing confirmed
    result, _ = run_hook(state, payload(path), hook_env(collector.url))
    assert result.returncode == 0 and collector.event_count == 2


def test_a_hanging_server_cannot_stretch_the_run_past_its_budget(
    tmp_path: Path, hanging_url: str
) -> None:
    lines = transcript_lines()
    path = tmp_path / "s.jsonl"
    path.write_text("".join(lines[: index_of(lines, "u3") + 1]), encoding="utf-8")
    state = tmp_path / "state"
    result, elapsed = run_hook(state, payload(path), hook_env(hanging_url), budget=1.0)
    assert_quiet_exit(result, elapsed, 1.0)
    assert not list((state / "cursors").glob("*.json"))  # nothing confirmed, nothing saved


@pytest.mark.parametrize(
    ("stdin", "logged"),
    [
        (b"", "hook input is not JSON"),
        (b"\xff\xfe garbage \x00", "hook input is not JSON"),
        (b"[1, 2]", "hook input is not a JSON object"),
        (b'{"session_id": "x"}', "hook input has no transcript_path"),
        (b'{"transcript_path": 42}', "hook input has no transcript_path"),
        (b"{" * 100_000, "hook input is not JSON"),
    ],
)
def test_garbage_on_stdin_is_logged_and_the_run_exits_0(
    tmp_path: Path, refused_url: str, stdin: bytes, logged: str
) -> None:
    state = tmp_path / "state"
    result, elapsed = run_hook(state, stdin, hook_env(refused_url))
    assert_quiet_exit(result, elapsed, BUDGET_S)
    assert logged in log_of(state)


def test_a_missing_transcript_is_logged_and_the_run_exits_0(
    tmp_path: Path, refused_url: str
) -> None:
    state = tmp_path / "state"
    result, elapsed = run_hook(state, payload(tmp_path / "gone.jsonl"), hook_env(refused_url))
    assert_quiet_exit(result, elapsed, BUDGET_S)
    assert "FileNotFoundError" in log_of(state)


def test_missing_config_reads_nothing_and_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(transcript_lines()), encoding="utf-8")
    state = tmp_path / "state"
    result, elapsed = run_hook(state, payload(path), clean_env())
    assert_quiet_exit(result, elapsed, BUDGET_S)
    assert "not configured: server_url is not set" in log_of(state)
    assert not (state / "cursors").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--budget", "soon"],
        ["--budget", "-3"],
        ["--bogus-flag", "x"],
        ["--timeout", "never"],
    ],
)
def test_a_mistyped_command_line_still_exits_0_quietly(
    tmp_path: Path, collector: Collector, args: list[str]
) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(transcript_lines()[:3]), encoding="utf-8")
    result, elapsed = run_hook(tmp_path / "state", payload(path), hook_env(collector.url), *args)
    assert_quiet_exit(result, elapsed, BUDGET_S)
    assert result.stderr == b""
    logs = [p.read_text(encoding="utf-8") for p in tmp_path.rglob("hook.log")]
    assert any(args[0] in log or "budget" in log for log in logs), logs


@pytest.mark.parametrize(
    "argv", [["hook"], ["hook", "claude-code", "extra", "--nope"], ["hook", "vim"]]
)
def test_a_hook_command_without_a_known_harness_exits_0(tmp_path: Path, argv: list[str]) -> None:
    env = clean_env(XDG_STATE_HOME=str(tmp_path / "xdg"))
    result = subprocess.run(
        [sys.executable, "-m", "mosaic_telemetry", *argv],
        input=b"{}", env=env, capture_output=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


def test_a_stdin_that_never_closes_cannot_hold_the_run(tmp_path: Path, refused_url: str) -> None:
    result, elapsed = run_timed(
        [sys.executable, "-m", "mosaic_telemetry", "hook", "claude-code",
         "--state-dir", str(tmp_path / "state"), "--budget", "1"],
        None, hook_env(refused_url, XDG_STATE_HOME=str(tmp_path / "xdg")),
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, b"")
    assert elapsed <= 1.0 + SLACK_S


def test_problems_reach_stderr_only_with_verbose(tmp_path: Path, refused_url: str) -> None:
    state = tmp_path / "state"
    quiet, _ = run_hook(state, b"not json", hook_env(refused_url))
    loud, _ = run_hook(state, b"not json", hook_env(refused_url), "-v")
    assert quiet.stderr == b""
    assert b"hook input is not JSON" in loud.stderr and loud.stdout == b""


def test_codex_stop_with_its_turn_id_sends_that_turn(tmp_path: Path, collector: Collector) -> None:
    lines = (FIXTURES / "codex_rollout.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    complete = next(i for i, line in enumerate(lines) if '"task_complete"' in line)
    path = tmp_path / "rollout.jsonl"
    path.write_text("".join(lines[:complete]), encoding="utf-8")  # t1 before its task_complete
    state = tmp_path / "state"
    result, elapsed = run_hook(
        state, payload(path, turn_id="t1", model="gpt-5-codex"), hook_env(collector.url),
        harness="codex",
    )  # fmt: skip
    assert_quiet_exit(result, elapsed, BUDGET_S)
    assert collector.event_count == 1, log_of(state)
    path.write_text("".join(lines), encoding="utf-8")  # the rest: t1's task_complete, t2, t3
    run_hook(state, payload(path, turn_id="t3"), hook_env(collector.url), harness="codex")
    assert collector.event_count == 3


def test_the_spool_dir_is_the_state_dir_and_a_new_one_is_private(
    tmp_path: Path, refused_url: str
) -> None:
    spool = tmp_path / "spool"
    env = hook_env(refused_url, MOSAIC_TELEMETRY_SPOOL_DIR=str(spool))
    result = subprocess.run(
        [sys.executable, "-m", "mosaic_telemetry", "hook", "claude-code"],
        input=b"nope", env=env, capture_output=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert result.returncode == 0
    assert (spool / "hook.log").is_file()
    assert spool.stat().st_mode & 0o777 == 0o700


def test_no_text_of_the_transcript_reaches_a_log_a_cursor_or_stderr(
    tmp_path: Path, collector: Collector
) -> None:
    path = tmp_path / "sess-claude-1.jsonl"
    path.write_text("".join(transcript_lines()), encoding="utf-8")
    state = tmp_path / "state"
    result, _ = run_hook(state, payload(path, "SessionEnd"), hook_env(collector.url), "-v")
    assert collector.event_count == 6
    written = [p.read_bytes() for p in state.rglob("*") if p.is_file()]
    assert written and all(b"SECRET" not in data for data in written)
    assert b"SECRET" not in result.stderr + result.stdout


def test_the_state_files_are_private(tmp_path: Path, collector: Collector) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(transcript_lines()), encoding="utf-8")
    state = tmp_path / "state"
    run_hook(state, payload(path), hook_env(collector.url))
    cursors = list((state / "cursors").glob("*.json"))
    assert cursors and all(c.stat().st_mode & 0o077 == 0 for c in cursors)
    assert os.stat(state).st_mode & 0o777 == 0o700
