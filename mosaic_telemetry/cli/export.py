"""``export``: every stored event (or the filtered ones) as JSON lines or CSV, streamed."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from typing import IO

from ._common import EXIT_OK, PROG, say, usage_error
from .events import add_filter_flags, event_filter, open_store

__all__ = ["FORMATS", "NEEDS", "register"]

NEEDS = ("collector",)
FORMATS = ("jsonl", "csv")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``export`` command to the parser."""
    export = commands.add_parser(
        "export", help="write stored events as JSON lines or CSV, oldest first"
    )
    add_filter_flags(export)
    export.add_argument(
        "--format", default="jsonl", metavar="FORMAT", help="jsonl (default) or csv"
    )
    export.add_argument(
        "--output", default="-", metavar="FILE", help="file to write (default: -, stdout)"
    )
    export.set_defaults(handler=run)


def _jsonl_writer(out: IO[str]) -> Callable[[dict[str, object]], None]:
    import json  # noqa: PLC0415

    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def write(event: dict[str, object]) -> None:
        out.write(encoder.encode(event))
        out.write("\n")

    return write


def _csv_writer(out: IO[str]) -> Callable[[dict[str, object]], None]:
    import csv  # noqa: PLC0415
    import dataclasses  # noqa: PLC0415

    from ..models import TaskCompletionEvent  # noqa: PLC0415

    names = [f.name for f in dataclasses.fields(TaskCompletionEvent)]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*names, "received_at"])

    def cell(value: object) -> object:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ",".join(str(item) for item in value)
        return "" if value is None else value

    def write(event: dict[str, object]) -> None:
        writer.writerow([cell(event[name]) for name in names] + [event["received_at"]])

    return write


def _write(rows: Iterable[tuple[object, ...]], out: IO[str], form: str) -> int:
    from ..collector._schema import RECEIVED_AT, wire_of_row  # noqa: PLC0415

    write = _csv_writer(out) if form == "csv" else _jsonl_writer(out)
    count = 0
    for row in rows:
        event = wire_of_row(row)
        if form == "csv":
            event["received_at"] = row[RECEIVED_AT]
        write(event)
        count += 1
    return count


def run(args: argparse.Namespace) -> int:
    """Stream the events, oldest first, into the output; a summary line goes to stderr.

    A file is written beside its final name and renamed at the end, so an
    interrupted export never leaves a half file under that name.
    """
    from ..collector._reads import select_events  # noqa: PLC0415

    if args.format not in FORMATS:
        usage_error(f"--format must be jsonl or csv, got {args.format!r}")
    where = event_filter(args)
    with open_store(args) as conn:
        rows = select_events(conn, where)
        if args.output == "-":
            count = _write(rows, sys.stdout, args.format)
            sys.stdout.flush()
        else:
            count = _to_file(rows, args.output, args.format)
    say(f"{PROG}: exported {count} events to {args.output}", sys.stderr)
    return EXIT_OK


def _to_file(rows: Iterable[tuple[object, ...]], target: str, form: str) -> int:
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        usage_error(f"--output {target!r}: no directory {directory!r}")
    handle, partial = tempfile.mkstemp(prefix=".export-", dir=directory)
    try:
        with open(handle, "w", encoding="utf-8", newline="", buffering=1024 * 1024) as out:
            count = _write(rows, out, form)
        os.replace(partial, target)
    except BaseException:
        try:
            os.unlink(partial)
        except OSError:
            pass
        raise
    return count
