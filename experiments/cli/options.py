"""What the command line accepts, checked while parsing, before any data is loaded (issue 21).

Every ``type=`` function here raises ``argparse.ArgumentTypeError`` with the argument's rule and
the value found, so a wrong ``--model`` or ``--lookback`` exits 2 with one line in milliseconds
instead of after loading the store. The vocabularies (models, assets, venues, contract kinds)
are written out here because importing their owners would import pandas into ``--help``;
``tests/experiments/cli/test_options.py`` checks each against its owner.

It also holds the text of ``levercast models`` and of the help's environment section.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import Final

__all__ = [
    "ASSETS",
    "ENVIRONMENT",
    "FETCH_VENUES",
    "KINDS",
    "MARKET_VENUES",
    "MAX_HEATMAP_BIN_BPS",
    "MIN_HEATMAP_BIN_BPS",
    "MODELS",
    "PATHS_RANGE",
    "asset_list",
    "bounded",
    "duration",
    "duration_list",
    "kind_list",
    "lookback_hours",
    "model_list",
    "one_asset",
    "utc_time",
    "venue_list",
]

# Model name -> one line (INTERFACE.md §4b). Order: as ``levercast models`` lists them.
MODELS: Final[dict[str, str]] = {
    "gbm": "closed form under geometric Brownian motion, EWMA volatility (fast, no fit)",
    "gbm-har": "closed form, HAR realised-volatility forecast",
    "gbm-iv": "closed form, implied volatility (Deribit DVOL) where known",
    "mc": "Monte Carlo, filtered bootstrap of past returns",
    "mc-garch": "Monte Carlo, GARCH shocks with Student-t innovations",
    "learned": "the learned forecaster (LightGBM on leverage and volatility features), fitted "
    "on data before T",
    "default": "the shipped forecaster: the learned model with its committed settings",
    "default_vol": "the shipped forecaster with volatility features only (the leverage ablation)",
    "market_aware": "our model and the market's price combined, fitted only on markets resolved "
    "before T (scan, evaluate, ask: it needs the market's quote)",
}
QUOTELESS_MODELS: Final = tuple(m for m in MODELS if m != "market_aware")  # price, report
# Underlyings the question parser knows (markets.questions.common.ASSETS values).
ASSETS: Final = ("ADA", "BNB", "BTC", "DOGE", "ETH", "HYPE", "LTC", "SOL", "XRP")
MARKET_VENUES: Final = ("polymarket", "kalshi")
# Sources ``fetch``/``record`` --venue may name (exchanges, option and reserve providers,
# the liquidation history source, the prediction-market venues).
FETCH_VENUES: Final = (
    "binance",
    "bybit",
    "okx",
    "deribit",
    "coinglass",
    "cryptoquant",
    "glassnode",
    "defillama",
    "csv",
    *MARKET_VENUES,
)
KINDS: Final = (
    "touch",
    "close_above",
    "close_below",
    "range",
    "up_down",
    "first_of",
    "move",
    "liquidations_above",
)
PATHS_RANGE: Final = (1_000, 2_000_000)  # Monte Carlo paths (mc, mc-garch)
MIN_HEATMAP_BIN_BPS: Final = 1.0
MAX_HEATMAP_BIN_BPS: Final = 1_000.0

# Every LEVERCAST_* variable the code reads, for the help's environment section.
ENVIRONMENT: Final[dict[str, str]] = {
    "LEVERCAST_DATA": "dataset directory (default ./data); --data wins",
    "LEVERCAST_HOME": "fits, caches, MLflow, reports, forward log (default: the user data dir)",
    "LEVERCAST_CONFIG": "configuration file (default ./levercast.toml when present)",
    "LEVERCAST_COLD_BUDGET_SECS": "seconds a cold learned fit may take before the closed form",
    "LEVERCAST_LOCK_TIMEOUT_SECS": "seconds to wait for the store's write lock (default 60)",
    "LEVERCAST_HTTP_TIMEOUT_SECS": "per-request HTTP timeout",
    "LEVERCAST_HTTP_DEADLINE_SECS": "overall deadline of one HTTP call with its retries",
    "LEVERCAST_HTTP_MAX_RETRIES": "HTTP retries on transient failures",
    "LEVERCAST_DASK_SCHEDULER": "Dask scheduler address for backtest --engine dask",
    "LEVERCAST_COINGLASS_KEY": "CoinGlass API key (liquidation history; secret)",
    "LEVERCAST_CRYPTOQUANT_KEY": "CryptoQuant API key (exchange reserves; secret)",
    "LEVERCAST_GLASSNODE_KEY": "Glassnode API key (exchange reserves; secret)",
    "LEVERCAST_RESERVES_CSV": "a CSV file of exchange reserves to read as a provider",
    "LEVERCAST_DEFILLAMA_EXCHANGES": "DefiLlama exchange slugs for reserves (comma list; none)",
    "LEVERCAST_BINANCE_FAPI_URL": "Binance USD-M REST base URL",
    "LEVERCAST_BINANCE_ARCHIVE_URL": "Binance data archive base URL",
    "LEVERCAST_BINANCE_WS_URL": "Binance liquidation websocket URL",
    "LEVERCAST_BYBIT_URL": "Bybit REST base URL",
    "LEVERCAST_BYBIT_WS_URL": "Bybit websocket URL",
    "LEVERCAST_OKX_URL": "OKX REST base URL",
    "LEVERCAST_OKX_WS_URL": "OKX websocket URL",
    "LEVERCAST_DERIBIT_URL": "Deribit REST base URL",
    "LEVERCAST_COINGLASS_URL": "CoinGlass REST base URL",
    "LEVERCAST_CRYPTOQUANT_URL": "CryptoQuant REST base URL",
    "LEVERCAST_GLASSNODE_URL": "Glassnode REST base URL",
    "LEVERCAST_DEFILLAMA_URL": "DefiLlama REST base URL",
    "LEVERCAST_KALSHI_URL": "Kalshi trade API base URL",
    "LEVERCAST_POLYMARKET_CLOB_URL": "Polymarket CLOB base URL",
    "LEVERCAST_POLYMARKET_DATA_URL": "Polymarket Data API base URL",
    "LEVERCAST_POLYMARKET_GAMMA_URL": "Polymarket Gamma API base URL",
    "LEVERCAST_POLYMARKET_WS_URL": "Polymarket market websocket URL",
}


def _split(text: str) -> list[str]:
    return [part.strip() for part in str(text).split(",") if part.strip()]


def utc_time(text: str) -> str:
    """An ISO-8601 time with a UTC offset (returned as given; commands parse it)."""
    from levercast.features.errors import ConfigError
    from levercast.features.timeutil import parse_utc

    try:
        parse_utc(text, name="time")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).replace("time must", "must")) from e
    return text


def duration(text: str) -> str:
    """A positive duration such as ``30m``, ``24h``, ``7d`` (returned as given)."""
    from levercast.features.errors import ConfigError
    from levercast.features.timeutil import parse_duration

    try:
        parse_duration(text, name="duration")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).replace("duration must", "must")) from e
    return text


def duration_list(text: str) -> str:
    """A comma list of durations (``1h,24h,7d``)."""
    parts = _split(text)
    if not parts:
        raise argparse.ArgumentTypeError(f"must list at least one duration; found {text!r}")
    for part in parts:
        duration(part)
    return ",".join(parts)


def _members(text: str, known: Sequence[str], what: str, *, upper: bool = False) -> list[str]:
    parts = [p.upper() if upper else p.lower() for p in _split(text)]
    if not parts:
        raise argparse.ArgumentTypeError(f"must name at least one {what}; found {text!r}")
    bad = [p for p in parts if p not in known]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(bad)}; known: {', '.join(known)}"
        )
    return parts


def asset_list(text: str) -> str:
    """A comma list of known assets, upper-cased (``btc,eth`` -> ``BTC,ETH``)."""
    return ",".join(_members(text, ASSETS, "asset", upper=True))


def one_asset(text: str) -> str:
    """Exactly one known asset."""
    parts = _members(text, ASSETS, "asset", upper=True)
    if len(parts) != 1:
        raise argparse.ArgumentTypeError(f"must be one asset such as BTC; found {text!r}")
    return parts[0]


def venue_list(known: Sequence[str]) -> Callable[[str], str]:
    """A type for a comma list of venues among ``known``."""

    def check(text: str) -> str:
        return ",".join(_members(text, known, "venue"))

    check.__name__ = "venue list"
    return check


def kind_list(text: str) -> str:
    """A comma list of contract kinds."""
    return ",".join(_members(text, KINDS, "kind"))


def model_list(text: str) -> str:
    """A comma list of models (``backtest --models``)."""
    return ",".join(_members(text, tuple(MODELS), "model"))


def bounded(
    kind: type[int] | type[float], lo: float | None = None, hi: float | None = None
) -> Callable[[str], float | int]:
    """A type for a number within ``[lo, hi]`` (either end open when None)."""

    def check(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(
                f"must be {'an integer' if kind is int else 'a number'}; found {text!r}"
            ) from e
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number; found {text!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            low = "-inf" if lo is None else f"{lo:g}"
            high = "inf" if hi is None else f"{hi:g}"
            raise argparse.ArgumentTypeError(f"must be within [{low}, {high}]; found {text!r}")
        return value

    check.__name__ = kind.__name__
    return check


def lookback_hours(text: str) -> float:
    """``--lookback``: hours within ``LOOKBACK_RANGE_HOURS`` (the liquidation map's window)."""
    from levercast.features.liqmap.params import LOOKBACK_RANGE_HOURS

    lo, hi = LOOKBACK_RANGE_HOURS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and lo <= value <= hi):
        raise argparse.ArgumentTypeError(
            f"must be a number of hours in [{lo:g}, {hi:g}]; found {text!r}"
        )
    return value
