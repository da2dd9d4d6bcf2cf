"""Deadline: one point in time that bounds a whole operation, passed down as it is."""

from __future__ import annotations

import threading
import time

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable


__all__ = ["MAX_WAIT_S", "Deadline", "seconds"]

MAX_WAIT_S = min(threading.TIMEOUT_MAX, 365 * 86400.0)
"""Thread waits refuse timeouts past ``threading.TIMEOUT_MAX``; a year is "forever" here."""


def seconds(value: float) -> float:
    """``value`` as a wait every thread primitive accepts: 0 to a year, NaN as 0."""
    number = float(value)
    if not number > 0:  # also NaN
        return 0.0
    return min(number, MAX_WAIT_S)


class Deadline:
    """A monotonic instant; every layer asks it what is left instead of adding timeouts.

    A stop can :meth:`cut` a deadline that work in progress is holding: that work
    sees the earlier end at its next step (socket operations ask before each call).
    """

    __slots__ = ("_at", "_parent", "clock")

    def __init__(
        self,
        at: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        parent: Deadline | None = None,
    ) -> None:
        self._at = at
        self.clock = clock
        self._parent = parent

    @classmethod
    def after(cls, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline ``timeout_s`` seconds from now (0 to a year)."""
        return cls(clock() + seconds(timeout_s), clock)

    @property
    def at(self) -> float:
        """The instant, on :attr:`clock` (a parent's, if that one is sooner)."""
        parent = self._parent
        return self._at if parent is None else min(self._at, parent.at)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        """Whether the instant has passed."""
        return self.clock() >= self.at

    def within(self, timeout_s: float) -> Deadline:
        """This deadline, or ``timeout_s`` from now if sooner (for one request).

        The result follows this one: a later :meth:`cut` of it applies there too.
        """
        return Deadline(self.clock() + seconds(timeout_s), self.clock, parent=self)

    def cut(self, at: float) -> None:
        """Move the instant earlier to ``at`` (never later)."""
        self._at = min(self._at, at)

    def __repr__(self) -> str:
        return f"Deadline(remaining={self.remaining():.3f}s)"
