"""track(builder) and client.event(): a report that can't raise, and a WARNING for unsent events."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    INSTANCE_ID,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    server_fixture,
)

from mosaic_telemetry import EventBuilder, TelemetryClient, TelemetryConfig

pytestmark = pytest.mark.usefixtures("clean_env")

LOGGER = "mosaic_telemetry"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith(LOGGER)
    ]


def test_a_builder_is_built_in_track_and_sent(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    client.track(client.event().model("gpt-4o").tokens(actual_in=1_200))
    client.track(EventBuilder(INSTANCE_ID).model("claude-sonnet-4"))
    assert client.flush() is True
    received = [e for b in server.batches() for e in b.events]
    assert [(e["model"], e["instance_id"]) for e in received] == [
        ("gpt-4o", INSTANCE_ID),
        ("claude-sonnet-4", INSTANCE_ID),
    ]
    assert received[0]["actual_input_tokens"] == 1_200


def test_event_is_bound_to_the_clients_instance_id(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    assert str(client.event().build().instance_id) == INSTANCE_ID
    first, second = client.event().build(), client.event().build()
    assert first.event_id != second.event_id  # a fresh builder each time


# Builders that can't build, and the field, value and rule their one WARNING names.
BAD_BUILDERS: list[tuple[str, Any, str]] = [
    (
        "negative-tokens",
        lambda b: b.tokens(actual_in=-1),
        "actual_input_tokens: must be between 0 and 10000000, got -1",
    ),
    ("empty-model", lambda b: b.model(""), "model: must be 1 to 100 characters, got ''"),
    ("unknown-task-type", lambda b: b.task_type("painting"), "task_type: must be one of"),
    ("gates-not-a-list", lambda b: b.quality(passed=True, gates_run=5), "quality_gates_run"),
    ("utilization-too-high", lambda b: b.context(utilization=1.7), "context_utilization_final"),
    ("retries-out-of-range", lambda b: b.retry_count(99), "retry_count: must be between 0"),
]


@pytest.mark.parametrize(
    ("spoil", "words"), [(s, w) for _, s, w in BAD_BUILDERS], ids=[n for n, _, _ in BAD_BUILDERS]
)
def test_a_bad_builder_is_dropped_counted_and_warned_about_once(
    spoil: Any, words: str, server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    client = TelemetryClient(make_config(server))
    for _ in range(3):
        client.track(spoil(client.event()))  # never raises
    client.track(client.event().model("fine"))
    assert client.flush() is True
    stats = client.stats
    assert (stats.tracked, stats.dropped_invalid, stats.sent) == (4, 3, 1)
    assert_balanced(stats)
    warned = [m for m in _warnings(caplog) if "not tracked" in m]
    assert len(warned) == 1, warned
    assert words in warned[0]
    assert warned[0].startswith("telemetry event dropped, not tracked: 1 validation error")
    assert warned[0].endswith("counted in stats.dropped_invalid, the next ones like it at DEBUG")


def test_each_kind_of_mistake_gets_its_own_warning(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    client = TelemetryClient(make_config(server))
    for tokens in (-1, -2, -3):  # one mistake, whatever the value
        client.track(client.event().tokens(actual_in=tokens))
    client.track(client.event().model(""))  # another one
    assert len([m for m in _warnings(caplog) if "not tracked" in m]) == 2


def test_a_missing_instance_id_says_where_to_set_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    client = TelemetryClient(TelemetryConfig(server_url="http://127.0.0.1:9", api_key="0" * 64))
    client.track(client.event().model("gpt-4o"))
    (warned,) = [m for m in _warnings(caplog) if "not tracked" in m]
    assert "instance_id: must be a UUID or its string form, got ''" in warned
    assert "MOSAIC_TELEMETRY_INSTANCE_ID or TelemetryConfig(instance_id=...)" in warned
    assert client.stats.dropped_invalid == 1


class _HostileBuilder(EventBuilder):
    def build(self) -> Any:
        raise ZeroDivisionError("a subclass with its own ideas")


class _JunkBuilder(EventBuilder):
    def build(self) -> Any:
        return "not an event"


@pytest.mark.parametrize("builder_class", [_HostileBuilder, _JunkBuilder])
def test_a_builder_subclass_that_misbehaves_is_counted_not_raised(
    builder_class: type[EventBuilder], server: TelemetryServer
) -> None:
    client = TelemetryClient(make_config(server))
    client.track(builder_class(INSTANCE_ID))
    stats = client.stats
    assert (stats.tracked, stats.dropped_invalid) == (1, 1)
    assert_balanced(stats)


def test_a_disabled_client_never_builds() -> None:
    built: list[int] = []

    class Counting(EventBuilder):
        def build(self) -> Any:
            built.append(1)
            return super().build()

    client = TelemetryClient(TelemetryConfig(enabled=False))
    client.track(Counting(""))
    assert built == [] and client.stats.tracked == 0


@pytest.mark.parametrize("instance_id", ["", "not-a-uuid", None, 42, b"\xff"])
def test_event_never_raises_whatever_the_instance_id(instance_id: Any) -> None:
    config = TelemetryConfig(server_url="http://127.0.0.1:9", api_key="0" * 64, dry_run=True)
    config.instance_id = instance_id
    client = TelemetryClient(config)
    client.track(client.event().model("m").tokens(actual_in=-5))
    assert client.stats.dropped_invalid == 1


# -- the WARNING at exit for events nothing sent ---------------------------------------------------

_HOST = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
from mosaic_telemetry import TelemetryClient, TelemetryConfig

config = TelemetryConfig(server_url="https://telemetry.invalid", api_key="0" * 64,
                         instance_id="2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b", dry_run=True,
                         enabled={enabled})
client = TelemetryClient(config)
{before}
for _ in range({events}):
    client.track(client.event().model("exit-model"))
{after}
"""
EXIT_CASES: list[tuple[str, dict[str, Any], int | None]] = [
    ("never-started-nor-flushed", {}, 3),
    ("flushed", {"after": "client.flush()"}, None),
    ("started-the-exit-flush-sends", {"before": "client.start()"}, None),
    ("stopped-then-tracked-again", {"before": "client.start(); client.stop()"}, 3),
    ("nothing-tracked", {"events": 0}, None),
    ("disabled", {"enabled": False}, None),
]


