"""Harness adapters: events straight from Claude Code, Codex and aider output files.

Pure, offline parsers (standard library only) turn a harness's output into one
:class:`Task` per finished task; an :class:`EventFactory` prices it and makes the
``TaskCompletionEvent``. ``mosaic-telemetry ingest`` and ``mosaic-telemetry hook`` are
built on them. The client never imports this package; a vendored copy may leave it out.
"""

from __future__ import annotations

from ._events import EVENT_NAMESPACE, EventFactory, event_id
from ._formats import FORMATS, Format, read_tasks
from ._pricing import Price, PriceFileError, PriceTable, model_keys, provider_of
from ._task import Notes, Task, Tokens
from .prices import PRICES_TAKEN, SOURCES

__all__ = [
    "EVENT_NAMESPACE",
    "FORMATS",
    "PRICES_TAKEN",
    "SOURCES",
    "EventFactory",
    "Format",
    "Notes",
    "Price",
    "PriceFileError",
    "PriceTable",
    "Task",
    "Tokens",
    "event_id",
    "model_keys",
    "provider_of",
    "read_tasks",
]
