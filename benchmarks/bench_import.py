"""Import cost via -X importtime: ``import mosaic_telemetry`` and what a first real send loads."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from _peer_venv import PeerUnavailable, PeerVenv, peer_venv
from _util import BENCH_DIR, REPO_ROOT, Figure, Summary, run_python

# -I: no PYTHON* variables, no user site-packages, no script directory on sys.path.
# -S: no site module at all, so no .pth file of this machine pre-imports half the
# standard library and hides it from the package's figure: this is the cost a
# program pays when the package is the first thing it imports.
FLAGS = ("-X", "importtime", "-I", "-S")
PACKAGE = "mosaic_telemetry"
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")
# What site.py would have imported anyway (os) is imported before the marker, so
# the figure is the package's cost alone, on any machine's site configuration.
_PATH_SETUP = f"import os, sys\nsys.path.insert(0, {str(REPO_ROOT)!r})\n"
_MARK = "sys.stderr.write('import time: 0 | 0 | --mark--\\n')\n"
_FLOOR_MODULES = "enum, re, dataclasses, datetime, uuid, threading, weakref, collections, math"
"""The standard-library modules the package cannot do without (models, queue, client)."""
_HOST_MODULES = "logging, typing, json, " + _FLOOR_MODULES
"""What a typical host program has imported before it imports the package."""

# A client sends once to a closed loopback port: every module the transport loads
# on a first send is imported, and no server code of this process muddies the list.
# (flush() without start() sends inline; a started client also loads its pool.)
_FIRST_SEND = (
    """
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
import mosaic_telemetry as mt
before = set(sys.modules)
"""
    + _MARK
    + """
config = mt.TelemetryConfig(server_url=f"http://127.0.0.1:{port}", api_key="ab" * 32,
    instance_id="12345678-1234-4234-8234-123456789abc", max_retries=0)
client = mt.TelemetryClient(config)
event = mt.EventBuilder(config.instance_id).model("m").build()
for _ in range(150):
    client.track(event)
