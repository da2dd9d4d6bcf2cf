"""Where a hook keeps what it has read: the state directory, and one cursor file per transcript.

The state directory is ``MOSAIC_TELEMETRY_SPOOL_DIR`` when set, else
``$XDG_STATE_HOME/mosaic-telemetry`` (``~/.local/state/mosaic-telemetry``), made 0700.
A cursor holds each file's byte offset and the parser's open-turn state; it is
written atomically (a temporary file, then ``os.replace``) and only after the events
read up to it were confirmed, so a run that is cut short is read again next time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import TelemetryError

__all__ = [
    "SPOOL_DIR_ENV",
    "CursorBusy",
    "CursorStore",
    "state_directory",
]

SPOOL_DIR_ENV = "MOSAIC_TELEMETRY_SPOOL_DIR"
_VERSION = 1
_MAX_CURSOR_BYTES = 16 * 1024 * 1024

try:  # POSIX
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]


class CursorBusy(TelemetryError):
    """Another hook run holds this transcript's cursor (it will read what is new)."""


def state_directory(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The hook's state directory, created 0700 when missing.

    Raises:
        OSError: it cannot be created.
    """
    env = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit).expanduser()
    elif env.get(SPOOL_DIR_ENV):
        path = Path(env[SPOOL_DIR_ENV]).expanduser()
    else:
        base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        path = Path(base) / "mosaic-telemetry"
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            path.chmod(0o700)
    return path


class CursorStore:
    """Cursor files under ``<state dir>/cursors``, one per harness and transcript path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "cursors"

    def path_for(self, harness: str, transcript: Path) -> Path:
        """The cursor file of ``transcript`` (named by a hash of its absolute path)."""
        digest = hashlib.sha256(os.fsencode(os.path.abspath(transcript))).hexdigest()[:32]
        return self.directory / f"{harness}-{digest}.json"

    def load(self, path: Path) -> dict[str, Any] | None:
        """The cursor saved at ``path``; None when there is none or it is unreadable."""
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_CURSOR_BYTES + 1)
        except OSError:
            return None
        if len(data) > _MAX_CURSOR_BYTES:
            return None
        try:
            state = json.loads(data)
        except (ValueError, RecursionError):
            return None
        if not isinstance(state, dict) or state.get("version") != _VERSION:
            return None
        return state

    def save(self, path: Path, state: dict[str, Any]) -> None:
        """Write ``state`` to ``path`` atomically, readable by this user only."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        data = json.dumps({**state, "version": _VERSION}, separators=(",", ":")).encode()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise

    @contextlib.contextmanager
    def lock(self, path: Path) -> Iterator[None]:
        """Hold ``path``'s lock for the block; raise CursorBusy if another run holds it."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = path.with_suffix(".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if _fcntl is not None:
                try:
                    _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
                except OSError:
                    raise CursorBusy(f"another hook run is reading {path.name}") from None
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock
