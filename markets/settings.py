"""Where the prediction-market venues live and how politely to call them (one frozen object).

Base URLs can be overridden by environment variables so an end-to-end run can point the real
clients at a local server:

========================================  ==============================================
``LEVERCAST_POLYMARKET_GAMMA_URL``        Gamma catalog (default gamma-api.polymarket.com)
``LEVERCAST_POLYMARKET_CLOB_URL``         CLOB books (default clob.polymarket.com)
``LEVERCAST_POLYMARKET_DATA_URL``         Data API: price history, resolutions (data-api...)
``LEVERCAST_POLYMARKET_WS_URL``           CLOB market websocket (ws-subscriptions-clob...)
``LEVERCAST_KALSHI_URL``                  Kalshi trade API v2 (default external-api.kalshi.com)
``LEVERCAST_HTTP_TIMEOUT_SECS``           per-request timeout
``LEVERCAST_HTTP_MAX_RETRIES``            retries after the first attempt
========================================  ==============================================

Rate limits (``*_min_interval_secs``) stay well below the published budgets (Gamma about
30 req/s for listings, Kalshi basic tier about 20 req/s; APIS.md §1.3, §2.1; the Data API's
public budget is about 100 requests a minute, the NautilusTrader loader default). The Polymarket
URLs are handed to ``polymarket-client`` through its environment (``markets.polymarket.sdk``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

from levercast.features.errors import ConfigError
from levercast.features.http import HttpSettings

__all__ = ["VenueSettings", "venue_settings_from_env"]

GAMMA_URL: Final = "https://gamma-api.polymarket.com"
CLOB_URL: Final = "https://clob.polymarket.com"
DATA_URL: Final = "https://data-api.polymarket.com"
MARKET_WS_URL: Final = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
KALSHI_URL: Final = "https://external-api.kalshi.com/trade-api/v2"


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """Endpoints, timeouts, retry and paging limits of the Polymarket and Kalshi clients.

    Attributes
    ----------
    gamma_url, clob_url, data_url, kalshi_url
        Base URLs (``http://`` or ``https://``).
    market_ws_url
        Polymarket CLOB market websocket (``ws://`` or ``wss://``).
    timeout_secs
        Connect and read timeout of one request (also given to polymarket-client's httpx
        clients, which levercast builds).
    max_retries
        Retries after the first attempt for 429, 5xx, timeouts and malformed bodies.
    backoff_secs, max_backoff_secs
        Exponential backoff base and cap (full jitter); ``Retry-After`` is honoured up to the cap.
    gamma_min_interval_secs, clob_min_interval_secs, data_min_interval_secs,
    kalshi_min_interval_secs
        Minimum time between two requests to one service (client-side rate limit).
    page_limit
        Page size of listings (Gamma keyset ``limit``, Kalshi ``limit``; Kalshi events cap 200).
    max_pages
        Safety cap on pages per listing; reaching it is reported as an error, never silently.
    resolved_lookback_days
        How far back "recently resolved" markets are listed.
    history_fidelity_mins
        Resolution of price histories in minutes (Polymarket Data API ``bucket_seconds`` =
        60 x this, within [60, 86400] s; Kalshi candles use 1, 60 or 1440, the nearest not finer
        than this).
    stream_backlog
        Polymarket websocket events held between two ``record books`` rounds; the oldest are
        dropped (and counted) beyond it.
    """

    gamma_url: str = GAMMA_URL
    clob_url: str = CLOB_URL
    data_url: str = DATA_URL
    market_ws_url: str = MARKET_WS_URL
    kalshi_url: str = KALSHI_URL
    timeout_secs: float = 10.0
    max_retries: int = 3
    backoff_secs: float = 0.5
    max_backoff_secs: float = 30.0
    gamma_min_interval_secs: float = 0.05
    clob_min_interval_secs: float = 0.05
    data_min_interval_secs: float = 0.6
    kalshi_min_interval_secs: float = 0.1
    page_limit: int = 200
    max_pages: int = 50
    resolved_lookback_days: float = 3.0
    history_fidelity_mins: int = 60
    stream_backlog: int = 10_000

    def __post_init__(self) -> None:
        for name in ("gamma_url", "clob_url", "data_url", "kalshi_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                raise ConfigError(f"{name} must start with http:// or https://; found {value!r}")
        if not self.market_ws_url.startswith(("ws://", "wss://")):
            raise ConfigError(
                f"market_ws_url must start with ws:// or wss://; found {self.market_ws_url!r}"
            )
        for name in ("timeout_secs", "backoff_secs", "max_backoff_secs"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive; found {getattr(self, name)}")
        for name in ("page_limit", "max_pages", "history_fidelity_mins", "stream_backlog"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1; found {getattr(self, name)}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0; found {self.max_retries}")
        if self.resolved_lookback_days < 0:
            raise ConfigError(
                f"resolved_lookback_days must be >= 0; found {self.resolved_lookback_days}"
            )

    def _http(self, base_url: str, min_interval_secs: float) -> HttpSettings:
        return HttpSettings(
            base_url=base_url,
            timeout_secs=self.timeout_secs,
            max_retries=self.max_retries,
            backoff_secs=self.backoff_secs,
            max_backoff_secs=self.max_backoff_secs,
            min_interval_secs=min_interval_secs,
        )

    @property
    def gamma_http(self) -> HttpSettings:
        """HTTP settings of the Gamma catalog."""
        return self._http(self.gamma_url, self.gamma_min_interval_secs)

    @property
    def clob_http(self) -> HttpSettings:
        """HTTP settings of the CLOB."""
        return self._http(self.clob_url, self.clob_min_interval_secs)

    @property
    def data_http(self) -> HttpSettings:
        """HTTP settings of the Polymarket Data API."""
        return self._http(self.data_url, self.data_min_interval_secs)

    @property
    def kalshi_http(self) -> HttpSettings:
        """HTTP settings of the Kalshi trade API."""
        return self._http(self.kalshi_url, self.kalshi_min_interval_secs)


def _env_number(environ: Mapping[str, str], name: str, kind: type[float] | type[int]) -> float:
    text = environ[name]
    try:
        return kind(text)
    except ValueError as e:
        raise ConfigError(f"{name} must be a {kind.__name__}; found {text!r}") from e


def venue_settings_from_env(
    environ: Mapping[str, str] | None = None, base: VenueSettings | None = None
) -> VenueSettings:
    """``base`` (default ``VenueSettings()``) with the environment overrides applied.

    Parameters
    ----------
    environ
        The environment (default ``os.environ``).
    base
        Settings to start from.

    Raises
    ------
    ConfigError
        An override that is not a URL or not a number.
    """
    env = os.environ if environ is None else environ
    settings = base or VenueSettings()
    changes: dict[str, object] = {}
    for var, field in (
        ("LEVERCAST_POLYMARKET_GAMMA_URL", "gamma_url"),
        ("LEVERCAST_POLYMARKET_CLOB_URL", "clob_url"),
        ("LEVERCAST_POLYMARKET_DATA_URL", "data_url"),
        ("LEVERCAST_POLYMARKET_WS_URL", "market_ws_url"),
        ("LEVERCAST_KALSHI_URL", "kalshi_url"),
    ):
        if env.get(var):
            changes[field] = env[var].rstrip("/")
    if env.get("LEVERCAST_HTTP_TIMEOUT_SECS"):
        changes["timeout_secs"] = _env_number(env, "LEVERCAST_HTTP_TIMEOUT_SECS", float)
    if env.get("LEVERCAST_HTTP_MAX_RETRIES"):
        changes["max_retries"] = int(_env_number(env, "LEVERCAST_HTTP_MAX_RETRIES", int))
    return replace(settings, **changes)  # type: ignore[arg-type]
