"""The words of ``send``: its tally, a line per failure, the summary, the exit status, progress."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Mapping

from .._stats import ClientStats
from ..errors import ValidationError
from ..models import TaskCompletionEvent
from ._common import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, PROG, plain, say
from ._input import EventFiller, Item

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._send_run import Delivery

__all__ = ["MAX_QUEUED", "Causes", "Outcome", "Progress"]

MAX_QUEUED = 10_000
"""Events kept while the server is not taking them; past this the oldest are dropped."""
_MAX_CAUSES = 64
_MAX_REASON_LINES = 10
_REJECTED = re.compile(r"rejected by the server: (?P<reason>.+)")
_REFUSED = re.compile(r"the server refused: (?P<reason>.+)")


# -- the client's records, counted instead of printed ----------------------------------------


class Causes(logging.Handler):
    """Counts the distinct messages the client logs while ``send`` runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record that can't be formatted tells nothing
            return
        if text in self.seen or len(self.seen) < _MAX_CAUSES:
            self.seen[text] += 1

    def reasons(self, pattern: re.Pattern[str]) -> Counter[str]:
        found: Counter[str] = Counter()
        for text, count in self.seen.items():
            match = pattern.search(text)
            if match:
                found[plain(match["reason"])] += count
        return found


# -- the tally, its lines and the exit status --------------------------------------------------


