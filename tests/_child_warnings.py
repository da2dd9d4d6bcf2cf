"""Warnings are errors in every Python a test starts, as pytest makes them in its own process.

pytest's ``filterwarnings = error`` covers this process only. The CLI, the documentation
examples, the exit and fork scenarios and the load collector run the package in a child
interpreter; without this, a DeprecationWarning there (an asyncio API deprecated in 3.14, say)
would print a line on the child's stderr and pass. Children inherit ``PYTHONWARNINGS``
(multiprocessing's spawn and forkserver children included); those started with ``-I``, which
ignores it, pass ``-W error`` themselves (tests/test_guards.py). Loaded by tests/conftest.py.
"""

from __future__ import annotations

import os

import pytest

_SAVED = pytest.StashKey[str | None]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SAVED] = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = "error"


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = config.stash.get(_SAVED, None)
    if saved is None:
        os.environ.pop("PYTHONWARNINGS", None)
    else:
        os.environ["PYTHONWARNINGS"] = saved
