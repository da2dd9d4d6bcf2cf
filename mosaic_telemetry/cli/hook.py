"""``hook``: run from a harness's hook; sends the turns that finished, never in the way.

A hook run always exits 0, prints nothing on stdout, and returns within its budget
(plus interpreter start and exit): all the work runs on a daemon thread that the
main thread waits for with a timeout, so a hanging server, a silent stdin or a huge
transcript cannot hold the harness. Problems go to ``hook.log`` in the state
directory, and to stderr with ``-v``. A mistyped command line exits 0 too: a hook
that exits 2 would block the harness.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from typing import NoReturn

from ._common import EXIT_OK, PACKAGE_LOGGER, add_client_flags, config_from

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from ..adapters._hook import HookReport
    from ..adapters._pricing import PriceTable

__all__ = ["BUDGET_ENV", "DEFAULT_BUDGET_S", "HARNESSES", "NEEDS", "register"]

NEEDS = ("adapters",)
HARNESSES = ("claude-code", "codex")
BUDGET_ENV = "MOSAIC_TELEMETRY_HOOK_BUDGET"
DEFAULT_BUDGET_S = 2.0
MAX_BUDGET_S = 60.0
_EXIT_RESERVE_S = 0.25  # the wait ends this long before the budget: interpreter exit fits
_SAVE_MARGIN_S = 0.15  # the send stops this much earlier still, to save the cursor
_LOG_NAME = "hook.log"
_LOG_BYTES = 512 * 1024

logger = logging.getLogger(__name__)


class _HookParser(argparse.ArgumentParser):
    """A parser whose mistakes end the run quietly with status 0 (logged when it can be)."""

    def error(self, message: str) -> NoReturn:
        _log_early(f"hook: command line problem: {message}")
        raise SystemExit(EXIT_OK)

    def parse_known_args(  # type: ignore[override]  # same call, extras dropped
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            _log_early(f"hook: ignored unknown arguments {' '.join(extras)[:200]!r}")
        return parsed, []


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``hook`` command to the parser."""
    hook = commands.add_parser(
        "hook", help="run as a Claude Code or Codex hook: send finished turns, always exit 0"
    )
    hook.__class__ = _HookParser  # a hook's command line must never exit 2 (it blocks the harness)
    hook.add_argument("harness", metavar="HARNESS", help=" or ".join(HARNESSES))
    hook.add_argument(
        "--budget",
        default=None,
        metavar="SECONDS",
        help=f"time the run may take (default {DEFAULT_BUDGET_S:g}, or {BUDGET_ENV})",
    )
    hook.add_argument(
        "--state-dir",
        default=None,
        metavar="DIR",
        help="cursors and hook.log (default: MOSAIC_TELEMETRY_SPOOL_DIR, else "
        "$XDG_STATE_HOME/mosaic-telemetry)",
    )
    hook.add_argument(
        "--prices", default=None, metavar="FILE", help="price override file (as for ingest)"
    )
    add_client_flags(hook)
    hook.set_defaults(handler=run)


def budget_seconds(flag: str | None, environ: dict[str, str] | os._Environ[str]) -> float:
    """The run's budget: the flag, else the environment, else the default (bad values too)."""
    for text in (flag, environ.get(BUDGET_ENV)):
        if text is None or not str(text).strip():
            continue
        try:
            value = float(text)
        except ValueError:
            logger.warning("hook: budget %r is not a number; using %gs", text, DEFAULT_BUDGET_S)
            return DEFAULT_BUDGET_S
        if not 0 < value <= MAX_BUDGET_S:
            logger.warning("hook: budget %r is out of (0, %g]; using %gs", text, MAX_BUDGET_S,
                           DEFAULT_BUDGET_S)  # fmt: skip
            return DEFAULT_BUDGET_S
        return value
    return DEFAULT_BUDGET_S


def run(args: argparse.Namespace) -> int:
    """Do the work on a daemon thread; wait for it at most the budget; exit 0 whatever happens."""
    started = time.monotonic() - _process_age_s()  # the budget covers interpreter start too
    package = logging.getLogger(PACKAGE_LOGGER)
    handler = None
    level = package.level
    try:
        handler, state_dir = _open_log(args.state_dir)
        if handler is not None:
            package.addHandler(handler)
        if package.getEffectiveLevel() > logging.INFO:
            package.setLevel(logging.INFO)
        budget = budget_seconds(args.budget, os.environ)
        deadline = started + budget - _EXIT_RESERVE_S
        worker = threading.Thread(
            target=_work,
            args=(args, state_dir, deadline - _SAVE_MARGIN_S),
            name="mosaic-telemetry-hook",
            daemon=True,
        )
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            logger.warning(
                "hook %s: the %.1fs budget ran out; what was not confirmed is read next run",
                args.harness,
                budget,
            )
    except Exception:  # a hook never fails the harness
        try:
            logger.exception("hook: failed")
        except Exception:  # noqa: S110  # nowhere left to report
            pass
    finally:
        if handler is not None:
            package.removeHandler(handler)
            handler.close()
        package.setLevel(level)
    return EXIT_OK


