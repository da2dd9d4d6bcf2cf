# mypy: ignore-errors
# (pydantic is not installed where mypy runs: this module is only imported in the
# throwaway pydantic venv that benchmarks/_peer_venv.py makes.)
"""The original SDK's event models in pydantic v2, as sdk-reference.md describes them.

Field types, defaults and constraints follow the reference's tables: the peer the
data-layer figures are compared with. Written for the benchmarks; never imported by
the package or its tests.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from uuid import UUID, uuid4

from pydantic import BaseModel, Field


class TaskType(str, Enum):
    PLANNING = "planning"
    IMPLEMENTATION = "implementation"
    CODE_REVIEW = "code_review"
    TESTING = "testing"
    DEBUGGING = "debugging"
    REFACTORING = "refactoring"
    DOCUMENTATION = "documentation"
    CONFIGURATION = "configuration"
    SECURITY_AUDIT = "security_audit"
    UNKNOWN = "unknown"


class Complexity(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Harness(str, Enum):
    CLAUDE_CODE = "claude_code"
    OPENCODE = "opencode"
    KILO_CODE = "kilo_code"
    AIDER = "aider"
    API_DIRECT = "api_direct"
    OLLAMA_LOCAL = "ollama_local"
    CUSTOM = "custom"
    UNKNOWN = "unknown"


class Provider(str, Enum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENROUTER = "openrouter"
    OLLAMA = "ollama"
    GOOGLE = "google"
    MISTRAL = "mistral"
    CUSTOM = "custom"
    UNKNOWN = "unknown"


class Outcome(str, Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"
    TIMEOUT = "timeout"


class QualityGate(str, Enum):
    BUILD = "build"
    LINT = "lint"
    TEST = "test"
    COVERAGE = "coverage"
    TYPECHECK = "typecheck"
    SECURITY = "security"


class RepoSizeCategory(str, Enum):
    TINY = "tiny"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    HUGE = "huge"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TaskCompletionEvent(BaseModel):
    instance_id: UUID
    event_id: UUID = Field(default_factory=uuid4)
    schema_version: str = "1.0"
    timestamp: datetime = Field(default_factory=_now)
    task_duration_ms: int = Field(ge=0, le=86_400_000)
    task_type: TaskType
    complexity: Complexity
    harness: Harness
    model: str = Field(min_length=1, max_length=100)
    provider: Provider
    estimated_input_tokens: int = Field(ge=0, le=10_000_000)
    estimated_output_tokens: int = Field(ge=0, le=10_000_000)
    actual_input_tokens: int = Field(ge=0, le=10_000_000)
    actual_output_tokens: int = Field(ge=0, le=10_000_000)
    estimated_cost_usd_micros: int = Field(ge=0, le=100_000_000)
    actual_cost_usd_micros: int = Field(ge=0, le=100_000_000)
    quality_gate_passed: bool
    quality_gates_run: list[QualityGate] = Field(default_factory=list)
    quality_gates_failed: list[QualityGate] = Field(default_factory=list)
    context_compactions: int = Field(ge=0, le=100)
    context_rotations: int = Field(ge=0, le=50)
    context_utilization_final: float = Field(ge=0.0, le=1.0)
    outcome: Outcome
    retry_count: int = Field(ge=0, le=20)
    language: str | None = Field(default=None, max_length=30)
    repo_size_category: RepoSizeCategory | None = None


class BatchEventRequest(BaseModel):
    events: list[TaskCompletionEvent] = Field(min_length=1, max_length=100)


class PredictionQuery(BaseModel):
    task_type: TaskType
    model: str
    provider: Provider
    complexity: Complexity


class TokenDistribution(BaseModel):
    p10: int
    p25: int
    median: int
    p75: int
    p90: int


class CorrectionFactors(BaseModel):
    input: float
    output: float


class QualityPrediction(BaseModel):
    gate_pass_rate: float
    success_rate: float


class PredictionData(BaseModel):
    input_tokens: TokenDistribution
    output_tokens: TokenDistribution
    cost_usd_micros: dict[str, int]
    duration_ms: dict[str, int]
    correction_factors: CorrectionFactors
    quality: QualityPrediction


class PredictionMetadata(BaseModel):
    sample_size: int
    fallback_level: int
    confidence: str
    last_updated: datetime | None = None
    dimensions_matched: dict[str, str | None] | None = None
    fallback_note: str | None = None
    cache_hit: bool = False


class PredictionResponse(BaseModel):
    prediction: PredictionData | None = None
    metadata: PredictionMetadata


class BatchEventResult(BaseModel):
    event_id: UUID
    status: str
    error: str | None = None


class BatchEventResponse(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchEventResult] = Field(default_factory=list)
