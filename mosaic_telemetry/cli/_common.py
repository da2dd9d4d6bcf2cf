"""What every command shares: errors and exit codes, output helpers, the server flags."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import NoReturn, TextIO

from ..config import ENV_PREFIX, TelemetryConfig

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PACKAGE_LOGGER",
    "PROG",
    "CliError",
    "StderrLines",
    "add_client_flags",
    "config_from",
    "error_line",
    "positive_float",
    "require_usable",
    "say",
    "usage_error",
]

PROG = "mosaic-telemetry"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PACKAGE_LOGGER = __name__.split(".cli.")[0]
"""The library's logger name (``mosaic_telemetry``, or the vendored copy's)."""


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


def error_line(message: str) -> None:
    """Print ``message`` as the command's one error line on stderr."""
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


class StderrLines(logging.Handler):
    """Shows the client's warnings (a rejected event's reason, a refused batch) on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            say(f"{PROG}: {record.getMessage()}", sys.stderr)
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
        default=10.0,
        metavar="SECONDS",
        help="request timeout (default: 10)",
    )


def config_from(args: argparse.Namespace, *, instance_id: str = "") -> TelemetryConfig:
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


def require_usable(config: TelemetryConfig) -> None:
    """Stop with one line when the settings can't be used to send anything."""
    problems = config.validate()
    if problems:
        usage_error("; ".join(problems))
    if not config.enabled:
        raise CliError(f"telemetry is disabled by {ENV_PREFIX}ENABLED; nothing was done")
