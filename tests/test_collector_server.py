"""The collector over real HTTP on 127.0.0.1: endpoints, idempotency, cache, bad input."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import signal
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import pytest
from collector_fixtures import (
    API_KEY,
    NIL_UUID,
    OTHER_KEY,
    QUERY,
    auth,
    event_dict,
    event_id,
    events,
    post_json,
    raw_exchange,
    request,
    sigterm_once_serving,
)

from mosaic_telemetry import (
    BatchEventResponse,
    ConfigurationError,
    PredictionResponse,
    TaskCompletionEvent,
)
from mosaic_telemetry.collector import MAX_BODY_BYTES, Collector, EventStore, serve_forever

EVENTS = "/v1/events/batch"
PREDICTIONS = "/v1/predictions/batch"
HEALTH = "/v1/health"


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector(API_KEY) as running:
        yield running


def _predict(collector: Collector, *queries: dict[str, str]) -> list[PredictionResponse]:
    reply = post_json(collector.url, PREDICTIONS, {"queries": list(queries) or [QUERY]})
    assert reply.status == 200, reply.body
    return [PredictionResponse.from_dict(item) for item in reply.json()["results"]]


# -- health --------------------------------------------------------------------------------------


def test_health_answers_ok_without_a_key(collector: Collector) -> None:
    reply = request(collector.url, "GET", HEALTH)
    assert reply.status == 200
    assert reply.json() == {"status": "ok", "api_version": "v1", "schema_version": "1.0"}
    assert reply.headers["content-type"] == "application/json"


def test_health_answers_head_without_a_body(collector: Collector) -> None:
    reply = request(collector.url, "HEAD", HEALTH)
    assert (reply.status, reply.body) == (200, b"")


def test_health_ignores_a_query_string(collector: Collector) -> None:
    assert request(collector.url, "GET", HEALTH + "?probe=1").status == 200


def test_urllib_reaches_the_collector_url(collector: Collector) -> None:
    with urllib.request.urlopen(collector.url + HEALTH, timeout=30) as reply:
        assert json.loads(reply.read())["status"] == "ok"


# -- events ----------------------------------------------------------------------------------------


def test_good_events_are_accepted_and_bad_ones_rejected_with_the_validator_message(
    collector: Collector,
) -> None:
    batch = [event_dict(1), event_dict(2, model=""), event_dict(3), "not an event"]
    reply = post_json(collector.url, EVENTS, {"events": batch})
    assert reply.status == 202
    response = BatchEventResponse.from_dict(reply.json())
    assert (response.accepted, response.rejected) == (2, 2)
    assert [(str(r.event_id), r.status) for r in response.results] == [
        (event_id(1), "accepted"),
        (event_id(2), "rejected"),
        (event_id(3), "accepted"),
        (NIL_UUID, "rejected"),
    ]
    assert response.results[1].error == (
        "1 validation error for TaskCompletionEvent: model: must be 1 to 100 characters, got ''"
    )
    assert "must be a JSON object" in (response.results[3].error or "")
    assert collector.event_count == 2


def test_a_rejected_event_with_an_unreadable_id_reports_the_nil_uuid(collector: Collector) -> None:
    reply = post_json(collector.url, EVENTS, {"events": [event_dict(1, event_id="nope")]})
    result = reply.json()["results"][0]
    assert (result["event_id"], result["status"]) == (NIL_UUID, "rejected")
    assert "event_id: must be a UUID" in result["error"]


def test_a_resent_batch_is_accepted_again_and_stored_once(collector: Collector) -> None:
    batch = {"events": events(10)}
    first = post_json(collector.url, EVENTS, batch)
    second = post_json(collector.url, EVENTS, batch)
    assert first.status == second.status == 202
    assert first.json() == second.json()
    assert second.json()["accepted"] == 10
    assert collector.event_count == 10


def test_a_gzip_batch_is_accepted(collector: Collector) -> None:
    reply = post_json(collector.url, EVENTS, {"events": events(100)}, compress=True)
    assert (reply.status, reply.json()["accepted"]) == (202, 100)
    assert collector.event_count == 100


def test_unknown_keys_in_events_and_body_are_ignored(collector: Collector) -> None:
    payload = {"events": [event_dict(1, future_field=[1, 2])], "trace": "x"}
    assert post_json(collector.url, EVENTS, payload).json()["accepted"] == 1


def test_concurrent_batches_are_all_stored(collector: Collector) -> None:
    statuses: list[int] = []

    def send(worker: int) -> None:
        reply = post_json(collector.url, EVENTS, {"events": events(20, start=worker * 100)})
        statuses.append(reply.status)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [202] * 8
    assert collector.event_count == 160


# -- predictions ---------------------------------------------------------------------------------


def test_predictions_come_back_in_the_order_asked(collector: Collector) -> None:
    post_json(collector.url, EVENTS, {"events": events(5)})
    other = dict(QUERY, task_type="planning")
    first, second = _predict(collector, QUERY, other)
    assert (first.metadata.fallback_level, first.metadata.sample_size) == (0, 5)
    assert first.prediction is not None
    assert first.prediction.input_tokens.median == 44_000
    assert first.prediction.correction_factors.input == 1.1
    assert second.prediction is None
    assert (second.metadata.fallback_level, second.metadata.confidence) == (-1, "none")


def test_a_repeated_query_is_served_from_the_cache(collector: Collector) -> None:
    post_json(collector.url, EVENTS, {"events": events(5)})
    (first,) = _predict(collector)
    (second,) = _predict(collector)
    assert (first.metadata.cache_hit, second.metadata.cache_hit) == (False, True)
    assert second.prediction == first.prediction
    assert second.metadata.last_updated == first.metadata.last_updated


def test_a_new_event_invalidates_the_cache(collector: Collector) -> None:
    post_json(collector.url, EVENTS, {"events": events(5)})
    _predict(collector)
    post_json(collector.url, EVENTS, {"events": [event_dict(6, actual_input_tokens=1)]})
    (after,) = _predict(collector)
    assert after.metadata.cache_hit is False
    assert after.metadata.sample_size == 6


def test_a_resent_event_keeps_the_cache(collector: Collector) -> None:
    post_json(collector.url, EVENTS, {"events": events(5)})
    _predict(collector)
    post_json(collector.url, EVENTS, {"events": events(5)})
    (after,) = _predict(collector)
    assert after.metadata.cache_hit is True


def test_fifty_queries_are_answered(collector: Collector) -> None:
    assert len(_predict(collector, *[QUERY] * 50)) == 50


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"queries": []}, 422, "queries must hold 1 to 50 items, got 0"),
        ({"queries": [QUERY] * 51}, 422, "queries must hold 1 to 50 items, got 51"),
        ({"queries": [QUERY, dict(QUERY, provider="acme")]}, 422, "queries[1]: 1 validation"),
        ({"queries": [QUERY, {"model": "x"}]}, 422, "task_type: is required"),
        ({"queries": [42]}, 422, "must be a JSON object"),
        ({"queries": QUERY}, 400, 'body must be a JSON object with a "queries" list'),
        ([QUERY], 400, 'body must be a JSON object with a "queries" list'),
    ],
)
def test_bad_prediction_requests_are_refused_whole(
    collector: Collector, payload: object, status: int, message: str
) -> None:
    reply = post_json(collector.url, PREDICTIONS, payload)
    assert reply.status == status
    assert message in reply.json()["error"]


# -- bad input -------------------------------------------------------------------------------------

_BOMB = gzip.compress(b" " * (4 * MAX_BODY_BYTES))
_GZIP = {**auth(), "Content-Encoding": "gzip"}


class Bad(NamedTuple):
    """One bad request and the answer it must get."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    status: int
    message: str


