"""TelemetryConfig: defaults, environment overrides, validate() and a repr without the key."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mosaic_telemetry import TelemetryConfig

PREFIX = "MOSAIC_TELEMETRY_"
API_KEY = "0123456789abcdef" * 4
INSTANCE = "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11"
VALID: dict[str, Any] = {
    "server_url": "https://telemetry.example.com",
    "api_key": API_KEY,
    "instance_id": INSTANCE,
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with no MOSAIC_TELEMETRY_* variable set."""
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    yield


# --- fields and defaults ------------------------------------------------------------------------

SPEC_DEFAULTS: list[tuple[str, Any]] = [
    ("server_url", ""),
    ("api_key", ""),
    ("instance_id", ""),
    ("enabled", True),
    ("submit_interval_seconds", 300.0),
    ("max_queue_size", 1000),
    ("batch_size", 100),
    ("request_timeout_seconds", 10.0),
    ("prediction_cache_ttl_seconds", 21600.0),
    ("dry_run", False),
    ("max_retries", 3),
    ("user_agent", "mosaicstack-telemetry-python/0.1.0"),
]
ADDED_DEFAULTS: list[tuple[str, Any]] = [
    ("shutdown_timeout_seconds", 5.0),
    ("ca_file", ""),
    ("gzip", False),
]


def test_config_starts_with_the_spec_fields_in_order() -> None:
    names = [f.name for f in dataclasses.fields(TelemetryConfig)]
    assert names[: len(SPEC_DEFAULTS)] == [name for name, _ in SPEC_DEFAULTS]


@pytest.mark.parametrize(("name", "default"), SPEC_DEFAULTS + ADDED_DEFAULTS)
def test_field_has_its_default(name: str, default: Any) -> None:
    value = getattr(TelemetryConfig(), name)
    assert value == default
    assert type(value) is type(default)


# --- environment --------------------------------------------------------------------------------

TRUTHY = ["1", "true", "TRUE", "True", "yes", "YES", "Yes"]
FALSY = ["0", "false", "no", "", "on", "2", "y", "t", "enabled", "truee"]


@pytest.mark.parametrize("constructed", [True, False])
@pytest.mark.parametrize("env_value", TRUTHY)
def test_enabled_env_true_values_always_override(
    monkeypatch: pytest.MonkeyPatch, constructed: bool, env_value: str
) -> None:
    monkeypatch.setenv(PREFIX + "ENABLED", env_value)
    assert TelemetryConfig(enabled=constructed).enabled is True


@pytest.mark.parametrize("constructed", [True, False])
@pytest.mark.parametrize("env_value", FALSY)
def test_enabled_env_anything_else_is_false_and_overrides(
    monkeypatch: pytest.MonkeyPatch, constructed: bool, env_value: str
) -> None:
    monkeypatch.setenv(PREFIX + "ENABLED", env_value)
    assert TelemetryConfig(enabled=constructed).enabled is False


@pytest.mark.parametrize("constructed", [True, False])
def test_enabled_keeps_the_constructor_value_without_env(constructed: bool) -> None:
    assert TelemetryConfig(enabled=constructed).enabled is constructed


FILLED_FROM_ENV = [
    ("server_url", "SERVER_URL", "https://env.example.com"),
    ("api_key", "API_KEY", "f" * 64),
    ("instance_id", "INSTANCE_ID", "11111111-2222-4333-8444-555555555555"),
    ("ca_file", "CA_FILE", "/etc/ssl/private-ca.pem"),
]


@pytest.mark.parametrize(("name", "suffix", "env_value"), FILLED_FROM_ENV)
def test_env_fills_a_field_left_empty(
    monkeypatch: pytest.MonkeyPatch, name: str, suffix: str, env_value: str
) -> None:
    monkeypatch.setenv(PREFIX + suffix, env_value)
    assert getattr(TelemetryConfig(), name) == env_value
    empty: dict[str, Any] = {name: ""}
    assert getattr(TelemetryConfig(**empty), name) == env_value


@pytest.mark.parametrize(("name", "suffix", "env_value"), FILLED_FROM_ENV)
def test_env_never_replaces_a_field_set_in_the_constructor(
    monkeypatch: pytest.MonkeyPatch, name: str, suffix: str, env_value: str
) -> None:
    monkeypatch.setenv(PREFIX + suffix, env_value)
    explicit: Any = {
        "server_url": "https://explicit.example.com",
        "api_key": "e" * 64,
        "instance_id": INSTANCE,
        "ca_file": "/explicit/ca.pem",
    }[name]
    assert getattr(TelemetryConfig(**{name: explicit}), name) == explicit


