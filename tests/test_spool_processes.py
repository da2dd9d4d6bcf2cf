"""The spool across processes and hostile hosts: shared and foreign directories, read-only and
full disks, two processes on one directory, a fork. Real processes, real files."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _spool_child import record, seq_of

from mosaic_telemetry._spool import Spool, SpoolDirectoryError

CHILD = Path(__file__).resolve().parent / "_spool_child.py"
ROOT = CHILD.parent.parent
TIMEOUT_S = 60.0
NOBODY = 65534
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX modes, owners and flock")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
    env.update(extra)
    return env


def run_child(*args: str, **env: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(CHILD), *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def start_child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def numbers(line: str) -> list[int]:
    return [int(n) for n in line.strip().partition(" ")[2].split(",") if n]


def drain(spool: Spool) -> list[int]:
    found: list[int] = []
    while batch := spool.replay(100):
        found += [seq_of(item.event_id) for item in batch]
        spool.settle(item.event_id for item in batch)
    return found


# -- the directory --------------------------------------------------------------------------------


@posix_only
def test_a_missing_directory_is_created_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        spool = Spool.open(tmp_path / "a" / "b" / "spool")
    finally:
        os.umask(previous)
    spool.close()
    assert stat.S_IMODE((tmp_path / "a" / "b" / "spool").stat().st_mode) == 0o700


@posix_only
@pytest.mark.parametrize(
    ("mode", "accepted"),
    [
        (0o700, True),
        (0o750, True),
        (0o755, True),
        (0o770, False),
        (0o722, False),
        (0o777, False),
        (0o1777, False),  # what /tmp is
    ],
)
def test_a_directory_writable_by_others_is_refused(
    tmp_path: Path, mode: int, accepted: bool
) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    directory.chmod(mode)
    if accepted:
        Spool.open(directory).close()
        return
    with pytest.raises(
        SpoolDirectoryError, match=f"not be writable by group or others.*{mode:04o}"
    ):
        Spool.open(directory)
    assert list(directory.iterdir()) == []


@posix_only
def test_the_shared_tmp_itself_is_refused() -> None:
    with pytest.raises(SpoolDirectoryError, match="must not be writable by group or others"):
        Spool.open(tempfile.gettempdir())


@posix_only
def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(directory, NOBODY, NOBODY)
    else:
        directory = Path("/")
        if directory.stat().st_uid == os.geteuid():
            pytest.skip("needs a directory owned by someone else")
    with pytest.raises(SpoolDirectoryError, match=r"must belong to this user \(uid"):
        Spool.open(directory)


def test_a_file_is_not_a_spool_directory(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    path.write_text("not a directory", encoding="utf-8")
    with pytest.raises(SpoolDirectoryError, match="must be a directory"):
        Spool.open(path)


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A directory a child of another user can reach (pytest's tmp_path is root-only)."""
    directory = Path(tempfile.mkdtemp(prefix="spool-ro-"))
    if os.geteuid() == 0:
        os.chown(directory, NOBODY, NOBODY)
    try:
        yield directory
    finally:
        for path in (directory, *directory.rglob("*")):
            if path.is_dir():
                path.chmod(0o700)
        shutil.rmtree(directory)


def _as_owner(directory: Path) -> dict[str, str]:
    """Run the child as the directory's owner: root ignores a read-only mode, nobody does not."""
    if os.geteuid() == 0:
        os.chown(directory, NOBODY, NOBODY)
        return {"SPOOL_CHILD_UID": str(NOBODY)}
    return {}


@posix_only
def test_a_read_only_directory_is_reported_at_open(private_dir: Path) -> None:
    spool_dir = private_dir / "spool"
    spool_dir.mkdir(mode=0o500)
    lines = run_child("open", str(spool_dir), **_as_owner(spool_dir))
    assert lines == [f"E SpoolWriteError: cannot write to spool_dir {str(spool_dir)!r}: read-only"]


