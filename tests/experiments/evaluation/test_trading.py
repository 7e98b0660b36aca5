"""The edge rule's trading simulation, hand computed: fees by the venue's schedule of the trade's
date, the spread from archived books, intervals over markets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.evaluation.trading import TradingRule, infer_cadence, simulate_trading
from levercast.features.errors import DataError
from levercast.markets.types import VenueMarket
from levercast.models.contracts import Contract


def _obs(rows):
    frame = pd.DataFrame(rows, columns=["market_id", "t", "prob_market", "outcome", "resolved_at"])
    frame["t"] = pd.to_datetime(frame["t"], utc=True)
    frame["resolved_at"] = pd.to_datetime(frame["resolved_at"], utc=True)
    frame["quote_kind"] = "daily_close"
    return frame


def _pair(day: str, next_day: str) -> pd.DataFrame:
    return _obs(
        [
            ("a", day, 0.50, 1.0, "2030-01-05"),
            ("a", next_day, 0.50, 1.0, "2030-01-05"),
        ]
    )


def test_trading_hand_computed_with_a_fixed_rate():
    obs = _obs(
        [
            ("a", "2024-01-01", 0.50, 1.0, "2024-01-05"),
            ("a", "2024-01-02", 0.50, 1.0, "2024-01-05"),
            ("b", "2024-01-01", 0.40, 1.0, "2024-01-05"),
            ("b", "2024-01-04", 0.40, 1.0, "2024-01-05"),  # next quote 3 days later: stale
        ]
    )
    result = simulate_trading(obs, np.array([0.9, 0.9, 0.9, 0.9]), TradingRule(fee_rate=0.07))
    cost = 0.51 + 0.07 * 0.51 * 0.49
    assert result["trades"] == 1
    assert result["skipped_stale_quote"] == 1
    assert result["hit_rate"] == 1.0
    assert result["pnl_per_dollar"] == pytest.approx(1 / cost - 1)
    assert result["spread_source"] == {"assumed half-spread 0.01": 1}


FEE_CASES = [
    # (entry day, fee per share at the ask 0.51, schedule row)
    ("2025-06-02", 0.0, "pm-fee-free-2025"),
    ("2026-02-02", 0.0, "pm-fee-free-2026q1"),  # crypto outside 5/15-minute markets: free
    ("2026-04-02", 0.07 * 0.51 * 0.49, "pm-crypto-v2"),
]


@pytest.mark.parametrize(("day", "fee", "row"), FEE_CASES, ids=["2025", "2026q1", "2026-04"])
def test_fee_schedule_used_by_date(day, fee, row):
    entry = pd.Timestamp(day, tz="UTC")
    obs = _pair((entry - pd.Timedelta(days=1)).isoformat(), entry.isoformat())
    result = simulate_trading(obs, np.array([0.9, 0.9]), TradingRule())
    assert result["fees"]["entries"] == {row: 1}
    assert result["pnl_per_dollar"] == pytest.approx(1 / (0.51 + fee) - 1)


def test_fifteen_minute_market_pays_the_short_market_fee_of_its_day():
    contract = Contract.from_json(
        {
            "kind": "up_down",
            "asset": "BTC",
            "start": "2026-01-20T10:00Z",
            "end": "2026-01-20T10:15Z",
        }
    )
    assert infer_cadence(contract) == "15m"
    obs = _obs(
        [
            ("a", "2026-01-20T09:50Z", 0.50, 1.0, "2026-01-20T10:20Z"),
            ("a", "2026-01-20T09:51Z", 0.50, 1.0, "2026-01-20T10:20Z"),
        ]
    ).assign(quote_kind="history")
    result = simulate_trading(obs, np.array([0.9, 0.9]), TradingRule(), contracts={"a": contract})
    fee = 0.51 * 0.25 * (0.51 * 0.49) ** 2  # polymarket_v0: C p rate (p(1-p))^2
    assert result["fees"]["entries"] == {"pm-crypto-15m-2026q1": 1}
    assert result["pnl_per_dollar"] == pytest.approx(1 / (0.51 + fee) - 1)


def test_a_market_s_own_fee_fields_override_the_schedule():
    obs = _pair("2026-04-01", "2026-04-02")
    market = VenueMarket("polymarket", "a", "q", fees_enabled=False)
    result = simulate_trading(obs, np.array([0.9, 0.9]), TradingRule(), markets={"a": market})
    assert result["pnl_per_dollar"] == pytest.approx(1 / 0.51 - 1)


def test_archived_book_sets_the_entry_price():
    obs = _pair("2025-06-01", "2025-06-02").assign(yes_outcome="Yes")
    ts = pd.Timestamp("2025-06-01T23:30Z")
    books = pd.DataFrame(
        {
            "venue": "polymarket",
            "market_id": "a",
            "outcome": "No",  # the other outcome's book, mirrored: YES ask = 1 - 0.40
            "ts": ts,
            "available_at": ts,
            "side": ["bid", "ask"],
            "price": [0.40, 0.45],
            "size": [100.0, 100.0],
        }
    )
    result = simulate_trading(obs, np.array([0.9, 0.9]), TradingRule(), books=books)
    assert result["spread_source"] == {"archived book": 1}
    assert result["pnl_per_dollar"] == pytest.approx(1 / 0.60 - 1)


def test_no_trade_when_the_band_does_not_clear_the_costs():
    obs = _pair("2025-06-01", "2025-06-02").assign(prob_lo=0.50, prob_hi=0.95)
    result = simulate_trading(obs, np.array([0.9, 0.9]), TradingRule())
    assert result["trades"] == 0


def test_pnl_interval_over_markets_and_families():
    rows = []
    for i in range(40):
        won = float((i // 8) % 2 == 0)  # one price path per family: its rungs win together
        rows += [
            (f"m{i}", "2025-06-01", 0.50, won, "2025-07-01"),
            (f"m{i}", "2025-06-02", 0.50, won, "2025-07-01"),
        ]
    obs = _obs(rows).assign(family=[f"f{k // 16}" for k in range(80)])  # 8 markets each
    result = simulate_trading(obs, np.full(len(obs), 0.9), TradingRule(), seed=1)
    lo, hi = result["pnl_per_dollar_ci90"]
    assert result["trades"] == 40
    assert lo < result["pnl_per_dollar"] < hi
    f_lo, f_hi = result["pnl_per_dollar_ci90_families"]
    assert f_hi - f_lo > 1.5 * (hi - lo)  # five families that move together: wider
    assert {r["family"] for r in result["by_family"]} == {f"f{k}" for k in range(5)}


def test_a_market_s_fee_fields_survive_the_markets_table():
    """Written by ingest, validated by the schema, read back for the fee schedule."""
    from levercast.features.dataset.schema import validate_table
    from levercast.markets.dataset import venue_market_from_row

    row = {
        "venue": "polymarket", "market_id": "a", "question": "q", "outcomes": "Yes|No",
        "category": "crypto", "cadence": "15m", "fee_category": "crypto_fees_v2",
        "fee_rate": 0.05, "fee_exponent": 1.0, "maker_rebate_rate": 0.2, "fees_enabled": True,
        "fee_multiplier": np.nan, "fee_waiver_until": pd.Timestamp("2026-05-01T00:00Z"),
    }  # fmt: skip
    required = dict.fromkeys(["condition_id", "event_title", "slug", "token_ids", "family"])
    row = {**required, "rules": "", "winning_outcome": None, **row}
    raw = pd.DataFrame([row])
    for column in ("created_at", "end_date", "resolved_at"):
        raw[column] = pd.Series([pd.NaT], dtype="datetime64[ns, UTC]")
    frame = validate_table("markets", raw)
    assert str(frame["fees_enabled"].dtype) == "boolean"
    market = venue_market_from_row(frame.iloc[0].to_dict())
    assert (market.category, market.cadence, market.fee_category) == (
        "crypto",
        "15m",
        "crypto_fees_v2",
    )
    assert (market.fee_rate, market.fee_exponent, market.maker_rebate_rate) == (0.05, 1.0, 0.2)
    assert market.fees_enabled is True and market.fee_multiplier is None
    assert market.fee_waiver_until == pd.Timestamp("2026-05-01T00:00Z")
    obs = _pair("2026-04-01", "2026-04-02")
    result = simulate_trading(obs, np.array([0.9, 0.9]), TradingRule(), markets={"a": market})
    assert result["pnl_per_dollar"] == pytest.approx(1 / (0.51 + 0.05 * 0.51 * 0.49) - 1)
    with pytest.raises(DataError, match="fees_enabled must hold booleans"):
        validate_table("markets", raw.assign(fees_enabled="yes"))
