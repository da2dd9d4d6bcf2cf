"""The kinds of field value: each one's rule, generated-code snippets and JSON/sqlite types."""

from __future__ import annotations

from ._compact import id_property, members_property
from ._validation import (
    any_str,
    enum_of,
    float_range,
    int_range,
    list_of_enum,
    optional,
    str_length,
)

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any

    from ._validation import Rule


__all__ = [
    "BoolKind",
    "ChoiceKind",
    "ChoiceListKind",
    "FloatKind",
    "GeneratedUuidKind",
    "IntKind",
    "Kind",
    "MappingKind",
    "NestedKind",
    "NestedListKind",
    "NestedOneKind",
    "NullableKind",
    "StatusKind",
    "TextKind",
    "TimestampKind",
    "UuidKind",
]


class Kind:
    """A kind of field value: its rule, its generated code snippets, its JSON/sqlite types.

    Every ``*_code`` method takes the name of a local variable holding the value
    and returns a Python expression (``None``: no such fast form, use the rule).
    Names the snippets use are those ``_generated`` imports, or ``B_<field>``, a
    per-field binding (``binding``) the generated factory takes from the table.
    """

    __slots__ = ("binding", "json_type", "rule", "sqlite_type")

    copies = False
    """The value is a fresh list per model (the caller's list stays the caller's)."""
    raw = False
    """Stored in a compact form in slot ``_<name>``, behind a property (see ``_compact``)."""

    def __init__(
        self, rule: Rule, json_type: str, sqlite_type: str, binding: object = None
    ) -> None:
        self.rule = rule
        self.json_type = json_type
        self.sqlite_type = sqlite_type
        self.binding = binding

    def fast_code(self, v: str, b: str) -> str | None:
        """True when ``v`` is already of the stored type and valid (no coercion needed)."""
        return None

    def wire_code(self, v: str, b: str) -> str:
        """The JSON-ready value of ``v``."""
        return v

    def read_code(self, v: str, b: str) -> str | None:
        """``v`` read from a wire dict, or an exception (the rules then decide)."""
        return None

    def read_is_checked(self) -> bool:
        """``read_code`` gives a valid value or raises (no fast check needed after it)."""
        return False

    def json_piece(self, v: str, b: str) -> tuple[str, str] | None:
        """The JSON text of ``v`` (a valid value): a ``%``-format piece and its argument."""
        return None

    # For raw kinds: fast_code, wire_code and json_piece read the stored (compact) form.

    def arg_fast_code(self, v: str, b: str) -> str | None:
        """Like ``fast_code``, for a value given to the constructor (not yet stored)."""
        return self.fast_code(v, b)

    def store_code(self, v: str, b: str) -> str:
        """The stored form of a given value that passed ``arg_fast_code``."""
        return v

    def raw_default_code(self, b: str) -> str:
        """The stored form of the default (raw kinds only)."""
        raise TypeError(f"{type(self).__name__} has no compact default")

    def make_property(self, slot: str) -> property:
        """The public attribute over ``slot`` (raw kinds only)."""
        raise TypeError(f"{type(self).__name__} is not stored compactly")

    def json_code(self, v: str, b: str) -> str | None:
        """The JSON text of ``v`` as one ``str`` expression."""
        piece = self.json_piece(v, b)
        if piece is None:
            return None
        fmt, arg = piece
        return arg if fmt == "%s" else f"({fmt!r} % ({arg},))"


class UuidKind(Kind):
    def fast_code(self, v: str, b: str) -> str:
        return f"type({v}) is _UUID"

    def wire_code(self, v: str, b: str) -> str:
        return f"_uuid_text({v})"

    def read_code(self, v: str, b: str) -> str:
        return f"_uuid_from_text({v})"

    def read_is_checked(self) -> bool:
        return True

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return '"%s"', f"_uuid_text({v})"


