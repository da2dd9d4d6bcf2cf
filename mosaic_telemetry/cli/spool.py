"""``spool status``, ``drain`` and ``purge``: what a spool holds, sending it, emptying it."""

from __future__ import annotations

import argparse

from .._spool_admin import SpoolStatus, inspect_spool, purge_spool
from .._spool_dir import SpoolDirectoryError
from ..config import ENV_PREFIX, TelemetryConfig
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    add_client_flags,
    config_from,
    deadline_of,
    remaining_s,
    require_usable,
    say,
    usage_error,
)

__all__ = ["NEEDS", "register"]

NEEDS: tuple[str, ...] = ()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``spool`` command (``status``, ``drain``, ``purge``) to the parser."""
    spool = commands.add_parser("spool", help="show or empty the durable spool of unsent events")
    actions = spool.add_subparsers(dest="spool_action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="count the segments and unsent events")
    status.set_defaults(handler=run_status)
    drain = actions.add_parser(
        "drain", help="send what the spool holds, oldest first, within --timeout"
    )
    drain.set_defaults(handler=run_drain)
    add_client_flags(drain)
    purge = actions.add_parser("purge", help="delete every unsent event no live process holds")
    purge.set_defaults(handler=run_purge)
    for parser in (status, drain, purge):
        parser.add_argument(
            "--spool-dir",
            default="",
            metavar="DIR",
            help=f"the spool directory (default: {ENV_PREFIX}SPOOL_DIR)",
        )
        parser.add_argument(  # as on every command: -v before or after it
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="log details (and tracebacks) to stderr",
        )


def _directory(args: argparse.Namespace) -> str:
    directory: str | None = args.spool_dir or TelemetryConfig().spool_dir
    if not directory:
        usage_error(f"no spool directory: give --spool-dir or set {ENV_PREFIX}SPOOL_DIR")
    return directory


def run_status(args: argparse.Namespace) -> int:
    """Print the totals, then one line per segment."""
    try:
        status = inspect_spool(_directory(args))
    except SpoolDirectoryError as exc:
        usage_error(str(exc))
    for line in status_lines(status):
        say(line)
    return EXIT_OK


def status_lines(status: SpoolStatus) -> list[str]:
    """The lines ``spool status`` prints for ``status``."""
    if not status.exists:
        return [f"spool: {status.directory} does not exist: nothing is spooled"]
    live = sum(segment.live for segment in status.segments)
    damaged = sum(segment.damaged for segment in status.segments)
    lines = [
        f"spool: {status.directory}",
        f"segments: {len(status.segments)} ({live} written or claimed by a live process), "
        f"{status.size} bytes",
        f"unsent events: {status.unsent}",
        f"damaged records: {damaged} in segments, {status.quarantined} quarantined",
    ]
    if not status.locks:
        lines.append("note: no file locks on this system: live segments are not told apart")
    for segment in status.segments:
        state = "live" if segment.live else "free"
        lines.append(
            f"  {segment.name}  {state}  {segment.size} bytes  {segment.unsent} unsent  "
            f"{segment.settled} settled  {segment.damaged} damaged"
        )
    return lines


def run_purge(args: argparse.Namespace) -> int:
    """Delete what can be deleted; say what was deleted and what was kept."""
    directory = _directory(args)
    try:
        result = purge_spool(directory)
    except SpoolDirectoryError as exc:
        usage_error(str(exc))
    say(
        f"purged {directory}: {result.segments} segment(s) with {result.unsent} unsent "
        f"event(s), {result.quarantined} quarantined record(s)"
    )
    if result.kept_live:
        say(f"kept {result.kept_live} segment(s) in use by a live process")
    return EXIT_OK


_DRAIN_S = 3600.0
"""Without --timeout a drain ends when the spool is empty or the server stops taking events."""


def run_drain(args: argparse.Namespace) -> int:
    """Send every unsent event of the spool (no live process holds); say what is left."""
    directory = _directory(args)
    deadline = deadline_of(args)
    try:
        before = inspect_spool(directory)
    except SpoolDirectoryError as exc:
        usage_error(str(exc))
    if not before.exists:
        say(f"spool: {before.directory} does not exist: nothing to send")
        return EXIT_OK
    config = config_from(args)
    config.spool_dir = directory
    if not config.instance_id:  # events carry their own; the config needs one
        config.instance_id = "00000000-0000-0000-0000-000000000000"
    require_usable(config)
    from ..client import TelemetryClient  # noqa: PLC0415  # only when sending

    client = TelemetryClient(config)  # never started: flush() sends on this thread
    try:
        client.flush(timeout=remaining_s(deadline, _DRAIN_S))
    finally:
        client.stop(timeout=0)  # what is left stays in the spool
    stats = client.stats
    left = inspect_spool(directory).unsent
    say(
        f"drained {before.directory}: {stats.sent} accepted, {stats.rejected} rejected, "
        f"{stats.dropped_errors} refused, {left} left in the spool ({config.server_url})"
    )
    if stats.spool_errors:
        say(f"spool: could not be used: {stats.last_error or 'see -v'}")
        return EXIT_FAILED
    if stats.rejected or stats.dropped_errors:
        return EXIT_FAILED
    if left:
        return EXIT_UNREACHABLE if stats.sent == 0 else EXIT_FAILED
    return EXIT_OK
