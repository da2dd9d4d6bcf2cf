"""The command line, run as ``python -m mosaic_telemetry`` in subprocesses and via main()."""

from __future__ import annotations

import json
import runpy
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from collector_fixtures import (
    API_KEY,
    INSTANCE_ID,
    OTHER_KEY,
    QUERY,
    clean_env,
    event_dict,
    events,
    post_json,
    request,
    sigterm_once_serving,
)

from mosaic_telemetry import PredictionResponse
from mosaic_telemetry.cli import main
from mosaic_telemetry.collector import Collector, EventStore

# Generous: a subprocess imports the package and may talk HTTP on a shared, noisy machine.
TIMEOUT_S = 60.0


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mosaic_telemetry", *args],
        input=stdin,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mosaic-telemetry: error: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector(API_KEY) as running:
        yield running


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENABLED", "SERVER_URL", "API_KEY", "INSTANCE_ID", "CA_FILE"):
        monkeypatch.delenv(f"MOSAIC_TELEMETRY_{name}", raising=False)


def _server_flags(collector: Collector, key: str = API_KEY) -> list[str]:
    return ["--server-url", collector.url, "--api-key", key, "--timeout", "5"]


# -- demo ------------------------------------------------------------------------------------------


def test_demo_exits_0_and_prints_the_prediction_table() -> None:
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "query (task / model / provider / complexity)" in out
    assert "input p10..p90" in out
    assert "median cost" in out
    assert "implementation / claude-sonnet-4 / anthropic / medium" in out
    no_data_row = next(line for line in out.splitlines() if line.startswith("security_audit"))
    assert no_data_row.split()[7:11] == ["0", "-1", "none", "-"]
    assert "500 events tracked, 500 accepted, 0 rejected, 500 stored" in out
    assert result.stderr == ""


@pytest.mark.parametrize("count", ["0", "-3", "many", "100001"])
def test_demo_refuses_a_bad_event_count(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["demo", "--events", count])
    assert caught.value.code == 2
    assert "argument --events" in capsys.readouterr().err


def test_demo_is_reproducible(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert main(["demo", "--events", "120", "--seed", "7"]) == 0
        out = capsys.readouterr().out
        # Drop the lines that name the port and the elapsed time.
        outputs.append([line for line in out.splitlines() if not line.startswith("demo:")])
    assert outputs[0] == outputs[1]


# -- serve -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_runs_until_a_signal_and_stops_cleanly(signum: int, tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    process = subprocess.Popen(
        [sys.executable, "-m", "mosaic_telemetry", "serve", "--port", "0", "--db", db],
        env=clean_env(MOSAIC_TELEMETRY_API_KEY=API_KEY),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("collector listening on http://127.0.0.1:"), first
        url = first.split()[3]
        assert request(url, "GET", "/v1/health").status == 200
        assert post_json(url, "/v1/events/batch", {"events": events(2)}).status == 202
        process.send_signal(signum)
        out, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.strip().endswith("collector stopped")
    assert "Traceback" not in err
    assert API_KEY not in out + err
    store = EventStore(db)  # the file was closed cleanly and holds both events
    try:
        assert store.count() == 2
    finally:
        store.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.usefixtures("no_env")
def test_serve_in_process_prints_its_url_and_stops_on_sigterm(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sigterm_once_serving():
        code = main(["serve", "--port", "0", "--api-key", API_KEY])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.startswith("collector listening on http://127.0.0.1:")
    assert captured.out.rstrip().endswith("collector stopped")
    assert captured.err == ""


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "an API key is required"),
        (["--api-key", API_KEY, "--port", "70000"], "port must be between 0 and 65535"),
        (["--api-key", "has space"], "must not contain whitespace"),
    ],
)
def test_serve_refuses_bad_settings_before_binding(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mosaic-telemetry: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_serve_without_a_key_is_a_one_line_usage_error() -> None:
    result = run_cli("serve", "--port", "0")
    assert result.returncode == 2
    assert_one_error_line(result, "--api-key", "MOSAIC_TELEMETRY_API_KEY")


def test_serve_with_an_unusable_store_fails_in_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "missing" / "events.db")
    result = run_cli("serve", "--port", "0", "--api-key", API_KEY, "--db", db)
    assert result.returncode == 1
    assert_one_error_line(result, "cannot open event store")


def test_serve_on_a_taken_port_fails_in_one_line(collector: Collector) -> None:
    port = collector.url.rsplit(":", 1)[1]
    result = run_cli("serve", "--port", port, "--api-key", API_KEY)
    assert result.returncode == 1
    assert_one_error_line(result)


# -- send ------------------------------------------------------------------------------------------


