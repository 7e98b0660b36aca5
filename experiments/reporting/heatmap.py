"""The liquidation heatmap over a period: hourly map snapshots rendered to a PNG.

``build_heatmap(store, asset, start=, end=, out=)`` computes the liquidation map
(``features.liqmap``) at every hourly bar close in ``[start, end]`` from what the store knew at
``end``, draws long and short levels on their own colour scales with the close, the largest
clusters and the realised liquidations of each hour (``experiments.reporting.plots``) and
returns the ``levercast heatmap`` JSON payload (``{"out", "bins", "snapshots"}``; ``out`` is the
file written). ``out`` may be a directory (an existing one, a path ending in ``/`` or one without
a suffix): the file is then ``DIR/heatmap-<ASSET>-<start>-<end>.png``. The price range may need
at most ``MAX_BINS`` bins: a wider one is refused (raise ``--bin-bps`` or shorten the period).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.reporting.plots import plot_heatmap
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError
from levercast.features.liqmap.clusters import find_clusters, long_share_known_at, map_params
from levercast.features.liqmap.map import build_inputs, heatmap_matrix, map_snapshot
from levercast.features.liqmap.params import OI_VENUE, check_lookback
from levercast.features.liquidation_windows import liquidation_buckets

__all__ = [
    "CLUSTER_MARKS",
    "MAX_BINS",
    "MAX_SNAPSHOTS",
    "PRICE_MARGIN",
    "build_heatmap",
    "heatmap_path",
    "realised_liquidations",
]

MAX_SNAPSHOTS: Final = 24 * 400
MAX_BINS: Final = 2_000  # price bins of one heatmap (memory: snapshots x bins x 2 floats)
CLUSTER_MARKS: Final = 24  # snapshots at which clusters are drawn
PRICE_MARGIN: Final = 0.15  # bins cover the period's low/high +- 15%


def build_heatmap(
    store: Store,
    asset: str,
    *,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    out: Path,
    bin_bps: float | None = None,
    lookback_hours: float | None = None,
) -> dict[str, Any]:
    """Hourly map snapshots over ``[start, end]`` rendered to ``out``; returns the JSON payload.

    New notional is split long/short by the dominance estimate
    (``features.liqmap.clusters.long_share_known_at``), as in the registered map features.
    ``lookback_hours`` (24 to 168) is the map's window; default: the committed 168 h.

    Raises
    ------
    ConfigError
        For an empty or too long period, a bad ``bin_bps``, more than ``MAX_BINS`` price bins,
        an ``out`` file that is not a ``.png`` or a lookback out of range.
    DataError
        If the store has no bars for the asset in the period.
    """
    hours = None if lookback_hours is None else check_lookback(lookback_hours, name="--lookback")
    params = map_params(hours)
    if bin_bps is not None:
        params = params.replace(bin_bps=float(bin_bps))
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if t1 <= t0:
        raise ConfigError(f"--end must be after --start; found start={t0}, end={t1}")
    since = t0 - pd.Timedelta(hours=params.lookback_hours + 48)
    bars = store.as_of("candles", t1, since=since, venue="binance-usdm", asset=asset, interval="1h")
    oi = store.as_of("open_interest", t1, since=since, venue=OI_VENUE, asset=asset)
    in_period = bars[(bars["available_at"] >= t0) & (bars["available_at"] <= t1)]
    if in_period.empty:
        raise DataError(f"candles: no binance-usdm {asset} 1h bar closes in [{t0}, {t1}]")
    if len(in_period) > MAX_SNAPSHOTS:
        raise ConfigError(
            f"--start/--end must span at most {MAX_SNAPSHOTS} hourly snapshots; "
            f"found {len(in_period)}"
        )
    inputs = build_inputs(bars, oi, long_share=long_share_known_at(store.at(t1), asset))
    times = pd.DatetimeIndex(in_period["available_at"])
    t_ns = times.as_unit("ns").asi8
    step = np.log1p(params.bin_bps / 1e4)
    lo = np.log(float(in_period["low"].min()) * (1 - PRICE_MARGIN))
    hi = np.log(float(in_period["high"].max()) * (1 + PRICE_MARGIN))
    first_bin = int(np.floor(lo / step))
    n_bins = int(np.floor(hi / step)) - first_bin + 1
    if n_bins > MAX_BINS:
        raise ConfigError(
            f"the heatmap would need {n_bins} price bins of {params.bin_bps:g} bps; the cap is "
            f"MAX_BINS = {MAX_BINS}: raise --bin-bps or shorten the period"
        )
    target = heatmap_path(out, asset, t0, t1)
    long_m, short_m = heatmap_matrix(inputs, params, t_ns, first_bin=first_bin, n_bins=n_bins)
    edges = np.exp((first_bin + np.arange(n_bins + 1)) * step)
    marks: list[tuple[pd.Timestamp, dict[str, Any]]] = []
    for i in np.unique(np.linspace(0, len(times) - 1, CLUSTER_MARKS).astype(int)):
        snap = map_snapshot(inputs, params, times[i])
        for side in ("long", "short"):
            marks += [(times[i], c) for c in find_clusters(snap, side=side, top_n=2)]
    plot_heatmap(
        times,
        edges,
        long_m,
        short_m,
        bars=in_period,
        realised=realised_liquidations(store, asset, t0, t1),
        clusters=marks,
        out=target,
        title=f"{asset} liquidation heatmap, {t0:%Y-%m-%d %H:%M} to {t1:%Y-%m-%d %H:%M} UTC "
        f"({params.bin_bps:g} bps bins, map lookback {params.lookback_hours:g} h)",
    )
    return {"out": str(target), "bins": n_bins, "snapshots": len(times)}


def heatmap_path(out: Path, asset: str, start: pd.Timestamp, end: pd.Timestamp) -> Path:
    """The PNG file that ``out`` names: ``out`` itself when it has a ``.png`` suffix; inside it
    (``heatmap-<ASSET>-<start>-<end>.png``) when it is an existing directory, ends with a path
    separator or has no suffix.

    Raises
    ------
    ConfigError
        A file name with a suffix other than ``.png``.
    """
    text = str(out)
    if out.is_dir() or text.endswith(("/", "\\")) or not out.suffix:
        name = f"heatmap-{asset}-{start:%Y%m%dT%H%MZ}-{end:%Y%m%dT%H%MZ}.png"
        return out / name
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must be a .png file or a directory; found {text!r}")
    return out


def realised_liquidations(
    store: Store, asset: str, t0: pd.Timestamp, t1: pd.Timestamp
) -> pd.DataFrame:
    """Hourly realised liquidations (``ts``, ``long_usd``, ``short_usd``) of buckets starting in
    ``[t0 - 1 h, t1)`` and known at ``t1`` (one source per asset); empty without the table."""
    if not store.has("liquidations"):
        return pd.DataFrame(columns=["ts", "long_usd", "short_usd"])
    rows = store.as_of("liquidations", t1, since=t0 - pd.Timedelta(days=1))
    buckets = liquidation_buckets(rows[rows["asset"].astype(str) == asset], asset)
    if buckets.empty:
        return pd.DataFrame(columns=["ts", "long_usd", "short_usd"])
    ts = pd.DatetimeIndex(buckets["ts"])
    keep = (ts >= t0 - pd.Timedelta(hours=1)) & (ts < t1)
    return buckets.loc[keep, ["ts", "long_usd", "short_usd"]].reset_index(drop=True)
