"""The parser and ``main``: one subcommand per module, each hidden when its parts are missing."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType

from .. import __version__
from ..errors import TelemetryError
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PACKAGE_LOGGER,
    PROG,
    CliError,
    error_line,
)

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (
    "demo",
    "serve",
    "send",
    "predict",
    "check",
    "spool",
    "ingest",
    "hook",
    "events",
    "export",
)
"""Each names a module of this package with ``register(commands)`` and ``NEEDS``."""


_ROOT = __name__.split(".cli.")[0]


def _missing(needs: Sequence[str]) -> list[str]:
    """The optional subpackages of ``needs`` that this copy of the package does not have."""
    import importlib.util  # noqa: PLC0415

    return [name for name in needs if importlib.util.find_spec(f"{_ROOT}.{name}") is None]


def _commands() -> tuple[list[ModuleType], dict[str, list[str]]]:
    """The command modules this copy can run, and the others with the parts they miss."""
    usable: list[ModuleType] = []
    left_out: dict[str, list[str]] = {}
    for name in COMMANDS:
        module = importlib.import_module(f".{name}", __package__)
        missing = _missing(module.NEEDS)
        if missing:
            left_out[name] = missing
        else:
            usable.append(module)
    return usable, left_out


def _refuse_left_out(argv: Sequence[str]) -> None:
    """Asking for a command a vendored copy left out gets one clear line (exit 2)."""
    _, left_out = _commands()
    command = next((word for word in argv if not word.startswith("-")), None)
    if command in left_out:
        parts = ", ".join(f"{_ROOT}.{part}" for part in left_out[command])
        raise CliError(
            f"the {command} command is not in this copy of the package: it needs {parts}, "
            "which was left out",
            EXIT_USAGE,
        )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; commands whose parts a vendored copy left out are not in it."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Mosaic Stack telemetry: a local collector, and a client for any harness.",
    )
    _add_verbose(parser)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _commands()[0]:
        module.register(commands)
    for subparser in commands.choices.values():  # -v works before or after the command
        _add_verbose(subparser)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,  # a subcommand's default must not hide the global flag
        help="log details (and tracebacks) to stderr",
    )


def _configure_logging(verbose: bool) -> None:
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        package_logger = logging.getLogger(PACKAGE_LOGGER)
        package_logger.addHandler(handler)
        package_logger.setLevel(logging.DEBUG)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so the exit flush can't fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (the table is ``_common.EXIT_CODES``)."""
    started = time.monotonic()  # --timeout counts from here
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        _refuse_left_out(words)
    except CliError as exc:
        error_line(str(exc))
        return exc.exit_code
    args = build_parser().parse_args(words)
    args.started = started
    args.verbose = getattr(args, "verbose", False)
    _configure_logging(args.verbose)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CliError as exc:
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error_line("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILED
    except (OSError, TelemetryError) as exc:
        logging.getLogger(__name__).debug("command failed", exc_info=True)
        error_line(str(exc) or type(exc).__name__)
        return EXIT_FAILED
    except Exception as exc:  # a bug still gets one line; --verbose shows the traceback
        logging.getLogger(__name__).debug("unexpected failure", exc_info=True)
        error_line(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_FAILED
