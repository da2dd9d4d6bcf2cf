"""Plain-text tables of predictions for the command line."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import PredictionQuery, PredictionResponse

__all__ = ["LEVEL_LEGEND", "compact", "prediction_row", "prediction_table"]

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


def prediction_table(rows: Sequence[tuple[PredictionQuery, PredictionResponse | None]]) -> str:
    header = [
        "query (task / model / provider / complexity)",
        "samples",
        "level",
        "confidence",
        "input p10..p90",
        "output p10..p90",
        "median cost",
        "success",
    ]
    body = [prediction_row(query, response) for query, response in rows]
    body = [cells + ["-"] * (len(header) - len(cells)) for cells in body]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])
