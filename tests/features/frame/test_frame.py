"""The point-in-time feature frame: truncation for every feature of the catalogue, agreement of
``features_at`` and of a ``StoreView`` with the frame, bad data yielding NaN with reasons."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError
from levercast.features.frame.frame import compute_feature_frame, feature_frame, features_at
from levercast.features.frame.registry import feature_specs
from tests.conftest import make_candles

START = pd.Timestamp("2024-01-01T00:00Z")
DAYS = 520
H = pd.Timedelta("1h")
D = pd.Timedelta("1D")


def _ts_frame(venue_col, venue, asset, ts, step, **values):
    return pd.DataFrame(
        {venue_col: venue, "asset": asset, "ts": ts, "available_at": ts + step, **values}
    )


def write_rich_dataset(root, *, seed=3):
    """520 days of BTC/ETH with every scope change the features must handle."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    hours = DAYS * 24
    candles = []
    for asset, spot in (("BTC", 40_000.0), ("ETH", 2_000.0)):
        base = make_candles(seed=seed, start=START.isoformat(), hours=hours, asset=asset, spot=spot)
        bitget = base.assign(venue="bitget-usdtm")
        bitget = bitget.drop(index=[500, 501, 2000]).reset_index(drop=True)  # gaps
        bitget.loc[700, "volume_base"] = 0.0  # placeholder bar
        usdm = base[base["ts"] >= START + 60 * D]
        candles += [bitget, usdm]
    pd.concat(candles, ignore_index=True).to_parquet(root / "candles.parquet", index=False)
    btc = (
        candles[1].set_index("ts")["close"].reindex(pd.date_range(START, periods=hours, freq="1h"))
    )
    btc = btc.fillna(40_000.0)
    hourly = pd.date_range(START, periods=hours, freq="1h")
    daily = pd.date_range(START, periods=DAYS, freq="1D")
    coins = 80_000 * np.exp(np.cumsum(rng.normal(0, 0.004, hours)))
    oi = [
        _ts_frame("venue", "bybit", "BTC", hourly, H, oi_base=coins, oi_usd=coins * btc.values),
        _ts_frame(
            "venue",
            "bybit",
            "ETH",
            hourly,
            H,
            oi_base=coins * 10,
            oi_usd=coins * 10 * 2_000.0,
        ),
        _ts_frame(
            "venue",
            "all-exchanges",
            "BTC",
            daily[:380],
            D,
            oi_base=np.nan,
            oi_usd=3.0 * coins[::24][:380] * btc.values[::24][:380],
        ),
    ]
    agg_ts = hourly[hourly >= START + 440 * D].delete(50)
    agg_vals = 1.8 * pd.Series(coins * btc.values, index=hourly).reindex(agg_ts).to_numpy()
    oi.append(_ts_frame("venue", "aggregate", "BTC", agg_ts, H, oi_base=np.nan, oi_usd=agg_vals))
    # ETH: Binance and OKX from day 300 on, OKX missing a day: the summed candidate
    # (binance+bybit+okx) serves where all three have the hour, Binance alone in the gap
    eth_ts = hourly[hourly >= START + 300 * D]
    eth_coins = pd.Series(coins * 10, index=hourly).reindex(eth_ts).to_numpy()
    for venue, share, drop in (("binance", 2.0, []), ("okx", 0.7, list(range(500, 524)))):
        ts = eth_ts.delete(drop)
        base = np.delete(eth_coins * share, drop)
        oi.append(_ts_frame("venue", venue, "ETH", ts, H, oi_base=base, oi_usd=base * 2_000.0))
    pd.concat(oi, ignore_index=True).to_parquet(root / "open_interest.parquet", index=False)
    fts = pd.date_range(START, periods=DAYS * 3, freq="8h")
    funding = [
        pd.DataFrame(
            {
                "venue": "binance",
                "asset": a,
                "ts": fts,
                "available_at": fts,
                "rate": rng.normal(1e-4, 1e-4, len(fts)),
                "interval_hours": np.int64(8),
            }
        )
        for a in ("BTC", "ETH")
    ]
    pd.concat(funding, ignore_index=True).to_parquet(root / "funding.parquet", index=False)
    lts = hourly[(hourly >= START + 100 * D) & (hourly < START + 500 * D)].delete([30, 31, 32])
    liq = [
        _ts_frame(
            "venue",
            "aggregate",
            "BTC",
            lts,
            H,
            long_usd=rng.gamma(1.0, 1e6, len(lts)),
            short_usd=rng.gamma(1.0, 8e5, len(lts)),
        ).assign(interval="1h")
    ]
    # the recorder: Binance 5m buckets over days 450-480, then all three exchanges in 1h buckets
    # (OKX missing a day): the aggregate ends at day 500, so the summed exchanges, then Binance
    # alone in OKX's gap, serve the liquidations input afterwards
    five = pd.Timedelta("5min")
    b5 = pd.date_range(START + 450 * D, START + 480 * D, freq="5min", inclusive="left")
    liq.append(
        _ts_frame(
            "venue",
            "binance",
            "BTC",
            b5,
            five,
            long_usd=rng.gamma(0.5, 4e4, len(b5)),
            short_usd=rng.gamma(0.5, 3e4, len(b5)),
        ).assign(interval="5m", lower_bound="true")
    )
    rec_ts = hourly[hourly >= START + 480 * D]
    for venue, scale in (("binance", 5e5), ("bybit", 3e5), ("okx", 2e5)):
        ts = rec_ts.delete(range(600, 624)) if venue == "okx" else rec_ts
        liq.append(
            _ts_frame(
                "venue",
                venue,
                "BTC",
                ts,
                H,
                long_usd=rng.gamma(1.0, scale, len(ts)),
                short_usd=rng.gamma(1.0, scale, len(ts)),
            ).assign(interval="1h", lower_bound="true")
        )
    pd.concat(liq, ignore_index=True).to_parquet(root / "liquidations.parquet", index=False)
    rts = daily[:390]
    reserves = [
        _ts_frame(
            "source",
            "cryptoquant-style",
            "BTC",
            rts,
            D,
            reserve_base=2.4e6 + rng.normal(0, 1e4, 390),
        ),
        # a CSV one day fresher than the dataset's series near its end: the freshest provider
        _ts_frame("source", "csv", "BTC", daily[380:392], D, reserve_base=2.3e6),
    ]
    # DefiLlama: a first fetch on day 395 01:30 brings days 370-395 (all available from the fetch
    # time, never earlier), then one fetch a day at 01:30 until day 460
    fetched = START + 395 * D + pd.Timedelta("90min")
    history = _ts_frame("source", "defillama", "BTC", daily[370:396], D, reserve_base=7.6e5)
    reserves.append(history.assign(available_at=fetched))
    daily_ts = daily[396:461]
    reserves.append(
        _ts_frame(
            "source",
            "defillama",
            "BTC",
            daily_ts,
            pd.Timedelta("90min"),
            reserve_base=7.6e5 + rng.normal(0, 2e3, len(daily_ts)),
        )
    )
    pd.concat(reserves, ignore_index=True).to_parquet(
        root / "exchange_reserves.parquet", index=False
    )
    rat_ts = hourly[hourly >= START + 300 * D]
    ratio_rows = [
        _ts_frame(
            "venue", "binance", "BTC", rat_ts, H, value=rng.uniform(0.7, 1.6, len(rat_ts))
        ).assign(metric=metric)
        for metric in ("top_position_ratio", "taker_buy_sell_ratio_1h")
    ]
    # long/short account ratios: Bybit from day 300, Binance (preferred) from day 400
    acc_ts = rat_ts[rat_ts >= START + 400 * D]
    ratio_rows += [
        _ts_frame(
            "venue", "bybit", "BTC", rat_ts, H, value=rng.uniform(0.8, 2.5, len(rat_ts))
        ).assign(metric="global_account_ratio"),
        _ts_frame(
            "venue", "binance", "BTC", acc_ts, H, value=rng.uniform(0.8, 2.5, len(acc_ts))
        ).assign(metric="global_account_ratio"),
    ]
    pd.concat(ratio_rows, ignore_index=True).to_parquet(root / "ratios.parquet", index=False)
    return root


