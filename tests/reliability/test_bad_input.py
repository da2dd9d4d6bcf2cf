"""Bad input everywhere: fuzzed models, fuzzed server answers, fuzzed collector requests."""

from __future__ import annotations

import copy
import gzip
import http.client
import json
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from _faults import Fault, FaultServer, always
from _report import record
from _support import API_KEY, assert_balanced, make_config, make_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaic_telemetry import (
    BatchEventRequest,
    BatchEventResponse,
    BatchEventResult,
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    QualityPrediction,
    TaskCompletionEvent,
    TelemetryClient,
    TokenDistribution,
    ValidationError,
)
from mosaic_telemetry.collector import Collector

pytestmark = pytest.mark.reliability

HERE = "tests/reliability/test_bad_input.py"
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_HTTP = settings(FUZZ, max_examples=60)
Serve = Callable[..., FaultServer]

# -- valid seeds, one per model: mutations of them reach past the first check -----------------

_DISTRIBUTION = {"p10": 1, "p25": 2, "median": 3, "p75": 4, "p90": 5}
_PREDICTION = {
    "input_tokens": _DISTRIBUTION,
    "output_tokens": _DISTRIBUTION,
    "cost_usd_micros": {"median": 10},
    "duration_ms": {"median": 100},
    "correction_factors": {"input": 1.1, "output": 0.9},
    "quality": {"gate_pass_rate": 0.9, "success_rate": 0.8},
}
_METADATA = {
    "sample_size": 12,
    "fallback_level": 0,
    "confidence": "high",
    "last_updated": "2026-11-24T22:00:00Z",
    "dimensions_matched": {"model": "claude-sonnet-4"},
    "fallback_note": None,
    "cache_hit": False,
}
_EVENT = make_event().to_dict()
SEEDS: dict[type[Any], dict[str, Any]] = {
    TaskCompletionEvent: _EVENT,
    PredictionQuery: {
        "task_type": "implementation",
        "model": "claude-sonnet-4",
        "provider": "anthropic",
        "complexity": "medium",
    },
    TokenDistribution: _DISTRIBUTION,
    CorrectionFactors: {"input": 1.1, "output": 0.9},
    QualityPrediction: {"gate_pass_rate": 0.9, "success_rate": 0.8},
    PredictionData: _PREDICTION,
    PredictionMetadata: _METADATA,
    PredictionResponse: {"prediction": _PREDICTION, "metadata": _METADATA},
    BatchEventRequest: {"events": [_EVENT]},
    BatchEventResult: {"event_id": _EVENT["event_id"], "status": "accepted", "error": None},
    BatchEventResponse: {
        "accepted": 1,
        "rejected": 0,
        "results": [{"event_id": _EVENT["event_id"], "status": "accepted", "error": None}],
    },
}
MODELS = list(SEEDS)

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "0", "-1", "1e999", "NaN", "null", "2026-13-45T99:00:00Z", "\x00"])
    | st.uuids().map(str)
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
"""Anything ``json.loads`` can return (and NaN/Infinity, which it also accepts)."""

ODD_PYTHON = st.one_of(
    st.binary(max_size=20),
    st.tuples(st.integers()),
    st.frozensets(st.integers(), max_size=3),
    st.just(object()),
    st.just(10**5000),  # its repr raises on 3.11+ (int_max_str_digits)
    st.complex_numbers(allow_nan=True),
)
"""Python values a caller (not the wire) might hand to from_dict."""


@st.composite
def mutated(draw: st.DrawFn, seed: Any) -> Any:
    """``seed`` with a few values, anywhere in its tree, replaced, dropped or re-typed."""
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        value = _mutate_once(draw, value)
    return value


def _mutate_once(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["descend", "replace", "drop", "odd"]))
        if action == "descend":
            value[key] = _mutate_once(draw, value[key])
        elif action == "replace":
            value[key] = draw(JSON_VALUES)
        elif action == "drop":
            del value[key]
        else:
            value[key] = draw(ODD_PYTHON)
        return value
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        value[index] = _mutate_once(draw, value[index])
        return value
    return draw(JSON_VALUES | ODD_PYTHON)


def _only_validation_error(call: Callable[[], object]) -> None:
    try:
        call()
    except ValidationError as exc:
        str(exc)  # the message itself must render, whatever the value
        assert exc.errors, "a ValidationError without errors"


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
@FUZZ
@given(data=st.data())
def test_from_dict_raises_nothing_but_validation_error(
    model: type[Any], data: st.DataObject
) -> None:
    value = data.draw(mutated(SEEDS[model]) | JSON_VALUES | ODD_PYTHON, label="value")
    _only_validation_error(lambda: model.from_dict(value))


