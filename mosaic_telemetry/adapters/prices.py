"""The offline price table: USD per million tokens for common models, with its date and sources.

Prices change; this table is a snapshot, used only when a harness reports no cost of
its own. Override or extend it with a JSON file (see ``PriceTable.from_file``). Each row
is ``(model id, provider, input, output, cache read, cache write, context window)``.

- Long-context surcharges (Anthropic and Google above 200K prompt tokens, OpenAI above
  272K) and the upper band of Claude Haiku 5.5 (prompts over 100K) are not modelled:
  the standard rate applies to every request.
- OpenAI and Google do not bill cache writes (write price 0); Mistral lists no cache
  discount, so its cache-read price is its input price. Google's context-cache
  storage fee is not included.
- Anthropic cache writes use the 5-minute rate, the one Claude Code uses.
- ``None`` as context window: not published in the sources below.
"""

from __future__ import annotations

__all__ = ["PRICES", "PRICES_TAKEN", "SOURCES"]

PRICES_TAKEN = "2026-12-01"
"""The day the prices below were read from the sources."""

SOURCES = {
    "anthropic": "https://platform.claude.com/docs/en/about-claude/pricing",
    "openai": "https://developers.openai.com/api/docs/pricing",
    "google": "https://ai.google.dev/gemini-api/docs/pricing",
    "mistral": "https://mistral.ai/pricing",
}
"""Where each provider's rows were taken from."""

_M = 1_000_000
_1M = 1_048_576

PRICES: tuple[tuple[str, str, float, float, float, float, int | None], ...] = (
    # Anthropic: input, output, cache hit, 5-minute cache write.
    ("claude-fable-5-1", "anthropic", 10.0, 50.0, 0.25, 12.5, _M),
    ("claude-fable-5", "anthropic", 10.0, 50.0, 1.0, 12.5, _M),
    ("claude-opus-5-5", "anthropic", 4.0, 20.0, 0.2, 5.0, _M),
    ("claude-opus-5", "anthropic", 5.0, 25.0, 0.5, 6.25, _M),
    ("claude-opus-4-8", "anthropic", 5.0, 25.0, 0.5, 6.25, None),
    ("claude-opus-4-7", "anthropic", 5.0, 25.0, 0.5, 6.25, None),
    ("claude-opus-4-6", "anthropic", 5.0, 25.0, 0.5, 6.25, _M),
    ("claude-opus-4-5", "anthropic", 5.0, 25.0, 0.5, 6.25, 200_000),
    ("claude-opus-4-1", "anthropic", 15.0, 75.0, 1.5, 18.75, 200_000),
    ("claude-opus-4", "anthropic", 15.0, 75.0, 1.5, 18.75, 200_000),
    ("claude-opus-4-0", "anthropic", 15.0, 75.0, 1.5, 18.75, 200_000),
    ("claude-sonnet-5-5", "anthropic", 2.0, 10.0, 0.1, 2.5, _M),
    ("claude-sonnet-5", "anthropic", 2.0, 10.0, 0.2, 2.5, _M),
    ("claude-sonnet-4-6", "anthropic", 3.0, 15.0, 0.3, 3.75, _M),
    ("claude-sonnet-4-5", "anthropic", 3.0, 15.0, 0.3, 3.75, 200_000),
    ("claude-sonnet-4", "anthropic", 3.0, 15.0, 0.3, 3.75, 200_000),
    ("claude-sonnet-4-0", "anthropic", 3.0, 15.0, 0.3, 3.75, 200_000),
    ("claude-3-7-sonnet", "anthropic", 3.0, 15.0, 0.3, 3.75, 200_000),
    ("claude-haiku-5-5", "anthropic", 0.1, 0.5, 0.01, 0.125, _M),
    ("claude-haiku-4-5", "anthropic", 1.0, 5.0, 0.1, 1.25, 200_000),
    ("claude-3-5-haiku", "anthropic", 0.8, 4.0, 0.08, 1.0, 200_000),
    ("claude-3-haiku", "anthropic", 0.25, 1.25, 0.03, 0.3, 200_000),
    # OpenAI: input, output, cached input; cache writes are not billed.
    ("gpt-5.5", "openai", 5.0, 30.0, 0.5, 0.0, _M),
    ("gpt-5.4", "openai", 2.5, 15.0, 0.25, 0.0, _M),
    ("gpt-5.4-mini", "openai", 0.75, 4.5, 0.075, 0.0, None),
    ("gpt-5.4-nano", "openai", 0.2, 1.25, 0.02, 0.0, None),
    ("gpt-5.1-codex", "openai", 1.25, 10.0, 0.125, 0.0, 400_000),
    ("gpt-5.1", "openai", 1.25, 10.0, 0.125, 0.0, 400_000),
    ("gpt-5-codex", "openai", 1.25, 10.0, 0.125, 0.0, 400_000),
    ("gpt-5", "openai", 1.25, 10.0, 0.125, 0.0, 400_000),
    ("gpt-5-mini", "openai", 0.25, 2.0, 0.025, 0.0, 400_000),
    ("gpt-5-nano", "openai", 0.05, 0.4, 0.005, 0.0, 400_000),
    ("gpt-4.1", "openai", 2.0, 8.0, 0.5, 0.0, 1_047_576),
    ("gpt-4.1-mini", "openai", 0.4, 1.6, 0.1, 0.0, 1_047_576),
    ("gpt-4o", "openai", 2.5, 10.0, 1.25, 0.0, 128_000),
    ("gpt-4o-mini", "openai", 0.15, 0.6, 0.075, 0.0, 128_000),
    ("o3", "openai", 2.0, 8.0, 0.5, 0.0, 200_000),
    ("o4-mini", "openai", 1.1, 4.4, 0.275, 0.0, 200_000),
    ("codex-mini-latest", "openai", 1.5, 6.0, 0.375, 0.0, 200_000),
    # Google: prompts up to 200K tokens; cached input, no write price.
    ("gemini-3-pro-preview", "google", 2.0, 12.0, 0.2, 0.0, _1M),
    ("gemini-2.5-pro", "google", 1.25, 10.0, 0.125, 0.0, _1M),
    ("gemini-2.5-flash", "google", 0.3, 2.5, 0.03, 0.0, _1M),
    ("gemini-2.5-flash-lite", "google", 0.1, 0.4, 0.01, 0.0, _1M),
    ("gemini-2.0-flash", "google", 0.1, 0.4, 0.025, 0.0, _1M),
    # Mistral: no cache discount listed.
    ("mistral-large-latest", "mistral", 0.5, 1.5, 0.5, 0.5, None),
    ("mistral-medium-latest", "mistral", 0.4, 2.0, 0.4, 0.4, None),
    ("mistral-small-latest", "mistral", 0.1, 0.3, 0.1, 0.1, None),
    ("codestral-latest", "mistral", 0.3, 0.9, 0.3, 0.3, None),
    ("devstral-medium-latest", "mistral", 0.4, 2.0, 0.4, 0.4, None),
    ("devstral-small-latest", "mistral", 0.1, 0.3, 0.1, 0.1, None),
)
"""One row per model id: ``(model, provider, input, output, cache_read, cache_write, window)``."""
