"""Delivery policy of one batch: encode event by event, split, isolate a poison event, settle.

Every event of a ticket handed to :meth:`Sender.deliver` is settled in the ledger
(sent, rejected, dropped) or returned to be put back; nothing else can happen to
it. A connection-level failure never drops an event: its batch goes back.
"""

from __future__ import annotations

from ._encode import batch_body, encode_event
from ._http import EVENTS_PATH, HttpResult, Verdict, classify_status
from ._log import LazyLogger
from ._replies import rejections, unwritable_field
from ._request import Attempt, server_says
from .errors import TelemetryError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import threading

    from ._deadline import Deadline
    from ._health import Health
    from ._hooks import Hooks
    from ._ledger import Ledger, Ticket
    from ._request import Requester


__all__ = ["Sender"]

logger = LazyLogger(__name__.rpartition(".")[0] + ".delivery")

# A 5xx the server keeps giving one batch while it takes others may be the batch's
# fault: split it to find the event. 503 (and any Retry-After) says "come back later".
_ISOLATE = frozenset({500, 502, 504})
_BLIND_LEVELS = 2
"""Levels of splits without a single 2xx after which the server is taken to be down."""


class Sender:
    """Sends the batches of tickets by the protocol's status policy."""

    def __init__(
        self,
        requester: Requester,
        ledger: Ledger,
        health: Health,
        *,
        dry_run: bool,
        hooks: Hooks | None = None,
    ) -> None:
        self._requester = requester
        self._ledger = ledger
        self._health = health
        self._dry_run = dry_run
        self._hooks = hooks
        self.max_retries = requester.max_retries

    def deliver(
        self, ticket: Ticket, deadline: Deadline, interrupt: threading.Event | None
    ) -> list[int]:
        """Send the open events of ``ticket``; settle what ends here, return what goes back."""
        indices = sorted(ticket.open)
        hooks = self._hooks
        if hooks is None:
            events = {index: ticket.events[index] for index in indices}
        else:  # before_send, event by event (what it drops is settled there)
            events, back = hooks.apply(ticket, indices, deadline, interrupt)
            if back:
                return back
        encoded: dict[int, bytes] = {}
        for index, event in events.items():
            try:
                encoded[index] = encode_event(event)
            except Exception as exc:  # this event alone: the others still go
                problem = unwritable_field(event, exc)
                if hooks is not None and event is not ticket.events[index]:
                    hooks.returned_invalid(ticket, index, problem)
                    continue
                self._ledger.settle(ticket, [index], dropped_invalid=1)
                self._health.note(
                    f"telemetry dropped event {_event_id(event)}, which can't be written as "
                    f"JSON: {problem}"
                )
        ready = [i for i in indices if i in encoded]
        if not ready:
            return []
        if self._dry_run:
            logger.info(
                "dry run: would send %d event(s), first event_id %s",
                len(ready),
                _event_id(ticket.events[ready[0]]),
            )
            if hooks is not None:
                hooks.dry_run([events[i] for i in ready], [encoded[i] for i in ready])
            self._ledger.settle(ticket, ready, sent=len(ready), batches=1)
            return []
        job = _Job(self, ticket, encoded, deadline, interrupt)
        try:
            return job.send(ready)
        except TelemetryError as exc:  # a configuration the transport refuses
            self.drop(ticket, sorted(ticket.open), str(exc))
        except Exception as exc:  # a bug must cost these events, never the host
            logger.exception("telemetry dropped a batch after an unexpected error")
            self.drop(ticket, sorted(ticket.open), f"unexpected {type(exc).__name__}")
        return []

    def drop(
        self, ticket: Ticket, indices: list[int], cause: str, *, what: str = "the server refused"
    ) -> None:
        """Settle ``indices`` as dropped for good, and say why."""
        self._ledger.settle(ticket, indices, dropped_errors=len(indices))
        self._health.dropped(len(indices), cause, what=what)

    def settle_success(self, ticket: Ticket, indices: list[int], result: HttpResult) -> None:
        """A 2xx for ``indices``: sent, except the events its body rejects one by one."""
        self._health.succeeded()
        rejected: list[int] = []
        if result.body.strip():
            try:
                found = rejections(result)
            except ValueError as exc:  # ValidationError, or a body past the size cap
                self._ledger.add("invalid_responses")
                self._health.note(f"telemetry server sent an unreadable 2xx body: {exc}")
            else:
                by_id = {str(ticket.events[i].event_id): i for i in indices}
                for event_id, error in found:
                    index = by_id.pop(str(event_id), None)
                    if index is not None:
                        rejected.append(index)
                        reason = error or "(no reason)"
                        self._health.note(
                            f"telemetry event rejected by the server: {reason}", error=False
                        )
        sent = len(indices) - len(rejected)
        self._ledger.settle(ticket, indices, sent=sent, rejected=len(rejected), batches=1)


