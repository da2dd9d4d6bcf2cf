"""State made on first use is made once, even when many threads use it first at once.

No check-then-act rests on the GIL: each lazy slot is filled under a lock. A slow
constructor widens the window that a bare ``if x is None: x = make()`` leaves open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from _server import make_config

import mosaic_telemetry._request as request_module
import mosaic_telemetry._worker as worker_module
from mosaic_telemetry import TelemetryClient

THREADS = 8


def _slow(cls: type) -> type:
    class Slow(cls):  # type: ignore[misc]  # a subclass of a class known at run time only
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.05)
            super().__init__(*args, **kwargs)

    return Slow


def _first_uses_at_once(use: Callable[[], object]) -> list[object]:
    go = threading.Barrier(THREADS)
    got: list[object] = []

    def run() -> None:
        go.wait()
        got.append(use())

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got


@pytest.mark.parametrize(
    ("module", "name", "use"),
    [
        # A second pool's threads would never be closed by stop().
        (worker_module, "SenderPool", lambda core: core.background._senders()),
        # A second transport's requests would be missed by a stop's abort().
        (request_module, "Transport", lambda core: core.requester.transport),
    ],
    ids=["sender-pool", "transport"],
)
def test_state_made_on_first_use_is_made_once_when_threads_race(
    monkeypatch: pytest.MonkeyPatch, module: object, name: str, use: Callable[[Any], object]
) -> None:
    monkeypatch.setattr(module, name, _slow(getattr(module, name)))
    client = TelemetryClient(make_config("http://127.0.0.1:9"))
    core = client._process()
    got = _first_uses_at_once(lambda: use(core))
    assert len(got) == THREADS
    assert len({id(thing) for thing in got}) == 1
    client.stop(timeout=1.0)
