"""The field table's vocabulary: what a field is, and the kinds of value a field holds.

A model's class body is its field table: ``name: Type = field(KIND, default=...)``,
in the spec's order. Each kind knows its rule (the reference check and coercion),
the code of its fast check, of its wire form, of its wire reader and of its JSON text
(from which ``_codegen`` writes ``_generated``), and its JSON and sqlite types, so
that a store can derive its columns from the table (see :func:`columns`).
"""

from __future__ import annotations

from ._kinds import (
    BoolKind,
    ChoiceKind,
    ChoiceListKind,
    FloatKind,
    GeneratedUuidKind,
    IntKind,
    Kind,
    MappingKind,
    NestedListKind,
    NestedOneKind,
    NullableKind,
    StatusKind,
    TextKind,
    TimestampKind,
    UuidKind,
)
from ._validation import (
    any_bool,
    dict_of_int,
    str_map_or_none,
    to_datetime,
    to_uuid,
)

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._validation import Rule


__all__ = [
    "BOOL",
    "GENERATED_UUID",
    "MAPPING",
    "MISSING",
    "TIMESTAMP",
    "UUID_KIND",
    "FieldSpec",
    "Kind",
    "choice",
    "choices",
    "columns",
    "count",
    "field",
    "int_map",
    "nested",
    "nested_list",
    "nullable",
    "number",
    "status",
    "text",
]


class _Missing:
    """The absence of a default (``dataclasses.MISSING`` without importing dataclasses)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


MISSING: Any = _Missing()


UUID_KIND = UuidKind(to_uuid, "string", "TEXT")
"""A UUID; on the wire its lowercase hyphenated text."""
GENERATED_UUID = GeneratedUuidKind(to_uuid, "string", "TEXT")
"""A UUID that defaults to a new random one (kept compact until read)."""
TIMESTAMP = TimestampKind(to_datetime, "string", "TEXT")
"""An aware datetime, writable in UTC; on the wire RFC 3339 text."""
BOOL = BoolKind(any_bool, "boolean", "INTEGER")
"""A real bool."""
MAPPING: Kind = NullableKind(MappingKind(str_map_or_none, "object", "TEXT"))
"""An object of strings to strings or ``None`` (or ``None`` itself)."""


def count(lo: int, hi: int | None = None) -> Kind:
    """An int (not bool) in ``lo..hi``."""
    return IntKind(lo, hi)


def number(lo: float, hi: float | None = None) -> Kind:
    """A finite int or float in ``lo..hi``, stored as a float."""
    return FloatKind(lo, hi)


def text(lo: int = 0, hi: int | None = None) -> Kind:
    """Text of ``lo..hi`` characters, encodable as UTF-8."""
    return TextKind(lo, hi)


def choice(enum_cls: type[Any]) -> Kind:
    """A member of ``enum_cls`` (or its value)."""
    return ChoiceKind(enum_cls)


def choices(enum_cls: type[Any]) -> Kind:
    """A list of members of ``enum_cls`` (or their values)."""
    return ChoiceListKind(enum_cls)


def nested(model: type[Any], rule: Rule) -> Kind:
    """One ``model`` (or a mapping of one)."""
    return NestedOneKind(model, rule, "object")


def nested_list(model: type[Any], rule: Rule, lo: int, hi: int | None = None) -> Kind:
    """A list of ``lo..hi`` ``model`` items (or mappings of them)."""
    return NestedListKind(model, rule, lo, hi)


def int_map(*keys: str) -> Kind:
    """An object holding at least ``keys``, each a non-negative int."""
    return MappingKind(dict_of_int(*keys), "object", "TEXT")


def status(rule: Rule) -> Kind:
    """A batch result's status text, ``accepted`` or ``rejected``."""
    return StatusKind(rule, "string", "TEXT")


def nullable(inner: Kind) -> Kind:
    """``None``, or whatever ``inner`` holds (absent on the wire reads as ``None``)."""
    return NullableKind(inner)


class FieldSpec:
    """One row of a model's field table (its name and type come from the annotation)."""

    __slots__ = ("builder", "default", "default_factory", "kind", "name", "type")

    def __init__(
        self,
        kind: Kind,
        default: object,
        default_factory: Callable[[], Any] | None,
        builder: object,
    ) -> None:
        self.kind = kind
        self.default = default
        self.default_factory = default_factory
        self.builder = builder
        self.name = ""
        self.type = ""

    @property
    def required(self) -> bool:
        """No default: the constructor and ``from_dict`` need it."""
        return self.default is MISSING and self.default_factory is None

    @property
    def nullable(self) -> bool:
        """``None`` is a valid value (JSON ``null``, a NULL column)."""
        return isinstance(self.kind, NullableKind)

    def __repr__(self) -> str:
        return f"FieldSpec({self.name!r}, {type(self.kind).__name__})"


def field(
    kind: Kind,
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    builder: Any = MISSING,
) -> Any:
    """A row of the field table: its kind, its default, and EventBuilder's default.

    A nullable field has a default (``None`` as a rule): absent on the wire, it reads
    as that default, never as "is required".

    Raises:
        TypeError: a nullable field without a default.
    """
    if default is MISSING and default_factory is None and isinstance(kind, NullableKind):
        raise TypeError("a nullable field needs a default (absent on the wire reads as it)")
    return FieldSpec(kind, default, default_factory, builder)


def columns(fields: tuple[FieldSpec, ...]) -> list[tuple[str, str, bool]]:
    """``(name, sqlite type, nullable)`` per field, in the table's order.

    Lists of enum values are a TEXT column (the values comma-joined); UUIDs and
    timestamps are TEXT (timestamps in UTC, RFC 3339); bools are INTEGER 0/1.
    """
    return [(f.name, f.kind.sqlite_type, f.nullable) for f in fields]
