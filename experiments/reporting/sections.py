"""The sections of the probability report, each built from the store as known at ``T``.

A section is a title and blocks (paragraphs, tables, images) rendered identically into the HTML
page and the Markdown summary by ``experiments.reporting.report``; headline values also go into the
context's ``keys`` (the "Key numbers" table of both documents). A section whose input is missing
raises; the report turns that into a one-line note. Numbers are written for people
(``experiments.reporting.numbers``): money as ``$68,237``, probabilities as ``13.9%``, edges in
points, funding in bps, never in scientific notation.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.reporting.numbers import (
    fmt_number,
    fmt_pct,
    fmt_points,
    fmt_prob,
    fmt_time,
    fmt_unit,
    fmt_usd,
)
from levercast.features.dataset.store import Store
from levercast.features.errors import ForecastError

__all__ = ["REQUIRED_LIMITS", "ReportContext", "Section", "fmt", "required_staleness"]

STALE_FLOOR: Final = pd.Timedelta(hours=1)
LADDER_STEPS: Final = 6  # strikes either side of spot
CAL_HORIZONS_H: Final = (24, 72)
CAL_Z: Final = (-1.0, -0.5, 0.5, 1.0)
CAL_DAYS: Final = 28  # the walk-forward's window before T
CAL_MIN_ROWS: Final = 10  # fewer resolved forecasts than this do not make a calibration
# What a report needs fresh, per asset: table -> the largest age at T of its freshest series.
# A live report on older inputs exits 2 (``stale inputs: ...``) unless --allow-stale.
REQUIRED_LIMITS: Final[dict[str, pd.Timedelta]] = {
    "candles": pd.Timedelta(hours=3),
    "open_interest": pd.Timedelta(hours=6),
    "funding": pd.Timedelta(hours=24),
}


@dataclass(slots=True)
class Section:
    """A report section: ``blocks`` are ``("p", text)``, ``("table", headers, rows)`` or
    ``("img", data_uri, alt)``; ``anchor`` is the HTML id of the section."""

    title: str
    blocks: list[tuple[Any, ...]] = field(default_factory=list)
    anchor: str | None = None

    @property
    def plots(self) -> int:
        """Images in the section."""
        return sum(1 for b in self.blocks if b[0] == "img")


@dataclass(slots=True)
class ReportContext:
    """What the sections share: the store at ``at``, headline values, notes, the scan."""

    store: Store
    at: pd.Timestamp
    model: str
    lookback_hours: float | None = None  # the liquidation map's window (None: committed)
    assets: tuple[str, ...] = ("BTC", "ETH")
    keys: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    scan: Any = None
    frames: dict[str, Any] = field(default_factory=dict)


def fmt(value: Any, digits: int = 3) -> str:
    """A plain number as text for both documents (``n/a`` for None/NaN; never scientific)."""
    return fmt_number(value, digits=digits)


def fmt_feature(name: str, value: Any) -> str:
    """A feature value by its catalogue unit (money, percent, bps, yes/no)."""
    from levercast.features.frame.registry import feature_spec

    try:
        unit = feature_spec(name).unit
    except ForecastError:  # not in the catalogue
        unit = ""
    return fmt_unit(value, unit, name=name)


DAILY_DAYS: Final = 180  # the feature frame is daily over these days before T


def _frame(ctx: ReportContext, asset: str) -> Any:
    """Feature frame of ``asset``: every 14 days over two years, daily over the last
    ``DAILY_DAYS`` days, and T (the last row, equal to ``features_at(T)``)."""
    if asset not in ctx.frames:
        from levercast.features.frame.frame import compute_feature_frame

        at = ctx.at
        recent = pd.Timedelta(days=DAILY_DAYS)
        weekly = pd.date_range(at - pd.Timedelta(days=730), at - recent, freq="14D")
        daily = pd.date_range(at - recent, at, freq="1D")
        times = weekly.append(daily).append(pd.DatetimeIndex([at])).unique().sort_values()
        ctx.frames[asset] = compute_feature_frame(
            ctx.store, asset, times, map_lookback_hours=ctx.lookback_hours
        )
    return ctx.frames[asset]


def _last(frame: Any, name: str) -> tuple[float, str | None]:
    value = float(frame.frame[name].iloc[-1])
    reason = frame.reasons[name].iloc[-1]
    return value, None if reason is None else str(reason)


def leverage_section(ctx: ReportContext, asset: str) -> Section:
    """ELR at T and its history, or the proxy and the date of the last real ELR."""
    from levercast.experiments.reporting.plots import plot_elr

    ff = _frame(ctx, asset)
    elr, why = _last(ff, "elr")
    proxy, proxy_why = _last(ff, "elr_proxy_oi_supply")
    section = Section(f"{asset}: estimated leverage ratio")
    real = ff.frame.loc[ff.frame["elr"].notna(), "ts"]
    ctx.keys[f"{asset} ELR"] = fmt(elr)
    ctx.keys[f"{asset} ELR proxy (OI/supply)"] = fmt(proxy)
    if math.isfinite(elr):
        z, _ = _last(ff, "elr_zscore_1y")
        section.blocks.append(("p", f"ELR at T: {fmt(elr)} (1-year z-score {fmt(z)})."))
    else:
        reserves = (
            ctx.store.as_of("exchange_reserves", ctx.at, asset=asset)
            if ctx.store.has("exchange_reserves")
            else None
        )
        if reserves is not None and len(reserves):
            last = f"{reserves['ts'].max():%Y-%m-%d} (last exchange-reserve day known at T)"
        else:
            last = real.max().strftime("%Y-%m-%d") if len(real) else "none (no reserves data)"
        section.blocks.append(
            (
                "p",
                f"ELR unavailable at T ({why}); shown instead: the proxy OI / (price x supply) "
                f"= {fmt(proxy)}{'' if proxy_why is None else f' ({proxy_why})'}. "
                f"Last real ELR: {last}.",
            )
        )
    times = pd.DatetimeIndex(ff.frame["ts"])
    source = ff.sources.get("open_interest.venue")
    uri = plot_elr(
        times, ff.frame["elr"], ff.frame["elr_proxy_oi_supply"], asset=asset, oi_source=source
    )
    section.blocks.append(("img", uri, f"{asset} ELR history"))
    return section


def liquidation_section(ctx: ReportContext, asset: str) -> Section:
    """The liquidation heatmap of the last 7 days with clusters and their distances at T."""
    from levercast.experiments.reporting.heatmap import build_heatmap, realised_liquidations
    from levercast.experiments.reporting.plots import file_data_uri
    from levercast.features.liqmap.clusters import liqmap_features

    features, missing, clusters = liqmap_features(
        ctx.store.at(ctx.at), asset, lookback_hours=ctx.lookback_hours
    )
    if not clusters and missing:
        raise ValueError(next(iter(missing.values())))
    section = Section(f"{asset}: liquidation map")
    rows = [
        [c["side"], fmt_usd(c["center_usd"]), fmt_usd(c["low_usd"]), fmt_usd(c["high_usd"]),
         fmt_usd(c["mass_usd"]), fmt_pct(c["distance_pct"], digits=2, signed=True)]
        for c in clusters
    ]  # fmt: skip
    headers = ["side", "centre", "low", "high", "mass", "distance from spot"]
    section.blocks.append(("table", headers, rows))
    for side in ("long", "short"):
        ctx.keys[f"{asset} nearest {side} cluster"] = fmt_pct(
            features.get(f"liq_{side}_nearest_dist_pct"), digits=2, signed=True
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "heatmap.png"
        build_heatmap(
            ctx.store,
            asset,
            start=ctx.at - pd.Timedelta(days=7),
            end=ctx.at,
            out=out,
            lookback_hours=ctx.lookback_hours,
        )
        section.blocks.append(
            (
                "img",
                file_data_uri(out),
                f"{asset} liquidation heatmap with the realised liquidations overlaid",
            )
        )
    start = ctx.at - pd.Timedelta(days=7)
    realised = realised_liquidations(ctx.store, asset, start, ctx.at)
    if realised.empty:
        overlay = "no realised liquidations known at T for these 7 days"
    else:
        overlay = (
            f"{fmt_usd(realised['long_usd'].sum())} of longs and "
            f"{fmt_usd(realised['short_usd'].sum())} of shorts liquidated in "
            f"{len(realised)} hours"
        )
    section.blocks.append(
        (
            "p",
            "Estimated liquidation levels (longs red, shorts blue, each on its own scale) with "
            f"the realised liquidations overlaid (bubbles at each hour's low/high, bars below): "
            f"{overlay}.",
        )
    )
    return section


_DELEVERAGING: Final = (
    "oi_dominance_score",
    "oi_long_share",
    "dominance_oi_flow",
    "dominance_funding",
    "dominance_top_trader",
    "dominance_taker",
    "oi_change_1d",
    "oi_change_30d",
    "oi_drawdown_30d",
    "leverage_reset_30d",
    "oi_price_spread_30d",
    "funding_rate_8h",
    "funding_rate_mean_7d",
    "liq_total_usd_24h",
    "liq_skew_24h",
)


def dominance_section(ctx: ReportContext, asset: str) -> Section:
    """OI dominance and the deleveraging signals at T, with their recent history."""
    from levercast.experiments.reporting.plots import plot_dominance

    ff = _frame(ctx, asset)
    section = Section(f"{asset}: OI dominance and deleveraging signals")
    rows = []
    for name in _DELEVERAGING:
        value, why = _last(ff, name)
        rows.append([name, fmt_feature(name, value), why or ""])
    section.blocks.append(("table", ["signal", "value at T", "why missing"], rows))
    ctx.keys[f"{asset} OI dominance score"] = fmt(_last(ff, "oi_dominance_score")[0])
    ctx.keys[f"{asset} leverage reset (30d)"] = fmt(_last(ff, "leverage_reset_30d")[0])
    # One sampling rate: the daily rows (T itself is off the daily grid when T is not 00:00).
    ts = pd.DatetimeIndex(ff.frame["ts"])
    daily = (ts >= ctx.at - pd.Timedelta(days=DAILY_DAYS)) & (
        ((ctx.at - ts) % pd.Timedelta(days=1)) == pd.Timedelta(0)
    )
    recent = ff.frame[daily]
    uri = plot_dominance(
        pd.DatetimeIndex(recent["ts"]),
        recent["oi_dominance_score"],
        recent["oi_change_30d"],
        asset=asset,
        sampling=f"daily, last {DAILY_DAYS} days",
    )
    section.blocks.append(("img", uri, f"{asset} dominance history"))
    return section


def expiries(at: pd.Timestamp) -> dict[str, pd.Timestamp]:
    """'this week' (next Monday 00:00 UTC) and 'this month' (1st of next month 00:00 UTC),
    each rolled one period on when less than a day away."""
    day = at.floor("D")
    week = day + pd.Timedelta(days=7 - day.day_of_week)
    if week - at < pd.Timedelta(days=1):
        week += pd.Timedelta(days=7)
    month = (day.replace(day=1) + pd.DateOffset(months=1)).tz_convert("UTC")
    if month - at < pd.Timedelta(days=1):
        month = (month + pd.DateOffset(months=1)).tz_convert("UTC")
    return {f"week to {week:%Y-%m-%d}": week, f"month to {month:%Y-%m-%d}": month}


def _strike_step(spot: float) -> float:
    raw = spot * 0.025
    magnitude = 10 ** math.floor(math.log10(raw))
    return float(min((m * magnitude for m in (1, 2, 2.5, 5, 10)), key=lambda s: abs(s - raw)))


def _ladders(
    ctx: ReportContext, asset: str, ends: dict[str, pd.Timestamp], spot: float
) -> dict[str, pd.DataFrame]:
    """The touch and close-above ladder of each expiry, every contract priced in one batch
    (one view, one pricer: a learned model answers them with one model call)."""
    from levercast.experiments.learning.pricers import price_contracts, pricer_for
    from levercast.models.contracts import Contract

    view = ctx.store.at(ctx.at)
    pricer = pricer_for(ctx.model, ctx.store, asset=asset, at=pd.Timestamp(ctx.at))
    step = _strike_step(spot)
    center = round(spot / step) * step
    strikes = [center + k * step for k in range(-LADDER_STEPS, LADDER_STEPS + 1)]
    contracts = []
    for end in ends.values():
        for strike in strikes:
            base = {"asset": asset, "strike_usd": strike, "start": ctx.at, "end": end}
            contracts += [Contract.from_json({**base, "kind": k}) for k in ("touch", "close_above")]
    # each answer is the contract's own (price_contracts: value for value price_contract's)
    probs = [f.prob for f in price_contracts(contracts, view, pricer=pricer)]
    size = 2 * len(strikes)
    out = {}
    for i, label in enumerate(ends):
        part = probs[i * size : (i + 1) * size]
        out[label] = pd.DataFrame(
            {"strike_usd": strikes, "touch": part[0::2], "close_above": part[1::2]}
        )
    return out


def ladder_section(ctx: ReportContext, asset: str) -> Section:
    """Touch and close-above probabilities across strikes for this week and this month, with
    the odds of markets expiring within 3 days of each date on the same chart."""
    from levercast.experiments.reporting.plots import plot_ladders

    ff = _frame(ctx, asset)
    spot, why = _last(ff, "price_usd")
    if not math.isfinite(spot):
        raise ValueError(f"no spot price at T ({why})")
    section = Section(f"{asset}: probability ladders ({ctx.model})")
    ladders: dict[str, pd.DataFrame] = {}
    markets: dict[str, list[tuple[float, float, str]]] = {}
    ends = expiries(ctx.at)
    for label, ladder in _ladders(ctx, asset, ends, spot).items():
        end = ends[label]
        ladders[label] = ladder
        markets[label] = _market_points(ctx, asset, end)
        rows = [
            [fmt_usd(s), fmt_prob(t), fmt_prob(a)]
            for s, t, a in zip(ladder["strike_usd"], ladder["touch"], ladder["close_above"],
                               strict=True)
        ]  # fmt: skip
        section.blocks.append(("p", f"{label} (spot {fmt_usd(spot)}):"))
        section.blocks.append(("table", ["strike", "P(touch)", "P(close above)"], rows))
    uri = plot_ladders(ladders, markets, asset=asset, spot_usd=spot)
    section.blocks.append(("img", uri, f"{asset} probability ladders"))
    n_markets = sum(len(v) for v in markets.values())
    section.blocks.append(("p", f"{n_markets} market quote(s) within 3 days of these expiries."))
    ctx.keys[f"{asset} spot"] = fmt_usd(spot)
    return section


def _market_points(
    ctx: ReportContext, asset: str, end: pd.Timestamp
) -> list[tuple[float, float, str]]:
    out = []
    for row in ctx.scan.rows if ctx.scan is not None else ():
        c = row.contract
        if c.asset != asset or c.end is None or row.prob_market is None:
            continue
        if c.kind.value in ("touch", "close_above") and abs(c.end - end) <= timedelta(days=3):
            out.append((float(c.strike_usd), float(row.prob_market), c.kind.value))
    return out


def _status(row: Any) -> str:
    """Whether a scan row can be traded at T: ``open``, ``stale quote`` or ``decided/closed``."""
    if row.decided is not None:
        return "decided/closed"
    return "stale quote" if row.stale else "open"


def _model_prob(row: Any, fallback: str | None) -> str:
    """The row's probability, with the model that answered it when it is a fallback."""
    return fmt_prob(row.prob_model) + (f" ({fallback})" if fallback else "")