def _work(args: argparse.Namespace, state_dir: Path | None, deadline: float) -> None:
    """Everything a run does, on the daemon thread; every failure is logged, none raised."""
    try:
        _work_or_raise(args, state_dir, deadline)
    except Exception as exc:  # reported, never raised into the harness
        logger.warning("hook %s: %s: %s", args.harness, type(exc).__name__, exc)
        logger.debug("hook failure", exc_info=True)


def _work_or_raise(args: argparse.Namespace, state_dir: Path | None, deadline: float) -> None:
    from ..adapters._cursor import CursorBusy  # noqa: PLC0415
    from ..adapters._hook import HookReport, parse_input, read_stdin, run_hook  # noqa: PLC0415
    from ..adapters._pricing import PriceTable  # noqa: PLC0415

    if args.harness not in HARNESSES:
        logger.warning(
            "hook: unknown harness %r (use %s)", args.harness[:40], " or ".join(HARNESSES)
        )
        return
    if state_dir is None:
        logger.warning("hook %s: no usable state directory; nothing was read", args.harness)
        return
    config = config_from(args)
    if not config.enabled:
        logger.info("hook %s: telemetry is disabled; nothing was read", args.harness)
        return
    problems = config.validate()
    if problems:
        logger.warning("hook %s: not configured: %s", args.harness, "; ".join(problems))
        return
    prices = _prices(args.prices)
    hook_input = parse_input(read_stdin(_stdin_fd()))
    report = HookReport(harness=args.harness)
    try:
        run_hook(
            args.harness,
            hook_input,
            config=config,
            state_dir=state_dir,
            prices=prices or PriceTable.default(),
            deadline=deadline,
            report=report,
        )
    except CursorBusy as exc:
        logger.info("hook %s: %s; this run reads nothing", args.harness, exc)
        return
    finally:
        _log_report(report)


def _log_report(report: HookReport) -> None:
    for message, times in report.notes.items():
        logger.warning("hook %s: %s (%d times)", report.harness, message, times)
    logger.info("%s", report.summary())


def _prices(path: str | None) -> PriceTable | None:
    from ..adapters._pricing import PriceFileError, PriceTable  # noqa: PLC0415
    from .ingest import PRICES_ENV  # noqa: PLC0415

    chosen = path or os.environ.get(PRICES_ENV)
    if not chosen:
        return None
    try:
        return PriceTable.from_file(chosen)
    except PriceFileError as exc:
        logger.warning("hook: %s; using the built-in prices", exc)
        return None


def _process_age_s() -> float:
    """Seconds since this process started, when it was started to run this command.

    Only then does the interpreter's start count against the budget; ``main()``
    called inside a longer-lived program (a test, a host) starts the clock at the
    call. Linux reads it from ``/proc``; elsewhere it is 0.
    """
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    launched = getattr(main_spec, "name", None) == f"{PACKAGE_LOGGER}.__main__" or (
        os.path.basename(sys.argv[0] if sys.argv else "").startswith("mosaic-telemetry")
    )
    if not launched:
        return 0.0
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time in ticks
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0
    return age if 0 <= age < 60 else 0.0


def _stdin_fd() -> int:
    stdin = sys.stdin
    if stdin is None:
        raise OSError("no stdin")
    return stdin.fileno()


def _open_log(explicit: str | None) -> tuple[logging.Handler | None, Path | None]:
    """The state directory and a size-capped log file in it; (None, None) when unusable."""
    from logging.handlers import RotatingFileHandler  # noqa: PLC0415

    from ..adapters._cursor import state_directory  # noqa: PLC0415

    try:
        state_dir = state_directory(explicit)
        _private_file(state_dir / _LOG_NAME)
        handler = RotatingFileHandler(
            state_dir / _LOG_NAME, maxBytes=_LOG_BYTES, backupCount=1, encoding="utf-8"
        )
    except (OSError, ValueError):
        return None, None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.setLevel(logging.INFO)
    return handler, state_dir


def _log_early(message: str) -> None:
    """Append ``message`` to the default state directory's log, if there is one."""
    try:
        from ..adapters._cursor import state_directory  # noqa: PLC0415

        path = state_directory() / _LOG_NAME
        _private_file(path)
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} WARNING {message}\n")
    except Exception:  # noqa: S110  # a hook's command line problem is never raised
        pass


def _private_file(path: Path) -> None:
    """Create ``path`` readable by this user only, unless it exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
