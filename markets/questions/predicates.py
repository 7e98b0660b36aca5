"""The vocabulary and regexes of typed price predicates (``markets.questions.typed`` reads them).

Verbs by side (``UP_VERBS`` "rise to/break above/exceed", ``DOWN_VERBS`` "dip to/fall below",
``NEUTRAL_VERBS`` "touch/hit/reach/tag", which leave the side to the pricer), comparison words
(``ABOVE``/``BELOW``), and one compiled pattern per predicate form (touch, terminal, range,
first-of, ...). Each pattern is applied to the lower-cased predicate after the subject and
leaves the trailing time phrase in the group ``rest``.
"""

from __future__ import annotations

import re
from typing import Final

from levercast.markets.questions.numbers import MONEY

__all__ = [
    "ABOVE",
    "ATH",
    "ATH_PREDICATE",
    "BARE_LEVEL",
    "BEFORE",
    "BELOW",
    "DAY_CLOSE",
    "DOWN_VERBS",
    "FIRST_OF",
    "LIQUIDATION",
    "MULTIPLE",
    "MULTIPLY",
    "NEGATION",
    "NEUTRAL_VERBS",
    "OR_MORE",
    "PATH_VERBS",
    "PERIOD_CLOSE",
    "RANGE",
    "STAY_VERBS",
    "TERMINAL",
    "TERMINAL_VERBS",
    "TOUCH",
    "TOUCH_VERBS",
    "UP_OR_DOWN",
    "UP_VERBS",
    "VAGUE_VERB",
    "WHICH_FIRST",
    "money_group",
]


def money_group(group: str) -> str:
    """A named group matching a price (``numbers.MONEY``)."""
    return f"(?P<{group}>" + MONEY + ")"


