"""``mosaic-telemetry spool status|purge``, and ``send`` of a spool segment as it is."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _spool_child import record
from collector_fixtures import API_KEY, clean_env

from mosaic_telemetry._spool import Spool
from mosaic_telemetry._spool_record import encode_line
from mosaic_telemetry._spool_segment import QUARANTINE
from mosaic_telemetry.collector import Collector

TIMEOUT_S = 60.0
CHILD = Path(__file__).resolve().parent / "_spool_child.py"
RECORD_BYTES = len(encode_line(record(1)[1]))


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mosaic_telemetry", *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("mosaic-telemetry: error: ")
    return line


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    """A spool with 5 unsent records in one segment (its writer has closed it)."""
    directory = tmp_path / "spool"
    with Spool.open(directory) as spool:
        spool.append([record(n) for n in range(1, 6)], held=False)
    return directory


@pytest.fixture
def live_writer(spool_dir: Path) -> Iterator[None]:
    """A process that has spooled 3 more records and is still alive."""
    writer = subprocess.Popen(
        [sys.executable, str(CHILD), "hold", str(spool_dir), "100", "3"],
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdin is not None
    assert writer.stdout.readline().startswith("S 100,101,102")
    yield
    writer.stdin.write("done\n")
    writer.stdin.close()
    writer.wait(TIMEOUT_S)
    writer.stdout.close()


def test_status_counts_segments_unsent_and_damaged_records(spool_dir: Path) -> None:
    (segment,) = spool_dir.glob("seg-*.jsonl")
    data = bytearray(segment.read_bytes())
    data[RECORD_BYTES + 30] ^= 0x04
    segment.write_bytes(bytes(data))
    (spool_dir / QUARANTINE).write_text('{"line": "x"}\n', encoding="ascii")

    result = run_cli("spool", "status", "--spool-dir", str(spool_dir))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:4] == [
        f"spool: {spool_dir}",
        f"segments: 1 (0 written or claimed by a live process), {5 * RECORD_BYTES} bytes",
        "unsent events: 4",
        "damaged records: 1 in segments, 1 quarantined",
    ]
    assert f"{segment.name}  free  {5 * RECORD_BYTES} bytes  4 unsent" in result.stdout
    assert segment.read_bytes() == bytes(data)  # status changes nothing


@pytest.mark.usefixtures("live_writer")
def test_status_shows_a_live_writers_segment_and_purge_keeps_it(spool_dir: Path) -> None:
    status = run_cli("spool", "status", "--spool-dir", str(spool_dir))
    assert "segments: 2 (1 written or claimed by a live process)" in status.stdout
    assert "unsent events: 8" in status.stdout

    purge = run_cli("-v", "spool", "purge", "--spool-dir", str(spool_dir))

    assert purge.returncode == 0, purge.stderr
    assert purge.stdout.splitlines() == [
        f"purged {spool_dir}: 1 segment(s) with 5 unsent event(s), 0 quarantined record(s)",
        "kept 1 segment(s) in use by a live process",
    ]
    assert len(list(spool_dir.glob("seg-*.jsonl"))) == 1


def test_purge_empties_the_spool_and_its_quarantine(spool_dir: Path) -> None:
    (spool_dir / QUARANTINE).write_text('{"line": "x"}\n{"line": "y"}\n', encoding="ascii")
    result = run_cli("spool", "purge", "-v", MOSAIC_TELEMETRY_SPOOL_DIR=str(spool_dir))
    assert result.returncode == 0, result.stderr
    assert "1 segment(s) with 5 unsent event(s), 2 quarantined record(s)" in result.stdout
    assert list(spool_dir.iterdir()) == []


def test_status_of_a_missing_spool_says_nothing_is_spooled(tmp_path: Path) -> None:
    result = run_cli("spool", "status", "--spool-dir", str(tmp_path / "none"))
    assert result.returncode == 0
    assert result.stdout.strip() == f"spool: {tmp_path / 'none'} does not exist: nothing is spooled"
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("action", ["status", "purge"])
def test_without_a_spool_directory_it_is_a_one_line_usage_error(action: str) -> None:
    result = run_cli("spool", action)
    assert result.returncode == 2
    assert "no spool directory: give --spool-dir or set MOSAIC_TELEMETRY_SPOOL_DIR" in (
        one_error_line(result)
    )


@pytest.mark.parametrize("action", ["status", "purge"])
def test_a_shared_directory_is_a_one_line_usage_error(tmp_path: Path, action: str) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "keep.txt").write_text("x", encoding="utf-8")
    result = run_cli("spool", action, "--spool-dir", str(shared))
    assert result.returncode == 2
    assert "must not be writable by group or others" in one_error_line(result)
    assert (shared / "keep.txt").exists()


def test_send_reads_a_spool_segment_as_it_is_and_keeps_each_event_id(spool_dir: Path) -> None:
    (segment,) = spool_dir.glob("seg-*.jsonl")
    with Collector(API_KEY) as collector:
        flags = ["--server-url", collector.url, "--api-key", API_KEY, "--timeout", "5"]
        first = run_cli("send", str(segment), *flags)
        again = run_cli("send", str(segment), *flags)
        stored = collector.event_count
    assert first.returncode == 0, first.stderr
    assert "5 read, 5 accepted, 0 duplicate, 0 rejected, 0 undeliverable, 0 invalid" in first.stdout
    assert again.returncode == 0, again.stderr
    assert stored == 5  # the same event_ids the second time: stored once
