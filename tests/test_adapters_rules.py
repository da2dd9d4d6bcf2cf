"""Rules of the adapters: price lookup and override files, schema caps, line reading, fuzzing."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaic_telemetry import Outcome, Provider
from mosaic_telemetry.adapters import (
    FORMATS,
    EventFactory,
    Notes,
    Price,
    PriceFileError,
    PriceTable,
    Task,
    Tokens,
    event_id,
    model_keys,
    provider_of,
    read_tasks,
)
from mosaic_telemetry.adapters._lines import LineReader
from mosaic_telemetry.enums import Harness

INSTANCE = uuid.UUID("0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11")


# -- prices -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("Claude-Sonnet-4-5", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-5-codex", "gpt-5-codex"),
        ("codex-mini-latest", "codex-mini-latest"),
        ("mistral-large-latest", "mistral-large-latest"),
    ],
)
def test_a_dressed_model_name_finds_its_price_row(name: str, key: str) -> None:
    assert key in list(model_keys(name))
    table = PriceTable.default()
    assert table.lookup(name) is table.lookup(key) is not None


@pytest.mark.parametrize(
    "name",
    ["claude-opus-9", "gpt-7", "claude-sonnet", "sonnet", "claude", "", "llama3.1:70b", "gpt-5.3"],
)
def test_a_model_without_its_own_row_has_no_price_never_a_family_guess(name: str) -> None:
    assert PriceTable.default().lookup(name) is None


def test_the_price_table_has_rows_for_each_of_the_four_providers() -> None:
    from mosaic_telemetry.adapters.prices import PRICES, PRICES_TAKEN, SOURCES

    assert (
        {row[1] for row in PRICES} == set(SOURCES) == {"anthropic", "openai", "google", "mistral"}
    )
    assert PRICES_TAKEN == "2026-12-01"
    assert len({row[0] for row in PRICES}) == len(PRICES)
    for model, _provider, *prices, window in PRICES:
        assert all(0 <= p < 1000 for p in prices), model
        assert window is None or window >= 100_000, model


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-sonnet-4-5", Provider.ANTHROPIC),
        ("claude-mystery-9", Provider.ANTHROPIC),
        ("gpt-5-codex", Provider.OPENAI),
        ("o3", Provider.OPENAI),
        ("o4-mini", Provider.OPENAI),
        ("gemini-2.5-pro", Provider.GOOGLE),
        ("codestral-latest", Provider.MISTRAL),
        ("openrouter/anthropic/claude-sonnet-4-5", Provider.OPENROUTER),
        ("ollama_chat/llama3.1", Provider.OLLAMA),
        ("vertex_ai/gemini-2.5-pro", Provider.GOOGLE),
        ("deepseek/deepseek-chat", Provider.CUSTOM),
        ("llama3.1:70b", Provider.UNKNOWN),
        ("unknown", Provider.UNKNOWN),
    ],
)
def test_provider_comes_from_the_prefix_the_row_or_the_name(model: str, provider: Provider) -> None:
    assert provider_of(model, PriceTable.default().lookup(model)) is provider


def _price_file(tmp_path: Path, content: Any) -> str:
    path = tmp_path / "prices.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def test_a_price_file_adds_and_overrides_rows(tmp_path: Path) -> None:
    path = _price_file(
        tmp_path,
        {
            "models": {
                "my-local-model": {"input": 0.5, "output": 1.5, "provider": "ollama"},
                "claude-sonnet-4-5": {"input": 1, "output": 2, "cache_read": 0, "cache_write": 0},
            }
        },
    )
    table = PriceTable.from_file(path)
    assert table.lookup("my-local-model") == Price(0.5, 1.5, 0.5, 0.5, Provider.OLLAMA, None)
    assert table.lookup("claude-sonnet-4-5-20250929") == Price(1.0, 2.0, 0.0, 0.0, None, None)
    assert table.lookup("claude-haiku-4-5") == PriceTable.default().lookup("claude-haiku-4-5")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ([], 'must be an object with a "models" object'),
        ({"models": {"m": 3}}, "models['m'] must be an object"),
        ({"models": {"m": {"output": 1}}}, "models['m'].input must be a number"),
        ({"models": {"m": {"input": -1, "output": 1}}}, "got -1"),
        ({"models": {"m": {"input": "3", "output": 1}}}, "models['m'].input must be a number"),
        ({"models": {"m": {"input": True, "output": 1}}}, "got True"),
        ({"models": {"m": {"input": 1, "output": 1e9}}}, "models['m'].output"),
        ({"models": {"m": {"input": 1, "output": 1, "provider": "acme"}}}, "provider must be"),
        ({"models": {"m": {"input": 1, "output": 1, "context_window": 0}}}, "context_window"),
    ],
)
def test_a_bad_price_file_is_refused_naming_the_entry_and_field(
    tmp_path: Path, content: Any, message: str
) -> None:
    with pytest.raises(PriceFileError, match=message.replace("[", r"\[").replace(".", r"\.")):
        PriceTable.from_file(_price_file(tmp_path, content))


def test_a_missing_price_file_is_a_price_file_error(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="cannot read price file"):
        PriceTable.from_file(str(tmp_path / "nope.json"))


# -- events: ids, costs, caps ---------------------------------------------------------------


def _task(**overrides: Any) -> Task:
    task = Task(harness=Harness.CLAUDE_CODE, family="claude-code", session="s", key="k")
    for name, value in overrides.items():
        setattr(task, name, value)
    return task


def test_event_id_is_uuid5_over_family_session_and_key() -> None:
    assert event_id("claude-code", "s", "k") == event_id("claude-code", "s", "k")
    assert event_id("claude-code", "s", "k").version == 5
    assert len({event_id(*p) for p in [("a", "s", "k"), ("b", "s", "k"), ("a", "t", "k"),
                                          ("a", "s", "l")]}) == 4  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"tokens": {"claude-3-haiku": Tokens(fresh=50_000_000)}}, "actual_input_tokens", 10**7),
        ({"tokens": {"claude-3-haiku": Tokens(output=12_000_000)}}, "actual_output_tokens", 10**7),
        ({"reported_cost_usd": 500.0}, "actual_cost_usd_micros", 100_000_000),
        ({"duration_ms": 90_000_000}, "task_duration_ms", 86_400_000),
        ({"compactions": 150}, "context_compactions", 100),
        ({"retries": 30}, "retry_count", 20),
    ],
)
def test_a_value_over_a_schema_cap_is_clamped_and_the_field_is_named(
    overrides: dict[str, Any], field: str, value: int
) -> None:
    notes = Notes()
    event = EventFactory(INSTANCE, PriceTable.default(), notes).build(_task(**overrides))
    assert getattr(event, field) == value
    assert notes.items() == [
        (f"{field}: a task over the schema cap of {value:,} was clamped to it", 1)
    ]


def test_a_long_model_name_is_cut_to_the_schema_limit() -> None:
    notes = Notes()
    task = _task(tokens={"m" * 150: Tokens(output=1)}, reported_cost_usd=0.0)
    event = EventFactory(INSTANCE, PriceTable.default(), notes).build(task)
    assert event.model == "m" * 100
    assert notes.warnings == 1


def test_cost_is_priced_per_model_and_an_unknown_model_costs_zero_with_a_warning() -> None:
    notes = Notes()
    task = _task(
        tokens={
            "claude-haiku-4-5": Tokens(fresh=1000, cache_read=1000, cache_write=1000, output=1000),
            "no-such-model": Tokens(fresh=10**6),
        }
    )
    event = EventFactory(INSTANCE, PriceTable.default(), notes).build(task)
    assert event.actual_cost_usd_micros == 1000 * 1 + 1000 * 0.1 + 1000 * 1.25 + 1000 * 5
    assert notes.items() == [("no price for model 'no-such-model': its tokens cost 0", 1)]
    assert event.model == "no-such-model"  # the most tokens name the task's model


def test_context_use_is_capped_at_one() -> None:
    task = _task(tokens={"claude-sonnet-4-5": Tokens(fresh=1)}, context_tokens=900_000)
    event = EventFactory(INSTANCE, PriceTable.default(), Notes()).build(task)
    assert event.context_utilization_final == 1.0


# -- reading lines ---------------------------------------------------------------------------


def test_an_unterminated_last_line_is_left_for_the_next_run() -> None:
    stream = io.BytesIO(b'{"a":1}\n{"b":2}\n{"c":')
    reader = LineReader(stream)
    assert [line for _s, _e, line in reader.lines()] == [b'{"a":1}', b'{"b":2}']
    assert reader.offset == 16 and reader.torn


def test_a_complete_stream_reads_its_unterminated_last_line() -> None:
    reader = LineReader(io.BytesIO(b'{"a":1}\n{"b":2}'), take_unterminated=True)
    assert [line for _s, _e, line in reader.lines()] == [b'{"a":1}', b'{"b":2}']
    assert reader.offset == 15 and not reader.torn


def test_an_overlong_line_is_skipped_without_being_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from mosaic_telemetry.adapters import _lines

    monkeypatch.setattr(_lines, "MAX_LINE_BYTES", 10)
    monkeypatch.setattr(_lines, "_CHUNK", 4)
    stream = io.BytesIO(b'{"x":"' + b"y" * 50 + b'"}\n{"a":1}\n')
    reader = LineReader(stream)
    assert [line for _s, _e, line in reader.lines()] == [b'{"a":1}']
    assert reader.overlong == 1 and reader.offset == len(stream.getvalue())


def test_a_byte_limit_stops_at_a_line_boundary() -> None:
    reader = LineReader(io.BytesIO(b"aaaa\nbbbb\ncccc\n"))
    assert [line for _s, _e, line in reader.lines(max_bytes=6)] == [b"aaaa", b"bbbb"]
    assert reader.offset == 10


# -- nothing in a file can make a parser raise --------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"
_FUZZ_INPUTS = [
    ("claude-transcript", "claude_transcript.jsonl"),
    ("claude-result", "claude_result_stream.jsonl"),
    ("codex-exec", "codex_exec.jsonl"),
    ("codex-rollout", "codex_rollout.jsonl"),
    ("aider-analytics", "aider_analytics.jsonl"),
]
_garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside ``value`` (dict keys and list indexes)."""
    found: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in items:
        found.append((*path, key))
        found.extend(_places(child, (*path, key)))
    return found


