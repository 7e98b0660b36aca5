"""The forward log (INTERFACE.md §6): every live forecast, kept for scoring after resolution.

A live ``scan`` or ``report`` (no ``--at``) appends each priced row to the ``forecasts`` table,
``$LEVERCAST_HOME/forecasts.parquet``; replays never write. One row per (decision time, source,
venue, market id):

``logged_at`` (when written), ``at`` (decision time), ``source`` (``scan``/``report``), ``venue``,
``market_id``, ``question``, ``contract`` (the §3 JSON text), ``yes_outcome``, ``prob``,
``prob_lo``, ``prob_hi``, ``components`` (JSON text), ``prob_bid``, ``prob_ask``,
``quote_observed_at``, ``quote_source``, ``model``, ``model_version`` (``<model>@<git commit>``),
``data_fingerprint``.

Appends are atomic: under ``forecasts.lock`` (exclusive create; a lock of a dead process is
taken over), the table is read, extended, written to a temporary file and renamed into place,
so a reader never sees half a file and a failed append leaves the old file intact.
``read_forecasts`` is the reader behind ``evaluate --forecasts``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pandas as pd

from levercast.experiments.jsonable import to_jsonable
from levercast.experiments.paths import levercast_home
from levercast.features.errors import ConfigError, DataError

__all__ = [
    "FORECAST_COLUMNS",
    "append_forecasts",
    "forecast_contracts",
    "forecasts_path",
    "read_forecasts",
]

TABLE_NAME: Final = "forecasts"
FORECAST_COLUMNS: Final = (
    "logged_at",
    "at",
    "source",
    "venue",
    "market_id",
    "question",
    "contract",
    "yes_outcome",
    "prob",
    "prob_lo",
    "prob_hi",
    "components",
    "prob_bid",
    "prob_ask",
    "quote_observed_at",
    "quote_source",
    "model",
    "model_version",
    "data_fingerprint",
)
_TIMES: Final = ("logged_at", "at", "quote_observed_at")
_FLOATS: Final = ("prob", "prob_lo", "prob_hi", "prob_bid", "prob_ask")
_KEY: Final = ["at", "source", "venue", "market_id"]
_LOCK_WAIT_SECS: Final = 10.0


def forecasts_path(home: Path | None = None) -> Path:
    """``$LEVERCAST_HOME/forecasts.parquet`` (or under ``home``)."""
    return (home if home is not None else levercast_home()) / f"{TABLE_NAME}.parquet"


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    lock = path.with_suffix(".lock")
    deadline = time.monotonic() + _LOCK_WAIT_SECS
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if _holder_dead(lock):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            if time.monotonic() > deadline:
                raise DataError(
                    f"the forward log lock {lock} is held by another process; retry later"
                ) from None
            time.sleep(0.05)
    with os.fdopen(fd, "w") as handle:
        handle.write(str(os.getpid()))
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _holder_dead(lock: Path) -> bool:
    try:
        pid = int(lock.read_text().strip() or "0")
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(FORECAST_COLUMNS))
    for column in FORECAST_COLUMNS:
        if column in _TIMES:
            frame[column] = pd.to_datetime(frame[column], utc=True)
        elif column in _FLOATS:
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
        else:
            frame[column] = frame[column].astype("string")
    return frame


def _record(
    row: Any, *, logged_at: datetime, at: datetime, source: str, fingerprint: str, commit: str
) -> dict[str, Any]:
    return {
        "logged_at": logged_at,
        "at": at,
        "source": source,
        "venue": row.venue,
        "market_id": row.market_id,
        "question": row.question,
        "contract": json.dumps(row.contract.to_json_dict(), sort_keys=True),
        "yes_outcome": row.yes_outcome,
        "prob": row.prob_model,
        "prob_lo": row.prob_lo,
        "prob_hi": row.prob_hi,
        "components": json.dumps(to_jsonable(dict(row.components)), sort_keys=True),
        "prob_bid": row.prob_bid,
        "prob_ask": row.prob_ask,
        "quote_observed_at": row.quote_observed_at,
        "quote_source": row.quote_source,
        "model": row.model,
        "model_version": f"{row.model}@{commit[:12]}",
        "data_fingerprint": fingerprint,
    }


def append_forecasts(
    rows: Sequence[Any],
    *,
    at: datetime,
    source: str,
    data_fingerprint: str,
    home: Path | None = None,
    commit: str | None = None,
) -> int:
    """Append priced scan rows (``experiments.scanning.scan.ScanRow``) to the forward log.

    Parameters
    ----------
    rows
        Priced rows; each needs ``venue``, ``market_id``, ``contract``, ``prob_model``, ...
    at
        The (live) decision time; ``logged_at`` is the wall-clock time of the append. A row
        logged again for the same (at, source, venue, market id) replaces the earlier one.
    source
        ``scan`` or ``report``.
    data_fingerprint
        The store fingerprint the forecasts were made from.
    home
        Where the log lives (default ``$LEVERCAST_HOME``).
    commit
        Code version (default: the checkout's git commit).

    Returns
    -------
    int
        Rows appended.

    Raises
    ------
    ConfigError
        A naive ``at`` or an unknown ``source``.
    DataError
        The lock is held by another live process for more than 10 s.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ConfigError(f"at must be tz-aware UTC; found naive {at.isoformat()}")
    if source not in ("scan", "report"):
        raise ConfigError(f"source must be 'scan' or 'report'; found {source!r}")
    if not rows:
        return 0
    if commit is None:
        from levercast.experiments.tracking import git_commit

        commit = git_commit()
    stamp = at.astimezone(UTC)
    written = datetime.now(UTC)
    records = [
        _record(
            r,
            logged_at=written,
            at=stamp,
            source=source,
            fingerprint=data_fingerprint,
            commit=commit,
        )
        for r in rows
    ]
    batch = _frame(records)
    path = forecasts_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock(path):
        existing = read_forecasts(home) if path.exists() else None
        merged = batch if existing is None else pd.concat([existing, batch], ignore_index=True)
        merged = merged.drop_duplicates(_KEY, keep="last").reset_index(drop=True)
        _atomic_write(merged, path)
    return len(batch)


def _atomic_write(frame: pd.DataFrame, target: Path) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        frame.to_parquet(tmp, index=False)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def read_forecasts(home: Path | None = None) -> pd.DataFrame:
    """The forward log (columns ``FORECAST_COLUMNS``; empty when nothing was logged).

    Rows no live run can have written are excluded with one ``QuarantineWarning`` naming each
    rule and its count: ``prob`` missing or outside [0, 1], a band (``prob_lo``/``prob_hi``) or
    a quote outside [0, 1], no decision time, a contract that is not a valid §3 JSON text.

    Raises
    ------
    DataError
        The file exists but cannot be read (truncated, not Parquet), lacks columns of the log,
        or holds columns of the wrong type.
    """
    path = forecasts_path(home)
    if not path.exists():
        return _frame([])
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(
            f"{path}: forward log cannot be read (truncated or not Parquet: "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); move it aside "
            f"and the next live scan or report starts a new one"
        ) from e
    missing = [c for c in FORECAST_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: forward log must have columns {missing}; found {list(frame)}")
    frame = frame[list(FORECAST_COLUMNS)].reset_index(drop=True)
    for column in _FLOATS:
        if frame[column].dtype == object and frame[column].isna().all():
            frame[column] = frame[column].astype(float)  # a column logged all-null
        if not pd.api.types.is_numeric_dtype(frame[column].dtype):
            raise DataError(
                f"{path}: forward log column {column} must be numeric; found dtype "
                f"{frame[column].dtype}"
            )
    for column in _TIMES:
        if frame[column].dtype == object and frame[column].isna().all():
            frame[column] = pd.to_datetime(frame[column], utc=True)  # a column logged all-null
        if not isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            raise DataError(
                f"{path}: forward log column {column} must hold tz-aware timestamps; found "
                f"dtype {frame[column].dtype}"
            )
    return _exclude_bad_rows(path, frame)


def _exclude_bad_rows(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    import warnings

    import numpy as np

    from levercast.features.dataset.sanity import QuarantineWarning
    from levercast.models.contracts import Contract

    def unit(column: str, *, required: bool) -> np.ndarray:
        values = frame[column].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            inside = (values >= 0.0) & (values <= 1.0)
        return ~inside if required else ~(inside | np.isnan(values))

    def bad_contract(text: Any) -> bool:
        try:
            Contract.from_json_text(str(text))
        except (ConfigError, ValueError, TypeError):
            return True
        return False

    rules = {
        "prob missing or outside [0, 1]": unit("prob", required=True),
        "prob_lo or prob_hi outside [0, 1]": (
            unit("prob_lo", required=False) | unit("prob_hi", required=False)
        ),
        "prob_bid or prob_ask outside [0, 1]": (
            unit("prob_bid", required=False) | unit("prob_ask", required=False)
        ),
        "no decision time (at)": frame["at"].isna().to_numpy(dtype=bool),
        "contract not a valid contract JSON": np.array(
            [bad_contract(t) for t in frame["contract"]], dtype=bool
        ),
    }
    bad = np.zeros(len(frame), dtype=bool)
    counts = {}
    for reason, mask in rules.items():
        if mask.any():
            counts[reason] = int(mask.sum())
            bad |= mask
    if not counts:
        return frame
    detail = "; ".join(f"{reason}: {n}" for reason, n in counts.items())
    warnings.warn_explicit(  # no source line: one line on stderr
        f"{path}: excluded {int(bad.sum())} of {len(frame)} forward-log row(s) ({detail})",
        QuarantineWarning,
        filename="levercast",
        lineno=0,
        module=__name__,
    )
    return frame[~bad].reset_index(drop=True)


def forecast_contracts(frame: pd.DataFrame) -> list[Any]:
    """The ``models.contracts.Contract`` of each logged row (for scoring after resolution)."""
    from levercast.models.contracts import Contract

    return [Contract.from_json_text(str(text)) for text in frame["contract"]]
