"""Pure request checks of the collector: bearer auth, body decoding, strict JSON."""

from __future__ import annotations

import hmac
import json
import re
import zlib
from typing import Any

__all__ = [
    "MAX_BODY_BYTES",
    "RequestError",
    "check_bearer",
    "decode_body",
    "parse_content_length",
    "parse_json",
]

MAX_BODY_BYTES = 1024 * 1024
"""Largest body accepted, as sent and (for gzip) once decompressed: 1 MiB."""

_DIGITS = re.compile(r"\A[0-9]{1,19}\Z")


class RequestError(Exception):
    """A request the collector refuses: ``status`` is the HTTP code, ``message`` the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


def check_bearer(header: str | None, api_key: bytes) -> None:
    """Accept ``Authorization: Bearer <api_key>``, compared in constant time.

    Raises:
        RequestError: 401 when the header is missing, malformed or holds another key.
            The message never repeats what the client sent.
    """
    if not header:
        raise RequestError(401, "missing Authorization header (expected: Bearer <api key>)")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RequestError(401, "Authorization header must be: Bearer <api key>")
    # Header text arrives decoded as latin-1; encoding it back gives the bytes sent.
    sent = token.strip().encode("latin-1", errors="replace")
    if not hmac.compare_digest(sent, api_key):
        raise RequestError(401, "invalid API key")


def parse_content_length(values: list[str], limit: int = MAX_BODY_BYTES) -> int:
    """Return the body length announced by the ``Content-Length`` header value(s).

    Raises:
        RequestError: 411 when absent, 400 when not one non-negative integer,
            413 when above ``limit``.
    """
    if not values:
        raise RequestError(411, "Content-Length header is required")
    texts = {value.strip() for value in values}
    if len(texts) != 1:
        raise RequestError(400, "Content-Length headers disagree")
    text = texts.pop()
    if not _DIGITS.match(text):
        raise RequestError(400, "Content-Length must be a non-negative integer")
    length = int(text)
    if length > limit:
        raise RequestError(413, f"body is {length} bytes; the limit is {limit} bytes")
    return length


def decode_body(body: bytes, content_encoding: str | None, limit: int = MAX_BODY_BYTES) -> bytes:
    """Undo ``Content-Encoding`` (none, ``identity`` or ``gzip``); cap the decoded size.

    Raises:
        RequestError: 415 for another encoding, 400 for a broken gzip stream,
            413 when the decoded body exceeds ``limit`` (a decompression bomb stops there).
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise RequestError(415, "Content-Encoding must be gzip or identity")
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        # max_length stops inflating one byte past the limit: a bomb never expands in memory.
        data = decoder.decompress(body, limit + 1)
    except zlib.error:
        raise RequestError(400, "body is not valid gzip") from None
    if len(data) > limit:
        raise RequestError(413, f"decompressed body exceeds the limit of {limit} bytes")
    if not decoder.eof:
        raise RequestError(400, "gzip body is truncated")
    if decoder.unused_data:
        raise RequestError(400, "unexpected data after the gzip stream")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes) -> Any:
    """Parse strict JSON (no NaN or Infinity) from UTF-8 bytes.

    Raises:
        RequestError: 400 naming the parse failure.
    """
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at position {exc.pos}"
        raise RequestError(400, f"body is not valid JSON: {reason}") from None
    except UnicodeDecodeError:
        raise RequestError(400, "body is not valid JSON: not UTF-8 text") from None
    except RecursionError:
        raise RequestError(400, "body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise RequestError(400, f"body is not valid JSON: {exc}") from None
