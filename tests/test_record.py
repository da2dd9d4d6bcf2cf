"""``@record`` does what ``@dataclass`` does, for every class that uses it, and costs no import."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mosaic_telemetry import ClientStats, TelemetryConfig, _recordgen, _records
from mosaic_telemetry._http import HttpResult
from mosaic_telemetry._record import record, record_fields
from mosaic_telemetry._request import Attempt
from mosaic_telemetry._settings import Settings

PARAMS = [
    pytest.param({"frozen": False, "slots": False}, id="plain"),
    pytest.param({"frozen": True, "slots": False}, id="frozen"),
    pytest.param({"frozen": True, "slots": True}, id="frozen-slots"),
    pytest.param({"frozen": False, "slots": True}, id="slots"),
]


def twins(params: dict[str, bool]) -> tuple[Any, Any]:
    """The same class body made by ``@record`` and by ``@dataclass``."""

    def body(decorate: Any) -> Any:
        @decorate(**params)
        class Point:
            x: int
            y: int = 2
            label: str | None = None
            """A field docstring, as the package's classes have."""

            def __post_init__(self) -> None:
                if self.x < 0:
                    raise ValueError("x must be >= 0")

        return Point

    return body(record), body(dataclasses.dataclass)


@pytest.mark.parametrize("params", PARAMS)
def test_a_record_behaves_as_the_dataclass_of_the_same_body(params: dict[str, bool]) -> None:
    ours, theirs = twins(params)
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    a, b = ours(1, label="p"), theirs(1, label="p")
    assert repr(a).replace("test_a_record", "") == repr(b).replace("test_a_record", "")
    assert a == ours(1, 2, "p") and a != ours(2) and (a == b) is False
    assert ours.__match_args__ == theirs.__match_args__
    assert [(f.name, f.default) for f in dataclasses.fields(a)] == [
        (f.name, f.default) for f in dataclasses.fields(b)
    ]
    assert dataclasses.is_dataclass(copy.copy(a)) and dataclasses.asdict(a) == dataclasses.asdict(b)
    assert dataclasses.replace(a, y=5) == ours(1, 5, "p")
    with pytest.raises(ValueError, match="x must be >= 0"):
        ours(-1)
    with pytest.raises(TypeError):
        ours()
    assert hasattr(a, "__dict__") is hasattr(b, "__dict__")
    assert (ours.__hash__ is None) is (theirs.__hash__ is None)
    if params["frozen"]:
        assert hash(a) == hash(ours(1, label="p"))
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
            a.x = 3
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'x'"):
            del a.x
    else:
        a.x = 3
        assert a.x == 3
    assert copy.copy(a) == a and copy.deepcopy(a) == a


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="non-default argument 'y' follows default argument"):

        @record()
        class Bad:
            x: int = 1
            y: int  # type: ignore[misc]  # the mistake under test


def test_a_mutable_default_is_refused() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @record()
        class Bad:
            x: list[int] = []  # noqa: RUF012  # the point of the test


def sample(cls: type) -> Any:
    values: dict[type, Any] = {
        ClientStats: {"tracked": 3, "sent": 2, "queued": 1, "last_error": "HTTP 500"},
        Settings: {
            "batch_size": 100,
            "max_queue": 1000,
            "interval_s": 1.0,
            "shutdown_s": 5.0,
            "request_timeout_s": 10.0,
            "max_retries": 3,
            "cache_ttl_s": 60.0,
        },
        HttpResult: {"status": 202, "body": b"{}", "retry_after": "3"},
        Attempt: {"result": None, "failure": "down", "attempts": 2},
        TelemetryConfig: {"server_url": "http://127.0.0.1:1", "batch_size": 7},
    }
    return cls(**values[cls])


@pytest.mark.parametrize("cls", [ClientStats, Settings, HttpResult, Attempt, TelemetryConfig])
def test_the_package_records_keep_their_dataclass_behaviour(cls: type) -> None:
    one = sample(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == list(record_fields(cls)) == list(cls.__annotations__)
    assert dataclasses.is_dataclass(copy.copy(one))
    assert dataclasses.replace(one) == one
    assert pickle.loads(pickle.dumps(one)) == one
    frozen = cls is not TelemetryConfig
    if frozen:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(one, names[0], None)
        assert hash(one) == hash(sample(cls))


def test_importing_the_package_does_not_import_dataclasses_or_inspect() -> None:
    # (re comes with uuid, which imports platform.)
    code = (
        "import sys, mosaic_telemetry; print(sorted({'dataclasses', 'inspect'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_the_generated_record_methods_are_what_recordgen_writes() -> None:
    written = Path(_records.__file__).read_text(encoding="utf-8")
    assert written == _recordgen.render(), "run: python -m mosaic_telemetry._recordgen"


@pytest.mark.parametrize("cls", _recordgen.record_classes(), ids=lambda c: c.__name__)
def test_every_package_record_runs_on_generated_methods(cls: type) -> None:
    assert vars(cls)["__init__"].__module__ == _records.__name__
