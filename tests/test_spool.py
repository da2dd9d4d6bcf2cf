"""The spool engine in one process: append, hold, settle, release, replay, recovery, eviction."""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from pathlib import Path

import pytest
from _spool_child import record, seq_of

from mosaic_telemetry import EventBuilder, TelemetryConfig
from mosaic_telemetry._encode import encode_event
from mosaic_telemetry._spool import Spool, SpoolCounts, SpoolError, SpoolRecord
from mosaic_telemetry._spool_record import encode_line
from mosaic_telemetry._spool_segment import QUARANTINE

RECORD_BYTES = len(encode_line(record(1)[1]))
"""The bytes of one record line (the same for every number ``record`` makes)."""


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def records(*seqs: int) -> list[tuple[str, bytes]]:
    return [record(n) for n in seqs]


def seqs_of(batch: list[SpoolRecord]) -> list[int]:
    return [seq_of(item.event_id) for item in batch]


def drain(spool: Spool) -> list[int]:
    """Replay and settle everything the spool hands out; return the numbers in order."""
    found: list[int] = []
    while batch := spool.replay(50):
        found += seqs_of(batch)
        spool.settle(item.event_id for item in batch)
    return found


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("seg-*.jsonl"))


# -- append, hold, replay -------------------------------------------------------------------------


def test_records_come_back_oldest_first_with_their_original_bytes(spool_dir: Path) -> None:
    with Spool.open(spool_dir, segment_bytes=3 * RECORD_BYTES) as spool:
        for start in (1, 4, 7, 10):
            spool.append(records(start, start + 1, start + 2), held=False)
        batch = spool.replay(100)
    assert seqs_of(batch) == list(range(1, 13))
    assert [(item.event_id, item.data) for item in batch] == records(*range(1, 13))


def test_a_held_record_is_not_handed_out_until_it_is_released(spool_dir: Path) -> None:
    with Spool.open(spool_dir) as spool:
        spool.append(records(1, 2, 3))
        assert spool.replay(10) == [] and spool.held == 3
        assert spool.release([record(3)[0], record(1)[0], "not-held"]) == 2
        assert seqs_of(spool.replay(10)) == [1, 3]
        assert spool.replay(10) == []  # handed out: held again


def test_given_back_records_come_before_newer_ones(spool_dir: Path) -> None:
    with Spool.open(spool_dir) as spool:
        spool.append(records(*range(1, 11)), held=False)
        first = spool.replay(5)
        assert seqs_of(first) == [1, 2, 3, 4, 5]
        spool.release([first[3].event_id, first[1].event_id])
        assert seqs_of(spool.replay(3)) == [2, 4, 6]


def test_settled_records_stay_settled_in_the_next_process(spool_dir: Path) -> None:
    with Spool.open(spool_dir) as spool:
        spool.append(records(*range(1, 7)), held=False)
        spool.settle(item.event_id for item in spool.replay(3))
    with Spool.open(spool_dir) as later:
        assert drain(later) == [4, 5, 6]


def test_a_clean_close_keeps_unsettled_and_held_records(spool_dir: Path) -> None:
    with Spool.open(spool_dir) as spool:
        spool.append(records(1, 2))
        spool.append(records(3), held=False)
        spool.replay(10)
    with Spool.open(spool_dir) as later:
        assert drain(later) == [1, 2, 3]


def test_a_segment_is_deleted_once_every_record_in_it_is_settled(spool_dir: Path) -> None:
    with Spool.open(spool_dir, segment_bytes=2 * RECORD_BYTES) as spool:
        for start in (1, 3, 5):
            spool.append(records(start, start + 1))
        assert len(segments(spool_dir)) == 3
        assert spool.settle([record(1)[0], record(2)[0], record(4)[0]]) == 3
        assert len(segments(spool_dir)) == 2  # the first is gone, with its .acks
        spool.settle(event_id for event_id, _ in records(3, 5, 6))
        assert len(segments(spool_dir)) == 1  # the one being written stays until close
    assert os.listdir(spool_dir) == []


