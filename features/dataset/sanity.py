"""Data sanity as rules: which rows no model may see, found with vectorised checks.

``validate_table`` (``schema.py``) refuses a table whose *format* is broken (types, keys, nulls,
``available_at < ts``, probabilities outside [0, 1], negative sizes): that is a ``DataError``
for every reader and a problem in ``data check``. The rules here are about *values* that parse
but cannot be true. ``Store.read`` excludes the rows that break them (a ``QuarantineWarning``
names the table, each rule and its count), so every reader, ``as_of`` and ``StoreView`` alike,
sees only sane rows; ``data check`` reports them.

Rules, by table (a row breaking any rule is excluded):

- candles: ``open``/``high``/``low``/``close`` finite and > 0; ``volume_base`` finite;
  ``high >= low``; ``open`` and ``close`` within ``[low, high]``; and the heuristic *impossible
  jump*: a bar reaching more than ``JUMP_K`` x the trailing range beyond the trailing extremes
  (see ``jump_mask``).
- implied_vol: ``iv`` finite and within ``IV_BAND`` (1 % to 500 % annualised).
- funding: ``rate`` finite and ``|rate| <= MAX_FUNDING_RATE`` per interval.
- open_interest, liquidations, exchange_reserves, ratios, books: the value columns finite
  (NaN stays allowed where the column is nullable).
- markets: ``winning_outcome`` one of the labels in ``outcomes``; ``resolved_at`` not before
  ``created_at``.
- market_prices: ``outcome`` one of the market's ``outcomes`` (when the market is known).

Rule breaks versus warnings (INTERFACE.md §4: ``ok`` is false only when a validation rule is
broken): every rule above except the jump is a rule break (the value cannot be true: ``data
check`` lists it under ``problems`` and says ``ok: false``); the jump is a heuristic (a real
flash crash can print a wick that looks impossible), so ``data check`` lists it under
``warnings``. Readers exclude both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.dataset.adjacent import changes

__all__ = [
    "IV_BAND",
    "JUMP_FLOOR",
    "JUMP_K",
    "JUMP_REASON",
    "JUMP_WINDOW",
    "MAX_FUNDING_RATE",
    "QuarantineWarning",
    "bad_rows",
    "jump_mask",
]

IV_BAND: Final = (0.01, 5.0)  # annualised implied vol: 1 % to 500 % (DVOL history: 31-166 %)
MAX_FUNDING_RATE: Final = 0.1  # per interval (venues cap at a few %)
JUMP_WINDOW: Final = 24  # trailing bars of the same venue, asset and interval
JUMP_K: Final = 10.0  # how many trailing ranges beyond the trailing extremes is impossible
JUMP_FLOOR: Final = 0.1  # the trailing range (log) is at least 10 %: quiet spells do not shrink it
JUMP_PASSES: Final = 8  # a run of up to 8 consecutive impossible bars is caught whole
JUMP_REASON: Final = (
    f"bar beyond {JUMP_K:g} x the trailing {JUMP_WINDOW}-bar range (impossible jump)"
)
_FINITE: Final[dict[str, tuple[str, ...]]] = {
    "open_interest": ("oi_base", "oi_usd"),
    "liquidations": ("long_usd", "short_usd"),
    "exchange_reserves": ("reserve_base",),
    "ratios": ("value",),
    "books": ("size",),
}


class QuarantineWarning(UserWarning):
    """Rows breaking a data-sanity rule were excluded on read (``levercast data check`` lists
    them): fix or re-fetch the named table."""


def _floats(frame: pd.DataFrame, column: str) -> FloatArray:
    return np.asarray(frame[column].to_numpy(dtype=np.float64, na_value=np.nan))


def _group_starts(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """Row positions where a run of equal ``columns`` begins (the frame is sorted by key)."""
    n = len(frame)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for column in columns:
        change[1:] |= changes(frame[column].array)
    return np.flatnonzero(change)


def _trailing(values: FloatArray, window: int, *, high: bool) -> FloatArray:
    """Max (``high``) or min of the ``window`` values before each row, ignoring NaN; NaN for
    the first ``window`` rows (pandas' O(n) rolling extremes)."""
    out = np.full(values.size, np.nan)
    if values.size <= window:
        return out
    rolling = pd.Series(values[:-1]).rolling(window, min_periods=1)
    agg = (rolling.max() if high else rolling.min()).to_numpy()
    out[window:] = agg[window - 1 :]
    return out


# ``exp(JUMP_K * JUMP_FLOOR)`` a hair low, so that ``_suspect`` flags at least every bar that
# moved more than the bound in log terms, whatever the rounding of the logs
_MOVE_RATIO: Final = math.exp(JUMP_K * JUMP_FLOOR) * (1.0 - 1e-9)


def _suspect(high: FloatArray, low: FloatArray, unusable: np.ndarray) -> np.ndarray:
    """For each bar after the first (``n - 1`` entries), whether it might be a jump: its
    previous bar is ``unusable`` (excluded, or a price not finite and positive), or its high rose
    or its low fell more than ``JUMP_K * JUMP_FLOOR`` in log terms from that bar.

    The trailing high is at least the previous bar's high and the threshold at least ``JUMP_K *
    JUMP_FLOOR``, so no other bar can jump: a series with none to judge skips the rolling
    windows (the common case: a clean series costs two comparisons instead of two rolling
    extremes). Ratios, not logs, so that it runs over a whole candles table at once."""
    with np.errstate(invalid="ignore"):
        moved = (high[1:] > high[:-1] * _MOVE_RATIO) | (low[1:] * _MOVE_RATIO < low[:-1])
    return np.asarray(unusable[:-1] | moved)


def jump_mask(
    high: FloatArray, low: FloatArray, *, excluded: np.ndarray | None = None
) -> np.ndarray:
    """Bars of one series (time order) that jump impossibly far from the bars before them.

    With ``H``/``L`` the highest high and lowest low of the ``JUMP_WINDOW`` bars before (bars
    already excluded left out) and ``r = max(ln(H / L), JUMP_FLOOR)`` the trailing range in
    log terms, a bar is impossible when ``ln(high / H) > JUMP_K r`` or ``ln(L / low) > JUMP_K r``:
    at least ``e^1 = 2.7x`` above the trailing high or ``63 %`` below the trailing low with the
    defaults. Real extremes in the shared dataset (the 2024-08-05 and 2025-02-03 ETH wicks,
    40 % from the trailing median) stay below 0.45 in log terms; a price written 10x too high or
    low (2.3) or a 1e12 bar is caught. The first ``JUMP_WINDOW`` bars of a series are not judged.
    Excluded bars are dropped from the trailing window and the test repeated
    (``JUMP_PASSES`` times), so a run of bad bars is caught whole, not just its first bar.
    """
    lh = np.log(np.where(high > 0, high, np.nan))
    ll = np.log(np.where(low > 0, low, np.nan))
    out = np.zeros(high.size, dtype=bool)
    if excluded is not None:
        out |= excluded
    found = np.zeros(high.size, dtype=bool)
    unusable = out | ~(np.isfinite(lh) & np.isfinite(ll))
    if high.size <= JUMP_WINDOW or not _suspect(high, low, unusable)[JUMP_WINDOW - 1 :].any():
        return found
    for _ in range(JUMP_PASSES):
        hh = np.where(out, np.nan, lh)
        lo = np.where(out, np.nan, ll)
        top, bottom = _trailing(hh, JUMP_WINDOW, high=True), _trailing(lo, JUMP_WINDOW, high=False)
        with np.errstate(invalid="ignore"):
            scale = JUMP_K * np.maximum(top - bottom, JUMP_FLOOR)
            new = ((lh - top > scale) | (bottom - ll > scale)) & ~out
        if not new.any():
            break
        out |= new
        found |= new
    return found


def _candles(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    o, h, lo, c = (_floats(frame, k) for k in ("open", "high", "low", "close"))
    with np.errstate(invalid="ignore"):
        # 0 < low <= open, close <= high < inf holds for a sane bar and implies every price rule
        # (a NaN fails a comparison): half the operations when the table is clean
        sane = (lo > 0) & (h < np.inf) & (lo <= o) & (o <= h) & (lo <= c) & (c <= h)
    if sane.all():
        bad_price, inverted, outside = (np.zeros(len(frame), dtype=bool) for _ in range(3))
    else:
        with np.errstate(invalid="ignore"):
            good = np.isfinite(o) & (o > 0)  # column by column: no (n, 4) copy
            for column in (h, lo, c):
                good &= np.isfinite(column) & (column > 0)
            bad_price = ~good
            inverted = ~bad_price & (h < lo)
            outside = ~bad_price & ~inverted & ((o > h) | (o < lo) | (c > h) | (c < lo))
    rules: dict[str, np.ndarray] = {
        "open/high/low/close not finite and positive": bad_price,
        "high below low": inverted,
        "open or close outside [low, high]": outside,
        "volume_base not finite": np.asarray(~np.isfinite(_floats(frame, "volume_base"))),
    }
    broken = bad_price | inverted | outside
    jumps = np.zeros(len(frame), dtype=bool)
    starts = _group_starts(frame, ("venue", "asset", "interval"))
    ends = np.append(starts[1:], len(frame))
    suspect = _suspect(h, lo, broken)
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        # ``jump_mask``'s own shortcut over the whole table at once: clean series skip it
        if b - a > JUMP_WINDOW and suspect[a + JUMP_WINDOW - 1 : b - 1].any():
            jumps[a:b] = jump_mask(h[a:b], lo[a:b], excluded=broken[a:b])
    rules[JUMP_REASON] = jumps
    return rules


def _labels(outcomes: object) -> list[str]:
    """The outcome labels of one ``outcomes`` value (``"Yes|No"``); a null has none but ``""``."""
    return outcomes.split("|") if isinstance(outcomes, str) else [""]


def _markets(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    # Python lists, not a Series of split lists: ~1 us a market instead of ~5
    listed = np.fromiter(
        (
            not isinstance(w, str) or w in _labels(o)
            for w, o in zip(
                frame["winning_outcome"].tolist(), frame["outcomes"].tolist(), strict=True
            )
        ),
        dtype=bool,
        count=len(frame),
    )
    created, resolved = frame["created_at"], frame["resolved_at"]
    early = (resolved < created).to_numpy(dtype=bool, na_value=False)
    return {
        "winning_outcome not among outcomes": ~listed,
        "resolved_at before created_at": early,
    }


def _market_prices(frame: pd.DataFrame, markets: pd.DataFrame | None) -> dict[str, np.ndarray]:
    if markets is None or markets.empty or frame.empty:
        return {}
    allowed = {
        str(m): frozenset(_labels(o))
        for m, o in zip(markets["market_id"].tolist(), markets["outcomes"].tolist(), strict=True)
    }
    # The table is sorted by (venue, market_id, outcome, ...): judge each run's first row only.
    starts = _group_starts(frame, ("venue", "market_id", "outcome"))
    ids = frame["market_id"].iloc[starts].tolist()  # one text object per run, not per row
    outcomes = frame["outcome"].iloc[starts].tolist()
    run_bad = np.fromiter(
        (
            (ls := allowed.get(str(m))) is not None and str(o) not in ls
            for m, o in zip(ids, outcomes, strict=True)
        ),
        dtype=bool,
        count=starts.size,
    )
    lengths = np.diff(np.append(starts, len(frame)))
    return {"outcome not among the market's outcomes": np.repeat(run_bad, lengths)}


def bad_rows(
    table: str, frame: pd.DataFrame, *, related: Mapping[str, pd.DataFrame] | None = None
) -> tuple[np.ndarray, dict[str, int]]:
    """The rows of a validated, key-sorted ``table`` that break a sanity rule, and how many
    break each rule (rules with no breaks left out).

    Parameters
    ----------
    related
        Other tables a rule reads (``markets`` for ``market_prices``); absent: rule skipped.
    """
    if frame.empty:
        return np.zeros(0, dtype=bool), {}
    rules: dict[str, np.ndarray]
    if table == "candles":
        rules = _candles(frame)
    elif table == "implied_vol":
        iv = _floats(frame, "iv")
        lo, hi = IV_BAND
        with np.errstate(invalid="ignore"):
            rules = {f"iv outside [{lo:g}, {hi:g}]": ~((iv >= lo) & (iv <= hi))}
    elif table == "funding":
        rate = _floats(frame, "rate")
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(rate) & (np.abs(rate) <= MAX_FUNDING_RATE)
        rules = {f"rate not finite or |rate| > {MAX_FUNDING_RATE:g}": ~ok}
    elif table == "markets":
        rules = _markets(frame)
    elif table == "market_prices":
        rules = _market_prices(frame, (related or {}).get("markets"))
    elif table in _FINITE:
        rules = {}
        for column in _FINITE[table]:
            values = _floats(frame, column)
            rules[f"{column} infinite"] = np.isinf(values)
    else:
        rules = {}
    bad = np.zeros(len(frame), dtype=bool)
    counts: dict[str, int] = {}
    for reason, mask in rules.items():
        n = int(mask.sum())
        if n:
            counts[reason] = n
            bad |= mask
    return bad, counts
