"""``send``: events from a file or stdin, completed, checked, and sent as they are read."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ._common import (
    add_client_flags,
    add_spool_flag,
    apply_spool_dir,
    config_from,
    deadline_of,
    usage_error,
)
from ._input import EventFiller, InputError, read_items
from ._send_report import Outcome, Progress
from ._send_run import Delivery, timed_items

__all__ = ["NEEDS", "register"]

NEEDS: tuple[str, ...] = ()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``send`` command to the parser."""
    send = commands.add_parser(
        "send", help="send events (JSON lines, objects or an array) from a file or stdin"
    )
    send.add_argument(
        "source", help="file of JSON lines, JSON objects or one JSON array; - for stdin"
    )
    mode = send.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="print each request body (one JSON line per batch) to stdout; send nothing",
    )
    mode.add_argument("--validate", action="store_true", help="only check the events; send nothing")
    add_spool_flag(send, "the events")
    add_client_flags(send)
    send.set_defaults(handler=run)


def _open(source: str) -> tuple[str, Callable[[int], bytes], Callable[[], None]]:
    """``(label, read, close)`` of a file path, or of stdin for ``-``."""
    if source == "-":
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            usage_error("cannot read stdin: it is closed")
        # The file descriptor, not sys.stdin.buffer: a reading thread still blocked at
        # exit must not hold the buffer's lock, which the interpreter takes to close it.
        return "stdin", lambda size: os.read(fd, size), lambda: None
    try:
        handle = open(source, "rb")  # noqa: SIM115  # closed by the caller, in a finally
    except OSError as exc:
        usage_error(f"cannot read {source}: {exc.strerror or exc}")
    return source, handle.read1, handle.close


def _check_instance_id(instance_id: str) -> None:
    """A ``--instance-id`` (or env) value that is not a UUID is a usage mistake, found first."""
    if not instance_id:
        return
    from ..config import TelemetryConfig  # noqa: PLC0415

    problems = [
        p for p in TelemetryConfig(instance_id=instance_id).validate() if p.startswith("instance")
    ]
    if problems:
        usage_error(problems[0])


def mode_of(args: argparse.Namespace) -> str:
    """``send``, ``validate`` or ``dry-run``."""
    return "validate" if args.validate else "dry-run" if args.dry_run else "send"


def run(args: argparse.Namespace) -> int:
    """Read, complete and check every event; send, print or only count the valid ones."""
    config = config_from(args)
    apply_spool_dir(args, config, sending=mode_of(args) == "send")
    _check_instance_id(config.instance_id)
    fill_id = config.instance_id  # before Delivery gives the config a stand-in
    mode = mode_of(args)
    deadline = deadline_of(args)
    delivery = None
    if mode == "send":  # a usage error (exit 2) comes before anything is read
        delivery = Delivery(config, deadline, from_harness=args.source == "-")
    label, read, close = _open(args.source)
    outcome = Outcome(label, mode=mode)
    outcome.url = config.server_url
    filler = EventFiller(fill_id)
    progress = outcome.progress = Progress(outcome, delivery)
    # Stdin (or any deadline) is read on a thread, so a quiet harness can't hold back
    # the once-a-second send or the deadline.
    tick_s = None
    if delivery is not None and (args.source == "-" or deadline is not None):
        tick_s = delivery.next_wait_s()
    try:
        try:
            for item in timed_items(read_items(label, read), tick_s=tick_s):
                if delivery is not None:
                    if delivery.past_deadline():
                        outcome.stopped = f"the --timeout ran out before the end of {label}"
                        break
                    if delivery.gave_up:
                        outcome.stopped = "the server failed 3 sends in a row"
                        break
                    delivery.tick()
                if item is None:
                    continue
                event = outcome.check(item, filler, has_fill=bool(fill_id))
                if event is not None:
                    if delivery is not None:
                        delivery.track(event)
                    elif mode == "dry-run":
                        outcome.add_to_body(event, config.batch_size)
                progress.tick()
        except InputError as exc:
            outcome.stopped = str(exc)
            outcome.stopped_by_input = True
        finally:
            close()
        progress.clear()
        if mode == "dry-run":
            outcome.add_to_body(None, config.batch_size)
        if delivery is not None:
            delivery.finish(outcome)
    except KeyboardInterrupt:
        progress.clear()
        if delivery is not None:
            delivery.abandon(outcome)
        outcome.report()
        raise
    return outcome.report()
