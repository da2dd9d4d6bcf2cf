"""The one place that opens connections: POST/GET with urllib, http(s) only, no redirects."""

from __future__ import annotations

import threading

from ._http import MAX_RESPONSE_BYTES, HttpResult, build_headers, check_endpoint
from .errors import TelemetryError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import urllib.request

    from .config import TelemetryConfig


__all__ = ["Transport", "TransportError"]


class TransportError(TelemetryError):
    """A request got no HTTP response: connection refused or reset, timeout, TLS failure."""


class Transport:
    """Sends JSON bodies to the configured server with ``urllib.request``.

    The opener has handlers for ``http`` and ``https`` (and environment proxies)
    only: no ``file:``/``ftp:``/``data:``, and no redirect handler, so a 3xx comes
    back as a response and the bearer token never follows it to another origin.
    TLS certificates are always verified, against ``ca_file`` when it is set.
    """

    def __init__(self, config: TelemetryConfig) -> None:
        check_endpoint(config.server_url, config.api_key, config.user_agent)
        self._base_url = config.server_url.rstrip("/")
        self._gzip = bool(config.gzip)
        self._ca_file = config.ca_file or None
        self._headers = build_headers(config.api_key, config.user_agent, gzipped=self._gzip)
        self._opener: urllib.request.OpenerDirector | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Transport(base_url={self._base_url!r})"

    def _get_opener(self) -> urllib.request.OpenerDirector:
        opener = self._opener
        if opener is not None:
            return opener
        with self._lock:
            if self._opener is None:
                self._opener = _build_opener(self._ca_file)
            return self._opener

    def post(self, path: str, body: bytes, *, timeout_s: float) -> HttpResult:
        """POST ``body`` (JSON bytes) to ``server_url + path``.

        Raises:
            TransportError: no HTTP response came back (the message holds no secret).
        """
        if self._gzip:
            import gzip  # noqa: PLC0415  # only when compression is configured

            body = gzip.compress(body, compresslevel=6)
        return self._request("POST", path, body, self._headers, timeout_s)

    def get(self, path: str, *, timeout_s: float) -> HttpResult:
        """GET ``server_url + path`` without credentials (used for ``/v1/health``)."""
        headers = {"Accept": "application/json", "User-Agent": self._headers["User-Agent"]}
        return self._request("GET", path, None, headers, timeout_s)

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout_s: float,
    ) -> HttpResult:
        import http.client  # noqa: PLC0415  # loaded on first send, not at import
        import urllib.error  # noqa: PLC0415
        import urllib.request  # noqa: PLC0415

        url = self._base_url + path
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310  # scheme checked in __init__
        try:
            opener = self._get_opener()
            with opener.open(request, timeout=max(timeout_s, 0.001)) as response:
                raw = response.read(MAX_RESPONSE_BYTES + 1)
                if len(raw) <= MAX_RESPONSE_BYTES and response.length:
                    # read(n) returns short, without raising, when the peer hangs up
                    # before Content-Length bytes came: that is no answer at all.
                    raise http.client.IncompleteRead(raw, response.length)
                return HttpResult(
                    status=int(response.status),
                    body=raw[:MAX_RESPONSE_BYTES],
                    retry_after=response.headers.get("Retry-After"),
                    truncated=len(raw) > MAX_RESPONSE_BYTES,
                )
        except (OSError, http.client.HTTPException, urllib.error.URLError, ValueError) as exc:
            raise TransportError(_describe(exc, url)) from None


def _build_opener(ca_file: str | None) -> urllib.request.OpenerDirector:
    import ssl  # noqa: PLC0415  # loaded on first send, not at import
    import urllib.request  # noqa: PLC0415

    context = ssl.create_default_context(cafile=ca_file)
    opener = urllib.request.OpenerDirector()
    # Each handler is added by hand: build_opener() would also add the file, ftp,
    # data and redirect handlers, which this client must never use.
    for handler in (
        urllib.request.ProxyHandler(),  # HTTP(S)_PROXY and NO_PROXY from the environment
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=context),
    ):
        opener.add_handler(handler)
    return opener


def _describe(exc: BaseException, url: str) -> str:
    """A one-line reason for a failed request; never the headers, so never the key."""
    reason = getattr(exc, "reason", None)
    detail = reason if reason is not None else exc
    text = str(detail) or type(detail).__name__
    return f"{type(exc).__name__} for {url}: {text}"[:300]
