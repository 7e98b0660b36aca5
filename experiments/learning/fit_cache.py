"""The cache of fitted forecasters in ``$LEVERCAST_HOME/models``: names, the reuse rule, I/O.

A fit is one pickle file named by what it was fitted on::

    forecaster-<layout>-<code>-<data dir>-<fingerprint>-<assets>-<config digest>-<cut>.pkl

(``<code>``: ``code_digest``, of the levercast source and the numerical libraries' versions,
so that a fit made by other code, whose features or labels may be computed differently, is
never used to answer; ``<data dir>``: a digest of the dataset directory's resolved path;
``<fingerprint>``: ``Store.fingerprint()``; ``<config digest>``: of ``TrainingConfig.key()``;
``<cut>``: the training cut, ``:`` written ``_``). The layout version changes whenever the
pickled classes change, so an older file is never matched; a file that does not load as a
``FittedForecaster`` is ignored.
Fits are stored lean (``models.learned.lean``: the classifiers as arrays, from v5; v6 pads the
trees so that all are walked at once; v7 writes a plain pickle, protocol 5, instead of a
joblib file: loading it imports nothing beyond the fit's own classes, 60 ms less per answer; v8:
the calibrators are Platt sigmoids or isotonic regressions of the base's response, no longer
``CalibratedClassifierCV`` objects, in the non-lean forms; v9: the sigmoids are
``PlattSigmoid``, fitted the same on any number of cores, no longer scikit-learn's private
``_SigmoidCalibration``; v10: pricing fits' names carry the code digest).

Reuse rule (``usable_fits``): a cached fit of the same assets and of one of the accepted
configurations is usable at ``T`` when its labels all resolved by ``T`` (``cut + purge <= T``,
INTERFACE.md §5) and its cut is at most ``max_age_days`` (default ``MAX_REUSE_DAYS`` = 30) older
than the newest possible cut, ``floor_day(T - purge)``: beyond that the data since the cut is
judged too much to ignore and the caller refits. Preference: a fit of the current data
fingerprint first (the newest cut, then the configuration order given), then a fit made from an
earlier state of the same data directory (a live store gains rows and changes its fingerprint
with every fetch; a fit made before only knew less, it never saw the future of its cut). A fit
of another directory is never used.

Walk-forward refits of backtests and the evaluation (``walk_forward_path``, ``save_walk_forward``,
``load_walk_forward``) are kept beside them as ``walkforward-*.pkl``, whole, and are reused only
as the very same refit: their names add the seed and they have no reuse window. The pricing
reuse rule above never reads them. ``prune_cache`` removes what will not be read again: kept
refits neither written nor read for ``KEEP_IDLE_DAYS`` (30), and pricing and liquidation fits
of other code untouched as long; backtests and evaluations that keep refits and every new
pricing fit call it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import pandas as pd

import levercast.experiments
import levercast.features
import levercast.markets
import levercast.models
from levercast.experiments.paths import levercast_home
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.models.learned.design import TrainingConfig
from levercast.models.learned.forecaster import FittedForecaster

__all__ = [
    "CACHE_VERSION",
    "MAX_REUSE_DAYS",
    "CachedFit",
    "cache_path",
    "code_digest",
    "config_digest",
    "data_key",
    "load_fit",
    "load_walk_forward",
    "prune_cache",
    "save_fit",
    "save_walk_forward",
    "single_threaded",
    "usable_fits",
    "walk_forward_path",
]

# Bumped whenever the pickled classes or the file names change: older files are never matched.
CACHE_VERSION: Final = "v10"
MAX_REUSE_DAYS: Final = 30.0
# Cache files that will not be read again are removed after this long idle (prune_cache).
KEEP_IDLE_DAYS: Final = 30.0
_NAME: Final = re.compile(
    rf"^forecaster-{CACHE_VERSION}-(?P<code>[0-9a-f]+)-(?P<root>[0-9a-f]+)-"
    r"(?P<fingerprint>[0-9a-f]+)-(?P<assets>[A-Za-z0-9+]+)-(?P<digest>[0-9a-f]+)-(?P<cut>.+)\.pkl$"
)


@dataclass(frozen=True, slots=True)
class CachedFit:
    """One cached fit, read from its file name.

    Attributes
    ----------
    path
        The pickle file.
    fingerprint
        Data fingerprint of the store it was fitted on.
    cut
        Its training cut.
    config
        The accepted configuration whose digest the name carries.
    same_data
        Whether ``fingerprint`` is the store's current one.
    """

    path: Path
    fingerprint: str
    cut: pd.Timestamp
    config: TrainingConfig
    same_data: bool


def data_key(store: Store) -> str:
    """A short digest of the dataset directory (its resolved path)."""
    return hashlib.sha256(str(Path(store.root).resolve()).encode()).hexdigest()[:10]


def config_digest(config: TrainingConfig) -> str:
    """A short digest of ``config.key()``."""
    return hashlib.sha256(config.key().encode()).hexdigest()[:10]


def _cache_dir() -> Path:
    path = levercast_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_path(
    store: Store, assets: Sequence[str], config: TrainingConfig, cut: pd.Timestamp
) -> Path:
    """Where the fit of ``assets`` with ``config`` at ``cut`` on ``store`` (as it is now) lives."""
    stamp = pd.Timestamp(cut).isoformat().replace(":", "_")
    name = (
        f"forecaster-{CACHE_VERSION}-{code_digest()}-{data_key(store)}-{store.fingerprint()}-"
        f"{'+'.join(assets)}-{config_digest(config)}-{stamp}.pkl"
    )
    return _cache_dir() / name


def usable_fits(
    store: Store,
    *,
    assets: Sequence[str],
    at: pd.Timestamp,
    configs: Sequence[TrainingConfig],
    max_age_days: float = MAX_REUSE_DAYS,
) -> list[CachedFit]:
    """Cached fits usable at ``at``, best first (module docstring: the reuse rule).

    Parameters
    ----------
    store
        The dataset now (its directory and fingerprint).
    assets
        The assets the fit must have been trained on (exactly).
    at
        The decision time (tz-aware).
    configs
        Accepted configurations, preferred in this order at an equal cut.
    max_age_days
        Largest age of a cut behind ``floor_day(at - purge)``.
    """
    at = pd.Timestamp(at)
    by_digest = {config_digest(c): (i, c) for i, c in reversed(list(enumerate(configs)))}
    root, current, wanted = data_key(store), store.fingerprint(), "+".join(assets)
    max_age = pd.Timedelta(days=max_age_days)
    found: list[tuple[tuple[bool, pd.Timestamp, int], CachedFit]] = []
    for path in _cache_dir().glob(f"forecaster-{CACHE_VERSION}-{code_digest()}-{root}-*.pkl"):
        match = _NAME.match(path.name)
        if match is None or match["assets"] != wanted or match["digest"] not in by_digest:
            continue
        try:
            cut = pd.Timestamp(match["cut"].replace("_", ":"))
        except ValueError:
            continue
        order, config = by_digest[match["digest"]]
        newest = (at - config.purge).floor("D")
        if cut.tzinfo is None or cut + config.purge > at or newest - cut > max_age:
            continue
        same = match["fingerprint"] == current
        fit = CachedFit(path, match["fingerprint"], cut, config, same)
        found.append(((same, cut, -order), fit))
    found.sort(key=lambda item: item[0], reverse=True)
    return [fit for _, fit in found]


def single_threaded(fitted: FittedForecaster) -> FittedForecaster:
    """``fitted`` with its LightGBM models set to predict on one thread (in place; returned).

    Pricing predicts a few dozen rows at a time, dozens of times per answer: LightGBM's OpenMP
    pool costs more than the work then (measured on a busy 2-core machine: 21 ms per
    ``predict_proba`` of 20 rows with 2 threads, 2 ms with 1). The calibrators read the
    base model's response, so setting it once covers them.
    """
    for part in (fitted, fitted.companion):
        if part is None:
            continue
        base: Any = getattr(part.lightgbm, "base_estimator_", None)
        if base is not None and "n_jobs" in base.get_params():
            base.set_params(n_jobs=1)
    return fitted


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> FittedForecaster | None:
    try:
        with path.open("rb") as f:
            fitted = pickle.load(f)  # a file this process family wrote (save_fit), never a download
    except Exception:  # an unreadable or foreign pickle is refitted, never trusted
        return None
    return single_threaded(fitted) if isinstance(fitted, FittedForecaster) else None


def load_fit(path: Path) -> FittedForecaster | None:
    """The fit in ``path``, or None when the file is missing, unreadable or not a fit of this
    layout. Loaded fits are kept in memory (8 files, keyed by path and modification time), so a
    notebook pricing many questions reads a file once."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _load(path, mtime)


