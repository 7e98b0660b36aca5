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

from levercast.experiments import tracking
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
    started = time.monotonic()
    log = log_run(_record(tmp_path))
    assert time.monotonic() - started < 30  # three attempts with backoff, bounded
    assert log.run_id is None
    assert log.error
    assert (log.saved_to / "run.json").exists()
    assert (log.saved_to / "forecasts.csv").exists()
    assert (log.saved_to / ".pending").exists()  # logged later by the next command
    err = capsys.readouterr().err
    assert "results kept in" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "uri",
    [
        "http://alice:S3cretPw@127.0.0.1:9",
        "http://127.0.0.1:9/?token=QT0KEN123&x=1",
        "https://127.0.0.1:9/?api_key=QT0KEN123",
    ],
    ids=["userinfo", "token-query", "api-key-query"],
)
def test_tracking_uri_credentials_are_never_printed(home, tmp_path, monkeypatch, capsys, uri):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    log = log_run(_record(tmp_path))
    captured = capsys.readouterr()
    for secret in ("S3cretPw", "alice", "QT0KEN123"):
        assert secret not in captured.err + captured.out
        assert secret not in log.tracking_uri + (log.error or "")
    assert "***" in captured.err


def test_a_failed_attempt_is_retried(home, tmp_path, monkeypatch):
    calls = []
    real = tracking._log_folder

    def flaky(folder, uri):
        calls.append(folder)
        if len(calls) == 1:
            raise OSError("database is locked")
        return real(folder, uri)

    monkeypatch.setattr(tracking, "_log_folder", flaky)
    monkeypatch.setattr(tracking, "_BACKOFF_SECS", 0.01)
    log = log_run(_record(tmp_path))
    assert log.error is None and log.run_id
    assert len(calls) == 2
    assert not (log.saved_to / ".pending").exists()


@pytest.mark.slow
def test_pending_runs_are_logged_by_the_next_command(home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setattr(tracking, "_BACKOFF_SECS", 0.01)
    first = log_run(_record(tmp_path))
    assert first.run_id is None
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the local sqlite store works
    second = log_run(_record(tmp_path))
    assert second.error is None
    assert not (first.saved_to / ".pending").exists()
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=second.tracking_uri)
    experiment = client.get_experiment_by_name("levercast-test")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    assert {r.data.params["asset"] for r in runs} == {"BTC"}


CONCURRENT_LOG = """
import sys, time
from pathlib import Path
from levercast.experiments.tracking import RunRecord, log_run
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
log = log_run(RunRecord("levercast-race", "r", {"n": sys.argv[2]},
                        {"data_fingerprint": "f", "seed": "0"}, {"m": 1.0}))
print(log.run_id or "FAILED", log.error)
"""


@pytest.mark.slow
def test_concurrent_commands_on_one_home_all_log(home):
    """Issue 19: two evaluate runs at once raced in MLflow's sqlite store (exit 1)."""
    start = time.time() + 4  # all three pass the imports before they start together
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_LOG, str(start), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LEVERCAST_HOME": str(home)},
        )
        for n in range(3)
    ]
    outputs = [proc.communicate(timeout=180) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
        assert "FAILED" not in out, out + err[-2000:]
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{(home / 'mlflow.db').resolve()}")
    experiment = client.get_experiment_by_name("levercast-race")
    assert len(client.search_runs([experiment.experiment_id])) == 3


ONE_LOG = """
from levercast.experiments.tracking import RunRecord, log_run
log = log_run(RunRecord("levercast-quiet", "r", {"n": 1}, {"data_fingerprint": "f", "seed": "0"},
                        {"m": 1.0}))
print(log.run_id or "FAILED", log.error)
"""


@pytest.mark.slow
def test_a_first_run_on_a_new_home_prints_no_mlflow_info_lines(home):
    """MLflow says "Creating initial MLflow database tables..." at INFO on a new sqlite store:
    not a line for a person waiting on a command (it also broke the progress bar)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_LOGGING_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", ONE_LOG],
        capture_output=True,
        text=True,
        timeout=180,
        env={**env, "LEVERCAST_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FAILED" not in done.stdout, done.stdout + done.stderr[-2000:]
    assert (home / "mlflow.db").is_file()
    assert "INFO" not in done.stderr, done.stderr[-2000:]


def test_secrets_never_become_params(tmp_path):
    with pytest.raises(ValueError, match="must not carry secrets; found parameter 'api_key'"):
        RunRecord("e", "r", {"api_key": "x"}, {"data_fingerprint": "f", "seed": "0"}, {})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_real_mlflow_server_round_trip(home, tmp_path, monkeypatch, capsys):
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
        capsys.readouterr()
        code = main(["backtest", "--data", str(data), "--asset", "BTC", "--start",
                     "2024-01-03T00:00Z", "--end", "2024-01-20T00:00Z", "--models", "gbm",
                     "--kinds", "touch,close_above", "--horizons", "1h,24h", "--json"])  # fmt: skip
        assert code == 0
        json.loads(capsys.readouterr().out)  # MLflow's "View run" lines went to stderr
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
