"""TelemetryConfig: every setting of the client, with environment overrides and checks."""

from __future__ import annotations

import math
import os

from ._config_checks import (
    ENV_PREFIX,
    api_key_problem,
    instance_id_problem,
    mask_url,
    read_enabled,
    server_url_problem,
)
from ._log import LazyLogger
from ._record import record, record_fields
from ._text_forms import lazy_pattern
from ._validation import Invalid, to_uuid

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .models import TaskCompletionEvent


__all__ = ["DEFAULT_USER_AGENT", "ENV_PREFIX", "TelemetryConfig", "mask_secret"]

logger = LazyLogger(__name__)

DEFAULT_USER_AGENT = "mosaicstack-telemetry-python/0.1.0"

_CONTROL = lazy_pattern(r"[\x00-\x1f\x7f]")
# Env vars that fill a field only when the constructor left it empty.
_FILL_FROM_ENV = {
    "server_url": "SERVER_URL",
    "api_key": "API_KEY",
    "instance_id": "INSTANCE_ID",
    "ca_file": "CA_FILE",
    "spool_dir": "SPOOL_DIR",
}
_SPOOL_MIN_BYTES = 64 * 1024
_HOOK_RULES = {
    "before_send": "event -> event or None",
    "dry_run_callback": "list of events -> None",
}


def mask_secret(secret: str) -> str:
    """Return a form of ``secret`` that is safe to print: its last 4 characters at most."""
    if not secret:
        return "''"
    if len(secret) <= 8:
        return "'***'"
    return f"'***{secret[-4:]}'"


@record(repr=False)
class TelemetryConfig:
    """All settings of a :class:`TelemetryClient`.

    ``MOSAIC_TELEMETRY_ENABLED`` always overrides ``enabled``: ``1``, ``true``, ``yes``
    enable, ``0``, ``false``, ``no``, ``off`` disable, and any other value disables
    with one WARNING (and a :meth:`validate` problem);
    ``MOSAIC_TELEMETRY_SERVER_URL``, ``_API_KEY``, ``_INSTANCE_ID``, ``_CA_FILE`` and
    ``_SPOOL_DIR`` fill their field only when it was left empty. Trailing slashes of
    ``server_url`` are stripped.
    """

    server_url: str = ""
    api_key: str = ""
    instance_id: str = ""
    enabled: bool = True
    submit_interval_seconds: float = 300.0
    max_queue_size: int = 1000
    batch_size: int = 100
    request_timeout_seconds: float = 10.0
    prediction_cache_ttl_seconds: float = 21600.0
    dry_run: bool = False
    max_retries: int = 3
    user_agent: str = DEFAULT_USER_AGENT
    shutdown_timeout_seconds: float = 5.0
    ca_file: str = ""
    gzip: bool = False
    spool_dir: str | None = None
    spool_max_bytes: int = 64 * 1024 * 1024
    before_send: Callable[[TaskCompletionEvent], TaskCompletionEvent | None] | None = None
    dry_run_callback: Callable[[list[TaskCompletionEvent]], None] | None = None

    def __post_init__(self) -> None:
        env = os.environ
        self._env_problem: str | None = None
        enabled = env.get(ENV_PREFIX + "ENABLED")
        if enabled is not None:
            self.enabled, self._env_problem = read_enabled(enabled)
            if self._env_problem:
                logger.warning("telemetry config: %s", self._env_problem)
        for name, suffix in _FILL_FROM_ENV.items():
            if not getattr(self, name):
                value = env.get(ENV_PREFIX + suffix)
                if value:
                    setattr(self, name, value)
        if isinstance(self.server_url, str):
            self.server_url = self.server_url.rstrip("/")
        spool_dir: object = self.spool_dir
        if isinstance(spool_dir, os.PathLike):  # a pathlib.Path is welcome too
            self.spool_dir = os.fspath(spool_dir)

    def validate(self) -> list[str]:
        """Check every setting; return one message per problem (empty when valid).

        Messages name the setting and the rule, and never show the key or a password.
        """
        env_problem: str | None = getattr(self, "_env_problem", None)
        problems = [env_problem] if env_problem else []
        try:
            to_uuid(self.instance_id)
            is_uuid = True
        except Invalid:
            is_uuid = False
        for problem in (
            server_url_problem(self.server_url),
            api_key_problem(self.api_key),
            instance_id_problem(self.instance_id, is_uuid=is_uuid),
        ):
            if problem:
                problems.append(problem)
        problems.extend(self._number_problems())
        if not isinstance(self.user_agent, str) or _CONTROL.search(self.user_agent):
            problems.append("user_agent must be a string without control characters")
        if self.ca_file and not os.path.isfile(self.ca_file):
            problems.append(f"ca_file must name a readable file, got {self.ca_file[:200]!r}")
        problems.extend(self._spool_problems())
        for name, rule in _HOOK_RULES.items():
            hook: object = getattr(self, name)
            if hook is not None and not callable(hook):
                problems.append(f"{name} must be a callable ({rule}) or None, got {hook!r:.60}")
        return problems

    def _spool_problems(self) -> list[str]:
        problems: list[str] = []
        spool_dir: object = self.spool_dir  # the annotation is a promise callers may break
        if spool_dir is not None and not isinstance(spool_dir, str):
            problems.append(f"spool_dir must be a path string or None, got {spool_dir!r:.60}")
        elif spool_dir and _CONTROL.search(spool_dir):
            problems.append(
                f"spool_dir must not contain control characters, got {spool_dir!r:.200}"
            )
        elif spool_dir and os.path.exists(spool_dir):
            from ._spool_dir import directory_problem  # noqa: PLC0415  # only with a spool

            problem = directory_problem(spool_dir)
            if problem is not None:
                problems.append(problem)
        size = self.spool_max_bytes
        if not _is_int(size) or size < _SPOOL_MIN_BYTES:
            problems.append(f"spool_max_bytes must be an int of 65536 or more, got {size!r}")
        return problems

    def _number_problems(self) -> list[str]:
        problems: list[str] = []
        for name in (
            "submit_interval_seconds",
            "request_timeout_seconds",
            "shutdown_timeout_seconds",
        ):
            if not _is_positive_number(getattr(self, name)):
                problems.append(f"{name} must be positive, got {getattr(self, name)!r}")
        ttl = self.prediction_cache_ttl_seconds
        if not _is_number(ttl) or ttl < 0:
            problems.append(f"prediction_cache_ttl_seconds must be 0 or more, got {ttl!r}")
        size = self.max_queue_size
        if not _is_int(size) or size <= 0:
            problems.append(f"max_queue_size must be positive, got {size!r}")
        batch = self.batch_size
        if not _is_int(batch) or not 1 <= batch <= 100:
            problems.append(f"batch_size must be between 1 and 100, got {batch!r}")
        retries = self.max_retries
        if not _is_int(retries) or retries < 0:
            problems.append(f"max_retries must be 0 or more, got {retries!r}")
        return problems

    def __repr__(self) -> str:
        parts = []
        for name in record_fields(TelemetryConfig):
            value: Any = getattr(self, name)
            if name == "api_key":
                text = mask_secret(value)
            elif name == "server_url" and isinstance(value, str):
                text = repr(mask_url(value))
            else:
                text = repr(value)
            parts.append(f"{name}={text}")
        return f"TelemetryConfig({', '.join(parts)})"

    __str__ = __repr__


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_positive_number(value: object) -> bool:
    return _is_number(value) and value > 0  # type: ignore[operator]  # _is_number narrowed it


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