UP_VERBS: Final = (
    "rise to|rise above|rise over|climb to|climb above|climb past|go above|go over|go up to|"
    "get above|get over|break above|break through|break past|push above|push past|surge to|"
    "surge past|surge above|rally to|rally above|pump to|pump above|spike to|spike above|"
    "soar to|soar above|soar past|jump to|jump above|surpass|exceed|top|breach|trade above|"
    "trade over|print above|move above|run to|rise past"
)
DOWN_VERBS: Final = (
    "dip to|dip below|dip under|fall to|fall below|fall under|drop to|drop below|drop under|"
    "sink to|sink below|crash to|crash below|go below|go under|go down to|get below|get under|"
    "break below|slip below|slip to|slide to|slide below|tumble to|tumble below|plunge to|"
    "plunge below|decline to|dump to|dump below|trade below|trade under|print below|move below|"
    "retrace to|fall back to|drop back to|dip back to"
)
NEUTRAL_VERBS: Final = (
    "touch|hit|reach|tag|cross|get to|trade at|revisit|retest|see|test|go to|break|print at|print"
)
TOUCH_VERBS = f"{UP_VERBS}|{DOWN_VERBS}|{NEUTRAL_VERBS}"
TOUCH = re.compile(
    r"^(?:be\s+able\s+to\s+|finally\s+|even\s+|ever\s+|first\s+)?(?P<verb>"
    + TOUCH_VERBS
    + r")\s+(?:a\s+(?:price|level)\s+of\s+|the\s+|a\s+)?"
    + money_group("a")
    + r"(?:\s+(?P<side>or\s+(?:higher|above|more|lower|below|less)))?"
    + r"(?:\s+(?:mark|level|handle|price\s+level))?(?P<rest>.*)$"
)
FIRST_OF = re.compile(
    r"^(?:(?:first\s+)?(?:"
    + TOUCH_VERBS
    + r")\s+)?(?:either\s+)?"
    + money_group("a")
    + r"\s+or\s+"
    + money_group("b")
    + r"\s+first(?P<rest>.*)$"
)
BEFORE = re.compile(
    r"^(?P<verb>" + TOUCH_VERBS + r")\s+" + money_group("a") + r"\s+before\s+(?:(?:it\s+)?"
    r"(?:hits?|reach(?:es)?|touch(?:es)?|falls?\s+to|drops?\s+to|dips?\s+to|gets?\s+to|"
    r"rises?\s+to|hitting|reaching|touching|falling\s+to|dropping\s+to|dipping\s+to|"
    r"rising\s+to)\s+)?" + money_group("b") + r"(?P<rest>.*)$"
)
TERMINAL_VERBS: Final = (
    "be trading|be priced|be worth|be|close|settle|finish|end|trade|print|stay|remain|hold|sit"
)
ABOVE: Final = "at or above|at least|above|over|greater than|higher than|more than|north of|beyond"
BELOW: Final = "at or below|at most|below|under|less than|lower than|south of|beneath"
TERMINAL = re.compile(
    r"^(?:(?P<verb>"
    + TERMINAL_VERBS
    + r")\s+)?(?P<cmp>"
    + ABOVE
    + "|"
    + BELOW
    + r")\s+"
    + money_group("a")
    + r"(?P<rest>.*)$"
)
OR_MORE = re.compile(
    r"^(?:(?P<verb>"
    + TERMINAL_VERBS
    + r")\s+)?(?:at\s+)?"
    + money_group("a")
    + r"\s+or\s+(?P<cmp>higher|above|more|lower|below|less)(?P<rest>.*)$"
)
PERIOD_CLOSE = re.compile(
    r"^(?P<verb>close|end|finish|settle)\s+(?P<period>(?:the|this)\s+(?:day|week|month|quarter|"
    r"year))\s+(?P<cmp>" + ABOVE + "|" + BELOW + r")\s+" + money_group("a") + r"$"
)
RANGE = re.compile(
    r"^(?:(?P<verb>" + TERMINAL_VERBS + r")\s+)?(?:between|in\s+the\s+range(?:\s+of)?|"
    r"within\s+the\s+range(?:\s+of)?|in\s+a\s+range\s+of|in\s+the\s+\$?)\s*"
    + money_group("a")
    + r"\s*(?:and|to|-)\s*"
    + money_group("b")
    + r"(?:\s+range)?(?P<rest>.*)$"
)
DAY_CLOSE = re.compile(
    r"^(?P<verb>close|end|finish|settle)\s+(?:on\s+)?(?P<day>today|tomorrow|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday)\s+(?P<cmp>"
    + ABOVE
    + "|"
    + BELOW
    + r")\s+"
    + money_group("a")
    + r"(?P<rest>.*)$"
)
WHICH_FIRST = re.compile(
    r"^which\s+(?:will|does|would)\s+(?P<asset>[a-z][a-z0-9]*)\s+(?:hit|reach|touch|see)\s+"
    r"first,?\s*:?\s*" + money_group("a") + r"\s+or\s+" + money_group("b") + r"(?P<rest>.*)$"
)
NEGATION = re.compile(r"^(?:not|never|fail\s+to|fails\s+to|avoid|not\s+be\s+able\s+to)\s+\w+")
VAGUE_VERB = re.compile(
    r"^(?P<verb>hold|defend|reclaim|lose|flip|retake|recover|keep|hold\s+onto|stay\s+at|"
    r"maintain)\s+(?:the\s+)?" + money_group("a")
)
BARE_LEVEL = re.compile(r"^(?:at\s+)?" + money_group("a") + r"(?:\s|$)")
MULTIPLE = re.compile(r"(?:^|\s)[0-9]+(?:\.[0-9]+)?x(?:\s|$)")
STAY_VERBS: Final = frozenset({"stay", "remain", "hold", "sit"})
PATH_VERBS: Final = frozenset({"trade", "print"})
ATH = re.compile(r"\ball[\s-]time[\s-]highs?\b|\bath\b")
ATH_PREDICATE = re.compile(
    r"^(?:(?:hit|reach|set|make|print|see|post|record|break|touch|have|beat|top)\s+)?"
    r"(?:an?\s+|its\s+|the\s+|their\s+)?(?:new\s+)?(?:all[\s-]time[\s-]highs?|ath)"
    r"(?:\s+\(ath\))?(?P<rest>.*)$"
)
MULTIPLY = re.compile(r"^(?:double|triple|halve|quadruple)\b")
UP_OR_DOWN = re.compile(
    r"^(?:go|be|close|end|finish|trade|move)\s+(?:up|down|higher|lower)\b|^(?:rise|fall|pump|"
    r"dump|gain|increase|decrease|drop|crash|rally|moon|tank)\b"
)
LIQUIDATION = re.compile(r"\bliquidations?\b|\bliquidated\b|\bliqs\b")
