"""The ``mosaic-telemetry`` command line: one module per command, shared helpers beside them.

The client never imports this package; a vendored copy of the client may leave it out.
"""

from __future__ import annotations

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
