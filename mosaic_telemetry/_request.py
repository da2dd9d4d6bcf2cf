"""One request with its retries: backoff, ``Retry-After``, deadlines, a DEBUG line each."""

from __future__ import annotations

import threading
import time

from ._http import (
    HttpResult,
    Verdict,
    classify_status,
    error_message,
    parse_retry_after,
    safe_url,
)
from ._log import DEBUG, LazyLogger
from ._record import record
from ._retry import retry_delay
from .transport import Transport, TransportError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from ._deadline import Deadline
    from ._health import Health
    from ._ledger import Ledger, Ticket
    from .config import TelemetryConfig


__all__ = ["Attempt", "Requester", "server_says"]

logger = LazyLogger(__name__.rpartition(".")[0] + ".delivery")


@record(frozen=True)
class Attempt:
    """How a request (with its retries) ended: the last answer, or none, and why."""

    result: HttpResult | None
    failure: str
    attempts: int
    stopped: bool = False
    """No answer because a stop cut the send short (nothing to warn about)."""

    @property
    def verdict(self) -> Verdict | None:
        """What the last answer asks for (None: no answer came)."""
        return None if self.result is None else classify_status(self.result.status)


def server_says(result: HttpResult) -> str:
    """A failure answer in words: its status and a short summary of its body."""
    return f"HTTP {result.status}: {error_message(result.body)}"


class Requester:
    """POSTs with the retry policy, for every sender thread of one client.

    Owns the transport (made on first use) and the ``Retry-After`` the server last
    asked for, which every sender honours before its next request.
    """

    def __init__(
        self,
        config: TelemetryConfig,
        ledger: Ledger,
        health: Health,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None,
        max_retries: int,
        request_timeout_s: float,
    ) -> None:
        self._config = config
        self._ledger = ledger
        self._health = health
        self._clock = clock
        self._sleep = sleep
        self._max_retries = max_retries
        self._request_timeout_s = request_timeout_s
        self._transport: Transport | None = None
        # Made by whichever sender comes first: two at once must share one, or a stop's
        # abort() would miss the requests of the other.
        self._transport_lock = threading.Lock()
        # For the DEBUG line of each request: where it went (no password), how it was sent.
        self._base_url = safe_url(config.server_url)[:200]
        self._encoding = ", gzipped" if config.gzip else ""
        key = config.api_key
        self._secret = (
            key.encode("utf-8", "replace") if isinstance(key, str) and len(key) >= 4 else None
        )
        self.not_before = 0.0
        """Monotonic time before which no request should go out (from ``Retry-After``)."""

    @property
    def max_retries(self) -> int:
        """How often a request is sent again after a transient failure."""
        return self._max_retries

    def no_retries(self) -> None:
        """From now on each request is tried once (the exit flush of a client with a spool)."""
        self._max_retries = 0

    @property
    def transport(self) -> Transport:
        """The transport, made on first use.

        Raises:
            ConfigurationError: the settings can't be sent safely.
        """
        transport = self._transport
        if transport is None:
            with self._transport_lock:
                transport = self._transport
                if transport is None:
                    transport = self._transport = Transport(self._config)
        return transport

    def close(self) -> None:
        """Close idle connections."""
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """End every request in progress at once."""
        if self._transport is not None:
            self._transport.abort()

    def post(
        self,
        path: str,
        body: bytes,
        deadline: Deadline,
        *,
        what: str,
        interrupt: threading.Event | None = None,
        ticket: Ticket | None = None,
        retries: int | None = None,
    ) -> Attempt:
        """POST ``body``, retrying transient failures up to ``retries`` (default: the config's).

        Raises:
            ConfigurationError: the transport refuses the settings.
        """
        transport = self.transport
        clock = self._clock
        limit = self._max_retries if retries is None else retries
        attempt = 0
        waited_for = 0.0  # the not_before this sender already slept out itself
        failure = "the deadline passed before the request could go out"
        while True:
            wait_s = self.not_before - clock()
            if wait_s > 0 and self.not_before != waited_for:
                if clock() + wait_s >= deadline.at:
                    return Attempt(None, f"Retry-After asks to wait {wait_s:.0f} s", attempt)
                if self._wait(wait_s, interrupt):
                    return Attempt(None, "stopped while waiting", attempt, stopped=True)
            if deadline.expired():
                return Attempt(None, failure, attempt)
            retry_after: float | None = None
            retryable = True
            result: HttpResult | None = None
            started = time.monotonic()
            if ticket is not None and not self._ledger.request_out(ticket):
                return Attempt(None, "stopped: counted as not sent", attempt, stopped=True)
            try:
                result = transport.post(
                    path, body, deadline=deadline.within(self._request_timeout_s)
                )
            except TransportError as exc:
                failure, retryable = str(exc), exc.retryable
                if ticket is not None:
                    self._ledger.request_done(ticket, maybe_stored=exc.sent)
                self._trace(path, what, body, f"failed: {failure}", started)
            else:
                if ticket is not None:  # a 2xx stays "maybe stored" until it is settled
                    stored = classify_status(result.status) is Verdict.SUCCESS
                    self._ledger.request_done(ticket, maybe_stored=stored)
                secret = self._secret
                if secret is not None and secret in result.body:  # an echo, cut before any use
                    from dataclasses import replace  # noqa: PLC0415  # rare: import stays cheap

                    result = replace(result, body=result.body.replace(secret, b"***"))
                self._trace(path, what, body, f"HTTP {result.status}", started)
                if classify_status(result.status) is not Verdict.RETRY:
                    return Attempt(result, "", attempt + 1)
                failure = server_says(result)
                retry_after = parse_retry_after(result.retry_after)
                if retry_after is not None:  # remembered even if this send gives up now
                    self.not_before = clock() + retry_after
            if attempt >= limit or not retryable:
                return Attempt(result, failure, attempt + 1)
            delay = retry_delay(attempt, retry_after)
            if clock() + delay >= deadline.at:
                logger.debug("telemetry retry skipped: %.2fs wait passes the deadline", delay)
                return Attempt(result, failure, attempt + 1)
            self._ledger.add("retries")
            self._health.attempt_failed(failure)
            if retry_after is not None:  # this sender sleeps it out below; others wait too
                waited_for = self.not_before
            logger.debug(
                "telemetry send failed (%s); retry %d in %.2fs",
                self._health.clean(failure),
                attempt + 1,
                delay,
            )
            if self._wait(delay, interrupt):  # a stop: the final flush takes over
                return Attempt(None, "stopped while waiting", attempt + 1, stopped=True)
            attempt += 1

    def _wait(self, seconds: float, interrupt: threading.Event | None) -> bool:
        """Wait ``seconds`` (or the injected sleep); True when ``interrupt`` cut it short."""
        if self._sleep is not None:
            self._sleep(seconds)
            return interrupt is not None and interrupt.is_set()
        if interrupt is not None:
            return interrupt.wait(seconds)
        time.sleep(seconds)
        return False

    def _trace(self, path: str, what: str, body: bytes, outcome: str, started: float) -> None:
        """DEBUG: one line per request (endpoint, payload, bytes, outcome, time)."""
        if logger.enabled_for(DEBUG):
            logger.debug(
                "POST %s%s: %s, %d bytes of JSON%s -> %s in %.1f ms",
                self._base_url,
                path,
                what,
                len(body),
                self._encoding,
                self._health.clean(outcome, limit=200),
                (time.monotonic() - started) * 1000,
            )
