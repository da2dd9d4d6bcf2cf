"""One measurement of one client, in a fresh process of the peers venv (benchmarks/peers.py).

``python -I peers_child.py MEASURE KEY URL COUNT ROOT`` runs MEASURE (``track``, ``memory``,
``e2e`` or ``shutdown``) for the client KEY of peers_clients.PEERS against URL, with COUNT
events, ROOT being the checkout whose ``mosaic_telemetry`` is measured. It prints progress
lines ``phase NAME UNIX_TIME [DATA]`` and ends with ``result JSON``. An audit hook refuses
every connection or name lookup that is not loopback, and records it (``phoned_home``).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import Any

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), sys.argv[5]]

from peers_clients import PEERS, Peer  # noqa: E402  # after the path is set

_LOOPBACK = ("127.", "localhost", "::1")
_foreign: list[str] = []


def _is_loopback(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): a local bind
    text = host.decode() if isinstance(host, bytes) else str(host)
    return text.startswith(_LOOPBACK)


def _guard(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: no byte leaves this machine, and we say who tried."""
    host: object = None
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event in ("socket.connect", "socket.sendto") and isinstance(args[1], tuple):
        host = args[1][0]
    else:
        return
    if not _is_loopback(host):
        _foreign.append(f"{event} {host}")
        raise OSError(f"peers benchmark: {event} to {host} refused (loopback only)")


def _phase(name: str, data: object = None) -> None:
    print(f"phase {name} {time.time():.6f} {json.dumps(data)}", flush=True)


def _sink_events(url: str) -> int:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/__stats", timeout=30) as response:
        return int(json.loads(response.read())["events"])


_WARM_UP = 250  # above every batch trigger: 100 (most), 200 (amplitude); OTel wakes on a timer


_REPEAT_BUDGET_S = 0.25


def _warm_up(peer: Peer, client: Any) -> None:
    """Enough events for every SDK's first send (its lazy imports, threads and pools) and time
    for it to start; the hanging server then holds that first batch for the whole run."""
    for i in range(20 if peer.sends_in_call else _WARM_UP):
        peer.track(client, peer.payload(-1 - i))
    time.sleep(1.2)  # OpenTelemetry's batch processors wake every second
    gc.collect()


def measure_track(peer: Peer, url: str, count: int) -> dict[str, Any]:
    """Wall and thread-CPU ns per call on fresh payloads; the network hangs (nothing drains).

    Three repeats of ``count`` calls (fewer for a slow call: a repeat stops after
    0.25 s of calls) after a warm-up, timed 50 calls at a time on payloads built just
    before; the median repeat is kept.
    """
    client = peer.make(url, 3 * count + _WARM_UP + 100)
    _warm_up(peer, client)
    walls, cpus = [], []
    track, clock, cpu_clock = peer.track, time.perf_counter_ns, time.thread_time_ns
    for repeat in range(3):
        gc.collect()
        done, wall, cpu = 0, 0, 0
        while done < count and wall < _REPEAT_BUDGET_S * 1e9:
            first = 100 + repeat * count + done
            chunk = [peer.payload(first + i) for i in range(50)]  # built outside the timing
            w0, c0 = clock(), cpu_clock()
            for payload in chunk:
                track(client, payload)
            wall, cpu = wall + clock() - w0, cpu + cpu_clock() - c0
            done += len(chunk)
        walls.append(wall / done)
        cpus.append(cpu / done)
    return {"wall_ns": sorted(walls)[1], "cpu_ns": sorted(cpus)[1]}


def measure_memory(peer: Peer, url: str, count: int) -> dict[str, Any]:
    """Bytes still allocated per event after ``count`` track() calls to a hanging server."""
    import tracemalloc

    client = peer.make(url, count + _WARM_UP + 100)
    _warm_up(peer, client)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(count):
        peer.track(client, peer.payload(100 + i))
    time.sleep(0.2)  # let the worker threads take what they take
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"bytes_per_event": (after - before) / count}


def measure_e2e(peer: Peer, url: str, count: int) -> dict[str, Any]:
    """Events/s and process CPU per event from the first track() to shutdown() returning."""
    import resource

    client = peer.make(url, count + 100)
    payloads = [peer.payload(i) for i in range(count)]
    gc.collect()
    received0 = _sink_events(url)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for payload in payloads:
        peer.track(client, payload)
    tracked = time.perf_counter()
    peer.shutdown(client, 120.0)
    wall = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {
        "events_per_s": count / wall,
        "cpu_us_per_event": cpu / count * 1e6,
        "track_s": tracked - start,
        "wall_s": wall,
        "delivered": _sink_events(url) - received0,  # at shutdown()'s return
        "tracked": count,
    }


def measure_shutdown(peer: Peer, url: str, count: int) -> dict[str, Any]:
    """``count`` events tracked, half a second for the workers to try, then the shutdown call.

    The parent reads the phases as they come (a child it has to kill reports nothing) and
    times the exit that follows (atexit handlers included).
    """
    client = peer.make(url, count)
    _phase("made")
    raised = 0
    start = time.perf_counter()
    for i in range(count):
        try:
            peer.track(client, peer.payload(i))
        except Exception:  # mixpanel raises when the server is down
            raised += 1
    _phase("tracked", {"track_s": time.perf_counter() - start, "raised": raised})
    time.sleep(0.5)
    _phase("shutdown")
    start = time.perf_counter()
    error = ""
    try:
        peer.shutdown(client, None)
    except Exception as exc:  # mixpanel's flush raises when the server is down
        error = type(exc).__name__
    elapsed = time.perf_counter() - start
    _phase("returned")
    return {"shutdown_s": elapsed, "track_raised": raised, "shutdown_raised": error}


MEASURES = {
    "track": measure_track,
    "memory": measure_memory,
    "e2e": measure_e2e,
    "shutdown": measure_shutdown,
}


def main() -> int:
    """Run the measurement named on the command line; see the module docstring."""
    measure, key, url, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sys.addaudithook(_guard)
    result = MEASURES[measure](PEERS[key], url, count)
    result["phoned_home"] = sorted(set(_foreign))
    print(f"result {json.dumps(result)}", flush=True)
    if measure in ("track", "memory"):
        os._exit(0)  # the hanging server holds their queues; exiting normally would wait on it
    return 0


if __name__ == "__main__":
    sys.exit(main())
