"""``send``: events from a file or stdin, validated, sent through a TelemetryClient."""

from __future__ import annotations

import argparse
import logging
import sys

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    PACKAGE_LOGGER,
    PROG,
    CliError,
    StderrLines,
    add_client_flags,
    config_from,
    require_usable,
    say,
    usage_error,
)
from ._input import parse_events

__all__ = ["NEEDS", "register"]

NEEDS: tuple[str, ...] = ()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``send`` command to the parser."""
    send = commands.add_parser("send", help="send events from a file or stdin")
    send.add_argument(
        "source", help="file of a JSON object, a JSON array or JSON lines; - for stdin"
    )
    add_client_flags(send)
    send.set_defaults(handler=run)


def _read_source(source: str) -> tuple[str, str]:
    """Return ``(label, text)`` of a file path, or of stdin for ``-``."""
    if source == "-":
        return "stdin", sys.stdin.read()
    try:
        with open(source, encoding="utf-8") as handle:
            return source, handle.read()
    except UnicodeDecodeError:
        usage_error(f"cannot read {source}: not UTF-8 text")
    except OSError as exc:
        usage_error(f"cannot read {source}: {exc.strerror or exc}")


def run(args: argparse.Namespace) -> int:
    """Send every valid event; report accepted / rejected / undeliverable / invalid."""
    from ..client import TelemetryClient  # noqa: PLC0415

    label, text = _read_source(args.source)
    events, problems = parse_events(label, text)
    for problem in problems:
        say(f"{PROG}: invalid event: {problem}", sys.stderr)
    if not events:
        raise CliError(f"no valid event to send in {label}")
    config = config_from(args, instance_id=str(events[0].instance_id))
    config.max_queue_size = max(config.max_queue_size, len(events))
    require_usable(config)
    # --verbose already shows every record; otherwise show the client's warnings only.
    handler: logging.Handler = StderrLines(logging.WARNING if not args.verbose else 100)
    package_logger = logging.getLogger(PACKAGE_LOGGER)
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
    say(
        f"sent {len(events)} events to {config.server_url}: {stats.sent} accepted, "
        f"{stats.rejected} rejected, {undeliverable} undeliverable, "
        f"{len(problems)} invalid (not sent)"
    )
    if undeliverable and stats.last_error:
        say(f"{PROG}: last error: {stats.last_error}", sys.stderr)
    return EXIT_OK if not problems and stats.sent == len(events) else EXIT_FAILED
