"""``events``: the latest events a collector stored, read from its database, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager

from ..enums import Complexity, Provider, TaskType
from ._common import EXIT_OK, say, usage_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

    from ..collector._reads import EventFilter

__all__ = ["DEFAULT_LIMIT", "NEEDS", "add_filter_flags", "event_filter", "open_store", "register"]

NEEDS = ("collector",)
DEFAULT_LIMIT = 20
_MAX_LIMIT = 1_000_000
_CHOICES = {
    "task_type": [t.value for t in TaskType],
    "provider": [p.value for p in Provider],
    "complexity": [c.value for c in Complexity],
}


def add_filter_flags(parser: argparse.ArgumentParser) -> None:
    """``--db`` and the filters shared by ``events`` and ``export``."""
    parser.add_argument("--db", default="", help="the sqlite file that serve --db writes")
    group = parser.add_argument_group("filters", "each one narrows the events; all are optional")
    group.add_argument("--task-type", help="one of " + ", ".join(_CHOICES["task_type"]))
    group.add_argument("--model", help="model identifier, exactly")
    group.add_argument("--provider", help="one of " + ", ".join(_CHOICES["provider"]))
    group.add_argument("--complexity", help="one of " + ", ".join(_CHOICES["complexity"]))
    group.add_argument(
        "--since", metavar="TIME", help="events at or after TIME (RFC 3339, or a date: UTC)"
    )
    group.add_argument("--until", metavar="TIME", help="events before TIME (same forms)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``events`` command to the parser."""
    events = commands.add_parser("events", help="show the latest events a collector stored")
    add_filter_flags(events)
    events.add_argument(
        "--limit",
        default=str(DEFAULT_LIMIT),
        metavar="N",
        help=f"how many of the latest events (default: {DEFAULT_LIMIT})",
    )
    events.add_argument("--json", action="store_true", help="print JSON lines (wire format)")
    events.set_defaults(handler=run)


def _instant(flag: str, text: str | None) -> str | None:
    if text is None:
        return None
    from .._validation import parse_datetime  # noqa: PLC0415
    from ..collector._schema import utc_text  # noqa: PLC0415

    try:
        return utc_text(parse_datetime(text))
    except (ValueError, OverflowError):
        usage_error(f"{flag} must be an RFC 3339 time or a date (2026-11-24), got {text!r}")


def event_filter(args: argparse.Namespace) -> EventFilter:
    """The filter the flags describe; a bad value stops the command with one line."""
    from ..collector._reads import EventFilter  # noqa: PLC0415

    equal: dict[str, str] = {}
    for name in ("task_type", "model", "provider", "complexity"):
        value = getattr(args, name)
        if value is None:
            continue
        choices = _CHOICES.get(name)
        if choices is not None and value not in choices:
            flag = "--" + name.replace("_", "-")
            usage_error(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
        equal[name] = value
    since, until = _instant("--since", args.since), _instant("--until", args.until)
    if since is not None and until is not None and since >= until:
        usage_error(f"--since ({args.since}) must be before --until ({args.until})")
    return EventFilter(equal=equal, since=since, until=until)


@contextmanager
def open_store(args: argparse.Namespace) -> Iterator[sqlite3.Connection]:
    """The database of ``--db``, read-only, in one read transaction (one snapshot)."""
    from ..collector._reads import open_readonly  # noqa: PLC0415

    if not args.db:
        usage_error("--db is required: the sqlite file that serve --db writes")
    conn = open_readonly(args.db)
    try:
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= _MAX_LIMIT:
        usage_error(f"--limit must be a whole number from 1 to {_MAX_LIMIT}, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Print the latest events, newest first; a note on stderr when there are none."""
    from ..collector._reads import select_events  # noqa: PLC0415
    from ..collector._schema import wire_of_row  # noqa: PLC0415

    limit = _limit(args.limit)
    where = event_filter(args)
    with open_store(args) as conn:
        rows = list(select_events(conn, where, limit=limit, newest_first=True))
    if args.json:
        for row in rows:
            say(json.dumps(wire_of_row(row), ensure_ascii=False, separators=(",", ":")))
        return EXIT_OK
    say(_table(rows))
    return EXIT_OK


_HEADER = (
    "timestamp (UTC)",
    "task type",
    "model",
    "provider",
    "complexity",
    "outcome",
    "tokens in",
    "tokens out",
    "cost",
    "duration",
    "event_id",
)


def _table(rows: list[tuple[object, ...]]) -> str:
    from ..collector._http_io import escape_controls  # noqa: PLC0415
    from ..collector._schema import wire_of_row  # noqa: PLC0415

    body: list[list[str]] = []
    for row in rows:
        event = wire_of_row(row)
        body.append(
            [
                str(event["timestamp"])[:19].replace("T", " "),
                str(event["task_type"]),
                escape_controls(str(event["model"])),
                str(event["provider"]),
                str(event["complexity"]),
                str(event["outcome"]),
                f"{event['actual_input_tokens']:,}",
                f"{event['actual_output_tokens']:,}",
                f"${event['actual_cost_usd_micros'] / 1_000_000:.4f}",
                f"{event['task_duration_ms'] / 1000:.1f} s",
                str(event["event_id"]),
            ]
        )
    if not body:
        return "no stored events match"
    widths = [max(len(r[i]) for r in [list(_HEADER), *body]) for i in range(len(_HEADER))]
    numeric = {6, 7, 8, 9}

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(list(_HEADER)), rule, *(line(cells) for cells in body)])
