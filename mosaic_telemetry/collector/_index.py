"""The prediction index: every stored event's prediction fields, pooled for fast answers.

Each fallback level has its pools (a *node*): events sharing the dimensions the
level keeps (all four, then task type, model and provider, ...). A pool keeps its
counts and sums, and its four measured fields as sorted integer arrays (a sorted
array plus a sorted run of newer values), so a percentile is an order statistic
over two sorted arrays instead of a sort of the pool. The index only grows; its
owner rebuilds it when stored events were deleted or changed.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence

__all__ = ["FIELDS", "Node", "PredictionIndex", "dump", "kth_smallest", "load"]

FIELDS = (
    "actual_input_tokens",
    "actual_output_tokens",
    "actual_cost_usd_micros",
    "task_duration_ms",
)
"""The measured fields whose percentiles predictions report, in ``Leaf.values`` order."""

_MIN_RUN = 4096


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


class Node:
    """The events of one pool: counts, sums and the measured values, kept sorted."""

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

    def total(self, attribute: str) -> int:
        """One of the integer counters above."""
        value: int = getattr(self, attribute)
        return value

    def order_statistics(self, field: int, ranks: Sequence[int]) -> list[int]:
        """The values at the given 0-based ranks of one measured field (``FIELDS`` order)."""
        values = self.values[field]
        values.settle()
        parts = values.parts()
        return [kth_smallest(parts, rank) for rank in ranks]


_EMPTY = Node()
_SUMS = (
    "estimated_input",
    "estimated_input_actual",
    "estimated_output",
    "estimated_output_actual",
    "passed",
    "successes",
)


class PredictionIndex:
    """Every fallback level's pools, each keyed by the dimensions that level keeps.

    An event is added to one pool per level (four in all): its values are kept four
    times (16 bytes each time), so that a pool's percentile is an order statistic
    over two sorted arrays, however many models and complexities it spans.
    """

    def __init__(self, levels: Sequence[Sequence[int]]) -> None:
        """``levels[i]`` holds the positions (in a full key) that fallback level ``i`` keeps."""
        self._levels = [tuple(kept) for kept in levels]
        self._nodes: list[dict[tuple[str, ...], Node]] = [{} for _ in self._levels]
        self.size = 0

    def settle(self) -> None:
        """Sort every pool's newest values now, so the next queries find them ready."""
        for nodes in self._nodes:
            for node in nodes.values():
                for values in node.values:
                    values.settle()

    def node(self, level: int, key: tuple[str, ...]) -> Node:
        """The pool of fallback level ``level`` for a query with the full key ``key``."""
        kept = self._levels[level]
        return self._nodes[level].get(tuple(key[i] for i in kept), _EMPTY)

    def add(
        self,
        key: tuple[str, ...],
        values: Sequence[Iterable[int]],
        *,
        count: int,
        sums: Sequence[int],
    ) -> None:
        """Add ``count`` events of one full key: their measured values (``FIELDS`` order), sums.

        ``sums``: input estimates, actual input where estimated, output estimates,
        actual output where estimated, gates passed, successes.
        """
        lists = [list(v) for v in values]
        for kept, nodes in zip(self._levels, self._nodes, strict=True):
            sub = tuple(key[i] for i in kept)
            node = nodes.get(sub)
            if node is None:
                node = nodes[sub] = Node()
            node.count += count
            for name, amount in zip(_SUMS, sums, strict=True):
                setattr(node, name, getattr(node, name) + amount)
            for store, new in zip(node.values, lists, strict=True):
                store.extend(new)
        self.size += count


_SNAPSHOT_FORMAT = 2


def dump(index: PredictionIndex) -> bytes:
    """The index as bytes: a JSON header (pool keys, counts, sums), then every value array."""
    import json  # noqa: PLC0415  # only a stopping collector writes a snapshot
    import sys  # noqa: PLC0415

    pools = []
    arrays: list[bytes] = []
    for level, nodes in enumerate(index._nodes):
        for key, node in nodes.items():
            for values in node.values:
                values.settle(merge=True)
                arrays.append(values.main.tobytes())
            pools.append([level, list(key), node.count, *(getattr(node, n) for n in _SUMS)])
    header = json.dumps(
        {
            "format": _SNAPSHOT_FORMAT,
            "byteorder": sys.byteorder,
            "itemsize": array("i").itemsize,
            "size": index.size,
            "pools": pools,
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
    for entry in header["pools"]:
        level, key, count = int(entry[0]), tuple(entry[1]), int(entry[2])
        node = index._nodes[level].setdefault(key, Node())
        node.count = count
        for name, value in zip(_SUMS, entry[3:], strict=True):
            setattr(node, name, int(value))
        for values in node.values:
            end = offset + count * width
            if end > len(data):
                raise ValueError("a truncated snapshot")
            values.main.frombytes(data[offset:end])
            offset = end
    if offset != len(data):
        raise ValueError("a snapshot with trailing bytes")
    index.size = int(header["size"])
    return index
