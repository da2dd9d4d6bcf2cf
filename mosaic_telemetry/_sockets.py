"""Sockets that keep a deadline over many calls, and a DNS lookup with a deadline.

Before every send and receive these sockets set their timeout to what is left of
the request's deadline, so the total stays bounded however the peer paces its
bytes (``sendall`` and the TLS handshake already take one timeout as a total).
TLS lives in ``_tls.py``: ``ssl`` is imported for ``https://`` only.
"""

from __future__ import annotations

import socket
import threading

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any

    from ._deadline import Deadline


__all__ = ["DeadlineSocket", "arm", "resolve"]


def arm(sock: socket.socket, deadline: Deadline | None) -> None:
    """Set ``sock``'s timeout to what is left of ``deadline``; raise when nothing is."""
    if deadline is not None:
        left = deadline.remaining()
        if left <= 0:
            raise TimeoutError("timed out")
        sock.settimeout(left)


class DeadlineSocket(socket.socket):
    """A socket that bounds each blocking call by what is left of :attr:`deadline`."""

    deadline: Deadline | None = None

    def sendall(self, data: Any, flags: int = 0) -> None:
        arm(self, self.deadline)  # socket.sendall keeps one total timeout for all of it
        super().sendall(data, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        arm(self, self.deadline)
        return super().send(data, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        arm(self, self.deadline)
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        arm(self, self.deadline)
        return super().recv(bufsize, flags)


def resolve(host: str, port: int, deadline: Deadline) -> list[tuple]:  # type: ignore[type-arg]
    """``getaddrinfo`` by ``deadline``: a name is looked up on a helper thread."""
    # An ASCII name goes as bytes: a str is IDNA-encoded first, which imports
    # encodings.idna and stringprep (~7 % of a cold start's first send).
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    try:
        return socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass  # a name, not an address
    answer: list[object] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM))
        except OSError as exc:
            answer.append(exc)
        finally:
            done.set()

    from ._threads import start_thread  # noqa: PLC0415

    if start_thread(lookup, "dns") is None:
        lookup()  # no thread allowed here: the resolver's own timeout has to do
    if not done.wait(deadline.remaining()):
        raise TimeoutError(f"DNS lookup of {host} timed out")
    result = answer[0]
    if isinstance(result, OSError):
        raise result
    return result  # type: ignore[return-value]  # getaddrinfo's list