def save_fit(fitted: FittedForecaster, path: Path) -> None:
    """Write ``fitted`` to ``path`` atomically (a temporary file, then a rename), its
    classifiers in their lean form (``FittedForecaster.lean``): loading it to price imports
    neither scikit-learn nor LightGBM (about 2 s of a warm answer on a 2-core machine)."""
    _write(fitted.lean(), path)


def _write(fitted: FittedForecaster, path: Path) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
    try:
        with tmp.open("wb") as f:
            pickle.dump(fitted, f, protocol=5)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@functools.cache
def code_digest() -> str:
    """A short digest of what a fit is computed by besides its data: the source of every
    levercast layer (an edit anywhere, even one that cannot change a fit, gives new names),
    the Python version and the versions of the numerical libraries the fit runs through."""
    digest = hashlib.sha256(sys.version.encode())
    for name in ("lightgbm", "scikit-learn", "numpy", "pandas", "scipy", "pyarrow"):
        digest.update(f"{name}=={metadata.version(name)};".encode())
    for package in (
        levercast.features,
        levercast.models,
        levercast.markets,
        levercast.experiments,
    ):
        root = Path(str(package.__file__)).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package.__name__}/{path.relative_to(root).as_posix()}".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:10]


def walk_forward_path(
    store: Store, assets: Sequence[str], config: TrainingConfig, cut: pd.Timestamp, seed: int
) -> Path:
    """Where a walk-forward refit (``experiments.backtest.walk_forward``: no logistic variant,
    no liquidation model) of ``assets`` with ``config`` and ``seed`` at ``cut`` on ``store`` (as
    it is now) is kept: ``walkforward-<layout>-<code>-<data dir>-<fingerprint>-<assets>-<config
    digest>-s<seed>-<cut>.pkl``. The name holds everything the fit is a function of (the data,
    the settings, the code and libraries: ``code_digest``), so a file found is the fit a new
    one would be; the pricing cache never reads these."""
    stamp = pd.Timestamp(cut).isoformat().replace(":", "_")
    name = (
        f"walkforward-{CACHE_VERSION}-{code_digest()}-{data_key(store)}-{store.fingerprint()}-"
        f"{'+'.join(assets)}-{config_digest(config)}-s{int(seed)}-{stamp}.pkl"
    )
    return _cache_dir() / name


