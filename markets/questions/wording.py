"""The shared pieces of the typed-question grammar: asset names, normalisation, the subject.

A typed question is normalised (lower case, one space, "?" and trailing punctuation dropped,
">" read as "above"), a leading "what are the odds that" or a leading time phrase before a comma
("This week, will BTC touch $60k?") is moved out of the way, and its subject ("Will Bitcoin's
price", "BTC", "the price of ETH") is split from the predicate ("touch $60,000 before the end
of the week"). The grammar modules (``typed``, ``moves``, ``kalshi_titles``) read predicates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from levercast.features.errors import ConfigError
from levercast.markets.questions.common import ASSETS, ParseContext, Parsed, Unsupported
from levercast.markets.questions.numbers import PERCENT
from levercast.markets.questions.periods import Need, When
from levercast.markets.questions.relative import resolve_when
from levercast.models.contracts import Contract

__all__ = [
    "TypedContext",
    "asset_aliases",
    "contract_or_reason",
    "has_level",
    "normalise_typed",
    "split_subject",
    "strip_modifiers",
    "when_of",
]

# Names a trader types for the assets levercast knows without a store, beyond the venue-title
# names of ``common.ASSETS`` (XBT is Kraken's and CME's ticker for bitcoin).
_EXTRA_ALIASES: Final[dict[str, str]] = {"xbt": "BTC", "ada": "ADA", "ltc": "LTC"}
# Words that are never an asset name, even when a store lists such a ticker.
_NOT_ASSETS: Final = frozenset({"all", "the", "a", "an", "it", "will", "price", "crypto"})
_LEADING_FILLER = re.compile(
    r"^(?:(?:what(?:'s|\s+is|\s+are)\s+the\s+)?(?:odds|chances?|probability|likelihood)"
    r"\s+(?:that\s+)?|how\s+likely\s+is\s+it\s+that\s+|is\s+it\s+likely\s+that\s+|"
    r"do\s+you\s+think\s+(?:that\s+)?)"
)
_SUBJECT = re.compile(
    r"^(?:(?:will|would|does|do|did|can|could|is|shall|should|might|may)\s+)?(?:the\s+)?"
    r"(?:(?:price|value|spot\s+price)\s+of\s+)?(?:one\s+)?"
    r"(?P<asset>[a-z][a-z0-9]*)(?:'s|s')?(?:\s+(?:price|token|coin|spot\s+price|spot))?"
    r"\s+(?P<pred>.+)$"
)
_ANY_TIME = re.compile(
    r"(?:^|\s)(?:at\s+any\s+(?:point|time)|at\s+some\s+point|any\s*time|intraday|"
    r"during\s+the\s+day)(?=\s|$)"
)
_GOING_TO = re.compile(r"^(?:going\s+to|gonna|about\s+to|likely\s+to|expected\s+to)\s+")
_AGAIN = re.compile(r"(?:^|\s)again(?=\s|$)")


@dataclass(frozen=True, slots=True)
class TypedContext:
    """What a typed question is read against.

    Attributes
    ----------
    now
        The time asked (``at``, else the market's ``created_at``), or None.
    aliases
        Lower-case asset name -> ticker (``asset_aliases``).
    ctx
        The venue context (rules, outcomes, ...), for the resolution helpers.
    """

    now: datetime | None
    aliases: Mapping[str, str]
    ctx: ParseContext

    def asset(self, word: str) -> str | None:
        """The ticker a word names, or None."""
        return self.aliases.get(word)

    def unknown_asset(self, word: str) -> Unsupported:
        """The reason for a subject that is not a known asset."""
        known = ", ".join(sorted(set(self.aliases.values())))
        return Unsupported(
            f"unknown asset {word!r} (known: {known}; a store's other assets are passed as "
            "assets=...)"
        )


def asset_aliases(assets: Iterable[str] | None = None) -> dict[str, str]:
    """Lower-case names and tickers -> ticker: BTC/Bitcoin/XBT, ETH/Ethereum/Ether, SOL, XRP,
    DOGE, the venue-title names of ``common.ASSETS``, and each symbol of ``assets``.

    Raises
    ------
    ConfigError
        When ``assets`` is a string or holds something other than an alphanumeric ticker.
    """
    out = dict(ASSETS)
    out.update(_EXTRA_ALIASES)
    out.update({ticker.lower(): ticker for ticker in ASSETS.values()})
    if assets is None:
        return out
    if isinstance(assets, str):
        raise ConfigError(f"assets must be a collection of tickers; found the string {assets!r}")
    for symbol in assets:
        if not isinstance(symbol, str) or not symbol.isascii() or not symbol.isalnum():
            raise ConfigError(
                f"assets must hold alphanumeric tickers such as BTC; found {symbol!r}"
            )
        word = symbol.lower()
        if word not in _NOT_ASSETS and word[0].isalpha():
            out.setdefault(word, symbol.upper())
    return out


def normalise_typed(text: str) -> str:
    """Lower case, one space, typographic quotes and dashes made plain, the text after the first
    "?" and trailing punctuation dropped, ">"/"<" read as "above"/"below", a leading "what are
    the odds that" dropped, and a leading time phrase before a comma moved to the end."""
    text = (
        text.replace("’", "'")
        .replace("‘", "'")
        .replace("“", '"')
        .replace("”", '"')
        .replace("–", "-")
        .replace("—", "-")
        .replace("\u00a0", " ")
    )
    text = text.split("?")[0].lower()
    text = re.sub(r">=|≥", " at or above ", text)
    text = re.sub(r"<=|≤", " at or below ", text)
    text = text.replace(">", " above ").replace("<", " below ")
    text = re.sub(r"([0-9](?:\s?[kmb])?)\+(?=\s|$)", r"\1 or higher", text)
    text = " ".join(text.split()).strip(" .!;:")
    text = re.sub(r"^([a-z][a-z0-9]{1,14}):\s", r"\1 ", text)  # "bitcoin: $80k or ..."
    text = _LEADING_FILLER.sub("", text)
    lead = re.match(r"^(?P<when>[^,]{2,60}),\s*(?P<rest>(?:will|does|can|is|could)\s.+)$", text)
    if lead is not None:
        text = f"{lead['rest']} {lead['when']}"
    return text


_VERB_STEMS: Final = frozenset(
    {
        "touch", "hit", "reach", "tag", "cross", "get", "trade", "revisit", "retest", "see",
        "test", "go", "rise", "climb", "break", "push", "surge", "rally", "pump", "spike", "soar",
        "jump", "surpass", "exceed", "top", "breach", "print", "move", "run", "dip", "fall",
        "drop", "sink", "crash", "slip", "slide", "tumble", "plunge", "decline", "dump",
        "retrace", "close", "settle", "finish", "end", "stay", "remain", "hold", "sit", "swing",
        "change", "fluctuate", "gain", "increase", "appreciate", "lose", "decrease", "correct",
        "rebound", "bounce", "experience", "make", "post", "record", "undergo", "show",
        "suffer", "log",
    }
)  # fmt: skip
_IRREGULAR: Final = {"is": "be", "has": "have", "does": "do"}


def _base_verb(predicate: str) -> str:
    """The predicate with a third-person first verb made plain ("touches" -> "touch")."""
    first, _, rest = predicate.partition(" ")
    base = _IRREGULAR.get(first)
    if base is None:
        for cut in (2, 1):
            if first.endswith("es"[2 - cut :]) and first[:-cut] in _VERB_STEMS:
                base = first[:-cut]
                break
    return f"{base} {rest}".strip() if base else predicate


def split_subject(text: str) -> tuple[str, str] | None:
    """(subject word, predicate) of a normalised question, e.g. ``("bitcoin", "touch $60,000
    before the end of the week")``; None when the text has no such shape. A third-person verb
    ("BTC touches $60k") is made plain."""
    m = _SUBJECT.match(text)
    if m is None:
        return None
    predicate = re.sub(
        r"^(?:going\s+to|gonna|about\s+to|likely\s+to|expected\s+to)\s+", "", m["pred"]
    )
    return m["asset"], _base_verb(predicate)


def strip_modifiers(text: str) -> tuple[str, bool]:
    """(text without "at any point"/"intraday"/"again", whether an at-any-time word was there)."""
    any_time = _ANY_TIME.search(text) is not None
    text = _ANY_TIME.sub(" ", text)
    text = _AGAIN.sub(" ", text)
    return " ".join(text.split()), any_time


_EXPLICIT_MONEY = re.compile(
    r"\$\s?[0-9]|[0-9](?:\s?(?:k|thousand|million|billion|bn|usd|dollars|cents?|¢))(?![a-z])"
)


def has_level(text: str) -> bool:
    """Whether ``text`` names another price or percent (a second level in a time phrase);
    bare numbers ("31", "2025", "15m") are dates and durations, not levels."""
    return _EXPLICIT_MONEY.search(text) is not None or re.search(PERCENT, text) is not None


def contract_or_reason(
    fields: dict[str, object], yes: str, assumptions: Iterable[str]
) -> Parsed | Unsupported:
    """``Parsed`` of a contract built from ``fields``, or the contract's own validation reason."""
    try:
        contract = Contract(**fields)  # type: ignore[arg-type]
    except (ConfigError, ValueError, OverflowError) as e:
        return Unsupported(f"invalid contract: {e}")
    return Parsed(contract, yes, tuple(dict.fromkeys(assumptions)))


def when_of(rest: str, need: Need, tctx: TypedContext) -> When | Unsupported:
    """The ``When`` of a predicate's trailing time phrase, or the reason it has none."""
    rest = rest.strip(" ,")
    if has_level(rest):
        return Unsupported(
            f"more than one price level or percent in {rest!r}: ask about one level (or '$A or "
            "$B first')"
        )
    if tctx.now is None:
        return Unsupported(
            f"the time phrase {rest or '(none)'!r} is read against the time asked: pass at"
        )
    found = resolve_when(rest, now=tctx.now, need=need)
    return Unsupported(found) if isinstance(found, str) else found
