"""MLflow tracking of backtest and evaluate runs, with results saved locally first.

Every run is written to ``$LEVERCAST_HOME/runs/<stamp>-<name>/`` (``run.json`` plus artifacts)
before MLflow is touched, so a logging failure never loses the computed results. Tracking goes to
``$MLFLOW_TRACKING_URI`` when set, else ``sqlite:///$LEVERCAST_HOME/mlflow.db``. Tags always
include ``data_fingerprint``, ``git_commit`` and ``seed``; params are the command's config.

MLflow artifacts go under ``$LEVERCAST_HOME/mlartifacts/<experiment>/`` (issue 22): MLflow's own
default artifact root for a database or file store is ``./mlruns`` in the working directory, so
levercast creates its experiments with that location (a tracking server keeps its own). An
experiment created earlier with a location outside ``$LEVERCAST_HOME`` is left alone and runs go
to ``<experiment>-home`` instead.

Logging never fails the command (issue 19):
- Commands on one ``$LEVERCAST_HOME`` take turns: MLflow is called under a lock on
  ``$LEVERCAST_HOME/.mlflow.lock`` (two processes creating ``mlflow.db`` at once broke its schema
  migration). A failed attempt is retried (``MLFLOW_ATTEMPTS``, with backoff), and a run that
  could not be logged gets a ``.pending`` marker (holding the error) in its folder; the next
  command that logs successfully logs up to ``PENDING_PER_CALL`` pending runs after its own,
  oldest first, each under the lock so that no run is logged twice.
- MLflow's own HTTP retries are bounded unless configured (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
  1, ``MLFLOW_HTTP_REQUEST_TIMEOUT`` 10 s), so a dead server costs seconds, not minutes.
- Anything MLflow prints (its "View run" lines go to stdout) is sent to stderr, and every message
  is scrubbed: a tracking URI with credentials (``https://user:pass@host``, ``?token=``) is never
  printed. Secrets never reach MLflow: params whose names look secret are refused.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import filelock

from levercast.experiments.jsonable import to_jsonable
from levercast.experiments.paths import levercast_home
from levercast.features.redaction import one_line, scrub

__all__ = [
    "MLFLOW_ATTEMPTS",
    "PENDING_PER_CALL",
    "RunLog",
    "RunRecord",
    "git_commit",
    "log_backtest",
    "log_evaluation",
    "log_model",
    "log_pending_runs",
    "log_report",
    "log_run",
    "tracking_uri",
]

_SECRET = re.compile(r"(key|token|secret|password|signature)", re.IGNORECASE)
_REPO = Path(__file__).resolve().parents[1]
MLFLOW_ATTEMPTS: Final = 3
PENDING_PER_CALL: Final = 5
_LOCK_NAME: Final = ".mlflow.lock"
_LOCK_TIMEOUT_SECS: Final = 120.0  # a first sqlite migration takes ~10 s; a few may queue
_PENDING: Final = ".pending"
_ARTIFACTS_DIR: Final = "mlartifacts"
_SERVER_SCHEMES: Final = frozenset({"http", "https", "databricks", "databricks-uc", "uc"})
_BACKOFF_SECS: Final = 1.0
_MLFLOW_HTTP_DEFAULTS: Final = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What one run logs.

    Attributes
    ----------
    experiment
        MLflow experiment name (``levercast-backtest``, ``levercast-evaluate``...).
    run_name
        Short run name.
    params
        The command's config (flat or nested; nested keys are joined with dots).
    tags
        Must include ``data_fingerprint`` and ``seed``; ``git_commit`` is added.
    metrics
        Finite numbers; NaN/None are skipped.
    artifacts
        Name -> existing file path to attach.
    """

    experiment: str
    run_name: str
    params: Mapping[str, Any]
    tags: Mapping[str, str]
    metrics: Mapping[str, float | None]
    artifacts: Mapping[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for required in ("data_fingerprint", "seed"):
            if required not in self.tags:
                raise ValueError(f"tags must include {required!r}; found {sorted(self.tags)}")
        for key in _flatten(self.params):
            if _SECRET.search(key):
                raise ValueError(f"params must not carry secrets; found parameter {key!r}")


@dataclass(frozen=True, slots=True)
class RunLog:
    """Where a run went: the local folder always, the MLflow run id when logging worked.

    ``tracking_uri`` is scrubbed of credentials (it is for display).
    """

    saved_to: Path
    run_id: str | None
    tracking_uri: str
    error: str | None = None


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else ``sqlite:///$LEVERCAST_HOME/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(levercast_home() / 'mlflow.db').resolve()}"


def git_commit() -> str:
    """The checkout's HEAD commit, or ``unknown``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=_REPO,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            text = json.dumps(to_jsonable(value)) if not isinstance(value, str) else value
            out[name] = text[:500]
    return out


def _save_local(record: RunRecord) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", record.run_name)[:60]
    folder = levercast_home() / "runs" / f"{stamp}-{os.getpid()}-{safe}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in record.artifacts.items():
        shutil.copy2(path, folder / name)
    doc = {
        "experiment": record.experiment,
        "run_name": record.run_name,
        "params": _flatten(record.params),
        "tags": {**record.tags, "git_commit": git_commit()},
        "metrics": to_jsonable(dict(record.metrics)),
        "artifacts": sorted(record.artifacts),
    }
    tmp = folder / "run.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(folder / "run.json")
    return folder


# -- talking to MLflow -----------------------------------------------------------------------------
class _ScrubRecords(logging.Filter):
    """Scrubs every record a handler emits while MLflow is being called."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


@contextlib.contextmanager
def _mlflow_output_scrubbed() -> Iterator[None]:
    """MLflow's stdout (its "View run" lines) goes to stderr, its logs and prints scrubbed."""
    handlers = [h for name in ("mlflow", "alembic", "urllib3", "") for h in _handlers(name)]
    scrubber = _ScrubRecords()
    for handler in handlers:
        handler.addFilter(scrubber)
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for handler in handlers:
            handler.removeFilter(scrubber)
        if buffer.getvalue():
            sys.stderr.write(scrub(buffer.getvalue()))


def _handlers(name: str) -> list[logging.Handler]:
    return list(logging.getLogger(name or None).handlers)


def _error_text(error: BaseException) -> str:
    first = str(error).splitlines()[0] if str(error).strip() else ""
    return one_line(scrub(f"{type(error).__name__}: {first}"), 240)


def _retrying(action: Callable[[], T], *, attempts: int, rng: random.Random) -> T:
    """``action()``, retried with backoff; the last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        # MLflow's store layers raise MlflowException, requests', SQLAlchemy's and alembic's
        # errors, OSError and more; logging runs after the results are saved locally, so any
        # failure here is retried and then reported, never allowed to fail the command.
        except Exception:
            if attempt == attempts:
                raise
            time.sleep(rng.uniform(0.5, 1.0) * _BACKOFF_SECS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _server_managed(uri: str) -> bool:
    """Whether a tracking server stores the artifacts (else the client writes them locally)."""
    return uri.split(":", 1)[0].lower() in _SERVER_SCHEMES


def _inside_home(location: str) -> bool:
    path = Path(location[len("file://") :] if location.startswith("file://") else location)
    if ":" in location and not location.startswith("file:"):
        return False  # another scheme (s3:, mlflow-artifacts:, ...)
    home = levercast_home().resolve()
    return path.is_absolute() and path.resolve().is_relative_to(home)


def _use_experiment(name: str, uri: str) -> None:
    """Make ``name`` the active experiment, its artifacts under ``$LEVERCAST_HOME/mlartifacts``
    (module docstring); creates it when missing."""
    import mlflow

    if not _server_managed(uri):
        found = mlflow.get_experiment_by_name(name)
        if found is not None and not _inside_home(found.artifact_location):
            name = f"{name}-home"  # an experiment of an older release: artifacts outside home
            found = mlflow.get_experiment_by_name(name)
        if found is None:
            location = (levercast_home() / _ARTIFACTS_DIR / name).resolve().as_uri()
            mlflow.create_experiment(name, artifact_location=location)
    mlflow.set_experiment(name)


def _log_folder(folder: Path, uri: str) -> str:
    """Log one saved run folder to MLflow; return the run id (a half-logged run is deleted)."""
    import mlflow

    doc = json.loads((folder / "run.json").read_text())
    mlflow.set_tracking_uri(uri)
    _use_experiment(doc["experiment"], uri)
    run_id: str | None = None
    try:
        with mlflow.start_run(run_name=doc["run_name"]) as run:
            run_id = run.info.run_id
            mlflow.log_params(doc["params"])
            mlflow.set_tags(doc["tags"])
            metrics = {
                k: float(v)
                for k, v in doc["metrics"].items()
                if isinstance(v, int | float) and v == v and abs(float(v)) != float("inf")
            }
            mlflow.log_metrics(metrics)
            if doc["artifacts"]:
                for name in ["run.json", *doc["artifacts"]]:
                    mlflow.log_artifact(str(folder / name))
    except BaseException:
        if run_id is not None:
            with contextlib.suppress(Exception):  # best effort: the retry logs a fresh run
                mlflow.MlflowClient(tracking_uri=uri).delete_run(run_id)
        raise
    with contextlib.suppress(FileNotFoundError):
        (folder / _PENDING).unlink()
    assert run_id is not None
    return run_id


def _pending_folders(exclude: Path | None = None) -> list[Path]:
    runs = levercast_home() / "runs"
    if not runs.is_dir():
        return []
    found = sorted(p.parent for p in runs.glob(f"*/{_PENDING}") if (p.parent / "run.json").exists())
    return [f for f in found if f != exclude]


@contextlib.contextmanager
def _mlflow_turn() -> Iterator[None]:
    """Hold ``$LEVERCAST_HOME/.mlflow.lock`` (commands on one home log one at a time)."""
    lock = filelock.FileLock(levercast_home() / _LOCK_NAME, timeout=_LOCK_TIMEOUT_SECS)
    with lock:
        yield


def _prepare_mlflow_env() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow's INFO lines ("Creating initial MLflow database tables...") are not for people
    # waiting on a levercast command; its warnings and errors still show. Read at its import.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name, value in _MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


def log_run(record: RunRecord) -> RunLog:
    """Save the run locally, then log it (and earlier pending runs) to MLflow; never raises
    for a logging failure, which is reported on stderr with the folder that keeps the run."""
    folder = _save_local(record)
    uri = tracking_uri()
    shown = scrub(uri)
    _prepare_mlflow_env()
    rng = random.Random()
    try:
        import mlflow  # noqa: F401  (its loggers exist before their output is scrubbed)

        with _mlflow_output_scrubbed(), _mlflow_turn():
            run_id = _retrying(lambda: _log_folder(folder, uri), attempts=MLFLOW_ATTEMPTS, rng=rng)
            _log_pending(uri, exclude=folder)
    except filelock.Timeout:
        message = f"another levercast command held {levercast_home() / _LOCK_NAME} for too long"
        return _kept(folder, shown, message)
    # See _retrying: every failure of MLflow's layers is reported, not raised.
    except Exception as e:
        return _kept(folder, shown, _error_text(e))
    return RunLog(folder, run_id, shown)


def _kept(folder: Path, shown_uri: str, message: str) -> RunLog:
    (folder / _PENDING).write_text(message + "\n")  # the next command's turn logs it
    print(
        f"levercast: MLflow logging to {shown_uri} failed ({message}); results kept in {folder} "
        f"(the next command that reaches MLflow logs them)",
        file=sys.stderr,
    )
    return RunLog(folder, None, shown_uri, message)


def _log_pending(uri: str, *, exclude: Path | None, limit: int = PENDING_PER_CALL) -> int:
    """Log up to ``limit`` pending runs once each (oldest first); stop at the first failure."""
    logged = 0
    for folder in _pending_folders(exclude)[:limit]:
        if not (folder / _PENDING).exists():  # logged by another command since the listing
            continue
        try:
            _log_folder(folder, uri)
        # See _retrying: a pending run stays pending on any MLflow failure.
        except Exception as e:
            message = f"levercast: pending run {folder} not logged yet ({_error_text(e)})"
            print(message, file=sys.stderr)
            break
        logged += 1
    return logged


def log_pending_runs(limit: int = 1000) -> int:
    """Log runs whose MLflow logging failed earlier; return how many were logged."""
    _prepare_mlflow_env()
    uri = tracking_uri()
    import mlflow  # noqa: F401  (its loggers exist before their output is scrubbed)

    try:
        with _mlflow_output_scrubbed(), _mlflow_turn():
            return _log_pending(uri, exclude=None, limit=limit)
    except filelock.Timeout:
        return 0


def log_model(
    model: Any, *, name: str, training_cut: datetime, tags: Mapping[str, str] | None = None
) -> str | None:
    """Log and register a fitted model under a stable ``name`` with its training cut as a tag.

    LightGBM boosters use ``mlflow.lightgbm``; everything else ``mlflow.sklearn`` (cloudpickle,
    since skops refuses LightGBM types). Explicit pip requirements skip the slow inference step.
    Returns the model URI, or None when logging failed (reported on stderr, scrubbed).
    """
    _prepare_mlflow_env()
    import mlflow

    cut = training_cut.astimezone(UTC).isoformat()

    def register() -> str:
        mlflow.set_tracking_uri(tracking_uri())
        _use_experiment("levercast-models", tracking_uri())
        with mlflow.start_run(run_name=f"{name}@{cut}"):
            mlflow.set_tags({"training_cut": cut, **(tags or {})})
            if type(model).__module__.startswith("lightgbm"):
                info = mlflow.lightgbm.log_model(
                    model, name="model", registered_model_name=name, pip_requirements=["lightgbm"]
                )
            else:
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    registered_model_name=name,
                    serialization_format="cloudpickle",
                    pip_requirements=["scikit-learn"],
                )
        client = mlflow.MlflowClient()
        version = info.registered_model_version
        if version is not None:
            client.set_model_version_tag(name, str(version), "training_cut", cut)
        return str(info.model_uri)

    try:
        with _mlflow_output_scrubbed(), _mlflow_turn():
            return _retrying(register, attempts=MLFLOW_ATTEMPTS, rng=random.Random())
    # See _retrying: a model that cannot be registered is reported, never raised.
    except Exception as e:
        print(f"levercast: model logging failed ({_error_text(e)})", file=sys.stderr)
        return None


# -- runs built from result objects (the commands only call these) ------------------------------
_BACKTEST_FORECAST_COLUMNS: Final = (
    "decision_time",
    "kind",
    "horizon",
    "z",
    "direction",
    "strike_usd",
    "lower_usd",
    "upper_usd",
    "threshold",
    "spot_usd",
    "vol_annual",
    "spot_venue",
    "outcome",
)


def backtest_metrics(doc: Mapping[str, Any]) -> dict[str, float | None]:
    """MLflow metrics of a backtest's JSON (INTERFACE.md §4: the metrics of the JSON output)."""
    out: dict[str, float | None] = {
        "n_forecasts": doc["n_forecasts"],
        "n_days": doc["n_days"],
        "n_dropped": doc["n_dropped"],
    }
    for name, m in doc["models"].items():
        for key in ("brier", "log_loss", "ece"):
            out[f"{key}_{name}"] = m[key]
    for name, s in doc["skill_vs_gbm"].items():
        out[f"skill_vs_gbm_{name}"] = s["value"]
    return out


def evaluation_metrics(doc: Mapping[str, Any]) -> dict[str, float | None]:
    """MLflow metrics of an evaluation's JSON."""
    out: dict[str, float | None] = {"markets": doc["markets"], "observations": doc["observations"]}
    for key in ("brier", "log_loss"):
        for s, v in doc.get(key, {}).items():
            out[f"{key}_{s}"] = v
    for s, v in doc.get("skill_vs_market", {}).items():
        out[f"skill_vs_market_{s}"] = v["value"]
    trading = doc.get("trading", {})
    for key in ("trades", "hit_rate", "pnl_per_dollar", "max_drawdown_usd"):
        if key in trading:
            out[f"trading_{key}"] = trading[key]
    return out


def log_backtest(
    result: Any, *, fingerprint: str, seed: int, folder: Path, plots: Mapping[str, Path] = {}
) -> RunLog:
    """Log a ``BacktestResult``: its config as params, the JSON's metrics, the forecasts as a
    Parquet file written into ``folder`` and any ``plots`` given (name -> PNG).

    Parquet, not CSV: a year of hourly forecasts is ~140k rows, which took ~2 s to format as
    text (most of a gbm backtest's own time) and ~0.05 s to write typed, read back with
    ``pd.read_parquet`` with its times and floats exact."""
    doc = result.to_json_dict()
    frame = result.to_frame()
    columns = [c for c in _BACKTEST_FORECAST_COLUMNS if c in frame.columns]
    columns += [c for c in frame.columns if c.startswith("prob_")]
    forecasts = folder / "forecasts.parquet"
    frame[columns].to_parquet(forecasts, index=False)
    record = RunRecord(
        experiment="levercast-backtest",
        run_name=f"backtest-{result.config.asset}",
        params=result.config.to_json_dict(),
        tags={"data_fingerprint": fingerprint, "seed": str(seed)},
        metrics=backtest_metrics(doc),
        artifacts={"forecasts.parquet": forecasts, **plots},
    )
    return log_run(record)


def log_evaluation(
    result: Any,
    *,
    params: Mapping[str, Any],
    fingerprint: str,
    seed: int,
    folder: Path,
    plots: Mapping[str, Path] = {},
) -> RunLog:
    """Log an ``EvaluationResult``: ``params`` (the command's config), the JSON's metrics, the
    observations as a Parquet file written into ``folder`` and any ``plots``.

    Parquet, as the backtest's forecasts: the 41k observations of the shared data took 2.8 s
    to format as CSV and take 0.07 s typed (a fifth of the bytes), read back exact."""
    doc = result.to_json_dict()
    observations = folder / "observations.parquet"
    result.to_frame().to_parquet(observations, index=False)
    record = RunRecord(
        experiment="levercast-evaluate",
        run_name=f"evaluate-{doc.get('model_used', params.get('model'))}",
        params=dict(params),
        tags={"data_fingerprint": fingerprint, "seed": str(seed)},
        metrics=evaluation_metrics(doc),
        artifacts={"observations.parquet": observations, **plots},
    )
    return log_run(record)


def log_report(report: Any, payload: Mapping[str, Any], *, fingerprint: str) -> RunLog:
    """Log a written report (its HTML and Markdown files as artifacts)."""
    record = RunRecord(
        experiment="levercast-report",
        run_name=f"report-{report.at:%Y%m%dT%H%MZ}",
        params={"assets": ",".join(report.assets), "at": report.at, "model": report.model},
        tags={"data_fingerprint": fingerprint, "seed": "0"},
        metrics={
            "plots": payload["plots"],
            "notes": len(payload["notes"]),
            "markets_priced": len(report.scan.rows) if report.scan else 0,
        },
        artifacts={"report.html": Path(payload["html"]), "report.md": Path(payload["markdown"])},
    )
    return log_run(record)
