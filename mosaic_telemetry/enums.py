"""The seven string enums of the Telemetry API v1 event schema."""

from __future__ import annotations

from enum import Enum

__all__ = [
    "Complexity",
    "Harness",
    "Outcome",
    "Provider",
    "QualityGate",
    "RepoSizeCategory",
    "TaskType",
]


class TaskType(str, Enum):
    """Kind of work an agent performed."""

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
    """How hard the task was."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Harness(str, Enum):
    """Coding tool or execution environment that ran the task."""

    CLAUDE_CODE = "claude_code"
    OPENCODE = "opencode"
    KILO_CODE = "kilo_code"
    AIDER = "aider"
    API_DIRECT = "api_direct"
    OLLAMA_LOCAL = "ollama_local"
    CUSTOM = "custom"
    UNKNOWN = "unknown"


class Provider(str, Enum):
    """LLM provider that served the model."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENROUTER = "openrouter"
    OLLAMA = "ollama"
    GOOGLE = "google"
    MISTRAL = "mistral"
    CUSTOM = "custom"
    UNKNOWN = "unknown"


class Outcome(str, Enum):
    """Final result of the task."""

    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"
    TIMEOUT = "timeout"


class QualityGate(str, Enum):
    """A quality check run on the task's output."""

    BUILD = "build"
    LINT = "lint"
    TEST = "test"
    COVERAGE = "coverage"
    TYPECHECK = "typecheck"
    SECURITY = "security"


class RepoSizeCategory(str, Enum):
    """Repository size bucket, by lines of code."""

    TINY = "tiny"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    HUGE = "huge"