client.flush(timeout=5.0)
import concurrent.futures  # the pool a started client sends several batches on
print(" ".join(sorted(set(sys.modules) - before)))
"""
)


@dataclass(frozen=True)
class ImportLine:
    """One line of ``-X importtime``: self and cumulative microseconds, nesting depth."""

    self_us: int
    cumulative_us: int
    depth: int
    name: str


def parse_importtime(stderr: str) -> list[ImportLine]:
    """The import lines of a ``-X importtime`` run, in order (the header is skipped)."""
    lines: list[ImportLine] = []
    for text in stderr.splitlines():
        match = _LINE.match(text)
        if match is not None:
            self_us, cumulative_us, indent, name = match.groups()
            depth = (len(indent) - 1) // 2
            lines.append(ImportLine(int(self_us), int(cumulative_us), depth, name))
    return lines


def _after_mark(lines: list[ImportLine]) -> list[ImportLine]:
    marker = next(i for i, line in enumerate(lines) if line.name == "--mark--")
    return lines[marker + 1 :]


def measured_import_us(statement: str, *, preload: str = "") -> tuple[int, list[ImportLine]]:
    """One fresh interpreter: µs of the top-level imports ``statement`` triggers, and its lines.

    ``preload``: modules imported before the measured statement (not counted).
    """
    before = f"import {preload}\n" if preload else ""
    result = run_python(_PATH_SETUP + before + _MARK + statement, flags=FLAGS)
    lines = _after_mark(parse_importtime(result.stderr))
    return sum(line.cumulative_us for line in lines if line.depth == 0), lines


def package_import_us() -> tuple[int, int]:
    """One fresh interpreter: (cumulative µs of ``import mosaic_telemetry``, µs in its modules)."""
    total, lines = measured_import_us(f"import {PACKAGE}")
    own = sum(
        line.self_us
        for line in lines
        if line.name == PACKAGE or line.name.startswith(PACKAGE + ".")
    )
    return total, own


def pydantic_import_us(python: str, site_packages: str) -> int:
    """One fresh interpreter of the pydantic venv: µs to import pydantic and define the
    original SDK's models (benchmarks/_pydantic_sdk.py), the peer of ``import mosaic_telemetry``.
    """
    setup = f"import os, sys\nsys.path[:0] = [{site_packages!r}, {str(BENCH_DIR)!r}]\n" + _MARK
    result = subprocess.run(
        [python, *FLAGS, "-c", setup + "import _pydantic_sdk"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = _after_mark(parse_importtime(result.stderr))
    return sum(line.cumulative_us for line in lines if line.depth == 0)


def _own_modules(lines: list[ImportLine]) -> dict[str, int]:
    return {
        line.name: line.self_us
        for line in lines
        if line.name == PACKAGE or line.name.startswith(PACKAGE + ".")
    }


def first_send_import_us() -> tuple[int, list[str]]:
    """One fresh interpreter: µs of imports a first real send triggers, and their names."""
    result = run_python(_PATH_SETUP + _FIRST_SEND, flags=FLAGS)
    lines = _after_mark(parse_importtime(result.stderr))
    return sum(line.cumulative_us for line in lines if line.depth == 0), result.stdout.split()


def _top_level(modules: list[str]) -> list[str]:
    """The packages among ``modules``, the ones a reader knows first."""
    known = ["urllib", "http", "ssl", "email", "concurrent", "tempfile", "hashlib", "random"]
    tops = {name.split(".")[0] for name in modules if not name.startswith("_")}
    return [name for name in known if name in tops] + sorted(tops - set(known))


def figures(*, runs: int = 15) -> list[Figure]:
    """Import figures: the package, its own modules, and the first send's extra imports."""
    # One unrecorded run writes any missing bytecode cache (-I ignores
    # PYTHONDONTWRITEBYTECODE), so compilation is never measured.
    package_import_us()
    first_send_import_us()
    venv: PeerVenv | None
    try:
        venv = peer_venv("pydantic")
        pydantic_import_us(venv.python, venv.site_packages)
    except PeerUnavailable:
        venv = None
    totals: list[float] = []
    owns: list[float] = []
    peers: list[float] = []
    for index in range(runs):  # interleaved with pydantic's, so a slow spell hits both
        if venv is not None and index % 2:
            peers.append(pydantic_import_us(venv.python, venv.site_packages) / 1000)
        total, own = package_import_us()
        totals.append(total / 1000)
        owns.append(own / 1000)
        if venv is not None and not index % 2:
            peers.append(pydantic_import_us(venv.python, venv.site_packages) / 1000)
    per_module: dict[str, list[int]] = {}
    for _ in range(3):
        for name, self_us in _own_modules(measured_import_us(f"import {PACKAGE}")[1]).items():
            per_module.setdefault(name, []).append(self_us)
    modules = {name: sorted(v)[len(v) // 2] for name, v in per_module.items()}
    floors: list[float] = []
    warm: list[float] = []
    sends: list[float] = []
    loaded: list[str] = []
    for _ in range(max(3, runs // 3)):
        floors.append(measured_import_us(f"import {_FLOOR_MODULES}")[0] / 1000)
        warm.append(measured_import_us(f"import {PACKAGE}", preload=_HOST_MODULES)[0] / 1000)
        extra, loaded = first_send_import_us()
        sends.append(extra / 1000)
    peer_figures: list[Figure] = []
    import_target = None
    import_note = "-X importtime -I -S, os preloaded; stdlib modules it pulls in included"
    if peers:
        peer = Summary.of(peers)
        ratio = Summary.of(totals).median / peer.median
        import_target = 0.3 * peer.median
        import_note = f"pydantic {peer.median:.1f} ms, ratio {ratio:.2f}x (target <= 0.30x)"
        peer_figures.append(
            Figure(
                "import_pydantic_ms",
                "  peer: import pydantic + the SDK's models (same run)",
                "ms",
                peer,
                extra={"ratio": ratio},
            )
        )
    return [
        Figure(
            "import_ms",
            "import mosaic_telemetry (cumulative, fresh interpreter)",
            "ms",
            Summary.of(totals),
            target=import_target,
            note=import_note,
        ),
        *peer_figures,
        Figure(
            "import_own_ms",
            "  of which the package's own modules (self time)",
            "ms",
            Summary.of(owns),
            target=5.0,
            note="largest: "
            + ", ".join(
                f"{name.removeprefix(PACKAGE + '.')} {us / 1000:.1f}"
                for name, us in sorted(modules.items(), key=lambda kv: -kv[1])[:4]
            ),
            extra={"self_us_by_module": modules},
        ),
        Figure(
            "import_floor_ms",
            "  floor: stdlib modules it cannot do without",
            "ms",
            Summary.of(floors),
            note=_FLOOR_MODULES,
        ),
        Figure(
            "import_warm_host_ms",
            "  in a host that already imported logging, typing, json...",
            "ms",
            Summary.of(warm),
            note="the package's cost on top of what most programs have loaded",
        ),
        Figure(
            "first_send_import_ms",
            "extra imports on the first real send",
            "ms",
            Summary.of(sends),
            note=f"{len(loaded)} modules, e.g. " + ", ".join(_top_level(loaded)[:8]),
            extra={"modules": sorted(loaded)},
        ),
    ]


if __name__ == "__main__":
    for figure in figures(runs=5):
        print(figure.label, figure.summary, figure.note)
