"""The one place that opens connections: http(s) only, no redirects, proxies from the environment.

Each thread that sends takes a keep-alive connection from the transport's idle
stack and gives it back after its request, so a client holds one connection
per sender thread at most and reuses it batch after batch.
"""

from __future__ import annotations

import os
import threading
from collections import deque

from ._deadline import Deadline
from ._diagnose import TransportError
from ._http import build_headers, check_endpoint, safe_url
from .errors import ConfigurationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import ssl

    from ._connection import Connection
    from ._http import HttpResult
    from ._route import Route
    from .config import TelemetryConfig


__all__ = ["Transport", "TransportError"]

_MAX_IDLE = 8


class Transport:
    """Sends JSON bodies to the configured server over reused HTTP/1.1 connections.

    Only ``http`` and ``https``; a 3xx comes back as a response and is never
    followed, so the bearer token never reaches another origin. TLS certificates
    are always verified, against ``ca_file`` when it is set (``ca_file`` is read
    for ``https`` URLs only). ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` are read
    on the first request; HTTPS goes through a proxy in a ``CONNECT`` tunnel.

    Raises:
        ConfigurationError: a URL, key or user agent that can't be sent safely, or a
            ``ca_file`` that can't be loaded for an ``https`` URL.
    """

    def __init__(self, config: TelemetryConfig) -> None:
        check_endpoint(config.server_url, config.api_key, config.user_agent)
        from urllib.parse import urlsplit  # noqa: PLC0415  # first send only

        base_url = config.server_url.rstrip("/")
        parts = urlsplit(base_url)
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError(
                f"server_url has an invalid port: {safe_url(base_url)}"
            ) from None
        if not parts.hostname:
            raise ConfigurationError(f"server_url names no host: {safe_url(base_url)}")
        self._base_url = base_url
        self._scheme = parts.scheme.lower()
        self._host = parts.hostname
        self._port = port or (443 if self._scheme == "https" else 80)
        self._base_path = parts.path
        self._gzip = bool(config.gzip)
        self._headers = build_headers(config.api_key, config.user_agent, gzipped=self._gzip)
        self._context: ssl.SSLContext | None = None
        if self._scheme == "https":
            self._context = _tls_context(config.ca_file or None)
        self._route: Route | None = None
        self._idle: deque[Connection] = deque()
        self._busy: set[Connection] = set()
        self._busy_lock = threading.RLock()  # an RLock: stop() may run in a signal handler
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"Transport(base_url={safe_url(self._base_url)!r})"

    def post(
        self,
        path: str,
        body: bytes,
        *,
        deadline: Deadline | None = None,
        timeout_s: float | None = None,
    ) -> HttpResult:
        """POST ``body`` (JSON bytes) to ``server_url + path`` by ``deadline`` (or ``timeout_s``).

        Raises:
            TransportError: no HTTP response came back (the message holds no secret).
        """
        if self._gzip:
            import gzip  # noqa: PLC0415  # only when compression is configured

            body = gzip.compress(body, compresslevel=6)
        return self._request("POST", path, body, dict(self._headers), _when(deadline, timeout_s))

    def get(
        self, path: str, *, deadline: Deadline | None = None, timeout_s: float | None = None
    ) -> HttpResult:
        """GET ``server_url + path`` without credentials (used for ``/v1/health``)."""
        headers = {"Accept": "application/json", "User-Agent": self._headers["User-Agent"]}
        return self._request("GET", path, None, headers, _when(deadline, timeout_s))

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: Deadline,
    ) -> HttpResult:
        connection = self._checkout()
        try:
            return connection.request(method, self._base_path + path, body, headers, deadline)
        finally:
            self._checkin(connection)

    # -- connections -----------------------------------------------------------------

    def _checkout(self) -> Connection:
        if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours
            self._pid = os.getpid()
            self._idle = deque()
            self._busy = set()
            self._busy_lock = threading.RLock()
        try:
            connection = self._idle.pop()
        except IndexError:
            from ._connection import Connection  # noqa: PLC0415  # first send only

            connection = Connection(self._get_route(), self._context)
        with self._busy_lock:
            self._busy.add(connection)
        return connection

    def _checkin(self, connection: Connection) -> None:
        with self._busy_lock:  # the bound's check and the append are one step
            self._busy.discard(connection)
            keep = len(self._idle) < _MAX_IDLE
            if keep:
                self._idle.append(connection)
        if not keep:
            connection.close()

    def _get_route(self) -> Route:
        route = self._route
        if route is None:
            from ._route import route_for  # noqa: PLC0415  # first send only

            route = self._route = route_for(self._scheme, self._host, self._port)
        return route

    def abort(self) -> None:
        """End every request in progress at once (their threads see a failure)."""
        with self._busy_lock:
            busy = list(self._busy)
        for connection in busy:
            connection.abort()

    def close(self) -> None:
        """Close the idle connections (a later request opens a new one)."""
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return
            connection.close()

    def __del__(self) -> None:
        try:
            if self._pid == os.getpid():
                self.close()
        except Exception:  # noqa: S110  # interpreter teardown: nothing to report to
            pass


def _when(deadline: Deadline | None, timeout_s: float | None) -> Deadline:
    if deadline is not None:
        return deadline
    return Deadline.after(max(timeout_s if timeout_s is not None else 10.0, 0.001))


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    from ._tls import tls_context  # noqa: PLC0415  # https only

    try:
        return tls_context(ca_file)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise ConfigurationError(
            f"ca_file {str(ca_file)[:200]!r} can't be used to verify TLS: {reason}"
        ) from None
