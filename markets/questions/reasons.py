"""Why a question is not a price question: a short reason for ``Unsupported``.

The parser recognises price questions by their grammar; anything else is unsupported. This
module only names the kind of question, so that ``parse --data`` and ``evaluate`` report
something a person can act on ("airdrop question") instead of one generic line.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["non_price_reason"]

# (pattern on the lower-cased title, what the question is about); first match wins.
_TOPICS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), topic)
    for pattern, topic in (
        (r"\bairdrop", "an airdrop"),
        (r"\b(?:launch|create)\b.*\b(?:coin|memecoin|token)\b|\bmemecoin\b", "a token launch"),
        (r"\b(?:say|says|mention)\b", "what someone says"),
        (r"\bop_\w+|\bactivat|\bupgrade|\bfork\b|\bbip\b", "a protocol upgrade"),
        (r"\breserve\b", "a government reserve"),
        (r"\b(?:hack|hacker|stolen|exploit)", "a security incident"),
        (r"\b(?:unban|ban|legali[sz]e|regulat)", "regulation"),
        (r"\betf\b", "an ETF decision"),
        (r"\b(?:satoshi|wallet)\b.*\bmove\b|\bmove\b.*\b(?:bitcoin|btc)\b", "wallet activity"),
        (
            r"\b(?:sell|sells|buy|buys|invest|hold|holds|liquidate|purchase|acquire)\b",
            "a company's or government's holdings",
        ),
        (r"\b(?:recover|account)\b", "an account or company event"),
    )
)


def non_price_reason(text: str) -> str:
    """A reason naming what a non-price question is about (input: the normalised title)."""
    for pattern, topic in _TOPICS:
        if pattern.search(text):
            return f"not a price question: it asks about {topic}"
    if "$" in text or "¢" in text:
        return (
            "unrecognised price question: no '<asset> reach/dip to/above/below/between $X "
            "<date>' pattern matched"
        )
    return "not a price question: no asset price level or up/down window in the title"
