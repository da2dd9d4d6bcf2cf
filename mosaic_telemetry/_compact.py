"""Compact storage for the fields every queued event carries: generated ids, gate lists.

A queued event should cost little memory (issue 17: at most 600 B). Two fields are
kept in a smaller form until someone reads them, and read back as what the table
says they are:

- a generated ``event_id`` is kept as its 128-bit int (a UUID object and its int
  cost 104 B; the int alone 48 B) and becomes a ``uuid.UUID`` on first read;
- a gate list is kept as a shared, immutable tuple of members (one per distinct
  list, so none per event) and becomes the event's own ``list`` on first read, so
  that ``event.quality_gates_run.append(...)`` works as on any list.

The writers read the compact forms directly. Whatever a caller assigns is kept as
it is (a plain int assigned to ``event_id`` is wrapped, so that it is never taken
for a generated id).
"""

from __future__ import annotations

from operator import attrgetter
from uuid import UUID

from ._text_forms import hex_uuid_text
from ._validation import new_uuid4_bits, uuid_bits_from_text, uuid_of_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


__all__ = [
    "NO_MEMBERS",
    "Members",
    "id_property",
    "id_text",
    "members_property",
    "new_uuid4_bits",
    "share",
    "share_values",
    "uuid_bits_from_text",
    "wire_json",
    "wire_values",
]

_VALUE_OF = attrgetter("_value_")
_MAX_SHARED = 4096  # distinct gate lists remembered; past that, each gets its own tuple


class Members(tuple):  # type: ignore[type-arg]  # of enum members, any enum
    """A shared tuple of enum members that validation made (never a caller's tuple).

    ``values`` holds the members' values, so that writers copy them instead of
    looking each one up (shared objects: their ``__dict__`` costs nothing per event).
    """

    values: tuple[str, ...] = ()
    json: str = "[]"


NO_MEMBERS = Members()


def _list_json(values: tuple[str, ...] | list[str]) -> str:
    # Enum values of the schema are [a-z_]: nothing to escape.
    return '["' + '","'.join(values) + '"]' if values else "[]"


def wire_json(stored: Any) -> str:
    """The JSON text of a gate field's stored form (valid members)."""
    if type(stored) is Members:
        return stored.json
    return _list_json(list(map(_VALUE_OF, stored)))


def wire_values(stored: Any) -> list[Any]:
    """The wire list of a gate field's stored form (a shared tuple, or a list of members)."""
    if type(stored) is Members:
        return [*stored.values]
    return list(map(_VALUE_OF, stored))


# Per enum class: shared tuples by their members, and by their members' values (wire
# text). Members hash by name and text by itself, so the two never share a key space.
_by_members: dict[type[Any], dict[tuple[Any, ...], Members]] = {}
_by_values: dict[type[Any], dict[tuple[Any, ...], Members]] = {}


def _remember(enum_cls: type[Any], members: tuple[Any, ...]) -> Members:
    shared = Members(members)
    shared.values = tuple(map(_VALUE_OF, members))
    shared.json = _list_json(shared.values)
    known = _by_members.setdefault(enum_cls, {})
    if len(known) < _MAX_SHARED:
        known[members] = shared
        _by_values.setdefault(enum_cls, {})[shared.values] = shared
    return shared


def share(enum_cls: type[Any], members: list[Any]) -> Members:
    """The shared tuple of ``members`` (valid members of ``enum_cls``)."""
    key = tuple(members)
    try:
        return _by_members[enum_cls][key]
    except KeyError:
        return _remember(enum_cls, key)


def share_values(enum_cls: type[Any], values: list[Any]) -> Members:
    """The shared tuple of the members whose values are ``values`` (wire text).

    Raises:
        KeyError: a value is not one of ``enum_cls``'s.
        TypeError: a value is unhashable.
    """
    try:
        return _by_values[enum_cls][tuple(values)]
    except KeyError:
        lookup = enum_cls._value2member_map_
        return share(enum_cls, [lookup[value] for value in values])


class _Assigned:
    """A plain int a caller assigned to an id field (kept apart from generated bits)."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


def id_text(raw: Any) -> str:
    """The wire text of an id field's stored value (generated bits or a UUID)."""
    if type(raw) is int:
        return hex_uuid_text(raw)
    if type(raw) is UUID:
        return hex_uuid_text(raw.int)  # each id once: no cache
    return str(raw.value if type(raw) is _Assigned else raw)


def id_property(slot: str) -> property:
    """The public attribute over ``slot``: a UUID made from generated bits on first read."""
    get_raw = attrgetter(slot)

    def get(self: Any) -> Any:
        raw = get_raw(self)
        if type(raw) is int:
            raw = uuid_of_int(raw)
            object.__setattr__(self, slot, raw)
        elif type(raw) is _Assigned:
            return raw.value
        return raw

    def set_(self: Any, value: Any) -> None:
        object.__setattr__(self, slot, _Assigned(value) if type(value) is int else value)

    return property(get, set_)


def members_property(slot: str) -> property:
    """The public attribute over ``slot``: the event's own list, made on first read."""
    get_raw = attrgetter(slot)

    def get(self: Any) -> Any:
        raw = get_raw(self)
        if type(raw) is Members:
            raw = list(raw)
            object.__setattr__(self, slot, raw)
        return raw

    def set_(self: Any, value: Any) -> None:
        object.__setattr__(self, slot, value)

    return property(get, set_)
