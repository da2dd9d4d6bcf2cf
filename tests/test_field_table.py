"""The field tables: generated code up to date, generated paths equal to the table's reference."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    MODEL_STRATEGIES,
    PROPERTY_SETTINGS,
    event_kwargs,
    sample_event_kwargs,
    utc_datetimes,
    valid_events,
)

from mosaic_telemetry import (
    BatchEventResult,
    PredictionMetadata,
    PredictionResponse,
    QualityGate,
    TaskCompletionEvent,
    ValidationError,
    _codegen,
    _generated,
)
from mosaic_telemetry._encode import batch_body, encode_event
from mosaic_telemetry._fields import MISSING, columns, field, nullable, text
from mosaic_telemetry._model import Model, _reference_methods
from mosaic_telemetry._validation import new_uuid4, uuid_from_text
from mosaic_telemetry.models import event_fields

MODELS = list(MODEL_STRATEGIES)
_reference_init = _reference_methods()["__init__"]


def _name(cls: type[Any]) -> str:
    return cls.__name__


def _generic_from_dict(cls: type[Model], data: Any) -> Any:
    """Model.from_dict: the table's rules, never a generated reader."""
    return Model.from_dict.__func__(cls, data)  # type: ignore[attr-defined]  # the plain function


def _reference_build(cls: type[Model], kwargs: dict[str, Any]) -> Any:
    instance = object.__new__(cls)
    _reference_init(instance, **kwargs)
    return instance


# --- the generated module ----------------------------------------------------------------------


def test_generated_module_is_what_codegen_writes_from_the_tables() -> None:
    written = Path(_generated.__file__).read_text(encoding="utf-8")
    assert written == _codegen.render(), "run: python -m mosaic_telemetry._codegen"


@pytest.mark.parametrize("cls", MODELS, ids=_name)
def test_every_model_runs_on_generated_methods(cls: type[Model]) -> None:
    assert not cls._STALE
    assert cls.__init__.__module__ == _generated.__name__
    assert cls.to_dict.__module__ == _generated.__name__


def test_a_table_change_without_regeneration_is_caught_not_fatal() -> None:
    class Changed(Model):
        note: str = field(text(1, 5))

    assert Changed._STALE  # the test above would fail for a public model in this state
    assert Changed(note="abc").to_dict() == {"note": "abc"}
    with pytest.raises(ValidationError, match="note: must be 1 to 5 characters"):
        Changed(note="")


def test_a_nullable_field_must_declare_its_default() -> None:
    with pytest.raises(TypeError, match="nullable field needs a default"):
        field(nullable(text()))


# --- generated paths against the table's reference --------------------------------------------


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_generated_to_dict_equals_the_reference(cls: type[Model], data: st.DataObject) -> None:
    instance = data.draw(MODEL_STRATEGIES[cls])
    assert instance.to_dict() == instance._reference_to_dict()


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_generated_constructor_equals_the_reference(cls: type[Model], data: st.DataObject) -> None:
    instance = data.draw(MODEL_STRATEGIES[cls])
    kwargs = {name: getattr(instance, name) for name in cls._FIELD_NAMES}
    assert cls(**kwargs) == _reference_build(cls, kwargs) == instance


@PROPERTY_SETTINGS
@given(event=valid_events())
def test_encode_event_is_json_dumps_of_to_dict(event: TaskCompletionEvent) -> None:
    encoded = encode_event(event)
    expected = json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False)
    assert json.loads(encoded) == json.loads(expected) == event._reference_to_dict()
    assert list(json.loads(encoded)) == list(event._FIELD_NAMES)  # the spec's order
    assert TaskCompletionEvent.from_json(encoded) == event


@PROPERTY_SETTINGS
@given(kwargs=event_kwargs(timestamps=utc_datetimes()))
def test_the_json_writer_serves_every_valid_utc_event(kwargs: dict[str, Any]) -> None:
    event = TaskCompletionEvent(**kwargs)
    assert event._is_valid()
    encoded = event._encoded()
    assert encoded is not None
    assert json.loads(encoded) == event.to_dict()


@PROPERTY_SETTINGS
@given(kwargs=event_kwargs(timestamps=utc_datetimes()))
def test_the_wire_reader_reads_every_utc_wire_event_as_the_rules_do(
    kwargs: dict[str, Any],
) -> None:
    wire = TaskCompletionEvent(**kwargs).to_dict()
    fast = TaskCompletionEvent._from_wire(wire)  # no fallback: it must not raise here
    assert fast == _generic_from_dict(TaskCompletionEvent, MappingProxyType(wire))


def test_batch_body_joins_encoded_events() -> None:
    events = [TaskCompletionEvent(**sample_event_kwargs(event_id=uuid.uuid4())) for _ in range(3)]
    body = json.loads(batch_body([encode_event(e) for e in events]))
    assert body == {"events": [e.to_dict() for e in events]}


