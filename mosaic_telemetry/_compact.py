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
]

_VALUE_OF = attrgetter("_value_")
_MAX_SHARED = 4096  # distinct gate lists remembered; past that, each gets its own tuple


class Members(tuple):  # type: ignore[type-arg]  # of enum members, any enum
    """A shared tuple of enum members that validation made (never a caller's tuple)."""

    __slots__ = ()


NO_MEMBERS = Members()
_shared: dict[tuple[Any, ...], Members] = {}


def share(enum_cls: type[Any], members: list[Any]) -> Members:
    """The shared tuple of ``members`` (valid members of ``enum_cls``)."""
    key = (enum_cls, *map(_VALUE_OF, members))
    found = _shared.get(key)
    if found is None:
        found = Members(members)
        if len(_shared) < _MAX_SHARED:
            _shared[key] = found
    return found


def share_values(enum_cls: type[Any], values: list[Any]) -> Members:
    """The shared tuple of the members whose values are ``values`` (wire text).

    Raises:
        KeyError: a value is not one of ``enum_cls``'s.
        TypeError: a value is unhashable.
    """
    found = _shared.get((enum_cls, *values))
    if found is not None:
        return found
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
        h = "%032x" % raw  # noqa: UP031  # what UUID.__str__ does
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(raw.value if type(raw) is _Assigned else raw)  # each id once: no cache


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
