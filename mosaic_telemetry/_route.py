"""Where a request goes: straight to the server, or through the proxy the environment names."""

from __future__ import annotations

import os
import sys

from ._http import safe_url
from .errors import ConfigurationError

__all__ = ["Route", "route_for"]


class Route:
    """Where a request goes: the server, and the proxy in between if there is one.

    A plain class, not a dataclass: made on a cold start's first send, where
    ``@dataclass``'s code generation would cost more than the request; its repr
    leaves out the ``Proxy-Authorization`` value.
    """

    __slots__ = ("host", "port", "proxy_auth", "proxy_host", "proxy_port", "proxy_url", "scheme")

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        proxy_host: str | None = None,
        proxy_port: int = 0,
        proxy_url: str | None = None,
        proxy_auth: str | None = None,
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port
        self.proxy_url = proxy_url
        """The proxy's URL as it may be shown (password masked)."""
        self.proxy_auth = proxy_auth
        """The ``Proxy-Authorization`` value, when the proxy URL carries credentials."""

    def __repr__(self) -> str:
        via = "" if self.proxy_url is None else f" via {self.proxy_url}"
        return f"Route({self.scheme}://{self.target}{via})"

    @property
    def target(self) -> str:
        """``host:port`` of the server (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def route_for(scheme: str, host: str, port: int) -> Route:
    """Direct, or through the proxy the environment names for ``scheme`` (unless NO_PROXY).

    Raises:
        ConfigurationError: the proxy URL has an invalid port.
    """
    if not _may_have_proxy():
        return Route(scheme, host, port)
    import base64  # noqa: PLC0415  # a proxy is configured: rare
    import urllib.request  # noqa: PLC0415
    from urllib.parse import unquote, urlsplit  # noqa: PLC0415

    proxy = urllib.request.getproxies().get(scheme)
    target = f"[{host}]" if ":" in host else host
    if not proxy or urllib.request.proxy_bypass(f"{target}:{port}"):
        return Route(scheme, host, port)
    if "://" not in proxy:
        proxy = "http://" + proxy
    parts = urlsplit(proxy)
    try:
        proxy_port = parts.port or 80
    except ValueError:
        raise ConfigurationError(
            f"the {scheme} proxy URL has an invalid port: {safe_url(proxy)}"
        ) from None
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
    return Route(
        scheme,
        host,
        port,
        proxy_host=parts.hostname or "",
        proxy_port=proxy_port,
        proxy_url=safe_url(f"{parts.scheme}://{parts.netloc}"),
        proxy_auth=auth,
    )


def _may_have_proxy() -> bool:
    """Whether ``urllib.request.getproxies()`` could name one (it imports ~30 modules).

    On Linux and the BSDs it reads only ``*_proxy`` variables (any case), so without a
    non-empty one there is no proxy; macOS and Windows also ask the system settings.
    """
    if sys.platform in ("darwin", "win32"):
        return True
    return any(value and name[-6:].lower() == "_proxy" for name, value in os.environ.items())
