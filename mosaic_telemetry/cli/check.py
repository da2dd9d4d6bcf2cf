"""``check``: the effective config, its problems, and the server's health."""

from __future__ import annotations

import argparse
import json

from ..config import ENV_PREFIX, TelemetryConfig
from ..errors import TelemetryError
from ._common import EXIT_FAILED, EXIT_OK, add_client_flags, config_from, say

__all__ = ["HEALTH_PATH", "NEEDS", "register"]

NEEDS: tuple[str, ...] = ()
HEALTH_PATH = "/v1/health"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``check`` command to the parser."""
    check = commands.add_parser("check", help="show the effective config, its problems, health")
    add_client_flags(check)
    check.set_defaults(handler=run)


def _health(config: TelemetryConfig, timeout_s: float) -> str | None:
    """GET /v1/health; return None when it answers as a collector does, else the reason."""
    from ..transport import Transport  # noqa: PLC0415  # the one place that opens connections

    url = config.server_url + HEALTH_PATH
    try:
        result = Transport(config).get(HEALTH_PATH, timeout_s=timeout_s)
    except TelemetryError as exc:  # no response, or a URL the transport refuses
        return f"no answer: {exc}"
    if result.status != 200:
        return f"HTTP {result.status} from {url}"
    try:
        body = json.loads(result.body)
    except (ValueError, RecursionError):
        return f"{url} did not answer JSON"
    if not isinstance(body, dict) or body.get("status") != "ok":
        return f"{url} did not report status ok"
    return None


def run(args: argparse.Namespace) -> int:
    """Print each finding on its own line; exit 1 when there is any problem."""
    config = config_from(args)
    say(f"config: {config!r}")
    problems = config.validate()
    for problem in problems:
        say(f"problem: {problem}")
    if not config.enabled:
        say(f"note: telemetry is disabled ({ENV_PREFIX}ENABLED)")
    url_ok = not any(p.startswith("server_url") for p in problems)
    if url_ok:
        failure = _health(config, args.timeout)
        if failure is None:
            say(f"health: ok ({config.server_url}{HEALTH_PATH})")
        else:
            say(f"health: FAILED: {failure}")
            problems.append(failure)
    else:
        say("health: not checked (server_url is unusable)")
    say("result: ok" if not problems else f"result: {len(problems)} problem(s)")
    return EXIT_OK if not problems else EXIT_FAILED
