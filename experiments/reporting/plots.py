"""Every figure we draw: the report's plots, the liquidation heatmap and the reliability diagram.

Each function draws one matplotlib figure (Agg backend, no display). The report's own plots
(``plot_elr``, ``plot_dominance``, ``plot_ladders``) return a ``data:image/png;base64,...`` URI
that the page embeds in ``<img src=...>``: the page needs no file beside it and no JavaScript.
``plot_heatmap`` and ``plot_reliability`` write a PNG file (the ``heatmap`` command's output, the
MLflow artifacts of ``backtest``/``evaluate``); the report embeds those with ``file_data_uri``.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray

__all__ = [
    "file_data_uri",
    "plot_dominance",
    "plot_elr",
    "plot_heatmap",
    "plot_ladders",
    "plot_reliability",
    "round_price_ticks",
]

_DPI = 80


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _encode(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=_DPI)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def file_data_uri(path: Path) -> str:
    """A PNG file as a data URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _round_step(span: float, *, ticks: int = 6) -> float:
    """A round tick step (1, 2, 2.5 or 5 x 10^k) giving about ``ticks`` ticks over ``span``."""
    raw = max(span, 1e-12) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return float(min((m * magnitude for m in (1, 2, 2.5, 5, 10)), key=lambda s: abs(s - raw)))


def round_price_ticks(low_usd: float, high_usd: float, *, ticks: int = 7) -> list[float]:
    """Round price levels (multiples of a 1/2/2.5/5 x 10^k step) covering ``[low, high]``."""
    step = _round_step(high_usd - low_usd, ticks=ticks)
    first = math.ceil(low_usd / step) * step
    count = math.floor((high_usd - first) / step) + 1
    return [first + i * step for i in range(max(count, 0))]


def _usd_label(value: float) -> str:
    if abs(value) >= 1e9:
        return f"${value / 1e9:,.2f}B"
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.1f}M"
    return f"${value:,.0f}"


def _time_axis(ax: Any, *, label: str = "time (UTC)") -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel(label)


def plot_elr(
    times: pd.DatetimeIndex,
    elr: Sequence[float],
    proxy: Sequence[float],
    *,
    asset: str,
    oi_source: Sequence[Any] | None = None,
) -> str:
    """ELR history (left axis) and the OI/supply proxy (right axis); where the open-interest
    source behind them changes (``oi_source``, the venue per time) a dashed line marks the
    switch, so a level shift reads as a change of source, not of leverage."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    elr_arr = np.asarray(elr, dtype=float)
    if np.isfinite(elr_arr).any():
        ax.plot(times, elr_arr, color="tab:blue", label="ELR (OI / exchange reserves)")
    ax.set_ylabel("ELR")
    twin = ax.twinx()
    twin.plot(times, np.asarray(proxy, dtype=float), color="tab:orange", label="proxy OI / supply")
    twin.set_ylabel("proxy (OI / market cap)")
    if oi_source is not None:
        sources = ["" if pd.isna(v) else str(v) for v in oi_source]
        switches = [
            i
            for i in range(1, len(sources))
            if sources[i] != sources[i - 1] and sources[i] and sources[i - 1]
        ]
        for n, i in enumerate(switches):
            ax.axvline(times[i], color="black", linestyle=":", linewidth=1.0)
            left = i < len(times) / 2  # label on the side with room
            ax.annotate(
                f"OI source {sources[i - 1]} -> {sources[i]}",
                xy=(times[i], 0.04 + 0.09 * (n % 4)),
                xycoords=("data", "axes fraction"),
                xytext=(3 if left else -3, 0),
                textcoords="offset points",
                fontsize=7,
                ha="left" if left else "right",
                va="bottom",
                color="black",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
            )
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    ax.set_title(f"{asset} estimated leverage ratio")
    _time_axis(ax)
    return _encode(fig)


def plot_dominance(
    times: pd.DatetimeIndex,
    score: Sequence[float],
    oi_change_30d: Sequence[float],
    *,
    asset: str,
    sampling: str = "daily",
) -> str:
    """OI dominance score (+1 long-dominated) and the 30-day OI change, sampled at one rate
    (``sampling`` names it in the title)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.plot(times, np.asarray(score, dtype=float), color="tab:purple", label="OI dominance score")
    ax.plot(
        times,
        100 * np.asarray(oi_change_30d, dtype=float),
        color="tab:green",
        label="OI change 30d (%)",
    )
    ax.set_ylabel("score / OI change (%)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{asset} OI dominance and deleveraging ({sampling} samples)")
    _time_axis(ax)
    return _encode(fig)


