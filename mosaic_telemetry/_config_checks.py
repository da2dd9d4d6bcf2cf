"""The rules of TelemetryConfig's text settings, each as a function giving the problem in words."""

from __future__ import annotations

from ._text_forms import lazy_pattern

__all__ = [
    "ENABLED_FALSY",
    "ENABLED_TRUTHY",
    "ENV_PREFIX",
    "api_key_problem",
    "instance_id_problem",
    "mask_url",
    "read_enabled",
    "server_url_problem",
]

ENV_PREFIX = "MOSAIC_TELEMETRY_"
ENABLED_TRUTHY = ("1", "true", "yes")
"""The spec's values that enable telemetry (any case, surrounding spaces ignored)."""
ENABLED_FALSY = ("0", "false", "no", "off")
"""Values that disable it without a warning; anything else disables it with one."""

_HEX = frozenset("0123456789abcdefABCDEF")
_API_KEY_LENGTH = 64
_EDGE_NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", " ": "a space"}
_UNSAFE = lazy_pattern(r"[\s\x00-\x1f\x7f]")
# Everything between "scheme://" (or the start) and the last "@": a user name and password
# (the last: a password may hold an unescaped "@"; masking a path's "@" too costs nothing).
_USER_INFO = lazy_pattern(r"(?s)\A((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?.*@")
_V1_SEGMENT = lazy_pattern(r"(?i)/v1(?=/|\Z)")


def mask_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***``: safe to print."""
    if "@" not in url:
        return url
    return _USER_INFO.sub(lambda match: (match[1] or "") + "***@", url, count=1)


def read_enabled(raw: str) -> tuple[bool, str | None]:
    """The value of ``MOSAIC_TELEMETRY_ENABLED``: (enabled, the problem when unrecognised).

    Only the spec's truthy values enable telemetry; an unknown value such as ``on``
    disables it, as the original SDK did, but no longer silently.
    """
    value = raw.strip().lower()
    if value in ENABLED_TRUTHY:
        return True, None
    if value in ENABLED_FALSY:
        return False, None
    found = "is set but empty" if not value else f"is {raw.strip()[:40]!r}, not a known value"
    return False, (
        f"{ENV_PREFIX}ENABLED {found}, so telemetry is disabled; "
        f"{', '.join(ENABLED_TRUTHY)} enable it, {', '.join(ENABLED_FALSY)} disable it"
    )


def _not_set(name: str) -> str:
    return f"{name} is not set ({ENV_PREFIX}{name.upper()} or {name}=)"


def _position(char: str, index: int) -> str:
    shown = _EDGE_NAMES.get(char) or repr(char)
    return f"{shown} at position {index + 1}"


def _edge_problem(name: str, value: str) -> str | None:
    """A newline or spaces around ``value`` (a pasted or ``echo``-ed secret), in words."""
    if value == value.strip():
        return None
    if value.rstrip(" \t").endswith(("\n", "\r")):
        return f"{name} ends with a newline (as echo or a file adds one): remove it"
    return f"{name} has spaces or tabs at its start or end: remove them"


def server_url_problem(url: object) -> str | None:
    """What is wrong with ``server_url``, or None; the message never shows a password."""
    if not isinstance(url, str):
        return f"server_url must be a string, got {type(url).__name__}"
    if not url:
        return _not_set("server_url") + ", for example https://telemetry.example.com"
    edge = _edge_problem("server_url", url)
    if edge:
        return edge
    shown = mask_url(url)
    if not url.lower().startswith(("http://", "https://")):
        return f"server_url must start with http:// or https://, got {shown[:60]!r}"
    unsafe = _UNSAFE.search(url)
    if unsafe:
        where = _position(unsafe[0], unsafe.start())
        return f"server_url must not contain spaces or control characters (found {where})"
    if "@" in url:
        return (
            f"server_url must not hold a user name or password, got {shown[:80]!r}; "
            "the client authenticates with api_key"
        )
    from urllib.parse import urlsplit  # noqa: PLC0415  # validate() only, never at import

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # reading it checks the port
    except ValueError:
        return f"server_url has an invalid host or port, got {shown[:80]!r}"
    if not parts.hostname:
        return f"server_url has no host name, got {shown[:80]!r}"
    if "?" in url or "#" in url:
        return f"server_url must not have a query (?) or fragment (#), got {shown[:80]!r}"
    v1 = _V1_SEGMENT.search(parts.path)
    if v1:
        base = url[: url.index(parts.path) + v1.start()] or url
        return (
            f"server_url must be the base URL without /v1 (the client adds /v1/... itself): "
            f"use {base[:80]!r}"
        )
    return None


def api_key_problem(key: object) -> str | None:
    """What is wrong with ``api_key``, or None; the message never repeats the key."""
    if not isinstance(key, str):
        return f"api_key must be a string of 64 hexadecimal characters, got {type(key).__name__}"
    if not key:
        return _not_set("api_key")
    edge = _edge_problem("api_key", key)
    if edge:
        if api_key_problem(key.strip()) is None:
            edge += "; the 64 characters inside are a valid key"
        return edge
    if key[:7].lower() == "bearer ":
        return "api_key must be the key alone, without 'Bearer '"
    rule = "api_key must be 64 hexadecimal characters (0-9, a-f)"
    for index, char in enumerate(key):
        if char not in _HEX:
            return f"{rule}; found {_position(char, index)}"
    if len(key) != _API_KEY_LENGTH:
        return f"{rule}; got {len(key)}"
    return None


def instance_id_problem(value: object, *, is_uuid: bool) -> str | None:
    """What is wrong with ``instance_id`` (``is_uuid``: whether it parsed), or None."""
    if is_uuid:
        return None
    if value == "" or value is None:
        return (
            _not_set("instance_id")
            + "; make one with: python -c 'import uuid; print(uuid.uuid4())'"
        )
    if isinstance(value, str):
        edge = _edge_problem("instance_id", value)
        if edge:
            return edge
    return f"instance_id must be a UUID string, got {str(value)[:60]!r}"
