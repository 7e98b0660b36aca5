"""Contracts as columns: what the outcome reader needs of each contract, one array per field.

``ContractColumns.from_contracts`` reads ``Contract`` objects; ``from_frame`` reads a frame of
contracts without building any object, so that the outcome reader labels a training grid or a
backtest frame at array speed. Both give the same columns for the same contracts.

Frame columns (a ``models.learned.contract_grid`` frame has them): ``kind``, ``asset``, ``start``
(else ``t``), ``end`` (NaT: open-ended, first_of only), ``strike_usd``, ``lower_usd``,
``upper_usd``, ``threshold`` (NaN where the kind has none), ``direction`` (``up``/``down``/``""``),
``monitoring`` (read for touch and move; ``""``: the ``Contract`` default), the resolution source
``resolution_source`` (else ``spot_venue``; ``""``: ``binance-spot``); optional ``side``
(liquidations_above), ``discrete_every`` (default ``1d``), ``tie_value`` (default 1.0),
``neither_value`` (default 0.5). An ``interval`` column is accepted and not read: the reader uses
the venue's 30m bars where it has them, else its 1h bars, whatever the rule's interval.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.timeutil import parse_duration
from levercast.models.contracts import DEFAULT_SOURCE, Contract, Kind, Monitoring

__all__ = ["NO_END", "ContractColumns"]

NO_END: Final = np.iinfo(np.int64).min  # end_ns of an open-ended first_of
_KINDS: Final = frozenset(k.value for k in Kind)
_STRIKE_KINDS: Final = ("touch", "close_above", "close_below")
_BAND_KINDS: Final = ("range", "first_of")
_THRESHOLD_KINDS: Final = ("move", "liquidations_above")
_DEFAULT_EVERY: Final = "1d"


@dataclass(frozen=True, slots=True)
class ContractColumns:
    """One entry per contract (see the module docstring).

    ``forced`` is the candle venue a row must be labelled on (``""``: its source, then the
    proxies); ``monitoring`` is the effective rule (``Contract.monitoring_rule``); ``direction``
    and ``side`` are ``""`` when unset; prices and thresholds NaN where the kind has none.
    """

    kind: np.ndarray
    asset: np.ndarray
    source: np.ndarray
    forced: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    strike_usd: np.ndarray
    lower_usd: np.ndarray
    upper_usd: np.ndarray
    threshold: np.ndarray
    direction: np.ndarray
    monitoring: np.ndarray
    discrete_every_ns: np.ndarray
    tie_value: np.ndarray
    neither_value: np.ndarray
    side: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def from_contracts(
        cls, contracts: Sequence[Contract], *, venue: str | None = None
    ) -> ContractColumns:
        """Columns of ``Contract`` objects; ``venue`` forces one candle venue for all."""

        def floats(name: str) -> np.ndarray:
            return np.array([_nan(getattr(c, name)) for c in contracts], dtype=float)

        def texts(values: list[str]) -> np.ndarray:
            return np.array(values, dtype=object) if values else np.zeros(0, dtype=object)

        n = len(contracts)
        return cls(
            kind=texts([c.kind.value for c in contracts]),
            asset=texts([c.asset for c in contracts]),
            source=texts([c.resolution.source for c in contracts]),
            forced=texts([venue or ""] * n),
            start_ns=_ns([c.start for c in contracts]),
            end_ns=_ns([c.end for c in contracts]),
            strike_usd=floats("strike_usd"),
            lower_usd=floats("lower_usd"),
            upper_usd=floats("upper_usd"),
            threshold=floats("threshold"),
            direction=texts([c.direction or "" for c in contracts]),
            monitoring=texts([c.monitoring_rule.value for c in contracts]),
            discrete_every_ns=_every_ns([c.resolution.discrete_every or "" for c in contracts]),
            tie_value=np.array(
                [
                    c.resolution.tie_value if c.resolution.tie_value is not None else 1.0
                    for c in contracts
                ],
                dtype=float,
            ),
            neither_value=np.array([c.neither_value for c in contracts], dtype=float),
            side=texts([c.side or "" for c in contracts]),
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, proxies: bool = True) -> ContractColumns:
        """Columns of a frame of contracts (module docstring), validated as ``Contract`` is.

        ``proxies=False`` forces each row onto its own source venue.

        Raises
        ------
        ConfigError
            A missing column, an unknown kind, naive times, or a value the ``Contract`` spec
            refuses; the message names the column, the rule, the row and the value.
        """
        start_col = "start" if "start" in frame.columns else "t"
        missing = [c for c in ("kind", "asset", start_col, "end") if c not in frame.columns]
        if missing:
            raise ConfigError(
                f"frame must have contract columns {missing}; found {list(frame.columns)}"
            )
        n = len(frame)
        kind = _Text.of(frame, "kind", n)
        _check(~kind.isin(_KINDS), "kind", f"must be one of {sorted(_KINDS)}", kind)
        asset = _Text.of(frame, "asset", n, transform=str.upper)
        tickers = [a for a in asset.texts if a.isalnum()]
        _check(~asset.isin(tickers), "asset", "must be a ticker such as BTC", asset)
        start_ns = _frame_ns(frame, start_col)
        end_ns = _frame_ns(frame, "end")
        _check(
            (end_ns == NO_END) & ~kind.isin([Kind.FIRST_OF.value]),
            "end",
            "is required (only a first_of may be open-ended)",
            end_ns,
        )
        _check((end_ns != NO_END) & (end_ns <= start_ns), "end", "must be after start", end_ns)
        raw_source = _Text.of(frame, _source_column(frame), n).values
        numbers = {
            name: _float(frame, name, n)
            for name in ("strike_usd", "lower_usd", "upper_usd", "threshold")
        }
        direction = _Text.of(frame, "direction", n)
        side = _Text.of(frame, "side", n)
        _check_values(kind, numbers, direction, side)
        monitoring = _monitoring(kind, _Text.of(frame, "monitoring", n))
        tie = _unit(_float(frame, "tie_value", n), 1.0, "tie_value")
        neither = _unit(_float(frame, "neither_value", n), 0.5, "neither_value")
        return cls(
            kind=kind.values,
            asset=asset.values,
            source=np.where(raw_source != "", raw_source, DEFAULT_SOURCE),
            forced=raw_source if not proxies else np.full(n, "", dtype=object),
            start_ns=start_ns,
            end_ns=end_ns,
            direction=direction.values,
            monitoring=monitoring,
            discrete_every_ns=_every_ns(_Text.of(frame, "discrete_every", n).values),
            tie_value=tie,
            neither_value=neither,
            side=side.values,
            **numbers,
        )


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _every_ns(texts: Sequence[str] | np.ndarray) -> np.ndarray:
    """Discrete observation steps in ns (``""``: the default, daily)."""
    texts = np.asarray(texts, dtype=object)
    out = np.empty(len(texts), dtype=np.int64)
    for text in pd.unique(texts):
        delta = parse_duration(str(text or _DEFAULT_EVERY), name="discrete_every")
        out[texts == text] = pd.Timedelta(delta).value
    return out


def _ns(times: list[object]) -> np.ndarray:
    """UTC ns of tz-aware datetimes (``NO_END`` for None)."""
    index = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns")
    return np.where(index.isna(), NO_END, index.asi8).astype(np.int64)


def _frame_ns(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = frame[column]
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        if values.isna().all():
            return np.full(len(values), NO_END, dtype=np.int64)
        raise ConfigError(f"{column} must hold tz-aware UTC times; found dtype {values.dtype}")
    index = pd.DatetimeIndex(values).tz_convert("UTC").as_unit("ns")
    return np.where(index.isna(), NO_END, index.asi8).astype(np.int64)


def _source_column(frame: pd.DataFrame) -> str:
    return "resolution_source" if "resolution_source" in frame.columns else "spot_venue"


@dataclass(frozen=True, slots=True)
class _Text:
    """A text column by its distinct values (few: kinds, venues, directions): ``texts[codes]``.

    Tests run on the distinct values; ``values`` shares one ``str`` object per distinct value.
    """

    codes: np.ndarray  # index into texts (a missing value: the last, "")
    texts: np.ndarray  # object array of the distinct texts, then ""

    @classmethod
    def of(
        cls,
        frame: pd.DataFrame,
        column: str,
        n: int,
        *,
        transform: Callable[[str], str] | None = None,
    ) -> _Text:
        """The column (a missing column: all ``""``); ``transform`` maps each distinct text."""
        if column not in frame.columns:
            return cls(np.zeros(n, dtype=np.intp), np.array([""], dtype=object))
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
        texts = [str(u) for u in uniques]
        if transform is not None:
            texts = [transform(t) for t in texts]
        return cls(codes, np.array([*texts, ""], dtype=object))

    @property
    def values(self) -> np.ndarray:
        return self.texts[self.codes]

    def isin(self, options: Collection[str]) -> np.ndarray:
        """Rows whose text is one of ``options``."""
        return np.array([t in options for t in self.texts], dtype=bool)[self.codes]


def _float(frame: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in frame.columns:
        return np.full(n, np.nan)
    return frame[column].to_numpy(dtype=float, na_value=np.nan)


def _check(bad: np.ndarray, column: str, rule: str, values: np.ndarray | _Text) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        if isinstance(values, _Text):
            values = values.values
        value = values[row]
        if values.dtype == np.int64:  # ns since the epoch
            shown = "NaT" if value == NO_END else pd.Timestamp(int(value), tz="UTC").isoformat()
        else:
            shown = repr(value.item() if isinstance(value, np.generic) else value)
        raise ConfigError(f"{column} {rule}; found {shown} at row {row} ({int(bad.sum())} rows)")


def _check_values(
    kind: _Text, numbers: dict[str, np.ndarray], direction: _Text, side: _Text
) -> None:
    """The ``Contract`` value rules, on the fields each kind uses."""
    strike_kind = kind.isin(_STRIKE_KINDS)
    band_kind = kind.isin(_BAND_KINDS)
    threshold_kind = kind.isin(_THRESHOLD_KINDS)
    for name, used in (
        ("strike_usd", strike_kind),
        ("lower_usd", band_kind),
        ("upper_usd", band_kind),
    ):
        value = numbers[name]
        bad = used & ~(np.isfinite(value) & (value > 0))
        _check(bad, name, "must be a positive price in USD", value)
    lower, upper = numbers["lower_usd"], numbers["upper_usd"]
    _check(band_kind & (lower >= upper), "lower_usd", "must be below upper_usd", lower)
    threshold = numbers["threshold"]
    _check(
        threshold_kind & ~(np.isfinite(threshold) & (threshold > 0)),
        "threshold",
        "must be positive",
        threshold,
    )
    way_kind = kind.isin(("touch", "move"))
    _check(
        kind.isin(("move",)) & direction.isin(("down",)) & (threshold >= 1.0),
        "threshold",
        "of a down move must be a fraction below 1 (0.05 = 5%)",
        threshold,
    )
    _check(
        way_kind & ~direction.isin(("", "up", "down")),
        "direction",
        "must be 'up', 'down' or empty",
        direction,
    )
    _check(
        kind.isin(("liquidations_above",)) & ~side.isin(("long", "short", "total")),
        "side",
        "must be 'long', 'short' or 'total'",
        side,
    )


def _monitoring(kind: _Text, raw: _Text) -> np.ndarray:
    """The effective monitoring rule (``Contract.monitoring_rule``; read for touch and move)."""
    allowed = ("", *(m.value for m in Monitoring))
    way_kind = kind.isin(("touch", "move"))
    _check(way_kind & ~raw.isin(allowed), "monitoring", f"must be one of {allowed}", raw)
    default = np.where(
        kind.isin(("touch", "first_of")),
        Monitoring.CONTINUOUS.value,
        Monitoring.TERMINAL.value,
    ).astype(object)
    return np.where(way_kind & ~raw.isin(("",)), raw.values, default)


def _unit(values: np.ndarray, default: float, name: str) -> np.ndarray:
    _check(~np.isnan(values) & ((values < 0) | (values > 1)), name, "must be within [0, 1]", values)
    return np.where(np.isnan(values), default, values)
