"""Table specifications of the dataset format and their validation.

The canonical format is defined in ``../shared/data/README.md`` and INTERFACE.md §2: one Parquet
file (or a folder of Parquet parts) per table, long format, tz-aware UTC timestamps, ``ts`` the
time a row describes and ``available_at`` the earliest time its values were known.

Validation errors name table, column, rule and value. Unknown extra columns are dropped with one
warning per table.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from levercast.features.dataset.adjacent import changes
from levercast.features.errors import DataError

__all__ = ["TABLES", "ExtraColumnsWarning", "TableSpec", "validate_table"]

ColumnKind = Literal["str", "time", "float", "int", "bool"]
_TIME_DTYPE: Final = pd.DatetimeTZDtype("ns", "UTC")
_STR_DTYPE: Final = pd.StringDtype()
_FEW: Final = 32  # boundaries compared one by one below this count


class ExtraColumnsWarning(UserWarning):
    """A table carries columns the format does not define; they are ignored."""


@dataclass(frozen=True, slots=True)
class TableSpec:
    """What one table holds.

    Attributes
    ----------
    name
        Table name (also the Parquet file stem).
    columns
        Column name -> kind, in canonical order. Columns in ``nullable`` may hold nulls.
    key
        Columns that identify a row; duplicates are an error.
    optional
        Whether a dataset may lack the table.
    unit_interval
        Columns whose values must lie in [0, 1] (prices of outcome tokens).
    non_negative
        Columns whose values must be >= 0 (sizes, volumes, open interest).
    optional_columns
        Columns that may be absent (filled with nulls on read).
    """

    name: str
    columns: dict[str, ColumnKind]
    key: tuple[str, ...]
    optional: bool = False
    nullable: frozenset[str] = frozenset()
    unit_interval: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    optional_columns: frozenset[str] = frozenset()
    group_by: tuple[str, ...] = field(default=())

    @property
    def time_series(self) -> bool:
        """Whether rows carry ``ts`` and ``available_at``."""
        return "available_at" in self.columns

    @property
    def groups(self) -> tuple[str, ...]:
        """Key columns other than ``ts`` (how ``data check`` groups rows)."""
        return self.group_by or tuple(c for c in self.key if c != "ts")


_KALSHI_MARKET_COLUMNS: Final = frozenset(
    {"series_ticker", "strike_type", "floor_strike", "cap_strike", "close_time"}
)
# A market's own fee fields (optional, nullable): ``markets.fees.fees_for_market`` reads them.
_FEE_MARKET_COLUMNS: Final[dict[str, ColumnKind]] = {
    "category": "str",
    "cadence": "str",
    "fee_category": "str",
    "fee_rate": "float",
    "fee_exponent": "float",
    "maker_rebate_rate": "float",
    "fees_enabled": "bool",
    "fee_multiplier": "float",
    "fee_waiver_until": "time",
}
_TS: Final[dict[str, ColumnKind]] = {"ts": "time", "available_at": "time"}

TABLES: Final[dict[str, TableSpec]] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "candles",
            {
                "venue": "str",
                "asset": "str",
                "interval": "str",
                **_TS,
                "open": "float",
                "high": "float",
                "low": "float",
                "close": "float",
                "volume_base": "float",
            },
            key=("venue", "asset", "interval", "ts"),
            non_negative=("open", "high", "low", "close", "volume_base"),
        ),
        TableSpec(
            "open_interest",
            {"venue": "str", "asset": "str", **_TS, "oi_base": "float", "oi_usd": "float"},
            key=("venue", "asset", "ts"),
            nullable=frozenset({"oi_base", "oi_usd"}),
            non_negative=("oi_base", "oi_usd"),
        ),
        TableSpec(
            "funding",
            {"venue": "str", "asset": "str", **_TS, "rate": "float", "interval_hours": "int"},
            key=("venue", "asset", "ts"),
        ),
        TableSpec(
            "liquidations",
            {
                "venue": "str",
                "asset": "str",
                "interval": "str",
                **_TS,
                "long_usd": "float",
                "short_usd": "float",
                "lower_bound": "str",
            },
            key=("venue", "asset", "interval", "ts"),
            non_negative=("long_usd", "short_usd"),
            optional_columns=frozenset({"lower_bound"}),
            nullable=frozenset({"lower_bound"}),
        ),
        TableSpec(
            "exchange_reserves",
            {"source": "str", "asset": "str", **_TS, "reserve_base": "float", "fetched_at": "time"},
            key=("source", "asset", "ts"),
            non_negative=("reserve_base",),
            optional_columns=frozenset({"fetched_at"}),
            nullable=frozenset({"fetched_at"}),
        ),
        TableSpec(
            "implied_vol",
            {"source": "str", "asset": "str", **_TS, "iv": "float"},
            key=("source", "asset", "ts"),
            non_negative=("iv",),
        ),
        TableSpec(
            "markets",
            {
                "venue": "str",
                "market_id": "str",
                "condition_id": "str",
                "question": "str",
                "event_title": "str",
                "slug": "str",
                "rules": "str",
                "outcomes": "str",
                "token_ids": "str",
                "created_at": "time",
                "end_date": "time",
                "resolved_at": "time",
                "winning_outcome": "str",
                "family": "str",
                # Kalshi strike fields (optional): the parser reads them, never the ticker text.
                "series_ticker": "str",
                "strike_type": "str",
                "floor_strike": "float",
                "cap_strike": "float",
                "close_time": "time",
                **_FEE_MARKET_COLUMNS,
            },
            key=("market_id",),
            nullable=frozenset(
                {
                    "condition_id",
                    "question",
                    "event_title",
                    "slug",
                    "rules",
                    "token_ids",
                    "created_at",
                    "end_date",
                    "resolved_at",
                    "winning_outcome",
                    "family",
                    *_KALSHI_MARKET_COLUMNS,
                    *_FEE_MARKET_COLUMNS,
                }
            ),
            optional_columns=_KALSHI_MARKET_COLUMNS | frozenset(_FEE_MARKET_COLUMNS),
            group_by=("family",),
        ),
        TableSpec(
            "market_prices",
            {
                "venue": "str",
                "market_id": "str",
                "outcome": "str",
                **_TS,
                "price": "float",
                "kind": "str",
            },
            key=("venue", "market_id", "outcome", "kind", "ts"),
            unit_interval=("price",),
            group_by=("venue", "kind"),
        ),
        TableSpec(
            "ratios",
            {"venue": "str", "asset": "str", **_TS, "metric": "str", "value": "float"},
            key=("venue", "asset", "metric", "ts"),
            optional=True,
        ),
        TableSpec(
            "books",
            {
                "venue": "str",
                "market_id": "str",
                "outcome": "str",
                **_TS,
                "side": "str",
                "price": "float",
                "size": "float",
            },
            key=("venue", "market_id", "outcome", "ts", "side", "price"),
            optional=True,
            unit_interval=("price",),
            non_negative=("size",),
            group_by=("venue",),
        ),
    )
}


def _coerce(table: str, column: str, kind: ColumnKind, values: pd.Series) -> pd.Series:
    if kind == "time":
        if not isinstance(values.dtype, pd.DatetimeTZDtype):
            if pd.api.types.is_datetime64_any_dtype(values.dtype):
                first = values.dropna().iloc[0] if values.notna().any() else "NaT"
                raise DataError(
                    f"{table}.{column} must hold tz-aware UTC timestamps; found naive "
                    f"timestamps (first {first})"
                )
            if values.isna().all():
                return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
            raise DataError(
                f"{table}.{column} must hold tz-aware UTC timestamps; found dtype {values.dtype}"
            )
        if values.dtype == _TIME_DTYPE and values.dtype.tz is _TIME_DTYPE.tz:
            return values  # already canonical: no conversion
        utc = values.array.tz_convert("UTC")  # a new dtype on the same data
        if utc.unit != "ns":
            utc = utc.as_unit("ns")
        return pd.Series(utc, index=values.index, name=values.name, copy=False)
    if kind == "str":
        return values if values.dtype == _STR_DTYPE else values.astype(_STR_DTYPE)
    if kind == "bool":
        return _coerce_bool(table, column, values)
    if kind == "int":
        if not pd.api.types.is_integer_dtype(values.dtype):
            raise DataError(f"{table}.{column} must be integer; found dtype {values.dtype}")
        return values if values.dtype == np.int64 else values.astype("int64")
    if not pd.api.types.is_numeric_dtype(values.dtype):
        raise DataError(f"{table}.{column} must be numeric; found dtype {values.dtype}")
    return values if values.dtype == np.float64 else values.astype("float64")


def _coerce_bool(table: str, column: str, values: pd.Series) -> pd.Series:
    """A nullable boolean column: bool dtypes, or objects that are only True/False/None/NaN."""
    if isinstance(values.dtype, pd.BooleanDtype):
        return values
    if pd.api.types.is_bool_dtype(values.dtype) or values.isna().all():
        return values.astype("boolean")
    present = values.dropna()
    if values.dtype == object and all(isinstance(v, bool | np.bool_) for v in present):
        return values.astype("boolean")
    raise DataError(
        f"{table}.{column} must hold booleans (or nulls); found dtype {values.dtype}, first "
        f"value {present.iloc[0]!r}"
    )


def validate_table(name: str, frame: pd.DataFrame, *, sort_by_key: bool = False) -> pd.DataFrame:
    """Validate a table against its spec and return it in canonical column order and dtypes.

    Parameters
    ----------
    name
        A key of ``TABLES``.
    frame
        The raw table.
    sort_by_key
        Also sort the rows by the table's key (stable), as the store holds tables; a table already
        in key order (every table the store wrote) is returned as it is.

    Returns
    -------
    pandas.DataFrame
        Canonical columns only (extras dropped with an ``ExtraColumnsWarning``), canonical dtypes,
        fresh ``RangeIndex``.

    Raises
    ------
    DataError
        Missing columns, naive timestamps, nulls where not allowed, duplicate keys,
        ``available_at < ts``, values outside [0, 1] where probabilities are required, negative
        sizes. The message names table, column, rule and value.
    """
    if name not in TABLES:
        raise DataError(f"table must be one of {sorted(TABLES)}; found {name!r}")
    spec = TABLES[name]
    present = list(frame.columns)
    missing = [c for c in spec.columns if c not in present and c not in spec.optional_columns]
    if missing:
        raise DataError(f"{name}: missing required column(s) {missing}; found columns {present}")
    extra = [c for c in present if c not in spec.columns]
    if extra:
        warnings.warn(
            f"{name}: ignoring unknown column(s) {extra}", ExtraColumnsWarning, stacklevel=2
        )
    out = {}
    changed = {}
    known_order = False  # rows proven in strictly increasing key order on the way
    filled = {}
    for column, kind in spec.columns.items():
        if column not in present:
            filled[column] = _all_null(kind, len(frame))
            continue
        given = frame[column]
        values = _coerce(name, column, kind, given)
        if values is not given:
            changed[column] = values
        if column not in spec.nullable and _may_hold_nulls(values):
            nulls = np.asarray(values.array.isna(), dtype=bool)
            if nulls.any():
                row = int(np.flatnonzero(nulls)[0])
                raise DataError(f"{name}.{column} must not be null; found null at row {row}")
        out[column] = values
    # Neither path copies the data (copy-on-write keeps the input and the result apart): a
    # frame already in the canonical columns (a table the store wrote) keeps its blocks and
    # only the converted columns are replaced; another is assembled column by column.
    if present == list(spec.columns):
        result = frame.assign(**changed).reset_index(drop=True)
        result.attrs = {}
    else:  # from the arrays: no index alignment of ~30 Series (~2 ms on the markets table)
        given_arrays = {column: values.array for column, values in out.items()}
        if sort_by_key and filled and len(frame):
            # Put the rows in key order before the all-null columns join: nothing to reorder in
            # those (the markets table lacks half its columns and is not stored in key order)
            keys = pd.DataFrame({k: given_arrays[k] for k in spec.key}, copy=False)
            known_order = _keys_sorted_unique(keys, spec.key)
            if not known_order:  # sorted now; the key's uniqueness is checked below
                order = keys.sort_values(list(spec.key), kind="stable").index.to_numpy()
                given_arrays = {c: a.take(order) for c, a in given_arrays.items()}
        arrays = {c: given_arrays[c] if c in given_arrays else filled[c] for c in spec.columns}
        result = pd.DataFrame(arrays, index=pd.RangeIndex(len(frame)), copy=False)
    in_key_order = _check_rules(name, spec, result, known_order=known_order)
    if sort_by_key and not in_key_order:
        result = result.sort_values(list(spec.key), kind="stable").reset_index(drop=True)
    return result


def _all_null(kind: ColumnKind, n: int) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """An absent optional column of ``n`` rows: all null, in the kind's canonical dtype, built
    from arrays (~1-20 us a column; a Series filled with a scalar took ~25-55 us)."""
    if kind == "str":  # built from Arrow nulls: ~30x faster than filling a Series with pd.NA
        return pd.arrays.ArrowStringArray(pa.chunked_array([pa.nulls(n, pa.large_string())]))
    if kind == "float":
        return np.full(n, np.nan)
    if kind == "time":
        nat = np.full(n, np.iinfo(np.int64).min, dtype=np.int64).view("M8[ns]")
        return pd.array(nat, dtype=_TIME_DTYPE)
    mask = np.ones(n, dtype=bool)
    if kind == "bool":
        return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), mask)
    return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), mask)


def _may_hold_nulls(values: pd.Series) -> bool:
    """False when the column surely holds no null: Arrow data counts its nulls (no scan)."""
    data = getattr(values.array, "_pa_array", None)
    return data is None or bool(data.null_count)


def _keys_sorted_unique(frame: pd.DataFrame, columns: Sequence[str]) -> bool:
    """Whether the rows are in strictly increasing order of ``columns`` (lexicographic), which
    also proves those columns a unique key: one pass over adjacent rows, no hashing or sorting.

    The columns must hold no nulls (key columns are checked for nulls first).
    """
    n = len(frame)
    if n < 2:
        return True
    tied = np.ones(n - 1, dtype=bool)  # adjacent rows equal on every column so far
    for column in columns:
        values = frame[column].array
        if isinstance(values, pd.arrays.DatetimeArray):
            values = values.asi8  # compared as int64 ns: no boxing
        elif isinstance(values, pd.arrays.NumpyExtensionArray):
            values = values.to_numpy()
        if isinstance(values, np.ndarray):
            head, tail = values[:-1], values[1:]
            if (tied & (head > tail)).any():
                return False
            tied &= head == tail
        else:  # text: one comparison over all rows, the order checked where values change
            differ = changes(values)
            at = np.flatnonzero(tied & differ)
            if at.size > _FEW:
                ordered = bool(np.asarray(values.take(at) < values.take(at + 1), bool).all())
            else:  # a few runs (venues, assets): compare them one by one
                ordered = all(values[i] < values[i + 1] for i in at.tolist())
            if not ordered:
                return False
            tied &= ~differ
        if not tied.any():
            return True
    return False


def _check_rules(
    name: str, spec: TableSpec, frame: pd.DataFrame, *, known_order: bool = False
) -> bool:
    """Check the table's rules; return whether its rows are already in key order
    (``known_order``: already proven by the caller, on the same rows in the same order)."""
    if frame.empty:
        return True
    # A table the store wrote is sorted by key: checking adjacent rows proves its key unique
    # without hashing every key column (``duplicated``), which then only runs on other input.
    in_key_order = known_order or _keys_sorted_unique(frame, spec.key)
    dup = None if in_key_order else frame.duplicated(list(spec.key), keep=False)
    if dup is not None and dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        key = {k: str(frame[k].iloc[row]) for k in spec.key}
        raise DataError(
            f"{name}: key {list(spec.key)} must be unique; found duplicate key {key} "
            f"({int(dup.sum())} rows)"
        )
    if spec.time_series:  # as int64 ns: no null can be left in either (checked first)
        early = frame["available_at"].array.asi8 < frame["ts"].array.asi8
        if early.any():
            row = int(np.flatnonzero(early)[0])
            raise DataError(
                f"{name}.available_at must be >= ts; found available_at "
                f"{frame['available_at'].iloc[row]} < ts {frame['ts'].iloc[row]} at row {row}"
            )
    for column in spec.unit_interval:
        values = frame[column].to_numpy(dtype=float)
        bad = (values < 0.0) | (values > 1.0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{name}.{column} must be within [0, 1]; found {values[row]} at row {row}"
            )
    for column in spec.non_negative:
        values = frame[column].to_numpy(dtype=float)
        bad = values < 0.0
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{name}.{column} must be >= 0; found {values[row]} at row {row}")
    return in_key_order