def truncated_copy(src, dst, cut):
    """Copy of a dataset keeping only rows with ``ts <= cut`` (a dataset that ends at cut)."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in src.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "ts" in frame.columns:
            frame = frame[frame["ts"] <= cut]
        frame.to_parquet(dst / path.name, index=False)
    return dst


GRID = pd.date_range(START + 2 * D, START + (DAYS - 1) * D, freq="23h").append(
    pd.DatetimeIndex([START + 380 * D + pd.Timedelta("30min"), START + 441 * D])
)
CUTS = [
    START + 30 * D + pd.Timedelta("5h"),
    START + 370 * D + pd.Timedelta("5h"),
    START + 385 * D,
    START + 445 * D + H,
]


def day(n):
    """START + n days as integer nanoseconds."""
    return (START + n * D).value


TS = GRID.as_unit("ns").asi8
NAMES = [spec.name for spec in feature_specs()]


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    root = tmp_path_factory.mktemp("rich")
    data = write_rich_dataset(root / "full")
    full = {a: compute_feature_frame(Store(data), a, GRID) for a in ("BTC", "ETH")}
    cuts = {}
    for i, cut in enumerate(CUTS):
        cut_dir = truncated_copy(data, root / f"cut{i}", cut)
        times = GRID[cut >= GRID]
        cuts[cut] = {a: compute_feature_frame(Store(cut_dir), a, times) for a in ("BTC", "ETH")}
    return data, full, cuts


@pytest.mark.parametrize("name", NAMES)
def test_truncation_every_feature(rich, name):
    _, full, cuts = rich
    for cut, result in cuts.items():
        for asset in ("BTC", "ETH"):
            n = len(result[asset].frame)
            a = full[asset].frame[name].to_numpy()[np.asarray(cut >= GRID)]
            b = result[asset].frame[name].to_numpy()
            assert n == len(a)
            np.testing.assert_array_equal(a, b, err_msg=f"{name} {asset} cut {cut}")
            ra = full[asset].reasons[name].to_numpy()[np.asarray(cut >= GRID)]
            rb = result[asset].reasons[name].to_numpy()
            assert list(ra) == list(rb), f"reasons of {name} differ ({asset}, cut {cut})"


def test_every_registered_feature_is_non_null_somewhere(rich):
    _, full, _ = rich
    values = full["BTC"].frame
    dead = [n for n in NAMES if values[n].isna().all()]
    assert not dead, f"features never computed on the rich dataset: {dead}"


AGREE_ROWS = [5, 200, 400, len(GRID) - 2, len(GRID) - 1]


@pytest.fixture(scope="module")
def snapshots(rich):
    data, full, _ = rich
    store = Store(data)
    return [(features_at(store, "BTC", GRID[i]), full["BTC"].snapshot(i)) for i in AGREE_ROWS]


@pytest.mark.parametrize("name", NAMES)
def test_features_at_agrees_with_frame_row(snapshots, name):
    for snap, row in snapshots:
        assert snap.features[name] == row.features[name], f"{name} at {snap.at}"
        assert snap.missing.get(name) == row.missing.get(name), f"{name} at {snap.at}"


def test_features_at_sources_agree_with_frame_row(snapshots):
    for snap, row in snapshots:
        assert (snap.asset, snap.at, snap.sources) == (row.asset, row.at, row.sources)


def test_sources_name_the_widest_scope_series(rich):
    _, full, _ = rich
    venue = full["BTC"].sources["open_interest.venue"].to_numpy()
    assert set(venue[day(379) > TS]) == {"all-exchanges"}
    assert set(venue[(day(383) < TS) & (day(440) > TS)]) == {"bybit"}
    assert set(venue[day(441) < TS]) == {"aggregate"}
    change = full["BTC"].frame["oi_change_30d"].to_numpy()
    reason = full["BTC"].reasons["oi_change_30d"].to_numpy()
    inside = (day(441) < TS) & (day(469) > TS)
    assert inside.any() and np.isnan(change[inside]).all()
    assert all("switched from bybit to aggregate" in r for r in reason[inside])


def test_price_falls_back_to_the_venue_with_history(rich):
    _, full, _ = rich
    frame, src = full["BTC"].frame, full["BTC"].sources
    assert set(src["price.venue"].to_numpy()[day(59) > TS]) == {"bitget-usdtm"}
    late = day(100) < TS
    assert set(src["price.venue"].to_numpy()[late]) == {"binance-usdm"}
    # the 90d change right after Binance USD-M starts reads Bitget end to end
    assert np.isfinite(frame["price_change_90d"].to_numpy()[late & (day(140) > TS)]).all()


def test_duplicated_bars_are_rejected_by_the_store(tmp_path):
    data = write_rich_dataset(tmp_path / "d")
    candles = pd.read_parquet(data / "candles.parquet")
    pd.concat([candles, candles.iloc[[10]]]).to_parquet(data / "candles.parquet", index=False)
    with pytest.raises(DataError, match="must be unique"):
        feature_frame(Store(data), "BTC", GRID[:3])


@pytest.mark.parametrize(
    ("drop", "feature", "reason"),
    [
        ("open_interest", "oi_usd", "open_interest: open_interest table absent"),
        ("exchange_reserves", "elr", "exchange_reserves: exchange_reserves table absent"),
        ("ratios", "dominance_top_trader", "top_trader_ratio: ratios table absent"),
        ("liquidations", "liq_total_usd_24h", "liquidations: liquidations table absent"),
    ],
    ids=["missing-oi", "missing-reserves", "missing-ratios", "missing-liquidations"],
)
def test_missing_tables_give_nan_with_reasons(tmp_path, drop, feature, reason):
    data = write_rich_dataset(tmp_path / "d")
    (data / f"{drop}.parquet").unlink()
    t = START + 340 * D
    snap = features_at(Store(data), "BTC", t)
    assert snap.features[feature] is None
    assert snap.missing[feature].startswith(reason)
    assert snap.features["price_usd"] is not None


def test_missing_ratios_keep_the_dominance_score(tmp_path):
    data = write_rich_dataset(tmp_path / "d")
    (data / "ratios.parquet").unlink()
    snap = features_at(Store(data), "BTC", START + 340 * D)
    assert snap.features["oi_dominance_score"] is not None
    assert snap.features["oi_dominance_inputs"] == 2.0


def test_eth_has_no_reserves_or_liquidations(rich):
    _, full, _ = rich
    snap = full["ETH"].snapshot(len(GRID) - 1)
    assert snap.missing["elr"].startswith("exchange_reserves: no rows for ETH")
    assert snap.missing["liq_total_usd_1h"].startswith("liquidations: no rows for ETH")
    assert snap.features["elr_proxy_oi_supply"] is not None
    assert snap.features["price_usd"] is not None


def test_gap_and_zero_volume_bars_make_windows_nan(rich):
    _, full, _ = rich
    frame, reasons = full["BTC"].frame, full["BTC"].reasons
    # Bitget gap of two bars at 2024-01-21 20:00-21:00 and a zero-volume bar at 2024-01-30 04:00
    t = pd.Timestamp("2024-01-21T23:00Z")
    snap = features_at(Store(rich[0]), "BTC", t)
    assert snap.features["price_usd"] is not None
    assert snap.features["rvol_24h"] is None
    assert "21 of 24 hourly returns" in snap.missing["rvol_24h"]
    # the zero-volume bar is one missing bar: tolerated by staleness and the 90% rule
    assert (
        features_at(Store(rich[0]), "BTC", pd.Timestamp("2024-01-30T06:00Z")).features["rvol_24h"]
        is not None
    )
    t2 = pd.Timestamp("2024-01-21T22:30Z")
    snap2 = features_at(Store(rich[0]), "BTC", t2)
    assert snap2.features["price_usd"] is None
    assert "stale since" in snap2.missing["price_usd"]
    assert frame.shape[0] == reasons.shape[0]


def test_naive_times_are_rejected(rich):
    with pytest.raises(ConfigError, match="tz-aware"):
        feature_frame(Store(rich[0]), "BTC", [pd.Timestamp("2024-03-01")])


VIEW_ROWS = [5, 200, 400, len(GRID) - 1]


@pytest.mark.parametrize("row", VIEW_ROWS, ids=[f"row{i}" for i in VIEW_ROWS])
def test_frame_from_a_view_equals_the_store_frame_row(rich, row):
    data, full, _ = rich
    t = GRID[row]
    from_view = compute_feature_frame(Store(data).at(t), "BTC", [t])
    expected = full["BTC"]
    pd.testing.assert_frame_equal(
        from_view.frame, expected.frame.iloc[[row]].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        from_view.reasons, expected.reasons.iloc[[row]].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        from_view.sources, expected.sources.iloc[[row]].reset_index(drop=True)
    )


def test_frame_from_a_later_view_equals_the_store_frame(rich):
    data, full, _ = rich
    times = GRID[:300]
    from_view = compute_feature_frame(Store(data).at(times.max()), "ETH", times)
    pd.testing.assert_frame_equal(from_view.frame, full["ETH"].frame.iloc[:300])
    pd.testing.assert_frame_equal(from_view.reasons, full["ETH"].reasons.iloc[:300])


def test_features_at_from_a_view_equals_features_at_from_the_store(rich, snapshots):
    store = Store(rich[0])
    for snap, _ in snapshots:
        assert features_at(store.at(snap.at), "BTC", snap.at) == snap


@pytest.mark.parametrize(
    "call",
    [
        lambda view, t: compute_feature_frame(view, "BTC", [view.t - D, t]),
        lambda view, t: feature_frame(view, "BTC", [t]),
        lambda view, t: features_at(view, "BTC", t),
    ],
    ids=["compute_feature_frame", "feature_frame", "features_at"],
)
def test_a_time_after_the_view_is_refused(rich, call):
    view = Store(rich[0]).at(START + 300 * D)
    later = START + 300 * D + pd.Timedelta("1ns")
    with pytest.raises(ConfigError, match=r"times must be at or before the view's decision time"):
        call(view, later)


def test_reserves_come_from_the_freshest_provider_known_at_t(rich):
    _, full, _ = rich
    res = full["BTC"].sources["exchange_reserves.venue"].to_numpy()
    assert set(res[(day(300) < TS) & (day(380) > TS)]) == {"cryptoquant-style"}
    # DefiLlama's first fetch (day 395 01:30) brought days 370-395: none is used before it
    assert "defillama" not in set(res[day(395) + 90 * 60 * 10**9 > TS])
    assert set(res[(day(396) < TS) & (day(460) > TS)]) == {"defillama"}
    elr = full["BTC"].frame["elr"].to_numpy()
    assert np.isfinite(elr[(day(396) < TS) & (day(460) > TS)]).all()


def test_summed_exchanges_serve_open_interest_and_liquidations(rich):
    data, full, _ = rich
    eth = full["ETH"]
    venues = eth.sources["open_interest.venue"].to_numpy()
    late = day(301) < TS
    assert set(venues[late]) <= {"binance+bybit+okx", "binance"}
    row = int(np.flatnonzero(late & (venues == "binance+bybit+okx"))[-1])
    t = GRID[row]
    oi = Store(data).as_of("open_interest", t, asset="ETH")
    last = oi[oi["ts"] == oi.loc[oi["venue"] == "okx", "ts"].max()]
    assert eth.frame["oi_usd"].iloc[row] == pytest.approx(last["oi_usd"].sum())
    liq = full["BTC"].sources["liquidations.venue"].to_numpy()
    assert set(liq[(day(101) < TS) & (day(499) > TS)]) == {"aggregate"}
    assert set(liq[day(501) < TS]) <= {"binance+bybit+okx", "binance"}
    assert "binance+bybit+okx" in set(liq[day(501) < TS])


def test_the_map_lookback_is_an_explicit_argument(rich):
    store = Store(rich[0])
    times = pd.DatetimeIndex([START + 40 * D, START + 60 * D])
    default = compute_feature_frame(store, "BTC", times).frame
    short = compute_feature_frame(store, "BTC", times, map_lookback_hours=48).frame
    map_cols = [c for c in default.columns if c.startswith(("liq_long_", "liq_short_", "liq_mass"))]
    other = [c for c in default.columns if c not in map_cols and c not in ("asset", "ts")]
    assert map_cols and not np.allclose(
        default[map_cols].to_numpy(float), short[map_cols].to_numpy(float), equal_nan=True
    )
    pd.testing.assert_frame_equal(default[other], short[other])
    assert features_at(store, "BTC", times[-1], map_lookback_hours=48).features == {
        k: (None if np.isnan(v) else float(v))
        for k, v in short.drop(columns=["asset", "ts"]).iloc[-1].items()
    }
    with pytest.raises(ConfigError, match="map_lookback_hours must be a number of hours"):
        compute_feature_frame(store, "BTC", times, map_lookback_hours=500)


def _reference_series(spec, cand, rows):
    """The candidate series written plainly with pandas masks (what ``from_frames`` computes
    with factorised codes and arrays)."""
    mask = rows[spec.venue_column].isin(cand.parts or (cand.venue,))
    for col, val in cand.filters:
        mask &= rows[col] == val
    mine = rows[mask]
    if cand.parts:
        mine = mine[mine[spec.value_column].notna()]
        floats = [c for c in mine.columns if pd.api.types.is_float_dtype(mine[c].dtype)]
        grouped = mine.groupby("ts", sort=True)
        sums = grouped[floats].sum(min_count=len(cand.parts))
        sums["available_at"] = grouped["available_at"].max()
        mine = sums[grouped[spec.venue_column].nunique() == len(cand.parts)].reset_index()
    mine = mine[mine[spec.value_column].notna()]
    if spec.table == "candles":
        mine = mine[mine["volume_base"] > 0]
    mine = mine.sort_values(["available_at", "ts"], kind="stable")
    ts = mine["ts"].to_numpy("datetime64[ns]").view("int64")
    later = np.r_[True, ts[1:] > np.maximum.accumulate(ts)[:-1]] if len(ts) else ts > 0
    return mine[later]


@pytest.mark.parametrize("asset", ["BTC", "ETH"])
def test_candidate_series_equal_a_plain_pandas_selection(rich, asset):
    from levercast.features.frame.inputs import FrameContext
    from levercast.features.frame.specs import INPUTS

    data, _, _ = rich
    store = Store(data)
    tables = {name: store.read(name) for name in store.tables()}
    ctx = FrameContext.from_frames(tables, asset, np.array([TS[-1]]), list(INPUTS))
    checked = 0
    for name, spec in INPUTS.items():
        if spec.table not in tables:
            continue
        rows = tables[spec.table][tables[spec.table]["asset"] == asset]
        for cand, got in zip(spec.candidates, ctx.candidates(name), strict=True):
            want = _reference_series(spec, cand, rows)
            np.testing.assert_array_equal(
                got.ts, want["ts"].to_numpy("datetime64[ns]").view("int64")
            )
            np.testing.assert_array_equal(
                got.avail, want["available_at"].to_numpy("datetime64[ns]").view("int64")
            )
            floats = [c for c in want.columns if pd.api.types.is_float_dtype(want[c].dtype)]
            assert list(got.columns) == floats
            for column in floats:
                np.testing.assert_array_equal(got.columns[column], want[column].to_numpy(float))
            checked += len(got)
    assert checked > 0


def test_contexts_of_one_view_share_their_series_and_agree_with_fresh_views(rich):
    from levercast.features.frame.inputs import context_for
    from levercast.features.liqmap.contract_maps import snapshot_maps

    data, full, _ = rich
    t = GRID[400]
    view = Store(data).at(t)
    subset = compute_feature_frame(view, "BTC", [t], names=NAMES[:3])
    every = compute_feature_frame(view, "BTC", [t])
    maps = snapshot_maps(view, "BTC", pd.DatetimeIndex([t]))
    pd.testing.assert_frame_equal(every.frame, full["BTC"].frame.iloc[[400]].reset_index(drop=True))
    fresh = compute_feature_frame(Store(data).at(t), "BTC", [t], names=NAMES[:3])
    pd.testing.assert_frame_equal(subset.frame, fresh.frame)
    again = snapshot_maps(Store(data).at(t), "BTC", pd.DatetimeIndex([t]))
    for field in dataclasses.fields(maps):
        np.testing.assert_array_equal(getattr(maps, field.name), getattr(again, field.name))
    first = context_for(view, "BTC", inputs=["price"])
    second = context_for(view, "BTC", inputs=["price", "open_interest"])
    assert first.candidates("price")[0] is second.candidates("price")[0]
    assert first.memo is not second.memo
