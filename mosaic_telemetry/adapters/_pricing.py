"""Prices per model: the offline table, a user's override file, lookup by model name, cost."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..enums import Provider
from ..errors import TelemetryError
from ._task import Tokens
from .prices import PRICES

__all__ = ["Price", "PriceFileError", "PriceTable", "model_keys", "provider_of"]

_DATE_SUFFIX = re.compile(r"(?:[-@]\d{8}|-\d{4}-\d{2}-\d{2})$")
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_REGION_PREFIX = re.compile(r"^(?:us|eu|apac|global|jp|au)\.")
_MAX_PRICE_FILE_BYTES = 1024 * 1024
_MAX_PRICE = 1_000_000.0  # USD per million tokens; anything above is a typo

# Prefixes that name who served the model (litellm/aider style ``provider/model``).
_PREFIX_PROVIDERS = {
    "anthropic": Provider.ANTHROPIC,
    "openai": Provider.OPENAI,
    "openrouter": Provider.OPENROUTER,
    "ollama": Provider.OLLAMA,
    "ollama_chat": Provider.OLLAMA,
    "gemini": Provider.GOOGLE,
    "google": Provider.GOOGLE,
    "vertex_ai": Provider.GOOGLE,
    "mistral": Provider.MISTRAL,
}
_NAME_PROVIDERS = (
    (re.compile(r"^claude"), Provider.ANTHROPIC),
    (re.compile(r"^(?:gpt-|o\d(?:-|$)|codex-|chatgpt-)"), Provider.OPENAI),
    (re.compile(r"^gemini"), Provider.GOOGLE),
    (re.compile(r"^(?:mistral|codestral|devstral|magistral|ministral)"), Provider.MISTRAL),
)


class PriceFileError(TelemetryError):
    """A price override file that cannot be used; the message names the entry and field."""


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens for one model (so also micro-dollars per token)."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    provider: Provider | None = None
    context_window: int | None = None

    def cost_micros(self, tokens: Tokens) -> float:
        """What ``tokens`` cost, in micro-dollars."""
        return (
            tokens.fresh * self.input
            + tokens.cache_read * self.cache_read
            + tokens.cache_write * self.cache_write
            + tokens.output * self.output
        )


def model_keys(name: str) -> Iterator[str]:
    """Names to look ``name`` up under, most specific first: exact, then without dressing.

    Dressing is what deployments add around a model id: a ``provider/`` prefix, a
    Bedrock region and ``anthropic.`` prefix or ``-v1:0`` suffix, a ``[1m]`` marker,
    a date (``-20250929``, ``@20250929``, ``-2024-07-18``) or ``-latest``. Nothing
    else is guessed: a name that matches no row stays unpriced.
    """
    key = name.strip().lower()
    seen: set[str] = set()
    for candidate in _variants(key):
        if candidate and candidate not in seen:
            seen.add(candidate)
            yield candidate


def _variants(key: str) -> Iterator[str]:
    yield key
    key = key.rpartition("/")[2]
    yield key
    key = key.replace("[1m]", "")
    key = _REGION_PREFIX.sub("", key)
    key = key.removeprefix("anthropic.")
    key = _BEDROCK_VERSION.sub("", key)
    yield key
    key = _DATE_SUFFIX.sub("", key)
    yield key
    yield key.removesuffix("-latest")


def provider_of(model: str, price: Price | None) -> Provider:
    """Who served ``model``: its ``provider/`` prefix, else the price row, else its name."""
    lowered = model.strip().lower()
    prefix, slash, _ = lowered.partition("/")
    if slash:
        return _PREFIX_PROVIDERS.get(prefix, Provider.CUSTOM)
    if price is not None and price.provider is not None:
        return price.provider
    for pattern, provider in _NAME_PROVIDERS:
        if pattern.match(lowered):
            return provider
    return Provider.UNKNOWN


class PriceTable:
    """Looks prices up by model name (see :func:`model_keys`)."""

    __slots__ = ("_prices",)

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = {name.lower(): price for name, price in prices.items()}

    @classmethod
    def default(cls) -> PriceTable:
        """The built-in table of :mod:`.prices`."""
        return cls(
            {
                model: Price(inp, out, read, write, Provider(provider), window)
                for model, provider, inp, out, read, write, window in PRICES
            }
        )

    @classmethod
    def from_file(cls, path: str, base: PriceTable | None = None) -> PriceTable:
        """The ``base`` table (default: built-in) with the rows of a JSON file added.

        The file is ``{"models": {"<model>": {"input": 3.0, "output": 15.0,
        "cache_read": 0.3, "cache_write": 3.75, "provider": "anthropic",
        "context_window": 200000}}}`` in USD per million tokens; only ``input`` and
        ``output`` are required (cache prices default to the input price).

        Raises:
            PriceFileError: unreadable, not JSON, or an entry breaks a rule (named).
        """
        try:
            with open(path, "rb") as handle:
                raw = handle.read(_MAX_PRICE_FILE_BYTES + 1)
        except OSError as exc:
            raise PriceFileError(f"cannot read price file {path}: {exc.strerror or exc}") from None
        if len(raw) > _MAX_PRICE_FILE_BYTES:
            raise PriceFileError(f"price file {path} is larger than 1 MiB")
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):
            raise PriceFileError(f"price file {path} is not valid JSON") from None
        models = document.get("models") if isinstance(document, dict) else None
        if not isinstance(models, dict):
            raise PriceFileError(f'price file {path} must be an object with a "models" object')
        prices = dict((base or cls.default())._prices)
        for name, entry in models.items():
            prices[name.lower()] = _price_entry(path, name, entry)
        return cls(prices)

    def lookup(self, model: str) -> Price | None:
        """The price of ``model``, or None when no row matches."""
        prices = self._prices
        for key in model_keys(model):
            price = prices.get(key)
            if price is not None:
                return price
        return None

    def __len__(self) -> int:
        return len(self._prices)


def _price_entry(path: str, name: str, entry: Any) -> Price:
    where = f"price file {path}: models[{name[:100]!r}]"
    if not isinstance(entry, dict):
        raise PriceFileError(f"{where} must be an object")

    def number(field: str, default: float | None = None) -> float:
        value = entry.get(field, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not 0 <= value <= _MAX_PRICE
        ):
            raise PriceFileError(
                f"{where}.{field} must be a number of USD per million tokens "
                f"from 0 to {_MAX_PRICE:g}, got {value!r}"
            )
        return float(value)

    inp = number("input")
    provider_text = entry.get("provider")
    try:
        provider = None if provider_text is None else Provider(provider_text)
    except ValueError:
        names = ", ".join(p.value for p in Provider)
        raise PriceFileError(
            f"{where}.provider must be one of {names}, got {provider_text!r}"
        ) from None
    window = entry.get("context_window")
    if window is not None and (type(window) is not int or window <= 0):
        raise PriceFileError(f"{where}.context_window must be a positive integer, got {window!r}")
    return Price(
        input=inp,
        output=number("output"),
        cache_read=number("cache_read", inp),
        cache_write=number("cache_write", inp),
        provider=provider,
        context_window=window,
    )