def edges_section(ctx: ReportContext, top: int = 10) -> Section:
    """The top edges of a replay scan at T (tradeable rows first, as the scan ranks them); the
    key number is the best edge of a market still open at T, never one already decided."""
    if ctx.scan is None:
        raise ValueError("no scan at T")
    section = Section("Top edges (replay scan at T)")
    scan = ctx.scan
    rows = [
        [r.venue, r.question or r.contract.describe(), _model_prob(r, scan.fell_back(r)),
         fmt_prob(r.prob_bid), fmt_prob(r.prob_ask), fmt_points(r.edge), r.side or "-",
         fmt_prob(r.kelly_fraction), "yes" if r.flag else "", _status(r)]
        for r in scan.rows[:top]
    ]  # fmt: skip
    headers = ["venue", "market", "model", "bid", "ask", "edge", "side", "Kelly", "flag", "status"]
    section.blocks.append(("table", headers, rows))
    flagged = sum(r.flag for r in scan.rows)
    fallbacks = sum(scan.fell_back(r) is not None for r in scan.rows)
    live = [
        r for r in scan.rows if r.decided is None and r.edge is not None and not math.isnan(r.edge)
    ]
    closed = sum(r.decided is not None for r in scan.rows)
    section.blocks.append(
        (
            "p",
            f"{len(scan.rows)} markets priced with {scan.model}"
            + (
                f" ({fallbacks} of them by its fallback, named beside the probability)"
                if fallbacks
                else ""
            )
            + f"; {flagged} flagged; {closed} already decided or closed at T (no edge to take "
            "there).",
        )
    )
    best = max(live, key=lambda r: (not r.stale, float(r.edge or 0.0)), default=None)
    ctx.keys["markets priced"] = str(len(scan.rows))
    if best is None:
        ctx.keys["top edge"] = "n/a (no open market quoted)"
    else:
        stale = " (stale quote)" if best.stale else ""
        ctx.keys["top edge"] = f"{fmt_points(best.edge)}{stale}"
    return section