ODD: list[Any] = [None, "", "x" * 101, -1, 10**9, 1.5, True, "nope", [], ["nope"], "\ud800"]


@PROPERTY_SETTINGS
@given(
    event=valid_events(),
    name=st.sampled_from(sorted(sample_event_kwargs())),
    value=st.sampled_from(ODD),
)
def test_a_mutated_event_is_written_only_if_the_rules_accept_it(
    event: TaskCompletionEvent, name: str, value: Any
) -> None:
    setattr(event, name, value)
    values = {n: getattr(event, n) for n in event._FIELD_NAMES}
    try:
        expected = TaskCompletionEvent(**values)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as info:
            encode_event(event)
        assert [e["field"] for e in info.value.errors] == [e["field"] for e in exc.errors]
    else:
        assert json.loads(encode_event(event)) == expected.to_dict()


@pytest.mark.parametrize(
    ("name", "value"),
    [("model", "m" * 101), ("retry_count", 99), ("event_id", "not-a-uuid"), ("language", 7)],
)
def test_encode_event_names_the_field_a_mutation_broke(name: str, value: Any) -> None:
    event = TaskCompletionEvent(**sample_event_kwargs())
    setattr(event, name, value)
    with pytest.raises(ValidationError, match=f"{name}: must ") as info:
        encode_event(event)
    assert [e["field"] for e in info.value.errors] == [name]


def test_encode_event_writes_a_coercible_mutation_in_its_wire_form() -> None:
    event = TaskCompletionEvent(**sample_event_kwargs())
    event.event_id = "5D8A1C3E-7F2B-4E9A-8C6D-1B2A3C4D5E6F"  # type: ignore[assignment]  # on purpose
    assert json.loads(encode_event(event))["event_id"] == "5d8a1c3e-7f2b-4e9a-8c6d-1b2a3c4d5e6f"


# --- what the table exposes ---------------------------------------------------------------------


def test_event_columns_are_derived_from_the_table() -> None:
    cols = columns(event_fields())
    assert [name for name, _, _ in cols] == list(TaskCompletionEvent._FIELD_NAMES)
    kinds = {name: (sqlite, null) for name, sqlite, null in cols}
    assert kinds["event_id"] == ("TEXT", False)
    assert kinds["timestamp"] == ("TEXT", False)
    assert kinds["task_duration_ms"] == ("INTEGER", False)
    assert kinds["quality_gate_passed"] == ("INTEGER", False)
    assert kinds["quality_gates_run"] == ("TEXT", False)
    assert kinds["context_utilization_final"] == ("REAL", False)
    assert kinds["language"] == ("TEXT", True)
    assert kinds["repo_size_category"] == ("TEXT", True)
    json_types = {f.name: f.kind.json_type for f in event_fields()}
    assert json_types["quality_gates_run"] == "array"
    assert json_types["context_utilization_final"] == "number"


@pytest.mark.parametrize("cls", MODELS, ids=_name)
def test_dataclasses_sees_every_model_with_the_tables_defaults(cls: type[Model]) -> None:
    assert dataclasses.is_dataclass(cls)
    for spec, dc_field in zip(cls._FIELDS, dataclasses.fields(cls), strict=True):
        assert dc_field.name == spec.name
        assert dc_field.kw_only is True
        has_default = dc_field.default is not dataclasses.MISSING
        has_factory = dc_field.default_factory is not dataclasses.MISSING
        assert has_default == (spec.default is not MISSING)
        assert has_factory == (spec.default_factory is not None)


def test_dataclasses_replace_and_asdict_work_on_models() -> None:
    meta = PredictionMetadata(sample_size=3, fallback_level=0, confidence="low")
    assert dataclasses.replace(meta, cache_hit=True).cache_hit is True
    event = TaskCompletionEvent(**sample_event_kwargs())
    assert dataclasses.asdict(event)["model"] == event.model


def test_models_are_unhashable_like_mutable_dataclasses() -> None:
    with pytest.raises(TypeError):
        hash(TaskCompletionEvent(**sample_event_kwargs()))


# --- absent optional fields read as None --------------------------------------------------------

NULLABLE = [
    pytest.param(cls, spec.name, id=f"{cls.__name__}.{spec.name}")
    for cls in MODELS
    for spec in cls._FIELDS
    if spec.nullable
]


@pytest.mark.parametrize(("cls", "name"), NULLABLE)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_an_absent_nullable_field_reads_as_none(
    cls: type[Model], name: str, data: st.DataObject
) -> None:
    instance = data.draw(MODEL_STRATEGIES[cls])
    wire = {k: v for k, v in instance.to_dict().items() if k != name}
    for form in (wire, MappingProxyType(wire)):
        assert getattr(cls.from_dict(form), name) is None


