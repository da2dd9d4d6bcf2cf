"""A pytest plugin that measures the run it is loaded into, as ``coverage run -m pytest`` does.

.ci/run loads it into the README's one-line test command (``PYTEST_PLUGINS=_ci_coverage``,
with .ci on ``PYTHONPATH``), so that the suite runs once on the primary Python and that one
run is also the coverage gate's. Only the pytest process is measured (its subprocesses are
not, as under ``coverage run``). Every setting (source, branch, parallel, thread concurrency,
fail_under) is read from pyproject.toml; .ci/run combines the data and reports afterwards.
"""

from __future__ import annotations

import atexit

import coverage

# Started on import, which pytest does while it reads its options: before any conftest or
# test module imports the package, so module-level lines count as they do under `coverage run`.
_COVERAGE = coverage.Coverage()
_COVERAGE.start()


def _save() -> None:
    """Stop measuring and write the data file (after the package's own exit handlers)."""
    _COVERAGE.stop()
    _COVERAGE.save()


# Registered first, so it runs last: the client's exit handlers are measured too.
atexit.register(_save)
