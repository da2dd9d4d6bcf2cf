"""One side of the data-layer comparison, in its own interpreter: this package or pydantic v2.

``python _model_worker.py mosaic REPO_ROOT`` or ``python _model_worker.py pydantic
SITE_PACKAGES``. It reads one JSON command per line on stdin and answers one JSON
line: ``{"op": "construct", "number": 2000}`` gives ``{"ns": ...}`` (per operation),
``{"op": "memory", "count": 10000}`` gives ``{"bytes": ...}`` (per live event).

Every operation gets a fresh input: each sample builds a new pool of ``number``
distinct events (own ``event_id``, a timestamp with microseconds, its own numbers,
every optional field set, three gates run) *before* the clock starts, and each input
is used once. Both sides read the same generated wire dicts, so they do the same work.
Standard library only, besides the side's own package.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

INSTANCE_ID = "12345678-1234-4234-8234-123456789abc"
BATCH = 100
_UTC = timezone.utc


def wire_event(index: int, start: datetime) -> dict[str, Any]:
    """A realistic wire dict (protocol.md), distinct for each ``index``."""
    moment = start + timedelta(seconds=index, microseconds=1 + (index * 7919) % 999_998)
    return {
        "instance_id": INSTANCE_ID,
        "event_id": str(uuid.uuid4()),
        "schema_version": "1.0",
        "timestamp": moment.replace(tzinfo=None).isoformat() + "Z",
        "task_duration_ms": 60_000 + index,
        "task_type": "implementation",
        "complexity": "medium",
        "harness": "claude_code",
        "model": "claude-sonnet-4-5",
        "provider": "anthropic",
        "estimated_input_tokens": 10_000 + index,
        "estimated_output_tokens": 2_000 + index,
        "actual_input_tokens": 11_000 + index,
        "actual_output_tokens": 2_500 + index,
        "estimated_cost_usd_micros": 40_000 + index,
        "actual_cost_usd_micros": 45_000 + index,
        "quality_gate_passed": False,
        "quality_gates_run": ["build", "lint", "test"],
        "quality_gates_failed": ["test"],
        "context_compactions": 1 + index % 7,
        "context_rotations": index % 3,
        "context_utilization_final": 0.5 + (index % 1000) / 10_000,
        "outcome": "success",
        "retry_count": index % 4,
        "language": "python",
        "repo_size_category": "medium",
    }


class _Pools:
    """Fresh inputs of every kind, numbered on from one counter (never the same twice)."""

    def __init__(self, side: Any) -> None:
        self._side = side
        self._next = 0
        self._start = datetime.now(_UTC).replace(microsecond=0)
        self._instance = uuid.UUID(INSTANCE_ID)  # parsed once, as EventBuilder does

    def wires(self, count: int) -> list[dict[str, Any]]:
        first = self._next
        self._next += count
        return [wire_event(i, self._start) for i in range(first, first + count)]

    def kwargs(self, count: int, *, ids: bool) -> list[dict[str, Any]]:
        """Constructor kwargs of Python objects; without ``ids`` the defaults make them."""
        enums = self._side.ENUMS
        out = []
        for wire in self.wires(count):
            kwargs = dict(wire)
            kwargs["instance_id"] = self._instance
            if ids:
                kwargs["event_id"] = uuid.UUID(wire["event_id"])
                kwargs["timestamp"] = datetime.fromisoformat(wire["timestamp"][:-1] + "+00:00")
            else:
                del kwargs["event_id"], kwargs["timestamp"], kwargs["schema_version"]
            gate = enums["quality_gates"]
            for name, enum_cls in enums.items():
                if enum_cls is not gate:
                    kwargs[name] = enum_cls(wire[name])
            kwargs["quality_gates_run"] = [gate(g) for g in wire["quality_gates_run"]]
            kwargs["quality_gates_failed"] = [gate(g) for g in wire["quality_gates_failed"]]
            out.append(kwargs)
        return out

    def events(self, count: int) -> list[Any]:
        construct = self._side.construct
        return [construct(kwargs) for kwargs in self.kwargs(count, ids=True)]


class MosaicSide:
    """This package, imported from the checkout the benchmarks measure."""

    def __init__(self, root: str) -> None:
        sys.path.insert(0, root)
        import mosaic_telemetry as mt
        from mosaic_telemetry._encode import batch_body, encode_event

        self.name = f"mosaic_telemetry {mt.__version__}"
        event_cls = mt.TaskCompletionEvent
        self.ENUMS: dict[str, Any] = {
            "task_type": mt.TaskType,
            "complexity": mt.Complexity,
            "harness": mt.Harness,
            "provider": mt.Provider,
            "outcome": mt.Outcome,
            "repo_size_category": mt.RepoSizeCategory,
            "quality_gates": mt.QualityGate,
        }
        self.construct: Callable[[dict[str, Any]], Any] = lambda kwargs: event_cls(**kwargs)
        self.from_dict: Callable[[dict[str, Any]], Any] = event_cls.from_dict
        self.from_json: Callable[[bytes], Any] = event_cls.from_json
        self.to_dict: Callable[[Any], Any] = event_cls.to_dict
        self.to_json: Callable[[Any], bytes] = encode_event
        self.batch: Callable[[list[Any]], bytes] = lambda events: batch_body(
            [encode_event(event) for event in events]
        )
        self._builder = mt.EventBuilder(INSTANCE_ID)

    def build(self, kwargs: dict[str, Any]) -> Any:
        """The EventBuilder way (this package only)."""
        return (
            self._builder.task_type(kwargs["task_type"])
            .complexity_level(kwargs["complexity"])
            .harness_type(kwargs["harness"])
            .model(kwargs["model"])
            .provider(kwargs["provider"])
            .outcome_value(kwargs["outcome"])
            .language(kwargs["language"])
            .repo_size(kwargs["repo_size_category"])
            .duration_ms(kwargs["task_duration_ms"])
            .retry_count(kwargs["retry_count"])
            .tokens(
                estimated_in=kwargs["estimated_input_tokens"],
                estimated_out=kwargs["estimated_output_tokens"],
                actual_in=kwargs["actual_input_tokens"],
                actual_out=kwargs["actual_output_tokens"],
            )
            .cost(
                estimated=kwargs["estimated_cost_usd_micros"],
                actual=kwargs["actual_cost_usd_micros"],
            )
            .quality(
                passed=kwargs["quality_gate_passed"],
                gates_run=kwargs["quality_gates_run"],
                gates_failed=kwargs["quality_gates_failed"],
            )
            .context(
                compactions=kwargs["context_compactions"],
                rotations=kwargs["context_rotations"],
                utilization=kwargs["context_utilization_final"],
            )
            .build()
        )


class PydanticSide:
    """pydantic v2 with the original SDK's models (benchmarks/_pydantic_sdk.py)."""

    def __init__(self, site_packages: str) -> None:
        sys.path.insert(0, site_packages)
        sys.path.insert(0, __file__.rsplit("/", 1)[0])
        import importlib

        import _pydantic_sdk as sdk

        self.name = f"pydantic {importlib.import_module('pydantic').VERSION}"
        event_cls = sdk.TaskCompletionEvent
        request_cls = sdk.BatchEventRequest
        self.ENUMS = {
            "task_type": sdk.TaskType,
            "complexity": sdk.Complexity,
            "harness": sdk.Harness,
            "provider": sdk.Provider,
            "outcome": sdk.Outcome,
            "repo_size_category": sdk.RepoSizeCategory,
            "quality_gates": sdk.QualityGate,
        }
        to_json = event_cls.__pydantic_serializer__.to_json  # bytes, the fastest pydantic path
        request_to_json = request_cls.__pydantic_serializer__.to_json
        self.construct = lambda kwargs: event_cls(**kwargs)
        self.from_dict = event_cls.model_validate
        self.from_json = event_cls.model_validate_json
        self.to_dict = lambda event: event.model_dump(mode="json")
        self.to_json = to_json
        self.batch = lambda events: request_to_json(request_cls(events=events))


