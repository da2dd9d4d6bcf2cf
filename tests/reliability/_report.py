"""Figures of the reliability scenarios: written to JSON on request, rendered as a table.

Set ``MOSAIC_RELIABILITY_REPORT=<path>`` and every scenario adds its row to that
JSON file. ``python tests/reliability/_report.py <path>`` prints the Markdown
table of docs/reliability.md from it.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mosaic_telemetry import ClientStats

__all__ = ["COLUMNS", "ENV_VAR", "record", "render"]

ENV_VAR = "MOSAIC_RELIABILITY_REPORT"

COLUMNS = (
    ("tracked", "tracked"),
    ("delivered", "delivered"),
    ("rejected", "rejected"),
    ("dropped", "dropped"),
    ("retries", "retries"),
    ("seconds", "time (s)"),
)
"""Figures every row has, in table order; the rest go to the notes column."""

_lock = threading.Lock()


def record_run(
    scenario: str, command: str, stats: ClientStats, *, delivered: int, **figures: Any
) -> None:
    """:func:`record` with the client's own counts taken from ``stats``.

    ``dropped`` is the sum of every drop counter, so a row can't hide one.
    """
    record(
        scenario,
        command,
        tracked=stats.tracked,
        delivered=delivered,
        rejected=stats.rejected,
        dropped=stats.dropped_queue_full
        + stats.dropped_errors
        + stats.dropped_shutdown
        + stats.dropped_invalid
        + stats.dropped_feedback,
        retries=stats.retries,
        **({"unconfirmed": stats.unconfirmed} if stats.unconfirmed else {}),
        **figures,
    )


def record(scenario: str, command: str, **figures: Any) -> None:
    """Add (or replace) ``scenario``'s row in the report file, if one was asked for.

    Args:
        scenario: the row's name, as it appears in the table.
        command: the pytest node selection that reproduces it.
        figures: counts and times; floats are rounded to 3 decimals.
    """
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    row = {
        name: round(value, 3) if isinstance(value, float) else value
        for name, value in figures.items()
    }
    row["command"] = command
    with _lock:
        try:
            with open(path, encoding="utf-8") as handle:
                document: dict[str, Any] = json.load(handle)
        except (OSError, ValueError):
            document = {}
        document.setdefault(
            "environment",
            {
                "python": platform.python_version(),
                "implementation": platform.python_implementation(),
                "platform": platform.platform(terse=True),
                "cpus": os.cpu_count(),
            },
        )
        document.setdefault("scenarios", {})[scenario] = row
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


FAULT_PREFIX = "fault: "
"""Rows of the one-request fault table carry this prefix; they get a table of their own."""


def render(document: dict[str, Any], *, faults: bool = False) -> str:
    """The Markdown table of the recorded scenarios (or of the fault rows), in file order."""
    header = ["scenario", *(title for _, title in COLUMNS), "other figures", "reproduce"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    known = {name for name, _ in COLUMNS} | {"command"}
    for scenario, row in document.get("scenarios", {}).items():
        if scenario.startswith(FAULT_PREFIX) is not faults:
            continue
        extra = ", ".join(f"{k}={_cell(v)}" for k, v in sorted(row.items()) if k not in known)
        name = scenario.removeprefix(FAULT_PREFIX)
        cells = [name, *(_cell(row.get(column)) for column, _ in COLUMNS), extra or "-"]
        cells.append(f"`{row['command']}`")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the table of the report file named by ``argv[0]``."""
    if len(argv) != 1:
        print("usage: python tests/reliability/_report.py REPORT.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as handle:
        document = json.load(handle)
    env = document.get("environment", {})
    print(
        f"Measured on Python {env.get('python')} ({env.get('implementation')}), "
        f"{env.get('platform')}, {env.get('cpus')} CPUs.\n"
    )
    print("### Scenarios\n")
    print(render(document))
    print("\n### One request, every fault (30 events, 5 of them of model `bad`)\n")
    print(render(document, faults=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
