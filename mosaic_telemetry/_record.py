"""``@record``: what ``@dataclass`` makes of a small class, without importing ``dataclasses``.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``, ``re``):
about half of this package's import and of a cold start. ``record`` reads the class
body's annotations and defaults (the class is its own field table, as for a
dataclass) and installs the same ``__init__`` (positional or keyword, calling
``__post_init__``), ``__repr__``, ``__eq__``, ``__hash__``, ``__match_args__``, frozen
``__setattr__``/``__delattr__`` and ``__slots__`` (the methods come ready from
``_records``, see :func:`_methods`); ``dataclasses.fields()``, ``replace()``,
``asdict()`` and ``is_dataclass()`` work through a view made on first use
(``dataclasses`` is imported then). ``tests/test_record.py`` holds each record
against the ``@dataclass`` it stands for.
"""

from __future__ import annotations

from . import _records
from ._transform import dataclass_transform

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")


__all__ = ["method_source", "record", "record_fields"]

_MISSING = object()


@dataclass_transform()
def record(
    *, frozen: bool = False, slots: bool = False, repr: bool = True
) -> Callable[[type[T]], type[T]]:
    """A class decorator that does what ``@dataclass(frozen=..., slots=..., repr=...)`` does.

    Raises:
        TypeError: a field without a default after one with a default.
        ValueError: a list, dict or set as a default (shared by every instance).
    """
    return lambda cls: _build(cls, frozen=frozen, slots=slots, with_repr=repr)


def record_fields(cls: type) -> tuple[str, ...]:
    """The field names of a :func:`record` class, in order."""
    names: tuple[str, ...] = cls.__dict__["_record_fields"]
    return names


def _build(cls: Any, *, frozen: bool, slots: bool, with_repr: bool) -> Any:
    namespace = dict(cls.__dict__)
    annotations: dict[str, object] = namespace.get("__annotations__", {})
    names = tuple(n for n, a in annotations.items() if not str(a).startswith("ClassVar"))
    defaults: dict[str, object] = {}
    for name in names:
        if name in namespace:
            value = namespace[name]
            if type(value) in (list, dict, set):
                raise ValueError(f"mutable default {type(value)} for field {name} is not allowed")
            defaults[name] = value
            if slots:
                del namespace[name]  # a slot and a class attribute can't share a name
    if slots:
        namespace["__slots__"] = names
        namespace["__qualname__"] = cls.__qualname__
        namespace.pop("__dict__", None)
        namespace.pop("__weakref__", None)
        new: Any = type(cls)(cls.__name__, cls.__bases__, namespace)
        cls = new
    qualname = cls.__qualname__
    methods = _methods(
        qualname, names, defaults, frozen=frozen, post_init=hasattr(cls, "__post_init__")
    )
    init: Any = methods["__init__"]
    init.__annotations__ = {name: annotations[name] for name in names} | {"return": None}
    own = cls.__dict__
    for name, method in methods.items():
        if name == "__repr__" and (not with_repr or "__repr__" in own):
            continue
        if name == "__eq__" and "__eq__" in own:
            continue
        method.__qualname__ = f"{qualname}.{name}"
        setattr(cls, name, method)
    if "__hash__" not in own or own["__hash__"] is None:
        cls.__hash__ = methods["_hash"] if frozen else None
    del cls._hash
    setattr(cls, "__match_args__", names)  # noqa: B010  # mypy refuses the plain form
    cls._record_fields = names
    cls._record_defaults = tuple(defaults)
    cls._record_frozen = frozen
    if frozen:
        cls.__setattr__ = _frozen_setattr(cls, names)
        cls.__delattr__ = _frozen_delattr(cls, names)
        if slots:
            cls.__getstate__ = lambda self: [getattr(self, n) for n in names]
            cls.__setstate__ = _setstate(names)
    for attribute in ("__dataclass_fields__", "__dataclass_params__"):
        setattr(cls, attribute, _DataclassView(cls, attribute, defaults, frozen=frozen))
    return cls


