"""TelemetryConfig's spool fields: defaults, MOSAIC_TELEMETRY_SPOOL_DIR, and validate() rules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mosaic_telemetry import TelemetryConfig

PREFIX = "MOSAIC_TELEMETRY_"
VALID: dict[str, Any] = {
    "server_url": "https://telemetry.example.com",
    "api_key": "0123456789abcdef" * 4,
    "instance_id": "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11",
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    yield


def test_the_spool_is_off_by_default_with_a_64_mib_bound() -> None:
    config = TelemetryConfig()
    assert config.spool_dir is None
    assert config.spool_max_bytes == 64 * 1024 * 1024 == 67108864


@pytest.mark.parametrize("given", [None, ""])
def test_the_env_var_fills_an_empty_spool_dir(
    monkeypatch: pytest.MonkeyPatch, given: str | None
) -> None:
    monkeypatch.setenv(PREFIX + "SPOOL_DIR", "/var/spool/mosaic")
    assert TelemetryConfig(spool_dir=given).spool_dir == "/var/spool/mosaic"


def test_the_env_var_never_replaces_a_given_spool_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PREFIX + "SPOOL_DIR", "/var/spool/mosaic")
    assert TelemetryConfig(spool_dir="/given").spool_dir == "/given"


def test_spool_max_bytes_is_not_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PREFIX + "SPOOL_MAX_BYTES", "1")
    assert TelemetryConfig().spool_max_bytes == 67108864


def test_a_path_object_is_taken_as_its_string(tmp_path: Path) -> None:
    config = TelemetryConfig(spool_dir=tmp_path / "spool")  # type: ignore[arg-type]  # a Path
    assert config.spool_dir == str(tmp_path / "spool")


@pytest.mark.parametrize(
    "changes",
    [
        {"spool_dir": None},
        {"spool_dir": ""},
        {"spool_dir": "/does/not/exist/yet"},  # created at first use
        {"spool_max_bytes": 65536},
        {"spool_max_bytes": 1 << 40},
    ],
    ids=repr,
)
def test_validate_accepts_usable_spool_settings(changes: dict[str, Any]) -> None:
    assert TelemetryConfig(**VALID, **changes).validate() == []


def test_validate_accepts_a_private_existing_directory(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir(mode=0o700)
    assert TelemetryConfig(**VALID, spool_dir=str(directory)).validate() == []


BROKEN = [
    ({"spool_dir": 5}, "spool_dir must be a path string or None, got 5"),
    ({"spool_dir": "/var/spool\nx"}, "spool_dir must not contain control characters"),
    ({"spool_max_bytes": 65535}, "spool_max_bytes must be an int of 65536 or more, got 65535"),
    ({"spool_max_bytes": 1e9}, "spool_max_bytes must be an int of 65536 or more, got 1000000000.0"),
    ({"spool_max_bytes": True}, "spool_max_bytes must be an int of 65536 or more, got True"),
]


@pytest.mark.parametrize(("changes", "message"), BROKEN, ids=repr)
def test_validate_names_a_bad_spool_setting(changes: dict[str, Any], message: str) -> None:
    problems = TelemetryConfig(**VALID, **changes).validate()
    assert len(problems) == 1 and message in problems[0], problems


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_validate_refuses_a_shared_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (problem,) = TelemetryConfig(**VALID, spool_dir=str(shared)).validate()
    assert problem == (
        f"spool_dir {str(shared)!r} must not be writable by group or others, "
        "got mode 1777 (use a private directory)"
    )


def test_validate_refuses_a_file_as_spool_dir(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x", encoding="utf-8")
    assert TelemetryConfig(**VALID, spool_dir=str(path)).validate() == [
        f"spool_dir {str(path)!r} must be a directory"
    ]
