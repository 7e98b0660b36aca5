"""The sections of the probability report, each built from the store as known at ``T``.

A section is a title and blocks (paragraphs, tables, images) rendered identically into the HTML
page and the Markdown summary by ``experiments.reporting.report``; headline values also go into the
context's ``keys`` (the "Key numbers" table of both documents). A section whose input is missing
raises; the report turns that into a one-line note.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import Store
from levercast.features.errors import ForecastError

__all__ = ["ReportContext", "Section", "fmt"]

STALE_FLOOR: Final = pd.Timedelta(hours=1)
LADDER_STEPS: Final = 6  # strikes either side of spot
CAL_HORIZONS_H: Final = (24, 72)
CAL_Z: Final = (-1.0, -0.5, 0.5, 1.0)


@dataclass(slots=True)
class Section:
    """A report section: ``blocks`` are ``("p", text)``, ``("table", headers, rows)`` or
    ``("img", data_uri, alt)``."""

    title: str
    blocks: list[tuple[Any, ...]] = field(default_factory=list)

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
    keys: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    scan: Any = None
    frames: dict[str, Any] = field(default_factory=dict)


def fmt(value: Any, digits: int = 4) -> str:
    """A number as text for both documents (``n/a`` for None/NaN)."""
    if value is None:
        return "n/a"
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return "n/a"
        if abs(number) >= 1e3:
            return f"{number:,.0f}"
        return f"{number:.{digits}g}"
    return str(value)


def _frame(ctx: ReportContext, asset: str) -> Any:
    """Feature frame of ``asset``: every 14 days over two years, daily over the last 35 days,
    and T (the last row, equal to ``features_at(T)``)."""
    if asset not in ctx.frames:
        from levercast.features.frame.frame import compute_feature_frame

        at = ctx.at
        weekly = pd.date_range(at - pd.Timedelta(days=730), at - pd.Timedelta(days=35), freq="14D")
        daily = pd.date_range(at - pd.Timedelta(days=35), at, freq="1D")
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
    uri = plot_elr(times, ff.frame["elr"], ff.frame["elr_proxy_oi_supply"], asset=asset)
    section.blocks.append(("img", uri, f"{asset} ELR history"))
    return section


def liquidation_section(ctx: ReportContext, asset: str) -> Section:
    """The liquidation heatmap of the last 7 days with clusters and their distances at T."""
    from levercast.experiments.reporting.heatmap import build_heatmap
    from levercast.experiments.reporting.plots import file_data_uri
    from levercast.features.liqmap.clusters import liqmap_features

    features, missing, clusters = liqmap_features(
        ctx.store.at(ctx.at), asset, lookback_hours=ctx.lookback_hours
    )
    if not clusters and missing:
        raise ValueError(next(iter(missing.values())))
    section = Section(f"{asset}: liquidation map")
    rows = [
        [c["side"], fmt(c["center_usd"]), fmt(c["low_usd"]), fmt(c["high_usd"]),
         fmt(c["mass_usd"]), fmt(c["distance_pct"], 3)]
        for c in clusters
    ]  # fmt: skip
    headers = ["side", "centre USD", "low USD", "high USD", "mass USD", "distance %"]
    section.blocks.append(("table", headers, rows))
    for side in ("long", "short"):
        ctx.keys[f"{asset} nearest {side} cluster (%)"] = fmt(
            features.get(f"liq_{side}_nearest_dist_pct"), 3
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
        section.blocks.append(("img", file_data_uri(out), f"{asset} liquidation heatmap"))
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
        rows.append([name, fmt(value), why or ""])
    section.blocks.append(("table", ["signal", "value at T", "why missing"], rows))
    ctx.keys[f"{asset} OI dominance score"] = fmt(_last(ff, "oi_dominance_score")[0])
    ctx.keys[f"{asset} leverage reset (30d)"] = fmt(_last(ff, "leverage_reset_30d")[0])
    recent = ff.frame[ff.frame["ts"] >= ctx.at - pd.Timedelta(days=180)]
    uri = plot_dominance(
        pd.DatetimeIndex(recent["ts"]),
        recent["oi_dominance_score"],
        recent["oi_change_30d"],
        asset=asset,
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


def _ladder(ctx: ReportContext, asset: str, end: pd.Timestamp, spot: float) -> pd.DataFrame:
    from levercast.experiments.learning.pricers import pricer_for
    from levercast.models.contracts import Contract
    from levercast.models.pricing.price import price_contract

    view = ctx.store.at(ctx.at)
    pricer = pricer_for(ctx.model, ctx.store, asset=asset, at=pd.Timestamp(ctx.at))
    step = _strike_step(spot)
    center = round(spot / step) * step
    strikes = [center + k * step for k in range(-LADDER_STEPS, LADDER_STEPS + 1)]
    rows = []
    for strike in strikes:
        base = {"asset": asset, "strike_usd": strike, "start": ctx.at, "end": end}
        touch = Contract.from_json({**base, "kind": "touch"})
        above = Contract.from_json({**base, "kind": "close_above"})
        p_touch = price_contract(touch, view, pricer=pricer).prob
        p_above = price_contract(above, view, pricer=pricer).prob
        rows.append({"strike_usd": strike, "touch": p_touch, "close_above": p_above})
    return pd.DataFrame(rows)


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
    for label, end in expiries(ctx.at).items():
        ladder = _ladder(ctx, asset, end, spot)
        ladders[label] = ladder
        markets[label] = _market_points(ctx, asset, end)
        rows = [
            [fmt(s), fmt(t, 3), fmt(a, 3)]
            for s, t, a in zip(ladder["strike_usd"], ladder["touch"], ladder["close_above"],
                               strict=True)
        ]  # fmt: skip
        section.blocks.append(("p", f"{label} (spot {fmt(spot)}):"))
        section.blocks.append(("table", ["strike USD", "P(touch)", "P(close above)"], rows))
    uri = plot_ladders(ladders, markets, asset=asset, spot_usd=spot)
    section.blocks.append(("img", uri, f"{asset} probability ladders"))
    n_markets = sum(len(v) for v in markets.values())
    section.blocks.append(("p", f"{n_markets} market quote(s) within 3 days of these expiries."))
    ctx.keys[f"{asset} spot (USD)"] = fmt(spot)
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


def edges_section(ctx: ReportContext, top: int = 10) -> Section:
    """The top edges of a replay scan at T."""
    if ctx.scan is None:
        raise ValueError("no scan at T")
    section = Section("Top edges (replay scan at T)")
    rows = [
        [r.venue, r.contract.describe(), fmt(r.prob_model, 3), fmt(r.prob_bid, 3),
         fmt(r.prob_ask, 3), fmt(r.edge, 3), r.side or "-", fmt(r.kelly_fraction, 3),
         "yes" if r.flag else "", "yes" if r.stale else ""]
        for r in ctx.scan.rows[:top]
    ]  # fmt: skip
    headers = ["venue", "contract", "model", "bid", "ask", "edge", "side", "kelly", "flag", "stale"]
    section.blocks.append(("table", headers, rows))
    flagged = sum(r.flag for r in ctx.scan.rows)
    section.blocks.append(
        ("p", f"{len(ctx.scan.rows)} markets priced with {ctx.scan.model}; {flagged} flagged.")
    )
    best = ctx.scan.rows[0].edge if ctx.scan.rows else None
    ctx.keys["markets priced"] = str(len(ctx.scan.rows))
    ctx.keys["top edge"] = fmt(best, 3)
    return section


def _saved_backtest() -> dict[str, Any] | None:
    from levercast.experiments.paths import levercast_home

    runs = sorted((levercast_home() / "runs").glob("*/run.json"), reverse=True)
    for path in runs:
        doc = json.loads(path.read_text())
        if "backtest" in str(doc.get("experiment", "")):
            return {"path": str(path.parent), **doc}
    return None


def calibration_section(ctx: ReportContext, assets: list[str]) -> Section:
    """The latest saved backtest run, else a small gbm backtest over the 4 weeks before T."""
    from levercast.experiments.labels.outcomes import label_contracts
    from levercast.experiments.reporting.plots import file_data_uri, plot_reliability
    from levercast.models.scoring import brier_loss, expected_calibration_error, reliability_curve

    section = Section("Recent calibration")
    saved = _saved_backtest()
    if saved is not None:
        metrics = saved.get("metrics", {})
        rows = [[k, fmt(v)] for k, v in sorted(metrics.items())]
        section.blocks.append(("p", f"Latest saved backtest run: {saved['path']}."))
        section.blocks.append(("table", ["metric", "value"], rows))
        return section
    contracts, probs = [], []
    for asset in assets:
        known = _frame(ctx, asset).frame.set_index("ts")
        start, stop = ctx.at - pd.Timedelta(days=31), ctx.at - pd.Timedelta(days=3)
        for t in pd.date_range(start, stop, freq="2D"):
            spot = float(known["price_usd"].asof(t))  # the frame row at or before t
            if not math.isfinite(spot):
                continue
            try:
                found, probs_t = _gbm_grid(ctx.store, asset, t, spot)
            except ForecastError:  # too little history at t for a volatility: skip that time
                continue
            contracts += found
            probs += probs_t
    outcomes = label_contracts(ctx.store, contracts)
    keep = [i for i, o in enumerate(outcomes) if o.value is not None]
    if len(keep) < 10:
        raise ValueError(f"only {len(keep)} labelled contracts in the 4 weeks before T")
    p = np.array([probs[i] for i in keep])
    y = np.array([outcomes[i].value for i in keep], dtype=float)
    brier, ece = brier_loss(p, y), expected_calibration_error(p, y)
    curve = reliability_curve(p, y, n_bins=5)
    text = (
        f"gbm (closed form, EWMA vol) on {len(keep)} touch/close-above contracts (24h, 72h; "
        f"strikes at z in {list(CAL_Z)}), decided every 2 days over the 4 weeks before T: "
        f"Brier {fmt(brier)}, ECE {fmt(ece)}."
    )
    section.blocks.append(("p", text))
    with tempfile.TemporaryDirectory() as tmp:
        png = plot_reliability(
            {"gbm": {"mean_prob": curve.mean_prob, "observed": curve.observed}},
            Path(tmp) / "reliability.png",
            title="gbm reliability",
        )
        section.blocks.append(("img", file_data_uri(png), "reliability"))
    ctx.keys["calibration Brier (gbm)"] = fmt(brier)
    ctx.keys["calibration ECE (gbm)"] = fmt(ece)
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
    (at least an hour)."""
    from levercast.features.dataset.schema import TABLES

    section = Section("Data freshness at T")
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
            rows.append([name, label, last.strftime("%Y-%m-%d %H:%M"), _age(age),
                         "STALE" if is_stale else "ok"])  # fmt: skip
    section.blocks.append(
        ("table", ["table", "series", "last available_at", "age", "status"], rows)
    )
    section.blocks.append(("p", "Stale inputs: " + (", ".join(stale) if stale else "none") + "."))
    ctx.keys["stale series"] = str(len(stale))
    return section


def _age(age: pd.Timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} d"


def at_time(value: datetime) -> pd.Timestamp:
    """A tz-aware decision time as a UTC Timestamp."""
    return pd.Timestamp(value).tz_convert("UTC")
