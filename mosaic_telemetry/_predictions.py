"""Fetching predictions: ``POST /v1/predictions/batch`` in chunks of 50, read into models."""

from __future__ import annotations

from ._http import PREDICTIONS_PATH, Verdict, encode_json
from ._request import server_says
from .errors import TelemetryError
from .models import MAX_PREDICTION_QUERIES, PredictionResponse

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._deadline import Deadline
    from ._health import Health
    from ._ledger import Ledger
    from ._request import Requester
    from .models import PredictionQuery


__all__ = ["fetch_predictions"]


def fetch_predictions(
    requester: Requester,
    ledger: Ledger,
    health: Health,
    queries: Sequence[PredictionQuery],
    deadline: Deadline,
) -> list[tuple[PredictionQuery, PredictionResponse]]:
    """Ask for ``queries`` in chunks of at most 50; skip (and log why) a chunk that fails."""
    answers: list[tuple[PredictionQuery, PredictionResponse]] = []
    for start in range(0, len(queries), MAX_PREDICTION_QUERIES):
        chunk = queries[start : start + MAX_PREDICTION_QUERIES]
        try:
            answers.extend(_fetch_chunk(requester, ledger, chunk, deadline))
        except TelemetryError as exc:
            health.note(f"telemetry predictions not refreshed: {exc}")
    return answers


def _fetch_chunk(
    requester: Requester,
    ledger: Ledger,
    chunk: Sequence[PredictionQuery],
    deadline: Deadline,
) -> list[tuple[PredictionQuery, PredictionResponse]]:
    body = encode_json({"queries": [query.to_dict() for query in chunk]})
    attempt = requester.post(PREDICTIONS_PATH, body, deadline, what=f"{len(chunk)} queries")
    result = attempt.result
    if result is None:  # the real cause: refused, DNS, TLS, timeout ...
        raise TelemetryError(attempt.failure)
    if attempt.verdict is not Verdict.SUCCESS:
        raise TelemetryError(server_says(result))
    try:
        import json  # noqa: PLC0415

        data = json.loads(result.body)
        items = data["results"]
        if not isinstance(items, list) or len(items) != len(chunk):
            raise TypeError
        responses = [PredictionResponse.from_dict(item) for item in items]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        ledger.add("invalid_responses")
        raise TelemetryError(f"unreadable predictions response ({type(exc).__name__})") from None
    return list(zip(chunk, responses, strict=True))
