"""The seven enums: exactly the SDK reference's members and values, as ``str, Enum``."""

from __future__ import annotations

import json
import pickle
from enum import Enum

import pytest

import mosaic_telemetry
from mosaic_telemetry import (
    Complexity,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskType,
)

# Copied from the tables of sdk-reference.md ("Enumerations"), in the spec's order.
SPEC_MEMBERS: dict[type[Enum], list[tuple[str, str]]] = {
    TaskType: [
        ("PLANNING", "planning"),
        ("IMPLEMENTATION", "implementation"),
        ("CODE_REVIEW", "code_review"),
        ("TESTING", "testing"),
        ("DEBUGGING", "debugging"),
        ("REFACTORING", "refactoring"),
        ("DOCUMENTATION", "documentation"),
        ("CONFIGURATION", "configuration"),
        ("SECURITY_AUDIT", "security_audit"),
        ("UNKNOWN", "unknown"),
    ],
    Complexity: [
        ("LOW", "low"),
        ("MEDIUM", "medium"),
        ("HIGH", "high"),
        ("CRITICAL", "critical"),
    ],
    Harness: [
        ("CLAUDE_CODE", "claude_code"),
        ("OPENCODE", "opencode"),
        ("KILO_CODE", "kilo_code"),
        ("AIDER", "aider"),
        ("API_DIRECT", "api_direct"),
        ("OLLAMA_LOCAL", "ollama_local"),
        ("CUSTOM", "custom"),
        ("UNKNOWN", "unknown"),
    ],
    Provider: [
        ("ANTHROPIC", "anthropic"),
        ("OPENAI", "openai"),
        ("OPENROUTER", "openrouter"),
        ("OLLAMA", "ollama"),
        ("GOOGLE", "google"),
        ("MISTRAL", "mistral"),
        ("CUSTOM", "custom"),
        ("UNKNOWN", "unknown"),
    ],
    Outcome: [
        ("SUCCESS", "success"),
        ("FAILURE", "failure"),
        ("PARTIAL", "partial"),
        ("TIMEOUT", "timeout"),
    ],
    QualityGate: [
        ("BUILD", "build"),
        ("LINT", "lint"),
        ("TEST", "test"),
        ("COVERAGE", "coverage"),
        ("TYPECHECK", "typecheck"),
        ("SECURITY", "security"),
    ],
    RepoSizeCategory: [
        ("TINY", "tiny"),
        ("SMALL", "small"),
        ("MEDIUM", "medium"),
        ("LARGE", "large"),
        ("HUGE", "huge"),
    ],
}

ENUMS = list(SPEC_MEMBERS)
ALL_MEMBERS = [member for enum_cls in ENUMS for member in enum_cls]


@pytest.mark.parametrize("enum_cls", ENUMS, ids=lambda cls: cls.__name__)
def test_enum_has_exactly_the_spec_members_and_values_in_order(enum_cls: type[Enum]) -> None:
    assert [(m.name, m.value) for m in enum_cls] == SPEC_MEMBERS[enum_cls]


@pytest.mark.parametrize("enum_cls", ENUMS, ids=lambda cls: cls.__name__)
def test_enum_is_a_str_enum(enum_cls: type[Enum]) -> None:
    assert issubclass(enum_cls, str)
    assert issubclass(enum_cls, Enum)


@pytest.mark.parametrize("enum_cls", ENUMS, ids=lambda cls: cls.__name__)
def test_enum_is_exported_from_the_package(enum_cls: type[Enum]) -> None:
    assert enum_cls.__name__ in mosaic_telemetry.__all__
    assert getattr(mosaic_telemetry, enum_cls.__name__) is enum_cls


@pytest.mark.parametrize("member", ALL_MEMBERS, ids=repr)
def test_member_is_found_by_its_value(member: Enum) -> None:
    assert type(member)(member.value) is member


@pytest.mark.parametrize("member", ALL_MEMBERS, ids=repr)
def test_member_equals_and_serialises_as_its_lowercase_value(member: Enum) -> None:
    value = member.value
    assert isinstance(value, str)
    assert value == value.lower()
    assert isinstance(member, str)
    assert member == value
    assert json.dumps(member) == json.dumps(value)


@pytest.mark.parametrize("member", ALL_MEMBERS, ids=repr)
def test_member_survives_pickling(member: Enum) -> None:
    assert pickle.loads(pickle.dumps(member)) is member


@pytest.mark.parametrize(
    ("enum_cls", "text"),
    [
        (TaskType, "PLANNING"),
        (TaskType, "Planning"),
        (TaskType, "code-review"),
        (Complexity, "extreme"),
        (Provider, "azure"),
        (RepoSizeCategory, ""),
    ],
)
def test_names_and_unknown_strings_are_not_values(enum_cls: type[Enum], text: str) -> None:
    with pytest.raises(ValueError, match=text or "''"):
        enum_cls(text)
