"""What every command shares: exit codes, errors, output helpers, the server flags, deadlines."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from typing import NoReturn, TextIO

from ..config import ENV_PREFIX, TelemetryConfig

__all__ = [
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "PACKAGE_LOGGER",
    "PROG",
    "REQUEST_TIMEOUT_S",
    "CliError",
    "StderrLines",
    "add_client_flags",
    "config_from",
    "deadline_of",
    "error_line",
    "plain",
    "positive_float",
    "remaining_s",
    "require_usable",
    "say",
    "usage_error",
]

PROG = "mosaic-telemetry"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "done: every event was valid and accepted, the check found nothing, the answer came"),
    (
        EXIT_FAILED,
        "failed or partly failed: an event was invalid, duplicate, rejected or refused "
        "by the server (HTTP 4xx); a server answered but not as a Telemetry API does; "
        "the demo lost events",
    ),
    (
        EXIT_USAGE,
        "a usage or configuration mistake, found before anything was sent: bad flags, "
        "unreadable input, a setting validate() refuses, telemetry disabled",
    ),
    (
        EXIT_UNREACHABLE,
        "the server could not be reached or could not take the request now (no answer, "
        "timeout, HTTP 408/429/5xx) and nothing was delivered: try again later",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
"""The exit statuses of every command (README.md shows this same table)."""

REQUEST_TIMEOUT_S = 10.0
"""The most one request waits; ``--timeout`` lowers it, never raises it."""

PACKAGE_LOGGER = __name__.split(".cli.")[0]
"""The library's logger name (``mosaic_telemetry``, or the vendored copy's)."""

_HTML_START = re.compile(r"<(?:!doctype|html|head|body|title|h1|center|p|div)\b", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<(title|h1)[^>]*>(?P<text>[^<]*)", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]*>?")
_MAX_LINE = 300


class CliError(Exception):
    """A failure reported as one line on stderr, with its exit status."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def usage_error(message: str) -> NoReturn:
    """Stop the command: a user mistake (exit 2)."""
    raise CliError(message, EXIT_USAGE)


def say(message: str, stream: TextIO | None = None) -> None:
    """Print one line to stdout (or ``stream``) at once."""
    print(message, file=sys.stdout if stream is None else stream, flush=True)


def plain(text: object) -> str:
    """``text`` as one short line: an HTML page summarised by its title, never dumped."""
    line = " ".join(str(text).split())
    html = _HTML_START.search(line)
    if html:
        page = line[html.start() :]
        title = _HTML_TITLE.search(page)
        words = title["text"] if title else _HTML_TAG.sub(" ", page)
        words = " ".join(words.split())[:80]
        line = line[: html.start()] + (f"an HTML page ({words})" if words else "an HTML page")
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."


def error_line(message: str) -> None:
    """Print ``message`` as the command's one error line on stderr."""
    print(f"{PROG}: error: {plain(message)}", file=sys.stderr, flush=True)


class StderrLines(logging.Handler):
    """Shows the client's records on stderr, one plain line each."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            say(f"{PROG}: {plain(record.getMessage())}", sys.stderr)
        except Exception:
            self.handleError(record)


def positive_float(text: str) -> float:
    """argparse type: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of every command that talks to a server."""
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
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="time limit of the whole command, retries included (default: none; "
        f"each request waits at most {REQUEST_TIMEOUT_S:g} s and is retried up to 3 times)",
    )


def deadline_of(args: argparse.Namespace) -> float | None:
    """The command's deadline on the monotonic clock, counted from its start; None: no limit."""
    timeout: float | None = getattr(args, "timeout", None)
    if timeout is None:
        return None
    started: float = getattr(args, "started", None) or time.monotonic()
    return started + timeout


def remaining_s(deadline: float | None, default: float) -> float:
    """Seconds left before ``deadline`` (0 when it passed), or ``default`` without one."""
    if deadline is None:
        return default
    return max(0.0, deadline - time.monotonic())


def config_from(args: argparse.Namespace, *, instance_id: str = "") -> TelemetryConfig:
    """Flags first, then the environment (``TelemetryConfig`` reads it for empty fields)."""
    timeout: float | None = getattr(args, "timeout", None)
    config = TelemetryConfig(
        server_url=args.server_url,
        api_key=args.api_key,
        instance_id=args.instance_id,
        ca_file=args.ca_file,
        request_timeout_seconds=min(REQUEST_TIMEOUT_S, timeout or REQUEST_TIMEOUT_S),
    )
    if not config.instance_id and instance_id:
        config.instance_id = instance_id
    return config


def require_usable(config: TelemetryConfig) -> None:
    """Stop with one line (exit 2) when the settings can't be used to send anything."""
    problems = config.validate()
    if problems:
        usage_error("; ".join(problems))
    if not config.enabled:
        usage_error(f"telemetry is disabled by {ENV_PREFIX}ENABLED; nothing was sent")


def add_spool_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--spool-dir`` (persist first, then send ``what`` within --timeout)."""
    parser.add_argument(
        "--spool-dir",
        default="",
        metavar="DIR",
        help=f"persist {what} to this spool first, then send them (and what earlier "
        "runs left) within --timeout; the rest waits there "
        f"(default: {ENV_PREFIX}SPOOL_DIR)",
    )


def apply_spool_dir(args: argparse.Namespace, config: TelemetryConfig, *, sending: bool) -> None:
    """Give ``config`` the --spool-dir; an unsafe directory is a usage mistake (exit 2)."""
    if getattr(args, "spool_dir", ""):
        config.spool_dir = args.spool_dir
    if config.spool_dir and sending and os.path.exists(config.spool_dir):
        from .._spool_dir import directory_problem  # noqa: PLC0415  # only with a spool

        problem = directory_problem(config.spool_dir)
        if problem:
            usage_error(problem)