class _Job:
    """The delivery of one ticket: what it sends, by when, and what goes back."""

    def __init__(
        self,
        sender: Sender,
        ticket: Ticket,
        encoded: dict[int, bytes],
        deadline: Deadline,
        interrupt: threading.Event | None,
    ) -> None:
        self._sender = sender
        self._ticket = ticket
        self._encoded = encoded
        self._deadline = deadline
        self._interrupt = interrupt

    def _post(self, indices: list[int], *, retries: int | None = None) -> Attempt:
        body = batch_body([self._encoded[i] for i in indices])
        what = f"{len(indices)} event(s)"
        return self._sender._requester.post(
            EVENTS_PATH,
            body,
            self._deadline,
            what=what,
            interrupt=self._interrupt,
            ticket=self._ticket,
            retries=retries,
        )

    def send(self, indices: list[int]) -> list[int]:
        """Send ``indices`` with full retries; split on 413, isolate on a persistent 5xx."""
        attempt = self._post(indices)
        result, verdict = attempt.result, attempt.verdict
        if result is None:
            if not attempt.stopped:
                self._sender._health.send_failed(attempt.failure, attempt.attempts)
            return indices
        if verdict is Verdict.RETRY:  # the server answered, and kept failing this batch
            if result.status in _ISOLATE and not result.retry_after and len(indices) > 1:
                return self._isolate(indices)
            self._sender._health.send_failed(attempt.failure, attempt.attempts)
            return indices
        return self._answered(indices, result)

    def _answered(self, indices: list[int], result: HttpResult) -> list[int]:
        """Act on a final answer that is not a retry: success, split (413) or drop."""
        verdict = _verdict(result)
        if verdict is Verdict.SUCCESS:
            self._sender.settle_success(self._ticket, indices, result)
            return []
        if verdict is Verdict.SPLIT and len(indices) > 1:
            half = len(indices) // 2
            logger.debug("HTTP 413 for %d events: sending two halves", len(indices))
            return self.send(indices[:half]) + self.send(indices[half:])
        self._sender.drop(self._ticket, indices, server_says(result))
        return []

    def _isolate(self, indices: list[int]) -> list[int]:
        """Split a batch the server keeps failing with 5xx until the failing event is alone.

        Halves get one attempt each. If no part got a 2xx after ``_BLIND_LEVELS``
        levels the server is taken to be down, and everything goes back. An event
        left alone gets its full retries; still failing while the server took the
        others, it is dropped (and counted) as the culprit.
        """
        level: list[list[int]] = [indices]
        singles: list[list[int]] = []
        back: list[int] = []
        server_up, blind = False, 0
        last_failure = ""
        while level:
            halves = [half for part in level for half in _halves(part)]
            failed: list[list[int]] = []
            for position, half in enumerate(halves):
                attempt = self._post(half, retries=0)
                result = attempt.result
                if result is None:  # no answer any more: what is not settled goes back
                    untried = [i for part in halves[position:] for i in part]
                    return back + untried + _flat(failed) + _flat(singles)
                if _verdict(result) is Verdict.RETRY:
                    (singles if len(half) == 1 else failed).append(half)
                    last_failure = attempt.failure
                    continue
                server_up = server_up or _verdict(result) is Verdict.SUCCESS
                back += self._answered(half, result)
            blind = 0 if server_up else blind + 1
            if blind >= _BLIND_LEVELS:
                cause = f"{last_failure} (for every part of a batch of {len(indices)} events)"
                self._sender._health.send_failed(cause, 1 + 2**_BLIND_LEVELS)
                return back + _flat(failed) + _flat(singles)
            level = failed
        for single in singles:
            if not server_up:
                back += single
                continue
            # Its probe was its first attempt: the rest of its retries, alone.
            attempt = self._post(single, retries=max(0, self._sender.max_retries - 1))
            result = attempt.result
            if result is None:
                back += single
            elif _verdict(result) is Verdict.RETRY:
                event_id = _event_id(self._ticket.events[single[0]])
                what = f"(event {event_id}): the server kept failing it while taking the others"
                self._sender.drop(self._ticket, single, server_says(result), what=what)
            else:
                back += self._answered(single, result)
        return back


def _verdict(result: HttpResult) -> Verdict:
    return classify_status(result.status)


def _halves(part: list[int]) -> list[list[int]]:
    middle = len(part) // 2
    return [part[:middle], part[middle:]]


def _flat(parts: list[list[int]]) -> list[int]:
    return [index for part in parts for index in part]


def _event_id(event: object) -> str:
    return str(getattr(event, "event_id", "?"))[:40]
