"""``check``: the effective config, each of its problems, and the server's health."""

from __future__ import annotations

import argparse
import json
import time

from ..config import ENV_PREFIX, TelemetryConfig
from ..errors import TelemetryError
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    REQUEST_TIMEOUT_S,
    add_client_flags,
    config_from,
    deadline_of,
    positive_float,
    say,
)

__all__ = ["HEALTH_PATH", "NEEDS", "register"]

NEEDS: tuple[str, ...] = ()
HEALTH_PATH = "/v1/health"
_FIRST_PAUSE_S = 0.05
_MAX_PAUSE_S = 1.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``check`` command to the parser."""
    check = commands.add_parser("check", help="show the effective config, its problems, health")
    check.add_argument(
        "--wait",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="ask again until the server answers or SECONDS pass (a server still starting)",
    )
    add_client_flags(check)
    check.set_defaults(handler=run)


class _Health:
    """The outcome of asking ``/v1/health``: ``failure`` None when it answered as it should."""

    def __init__(self, failure: str | None = None, *, unreachable: bool = False) -> None:
        self.failure = failure
        self.unreachable = unreachable


def _ask(config: TelemetryConfig, timeout_s: float) -> _Health:
    """GET /v1/health once."""
    from .._http import Verdict, classify_status  # noqa: PLC0415  # loaded on demand
    from ..transport import Transport  # noqa: PLC0415  # the one place that opens connections

    url = config.server_url + HEALTH_PATH
    try:
        result = Transport(config).get(HEALTH_PATH, timeout_s=timeout_s)
    except TelemetryError as exc:  # no response: the transport's own words
        return _Health(str(exc), unreachable=True)
    if result.status != 200:
        transient = classify_status(result.status) is Verdict.RETRY
        return _Health(f"HTTP {result.status} from {url}", unreachable=transient)
    try:
        body = json.loads(result.body)
    except (ValueError, RecursionError):
        return _Health(f"{url} did not answer JSON")
    if not isinstance(body, dict) or body.get("status") != "ok":
        return _Health(f"{url} did not report status ok")
    return _Health()


def _health(config: TelemetryConfig, args: argparse.Namespace) -> _Health:
    """Ask once, or with ``--wait`` again (pausing a little longer each time) until it answers."""
    deadline = deadline_of(args)
    started: float = args.started
    wait_until = started + args.wait if args.wait is not None else started
    if deadline is not None:
        wait_until = min(wait_until, deadline)
    pause_s = _FIRST_PAUSE_S
    while True:
        budget = REQUEST_TIMEOUT_S if deadline is None else deadline - time.monotonic()
        health = _ask(config, max(0.001, min(config.request_timeout_seconds, budget)))
        left = wait_until - time.monotonic()
        if not health.unreachable or left <= 0:
            return health
        time.sleep(min(pause_s, left))
        pause_s = min(_MAX_PAUSE_S, pause_s * 2)


def run(args: argparse.Namespace) -> int:
    """Print each finding on its own line; the exit status tells the worst one apart."""
    config = config_from(args)
    say(f"config: {config!r}")
    problems = config.validate()
    for problem in problems:
        say(f"problem: {problem}")
    if not config.enabled:
        say(f"note: telemetry is disabled ({ENV_PREFIX}ENABLED): nothing would be sent")
    health: _Health | None = None
    if not any(problem.startswith("server_url") for problem in problems):
        health = _health(config, args)
        if health.failure is None:
            say(f"health: ok ({config.server_url}{HEALTH_PATH})")
        else:
            say(f"health: FAILED: {health.failure}")
    else:
        say("health: not checked (server_url is unusable)")
    failed = health is not None and health.failure is not None
    count = len(problems) + failed
    say("result: ok" if not count else f"result: {count} problem(s)")
    if problems:
        return EXIT_USAGE
    if health is not None and health.failure is not None:
        return EXIT_UNREACHABLE if health.unreachable else EXIT_FAILED
    return EXIT_OK
