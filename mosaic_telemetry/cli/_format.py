"""Plain-text tables of predictions for the command line."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import PredictionQuery, PredictionResponse

__all__ = ["LEVEL_LEGEND", "compact", "prediction_row", "prediction_table", "terminal_width"]

LEVEL_LEGEND = (
    "level: 0 exact match, 1 complexity dropped, 2 model dropped too, 3 task type only, -1 no data"
)


def compact(number: int) -> str:
    if number >= 1_000_000:
        return f"{number / 1_000_000:.1f}M"
    if number >= 1_000:
        return f"{number / 1_000:.1f}k"
    return str(number)


def prediction_row(query: PredictionQuery, response: PredictionResponse | None) -> list[str]:
    label = " / ".join(query.key)
    if response is None:
        return [label, "-", "-", "unavailable", "-", "-", "-", "-"]
    meta = response.metadata
    data = response.prediction
    if data is None:
        return [label, str(meta.sample_size), str(meta.fallback_level), meta.confidence]
    tokens_in, tokens_out = data.input_tokens, data.output_tokens
    return [
        label,
        str(meta.sample_size),
        str(meta.fallback_level),
        meta.confidence,
        f"{compact(tokens_in.p10)}..{compact(tokens_in.p90)}",
        f"{compact(tokens_out.p10)}..{compact(tokens_out.p90)}",
        f"${data.cost_usd_micros['median'] / 1_000_000:.4f}",
        f"{data.quality.success_rate * 100:.0f}%",
    ]


_HEADER = (
    "query (task / model / provider / complexity)",
    "samples",
    "level",
    "confidence",
    "input p10..p90",
    "output p10..p90",
    "median cost",
    "success",
)


def terminal_width() -> int:
    """The terminal's width, or 100 columns when the output is not a terminal."""
    import shutil  # noqa: PLC0415

    return shutil.get_terminal_size(fallback=(100, 24)).columns


def prediction_table(
    rows: Sequence[tuple[PredictionQuery, PredictionResponse | None]], width: int | None = None
) -> str:
    """The predictions as a table no wider than ``width`` (default: the terminal, or 100).

    One line per query when that fits; otherwise each query's name on a line of its
    own, with its numbers on the line below.
    """
    limit = terminal_width() if width is None else width
    body = [prediction_row(query, response) for query, response in rows]
    body = [cells + ["-"] * (len(_HEADER) - len(cells)) for cells in body]
    wide = _columns([list(_HEADER), *body])
    if max(len(line) for line in wide) <= limit:
        return "\n".join(wide)
    numbers = _columns([list(_HEADER[1:]), *(c[1:] for c in body)], indent="  ", label=False)
    lines = [_HEADER[0], *numbers[:2]]
    for cells, row in zip(body, numbers[2:], strict=True):
        lines += [cells[0], row]
    return "\n".join(lines)


def _columns(table: list[list[str]], indent: str = "", *, label: bool = True) -> list[str]:
    """The header, a rule of dashes, then each row; right-aligned but a first ``label`` column."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]

    def line(cells: list[str]) -> str:
        parts = [cell.rjust(width) for cell, width in zip(cells, widths, strict=True)]
        if label:
            parts[0] = cells[0].ljust(widths[0])
        return (indent + "  ".join(parts)).rstrip()

    rule = indent + "  ".join("-" * width for width in widths)
    return [line(table[0]), rule, *(line(cells) for cells in table[1:])]
