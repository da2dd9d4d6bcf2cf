"""TransportError and its words: what failed (DNS, refused, TLS, proxy, timeout) and where."""

from __future__ import annotations

import sys

from ._http import clean_text
from .errors import TelemetryError

__all__ = ["Phase", "TransportError", "describe"]


class TransportError(TelemetryError):
    """A request got no HTTP response: DNS, refused or reset connection, TLS, proxy, timeout.

    Attributes:
        retryable: whether trying again soon may help (a refused connection may; an
            untrusted certificate or an unknown host name will not until fixed).
        sent: whether the request may have reached the server (its fate is unknown).
    """

    def __init__(self, message: str, *, retryable: bool = True, sent: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.sent = sent


class Phase:
    """The steps of one request, in order; a failure is described by the step it hit."""

    DNS = "dns"
    CONNECT = "connect"
    SETUP = "setup"  # proxy tunnel and TLS handshake
    SEND = "send"
    WAIT = "wait"
    READ = "read"


_TUNNEL_STATUS = r"Tunnel connection failed: (\d{3})\s*(.*)"
_AFTER_REQUEST = (Phase.SEND, Phase.WAIT, Phase.READ)


def describe(
    exc: BaseException,
    phase: str,
    *,
    target: str,
    proxy: str | None,
    elapsed_s: float,
    resolving: str = "",
) -> TransportError:
    """The :class:`TransportError` for ``exc``, raised during ``phase`` of a request.

    Args:
        exc: what the socket, TLS or HTTP layer raised.
        phase: a :class:`Phase` value.
        target: ``host:port`` of the server.
        proxy: the proxy's URL with any password masked, or None.
        elapsed_s: seconds the request had run.
        resolving: the host name being looked up (phase DNS).
    """
    import socket  # noqa: PLC0415  # loaded with the transport, not at import

    ssl = sys.modules.get("ssl")  # an error can only be TLS's once TLS was loaded

    where = target if proxy is None else f"{target} through proxy {proxy}"
    took = f"{elapsed_s:.1f} s"
    sent = phase in _AFTER_REQUEST
    timed_out = isinstance(exc, TimeoutError)
    if phase == Phase.DNS:
        what = resolving if proxy is None else f"{resolving} (the proxy {proxy})"
        if timed_out:
            return TransportError(f"DNS lookup of {what} timed out after {took}")
        # EAI_AGAIN (a resolver in trouble) may pass; an unknown name will not.
        again = getattr(exc, "errno", None) == getattr(socket, "EAI_AGAIN", None)
        return TransportError(f"DNS lookup of {what} failed: {_reason(exc)}", retryable=again)
    if phase == Phase.CONNECT:
        if proxy is not None:
            reason = "timed out" if timed_out else _reason(exc)
            return TransportError(f"proxy {proxy} could not be reached ({reason}) for {target}")
        if isinstance(exc, ConnectionRefusedError):
            return TransportError(
                f"Connection refused by {target}: nothing listens there (is the server running?)"
            )
        if timed_out:
            return TransportError(f"timed out connecting to {target} after {took}")
        return TransportError(f"cannot connect to {target}: {_reason(exc)}")
    if phase == Phase.SETUP:
        return _setup_failure(exc, ssl, where=where, proxy=proxy, target=target, took=took)
    if timed_out:
        doing = {
            Phase.SEND: "sending the request to",
            Phase.WAIT: "waiting for the answer from",
            Phase.READ: "reading the answer from",
        }[phase]
        return TransportError(f"timed out after {took} {doing} {where}", sent=True)
    return TransportError(_closed(exc, phase, where), sent=sent)


def _setup_failure(
    exc: BaseException, ssl: object, *, where: str, proxy: str | None, target: str, took: str
) -> TransportError:
    """A failure between the TCP connection and the first request byte: tunnel or TLS."""
    verify_error = getattr(ssl, "SSLCertVerificationError", ())  # ssl is lazy, maybe None
    ssl_error = getattr(ssl, "SSLError", ())
    if isinstance(exc, verify_error):
        reason = getattr(exc, "verify_message", None) or _reason(exc)
        return TransportError(
            f"TLS certificate of {target} is not trusted: {reason} (CERTIFICATE_VERIFY_FAILED);"
            " set ca_file to the CA that signed it",
            retryable=False,
        )
    if isinstance(exc, ssl_error):
        reason = getattr(exc, "reason", None) or _reason(exc)
        hint = ""
        if "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc):
            hint = " (is it a plain http:// server? server_url says https://)"
        retryable = "EOF" in str(exc)  # the peer hung up mid-handshake: may pass
        return TransportError(
            f"TLS handshake with {where} failed: {reason}{hint}", retryable=retryable
        )
    import re  # noqa: PLC0415  # a failed proxy tunnel only

    match = re.search(_TUNNEL_STATUS, str(exc))
    if match is not None and proxy is not None:
        status = int(match.group(1))
        return TransportError(
            f"proxy {proxy} refused the tunnel to {target}: HTTP {status} "
            f"{clean_text(match.group(2), limit=80)}".rstrip(),
            retryable=status >= 500,
        )
    if isinstance(exc, TimeoutError):
        step = "the proxy tunnel or TLS handshake" if proxy else "the TLS handshake"
        return TransportError(f"timed out after {took} in {step} with {where}")
    return TransportError(f"connection to {where} failed before the request: {_reason(exc)}")


def _closed(exc: BaseException, phase: str, where: str) -> str:
    from . import _wire  # noqa: PLC0415  # loaded with the transport

    # The same failures under their names in _wire (plain http://) or http.client
    # (https, proxies; only ever raised once it was imported).
    client = sys.modules.get("http.client")
    if isinstance(exc, (_wire.IncompleteRead, *_of(client, "IncompleteRead"))):
        got = len(getattr(exc, "partial", b""))
        expected = getattr(exc, "expected", None) or 0
        return (
            f"{where} closed the connection in the middle of the answer "
            f"({got} of {got + expected} bytes)"
        )
    if isinstance(exc, (_wire.RemoteDisconnected, *_of(client, "RemoteDisconnected"))):
        return f"{where} closed the connection without an answer"
    if isinstance(exc, (_wire.BadStatusLine, *_of(client, "BadStatusLine"))):
        return f"{where} answered with something that is not HTTP: {_reason(exc)}"
    if isinstance(exc, (_wire.WireError, *_of(client, "HTTPException"))):
        return f"{where} sent an answer that is not valid HTTP: {_reason(exc)}"
    step = "sending the request" if phase == Phase.SEND else "the answer"
    return f"connection to {where} failed during {step}: {_reason(exc)}"


def _of(module: object, name: str) -> tuple[type[BaseException], ...]:
    """``(module.name,)``, or ``()`` when the module was never imported."""
    found = getattr(module, name, None)
    return () if found is None else (found,)


def _reason(exc: BaseException) -> str:
    """The readable part of ``exc``: its strerror, else its text, else its type."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return clean_text(f"{text} ({type(exc).__name__})", limit=160)
