"""Settings for the whole suite; each lives in a module of its own, which mypy checks.

mypy skips this file only because it cannot hold two top-level modules named ``conftest``
(tests/reliability has one) while tests/ is not a package.
"""

pytest_plugins = ["_child_warnings"]
