"""Corrupted-dataset builders: each takes a dataset written by ``tests.conftest.make_dataset``
and breaks one sanity rule in place (the cases of the issue 19 red team)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROW = 400  # a candle well inside the 30-day synthetic history (hour 400 of 720)


def _edit(root: Path, table: str, change: Callable[[pd.DataFrame], None]) -> None:
    path = root / f"{table}.parquet"
    frame = pd.read_parquet(path)
    change(frame)
    frame.to_parquet(path, index=False)


def _candle(**values: float) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        def change(frame: pd.DataFrame) -> None:
            for column, value in values.items():
                frame.loc[ROW, column] = value

        _edit(root, "candles", change)

    return corrupt


def _swap_high_low(root: Path) -> None:
    def change(frame: pd.DataFrame) -> None:
        high, low = float(frame.loc[ROW, "high"]), float(frame.loc[ROW, "low"])
        frame.loc[ROW, "high"], frame.loc[ROW, "low"] = low, high

    _edit(root, "candles", change)


def _set(table: str, column: str, value: object, row: int = 0) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        def change(frame: pd.DataFrame) -> None:
            frame.loc[row, column] = value

        _edit(root, table, change)

    return corrupt


def _winner(label: str) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        def change(frame: pd.DataFrame) -> None:
            frame.loc[0, "winning_outcome"] = label
            frame.loc[0, "resolved_at"] = frame.loc[0, "end_date"]

        _edit(root, "markets", change)

    return corrupt


def _resolved_before_created(root: Path) -> None:
    def change(frame: pd.DataFrame) -> None:
        frame.loc[0, "winning_outcome"] = "Yes"
        frame.loc[0, "resolved_at"] = frame.loc[0, "created_at"] - pd.Timedelta("1D")

    _edit(root, "markets", change)


@dataclass(frozen=True)
class Corruption:
    """One broken dataset: what breaks, the table, the rule text readers name, and whether
    ``data check`` counts it as a broken rule (a problem) or a warning (a heuristic)."""

    name: str
    corrupt: Callable[[Path], None]
    table: str
    rule: str
    problem: bool = True


CORRUPTIONS = [
    Corruption(
        "close-inf", _candle(close=np.inf, high=np.inf), "candles", "not finite and positive"
    ),
    Corruption("close-zero", _candle(close=0.0, low=0.0), "candles", "not finite and positive"),
    Corruption(
        "bar-1e12", _candle(close=1e12, high=1e12), "candles", "impossible jump", problem=False
    ),
    Corruption(
        "price-x10",
        _candle(open=5e5, close=5e5, high=5e5, low=5e5),
        "candles",
        "impossible jump",
        problem=False,
    ),
    Corruption("high-below-low", _swap_high_low, "candles", "high below low"),
    Corruption("close-above-high", _candle(close=1e5), "candles", "outside [low, high]"),
    Corruption("volume-inf", _candle(volume_base=np.inf), "candles", "volume_base not finite"),
    Corruption("iv-zero", _set("implied_vol", "iv", 0.0, ROW), "implied_vol", "iv outside"),
    Corruption("iv-1e9", _set("implied_vol", "iv", 1e9, ROW), "implied_vol", "iv outside"),
    Corruption("funding-inf", _set("funding", "rate", np.inf, 5), "funding", "rate not finite"),
    Corruption("oi-inf", _set("open_interest", "oi_usd", np.inf, ROW), "open_interest", "infinite"),
    Corruption(
        "liquidations-inf",
        _set("liquidations", "long_usd", np.inf, ROW),
        "liquidations",
        "long_usd infinite",
    ),
    Corruption("winner-maybe", _winner("Maybe"), "markets", "winning_outcome not among outcomes"),
    Corruption(
        "resolved-before-created", _resolved_before_created, "markets", "resolved_at before"
    ),
    Corruption(
        "price-outcome-maybe",
        _set("market_prices", "outcome", "Maybe", 3),
        "market_prices",
        "outcome not among the market's outcomes",
    ),
]
# Format breaks: the table is refused whole (DataError), not quarantined.
FORMAT_BREAKS = [
    Corruption("high-nan", _candle(high=np.nan), "candles", "candles.high must not be null"),
    Corruption("close-negative", _candle(close=-1.0), "candles", "candles.close must be >= 0"),
    Corruption(
        "price-above-1", _set("market_prices", "price", 1.5, 2), "market_prices", "within [0, 1]"
    ),
]
