"""Wire text of UUIDs and timestamps: fast readers and writers, and the regexes on first use.

The fast forms (the canonical 36-character UUID, ``...Z`` timestamps) are read
without a regex; anything else goes to the full parsers, whose patterns are
compiled the first time they are needed (``re`` costs ~5 ms to import).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from os import urandom as _urandom
from uuid import UUID, SafeUUID

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import re
    from typing import Any, overload


__all__ = [
    "UUID_TEXT_PATTERN",
    "compiled",
    "format_datetime",
    "hex_uuid_text",
    "lazy_pattern",
    "new_uuid4",
    "new_uuid4_bits",
    "parse_datetime",
    "utc_from_text",
    "utc_text",
    "utf8_ok",
    "uuid_bits_from_text",
    "uuid_from_text",
    "uuid_of_int",
    "uuid_text",
]


def utf8_ok(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogate, as os.fsdecode makes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


UUID_TEXT_PATTERN = (
    r"\A(?:urn:uuid:)?\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}\}?\Z"
)
_RFC3339_PATTERN = (
    r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})"
    r"(?:[.,]([0-9]{1,9}))?)?(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?)?\Z"
)
_compiled: dict[str, re.Pattern[str]] = {}


def compiled(source: str) -> re.Pattern[str]:
    """``re.compile(source)``, on first use: ``re`` costs ~5 ms to import."""
    compiled = _compiled.get(source)
    if compiled is None:
        import re  # noqa: PLC0415  # only the rule paths need a regex

        compiled = _compiled[source] = re.compile(source)
    return compiled


class _LazyPattern:
    """A regex compiled when first used (``re.compile`` at import costs ~0.3 ms a pattern).

    ``search``, ``sub`` and the other methods of the compiled pattern are looked up
    through it; after the first use each is a plain attribute (no indirection left).
    """

    def __init__(self, source: str | bytes) -> None:
        self._source = source  # flags go inline: (?i), (?s)

    def __getattr__(self, name: str) -> Any:
        import re  # noqa: PLC0415  # on first use

        method = getattr(re.compile(self._source), name)
        setattr(self, name, method)
        return method


if TYPE_CHECKING:

    @overload
    def lazy_pattern(source: str) -> re.Pattern[str]: ...
    @overload
    def lazy_pattern(source: bytes) -> re.Pattern[bytes]: ...
    def lazy_pattern(source: str | bytes) -> re.Pattern[str] | re.Pattern[bytes]:
        """``re.compile(source)``, done when the pattern is first used."""

else:
    lazy_pattern = _LazyPattern


_new_object = object.__new__
_set_attribute = object.__setattr__
_SAFE_UNKNOWN = SafeUUID.unknown
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (4 << 76) | (0x8000 << 48)


def uuid_of_int(number: int) -> UUID:
    """``UUID(int=number)`` for a number known to be in range, without UUID.__init__'s checks."""
    value = _new_object(UUID)
    _set_attribute(value, "int", number)
    _set_attribute(value, "is_safe", _SAFE_UNKNOWN)
    return value


def new_uuid4_bits() -> int:
    """The 128 bits of a random (version 4) UUID, from ``os.urandom`` as ``uuid.uuid4()``."""
    return int.from_bytes(_urandom(16), "big") & _V4_CLEAR | _V4_SET


def new_uuid4() -> UUID:
    """A random (version 4) UUID, as ``uuid.uuid4()`` makes, faster."""
    return uuid_of_int(new_uuid4_bits())


_last_uuid: tuple[str, UUID] = ("", UUID(int=0))


def uuid_bits_from_text(text: str) -> int:
    """The 128 bits of a UUID in the canonical 36-character form.

    Raises:
        ValueError: ``text`` is not in the canonical form.
        TypeError: ``text`` is not a string.
    """
    if type(text) is not str or len(text) != 36:
        raise ValueError(text)
    if text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        raise ValueError(text)
    digits = text.replace("-", "")
    # ASCII letters and digits only (int() would also read "_", "+", spaces and
    # non-ASCII digits); int() then refuses any letter that is not hex.
    if len(digits) != 32 or not digits.isascii() or not digits.isalnum():
        raise ValueError(text)
    return int(digits, 16)


