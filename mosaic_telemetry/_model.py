"""Base class of the dataclass models: validation hook and JSON round trip."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ._validation import check_fields
from .errors import ValidationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    from ._validation import Rule


__all__ = ["Model", "finish_model"]

if TYPE_CHECKING:
    M = TypeVar("M", bound="Model")
_ROOT = "__root__"


class Model:
    """Validation on construction, ``to_dict``/``from_dict`` and their JSON forms."""

    __slots__ = ()

    _RULES: ClassVar[tuple[tuple[str, Rule], ...]] = ()
    _FIELD_NAMES: ClassVar[tuple[str, ...]] = ()
    _REQUIRED: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        """Coerce and check every field by the model's rules."""
        values = {name: getattr(self, name) for name in self._FIELD_NAMES}
        check_fields(type(self).__name__, self._RULES, values)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        raise NotImplementedError

    def to_json(self) -> str:
        """Return the compact JSON text of :meth:`to_dict`."""
        import json  # noqa: PLC0415  # loaded on first use: import stays cheap

        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        """Validate a mapping of the wire format and build the model (unknown keys ignored).

        Raises:
            ValidationError: a field is missing or breaks its rule; every failure is named.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(
                cls.__name__, [{"field": _ROOT, "message": "must be a JSON object", "value": data}]
            )
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for name in cls._FIELD_NAMES:
            if name in data:
                values[name] = data[name]
            elif name in cls._REQUIRED:
                errors.append({"field": name, "message": "is required", "value": None})
        check_fields(cls.__name__, cls._RULES, values, errors)
        return cls(**values)

    @classmethod
    def from_json(cls: type[M], text: str | bytes | bytearray) -> M:
        """Parse JSON text and build the model with :meth:`from_dict`.

        Raises:
            ValidationError: the text is not JSON, or the object breaks a rule.
        """
        import json  # noqa: PLC0415  # loaded on first use: import stays cheap

        try:
            data = json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            raise ValidationError(
                cls.__name__,
                [{"field": _ROOT, "message": f"must be valid JSON ({reason})", "value": text}],
            ) from None
        return cls.from_dict(data)


def finish_model(cls: type[M]) -> type[M]:
    """Record a dataclass model's field names and required fields (run once per class)."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # cls is a dataclass here
    cls._FIELD_NAMES = tuple(f.name for f in fields)
    cls._REQUIRED = frozenset(
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    return cls
