"""The harness parsers against hand-written fixtures: every expected event was worked out by hand.

Prices used below (USD per million tokens = micro-dollars per token), from
mosaic_telemetry.adapters.prices: claude-sonnet-4-5 in 3, out 15, cache read 0.3,
cache write 3.75; claude-haiku-4-5 in 1, out 5, read 0.1, write 1.25; claude-opus-4-5
in 5, out 25; gpt-5-codex in 1.25, cached 0.125, out 10; gpt-4o in 2.5, out 10.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from mosaic_telemetry import Harness, Outcome, Provider, TaskCompletionEvent
from mosaic_telemetry.adapters import EventFactory, Notes, PriceTable, Task, read_tasks

FIXTURES = Path(__file__).parent / "fixtures"
INSTANCE = uuid.UUID("0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11")
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"

# (model, input tokens, output tokens, cost in micros, duration ms, outcome,
#  compactions, retries, context utilization)
Row = tuple[str, int, int, int, int, Outcome, int, int, float]


def events_of(fmt: str, name: str, **options: Any) -> tuple[list[TaskCompletionEvent], Notes]:
    notes = Notes()
    factory = EventFactory(INSTANCE, PriceTable.default(), notes)
    tasks = read_tasks(fmt, FIXTURES / name, notes, **options)
    return [factory.build(task) for task in tasks], notes


def row(event: TaskCompletionEvent) -> Row:
    return (
        event.model,
        event.actual_input_tokens,
        event.actual_output_tokens,
        event.actual_cost_usd_micros,
        event.task_duration_ms,
        event.outcome,
        event.context_compactions,
        event.retry_count,
        round(event.context_utilization_final, 6),
    )


CLAUDE_TRANSCRIPT: list[Row] = [
    # msg_01 in 3 snapshots (output 1, 12, 42: the last is kept) + msg_02 (5, 30):
    # in 3+1000+2000 + 1+3000+100 = 6104, out 42+30 = 72;
    # cost 4*3 + 4000*0.3 + 2100*3.75 + 72*15 = 12+1200+7875+1080 = 10167;
    # 10:00:00 -> 10:00:20; context (1+3000+100+30)/200000.
    (SONNET, 6104, 72, 10167, 20000, Outcome.SUCCESS, 0, 0, 0.015655),
    # msg_03 without requestId, twice (haiku: 2+3100+50, out 9) + msg_04 (sonnet: 10+0+500, 15):
    # haiku has most tokens; cost 2+310+62.5+45 + 30+1875+225 = 2549.5 -> 2550; 1 compaction;
    # the compaction summary is not a prompt; context of the last main message (525)/200000.
    (HAIKU, 3662, 24, 2550, 40000, Outcome.SUCCESS, 1, 0, 0.002625),
    # msg_05 + msg_06 (sonnet) + a sidechain msg_s1 (haiku, 50+0+1000, out 30 then 100):
    # in 5011+5301+1050 = 11362, out 20+60+100 = 180; cost sonnet 6+3030+787.5+1200
    # + haiku 50+1250+500 = 6823.5 -> 6824; the turn_duration record gives 45000 ms;
    # the sidechain neither names the model nor sets the context (5361/200000).
    (SONNET, 11362, 180, 6824, 45000, Outcome.SUCCESS, 0, 0, 0.026805),
    # a slash command and its expansion are one turn; it ends on an API error record:
    # in 2+6000, out 4; cost 6+1800+60 = 1866; the error line (no usage) keeps the context.
    (SONNET, 6002, 4, 1866, 12000, Outcome.FAILURE, 0, 0, 0.03003),
    # a gateway that reuses msg_gw without requestId: two API calls told apart by their
    # prompt usage (100 with output 3 then 10; 200 with output 20): in 300, out 30;
    # cost 300*3 + 30*15 = 1350.
    (SONNET, 300, 30, 1350, 8000, Outcome.SUCCESS, 0, 0, 0.0011),
    # a model with no price: cost 0 (and a warning), no context window known.
    ("claude-mystery-9", 1000, 100, 0, 3000, Outcome.SUCCESS, 0, 0, 0.0),
]


def test_claude_transcript_fixture_gives_the_hand_checked_events() -> None:
    events, notes = events_of("claude-transcript", "claude_transcript.jsonl")
    assert [row(e) for e in events] == CLAUDE_TRANSCRIPT
    assert {e.harness for e in events} == {Harness.CLAUDE_CODE}
    assert {e.provider for e in events} == {Provider.ANTHROPIC}
    assert [e.timestamp.isoformat() for e in events][:2] == [
        "2026-11-20T10:00:20+00:00",
        "2026-11-20T10:01:40+00:00",
    ]
    assert notes.count("no price for model 'claude-mystery-9': its tokens cost 0") == 1
    assert notes.count("the last line is incomplete (still being written?) and was skipped") == 1
    assert notes.warnings == 2


def test_claude_result_object_uses_model_usage_and_the_reported_cost() -> None:
    events, notes = events_of("claude-result", "claude_result.json")
    # modelUsage: sonnet 12+60000+9000 in, 1500 out; haiku 900 in, 80 out; total_cost_usd
    # 0.1234; the main model cost most; context (69012+1500)/4 turns/200000.
    assert [row(e) for e in events] == [
        (SONNET, 69912, 1580, 123400, 45678, Outcome.SUCCESS, 0, 0, 0.08814)
    ]
    assert notes.warnings == 0


def test_claude_result_stream_takes_each_result_line() -> None:
    events, notes = events_of("claude-result", "claude_result_stream.jsonl")
    assert [row(e) for e in events] == [
        # error_max_turns -> TIMEOUT; cost as reported; (41050+2000)/10/200000
        ("claude-opus-4-5-20251101", 41050, 2000, 250000, 120000, Outcome.TIMEOUT, 0, 0, 0.021525),
        # no modelUsage and no cost: the model of its init line, priced 10*1 + 5*5 = 35
        (HAIKU, 10, 5, 35, 3000, Outcome.FAILURE, 0, 0, 0.0),
    ]
    assert notes.warnings == 0


def test_claude_result_sdk_dict_without_type_is_read_and_is_error_fails_it() -> None:
    events, _ = events_of("claude-result", "claude_result_sdk.json")
    assert [row(e) for e in events] == [
        ("unknown", 100, 50, 3000, 2500, Outcome.FAILURE, 0, 0, 0.0)
    ]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # input 24763 includes 24448 cached: (315*1.25 + 24448*0.125 + 122*10) = 4669.75
        ("gpt-5-codex", [("gpt-5-codex", 24763, 122, 4670), ("gpt-5-codex", 0, 0, 0)]),
        (None, [("unknown", 24763, 122, 0), ("unknown", 0, 0, 0)]),
    ],
)
def test_codex_exec_turns_with_and_without_a_model(
    model: str | None, expected: list[tuple[str, int, int, int]]
) -> None:
    events, notes = events_of("codex-exec", "codex_exec.jsonl", model=model)
    assert [(e.model, e.actual_input_tokens, e.actual_output_tokens, e.actual_cost_usd_micros)
            for e in events] == expected  # fmt: skip
    assert [e.outcome for e in events] == [Outcome.SUCCESS, Outcome.FAILURE]
    assert {e.harness for e in events} == {Harness.CUSTOM}
    assert notes.warnings == (0 if model else 1)


def test_codex_rollout_counts_each_request_once() -> None:
    events, notes = events_of("codex-rollout", "codex_rollout.jsonl")
    window = 272000
    assert [row(e) for e in events] == [
        # a rate-limit-only count (info null) and a repeated total are skipped: requests
        # (100, 40 cached, 20) + (150, 60, 30); cost 150*1.25 + 100*0.125 + 50*10 = 700
        ("gpt-5-codex", 250, 50, 700, 9000, Outcome.SUCCESS, 1, 0, round(180 / window, 6)),
        # (150, 50 cached, 20): 125 + 6.25 + 200 = 331.25; interrupted -> PARTIAL
        ("gpt-5-codex", 150, 20, 331, 5000, Outcome.PARTIAL, 0, 0, round(170 / window, 6)),
        # no last_token_usage: the growth of the total (600, 250, 30): 437.5+31.25+300;
        # two stream errors are retries; an error event fails the turn
        ("gpt-5-codex", 600, 30, 769, 6000, Outcome.FAILURE, 0, 2, round(630 / window, 6)),
    ]
    assert {e.provider for e in events} == {Provider.OPENAI}
    assert notes.warnings == 0


def test_aider_analytics_one_event_per_message_send() -> None:
    events, notes = events_of("aider-analytics", "aider_analytics.jsonl")
    assert [row(e) for e in events] == [
        ("anthropic/claude-sonnet-4-5", 1500, 300, 9000, 4000, Outcome.SUCCESS, 0, 0, 0.0),
        ("anthropic/claude-sonnet-4-5", 0, 0, 0, 2000, Outcome.FAILURE, 0, 0, 0.0),
        # no cost logged: 1000*2.5 + 100*10 = 3500
        ("gpt-4o", 1000, 100, 3500, 2000, Outcome.SUCCESS, 0, 0, 0.0),
        ("gpt-4o", 1000, 100, 3500, 0, Outcome.SUCCESS, 0, 0, 0.0),
        # a model with no price, but aider logged its cost: that figure is used
        ("deepseek/deepseek-chat", 5000, 500, 1200, 0, Outcome.SUCCESS, 0, 0, 0.0),
    ]
    assert [e.provider for e in events] == [
        Provider.ANTHROPIC, Provider.ANTHROPIC, Provider.OPENAI, Provider.OPENAI, Provider.CUSTOM
    ]  # fmt: skip
    assert len({e.event_id for e in events}) == 5  # two sends in the same second stay apart
    assert notes.warnings == 0


FIXTURE_FORMATS = [
    ("claude-transcript", "claude_transcript.jsonl"),
    ("claude-result", "claude_result.json"),
    ("claude-result", "claude_result_stream.jsonl"),
    ("claude-result", "claude_result_sdk.json"),
    ("codex-exec", "codex_exec.jsonl"),
    ("codex-rollout", "codex_rollout.jsonl"),
    ("aider-analytics", "aider_analytics.jsonl"),
]


@pytest.mark.parametrize(("fmt", "name"), FIXTURE_FORMATS)
def test_reading_a_fixture_twice_gives_the_same_event_ids(fmt: str, name: str) -> None:
    first, _ = events_of(fmt, name)
    second, _ = events_of(fmt, name)
    assert first and [e.event_id for e in first] == [e.event_id for e in second]
    assert all(e.event_id.version == 5 for e in first)


@pytest.mark.parametrize(("fmt", "name"), FIXTURE_FORMATS)
def test_no_text_of_a_fixture_reaches_an_event_or_a_warning(fmt: str, name: str) -> None:
    assert "SECRET" in (FIXTURES / name).read_text(encoding="utf-8")
    events, notes = events_of(fmt, name)
    dumped = " ".join(e.to_json() for e in events) + repr(notes.items())
    assert "SECRET" not in dumped


def test_a_stream_reads_like_the_file_it_came_from() -> None:
    path = FIXTURES / "claude_transcript.jsonl"
    from_path, _ = events_of("claude-transcript", "claude_transcript.jsonl")
    notes = Notes()
    factory = EventFactory(INSTANCE, PriceTable.default(), notes)
    stream = io.BytesIO(path.read_bytes())
    from_stream = [factory.build(t) for t in read_tasks("claude-transcript", stream, notes)]
    assert [row(e) for e in from_stream] == [row(e) for e in from_path]


def _transcript_lines() -> list[bytes]:
    data = (FIXTURES / "claude_transcript.jsonl").read_bytes()
    return [line + b"\n" for line in data.split(b"\n")[:-1]]  # without the torn last line


def _resumed(fmt: str, lines: list[bytes], cut: int) -> list[Task]:
    """Read ``lines[:cut]``, keep only the JSON state, then read the rest from it."""
    from mosaic_telemetry.adapters._formats import FORMATS

    parser_cls = FORMATS[fmt].parser
    notes = Notes()
    first = parser_cls(notes, "s")
    tasks: list[Task] = []
    offset = 0
    for line in lines[:cut]:
        record = json.loads(line)
        tasks.extend(first.feed(record, offset))
        offset += len(line)
    tasks.extend(first.end(close=False))
    state = json.loads(json.dumps(first.state()))
    second = parser_cls(notes, "s", state)
    for line in lines[cut:]:
        tasks.extend(second.feed(json.loads(line), offset))
        offset += len(line)
    tasks.extend(second.end(close=True))
    return tasks


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("claude-transcript", "claude_transcript.jsonl"),
        ("codex-rollout", "codex_rollout.jsonl"),
        ("aider-analytics", "aider_analytics.jsonl"),
    ],
)
def test_resuming_from_the_saved_state_at_any_line_reads_like_one_pass(fmt: str, name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    lines = [line + b"\n" for line in data.split(b"\n") if line.strip()]
    if fmt == "claude-transcript":
        lines = _transcript_lines()
    whole = _resumed(fmt, lines, len(lines))
    assert whole
    for cut in range(len(lines) + 1):
        assert _resumed(fmt, lines, cut) == whole, f"cut after line {cut}"
