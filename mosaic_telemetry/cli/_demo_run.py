"""The demo's engine: seeded synthetic events sent through a real client to a local collector."""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID

from .._stats import ClientStats
from ..builder import EventBuilder
from ..client import TelemetryClient
from ..collector.server import Collector
from ..config import TelemetryConfig
from ..enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType
from ..models import (
    MAX_COST_MICROS,
    MAX_TOKENS,
    PredictionQuery,
    PredictionResponse,
    TaskCompletionEvent,
)

__all__ = [
    "DEMO_EVENT_COUNT",
    "DEMO_QUERIES",
    "DEMO_SEED",
    "DemoReport",
    "run_demo",
    "synthetic_events",
]

DEMO_SEED = 20261124
DEMO_EVENT_COUNT = 500
_BASE_TIME = datetime(2026, 11, 1, tzinfo=timezone.utc)

# model, provider, harness, $ per million input / output tokens, success skill (0..1)
_MODELS: tuple[tuple[str, Provider, Harness, int, int, float], ...] = (
    ("claude-sonnet-4", Provider.ANTHROPIC, Harness.CLAUDE_CODE, 3, 15, 0.86),
    ("claude-opus-4", Provider.ANTHROPIC, Harness.CLAUDE_CODE, 15, 75, 0.90),
    ("gpt-4o", Provider.OPENAI, Harness.AIDER, 3, 10, 0.80),
    ("gemini-2.5-pro", Provider.GOOGLE, Harness.OPENCODE, 1, 10, 0.78),
    ("llama3.1:70b", Provider.OLLAMA, Harness.OLLAMA_LOCAL, 0, 0, 0.62),
)
_MODEL_WEIGHTS = (45, 10, 25, 12, 8)

# task type: typical input tokens, output tokens, duration in ms (at medium complexity)
_TASKS: dict[TaskType, tuple[int, int, int]] = {
    TaskType.IMPLEMENTATION: (42_000, 6_500, 240_000),
    TaskType.CODE_REVIEW: (30_000, 2_200, 90_000),
    TaskType.TESTING: (26_000, 4_800, 180_000),
    TaskType.DEBUGGING: (55_000, 3_500, 300_000),
    TaskType.REFACTORING: (48_000, 7_500, 270_000),
    TaskType.DOCUMENTATION: (18_000, 3_000, 80_000),
    TaskType.PLANNING: (22_000, 2_800, 60_000),
}
_TASK_WEIGHTS = (35, 15, 15, 15, 8, 7, 5)

# complexity: size factor, success penalty, weight
_COMPLEXITIES: dict[Complexity, tuple[float, float, int]] = {
    Complexity.LOW: (0.45, -0.06, 25),
    Complexity.MEDIUM: (1.0, 0.0, 45),
    Complexity.HIGH: (2.1, 0.12, 22),
    Complexity.CRITICAL: (3.8, 0.25, 8),
}
_GATES = (QualityGate.BUILD, QualityGate.LINT, QualityGate.TEST, QualityGate.TYPECHECK)
_LANGUAGES = ("python", "typescript", "go", "rust", "java")
_REPO_SIZES = tuple(RepoSizeCategory)

DEMO_QUERIES: tuple[PredictionQuery, ...] = (
    PredictionQuery(
        task_type=TaskType.IMPLEMENTATION,
        model="claude-sonnet-4",
        provider=Provider.ANTHROPIC,
        complexity=Complexity.MEDIUM,
    ),
    PredictionQuery(
        task_type=TaskType.CODE_REVIEW,
        model="gpt-4o",
        provider=Provider.OPENAI,
        complexity=Complexity.LOW,
    ),
    PredictionQuery(
        task_type=TaskType.DEBUGGING,
        model="claude-opus-4",
        provider=Provider.ANTHROPIC,
        complexity=Complexity.CRITICAL,
    ),
    PredictionQuery(
        task_type=TaskType.TESTING,
        model="gpt-5",
        provider=Provider.OPENAI,
        complexity=Complexity.MEDIUM,
    ),
    PredictionQuery(
        task_type=TaskType.DOCUMENTATION,
        model="mistral-large",
        provider=Provider.MISTRAL,
        complexity=Complexity.LOW,
    ),
    PredictionQuery(
        task_type=TaskType.SECURITY_AUDIT,
        model="claude-sonnet-4",
        provider=Provider.ANTHROPIC,
        complexity=Complexity.HIGH,
    ),
)
"""Queries that show every fallback level, from an exact match to no data at all."""


def _tokens(rng: random.Random, typical: float) -> int:
    return max(1, min(MAX_TOKENS, round(typical * rng.lognormvariate(0.0, 0.35))))


def _outcome(rng: random.Random, p_success: float) -> Outcome:
    roll = rng.random()
    if roll < p_success:
        return Outcome.SUCCESS
    rest = rng.random()
    if rest < 0.5:
        return Outcome.PARTIAL
    return Outcome.FAILURE if rest < 0.85 else Outcome.TIMEOUT


