"""The spool's invariant under any sequence of append, replay, settle, release, sync, restart.

Replay hands out exactly the records that are unsettled and not held (as many as
asked for, oldest first, with their exact bytes); settled records never come
back; held records never come out twice; once all is settled nothing is left.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from _spool_child import record, seq_of
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mosaic_telemetry._spool import Spool
from mosaic_telemetry._spool_record import encode_line

SEGMENT_BYTES = 3 * len(encode_line(record(1)[1]))  # a new segment every three records


class SpoolMachine(RuleBasedStateMachine):
    """The spool against a model: two sets of sequence numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="spool-machine-")
        self.spool = Spool.open(os.path.join(self.directory, "spool"), segment_bytes=SEGMENT_BYTES)
        self.next_seq = 1
        self.unsettled: set[int] = set()
        self.held: set[int] = set()

    @rule(count=st.integers(1, 5), held=st.booleans())
    def append(self, count: int, held: bool) -> None:
        seqs = list(range(self.next_seq, self.next_seq + count))
        self.next_seq += count
        assert self.spool.append([record(n) for n in seqs], held=held) == count
        self.unsettled.update(seqs)
        if held:
            self.held.update(seqs)

    @rule(limit=st.integers(1, 8))
    def replay(self, limit: int) -> None:
        batch = self.spool.replay(limit)
        seqs = [seq_of(item.event_id) for item in batch]
        free = self.unsettled - self.held
        assert seqs == sorted(free)[:limit], "not the oldest free records"
        assert all((item.event_id, item.data) == record(seq_of(item.event_id)) for item in batch)
        self.held.update(seqs)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sets(st.sampled_from(sorted(self.held)), min_size=1))
        assert self.spool.settle(record(n)[0] for n in chosen) == len(chosen)
        self.held -= chosen
        self.unsettled -= chosen

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sets(st.sampled_from(sorted(self.held)), min_size=1))
        assert self.spool.release(record(n)[0] for n in chosen) == len(chosen)
        self.held -= chosen

    @rule()
    def settle_what_is_not_held(self) -> None:
        free = sorted(self.unsettled - self.held)[:2]
        assert self.spool.settle(record(n)[0] for n in free) == 0

    @rule()
    def sync(self) -> None:
        self.spool.sync()

    @rule()
    def restart(self) -> None:
        self.spool.close()
        self.spool = Spool.open(os.path.join(self.directory, "spool"), segment_bytes=SEGMENT_BYTES)
        self.held.clear()  # a new process holds nothing

    @invariant()
    def holds_what_the_model_holds(self) -> None:
        assert self.spool.held == len(self.held)

    def teardown(self) -> None:
        try:
            self.spool.release(record(n)[0] for n in self.held)
            left: list[int] = []
            while batch := self.spool.replay(50):
                left += [seq_of(item.event_id) for item in batch]
                self.spool.settle(item.event_id for item in batch)
            assert left == sorted(self.unsettled)
            self.spool.close()
            assert os.listdir(os.path.join(self.directory, "spool")) == []
        finally:
            self.spool.close()
            shutil.rmtree(self.directory)


SpoolMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
test_the_spool_hands_out_exactly_the_unsettled_records_nobody_holds = SpoolMachine.TestCase