def _timed(func: Callable[[Any], object], inputs: list[Any]) -> float:
    """ns per call of ``func`` over ``inputs``, each used once; the GC stays on."""
    gc.collect()
    clock = time.perf_counter_ns
    start = clock()
    for item in inputs:
        func(item)
    return (clock() - start) / len(inputs)


def run_op(side: Any, pools: _Pools, op: str, number: int) -> float:
    """One sample of ``op``: ns per operation over ``number`` fresh inputs."""
    if op == "construct":
        return _timed(side.construct, pools.kwargs(number, ids=False))
    if op == "construct_ids":
        return _timed(side.construct, pools.kwargs(number, ids=True))
    if op == "build":
        return _timed(side.build, pools.kwargs(number, ids=False))
    if op == "from_dict":
        return _timed(side.from_dict, pools.wires(number))
    if op == "from_json":
        texts = [json.dumps(w, separators=(",", ":")).encode() for w in pools.wires(number)]
        return _timed(side.from_json, texts)
    if op == "to_dict":
        return _timed(side.to_dict, pools.events(number))
    if op == "to_json":
        return _timed(side.to_json, pools.events(number))
    if op == "batch_100":
        events = pools.events(number * BATCH)
        batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
        return _timed(side.batch, batches)
    raise ValueError(f"unknown op {op!r}")


def memory_per_event(side: Any, pools: _Pools, count: int) -> float:
    """tracemalloc bytes per live event: ``count`` events built from kwargs, held in a list."""
    pools.events(10)  # warm every path before tracing
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        construct = side.construct
        held = [construct(kwargs) for kwargs in pools.kwargs(count, ids=False)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if len(held) != count:
        raise RuntimeError("events went missing")
    return (after - before) / count


def main(argv: list[str]) -> int:
    """Serve commands on stdin until it closes."""
    kind, path = argv[1], argv[2]
    side: Any = MosaicSide(path) if kind == "mosaic" else PydanticSide(path)
    pools = _Pools(side)
    print(json.dumps({"ready": side.name}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "memory":
            answer: dict[str, Any] = {"bytes": memory_per_event(side, pools, command["count"])}
        elif op == "build" and not hasattr(side, "build"):
            answer = {"ns": None}
        else:
            answer = {"ns": run_op(side, pools, op, command["number"])}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