def test_the_same_event_spooled_twice_is_handed_out_once_at_a_time(spool_dir: Path) -> None:
    with Spool.open(spool_dir) as spool:
        spool.append(records(1, 1, 2), held=False)
        assert seqs_of(spool.replay(10)) == [1, 2]
        spool.settle([record(1)[0]])
        assert seqs_of(spool.replay(10)) == [1]  # the second copy, after the first settled


def test_settle_and_release_of_unknown_ids_do_nothing(spool_dir: Path) -> None:
    with Spool.open(spool_dir) as spool:
        spool.append(records(1))
        assert spool.settle(["nope"]) == 0 and spool.release(["nope"]) == 0
        assert spool.held == 1


def test_counts_follow_appends_replays_and_bytes(spool_dir: Path) -> None:
    with Spool.open(spool_dir) as spool:
        assert spool.counts() == SpoolCounts()
        spool.append(records(1, 2, 3), held=False)
        spool.replay(2)
        counts = spool.counts()
        on_disk = sum(path.stat().st_size for path in segments(spool_dir))
        assert counts == SpoolCounts(spooled=3, spool_bytes=on_disk, replayed=2)
        assert on_disk == 3 * RECORD_BYTES


# -- bad input and a closed spool -----------------------------------------------------------------

BAD_RECORDS = [
    (["not a tuple"], "records[0] must be (event_id, bytes)"),
    ([("", b"{}")], "records[0] event_id must be a non-empty str"),
    ([record(1), (7, b"{}")], "records[1] event_id must be a non-empty str, got 7"),
    ([("id", "{}")], "records[0] data must be bytes, got str"),
    ([("id", b"[]")], "records[0] data must be one JSON object"),
    ([("id", b'{"a":\n1}')], "records[0] data must be compact JSON on one line"),
]


@pytest.mark.parametrize(("batch", "message"), BAD_RECORDS)
def test_a_bad_record_is_refused_and_nothing_is_written(
    spool_dir: Path, batch: list[object], message: str
) -> None:
    with Spool.open(spool_dir) as spool:
        with pytest.raises(ValueError, match=re.escape(message)):
            spool.append(batch)  # type: ignore[arg-type]  # the wrong types are the test
        assert spool.counts().spooled == 0
    assert segments(spool_dir) == []


@pytest.mark.parametrize(
    ("name", "value"), [("max_bytes", 0), ("max_bytes", True), ("segment_bytes", "1")]
)
def test_open_refuses_a_size_that_is_not_a_positive_int(
    spool_dir: Path, name: str, value: object
) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a positive int, got {value!r}"):
        Spool.open(spool_dir, **{name: value})  # type: ignore[arg-type]  # bad on purpose


def test_replay_refuses_a_limit_below_one(spool_dir: Path) -> None:
    with Spool.open(spool_dir) as spool, pytest.raises(ValueError, match="limit must be"):
        spool.replay(0)


def test_a_closed_spool_refuses_writes_and_ignores_settling(spool_dir: Path) -> None:
    spool = Spool.open(spool_dir)
    spool.append(records(1))
    spool.close()
    spool.close()
    with pytest.raises(SpoolError, match="is closed"):
        spool.append(records(2))
    with pytest.raises(SpoolError, match="is closed"):
        spool.replay(1)
    assert spool.settle([record(1)[0]]) == 0 and spool.release([record(1)[0]]) == 0


# -- recovery -------------------------------------------------------------------------------------


def _one_segment(spool_dir: Path, *seqs: int) -> Path:
    with Spool.open(spool_dir) as spool:
        spool.append(records(*seqs), held=False)
    (path,) = segments(spool_dir)
    return path


def test_a_torn_last_record_is_cut_off_when_the_segment_is_adopted(spool_dir: Path) -> None:
    path = _one_segment(spool_dir, 1, 2)
    good = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(record(3)[1][:100])  # a writer killed mid-write
    with Spool.open(spool_dir) as spool:
        assert seqs_of(spool.replay(10)) == [1, 2]
        assert path.stat().st_size == good
        assert spool.counts().spool_corrupt == 0