@pytest.mark.parametrize(
    "name",
    [
        "SUBMIT_INTERVAL_SECONDS",
        "MAX_QUEUE_SIZE",
        "BATCH_SIZE",
        "DRY_RUN",
        "MAX_RETRIES",
        "USER_AGENT",
        "REQUEST_TIMEOUT_SECONDS",
    ],
)
def test_other_fields_are_not_read_from_env(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(PREFIX + name, "7")
    config = TelemetryConfig()
    field = name.lower()
    assert getattr(config, field) == dict(SPEC_DEFAULTS)[field]


def test_env_is_read_when_the_config_is_made_not_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert TelemetryConfig().server_url == ""
    monkeypatch.setenv(PREFIX + "SERVER_URL", "https://later.example.com")
    assert TelemetryConfig().server_url == "https://later.example.com"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://telemetry.example.com/", "https://telemetry.example.com"),
        ("https://telemetry.example.com///", "https://telemetry.example.com"),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/api"),
        ("https://telemetry.example.com", "https://telemetry.example.com"),
    ],
)
def test_trailing_slashes_of_server_url_are_stripped(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    assert TelemetryConfig(server_url=given).server_url == expected
    monkeypatch.setenv(PREFIX + "SERVER_URL", given)
    assert TelemetryConfig().server_url == expected


# --- validate() ---------------------------------------------------------------------------------


def test_valid_config_has_no_problems() -> None:
    assert TelemetryConfig(**VALID).validate() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("server_url", "http://localhost:8000"),
        ("api_key", API_KEY.upper()),
        ("instance_id", INSTANCE.upper()),
        ("instance_id", str(uuid.uuid4())),
        ("submit_interval_seconds", 0.001),
        ("submit_interval_seconds", 1),
        ("max_queue_size", 1),
        ("batch_size", 1),
        ("batch_size", 100),
        ("request_timeout_seconds", 0.01),
    ],
)
def test_validate_accepts_values_at_the_edge_of_each_rule(name: str, value: Any) -> None:
    assert TelemetryConfig(**{**VALID, name: value}).validate() == []


# One case per check of the spec's list, each breaking that check only.
BROKEN_CHECKS = [
    ("server_url", ""),
    ("server_url", "telemetry.example.com"),
    ("server_url", "ftp://telemetry.example.com"),
    ("server_url", "file:///etc/passwd"),
    ("api_key", ""),
    ("api_key", "0" * 63),
    ("api_key", "0" * 65),
    ("api_key", "g" * 64),
    ("api_key", "0" * 62 + " x"),
    ("instance_id", ""),
    ("instance_id", "not-a-uuid"),
    ("instance_id", INSTANCE[:-1]),
    ("submit_interval_seconds", 0),
    ("submit_interval_seconds", -1.0),
    ("max_queue_size", 0),
    ("max_queue_size", -10),
    ("batch_size", 0),
    ("batch_size", 101),
    ("request_timeout_seconds", 0),
    ("request_timeout_seconds", -0.5),
]


@pytest.mark.parametrize(("name", "value"), BROKEN_CHECKS, ids=repr)
def test_each_failed_check_gives_one_message_naming_the_field(name: str, value: Any) -> None:
    problems = TelemetryConfig(**{**VALID, name: value}).validate()
    assert len(problems) == 1, problems
    assert name in problems[0]


def test_every_failed_check_is_listed() -> None:
    config = TelemetryConfig(
        server_url="ftp://x",
        api_key="short",
        instance_id="nope",
        submit_interval_seconds=0,
        max_queue_size=0,
        batch_size=500,
        request_timeout_seconds=-1,
    )
    problems = config.validate()
    named = [
        "server_url",
        "api_key",
        "instance_id",
        "submit_interval_seconds",
        "max_queue_size",
        "batch_size",
        "request_timeout_seconds",
    ]
    assert len(problems) == len(named), problems
    for name in named:
        assert sum(name in p for p in problems) >= 1, (name, problems)


def test_default_config_names_the_three_missing_settings() -> None:
    problems = TelemetryConfig().validate()
    assert len(problems) == 3
    for name, problem in zip(["server_url", "api_key", "instance_id"], problems, strict=True):
        assert name in problem


@pytest.mark.parametrize("bad_key", ["g" * 64, "a" * 63, API_KEY + "00", "Bearer " + API_KEY])
def test_validate_never_repeats_the_api_key(bad_key: str) -> None:
    problems = TelemetryConfig(**{**VALID, "api_key": bad_key}).validate()
    assert problems
    assert not any(bad_key in p or bad_key[:16] in p for p in problems)


def test_validate_accepts_an_existing_ca_file_and_names_a_missing_one(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    assert TelemetryConfig(**VALID, ca_file=str(ca)).validate() == []
    problems = TelemetryConfig(**VALID, ca_file=str(tmp_path / "missing.pem")).validate()
    assert len(problems) == 1
    assert "ca_file" in problems[0]


# --- the key never shows ------------------------------------------------------------------------

SECRETS = [API_KEY, "s3cr3t", "x" * 9, "k" * 200]


@pytest.mark.parametrize("secret", SECRETS)
def test_repr_and_str_never_show_the_api_key(secret: str) -> None:
    config = TelemetryConfig(**{**VALID, "api_key": secret})
    for text in (repr(config), str(config), f"{config}", f"{config!r}", repr([config])):
        assert secret not in text
        assert secret[:-4] not in text
        assert "api_key=" in text


def test_repr_shows_the_other_settings() -> None:
    text = repr(TelemetryConfig(**VALID, batch_size=42, dry_run=True))
    assert text.startswith("TelemetryConfig(")
    assert "server_url='https://telemetry.example.com'" in text
    assert f"instance_id='{INSTANCE}'" in text
    assert "batch_size=42" in text
    assert "dry_run=True" in text


def test_repr_hides_a_key_that_came_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PREFIX + "API_KEY", API_KEY)
    config = TelemetryConfig()
    assert config.api_key == API_KEY
    assert API_KEY[:-4] not in repr(config)
