"""Throwaway virtual environments for the peers the benchmarks compare with (pydantic, ...).

A peer is never a dependency of the package or of its tests: its venv is made on
demand under ``benchmarks/.venv-<name>`` (git-ignored) with the interpreter that runs
the benchmarks, so both sides are timed on the same CPython. Delete the folder to
start afresh; ``MOSAIC_BENCH_NO_PEERS=1`` skips every peer figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

PEERS: dict[str, tuple[str, ...]] = {
    "pydantic": ("pydantic>=2,<3",),
    "amplitude": ("amplitude-analytics>=1,<2",),
}
"""Each peer's venv name and what pip installs into it."""


@dataclass(frozen=True)
class PeerVenv:
    """A ready peer venv: its interpreter, its site-packages and the installed versions."""

    python: str
    site_packages: str
    versions: dict[str, str]


class PeerUnavailable(RuntimeError):
    """The peer's venv can't be made here (offline, no pip, skipped on purpose)."""


def _site_and_versions(python: Path, packages: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    names = [p.split(">")[0].split("<")[0].split("=")[0] for p in packages]
    code = (
        "import json, sysconfig, importlib.metadata as m\n"
        f"names = {names!r}\n"
        "print(json.dumps([sysconfig.get_paths()['purelib'],"
        " {n: m.version(n) for n in names}]))"
    )
    out = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    site, versions = json.loads(out.stdout)
    return str(site), dict(versions)


def peer_venv(name: str) -> PeerVenv:
    """The venv of peer ``name``, made (and its packages installed) on first use.

    Raises:
        PeerUnavailable: peers are switched off, or the venv can't be made.
    """
    if os.environ.get("MOSAIC_BENCH_NO_PEERS"):
        raise PeerUnavailable("MOSAIC_BENCH_NO_PEERS is set")
    packages = PEERS[name]
    root = BENCH_DIR / f".venv-{name}"
    python = root / "bin" / "python"
    marker = root / "installed.json"
    wanted = json.dumps({"python": sys.version, "packages": packages})
    try:
        if not marker.exists() or marker.read_text(encoding="utf-8") != wanted:
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(root)],
                check=True,
                capture_output=True,
                timeout=300,
            )
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *packages],
                check=True,
                capture_output=True,
                timeout=600,
            )
            marker.write_text(wanted, encoding="utf-8")
        site, versions = _site_and_versions(python, packages)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PeerUnavailable(f"cannot prepare the {name} venv in {root}: {exc}") from None
    return PeerVenv(str(python), site, versions)
