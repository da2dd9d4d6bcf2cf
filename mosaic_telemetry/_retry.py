"""The one retry policy: jittered backoff between attempts and between failed send cycles."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import random


__all__ = ["BACKOFF_BASE_S", "BACKOFF_CAP_S", "backoff_delay", "cycle_pause", "retry_delay"]

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0

_rng: random.Random | None = None


def _random() -> random.Random:
    global _rng  # noqa: PLW0603  # one generator, made on the first retry (import stays inert)
    if _rng is None:
        import random  # noqa: PLC0415

        _rng = random.Random()  # jitter, not cryptography
    return _rng


def backoff_delay(
    attempt: int,
    *,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt)]``."""
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt, 32))
    return float((rng or _random()).uniform(0.0, ceiling))


def retry_delay(attempt: int, retry_after_s: float | None) -> float:
    """The wait before attempt ``attempt + 1`` of a request: ``Retry-After``, else backoff."""
    if retry_after_s is not None:
        return retry_after_s
    return backoff_delay(attempt)


def cycle_pause(
    failures: int, interval_s: float, retry_after_s: float, rng: random.Random | None = None
) -> float:
    """How long the background worker rests after its ``failures + 1``-th failed cycle in a row.

    Growing backoff with "equal jitter" (half fixed, half random, so a pause is never
    close to zero and many clients do not retry in step), at least what the server's
    ``Retry-After`` still asks for, and never longer than the send interval.
    """
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** min(failures, 8))
    pause = ceiling / 2 + float((rng or _random()).uniform(0.0, ceiling / 2))
    return min(interval_s, max(pause, retry_after_s))