def test_send_reports_the_bad_line_and_sends_the_rest(collector: Collector, tmp_path: Path) -> None:
    lines = [json.dumps(e) for e in events(4)]
    lines.insert(1, json.dumps(event_dict(99, model="")))
    lines.insert(3, "{broken")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("send", str(path), *_server_flags(collector))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path} line 2: 1 validation error for TaskCompletionEvent: model:" in result.stderr
    assert f"{path} line 4: not valid JSON" in result.stderr
    assert "4 accepted, 0 rejected, 0 undeliverable, 2 invalid" in result.stdout
    assert collector.event_count == 4


def test_send_reads_a_json_array_from_stdin(collector: Collector) -> None:
    result = run_cli("send", "-", *_server_flags(collector), stdin=json.dumps(events(3)))
    assert result.returncode == 0, result.stderr
    assert "sent 3 events" in result.stdout
    assert "3 accepted, 0 rejected, 0 undeliverable, 0 invalid" in result.stdout
    assert collector.event_count == 3


@pytest.mark.usefixtures("no_env")
def test_send_reads_one_pretty_printed_object(
    collector: Collector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(event_dict(1), indent=2), encoding="utf-8")
    assert main(["send", str(path), *_server_flags(collector)]) == 0
    assert "1 accepted" in capsys.readouterr().out
    assert collector.event_count == 1


@pytest.mark.usefixtures("no_env")
def test_send_names_the_array_index_of_a_bad_event(
    collector: Collector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([event_dict(1), event_dict(2, retry_count=99)]), encoding="utf-8")
    assert main(["send", str(path), *_server_flags(collector)]) == 1
    err = capsys.readouterr().err
    assert f"{path} index 1: 1 validation error" in err
    assert "retry_count: must be between 0 and 20, got 99" in err


@pytest.mark.usefixtures("no_env")
def test_send_with_a_wrong_key_reports_undeliverable_events(
    collector: Collector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events(2)), encoding="utf-8")
    assert main(["send", str(path), *_server_flags(collector, OTHER_KEY)]) == 1
    captured = capsys.readouterr()
    assert "0 accepted, 0 rejected, 2 undeliverable" in captured.out
    assert "HTTP 401: invalid API key" in captured.err
    assert OTHER_KEY not in captured.out + captured.err
    assert collector.event_count == 0


def test_send_of_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("send", str(tmp_path / "nope.jsonl"), "--api-key", API_KEY)
    assert result.returncode == 2
    assert_one_error_line(result, "cannot read", "nope.jsonl")


def test_send_without_a_server_url_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(event_dict(1)), encoding="utf-8")
    result = run_cli("send", str(path), "--api-key", API_KEY)
    assert result.returncode == 2
    assert_one_error_line(result, "server_url must be set")


@pytest.mark.usefixtures("no_env")
def test_send_of_nothing_valid_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.json"
    path.write_text("42", encoding="utf-8")
    assert main(["send", str(path), "--api-key", API_KEY]) == 1
    err = capsys.readouterr().err
    assert "must hold a JSON object, an array or JSON lines" in err
    assert "no valid event to send" in err


@pytest.mark.usefixtures("no_env")
def test_send_respects_the_master_switch(
    collector: Collector,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOSAIC_TELEMETRY_ENABLED", "false")
    path = tmp_path / "one.json"
    path.write_text(json.dumps(event_dict(1)), encoding="utf-8")
    assert main(["send", str(path), *_server_flags(collector)]) == 1
    assert "disabled by MOSAIC_TELEMETRY_ENABLED" in capsys.readouterr().err
    assert collector.event_count == 0


# -- predict ---------------------------------------------------------------------------------------

_QUERY_FLAGS = [
    "--task-type",
    QUERY["task_type"],
    "--model",
    QUERY["model"],
    "--provider",
    QUERY["provider"],
    "--complexity",
    QUERY["complexity"],
]


def test_predict_prints_a_table(collector: Collector) -> None:
    post_json(collector.url, "/v1/events/batch", {"events": events(6)})
    result = run_cli("predict", *_QUERY_FLAGS, *_server_flags(collector))
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("implementation"))
    assert row.split()[7:11] == ["6", "0", "low", "44.0k..44.0k"]
    assert "correction factors input x1.10 output x1.20" in result.stdout


