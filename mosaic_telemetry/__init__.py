"""Zero-dependency client for the Mosaic Stack Telemetry API v1."""

from __future__ import annotations

import sys

# Before any submodule: on 3.9 and older, the first `@dataclass(slots=True)` would fail with a
# TypeError deep in a traceback that names neither the package nor the versions it needs.
# The rest of this file stays parseable by old Pythons (no match, no `X | Y` at run time).
if sys.version_info < (3, 10):  # noqa: UP036 - the check is for the Pythons ruff's target excludes
    raise RuntimeError(
        f"{__name__} supports Python 3.10 to 3.15; this is Python "
        f"{'.'.join(map(str, sys.version_info[:3]))} ({sys.executable})"
    )

from ._stats import ClientStats
from .builder import EventBuilder
from .cache import PredictionCache
from .client import TelemetryClient
from .config import TelemetryConfig
from .enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType
from .errors import ConfigurationError, TelemetryError, ValidationError
from .models import (
    BatchEventRequest,
    BatchEventResponse,
    BatchEventResult,
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    QualityPrediction,
    TaskCompletionEvent,
    TokenDistribution,
)
from .queue import EventQueue

__version__ = "0.1.0"

__all__ = [
    "BatchEventRequest",
    "BatchEventResponse",
    "BatchEventResult",
    "ClientStats",
    "Complexity",
    "ConfigurationError",
    "CorrectionFactors",
    "EventBuilder",
    "EventQueue",
    "Harness",
    "Outcome",
    "PredictionCache",
    "PredictionData",
    "PredictionMetadata",
    "PredictionQuery",
    "PredictionResponse",
    "Provider",
    "QualityGate",
    "QualityPrediction",
    "RepoSizeCategory",
    "TaskCompletionEvent",
    "TaskType",
    "TelemetryClient",
    "TelemetryConfig",
    "TelemetryError",
    "TokenDistribution",
    "ValidationError",
    "__version__",
]