def save_walk_forward(fitted: FittedForecaster, path: Path) -> None:
    """Write a walk-forward refit to ``path`` atomically and whole. Not lean: the lean trees
    (``models.learned.lean``) give LightGBM's predictions bit for bit but walk a backtest's
    batches ~5x slower than LightGBM (7.2 s against 1.5 s for the 13 refits of a 12-month
    BTC backtest, serial), more than the ~1.3 s of importing scikit-learn and LightGBM they
    save."""
    _write(fitted, path)


def load_walk_forward(path: Path) -> FittedForecaster | None:
    """The walk-forward refit in ``path``, or None when missing, unreadable or not a fit."""
    try:
        with path.open("rb") as f:
            fitted = pickle.load(f)  # written by save_walk_forward in this home, never a download
    except Exception:  # missing, truncated or foreign: refitted, never trusted
        return None
    if not isinstance(fitted, FittedForecaster):
        return None
    with contextlib.suppress(OSError):  # a read-only home still reads
        os.utime(path)  # in use: prune_walk_forward keeps it
    return fitted


def prune_cache(max_idle_days: float = KEEP_IDLE_DAYS, *, now: float | None = None) -> int:
    """Remove from ``$LEVERCAST_HOME/models`` what will not be read again once idle for
    ``max_idle_days`` (by modification time); the number of files removed.

    - kept walk-forward refits neither written nor read (``load_walk_forward`` refreshes a
      file's time): refits of other code or of another state of the data never match again,
      and without this the folder grows by a backtest's refits (~290 kB each) after every
      upgrade or data refresh;
    - pricing fits (``forecaster-*``) and liquidation fits (``liquidations-*``) whose name does
      not carry the current ``code_digest``: they are never used again. Those of the current
      code stay, whatever their age: they answer questions asked at earlier times.

    ``walk_forward_run`` calls it when it keeps refits, and every new pricing fit does.
    """
    if max_idle_days < 0:
        raise ConfigError(f"max_idle_days must be >= 0; found {max_idle_days}")
    cutoff = (time.time() if now is None else now) - max_idle_days * 86400.0
    current = f"-{code_digest()}-"
    removed = 0
    for path in _cache_dir().iterdir():
        name = path.name
        fit = name.startswith(("forecaster-", "liquidations-"))
        if not (fit or name.startswith("walkforward-")) or (fit and current in name):
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:  # removed by another process meanwhile, or not ours to remove
            continue
    return removed
