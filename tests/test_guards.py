"""Guards for the promises of the package itself: zero dependencies, vendorable, cheap, inert.

Every checker takes the package directory (or a ``sys.path`` entry) as an argument, so the
tests at the bottom can point it at a deliberately broken copy and prove that it still fails
when its promise breaks.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mosaic_telemetry

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mosaic_telemetry"
PACKAGE_DIR = ROOT / PACKAGE
VENDORED = f"hostapp._vendor.{PACKAGE}"

# Loaded on first use only; importing the package must not pay for them.
HEAVY_MODULES = (
    "asyncio",
    "concurrent.futures",
    "http.client",
    "sqlite3",
    "ssl",
    "urllib.request",
)
# Generous: a subprocess only imports a few small modules, but the machine is shared.
SUBPROCESS_TIMEOUT_S = 120.0


# --------------------------------------------------------------------------------------------
# Helpers shared by the checkers
# --------------------------------------------------------------------------------------------


def _modules(package_dir: Path) -> list[Path]:
    return sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)


def _copy_package(destination: Path) -> Path:
    shutil.copytree(PACKAGE_DIR, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def _append(module: Path, source: str) -> int:
    """Append ``source`` to ``module``; return the line number its first line lands on."""
    text = module.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    module.write_text(text + source + "\n", encoding="utf-8")
    return text.count("\n") + 1


def _run_python(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with no site-packages, no PYTHON* variables, no pyc.

    ``-S`` matters: with site-packages the editable install would satisfy a stray absolute
    ``import mosaic_telemetry`` and hide it. Settings the client reads from the environment
    are dropped so the host's shell cannot change the outcome. ``-I`` ignores PYTHONWARNINGS,
    so ``-W error`` keeps warnings fatal here as everywhere else in the suite.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
    return subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-W", "error", "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )


def _load_toml(path: Path) -> dict[str, Any]:
    name = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    try:
        toml = importlib.import_module(name)
    except ImportError:  # pragma: no cover - pytest itself depends on tomli before 3.11
        pytest.skip(f"reading {path.name} needs {name}, which is not installed")
    data: dict[str, Any] = toml.loads(path.read_text(encoding="utf-8"))
    return data


# --------------------------------------------------------------------------------------------
# 1. Zero dependencies
# --------------------------------------------------------------------------------------------


def _third_party_imports(package_dir: Path) -> list[str]:
    """Return one line per absolute import of a module outside the standard library."""
    problems: list[str] = []
    for path in _modules(package_dir):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top in sys.stdlib_module_names:
                    continue
                where = f"{path.relative_to(package_dir.parent)}:{node.lineno}"
                if top == package_dir.name:
                    problems.append(f"{where}: absolute self-import {name!r}; import relatively")
                else:
                    problems.append(f"{where}: imports {name!r}, not in the standard library")
    return problems


def test_package_imports_only_the_standard_library() -> None:
    assert (PACKAGE_DIR / "__init__.py") in _modules(PACKAGE_DIR)
    problems = _third_party_imports(PACKAGE_DIR)
    assert not problems, "third-party imports found:\n" + "\n".join(problems)


def test_pyproject_declares_no_runtime_dependencies() -> None:
    project = _load_toml(ROOT / "pyproject.toml")["project"]
    assert project["dependencies"] == []


@pytest.mark.parametrize(
    ("line", "reported"),
    [
        ("import requests", "imports 'requests', not in the standard library"),
        ("from yaml import safe_load", "imports 'yaml', not in the standard library"),
        ("import pydantic.v1 as pv", "imports 'pydantic.v1', not in the standard library"),
        (
            "from mosaic_telemetry import enums",
            "absolute self-import 'mosaic_telemetry'; import relatively",
        ),
        (
            "def late() -> None:\n    import attrs",
            "imports 'attrs', not in the standard library",
        ),
    ],
)
def test_dependency_guard_names_file_line_and_module(
    tmp_path: Path, line: str, reported: str
) -> None:
    copy = _copy_package(tmp_path / PACKAGE)
    lineno = _append(copy / "builder.py", line)
    if line.startswith("def "):
        lineno += 1
    assert _third_party_imports(copy) == [f"{PACKAGE}/builder.py:{lineno}: {reported}"]


# --------------------------------------------------------------------------------------------
# 2. Vendorable
# --------------------------------------------------------------------------------------------

_VENDORED_IMPORT_ALL = """
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])
name = sys.argv[2]
package = importlib.import_module(name)
for info in pkgutil.walk_packages(package.__path__, name + "."):
    if not info.name.endswith(".__main__"):  # running __main__ would start the CLI
        importlib.import_module(info.name)
