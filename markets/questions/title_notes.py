"""Assumptions of a question read in a venue title form without the venue's rules text.

``parse_question`` reads a question shaped like a Polymarket title ("Will Bitcoin reach $110,000
by February 28?") with the venue grammar; when no rules text is given, the conventions that
grammar applied are listed here in words, so that a trader who typed the question sees them.
"""

from __future__ import annotations

import re
from datetime import datetime

from levercast.features.timeutil import ET
from levercast.markets.questions.common import ParseContext
from levercast.markets.questions.dates import MONTHS
from levercast.models.contracts import Contract, Kind

__all__ = ["title_assumptions"]

_MONTH_WORD = re.compile(r"\b(?:" + "|".join(MONTHS) + r")\b")


def _money(value: float | None) -> str:
    return f"${value:,.2f}".replace(".00", "") if value is not None else "?"


def _local(value: datetime) -> datetime:
    return value.astimezone(ET)


def title_assumptions(contract: Contract, title: str, ctx: ParseContext) -> tuple[str, ...]:
    """The conventions behind a venue-title reading (empty when a rules text was given: the
    rules state them)."""
    if ctx.rules:
        return ()
    text = title.lower()
    symbol = contract.resolution.symbol or f"{contract.asset}USDT"
    notes: list[str] = []
    kind = contract.kind
    if kind is Kind.TOUCH:
        level = _money(contract.strike_usd)
        if contract.direction == "up":
            notes.append(
                f"read as a Polymarket title: a touch from below, any Binance {symbol} 1-minute "
                f"high at or above {level} (already above: Yes at once; say 'touch' or 'dip to' "
                "for a touch from above)"
            )
        elif contract.direction == "down":
            notes.append(
                f"read as a Polymarket title: a touch from above, any Binance {symbol} 1-minute "
                f"low at or below {level}"
            )
        else:
            notes.append(
                "'touch' names no side: direction is left null; the pricer takes up when "
                f"{level} is above the price at the window start, down when below"
            )
    elif kind in (Kind.CLOSE_ABOVE, Kind.CLOSE_BELOW, Kind.RANGE):
        notes.append(f"the price is the Binance {symbol} 1-minute candle close at the fixing")
        if contract.end is not None and not re.search(r"[ap]\.?m\b", text):
            local = _local(contract.end)
            if (local.hour, local.minute) == (12, 0):
                notes.append(
                    "a date without a time is its 12:00 ET fixing (Polymarket's daily markets)"
                )
    elif kind is Kind.FIRST_OF:
        if contract.end is None:
            notes.append("no deadline: the race runs until one barrier is hit")
        else:
            notes.append("neither barrier hit by the end resolves 50-50 (Polymarket's rule)")
    elif kind is Kind.UP_DOWN:
        notes.append(
            f"read as a Polymarket up/down title: {contract.resolution.source} "
            f"{contract.resolution.price} prices at the window start and end"
        )
    if kind is Kind.TOUCH and contract.end is not None:
        local = _local(contract.end)
        if (local.hour, local.minute) == (0, 0):
            notes.append("a day, week or month ends 23:59:59 ET (end = 00:00 ET after it)")
    if _MONTH_WORD.search(text) and not re.search(r"\b20[0-9]{2}\b", text):
        notes.append("a date without a year is the first one not over at the time asked")
    if ctx.created_at is None and ctx.reference is not None:
        if contract.start < ctx.reference:
            notes.append("the period is whole: it began before the time asked")
        elif contract.start == ctx.reference:
            notes.append("the window starts at the time asked")
    return tuple(notes)
