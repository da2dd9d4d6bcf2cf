"""The ``mosaic-telemetry`` command line: demo, serve, send, predict and check."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, TextIO

from ._cli_format import LEVEL_LEGEND, prediction_table
from ._cli_input import parse_events
from .config import ENV_PREFIX, TelemetryConfig
from .enums import Complexity, Provider, TaskType
from .errors import TelemetryError, ValidationError
from .models import PredictionQuery

if TYPE_CHECKING:
    from .collector.demo import DemoReport

__all__ = ["main"]

PROG = "mosaic-telemetry"
DEFAULT_PORT = 8765
HEALTH_PATH = "/v1/health"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_MAX_DEMO_EVENTS = 100_000
_PACKAGE_LOGGER = __name__.rpartition(".")[0] or __name__


class CliError(Exception):
    """A failure reported as one line on stderr, with its exit status."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _usage_error(message: str) -> NoReturn:
    raise CliError(message, EXIT_USAGE)


def _say(message: str, stream: TextIO | None = None) -> None:
    print(message, file=sys.stdout if stream is None else stream, flush=True)


def _error_line(message: str) -> None:
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


# -- shared client settings ---------------------------------------------------------


def _add_client_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "server", f"flags override the environment ({ENV_PREFIX}SERVER_URL, _API_KEY, ...)"
    )
    group.add_argument("--server-url", default="", help="Telemetry API base URL")
    group.add_argument(
        "--api-key", default="", help=f"API key (prefer the {ENV_PREFIX}API_KEY variable)"
    )
    group.add_argument("--instance-id", default="", help="UUID of this installation")
    group.add_argument("--ca-file", default="", help="PEM bundle to verify an https server")
    group.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="request timeout (default: 10)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _event_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= _MAX_DEMO_EVENTS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {_MAX_DEMO_EVENTS}, got {value}")
    return value


def _config_from(args: argparse.Namespace, *, instance_id: str = "") -> TelemetryConfig:
    """Flags first, then the environment (``TelemetryConfig`` reads it for empty fields)."""
    config = TelemetryConfig(
        server_url=args.server_url,
        api_key=args.api_key,
        instance_id=args.instance_id,
        ca_file=args.ca_file,
        request_timeout_seconds=args.timeout,
    )
    if not config.instance_id and instance_id:
        config.instance_id = instance_id
    return config


def _require_usable(config: TelemetryConfig) -> None:
    problems = config.validate()
    if problems:
        _usage_error("; ".join(problems))
    if not config.enabled:
        raise CliError(f"telemetry is disabled by {ENV_PREFIX}ENABLED; nothing was done")


# -- demo -------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from .collector.demo import run_demo  # noqa: PLC0415  # the collector loads on demand

    report = run_demo(args.events, seed=args.seed)
    _print_demo(report)
    stats = report.stats
    complete = stats.sent == report.events_tracked == report.events_stored
    return EXIT_OK if complete else EXIT_FAILED


def _print_demo(report: DemoReport) -> None:
    stats = report.stats
    _say(
        f"demo: {report.events_tracked} synthetic events sent through TelemetryClient to a "
        f"local collector at {report.url}"
    )
    _say("")
    _say(prediction_table(report.predictions))
    _say(LEVEL_LEGEND)
    _say("")
    _say(
        f"demo: {report.events_tracked} events tracked, {stats.sent} accepted, "
        f"{stats.rejected} rejected, {report.events_stored} stored, "
        f"{len(report.predictions)} predictions, in {report.elapsed_s:.2f} s"
    )


# -- serve -----------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace) -> int:
    from .collector import Collector, serve_forever  # noqa: PLC0415

    api_key = args.api_key or os.environ.get(f"{ENV_PREFIX}API_KEY", "")
    if not api_key:
        _usage_error(f"an API key is required: pass --api-key or set {ENV_PREFIX}API_KEY")
    try:
        collector = Collector(api_key, db_path=args.db, host=args.host, port=args.port)
    except ValueError as exc:
        _usage_error(str(exc))
    if len(api_key) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in api_key):
        _say(f"{PROG}: warning: clients expect a key of 64 hex characters", sys.stderr)

    def ready(url: str) -> None:
        _say(f"collector listening on {url} (store: {args.db}); Ctrl-C or SIGTERM stops it")
        if not _is_loopback(args.host):
            _say(
                f"{PROG}: warning: bound to {args.host}, not loopback: other machines can reach "
                "this collector",
                sys.stderr,
            )

    serve_forever(collector, on_ready=ready)
    _say("collector stopped")
    return EXIT_OK


