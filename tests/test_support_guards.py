"""Guards for what the project supports and ships: Pythons 3.10-3.15, warnings, the wheel.

As in test_guards.py, each checker takes what it checks as an argument, so a test can hand it
a deliberately broken copy and prove that it still fails when its promise breaks.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_guards import (
    PACKAGE,
    PACKAGE_DIR,
    ROOT,
    SUBPROCESS_TIMEOUT_S,
    _append,
    _copy_package,
    _load_toml,
    _modules,
    _run_python,
)

# The one statement of what is supported; everything below must agree with it.
SUPPORTED = ("3.10", "3.11", "3.12", "3.13", "3.14", "3.15")

# --------------------------------------------------------------------------------------------
# 1. Every place that names the supported Pythons names the same ones
# --------------------------------------------------------------------------------------------


def _bash_array(script: Path, name: str) -> list[str]:
    found = re.search(rf"^{name}=\(([^)]*)\)", script.read_text(encoding="utf-8"), re.M)
    assert found, f"{script.name} has no {name}=(...) array"
    return found.group(1).split()


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_classifiers_name_exactly_the_supported_pythons() -> None:
    project = _load_toml(ROOT / "pyproject.toml")["project"]
    prefix = "Programming Language :: Python :: "
    declared = [c[len(prefix) :] for c in project["classifiers"] if c.startswith(prefix)]
    assert [v for v in declared if v.count(".") == 1] == list(SUPPORTED)
    assert project["requires-python"] == f">={SUPPORTED[0]}"


def test_ci_matrix_and_ci_run_test_exactly_the_supported_pythons() -> None:
    woodpecker = (ROOT / ".woodpecker.yml").read_text(encoding="utf-8")
    matrix = re.search(r"PYTHON_VERSION:\n((?:\s+- \"[^\"]+\"\n)+)", woodpecker)
    assert matrix, ".woodpecker.yml has no PYTHON_VERSION matrix"
    assert re.findall(r"\"([^\"]+)\"", matrix.group(1)) == list(SUPPORTED)

    run = ROOT / ".ci" / "run"
    chroot = _bash_array(run, "CHROOT_VERSIONS")
    assert [_minor(v) for v in _bash_array(run, "PYENV_VERSIONS")] + chroot == list(SUPPORTED)
    assert _bash_array(ROOT / ".ci" / "python-chroot", "VERSIONS") == chroot


def test_readme_and_the_old_python_error_name_the_supported_range() -> None:
    phrase = f"Python {SUPPORTED[0]} to {SUPPORTED[-1]}"
    assert phrase in (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"supports {phrase};" in (PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# 2. An older Python gets one clear error, before any submodule is imported
# --------------------------------------------------------------------------------------------

_OLD_PYTHON_IMPORT = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
try:
    importlib.import_module(sys.argv[2])
except RuntimeError as error:
    loaded = sorted(m for m in sys.modules if m.startswith(sys.argv[2] + "."))
    print(json.dumps({"error": str(error), "context": repr(error.__context__), "loaded": loaded}))
else:
    print(json.dumps({"error": None}))
"""


def _old_python(minor: str) -> Path | None:
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(versions.glob(f"{minor}.*/bin/python"))
    if found:
        return found[-1]
    on_path = shutil.which(f"python{minor}")
    return Path(on_path) if on_path else None


