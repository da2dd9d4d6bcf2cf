"""What the client says about its sending: WARNING when it starts failing, INFO when it recovers.

Per outage, not per process: each distinct cause is warned about once while
sending fails, and after a recovery the next failure is warned about again.
Every text that came from a server or a socket is cleaned (no control
characters, no API key) before it is logged or kept as ``stats.last_error``.
"""

from __future__ import annotations

import threading
import time

from ._http import clean_text
from ._log import LazyLogger

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from ._ledger import Ledger


__all__ = ["Health"]

logger = LazyLogger(__name__.rpartition(".")[0] + ".delivery")

_MAX_CAUSES = 256


class Health:
    """The sending state (ok or failing since when) and the causes already warned about."""

    def __init__(self, ledger: Ledger, api_key: object) -> None:
        self._ledger = ledger
        self._key = api_key if isinstance(api_key, str) and len(api_key) >= 4 else None
        self._failing_since: float | None = None
        self._failed_sends = 0
        self._warned: set[str] = set()
        # Decisions only, never held while logging; an RLock, for signal handlers.
        self._lock = threading.RLock()

    def clean(self, text: str, *, limit: int = 300) -> str:
        """``text`` without the API key (a server may echo what it was sent), one line."""
        key = self._key
        if key is not None and key in text:
            text = text.replace(key, "***")
        return clean_text(text, limit=limit)

    def _warn_once(self, text: str) -> None:
        with self._lock:
            first = text not in self._warned
            if first and len(self._warned) < _MAX_CAUSES:
                self._warned.add(text)
        if first:
            logger.warning("%s", text)
        else:
            logger.debug("%s", text)

    def send_failed(self, cause: str, attempts: int) -> None:
        """A send gave up after ``attempts`` attempts; its events stay queued."""
        cause = self.clean(cause)
        if attempts > 0 or self._ledger.last_error is None:
            # A send whose deadline passed before any request went out says nothing new:
            # the real cause of the outage stays the last error.
            self._ledger.error(cause)
        with self._lock:
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                self._failed_sends = 0
            self._failed_sends += 1
        self._warn_once(
            f"telemetry sending failed ({attempts} attempt(s)): {cause}; "
            "the events stay queued and are sent again later"
        )

    def attempt_failed(self, cause: str) -> None:
        """One attempt failed and will be retried."""
        self._ledger.error(self.clean(cause))

    def dropped(self, count: int, cause: str, *, what: str = "the server refused") -> None:
        """``count`` events were dropped for good, for ``cause``."""
        cause = self.clean(cause)
        self._ledger.error(cause)
        self._warn_once(f"telemetry dropped {count} event(s) {what}: {cause}")

    def note(self, text: str, *, error: bool = True) -> None:
        """A problem worth one WARNING per outage (rejected events, unreadable answers)."""
        text = self.clean(text)
        if error:
            self._ledger.error(text)
        self._warn_once(text)

    def succeeded(self) -> None:
        """A request got a 2xx: if sending was failing, say that it recovered."""
        with self._lock:
            since, failed = self._failing_since, self._failed_sends
            if since is None:
                return
            self._failing_since = None
            self._warned.clear()
        logger.info(
            "telemetry sending recovered after %d failed send(s) over %.1f s",
            failed,
            time.monotonic() - since,
        )
