"""Loggers that load the logging module on their first record, not at import."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

__all__ = ["LazyLogger"]

_PACKAGE = __name__.rpartition(".")[0]


class LazyLogger:
    """Stands for ``logging.getLogger(name)``; the real logger is made on first use.

    The first one made also gives the package logger its ``NullHandler``: a
    library never configures logging, the host decides where records go.
    """

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: logging.Logger | None = None

    def _get(self) -> logging.Logger:
        logger = self._logger
        if logger is None:
            import logging  # noqa: PLC0415  # only when something is logged

            package = logging.getLogger(_PACKAGE)
            if not any(type(h) is logging.NullHandler for h in package.handlers):
                package.addHandler(logging.NullHandler())
            logger = self._logger = logging.getLogger(self._name)
        return logger

    def debug(self, msg: object, *args: object, **kwargs: object) -> None:
        self._get().debug(msg, *args, stacklevel=2, **kwargs)  # type: ignore[arg-type]

    def info(self, msg: object, *args: object, **kwargs: object) -> None:
        self._get().info(msg, *args, stacklevel=2, **kwargs)  # type: ignore[arg-type]

    def warning(self, msg: object, *args: object, **kwargs: object) -> None:
        self._get().warning(msg, *args, stacklevel=2, **kwargs)  # type: ignore[arg-type]

    def error(self, msg: object, *args: object, **kwargs: object) -> None:
        self._get().error(msg, *args, stacklevel=2, **kwargs)  # type: ignore[arg-type]

    def exception(self, msg: object, *args: object, **kwargs: object) -> None:
        self._get().exception(msg, *args, stacklevel=2, **kwargs)  # type: ignore[arg-type]
