"""The point-in-time dataset store: the only file I/O of the features layer.

Reading
    ``Store(root).as_of(table, t, **filters)`` returns the rows with ``available_at <= t`` (and
    ``available_at > since`` when given), filtered on key columns such as ``venue``/``asset``.
    Model code reads through ``as_of`` or a ``StoreView`` fixed at a decision time; nothing else.
    ``Store.read`` returns a whole validated table and is meant for ``data check`` and the
    single outcome reader in ``experiments.labels.outcomes``. Every read excludes the rows
    that break a data-sanity rule (``features.dataset.sanity``: non-finite or non-positive
    prices, high < low, impossible jumps, IV outside its band, unknown outcome labels,
    resolution before creation) with one ``QuarantineWarning`` per table naming each rule and
    its count; ``Store.quarantined(table)`` returns those counts.

Writing
    ``with store.writer() as w: w.upsert(table, frame)``. Writes are idempotent upserts on the
    table's key, validated before anything touches disk, written to a temporary file and renamed
    into place (atomic on POSIX: a reader sees the old file or the new one, never a mix). The
    block holds an exclusive ``flock`` on ``DIR/.levercast.lock`` (``filelock``), released by the
    kernel when the process exits however it exits; the file itself may stay on disk and its
    contents mean nothing. The lock is taken before any table is read for merging and held
    through the merge and the rename, and entering the block drops every cached table, so an
    upsert always merges into what is on disk now: every row an upsert reports written is there
    afterwards, whatever other writers run beside it. A second writer waits up to
    ``LEVERCAST_LOCK_TIMEOUT_SECS`` (default 60 s) and then fails with a ``DataError`` naming the
    lock. The lock holder deletes temporary files left by a killed writer. A rewritten table keeps
    its file mode. A batch that fails validation leaves the store byte-identical. An upsert
    merges into the table as stored, quarantined rows included: they stay on disk, hidden from
    readers, until a corrected row replaces them on their key.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import secrets
import stat
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol, Self, TypeVar

import filelock
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from levercast.features.dataset.codes import TextCodes
from levercast.features.dataset.sanity import QuarantineWarning, bad_rows
from levercast.features.dataset.schema import TABLES, validate_table
from levercast.features.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_SECS",
    "LOCK_NAME",
    "LOCK_TIMEOUT_ENV",
    "VIEWS_KEPT",
    "PointInTime",
    "Prefixed",
    "Store",
    "StoreView",
    "StoreWriter",
]

LOCK_NAME: Final = ".levercast.lock"
LOCK_TIMEOUT_ENV: Final = "LEVERCAST_LOCK_TIMEOUT_SECS"
DEFAULT_LOCK_TIMEOUT_SECS: Final = 60.0
VIEWS_KEPT: Final = 4  # recent decision times whose view (and memo) Store.at hands out again
P = TypeVar("P", bound="Prefixed")
_TMP_SUFFIX: Final = ".tmp"
# Write locks this thread holds, by lock path: a nested writer fails at once instead of waiting
# for itself until the timeout.
_HELD = threading.local()


def _to_ns(t: datetime | pd.Timestamp, *, name: str) -> int:
    stamp = pd.Timestamp(t)
    if stamp.tzinfo is None:
        raise ConfigError(f"{name} must be tz-aware UTC; found naive {stamp.isoformat()}")
    return int(stamp.tz_convert("UTC").value)


@dataclass(slots=True)
class _Slice:
    frame: pd.DataFrame
    available_ns: np.ndarray
    # ``derive -> derive(frame)``: values computed on the whole slice (``Store.derived_as_of``)
    derived: dict[Any, Any] = field(default_factory=dict)


class Prefixed(Protocol):
    """A value derived from rows in ``available_at`` order that can be cut to its first rows:
    ``derive(rows).prefix(n)`` equals ``derive(rows[:n])`` exactly (``Store.derived_as_of``)."""

    def prefix(self, n_rows: int) -> Self:
        """The value derived from the first ``n_rows`` rows only."""
        ...


class Store:
    """A dataset directory in the canonical format (see module docstring).

    Parameters
    ----------
    root
        The dataset directory.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._tables: dict[str, pd.DataFrame] = {}
        self._stored: dict[str, pd.DataFrame | None] = {}  # ``_validated``: quarantine included
        self._slices: dict[tuple[str, tuple[tuple[str, str], ...]], _Slice] = {}
        # (table, text column) -> its codes (``_equal``)
        self._codes: dict[tuple[str, str], TextCodes] = {}
        self._fingerprints: dict[str, str] = {}
        self._quarantined: dict[str, dict[str, int]] = {}
        self._views: OrderedDict[int, StoreView] = OrderedDict()
        self._views_lock = threading.Lock()  # a cold fit's worker thread may read beside us

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def __getstate__(self) -> dict[str, str]:
        """Pickled as its directory alone (a worker process of a parallel backtest reads the
        tables it needs itself): the cached frames would be copied into every task, and the
        views' lock cannot be pickled."""
        return {"root": str(self.root)}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["root"])  # type: ignore[misc]

    # -- discovery ---------------------------------------------------------------------------
    def path_of(self, table: str) -> Path | None:
        """The file or folder holding ``table``, or ``None`` when absent."""
        single = self.root / f"{table}.parquet"
        if single.is_file():
            return single
        folder = self.root / table
        if folder.is_dir() and any(folder.glob("*.parquet")):
            return folder
        return None

    def has(self, table: str) -> bool:
        """Whether the dataset holds ``table``."""
        return self.path_of(table) is not None

    def tables(self) -> list[str]:
        """Names of the known tables present in the dataset."""
        return [name for name in TABLES if self.has(name)]

    def is_empty(self) -> bool:
        """Whether the directory is missing or holds no table."""
        return not self.root.is_dir() or not self.tables()

    # -- reading -----------------------------------------------------------------------------
    def read(self, table: str) -> pd.DataFrame:
        """The whole validated table, sorted by key (cached; treat it as read-only: numeric
        columns read straight from the file are read-only arrays, ``copy()`` it to edit).

        Raises
        ------
        DataError
            If the table is absent (and not optional) or breaks a validation rule.
        """
        if table in self._tables:
            return self._tables[table]
        stored = self._validated(table)
        if stored is None:  # an optional table that is absent: empty
            frame = validate_table(table, _empty_frame(table))
        else:
            frame = self._exclude_bad_rows(table, stored)
        self._tables[table] = frame
        return frame

    def _validated(self, table: str) -> pd.DataFrame | None:
        """The whole table as stored, validated and sorted by key, quarantined rows included
        (what a writer merges into, so that an upsert never drops them from disk); None for an
        optional table that is absent (cached like ``read``: several upserts of one block that
        change nothing read the file once)."""
        if table in self._stored:
            return self._stored[table]
        if table not in TABLES:
            raise DataError(f"table must be one of {sorted(TABLES)}; found {table!r}")
        path = self.path_of(table)
        if path is None:
            if TABLES[table].optional:
                self._stored[table] = None
                return None
            raise DataError(
                f"{table}: table not found in {self.root} (expected {table}.parquet or {table}/)"
            )
        try:
            raw = _read_parquet(path)
        except (OSError, ValueError) as e:
            raise DataError(f"{table}: cannot read {path}: {e}") from e
        stored = self._stored[table] = validate_table(table, raw, sort_by_key=True)
        return stored

    def _exclude_bad_rows(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` without the rows that break a sanity rule (one warning with the counts)."""
        related: dict[str, pd.DataFrame] = {}
        if table == "market_prices" and self.has("markets"):
            with contextlib.suppress(DataError):  # a broken markets table is its own problem
                related["markets"] = self.read("markets")
        bad, counts = bad_rows(table, frame, related=related)
        self._quarantined[table] = counts
        if not counts:
            return frame
        detail = "; ".join(f"{reason}: {n}" for reason, n in counts.items())
        # warn_explicit without a source line: one line on stderr however Python shows it
        warnings.warn_explicit(
            f"{table}: excluded {int(bad.sum())} of {len(frame)} row(s) that break data-sanity "
            f"rules ({detail}); run `levercast data check` and fix or re-fetch the table",
            QuarantineWarning,
            filename="levercast",
            lineno=0,
            module=__name__,
        )
        return frame[~bad].reset_index(drop=True)

    def quarantined(self, table: str) -> dict[str, int]:
        """Rows of ``table`` excluded on read, by the sanity rule they break (reads the table)."""
        self.read(table)
        return dict(self._quarantined.get(table, {}))

    def coverage(self, table: str, by: tuple[str, ...]) -> pd.DataFrame:
        """What ``table`` holds: one row per ``by`` group with its ``first`` and ``last``
        ``available_at`` and its row count ``rows`` (an inventory for refusing bad requests, not
        values to model with).

        Raises
        ------
        DataError
            ``table`` is not a time-series table or cannot be read.
        ConfigError
            A ``by`` column is not a column of ``table``.
        """
        frame = self.read(table)
        if "available_at" not in frame.columns:
            raise DataError(f"{table}: not a time-series table; coverage needs available_at")
        unknown = [c for c in by if c not in frame.columns]
        if unknown:
            raise ConfigError(
                f"by must name columns of {table} {list(frame.columns)}; found {unknown}"
            )
        columns = list(by)
        grouped = frame.groupby(columns, observed=True, sort=True)["available_at"]
        out = grouped.agg(first="min", last="max", rows="size").reset_index()
        for column in columns:
            out[column] = out[column].astype(str)
        return out

    def _slice(self, table: str, filters: dict[str, str]) -> _Slice:
        key = (table, tuple(sorted((k, str(v)) for k, v in filters.items())))
        cached = self._slices.get(key)
        if cached is not None:
            return cached
        frame = self.read(table)
        if "available_at" not in frame.columns:
            raise DataError(f"{table}: not a time-series table; use Store.read or markets_as_of")
        keep = np.ones(len(frame), dtype=bool)
        for column, value in filters.items():
            if column not in frame.columns:
                raise ConfigError(
                    f"filter {column!r} must be a column of {table} {list(frame.columns)}"
                )
            keep &= self._equal(table, frame, column, value)
        frame = _rows_of(frame, keep)
        available = frame["available_at"].to_numpy(dtype="datetime64[ns]").view("int64")
        opened = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
        if not _in_order(available, opened):  # a table sorted by key usually is already
            order = np.lexsort((opened, available))  # stable, by available_at then ts
            frame, available = frame.iloc[order], available[order]
        frame = frame.reset_index(drop=True)
        result = _Slice(frame, available)
        self._slices[key] = result
        return result

    def _equal(self, table: str, frame: pd.DataFrame, column: str, value: object) -> np.ndarray:
        """Rows of the whole ``table`` whose ``column`` equals ``value`` (a null equals nothing):
        a text column compares codes kept per table read (``TextCodes``)."""
        values = frame[column]
        if not (isinstance(value, str) and pd.api.types.is_string_dtype(values.dtype)):
            return (values == value).to_numpy(dtype=bool, na_value=False)
        codes = self._codes.get((table, column))
        if codes is None:
            codes = self._codes[(table, column)] = TextCodes.of(values)
        return codes.equal((value,))

    def as_of(
        self,
        table: str,
        t: datetime | pd.Timestamp,
        *,
        since: datetime | pd.Timestamp | None = None,
        **filters: str,
    ) -> pd.DataFrame:
        """Rows of ``table`` known at ``t``: ``since < available_at <= t``.

        Parameters
        ----------
        table
            A time-series table.
        t
            Decision time (tz-aware).
        since
            Optional lower bound (exclusive) on ``available_at``.
        **filters
            Equality filters on columns (``venue="binance-usdm", asset="BTC", interval="1h"``).

        Returns
        -------
        pandas.DataFrame
            Sorted by ``available_at``; a slice of a cached frame (do not mutate).
        """
        piece = self._slice(table, filters)
        hi = int(np.searchsorted(piece.available_ns, _to_ns(t, name="t"), side="right"))
        lo = 0
        if since is not None:
            lo = int(np.searchsorted(piece.available_ns, _to_ns(since, name="since"), "right"))
        return piece.frame.iloc[lo:hi]

    def derived_as_of(
        self,
        table: str,
        t: datetime | pd.Timestamp,
        derive: Callable[[pd.DataFrame], P],
        **filters: str,
    ) -> P | None:
        """``derive(as_of(table, t, **filters))`` without deriving again for every ``t``.

        ``derive`` runs once per slice (``table`` and ``filters``) on all its rows, in
        ``available_at`` order, and is kept with the slice (dropped by ``invalidate``); the
        answer is that value cut to the rows known at ``t`` (``prefix``), which is exactly the
        value derived from those rows alone when ``derive`` is causal in the rows' order (each
        output depends on earlier rows only: running sums, recursive filters). ``derive`` must
        be a stable callable (a function or a classmethod: it is the cache key). None when no
        row is known at ``t``.
        """
        piece = self._slice(table, filters)
        n = int(np.searchsorted(piece.available_ns, _to_ns(t, name="t"), side="right"))
        if n == 0:
            return None
        whole: P | None = piece.derived.get(derive)
        if whole is None:
            whole = piece.derived[derive] = derive(piece.frame)
        return whole.prefix(n)

    def markets_as_of(self, t: datetime | pd.Timestamp) -> pd.DataFrame:
        """The ``markets`` table as known at ``t``: resolution fields hidden until ``resolved_at``.

        Markets created after ``t`` are dropped (unknown ``created_at`` is kept).
        """
        t_ns = _to_ns(t, name="t")
        markets = self.read("markets")
        stamp = pd.Timestamp(t_ns, tz="UTC")
        created = markets["created_at"]
        out = markets[created.isna() | (created <= stamp)].copy()
        unresolved = out["resolved_at"].isna() | (out["resolved_at"] > stamp)
        out.loc[unresolved, "winning_outcome"] = pd.NA
        out.loc[unresolved, "resolved_at"] = pd.NaT
        return out.reset_index(drop=True)

    def at(self, t: datetime | pd.Timestamp) -> StoreView:
        """A read-only view of the store fixed at decision time ``t``.

        The same view for the same instant while the store is unchanged (the last
        ``VIEWS_KEPT`` instants), so values derived from it and kept in its ``memo`` are shared
        by everything that prices at that time; ``invalidate`` (every write) drops them.
        """
        stamp = pd.Timestamp(t)
        key = _to_ns(stamp, name="t")
        with self._views_lock:
            view = self._views.get(key)
            if view is None:
                view = StoreView(self, stamp)
                self._views[key] = view
                if len(self._views) > VIEWS_KEPT:
                    self._views.popitem(last=False)
            else:
                self._views.move_to_end(key)
            return view

    # -- identity ----------------------------------------------------------------------------
    def fingerprint(self, tables: list[str] | None = None) -> str:
        """SHA-256 (first 16 hex digits) over the bytes of the given (default: all) tables."""
        digest = hashlib.sha256()
        for name in sorted(tables or self.tables()):
            digest.update(name.encode())
            digest.update(self._file_hash(name).encode())
        return digest.hexdigest()[:16]

    def _file_hash(self, table: str) -> str:
        if table in self._fingerprints:
            return self._fingerprints[table]
        path = self.path_of(table)
        digest = hashlib.sha256()
        if path is not None:
            files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
            for file in files:
                with file.open("rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
        value = digest.hexdigest()
        self._fingerprints[table] = value
        return value

    def invalidate(self, table: str | None = None) -> None:
        """Drop cached frames and views (after a write)."""
        with self._views_lock:
            self._views.clear()  # a view's memo may derive from any table
        if table is None:
            self._tables.clear()
            self._stored.clear()
            self._slices.clear()
            self._codes.clear()
            self._fingerprints.clear()
            self._quarantined.clear()
            return
        self._tables.pop(table, None)
        self._stored.pop(table, None)
        self._quarantined.pop(table, None)
        self._fingerprints.pop(table, None)
        for key in [k for k in self._slices if k[0] == table]:
            del self._slices[key]
        for code_key in [k for k in self._codes if k[0] == table]:
            del self._codes[code_key]

    # -- writing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, *, timeout_secs: float | None = None) -> Iterator[StoreWriter]:
        """Hold the dataset's write lock for the duration of the block (see module docstring).

        Parameters
        ----------
        timeout_secs
            How long to wait for another writer to finish; default ``$LEVERCAST_LOCK_TIMEOUT_SECS``
            or 60 s. ``0`` tries once.

        Raises
        ------
        DataError
            If another writer still holds ``DIR/.levercast.lock`` after the wait, or this thread
            already holds it (a nested writer).
        ConfigError
            If the timeout (argument or environment) is not a finite number >= 0.
        """
        wait_secs = _lock_timeout(timeout_secs)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_NAME
        key = str(path.resolve())
        held: set[str] = _HELD.__dict__.setdefault("paths", set())
        if key in held:
            raise DataError(f"{path} is already held by this thread (nested writer)")
        lock = filelock.FileLock(path, timeout=wait_secs)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise DataError(
                f"another levercast writer holds {path}; waited {wait_secs:g} s for it "
                f"(set {LOCK_TIMEOUT_ENV} to wait longer)"
            ) from None
        held.add(key)
        try:
            self.invalidate()  # merge into what is on disk now, not what was read before
            _remove_orphan_temp_files(self.root)
            writer = StoreWriter(self)
            try:
                yield writer
            finally:
                writer._open = False
        finally:
            held.discard(key)
            lock.release()


def _read_parquet(path: Path) -> pd.DataFrame:
    """``pd.read_parquet(path)``: a single file through pyarrow's file reader, which skips the
    dataset discovery ``pd.read_parquet`` goes through for every file (~9 % of reading the
    shared dataset); a folder of files through pandas. The same frame (tested), but for
    ``attrs``, which validation drops, and for its numeric blocks: one per column, converted
    without the consolidating copy and releasing the Arrow table as they go
    (``split_blocks``, ``self_destruct``: the shared tables in ~43 ms against ~50 ms). A column
    without nulls is then a read-only view of the Arrow buffer, so an in-place write into the
    cached table raises instead of changing what every later read returns."""
    if path.is_dir():
        return pd.read_parquet(path)
    with pq.ParquetFile(path) as file:  # closed here, not whenever the object is collected
        table = file.read(use_pandas_metadata=True)
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _rows_of(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``frame[keep]``; a view of the rows when they are one block (the filters of a slice
    name the leading key columns of a table sorted by key), so that no column is copied (a
    text column's copy is a take per row)."""
    at = np.flatnonzero(keep)
    if at.size and int(at[-1]) - int(at[0]) + 1 == at.size:
        return frame.iloc[int(at[0]) : int(at[-1]) + 1]
    return frame.iloc[at]


def _in_order(available_ns: np.ndarray, ts_ns: np.ndarray) -> bool:
    """Whether rows are sorted by ``available_at``, then ``ts`` (non-decreasing)."""
    a0, a1, t0, t1 = available_ns[:-1], available_ns[1:], ts_ns[:-1], ts_ns[1:]
    return bool(((a1 > a0) | ((a1 == a0) & (t1 >= t0))).all())


def _lock_timeout(timeout_secs: float | None) -> float:
    """The lock wait: the argument, else ``$LEVERCAST_LOCK_TIMEOUT_SECS``, else the default."""
    if timeout_secs is not None:
        return _check_seconds(timeout_secs, name="timeout_secs", shown=repr(timeout_secs))
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT_SECS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    return _check_seconds(value, name=LOCK_TIMEOUT_ENV, shown=repr(text))


def _check_seconds(value: float, *, name: str, shown: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ConfigError(f"{name} must be a finite number of seconds >= 0; found {shown}")
    return float(value)


def _remove_orphan_temp_files(root: Path) -> None:
    """Delete ``.<table>.*.tmp`` files: under the lock, only a killed writer can have left them."""
    for table in TABLES:
        for orphan in root.glob(f".{table}.*{_TMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                orphan.unlink()


def _empty_frame(table: str) -> pd.DataFrame:
    spec = TABLES[table]
    data: dict[str, Any] = {}
    for column, kind in spec.columns.items():
        if kind == "time":
            data[column] = pd.Series([], dtype="datetime64[ns, UTC]")
        elif kind == "str":
            data[column] = pd.Series([], dtype="string")
        elif kind == "int":
            data[column] = pd.Series([], dtype="int64")
        else:
            data[column] = pd.Series([], dtype="float64")
    return pd.DataFrame(data)


class StoreWriter:
    """Idempotent, atomic upserts into a store; obtained from ``Store.writer()`` only and usable
    only inside that block (where the write lock is held)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._open = True

    def upsert(self, table: str, rows: pd.DataFrame) -> int:
        """Insert or replace ``rows`` on the table's key; return the number of rows that changed.

        The batch is validated on its own and merged with the existing table before anything is
        written; on any error the store is unchanged. When nothing changes no file is touched.

        Raises
        ------
        DataError
            Validation failure (of the batch or the merged table), a table kept as a folder
            of parts (levercast writes single-file tables only), or a writer used after its
            ``with`` block ended (the lock is no longer held).
        """
        if not self._open:
            raise DataError(
                f"{table}: this StoreWriter's block has ended and its lock is released; "
                f"write inside `with store.writer() as w:`"
            )
        spec = TABLES.get(table)
        if spec is None:
            raise DataError(f"table must be one of {sorted(TABLES)}; found {table!r}")
        batch = validate_table(table, rows)
        path = self._store.path_of(table)
        if path is not None and path.is_dir():
            raise DataError(
                f"{table}: stored as a folder of parts at {path}; levercast writes single-file "
                f"tables only (merge the parts into {table}.parquet first)"
            )
        # merged into the table as stored: rows the readers quarantine stay on disk
        stored = self._store._validated(table) if path is not None else None
        existing = stored if stored is not None else validate_table(table, _empty_frame(table))
        if batch.empty:
            return 0
        key = list(spec.key)
        merged = pd.concat([existing, batch], ignore_index=True)
        merged = merged.drop_duplicates(key, keep="last")
        merged = validate_table(table, merged)
        merged = merged.sort_values(key, kind="stable").reset_index(drop=True)
        changed = _count_changed(existing, merged, key)
        if changed == 0 and path is not None:
            return 0
        target = self._store.root / f"{table}.parquet"
        _atomic_write_parquet(merged, target)
        self._store.invalidate(table)
        return changed


def _count_changed(before: pd.DataFrame, after: pd.DataFrame, key: list[str]) -> int:
    if before.empty:
        return len(after)
    joined = after.merge(before, on=key, how="left", suffixes=("", "__old"), indicator=True)
    new_rows = int((joined["_merge"] == "left_only").sum())
    both = joined[joined["_merge"] == "both"]
    changed = 0
    for column in [c for c in after.columns if c not in key]:
        old = both[f"{column}__old"]
        new = both[column]
        diff = ~((old == new).fillna(False) | (old.isna() & new.isna()))
        changed_mask = diff.to_numpy(dtype=bool)
        changed = max(changed, int(changed_mask.sum()))
    return new_rows + changed


def _atomic_write_parquet(frame: pd.DataFrame, target: Path) -> None:
    """Write ``target`` through a temporary sibling, fsync it, rename it into place.

    The new file keeps the mode of the file it replaces (a new table gets ``0o666`` less the
    umask, as any file the user creates); the directory is fsynced so the rename survives a crash.
    """
    tmp = target.with_name(f".{target.stem}.{secrets.token_hex(6)}{_TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False, compression="snappy")
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_directory(target.parent)


def _fsync_directory(folder: Path) -> None:
    # Some platforms and filesystems refuse directory fds or their fsync; the rename stands.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class PointInTime(Protocol):
    """What point-in-time readers need: as-of reads by table (``Store`` and ``StoreView``)."""

    def has(self, table: str) -> bool:
        """Whether the dataset holds ``table``."""
        ...

    def as_of(
        self,
        table: str,
        t: datetime | pd.Timestamp,
        *,
        since: datetime | pd.Timestamp | None = None,
        **filters: str,
    ) -> pd.DataFrame:
        """Rows with ``since < available_at <= t``."""
        ...

    def derived_as_of(
        self,
        table: str,
        t: datetime | pd.Timestamp,
        derive: Callable[[pd.DataFrame], P],
        **filters: str,
    ) -> P | None:
        """``derive`` of the rows known at ``t`` (``Store.derived_as_of``)."""
        ...

    def fingerprint(self) -> str:
        """The dataset's fingerprint."""
        ...


class StoreView:
    """The store as known at a fixed decision time ``t``: no read reaches past ``t``.

    There is deliberately no way back to the underlying ``Store`` from a view: code that is
    handed a view (every pricer) cannot read rows that became available after ``t``. Only the
    label reader (``experiments/labels``) and the training-set assembly are given a ``Store``.
    """

    __slots__ = ("_store", "memo", "t")

    def __init__(self, store: Store, t: pd.Timestamp) -> None:
        if t.tzinfo is None:
            raise ConfigError(f"t must be tz-aware UTC; found naive {t.isoformat()}")
        self._store = store
        self.t = t.tz_convert("UTC")
        # Derived values computed from this view (same t, same data) may be memoised here by
        # the code that derives them, e.g. the spot source or volatility of an asset.
        self.memo: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"StoreView({self._store!r}, t={self.t.isoformat()})"

    def has(self, table: str) -> bool:
        """Whether the dataset holds ``table``."""
        return self._store.has(table)

    def table(
        self, table: str, *, since: datetime | pd.Timestamp | None = None, **filters: str
    ) -> pd.DataFrame:
        """Rows with ``since < available_at <= t`` (see ``Store.as_of``)."""
        return self._store.as_of(table, self.t, since=since, **filters)

    def as_of(
        self,
        table: str,
        t: datetime | pd.Timestamp,
        *,
        since: datetime | pd.Timestamp | None = None,
        **filters: str,
    ) -> pd.DataFrame:
        """Rows known at an earlier time ``t <= self.t`` (``Store.as_of``); later ``t`` is refused.

        Raises
        ------
        ConfigError
            When ``t`` is after the view's decision time (a look-ahead).
        """
        self._check_not_after(t)
        return self._store.as_of(table, t, since=since, **filters)

    def _check_not_after(self, t: datetime | pd.Timestamp) -> None:
        if _to_ns(t, name="t") > self.t.value:
            raise ConfigError(
                f"t must be at or before the view's decision time {self.t.isoformat()}; "
                f"found {pd.Timestamp(t).isoformat()} (a read past t is a look-ahead)"
            )

    def derived_as_of(
        self,
        table: str,
        t: datetime | pd.Timestamp,
        derive: Callable[[pd.DataFrame], P],
        **filters: str,
    ) -> P | None:
        """``derive`` of the rows known at an earlier time ``t <= self.t``
        (``Store.derived_as_of``); later ``t`` is refused like ``as_of``."""
        self._check_not_after(t)
        return self._store.derived_as_of(table, t, derive, **filters)

    def markets(self) -> pd.DataFrame:
        """``markets`` as known at ``t`` (see ``Store.markets_as_of``)."""
        return self._store.markets_as_of(self.t)

    def fingerprint(self) -> str:
        """The underlying dataset's fingerprint."""
        return self._store.fingerprint()