@pytest.mark.usefixtures("no_env")
def test_predict_in_process_shows_the_fallback_note(
    collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    post_json(collector.url, "/v1/events/batch", {"events": events(2)})
    assert main(["predict", *_QUERY_FLAGS, *_server_flags(collector)]) == 0
    out = capsys.readouterr().out
    assert "note: fewer than 5 events at every fallback level" in out
    assert "median duration 120.0 s, gate pass rate 100%" in out


@pytest.mark.usefixtures("no_env")
def test_predict_without_data_prints_a_row_of_dashes(
    collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", *_QUERY_FLAGS, *_server_flags(collector)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "implementation" in line)
    assert row.split()[7:] == ["0", "-1", "none", "-", "-", "-", "-"]


@pytest.mark.usefixtures("no_env")
def test_predict_json_is_a_prediction_response(
    collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    post_json(collector.url, "/v1/events/batch", {"events": events(2)})
    assert main(["predict", *_QUERY_FLAGS, "--json", *_server_flags(collector)]) == 0
    response = PredictionResponse.from_json(capsys.readouterr().out)
    assert response.metadata.sample_size == 2
    assert response.metadata.fallback_note is not None


@pytest.mark.usefixtures("no_env")
def test_predict_with_a_wrong_key_fails_in_one_line(
    collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", *_QUERY_FLAGS, *_server_flags(collector, OTHER_KEY)]) == 1
    err = capsys.readouterr().err
    assert err.count("mosaic-telemetry: error: ") == 1
    assert "HTTP 401: invalid API key" in err
    assert OTHER_KEY not in err


def test_predict_with_an_unknown_provider_is_a_usage_error() -> None:
    args = [a if a != "anthropic" else "acme" for a in _QUERY_FLAGS]
    result = run_cli("predict", *args, "--api-key", API_KEY)
    assert result.returncode == 2
    assert "invalid choice: 'acme'" in result.stderr
    assert "Traceback" not in result.stderr


# -- check -----------------------------------------------------------------------------------------


def test_check_masks_the_key_and_reports_a_healthy_server(collector: Collector) -> None:
    result = run_cli(
        "check", *_server_flags(collector), "--instance-id", INSTANCE_ID, env=clean_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert API_KEY not in result.stdout + result.stderr
    assert f"api_key='***{API_KEY[-4:]}'" in result.stdout
    assert "health: ok" in result.stdout
    assert "result: ok" in result.stdout


def test_check_reads_the_key_from_the_environment_and_masks_it(collector: Collector) -> None:
    env = clean_env(
        MOSAIC_TELEMETRY_API_KEY=OTHER_KEY,
        MOSAIC_TELEMETRY_SERVER_URL=collector.url,
        MOSAIC_TELEMETRY_INSTANCE_ID=INSTANCE_ID,
    )
    result = run_cli("check", env=env)
    assert result.returncode == 0, result.stdout
    assert OTHER_KEY not in result.stdout
    assert f"server_url='{collector.url}'" in result.stdout


@pytest.mark.usefixtures("no_env")
def test_check_in_process_passes_against_a_running_collector(
    collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["check", *_server_flags(collector), "--instance-id", INSTANCE_ID]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"health: ok ({collector.url}/v1/health)" in out
    assert API_KEY not in out


@pytest.mark.usefixtures("no_env")
def test_check_reports_a_server_that_is_not_a_collector(
    collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    url = collector.url + "/v1/events/batch"  # answers GET .../v1/health with 404
    args = ["check", "--server-url", url, "--api-key", API_KEY, "--instance-id", INSTANCE_ID]
    assert main(args) == 1
    assert "health: FAILED: HTTP 404 from" in capsys.readouterr().out


@pytest.mark.usefixtures("no_env")
def test_check_lists_every_problem_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) on loopback: nothing listens there in a test environment.
    code = main(["check", "--server-url", "http://127.0.0.1:9", "--api-key", "short-key"])
    out = capsys.readouterr().out
    assert code == 1
    assert "problem: api_key must be 64 hexadecimal characters, got 9 characters" in out
    assert "problem: instance_id must be a UUID string" in out
    assert "health: FAILED: no answer: " in out
    assert "http://127.0.0.1:9/v1/health" in out
    assert "result: 3 problem(s)" in out
    assert "short-key" not in out


@pytest.mark.usefixtures("no_env")
def test_check_skips_health_when_the_url_is_unusable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--server-url", "ftp://example.invalid"]) == 1
    out = capsys.readouterr().out
    assert "health: not checked" in out


# -- usage -----------------------------------------------------------------------------------------


def test_no_command_is_a_usage_error() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "usage: mosaic-telemetry" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_runs_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["mosaic_telemetry", "--help"])
    with pytest.raises(SystemExit) as caught:
        runpy.run_module("mosaic_telemetry", run_name="__main__")
    assert caught.value.code == 0
    assert "usage: mosaic-telemetry" in capsys.readouterr().out


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "serve", "send", "predict", "check"):
        assert command in result.stdout
