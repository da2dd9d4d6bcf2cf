"""docs/harnesses.md stays true: its JSON is valid settings, its commands parse, its names exist."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_docs import README, ROOT, Block, fenced_blocks

from mosaic_telemetry.adapters import FORMATS, PriceTable
from mosaic_telemetry.cli import build_parser
from mosaic_telemetry.cli.hook import DEFAULT_BUDGET_S, HARNESSES

HARNESSES_DOC = ROOT / "docs" / "harnesses.md"
BLOCKS = fenced_blocks(HARNESSES_DOC)
JSON_BLOCKS = [b for b in BLOCKS if b.language == "json"]
SHELL_BLOCKS = [
    b for p in (HARNESSES_DOC, README) for b in fenced_blocks(p) if b.language in ("bash", "sh")
]
# Hook events each harness sends (Claude Code's hooks reference; Codex's hooks.json schema).
HOOK_EVENTS = {
    "claude-code": {"Stop", "SessionEnd", "UserPromptSubmit", "SubagentStop", "PreCompact"},
    "codex": {"Stop", "UserPromptSubmit", "SessionStart", "PreCompact", "PostCompact"},
}
_OPERATORS = {"|", ">", ">>", "&", "&&", ";", "||", "<"}


def _hook_commands(settings: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(event, handler)`` for every handler of a Claude Code / Codex hooks document."""
    found = []
    for event, groups in settings["hooks"].items():
        assert isinstance(groups, list) and groups, event
        for group in groups:
            assert set(group) <= {"matcher", "hooks"}, group
            for handler in group["hooks"]:
                found.append((event, handler))
    return found


def test_the_harnesses_doc_has_json_and_shell_examples() -> None:
    assert len(JSON_BLOCKS) >= 3 and len(SHELL_BLOCKS) >= 4


@pytest.mark.parametrize("block", JSON_BLOCKS, ids=[b.label for b in JSON_BLOCKS])
def test_every_json_block_is_valid_json(block: Block) -> None:
    assert isinstance(json.loads(block.code), dict), block.label


@pytest.mark.parametrize(
    "block",
    [b for b in JSON_BLOCKS if '"hooks"' in b.code],
    ids=[b.label for b in JSON_BLOCKS if '"hooks"' in b.code],
)
def test_every_hook_snippet_runs_a_known_hook_with_time_for_its_budget(block: Block) -> None:
    commands = _hook_commands(json.loads(block.code))
    assert commands
    for event, handler in commands:
        assert handler["type"] == "command"
        words = shlex.split(handler["command"])
        assert words[:2] == ["mosaic-telemetry", "hook"] and words[2] in HARNESSES, words
        assert event in HOOK_EVENTS[words[2]], event
        # the harness must not kill the hook before its own budget (plus start and exit) ends
        assert isinstance(handler["timeout"], int) and handler["timeout"] >= DEFAULT_BUDGET_S + 1
        build_parser().parse_args(words[1:])


def test_each_harness_has_a_hook_snippet() -> None:
    harnesses = {
        shlex.split(handler["command"])[2]
        for block in JSON_BLOCKS
        if '"hooks"' in block.code
        for _event, handler in _hook_commands(json.loads(block.code))
    }
    assert harnesses == set(HARNESSES)


def test_the_price_file_example_loads(tmp_path: Path) -> None:
    block = next(b for b in JSON_BLOCKS if '"models"' in b.code)
    path = tmp_path / "prices.json"
    path.write_text(block.code, encoding="utf-8")
    table = PriceTable.from_file(str(path))
    for model in json.loads(block.code)["models"]:
        assert table.lookup(model) is not None


def _cli_words(line: str) -> list[str] | None:
    """The arguments after ``mosaic-telemetry`` / ``python -m mosaic_telemetry`` on a line."""
    words = shlex.split(line, comments=True)
    for start, word in enumerate(words):
        if word == "mosaic-telemetry":
            rest = words[start + 1 :]
            break
        if words[start : start + 3] in (["python", "-m", "mosaic_telemetry"],
                                        ["python3", "-m", "mosaic_telemetry"]):  # fmt: skip
            rest = words[start + 3 :]
            break
    else:
        return None
    end = next((i for i, w in enumerate(rest) if w in _OPERATORS), len(rest))
    return rest[:end]


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[b.label for b in SHELL_BLOCKS])
def test_every_command_in_a_shell_block_parses(block: Block) -> None:
    bash = shutil.which("bash")
    if bash is not None:
        check = subprocess.run(
            [bash, "-n"], input=block.code, text=True, capture_output=True, check=False
        )
        assert check.returncode == 0, check.stderr
    parser = build_parser()
    for line in block.code.splitlines():
        words = _cli_words(line)
        if words:
            parser.parse_args(words)  # an unknown command, option or format exits 2 here


def test_the_doc_names_every_format_and_the_codex_harness_mapping() -> None:
    text = HARNESSES_DOC.read_text(encoding="utf-8")
    for name in FORMATS:
        assert f"`{name}`" in text, name
    assert "harness: custom" in text
