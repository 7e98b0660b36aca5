"""Committed constants of the liquidation map (``features.liqmap.map``).

Maintenance-margin brackets
    Binance-style USDT-M brackets quoted in ``../shared/reference/METHODS.md`` §2.2 (after
    gptprojectmanager ``docs/mathematical_foundation.md``): rate 0.5% up to $50k of position
    notional, 1% to $250k, 2.5% to $1M, 5% to $10M, 10% to $50M. The maximum leverage of a bracket
    is taken as ``1 / (2 * rate)`` (initial margin twice the maintenance rate), so 100x, 50x, 20x,
    10x, 5x. The maintenance amount is continuous across brackets
    (``MA[i] = MA[i-1] + cap[i-1] * (rate[i] - rate[i-1])``).

Per-tier maintenance rate
    A tier of leverage L holds positions of about ``POSITION_NOTIONAL_USD``, clipped to the largest
    notional that L is allowed at; its rate is the effective ``MMR - MA / notional`` there
    (``features.liqmap.map.tier_mmr_rates``).

Tier weights, half-lives, lookback, volume fraction
    Fitted by ``experiments.studies.liquidation_map.fit`` (a small grid over peer settings:
    mindoozer's
    10/25/50/100x = .35/.30/.20/.15 with half-lives 240/72/24/12 h, pcdogyu's 5/10/20/50/100x =
    .08/.22/.32/.25/.13 with 168/120/72/36/18 h, a flat 5..100x ladder; half-life multipliers and
    lookbacks) by mean Spearman of crossed map mass against realised liquidations, using ONLY rows
    before the validation window::

        .venv/bin/python -m levercast.experiments.studies.liquidation_map.fit --data ../shared/data
        --asset BTC \\
            --start 2025-11-24T00:00Z --end 2026-01-15T00:00Z

    Data: ``../shared/data`` (candles binance-usdm BTC 1h, open_interest bybit BTC,
    liquidations aggregate BTC 1h). Fit window: 2025-11-24 .. 2026-01-15 (exclusive); the
    validation window reported in ``experiments/liquidation_map/README.md`` starts at 2026-01-15.

Lookback of one run
    ``LOOKBACK_HOURS`` is the committed window. A command may ask for another one
    (``--lookback``, within ``LOOKBACK_RANGE_HOURS``, checked by ``check_lookback``), passed
    explicitly as ``map_lookback_hours`` to ``compute_feature_frame``/``features_at`` (it rides on
    the ``FrameContext``), as ``lookback_hours`` to ``liqmap_features``, the heatmap and the report.
    ``LiqMapParams.default()`` keeps the committed constants: the learned models'
    contract-relative maps (and their caches) never see a per-command setting.
"""

from __future__ import annotations

import math
from typing import Final

from levercast.features.errors import ConfigError

__all__ = [
    "BIN_BPS",
    "FIT_RECORD",
    "HALF_LIVES_HOURS",
    "LEVERAGES",
    "LOOKBACK_HOURS",
    "LOOKBACK_RANGE_HOURS",
    "MMR_BRACKETS",
    "OI_VENUE",
    "POSITION_NOTIONAL_USD",
    "TIER_WEIGHTS",
    "VOLUME_OPEN_FRACTION",
    "check_lookback",
]

# (notional cap USD, maintenance rate); max leverage of a bracket = 1 / (2 * rate).
MMR_BRACKETS: Final[tuple[tuple[float, float], ...]] = (
    (50_000.0, 0.005),
    (250_000.0, 0.01),
    (1_000_000.0, 0.025),
    (10_000_000.0, 0.05),
    (50_000_000.0, 0.10),
)
POSITION_NOTIONAL_USD: Final = 100_000.0

LEVERAGES: Final[tuple[float, ...]] = (5.0, 10.0, 20.0, 50.0, 100.0)
TIER_WEIGHTS: Final[tuple[float, ...]] = (0.08, 0.22, 0.32, 0.25, 0.13)
# fitted: pcdogyu ladder, half-lives x2, lookback 168 h (mean Spearman 0.6207 on the fit window)
HALF_LIVES_HOURS: Final[tuple[float, ...]] = (336.0, 240.0, 144.0, 72.0, 36.0)
LOOKBACK_HOURS: Final = 168.0
# The windows a command may choose (``--lookback``): a day to the fitted week.
LOOKBACK_RANGE_HOURS: Final = (24.0, 168.0)
# new notional per USD of traded volume where open interest is missing (median dOI+/volume).
VOLUME_OPEN_FRACTION: Final = 0.0313  # fitted over the 90 days before 2025-11-24
BIN_BPS: Final = 10.0
OI_VENUE: Final = "bybit"

FIT_RECORD: Final[dict[str, str]] = {
    "command": "python -m levercast.experiments.studies.liquidation_map.fit "
    "--data ../shared/data --asset BTC --start 2025-11-24T00:00Z --end 2026-01-15T00:00Z",
    "data": "candles binance-usdm BTC 1h; open_interest bybit BTC; liquidations aggregate BTC 1h",
    "window": "2025-11-24T00:00Z .. 2026-01-15T00:00Z",
    "winner": "pcdogyu x2 lookback 168h",
    "score": "mean Spearman (long 0.629, short 0.612) = 0.621 over 1246 hours; the 27 candidates "
    "span 0.60-0.62, so the ladder barely matters: the lookback does (168 h > 72 h > 48 h)",
}


def check_lookback(hours: float, *, name: str = "lookback") -> float:
    """``hours`` as a float within ``LOOKBACK_RANGE_HOURS``.

    Raises
    ------
    ConfigError
        A value that is not a finite number within the range.
    """
    lo, hi = LOOKBACK_RANGE_HOURS
    try:
        value = float(hours)
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"{name} must be a number of hours in [{lo:g}, {hi:g}]; found {hours!r}"
        ) from e
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ConfigError(f"{name} must be a number of hours in [{lo:g}, {hi:g}]; found {hours!r}")
    return value