def plot_ladders(
    ladders: Mapping[str, pd.DataFrame],
    markets: Mapping[str, list[tuple[float, float, str]]],
    *,
    asset: str,
    spot_usd: float,
) -> str:
    """Model touch and close-above probabilities across strikes, one panel per expiry.

    ``ladders[label]`` has columns ``strike_usd``, ``touch``, ``close_above``; ``markets[label]``
    lists market ``(strike, mid probability, kind)`` points drawn on the same axes when there
    are any (the legend says when there are none).
    """
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    plt = _pyplot()
    fig, axes = plt.subplots(1, max(len(ladders), 1), figsize=(9, 3.4), squeeze=False)
    for ax, (label, ladder) in zip(axes[0], ladders.items(), strict=False):
        ax.plot(ladder["strike_usd"], ladder["touch"], "o-", color="tab:red", label="model touch")
        ax.plot(
            ladder["strike_usd"],
            ladder["close_above"],
            "s-",
            color="tab:blue",
            label="model close above",
        )
        points = markets.get(label, [])
        for kind, colour in (("touch", "darkred"), ("close_above", "navy")):
            pts = [(s, p) for s, p, k in points if k == kind]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.scatter(
                    xs, ys, marker="D", s=36, facecolors="none", edgecolors=colour, linewidths=1.4,
                    label=f"market {kind.replace('_', ' ')} (mid)", zorder=3,
                )  # fmt: skip
        if not points:
            ax.plot([], [], " ", label="no market quote near this expiry")
        ax.axvline(spot_usd, color="grey", linestyle="--", linewidth=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _usd_label(x)))
        ax.set_title(f"{asset} {label}", fontsize=9)
        ax.set_xlabel("strike (dashed: spot)")
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("probability")
    return _encode(fig)


def plot_reliability(curves: Mapping[str, Mapping[str, Any]], out: Path, *, title: str) -> Path:
    """Reliability diagram written as a PNG to ``out``: mean forecast vs observed frequency per
    equal-mass bin, one line per curve (``{name: {"mean_prob", "observed", "count"?}}``); each
    point is labelled with its bin's count when ``count`` is given."""
    from matplotlib.ticker import PercentFormatter

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="perfect")
    for name, curve in curves.items():
        x, y = np.asarray(curve["mean_prob"], float), np.asarray(curve["observed"], float)
        (line,) = ax.plot(x, y, marker="o", label=name)
        counts = curve.get("count")
        if counts is not None:
            for xi, yi, n in zip(x, y, np.asarray(counts), strict=True):
                ax.annotate(
                    f"n={int(n):,}", (xi, yi), textcoords="offset points", xytext=(4, -10),
                    fontsize=7, color=line.get_color(),
                )  # fmt: skip
    n_bins = max((len(curve["mean_prob"]) for curve in curves.values()), default=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel(f"mean forecast ({n_bins} equal-mass bins)")
    ax.set_ylabel("observed frequency")
    # Wrapped: a title wider than the 5-inch figure was cut at its right edge (the report's
    # "reliability: gbm walk-forward, <start> to <end>" lost its last "UTC").
    ax.set_title(textwrap.fill(title, width=60), fontsize=9)
    # Upper left, where a reliability curve rarely runs (matplotlib's "best" searched every
    # point of every curve twice, about half the plot's time).
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _layer(ax: Any, mass: FloatArray, extent: tuple[float, ...], cmap: str) -> Any:
    """One side's mass as a log-coloured image (transparent below 1/1000 of its maximum)."""
    from matplotlib.colors import LogNorm

    top = float(np.max(mass)) if mass.size else 0.0
    if top <= 0:
        return None
    shown = np.ma.masked_less_equal(mass, top * 1e-3)
    return ax.imshow(
        shown.T,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=extent,
        cmap=cmap,
        norm=LogNorm(vmin=top * 1e-3, vmax=top),
        alpha=0.9,
    )


def plot_heatmap(
    times: pd.DatetimeIndex,
    edges_usd: FloatArray,
    long_mass_usd: FloatArray,
    short_mass_usd: FloatArray,
    *,
    bars: pd.DataFrame,
    realised: pd.DataFrame,
    clusters: list[tuple[pd.Timestamp, dict[str, Any]]],
    out: Path,
    title: str,
) -> Path:
    """Render the estimated liquidation levels with the realised liquidations to a PNG.

    Top panel: long levels (``long_mass_usd``, snapshots x bins) in reds and short levels in
    blues, each on its own log colour scale from 1/1000 of its maximum; the close as a black
    line; cluster centres as hollow diamonds; realised liquidations of each hour (``realised``:
    ``ts``, ``long_usd``, ``short_usd``) as bubbles sized by USD, longs at the bar's low, shorts at
    its high (``bars``: ``available_at``, ``low``, ``high``, ``close``). The price axis is log
    with round USD ticks. Bottom panel: the realised USD per hour (longs down, shorts up).
    """
    plt = _pyplot()
    from matplotlib.dates import date2num
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    fig, (ax, low) = plt.subplots(
        2,
        1,
        figsize=(12, 7.5),
        dpi=110,
        sharex=True,
        gridspec_kw={"height_ratios": [4, 1.2], "hspace": 0.05},
    )
    log_edges = np.log(edges_usd)
    x0, x1 = date2num(times[0].to_pydatetime()), date2num(times[-1].to_pydatetime())
    if x1 <= x0:
        x1 = x0 + 1.0 / 24
    extent = (x0, x1, float(log_edges[0]), float(log_edges[-1]))
    for mass, cmap, label, left in (
        (long_mass_usd, "Reds", "long levels (USD per bin)", 1.01),
        (short_mass_usd, "Blues", "short levels (USD per bin)", 1.13),
    ):
        image = _layer(ax, mass, extent, cmap)
        if image is not None:
            cax = ax.inset_axes((left, 0.0, 0.015, 1.0))
            bar = fig.colorbar(image, cax=cax, label=label)
            bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _usd_label(v)))
    bar_x = np.array([date2num(t.to_pydatetime()) for t in pd.DatetimeIndex(bars["available_at"])])
    ax.plot(bar_x, np.log(bars["close"].to_numpy(float)), color="black", linewidth=1.0,
            label="close")  # fmt: skip
    for side, colour in (("long", "darkred"), ("short", "navy")):
        pts = [(t, c) for t, c in clusters if c["side"] == side]
        if pts:
            ax.scatter(
                [date2num(t.to_pydatetime()) for t, _ in pts],
                [np.log(c["center_usd"]) for _, c in pts],
                marker="D", s=22, facecolors="none", edgecolors=colour, linewidths=0.9,
                label=f"{side} cluster centres",
            )  # fmt: skip
    _realised_bubbles(ax, low, realised, bars)
    ax.set_ylim(float(log_edges[0]), float(log_edges[-1]))
    ax.set_xlim(x0, x1)
    levels = round_price_ticks(float(edges_usd[0]), float(edges_usd[-1]))
    ax.yaxis.set_major_locator(FixedLocator([math.log(v) for v in levels]))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"${np.exp(y):,.0f}"))
    ax.set_ylabel("price (USD, log scale)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=7, framealpha=0.8, ncol=2)
    ax.grid(axis="y", color="lightgrey", linewidth=0.5)
    low.axhline(0.0, color="grey", linewidth=0.6)
    low.set_ylabel("realised (USD)", fontsize=8)
    low.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _usd_label(abs(v))))
    low.tick_params(axis="y", labelsize=7)
    _time_axis(low)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