def _json_text(value: Any) -> str:
    """JSON text of ``value``; non-JSON parts become strings (or ``null`` when even that fails)."""
    try:
        return json.dumps(value, default=_safe_repr)
    except (ValueError, TypeError):
        return "null"


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except ValueError:  # a huge int on 3.11+
        return "<huge>"


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
@FUZZ
@given(data=st.data())
def test_from_json_raises_nothing_but_validation_error(
    model: type[Any], data: st.DataObject
) -> None:
    text: str | bytes = data.draw(
        mutated(SEEDS[model]).map(_json_text)
        | JSON_VALUES.map(_json_text)
        | st.text(max_size=200)
        | st.binary(max_size=200)
        | st.sampled_from(["[" * 5000, '{"a":' * 5000, "1" * 5000, "\ufeff{}", "\udcff"]),
        label="text",
    )
    _only_validation_error(lambda: model.from_json(text))


def test_every_seed_is_valid() -> None:
    """The seeds are valid, so their mutations test the rules rather than the first check."""
    for model, seed in SEEDS.items():
        assert model.from_dict(seed).to_dict() is not None


# -- the client reading whatever a server sends back ------------------------------------------

STATUSES = [200, 202, 204, 301, 400, 401, 403, 404, 408, 413, 418, 422, 429, 500, 502, 503, 504]
BODIES = (
    st.binary(max_size=2048)
    | JSON_VALUES.map(lambda v: _json_text(v).encode())
    | mutated(SEEDS[BatchEventResponse]).map(lambda v: _json_text(v).encode())
    | mutated({"results": [SEEDS[PredictionResponse]]}).map(lambda v: _json_text(v).encode())
)
RETRY_AFTER = (
    st.none()
    | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
    | st.sampled_from(["0", "99999999999999999999", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"])
)


def test_no_answer_from_the_server_reaches_the_host(serve: Serve) -> None:
    server = serve()
    outcomes: dict[str, int] = {}

    @FUZZ_HTTP
    @given(code=st.sampled_from(STATUSES), body=BODIES, retry_after=RETRY_AFTER)
    def answer(code: int, body: bytes, retry_after: str | None) -> None:
        headers = () if retry_after is None else (("Retry-After", retry_after),)
        server.plan = always(Fault(status=code, body=body, headers=headers, store=code < 300))
        client = TelemetryClient(
            make_config(server.url, max_retries=1, request_timeout_seconds=2.0),
            sleep=lambda seconds: None,
        )
        events = [make_event(), make_event()]
        for event in events:
            client.track(event)
        flushed = client.flush(timeout=5.0)  # returns; never raises
        query = PredictionQuery.from_dict(SEEDS[PredictionQuery])
        client.refresh_predictions_sync([query])
        prediction = client.get_prediction(query)
        client.stop(timeout=0.0)
        stats = client.stats
        assert_balanced(stats)
        assert (stats.queued, stats.in_flight) == (0, 0)
        stored = {str(e.event_id) for e in events} & server.delivered_ids()
        if 200 <= code < 300:
            assert flushed is True
            assert stats.sent + stats.rejected == 2
            assert len(stored) == 2
            # 204 has no body by definition; http.client reads none.
            batch_ok = code == 204 or _is_batch_response(body)
            predictions_ok = code != 204 and _is_predictions_response(body)
            assert stats.invalid_responses == (not batch_ok) + (not predictions_ok)
            assert (prediction is not None) is predictions_ok
            outcomes["2xx"] = outcomes.get("2xx", 0) + 1
        elif code in (408, 429) or code >= 500:
            assert flushed is False
            assert (stats.sent, stats.dropped_shutdown) == (0, 2)
            assert prediction is None
            outcomes["transient"] = outcomes.get("transient", 0) + 1
        else:
            assert (stats.sent, stats.dropped_errors) == (0, 2)
            assert prediction is None
            outcomes["refused"] = outcomes.get("refused", 0) + 1

    answer()
    assert set(outcomes) == {"2xx", "transient", "refused"}
    record(
        "fuzz: random server answers (status x body x Retry-After)",
        f"python -m pytest -m reliability {HERE}::test_no_answer_from_the_server_reaches_the_host",
        tracked=2 * sum(outcomes.values()),
        delivered=None,
        rejected=None,
        dropped=None,
        retries=None,
        seconds=None,
        examples=sum(outcomes.values()),
        **outcomes,
    )


def _is_predictions_response(body: bytes) -> bool:
    try:
        results = json.loads(body)["results"]
        return len(results) == 1 and PredictionResponse.from_dict(results[0]) is not None
    except (ValueError, TypeError, KeyError, RecursionError):
        return False


def _is_batch_response(body: bytes) -> bool:
    if not body.strip():
        return True  # an empty 2xx body is a plain success
    try:
        BatchEventResponse.from_json(body)
    except ValidationError:
        return False
    return True


# -- the collector reading whatever a client sends --------------------------------------------

REQUEST_BODIES = (
    st.binary(max_size=2048)
    | JSON_VALUES.map(lambda v: _json_text(v).encode())
    | st.lists(mutated(_EVENT), min_size=1, max_size=5).map(
        lambda events: _json_text({"events": events}).encode()
    )
    | st.lists(mutated(SEEDS[PredictionQuery]), min_size=1, max_size=5).map(
        lambda queries: _json_text({"queries": queries}).encode()
    )
)


def _post(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    host_port = url.split("//", 1)[1]
    host, port = host_port.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10.0)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def _health(url: str) -> int:
    host_port = url.split("//", 1)[1]
    host, port = host_port.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10.0)
    try:
        connection.request("GET", "/v1/health")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_collector_answers_any_body_with_json_and_keeps_its_store() -> None:
    seen: dict[int, int] = {}
    stored_ids: set[str] = set()
    with Collector(API_KEY) as collector:

        @FUZZ_HTTP
        @given(
            path=st.sampled_from(["/v1/events/batch", "/v1/predictions/batch"]),
            body=REQUEST_BODIES,
            gzipped=st.booleans(),
        )
        def request(path: str, body: bytes, gzipped: bool) -> None:
            headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
            if gzipped:
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            before = collector.event_count
            code, content_type, raw = _post(collector.url, path, body, headers)
            seen[code] = seen.get(code, 0) + 1
            assert code < 500, f"HTTP {code} for {body[:80]!r}: {raw[:200]!r}"
            assert content_type.startswith("application/json")
            answer = json.loads(raw)
            assert isinstance(answer, dict)
            if code >= 400:
                assert isinstance(answer.get("error"), str) and answer["error"]
            accepted = set()
            if code == 202:
                accepted = {r["event_id"] for r in answer["results"] if r["status"] == "accepted"}
            assert collector.event_count == before + len(accepted - stored_ids)
            stored_ids.update(accepted)
            assert _health(collector.url) == 200

        request()
        assert collector.event_count == len(stored_ids)
    assert any(400 <= code < 500 for code in seen)
    record(
        "fuzz: random request bodies to the collector",
        f"python -m pytest -m reliability {HERE}::"
        "test_the_collector_answers_any_body_with_json_and_keeps_its_store",
        tracked=None,
        delivered=len(stored_ids),
        rejected=None,
        dropped=None,
        retries=None,
        seconds=None,
        examples=sum(seen.values()),
        statuses=" ".join(f"{code}x{n}" for code, n in sorted(seen.items())),
    )


@settings(FUZZ_HTTP, max_examples=40)
@given(raw=st.binary(min_size=1, max_size=512))
def test_the_collector_survives_raw_garbage_on_the_socket(raw: bytes) -> None:
    with Collector(API_KEY) as collector:
        port = int(collector.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10.0) as sock:
            sock.sendall(raw + b"\r\n\r\n")
            sock.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        if reply:
            status_line = reply.split(b"\r\n", 1)[0]
            assert status_line.startswith(b"HTTP/1."), reply[:200]
            assert 400 <= int(status_line.split()[1]) < 500, status_line
        assert _health(collector.url) == 200
        assert collector.event_count == 0


def test_an_event_id_the_collector_never_saw_is_not_reported_as_stored() -> None:
    """A sanity row for the fuzzers above: a valid batch is stored and counted."""
    with Collector(API_KEY) as collector:
        event = {**_EVENT, "event_id": str(uuid.uuid4())}
        code, _, raw = _post(
            collector.url,
            "/v1/events/batch",
            json.dumps({"events": [event]}).encode(),
            {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        )
        assert (code, json.loads(raw)["accepted"], collector.event_count) == (202, 1, 1)
