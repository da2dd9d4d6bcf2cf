"""Exception classes raised by mosaic_telemetry."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any


__all__ = ["ConfigurationError", "TelemetryError", "ValidationError"]

_MAX_VALUE_REPR = 60


def _short_repr(value: object) -> str:
    """Return ``repr(value)`` cut to a readable length."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not hide the real error
        text = f"<unrepresentable {type(value).__name__}>"
    if len(text) > _MAX_VALUE_REPR:
        text = text[: _MAX_VALUE_REPR - 3] + "..."
    return text


class TelemetryError(Exception):
    """Base class of every error raised by mosaic_telemetry."""


class ConfigurationError(TelemetryError, ValueError):
    """A configuration value can't be used (for example a URL with CR/LF)."""


class ValidationError(TelemetryError, ValueError):
    """One or more fields of a model broke their rules.

    The message names every failing field, its value (shortened) and the rule;
    :attr:`errors` gives the same as data.
    """

    def __init__(self, model: str, errors: list[dict[str, Any]]) -> None:
        self.model = model
        self._errors = [dict(e) for e in errors]
        super().__init__(model, self._errors)

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Each failure as ``{"field", "message", "value"}`` (a fresh copy)."""
        return [dict(e) for e in self._errors]

    def __str__(self) -> str:
        count = len(self._errors)
        noun = "error" if count == 1 else "errors"
        parts = "; ".join(
            f"{e['field']}: {e['message']}, got {_short_repr(e['value'])}" for e in self._errors
        )
        return f"{count} validation {noun} for {self.model}: {parts}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.model, [_picklable(e) for e in self._errors]))


def _picklable(error: dict[str, Any]) -> dict[str, Any]:
    """``error`` with a value that pickles (else its short repr), so the error travels."""
    import pickle  # noqa: PLC0415  # nosec B403  # only when an error is pickled; dumps, never loads

    try:
        pickle.dumps(error["value"])
    except Exception:
        return {**error, "value": _short_repr(error["value"])}
    return error