def uuid_from_text(text: str) -> UUID:
    """Parse the canonical 36-character form quickly (the last one is remembered).

    Raises:
        ValueError: ``text`` is not in the canonical form.
        TypeError: ``text`` is not a string.
    """
    global _last_uuid  # noqa: PLW0603  # one-entry cache: events repeat their instance_id
    last_text, last_value = _last_uuid
    if text == last_text:
        return last_value
    value = uuid_of_int(uuid_bits_from_text(text))
    _last_uuid = (text, value)
    return value


_last_text_of: tuple[UUID | None, str] = (None, "")


def uuid_text(value: UUID) -> str:
    """``str(value)``, remembering the last one (events repeat their instance_id)."""
    global _last_text_of  # noqa: PLW0603  # one-entry cache
    last_value, last_text = _last_text_of
    if value is last_value:
        return last_text
    text = hex_uuid_text(value.int)
    _last_text_of = (value, text)
    return text


def hex_uuid_text(number: int) -> str:
    """The canonical text of the UUID whose 128 bits are ``number`` (as ``str(UUID)``)."""
    h = number.to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# On 3.11+ datetime.fromisoformat reads "Z"; it is used for the common lengths only
# (seconds or microseconds, with "Z" or "+hh:mm"), after the RFC 3339 pattern matched.
_fromisoformat = datetime.fromisoformat
_READS_Z = sys.version_info >= (3, 11)
_ISO_LENGTHS = frozenset({20, 25, 27, 32})
_UTC = timezone.utc


def utc_from_text(text: str) -> datetime:
    """Read the usual wire form (``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``) as a UTC datetime, fast.

    Raises:
        ValueError: ``text`` is of another form (the full parser then decides).
        TypeError: ``text`` is not a string.
    """
    size = len(text)
    if (
        (size != 20 and size != 27)  # noqa: PLR1714  # two compares beat a set lookup here
        or text[-1] != "Z"
        or text[10] != "T"
        or text[4] != "-"
        or text[7] != "-"
        or text[13] != ":"
        or text[16] != ":"
        or (size == 27 and text[19] != ".")
        or not text.isascii()
    ):
        raise ValueError(text)
    # The fixed shape and ASCII leave only digits to check, which fromisoformat does.
    value = _fromisoformat(text if _READS_Z else text[:-1] + "+00:00")
    if value.tzinfo is not _UTC:
        raise ValueError(text)
    return value


def parse_datetime(text: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp; a value without offset is UTC.

    Raises:
        ValueError: the text is not such a timestamp.
    """
    match = compiled(_RFC3339_PATTERN).match(text)
    if match is None:
        raise ValueError(text)
    if _READS_Z and len(text) in _ISO_LENGTHS:
        try:  # the C parser, for the forms it reads exactly as the rules below would
            value = _fromisoformat(text)
        except ValueError:
            pass
        else:
            return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = _UTC
    if sign is not None and not zulu:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= timedelta(days=1):
            raise ValueError(text)
        tz = timezone(-offset if sign == "-" else offset)
    return datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        tzinfo=tz,
    )


def utc_text(value: datetime) -> str:
    """RFC 3339 text of a datetime in UTC, microseconds only when non-zero.

    The fields formatted at once: about twice as fast as an aware ``isoformat()``,
    which looks the offset up through the tzinfo.
    """
    micro = value.microsecond
    if micro:
        return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031  # fastest form
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            micro,
        )
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
    )


def format_datetime(value: datetime) -> str:
    """RFC 3339 text: ``Z`` for UTC, microseconds only when non-zero."""
    if value.tzinfo is _UTC:  # the common case, without a copy
        return utc_text(value)
    offset = value.utcoffset()
    if offset is None or not offset:
        return value.replace(tzinfo=None).isoformat() + "Z"
    if offset % _MINUTE:  # RFC 3339 offsets have no seconds: write the instant in UTC
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


_MINUTE = timedelta(minutes=1)