def test_a_prediction_response_without_prediction_is_accepted_as_none() -> None:
    meta = {"sample_size": 0, "fallback_level": -1, "confidence": "none"}
    response = PredictionResponse.from_dict({"metadata": meta})
    assert response.prediction is None
    assert response.metadata.confidence == "none"


def test_a_prediction_response_without_metadata_is_still_refused() -> None:
    with pytest.raises(ValidationError, match="metadata: is required"):
        PredictionResponse.from_dict({"prediction": None})


def test_a_batch_result_without_error_reads_as_none() -> None:
    result = BatchEventResult.from_dict({"event_id": str(uuid.uuid4()), "status": "accepted"})
    assert result.error is None


# --- the helpers the fast paths stand on --------------------------------------------------------


def test_new_uuid4_makes_random_rfc4122_version_4_uuids() -> None:
    ids = [new_uuid4() for _ in range(200)]
    assert len(set(ids)) == 200
    for value in ids:
        assert type(value) is uuid.UUID
        assert value.version == 4
        assert value.variant == uuid.RFC_4122
        assert value == uuid.UUID(str(value))
        assert value.is_safe is uuid.SafeUUID.unknown


@given(value=st.uuids())
def test_uuid_from_text_reads_the_canonical_form_as_uuid_does(value: uuid.UUID) -> None:
    for text_form in (str(value), str(value).upper()):
        parsed = uuid_from_text(text_form)
        assert parsed == value
        assert parsed.int == value.int
        assert type(parsed) is uuid.UUID


@pytest.mark.parametrize(
    "bad",
    [
        "12345678-1234-1234-1234-12345678 abc",
        "+2345678-1234-1234-1234-123456789abc",
        "1234567_-1234-1234-1234-123456789abc",
        "\uff12345678-1234-1234-1234-12345678abc"[:36],
        "12345678-1234-1234-1234-123456789abcd",
        "123456781234-1234-1234-1234-56789abc",
        "12345678--234-1234-1234-123456789abc",
    ],
)
def test_uuid_from_text_refuses_near_misses(bad: str) -> None:
    with pytest.raises(ValueError):
        uuid_from_text(bad)


def test_builder_defaults_are_the_tables() -> None:
    from mosaic_telemetry.builder import _BUILDER_DEFAULTS

    assert _BUILDER_DEFAULTS["model"] == "unknown"
    assert set(_BUILDER_DEFAULTS) == {
        spec.name for spec in event_fields() if spec.builder is not MISSING
    }
    # The rest are the event's own defaults (new id, now, the schema version, no gates).
    own = {"instance_id", "event_id", "schema_version", "timestamp"}
    own |= {"quality_gates_run", "quality_gates_failed"}
    assert set(_BUILDER_DEFAULTS) | own == set(TaskCompletionEvent._FIELD_NAMES)


def test_gate_lists_from_the_builder_default_are_fresh_lists() -> None:
    from mosaic_telemetry import EventBuilder

    builder = EventBuilder("0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11")
    first, second = builder.build(), builder.build()
    assert first.quality_gates_run == []
    assert type(first.quality_gates_run) is list
    first.quality_gates_run.append(QualityGate.LINT)
    assert second.quality_gates_run == []
    assert json.loads(encode_event(first))["quality_gates_run"] == ["lint"]
    assert datetime.now(timezone.utc) >= first.timestamp


def test_a_generated_event_id_is_one_uuid_from_first_read_on() -> None:
    kwargs = {k: v for k, v in sample_event_kwargs().items() if k != "event_id"}
    event = TaskCompletionEvent(**kwargs)
    written = json.loads(encode_event(event))["event_id"]
    assert type(event.event_id) is uuid.UUID
    assert event.event_id is event.event_id
    assert str(event.event_id) == written == event.to_dict()["event_id"]


def test_an_int_assigned_to_event_id_is_kept_and_refused_when_written() -> None:
    event = TaskCompletionEvent(**sample_event_kwargs())
    event.event_id = 12345  # type: ignore[assignment]  # on purpose
    assert event.event_id == 12345
    with pytest.raises(ValidationError, match="event_id: must be a UUID"):
        encode_event(event)


@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_a_copied_event_equals_its_original_and_writes_the_same_bytes(how: str) -> None:
    import copy
    import pickle

    kwargs = {k: v for k, v in sample_event_kwargs().items() if k != "event_id"}
    event = TaskCompletionEvent(**kwargs)  # a compact, generated id and shared gate tuples
    twin = pickle.loads(pickle.dumps(event)) if how == "pickle" else getattr(copy, how)(event)
    assert encode_event(twin) == encode_event(event)
    assert twin == event
    twin.quality_gates_run.append(QualityGate.SECURITY)
    assert event.quality_gates_run == sample_event_kwargs()["quality_gates_run"]
