"""The market-aware forecast at a scan time T for the scanner's quoted rows.

The fit sees only markets whose outcome was public before T (``known_at < T``, from
``experiments.learning.market_observations`` on the store): from the committed prior when T is
past its cut (the prior's own markets left out of the update), else from "the market"
(``models.learned.market_aware.market_prior``). Each quoted, undecided row gets the forecast and
its 90 % band from the fit's coefficient uncertainty; the scanner sizes from the band's
pessimistic end (a shrunk Kelly).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import numpy as np
import pandas as pd

from levercast.experiments.learning.market_aware import (
    PRIOR_PACKAGE,
    design_matrix,
    fit_history,
    load_coefficient_prior,
)
from levercast.experiments.learning.market_features import market_features
from levercast.experiments.learning.market_observations import scored_observations
from levercast.experiments.parallel import one_blas_thread
from levercast.experiments.scanning.pricing import Priced
from levercast.features.dataset.store import Store
from levercast.models.learned.market_aware import PriorStrength, market_prior
from levercast.models.probability import expit

__all__ = ["BASE_MODEL", "market_aware_bands"]

BASE_MODEL: Final = "gbm"
Z90: Final = 1.6448536269514722


def _quoted(priced: list[Priced]) -> list[Priced]:
    return [
        p
        for p in priced
        if p.quote is not None
        and not p.decided
        and (p.quote.prob_bid is not None or p.quote.prob_ask is not None)
    ]


def _rows(priced: list[Priced], at: datetime) -> pd.DataFrame:
    def mid(p: Priced) -> float:
        assert p.quote is not None
        sides = [s for s in (p.quote.prob_bid, p.quote.prob_ask) if s is not None]
        return float(sum(sides) / len(sides))

    inputs = [p.forecast.inputs for p in priced]
    spot = [float(i.get("spot_usd", np.nan)) for i in inputs]
    return pd.DataFrame(
        {
            "market_id": [p.cand.market.market_id for p in priced],
            "t": pd.Timestamp(at),
            "quote_ts": pd.to_datetime([p.quote.observed_at for p in priced if p.quote], utc=True),
            "prob_market": [mid(p) for p in priced],
            "spot_usd": spot,
            "vol_annual": [float(i.get("vol_annual", np.nan)) for i in inputs],
            "reference_usd": [
                float(i.get("start_price_usd", s)) for i, s in zip(inputs, spot, strict=True)
            ],
        }
    )


def market_aware_bands(
    priced: list[Priced], store: Store, at: datetime
) -> tuple[dict[str, tuple[float, float, float]], list[str]]:
    """``market_id -> (prob, lo, hi)`` of the quoted, undecided rows, and notes."""
    with one_blas_thread():  # the same numbers on any number of cores
        return _bands(priced, store, at)


def _bands(
    priced: list[Priced], store: Store, at: datetime
) -> tuple[dict[str, tuple[float, float, float]], list[str]]:
    rows = _quoted(priced)
    if not rows:
        return {}, []
    prior = load_coefficient_prior("market_aware", BASE_MODEL)
    stamp = pd.Timestamp(at)
    sets = scored_observations(store)
    history = sets.obs
    known = pd.to_datetime(history["known_at"], utc=True) if len(history) else pd.Series([])
    history = history[(known < stamp).to_numpy()] if len(history) else history
    use_prior = prior is not None and stamp >= pd.Timestamp(prior.cut)
    if use_prior:
        assert prior is not None
        history = history[~history["market_id"].isin(list(prior.markets))]
    frame = _rows(rows, at)
    contracts = {p.cand.market.market_id: p.forecast.contract for p in rows}
    features = market_features(frame, contracts, [p.forecast.prob for p in rows])
    X, names = design_matrix("market_aware", features)
    if use_prior:
        assert prior is not None
        mean, precision = np.asarray(prior.mean), np.asarray(prior.precision)
        origin = f"the committed prior ({PRIOR_PACKAGE}, cut {prior.cut})"
    else:
        strength = prior.base_strength if prior is not None else PriorStrength()
        mean, precision = market_prior(names, strength=strength)
        origin = "the market (no committed prior in force at T)"
    if len(history):
        hist_features = market_features(history, sets.contracts, history["prob_gbm"].to_numpy())
        X_hist, _ = design_matrix("market_aware", hist_features)
        y, ids = history["outcome"].to_numpy(float), history["market_id"].to_numpy()
    else:
        X_hist, y, ids = np.zeros((0, len(names))), np.zeros(0), np.array([], dtype=object)
    model = fit_history(X_hist, y, ids, mean=mean, precision=precision)
    z = model.decision_function(X)
    sd = model.predict_logit_sd(X)
    bands = {
        str(market_id): (float(expit(zi)), float(expit(zi - Z90 * s)), float(expit(zi + Z90 * s)))
        for market_id, zi, s in zip(frame["market_id"], z, sd, strict=True)
    }
    n_markets = int(pd.Series(ids).nunique())
    note = (
        f"market_aware at {stamp:%Y-%m-%dT%H:%MZ}: base {BASE_MODEL}, from {origin}, updated "
        f"by {n_markets} market(s) of the store known before T"
    )
    return bands, [note]