def _forward_log_rows(ctx: ReportContext, assets: list[str]) -> pd.DataFrame:
    """The forward log's forecasts decided by T whose markets resolved by T (columns ``t``,
    ``prob``, ``outcome``, ``resolved_at``), for ``assets``; empty without a log."""
    from levercast.experiments.evaluation.forward_log import read_forecasts

    empty = pd.DataFrame(columns=["t", "prob", "outcome", "resolved_at"])
    if not ctx.store.has("markets"):
        return empty
    log = read_forecasts()
    if log.empty:
        return empty
    t = pd.to_datetime(log["at"], utc=True)
    asset = log["contract"].map(lambda text: str(json.loads(text).get("asset", "")).upper())
    log = log[(t <= ctx.at) & asset.isin(assets)].assign(t=t)
    markets = ctx.store.markets_as_of(ctx.at).set_index("market_id")
    log = log.join(markets[["winning_outcome", "resolved_at"]], on="market_id")
    resolved = pd.to_datetime(log["resolved_at"], utc=True)
    done = log["winning_outcome"].notna() & (resolved <= ctx.at) & (resolved > log["t"])
    log = log[done]
    yes = log["yes_outcome"].fillna("Yes")
    return pd.DataFrame(
        {
            "t": log["t"],
            "prob": log["prob"].astype(float),
            "outcome": (log["winning_outcome"] == yes).astype(float),
            "resolved_at": resolved[done],
        }
    ).dropna(subset=["prob"])


