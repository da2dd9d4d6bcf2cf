"""The prediction index: every stored event's prediction fields, grouped for fast answers.

Events are grouped by their four dimensions (a *leaf*). A fallback level's pool
(a *node*: the task type alone, task type and provider, ...) is the union of the
leaves that share its kept dimensions. Each leaf keeps its counts and sums, and
the four measured fields as sorted integer arrays, so a percentile of a node is an
order statistic over a few sorted arrays (a binary search on the value) instead of
a sort of the whole pool. The index only grows; the owner rebuilds it when stored
events were deleted or changed.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import chain

__all__ = ["FIELDS", "Leaf", "NodeStats", "PredictionIndex", "dump", "kth_smallest", "load"]

FIELDS = (
    "actual_input_tokens",
    "actual_output_tokens",
    "actual_cost_usd_micros",
    "task_duration_ms",
)
"""The measured fields whose percentiles predictions report, in ``Leaf.values`` order."""

_MIN_RUN = 4096
_MANY_PARTS = 64  # past this many sorted parts, merging them once beats searching them


class _SortedValues:
    """A multiset of ints as a sorted array plus a sorted run of newer values.

    New values go to the run; once the run is as long as the array, the two are
    merged. Each value is merged about log2(n) times, and a query never sorts
    more than the run.
    """

    __slots__ = ("_dirty", "main", "run")

    def __init__(self) -> None:
        self.main = array("i")
        self.run: list[int] = []
        self._dirty = False

    def extend(self, values: Iterable[int]) -> None:
        self.run.extend(values)
        self._dirty = True
        if len(self.run) >= max(_MIN_RUN, len(self.main)):
            self.settle()  # now, so a large load never holds more than one leaf as a list

    def settle(self, *, merge: bool = False) -> None:
        """Sort what was added; merge the run into the array when it has grown as long."""
        if not self._dirty and not (merge and self.run):
            return
        self._dirty = False
        run = self.run
        run.sort()
        if merge or len(run) >= max(_MIN_RUN, len(self.main)):
            merged = self.main.tolist()
            merged += run
            merged.sort()  # two sorted runs: a linear merge
            self.main = array("i", merged)
            self.run = []

    def parts(self) -> list[Sequence[int]]:
        """The sorted, non-empty sequences that hold the values (call ``settle`` first)."""
        return [part for part in (self.main, self.run) if part]

    def __len__(self) -> int:
        return len(self.main) + len(self.run)


def kth_smallest(parts: Sequence[Sequence[int]], k: int) -> int:
    """The ``k``-th smallest value (0-based) of the union of sorted, non-empty ``parts``."""
    if len(parts) == 1:
        return parts[0][k]
    lo = min(part[0] for part in parts)
    hi = max(part[-1] for part in parts)
    while lo < hi:  # the smallest value v with more than k values <= v
        mid = (lo + hi) // 2
        if sum(bisect_right(part, mid) for part in parts) > k:
            hi = mid
        else:
            lo = mid + 1
    return lo


class Leaf:
    """The events of one (task type, model, provider, complexity): counts, sums, values."""

    __slots__ = (
        "count",
        "estimated_input",
        "estimated_input_actual",
        "estimated_output",
        "estimated_output_actual",
        "passed",
        "successes",
        "values",
    )

    def __init__(self) -> None:
        self.count = 0
        self.estimated_input = 0  # sum of input estimates (a zero estimate adds nothing)
        self.estimated_input_actual = 0  # sum of actual input where an estimate exists
        self.estimated_output = 0
        self.estimated_output_actual = 0
        self.passed = 0
        self.successes = 0
        self.values = tuple(_SortedValues() for _ in FIELDS)


class NodeStats:
    """Everything a prediction needs about one pool of events (read-only)."""

    __slots__ = ("_parts", "count", "leaves")

    def __init__(self, leaves: Sequence[Leaf]) -> None:
        self.leaves = leaves
        self.count = sum(leaf.count for leaf in leaves)
        self._parts: list[list[Sequence[int]] | None] = [None] * len(FIELDS)

    def total(self, attribute: str) -> int:
        """The sum of one of ``Leaf``'s integer counters over the pool."""
        return sum(getattr(leaf, attribute) for leaf in self.leaves)

    def order_statistics(self, field: int, ranks: Sequence[int]) -> list[int]:
        """The values at the given 0-based ranks of one measured field."""
        parts = self._parts[field]
        if parts is None:
            for leaf in self.leaves:
                leaf.values[field].settle()
            parts = [p for leaf in self.leaves for p in leaf.values[field].parts()]
            if len(parts) > _MANY_PARTS:
                parts = [sorted(chain.from_iterable(parts))]
            self._parts[field] = parts
        return [kth_smallest(parts, rank) for rank in ranks]


