"""Zero-dependency client for the Mosaic Stack Telemetry API v1."""

from __future__ import annotations

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
