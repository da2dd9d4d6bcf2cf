"""``send`` as a harness uses it: subprocesses, real HTTP to a collector or a scripted server."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import Reply, TelemetryServer
from cli_support import (
    TIMEOUT_S,
    assert_one_error_line,
    cli_command,
    error_lines,
    feed,
    finish,
    run_cli,
    spawn,
    write_jsonl,
)
from collector_fixtures import API_KEY, INSTANCE_ID, OTHER_KEY, clean_env, event_dict, events

from mosaic_telemetry import EventBuilder, TaskCompletionEvent
from mosaic_telemetry.collector import Collector

OTHER_INSTANCE = "2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector(API_KEY) as running:
        yield running


@pytest.fixture
def server() -> Iterator[TelemetryServer]:
    with TelemetryServer() as running:
        yield running


def flags(url: str, key: str = API_KEY, *extra: str) -> list[str]:
    return ["--server-url", url, "--api-key", key, *extra]


def summary(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    return lines[-1]


def failure_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The stderr lines that are not about one bad input line."""
    return [
        line
        for line in error_lines(result)
        if not line.startswith(("mosaic-telemetry: invalid event:", "mosaic-telemetry: duplicate"))
    ]


# -- what a harness may leave out ---------------------------------------------------------------


def test_send_fills_a_minimal_event_with_the_builders_defaults(
    server: TelemetryServer, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "minimal.jsonl", [{"model": "gpt-4o"}])
    result = run_cli("send", str(path), *flags(server.url, API_KEY, "--instance-id", INSTANCE_ID))
    assert result.returncode == 0, result.stderr
    assert summary(result).startswith(f"{path}: 1 read, 1 accepted, 0 duplicate")
    [sent] = server.batches()[0].events
    got = TaskCompletionEvent.from_dict(sent)
    expected = (
        EventBuilder(INSTANCE_ID)
        .event_id(got.event_id)
        .timestamp(got.timestamp)
        .model("gpt-4o")
        .build()
    )
    assert got == expected
    assert got.event_id.version == 4


def test_instance_id_flag_fills_only_events_without_one(
    server: TelemetryServer, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "two.jsonl", [{}, {"instance_id": OTHER_INSTANCE}])
    result = run_cli("send", str(path), *flags(server.url, API_KEY, "--instance-id", INSTANCE_ID))
    assert result.returncode == 0, result.stderr
    sent = [event["instance_id"] for event in server.batches()[0].events]
    assert sent == [INSTANCE_ID, OTHER_INSTANCE]


def test_an_event_without_instance_id_and_no_flag_is_invalid_with_a_hint(
    server: TelemetryServer, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "anon.jsonl", [{"model": "gpt-4o"}, event_dict(1)])
    result = run_cli("send", str(path), *flags(server.url))
    assert result.returncode == 1
    assert error_lines(result) == [
        f"mosaic-telemetry: invalid event: {path} line 1: 1 validation error for "
        "TaskCompletionEvent: instance_id: is required, got None; "
        "pass --instance-id for events without one"
    ]
    assert summary(result).startswith(f"{path}: 2 read, 1 accepted, 0 duplicate, 0 rejected")


def test_a_bad_instance_id_flag_is_a_usage_error_before_anything_is_read(tmp_path: Path) -> None:
    result = run_cli("send", str(tmp_path / "never-read.jsonl"), "--instance-id", "nope")
    assert result.returncode == 2
    assert_one_error_line(result, "instance_id must be a UUID string, got 'nope'")


# -- --dry-run and --validate ---------------------------------------------------------------------


def test_dry_run_prints_the_exact_request_bodies_and_sends_nothing(
    server: TelemetryServer, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "many.jsonl", events(150))
    dry = run_cli("send", str(path), "--dry-run", *flags(server.url))
    assert dry.returncode == 0, dry.stderr
    assert server.requests == []
    bodies = dry.stdout.splitlines()
    assert [len(json.loads(body)["events"]) for body in bodies] == [100, 50]
    assert error_lines(dry) == [
        f"{path}: 150 read, 150 in 2 request body(ies) on stdout (dry run: nothing was sent), "
        "0 duplicate, 0 invalid"
    ]
    real = run_cli("send", str(path), *flags(server.url))
    assert real.returncode == 0, real.stderr
    assert [r.body for r in server.batches()] == [body.encode() for body in bodies]