def _walk_forward_rows(ctx: ReportContext, assets: list[str]) -> pd.DataFrame:
    """gbm forecasts decided every 2 days over the ``CAL_DAYS`` days before T, every contract
    ending at or before T, with their outcomes (columns as ``_forward_log_rows``)."""
    from levercast.experiments.labels.outcomes import label_contracts

    contracts, probs, times = [], [], []
    for asset in assets:
        known = _frame(ctx, asset).frame.set_index("ts")
        start = ctx.at - pd.Timedelta(days=CAL_DAYS + 3)
        stop = ctx.at - pd.Timedelta(hours=max(CAL_HORIZONS_H))
        for t in pd.date_range(start, stop, freq="2D"):
            spot = float(known["price_usd"].asof(t))  # the frame row at or before t
            if not math.isfinite(spot):
                continue
            try:
                found, probs_t = _gbm_grid(ctx.store, asset, t, spot)
            except ForecastError:  # too little history at t for a volatility: skip that time
                continue
            for contract, prob in zip(found, probs_t, strict=True):
                if contract.end is not None and pd.Timestamp(contract.end) <= ctx.at:
                    contracts.append(contract)
                    probs.append(prob)
                    times.append(t)
    outcomes = label_contracts(ctx.store, contracts)
    keep = [i for i, o in enumerate(outcomes) if o.value is not None]
    return pd.DataFrame(
        {
            "t": [times[i] for i in keep],
            "prob": [probs[i] for i in keep],
            "outcome": [float(outcomes[i].value) for i in keep],  # type: ignore[arg-type]
            "resolved_at": [pd.Timestamp(contracts[i].end) for i in keep],
        }
    )