_BAD_INPUT = [
    Bad(*case)
    for case in [
        ("malformed JSON", "POST", EVENTS, auth(), b'{"events": [', 400, "not valid JSON"),
        ("NaN", "POST", EVENTS, auth(), b'{"events": [NaN]}', 400, "NaN is not valid JSON"),
        ("not UTF-8", "POST", EVENTS, auth(), b"\xff\xff\xff\xff", 400, "not valid JSON"),
        ("top-level array", "POST", EVENTS, auth(), b"[]", 400, '"events" list'),
        ("events not a list", "POST", EVENTS, auth(), b'{"events": {}}', 400, '"events" list'),
        ("no events key", "POST", EVENTS, auth(), b'{"event": []}', 400, '"events" list'),
        ("zero events", "POST", EVENTS, auth(), b'{"events": []}', 422, "1 to 100 items, got 0"),
        (
            "101 events",
            "POST",
            EVENTS,
            auth(),
            json.dumps({"events": events(101)}).encode(),
            422,
            "1 to 100 items, got 101",
        ),
        (
            "oversized body",
            "POST",
            EVENTS,
            auth(),
            b" " * (MAX_BODY_BYTES + 1),
            413,
            "the limit is 1048576 bytes",
        ),
        ("gzip bomb", "POST", EVENTS, _GZIP, _BOMB, 413, "decompressed body exceeds"),
        ("broken gzip", "POST", EVENTS, _GZIP, b"\x1f\x8b garbage", 400, "not valid gzip"),
        (
            "unknown encoding",
            "POST",
            EVENTS,
            {**auth(), "Content-Encoding": "br"},
            b"{}",
            415,
            "gzip or identity",
        ),
        ("missing key", "POST", EVENTS, {}, b"{}", 401, "missing Authorization header"),
        ("wrong key", "POST", EVENTS, auth(OTHER_KEY), b"{}", 401, "invalid API key"),
        (
            "basic auth",
            "POST",
            EVENTS,
            {"Authorization": f"Basic {API_KEY}"},
            b"{}",
            401,
            "Bearer <api key>",
        ),
        ("wrong key, predictions", "POST", PREDICTIONS, auth(OTHER_KEY), b"{}", 401, "invalid API"),
        (
            "bad Content-Length",
            "POST",
            EVENTS,
            {**auth(), "Content-Length": "ab"},
            b"",
            400,
            "integer",
        ),
        ("unknown path", "POST", "/v1/events", auth(), b"{}", 404, "unknown path"),
        ("unknown version", "GET", "/v2/health", {}, None, 404, "unknown path"),
        ("root", "GET", "/", {}, None, 404, "unknown path"),
        ("GET on events", "GET", EVENTS, auth(), None, 405, "method GET not allowed; use POST"),
        ("PUT on events", "PUT", EVENTS, auth(), b"{}", 405, "not allowed"),
        ("DELETE on health", "DELETE", HEALTH, {}, None, 405, "use GET"),
        ("POST on health", "POST", HEALTH, auth(), b"{}", 405, "use GET"),
        ("unknown method", "BREW", HEALTH, {}, None, 501, "Unsupported method"),
    ]
]


