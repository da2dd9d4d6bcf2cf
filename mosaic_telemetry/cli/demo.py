"""``demo``: a collector and a client in this process, synthetic events, a prediction table."""

from __future__ import annotations

import argparse

from ._common import EXIT_FAILED, EXIT_OK, say
from ._format import LEVEL_LEGEND, prediction_table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._demo_run import DemoReport

__all__ = ["NEEDS", "register"]

NEEDS = ("collector",)
_MAX_DEMO_EVENTS = 100_000


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command to the parser."""
    demo = commands.add_parser(
        "demo", help="run a collector and a client in-process; print predictions"
    )
    demo.add_argument(
        "--events", type=_event_count, default=500, help="synthetic events (default: 500)"
    )
    demo.add_argument("--seed", type=int, default=20261124, help="random seed (default: fixed)")
    demo.set_defaults(handler=run)


def _event_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= _MAX_DEMO_EVENTS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {_MAX_DEMO_EVENTS}, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 1 unless every event was accepted and stored."""
    from ._demo_run import run_demo  # noqa: PLC0415  # the collector loads on demand

    report = run_demo(args.events, seed=args.seed)
    _print_demo(report)
    stats = report.stats
    complete = stats.sent == report.events_tracked == report.events_stored
    return EXIT_OK if complete else EXIT_FAILED


def _print_demo(report: DemoReport) -> None:
    stats = report.stats
    say(
        f"demo: {report.events_tracked} synthetic events, sent by a TelemetryClient to a "
        f"collector at {report.url}"
    )
    say("")
    say(prediction_table(report.predictions))
    say(LEVEL_LEGEND)
    say("")
    say(
        f"demo: {report.events_tracked} events tracked, {stats.sent} accepted, "
        f"{stats.rejected} rejected, {report.events_stored} stored, "
        f"{len(report.predictions)} predictions, in {report.elapsed_s:.2f} s"
    )
