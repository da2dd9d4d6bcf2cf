"""TelemetryConfig: defaults, environment overrides, validate() and a repr without the key."""

from __future__ import annotations

import dataclasses
import logging
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

TRUTHY = ["1", "true", "TRUE", "True", "yes", "YES", "Yes", " yes\n"]
RECOGNISED_FALSY = ["0", "false", "FALSE", "no", "No", "off", "OFF", " 0 "]
UNRECOGNISED = ["", "on", "ON", "2", "y", "t", "enabled", "truee", "disable"]
FALSY = RECOGNISED_FALSY + UNRECOGNISED


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


@pytest.mark.parametrize("env_value", TRUTHY + RECOGNISED_FALSY)
def test_a_recognised_enabled_value_logs_nothing_and_is_no_problem(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, env_value: str
) -> None:
    monkeypatch.setenv(PREFIX + "ENABLED", env_value)
    caplog.set_level(logging.DEBUG, logger="mosaic_telemetry")
    assert TelemetryConfig(**VALID).validate() == []
    assert caplog.records == []


@pytest.mark.parametrize("env_value", UNRECOGNISED)
def test_an_unrecognised_enabled_value_warns_once_and_is_a_problem(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, env_value: str
) -> None:
    monkeypatch.setenv(PREFIX + "ENABLED", env_value)
    caplog.set_level(logging.DEBUG, logger="mosaic_telemetry")
    config = TelemetryConfig(**VALID)
    assert config.enabled is False  # the spec's truthy values only; "on" never sends
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    shown = repr(env_value) if env_value else "is set but empty"
    assert shown in message
    assert "so telemetry is disabled; 1, true, yes enable it, 0, false, no, off disable it" in (
        message
    )
    assert config.validate() == [message.removeprefix("telemetry config: ")]


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


# The exact words a user reads for each mistake people make.
MESSAGES = [
    (
        "server_url",
        "",
        "server_url is not set (MOSAIC_TELEMETRY_SERVER_URL or server_url=), "
        "for example https://telemetry.example.com",
    ),
    (
        "server_url",
        "https://telemetry.example.com/v1",
        "server_url must be the base URL without /v1 (the client adds /v1/... itself): "
        "use 'https://telemetry.example.com'",
    ),
    (
        "server_url",
        "https://telemetry.example.com/v1/events/batch",
        "server_url must be the base URL without /v1 (the client adds /v1/... itself): "
        "use 'https://telemetry.example.com'",
    ),
    (
        "server_url",
        "http://127.0.0.1:8080/api/V1/",
        "server_url must be the base URL without /v1 (the client adds /v1/... itself): "
        "use 'http://127.0.0.1:8080/api'",
    ),
    (
        "server_url",
        "https://telemetry.example.com\n",
        "server_url ends with a newline (as echo or a file adds one): remove it",
    ),
    (
        "server_url",
        " https://telemetry.example.com",
        "server_url has spaces or tabs at its start or end: remove them",
    ),
    (
        "server_url",
        "https://telemetry.example.com/a\tb",
        "server_url must not contain spaces or control characters (found a tab at position 32)",
    ),
    (
        "server_url",
        "https://user:hunter2@telemetry.example.com",
        "server_url must not hold a user name or password, got "
        "'https://***@telemetry.example.com'; the client authenticates with api_key",
    ),
    ("server_url", "https://:443/", "server_url has no host name, got 'https://:443'"),
    (
        "server_url",
        "https://telemetry.example.com:99999",
        "server_url has an invalid host or port, got 'https://telemetry.example.com:99999'",
    ),
    (
        "server_url",
        "https://telemetry.example.com?team=1",
        "server_url must not have a query (?) or fragment (#), "
        "got 'https://telemetry.example.com?team=1'",
    ),
    (
        "server_url",
        "ftp://telemetry.example.com",
        "server_url must start with http:// or https://, got 'ftp://telemetry.example.com'",
    ),
    ("api_key", "", "api_key is not set (MOSAIC_TELEMETRY_API_KEY or api_key=)"),
    (
        "api_key",
        "g" * 64,
        "api_key must be 64 hexadecimal characters (0-9, a-f); found 'g' at position 1",
    ),
    (
        "api_key",
        API_KEY[:40] + "-" + API_KEY[41:],
        "api_key must be 64 hexadecimal characters (0-9, a-f); found '-' at position 41",
    ),
    ("api_key", "0" * 63, "api_key must be 64 hexadecimal characters (0-9, a-f); got 63"),
    ("api_key", "0" * 65, "api_key must be 64 hexadecimal characters (0-9, a-f); got 65"),
    (
        "api_key",
        API_KEY + "\n",
        "api_key ends with a newline (as echo or a file adds one): remove it; "
        "the 64 characters inside are a valid key",
    ),
    (
        "api_key",
        API_KEY + "  ",
        "api_key has spaces or tabs at its start or end: remove them; "
        "the 64 characters inside are a valid key",
    ),
    (
        "api_key",
        "0" * 62 + "\n",
        "api_key ends with a newline (as echo or a file adds one): remove it",
    ),
    ("api_key", "Bearer " + API_KEY, "api_key must be the key alone, without 'Bearer '"),
    (
        "instance_id",
        "",
        "instance_id is not set (MOSAIC_TELEMETRY_INSTANCE_ID or instance_id=); "
        "make one with: python -c 'import uuid; print(uuid.uuid4())'",
    ),
    (
        "instance_id",
        INSTANCE + "\n",
        "instance_id ends with a newline (as echo or a file adds one): remove it",
    ),
    ("instance_id", "not-a-uuid", "instance_id must be a UUID string, got 'not-a-uuid'"),
]


@pytest.mark.parametrize(("name", "value", "message"), MESSAGES, ids=repr)
def test_validate_names_the_true_cause(name: str, value: str, message: str) -> None:
    assert TelemetryConfig(**{**VALID, name: value}).validate() == [message]


def test_a_key_from_the_environment_with_a_newline_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PREFIX + "API_KEY", API_KEY + "\n")
    problems = TelemetryConfig(server_url=VALID["server_url"], instance_id=INSTANCE).validate()
    assert problems == [
        "api_key ends with a newline (as echo or a file adds one): remove it; "
        "the 64 characters inside are a valid key"
    ]


PASSWORD_URLS = [
    "https://user:hunter2@telemetry.example.com",
    "https://hunter2@telemetry.example.com/",
    "https://user:hun@ter2@telemetry.example.com",
    "user:hunter2@telemetry.example.com",
    "ftp://user:hunter2@telemetry.example.com",
    "https://user:hunter2@telemetry.example.com/v1",
]


@pytest.mark.parametrize("url", PASSWORD_URLS)
def test_a_url_password_is_refused_and_never_shown(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for config in (
        TelemetryConfig(**{**VALID, "server_url": url}),
        _from_env_url(monkeypatch, url),
    ):
        problems = config.validate()
        assert len(problems) == 1 and problems[0].startswith("server_url"), problems
        for text in (*problems, repr(config), str(config)):
            assert "hunter2" not in text
            assert "ter2" not in text


def _from_env_url(monkeypatch: pytest.MonkeyPatch, url: str) -> TelemetryConfig:
    monkeypatch.setenv(PREFIX + "SERVER_URL", url)
    return TelemetryConfig(api_key=API_KEY, instance_id=INSTANCE)


@pytest.mark.parametrize(
    "bad_key",
    ["g" * 64, "a" * 63, API_KEY + "00", "Bearer " + API_KEY, API_KEY + "\n", "x" + API_KEY[1:]],
)
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
