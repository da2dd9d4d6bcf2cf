"""Settings: the numbers a client runs on, taken from its config (unusable ones: defaults)."""

from __future__ import annotations

from ._deadline import seconds
from ._record import record

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any

    from .config import TelemetryConfig


__all__ = ["Settings"]


@record(frozen=True, slots=True)
class Settings:
    """Every number of a config, usable as it is: ``validate()`` warned about the rest."""

    batch_size: int
    max_queue: int
    interval_s: float
    shutdown_s: float
    request_timeout_s: float
    max_retries: int
    cache_ttl_s: float

    @classmethod
    def of(cls, config: TelemetryConfig) -> Settings:
        """The settings of ``config``, each bad value replaced by its default."""
        batch = _int(config.batch_size)
        queue = _int(config.max_queue_size)
        ttl = config.prediction_cache_ttl_seconds
        usable_ttl = isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and ttl >= 0
        return cls(
            batch_size=batch if 1 <= batch <= 100 else 100,
            max_queue=queue if queue > 0 else 1000,
            interval_s=_number(config.submit_interval_seconds, 300.0),
            shutdown_s=_number(config.shutdown_timeout_seconds, 5.0),
            request_timeout_s=_number(config.request_timeout_seconds, 10.0),
            max_retries=max(0, _int(config.max_retries)),
            cache_ttl_s=seconds(ttl) if usable_ttl else 21600.0,
        )


def _number(value: Any, default: float) -> float:
    """``value`` when it is a usable positive number (capped at a year), else ``default``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return default
    return seconds(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value