class GeneratedUuidKind(UuidKind):
    """A UUID whose default, a new random one, is kept as its 128 bits until read."""

    raw = True

    def fast_code(self, v: str, b: str) -> str:
        return f"(type({v}) is _UUID or type({v}) is int)"  # a caller's int is wrapped

    def arg_fast_code(self, v: str, b: str) -> str:
        return f"type({v}) is _UUID"

    def raw_default_code(self, b: str) -> str:
        return "_new_uuid4_bits()"

    def read_code(self, v: str, b: str) -> str:
        return f"_uuid_bits_from_text({v})"  # kept as bits, as a generated id is

    def wire_code(self, v: str, b: str) -> str:
        return f"_id_text({v})"

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return '"%s"', f"_id_text({v})"

    def make_property(self, slot: str) -> property:
        return id_property(slot)


class TimestampKind(Kind):
    def fast_code(self, v: str, b: str) -> str:
        return f"type({v}) is _datetime and {v}.tzinfo is _UTC"

    def wire_code(self, v: str, b: str) -> str:
        return f"(_utc_text({v}) if {v}.tzinfo is _UTC else _format_datetime({v}))"

    def read_code(self, v: str, b: str) -> str:
        return f"_utc_from_text({v})"

    def read_is_checked(self) -> bool:
        return True

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return '"%s"', f"_utc_text({v})"  # a valid event's timestamp is in UTC


class IntKind(Kind):
    __slots__ = ("hi", "lo")

    def __init__(self, lo: int, hi: int | None) -> None:
        super().__init__(int_range(lo, hi), "integer", "INTEGER")
        self.lo, self.hi = lo, hi

    def fast_code(self, v: str, b: str) -> str:
        bound = f"{self.lo} <= {v}" if self.hi is None else f"{self.lo} <= {v} <= {self.hi}"
        return f"type({v}) is int and {bound}"

    def read_code(self, v: str, b: str) -> str:
        return v

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return "%d", v


class FloatKind(Kind):
    __slots__ = ("hi", "lo")

    def __init__(self, lo: float, hi: float | None) -> None:
        super().__init__(float_range(lo, hi), "number", "REAL")
        self.lo, self.hi = lo, hi

    def fast_code(self, v: str, b: str) -> str:
        hi = "_MAX_FLOAT" if self.hi is None else repr(self.hi)  # nan and inf fail
        return f"type({v}) is float and {self.lo!r} <= {v} <= {hi}"

    def read_code(self, v: str, b: str) -> str:
        return v

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return "%r", v  # float.__repr__, as json writes floats


class BoolKind(Kind):
    def fast_code(self, v: str, b: str) -> str:
        return f"({v} is True or {v} is False)"

    def read_code(self, v: str, b: str) -> str:
        return v

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return "%s", f"('true' if {v} else 'false')"


class TextKind(Kind):
    __slots__ = ("hi", "lo")

    def __init__(self, lo: int, hi: int | None) -> None:
        rule = any_str if hi is None else str_length(lo, hi)
        super().__init__(rule, "string", "TEXT")
        self.lo, self.hi = lo, hi

    def fast_code(self, v: str, b: str) -> str:
        # isascii() is O(1); only non-ASCII text can hold a lone surrogate.
        length = "" if self.hi is None else f" and {self.lo} <= len({v}) <= {self.hi}"
        return f"type({v}) is str{length} and ({v}.isascii() or _utf8_ok({v}))"

    def read_code(self, v: str, b: str) -> str:
        return v

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return "%s", f"_enc({v})"


class ChoiceKind(Kind):
    __slots__ = ("enum_cls",)

    def __init__(self, enum_cls: type[Any]) -> None:
        super().__init__(enum_of(enum_cls), "string", "TEXT", enum_cls)
        self.enum_cls = enum_cls

    def fast_code(self, v: str, b: str) -> str:
        return f"type({v}) is {b}"

    def wire_code(self, v: str, b: str) -> str:
        return f"{v}._value_"

    def read_code(self, v: str, b: str) -> str:
        return f"{b}._value2member_map_[{v}]"

    def read_is_checked(self) -> bool:
        return True

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return '"%s"', f"{v}._value_"  # values are [a-z_]: nothing to escape


