"""TLS for ``https://``: a verifying context whose sockets keep the request's deadline."""

from __future__ import annotations

import ssl

from ._sockets import arm

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any

    from ._deadline import Deadline


__all__ = ["DeadlineSSLSocket", "tls_context"]


class DeadlineSSLSocket(ssl.SSLSocket):
    """The TLS counterpart of :class:`DeadlineSocket` (set as the context's socket class)."""

    deadline: Deadline | None = None

    def send(self, data: Any, flags: int = 0) -> int:
        arm(self, self.deadline)  # SSLSocket.sendall loops over send(): each chunk is bounded
        return super().send(data, flags)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        arm(self, self.deadline)
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        arm(self, self.deadline)
        return super().recv(buflen, flags)


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying TLS context (the system's CAs, or ``ca_file``) whose sockets keep deadlines.

    Raises:
        OSError, ssl.SSLError: ``ca_file`` can't be read or holds no certificate.
    """
    context = ssl.create_default_context(cafile=ca_file)
    context.sslsocket_class = DeadlineSSLSocket
    return context
