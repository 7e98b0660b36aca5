"""MLflow writes only under ``$LEVERCAST_HOME``: never ``./mlruns`` or ``./mlflow.db`` in the
working directory (MLflow's default artifact root for a local store is ``./mlruns``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from levercast.experiments.tracking import RunRecord, log_run
from tests.conftest import make_dataset


def _files(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_backtest_in_a_temp_cwd_writes_mlflow_files_only_under_home(tmp_path):
    data = make_dataset(tmp_path / "data", hours=24 * 20)
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(LEVERCAST_HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true")
    argv = ["backtest", "--data", str(data), "--asset", "BTC", "--models", "gbm"]
    argv += ["--start", "2024-01-10T00:00Z", "--end", "2024-01-14T00:00Z", "--horizons", "1h"]
    out = subprocess.run(
        [sys.executable, "-m", "levercast.experiments", *argv, "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "logging failed" not in out.stderr
    assert sorted(p.name for p in cwd.iterdir()) == []  # no mlruns/, no mlflow.db
    assert (home / "mlflow.db").is_file()
    logged = home / "mlartifacts" / "levercast-backtest"
    assert "forecasts.parquet" in _files(logged) and "run.json" in _files(logged)
    forecasts = pd.read_parquet(next(logged.rglob("forecasts.parquet")))
    assert len(forecasts) > 0 and "prob_gbm" in forecasts.columns
    assert str(forecasts["decision_time"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.slow
def test_an_experiment_with_artifacts_elsewhere_is_not_reused(tmp_path, monkeypatch):
    import mlflow

    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    monkeypatch.setenv("LEVERCAST_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    home.mkdir()
    uri = f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("levercast-test", artifact_location=elsewhere.as_uri())
    csv = tmp_path / "forecasts.csv"
    csv.write_text("t,prob\n2025-01-01T00:00Z,0.4\n")
    record = RunRecord(
        experiment="levercast-test",
        run_name="old experiment",
        params={"asset": "BTC"},
        tags={"data_fingerprint": "abc", "seed": "0"},
        metrics={"brier": 0.2},
        artifacts={"forecasts.csv": csv},
    )
    log = log_run(record)
    assert log.error is None and log.run_id is not None
    run = mlflow.MlflowClient(tracking_uri=uri).get_run(log.run_id)
    assert mlflow.get_experiment(run.info.experiment_id).name == "levercast-test-home"
    assert "forecasts.csv" in _files(home / "mlartifacts" / "levercast-test-home")
    assert not elsewhere.exists() and not (tmp_path / "mlruns").exists()


def test_the_evaluation_logs_its_observations_as_parquet_read_back_exact(tmp_path, monkeypatch):
    from levercast.experiments.tracking import log_evaluation

    home = tmp_path / "home"
    monkeypatch.setenv("LEVERCAST_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame = pd.DataFrame(
        {
            "market_id": ["a", "a", "b"],
            "t": pd.to_datetime(["2025-01-01T00:00Z", "2025-01-01T01:00Z", "2025-02-01T00:00Z"]),
            "prob_model": [0.1234567890123, 0.5, 1 / 3],
            "outcome": [0.0, 0.0, 1.0],
        }
    )

    class Result:
        def to_json_dict(self):
            return {"markets": 2, "observations": 3, "model_used": "gbm"}

        def to_frame(self):
            return frame

    folder = tmp_path / "out"
    folder.mkdir()
    log = log_evaluation(Result(), params={"model": "gbm"}, fingerprint="f", seed=0, folder=folder)
    assert log.error is None
    logged = home / "mlartifacts" / "levercast-evaluate"
    assert "observations.parquet" in _files(logged) and "observations.csv" not in _files(logged)
    back = pd.read_parquet(next(logged.rglob("observations.parquet")))
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