def _methods(
    qualname: str,
    names: tuple[str, ...],
    defaults: dict[str, object],
    *,
    frozen: bool,
    post_init: bool,
) -> dict[str, Any]:
    """``__init__``, ``__repr__``, ``__eq__`` and the frozen hash of a record class.

    The package's own records find them ready in ``_records`` (written by
    ``python -m mosaic_telemetry._recordgen``; its bytecode is cached like any
    module's); any other class, or one whose fields changed since, compiles them.
    """
    key, source = method_source(qualname, names, set(defaults), frozen=frozen, post_init=post_init)
    values = [defaults[name] for name in names if name in defaults]
    factory: Any = _records.FACTORIES.get(key)
    if factory is None:
        env: dict[str, Any] = {}
        exec(compile(source, f"<record {qualname}>", "exec"), env)  # noqa: S102  # nosec B102  # source made here from field names
        factory = env["factory"]
    made = factory(object.__setattr__, *values)
    return dict(zip(("__init__", "__repr__", "__eq__", "_hash"), made, strict=True))


def method_source(
    qualname: str, names: tuple[str, ...], defaulted: set[str], *, frozen: bool, post_init: bool
) -> tuple[str, str]:
    """The key and the source of the factory of a record's methods (``def factory(...)``).

    Raises:
        TypeError: a field without a default after one with a default.
    """
    params = []
    for name in names:
        if name in defaulted:
            params.append(f"{name}=_d_{name}")
        elif len(params) > len([n for n in params if "=" not in n]):
            raise TypeError(f"non-default argument {name!r} follows default argument")
        else:
            params.append(name)
    store = "_set(self, {0!r}, {0})" if frozen else "self.{0} = {0}"
    body = [store.format(name) for name in names] or ["pass"]
    if post_init:
        body.append("self.__post_init__()")
    values = ", ".join(f"self.{n}" for n in names)
    others = ", ".join(f"other.{n}" for n in names)
    shown = ", ".join(f"{n}={{self.{n}!r}}" for n in names)
    factory_params = ", ".join(["_set", *(f"_d_{n}" for n in names if n in defaulted)])
    lines = [
        f"def factory({factory_params}):",
        f"    def __init__(self, {', '.join(params)}):",
        *(f"        {line}" for line in body),
        "    def __repr__(self):",
        f"        return f'{{type(self).__qualname__}}({shown})'",
        "    def __eq__(self, other):",
        "        if other.__class__ is self.__class__:",
        f"            return ({values},) == ({others},)",
        "        return NotImplemented",
        "    def _hash(self):",
        f"        return hash(({values},))",
        "    return __init__, __repr__, __eq__, _hash",
    ]
    key = f"{qualname}({', '.join(params)}) frozen={frozen} post_init={post_init}"
    return key, "\n".join(lines)


def _frozen_error(message: str) -> Exception:
    import dataclasses  # noqa: PLC0415  # the error only: import stays cheap

    return dataclasses.FrozenInstanceError(message)


def _frozen_setattr(cls: Any, names: tuple[str, ...]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise _frozen_error(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    return __setattr__


def _frozen_delattr(cls: Any, names: tuple[str, ...]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise _frozen_error(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __delattr__


def _setstate(names: tuple[str, ...]) -> Callable[[Any, list[Any]], None]:
    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=True):
            object.__setattr__(self, name, value)

    return __setstate__


class _DataclassView:
    """``__dataclass_fields__`` or ``__dataclass_params__``, from a shadow dataclass when read."""

    def __init__(
        self, cls: type, attribute: str, defaults: dict[str, object], *, frozen: bool
    ) -> None:
        self._cls = cls
        self._attribute = attribute
        self._defaults = defaults
        self._frozen = frozen

    def __get__(self, instance: object, owner: type) -> Any:
        import dataclasses  # noqa: PLC0415  # introspection only: import stays cheap

        cls = self._cls
        annotations = getattr(cls, "__annotations__", {})
        specs: list[Any] = []
        for name in record_fields(cls):
            default = self._defaults.get(name, _MISSING)
            spec = (
                dataclasses.field() if default is _MISSING else dataclasses.field(default=default)
            )
            specs.append((name, annotations.get(name, "Any"), spec))
        shadow: Any = dataclasses.make_dataclass(cls.__name__, specs, frozen=self._frozen)
        type.__setattr__(cls, "__dataclass_fields__", shadow.__dataclass_fields__)
        type.__setattr__(cls, "__dataclass_params__", shadow.__dataclass_params__)
        return getattr(cls, self._attribute)
