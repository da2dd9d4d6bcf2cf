"""``ingest``: turn a harness's output file into events and send them (or print them)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    PACKAGE_LOGGER,
    PROG,
    REQUEST_TIMEOUT_S,
    StderrLines,
    add_client_flags,
    add_spool_flag,
    apply_spool_dir,
    config_from,
    require_usable,
    say,
    usage_error,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

    from ..adapters import PriceTable
    from ..config import TelemetryConfig
    from ..models import TaskCompletionEvent

__all__ = ["FORMAT_NAMES", "NEEDS", "PRICES_ENV", "price_table", "register"]

NEEDS = ("adapters",)
FORMAT_NAMES = (
    "claude-result",
    "claude-transcript",
    "codex-exec",
    "codex-rollout",
    "aider-analytics",
)
"""The formats ``ingest`` reads (the keys of ``adapters.FORMATS``)."""
PRICES_ENV = "MOSAIC_TELEMETRY_PRICES_FILE"
_CHUNK = 500  # events sent per flush: memory stays flat on a large file


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``ingest`` command to the parser."""
    ingest = commands.add_parser(
        "ingest", help="read a harness's output (Claude Code, Codex, aider) and send its tasks"
    )
    ingest.add_argument(
        "format", choices=FORMAT_NAMES, metavar="FORMAT", help=", ".join(FORMAT_NAMES)
    )
    ingest.add_argument("source", metavar="FILE", help="the harness's output file; - for stdin")
    ingest.add_argument(
        "--dry-run", action="store_true", help="print the events as JSON lines instead of sending"
    )
    ingest.add_argument(
        "--model", default=None, help="model to name when the input names none (codex-exec)"
    )
    ingest.add_argument(
        "--prices", default=None, metavar="FILE", help=f"price override file (or {PRICES_ENV})"
    )
    ingest.add_argument(
        "--no-subagents",
        action="store_true",
        help="do not read a Claude Code transcript's subagents/ files",
    )
    add_spool_flag(ingest, "the tasks")
    add_client_flags(ingest)
    ingest.set_defaults(handler=run)


def price_table(path: str | None) -> PriceTable:
    """The built-in prices, or the file's rows added to them (exit 2 on a bad file)."""
    from ..adapters import PriceFileError, PriceTable  # noqa: PLC0415

    chosen = path or os.environ.get(PRICES_ENV) or None
    if chosen is None:
        return PriceTable.default()
    try:
        return PriceTable.from_file(chosen)
    except PriceFileError as exc:
        usage_error(str(exc))


def run(args: argparse.Namespace) -> int:
    """Read the whole input; send (or print) one event per finished task."""
    from .._validation import Invalid, to_uuid  # noqa: PLC0415
    from ..adapters import EventFactory, Notes, read_tasks  # noqa: PLC0415

    prices = price_table(args.prices)
    config = config_from(args)
    apply_spool_dir(args, config, sending=not args.dry_run)
    try:
        instance_id = to_uuid(config.instance_id)
    except Invalid:
        usage_error(
            "ingest needs --instance-id or MOSAIC_TELEMETRY_INSTANCE_ID (a UUID), "
            f"got {str(config.instance_id)[:60]!r}"
        )
    if not args.dry_run:
        require_usable(config)
    source, label, default_time = _source(args.source)
    notes = Notes()
    factory = EventFactory(instance_id, prices, notes, default_time=default_time)
    tasks = read_tasks(
        args.format, source, notes, model=args.model, subagents=not args.no_subagents
    )
    sender = None if args.dry_run else _Sender(args, config)
    total = 0
    chunk: list[TaskCompletionEvent] = []
    for task in tasks:
        event = factory.build(task)
        total += 1
        if sender is None:
            say(event.to_json())
            continue
        chunk.append(event)
        if len(chunk) >= _CHUNK:
            sender.send(chunk)
            chunk = []
    if sender is not None and chunk:
        sender.send(chunk)
    for message, times in notes.items():
        say(f"{PROG}: warning: {message}" + (f" ({times} times)" if times > 1 else ""), sys.stderr)
    recognised = notes.records > 0 or notes.lines == 0
    if not recognised:
        say(f"{PROG}: {label} has no {args.format} records ({notes.lines} line(s))", sys.stderr)
    if sender is None:
        say(f"{PROG}: {total} event(s) from {label} ({notes.lines} line(s)), not sent", sys.stderr)
        return EXIT_OK if recognised else EXIT_FAILED
    return sender.finish(total, label, notes.lines, recognised)


def _source(name: str) -> tuple[Path | IO[bytes], str, datetime]:
    """The input, its label, and the time given to events the input does not date."""
    if name == "-":
        return sys.stdin.buffer, "stdin", datetime.now(timezone.utc)
    path = Path(name)
    if not path.is_file():
        usage_error(f"cannot read {name}: no such file")
    return path, name, datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


class _Sender:
    """One client for the whole run; each chunk is flushed before the next is read."""

    def __init__(self, args: argparse.Namespace, config: TelemetryConfig) -> None:
        from ..client import TelemetryClient  # noqa: PLC0415

        config.max_queue_size = max(config.max_queue_size, 2 * _CHUNK)
        self._timeout = (args.timeout or REQUEST_TIMEOUT_S) * (config.max_retries + 2)
        self._handler: logging.Handler = StderrLines(logging.WARNING if not args.verbose else 100)
        logging.getLogger(PACKAGE_LOGGER).addHandler(self._handler)
        self._client = TelemetryClient(config)
        self._config = config

    def send(self, events: list[TaskCompletionEvent]) -> None:
        for event in events:
            self._client.track(event)
        if self._config.spool_dir:
            self._client.persist()  # on disk first: a kill or a dead server loses nothing
        self._client.flush(timeout=self._timeout)

    def finish(self, total: int, label: str, lines: int, recognised: bool) -> int:
        client = self._client
        client.stop(timeout=1.0)
        logging.getLogger(PACKAGE_LOGGER).removeHandler(self._handler)
        stats = client.stats
        kept = stats.spooled if self._config.spool_dir else 0
        undeliverable = max(0, total - stats.sent - stats.rejected - kept)
        in_spool = f", {kept} kept in the spool for the next run" if kept else ""
        say(
            f"ingested {total} event(s) from {label} ({lines} line(s)) to "
            f"{self._config.server_url}: {stats.sent} accepted, {stats.rejected} rejected, "
            f"{undeliverable} undeliverable{in_spool}"
        )
        if undeliverable and stats.last_error:
            say(f"{PROG}: last error: {stats.last_error}", sys.stderr)
        ok = recognised and stats.sent + kept == total  # kept on disk: sent next run
        return EXIT_OK if ok else EXIT_FAILED
