"""Delivery policy: one batch or one set of queries, with retries, splits and accounting."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from ._http import (
    EVENTS_PATH,
    PREDICTIONS_PATH,
    HttpResult,
    Verdict,
    backoff_delay,
    classify_status,
    encode_json,
    error_message,
    parse_retry_after,
)
from ._log import LazyLogger
from ._validation import UUID_TEXT, to_uuid
from .errors import TelemetryError, ValidationError
from .models import (
    MAX_PREDICTION_QUERIES,
    BatchEventResponse,
    PredictionQuery,
    PredictionResponse,
    TaskCompletionEvent,
)
from .transport import Transport, TransportError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import random
    from uuid import UUID

    from ._stats import Tally
    from .config import TelemetryConfig


__all__ = ["Sender", "Sleeper"]

logger = LazyLogger(__name__)

Sleeper = Callable[[float, "threading.Event | None"], bool]
"""``sleeper(seconds, interrupt)`` waits and returns True when ``interrupt`` cut it short."""

_MAX_CAUSES = 256


def real_sleeper(seconds: float, interrupt: threading.Event | None) -> bool:
    """Wait ``seconds``, or less if ``interrupt`` is set meanwhile; True if interrupted."""
    if interrupt is not None:
        return interrupt.wait(seconds)
    threading.Event().wait(seconds)
    return False


class Sender:
    """Sends batches and prediction queries by the protocol's status policy.

    Every event handed to :meth:`deliver` is settled in the tally exactly once
    (sent, rejected or dropped) or returned to the caller to be put back.
    """

    def __init__(
        self,
        config: TelemetryConfig,
        tally: Tally,
        *,
        clock: Callable[[], float],
        sleeper: Sleeper,
        max_retries: int,
        request_timeout_s: float,
    ) -> None:
        self._config = config
        self._tally = tally
        self._clock = clock
        self._sleeper = sleeper
        self._max_retries = max_retries
        self._request_timeout_s = request_timeout_s
        self._transport: Transport | None = None
        self._transport_lock = threading.Lock()
        self._causes_seen: set[str] = set()
        self._rng: random.Random | None = None
        self.not_before = 0.0
        """Monotonic time before which no request should go out (from ``Retry-After``)."""

    def _get_transport(self) -> Transport:
        if self._transport is None:
            with self._transport_lock:
                if self._transport is None:
                    self._transport = Transport(self._config)
        return self._transport

    def _log_cause(self, template: str, *args: object) -> None:
        """WARNING the first time a distinct cause is seen, DEBUG after that."""
        text = self._redact(template % args)
        if text in self._causes_seen:
            logger.debug("%s", text)
            return
        if len(self._causes_seen) < _MAX_CAUSES:
            self._causes_seen.add(text)
        logger.warning("%s", text)

    def _redact(self, text: str) -> str:
        """``text`` without the API key (a server may echo what it was sent)."""
        key = self._config.api_key
        if isinstance(key, str) and len(key) >= 4 and key in text:
            return text.replace(key, "***")
        return text

    def _without_key(self, result: HttpResult) -> HttpResult:
        """``result`` with the API key cut out of its body, before anything reads it."""
        key = self._config.api_key
        if isinstance(key, str) and len(key) >= 4:
            secret = key.encode("utf-8", "replace")
            if secret in result.body:
                return replace(result, body=result.body.replace(secret, b"***"))
        return result

    def _server_says(self, result: HttpResult) -> str:
        return self._redact(f"HTTP {result.status}: {error_message(result.body)}")

    # -- events ---------------------------------------------------------------

    def deliver(
        self,
        batch: Sequence[TaskCompletionEvent],
        deadline: float,
        interrupt: threading.Event | None,
    ) -> list[TaskCompletionEvent]:
        """Send ``batch``; settle what ends here and return the events to put back."""
        count = len(batch)
        try:
            if self._config.dry_run:
                logger.info(
                    "dry run: would send %d event(s), first event_id %s", count, batch[0].event_id
                )
                self._tally.settle(count, sent=count, batches=1)
                return []
            body = encode_json({"events": [event.to_dict() for event in batch]})
            result = self._post(EVENTS_PATH, body, deadline, interrupt)
            if result is None:
                return list(batch)
            verdict = classify_status(result.status)
            if verdict is Verdict.SUCCESS:
                self._settle_success(batch, result)
                return []
            if verdict is not Verdict.SPLIT or count == 1:
                self._drop(count, self._server_says(result))
                return []
        except TelemetryError as exc:  # a configuration the transport refuses
            self._drop(count, str(exc))
            return []
        except Exception as exc:  # a bug must cost these events, never the host
            logger.exception("telemetry dropped %d event(s) after an unexpected error", count)
            self._tally.error(f"unexpected {type(exc).__name__}")
            self._tally.settle(count, dropped_errors=count)
            return []
        half = count // 2
        logger.debug("HTTP 413 for %d events: sending two halves", count)
        first = self.deliver(batch[:half], deadline, interrupt)
        return first + self.deliver(batch[half:], deadline, interrupt)

    def _drop(self, count: int, cause: str) -> None:
        cause = self._redact(cause)
        self._tally.error(cause)
        self._log_cause("telemetry dropped a batch the server refused: %s", cause)
        self._tally.settle(count, dropped_errors=count)

    def _settle_success(self, batch: Sequence[TaskCompletionEvent], result: HttpResult) -> None:
        count = len(batch)
        rejected = 0
        if result.body.strip():
            try:
                if result.truncated:
                    raise ValidationError(
                        "BatchEventResponse",
                        [{"field": "__root__", "message": "must be at most 1 MiB", "value": None}],
                    )
                rejections = _rejections(result.body)
            except ValidationError as exc:
                self._tally.add("invalid_responses")
                self._tally.error(self._redact(f"unreadable 2xx response: {str(exc)[:200]}"))
                self._log_cause("telemetry server sent an unreadable 2xx body: %s", str(exc)[:200])
            else:
                ids = {event.event_id for event in batch}
                for event_id, error in rejections:
                    if event_id in ids:
                        ids.discard(event_id)
                        rejected += 1
                        self._log_cause(
                            "telemetry event rejected by the server: %s", error or "(no reason)"
                        )
        self._tally.settle(count, sent=count - rejected, rejected=rejected, batches=1)

    # -- predictions ----------------------------------------------------------

    def fetch_predictions(
        self, queries: Sequence[PredictionQuery], deadline: float
    ) -> list[tuple[PredictionQuery, PredictionResponse]]:
        """Ask for ``queries`` in chunks of at most 50; skip (and log) a chunk that fails."""
        answers: list[tuple[PredictionQuery, PredictionResponse]] = []
        for start in range(0, len(queries), MAX_PREDICTION_QUERIES):
            chunk = queries[start : start + MAX_PREDICTION_QUERIES]
            try:
                answers.extend(self._fetch_chunk(chunk, deadline))
            except TelemetryError as exc:
                self._tally.error(self._redact(f"predictions: {exc}"))
                self._log_cause("telemetry predictions not refreshed: %s", str(exc))
        return answers

    def _fetch_chunk(
        self, chunk: Sequence[PredictionQuery], deadline: float
    ) -> list[tuple[PredictionQuery, PredictionResponse]]:
        body = encode_json({"queries": [query.to_dict() for query in chunk]})
        result = self._post(PREDICTIONS_PATH, body, deadline, None)
        if result is None:
            raise TelemetryError("the server did not answer in time")
        if classify_status(result.status) is not Verdict.SUCCESS:
            raise TelemetryError(self._server_says(result))
        try:
            import json  # noqa: PLC0415

            data = json.loads(result.body)
            items = data["results"]
            if not isinstance(items, list) or len(items) != len(chunk):
                raise TypeError
            responses = [PredictionResponse.from_dict(item) for item in items]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            self._tally.add("invalid_responses")
            raise TelemetryError(
                f"unreadable predictions response ({type(exc).__name__})"
            ) from None
        return list(zip(chunk, responses, strict=True))

    # -- one request, with retries ----------------------------------------------

    def _post(
        self, path: str, body: bytes, deadline: float, interrupt: threading.Event | None
    ) -> HttpResult | None:
        """POST with retries on transient failures; ``None`` when they were exhausted."""
        transport = self._get_transport()
        clock = self._clock
        attempt = 0
        waited_for = 0.0  # the not_before this sender already slept out itself
        while True:
            wait_s = self.not_before - clock()
            if (
                wait_s > 0
                and self.not_before != waited_for
                and (clock() + wait_s >= deadline or self._sleeper(wait_s, interrupt))
            ):
                return None
            remaining = deadline - clock()
            if remaining <= 0:
                return None
            retry_after: float | None = None
            try:
                result = self._without_key(
                    transport.post(path, body, timeout_s=min(self._request_timeout_s, remaining))
                )
            except TransportError as exc:
                failure = str(exc)
            else:
                if classify_status(result.status) is not Verdict.RETRY:
                    return result
                failure = self._server_says(result)
                retry_after = parse_retry_after(result.retry_after)
                if retry_after is not None:  # remembered even if this send gives up now
                    self.not_before = clock() + retry_after
            self._tally.error(failure)
            if attempt >= self._max_retries:
                self._log_cause(
                    "telemetry send failed after %d attempt(s): %s", attempt + 1, failure
                )
                return None
            delay = retry_after
            if delay is None:
                delay = backoff_delay(attempt, rng=self._jitter())
            if clock() + delay >= deadline:
                logger.debug("telemetry retry skipped: %.2fs wait passes the deadline", delay)
                return None
            self._tally.add("retries")
            if retry_after is not None:  # this sender sleeps it out below; others wait too
                waited_for = self.not_before
            logger.debug(
                "telemetry send failed (%s); retry %d in %.2fs", failure, attempt + 1, delay
            )
            if self._sleeper(delay, interrupt):
                return None
            attempt += 1

    def _jitter(self) -> random.Random:
        if self._rng is None:
            import random  # noqa: PLC0415  # first retry only

            self._rng = random.Random()  # jitter, not cryptography
        return self._rng


def _rejections(body: bytes) -> list[tuple[UUID, str | None]]:
    """The rejected events of a 2xx body, as ``(event_id, error)``.

    The usual answer (every event accepted) is checked field by field as the models
    would, in one ``json.loads`` and a loop instead of a model per result; anything
    unusual goes through :class:`BatchEventResponse`, which names what is wrong.

    Raises:
        ValidationError: the body is not a BatchEventResponse.
    """
    import json  # noqa: PLC0415  # loaded on the first send

    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if type(data) is dict:
        items = data.get("results", [])
        accepted, rejected = data.get("accepted"), data.get("rejected")
        if type(items) is list and type(accepted) is int and type(rejected) is int:
            found: list[tuple[UUID, str | None]] = []
            for item in items:
                if type(item) is not dict:
                    break
                event_id, status, error = (
                    item.get("event_id"),
                    item.get("status"),
                    item.get("error"),
                )
                if (
                    type(event_id) is not str
                    or not UUID_TEXT.match(event_id)
                    or status not in ("accepted", "rejected")
                    or not (error is None or type(error) is str)
                ):
                    break
                if status == "rejected":
                    found.append((to_uuid(event_id), error))
            else:
                if accepted >= 0 and rejected >= 0:
                    return found
    response = BatchEventResponse.from_json(body)
    return [(r.event_id, r.error) for r in response.results if r.status == "rejected"]
