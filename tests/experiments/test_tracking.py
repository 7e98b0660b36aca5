from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from levercast.experiments.cli.main import main
from levercast.experiments.tracking import RunRecord, log_run
from levercast.features.dataset.store import Store
from tests.conftest import make_dataset


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "home"


def _record(tmp_path: Path) -> RunRecord:
    csv = tmp_path / "forecasts.csv"
    csv.write_text("t,prob,outcome\n2025-01-01T00:00Z,0.4,1\n")
    return RunRecord(
        experiment="levercast-test",
        run_name="backtest BTC",
        params={"asset": "BTC", "horizons": ["1h", "24h"], "window": {"start": "2025-01-01"}},
        tags={"data_fingerprint": "abc123", "seed": "0"},
        metrics={"brier_gbm": 0.21, "log_loss_gbm": 0.61, "skipped": float("nan")},
        artifacts={"forecasts.csv": csv},
    )


def _read_back(uri: str, run_id: str):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    return client.get_run(run_id)


@pytest.mark.slow
def test_log_run_to_default_sqlite(home, tmp_path):
    log = log_run(_record(tmp_path))
    assert log.error is None
    assert log.tracking_uri.startswith("sqlite:///")
    assert (home / "mlflow.db").exists()
    run = _read_back(log.tracking_uri, log.run_id)
    assert run.data.params["asset"] == "BTC"
    assert run.data.params["window.start"] == "2025-01-01"
    assert run.data.tags["data_fingerprint"] == "abc123"
    assert len(run.data.tags["git_commit"]) >= 7
    assert run.data.metrics["brier_gbm"] == pytest.approx(0.21)
    assert "skipped" not in run.data.metrics
    saved = json.loads((log.saved_to / "run.json").read_text())
    assert saved["metrics"]["brier_gbm"] == 0.21


def test_logging_failure_keeps_results_and_reports(home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    log = log_run(_record(tmp_path))
    assert log.run_id is None
    assert log.error
    assert (log.saved_to / "run.json").exists()
    assert (log.saved_to / "forecasts.csv").exists()
    assert "results kept in" in capsys.readouterr().err


def test_secrets_never_become_params(tmp_path):
    with pytest.raises(ValueError, match="must not carry secrets; found parameter 'api_key'"):
        RunRecord("e", "r", {"api_key": "x"}, {"data_fingerprint": "f", "seed": "0"}, {})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_real_mlflow_server_round_trip(home, tmp_path, monkeypatch):
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/srv.db",
            "--default-artifact-root",
            str(tmp_path / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not become healthy within 90 s")
        uri = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        log = log_run(_record(tmp_path))
        assert log.error is None, log.error
        run = _read_back(uri, log.run_id)
        assert run.data.metrics["log_loss_gbm"] == pytest.approx(0.61)
        assert run.data.tags["seed"] == "0"
        # A real backtest, logged by the command itself, read back from the server.
        data = make_dataset(tmp_path / "data")
        code = main(["backtest", "--data", str(data), "--asset", "BTC", "--start",
                     "2024-01-03T00:00Z", "--end", "2024-01-20T00:00Z", "--models", "gbm",
                     "--kinds", "touch,close_above", "--horizons", "1h,24h", "--json"])  # fmt: skip
        assert code == 0
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("levercast-backtest")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 1
        logged = runs[0].data
        assert logged.params["asset"] == "BTC"
        assert logged.tags["data_fingerprint"] == Store(data).fingerprint()
        assert "git_commit" in logged.tags
        assert any(k.startswith("brier") for k in logged.metrics)
        artifacts = [a.path for a in client.list_artifacts(runs[0].info.run_id)]
        assert artifacts
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*Any type hint is inferred:UserWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_log_model_registers_with_training_cut(home, tmp_path, monkeypatch):
    from datetime import UTC, datetime

    import mlflow
    import numpy as np

    from levercast.experiments.tracking import log_model
    from levercast.models.learned.estimators import TimeCalibratedClassifier

    uri = f"sqlite:///{tmp_path}/models.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    model = TimeCalibratedClassifier(calibration_fraction=0.2).fit(X, y)
    cut = datetime(2025, 6, 1, tzinfo=UTC)
    model_uri = log_model(model, name="levercast-test-model", training_cut=cut)
    assert model_uri is not None
    client = mlflow.MlflowClient(tracking_uri=uri)
    version = client.search_model_versions("name='levercast-test-model'")[0]
    assert version.tags["training_cut"] == cut.isoformat()
    loaded = mlflow.sklearn.load_model(model_uri)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