@settings(max_examples=80, deadline=None)
@given(fixture=st.sampled_from(_FUZZ_INPUTS), data=st.data())
def test_no_damaged_record_makes_a_parser_raise(
    fixture: tuple[str, str], data: st.DataObject
) -> None:
    fmt, name = fixture
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.endswith("}")]  # not the torn one
    for _ in range(data.draw(st.integers(1, 4))):
        record = records[data.draw(st.integers(0, len(records) - 1))]
        places = _places(record)
        path = data.draw(st.sampled_from(places)) if places else ()
        target = record
        for key in path[:-1]:
            target = target[key]
        if path:
            target[path[-1]] = data.draw(_garbage)
    stream = io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    notes = Notes()
    factory = EventFactory(INSTANCE, PriceTable.default(), notes)
    for task in read_tasks(fmt, stream, notes):
        event = factory.build(task)
        assert event.outcome in Outcome and 0 <= event.actual_input_tokens <= 10**7


@settings(max_examples=60, deadline=None)
@given(fmt=st.sampled_from(sorted(FORMATS)), noise=st.binary(max_size=200))
def test_no_bytes_make_a_parser_raise(fmt: str, noise: bytes) -> None:
    notes = Notes()
    for task in read_tasks(fmt, io.BytesIO(noise), notes):
        EventFactory(INSTANCE, PriceTable.default(), notes).build(task)