class ChoiceListKind(Kind):
    """A list of members, kept as a shared tuple (``_compact.Members``) until read."""

    __slots__ = ("enum_cls",)
    raw = True

    def __init__(self, enum_cls: type[Any]) -> None:
        super().__init__(list_of_enum(enum_cls), "array", "TEXT", enum_cls)
        self.enum_cls = enum_cls

    def arg_fast_code(self, v: str, b: str) -> str:
        # An enum with members has no subclasses: isinstance is an exact type check.
        return f"type({v}) is list and all(map({b}.__instancecheck__, {v}))"

    def fast_code(self, v: str, b: str) -> str:
        return f"(type({v}) is _Members or {self.arg_fast_code(v, b)})"

    def store_code(self, v: str, b: str) -> str:
        return f"_share({b}, {v})"

    def raw_default_code(self, b: str) -> str:
        return "_NO_MEMBERS"

    def make_property(self, slot: str) -> property:
        return members_property(slot)

    def wire_code(self, v: str, b: str) -> str:
        return f"_wire_values({v})"

    def read_code(self, v: str, b: str) -> str:
        return f"_share_values({b}, _exact_list({v}))"

    def read_is_checked(self) -> bool:
        return True

    def json_piece(self, v: str, b: str) -> tuple[str, str]:
        return "%s", f"_wire_json({v})"


class NestedKind(Kind):
    __slots__ = ("model",)

    def __init__(self, model: type[Any], rule: Rule, json_type: str) -> None:
        super().__init__(rule, json_type, "TEXT", model)
        self.model = model


class NestedOneKind(NestedKind):
    def fast_code(self, v: str, b: str) -> str:
        return f"type({v}) is {b}"

    def wire_code(self, v: str, b: str) -> str:
        return f"{v}.to_dict()"


class NestedListKind(NestedKind):
    __slots__ = ("hi", "lo")
    copies = True

    def __init__(self, model: type[Any], rule: Rule, lo: int, hi: int | None) -> None:
        super().__init__(model, rule, "array")
        self.lo, self.hi = lo, hi

    def fast_code(self, v: str, b: str) -> str:
        size = f"{self.lo} <= len({v})" + ("" if self.hi is None else f" <= {self.hi}")
        return f"type({v}) is list and {size} and all(map({b}.__instancecheck__, {v}))"

    def wire_code(self, v: str, b: str) -> str:
        return f"[item.to_dict() for item in {v}]"


class MappingKind(Kind):
    """An object of strings to ints or strings: always checked by its rule (rare, small)."""

    def wire_code(self, v: str, b: str) -> str:
        return f"dict({v})"


class StatusKind(Kind):
    def fast_code(self, v: str, b: str) -> str:
        return f"type({v}) is str and {v} in ('accepted', 'rejected')"

    def read_code(self, v: str, b: str) -> str:
        return v


class NullableKind(Kind):
    __slots__ = ("inner",)

    def __init__(self, inner: Kind) -> None:
        super().__init__(optional(inner.rule), inner.json_type, inner.sqlite_type, inner.binding)
        self.inner = inner

    @property
    def copies(self) -> bool:  # type: ignore[override]  # a class default, read through
        return self.inner.copies

    def fast_code(self, v: str, b: str) -> str | None:
        inner = self.inner.fast_code(v, b)
        return None if inner is None else f"({v} is None or {inner})"

    def wire_code(self, v: str, b: str) -> str:
        inner = self.inner.wire_code(v, b)
        return v if inner == v else f"(None if {v} is None else {inner})"

    def read_code(self, v: str, b: str) -> str | None:
        inner = self.inner.read_code(v, b)
        return None if inner is None else f"(None if {v} is None else {inner})"

    def read_is_checked(self) -> bool:
        return self.inner.read_is_checked()

    def json_piece(self, v: str, b: str) -> tuple[str, str] | None:
        inner = self.inner.json_code(v, b)
        return None if inner is None else ("%s", f"('null' if {v} is None else {inner})")