@posix_only
def test_a_directory_that_turns_read_only_is_reported_at_the_next_append(
    private_dir: Path,
) -> None:
    spool_dir = private_dir / "spool"
    spool_dir.mkdir(mode=0o700)
    lines = run_child("open", str(spool_dir), "freeze", **_as_owner(spool_dir))
    assert lines[0] == "OK"
    assert lines[1].startswith(
        f"E SpoolWriteError: cannot write to the spool in {str(spool_dir)!r}"
    )
    assert "Permission denied (EACCES)" in lines[1]
    assert list(spool_dir.iterdir()) == []


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_full_disk_fails_the_append_and_keeps_every_synced_record(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    lines = run_child("fsize", str(spool_dir), "20000")
    synced = [n for line in lines if line.startswith("S ") for n in numbers(line)]
    assert len(synced) >= 15
    assert lines[-1].startswith("E SpoolWriteError errno=27: cannot write to the spool")
    assert "File too large (EFBIG)" in lines[-1]
    (segment,) = spool_dir.glob("seg-*.jsonl")
    assert segment.stat().st_size <= 20000
    assert segment.read_bytes().endswith(b"\n")  # the partial write was cut back
    with Spool.open(spool_dir) as spool:
        assert drain(spool) == synced
        assert spool.counts().spool_corrupt == 0


# -- several processes ----------------------------------------------------------------------------


@posix_only
def test_a_live_processs_segment_is_left_alone_and_adopted_once_it_is_killed(
    tmp_path: Path,
) -> None:
    spool_dir = tmp_path / "spool"
    writer = start_child("hold", str(spool_dir), "1", "20")
    assert writer.stdout is not None
    assert numbers(writer.stdout.readline()) == list(range(1, 21))
    try:
        with Spool.open(spool_dir, 4 * len(record(1)[1])) as spool:
            assert spool.replay(100) == []  # alive: its records are its own
            spool.append([record(100)], held=False)  # past max_bytes, yet never evicts it
            assert spool.counts().spool_evicted == 1
            assert len(list(spool_dir.glob("seg-*.jsonl"))) == 1
    finally:
        writer.kill()
        writer.wait(TIMEOUT_S)
        for stream in (writer.stdin, writer.stdout):
            if stream is not None:
                stream.close()
    with Spool.open(spool_dir) as spool:
        assert drain(spool) == list(range(1, 21))
    assert os.listdir(spool_dir) == []


@posix_only
def test_two_live_processes_never_replay_the_same_record(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    with Spool.open(spool_dir, segment_bytes=8 * len(record(1)[1])) as spool:
        spool.append([record(n) for n in range(1, 201)], held=False)
    takers = [start_child("take", str(spool_dir), "1000") for _ in range(2)]
    taken: list[list[int]] = []
    try:
        for taker in takers:
            assert taker.stdout is not None
            taken.append(numbers(taker.stdout.readline()))  # both hold what they took
        for taker in takers:
            assert taker.stdin is not None and taker.stdout is not None
            taker.stdin.write("go\n")
            taker.stdin.flush()
            assert taker.stdout.readline().strip() == "D"
    finally:
        for taker in takers:
            if taker.poll() is None and taker.returncode is None:
                taker.kill()
            taker.wait(TIMEOUT_S)
            for stream in (taker.stdin, taker.stdout):
                if stream is not None:
                    stream.close()
    first, second = (set(numbers) for numbers in taken)
    assert not first & second, "a record was replayed by both processes"
    assert first | second == set(range(1, 201))
    assert sum(map(len, taken)) == 200
    assert list(spool_dir.glob("seg-*")) == []


_FORK = r"""
import os, sys
sys.path.insert(0, sys.argv[2])
from _spool_child import record, seq_of
from mosaic_telemetry._spool import Spool

spool = Spool.open(sys.argv[1])
spool.append([record(n) for n in (1, 2, 3)])            # held by the parent
spool.append([record(4)], held=False)
(parent_segment,) = os.listdir(sys.argv[1])
size_at_fork = os.path.getsize(os.path.join(sys.argv[1], parent_segment))
use_hook = sys.argv[3] == "hook"
pid = os.fork()
if pid == 0:
    if use_hook:
        spool.after_fork_in_child()
    seen = [seq_of(r.event_id) for r in spool.replay(100)]  # the parent is alive
    spool.append([record(n) for n in (10, 11)])
    spool.sync()
    child_segments = [n for n in os.listdir(sys.argv[1]) if f"-{os.getpid()}-" in n]
    print("CHILD", seen, len(child_segments), spool.counts().spooled, flush=True)
    os._exit(0)
os.waitpid(pid, 0)
assert os.path.getsize(os.path.join(sys.argv[1], parent_segment)) == size_at_fork
mine = [seq_of(r.event_id) for r in spool.replay(100)]      # 4, and the dead child's two
print("PARENT", mine, spool.held, flush=True)
spool.settle(record(n)[0] for n in (1, 2, 3, 4, 10, 11))
spool.close()
print("LEFT", os.listdir(sys.argv[1]), flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("detection", ["hook", "pid"])
def test_a_forked_child_writes_its_own_segment_never_its_parents(
    tmp_path: Path, detection: str
) -> None:
    spool_dir = tmp_path / "spool"
    done = subprocess.run(
        [sys.executable, "-c", _FORK, str(spool_dir), str(CHILD.parent), detection],
        env=_env(PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "CHILD [] 1 2",  # saw nothing of its live parent, wrote 2 to a segment of its own
        "PARENT [4, 10, 11] 6",
        "LEFT []",
    ]


_WITHOUT_FCNTL = r"""
import sys
sys.modules["fcntl"] = None  # as on Windows: importing it fails
sys.path.insert(0, sys.argv[2])
import mosaic_telemetry
from _spool_child import record, seq_of
from mosaic_telemetry._spool import Spool
from mosaic_telemetry._spool_lock import locks_across_processes

with Spool.open(sys.argv[1]) as spool:
    spool.append([record(n) for n in (1, 2)], held=False)
    spool.sync()
    print([seq_of(r.event_id) for r in spool.replay(10)], locks_across_processes())
"""


def test_without_fcntl_the_package_imports_and_the_spool_works_for_one_process(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_FCNTL, str(tmp_path / "spool"), str(CHILD.parent)],
        env=_env(PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 2] False"