def _is_loopback(host: str) -> bool:
    import ipaddress  # noqa: PLC0415

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- send --------------------------------------------------------------------------------


def _read_source(source: str) -> tuple[str, str]:
    """Return ``(label, text)`` of a file path, or of stdin for ``-``."""
    if source == "-":
        return "stdin", sys.stdin.read()
    try:
        with open(source, encoding="utf-8") as handle:
            return source, handle.read()
    except UnicodeDecodeError:
        _usage_error(f"cannot read {source}: not UTF-8 text")
    except OSError as exc:
        _usage_error(f"cannot read {source}: {exc.strerror or exc}")


class _StderrLines(logging.Handler):
    """Shows the client's warnings (a rejected event's reason, a refused batch) on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _say(f"{PROG}: {record.getMessage()}", sys.stderr)
        except Exception:
            self.handleError(record)


def _cmd_send(args: argparse.Namespace) -> int:
    from .client import TelemetryClient  # noqa: PLC0415

    label, text = _read_source(args.source)
    events, problems = parse_events(label, text)
    for problem in problems:
        _say(f"{PROG}: invalid event: {problem}", sys.stderr)
    if not events:
        raise CliError(f"no valid event to send in {label}")
    config = _config_from(args, instance_id=str(events[0].instance_id))
    config.max_queue_size = max(config.max_queue_size, len(events))
    _require_usable(config)
    # --verbose already shows every record; otherwise show the client's warnings only.
    handler: logging.Handler = _StderrLines(logging.WARNING if not args.verbose else 100)
    package_logger = logging.getLogger(_PACKAGE_LOGGER)
    package_logger.addHandler(handler)
    try:
        client = TelemetryClient(config)
        for event in events:
            client.track(event)
        client.flush(timeout=args.timeout * (config.max_retries + 2))
        # flush() already retried; what it could not deliver is reported, not retried again.
        client.stop(timeout=min(1.0, args.timeout))
    finally:
        package_logger.removeHandler(handler)
    stats = client.stats
    undeliverable = len(events) - stats.sent - stats.rejected
    _say(
        f"sent {len(events)} events to {config.server_url}: {stats.sent} accepted, "
        f"{stats.rejected} rejected, {undeliverable} undeliverable, "
        f"{len(problems)} invalid (not sent)"
    )
    if undeliverable and stats.last_error:
        _say(f"{PROG}: last error: {stats.last_error}", sys.stderr)
    return EXIT_OK if not problems and stats.sent == len(events) else EXIT_FAILED


# -- predict -------------------------------------------------------------------------------


def _cmd_predict(args: argparse.Namespace) -> int:
    from .client import TelemetryClient  # noqa: PLC0415

    try:
        query = PredictionQuery(
            task_type=args.task_type,
            model=args.model,
            provider=args.provider,
            complexity=args.complexity,
        )
    except ValidationError as exc:
        _usage_error(str(exc))
    config = _config_from(args, instance_id="00000000-0000-0000-0000-000000000000")
    _require_usable(config)
    client = TelemetryClient(config)
    try:
        client.refresh_predictions_sync([query])
        response = client.get_prediction(query)
    finally:
        client.stop(timeout=args.timeout)
    if response is None:
        reason = client.stats.last_error or "no answer"
        raise CliError(f"no prediction from {config.server_url}: {reason}")
    if args.json:
        _say(json.dumps(response.to_dict(), indent=2))
        return EXIT_OK
    _say(prediction_table([(query, response)]))
    _say(LEVEL_LEGEND)
    meta, data = response.metadata, response.prediction
    if meta.fallback_note:
        _say(f"note: {meta.fallback_note}")
    if data is not None:
        factors = data.correction_factors
        _say(
            f"median duration {data.duration_ms['median'] / 1000:.1f} s, "
            f"gate pass rate {data.quality.gate_pass_rate * 100:.0f}%, "
            f"correction factors input x{factors.input:.2f} output x{factors.output:.2f}"
        )
    return EXIT_OK


# -- check ---------------------------------------------------------------------------------


def _health(config: TelemetryConfig, timeout_s: float) -> str | None:
    """GET /v1/health; return None when it answers as a collector does, else the reason."""
    from .transport import Transport  # noqa: PLC0415  # the one place that opens connections

    url = config.server_url + HEALTH_PATH
    try:
        result = Transport(config).get(HEALTH_PATH, timeout_s=timeout_s)
    except TelemetryError as exc:  # no response, or a URL the transport refuses
        return f"no answer: {exc}"
    if result.status != 200:
        return f"HTTP {result.status} from {url}"
    try:
        body = json.loads(result.body)
    except (ValueError, RecursionError):
        return f"{url} did not answer JSON"
    if not isinstance(body, dict) or body.get("status") != "ok":
        return f"{url} did not report status ok"
    return None


def _cmd_check(args: argparse.Namespace) -> int:
    config = _config_from(args)
    _say(f"config: {config!r}")
    problems = config.validate()
    for problem in problems:
        _say(f"problem: {problem}")
    if not config.enabled:
        _say(f"note: telemetry is disabled ({ENV_PREFIX}ENABLED)")
    url_ok = not any(p.startswith("server_url") for p in problems)
    if url_ok:
        failure = _health(config, args.timeout)
        if failure is None:
            _say(f"health: ok ({config.server_url}{HEALTH_PATH})")
        else:
            _say(f"health: FAILED: {failure}")
            problems.append(failure)
    else:
        _say("health: not checked (server_url is unusable)")
    _say("result: ok" if not problems else f"result: {len(problems)} problem(s)")
    return EXIT_OK if not problems else EXIT_FAILED


# -- parser and main ---------------------------------------------------------------------


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Mosaic Stack telemetry: a local collector, and a client for any harness.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log details (and tracebacks) to stderr"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run a collector and a client in-process; print predictions"
    )
    demo.add_argument(
        "--events", type=_event_count, default=500, help="synthetic events (default: 500)"
    )
    demo.add_argument("--seed", type=int, default=20261124, help="random seed (default: fixed)")
    demo.set_defaults(handler=_cmd_demo)

    serve = commands.add_parser("serve", help="run the local collector until Ctrl-C or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0: any)"
    )
    serve.add_argument("--db", default=":memory:", help="sqlite file (default: :memory:)")
    serve.add_argument(
        "--api-key", default="", help=f"key clients must send (or {ENV_PREFIX}API_KEY)"
    )
    serve.set_defaults(handler=_cmd_serve)

    send = commands.add_parser("send", help="send events from a file or stdin")
    send.add_argument(
        "source", help="file of a JSON object, a JSON array or JSON lines; - for stdin"
    )
    _add_client_flags(send)
    send.set_defaults(handler=_cmd_send)

    predict = commands.add_parser("predict", help="ask the server for a prediction")
    predict.add_argument("--task-type", required=True, choices=[t.value for t in TaskType])
    predict.add_argument("--model", required=True, help="model identifier")
    predict.add_argument("--provider", required=True, choices=[p.value for p in Provider])
    predict.add_argument("--complexity", default="medium", choices=[c.value for c in Complexity])
    predict.add_argument("--json", action="store_true", help="print the response as JSON")
    _add_client_flags(predict)
    predict.set_defaults(handler=_cmd_predict)

    check = commands.add_parser("check", help="show the effective config, its problems, health")
    _add_client_flags(check)
    check.set_defaults(handler=_cmd_check)
    return parser


def _configure_logging(verbose: bool) -> None:
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        package_logger = logging.getLogger(_PACKAGE_LOGGER)
        package_logger.addHandler(handler)
        package_logger.setLevel(logging.DEBUG)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so the exit flush can't fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 failed, 2 usage, 130 Ctrl-C)."""
    args = _build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CliError as exc:
        _error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error_line("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILED
    except (OSError, TelemetryError) as exc:
        logging.getLogger(__name__).debug("command failed", exc_info=True)
        _error_line(str(exc) or type(exc).__name__)
        return EXIT_FAILED
    except Exception as exc:  # a bug still gets one line; --verbose shows the traceback
        logging.getLogger(__name__).debug("unexpected failure", exc_info=True)
        _error_line(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_FAILED
