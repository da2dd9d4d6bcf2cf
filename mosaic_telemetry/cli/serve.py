"""``serve``: run the local collector until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import sys

from ..config import ENV_PREFIX
from ._common import EXIT_OK, PROG, say, usage_error

__all__ = ["DEFAULT_PORT", "NEEDS", "register"]

DEFAULT_PORT = 8765
NEEDS = ("collector",)
"""Optional subpackages this command needs: a vendored copy without them hides it."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` command to the parser."""
    serve = commands.add_parser("serve", help="run the local collector until Ctrl-C or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0: any)"
    )
    serve.add_argument("--db", default=":memory:", help="sqlite file (default: :memory:)")
    serve.add_argument(
        "--api-key", default="", help=f"key clients must send (or {ENV_PREFIX}API_KEY)"
    )
    serve.add_argument(
        "--ready-file",
        default="",
        metavar="FILE",
        help="write the URL to FILE once the port is open (for scripts; with --port 0)",
    )
    serve.add_argument(
        "--retain-days",
        default="",
        metavar="N",
        help="delete events received more than N days ago, hourly (default: keep all)",
    )
    serve.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until stopped; the ready line goes to stdout once the port is open."""
    from ..collector import Collector, serve_forever  # noqa: PLC0415

    api_key = args.api_key or os.environ.get(f"{ENV_PREFIX}API_KEY", "")
    if not api_key:
        usage_error(f"an API key is required: pass --api-key or set {ENV_PREFIX}API_KEY")
    retain = args.retain_days.strip()
    if retain and not retain.isdigit():
        usage_error(f"--retain-days must be a whole number of days, got {args.retain_days!r}")
    try:
        collector = Collector(
            api_key,
            db_path=args.db,
            host=args.host,
            port=args.port,
            retain_days=int(retain) if retain else None,
        )
    except ValueError as exc:
        usage_error(str(exc))
    if len(api_key) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in api_key):
        say(f"{PROG}: warning: clients expect a key of 64 hex characters", sys.stderr)

    def ready(url: str) -> None:
        if args.ready_file:
            _write_ready_file(args.ready_file, url)
        say(f"collector listening on {url} (store: {args.db}); Ctrl-C or SIGTERM stops it")
        if not _is_loopback(args.host):
            say(
                f"{PROG}: warning: bound to {args.host}, not loopback: other machines can reach "
                "this collector",
                sys.stderr,
            )

    _remove(args.ready_file)  # a file left by an earlier run must not look ready
    try:
        serve_forever(collector, on_ready=ready)
    finally:
        _remove(args.ready_file)
    say("collector stopped")
    return EXIT_OK


def _write_ready_file(path: str, url: str) -> None:
    """Write ``url`` to ``path`` whole at once: a reader never sees half of it."""
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(url + "\n")
    os.replace(partial, path)


def _remove(path: str) -> None:
    if path:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def _is_loopback(host: str) -> bool:
    import ipaddress  # noqa: PLC0415

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
