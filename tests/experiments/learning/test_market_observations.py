"""Observations of the prediction markets: one YES probability per quote time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.learning.market_observations import _yes_quotes


def test_yes_quotes_prefer_yes_then_history():
    ts = pd.to_datetime(["2024-01-01T00:00Z"] * 3 + ["2024-01-02T00:00Z"], utc=True)
    rows = pd.DataFrame(
        {
            "outcome": ["No", "Yes", "Yes", "No"],
            "ts": ts,
            "available_at": ts,
            "price": [0.3, 0.6, 0.65, 0.2],
            "kind": ["daily_close", "daily_close", "history", "daily_close"],
        }
    )
    quotes = _yes_quotes(rows, "Yes", ("Yes", "No"))
    assert quotes["prob"].tolist() == pytest.approx([0.65, 0.8])


def _yes_quotes_by_frame(rows: pd.DataFrame, yes: str, outcomes: tuple[str, ...]) -> pd.DataFrame:
    """The rule written on frames (the version before the array one), as the reference."""
    rows = rows.assign(rank=np.where(rows["kind"] == "history", 0, 1))
    yes_rows = rows[rows["outcome"] == yes].assign(prob=lambda f: f["price"])
    other = rows[rows["outcome"] != yes]
    if len(outcomes) == 2 and len(other):
        flipped = other.assign(prob=1.0 - other["price"])
        yes_rows = pd.concat([yes_rows.assign(side=0), flipped.assign(side=1)])
    else:
        yes_rows = yes_rows.assign(side=0)
    yes_rows = yes_rows.sort_values(["ts", "side", "rank"], kind="stable")
    return yes_rows.drop_duplicates("ts", keep="first")


@pytest.mark.parametrize("seed", range(30))
def test_yes_quotes_match_the_frame_rule_on_random_rows(seed):
    """Ties of ts, side and kind, binary and three-outcome markets, a side with no rows."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    outcomes = ("Yes", "No") if seed % 3 else ("A", "B", "C")
    names = list(outcomes) if seed % 5 else [outcomes[1]]  # sometimes no YES row at all
    ts = pd.Timestamp("2024-01-01T00:00Z") + pd.to_timedelta(rng.integers(0, 6, n), unit="h")
    rows = pd.DataFrame(
        {
            "outcome": pd.array(rng.choice(names, n), dtype="string"),
            "ts": ts,
            "available_at": ts + pd.Timedelta(minutes=5),
            "price": rng.uniform(0, 1, n).round(3),
            "kind": pd.array(rng.choice(["history", "daily_close"], n), dtype="string"),
        },
        index=rng.permutation(n) + 100,
    )
    got = _yes_quotes(rows, outcomes[0], outcomes)
    want = _yes_quotes_by_frame(rows, outcomes[0], outcomes)
    assert got.index.tolist() == want.index.tolist()
    for column in ("ts", "available_at", "kind"):
        assert got[column].tolist() == want[column].tolist()
    assert got["prob"].to_numpy().tolist() == want["prob"].to_numpy().tolist()


# -- a barrier within the proxy's basis tolerance is priced, never dropped ------------------------
def _series(venue: str, high_at_10: float, *, hours: int = 200):
    from levercast.features.prices import HourlySeries

    ts = pd.date_range("2025-01-01T00:00Z", periods=hours, freq="h")
    close = np.full(hours, 100.0) * np.exp(np.random.default_rng(0).normal(0, 0.002, hours))
    high = close * 1.001
    high[int(np.flatnonzero(ts == pd.Timestamp("2025-01-08T10:00Z"))[0])] = high_at_10
    bars = pd.DataFrame(
        {"ts": ts, "available_at": ts + pd.Timedelta(hours=1), "open": close, "high": high,
         "low": close * 0.999, "close": close}
    )  # fmt: skip
    return HourlySeries.from_bars(venue, bars)


def _touch():
    from levercast.models.contracts import Contract

    return Contract.from_json(
        {
            "kind": "touch", "asset": "BTC", "direction": "up", "strike_usd": 110.0,
            "start": "2025-01-08T00:00Z", "end": "2025-01-20T00:00Z",
            "resolution": {"source": "binance-spot", "price": "high"},
        }
    )  # fmt: skip


def _priced(proxy_high: float, source=None):
    from levercast.experiments.learning.market_observations import _market_probs

    t = pd.to_datetime(["2025-01-08T20:00Z"], utc=True).as_unit("ns").asi8
    series = _series("binance-usdm", proxy_high)
    return _market_probs(series, _touch(), t, np.array([100.0]), np.array([0.5]), source=source)


@pytest.mark.parametrize(
    ("high", "reason", "hit"),
    [
        (109.0, None, np.nan),  # clearly below: no ambiguity
        (110.05, None, 0.8183),  # within 10 bps: P(hit) = Phi(ln(110.05 / 110) / 0.0005)
        (110.2, "event already decided at T", np.nan),  # clearly beyond: decided
    ],
    ids=["below", "ambiguous", "beyond"],
)
def test_proxy_extremes_near_the_strike(high, reason, hit):
    priced = _priced(high)
    if reason is None:
        assert priced.why[0] is None
    else:
        assert priced.why[0].startswith(reason)
    np.testing.assert_allclose(priced.hit, [hit], atol=1e-3)
    if np.isfinite(hit):
        assert priced.prob[0] >= hit  # P(hit) + (1 - P(hit)) p_gbm


def test_resolution_source_bars_decide_an_ambiguous_touch():
    touched = _priced(110.05, source=_series("binance-spot", 110.01))
    assert touched.why[0].startswith("event already decided at T")
    missed = _priced(110.05, source=_series("binance-spot", 109.95))
    assert missed.why[0] is None and missed.hit[0] == 0.0
    assert missed.ambiguity[0] == "decided by the resolution source's own bars"
