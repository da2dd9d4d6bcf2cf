"""Sixteen threads tracking, flushing, forking, stopping and starting one client at once.

Nothing here rests on the GIL making an operation atomic (docs/architecture.md, "Locks"):
the proof is the accounting identity at every snapshot, and the server's event ids.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest
from _faults import FaultServer
from _report import record_run
from _support import assert_balanced, make_config, make_event

from mosaic_telemetry import TelemetryClient

pytestmark = pytest.mark.reliability

HERE = "tests/reliability/test_stress.py"
Serve = Callable[..., FaultServer]

TRACKERS, PER_TRACKER, FORKERS = 9, 3000, 2


def _child(client: TelemetryClient) -> int:
    """In a forked child: its own counters, its own events delivered; 0 when all is well."""
    import faulthandler
    import logging
    import sys

    faulthandler.dump_traceback_later(20.0, exit=True, file=sys.__stderr__ or sys.stderr)
    # Another thread of the parent may have held a stream's lock at fork time: the
    # child writes no log line (that hazard is the host's, not the client's).
    logging.disable(logging.CRITICAL)
    if client.stats.tracked != 0:
        return 2
    for _ in range(10):  # tagged with the child's pid: the server counts each child's own
        client.track(make_event(model=f"child-{os.getpid()}"))
    if not client.flush(timeout=10.0):
        return 3
    stats = client.stats
    return 0 if (stats.tracked, stats.sent, stats.queued, stats.in_flight) == (10, 10, 0, 0) else 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_sixteen_threads_tracking_flushing_forking_and_stopping_keep_exact_accounts(
    serve: Serve,
) -> None:
    server = serve()
    config = make_config(
        server.url, batch_size=50, max_queue_size=1_000_000, submit_interval_seconds=0.01
    )
    client = TelemetryClient(config)
    client.start()
    go = threading.Barrier(16)
    trackers_done = threading.Event()
    children: list[int] = []
    failures: list[str] = []
    tracked_ids: list[list[str]] = [[] for _ in range(TRACKERS)]

    def track(ids: list[str]) -> None:
        go.wait()
        for _ in range(PER_TRACKER):
            event = make_event()
            ids.append(str(event.event_id))
            client.track(event)

    def until_done(action: Callable[[], object]) -> Callable[[], None]:
        def loop() -> None:
            go.wait()
            while not trackers_done.is_set():
                action()

        return loop

    def fork() -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover  # the child: never return into pytest
            code = 1
            try:
                code = _child(client)
            finally:
                os._exit(code)
        children.append(pid)
        time.sleep(0.05)

    def stop_then_start() -> None:
        client.stop(timeout=2.0)
        client.start()

    def read_stats() -> None:
        stats = client.stats  # a snapshot under the ledger's lock balances even mid-run
        try:
            assert_balanced(stats)
        except AssertionError:
            failures.append(repr(stats))
        if stats.in_flight < 0 or stats.queued < 0:
            failures.append(repr(stats))

    workers = [threading.Thread(target=track, args=(ids,)) for ids in tracked_ids]
    workers += [
        threading.Thread(target=until_done(lambda: client.flush(timeout=2.0))) for _ in range(2)
    ]
    workers += [threading.Thread(target=until_done(stop_then_start)) for _ in range(2)]
    workers += [threading.Thread(target=until_done(fork)) for _ in range(FORKERS)]
    workers += [threading.Thread(target=until_done(read_stats)) for _ in range(1)]
    assert len(workers) == 16
    began = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers[:TRACKERS]:
        worker.join()
    trackers_done.set()
    for worker in workers[TRACKERS:]:
        worker.join()
    client.stop(timeout=30.0)
    took = time.monotonic() - began

    codes = []
    for pid in children:
        _, status = os.waitpid(pid, 0)  # a wedged child ends by its faulthandler timer
        codes.append(os.waitstatus_to_exitcode(status))
    stats = client.stats
    record_run(
        "16 threads: tracking, flushing, forking, stop/start at once",
        f"python -m pytest -m reliability {HERE}",
        stats,
        delivered=len(server.delivered_ids()),
        seconds=took,
        children=len(children),
    )
    assert failures == []
    assert codes and set(codes) == {0}, codes
    total = TRACKERS * PER_TRACKER
    assert stats.tracked == total
    assert (stats.queued, stats.in_flight) == (0, 0)
    assert_balanced(stats)
    assert stats.sent + stats.dropped_shutdown + stats.unconfirmed == total
    delivered = server.delivered_ids()
    by_model: dict[str, int] = {}
    for event in server.ledger.delivered.values():
        model = str(event.get("model"))
        by_model[model] = by_model.get(model, 0) + 1
    # Each child delivered its own ten events, and none of the parent's.
    assert {m: n for m, n in by_model.items() if m.startswith("child-")} == {
        f"child-{pid}": 10 for pid in children
    }
    # The parent: the server has only events it tracked, every one it counted as sent,
    # none it counted as never sent; only an unconfirmed one may or may not be there.
    ours = {i for ids in tracked_ids for i in ids}
    assert len(ours) == total
    parent_ids = {i for i in delivered if not by_model_of(server, i).startswith("child-")}
    assert parent_ids <= ours
    assert stats.sent <= len(parent_ids) <= stats.sent + stats.unconfirmed
    if stats.unconfirmed == 0:
        assert len(parent_ids) == stats.sent  # exactly the sent events
        assert server.ledger.stored_twice == 0


def by_model_of(server: FaultServer, event_id: str) -> str:
    """The model tag of a stored event."""
    return str(server.ledger.delivered[event_id].get("model"))
