"""Pure HTTP helpers: request headers and bodies, response classification, retry delays."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import ConfigurationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import random
    from typing import Any


__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "EVENTS_PATH",
    "HEALTH_PATH",
    "MAX_RESPONSE_BYTES",
    "PREDICTIONS_PATH",
    "HttpResult",
    "Verdict",
    "backoff_delay",
    "build_headers",
    "check_endpoint",
    "classify_status",
    "encode_json",
    "error_message",
    "parse_retry_after",
]

EVENTS_PATH = "/v1/events/batch"
PREDICTIONS_PATH = "/v1/predictions/batch"
HEALTH_PATH = "/v1/health"

MAX_RESPONSE_BYTES = 1024 * 1024
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
MAX_RETRY_AFTER_S = 3600.0

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
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


def backoff_delay(
    attempt: int,
    *,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt)]``."""
    if rng is None:
        import random  # noqa: PLC0415  # imported on the first retry, not at import

        rng = random.Random()  # jitter, not cryptography
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 32)))
    return rng.uniform(0.0, ceiling)


def error_message(body: bytes, *, limit: int = 200) -> str:
    """The server's ``{"error": ...}`` message from a failure body, else a short excerpt."""
    import json  # noqa: PLC0415  # loaded on first use: import stays cheap

    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        text = str(data["error"])
    else:
        text = body[:limit].decode("utf-8", "replace")
    text = _CONTROL.sub(" ", text).strip()
    return text[:limit] if text else "(empty body)"


@dataclass(frozen=True, slots=True)
class HttpResult:
    """A response as the transport saw it: status, headers that matter, capped body."""

    status: int
    body: bytes
    retry_after: str | None = None
    truncated: bool = False