def test_a_damaged_record_is_quarantined_once_and_counted(spool_dir: Path) -> None:
    path = _one_segment(spool_dir, 1, 2, 3)
    data = bytearray(path.read_bytes())
    data[RECORD_BYTES + 50] ^= 0x20  # inside the second record
    path.write_bytes(bytes(data))
    with Spool.open(spool_dir) as spool:
        assert seqs_of(spool.replay(10)) == [1, 3]
        assert spool.counts().spool_corrupt == 1
    with Spool.open(spool_dir) as later:
        assert drain(later) == [1, 3]
        assert later.counts().spool_corrupt == 0  # settled as damaged: never counted twice
    (entry,) = (spool_dir / QUARANTINE).read_text(encoding="ascii").splitlines()
    quarantined = json.loads(entry)
    assert quarantined["segment"] == path.name and quarantined["offset"] == RECORD_BYTES
    assert quarantined["line"].encode("utf-8", "surrogateescape") == bytes(
        data[RECORD_BYTES : 2 * RECORD_BYTES]
    )
    assert segments(spool_dir) == []


def test_an_acks_file_left_without_its_segment_is_deleted_on_open(spool_dir: Path) -> None:
    path = _one_segment(spool_dir, 1)
    acks = path.with_suffix(".acks")
    acks.write_bytes(b"%016x\n" % 0)
    path.unlink()  # a crash between the two unlinks of a removal
    Spool.open(spool_dir).close()
    assert not acks.exists()