def _realised_bubbles(ax: Any, low: Any, realised: pd.DataFrame, bars: pd.DataFrame) -> None:
    """Realised liquidations: bubbles on the price panel, bars on the lower panel."""
    from matplotlib.dates import date2num

    if realised.empty:
        ax.plot([], [], " ", label="no realised liquidations known")
        low.text(0.5, 0.5, "no realised liquidations known for this period", ha="center",
                 va="center", transform=low.transAxes, fontsize=8, color="dimgrey")  # fmt: skip
        low.set_yticks([])
        return
    ts = pd.DatetimeIndex(realised["ts"])
    # the bar that contains each bucket (bars are stamped at close = bucket start + 1 h)
    by_close = bars.set_index(pd.DatetimeIndex(bars["available_at"]))
    x = np.array([date2num(t.to_pydatetime()) for t in ts + pd.Timedelta(hours=1)])
    width = 1.0 / 24 * 0.8
    top = float(max(realised["long_usd"].max(), realised["short_usd"].max(), 1.0))
    for side, column, colour, sign in (
        ("long", "low", "darkred", -1.0),
        ("short", "high", "navy", 1.0),
    ):
        usd = realised[f"{side}_usd"].to_numpy(float)
        price = by_close[column].reindex(ts + pd.Timedelta(hours=1)).to_numpy(float)
        keep = np.isfinite(price) & (usd > 0)
        if keep.any():
            ax.scatter(
                x[keep], np.log(price[keep]), s=4 + 160 * np.sqrt(usd[keep] / top),
                color=colour, alpha=0.55, edgecolors="white", linewidths=0.4,
                label=f"realised {side} liquidations (size: USD)",
            )  # fmt: skip
        low.bar(x, sign * usd, width=width, color=colour, alpha=0.8)
