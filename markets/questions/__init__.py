"""``levercast.markets.questions``: venue titles and typed questions -> contracts.

Public names are re-exported lazily (PEP 562), so importing the package loads no grammar:

- ``parse_question(text, *, at, subtitle, assets, rules, created_at, end_date, outcomes,
  ath_usd)`` and ``parse_market(market, *, reference_time, ath_usd)`` -> ``Parsed`` or
  ``Unsupported`` (``markets.questions.parser``);
- ``Parsed(contract, yes_outcome, assumptions)``, ``Unsupported(reason)``, ``AthLookup``;
- ``resolve_when(phrase, *, now, need)`` -> ``When`` or a reason (``markets.questions.relative``:
  the relative-date rules on their own);
- ``read_subtitle(subtitle)`` (Kalshi strikes) and ``asset_aliases(assets)`` (asset names).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AthLookup": "levercast.markets.questions.common",
    "Parsed": "levercast.markets.questions.common",
    "Unsupported": "levercast.markets.questions.common",
    "parse_market": "levercast.markets.questions.parser",
    "parse_question": "levercast.markets.questions.parser",
    "When": "levercast.markets.questions.periods",
    "resolve_when": "levercast.markets.questions.relative",
    "read_subtitle": "levercast.markets.questions.kalshi_titles",
    "asset_aliases": "levercast.markets.questions.wording",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'levercast.markets.questions' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
