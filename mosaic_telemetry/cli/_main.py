"""The parser and ``main``: one subcommand per module, each hidden when its parts are missing."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from ..errors import TelemetryError
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    PACKAGE_LOGGER,
    PROG,
    CliError,
    error_line,
)

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = ("demo", "serve", "send", "predict", "check", "spool", "ingest", "hook")
"""Each names a module of this package with ``register(commands)`` and ``NEEDS``."""


def _available(needs: Sequence[str]) -> bool:
    """Whether the optional subpackages ``needs`` names are in this copy of the package."""
    import importlib.util  # noqa: PLC0415

    root = __name__.split(".cli.")[0]
    return all(importlib.util.find_spec(f"{root}.{name}") is not None for name in needs)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; commands whose parts a vendored copy left out are not in it."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Mosaic Stack telemetry: a local collector, and a client for any harness.",
    )
    _add_verbose(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f".{name}", __package__)
        if _available(module.NEEDS):
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
    """Run the command line; return the exit status (0 ok, 1 failed, 2 usage, 130 Ctrl-C)."""
    args = build_parser().parse_args(argv)
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
