"""Numbers as traders type them: prices ("$60k", "60,000", "60K", "$1.2M", "69¢") and percents.

Only ASCII digits count as digits, so text without one never yields a number (the typed
parser relies on it: a question without a number is never a contract). Thousands separators
must group by three ("60,000", not "60,00"); a malformed number is not read at all.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = ["MONEY", "PERCENT", "read_percent", "read_price"]

_DIGITS = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_SCALE_WORDS: Final[dict[str, Decimal]] = {
    "": Decimal(1),
    "k": Decimal(1000),
    "thousand": Decimal(1000),
    "m": Decimal(10**6),
    "mm": Decimal(10**6),
    "mn": Decimal(10**6),
    "mil": Decimal(10**6),
    "million": Decimal(10**6),
    "b": Decimal(10**9),
    "bn": Decimal(10**9),
    "billion": Decimal(10**9),
    "¢": Decimal("0.01"),
    "cent": Decimal("0.01"),
    "cents": Decimal("0.01"),
}
_SCALE = r"(?:thousand|million|billion|mil|mm|mn|bn|cents?|k|m|b|¢)"
MONEY: Final = (
    r"(?:\$\s?" + _DIGITS + r"(?:\s?" + _SCALE + r")?(?:\s?usd)?"
    r"|" + _DIGITS + r"(?:\s?" + _SCALE + r")?(?:\s?(?:usd|dollars))?)(?![0-9a-z%.,])"
)
"""Regex of a price: ``$60k``, ``$ 60,000``, ``60K``, ``$1.2M``, ``100000``, ``69¢``,
``60,000 usd`` (apply it to lower-cased text)."""
PERCENT: Final = r"(?:" + _DIGITS + r")\s?(?:%|percent\b|per\s+cent\b|pct\b)"
"""Regex of a percent: ``5%``, ``5 percent``, ``2.5 pct``."""
_MONEY_PARTS = re.compile(
    r"^\$?\s?(?P<n>" + _DIGITS + r")\s?(?P<s>" + _SCALE + r")?\s?(?:usd|dollars)?$"
)
_PERCENT_PARTS = re.compile(r"^(?P<n>" + _DIGITS + r")")


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def read_price(text: str) -> float | None:
    """A price in USD from its text (a ``MONEY`` match), or None when unreadable or not positive.

    Examples: ``$60k`` -> 60000, ``60,000`` -> 60000, ``$1.2m`` -> 1200000, ``69¢`` -> 0.69.
    """
    match = _MONEY_PARTS.match(text.strip().lower())
    if match is None:
        return None
    number = _decimal(match["n"])
    if number is None:
        return None
    value = float(number * _SCALE_WORDS[match["s"] or ""])
    return value if value > 0 else None


def read_percent(text: str) -> float | None:
    """A percent as a fraction (``5%`` -> 0.05) from a ``PERCENT`` match, or None."""
    match = _PERCENT_PARTS.match(text.strip())
    if match is None:
        return None
    number = _decimal(match["n"])
    if number is None:
        return None
    value = float(number / 100)
    return value if value > 0 else None