def _exit_notice_lines(script: str) -> list[str]:
    """Run ``script`` as a host process; the stderr lines of its exit notice."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stderr.splitlines() if "never sent" in line]


@pytest.mark.parametrize(
    ("case", "unsent"), [(c, u) for _, c, u in EXIT_CASES], ids=[n for n, _, _ in EXIT_CASES]
)
def test_exit_warns_once_about_events_a_never_started_client_did_not_send(
    case: dict[str, Any], unsent: int | None
) -> None:
    values = {"enabled": True, "before": "", "after": "", "events": 3, **case}
    script = textwrap.dedent(_HOST).format(**values)
    lines = _exit_notice_lines(script)
    if unsent is None:
        assert lines == []
        return
    assert lines == [
        f"WARNING mosaic_telemetry.client: telemetry: {unsent} event(s) tracked but never "
        "sent: this client was not started, and no flush() or stop() sent them before exit "
        "(call client.flush() before the process ends, or start() the client)"
    ]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("", "mosaic_telemetry.client: WARNING: telemetry: 2 event(s) tracked but never sent"),
        ("logging.getLogger('mosaic_telemetry').setLevel(logging.ERROR)", None),
        ("logging.basicConfig(level=logging.ERROR)", None),
    ],
    ids=["no-logging-configured", "host-silenced-the-package", "host-handler-above-warning"],
)
def test_exit_warning_reaches_stderr_when_the_host_configured_no_logging(
    setup: str, expected: str | None
) -> None:
    script = textwrap.dedent(
        f"""
        import logging
        {setup}
        from mosaic_telemetry import TelemetryClient, TelemetryConfig
        config = TelemetryConfig(server_url="https://telemetry.invalid", api_key="0" * 64,
                                 instance_id="2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
        client = TelemetryClient(config)
        for _ in range(2):
            client.track(client.event().model("exit-model"))
        """
    )
    lines = _exit_notice_lines(script)
    if expected is None:
        assert lines == []
    else:
        assert len(lines) == 1 and lines[0].startswith(expected), lines