def calibration_section(ctx: ReportContext, assets: list[str]) -> Section:
    """Calibration from forecasts and outcomes known at T: the forward log's forecasts of
    markets resolved by T when there are at least ``CAL_MIN_ROWS``, else a gbm walk-forward
    over the ``CAL_DAYS`` days before T. The period printed ends at or before T."""
    from levercast.experiments.reporting.plots import file_data_uri, plot_reliability
    from levercast.models.scoring import brier_loss, expected_calibration_error, reliability_curve

    section = Section("Recent calibration", anchor="calibration")
    rows = _forward_log_rows(ctx, assets)
    if len(rows) >= CAL_MIN_ROWS:
        name = "forward log"
        source = (
            f"the forward log: {len(rows)} live forecasts (scan and report) of markets resolved "
            "by T, scored against the markets' outcomes"
        )
    else:
        rows = _walk_forward_rows(ctx, assets)
        name = "gbm walk-forward"
        source = (
            f"a gbm walk-forward (closed form, EWMA volatility known at each decision): "
            f"{len(rows)} touch/close-above contracts (24 h and 72 h; strikes at z in "
            f"{', '.join(f'{z:g}' for z in CAL_Z)}) decided every 2 days over the {CAL_DAYS} "
            "days before T, each resolved by T"
        )
    if len(rows) < CAL_MIN_ROWS:
        raise ValueError(
            f"only {len(rows)} resolved forecasts before T (the forward log and a "
            f"{CAL_DAYS}-day walk-forward); at least {CAL_MIN_ROWS} are needed"
        )
    p, y = rows["prob"].to_numpy(float), rows["outcome"].to_numpy(float)
    start, end = pd.Timestamp(rows["t"].min()), pd.Timestamp(rows["resolved_at"].max())
    brier, ece = brier_loss(p, y), expected_calibration_error(p, y)
    curve = reliability_curve(p, y, n_bins=5)
    period = f"{fmt_time(start)} to {fmt_time(end)}"
    section.blocks.append(("p", f"Source: {source}."))
    section.blocks.append(("p", f"Period: {period} (ends at or before T = {fmt_time(ctx.at)})."))
    table_rows = [
        [name, str(len(rows)), fmt(brier), fmt(ece), fmt_prob(float(y.mean()))],
    ]
    section.blocks.append(
        ("table", ["forecasts", "n", "Brier", "ECE (5 bins)", "event rate"], table_rows)
    )
    with tempfile.TemporaryDirectory() as tmp:
        png = plot_reliability(
            {name: {"mean_prob": curve.mean_prob, "observed": curve.observed,
                    "count": curve.count}},
            Path(tmp) / "reliability.png",
            title=f"reliability: {name}, {period}",
        )  # fmt: skip
        section.blocks.append(("img", file_data_uri(png), "reliability"))
    ctx.keys["calibration source"] = name
    ctx.keys["calibration period"] = period
    ctx.keys["calibration Brier"] = fmt(brier)
    ctx.keys["calibration ECE"] = fmt(ece)
    return section


