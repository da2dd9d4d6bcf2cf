"""The command line, run as ``python -m mosaic_telemetry`` in subprocesses and via main()."""

from __future__ import annotations

import http.server
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import threading
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
    run_cli,
    write_jsonl,
)
from collector_fixtures import (
    API_KEY,
    INSTANCE_ID,
    OTHER_KEY,
    QUERY,
    clean_env,
    events,
    post_json,
    request,
    sigterm_once_serving,
)

import mosaic_telemetry
from mosaic_telemetry import PredictionResponse, TelemetryConfig
from mosaic_telemetry.cli import main
from mosaic_telemetry.cli._common import EXIT_CODES, plain
from mosaic_telemetry.collector import Collector, EventStore
from mosaic_telemetry.transport import Transport, TransportError

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "http://127.0.0.1:9"  # discard: nothing listens there in a test environment


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
    assert _numbers_of(out, "security_audit")[:4] == ["0", "-1", "none", "-"]
    assert "500 events tracked, 500 accepted, 0 rejected, 500 stored" in out
    assert result.stderr == ""


def _numbers_of(out: str, label_start: str) -> list[str]:
    """The numbers of a table row, in either layout (on the label's line, or below it)."""
    lines = out.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(label_start))
    label_line = lines[index]
    if re.search(r"\d\s*$", label_line):  # one line per query
        return label_line.split()[7:]
    return lines[index + 1].split()


def test_demo_fits_100_columns_when_the_output_is_not_a_terminal() -> None:
    result = run_cli("demo", "--events", "60")
    assert result.returncode == 0, result.stderr
    widths = [len(line) for line in result.stdout.splitlines()]
    assert max(widths) <= 100, result.stdout
    assert _numbers_of(result.stdout, "security_audit")[:3] == ["0", "-1", "none"]


@pytest.mark.parametrize("columns", [60, 100, 150])
def test_demo_fits_the_terminals_width(columns: int) -> None:
    result = run_cli("demo", "--events", "60", env=clean_env(COLUMNS=str(columns)))
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("\n\n")[1]  # after the first line: the table and its legend
    widest = max(len(line) for line in table.splitlines() if not line.startswith("level:"))
    assert widest <= max(columns, 83), table  # 83: the narrowest layout
    one_line_rows = "implementation / claude-sonnet-4 / anthropic / medium  " in table
    assert one_line_rows == (columns >= 136)


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


