"""The input formats ``ingest`` and ``hook`` read, by name, and reading a whole input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ._parser import LineParser, read_whole
from ._sources import Feed, session_files
from ._task import Notes, Task
from .aider import AiderAnalyticsParser
from .claude_result import ClaudeResultParser, read_results
from .claude_transcript import ClaudeTranscriptParser
from .codex_exec import CodexExecParser
from .codex_rollout import CodexRolloutParser

__all__ = ["FORMATS", "Format", "read_tasks"]


@dataclass(frozen=True, slots=True)
class Format:
    """One input format: its parser, how a whole input is read, whether it has subagent files."""

    name: str
    parser: type[LineParser]
    whole: Callable[[LineParser, IO[bytes]], Iterator[Task]]
    subagent_files: bool = False


def _results(parser: LineParser, stream: IO[bytes]) -> Iterator[Task]:
    if not isinstance(parser, ClaudeResultParser):
        raise TypeError("claude-result input needs a ClaudeResultParser")
    return read_results(parser, stream)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("claude-result", ClaudeResultParser, _results),
        Format("claude-transcript", ClaudeTranscriptParser, read_whole, subagent_files=True),
        Format("codex-exec", CodexExecParser, read_whole),
        Format("codex-rollout", CodexRolloutParser, read_whole),
        Format("aider-analytics", AiderAnalyticsParser, read_whole),
    )
}
"""Every format by its command-line name."""


def read_tasks(
    format_name: str,
    source: str | Path | IO[bytes],
    notes: Notes,
    *,
    model: str | None = None,
    subagents: bool = True,
) -> Iterator[Task]:
    """Every finished task of a complete input (a path, or a binary stream such as stdin).

    A Claude Code transcript read from a path also reads its subagent files
    (``<session>/subagents/*.jsonl``) unless ``subagents`` is False.

    Raises:
        KeyError: ``format_name`` is not one of :data:`FORMATS`.
        OSError: the file cannot be opened.
    """
    fmt = FORMATS[format_name]
    if isinstance(source, (str, Path)):
        path = Path(source)
        parser = fmt.parser(notes, path.stem, model_hint=model)
        files = session_files(path, subagents=subagents and fmt.subagent_files)
        if len(files) > 1:
            feed = Feed(files, {}, notes, complete=True)
            for offset, record in feed.records():
                yield from parser.feed(record, offset)
            yield from parser.end(close=True)
            return
        with open(path, "rb") as stream:
            yield from fmt.whole(parser, stream)
        return
    yield from fmt.whole(fmt.parser(notes, "stdin", model_hint=model), source)
