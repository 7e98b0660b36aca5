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
from collections.abc import Mapping, Sequence
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


def plot_elr(
    times: pd.DatetimeIndex, elr: Sequence[float], proxy: Sequence[float], *, asset: str
) -> str:
    """ELR history (left axis) and the OI/supply proxy (right axis)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3))
    elr_arr = np.asarray(elr, dtype=float)
    if np.isfinite(elr_arr).any():
        ax.plot(times, elr_arr, color="tab:blue", label="ELR (OI / exchange reserves)")
    ax.set_ylabel("ELR")
    twin = ax.twinx()
    twin.plot(times, np.asarray(proxy, dtype=float), color="tab:orange", label="proxy OI / supply")
    twin.set_ylabel("proxy (OI / market cap)")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    ax.set_title(f"{asset} estimated leverage ratio")
    fig.autofmt_xdate()
    return _encode(fig)


def plot_dominance(
    times: pd.DatetimeIndex,
    score: Sequence[float],
    oi_change_30d: Sequence[float],
    *,
    asset: str,
) -> str:
    """OI dominance score (+1 long-dominated) and the 30-day OI change."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.plot(times, np.asarray(score, dtype=float), color="tab:purple", label="OI dominance score")
    ax.plot(times, np.asarray(oi_change_30d, dtype=float), color="tab:green", label="OI change 30d")
    ax.set_ylabel("score / fraction")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{asset} OI dominance and deleveraging")
    fig.autofmt_xdate()
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
    lists market ``(strike, mid probability, kind)`` points drawn on the same panel.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, max(len(ladders), 1), figsize=(9, 3.2), squeeze=False)
    for ax, (label, ladder) in zip(axes[0], ladders.items(), strict=False):
        ax.plot(ladder["strike_usd"], ladder["touch"], "o-", color="tab:red", label="touch")
        ax.plot(
            ladder["strike_usd"], ladder["close_above"], "s-", color="tab:blue", label="close above"
        )
        points = markets.get(label, [])
        for kind, marker in (("touch", "x"), ("close_above", "+")):
            pts = [(s, p) for s, p, k in points if k == kind]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.scatter(xs, ys, marker=marker, s=60, color="black", label=f"market {kind}")
        ax.axvline(spot_usd, color="grey", linestyle="--", linewidth=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{asset} {label}", fontsize=9)
        ax.set_xlabel("strike (USD)")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("probability")
    return _encode(fig)


def plot_reliability(curves: Mapping[str, Mapping[str, Any]], out: Path, *, title: str) -> Path:
    """Reliability diagram written as a PNG to ``out``: mean forecast vs observed frequency per
    equal-mass bin, one line per curve (``{name: {"mean_prob", "observed", ...}}``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
    for name, curve in curves.items():
        ax.plot(
            np.asarray(curve["mean_prob"]), np.asarray(curve["observed"]), marker="o", label=name
        )
    n_bins = max((len(curve["mean_prob"]) for curve in curves.values()), default=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"mean forecast ({n_bins} equal-mass bins)")
    ax.set_ylabel("observed frequency")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_heatmap(
    times: pd.DatetimeIndex,
    edges_usd: FloatArray,
    mass_usd: FloatArray,
    *,
    price_times: pd.DatetimeIndex,
    price_usd: FloatArray,
    clusters: list[tuple[pd.Timestamp, dict[str, Any]]],
    out: Path,
    title: str,
) -> Path:
    """Render ``mass_usd`` (snapshots x bins) to a PNG at ``out``.

    The y axis is log price (the bins are log-uniform); colours are log-scaled from 1/1000 of the
    maximum cell; the close is a white line; clusters are dots (red long, green short) sized by
    mass at the snapshot time they were found.
    """
    plt = _pyplot()
    from matplotlib.colors import LogNorm
    from matplotlib.dates import date2num
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(12, 6), dpi=110)
    top = float(np.max(mass_usd)) if mass_usd.size else 0.0
    log_edges = np.log(edges_usd)
    x0, x1 = date2num(times[0].to_pydatetime()), date2num(times[-1].to_pydatetime())
    if x1 <= x0:
        x1 = x0 + 1.0 / 24
    if top > 0:
        shown = np.where(mass_usd > top * 1e-3, mass_usd, np.nan)
        image = ax.imshow(
            shown.T,
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            extent=(x0, x1, float(log_edges[0]), float(log_edges[-1])),
            cmap="magma",
            norm=LogNorm(vmin=top * 1e-3, vmax=top),
        )
        fig.colorbar(image, ax=ax, label="liquidation mass per bin (USD)")
    ax.set_facecolor("black")
    px = [date2num(t.to_pydatetime()) for t in price_times]
    ax.plot(px, np.log(price_usd), color="white", linewidth=1.0, label="close")
    for side, colour in (("long", "tab:red"), ("short", "tab:green")):
        pts = [(t, c) for t, c in clusters if c["side"] == side]
        if pts:
            sizes = np.array([c["mass_usd"] for _, c in pts])
            ax.scatter(
                [date2num(t.to_pydatetime()) for t, _ in pts],
                [np.log(c["center_usd"]) for _, c in pts],
                s=10 + 60 * sizes / sizes.max(),
                facecolors="none",
                edgecolors=colour,
                linewidths=1.0,
                label=f"{side} clusters",
            )
    ax.set_ylim(float(log_edges[0]), float(log_edges[-1]))
    ax.set_xlim(x0, x1)
    ax.xaxis_date()
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{np.exp(y):,.0f}"))
    ax.set_ylabel("price (USD, log scale)")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8, facecolor="grey", framealpha=0.6)
    fig.autofmt_xdate()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
