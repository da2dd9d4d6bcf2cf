"""Collector: start, stop and URL of a local Telemetry API v1 server."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from datetime import datetime, timedelta, timezone
from types import TracebackType

from ..errors import ConfigurationError
from ._handler import REQUEST_TIMEOUT_S, CollectorHTTPServer
from ._wire import MAX_BODY_BYTES
from .predictions import MIN_SAMPLES
from .service import CollectorService
from .store import EventStore, StoreError

__all__ = ["DEFAULT_HOST", "Collector"]

DEFAULT_HOST = "127.0.0.1"
_POLL_S = 0.02
_RETENTION_PERIOD_S = 3600.0

_log = logging.getLogger(__name__)


def _reachable(host: str) -> str:
    """An address that reaches a socket bound to ``host`` (loopback for a wildcard)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "127.0.0.1"
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return host


def _shutdown_now(server: CollectorHTTPServer) -> None:
    """``server.shutdown()``, without waiting out the serve loop's poll interval.

    The loop checks the shutdown flag after each select(); a throwaway
    connection makes select() return at once.
    """
    stopper = threading.Thread(target=server.shutdown, name="mosaic-telemetry-collector-stop")
    stopper.start()
    host, port = server.server_address[:2]
    target = (_reachable(str(host)), int(port))
    while stopper.is_alive():
        try:
            socket.create_connection(target, timeout=_POLL_S).close()
        except OSError:
            pass
        stopper.join(_POLL_S)


class Collector:
    """A local Telemetry API v1 server: HTTP on a loopback port, events in sqlite3.

    Example::

        with Collector(api_key) as collector:  # started on an ephemeral port
            config = TelemetryConfig(server_url=collector.url, api_key=api_key, ...)
    """

    def __init__(
        self,
        api_key: str,
        db_path: str = ":memory:",
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        min_samples: int = MIN_SAMPLES,
        max_body_bytes: int = MAX_BODY_BYTES,
        retain_days: int | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        """Check the settings; nothing is opened until :meth:`start`.

        ``retain_days``: delete events received more than that many days ago, at
        start and then every hour (None keeps every event). ``request_timeout_s``:
        the time a whole request may take to arrive (line, headers, body); a
        later body gets 408.

        Raises:
            ConfigurationError: the key is empty or holds whitespace or control
                characters, the port is outside 0..65535, ``min_samples`` is below
                1 or ``retain_days`` is not a whole number of at least 1.
        """
        if not isinstance(api_key, str) or not api_key or not api_key.isprintable():
            raise ConfigurationError("api_key must be a non-empty printable string")
        if any(ch.isspace() for ch in api_key):
            raise ConfigurationError("api_key must not contain whitespace")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError(f"port must be between 0 and 65535, got {port!r}")
        if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 1:
            raise ConfigurationError(f"min_samples must be at least 1, got {min_samples!r}")
        if retain_days is not None and (
            isinstance(retain_days, bool) or not isinstance(retain_days, int) or retain_days < 1
        ):
            raise ConfigurationError(
                f"retain_days must be a whole number of days, at least 1, got {retain_days!r}"
            )
        if not (isinstance(request_timeout_s, (int, float)) and 0 < request_timeout_s < 3600):
            raise ConfigurationError(
                f"request_timeout_s must be above 0 and below 3600, got {request_timeout_s!r}"
            )
        self._retain_days = retain_days
        self._request_timeout_s = float(request_timeout_s)
        self._api_key = api_key.encode("utf-8")
        self._db_path = db_path
        self._host = host
        self._port = port
        self._min_samples = min_samples
        self._max_body_bytes = max_body_bytes
        self._server: CollectorHTTPServer | None = None
        self._store: EventStore | None = None
        self._thread: threading.Thread | None = None
        self._helpers: list[threading.Thread] = []
        self._service: CollectorService | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> Collector:
        """Open the store, bind the socket and serve in a daemon thread; return ``self``.

        Raises:
            StoreError: the database can't be opened.
            OSError: the address can't be bound (for example, the port is taken).
        """
        with self._lock:
            if self._server is not None:
                return self
            store: EventStore | None = None
            try:
                store = EventStore(self._db_path)
                service = CollectorService(store, min_samples=self._min_samples)
                server = CollectorHTTPServer(
                    (self._host, self._port),
                    service,
                    self._api_key,
                    self._max_body_bytes,
                    self._request_timeout_s,
                )
            except BaseException:  # a signal too: never leave the database open
                if store is not None:
                    store.close()
                raise
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.5},
                name=f"mosaic-telemetry-collector-{server.server_port}",
                daemon=True,
            )
            self._store, self._server, self._thread = store, server, thread
            self._service = service
            self._stopping.clear()
            thread.start()
            upkeep = threading.Thread(
                target=self._upkeep,
                args=(service,),
                name=f"mosaic-telemetry-collector-upkeep-{server.server_port}",
                daemon=True,
            )
            self._helpers = [upkeep]
            upkeep.start()
            _log.debug("collector listening on %s", self.url)
            return self

    def _upkeep(self, service: CollectorService) -> None:
        """Delete events past retention, and build the prediction index in the background."""
        days = self._retain_days
        while True:
            try:
                deleted = 0
                if days is not None:
                    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
                    deleted = service.store.delete_received_before(cutoff)
                    if deleted:
                        _log.info("deleted %d events received before %s", deleted, cutoff)
                if deleted or not service.is_warm:
                    service.warm_up()
            except StoreError as exc:
                if self._stopping.is_set():
                    return
                _log.warning("collector upkeep failed: %s", exc)
            except Exception:  # a bug here must not stop the serving
                _log.warning("collector upkeep failed", exc_info=True)
            if (days is None and service.is_warm) or self._stopping.wait(_RETENTION_PERIOD_S):
                return

    def stop(self) -> None:
        """Stop serving, close the socket and the store; safe to call twice."""
        with self._lock:
            server, store, thread = self._server, self._store, self._thread
            helpers, self._helpers = self._helpers, []
            service = self._service
            self._server = self._store = self._thread = self._service = None
        self._stopping.set()
        if server is not None:
            _shutdown_now(server)
            server.server_close()
        if thread is not None:
            thread.join()
        for helper in helpers:  # a warm-up under way finishes first
            helper.join()
        if store is not None and service is not None and store.path != ":memory:":
            try:
                service.save_index()  # the next start loads it instead of rebuilding
            except StoreError as exc:
                _log.warning("could not save the prediction index: %s", exc)
        if store is not None:
            store.close()

    @property
    def is_running(self) -> bool:
        """Whether the collector is serving."""
        return self._server is not None

    @property
    def url(self) -> str:
        """Base URL of the running collector, such as ``http://127.0.0.1:41234``.

        Bound to a wildcard address (``0.0.0.0``, ``::``), the URL names loopback.

        Raises:
            RuntimeError: the collector is not started.
        """
        server = self._server
        if server is None:
            raise RuntimeError("the collector is not started")
        host = _reachable(server.server_name)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{server.server_port}"

    @property
    def event_count(self) -> int:
        """Number of stored events (0 when not started)."""
        store = self._store
        return 0 if store is None else store.count()

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"Collector({where}, db_path={self._db_path!r})"
