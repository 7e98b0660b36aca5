"""DefiLlama CEX wallet holdings: a free exchange-reserve provider that needs no key.

Endpoint (MARKETS-2026.md §2.3; APIS.md §4): ``GET https://api.llama.fi/protocol/{slug}`` for a
CEX entry (``binance-cex``, ``okx``, ``bybit``; ``$LEVERCAST_DEFILLAMA_URL`` overrides the host).
Its ``chainTvls`` map a chain's display name (BSC is ``Binance``) to ``{"tvl", "tokensInUsd",
"tokens"}``, where ``tokens`` and ``tokensInUsd`` are lists of ``{"date": unix seconds, "tokens":
{SYMBOL: amount or USD}}``: one point per day stamped 00:00 UTC (taken by the first hourly run of
that day), then one trailing point, the latest hourly record, at an arbitrary time. The shape is
DefiLlama's server code (``craftProtocolV2``), as read for the research note behind
``tests/resources/reserves/README.md``; no live response was available.

Holdings of an asset on one exchange = the sum over chains of the amounts (coins) and USD values
under the asset's keys (``ASSET_KEYS``): BTC is ``BTC`` (native bitcoin), ETH is ``WETH`` (native
ETH on Ethereum is folded into WETH) plus ``ETH`` (ETH on other chains). Buckets that are not
chains (``Ethereum-staking``, ``pool2``...) are left out. Only the daily points are kept: the
trailing intraday point would share its day's ``ts``.

Point in time. DefiLlama's attribution of wallets is revised over history (address lists change;
its CEX adapters cannot recompute past days), so **every row is known only from the time it was
fetched**: ``available_at`` = ``fetched_at`` = the fetch time, history included, and ``ts`` = the
day. A row is never backfilled as if it had been known earlier; ``levercast fetch reserves``
resumes after the last stored day, so each later day keeps the time it was first fetched.

``DefiLlamaReserves.reserves`` returns the exchanges summed (``source`` ``defillama``: with the
default exchanges, the scope of the Binance+Bybit+OKX open interest) on the days where every
exchange has a point, and each exchange's own rows (``source`` ``defillama:<slug>``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import pandas as pd

from levercast.features.dataset.schema import TABLES
from levercast.features.deadline import DEADLINE_ENV, env_seconds
from levercast.features.errors import ConfigError, DataError
from levercast.features.http import HttpClient
from levercast.features.sources.decode import Clock, field, frame, http_from_env, utc_now

__all__ = [
    "ASSET_KEYS",
    "DEFAULT_EXCHANGES",
    "DEFILLAMA_URL",
    "DefiLlamaReserves",
    "defillama_exchanges",
    "parse_holdings",
]

DEFILLAMA_URL: Final = "https://api.llama.fi"
DEFAULT_EXCHANGES: Final = ("binance-cex", "okx", "bybit")
EXCHANGES_ENV: Final = "LEVERCAST_DEFILLAMA_EXCHANGES"
ASSET_KEYS: Final[Mapping[str, tuple[str, ...]]] = {"BTC": ("BTC",), "ETH": ("WETH", "ETH")}
HOLDING_COLUMNS: Final = ["slug", "asset", "ts", "amount_base", "amount_usd"]
# A Binance response is ~42 MB (~9 MB gzipped): a longer default deadline than the venues'.
DEADLINE_SECS: Final = 120.0
_DAY_SECS: Final = 86_400
_NOT_CHAINS: Final = ("staking", "pool2", "borrowed", "vesting", "offers", "treasury")
_RESERVE_COLUMNS: Final = list(TABLES["exchange_reserves"].columns)


def defillama_exchanges() -> tuple[str, ...]:
    """The exchange slugs to fetch: ``$LEVERCAST_DEFILLAMA_EXCHANGES`` (comma list; ``none`` or
    empty turns the provider off), else ``DEFAULT_EXCHANGES``."""
    raw = os.environ.get(EXCHANGES_ENV)
    if raw is None:
        return DEFAULT_EXCHANGES
    if raw.strip().lower() in ("", "none", "off"):
        return ()
    slugs = tuple(s.strip().lower() for s in raw.split(",") if s.strip())
    bad = [s for s in slugs if not all(c.isalnum() or c in "-._" for c in s)]
    if bad:
        raise ConfigError(f"{EXCHANGES_ENV} must list DefiLlama slugs such as okx; found {bad}")
    return slugs


def _is_chain(name: str) -> bool:
    return name.lower() not in _NOT_CHAINS and not name.lower().endswith(
        tuple(f"-{b}" for b in _NOT_CHAINS)
    )


def _points(
    series: Any, *, source: str, chain: str, key: str
) -> list[tuple[int, Mapping[str, Any]]]:
    if series is None:
        raise DataError(f"{source}: chainTvls[{chain!r}].{key} must be a list; found null")
    if not isinstance(series, list):
        raise DataError(
            f"{source}: chainTvls[{chain!r}].{key} must be a list; found {type(series).__name__}"
        )
    out = []
    for point in series:
        date = field(point, "date", source=source)
        tokens = field(point, "tokens", source=source)
        if isinstance(date, bool) or not isinstance(date, int | float) or date != int(date):
            raise DataError(f"{source}: date must be unix seconds; found {date!r}")
        if not isinstance(tokens, Mapping):
            raise DataError(f"{source}: tokens must be an object; found {tokens!r}"[:200])
        out.append((int(date), tokens))
    return out


def _amount(tokens: Mapping[str, Any], keys: Iterable[str], *, source: str) -> float | None:
    values = [tokens[k] for k in keys if k in tokens]
    if not values:
        return None
    total = 0.0
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataError(f"{source}: token amounts must be numbers; found {value!r}")
        total += float(value)
    return total


def parse_holdings(payload: Any, *, slug: str, assets: Sequence[str]) -> pd.DataFrame:
    """Daily holdings of ``assets`` on one exchange from a ``/protocol/{slug}`` payload.

    Returns
    -------
    pandas.DataFrame
        ``slug, asset, ts`` (the day, 00:00 UTC), ``amount_base`` (coins) and ``amount_usd``
        (DefiLlama's USD value at its record time), one row per asset and daily point at which
        some chain holds one of the asset's keys; sorted by asset and ``ts``.

    Raises
    ------
    ConfigError
        An asset without keys in ``ASSET_KEYS``.
    DataError
        A payload of another shape (schema drift), ``misrepresentedTokens`` set (DefiLlama's own
        flag that the token breakdown is not to be trusted), or no holding of an asset at all.
    """
    source = f"defillama /protocol/{slug}"
    unknown = [a for a in assets if a not in ASSET_KEYS]
    if unknown:
        raise ConfigError(
            f"assets must be among {sorted(ASSET_KEYS)} for DefiLlama; found {unknown}"
        )
    if not isinstance(payload, Mapping):
        raise DataError(f"{source}: body must be an object; found {type(payload).__name__}")
    if payload.get("misrepresentedTokens"):
        raise DataError(f"{source}: misrepresentedTokens is set: the token breakdown is unreliable")
    chains = field(payload, "chainTvls", source=source)
    if not isinstance(chains, Mapping):
        raise DataError(f"{source}: chainTvls must be an object; found {type(chains).__name__}")
    sums: dict[tuple[str, int], list[float]] = {}
    for chain, body in chains.items():
        if not _is_chain(str(chain)):
            continue
        units = _points(
            field(body, "tokens", source=source), source=source, chain=chain, key="tokens"
        )
        usd = dict(
            _points(
                field(body, "tokensInUsd", source=source),
                source=source,
                chain=chain,
                key="tokensInUsd",
            )
        )
        for date, tokens in units:
            if date % _DAY_SECS:
                continue  # the trailing latest-hour point: it would share its day's ts
            for asset in assets:
                amount = _amount(tokens, ASSET_KEYS[asset], source=source)
                if amount is None:
                    continue
                value = _amount(usd.get(date, {}), ASSET_KEYS[asset], source=source)
                total = sums.setdefault((asset, date), [0.0, 0.0])
                total[0] += amount
                total[1] += float("nan") if value is None else value
    records = [
        {
            "slug": slug,
            "asset": asset,
            "ts": pd.Timestamp(date, unit="s", tz="UTC"),
            "amount_base": base,
            "amount_usd": usd_value,
        }
        for (asset, date), (base, usd_value) in sorted(sums.items())
    ]
    missing = [a for a in assets if not any(r["asset"] == a for r in records)]
    if missing:
        keys = {a: ASSET_KEYS[a] for a in missing}
        raise DataError(f"{source}: no daily holding under the keys {keys} on any chain")
    out = pd.DataFrame(records, columns=HOLDING_COLUMNS)
    out["slug"] = out["slug"].astype("string")
    out["asset"] = out["asset"].astype("string")
    return out


class DefiLlamaReserves:
    """Exchange reserves from DefiLlama's CEX holdings (no key; see the module docstring).

    Parameters
    ----------
    http
        Client (default: ``api.llama.fi`` or ``$LEVERCAST_DEFILLAMA_URL``, a 120 s deadline
        unless ``$LEVERCAST_HTTP_DEADLINE_SECS`` sets one, a plain ``User-Agent``).
    exchanges
        DefiLlama slugs summed into the ``defillama`` series (default: ``defillama_exchanges()``).
    now
        Clock giving the fetch time (``available_at`` and ``fetched_at`` of every row).
    """

    source: Final = "defillama"

    def __init__(
        self,
        http: HttpClient | None = None,
        *,
        exchanges: Sequence[str] | None = None,
        now: Clock = utc_now,
    ) -> None:
        self.exchanges = tuple(defillama_exchanges() if exchanges is None else exchanges)
        if not self.exchanges:
            raise ConfigError("exchanges must name at least one DefiLlama slug; found none")
        self.http = http or http_from_env(
            "defillama",
            "LEVERCAST_DEFILLAMA_URL",
            DEFILLAMA_URL,
            headers={"User-Agent": "levercast"},
            deadline_secs=env_seconds(DEADLINE_ENV, DEADLINE_SECS),
            min_interval_secs=0.5,
        )
        self._now = now

    def holdings(self, slug: str, assets: Sequence[str]) -> pd.DataFrame:
        """``parse_holdings`` of one exchange's current payload."""
        return parse_holdings(self.http.get_json(f"/protocol/{slug}"), slug=slug, assets=assets)

    def reserves(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """``exchange_reserves`` rows of days in ``[since, until)``: the exchanges summed
        (``defillama``) where every exchange has the day, and each exchange
        (``defillama:<slug>``); all available from now (the fetch time).

        Raises
        ------
        DataError
            A payload of another shape, or an exchange without the asset.
        MarketUnavailable
            DefiLlama failed after retries.
        """
        fetched = pd.Timestamp(self._now())
        per_slug = [self.holdings(slug, [asset]) for slug in self.exchanges]
        start, end = pd.Timestamp(since), pd.Timestamp(until)
        records: list[dict[str, Any]] = []

        def add(source: str, ts: pd.Timestamp, amount: float) -> None:
            if start <= ts < end:
                records.append(
                    {
                        "source": source,
                        "asset": asset,
                        "ts": ts,
                        "available_at": fetched,
                        "reserve_base": amount,
                        "fetched_at": fetched,
                    }
                )

        summed: pd.Series | None = None
        for slug, held in zip(self.exchanges, per_slug, strict=True):
            series = held.set_index("ts")["amount_base"]
            for ts, amount in series.items():
                add(f"{self.source}:{slug}", ts, float(amount))
            # a day counts only where every exchange has it (the sum's scope never shrinks)
            summed = series if summed is None else (summed + series).dropna()
        for ts, amount in (summed if summed is not None else pd.Series(dtype=float)).items():
            add(self.source, ts, float(amount))
        return frame(records, columns=_RESERVE_COLUMNS)
