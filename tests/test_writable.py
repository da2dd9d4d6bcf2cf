"""Every event validation accepts can be written: UTF-8 text, timestamps that UTC can write."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import BUILD_PATHS, PROPERTY_SETTINGS, build_event, sample_event_kwargs

from mosaic_telemetry import (
    BatchEventResult,
    PredictionMetadata,
    PredictionQuery,
    TaskCompletionEvent,
    ValidationError,
)
from mosaic_telemetry._encode import encode_event

UNDECODABLE = os.fsdecode(b"gpt-\xff-mini")  # a lone surrogate, as a non-UTF-8 path gives
SURROGATE_RULE = "must be text that UTF-8 can encode"
UTC_RULE = "must be a moment that UTC can write"


def _tz(**offset: float) -> timezone:
    return timezone(timedelta(**offset))


# --- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("model", UNDECODABLE),
        ("language", "py\udcff"),
        ("schema_version", "1.0\ud800"),
        ("model", "\udfff"),
    ],
    ids=repr,
)
def test_text_with_a_lone_surrogate_is_refused_naming_field_value_and_rule(
    path: str, name: str, value: str
) -> None:
    with pytest.raises(ValidationError) as info:
        build_event(path, **{name: value})
    assert [(e["field"], e["value"]) for e in info.value.errors] == [(name, value)]
    message = str(info.value)
    assert f"{name}: {SURROGATE_RULE}" in message
    assert "os.fsdecode" in message
    assert repr(value)[:20] in message


@pytest.mark.parametrize("value", ["modèle-ü-模型", "emoji-\U0001f600", "\u00e9" * 30])
def test_non_ascii_text_that_utf8_can_encode_is_accepted_and_written(value: str) -> None:
    event = build_event("init", model=value, language=value[:30])
    assert json.loads(encode_event(event))["model"] == value


@pytest.mark.parametrize(
    "build",
    [
        lambda: PredictionQuery.from_dict(
            {
                "task_type": "testing",
                "model": UNDECODABLE,
                "provider": "openai",
                "complexity": "low",
            }
        ),
        lambda: PredictionMetadata(sample_size=0, fallback_level=0, confidence="lo\udc80w"),
        lambda: BatchEventResult.from_dict(
            {
                "event_id": "5d8a1c3e-7f2b-4e9a-8c6d-1b2a3c4d5e6f",
                "status": "rejected",
                "error": "\ud800",
            }
        ),
        lambda: PredictionMetadata(
            sample_size=0, fallback_level=0, confidence="low", dimensions_matched={"m": "\ud800"}
        ),
    ],
)
def test_other_models_refuse_text_utf8_cannot_encode(build: Any) -> None:
    with pytest.raises(ValidationError, match="UTF-8"):
        build()


@PROPERTY_SETTINGS
@given(value=st.text(min_size=1, max_size=30))
def test_any_text_is_accepted_exactly_when_utf8_can_encode_it(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        writable = False
    else:
        writable = True
    for path in BUILD_PATHS:
        try:
            event = build_event(path, model=value, language=value)
        except ValidationError as exc:
            assert not writable
            assert {e["field"] for e in exc.errors} == {"model", "language"}
        else:
            assert writable
            assert json.loads(encode_event(event))["language"] == value


# --- timestamps ---------------------------------------------------------------------------------

UNWRITABLE_TIMESTAMPS = [
    datetime(1, 1, 1, 0, 0, tzinfo=_tz(hours=1)),
    datetime(1, 1, 1, 0, 0, tzinfo=_tz(minutes=1)),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=_tz(hours=-1)),
    datetime(9999, 12, 31, 23, 0, tzinfo=_tz(hours=-23, minutes=-59)),
    datetime(1, 1, 1, 0, 0, 0, tzinfo=_tz(seconds=30)),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=_tz(seconds=-1)),
    datetime(1, 1, 1, 0, 0, 0, tzinfo=_tz(hours=23, minutes=59, seconds=59)),
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:30:00+00:31",
    "9999-12-31T23:59:59-00:01",
    "9999-12-31T20:00:00.5-05:00",
]
WRITABLE_EDGES = [
    datetime(1, 1, 1, 0, 0, tzinfo=_tz(hours=-1)),
    datetime(1, 1, 1, 1, 0, tzinfo=_tz(hours=1)),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=_tz(hours=1)),
    datetime(9999, 12, 31, 22, 59, tzinfo=_tz(hours=-1)),
    datetime(1, 1, 1, 0, 0, 30, tzinfo=_tz(seconds=30)),
    datetime(1, 1, 1, tzinfo=timezone.utc),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
    "0001-01-01T00:00:00-05:00",
    "9999-12-31T23:59:59+01:00",
]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("value", UNWRITABLE_TIMESTAMPS, ids=repr)
def test_a_timestamp_utc_cannot_write_is_refused_with_a_clear_message(
    path: str, value: Any
) -> None:
    with pytest.raises(ValidationError) as info:
        build_event(path, timestamp=value)
    assert [(e["field"], e["message"][: len(UTC_RULE)]) for e in info.value.errors] == [
        ("timestamp", UTC_RULE)
    ]
    assert "between 0001-01-01 and 9999-12-31 in UTC" in str(info.value)


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("value", WRITABLE_EDGES, ids=repr)
def test_timestamps_at_the_edges_that_utc_can_write_are_accepted_and_written(
    path: str, value: Any
) -> None:
    event = build_event(path, timestamp=value)
    text = json.loads(encode_event(event))["timestamp"]
    assert TaskCompletionEvent.from_dict({**event.to_dict(), "timestamp": text}) == event
    assert event.timestamp.astimezone(timezone.utc).tzinfo is timezone.utc


class _BrokenZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset today")

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "broken"


def test_a_timestamp_whose_tzinfo_raises_is_refused() -> None:
    broken = datetime(2026, 1, 1, tzinfo=_BrokenZone())
    with pytest.raises(ValidationError, match="timestamp: must be a datetime"):
        TaskCompletionEvent(**sample_event_kwargs(timestamp=broken))


_OFFSETS = st.integers(min_value=-86_399, max_value=86_399).map(lambda s: _tz(seconds=s))


@PROPERTY_SETTINGS
@given(moment=st.datetimes(timezones=_OFFSETS), path=st.sampled_from(BUILD_PATHS))
def test_every_accepted_timestamp_can_be_written_and_read_back(moment: datetime, path: str) -> None:
    try:
        event = build_event(path, timestamp=moment)
    except ValidationError as exc:
        assert [e["field"] for e in exc.errors] == ["timestamp"]
        with pytest.raises(OverflowError):
            moment.astimezone(timezone.utc)
        return
    wire = json.loads(encode_event(event))
    assert TaskCompletionEvent.from_dict(wire).timestamp == moment
