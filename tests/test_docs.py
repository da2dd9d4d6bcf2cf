"""The documentation stays true: its examples run, and every public name is documented."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import enum
import importlib
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import mosaic_telemetry
from mosaic_telemetry import ClientStats, TelemetryConfig, cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
API_REFERENCE = ROOT / "docs" / "api-reference.md"
DOC_FILES = [README, *sorted((ROOT / "docs").glob("*.md"))]

COMPILE_ONLY = re.compile(r"#\s*compile-only:\s*(?P<reason>.*)")
"""First-line marker of a block that is compiled but not run; the reason must say what it needs."""
NOT_RUN = re.compile(r"<!--\s*docs-test:\s*not run:\s*(?P<reason>.*?)\s*-->")
"""The line just above a shell block that can't run here, with the reason."""
SHELL_LANGUAGES = ("bash", "sh", "shell")
EXAMPLES = ROOT / "docs" / "examples"

# Every shell block that is not run, by file and reason. Pinned: not running a block
# is a decision, taken here, not a marker slipped into a document.
NOT_RUN_BLOCKS = [
    ("README.md", "it runs this test suite itself"),
    ("README.md", "it installs the package into the Python that runs it"),
    ("docs/integration-guide.md", "it needs your staging server and its key"),
    ("docs/integration-guide.md", "it needs your network's private CA, proxy and server"),
    ("docs/performance.md", "the benchmarks take about a minute of a quiet machine"),
    ("docs/performance.md", "it installs the peer SDKs and runs for minutes"),
    ("docs/reliability.md", "it runs the reliability suite, which the test run already does"),
    ("docs/reliability.md", "it needs a virtual environment per Python version"),
    ("docs/spool.md", "it needs a spool that a client has written"),
    ("docs/collector.md", "it needs the store of a collector that has received events"),
    ("docs/collector.md", "the collector benchmarks run for minutes"),
    ("README.md", "it needs a Claude Code transcript"),
    ("docs/harnesses.md", "it needs a Claude Code transcript and your server"),
    ("docs/harnesses.md", "it needs Claude Code"),
    ("docs/harnesses.md", "it needs Codex"),
    ("docs/harnesses.md", "it needs aider"),
]
SHELL_TIMEOUT_S = 120.0

BLOCK_TIMEOUT_S = 60.0  # generous: a block normally runs in well under a second
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*$")
_LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_SCRUBBED_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int
    language: str
    code: str
    not_run_reason: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def compile_only_reason(self) -> str | None:
        first = self.code.lstrip().partition("\n")[0]
        match = COMPILE_ONLY.fullmatch(first.strip())
        return None if match is None else match["reason"].strip()


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, with its language and the line it starts on."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        language = opening["info"].strip().split(" ")[0].lower()
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            line = lines[end]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            end += 1
        else:
            raise AssertionError(f"{path.relative_to(ROOT)}:{index + 1}: unclosed code fence")
        above = NOT_RUN.fullmatch(lines[index - 1].strip()) if index else None
        reason = above["reason"] if above else None
        blocks.append(Block(path, index + 1, language, "\n".join(body) + "\n", reason))
        index = end + 1
    return blocks


def python_blocks() -> list[Block]:
    return [b for path in DOC_FILES for b in fenced_blocks(path) if b.language in ("python", "py")]


def shell_blocks() -> list[Block]:
    return [b for path in DOC_FILES for b in fenced_blocks(path) if b.language in SHELL_LANGUAGES]


def sections(path: Path) -> dict[str, str]:
    """Map each heading's text to the text under it, up to the next heading of its level."""
    lines = path.read_text(encoding="utf-8").splitlines()
    in_code = False
    headings: list[tuple[int, int, str]] = []  # (line index, level, title)
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        match = _HEADING.match(line)
        if match and not in_code:
            headings.append((number, len(match["hashes"]), match["title"]))
    found: dict[str, str] = {}
    for position, (start, level, title) in enumerate(headings):
        end = len(lines)
        for later, later_level, _ in headings[position + 1 :]:
            if later_level <= level:
                end = later
                break
        found[title] = "\n".join(lines[start:end])
    return found