@pytest.mark.parametrize("case", _BAD_INPUT, ids=[case.name for case in _BAD_INPUT])
def test_bad_input_gets_a_json_error_and_leaves_the_store_alone(
    collector: Collector, case: Bad
) -> None:
    reply = request(collector.url, case.method, case.path, case.body, case.headers)
    assert reply.status == case.status
    error = reply.json()
    assert list(error) == ["error"]
    assert case.message in error["error"]
    assert API_KEY not in reply.body.decode()
    assert OTHER_KEY not in reply.body.decode()
    assert collector.event_count == 0
    assert request(collector.url, "GET", HEALTH).status == 200


def test_a_405_names_the_allowed_methods(collector: Collector) -> None:
    reply = request(collector.url, "GET", EVENTS, None, auth())
    assert reply.headers["allow"] == "POST"


def test_a_401_asks_for_a_bearer_token(collector: Collector) -> None:
    reply = request(collector.url, "POST", EVENTS, b"{}", {})
    assert reply.headers["www-authenticate"].startswith("Bearer")


def test_a_body_without_content_length_gets_411(collector: Collector) -> None:
    reply = request(collector.url, "POST", EVENTS, b"{}", auth(), content_length=False)
    assert reply.status == 411
    assert "Content-Length" in reply.json()["error"]