def synthetic_events(
    count: int = DEMO_EVENT_COUNT, *, seed: int = DEMO_SEED
) -> list[TaskCompletionEvent]:
    """Return ``count`` realistic events; the same ``seed`` gives the same events."""
    rng = random.Random(seed)
    instance_id = UUID(int=rng.getrandbits(128), version=4)
    builder = EventBuilder(instance_id)
    tasks = list(_TASKS)
    complexities = list(_COMPLEXITIES)
    complexity_weights = [spec[2] for spec in _COMPLEXITIES.values()]
    events: list[TaskCompletionEvent] = []
    for index in range(count):
        model, provider, harness, price_in, price_out, skill = rng.choices(
            _MODELS, weights=_MODEL_WEIGHTS
        )[0]
        task = rng.choices(tasks, weights=_TASK_WEIGHTS)[0]
        complexity = rng.choices(complexities, weights=complexity_weights)[0]
        typical_in, typical_out, typical_ms = _TASKS[task]
        size, penalty, _ = _COMPLEXITIES[complexity]
        actual_in = _tokens(rng, typical_in * size)
        actual_out = _tokens(rng, typical_out * size)
        # Estimates run low by about 15% on average; one in twenty tasks has none.
        has_estimate = rng.random() >= 0.05
        estimated_in = round(actual_in / rng.uniform(0.9, 1.45)) if has_estimate else 0
        estimated_out = round(actual_out / rng.uniform(0.85, 1.6)) if has_estimate else 0
        actual_cost = min(MAX_COST_MICROS, actual_in * price_in + actual_out * price_out)
        estimated_cost = min(MAX_COST_MICROS, estimated_in * price_in + estimated_out * price_out)
        outcome = _outcome(rng, max(0.05, skill - penalty))
        passed = outcome is Outcome.SUCCESS and rng.random() < 0.93
        gates_run = rng.sample(_GATES, rng.randint(2, len(_GATES)))
        failed = [] if passed else rng.sample(gates_run, rng.randint(1, len(gates_run)))
        event = (
            builder.event_id(UUID(int=rng.getrandbits(128), version=4))
            .timestamp(_BASE_TIME + timedelta(minutes=17 * index + rng.randint(0, 16)))
            .task_type(task)
            .complexity_level(complexity)
            .harness_type(harness)
            .model(model)
            .provider(provider)
            .duration_ms(min(86_400_000, round(typical_ms * size * rng.lognormvariate(0, 0.4))))
            .outcome_value(outcome)
            .retry_count(0 if outcome is Outcome.SUCCESS else rng.randint(0, 3))
            .language(rng.choice(_LANGUAGES))
            .repo_size(rng.choice(_REPO_SIZES))
            .tokens(
                estimated_in=estimated_in,
                estimated_out=estimated_out,
                actual_in=actual_in,
                actual_out=actual_out,
            )
            .cost(estimated=estimated_cost, actual=actual_cost)
            .quality(passed=passed, gates_run=gates_run, gates_failed=failed)
            .context(
                compactions=min(100, actual_in // 60_000),
                rotations=min(50, actual_in // 150_000),
                utilization=round(rng.uniform(0.2, 0.97), 3),
            )
            .build()
        )
        events.append(event)
    return events


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo did: events sent and stored, client counters, predictions, time."""

    url: str
    events_tracked: int
    events_stored: int
    stats: ClientStats
    predictions: tuple[tuple[PredictionQuery, PredictionResponse | None], ...]
    elapsed_s: float


@contextlib.contextmanager
def _loopback_bypasses_proxies() -> Iterator[None]:
    """Keep HTTP(S)_PROXY from catching the demo's loopback requests, then restore."""
    saved = {name: os.environ.get(name) for name in ("NO_PROXY", "no_proxy")}
    for name, value in saved.items():
        os.environ[name] = ",".join(filter(None, [value, "127.0.0.1", "localhost"]))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_demo(count: int = DEMO_EVENT_COUNT, *, seed: int = DEMO_SEED) -> DemoReport:
    """Start a collector, send ``count`` synthetic events through a client, ask predictions.

    Everything runs in this process on a loopback port, with an in-memory store
    and a random key, and is torn down before returning.
    """
    started = time.monotonic()
    events = synthetic_events(count, seed=seed)
    api_key = secrets.token_hex(32)
    with _loopback_bypasses_proxies(), Collector(api_key) as collector:
        config = TelemetryConfig(
            server_url=collector.url,
            api_key=api_key,
            instance_id=str(events[0].instance_id) if events else str(UUID(int=0)),
            max_queue_size=max(1000, count),
            request_timeout_seconds=10.0,
        )
        # The demo talks to its own collector: the environment's switches don't apply.
        config.enabled = True
        config.dry_run = False
        config.ca_file = ""
        with TelemetryClient(config) as client:
            for event in events:
                client.track(event)
            client.flush(timeout=30.0)
            client.refresh_predictions_sync(list(DEMO_QUERIES))
            predictions = tuple((q, client.get_prediction(q)) for q in DEMO_QUERIES)
        stats = client.stats
        stored = collector.event_count
        url = collector.url
    return DemoReport(
        url=url,
        events_tracked=len(events),
        events_stored=stored,
        stats=stats,
        predictions=predictions,
        elapsed_s=time.monotonic() - started,
    )
