"""Base class of the models: a class body is a field table; methods come from ``_generated``.

``class M(Model): name: T = field(KIND, ...)`` declares a model. The metaclass reads
the table, gives the class ``__slots__`` and installs the constructor, ``__eq__``,
``__repr__``, ``to_dict`` (and, for hot models, the wire reader and the JSON writer)
that ``_codegen`` wrote into ``_generated`` from the same table. The reference
behaviour is here, written once over the table: the rules (``_validate``), the
generic ``from_dict`` and ``_reference_to_dict``; a test keeps ``_generated`` up to
date and property tests keep the two in agreement. ``dataclasses.fields()`` and
``replace()`` work on every model (their view is built on first use, so that the
package never imports ``dataclasses`` for it).
"""

from __future__ import annotations

from collections.abc import Mapping

from . import _generated
from ._fields import MISSING, FieldSpec, field
from ._transform import dataclass_transform
from ._validation import check_fields
from .errors import ValidationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    from ._validation import Rule

    M = TypeVar("M", bound="Model")


__all__ = ["Model", "generated_shape", "kind_signature"]

_ROOT = "__root__"


class _DataclassView:
    """``__dataclass_fields__``/``__dataclass_params__`` of a model, made when first read."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, instance: object, owner: type[Model]) -> Any:
        import dataclasses  # noqa: PLC0415  # introspection only: import stays cheap

        specs = []
        for f in owner._FIELDS:
            if f.default_factory is not None:
                spec = dataclasses.field(default_factory=f.default_factory)
            elif f.default is not MISSING:
                spec = dataclasses.field(default=f.default)
            else:
                spec = dataclasses.field()
            annotation = f.type or getattr(owner, "__annotations__", {}).get(f.name, "Any")
            specs.append((f.name, annotation, spec))
        shadow = dataclasses.make_dataclass(owner.__name__, specs, kw_only=True)
        view: Any = shadow
        setattr(owner, "__dataclass_fields__", view.__dataclass_fields__)  # noqa: B010
        setattr(owner, "__dataclass_params__", view.__dataclass_params__)  # noqa: B010
        return getattr(owner if instance is None else instance, self._name)


@dataclass_transform(kw_only_default=True, field_specifiers=(field,))
class _ModelType(type):
    """Turns a class body's field table into slots and generated methods."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        # The table is the FieldSpec values in the order of the class body (a class
        # namespace keeps it); the annotations only name the types, and may be lazy
        # (PEP 649), so they are read when present and never needed.
        annotations = namespace.get("__annotations__") or {}
        specs: list[FieldSpec] = []
        for field_name, spec in list(namespace.items()):
            if isinstance(spec, FieldSpec):
                del namespace[field_name]
                spec.name, spec.type = field_name, annotations.get(field_name, "")
                specs.append(spec)
        if not bases:  # Model itself
            return super().__new__(mcs, name, bases, namespace)
        namespace["__slots__"] = tuple(f"_{s.name}" if s.kind.raw else s.name for s in specs)
        for spec in specs:
            if spec.kind.raw:  # kept compact in _<name>; read and set through a property
                namespace[spec.name] = spec.kind.make_property(f"_{spec.name}")
        namespace.setdefault("__match_args__", ())  # kw-only fields, as dataclasses does
        cls: Any = super().__new__(mcs, name, bases, namespace)
        fields = tuple(specs)
        cls._FIELDS = fields
        cls._FIELD_NAMES = tuple(s.name for s in specs)
        cls._REQUIRED = frozenset(s.name for s in specs if s.required)
        cls._RULES = tuple((s.name, s.kind.rule) for s in specs)
        factory = getattr(_generated, f"{name}_methods", None)
        if factory is None or _generated.FIELDS.get(name) != generated_shape(fields):
            # Only while the tables are being changed (a test fails meanwhile): the
            # reference methods keep the package importable, so _codegen can run.
            cls._STALE = True
            methods = _reference_methods()
        else:
            methods = factory(cls, fields)
        for method_name, method in methods.items():
            if method_name not in namespace:  # a hand-written method wins
                setattr(cls, method_name, method)
        return cls


def _reference_methods() -> dict[str, Any]:
    """Constructor, comparison and wire form written over the table (slow, always right)."""

    def __init__(self: Model, **kwargs: Any) -> None:
        values: dict[str, Any] = {}
        for spec in self._FIELDS:
            if spec.name in kwargs:
                values[spec.name] = kwargs.pop(spec.name)
            elif spec.default_factory is not None:
                values[spec.name] = spec.default_factory()
            elif spec.default is not MISSING:
                values[spec.name] = spec.default
            else:
                raise TypeError(f"missing required keyword-only argument: {spec.name!r}")
        if kwargs:
            raise TypeError(f"unexpected keyword argument: {next(iter(kwargs))!r}")
        check_fields(type(self).__name__, self._RULES, values)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __eq__(self: Model, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._FIELD_NAMES)

    def __repr__(self: Model) -> str:
        parts = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._FIELD_NAMES)
        return f"{type(self).__qualname__}({parts})"

    return {
        "__init__": __init__,
        "__eq__": __eq__,
        "__repr__": __repr__,
        "to_dict": Model._reference_to_dict,
    }


def generated_shape(fields: tuple[FieldSpec, ...]) -> tuple[tuple[str, str], ...]:
    """What ``_generated`` records of a table: each field's name and kind (and bounds)."""
    return tuple((f.name, kind_signature(f.kind)) for f in fields)


def kind_signature(kind: Any) -> str:
    """A kind's class and parameters, as text (stale generated code shows as a mismatch)."""
    parts = [type(kind).__name__]
    for attr in ("lo", "hi"):
        if hasattr(kind, attr):
            parts.append(f"{attr}={getattr(kind, attr)!r}")
    inner = getattr(kind, "inner", None)
    if inner is not None:
        parts.append(kind_signature(inner))
    return ",".join(parts)


class Model(metaclass=_ModelType):
    """Validation on construction, ``to_dict``/``from_dict`` and their JSON forms."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value, as dataclasses
    __dataclass_fields__ = _DataclassView()
    __dataclass_params__ = _DataclassView()

    _FIELDS: ClassVar[tuple[FieldSpec, ...]] = ()
    _RULES: ClassVar[tuple[tuple[str, Rule], ...]] = ()
    _FIELD_NAMES: ClassVar[tuple[str, ...]] = ()
    _REQUIRED: ClassVar[frozenset[str]] = frozenset()
    _STALE: ClassVar[bool] = False

    def _validate(self) -> None:
        """Coerce and check every field by the model's rules (the reference path)."""
        values = {name: getattr(self, name) for name in self._FIELD_NAMES}
        check_fields(type(self).__name__, self._RULES, values)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _reference_to_dict(self) -> dict[str, Any]:
        """``to_dict`` by the rules alone: the wire form the generated one must equal."""
        import json  # noqa: PLC0415  # tests only

        out: dict[str, Any] = {}
        for spec in self._FIELDS:
            value = getattr(self, spec.name)
            out[spec.name] = json.loads(json.dumps(value, default=_wire_default))
        return out

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

        An absent optional field takes its default (``None`` for a nullable one).

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


def _wire_default(value: Any) -> Any:
    """JSON form of the non-JSON values a model holds, by type alone (the reference)."""
    from datetime import datetime  # noqa: PLC0415
    from enum import Enum  # noqa: PLC0415
    from uuid import UUID  # noqa: PLC0415

    from ._validation import format_datetime  # noqa: PLC0415

    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Model):
        return value._reference_to_dict()
    raise TypeError(f"{type(value).__name__} is not a wire value")
