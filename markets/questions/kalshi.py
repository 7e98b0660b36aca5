"""Kalshi crypto markets -> contracts, from the structured strike fields (never the ticker text).

Kalshi's crypto price series (``KXBTC`` ranges, ``KXBTCD`` thresholds and their ETH, SOL, XRP,
DOGE siblings) settle on the CF Benchmarks real-time index: the simple average of the 60
one-second prints before expiry (https://help.kalshi.com/markets/popular-markets/crypto-markets,
see reference METHODS.md §2.4). So every contract here has resolution
``{"source": "cf-brti" (BTC) or "cf-rti", "price": "average", "average_secs": 60}``.

``strike_type`` (Trade API v2 market object, reference APIS.md §2.2)
    - ``greater``/``greater_or_equal``: YES when the value is above ``floor_strike`` ->
      ``close_above`` (equality has no probability mass under a continuous price);
    - ``less``/``less_or_equal``: YES below ``cap_strike`` -> ``close_below``;
    - ``between``: YES when ``floor_strike <= value <= cap_strike`` (cap inclusive, e.g.
      115,750 to 115,999.99) -> ``range`` with ``upper_usd = cap_strike + $0.01`` (the index's
      one-cent tick), so that neighbouring brackets tile ``[lower, upper)`` exactly;
    - ``functional``, ``custom``, ``structured``: unsupported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from levercast.markets.types import VenueMarket
from levercast.models.contracts import Contract, Kind, Resolution

__all__ = ["KALSHI_SERIES", "TICK_USD", "kalshi_resolution", "parse_kalshi_market"]

# Series ticker -> asset. These are the terminal price series; Kalshi's max/min ("before 2027")
# and 15-minute series have other settlement rules and are left unsupported.
KALSHI_SERIES: Final[dict[str, str]] = {
    "KXBTC": "BTC",
    "KXBTCD": "BTC",
    "KXETH": "ETH",
    "KXETHD": "ETH",
    "KXSOL": "SOL",
    "KXSOLD": "SOL",
    "KXXRP": "XRP",
    "KXXRPD": "XRP",
    "KXDOGE": "DOGE",
    "KXDOGED": "DOGE",
}
TICK_USD: Final = 0.01
"""The CF Benchmarks indices' one-cent tick: a bracket "to $X.99" ends below X.99 + 0.01."""


def kalshi_resolution(asset: str) -> Resolution:
    """Kalshi crypto settlement: the 60-second simple average of CF Benchmarks' real-time index
    (BRTI for BTC, ``<ASSET>USD_RTI`` otherwise) before the fixing."""
    if asset == "BTC":
        return Resolution(
            source="cf-brti", price="average", symbol="BRTI", interval="1s", average_secs=60
        )
    return Resolution(
        source="cf-rti", price="average", symbol=f"{asset}USD_RTI", interval="1s", average_secs=60
    )


def parse_kalshi_market(market: VenueMarket, *, start: datetime | None) -> Contract | str:
    """The contract of a Kalshi crypto price market, or the reason it is unsupported.

    Parameters
    ----------
    market
        A ``VenueMarket`` of venue ``kalshi`` with ``series_ticker``, ``strike_type``,
        ``floor_strike``/``cap_strike`` and ``close_time`` (else ``end_date``).
    start
        Window start: the market's ``created_at``, else a reference time.

    Returns
    -------
    Contract or str
        The contract, or a reason string.
    """
    series = (market.series_ticker or "").upper()
    asset = KALSHI_SERIES.get(series)
    if asset is None:
        return f"Kalshi series {series or None!r} is not a supported crypto price series"
    end = market.close_time or market.end_date
    if end is None:
        return "Kalshi market without close_time"
    if start is None:
        return "window start unknown: the Kalshi market has no created_at and no reference time"
    kind_fields: dict[str, object]
    strike_type = market.strike_type
    floor, cap = market.floor_strike, market.cap_strike
    if strike_type in ("greater", "greater_or_equal"):
        if floor is None:
            return f"Kalshi strike_type {strike_type!r} without floor_strike"
        kind_fields = {"kind": Kind.CLOSE_ABOVE, "strike_usd": float(floor)}
    elif strike_type in ("less", "less_or_equal"):
        strike = cap if cap is not None else floor
        if strike is None:
            return f"Kalshi strike_type {strike_type!r} without cap_strike"
        kind_fields = {"kind": Kind.CLOSE_BELOW, "strike_usd": float(strike)}
    elif strike_type == "between":
        if floor is None or cap is None:
            return "Kalshi strike_type 'between' needs floor_strike and cap_strike"
        kind_fields = {
            "kind": Kind.RANGE,
            "lower_usd": float(floor),
            "upper_usd": round(float(cap) + TICK_USD, 2),
        }
    else:
        return f"Kalshi strike_type {strike_type!r} is not supported (greater, less, between)"
    resolution = kalshi_resolution(asset)
    return Contract(asset=asset, start=start, end=end, resolution=resolution, **kind_fields)  # type: ignore[arg-type]