def section_of(name: str, path: Path = API_REFERENCE) -> str:
    """The text of the first heading naming ``name`` in backticks (``Name`` or ``Name(...)``)."""
    for title, text in sections(path).items():
        if re.search(rf"`{re.escape(name)}(\(.*\))?`", title):
            return text
    raise AssertionError(f"{path.relative_to(ROOT)} has no heading naming `{name}`")


def section_titled(title: str, path: Path = README) -> str:
    """The text of the heading ``title`` (exactly) in ``path``."""
    found = sections(path).get(title)
    assert found is not None, f"{path.relative_to(ROOT)} has no heading {title!r}"
    return found


def clean_env() -> dict[str, str]:
    """The environment without settings that would change what an example does."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MOSAIC_TELEMETRY_") and key.upper() not in _SCRUBBED_ENV
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# -- (a) every Python example runs -----------------------------------------------------------


BLOCKS = python_blocks()


def test_docs_have_python_examples() -> None:
    runnable = [b for b in BLOCKS if b.compile_only_reason is None]
    assert len(runnable) >= 10, [b.label for b in BLOCKS]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.label for b in BLOCKS])
def test_python_example_runs(block: Block, tmp_path: Path) -> None:
    code = compile(block.code, block.label, "exec")  # a syntax error fails here, with its line
    reason = block.compile_only_reason
    if reason is not None:
        assert reason.startswith("needs "), (
            f"{block.label}: a compile-only block must say what it needs, "
            f"as '# compile-only: needs ...', got {reason!r}"
        )
        assert code.co_filename == block.label
        _assert_package_imports_exist(block)
        return
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", block.code],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    report = f"{block.label} failed:\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, report
    assert "Traceback" not in result.stderr, report
    assert "Exception ignored" not in result.stderr, report


def _assert_package_imports_exist(block: Block) -> None:
    """A block that is not run still imports only names this package really has."""
    package = mosaic_telemetry.__name__
    for node in ast.walk(ast.parse(block.code)):
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            continue
        parts = node.module.split(".")
        if package not in parts:
            continue
        module = importlib.import_module(".".join(parts[parts.index(package) :]))
        missing = [alias.name for alias in node.names if not hasattr(module, alias.name)]
        assert not missing, f"{block.label}: {module.__name__} has no {missing}"


def test_compile_only_blocks_are_checked_for_the_names_they_import() -> None:
    block = Block(
        README, 1, "python", "# compile-only: needs X\nfrom a.mosaic_telemetry import Nope\n"
    )
    with pytest.raises(AssertionError, match="Nope"):
        _assert_package_imports_exist(block)


def test_compile_only_marker_is_read_from_the_first_line() -> None:
    block = Block(README, 1, "python", "# compile-only: needs FastAPI\nimport fastapi\n")
    assert block.compile_only_reason == "needs FastAPI"
    runnable = Block(README, 1, "python", "import os\n# compile-only: needs FastAPI\n")
    assert runnable.compile_only_reason is None


def test_fenced_blocks_finds_indented_and_tilde_fences(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "intro\n```python\nx = 1\n```\n- item\n\n  ~~~py\n  y = 2\n  ~~~\n```bash\nls\n```\n",
        encoding="utf-8",
    )
    blocks = [(b.line, b.language, b.code) for b in fenced_blocks(doc)]
    assert blocks == [(2, "python", "x = 1\n"), (7, "py", "y = 2\n"), (10, "bash", "ls\n")]


# -- (a') every shell example runs, as a user would paste it -----------------------------------


SHELL_BLOCKS = shell_blocks()


def test_docs_are_found_in_every_markdown_file_of_docs() -> None:
    """A new docs/*.md is picked up by these tests without being listed anywhere."""
    assert set(DOC_FILES) == {README, *(ROOT / "docs").glob("*.md")}


def test_the_blocks_that_are_not_run_are_exactly_the_pinned_ones() -> None:
    found = [
        (str(b.path.relative_to(ROOT)), b.not_run_reason)
        for b in [*SHELL_BLOCKS, *BLOCKS]
        if b.not_run_reason is not None
    ]
    assert sorted(found) == sorted(NOT_RUN_BLOCKS), (
        "a shell block is marked 'docs-test: not run' but not pinned in NOT_RUN_BLOCKS "
        "(or the other way round): run it, or pin the reason here"
    )


def _shell_workspace(tmp_path: Path) -> dict[str, str]:
    """A temp dir with docs/examples, and an environment with python and mosaic-telemetry."""
    shutil.copytree(EXAMPLES, tmp_path / "docs" / "examples")
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    for name in ("python", "python3"):
        (bin_dir / name).symlink_to(sys.executable)
    script = bin_dir / "mosaic-telemetry"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mosaic_telemetry "$@"\n')
    script.chmod(0o755)
    env = clean_env()
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["TMPDIR"] = str(tmp_path)  # mktemp inside the block stays in this test's directory
    return env


def _stop_group(pgid: int) -> bool:
    """Whether the process group ``pgid`` is gone within 10 s (killed when it is not)."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow  # each block starts interpreters, some a collector: seconds
@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[b.label for b in SHELL_BLOCKS])
def test_shell_example_runs(block: Block, tmp_path: Path) -> None:
    shell = shutil.which("bash")
    if shell is None:  # pragma: no cover  # every CI image has bash
        pytest.skip("bash is not installed")
    syntax = subprocess.run(
        [shell, "-n", "-c", block.code], capture_output=True, text=True, check=False
    )
    assert syntax.returncode == 0, f"{block.label}: not valid shell:\n{syntax.stderr}"
    if block.not_run_reason is not None:
        return
    env = _shell_workspace(tmp_path)
    (tmp_path / "block.sh").write_text(block.code, encoding="utf-8")
    # Files, not pipes: a process the block left behind would hold a pipe open forever.
    with (tmp_path / "out.txt").open("w") as out_file, (tmp_path / "err.txt").open("w") as err_file:
        process = subprocess.Popen(
            [shell, "-e", "-o", "pipefail", "block.sh"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_file,
            stderr=err_file,
            start_new_session=True,  # its own process group: whatever it starts is found
        )
        try:
            process.wait(timeout=SHELL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        finally:
            left_running = not _stop_group(process.pid)
    out = (tmp_path / "out.txt").read_text(encoding="utf-8", errors="replace")
    err = (tmp_path / "err.txt").read_text(encoding="utf-8", errors="replace")
    report = f"{block.label} failed:\n--- stdout\n{out}\n--- stderr\n{err}"
    assert process.returncode != -signal.SIGKILL, (
        f"did not end in {SHELL_TIMEOUT_S:.0f} s: {report}"
    )
    assert process.returncode == 0, report
    assert "Traceback" not in err, report
    assert not left_running, f"{block.label} left a process running after it ended"


def test_the_shell_runner_reports_a_failing_block(tmp_path: Path) -> None:
    block = Block(README, 1, "bash", "true\nfalse\necho never\n")
    with pytest.raises(AssertionError, match=r"README\.md:1 failed"):
        test_shell_example_runs(block, tmp_path)


def test_the_not_run_marker_is_read_from_the_line_above_the_fence(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "<!-- docs-test: not run: needs a cluster -->\n```bash\nkubectl get pods\n```\n"
        "\n<!-- docs-test: not run: far away -->\n\n```bash\nls\n```\n",
        encoding="utf-8",
    )
    assert [b.not_run_reason for b in fenced_blocks(doc)] == ["needs a cluster", None]


# -- (a'') the documented FastAPI patterns never change an answer of the host -------------------

_FASTAPI_STUB = '''
"""A stand-in for FastAPI: routes are kept, and called directly by the test."""


class HTTPException(Exception):
    def __init__(self, status_code, detail=None):
        super().__init__(status_code, detail)


class FastAPI:
    def __init__(self, lifespan=None, **options):
        self.lifespan = lifespan
        self.routes = {}

    def _route(self, method, path):
        def decorate(function):
            self.routes[(method, path)] = function
            return function

        return decorate

    def post(self, path, **options):
        return self._route("POST", path)

    def get(self, path, **options):
        return self._route("GET", path)
'''
_PYDANTIC_STUB = """
class BaseModel:
    def __init__(self, **values):
        for name, value in values.items():
            setattr(self, name, value)
"""
# What each documented application is asked, and what it must answer (as JSON).
_FASTAPI_CALLS = {
    "README.md": (
        "answers = [await task_completed(task_id='t1', model='gpt-4o', input_tokens=-1,"
        " output_tokens=5), await task_completed(task_id='t2', model='gpt-4o',"
        " input_tokens=10, output_tokens=5)]",
        [{"task_id": "t1", "status": "recorded"}, {"task_id": "t2", "status": "recorded"}],
    ),
    "docs/integration-guide.md": (
        "answers = [await task_completed(TaskReport(task_type='testing', complexity='low',"
        " model='claude-sonnet-4', duration_ms=1000, estimated_input_tokens=10,"
        " actual_input_tokens=-5, actual_output_tokens=3, cost_usd_micros=7,"
        " tests_passed=True, succeeded=True)),"
        " await estimate(task_type='testing', model='claude-sonnet-4', complexity='low')]",
        [{"status": "recorded"}, {"available": False}],
    ),
}
FASTAPI_BLOCKS = [b for b in BLOCKS if "FastAPI" in (b.compile_only_reason or "")]


def test_every_fastapi_example_is_run_against_the_stand_in() -> None:
    assert sorted(str(b.path.relative_to(ROOT)) for b in FASTAPI_BLOCKS) == sorted(_FASTAPI_CALLS)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"MOSAIC_TELEMETRY_ENABLED": "false"},
        {"MOSAIC_TELEMETRY_ENABLED": "on"},
        {
            "MOSAIC_TELEMETRY_SERVER_URL": "ftp://telemetry.example.com/v1",
            "MOSAIC_TELEMETRY_API_KEY": "not-a-key\n",
            "MOSAIC_TELEMETRY_INSTANCE_ID": "my-laptop",
        },
    ],
    ids=["unconfigured", "disabled", "unknown-switch", "misconfigured"],
)
@pytest.mark.parametrize("block", FASTAPI_BLOCKS, ids=[b.label for b in FASTAPI_BLOCKS])
def test_a_fastapi_example_answers_the_same_when_telemetry_is_unconfigured(
    block: Block, settings: dict[str, str], tmp_path: Path
) -> None:
    """No MOSAIC_TELEMETRY_INSTANCE_ID: build() raises, yet no endpoint may fail."""
    stubs = tmp_path / "stubs"
    for name, source in (("fastapi", _FASTAPI_STUB), ("pydantic", _PYDANTIC_STUB)):
        (stubs / name).mkdir(parents=True)
        (stubs / name / "__init__.py").write_text(source, encoding="utf-8")
    call, expected = _FASTAPI_CALLS[str(block.path.relative_to(ROOT))]
    driver = block.code + textwrap.dedent(
        f"""

        import asyncio as _asyncio
        import json as _json


        async def _drive():
            async with app.lifespan(app):
                {call}
            return answers


        print(_json.dumps(_asyncio.run(_drive())))
        """
    )
    env = clean_env()
    env.update(settings)
    env["PYTHONPATH"] = os.pathsep.join([str(stubs), env["PYTHONPATH"]])
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", driver],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    report = f"{block.label} failed:\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, report
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected, report
    assert "Traceback" not in result.stderr, report


# -- (a''') the example events are valid, and the full one has every field -----------------------


def test_the_full_example_event_has_every_field() -> None:
    data = json.loads((EXAMPLES / "event.json").read_text(encoding="utf-8"))
    fields = [f.name for f in dataclasses.fields(mosaic_telemetry.TaskCompletionEvent)]
    assert list(data) == fields
    assert mosaic_telemetry.TaskCompletionEvent.from_dict(data).to_dict() == data


_VALIDATE = ["--validate", "--instance-id", "2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"]


@pytest.mark.parametrize("name", ["event.json", "events.jsonl", "minimal.json"])
def test_every_example_file_is_valid_input_for_send(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mosaic_telemetry", "send", str(EXAMPLES / name), *_VALIDATE],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 invalid " in result.stdout


def test_every_example_file_is_documented() -> None:
    readme = README.read_text(encoding="utf-8")
    for path in sorted(EXAMPLES.iterdir()):
        assert f"docs/examples/{path.name}" in readme, path.name


# -- (b) the API reference names everything that is exported ----------------------------------


PUBLIC_NAMES = sorted(mosaic_telemetry.__all__)
_MODEL_METHODS = ("to_dict", "to_json", "from_dict", "from_json")


def _exported(name: str) -> Any:
    return getattr(mosaic_telemetry, name)


def _own_public_members(cls: type) -> list[str]:
    """Public attributes a class defines itself, besides its dataclass fields."""
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    names = []
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] != mosaic_telemetry.__name__:
            continue
        for name in vars(klass):
            if not name.startswith("_") and name not in fields and name not in _MODEL_METHODS:
                names.append(name)
    return sorted(set(names))


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_every_exported_name_has_a_heading_in_the_api_reference(name: str) -> None:
    assert section_of(name)


@pytest.mark.parametrize(
    "name", [n for n in PUBLIC_NAMES if isinstance(_exported(n), type) and not n.startswith("_")]
)
def test_every_public_member_and_field_is_in_its_api_reference_section(name: str) -> None:
    cls = _exported(name)
    text = section_of(name)
    wanted = _own_public_members(cls)
    if dataclasses.is_dataclass(cls):
        wanted += [f.name for f in dataclasses.fields(cls)]
    if issubclass(cls, enum.Enum):
        wanted += [member.name for member in cls]
        wanted += [f'"{member.value}"' for member in cls]
    missing = [item for item in wanted if f"`{item}" not in text]
    assert not missing, f"the section of `{name}` in docs/api-reference.md lacks {missing}"


def test_the_api_reference_documents_the_common_model_methods() -> None:
    text = API_REFERENCE.read_text(encoding="utf-8")
    for method in _MODEL_METHODS:
        assert f"`{method}(" in text, method


def test_the_api_reference_gives_every_model_field_its_default() -> None:
    """A field with a plain default (not a factory) shows it in its table row."""
    checked = 0
    for name in PUBLIC_NAMES:
        cls = _exported(name)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            continue
        text = section_of(name)
        for field in dataclasses.fields(cls):
            if field.default is dataclasses.MISSING:
                continue
            row = next(
                (line for line in text.splitlines() if line.startswith(f"| `{field.name}` |")),
                None,
            )
            assert row is not None, f"{name}.{field.name} has no table row"
            assert f"`{_literal(field.default)}`" in row, (
                f"{name}.{field.name}: the row does not show the default "
                f"{_literal(field.default)!r}: {row}"
            )
            checked += 1
    assert checked >= 15


def _literal(value: object) -> str:
    """A default as the docs write it: JSON-style strings, Python otherwise."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


# -- (c) the README names every CLI command and option, and every config field ------------------


def _parser() -> argparse.ArgumentParser:
    build: Callable[[], argparse.ArgumentParser] | None = getattr(
        cli, "build_parser", None
    ) or getattr(cli, "_build_parser", None)
    assert build is not None, "mosaic_telemetry.cli exposes no parser builder"
    return build()


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    for action in _parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            choices: dict[str, argparse.ArgumentParser] = action.choices
            return dict(choices)
    raise AssertionError("the CLI parser has no subcommands")


def _long_options(parser: argparse.ArgumentParser) -> Iterator[str]:
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                yield option


def test_the_cli_has_the_documented_commands() -> None:
    assert set(_subcommands()) >= {"demo", "serve", "send", "predict", "check"}


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_cli_command_and_option_is_in_the_readme(command: str) -> None:
    readme = README.read_text(encoding="utf-8")
    assert f"python -m mosaic_telemetry {command}" in readme
    options = [*_long_options(_subcommands()[command]), *_long_options(_parser())]
    missing = [o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", readme)]
    assert not missing, f"README.md does not document {command} {missing}"


def _config_rows() -> dict[str, list[str]]:
    """The README's configuration table: field name -> its cells (type, default, env, rule)."""
    rows: dict[str, list[str]] = {}
    for line in section_titled("Configuration").splitlines():
        # A cell writes a literal pipe (``str \\| None``) escaped, as Markdown tables need.
        cells = [
            cell.strip().replace("\\|", "|")
            for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))
        ]
        if line.startswith("| `") and len(cells) == 5:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


CONFIG_FIELDS = dataclasses.fields(TelemetryConfig)


def test_the_readme_config_table_lists_exactly_the_config_fields() -> None:
    assert list(_config_rows()) == [f.name for f in CONFIG_FIELDS]


@pytest.mark.parametrize("field", CONFIG_FIELDS, ids=[f.name for f in CONFIG_FIELDS])
def test_the_readme_gives_each_config_field_its_type_and_default(
    field: dataclasses.Field[Any],
) -> None:
    type_cell, default_cell, _, rule = _config_rows()[field.name]
    assert type_cell == f"`{field.type}`"
    assert default_cell == f"`{_literal(field.default)}`"
    assert rule


def _sample(field: dataclasses.Field[Any]) -> str:
    return "/tmp/ca.pem" if field.name == "ca_file" else f"from-env-{field.name}"


@pytest.mark.parametrize("field", CONFIG_FIELDS, ids=[f.name for f in CONFIG_FIELDS])
def test_the_readme_env_var_column_matches_what_the_config_reads(
    field: dataclasses.Field[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("MOSAIC_TELEMETRY_"):
            monkeypatch.delenv(key)
    env_cell = _config_rows()[field.name][2]
    variable = f"MOSAIC_TELEMETRY_{field.name.upper()}"
    if field.name == "enabled":
        assert env_cell == f"`{variable}`"
        monkeypatch.setenv(variable, "no")
        assert TelemetryConfig(enabled=True).enabled is False
        return
    monkeypatch.setenv(variable, _sample(field))
    read = getattr(TelemetryConfig(), field.name) == _sample(field)
    if env_cell == "—":
        assert not read, f"{variable} sets {field.name} but README.md says no variable does"
    else:
        assert env_cell == f"`{variable}`"
        assert read, f"README.md says {variable} sets {field.name}, but it does not"
        given: dict[str, Any] = {field.name: "/given"}
        given_config = TelemetryConfig(**given)
        assert getattr(given_config, field.name) == "/given", "a constructor value must win"


# -- (d) every ClientStats counter is documented -----------------------------------------------


STATS_FIELDS = [f.name for f in dataclasses.fields(ClientStats)]


@pytest.mark.parametrize("name", STATS_FIELDS)
def test_every_stats_field_is_in_the_readme_and_the_api_reference(name: str) -> None:
    readme_rows = section_titled("Stats")
    assert f"| `{name}` |" in readme_rows
    assert f"| `{name}` |" in section_of("ClientStats")


def _identity_terms(text: str) -> list[str]:
    """The right-hand side of ``tracked == a + b + ...`` in ``text`` (across line breaks)."""
    flat = " ".join(text.replace("`", "").split())
    match = re.search(r"tracked \+ replayed == ([\w\s+]+?)(?:holds|$)", flat)
    assert match is not None, "no accounting identity found"
    return [term.strip() for term in match[1].split("+")]


def test_the_readme_states_the_accounting_identity_of_clientstats() -> None:
    readme_block = next(b.code for b in fenced_blocks(README) if b.code.startswith("tracked + "))
    documented = _identity_terms(readme_block)
    assert documented == _identity_terms(inspect.getdoc(ClientStats) or "")
    assert set(documented) <= set(STATS_FIELDS)
    # tracked counts every track() call: every drop counter is part of the identity.
    assert {name for name in STATS_FIELDS if name.startswith("dropped_")} <= set(documented)


def test_the_documented_identity_holds_for_a_real_client() -> None:
    config = TelemetryConfig(
        server_url="https://telemetry.example.com",
        api_key="0" * 64,
        instance_id="2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        max_queue_size=3,
        dry_run=True,
    )
    config.enabled = True  # whatever MOSAIC_TELEMETRY_ENABLED says
    client = mosaic_telemetry.TelemetryClient(config)
    for _ in range(5):
        client.track(mosaic_telemetry.EventBuilder(config.instance_id).build())
    assert client.flush(timeout=5.0)
    stats = dataclasses.asdict(client.stats)
    terms = _identity_terms(inspect.getdoc(ClientStats) or "")
    assert stats["tracked"] == 5
    assert stats["tracked"] + stats["replayed"] == sum(stats[term] for term in terms)
    assert stats["sent"] == 3 and stats["dropped_queue_full"] == 2


# -- the README's first commands and links ------------------------------------------------------


def test_the_readme_shows_the_first_commands() -> None:
    readme = README.read_text(encoding="utf-8")
    first = section_titled("First commands")
    commands = [b.code.strip() for b in fenced_blocks(README) if b.language == "bash"]
    assert "python -m mosaic_telemetry demo" in commands
    ci_run = ROOT / ".ci" / "run"
    match = re.search(r'^README_TEST_COMMAND="(.+)"$', ci_run.read_text(encoding="utf-8"), re.M)
    assert match is not None, ".ci/run no longer names its README test command"
    assert match[1] in commands
    assert match[1] in first and "python -m mosaic_telemetry demo" in first
    assert readme.index("python -m mosaic_telemetry demo") < readme.index(match[1])


def test_relative_links_in_the_docs_point_to_files_that_exist() -> None:
    broken = []
    for path in DOC_FILES:
        for match in _LINK.finditer(path.read_text(encoding="utf-8")):
            target = match["target"].split("#")[0]
            if not target or re.match(r"[a-z]+:", target):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken


def test_headings_linked_with_an_anchor_exist() -> None:
    broken = []
    for path in DOC_FILES:
        for match in _LINK.finditer(path.read_text(encoding="utf-8")):
            target, _, anchor = match["target"].partition("#")
            if not anchor or re.match(r"[a-z]+:", target):
                continue
            linked = path if not target else (path.parent / target).resolve()
            if linked.suffix != ".md" or not linked.exists():
                continue
            if anchor not in {_anchor(title) for title in sections(linked)}:
                broken.append(f"{path.relative_to(ROOT)}: {match['target']}")
    assert not broken


def _anchor(title: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", title.lower())
    return text.replace(" ", "-")


def test_anchor_follows_githubs_rules() -> None:
    assert _anchor("Vendor it (copy the folder)") == "vendor-it-copy-the-folder"
    assert _anchor("`TelemetryClient`") == "telemetryclient"


def test_the_api_reference_states_the_package_version() -> None:
    assert f'`"{mosaic_telemetry.__version__}"`' in section_of("__version__")
