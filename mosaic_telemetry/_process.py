"""Process: what one client holds for one process (a forked child builds its own)."""

from __future__ import annotations

from . import _fork
from ._ledger import Ledger

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from ._health import Health
    from ._request import Requester
    from ._settings import Settings
    from ._worker import Background
    from .config import TelemetryConfig


__all__ = ["Process"]


class Process:
    """Everything of a client that belongs to one process; a forked child makes its own."""

    __slots__ = ("background", "health", "ledger", "pid", "requester")

    def __init__(
        self,
        config: TelemetryConfig,
        settings: Settings,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None,
    ) -> None:
        from ._health import Health  # noqa: PLC0415  # first client only: import stays cheap
        from ._hooks import Hooks  # noqa: PLC0415
        from ._request import Requester  # noqa: PLC0415
        from ._sender import Sender  # noqa: PLC0415
        from ._worker import Background  # noqa: PLC0415

        self.pid = _fork.getpid()
        self.ledger = ledger = Ledger(settings.max_queue)
        self.health: Health = Health(ledger, config.api_key)
        self.requester: Requester = Requester(
            config,
            ledger,
            self.health,
            clock=clock,
            sleep=sleep,
            max_retries=settings.max_retries,
            request_timeout_s=settings.request_timeout_s,
        )
        hooks = Hooks(config, ledger, self.health)
        sender = Sender(
            self.requester, ledger, self.health, dry_run=bool(config.dry_run), hooks=hooks
        )
        journal = None
        if config.spool_dir and isinstance(config.spool_dir, str):
            from ._journal import Journal  # noqa: PLC0415  # only with a spool

            max_bytes = config.spool_max_bytes
            if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 65536:
                max_bytes = 64 * 1024 * 1024  # validate() warned about it
            journal = Journal(ledger, config.spool_dir, max_bytes, settings.max_queue)
        self.background: Background = Background(
            ledger,
            sender,
            self.requester,
            batch_size=settings.batch_size,
            interval_s=settings.interval_s,
            request_timeout_s=settings.request_timeout_s,
            max_retries=settings.max_retries,
            shutdown_s=settings.shutdown_s,
            clock=clock,
            journal=journal,
        )