class PredictionIndex:
    """Leaves by their four dimensions, and each fallback level's nodes."""

    def __init__(self, levels: Sequence[Sequence[int]]) -> None:
        """``levels[i]`` holds the positions (in a leaf key) that fallback level ``i`` keeps."""
        self._levels = [tuple(kept) for kept in levels]
        self._leaves: dict[tuple[str, ...], Leaf] = {}
        self._nodes: list[dict[tuple[str, ...], list[Leaf]]] = [{} for _ in self._levels]
        self.size = 0

    def leaf(self, key: tuple[str, ...]) -> Leaf:
        """The leaf of ``key`` (task type, model, provider, complexity), created if new."""
        found = self._leaves.get(key)
        if found is None:
            found = self._leaves[key] = Leaf()
            for kept, nodes in zip(self._levels, self._nodes, strict=True):
                nodes.setdefault(tuple(key[i] for i in kept), []).append(found)
        return found

    def settle(self) -> None:
        """Sort every leaf's newest values now, so the next queries find them ready."""
        for leaf in self._leaves.values():
            for values in leaf.values:
                values.settle()

    def node(self, level: int, key: tuple[str, ...]) -> NodeStats:
        """The pool of fallback level ``level`` for a query with leaf key ``key``."""
        kept = self._levels[level]
        return NodeStats(self._nodes[level].get(tuple(key[i] for i in kept), ()))

    def add(
        self,
        key: tuple[str, ...],
        values: Sequence[Iterable[int]],
        *,
        count: int,
        sums: Sequence[int],
    ) -> None:
        """Add ``count`` events of one leaf: their measured values (``FIELDS`` order) and sums.

        ``sums``: input estimates, actual input where estimated, output estimates,
        actual output where estimated, gates passed, successes.
        """
        leaf = self.leaf(key)
        leaf.count += count
        leaf.estimated_input += sums[0]
        leaf.estimated_input_actual += sums[1]
        leaf.estimated_output += sums[2]
        leaf.estimated_output_actual += sums[3]
        leaf.passed += sums[4]
        leaf.successes += sums[5]
        for store, new in zip(leaf.values, values, strict=True):
            store.extend(new)
        self.size += count


_SNAPSHOT_FORMAT = 1


def dump(index: PredictionIndex) -> bytes:
    """The index as bytes: a JSON header (leaf keys, counts, sums), then every value array."""
    import json  # noqa: PLC0415  # only a stopping collector writes a snapshot
    import sys  # noqa: PLC0415

    leaves = []
    arrays: list[bytes] = []
    for key, leaf in index._leaves.items():
        for values in leaf.values:
            values.settle(merge=True)
            arrays.append(values.main.tobytes())
        leaves.append(
            [
                *key,
                leaf.count,
                leaf.estimated_input,
                leaf.estimated_input_actual,
                leaf.estimated_output,
                leaf.estimated_output_actual,
                leaf.passed,
                leaf.successes,
            ]
        )
    header = json.dumps(
        {
            "format": _SNAPSHOT_FORMAT,
            "byteorder": sys.byteorder,
            "itemsize": array("i").itemsize,
            "leaves": leaves,
        }
    ).encode()
    return len(header).to_bytes(8, "little") + header + b"".join(arrays)


def load(levels: Sequence[Sequence[int]], data: bytes) -> PredictionIndex:
    """The index :func:`dump` wrote.

    Raises:
        ValueError: the bytes are not such a snapshot, or were written on a machine
            of another byte order or int size.
    """
    import json  # noqa: PLC0415
    import sys  # noqa: PLC0415

    size = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8 : 8 + size])
    except (ValueError, RecursionError):
        raise ValueError("not a snapshot of the prediction index") from None
    if (
        not isinstance(header, dict)
        or header.get("format") != _SNAPSHOT_FORMAT
        or header.get("byteorder") != sys.byteorder
        or header.get("itemsize") != array("i").itemsize
    ):
        raise ValueError("a snapshot of another format or machine")
    index = PredictionIndex(levels)
    offset = 8 + size
    width = array("i").itemsize
    for entry in header["leaves"]:
        key, count, sums = tuple(entry[:4]), int(entry[4]), entry[5:11]
        leaf = index.leaf(key)
        leaf.count = count
        (
            leaf.estimated_input,
            leaf.estimated_input_actual,
            leaf.estimated_output,
            leaf.estimated_output_actual,
            leaf.passed,
            leaf.successes,
        ) = (int(v) for v in sums)
        for values in leaf.values:
            end = offset + count * width
            if end > len(data):
                raise ValueError("a truncated snapshot")
            values.main.frombytes(data[offset:end])
            offset = end
        index.size += count
    if offset != len(data):
        raise ValueError("a snapshot with trailing bytes")
    return index
