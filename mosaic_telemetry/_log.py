"""Loggers that load ``logging`` on their first record and never let host logging hurt us.

Two guards sit around every record the client emits: an exception raised by the
host's filters or handlers (``Handler.handle()`` guards ``emit()``, not
``filter()``) is swallowed here, so it never reaches the host through ``flush()``
nor ends a worker thread; and while a record is being handled, :data:`emitting`
holds that thread, so ``track()`` can refuse an event a host handler makes out of
the client's own record (a loop that would feed on itself). A finalizer or signal
handler that happens to call ``track()`` inside that window is refused the same
way: counted in ``dropped_feedback``, never lost from the counts.
"""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

__all__ = ["DEBUG", "LazyLogger", "emitting"]

_PACKAGE = __name__.rpartition(".")[0]

DEBUG = 10
_INFO, _WARNING, _ERROR = 20, 30, 40


emitting: dict[int, bool] = {}
"""The threads (by ident) inside one of this package's log calls right now.

Empty nearly always, so ``track()`` pays one truth test; each thread adds and
removes its own key only.
"""


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

    def _unheard(self, level: int) -> bool:
        """A debug or info record while ``logging`` was never imported: no handler can exist.

        Nothing can have configured logging without importing it, and unconfigured,
        only WARNING and above reach a handler (``logging.lastResort``): importing
        ``logging`` for such a record (~20 ms of a cold start) would only drop it.
        """
        return level < _WARNING and self._logger is None and "logging" not in sys.modules

    def enabled_for(self, level: int) -> bool:
        """Whether a record at ``level`` would be handled (to skip building costly ones)."""
        if self._unheard(level):
            return False
        try:
            return self._get().isEnabledFor(level)
        except Exception:  # a host's broken logging setup
            return False

    def _log(
        self, level: int, msg: object, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> None:
        if self._unheard(level):
            return
        try:
            logger = self._get()
            if not logger.isEnabledFor(level):
                return  # no handler will run: nothing to guard
        except Exception:  # a host's broken logging setup
            return
        ident = threading.get_ident()
        outer = ident in emitting  # a record logged while emitting one (a handler's own)
        emitting[ident] = True
        try:
            logger.log(level, msg, *args, stacklevel=3, **kwargs)  # type: ignore[arg-type]
        except Exception:  # noqa: S110  # a host filter or handler raised: not our caller's problem
            pass
        finally:
            if not outer:
                emitting.pop(ident, None)

    def debug(self, msg: object, *args: object, **kwargs: object) -> None:
        self._log(DEBUG, msg, args, kwargs)

    def info(self, msg: object, *args: object, **kwargs: object) -> None:
        self._log(_INFO, msg, args, kwargs)

    def warning(self, msg: object, *args: object, **kwargs: object) -> None:
        self._log(_WARNING, msg, args, kwargs)

    def error(self, msg: object, *args: object, **kwargs: object) -> None:
        self._log(_ERROR, msg, args, kwargs)

    def exception(self, msg: object, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("exc_info", True)
        self._log(_ERROR, msg, args, kwargs)
