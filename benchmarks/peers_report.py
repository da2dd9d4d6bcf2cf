"""The Markdown of benchmarks/peers.py: medians per client, ratios to mosaic_telemetry, notes."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from _util import Figure, fmt
from peers_clients import OURS, PEERS
from peers_groups import BARE, OWN_COLLECTOR, Results

COLUMNS = (
    ("import_ms", "import, ms"),
    ("track_us", "track() per call, µs CPU"),
    ("bytes_per_event", "bytes per queued event"),
    ("e2e_events_per_s", "end to end, events/s (higher is better)"),
    ("e2e_cpu_us", "client CPU per event, µs"),
    ("cold_delivered_ms", "cold start to delivered, ms"),
    ("cold_ms", "cold start to exit, ms"),
    ("shutdown_dead_s", "shutdown, dead server, s"),
    ("shutdown_hanging_s", "shutdown, hanging server, s"),
)


def medians(results: Results) -> dict[str, dict[str, float]]:
    """Median of every figure per client; import time net of the bare interpreter."""
    out = {
        figure: {key: statistics.median(values) for key, values in per_key.items()}
        for figure, per_key in results.samples.items()
    }
    imports = out.get("import_ms", {})
    bare = imports.pop(BARE, None)
    if bare is not None:
        out["import_ms"] = {key: value - bare for key, value in imports.items()}
        out["import_bare_ms"] = {BARE: bare}
    return out


def _all_notes(results: Results, keys: Sequence[str]) -> dict[str, dict[str, str]]:
    """The groups' notes, plus lost events, slow exits and calls to other hosts."""
    notes = {figure: dict(per_key) for figure, per_key in results.notes.items()}
    tracked = results.extra.get("e2e_events", {})
    for key, delivered in results.samples.get("e2e_delivered", {}).items():
        worst = min(delivered)
        if worst != tracked.get(key):
            notes.setdefault("e2e_events_per_s", {})[key] = (
                f"{fmt(worst)} of {fmt(tracked.get(key, 0))} events arrived (worst run)"
            )
    for scenario in ("dead", "hanging"):
        for key, values in results.samples.get(f"exit_{scenario}_s", {}).items():
            exit_s = statistics.median(values)
            if exit_s > 2.0:  # ten processes ending at once on a busy machine take ~1 s
                figure = f"shutdown_{scenario}_s"
                before = notes.get(figure, {}).get(key)
                text = f"then {exit_s:.1f} s more at interpreter exit"
                notes.setdefault(figure, {})[key] = f"{before}; {text}" if before else text
    for key, targets in results.extra.get("phoned_home", {}).items():
        notes.setdefault("import_ms", {})[key] = f"tried other hosts: {', '.join(targets)}"
    return {f: {k: v for k, v in per.items() if k in keys} for f, per in notes.items()}


def _ratio(value: float, ours: float) -> str:
    ratio = value / ours
    if ratio < 0.01:
        return "\u00d7<0.01"
    return f"\u00d7{ratio:.0f}" if ratio >= 100 else f"\u00d7{ratio:.2f}"


def _cell(value: float | None, bound: float | None, ours: float | None, note_mark: str) -> str:
    if value is None and bound is not None:
        return f"> {fmt(bound)}" + (f" (> {_ratio(bound, ours)})" if ours else "") + note_mark
    if value is None:
        return f"n/a{note_mark}"
    return fmt(value) + (f" ({_ratio(value, ours)})" if ours else "") + note_mark


def table(results: Results, keys: Sequence[str]) -> str:
    """One row per client, one column per figure, medians and ratios to ours; notes below."""
    values = medians(results)
    notes = _all_notes(results, keys)
    censored = results.extra.get("censored", {})
    marks: list[str] = []
    head = ["client", "what is called", *(label for _, label in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "| --- | --- |" + " ---: |" * len(COLUMNS)]
    for key in keys:
        name = PEERS[key].name
        cells = [f"**{name}**" if key == OURS else name, PEERS[key].call]
        for figure, _ in COLUMNS:
            column = values.get(figure, {})
            mark = ""
            note = notes.get(figure, {}).get(key)
            if note:
                marks.append(f"{name}, {dict(COLUMNS)[figure]}: {note}")
                mark = f" [{len(marks)}]"
            value = column.get(key)
            ours = None if key == OURS else column.get(OURS)
            cells.append(_cell(value, censored.get(figure, {}).get(key), ours, mark))
        lines.append("| " + " | ".join(cells) + " |")
    if marks:
        lines.append("")
        lines.extend(f"[{i}] {text}" for i, text in enumerate(marks, 1))
    return "\n".join(lines)


def context_lines(results: Results) -> list[str]:
    """The reference points the figures stand on: bare interpreter, our own collector."""
    values = medians(results)
    out = []
    bare_import = values.get("import_bare_ms", {}).get(BARE)
    cold = values.get("cold_ms", {})
    if bare_import is not None:
        out.append(
            f"- A bare `python -I` with the checkout on `sys.path` takes {fmt(bare_import)} ms; "
            "the import column is each client's wall time minus that."
        )
    if BARE in cold:
        out.append(
            f"- Cold start of a bare `python -I -c pass`: {fmt(cold[BARE])} ms (included in "
            "every cold-start figure)."
        )
    if OWN_COLLECTOR in cold and OURS in cold:
        out.append(
            f"- Cold start of {OURS} to its own local collector (`python -m mosaic_telemetry "
            f"serve --port 0`) instead of the sink: {fmt(cold[OWN_COLLECTOR])} ms "
            f"(\u00d7{cold[OWN_COLLECTOR] / cold[OURS]:.2f} of the sink figure)."
        )
    events = results.extra.get("e2e_events", {})
    if events:
        counts = sorted(set(events.values()))
        small = (
            [PEERS[k].name for k, n in events.items() if n == counts[0]] if len(counts) > 1 else []
        )
        out.append(
            f"- End to end: {fmt(counts[-1])} events per run"
            + (
                f" ({fmt(counts[0])} for {', '.join(small)}: one request per event)"
                if small
                else ""
            )
            + "."
        )
    return out


def versions_line(versions: dict[str, str], ours: str) -> str:
    """``name version`` for every package measured, ours first."""
    parts = [f"mosaic_telemetry {ours}"]
    parts.extend(f"{name} {version or '(missing)'}" for name, version in versions.items())
    return ", ".join(parts)


def speed_lines(speed: Sequence[Figure]) -> list[str]:
    """The machine-speed reference (benchmarks/run.py's), one line per time it was taken."""
    return [
        f"- {f.label}: {fmt(f.summary.median)} {f.unit} "
        f"({fmt(f.summary.minimum)} - {fmt(f.summary.maximum)})"
        for f in speed
    ]


def render(
    results: Results,
    keys: Sequence[str],
    *,
    header: str,
    versions: dict[str, str],
    ours_version: str,
    speed: Sequence[Figure],
) -> str:
    """The whole report: header, table, notes, reference points, versions, machine speed."""
    parts: list[Any] = [header, "", table(results, keys), ""]
    parts.extend(context_lines(results))
    parts.extend(["", f"Versions: {versions_line(versions, ours_version)}.", ""])
    if speed:
        slowest = max(f.summary.median for f in speed)
        fastest = min(f.summary.median for f in speed)
        parts.append(
            "Machine speed (`uuid.uuid4()` per call, benchmarks/run.py's reference row; "
            f"1.4 µs at this machine's usual speed, so {fastest / 1.4:.1f}x to "
            f"{slowest / 1.4:.1f}x slower during this run):"
        )
        parts.extend(speed_lines(speed))
    return "\n".join(str(p) for p in parts)