def test_a_chunked_body_gets_411(collector: Collector) -> None:
    data = (
        b"POST /v1/events/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + API_KEY.encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    )
    answer = raw_exchange(collector.url, data)
    assert answer.startswith(b"HTTP/1.1 411 ")
    assert b'{"error":' in answer


def test_a_body_shorter_than_its_content_length_gets_400(collector: Collector) -> None:
    data = (
        b"POST /v1/events/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + API_KEY.encode()
        + b"\r\nContent-Length: 100\r\n\r\n{}"
    )
    answer = raw_exchange(collector.url, data)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"shorter than its Content-Length" in answer


def test_a_garbage_request_line_gets_a_json_400(collector: Collector) -> None:
    answer = raw_exchange(collector.url, b"\x16\x03\x01 hello there\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.rstrip().endswith(b"}")
    assert request(collector.url, "GET", HEALTH).status == 200


def test_an_oversized_body_gets_413_through_urllib(collector: Collector) -> None:
    req = urllib.request.Request(
        collector.url + EVENTS,
        data=b" " * (3 * MAX_BODY_BYTES),
        headers=auth(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=30)
    with caught.value as error:
        assert error.code == 413
        assert "limit" in json.loads(error.read())["error"]


def test_logs_never_hold_the_key(collector: Collector, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="mosaic_telemetry.collector"):
        post_json(collector.url, EVENTS, {"events": events(2)})
        post_json(collector.url, EVENTS, {"events": events(2)}, key=OTHER_KEY)
        post_json(collector.url, PREDICTIONS, {"queries": [QUERY]})
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "/v1/events/batch" in text  # the request lines are logged, at DEBUG
    assert API_KEY not in text
    assert OTHER_KEY not in text


# -- the Collector object --------------------------------------------------------------------------


def test_url_is_loopback_on_an_ephemeral_port(collector: Collector) -> None:
    assert collector.url.startswith("http://127.0.0.1:")
    assert int(collector.url.rsplit(":", 1)[1]) > 0


def test_an_ipv6_loopback_collector_has_a_bracketed_url() -> None:
    try:
        collector = Collector(API_KEY, host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        assert collector.url.startswith("http://[::1]:")
        assert request(collector.url, "GET", HEALTH).status == 200
    finally:
        collector.stop()


def test_repr_shows_the_url_but_never_the_key(collector: Collector) -> None:
    assert collector.url in repr(collector)
    assert API_KEY not in repr(collector)


def test_start_twice_is_harmless_and_stop_twice_too() -> None:
    collector = Collector(API_KEY)
    assert collector.start() is collector.start()
    states = [collector.is_running]
    collector.stop()
    collector.stop()
    states.append(collector.is_running)
    assert states == [True, False]
    assert collector.event_count == 0


def test_url_of_a_stopped_collector_raises() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = Collector(API_KEY).url


def test_a_stopped_collector_refuses_connections() -> None:
    with Collector(API_KEY) as collector:
        url = collector.url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + HEALTH, timeout=5)


def test_a_taken_port_raises_oserror(collector: Collector) -> None:
    port = int(collector.url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        Collector(API_KEY, port=port).start()


def test_a_file_store_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    with Collector(API_KEY, db_path=path) as first:
        post_json(first.url, EVENTS, {"events": events(3)})
    with Collector(API_KEY, db_path=path) as second:
        assert second.event_count == 3
        assert _predict(second)[0].metadata.sample_size == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_key": ""}, "non-empty printable"),
        ({"api_key": "two words"}, "whitespace"),
        ({"api_key": "line\nbreak"}, "printable"),
        ({"api_key": API_KEY, "port": 70000}, "between 0 and 65535"),
        ({"api_key": API_KEY, "port": -1}, "between 0 and 65535"),
        ({"api_key": API_KEY, "min_samples": 0}, "at least 1"),
    ],
)
def test_bad_collector_settings_raise_configuration_error(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Collector(**kwargs)  # type: ignore[arg-type]  # deliberately mixed values


def test_min_samples_changes_the_fallback() -> None:
    with Collector(API_KEY, min_samples=1) as collector:
        post_json(collector.url, EVENTS, {"events": events(1)})
        (response,) = _predict(collector)
    assert (response.metadata.fallback_level, response.metadata.fallback_note) == (0, None)


def _with_trigger(path: str, action: str) -> None:
    with Collector(API_KEY, db_path=path):
        pass  # creates the table
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.model = 'poison' "
            f"BEGIN SELECT RAISE({action}, 'disk on fire'); END"
        )


def test_a_row_the_store_refuses_is_rejected_alone(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    _with_trigger(path, "ABORT")
    with Collector(API_KEY, db_path=path) as collector:
        batch = {"events": [*events(2), event_dict(3, model="poison")]}
        reply = post_json(collector.url, EVENTS, batch)
        assert reply.status == 202
        body = reply.json()
        assert (body["accepted"], body["rejected"]) == (2, 1)
        assert body["results"][2] == {
            "event_id": event_id(3),
            "status": "rejected",
            "error": "cannot be stored: disk on fire",
        }
        assert collector.event_count == 2


def test_a_store_failure_gets_a_json_500_and_stores_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    _with_trigger(path, "ROLLBACK")  # the whole write fails, as on a broken disk
    with Collector(API_KEY, db_path=path) as collector:
        batch = {"events": [*events(2), event_dict(3, model="poison")]}
        reply = post_json(collector.url, EVENTS, batch)
        assert reply.status == 500
        assert reply.json() == {"error": "the collector could not use its event store"}
        assert collector.event_count == 0
        assert post_json(collector.url, EVENTS, {"events": events(2)}).status == 202
        assert collector.event_count == 2


_UNSTORABLE = [
    ("timestamp", '"0001-01-01T00:00:00+00:01"', "timestamp: must be a moment that UTC can write"),
    ("timestamp", '"9999-12-31T23:59:59-00:01"', "timestamp: must be a moment that UTC can write"),
    ("model", '"\\ud800"', "model: must be text that UTF-8 can encode"),
    ("language", '"py\\udc80"', "language: must be text that UTF-8 can encode"),
]


@pytest.mark.parametrize(("name", "raw", "message"), _UNSTORABLE)
def test_an_event_the_store_cannot_take_is_rejected_alone_and_the_rest_stored(
    collector: Collector, name: str, raw: str, message: str
) -> None:
    bad = json.dumps(event_dict(2, **{name: "PLACEHOLDER"})).replace('"PLACEHOLDER"', raw)
    body = f'{{"events": [{json.dumps(event_dict(1))}, {bad}, {json.dumps(event_dict(3))}]}}'
    reply = request(collector.url, "POST", EVENTS, body.encode(), auth())
    assert reply.status == 202, reply.body
    response = BatchEventResponse.from_dict(reply.json())
    assert [(str(r.event_id), r.status) for r in response.results] == [
        (event_id(1), "accepted"),
        (event_id(2), "rejected"),
        (event_id(3), "accepted"),
    ]
    assert message in (response.results[1].error or "")
    assert collector.event_count == 2
    assert post_json(collector.url, EVENTS, {"events": events(2, start=10)}).status == 202


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_forever_stops_on_sigterm_and_restores_the_handler() -> None:
    original = signal.getsignal(signal.SIGTERM)
    urls: list[str] = []
    collector = Collector(API_KEY)
    with sigterm_once_serving(announced=lambda: bool(urls)):
        serve_forever(collector, on_ready=urls.append)
    assert len(urls) == 1
    assert urls[0].startswith("http://127.0.0.1:")
    assert not collector.is_running
    assert signal.getsignal(signal.SIGTERM) is original


# -- two collectors on one file, retention ---------------------------------------------------------


def test_two_collectors_on_one_file_never_serve_stale_predictions(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    with Collector(API_KEY, db_path=path) as writer, Collector(API_KEY, db_path=path) as reader:
        post_json(writer.url, EVENTS, {"events": events(10)})
        (first,) = _predict(reader)
        (again,) = _predict(reader)
        assert (first.metadata.sample_size, again.metadata.cache_hit) == (10, True)
        for start in (100, 200):
            assert post_json(writer.url, EVENTS, {"events": events(100, start=start)}).status == 202
        (after,) = _predict(reader)
        assert (after.metadata.sample_size, after.metadata.cache_hit) == (210, False)
        # A deletion by any connection (here sqlite3 itself) rebuilds the reader's index.
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("DELETE FROM events WHERE seq % 2 = 0")
        (pruned,) = _predict(reader)
        assert (pruned.metadata.sample_size, pruned.metadata.cache_hit) == (105, False)


def test_old_events_are_deleted_at_start_when_retention_is_set(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    store = EventStore(path)
    now = datetime.now(timezone.utc)
    store.add(_events(1, 2), received_at=now - timedelta(days=40))
    store.add(_events(3), received_at=now - timedelta(days=2))
    store.close()
    with Collector(API_KEY, db_path=path, retain_days=30) as collector:
        deadline = time.monotonic() + 30
        while collector.event_count != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert collector.event_count == 1
        assert _predict(collector)[0].metadata.sample_size == 1
    with Collector(API_KEY, db_path=path) as keeping:  # the default keeps everything
        post_json(keeping.url, EVENTS, {"events": events(1, start=9)})
        assert keeping.event_count == 2


@pytest.mark.parametrize("days", [0, -1, 1.5, True, "7"])
def test_a_retention_that_is_not_a_whole_number_of_days_is_refused(days: object) -> None:
    with pytest.raises(ConfigurationError, match="retain_days must be a whole number"):
        Collector(API_KEY, retain_days=days)  # type: ignore[arg-type]  # deliberately wrong


def _events(*numbers: int) -> list[TaskCompletionEvent]:
    return [TaskCompletionEvent.from_dict(event_dict(n)) for n in numbers]
