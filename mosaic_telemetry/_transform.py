"""``dataclass_transform`` for type checkers; at run time a no-op decorator (see the .pyi).

Type checkers read ``_transform.pyi``, which names ``typing_extensions.dataclass_transform``
(bundled with every checker; ``typing`` has it from 3.11 only, and the package runs on
3.10): models then type-check as keyword-only dataclasses. Nothing is imported here.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


__all__ = ["dataclass_transform"]


def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
    """Return a decorator that leaves its class as it is."""
    return lambda cls: cls