def test_dry_run_needs_no_server(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", [{"model": "gpt-4o"}])
    result = run_cli("send", str(path), "--dry-run", "--instance-id", INSTANCE_ID)
    assert result.returncode == 0, result.stderr
    [event] = json.loads(result.stdout)["events"]
    assert event["model"] == "gpt-4o" and event["instance_id"] == INSTANCE_ID


def test_validate_only_checks_and_needs_no_server(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", events(3))
    result = run_cli("send", str(good), "--validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{good}: 3 read, 3 valid, 0 duplicate, 0 invalid (checked only: nothing was sent)\n"
    )
    bad = write_jsonl(tmp_path / "bad.jsonl", [*events(2), event_dict(9, retry_count=99)])
    result = run_cli("send", str(bad), "--validate")
    assert result.returncode == 1
    assert error_lines(result) == [
        f"mosaic-telemetry: invalid event: {bad} line 3: 1 validation error for "
        "TaskCompletionEvent: retry_count: must be between 0 and 20, got 99"
    ]


def test_dry_run_and_validate_together_are_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("send", str(tmp_path / "x.jsonl"), "--dry-run", "--validate")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


# -- streaming ------------------------------------------------------------------------------------


def _wait_for(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]  # a callable
            return True
        time.sleep(0.02)
    return False


def test_send_stdin_sends_each_line_as_it_arrives(collector: Collector) -> None:
    with spawn("send", "-", *flags(collector.url)) as process:
        for number in (1, 2):
            feed(process, event_dict(number))
            # Stored while the harness still holds stdin open: sent within about a second.
            assert _wait_for(lambda n=number: collector.event_count == n, 15.0), number
        out, err = finish(process)
    assert process.returncode == 0, err
    assert out.startswith("stdin: 2 read, 2 accepted")


def test_send_stdin_of_a_full_batch_sends_it_at_once(server: TelemetryServer) -> None:
    with spawn("send", "-", *flags(server.url)) as process:
        feed(process, *events(100))
        assert server.wait_until(lambda s: len(s.batches()) == 1, 15.0)
        assert len(server.batches()[0].events) == 100
        _, err = finish(process)
    assert process.returncode == 0, err


def _connected_to(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a TCP socket connected to local ``port`` (Linux /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    with open(f"/proc/{pid}/net/tcp", encoding="ascii") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            if fields[9] in inodes and int(fields[2].rsplit(":", 1)[1], 16) == port:
                return True
    return False


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads the child's sockets in /proc")
def test_ctrl_c_reports_what_was_sent_and_exits_130(server: TelemetryServer) -> None:
    # Stored is not yet acknowledged: Ctrl-C before the client read the answer rightly
    # reports the event as undeliverable. A server that closes each connection lets the
    # test see when the client has read its answer: the client's socket is gone then.
    server.keep_alive = False  # (its default, said here because the test depends on it)
    port = int(server.url.rsplit(":", 1)[1])
    # A child inherits an ignored SIGINT (what a non-interactive shell gives the commands it
    # runs in the background, as .ci/run does), and Python then leaves it ignored. A
    # terminal's Ctrl-C reaches a command whose SIGINT is at its default: give it that.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with spawn("send", "-", *flags(server.url)) as process:
            signal.signal(signal.SIGINT, inherited)  # started: this process's own as it was
            feed(process, event_dict(1))
            assert server.wait_until(lambda s: len(s.batches()) == 1, TIMEOUT_S)
            assert _wait_for(lambda: not _connected_to(process.pid, port), TIMEOUT_S)
            process.send_signal(signal.SIGINT)
            out, err = finish(process, close_stdin=False)
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert process.returncode == 130
    assert out.startswith("stdin: 1 read, 1 accepted"), (out, err)
    assert err.strip().splitlines()[-1] == "mosaic-telemetry: error: interrupted"
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_large_input_is_sent_in_constant_memory(collector: Collector, tmp_path: Path) -> None:
    """30,000 events: the old command held them all (706 MB for 120,000)."""
    count = 30_000
    path = tmp_path / "large.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for number in range(1, count + 1):
            out.write(json.dumps(event_dict(number)) + "\n")
    # A wrapper process, so that RUSAGE_CHILDREN measures this one command only.
    wrapper = (
        "import resource, subprocess, sys\n"
        "code = subprocess.call(sys.argv[1:])\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *cli_command("send", str(path), *flags(collector.url))],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    *_, last = result.stdout.strip().splitlines()
    code, peak_kib = (int(part) for part in last.split())
    assert code == 0, result.stdout + result.stderr
    assert collector.event_count == count
    assert peak_kib < 80 * 1024, f"peak RSS {peak_kib} KiB"


def _read_available(fd: int, wait_s: float) -> bytes:
    """What the terminal's master end has within ``wait_s`` (b"" once the child's end closed)."""
    ready, _, _ = select.select([fd], [], [], wait_s)
    if not ready:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the child's end is closed
        return b""


def test_a_progress_line_shows_on_a_terminal_only(collector: Collector) -> None:
    """Events arrive one by one until the line shows: it is redrawn at most twice a second,
    and a child slow to start on a loaded machine may read many events in its first 0.5 s."""
    master, slave = pty.openpty()
    seen = b""
    fed = 0
    try:
        with spawn("send", "-", *flags(collector.url), stderr=slave) as process:
            os.close(slave)
            slave = -1
            deadline = time.monotonic() + TIMEOUT_S
            while b" read, " not in seen and time.monotonic() < deadline:
                fed += 1
                feed(process, event_dict(fed))
                seen += _read_available(master, 0.05)
            out, _ = finish(process)
            # The terminal is read while the child runs, not only after it exited: once the
            # child's end is closed, Linux may answer EIO before what was still buffered.
            while chunk := _read_available(master, 0.0):
                seen += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert process.returncode == 0
    assert b"\rstdin: " in seen and b" read, " in seen
    assert out.startswith(f"stdin: {fed} read, {fed} accepted")


# -- the deadline ----------------------------------------------------------------------------------


def test_timeout_bounds_the_whole_send_against_a_hanging_server(
    server: TelemetryServer, tmp_path: Path
) -> None:
    server.default = Reply(delay_s=120.0)
    path = write_jsonl(tmp_path / "events.jsonl", events(3))
    started = time.monotonic()
    result = run_cli("send", str(path), *flags(server.url, API_KEY, "--timeout", "2"))
    elapsed = time.monotonic() - started
    assert elapsed < 2 + 8, elapsed  # the interpreter's start on a busy machine: generous
    assert result.returncode == 3
    [line] = failure_lines(result)
    assert line.startswith(
        "mosaic-telemetry: 3 event(s) not delivered before the --timeout ran out: "
    )
    assert summary(result).startswith(f"{path}: 3 read, 0 accepted")


def test_timeout_stops_reading_a_stdin_that_never_ends(collector: Collector) -> None:
    with spawn("send", "-", *flags(collector.url, API_KEY, "--timeout", "2")) as process:
        feed(process, event_dict(1))  # and stdin stays open: a harness that hangs
        out, err = finish(process, close_stdin=False)
    assert process.returncode == 1
    assert out.startswith("stdin: 1 read, 1 accepted"), (out, err)
    assert "stopped reading: the --timeout ran out before the end of stdin" in err
    assert collector.event_count == 1


# -- one line per failure, and a summary that tells them apart ---------------------------------


def test_a_refused_send_is_one_plain_line_and_never_claims_a_delivery(
    collector: Collector, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", events(2))
    result = run_cli("send", str(path), *flags(collector.url, OTHER_KEY))
    assert result.returncode == 1
    assert error_lines(result) == [
        "mosaic-telemetry: 2 event(s) refused by the server: HTTP 401: invalid API key"
    ]
    assert summary(result) == (
        f"{path}: 2 read, 0 accepted, 0 duplicate, 0 rejected, 2 undeliverable, 0 invalid "
        f"({collector.url})"
    )
    assert "sent" not in result.stdout
    assert OTHER_KEY not in result.stdout + result.stderr
    assert collector.event_count == 0


def test_an_unreachable_server_is_one_line_and_exit_3(tmp_path: Path) -> None:
    from mosaic_telemetry import TelemetryConfig
    from mosaic_telemetry.transport import Transport, TransportError

    url = "http://127.0.0.1:9"  # discard: nothing listens there in a test environment
    with pytest.raises(TransportError) as caught:
        config = TelemetryConfig(server_url=url, api_key=API_KEY, instance_id=INSTANCE_ID)
        Transport(config).post("/v1/events/batch", b"{}", timeout_s=5.0)
    path = write_jsonl(tmp_path / "events.jsonl", events(2))
    result = run_cli("send", str(path), *flags(url, API_KEY, "--timeout", "3"))
    assert result.returncode == 3
    assert error_lines(result) == [
        "mosaic-telemetry: 2 event(s) not delivered before the --timeout ran out: "
        + str(caught.value)
    ]


def test_duplicates_in_the_input_are_sent_once_and_counted_apart(
    collector: Collector, tmp_path: Path
) -> None:
    one, two = events(2)
    path = write_jsonl(tmp_path / "dup.jsonl", [one, two, one, one])
    result = run_cli("send", str(path), *flags(collector.url))
    assert result.returncode == 1
    assert error_lines(result) == [
        f"mosaic-telemetry: duplicate event: {path} line {n}: event_id {one['event_id']} came "
        "earlier in this input; not sent again"
        for n in (3, 4)
    ]
    assert summary(result).startswith(f"{path}: 4 read, 2 accepted, 2 duplicate, 0 rejected")
    assert collector.event_count == 2


def test_rejected_events_get_their_reason_once_per_reason(
    server: TelemetryServer, tmp_path: Path
) -> None:
    sample = events(4)
    server.default = Reply(
        reject={
            sample[1]["event_id"]: "model: not on this server's list",
            sample[2]["event_id"]: "model: not on this server's list",
            sample[3]["event_id"]: "language: unknown",
        }
    )
    path = write_jsonl(tmp_path / "events.jsonl", sample)
    result = run_cli("send", str(path), *flags(server.url))
    assert result.returncode == 1
    assert error_lines(result) == [
        "mosaic-telemetry: 2 event(s) rejected by the server: model: not on this server's list",
        "mosaic-telemetry: 1 event(s) rejected by the server: language: unknown",
    ]
    assert summary(result).startswith(f"{path}: 4 read, 1 accepted, 0 duplicate, 3 rejected, 0")


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (502, "3 event(s) not delivered before the --timeout ran out: "),
        (403, "3 event(s) refused by the server: HTTP 403: "),
    ],
)
def test_an_html_error_page_is_summarised_never_dumped(
    server: TelemetryServer, tmp_path: Path, status: int, line: str
) -> None:
    server.default = Reply(status=status, body=HTML_502)
    path = write_jsonl(tmp_path / "events.jsonl", events(3))
    result = run_cli("send", str(path), *flags(server.url, API_KEY, "--timeout", "3"))
    [failure] = failure_lines(result)
    assert failure.startswith("mosaic-telemetry: " + line), failure
    assert "an HTML page (502 Bad Gateway)" in failure
    assert "<" not in result.stderr


# -- input forms ----------------------------------------------------------------------------------


def test_send_reports_the_bad_line_and_sends_the_rest(collector: Collector, tmp_path: Path) -> None:
    lines: list[object] = [*events(4)]
    lines.insert(1, event_dict(99, model=""))
    lines.insert(3, "{broken")
    path = write_jsonl(tmp_path / "events.jsonl", lines)
    result = run_cli("send", str(path), *flags(collector.url))
    assert result.returncode == 1
    assert error_lines(result) == [
        f"mosaic-telemetry: invalid event: {path} line 2: 1 validation error for "
        "TaskCompletionEvent: model: must be 1 to 100 characters, got ''",
        f"mosaic-telemetry: invalid event: {path} line 4: not valid JSON "
        "(Expecting property name enclosed in double quotes)",
    ]
    assert summary(result) == (
        f"{path}: 6 read, 4 accepted, 0 duplicate, 0 rejected, 0 undeliverable, 2 invalid "
        f"({collector.url})"
    )
    assert collector.event_count == 4


def test_send_reads_a_json_array_from_stdin(collector: Collector) -> None:
    result = run_cli("send", "-", *flags(collector.url), stdin=json.dumps(events(3)))
    assert result.returncode == 0, result.stderr
    assert summary(result).startswith("stdin: 3 read, 3 accepted, 0 duplicate, 0 rejected, 0 ")
    assert result.stderr == ""  # no progress line: stderr is not a terminal
    assert collector.event_count == 3


def test_send_names_the_array_index_of_a_bad_event(collector: Collector, tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([event_dict(1), event_dict(2, retry_count=99)]), encoding="utf-8")
    result = run_cli("send", str(path), *flags(collector.url))
    assert result.returncode == 1
    assert error_lines(result) == [
        f"mosaic-telemetry: invalid event: {path} index 1: 1 validation error for "
        "TaskCompletionEvent: retry_count: must be between 0 and 20, got 99"
    ]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_send_reads_one_pretty_printed_object_with_or_without_a_bom(
    collector: Collector, tmp_path: Path, bom: bytes
) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(bom + json.dumps(event_dict(1), indent=2).encode())
    result = run_cli("send", str(path), *flags(collector.url))
    assert result.returncode == 0, result.stderr
    assert collector.event_count == 1


def test_input_that_is_not_utf8_is_named_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"model": "caf\xe9"}\n')
    result = run_cli("send", str(path), "--validate")
    assert result.returncode == 2
    assert error_lines(result) == [
        f"mosaic-telemetry: stopped reading: {path} is not UTF-8 text (byte offset 14)"
    ]


def test_an_empty_input_sends_nothing_and_succeeds(collector: Collector) -> None:
    result = run_cli("send", "-", *flags(collector.url), stdin="\n\n")
    assert result.returncode == 0, result.stderr
    assert summary(result).startswith("stdin: 0 read, 0 accepted")


def test_a_value_that_is_not_an_object_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "number.json"
    path.write_text("42", encoding="utf-8")
    result = run_cli("send", str(path), "--validate")
    assert result.returncode == 1
    assert error_lines(result) == [
        f"mosaic-telemetry: invalid event: {path} line 1: must be a JSON object (an event), "
        "in JSON lines or an array"
    ]


# -- mistakes found before anything is read ------------------------------------------------------


def test_send_of_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("send", str(tmp_path / "nope.jsonl"), "--validate")
    assert result.returncode == 2
    assert_one_error_line(result, "cannot read", "nope.jsonl", "No such file or directory")


def test_send_without_a_server_url_is_a_one_line_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", events(1))
    result = run_cli("send", str(path), "--api-key", API_KEY)
    assert result.returncode == 2
    assert_one_error_line(
        result, "server_url is not set (MOSAIC_TELEMETRY_SERVER_URL or server_url=)"
    )


def test_send_respects_the_master_switch(collector: Collector, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", events(1))
    env = clean_env(MOSAIC_TELEMETRY_ENABLED="false")
    result = run_cli("send", str(path), *flags(collector.url), env=env)
    assert result.returncode == 2
    assert_one_error_line(result, "telemetry is disabled by MOSAIC_TELEMETRY_ENABLED")
    assert collector.event_count == 0


def test_send_with_an_unknown_enabled_value_says_why_it_sends_nothing(
    collector: Collector, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", events(1))
    result = run_cli(
        "send", str(path), *flags(collector.url), env=clean_env(MOSAIC_TELEMETRY_ENABLED="on")
    )
    assert result.returncode == 2
    assert_one_error_line(result, "MOSAIC_TELEMETRY_ENABLED is 'on', not a known value")


# -- a server that stops taking events ------------------------------------------------------------


def _busy(server: TelemetryServer) -> None:
    server.default = Reply.error(503, "busy", **{"Retry-After": "0"})  # retried at once


@pytest.mark.slow
def test_stdin_never_blocks_the_harness_on_a_failing_server(server: TelemetryServer) -> None:
    """It keeps reading; past 10,000 waiting events the oldest go, each one counted."""
    _busy(server)
    lines = "".join(json.dumps(event_dict(n)) + "\n" for n in range(1, 10_051))
    result = run_cli("send", "-", *flags(server.url, API_KEY, "--timeout", "8"), stdin=lines)
    assert result.returncode == 3, result.stderr
    dropped_line, late_line = failure_lines(result)
    dropped = re.fullmatch(
        r"mosaic-telemetry: (\d+) event\(s\) dropped while the server was not taking events "
        r"\(at most 10000 wait for it\)",
        dropped_line,
    )
    late = re.fullmatch(
        r"mosaic-telemetry: (\d+) event\(s\) not delivered before the --timeout ran out: "
        r"HTTP 503: busy",
        late_line,
    )
    assert dropped is not None and late is not None, result.stderr
    assert int(dropped[1]) >= 50 and int(late[1]) <= 10_000
    assert int(dropped[1]) + int(late[1]) == 10_050
    assert summary(result).startswith("stdin: 10050 read, 0 accepted, 0 duplicate, 0 rejected")


@pytest.mark.slow
def test_a_file_stops_being_read_when_the_server_keeps_failing(
    server: TelemetryServer, tmp_path: Path
) -> None:
    """No harness waits on a file: it is read no faster than sent, and given up on."""
    _busy(server)
    path = write_jsonl(tmp_path / "many.jsonl", events(10_000))
    result = run_cli("send", str(path), *flags(server.url))
    assert result.returncode == 3, result.stderr
    lines = failure_lines(result)
    assert lines[0] == "mosaic-telemetry: stopped reading: the server failed 3 sends in a row"
    assert "dropped" not in result.stderr
    read = int(summary(result).split(": ")[1].split()[0])
    assert read < 10_000
