"""Field rules shared by every model: type checks, coercions and bounds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from uuid import UUID

from ._text_forms import (
    UUID_TEXT_PATTERN,
    compiled,
    format_datetime,
    new_uuid4,
    new_uuid4_bits,
    parse_datetime,
    utc_from_text,
    utf8_ok,
    uuid_bits_from_text,
    uuid_from_text,
    uuid_of_int,
    uuid_text,
)
from .errors import ValidationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import re
    from enum import Enum
    from typing import Any, TypeAlias, TypeVar

    Rule: TypeAlias = Callable[[Any], Any]
    """A rule takes a raw value and returns it coerced, or raises :class:`Invalid`."""


__all__ = [
    "UUID_TEXT",
    "Invalid",
    "any_bool",
    "any_str",
    "check_fields",
    "dict_of_int",
    "enum_of",
    "float_range",
    "format_datetime",
    "int_range",
    "list_of_enum",
    "new_uuid4",
    "new_uuid4_bits",
    "optional",
    "parse_datetime",
    "str_length",
    "str_map_or_none",
    "to_datetime",
    "to_uuid",
    "utc_from_text",
    "utf8_ok",
    "uuid_bits_from_text",
    "uuid_from_text",
    "uuid_of_int",
    "uuid_text",
]

if TYPE_CHECKING:
    E = TypeVar("E", bound=Enum)


class Invalid(Exception):
    """Raised by a rule: ``message`` says which rule the value broke."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_fields(
    model: str,
    rules: tuple[tuple[str, Rule], ...],
    values: dict[str, Any],
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Coerce ``values`` in place by ``rules``; raise one error naming every failure.

    Fields absent from ``values`` are skipped (the caller reports them as missing
    through ``errors``, so that a single error lists everything wrong).
    """
    errors = [] if errors is None else errors
    for name, rule in rules:
        if name not in values:
            continue
        value = values[name]
        try:
            values[name] = rule(value)
        except Invalid as exc:
            errors.append({"field": name, "message": exc.message, "value": value})
        except ValidationError as exc:  # a nested model: prefix its field names
            errors.extend(
                {
                    "field": join_field(name, e["field"]),
                    "message": e["message"],
                    "value": e["value"],
                }
                for e in exc.errors
            )
    if errors:
        raise ValidationError(model, errors)
    return values


def join_field(outer: str, inner: str) -> str:
    """``outer.inner``, or ``outer[i]...`` when ``inner`` is an index."""
    return f"{outer}{inner}" if inner.startswith("[") else f"{outer}.{inner}"


def int_range(lo: int, hi: int | None = None) -> Rule:
    """An ``int`` (never bool, float or numeric string) in ``lo..hi`` inclusive."""
    rule_text = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("must be an integer (not bool, float or string)")
        number = int(value)  # an int subclass such as IntEnum keeps only its number
        if number < lo or (hi is not None and number > hi):
            raise Invalid(f"must be {rule_text}")
        return number

    return check


def float_range(lo: float, hi: float | None = None) -> Rule:
    """An int or float (not bool, nan or inf) in ``lo..hi`` inclusive, returned as float."""
    rule_text = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid("must be a number (int or float, not bool or string)")
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            raise Invalid(f"must be {rule_text}") from None
        if not math.isfinite(number):
            raise Invalid("must be a finite number (not nan or inf)")
        if number < lo or (hi is not None and number > hi):
            raise Invalid(f"must be {rule_text}")
        return number

    return check


def any_bool(value: Any) -> bool:
    """A real ``bool`` (not 0/1 or a string)."""
    if type(value) is not bool:
        raise Invalid("must be a bool (true or false)")
    return value


def _writable_text(value: str) -> str:
    if not value.isascii() and not utf8_ok(value):
        index = next(i for i, c in enumerate(value) if "\ud800" <= c <= "\udfff")
        raise Invalid(
            f"must be text that UTF-8 can encode (a lone surrogate {value[index]!r} "
            f"is at index {index}, as os.fsdecode gives for undecodable bytes)"
        )
    return str(value) if type(value) is not str else value


def str_length(lo: int, hi: int) -> Rule:
    """A ``str`` of ``lo..hi`` characters that UTF-8 can encode."""

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid("must be a string")
        if not lo <= len(value) <= hi:
            if lo == 0:
                raise Invalid(f"must be at most {hi} characters")
            raise Invalid(f"must be {lo} to {hi} characters")
        return _writable_text(value)

    return check


def any_str(value: Any) -> str:
    """Any ``str`` that UTF-8 can encode."""
    if not isinstance(value, str):
        raise Invalid("must be a string")
    return _writable_text(value)


def enum_of(enum_cls: type[E]) -> Rule:
    """A member of ``enum_cls`` or one of its values."""
    by_value: Mapping[Any, Any] = enum_cls._value2member_map_
    choices = ", ".join(str(m.value) for m in enum_cls)

    def check(value: Any) -> E:
        if type(value) is enum_cls:
            return value
        try:
            member = by_value.get(value)
        except TypeError:  # unhashable
            member = None
        if member is None:
            raise Invalid(f"must be one of {choices}")
        return member  # type: ignore[no-any-return]  # the map holds members of enum_cls

    return check


def list_of_enum(enum_cls: type[E]) -> Rule:
    """A list (or tuple) whose items are members of ``enum_cls`` or their values."""
    item_rule = enum_of(enum_cls)
    choices = ", ".join(str(m.value) for m in enum_cls)

    def check(value: Any) -> list[E]:
        if not isinstance(value, (list, tuple)):
            raise Invalid(f"must be a list of {enum_cls.__name__} values ({choices})")
        out: list[E] = []
        for index, item in enumerate(value):
            try:
                out.append(item_rule(item))
            except Invalid:
                raise Invalid(f"item {index} must be one of {choices}") from None
        return out

    return check


def optional(rule: Rule) -> Rule:
    """``None``, or whatever ``rule`` accepts."""

    def check(value: Any) -> Any:
        if value is None:
            return None
        return rule(value)

    return check


if TYPE_CHECKING:
    UUID_TEXT: re.Pattern[str]
    """Every text form of a UUID that ``uuid.UUID`` reads (compiled on first use)."""


def __getattr__(name: str) -> Any:
    if name == "UUID_TEXT":  # a module attribute, compiled when first asked for
        return compiled(UUID_TEXT_PATTERN)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_uuid(value: Any) -> UUID:
    """A ``UUID``, or its string in any form ``uuid.UUID`` reads."""
    if type(value) is UUID:
        return value
    if isinstance(value, UUID):
        return UUID(int=value.int)
    if isinstance(value, str) and compiled(UUID_TEXT_PATTERN).match(value):
        return UUID(str(value))
    raise Invalid("must be a UUID or its string form")


_UTC = timezone.utc
_DATETIME_RULE = "must be a datetime or an RFC 3339 string such as 2026-01-31T12:00:00Z"
_UTC_RANGE_RULE = (
    "must be a moment that UTC can write (between 0001-01-01 and 9999-12-31 in UTC; "
    "this offset moves it out of that range)"
)


def _writable_in_utc(value: datetime) -> datetime:
    """``value``, when its instant lies within the years 1 to 9999 in UTC."""
    try:
        offset = value.utcoffset()
    except Exception:  # a hostile or broken tzinfo
        raise Invalid(_DATETIME_RULE) from None
    if offset:
        try:
            value.replace(tzinfo=None) - offset  # overflows outside years 1..9999
        except OverflowError:
            raise Invalid(_UTC_RANGE_RULE) from None
    return value


def to_datetime(value: Any) -> datetime:
    """A ``datetime`` (naive means UTC) or an RFC 3339 / ISO 8601 string, writable in UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=_UTC)
        try:
            offset = value.utcoffset()
        except Exception:  # a hostile or broken tzinfo
            raise Invalid(_DATETIME_RULE) from None
        if offset is None:
            return value.replace(tzinfo=_UTC)
        return _writable_in_utc(value)
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            pass
        else:
            return _writable_in_utc(parsed)
    raise Invalid(_DATETIME_RULE)


def dict_of_int(*keys: str) -> Rule:
    """A mapping holding at least ``keys``, each a non-negative int."""
    item_rule = int_range(0)
    wanted = ", ".join(repr(k) for k in keys)

    def check(value: Any) -> dict[str, int]:
        if not isinstance(value, Mapping):
            raise Invalid(f"must be an object with the keys {wanted}")
        out: dict[str, int] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Invalid("must have string keys")
            try:
                out[key] = item_rule(item)
            except Invalid as exc:
                raise Invalid(f"key {key!r} {exc.message}") from None
        missing = [k for k in keys if k not in out]
        if missing:
            raise Invalid(f"must have the keys {wanted}")
        return out

    return check


def str_map_or_none(value: Any) -> dict[str, str | None] | None:
    """``None``, or a mapping of strings to strings or ``None``."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise Invalid("must be an object of strings (or null)")
    out: dict[str, str | None] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not (item is None or isinstance(item, str)):
            raise Invalid("must map strings to strings or null")
        if not (utf8_ok(key) and (item is None or utf8_ok(item))):
            raise Invalid("must hold text that UTF-8 can encode (it holds a lone surrogate)")
        out[key] = item
    return out