leaked = sorted(m for m in sys.modules if m.partition(".")[0] == "mosaic_telemetry")
assert not leaked, f"the vendored copy imported the top-level package: {leaked}"
print("VENDORED-IMPORT-OK")
"""

_VENDORED_USE = """
import importlib, sys, uuid
sys.path.insert(0, sys.argv[1])
mt = importlib.import_module(sys.argv[2])
instance_id = str(uuid.uuid4())
event = mt.EventBuilder(instance_id).model("claude-sonnet-4").duration_ms(1200).build()
assert type(event).from_json(event.to_json()) == event, "to_json/from_json round trip differs"
config = mt.TelemetryConfig(
    server_url="http://127.0.0.1:9", api_key="a" * 64, instance_id=instance_id, dry_run=True
)
client = mt.TelemetryClient(config)
client.start()
client.track(event)
client.flush(timeout=10)
client.stop(timeout=10)
assert client.stats.tracked == 1, client.stats
assert client.queue_size == 0, client.queue_size
leaked = sorted(m for m in sys.modules if m.partition(".")[0] == "mosaic_telemetry")
assert not leaked, f"the vendored copy imported the top-level package: {leaked}"
print("VENDORED-USE-OK")
"""


def _vendor(package_dir: Path, tmp_path: Path) -> Path:
    """Copy ``package_dir`` into ``tmp_path`` as ``hostapp/_vendor/<name>``; return tmp_path."""
    vendor = tmp_path / "hostapp" / "_vendor"
    shutil.copytree(
        package_dir, vendor / package_dir.name, ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "hostapp" / "__init__.py").write_text("", encoding="utf-8")
    (vendor / "__init__.py").write_text("", encoding="utf-8")
    return tmp_path


def _run_vendored(script: str, host: Path) -> subprocess.CompletedProcess[str]:
    return _run_python(script, str(host), VENDORED, cwd=host)


def _self_references(package_dir: Path) -> list[str]:
    """Return one line per place where the package's source imports itself by name."""
    pattern = re.compile(rf"\b(?:from|import)\s+{package_dir.name}\b")
    return [
        f"{path.relative_to(package_dir.parent)}:{lineno}: {line.strip()}"
        for path in _modules(package_dir)
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_every_module_imports_from_a_vendored_copy(tmp_path: Path) -> None:
    result = _run_vendored(_VENDORED_IMPORT_ALL, _vendor(PACKAGE_DIR, tmp_path))
    assert result.returncode == 0, f"importing the vendored copy failed:\n{result.stderr}"
    assert result.stdout.strip() == "VENDORED-IMPORT-OK"


def test_vendored_copy_builds_serialises_and_tracks_in_dry_run(tmp_path: Path) -> None:
    result = _run_vendored(_VENDORED_USE, _vendor(PACKAGE_DIR, tmp_path))
    assert result.returncode == 0, f"vendored copy failed in use:\n{result.stderr}"
    assert "VENDORED-USE-OK" in result.stdout.splitlines()


def test_package_source_never_imports_itself_by_name() -> None:
    problems = _self_references(PACKAGE_DIR)
    assert not problems, "vendoring tools rewrite these lines:\n" + "\n".join(problems)


def test_logger_names_follow_the_package_name_so_a_vendored_copy_logs_under_its_own() -> None:
    literal = re.compile(r"""(?:Logger|getLogger)\(\s*["']""" + PACKAGE)
    problems = [
        f"{path.relative_to(PACKAGE_DIR.parent)}:{lineno}: {line.strip()}"
        for path in _modules(PACKAGE_DIR)
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if literal.search(line)
    ]
    assert not problems, "logger names spelled out (derive them from __name__):\n" + "\n".join(
        problems
    )


def test_vendoring_guards_catch_an_absolute_self_import(tmp_path: Path) -> None:
    copy = _copy_package(tmp_path / "src" / PACKAGE)
    lineno = _append(copy / "builder.py", "from mosaic_telemetry.enums import TaskType")

    assert (
        f"{PACKAGE}/builder.py:{lineno}: from mosaic_telemetry.enums import TaskType"
        in _self_references(copy)
    )
    result = _run_vendored(_VENDORED_IMPORT_ALL, _vendor(copy, tmp_path / "host"))
    assert result.returncode != 0
    assert "No module named 'mosaic_telemetry'" in result.stderr


# --------------------------------------------------------------------------------------------
# 3. Cheap import
# --------------------------------------------------------------------------------------------

_IMPORT_COST = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
module = importlib.import_module(sys.argv[2])
print(json.dumps({"file": module.__file__, "loaded": sorted(set(sys.modules) - before)}))
"""


def _heavy_modules_loaded(path_entry: Path, package: str) -> list[str]:
    """Return the heavy modules that ``import <package>`` loads, in a fresh interpreter."""
    result = _run_python(_IMPORT_COST, str(path_entry), package, cwd=path_entry)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert Path(report["file"]).is_relative_to(path_entry), report["file"]
    return [name for name in HEAVY_MODULES if name in report["loaded"]]


def test_import_loads_no_heavy_module() -> None:
    offenders = _heavy_modules_loaded(ROOT, PACKAGE)
    assert not offenders, f"`import {PACKAGE}` loads {offenders}; import them on first use"


@pytest.mark.parametrize("heavy", HEAVY_MODULES)
def test_import_cost_guard_names_the_offender(tmp_path: Path, heavy: str) -> None:
    _append(_copy_package(tmp_path / PACKAGE) / "queue.py", f"import {heavy}")
    # Some pull in others (urllib.request loads http.client and ssl); the one added must show.
    assert heavy in _heavy_modules_loaded(tmp_path, PACKAGE)


# --------------------------------------------------------------------------------------------
# 4. No side effects at import
# --------------------------------------------------------------------------------------------

# Runs in a fresh interpreter: arms recorders, imports the package once, reports what happened.
_IMPORT_EFFECTS = r"""
import atexit, collections.abc, importlib, json, logging, os, signal, sys, sysconfig, threading
import warnings

path_entry, package = sys.argv[1], sys.argv[2]
package_dir = os.path.join(path_entry, *package.split("."))
_STDLIB = tuple(
    os.path.join(sysconfig.get_path(name), "") for name in ("stdlib", "platstdlib")
) + ("<frozen ",)
_SITE = tuple(os.path.join(sysconfig.get_path(name), "") for name in ("purelib", "platlib"))
effects = {kind: [] for kind in (
    "threads", "sockets", "file_writes", "processes", "env_reads", "logging", "global_hooks"
)}
armed = False


def _caller():
    frame, fallback = sys._getframe(2), None
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(package_dir):
            return f"{filename}:{frame.f_lineno}"
        if fallback is None and filename != "<string>":
            fallback = f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return fallback or "?"


def _stdlib_import_reads(frame):
    # True when the read is made by the top-level code of a standard-library module that the
    # package's import is loading (3.14's `import subprocess` reads
    # _PYTHON_SUBPROCESS_USE_POSIX_SPAWN, every version's `import zoneinfo` PYTHONTZPATH): that
    # is the interpreter's own business, the same with or without this package. Walking out
    # from the reading frame, the package's own frame comes first for everything the package
    # does itself, directly or through a stdlib function (os.getenv, shutil.get_terminal_size),
    # in any of its modules; only a stdlib module body in between hands the read to the stdlib.
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(package_dir):
            return False
        if (
            frame.f_code.co_name == "<module>"
            and filename.startswith(_STDLIB)
            and not filename.startswith(_SITE)
        ):
            return True
        frame = frame.f_back
    return False


class _RecordingEnviron(collections.abc.MutableMapping):
    # os.environ reads raise no audit event, so the mapping itself is swapped out.
    def __init__(self, real):
        self._real = real

    def _note(self, what):
        if armed and not _stdlib_import_reads(sys._getframe(2)):
            effects["env_reads"].append(f"{what} at {_caller()}")

    def __getitem__(self, key):
        self._note(f"environ[{key!r}]")
        return self._real[key]

    def get(self, key, default=None):
        self._note(f"environ.get({key!r})")
        return self._real.get(key, default)

    def __contains__(self, key):
        self._note(f"{key!r} in environ")
        return key in self._real

    def __iter__(self):
        self._note("iter(environ)")
        return iter(self._real)

    def __len__(self):
        self._note("len(environ)")
        return len(self._real)

    def copy(self):
        self._note("environ.copy()")
        return self._real.copy()

    def __setitem__(self, key, value):
        self._note(f"environ[{key!r}] = ...")
        self._real[key] = value

    def __delitem__(self, key):
        self._note(f"del environ[{key!r}]")
        del self._real[key]


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_FS_EVENTS = {
    "os.mkdir", "os.rmdir", "os.remove", "os.rename", "os.link", "os.symlink", "os.truncate",
    "os.chmod", "os.chown", "os.utime", "shutil.copyfile", "shutil.rmtree", "shutil.move",
}
_PROCESS_EVENTS = {
    "subprocess.Popen", "os.system", "os.posix_spawn", "os.fork", "os.forkpty", "os.exec",
    "os.kill", "os.startfile",
}


def _audit(event, args):
    if not armed:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writes:
            effects["file_writes"].append(f"open({path!r}, {mode!r}) at {_caller()}")
    elif event in _FS_EVENTS:
        effects["file_writes"].append(f"{event}{args!r} at {_caller()}")
    elif event.startswith("socket."):
        effects["sockets"].append(f"{event} at {_caller()}")
    elif event == "_thread.start_new_thread":
        effects["threads"].append(f"{event} at {_caller()}")
    elif event in _PROCESS_EVENTS:
        effects["processes"].append(f"{event} at {_caller()}")
    elif event in ("os.putenv", "os.unsetenv"):
        effects["env_reads"].append(f"{event}{args!r} at {_caller()}")


def _loggers():
    found = {"<root>": logging.root}
    for name, item in logging.root.manager.loggerDict.items():
        if isinstance(item, logging.Logger):
            found[name] = item
    return {name: (list(lg.handlers), lg.level, lg.propagate, lg.disabled)
            for name, lg in found.items()}


def _hooks():
    return {
        "atexit callbacks": atexit._ncallbacks(),
        "sys.excepthook": sys.excepthook,
        "threading.excepthook": threading.excepthook,
        "SIGINT handler": signal.getsignal(signal.SIGINT),
        "SIGTERM handler": signal.getsignal(signal.SIGTERM),
        "warnings.filters": list(warnings.filters),
        "sys.path": list(sys.path),
        "sys.meta_path": list(sys.meta_path),
        "logging.lastResort": logging.lastResort,
        "logging level override": logging.root.manager.disable,
    }


sys.path.insert(0, path_entry)
sys.addaudithook(_audit)
threads_before = {t.ident: t.name for t in threading.enumerate()}
loggers_before, hooks_before = _loggers(), _hooks()
real_environ, real_environb = os.environ, os.environb
os.environ = _RecordingEnviron(real_environ)
os.environb = _RecordingEnviron(real_environb)

armed = True
module = importlib.import_module(package)
armed = False

os.environ, os.environb = real_environ, real_environb
for thread in threading.enumerate():
    if thread.ident not in threads_before:
        effects["threads"].append(f"thread {thread.name!r} is running")
for name, (handlers, level, propagate, disabled) in _loggers().items():
    old_handlers, old_level, old_propagate, old_disabled = loggers_before.get(
        name, ([], logging.NOTSET, True, False)
    )
    added = [h for h in handlers if h not in old_handlers]
    if name == package:
        added = [h for h in added if type(h) is not logging.NullHandler]
    effects["logging"].extend(f"logger {name!r} got handler {h!r}" for h in added)
    effects["logging"].extend(
        f"logger {name!r} lost handler {h!r}" for h in old_handlers if h not in handlers
    )
    if (level, propagate, disabled) != (old_level, old_propagate, old_disabled):
        effects["logging"].append(
            f"logger {name!r} changed level/propagate/disabled from "
            f"{(old_level, old_propagate, old_disabled)} to {(level, propagate, disabled)}"
        )
hooks_after = _hooks()
effects["global_hooks"].extend(
    f"{name} changed" for name, value in hooks_before.items() if hooks_after[name] != value
)
print(json.dumps({"file": module.__file__, "effects": effects}))
"""

SIDE_EFFECTS = (
    "threads",
    "sockets",
    "file_writes",
    "processes",
    "env_reads",
    "logging",
    "global_hooks",
)


def _import_side_effects(path_entry: Path, package: str) -> dict[str, list[str]]:
    """Import ``package`` in a fresh interpreter and return what it did, by kind."""
    result = _run_python(_IMPORT_EFFECTS, str(path_entry), package, cwd=path_entry)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert Path(report["file"]).is_relative_to(path_entry), report["file"]
    effects: dict[str, list[str]] = report["effects"]
    assert sorted(effects) == sorted(SIDE_EFFECTS)
    return effects


@pytest.fixture(scope="module")
def import_side_effects() -> dict[str, list[str]]:
    return _import_side_effects(ROOT, PACKAGE)


@pytest.mark.parametrize("kind", SIDE_EFFECTS)
def test_import_has_no_side_effect(import_side_effects: dict[str, list[str]], kind: str) -> None:
    found = import_side_effects[kind]
    assert not found, f"`import {PACKAGE}` has side effects ({kind}):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("kind", "source"),
    [
        (
            "threads",
            "import threading as _t, time as _tm\n"
            "_t.Thread(target=_tm.sleep, args=(0.5,), daemon=True).start()",
        ),
        ("sockets", "import socket as _s\n_s.socket().close()"),
        ("file_writes", "open(__file__ + '.out', 'w').close()"),
        ("processes", "import subprocess as _sp, sys as _sy\n_sp.run([_sy.executable, '-c', ''])"),
        ("env_reads", "import os as _o\n_o.environ.get('HOME')"),
        ("env_reads", "import os as _o\n_o.getenv('MOSAIC_TELEMETRY_ENABLED')"),
        # Through a stdlib function that reads os.environ['COLUMNS'] on the package's behalf.
        ("env_reads", "import shutil as _sh\n_sh.get_terminal_size()"),
        ("env_reads", "def _settings():\n    import os\n    return dict(os.environ)\n_settings()"),
        ("logging", "import logging as _l\n_l.basicConfig()"),
        ("logging", "import logging as _l\n_l.getLogger(__name__).addHandler(_l.StreamHandler())"),
        ("global_hooks", "import atexit as _a\n_a.register(print)"),
        ("global_hooks", "import warnings as _w\n_w.simplefilter('ignore')"),
    ],
)
def test_side_effect_guard_catches_the_effect(tmp_path: Path, kind: str, source: str) -> None:
    _append(_copy_package(tmp_path / PACKAGE) / "__init__.py", source)
    effects = _import_side_effects(tmp_path, PACKAGE)
    assert effects[kind], f"the {kind} probe missed: {source!r}"
    assert {k for k, found in effects.items() if found} == {kind}, effects


def test_side_effect_guard_leaves_a_stdlib_modules_own_import_time_reads_to_it(
    tmp_path: Path,
) -> None:
    # zoneinfo's module body reads PYTHONTZPATH on every version (subprocess's does on 3.14+):
    # importing it is not the package reading the environment. The same read made by the
    # package's own code is caught (the env_reads rows above), so nothing hides behind this.
    _append(_copy_package(tmp_path / PACKAGE) / "__init__.py", "import zoneinfo as _z")
    effects = _import_side_effects(tmp_path, PACKAGE)
    assert not any(effects.values()), effects


# --------------------------------------------------------------------------------------------
# 5. Public surface
# --------------------------------------------------------------------------------------------

PUBLIC_API = {
    "BatchEventRequest",
    "BatchEventResponse",
    "BatchEventResult",
    "ClientStats",
    "Complexity",
    "ConfigurationError",
    "CorrectionFactors",
    "EventBuilder",
    "EventQueue",
    "Harness",
    "Outcome",
    "PredictionCache",
    "PredictionData",
    "PredictionMetadata",
    "PredictionQuery",
    "PredictionResponse",
    "Provider",
    "QualityGate",
    "QualityPrediction",
    "RepoSizeCategory",
    "TaskCompletionEvent",
    "TaskType",
    "TelemetryClient",
    "TelemetryConfig",
    "TelemetryError",
    "TokenDistribution",
    "ValidationError",
    "__version__",
}


def test_all_is_sorted_without_duplicates() -> None:
    names = list(mosaic_telemetry.__all__)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"__all__ lists these more than once: {duplicates}"
    misplaced = [a for a, b in zip(names, sorted(names), strict=True) if a != b]
    assert not misplaced, f"__all__ is not sorted; first out of place: {misplaced[0]!r}"


def test_all_names_resolve() -> None:
    missing = [name for name in mosaic_telemetry.__all__ if not hasattr(mosaic_telemetry, name)]
    assert not missing, f"__all__ names that do not resolve: {missing}"


def test_all_is_exactly_the_public_api() -> None:
    exported = set(mosaic_telemetry.__all__)
    assert exported == PUBLIC_API, (
        f"missing: {sorted(PUBLIC_API - exported)}, unexpected: {sorted(exported - PUBLIC_API)}"
    )


def test_version_is_a_literal_matching_pyproject() -> None:
    assert mosaic_telemetry.__version__ == "0.1.0"
    assert _load_toml(ROOT / "pyproject.toml")["project"]["version"] == "0.1.0"


def test_package_ships_a_py_typed_marker() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()


# --------------------------------------------------------------------------------------------
# 6. Optional parts stay optional: the client never imports the adapters
# --------------------------------------------------------------------------------------------

OPTIONAL_USERS = ("adapters", "cli")
"""Subpackages allowed to import the adapters (the adapters themselves and the commands)."""


def _adapter_imports(package_dir: Path) -> list[str]:
    """One line per import of ``<package>.adapters`` by a module outside OPTIONAL_USERS."""
    problems: list[str] = []
    for path in _modules(package_dir):
        relative = path.relative_to(package_dir)
        if relative.parts[0] in OPTIONAL_USERS:
            continue
        # Relative imports start from the module's package (for __init__.py: its own).
        here = [package_dir.name, *relative.with_suffix("").parts][:-1]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            base = here[: len(here) - (node.level - 1)]
            targets = [[*base, *node.module.split(".")]] if node.module else []
            targets += [[*base, alias.name] for alias in node.names] if not node.module else []
            if any(t[1:2] == ["adapters"] for t in targets):
                problems.append(f"{path.relative_to(package_dir.parent)}:{node.lineno}")
    return problems


def test_the_client_never_imports_the_adapters() -> None:
    assert (PACKAGE_DIR / "adapters" / "__init__.py").is_file()
    assert _adapter_imports(PACKAGE_DIR) == []


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("client.py", "from .adapters import FORMATS"),
        ("client.py", "from . import adapters"),
        ("collector/store.py", "from ..adapters._pricing import PriceTable"),
    ],
)
def test_the_adapter_guard_names_an_offending_import(
    tmp_path: Path, module: str, line: str
) -> None:
    copy = _copy_package(tmp_path / PACKAGE)
    lineno = _append(copy / module, line)
    assert _adapter_imports(copy) == [f"{PACKAGE}/{module}:{lineno}"]


_WITHOUT_ADAPTERS = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
cli = importlib.import_module(sys.argv[2] + ".cli")
commands = cli.build_parser()._subparsers._group_actions[0].choices
assert "ingest" not in commands and "hook" not in commands, sorted(commands)
assert "send" in commands, sorted(commands)
print("NO-ADAPTERS-OK")
"""


def test_a_vendored_copy_without_adapters_works_and_lists_no_ingest_or_hook(
    tmp_path: Path,
) -> None:
    host = _vendor(PACKAGE_DIR, tmp_path)
    shutil.rmtree(host / "hostapp" / "_vendor" / PACKAGE / "adapters")
    for script, marker in (
        (_VENDORED_USE, "VENDORED-USE-OK"),
        (_WITHOUT_ADAPTERS, "NO-ADAPTERS-OK"),
    ):
        result = _run_vendored(script, host)
        assert result.returncode == 0, result.stderr
        assert marker in result.stdout.splitlines()


def test_no_sqlite_connection_is_left_to_the_collector() -> None:
    """``with sqlite3.connect(...)`` commits but never closes: 3.13+ warns (an error here)."""
    pattern = re.compile(r"with\s+sqlite3\.connect\(")
    roots = [PACKAGE_DIR, PACKAGE_DIR.parent / "tests", PACKAGE_DIR.parent / "benchmarks"]
    problems = [
        f"{path.relative_to(PACKAGE_DIR.parent)}:{lineno}: {line.strip()}"
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if ".venv" not in path.parts and path.name != "test_guards.py"
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not problems, "close these connections (contextlib.closing):\n" + "\n".join(problems)
