"""Pure HTTP helpers: request headers and bodies, response classification, safe texts."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timezone

from ._record import record
from ._text_forms import lazy_pattern
from .errors import ConfigurationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any


__all__ = [
    "EVENTS_PATH",
    "HEALTH_PATH",
    "MAX_RESPONSE_BYTES",
    "PREDICTIONS_PATH",
    "HttpResult",
    "Verdict",
    "build_headers",
    "check_endpoint",
    "classify_status",
    "clean_text",
    "encode_json",
    "error_message",
    "parse_retry_after",
    "safe_url",
]

EVENTS_PATH = "/v1/events/batch"
PREDICTIONS_PATH = "/v1/predictions/batch"
HEALTH_PATH = "/v1/health"

MAX_RESPONSE_BYTES = 1024 * 1024
MAX_RETRY_AFTER_S = 3600.0

_CONTROL = lazy_pattern(r"[\x00-\x1f\x7f]")
# What must never reach a log line from a server's text: C0/C1 controls (CR/LF forge
# lines, ESC drives terminals), line/paragraph separators and bidirectional overrides.
_UNPRINTABLE = lazy_pattern("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
_SPACES = lazy_pattern(r"\s+")
_TITLE = lazy_pattern(rb"(?is)<title[^>]*>(.*?)</title>")
_HEADING = lazy_pattern(rb"(?is)<h1[^>]*>(.*?)</h1>")
_TAG = lazy_pattern(rb"<[^>]*>")
_USERINFO = lazy_pattern(r"(?<=://)[^/@?#]*@")
_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


class Verdict(enum.Enum):
    """What the client does with a response."""

    SUCCESS = "success"  # 2xx: the events were accepted (some may be rejected one by one)
    SPLIT = "split"  # 413: send each half on its own
    RETRY = "retry"  # transient: back off and try again
    DROP = "drop"  # permanent: retrying cannot help


def classify_status(status: int) -> Verdict:
    """Map an HTTP status to the protocol's policy (protocol.md, "Failures")."""
    if 200 <= status < 300:
        return Verdict.SUCCESS
    if status == 413:
        return Verdict.SPLIT
    if status in _TRANSIENT:
        return Verdict.RETRY
    # 3xx (redirects are never followed: the key must not reach another origin),
    # 400/401/403/404/422 and any other status: retrying the same request cannot help.
    return Verdict.DROP


def check_endpoint(server_url: str, api_key: str, user_agent: str) -> None:
    """Refuse settings that can't be sent safely.

    Raises:
        ConfigurationError: a scheme other than http/https, or CR/LF or other control
            characters in the URL, key or user agent (header injection).
    """
    if not isinstance(server_url, str) or not server_url.lower().startswith(
        ("http://", "https://")
    ):
        raise ConfigurationError(
            "server_url must start with http:// or https:// "
            f"(got {str(server_url).split(':', 1)[0][:20]!r} scheme)"
        )
    if _CONTROL.search(server_url) or " " in server_url:
        raise ConfigurationError("server_url must not contain spaces or control characters")
    if _USERINFO.search(server_url):
        raise ConfigurationError(
            f"server_url must not contain user info (user:password@): {safe_url(server_url)}"
        )
    if not isinstance(api_key, str) or _CONTROL.search(api_key):
        raise ConfigurationError("api_key must not contain control characters (CR/LF)")
    if not isinstance(user_agent, str) or _CONTROL.search(user_agent):
        raise ConfigurationError("user_agent must not contain control characters (CR/LF)")


def build_headers(api_key: str, user_agent: str, *, gzipped: bool) -> dict[str, str]:
    """The headers of every request (protocol.md, "Every request")."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": user_agent,
    }
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return headers


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON bytes of ``payload``."""
    import json  # noqa: PLC0415  # loaded on first use: import stays cheap

    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    Returns ``None`` when the header is absent or unreadable; never negative;
    at most an hour, so a hostile server can't park the client forever.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    from email.utils import parsedate_to_datetime  # noqa: PLC0415  # costly; rarely needed

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else datetime.now(timezone.utc)
    return min(max((when - current).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


def error_message(body: bytes, *, limit: int = 200) -> str:
    """A short, printable summary of a failure body.

    The server's ``{"error": ...}`` message if there is one; for an HTML page its
    ``<title>`` (or first ``<h1>``, or its text); otherwise the start of the body.
    """
    import json  # noqa: PLC0415  # loaded on first use: import stays cheap

    head = body[:65536]
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        text = str(data["error"])
    elif head.lstrip()[:1] == b"<":
        found = _TITLE.search(head) or _HEADING.search(head)
        markup = found.group(1) if found else head
        words = clean_text(_TAG.sub(b" ", markup).decode("utf-8", "replace"), limit=80)
        text = f"an HTML page ({words})" if words else "an HTML page"
    else:
        text = head[: limit * 4].decode("utf-8", "replace")
    return clean_text(text, limit=limit) or "(empty body)"


def clean_text(text: str, *, limit: int = 200) -> str:
    """``text`` safe for one log line: no control characters, spaces collapsed, cut."""
    return _SPACES.sub(" ", _UNPRINTABLE.sub(" ", text)).strip()[:limit]


def safe_url(url: object) -> str:
    """``url`` as it may be shown: any ``user:password@`` replaced by ``***@``."""
    return _USERINFO.sub("***@", str(url))


@record(frozen=True, slots=True)
class HttpResult:
    """A response as the transport saw it: status, headers that matter, capped body."""

    status: int
    body: bytes
    retry_after: str | None = None
    truncated: bool = False
