"""Backtest inputs, vectorised: decision grid and the grid contracts at each decision.

Point in time
    Spot and the EWMA vol at a decision time ``t`` come from the one price series
    (``levercast.features.prices`` through ``models.pricing.market_state.market_inputs``): the
    close of the last bar with ``available_at <= t`` (at most 2 h old) and the vol exactly as
    ``estimate_vol`` computes it for one ``T``; no row available after ``t`` enters a value at
    ``t``.

Contracts
    ``models.learned.contract_grid`` (the learned models' grid, shared with training):
    ``market_inputs`` picks at each decision ``--venue`` or the resolution source
    (``binance-spot``) when usable, else the freshest proxy, and ``contract_grid`` puts strikes
    at ``spot * exp(z sigma sqrt(h))`` for every kind; windows are ``[t, t + h)`` on the hour
    grid.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import pandas as pd

from levercast.features.dataset.store import Store
from levercast.models.learned import contract_grid as grid
from levercast.models.pricing.market_state import market_inputs

__all__ = [
    "BACKTEST_KINDS",
    "backtest_contracts",
    "contracts_per_decision",
    "decision_grid",
]

BACKTEST_KINDS: Final = grid.GRID_KINDS


def decision_grid(start: datetime, end: datetime, step: timedelta) -> pd.DatetimeIndex:
    """Decision times ``start + k step`` (start rounded up to the hour) inside ``[start, end]``."""
    first = pd.Timestamp(start).ceil("1h")
    return pd.date_range(first, pd.Timestamp(end), freq=pd.Timedelta(step))


def backtest_contracts(
    store: Store,
    asset: str,
    times: pd.DatetimeIndex,
    *,
    label: str,
    hours: float,
    kinds: tuple[str, ...],
    venue: str | None,
) -> tuple[pd.DataFrame, int]:
    """The grid contracts of one horizon at ``times`` and the decisions without usable inputs.

    ``models.learned.contract_grid`` (the learned models' grid) builds them; the frame gains
    ``decision_time`` (= ``t``), ``start`` (= ``t``) and the ``horizon`` label.
    """
    inputs = market_inputs(store, asset, times, venue=venue)
    usable = inputs[inputs["spot_venue"] != ""]
    frame = grid.contract_grid(usable, horizons_hours=[hours], kinds=kinds)
    frame = frame.assign(decision_time=frame["t"], start=frame["t"], horizon=label)
    return frame.reset_index(drop=True), len(inputs) - len(usable)


def contracts_per_decision(kinds: tuple[str, ...]) -> int:
    """Contracts the grid generates per decision time and horizon for ``kinds``."""
    one = pd.DataFrame(
        {
            "asset": ["BTC"],
            "t": pd.DatetimeIndex(["2024-01-01T00:00Z"]),
            "spot_usd": [1.0],
            "vol_annual": [1.0],
            "spot_venue": ["x"],
        }
    )
    return len(grid.contract_grid(one, horizons_hours=[1.0], kinds=kinds))