def test_a_leftover_temp_file_is_deleted_unless_its_creator_still_holds_it(
    spool_dir: Path,
) -> None:
    Spool.open(spool_dir).close()
    dead = spool_dir / f"seg-{1:020d}-1-0000000a.tmp"
    live = spool_dir / f"seg-{2:020d}-1-0000000b.tmp"
    dead.write_bytes(b"")
    live.write_bytes(b"")
    with live.open("rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)  # another open file: another "process"
        Spool.open(spool_dir).close()
        assert not dead.exists() and live.exists()


def test_an_empty_segment_of_a_dead_writer_is_removed(spool_dir: Path) -> None:
    Spool.open(spool_dir).close()
    empty = spool_dir / f"seg-{1:020d}-1-0000000c.jsonl"
    empty.write_bytes(b"")
    with Spool.open(spool_dir) as spool:
        assert spool.replay(10) == []
    assert not empty.exists()


def test_torn_and_junk_lines_of_an_acks_file_never_settle_a_record(spool_dir: Path) -> None:
    path = _one_segment(spool_dir, 1, 2, 3)
    # 0 is a real offset, but only as a full-width line; "1b2" and the torn tail are not.
    path.with_suffix(".acks").write_bytes(
        b"%016x\n1b2\n%016x%016x\n00000000000" % (RECORD_BYTES, 0, 2 * RECORD_BYTES)
    )
    with Spool.open(spool_dir) as spool:
        assert drain(spool) == [1, 3]


def test_settling_after_a_torn_acks_line_keeps_both_lines_apart(spool_dir: Path) -> None:
    path = _one_segment(spool_dir, 1, 2, 3)
    path.with_suffix(".acks").write_bytes(b"%016x\n0000000" % 0)  # torn by a dead holder
    with Spool.open(spool_dir) as spool:
        taken = spool.replay(1)
        assert seqs_of(taken) == [2]
        spool.settle([taken[0].event_id])
    with Spool.open(spool_dir) as later:
        assert drain(later) == [3]


# -- the size bound -------------------------------------------------------------------------------


def test_the_oldest_records_are_evicted_and_counted_past_max_bytes(spool_dir: Path) -> None:
    with Spool.open(spool_dir, 10 * RECORD_BYTES, segment_bytes=2 * RECORD_BYTES) as spool:
        for seq in range(1, 31):
            spool.append(records(seq), held=False)
            assert spool.counts().spool_bytes <= 10 * RECORD_BYTES
        counts = spool.counts()
        kept = drain(spool)
    assert counts.spool_evicted == 30 - len(kept) > 0
    assert kept == list(range(31 - len(kept), 31))  # the newest, in order
    assert len(kept) >= 8


def test_a_batch_larger_than_max_bytes_keeps_its_newest_records(spool_dir: Path) -> None:
    with Spool.open(spool_dir, 3 * RECORD_BYTES) as spool:
        assert spool.append(records(*range(1, 6)), held=False) == 3
        assert spool.counts().spool_evicted == 2
        assert drain(spool) == [3, 4, 5]


def test_evicted_held_records_can_no_longer_be_settled(spool_dir: Path) -> None:
    with Spool.open(spool_dir, 2 * RECORD_BYTES, segment_bytes=RECORD_BYTES) as spool:
        spool.append(records(1))
        spool.append(records(2))
        spool.append(records(3))
        assert spool.counts().spool_evicted == 1
        assert spool.settle([record(1)[0]]) == 0
        assert spool.held == 2


# -- threads and secrets --------------------------------------------------------------------------


def test_counts_are_exact_with_threads_appending_and_replaying(spool_dir: Path) -> None:
    spool = Spool.open(spool_dir, segment_bytes=20 * RECORD_BYTES)
    handed_out: list[int] = []

    def writer(base: int) -> None:
        for batch in range(40):
            first = base + batch * 5
            spool.append(records(*range(first, first + 5)), held=False)

    def reader() -> None:
        for _ in range(100):
            taken = spool.replay(7)
            handed_out.extend(seqs_of(taken))
            spool.settle(item.event_id for item in taken)

    threads = [threading.Thread(target=writer, args=(n * 10_000,)) for n in range(6)]
    threads.append(threading.Thread(target=reader))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handed_out += drain(spool)
    counts = spool.counts()
    spool.close()
    assert counts.spooled == 6 * 40 * 5 == counts.replayed
    assert sorted(handed_out) == sorted({*handed_out}) and len(handed_out) == 1200


def test_no_api_key_or_server_url_ever_reaches_the_spool_directory(spool_dir: Path) -> None:
    key = "c0ffee" * 10 + "beef"
    config = TelemetryConfig(
        server_url="https://user:hunter2@telemetry.example.com:8443/base",
        api_key=key,
        instance_id="2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        spool_dir=str(spool_dir),
    )
    events = [EventBuilder(config.instance_id).model("gpt-4o").build() for _ in range(20)]
    with Spool.open(spool_dir, segment_bytes=4 * RECORD_BYTES) as spool:
        spool.append([(str(event.event_id), encode_event(event)) for event in events])
        spool.sync()
        spool.release(str(event.event_id) for event in events[:5])
        spool.settle(item.event_id for item in spool.replay(3))
    first = segments(spool_dir)[0]
    data = first.read_bytes()
    first.write_bytes(data[:-100] + b"X" + data[-99:])  # in its last record, not settled
    with Spool.open(spool_dir) as spool:
        while batch := spool.replay(50):
            spool.settle(item.event_id for item in batch)
        spool.append([(str(events[0].event_id), encode_event(events[0]))], held=False)
    everything = b"".join(path.read_bytes() for path in spool_dir.iterdir())
    assert b"example.com" not in everything and b"hunter2" not in everything
    assert key.encode() not in everything and key[-12:].encode() not in everything
    assert (spool_dir / QUARANTINE).exists()  # the damaged record went there, key-free too


def test_a_segment_that_cannot_be_deleted_is_left_for_later_not_raised(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Spool.open(spool_dir, segment_bytes=RECORD_BYTES) as spool:
        spool.append(records(1))
        spool.append(records(2))

        def refuse(path: object) -> None:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(os, "unlink", refuse)
        assert spool.settle([record(1)[0]]) == 1  # its removal fails quietly
        monkeypatch.undo()
        assert len(segments(spool_dir)) == 2
        spool.release([record(2)[0]])
    with Spool.open(spool_dir) as later:
        assert drain(later) == [2]  # the settled one never comes back; it is removed now
    assert os.listdir(spool_dir) == []


def test_a_read_error_skips_the_segment_and_loses_no_place(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Spool.open(spool_dir) as spool:
        spool.append(records(1, 2, 3, 4), held=False)
        first = spool.replay(2)
        spool.release(item.event_id for item in first)
        real_read = os.read

        def failing_read(fd: int, size: int) -> bytes:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "read", failing_read)
        assert spool.replay(10) == []
        monkeypatch.setattr(os, "read", real_read)
        assert drain(spool) == [1, 2, 3, 4]
