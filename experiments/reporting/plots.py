"""Figures of the probability report, returned as ``data:image/png;base64,...`` URIs.

Every function draws one matplotlib figure (Agg backend, no display), encodes it as PNG and
returns the data URI that the page embeds in ``<img src=...>``: the page needs no file beside
it and no JavaScript.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "file_data_uri",
    "plot_dominance",
    "plot_elr",
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


def plot_reliability(mean_prob: Any, observed: Any, *, title: str) -> str:
    """Reliability diagram: mean forecast vs observed frequency per equal-mass bin."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.plot(np.asarray(mean_prob), np.asarray(observed), "o-", color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean forecast")
    ax.set_ylabel("observed frequency")
    ax.set_title(title, fontsize=9)
    return _encode(fig)
