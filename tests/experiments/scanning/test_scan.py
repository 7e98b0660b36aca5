"""The edge scanner: replay on the shared dataset, live against a local server replaying both
venues (one of them down), Kelly caps, orientation of books and last prices."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from werkzeug import Response

from levercast.experiments.cli.main import main
from levercast.experiments.evaluation.forward_log import append_forecasts, read_forecasts
from levercast.experiments.scanning.scan import KellyCaps, ScanRow, apply_caps, scan
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.markets.kalshi.client import KalshiClient
from levercast.markets.polymarket.client import PolymarketClient
from levercast.markets.settings import VenueSettings
from levercast.models.contracts import Contract
from tests.conftest import RESOURCES

RES = RESOURCES
NOW = datetime(2026, 8, 22, 16, 10, tzinfo=UTC)
REPLAY_AT = "2025-11-10T12:00Z"


# -- a local server replaying both venues ------------------------------------------------------
def load(venue: str, name: str):
    return json.loads((RES / venue / name).read_text())


def respond(body) -> Response:
    return Response(json.dumps(body), 200, content_type="application/json")


def pm_events(request):
    if request.args.get("closed") == "true":
        return respond(load("polymarket", "events_keyset_closed.json"))
    page = "page2" if request.args.get("after_cursor") == "cursor-2" else "page1"
    return respond(load("polymarket", f"events_keyset_open_{page}.json"))


def pm_book(request):
    name = "book_1001.json" if request.args["token_id"] == "1001" else "clob_book_empty_ask.json"
    return respond(load("polymarket", name))


def kalshi_events(request):
    args = request.args
    if args["series_ticker"] != "KXBTCD" or args["status"] == "settled":
        return respond(load("kalshi", "events_empty.json"))
    page = "page2" if args.get("cursor") == "page-2" else "page1"
    return respond(load("kalshi", f"events_KXBTCD_open_{page}.json"))


def serve(httpserver, *, kalshi_down: bool = False, polymarket_down: bool = False) -> None:
    down = Response("upstream unavailable", 503)
    gamma = httpserver.expect_request("/gamma/events/keyset")
    if polymarket_down:
        gamma.respond_with_response(down)
    else:
        gamma.respond_with_handler(pm_events)
    httpserver.expect_request("/clob/book").respond_with_handler(pm_book)
    events = httpserver.expect_request("/kalshi/events")
    if kalshi_down:
        events.respond_with_response(down)
    else:
        events.respond_with_handler(kalshi_events)
    httpserver.expect_request("/kalshi/historical/cutoff").respond_with_json(
        load("kalshi", "historical_cutoff.json")
    )
    httpserver.expect_request("/kalshi/historical/markets").respond_with_json(
        {"markets": [], "cursor": ""}
    )
    for ticker in ("T109999.99", "T114999.99", "T119999.99", "T104999.99"):
        httpserver.expect_request(
            f"/kalshi/markets/KXBTCD-26AUG2817-{ticker}/orderbook"
        ).respond_with_json(load("kalshi", "orderbook_KXBTCD.json"))


def clients(httpserver):
    settings = VenueSettings(
        gamma_url=httpserver.url_for("/gamma"),
        clob_url=httpserver.url_for("/clob"),
        kalshi_url=httpserver.url_for("/kalshi"),
        timeout_secs=2.0,
        max_retries=0,
        gamma_min_interval_secs=0.0,
        clob_min_interval_secs=0.0,
        kalshi_min_interval_secs=0.0,
    )
    kwargs = {"sleep": lambda s: None, "now": lambda: NOW, "seed": 0}
    return {
        "polymarket": PolymarketClient(settings, **kwargs),
        "kalshi": KalshiClient(settings, **kwargs),
    }


def candles(asset: str, spot: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 24 * 40
    ts = pd.date_range(pd.Timestamp(NOW).floor("h") - pd.Timedelta(hours=n), periods=n, freq="h")
    close = spot * np.exp(np.cumsum(rng.normal(0, 0.006, n)) - np.cumsum(rng.normal(0, 0.006, n)))
    close = close * spot / close[-1]
    open_ = np.concatenate([[close[0]], close[:-1]])
    return pd.DataFrame(
        {
            "venue": "binance-usdm",
            "asset": asset,
            "interval": "1h",
            "ts": ts,
            "available_at": ts + pd.Timedelta(hours=1),
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume_base": 100.0,
        }
    )


@pytest.fixture
def live_store(tmp_path) -> Store:
    root = tmp_path / "live"
    root.mkdir()
    frame = pd.concat([candles("BTC", 110_500.0, 1), candles("ETH", 4_800.0, 2)])
    frame.to_parquet(root / "candles.parquet", index=False)
    return Store(root)


def live_scan(httpserver, store: Store, **kwargs):
    return scan(
        store, clients=clients(httpserver), now=lambda: NOW, fetch=False, model="gbm", **kwargs
    )


# -- live ----------------------------------------------------------------------------------------
def test_live_scan_prices_both_venues_and_ranks_by_edge(httpserver, live_store):
    serve(httpserver)
    result = live_scan(httpserver, live_store)
    assert result.live and result.failed == ()
    venues = {r.venue for r in result.rows}
    assert venues == {"polymarket", "kalshi"}
    edges = [r.edge for r in result.rows if r.edge is not None]
    assert edges == sorted(edges, reverse=True)
    tail = [r.edge for r in result.rows[len(edges) :]]
    assert all(e is None for e in tail)  # rows without a quote come last, never dropped
    by_id = {r.market_id: r for r in result.rows}
    kalshi = by_id["KXBTCD-26AUG2817-T109999.99"]
    assert kalshi.contract.kind.value == "close_above"
    assert kalshi.prob_bid is not None and kalshi.quote_source == "book"
    assert kalshi.model == "gbm" and 0.0 <= kalshi.prob_model <= 1.0
    assert len(result.rows) == 5  # 3 Polymarket books (one per token) + 2 Kalshi strikes
    for row in result.rows:
        doc = row.to_json_dict()
        assert {"venue", "market_id", "contract", "prob_model", "flag", "stale"} <= set(doc)
        assert doc["quote_age_s"] is None or doc["quote_age_s"] == pytest.approx(
            (NOW - row.quote_observed_at).total_seconds()
        )


@pytest.mark.parametrize(
    ("down", "up"), [("kalshi", "polymarket"), ("polymarket", "kalshi")], ids=["kalshi", "poly"]
)
def test_one_venue_down_is_reported_and_the_other_scanned(httpserver, live_store, down, up):
    serve(httpserver, kalshi_down=down == "kalshi", polymarket_down=down == "polymarket")
    result = live_scan(httpserver, live_store)
    assert [f["what"] for f in result.failed] == [f"{down} markets"]
    assert result.rows and {r.venue for r in result.rows} == {up}


def test_min_edge_and_quote_age_only_set_flags(httpserver, live_store):
    serve(httpserver)
    loose = live_scan(httpserver, live_store, min_edge=0.0, max_quote_age="1000d")
    strict = live_scan(httpserver, live_store, min_edge=0.99, max_quote_age="1s")
    assert sorted(r.market_id for r in loose) == sorted(r.market_id for r in strict)
    assert not any(r.flag for r in strict)
    assert all(r.stale for r in strict if r.quote_age_s is not None and r.quote_age_s > 1)
    assert not any(r.stale for r in loose)


def test_live_rows_go_to_the_forward_log(httpserver, live_store, tmp_path):
    serve(httpserver)
    result = live_scan(httpserver, live_store)
    n = append_forecasts(
        list(result.rows), at=result.at, source="scan", data_fingerprint="fp", home=tmp_path
    )
    logged = read_forecasts(tmp_path)
    assert n == len(result.rows) == len(logged)
    assert set(logged["market_id"]) == {r.market_id for r in result.rows}


# -- replay on the shared dataset -----------------------------------------------------------------
def test_replay_cli_lists_markets_open_then_ranked(shared_data, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    code = main(["scan", "--data", str(shared_data), "--at", REPLAY_AT, "--json", "--model", "gbm"])
    out = capsys.readouterr()
    assert code == 0
    rows = json.loads(out.out)
    assert len(rows) > 20
    at = pd.Timestamp(REPLAY_AT)
    markets = Store(shared_data).read("markets").set_index("market_id")
    for row in rows:
        market = markets.loc[row["market_id"]]
        assert pd.isna(market["created_at"]) or market["created_at"] <= at
        assert pd.isna(market["resolved_at"]) or market["resolved_at"] > at
        if pd.Timestamp(row["contract"]["end"]) <= at:  # listed, never flagged
            assert not row["flag"] and "window already closed" in row["why"]
        assert row["quote_age_s"] is None or row["quote_age_s"] >= 0  # no quote from the future
        if row["flag"]:
            assert not row["stale"] and row["decided"] is None
        assert row["model"] in ("gbm", "default")
    groups = [
        3 if r["decided"] else 2 if r["edge"] is None else 1 if r["stale"] else 0 for r in rows
    ]
    assert groups == sorted(groups)  # tradeable, stale, unquoted, decided or closed
    for group in set(groups):
        edges = [r["edge"] for r, g in zip(rows, groups, strict=True) if g == group]
        edges = [e for e in edges if e is not None]
        assert edges == sorted(edges, reverse=True)
    assert "not priced" in out.err  # unsupported markets are counted on stderr
    assert not (tmp_path / "home" / "forecasts.parquet").exists()  # replays never write


def test_replay_uses_only_quotes_known_at_t(shared_store):
    at = datetime(2025, 11, 10, 12, tzinfo=UTC)
    result = scan(shared_store, at=at, model="gbm")
    prices = shared_store.read("market_prices")
    for row in result.rows:
        if row.quote_observed_at is None:
            continue
        known = prices[(prices["market_id"] == row.market_id) & (prices["available_at"] <= at)]
        assert row.quote_observed_at == known["available_at"].max()


def test_every_venue_down_exits_2(monkeypatch, capsys, synthetic_data, tmp_path):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEVERCAST_HTTP_MAX_RETRIES", "0")
    monkeypatch.setenv("LEVERCAST_HTTP_TIMEOUT_SECS", "0.5")
    for var in ("LEVERCAST_POLYMARKET_GAMMA_URL", "LEVERCAST_KALSHI_URL"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # discard port: connection refused
    code = main(["scan", "--data", str(synthetic_data), "--no-fetch", "--json", "--model", "gbm"])
    err = capsys.readouterr().err
    assert code == 2
    assert "every venue failed" in err


# -- pieces ----------------------------------------------------------------------------------------
def _row(asset: str, end: str, kelly: float, market_id: str) -> ScanRow:
    contract = Contract.from_json(
        {
            "kind": "close_above",
            "asset": asset,
            "strike_usd": 100.0,
            "start": "2026-01-01T00:00Z",
            "end": end,
        }
    )
    return ScanRow(
        venue="polymarket", market_id=market_id, question="q", contract=contract,
        yes_outcome="Yes", model="gbm", prob_model=0.5, prob_lo=0.4, prob_hi=0.6, components={},
        prob_bid=None, prob_ask=None, quote_observed_at=None, quote_source="book", signal=None,
        kelly_fraction=kelly, stale=False, why="",
    )  # fmt: skip


CAP_CASES = [
    # (rows as (asset, end, kelly), expected capped fractions)
    ([("BTC", "2026-02-01T00:00Z", 0.05), ("BTC", "2026-02-01T00:00Z", 0.05)], [0.05, 0.05]),
    (
        [("BTC", "2026-02-01T00:00Z", 0.05)] * 4,  # 0.20 on one expiry -> scaled to 0.10
        [0.025] * 4,
    ),
    (
        [("BTC", f"2026-0{m}-01T00:00Z", 0.10) for m in range(2, 6)],  # 0.40 on BTC -> 0.25
        [0.0625] * 4,
    ),
    (
        [("BTC", "2026-02-01T00:00Z", 0.05)] * 3 + [("ETH", "2026-02-01T00:00Z", 0.04)],
        [0.1 / 3] * 3 + [0.04],
    ),
]


@pytest.mark.parametrize(("spec", "expected"), CAP_CASES, ids=["under", "expiry", "asset", "mix"])
def test_apply_caps_hand_computed(spec, expected):
    rows = [_row(a, e, k, f"m{i}") for i, (a, e, k) in enumerate(spec)]
    capped = apply_caps(rows, KellyCaps(per_market=0.1, per_expiry=0.10, per_asset=0.25))
    assert [r.kelly_fraction for r in capped] == pytest.approx(expected)
    assert [r.market_id for r in capped] == [r.market_id for r in rows]


def test_kelly_caps_reject_fractions_outside_unit_interval():
    with pytest.raises(ConfigError, match="per_expiry must be a bankroll fraction"):
        KellyCaps(per_expiry=1.5)


def test_scan_rejects_unknown_venue_and_naive_time(shared_store):
    with pytest.raises(ConfigError, match="venue must be polymarket or kalshi; found 'nyse'"):
        scan(shared_store, at=datetime(2025, 1, 1, tzinfo=UTC), venues="nyse")
    with pytest.raises(ConfigError, match="at must be tz-aware"):
        scan(shared_store, at=datetime(2025, 1, 1))


def test_scanner_prices_with_the_default_forecaster_unless_told_otherwise():
    from levercast.experiments.scanning.scan import choose_model

    assert choose_model() == "default"
    assert choose_model("gbm") == "gbm"


# -- an honest scanner: stale, decided and closed rows are listed, never flagged ----------------
AT = datetime(2024, 2, 20, 12, tzinfo=UTC)


def _planted_store(tmp_path) -> Store:
    from tests.conftest import make_dataset

    root = make_dataset(tmp_path / "planted", seed=3, hours=24 * 60)
    candles = pd.read_parquet(root / "candles.parquet")
    feb = candles[(candles["ts"] >= "2024-02-01") & (candles["available_at"] <= AT)]
    touched = float(feb["high"].max()) * 0.999  # already reached in bars closed by T
    spot = float(feb["close"].iloc[-1])
    far = round(spot * 1.5, -3)  # not reached
    rows = [
        ("touched", f"Will Bitcoin reach ${touched:,.0f} in February?", "2024-03-01T05:00"),
        ("fresh", f"Will Bitcoin reach ${far:,.0f} in February?", "2024-03-01T05:00"),
        ("closed", f"Will Bitcoin reach ${far:,.0f} by February 15?", "2024-02-16T05:00"),
    ]
    markets = pd.DataFrame(
        {
            "venue": "polymarket",
            "market_id": [r[0] for r in rows],
            "condition_id": None,
            "question": [r[1] for r in rows],
            "event_title": None,
            "slug": None,
            "rules": "",
            "outcomes": "Yes|No",
            "token_ids": "",
            "created_at": pd.Timestamp("2024-01-25T00:00Z"),
            "end_date": pd.to_datetime([r[2] for r in rows], utc=True),
            "resolved_at": pd.NaT,
            "winning_outcome": None,
            "family": "planted",
        }
    )
    for col in markets.columns:
        if col not in ("created_at", "end_date", "resolved_at"):
            markets[col] = markets[col].astype("string")
    markets["resolved_at"] = pd.to_datetime(markets["resolved_at"], utc=True)
    markets.to_parquet(root / "markets.parquet", index=False)
    quotes = [
        ("touched", AT - pd.Timedelta(days=5), 0.20),  # stale and decided: looks like +0.8
        ("fresh", AT - pd.Timedelta(minutes=5), 0.60),  # a far strike quoted far too high
        ("closed", AT - pd.Timedelta(days=6), 0.30),
    ]
    pd.DataFrame(
        {
            "venue": "polymarket",
            "market_id": [q[0] for q in quotes],
            "outcome": "Yes",
            "ts": [q[1] for q in quotes],
            "available_at": [q[1] for q in quotes],
            "price": [q[2] for q in quotes],
            "kind": "history",
        }
    ).astype(
        {"venue": "string", "market_id": "string", "outcome": "string", "kind": "string"}
    ).to_parquet(root / "market_prices.parquet", index=False)
    return Store(root)


def test_a_touched_market_with_a_stale_quote_is_listed_not_flagged(tmp_path):
    store = _planted_store(tmp_path)
    result = scan(store, at=AT, model="gbm", min_edge=0.0, max_quote_age="1h")
    rows = {r.market_id: r for r in result.rows}
    assert set(rows) == {"touched", "fresh", "closed"}  # every listed market is a row
    touched = rows["touched"]
    assert touched.stale and touched.decided is not None and not touched.flag
    assert touched.edge is not None and touched.edge > 0.5  # a big "edge", rightly ignored
    assert "already decided" in touched.why and "stale quote" in touched.why
    assert touched.kelly_fraction == 0.0
    closed = rows["closed"]
    assert not closed.flag and "window already closed" in closed.why
    doc = closed.to_json_dict()
    assert doc["flag"] is False and doc["prob_model"] != doc["prob_model"]  # NaN: not priced
    fresh = rows["fresh"]
    assert not fresh.stale and fresh.decided is None
    assert fresh.flag and fresh.side == "no" and fresh.kelly_fraction > 0


def test_every_flagged_row_is_fresh_and_undecided(tmp_path):
    store = _planted_store(tmp_path)
    for age in ("1h", "10d"):
        result = scan(store, at=AT, model="gbm", min_edge=0.0, max_quote_age=age)
        for row in result.rows:
            if row.flag:
                assert not row.stale and row.decided is None
                assert row.quote_age_s is not None and row.quote_age_s <= 10 * 86400


def test_market_aware_scan_prices_from_the_market_and_lists_the_rest(tmp_path):
    store = _planted_store(tmp_path)
    result = scan(store, at=AT, model="market_aware", min_edge=0.0, max_quote_age="1h")
    rows = {r.market_id: r for r in result.rows}
    assert set(rows) == {"touched", "fresh", "closed"}
    fresh = rows["fresh"]
    assert fresh.model == "market_aware"
    # No market resolved before T: the forecast is the market's price, so no edge to flag.
    assert fresh.prob_model == pytest.approx(0.60, abs=1e-6)
    assert not fresh.flag
    assert any("market_aware at" in note for note in result.notes)
