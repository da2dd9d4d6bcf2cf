"""``predict``: ask the server for one prediction and show it as a table or JSON."""

from __future__ import annotations

import argparse
import json
import re

from ..enums import Complexity, Provider, TaskType
from ..errors import ValidationError
from ..models import PredictionQuery
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    CliError,
    add_client_flags,
    config_from,
    deadline_of,
    plain,
    remaining_s,
    require_usable,
    say,
)
from ._common import usage_error as _usage_error
from ._format import LEVEL_LEGEND, prediction_table

__all__ = ["NEEDS", "register"]

NEEDS: tuple[str, ...] = ()
_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``predict`` command to the parser."""
    predict = commands.add_parser("predict", help="ask the server for a prediction")
    predict.add_argument("--task-type", required=True, choices=[t.value for t in TaskType])
    predict.add_argument("--model", required=True, help="model identifier")
    predict.add_argument("--provider", required=True, choices=[p.value for p in Provider])
    predict.add_argument("--complexity", default="medium", choices=[c.value for c in Complexity])
    predict.add_argument("--json", action="store_true", help="print the response as JSON")
    add_client_flags(predict)
    predict.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the prediction; exit 1 with the reason when none came back."""
    from ..client import TelemetryClient  # noqa: PLC0415

    try:
        query = PredictionQuery(
            task_type=args.task_type,
            model=args.model,
            provider=args.provider,
            complexity=args.complexity,
        )
    except ValidationError as exc:
        _usage_error(str(exc))
    config = config_from(args, instance_id="00000000-0000-0000-0000-000000000000")
    require_usable(config)
    deadline = deadline_of(args)
    if deadline is not None:  # the attempts and their waits must all fit in --timeout
        left_s = max(0.001, remaining_s(deadline, 0.0))
        config.request_timeout_seconds = min(config.request_timeout_seconds, left_s)
        attempts = int(left_s // config.request_timeout_seconds)
        config.max_retries = min(config.max_retries, max(0, attempts - 1))
    client = TelemetryClient(config)
    try:
        client.refresh_predictions_sync([query])
        response = client.get_prediction(query)
    finally:
        client.stop(timeout=0)  # nothing was tracked: there is nothing to flush
    if response is None:
        reason = client.stats.last_error or "no answer"
        raise CliError(f"no prediction from {config.server_url}: {plain(reason)}", _exit_of(reason))
    if args.json:
        say(json.dumps(response.to_dict(), indent=2))
        return EXIT_OK
    say(prediction_table([(query, response)]))
    say(LEVEL_LEGEND)
    meta, data = response.metadata, response.prediction
    if meta.fallback_note:
        say(f"note: {meta.fallback_note}")
    if data is not None:
        factors = data.correction_factors
        say(
            f"median duration {data.duration_ms['median'] / 1000:.1f} s, "
            f"gate pass rate {data.quality.gate_pass_rate * 100:.0f}%, "
            f"correction factors input x{factors.input:.2f} output x{factors.output:.2f}"
        )
    return EXIT_OK


def _exit_of(reason: str) -> int:
    """1 when the server answered with a refusal (HTTP 4xx), 3 when it could not answer now."""
    from .._http import Verdict, classify_status  # noqa: PLC0415

    status = _HTTP_STATUS.search(reason)
    if status and classify_status(int(status[1])) is not Verdict.RETRY:
        return EXIT_FAILED
    return EXIT_UNREACHABLE
