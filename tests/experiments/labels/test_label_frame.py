"""``label_frame`` (frames of contracts) gives exactly what ``label_contracts`` gives, and what a
slow loop over the bars gives."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levercast.experiments.labels.outcomes import LABEL_COLUMNS, label_contracts, label_frame
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.models.contracts import Contract, Resolution
from levercast.models.learned.contract_grid import GRID_KINDS, contract_grid, to_contracts
from levercast.models.pricing.market_state import market_inputs
from tests.conftest import make_candles, make_dataset

T0 = pd.Timestamp("2024-01-01T00:00Z")
VENUES = ("binance-spot", "binance-usdm", "okx-swap")


def _outcomes_frame(outcomes, index) -> pd.DataFrame:
    """``label_contracts`` output in the columns of ``label_frame``."""
    return pd.DataFrame(
        {
            "y": [np.nan if o.value is None else o.value for o in outcomes],
            "resolved_at": pd.to_datetime([o.resolved_at for o in outcomes], utc=True).as_unit(
                "ns"
            ),
            "source": pd.Series([o.source for o in outcomes], index=index, dtype=object),
            "reason": pd.Series([o.reason for o in outcomes], index=index, dtype=object),
        },
        index=index,
    )


def _frame_of(contracts: list[Contract]) -> pd.DataFrame:
    """The frame form of contracts (the columns ``label_frame`` reads)."""

    def num(value):
        return np.nan if value is None else value

    return pd.DataFrame(
        {
            "kind": [c.kind.value for c in contracts],
            "asset": [c.asset for c in contracts],
            "start": pd.to_datetime([c.start for c in contracts], utc=True),
            "end": pd.to_datetime([c.end for c in contracts], utc=True),
            "strike_usd": [num(c.strike_usd) for c in contracts],
            "lower_usd": [num(c.lower_usd) for c in contracts],
            "upper_usd": [num(c.upper_usd) for c in contracts],
            "threshold": [num(c.threshold) for c in contracts],
            "direction": [c.direction or "" for c in contracts],
            "monitoring": [c.monitoring.value if c.monitoring else "" for c in contracts],
            "resolution_source": [c.resolution.source for c in contracts],
            "side": [c.side or "" for c in contracts],
            "discrete_every": [c.resolution.discrete_every or "" for c in contracts],
            "tie_value": [num(c.resolution.tie_value) for c in contracts],
            "neither_value": [num(c.resolution.neither_value) for c in contracts],
        }
    )


def _synthetic_store(root: Path, *, seed: int, gaps: int, with_30m: bool) -> Store:
    """Candles of three venues (two of them proxies) with random gaps, plus liquidations."""
    rng = np.random.default_rng(seed)
    make_dataset(root, seed=seed, hours=24 * 12)
    frames = []
    for k, venue in enumerate(VENUES):
        bars = make_candles(seed=seed + k, hours=24 * (12 - 2 * k), venue=venue, vol_annual=0.9)
        drop = rng.choice(len(bars), size=min(gaps, len(bars) - 1), replace=False)
        frames.append(bars.drop(index=drop))
    if with_30m:
        frames.append(
            make_candles(seed=seed + 7, hours=24 * 5, venue="binance-spot", interval="30m")
        )
    candles = pd.concat(frames, ignore_index=True)
    candles.to_parquet(root / "candles.parquet", index=False)
    return Store(root)


def _random_contracts(rng: np.random.Generator, n: int) -> list[Contract]:
    kinds = [*GRID_KINDS, "liquidations_above"]
    out = []
    for _ in range(n):
        kind = str(rng.choice(kinds))
        start = T0 + pd.Timedelta(minutes=30 * int(rng.integers(0, 2 * 24 * 13)))
        hours = float(rng.choice([0.5, 1, 3, 24, 72, 24 * 14]))
        end = start + pd.Timedelta(hours=hours)
        spot = 50_000 * float(np.exp(rng.normal(0, 0.05)))
        z = float(rng.normal(0, 0.03))
        source = str(rng.choice([*VENUES, "deribit", "chainlink"]))
        res: dict = {"source": source}
        kw: dict = {}
        if kind == "touch":
            kw = {"strike_usd": spot * np.exp(z), "direction": str(rng.choice(["up", "down"]))}
            if rng.random() < 0.3:
                kw["monitoring"] = "discrete"
                res["discrete_every"] = str(rng.choice(["1h", "4h", "1d"]))
        elif kind in ("close_above", "close_below"):
            kw = {"strike_usd": spot * np.exp(z)}
        elif kind in ("range", "first_of"):
            kw = {"lower_usd": spot * np.exp(-abs(z) - 0.01), "upper_usd": spot * np.exp(abs(z))}
            if kind == "first_of":
                res["neither_value"] = float(rng.choice([0.0, 0.5, 1.0]))
                if rng.random() < 0.2:
                    end = None
        elif kind == "up_down":
            res["tie_value"] = float(rng.choice([0.5, 1.0]))
        elif kind == "move":
            kw = {
                "threshold": abs(z) + 0.001,
                "direction": rng.choice([None, "up", "down"]),
                "monitoring": str(rng.choice(["terminal", "continuous"])),
            }
        else:
            kw = {"threshold": float(rng.gamma(2.0, 1e6)), "side": "long"}
        out.append(
            Contract(
                kind=kind,
                asset="BTC",
                start=start,
                end=end,
                resolution=Resolution(**res),
                **kw,
            )
        )
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    gaps=st.integers(0, 40),
    with_30m=st.booleans(),
    forced=st.sampled_from([None, "binance-usdm", "okx-swap", "nowhere"]),
)
def test_frame_reader_equals_label_contracts_on_random_contracts(seed, gaps, with_30m, forced):
    with tempfile.TemporaryDirectory() as tmp:
        store = _synthetic_store(Path(tmp) / "d", seed=seed, gaps=gaps, with_30m=with_30m)
        contracts = _random_contracts(np.random.default_rng(seed), 150)
        frame = _frame_of(contracts)
        if forced is not None:
            frame["resolution_source"] = forced
            expected = label_contracts(store, contracts, venue=forced)
            got = label_frame(store, frame, proxies=False)
        else:
            expected = label_contracts(store, contracts)
            got = label_frame(store, frame)
    assert list(got.columns) == list(LABEL_COLUMNS)
    pd.testing.assert_frame_equal(got, _outcomes_frame(expected, frame.index))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    horizons=st.lists(st.sampled_from([0.5, 1.0, 4.0, 24.0, 72.0, 336.0]), min_size=1),
    kinds=st.lists(st.sampled_from(GRID_KINDS), min_size=1, unique=True),
    gaps=st.integers(0, 30),
)
def test_frame_reader_equals_label_contracts_on_random_grids(seed, horizons, kinds, gaps):
    with tempfile.TemporaryDirectory() as tmp:
        store = _synthetic_store(Path(tmp) / "d", seed=seed, gaps=gaps, with_30m=True)
        times = pd.date_range("2024-01-08T00:00Z", periods=40, freq="3h")
        grid = contract_grid(
            market_inputs(store, "BTC", times), horizons_hours=horizons, kinds=tuple(kinds)
        )
        grid.index = grid.index + 100  # the output keeps the frame's index
        expected = _outcomes_frame(label_contracts(store, to_contracts(grid)), grid.index)
        pd.testing.assert_frame_equal(label_frame(store, grid), expected)
        # backtests: each row on its own spot venue only
        for venue, rows in grid.groupby("spot_venue"):
            forced = label_contracts(store, to_contracts(rows), venue=str(venue))
            pd.testing.assert_frame_equal(
                label_frame(store, rows, proxies=False), _outcomes_frame(forced, rows.index)
            )


def _slow(row, bars: pd.DataFrame) -> tuple[float | None, pd.Timestamp | None]:
    """Reference loop over the bars of the window: value and resolution time."""
    rows = bars[(bars["ts"] >= row.t) & (bars["available_at"] <= row.end)]
    expected = int((row.end - row.t) / pd.Timedelta("1h"))
    if len(rows) != expected or rows["ts"].iloc[0] != row.t:
        return None, None
    path = list(zip(rows["open"], rows["high"], rows["low"], rows["available_at"], strict=True))
    s0, s1 = rows["open"].iloc[0], rows["close"].iloc[-1]
    if row.kind == "touch":
        for _, high, low, closed in path:
            if (row.direction == "up" and high >= row.strike_usd) or (
                row.direction == "down" and low <= row.strike_usd
            ):
                return 1.0, closed
        return 0.0, row.end
    if row.kind == "close_above":
        return float(s1 > row.strike_usd), row.end
    if row.kind == "close_below":
        return float(s1 < row.strike_usd), row.end
    if row.kind == "range":
        return float(row.lower_usd <= s1 < row.upper_usd), row.end
    if row.kind == "up_down":
        return (1.0 if s1 >= s0 else 0.0), row.end
    if row.kind == "first_of":
        for bar_open, high, low, closed in path:
            up, dn = high >= row.upper_usd, low <= row.lower_usd
            if up and dn:
                near_up = abs(row.upper_usd - bar_open) < abs(bar_open - row.lower_usd)
                return (1.0 if near_up else 0.0), closed
            if up or dn:
                return (1.0 if up else 0.0), closed
        return 0.5, row.end
    if row.kind == "move":
        up, down = s1 / s0 - 1, 1 - s1 / s0
        hit = {"up": up >= row.threshold, "down": down >= row.threshold}
        return float(hit.get(row.direction, hit["up"] or hit["down"])), row.end
    raise AssertionError(row.kind)


@pytest.mark.slow
def test_frame_reader_matches_a_slow_loop(tmp_path):
    bars = make_candles(seed=5, hours=24 * 20, venue="binance-spot", vol_annual=0.8)
    bars = bars.drop(index=[100, 250]).reset_index(drop=True)  # two gaps
    store = Store(tmp_path / "d")
    with store.writer() as w:
        w.upsert("candles", bars)
    times = pd.date_range("2024-01-08T00:00Z", periods=30, freq="7h")
    grid = contract_grid(market_inputs(store, "BTC", times), horizons_hours=(1.0, 4.0, 24.0))
    got = label_frame(store, grid)
    compared = 0
    for row, y, when in zip(grid.itertuples(), got["y"], got["resolved_at"], strict=True):
        value, at = _slow(row, bars)
        if value is None:
            assert np.isnan(y) and pd.isna(when)
            continue
        assert (y, when) == (value, at), row
        compared += 1
    assert compared > 0.8 * len(grid) and got["y"].isna().any()


def test_open_ended_first_of_and_missing_source(tmp_path):
    store = Store(tmp_path / "d")
    with store.writer() as w:
        w.upsert("candles", make_candles(seed=1, hours=48, venue="binance-usdm"))
    frame = pd.DataFrame(
        {
            "kind": ["first_of", "close_above"],
            "asset": ["btc", "BTC"],
            "t": pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T00:00Z"]),
            "end": pd.to_datetime([None, "2024-01-01T05:00Z"], utc=True),
            "strike_usd": [np.nan, 50_000.0],
            "lower_usd": [1.0, np.nan],
            "upper_usd": [1e9, np.nan],
            "threshold": np.nan,
            "direction": "",
            "monitoring": "",
            "spot_venue": ["", "binance-usdm"],
        }
    )
    frame["t"] = frame["t"].dt.tz_convert("UTC")
    got = label_frame(store, frame)
    # no barrier reached by the last bar: neither (0.5), resolved at the last bar's close
    assert got["y"].tolist()[0] == 0.5
    assert got["resolved_at"].iloc[0] == pd.Timestamp("2024-01-03T00:00Z")
    assert got["source"].tolist() == ["binance-usdm:1h"] * 2  # proxy of binance-spot
    only_source = label_frame(store, frame.assign(spot_venue="binance-spot"), proxies=False)
    assert only_source["y"].isna().all() and (only_source["reason"] == "unlabelled").all()


def _one(**over):
    row = {
        "kind": "touch",
        "asset": "BTC",
        "t": pd.Timestamp("2024-01-01T00:00Z"),
        "end": pd.Timestamp("2024-01-02T00:00Z"),
        "strike_usd": 50_000.0,
        "lower_usd": np.nan,
        "upper_usd": np.nan,
        "threshold": np.nan,
        "direction": "up",
        "monitoring": "continuous",
        "spot_venue": "binance-spot",
    }
    return pd.DataFrame([{**row, **over}])


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"kind": "touchy"}, "kind must be one of"),
        ({"asset": "BT-C"}, "asset must be a ticker"),
        ({"strike_usd": -1.0}, r"strike_usd must be a positive price in USD; found -1.0 at row 0"),
        ({"kind": "range", "lower_usd": 3.0, "upper_usd": 2.0}, "lower_usd must be below"),
        ({"kind": "move", "threshold": 0.0}, "threshold must be positive"),
        ({"kind": "move", "threshold": 1.5, "direction": "down"}, "fraction below 1"),
        ({"direction": "sideways"}, "direction must be"),
        ({"monitoring": "hourly"}, "monitoring must be one of"),
        ({"end": pd.Timestamp("2023-12-31T00:00Z")}, "end must be after start"),
        ({"end": pd.NaT}, "only a first_of may be open-ended"),
        ({"kind": "liquidations_above", "threshold": 1.0, "side": "both"}, "side must be"),
        ({"t": pd.Timestamp("2024-01-01T00:00")}, "t must hold tz-aware UTC times"),
        ({"tie_value": 2.0}, r"tie_value must be within \[0, 1\]"),
    ],
    ids=[
        "kind",
        "asset",
        "strike",
        "band",
        "threshold",
        "down-move",
        "direction",
        "monitoring",
        "end-before",
        "open-end",
        "side",
        "naive",
        "tie",
    ],
)
def test_frame_validation_names_column_rule_and_value(tmp_path, over, match):
    store = Store(tmp_path / "d")
    with pytest.raises(ConfigError, match=match):
        label_frame(store, _one(**over))


def test_frame_missing_columns(tmp_path):
    with pytest.raises(ConfigError, match=r"frame must have contract columns \['end'\]"):
        label_frame(Store(tmp_path), _one().drop(columns="end"))
