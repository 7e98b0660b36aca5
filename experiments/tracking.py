"""MLflow tracking of backtest and evaluate runs, with results saved locally first.

Every run is written to ``$LEVERCAST_HOME/runs/<stamp>-<name>/`` (``run.json`` plus artifacts)
before MLflow is touched, so a logging failure never loses the computed results; the failure is
reported on stderr. Tracking goes to ``$MLFLOW_TRACKING_URI`` when set, else
``sqlite:///$LEVERCAST_HOME/mlflow.db``. Tags always include ``data_fingerprint``, ``git_commit``
and ``seed``; params are the command's config. Secrets never reach MLflow: params whose names look
secret are refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from levercast.experiments.jsonable import to_jsonable
from levercast.experiments.paths import levercast_home

__all__ = ["RunLog", "RunRecord", "git_commit", "log_model", "log_run", "tracking_uri"]

_SECRET = re.compile(r"(key|token|secret|password|signature)", re.IGNORECASE)
_REPO = Path(__file__).resolve().parents[1]


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
    """Where a run went: the local folder always, the MLflow run id when logging worked."""

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
    folder = levercast_home() / "runs" / f"{stamp}-{safe}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in record.artifacts.items():
        shutil.copy2(path, folder / name)
    doc = {
        "experiment": record.experiment,
        "run_name": record.run_name,
        "params": _flatten(record.params),
        "tags": dict(record.tags),
        "metrics": to_jsonable(dict(record.metrics)),
        "artifacts": sorted(record.artifacts),
    }
    tmp = folder / "run.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(folder / "run.json")
    return folder


def log_run(record: RunRecord) -> RunLog:
    """Save the run locally, then log it to MLflow; report (never raise) logging failures."""
    folder = _save_local(record)
    uri = tracking_uri()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
    except ImportError as e:  # pragma: no cover - mlflow is a core dependency
        print(f"levercast: MLflow unavailable ({e}); results kept in {folder}", file=sys.stderr)
        return RunLog(folder, None, uri, str(e))
    import requests

    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(record.experiment)
        with mlflow.start_run(run_name=record.run_name) as run:
            mlflow.log_params(_flatten(record.params))
            mlflow.set_tags({**record.tags, "git_commit": git_commit()})
            metrics = {
                k: float(v)
                for k, v in record.metrics.items()
                if v is not None and v == v and abs(float(v)) != float("inf")
            }
            mlflow.log_metrics(metrics)
            if record.artifacts:
                mlflow.log_artifacts(str(folder))
            run_id = run.info.run_id
    except (MlflowException, OSError, requests.RequestException, ValueError) as e:
        message = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        print(
            f"levercast: MLflow logging to {uri} failed ({message}); results kept in {folder}",
            file=sys.stderr,
        )
        return RunLog(folder, None, uri, message)
    return RunLog(folder, run_id, uri)


def log_model(
    model: Any, *, name: str, training_cut: datetime, tags: Mapping[str, str] | None = None
) -> str | None:
    """Log and register a fitted model under a stable ``name`` with its training cut as a tag.

    LightGBM boosters use ``mlflow.lightgbm``; everything else ``mlflow.sklearn`` (cloudpickle,
    since skops refuses LightGBM types). Explicit pip requirements skip the slow inference step.
    Returns the model URI, or None when logging failed (reported on stderr).
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow.exceptions import MlflowException

    cut = training_cut.astimezone(UTC).isoformat()
    try:
        mlflow.set_tracking_uri(tracking_uri())
        mlflow.set_experiment("levercast-models")
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
    except (MlflowException, OSError, ValueError) as e:
        print(f"levercast: model logging failed ({type(e).__name__}: {e})", file=sys.stderr)
        return None
