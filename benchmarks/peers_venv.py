"""The throwaway venv of benchmarks/peers.py: the peer SDKs, never a dependency of the package.

Created on first use (``python -m venv`` and pip, the ordinary clients), reused while every
package is there, refreshed with ``--upgrade``. Its place is benchmarks/.venv-peers
(gitignored), or ``--venv DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from peers_run import BENCH_DIR, child_env

PACKAGES = (
    "posthog",
    "segment-analytics-python",
    "sentry-sdk",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "amplitude-analytics",
    "mixpanel",
)
"""What the venv installs (latest releases; the report prints the versions it measured)."""

REPORTED = (*PACKAGES, "opentelemetry-api", "protobuf", "requests", "urllib3")
"""Versions printed with the table: the SDKs and the libraries that do their sending."""

DEFAULT_VENV = BENCH_DIR / ".venv-peers"


class VenvError(Exception):
    """The venv could not be created or filled; the message says which step failed."""


def venv_python(venv: Path) -> Path:
    """The interpreter of ``venv``."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def versions(python: Path, names: tuple[str, ...] = REPORTED) -> dict[str, str]:
    """Installed version of each distribution in ``names`` ('' when it is missing)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try:\n"
        "        return m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        return ''\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    result = subprocess.run(
        [str(python), "-I", "-c", code, *names],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
    )
    if result.returncode != 0:
        raise VenvError(f"cannot read package versions with {python}: {result.stderr.strip()}")
    found: dict[str, str] = json.loads(result.stdout)
    return found


def ensure(venv: Path, *, upgrade: bool = False) -> Path:
    """The venv's Python, after creating the venv and installing what is missing.

    Raises:
        VenvError: ``venv`` or pip failed (the message has the end of its output).
    """
    python = venv_python(venv)
    if not python.exists():
        print(f"peers: creating {venv} (once)", file=sys.stderr, flush=True)
        _run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    missing = [name for name, version in versions(python, PACKAGES).items() if not version]
    if missing or upgrade:
        what = "upgrading" if upgrade else f"installing {', '.join(missing)}"
        print(f"peers: {what} into {venv}", file=sys.stderr, flush=True)
        flags = ["--upgrade"] if upgrade else []
        _run([str(python), "-m", "pip", "install", "-q", *flags, *PACKAGES], "pip install")
    return python


def _run(cmd: list[str], step: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise VenvError(f"{step} failed (exit {result.returncode}): {' | '.join(tail)}")