class Outcome:
    """What ``send`` read and what became of it; prints the failure lines and the summary."""

    def __init__(self, label: str, *, mode: str) -> None:
        self.label = label
        self.mode = mode
        self.read = 0
        self.valid = 0
        self.duplicate = 0
        self.invalid = 0
        self.stopped: str | None = None
        self.stopped_by_input = False
        self.url = ""
        self._seen: set[int] = set()  # event ids as ints: ~70 bytes an event, not the event
        self._body: list[bytes] = []
        self.bodies = 0
        self._stats: ClientStats | None = None
        self._causes = Causes()
        self._deadline_passed = False
        self._dropped = 0
        self._spool: tuple[str, int] | None = None
        """With ``--spool-dir``: the directory and how many unsent events it holds now."""
        self.progress: Progress | None = None

    def _line(self, text: str) -> None:
        """One stderr line, on a line of its own even while the progress line shows."""
        if self.progress is not None:
            self.progress.clear()
        say(text, sys.stderr)

    def check(
        self, item: Item, filler: EventFiller, *, has_fill: bool
    ) -> TaskCompletionEvent | None:
        """The completed event of ``item``; None (with its stderr line) if invalid or repeated."""
        self.read += 1
        if item.problem is not None:
            self._invalid(item.where, item.problem)
            return None
        if not isinstance(item.value, Mapping):
            self._invalid(item.where, "must be a JSON object (an event), in JSON lines or an array")
            return None
        try:
            event = filler.event(item.value)
        except ValidationError as exc:
            text = str(exc)
            if not has_fill and "instance_id" not in item.value:
                text += "; pass --instance-id for events without one"
            self._invalid(item.where, text)
            return None
        key = event.event_id.int
        if key in self._seen:
            self.duplicate += 1
            self._line(
                f"{PROG}: duplicate event: {item.where}: event_id {event.event_id} came "
                "earlier in this input; not sent again"
            )
            return None
        self._seen.add(key)
        self.valid += 1
        return event

    def _invalid(self, where: str, problem: str) -> None:
        self.invalid += 1
        self._line(f"{PROG}: invalid event: {where}: {plain(problem)}")

    def add_to_body(self, event: TaskCompletionEvent | None, batch_size: int) -> None:
        """Dry run: collect ``event``; print a body per full batch (and the rest at None)."""
        from .._encode import batch_body, encode_event  # noqa: PLC0415  # the client's bodies

        if event is not None:
            self._body.append(encode_event(event))
            if len(self._body) < batch_size:
                return
        if self._body:
            out = sys.stdout.buffer
            out.write(batch_body(self._body) + b"\n")
            out.flush()
            self.bodies += 1
            self._body = []

    def delivered(self, delivery: Delivery, stats: ClientStats, causes: Causes) -> None:
        """What became of the events handed to ``delivery``."""
        self._stats = stats
        self._causes = causes
        self._deadline_passed = delivery.past_deadline()
        self._dropped = delivery.dropped
        self._spool = delivery.spool_left()

    def report(self) -> int:
        """Print the failure lines and the summary; return the exit status."""
        if self.stopped:
            self._line(f"{PROG}: stopped reading: {plain(self.stopped)}")
        faults = self.invalid + self.duplicate
        if self.mode == "validate":
            say(
                f"{self.label}: {self.read} read, {self.valid} valid, {self.duplicate} duplicate, "
                f"{self.invalid} invalid (checked only: nothing was sent)"
            )
            return self._status(faults, undeliverable=0, delivered=True)
        if self.mode == "dry-run":  # stdout holds the bodies: the summary goes to stderr
            self._line(
                f"{self.label}: {self.read} read, {self.valid} in {self.bodies} request "
                f"body(ies) on stdout (dry run: nothing was sent), {self.duplicate} duplicate, "
                f"{self.invalid} invalid"
            )
            return self._status(faults, undeliverable=0, delivered=True)
        # delivered() ran before (finish or abandon); without it, nothing was sent.
        stats = self._stats if self._stats is not None else ClientStats()
        undeliverable = self._failure_lines(stats)
        say(
            f"{self.label}: {self.read} read, {stats.sent} accepted, {self.duplicate} duplicate, "
            f"{stats.rejected} rejected, {undeliverable} undeliverable, {self.invalid} invalid "
            f"({self.url})"
        )
        if self._spool is not None:
            directory, left = self._spool
            say(f"spool: {left} unsent event(s) wait in {directory} for the next run")
        faults += stats.rejected + stats.dropped_errors
        return self._status(faults, undeliverable, delivered=stats.sent + stats.rejected > 0)

    def _status(self, faults: int, undeliverable: int, *, delivered: bool) -> int:
        if self.stopped_by_input and self.read == 0:
            return EXIT_USAGE
        if faults:
            return EXIT_FAILED
        if undeliverable:
            return EXIT_FAILED if delivered else EXIT_UNREACHABLE
        return EXIT_FAILED if self.stopped else EXIT_OK

    def _failure_lines(self, stats: ClientStats) -> int:
        """One stderr line per kind of failure; returns the undeliverable count."""
        causes = self._causes
        rejected = causes.reasons(_REJECTED)
        for reason, count in rejected.most_common(_MAX_REASON_LINES):
            self._line(f"{PROG}: {count} event(s) rejected by the server: {reason}")
        unexplained = stats.rejected - sum(rejected.values())
        if unexplained > 0:
            self._line(f"{PROG}: {unexplained} event(s) rejected by the server")
        if stats.dropped_errors:
            refused = causes.reasons(_REFUSED).most_common(1)
            cause = refused[0][0] if refused else plain(stats.last_error or "no reason given")
            self._line(f"{PROG}: {stats.dropped_errors} event(s) refused by the server: {cause}")
        dropped = stats.dropped_queue_full + self._dropped
        if dropped:
            self._line(
                f"{PROG}: {dropped} event(s) dropped while the server was not taking events "
                f"(at most {MAX_QUEUED} wait for it)"
            )
        # Counted from what was read: events still waiting to be handed over count too.
        # Events left in the spool are kept, not lost; those read back from it (earlier
        # runs') are sent, spooled or dropped like the others, so they cancel out.
        kept = stats.spooled - stats.replayed if self._spool is not None else 0
        undeliverable = max(0, self.valid - stats.sent - stats.rejected - kept)
        late = undeliverable - stats.dropped_errors - dropped
        if late > 0:
            when = " before the --timeout ran out" if self._deadline_passed else ""
            cause = plain(stats.last_error or "no answer")
            self._line(f"{PROG}: {late} event(s) not delivered{when}: {cause}")
        return undeliverable


class Progress:
    """A progress line on stderr, rewritten twice a second, when stderr is a terminal."""

    def __init__(self, outcome: Outcome, delivery: Delivery | None) -> None:
        self._outcome = outcome
        self._delivery = delivery
        self._on = sys.stderr.isatty()
        self._next = time.monotonic() + 0.5
        self._width = 0

    def tick(self) -> None:
        if not self._on or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + 0.5
        outcome = self._outcome
        text = f"{outcome.label}: {outcome.read} read"
        if self._delivery is not None:
            text += f", {self._delivery.stats().sent} accepted"
        text += f", {outcome.invalid} invalid ..."
        self._width = max(self._width, len(text))
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()

    def clear(self) -> None:
        if self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
            self._width = 0