def test_serve_ready_file_holds_the_url_while_it_serves(tmp_path: Path) -> None:
    ready = tmp_path / "collector.url"
    ready.write_text("http://stale.invalid\n", encoding="utf-8")  # left by an earlier run
    process = subprocess.Popen(
        cli_command("serve", "--port", "0", "--ready-file", str(ready)),
        env=clean_env(MOSAIC_TELEMETRY_API_KEY=API_KEY),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # the ready line: the file is written before it
        url = ready.read_text(encoding="utf-8").strip()
        assert first.split()[3] == url
        assert request(url, "GET", "/v1/health").status == 200
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert not ready.exists()  # a stopped collector leaves no URL to wait for


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
    assert _numbers_of(result.stdout, "implementation")[:4] == ["6", "0", "low", "44.0k..44.0k"]
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
    numbers = _numbers_of(capsys.readouterr().out, "implementation")
    assert numbers == ["0", "-1", "none", "-", "-", "-", "-"]


@pytest.mark.usefixtures("no_env")
def test_predict_json_is_a_prediction_response(
    collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    post_json(collector.url, "/v1/events/batch", {"events": events(2)})
    assert main(["predict", *_QUERY_FLAGS, "--json", *_server_flags(collector)]) == 0
    response = PredictionResponse.from_json(capsys.readouterr().out)
    assert response.metadata.sample_size == 2
    assert response.metadata.fallback_note is not None


def test_predict_with_a_wrong_key_fails_in_one_line(collector: Collector) -> None:
    result = run_cli("predict", *_QUERY_FLAGS, *_server_flags(collector, OTHER_KEY))
    assert result.returncode == 1
    assert_one_error_line(
        result, f"no prediction from {collector.url}: ", "HTTP 401: invalid API key"
    )
    assert OTHER_KEY not in result.stderr


def test_predict_against_an_unreachable_server_exits_3() -> None:
    result = run_cli(
        "predict",
        *_QUERY_FLAGS,
        "--server-url",
        UNREACHABLE,
        "--api-key",
        API_KEY,
        "--timeout",
        "2",
    )
    assert result.returncode == 3
    assert_one_error_line(result, f"no prediction from {UNREACHABLE}: ")


def test_timeout_bounds_predict_against_a_hanging_server() -> None:
    with TelemetryServer() as server:
        server.default = Reply(delay_s=120.0)
        started = time.monotonic()
        result = run_cli(
            "predict",
            *_QUERY_FLAGS,
            "--server-url",
            server.url,
            "--api-key",
            API_KEY,
            "--timeout",
            "2",
        )
        elapsed = time.monotonic() - started
    assert elapsed < 2 + 8, elapsed  # the interpreter's start on a busy machine: generous
    assert result.returncode == 3
    assert_one_error_line(result, f"no prediction from {server.url}: ")


def test_predict_with_an_unknown_provider_is_a_usage_error() -> None:
    args = [a if a != "anthropic" else "acme" for a in _QUERY_FLAGS]
    result = run_cli("predict", *args, "--api-key", API_KEY)
    assert result.returncode == 2
    assert "invalid choice: 'acme'" in result.stderr
    assert "Traceback" not in result.stderr


# -- check -----------------------------------------------------------------------------------------


def test_check_masks_the_key_and_reports_a_healthy_server(collector: Collector) -> None:
    result = run_cli("check", *_server_flags(collector), "--instance-id", INSTANCE_ID)
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
    url = collector.url + "/api"  # answers GET /api/v1/health with 404
    args = ["check", "--server-url", url, "--api-key", API_KEY, "--instance-id", INSTANCE_ID]
    assert main(args) == 1
    assert f"health: FAILED: HTTP 404 from {url}/v1/health" in capsys.readouterr().out


@pytest.mark.usefixtures("no_env")
def test_check_lists_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--server-url", UNREACHABLE, "--api-key", "short-key", "--timeout", "3"])
    out = capsys.readouterr().out.splitlines()
    assert code == 2  # a configuration mistake comes first
    assert out[1:3] == [
        "problem: api_key must be 64 hexadecimal characters (0-9, a-f); found 's' at position 1",
        "problem: instance_id is not set (MOSAIC_TELEMETRY_INSTANCE_ID or instance_id=); "
        "make one with: python -c 'import uuid; print(uuid.uuid4())'",
    ]
    assert out[3].startswith("health: FAILED: ")
    assert out[4] == "result: 3 problem(s)"
    assert "short-key" not in "\n".join(out)


def test_check_prints_the_transports_own_words_when_there_is_no_answer() -> None:
    config = TelemetryConfig(server_url=UNREACHABLE, api_key=API_KEY, instance_id=INSTANCE_ID)
    with pytest.raises(TransportError) as caught:
        Transport(config).get("/v1/health", timeout_s=5.0)
    result = run_cli(
        "check", "--server-url", UNREACHABLE, "--api-key", API_KEY, "--instance-id", INSTANCE_ID
    )
    assert result.returncode == 3
    assert f"health: FAILED: {caught.value}" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "result: 1 problem(s)"


def test_check_through_a_proxy_that_refuses_prints_the_transports_message(
    collector: Collector,
) -> None:
    """Until the transport names the proxy itself, check shows its message unchanged."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening
        env = clean_env(HTTP_PROXY=proxy, http_proxy=proxy, NO_PROXY="", no_proxy="")
        config_env = dict(env)
        result = run_cli("check", *_server_flags(collector), "--instance-id", INSTANCE_ID, env=env)
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys\n"
                "from mosaic_telemetry import TelemetryConfig\n"
                "from mosaic_telemetry.transport import Transport, TransportError\n"
                f"c = TelemetryConfig(server_url={collector.url!r}, api_key={API_KEY!r})\n"
                "try:\n    Transport(c).get('/v1/health', timeout_s=5.0)\n"
                "except TransportError as exc:\n    print(exc)\n",
            ],
            env=config_env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    assert result.returncode == 3, result.stdout
    expected = probe.stdout.strip()
    assert expected, probe.stderr
    assert f"health: FAILED: {expected}" in result.stdout.splitlines()


@pytest.mark.usefixtures("no_env")
def test_check_skips_health_when_the_url_is_unusable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--server-url", "ftp://example.invalid"]) == 2
    out = capsys.readouterr().out
    assert "health: not checked" in out


def test_check_never_shows_a_url_password() -> None:
    url = "http://user:hunter2@127.0.0.1:9"
    result = run_cli(
        "check", "--server-url", url, "--api-key", API_KEY, "--instance-id", INSTANCE_ID
    )
    assert result.returncode == 2
    assert "hunter2" not in result.stdout + result.stderr
    assert (
        "problem: server_url must not hold a user name or password, got 'http://***@127.0.0.1:9'"
        in (result.stdout)
    )
    assert "server_url='http://***@127.0.0.1:9'" in result.stdout


@pytest.mark.parametrize("value", ["on", "enabled", ""])
def test_check_reports_an_unknown_enabled_value_as_a_problem(
    collector: Collector, value: str
) -> None:
    env = clean_env(MOSAIC_TELEMETRY_ENABLED=value)
    result = run_cli("check", *_server_flags(collector), "--instance-id", INSTANCE_ID, env=env)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    shown = f"is {value!r}, not a known value" if value else "is set but empty"
    assert (
        f"problem: MOSAIC_TELEMETRY_ENABLED {shown}, so telemetry is disabled; "
        "1, true, yes enable it, 0, false, no, off disable it"
    ) in lines
    assert lines[-1] == "result: 1 problem(s)"


def test_check_of_a_disabled_client_is_a_note_not_a_problem(collector: Collector) -> None:
    env = clean_env(MOSAIC_TELEMETRY_ENABLED="off")
    result = run_cli("check", *_server_flags(collector), "--instance-id", INSTANCE_ID, env=env)
    assert result.returncode == 0
    assert "note: telemetry is disabled (MOSAIC_TELEMETRY_ENABLED): nothing would be sent" in (
        result.stdout
    )


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _key_and_instance() -> list[str]:
    return ["--api-key", API_KEY, "--instance-id", INSTANCE_ID]


def test_check_wait_keeps_asking_until_the_server_answers() -> None:
    """The race of `serve &` then `check`: the port opens a moment later."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, not listening yet: connections are refused
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mosaic_telemetry",
            "check",
            "--wait",
            "20",
            "--server-url",
            url,
            "--api-key",
            API_KEY,
            "--instance-id",
            INSTANCE_ID,
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    try:
        time.sleep(1.0)  # check is refused meanwhile
        sock.listen()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        out, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        server.shutdown()
        server.server_close()
    assert process.returncode == 0, out + err
    assert f"health: ok ({url}/v1/health)" in out


def test_check_without_wait_asks_once() -> None:
    started = time.monotonic()
    result = run_cli(
        "check", "--server-url", UNREACHABLE, "--api-key", API_KEY, "--instance-id", INSTANCE_ID
    )
    assert result.returncode == 3
    assert time.monotonic() - started < 15


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


def _listed_commands(help_text: str) -> set[str]:
    return set(re.findall(r"^    (\w+) ", help_text, re.M))


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert _listed_commands(result.stdout) >= {"demo", "serve", "send", "predict", "check"}


def test_version_prints_the_package_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"mosaic-telemetry {mosaic_telemetry.__version__}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["-v", "send", "-", "--validate"],
        ["send", "-v", "-", "--validate"],
        ["send", "-", "--validate", "--verbose"],
    ],
)
def test_verbose_works_before_or_after_the_command(args: list[str]) -> None:
    result = run_cli(*args, stdin="{}")
    assert result.returncode == 1  # {} has no instance_id: invalid, whatever -v's place
    assert "invalid event: stdin line 1" in result.stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "HTTP 502: <html><head><title>502 Bad Gateway</title></head><body>x</body></html>",
            "HTTP 502: an HTML page (502 Bad Gateway)",
        ),
        (
            "HTTP 403: <!DOCTYPE html><html><body><h1>Forbidden</h1><p>no</p>",
            "HTTP 403: an HTML page (Forbidden)",
        ),
        ("HTTP 500: <html><body>", "HTTP 500: an HTML page"),
        ("two\nlines\r\n  and\tspaces", "two lines and spaces"),
        (
            "model: must be 1 to 100 characters, got '<x>'",
            "model: must be 1 to 100 characters, got '<x>'",
        ),
        ("x" * 400, "x" * 297 + "..."),
    ],
)
def test_plain_makes_one_short_line_and_never_dumps_html(text: str, line: str) -> None:
    assert plain(text) == line


