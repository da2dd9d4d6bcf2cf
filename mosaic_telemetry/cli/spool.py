"""``spool status`` and ``spool purge``: what a spool directory holds, and emptying it."""

from __future__ import annotations

import argparse

from .._spool_admin import SpoolStatus, inspect_spool, purge_spool
from .._spool_dir import SpoolDirectoryError
from ..config import ENV_PREFIX, TelemetryConfig
from ._common import EXIT_OK, say, usage_error

__all__ = ["NEEDS", "register"]

NEEDS: tuple[str, ...] = ()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``spool`` command (``status``, ``purge``) to the parser."""
    spool = commands.add_parser("spool", help="show or empty the durable spool of unsent events")
    actions = spool.add_subparsers(dest="spool_action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="count the segments and unsent events")
    status.set_defaults(handler=run_status)
    purge = actions.add_parser("purge", help="delete every unsent event no live process holds")
    purge.set_defaults(handler=run_purge)
    for parser in (status, purge):
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