@pytest.mark.parametrize("minor", ["3.8", "3.9"])
def test_an_older_python_gets_one_runtime_error_naming_the_supported_versions(
    minor: str,
) -> None:
    python = _old_python(minor)
    if python is None:
        pytest.skip(f"no Python {minor} here (pyenv or python{minor} on PATH)")
    run = [str(python), "-I", "-S", "-B"]
    probe = subprocess.run(
        [*run, "-c", _OLD_PYTHON_IMPORT, str(ROOT), PACKAGE],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    expected = re.escape(f"{PACKAGE} supports Python 3.10 to 3.15; this is Python {minor}.")
    assert re.match(expected, report["error"] or ""), report
    assert report["context"] == "None", report  # raised first, not while handling another
    assert report["loaded"] == [], f"submodules imported before the check: {report['loaded']}"

    # What a user sees: a traceback that ends on that one line, and nothing about slots.
    plain = subprocess.run(
        [*run, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); import {PACKAGE}"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines()[-1] == f"RuntimeError: {report['error']}"
    assert "slots" not in plain.stderr
    assert plain.stderr.count("Traceback") == 1, plain.stderr


# --------------------------------------------------------------------------------------------
# 3. Warnings are errors everywhere, and nothing uses an asyncio API deprecated by 3.14
# --------------------------------------------------------------------------------------------

_WARN = "import warnings; warnings.warn('an old API', DeprecationWarning)"


def test_a_warning_in_a_child_python_fails_it(tmp_path: Path) -> None:
    # tests/conftest.py: the CLI, docs, exit and fork tests run the package in a child.
    inherited = subprocess.run(
        [sys.executable, "-c", _WARN],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    assert inherited.returncode == 1, inherited.stderr
    assert "DeprecationWarning: an old API" in inherited.stderr
    isolated = _run_python(_WARN, cwd=tmp_path)  # -I ignores PYTHONWARNINGS: -W error instead
    assert isolated.returncode == 1, isolated.stderr
    assert "DeprecationWarning: an old API" in isolated.stderr


# Deprecated by 3.14 (the policy system, iscoroutinefunction), removed (child watchers,
# coroutine) or a RuntimeError without a running loop (get_event_loop). asyncio.run,
# asyncio.Runner, get_running_loop and inspect.iscoroutinefunction replace them.
DEPRECATED_ASYNCIO = frozenset(
    {
        "AbstractChildWatcher",
        "AbstractEventLoopPolicy",
        "BaseDefaultEventLoopPolicy",
        "DefaultEventLoopPolicy",
        "FastChildWatcher",
        "MultiLoopChildWatcher",
        "PidfdChildWatcher",
        "SafeChildWatcher",
        "ThreadedChildWatcher",
        "WindowsProactorEventLoopPolicy",
        "WindowsSelectorEventLoopPolicy",
        "coroutine",
        "get_child_watcher",
        "get_event_loop",
        "get_event_loop_policy",
        "iscoroutinefunction",
        "set_child_watcher",
        "set_event_loop",
        "set_event_loop_policy",
    }
)
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _deprecated_asyncio_uses(source: str) -> list[tuple[int, str]]:
    """Return (line, what) for each use of a deprecated asyncio name in ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # test_docs.py reports a block that does not compile
        return []
    aliases = {"asyncio"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update(a.asname or a.name for a in node.names if a.name == "asyncio")
    uses = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr in DEPRECATED_ASYNCIO
        ):
            uses.append((node.lineno, f"asyncio.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("asyncio"):
            uses.extend(
                (node.lineno, f"from {node.module} import {a.name}")
                for a in node.names
                if a.name in DEPRECATED_ASYNCIO
            )
    return sorted(uses)


def _deprecated_asyncio_in(root: Path, package_dir: Path) -> list[str]:
    """One line per deprecated asyncio use in the package, tests, benchmarks, docs' examples."""
    files = _modules(package_dir) + _modules(root / "tests") + _modules(root / "benchmarks")
    problems = [
        f"{path.relative_to(root)}:{lineno}: {what}"
        for path in files
        for lineno, what in _deprecated_asyncio_uses(path.read_text(encoding="utf-8"))
    ]
    for doc in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for block in _PYTHON_BLOCK.finditer(text):
            offset = text.count("\n", 0, block.start(1))  # lines above the block's first
            problems.extend(
                f"{doc.relative_to(root)}:{offset + lineno}: {what}"
                for lineno, what in _deprecated_asyncio_uses(block.group(1))
            )
    return problems


def test_nothing_uses_a_deprecated_asyncio_api() -> None:
    problems = _deprecated_asyncio_in(ROOT, PACKAGE_DIR)
    assert not problems, "deprecated asyncio API in use:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "reported"),
    [
        ("import asyncio\nasyncio.iscoroutinefunction(print)", "asyncio.iscoroutinefunction"),
        ("import asyncio as aio\naio.get_event_loop_policy()", "asyncio.get_event_loop_policy"),
        ("from asyncio import set_event_loop", "from asyncio import set_event_loop"),
        ("from asyncio.events import get_event_loop", "from asyncio.events import get_event_loop"),
    ],
)
def test_deprecated_asyncio_guard_names_file_line_and_api(
    tmp_path: Path, line: str, reported: str
) -> None:
    root = tmp_path / "repo"
    for folder in ("tests", "benchmarks", "docs"):
        (root / folder).mkdir(parents=True)
    (root / "README.md").write_text(f"# x\n\n```python\n{line}\n```\n", encoding="utf-8")
    copy = _copy_package(root / PACKAGE)
    lineno = _append(copy / "client.py", line) + line.count("\n")
    assert _deprecated_asyncio_in(root, copy) == [
        f"{PACKAGE}/client.py:{lineno}: {reported}",
        f"README.md:{4 + line.count(chr(10))}: {reported}",
    ]


# --------------------------------------------------------------------------------------------
# 4. The wheel carries the licence that vendoring users must keep
# --------------------------------------------------------------------------------------------

_BUILD_WHEEL = "import sys, flit_core.buildapi as b; print(b.build_wheel(sys.argv[1]))"


def test_wheel_ships_the_license_file_and_declares_mit(tmp_path: Path) -> None:
    # flit_core is in the test extra: this is the backend pip builds the wheel with.
    built = subprocess.run(
        [sys.executable, "-c", _BUILD_WHEEL, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(tmp_path / built.stdout.strip().splitlines()[-1]) as wheel:
        names = wheel.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        license_text = wheel.read(f"{dist_info}/licenses/LICENSE")
        metadata = wheel.read(f"{dist_info}/METADATA").decode("utf-8")
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert "MIT License" in license_text.decode("utf-8")
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    assert f"{PACKAGE}/py.typed" in names
    strays = [n for n in names if n.split("/")[0] not in (PACKAGE, dist_info) or "pycache" in n]
    assert not strays, f"the wheel ships files outside the package: {strays}"
