"""The liquidation heatmap figure: time x price, log colour scale, price line and clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray

__all__ = ["plot_heatmap"]


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
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