# -- one exit-code table for every command -----------------------------------------------------


def test_the_readme_shows_the_exit_code_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\d+)` \| (.+?) \|$", readme, re.M)
    assert [(int(code), text) for code, text in rows] == list(EXIT_CODES)


def _situation_args(situation: str, url: str) -> tuple[list[str], dict[str, str]]:
    if situation == "bad flag":
        return ["--no-such-flag"], {}
    if situation == "invalid setting":
        return ["--server-url", url, "--api-key", "not-a-key"], {}
    if situation == "disabled":
        return ["--server-url", url, "--api-key", API_KEY], {"MOSAIC_TELEMETRY_ENABLED": "on"}
    if situation == "unreachable":
        return ["--server-url", UNREACHABLE, "--api-key", API_KEY, "--timeout", "3"], {}
    return ["--server-url", url, "--api-key", OTHER_KEY], {}  # refused: a wrong key


@pytest.mark.parametrize(
    ("command", "situation", "code"),
    [
        *[(c, "bad flag", 2) for c in ("send", "predict", "check")],
        *[(c, "invalid setting", 2) for c in ("send", "predict", "check")],
        *[(c, "disabled", 2) for c in ("send", "predict", "check")],
        *[(c, "unreachable", 3) for c in ("send", "predict", "check")],
        *[(c, "refused", 1) for c in ("send", "predict")],
    ],
)
def test_one_situation_gets_one_exit_code_in_every_command(
    command: str, situation: str, code: int, collector: Collector, tmp_path: Path
) -> None:
    flags, env = _situation_args(situation, collector.url)
    words = {
        "send": ["send", str(write_jsonl(tmp_path / "e.jsonl", events(1)))],
        "predict": ["predict", *_QUERY_FLAGS],
        "check": ["check", "--instance-id", INSTANCE_ID],
    }[command]
    result = run_cli(*words, *flags, env=clean_env(**env))
    assert result.returncode == code, result.stdout + result.stderr
    error_lines(result)  # never a traceback


# -- a vendored copy without collector/ ----------------------------------------------------------


@pytest.fixture
def vendored(tmp_path: Path) -> Path:
    """The package copied as ``vendored_mt`` without ``collector/``, as the README allows."""
    package = Path(mosaic_telemetry.__file__).parent
    shutil.copytree(
        package,
        tmp_path / "vendored_mt",
        ignore=shutil.ignore_patterns("collector", "__pycache__"),
    )
    return tmp_path


def _run_copy(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in clean_env().items() if k not in ("PYTHONPATH",)}
    return subprocess.run(
        [sys.executable, "-m", "vendored_mt", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_a_copy_without_the_collector_lists_only_its_commands(vendored: Path) -> None:
    result = _run_copy(vendored, "--help")
    assert result.returncode == 0, result.stderr
    listed = _listed_commands(result.stdout)
    assert listed >= {"send", "predict", "check"}
    assert not listed & {"demo", "serve"}


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_copy_without_the_collector_explains_a_missing_command_in_one_line(
    vendored: Path, command: str
) -> None:
    result = _run_copy(vendored, command, "--port", "0")
    assert result.returncode == 2
    assert_one_error_line(
        result,
        f"the {command} command is not in this copy of the package: it needs "
        "vendored_mt.collector, which was left out",
    )


def test_a_copy_without_the_collector_still_sends(vendored: Path, collector: Collector) -> None:
    result = _run_copy(vendored, "send", "-", "--validate")
    assert result.returncode == 0, result.stderr