def _gbm_grid(
    store: Store, asset: str, t: pd.Timestamp, spot: float
) -> tuple[list[Any], list[float]]:
    """Touch and close-above contracts decided at ``t`` and their gbm closed-form probabilities
    (EWMA vol known at ``t``), vectorised."""
    from levercast.models.contracts import Contract
    from levercast.models.pricing.gbm import gbm_probabilities, gbm_vol_at

    vol, _ = gbm_vol_at(store.at(t), asset)
    contracts, kinds, strikes, years = [], [], [], []
    for hours in CAL_HORIZONS_H:
        for z in CAL_Z:
            strike = spot * math.exp(z * vol * math.sqrt(hours / 8760))
            base = {"asset": asset, "strike_usd": strike, "start": t,
                    "end": t + pd.Timedelta(hours=hours)}  # fmt: skip
            for kind in ("touch", "close_above"):
                contracts.append(Contract.from_json({**base, "kind": kind}))
                kinds.append(kind)
                strikes.append(strike)
                years.append(hours / 8760)
    probs = gbm_probabilities(
        np.array(kinds),
        np.full(len(kinds), spot),
        vol,
        np.array(years),
        strike_usd=np.array(strikes),
    )
    return contracts, [float(p) for p in probs]


def freshness_section(ctx: ReportContext) -> Section:
    """Last row known at T per table and series; stale when older than twice its usual spacing
    (at least an hour). The required inputs (``REQUIRED_LIMITS``) are listed first."""
    from levercast.features.dataset.schema import TABLES

    section = Section("Data freshness at T", anchor="freshness")
    required = required_staleness(ctx.store, ctx.at, list(ctx.assets))
    limits = ", ".join(
        f"{n.replace('_', ' ')} within {_age(v)}" for n, v in REQUIRED_LIMITS.items()
    )
    verdict = "; ".join(required) if required else "all fresh"
    section.blocks.append(("p", f"Required inputs per asset ({limits} of T): {verdict}."))
    rows, stale = [], []
    for name in ctx.store.tables():
        spec = TABLES[name]
        if not spec.time_series or name == "market_prices":
            continue
        known = ctx.store.as_of(name, ctx.at)
        if known.empty:
            rows.append([name, "-", "none", "-", "no rows known at T"])
            stale.append(name)
            continue
        groups = [
            g
            for g in spec.groups
            if g in known.columns and g not in ("side", "price", "market_id", "outcome")
        ]
        for key, part in known.groupby(groups, sort=True):
            label = "/".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
            last = part["available_at"].max()
            spacing = part["available_at"].drop_duplicates().tail(20).diff().median()
            limit = max(STALE_FLOOR, 2 * spacing) if pd.notna(spacing) else STALE_FLOOR
            age = ctx.at - last
            is_stale = age > limit
            if is_stale:
                stale.append(f"{name} {label}")
            rows.append([name, label, fmt_time(last), _age(age),
                         "STALE" if is_stale else "ok"])  # fmt: skip
    section.blocks.append(("table", ["table", "series", "last available", "age", "status"], rows))
    section.blocks.append(("p", "Stale series: " + (", ".join(stale) if stale else "none") + "."))
    ctx.keys["stale series"] = str(len(stale))
    ctx.keys["stale required inputs"] = str(len(required))
    return section


def required_staleness(store: Store, at: pd.Timestamp, assets: list[str]) -> list[str]:
    """The required inputs stale at ``at`` beyond ``REQUIRED_LIMITS``: for each table and
    asset, the freshest series (any venue) must be at most that old. Returns one text per
    stale input, e.g. ``"candles BTC (last 2024-01-31 23:00 UTC; limit 3.0 h)"``."""
    out = []
    for table, limit in REQUIRED_LIMITS.items():
        if not store.has(table):
            out += [f"{table} {asset} (no {table} table)" for asset in assets]
            continue
        known = store.as_of(table, at)
        for asset in assets:
            part = known[known["asset"].astype(str) == asset] if "asset" in known else known[:0]
            if part.empty:
                out.append(f"{table} {asset} (none known at T)")
                continue
            last = pd.Timestamp(part["available_at"].max())
            if at - last > limit:
                out.append(f"{table} {asset} (last {fmt_time(last)}; limit {_age(limit)})")
    return out


def _age(age: pd.Timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} d"


def at_time(value: Any) -> pd.Timestamp:
    """A tz-aware decision time as a UTC Timestamp."""
    return pd.Timestamp(value).tz_convert("UTC")
