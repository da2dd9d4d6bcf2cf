"""The local sink of benchmarks/peers.py: one HTTP server every SDK posts to, counting events.

Run as ``python peers_sink.py [--hang]``: it binds 127.0.0.1 on an ephemeral port, prints
``http://127.0.0.1:PORT`` and serves until its standard input closes. It accepts any POST on
any path (gzip or deflate bodies too) and answers what each SDK reads as success; with
``--hang`` it accepts connections, reads what they send and never answers. ``GET /__stats``
returns the counts. Standard library only: it runs with whatever Python runs the benchmark.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

Reply = tuple[int, str, bytes]
"""Status, content type and body of an answer."""


def _json_reply(status: int, data: object) -> Reply:
    return status, "application/json", json.dumps(data).encode()


# -- counting, one decoder per wire format ------------------------------------------


def _mosaic(body: bytes) -> tuple[int, Reply]:
    """mosaic_telemetry: ``{"events": [...]}``; the answer lists every event, as the spec says."""
    events = json.loads(body)["events"]
    results = [{"event_id": e["event_id"], "status": "accepted", "error": None} for e in events]
    return len(events), _json_reply(
        202, {"accepted": len(events), "rejected": 0, "results": results}
    )


def _posthog(body: bytes) -> tuple[int, Reply]:
    """posthog ``/batch/``: ``{"batch": [...]}``; any 200 is success (the body is not read)."""
    return len(json.loads(body)["batch"]), _json_reply(200, {"status": "Ok"})


def _segment(body: bytes) -> tuple[int, Reply]:
    """segment ``/v1/batch``: ``{"batch": [...]}``; any 2xx is success."""
    return len(json.loads(body)["batch"]), _json_reply(200, {"success": True})


def _amplitude(body: bytes) -> tuple[int, Reply]:
    """amplitude ``/2/httpapi``: ``{"events": [...]}``; it reads ``code`` from a JSON body."""
    count = len(json.loads(body)["events"])
    return count, _json_reply(
        200,
        {
            "code": 200,
            "events_ingested": count,
            "payload_size_bytes": len(body),
            "server_upload_time": int(time.time() * 1000),
        },
    )


def _mixpanel(body: bytes) -> tuple[int, Reply]:
    """mixpanel ``/track``: a form with ``data`` = one event or a list; it needs ``status: 1``."""
    data = json.loads(parse_qs(body.decode())["data"][0])
    return (len(data) if isinstance(data, list) else 1), _json_reply(
        200, {"status": 1, "error": None}
    )


def envelope_events(body: bytes) -> int:
    """Events in a Sentry envelope: one per ``event``/``transaction`` item, every log of ``log``."""
    rest = body.partition(b"\n")[2]  # after the envelope header
    count = 0
    while rest:
        header_line, _, rest = rest.partition(b"\n")
        if not header_line.strip():
            continue
        header = json.loads(header_line)
        length = header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length + 1 :]
        kind = header.get("type")
        if kind in ("event", "transaction"):
            count += 1
        elif kind == "log":
            count += header.get("item_count") or len(json.loads(payload)["items"])
    return count


def _sentry(body: bytes) -> tuple[int, Reply]:
    """sentry-sdk envelopes; any 2xx is success (it reads only the rate-limit headers)."""
    return envelope_events(body), _json_reply(200, {})


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, bytes | None]]:
    """(field number, bytes of a length-delimited field or None) of one protobuf message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
            yield key >> 3, None
        elif wire == 1:
            pos += 8
            yield key >> 3, None
        elif wire == 2:
            size, pos = _varint(data, pos)
            yield key >> 3, data[pos : pos + size]
            pos += size
        elif wire == 5:
            pos += 4
            yield key >> 3, None
        else:
            raise ValueError(f"protobuf wire type {wire} is not supported")


def protobuf_count(data: bytes, path: tuple[int, ...]) -> int:
    """How many messages sit at ``path`` (field numbers, outermost first) in ``data``."""
    if not path:
        return 1
    return sum(
        protobuf_count(value, path[1:])
        for number, value in _fields(data)
        if number == path[0] and value is not None
    )


def _otlp(body: bytes) -> tuple[int, Reply]:
    """OTLP/HTTP protobuf: resource_* (1) > scope_* (2) > log_records or spans (2).

    The answer is an empty Export*ServiceResponse (no partial_success), which is what a
    collector that took everything sends.
    """
    return protobuf_count(body, (1, 2, 2)), (200, "application/x-protobuf", b"")


def decoder_for(path: str) -> Callable[[bytes], tuple[int, Reply]] | None:
    """The decoder of the SDK that posts to ``path``, or None for a path no SDK here uses."""
    path = path.split("?", 1)[0]
    if path.endswith("/v1/events/batch"):
        return _mosaic
    if path in ("/batch", "/batch/"):
        return _posthog
    if path == "/v1/batch":
        return _segment
    if path.endswith("/envelope/"):
        return _sentry
    if path in ("/v1/logs", "/v1/traces"):
        return _otlp
    if path == "/2/httpapi":
        return _amplitude
    if path == "/track":
        return _mixpanel
    return None


def decode_body(body: bytes, encoding: str) -> bytes:
    """``body`` without its Content-Encoding (gzip, deflate or none)."""
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


# -- the servers ---------------------------------------------------------------------


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events = 0
        self.requests = 0
        self.bytes = 0
        self.by_path: dict[str, int] = {}
        self.errors: list[str] = []

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "events": self.events,
                "requests": self.requests,
                "bytes": self.bytes,
                "by_path": dict(self.by_path),
                "errors": self.errors[-5:],
                "cpu_s": time.process_time(),
            }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' pools expect
    server: _SinkServer

    def log_message(self, format: str, *args: Any) -> None:  # the base's signature
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Accepted'}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode() + body)  # one send: no Nagle wait on keep-alive

    def do_GET(self) -> None:
        self._send(*_json_reply(200, self.server.stats.as_dict()))

    def do_POST(self) -> None:
        raw = self._body()
        stats = self.server.stats
        decoder = decoder_for(self.path)
        count, reply = 0, _json_reply(200, {})
        try:
            body = decode_body(raw, self.headers.get("Content-Encoding", ""))
            if decoder is not None:
                count, reply = decoder(body)
        except Exception as exc:  # a body this sink cannot read is answered 200, and noted
            with stats.lock:
                stats.errors.append(f"{self.path}: {type(exc).__name__}: {exc}")
        with stats.lock:
            stats.events += count
            stats.requests += 1
            stats.bytes += len(raw)
            key = self.path if decoder is not None else f"unknown {self.path}"
            stats.by_path[key] = stats.by_path.get(key, 0) + count
        self._send(*reply)


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stats = _Stats()


def _hang(listener: socket.socket) -> None:
    """Accept every connection, read and drop what it sends, never answer."""
    held: list[socket.socket] = []

    def drain(conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass

    while True:
        conn, _ = listener.accept()
        held.append(conn)
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def main(argv: list[str]) -> int:
    """Serve (or hang) until standard input closes; the URL is the first line printed."""
    if "--hang" in argv:
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        port = listener.getsockname()[1]
        threading.Thread(target=_hang, args=(listener,), daemon=True).start()
    else:
        server = _SinkServer()
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{port}", flush=True)
    sys.stdin.read()  # the parent closes our stdin to stop us
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
