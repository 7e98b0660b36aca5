"""A command imports only what it runs: ``price --model gbm`` on a small store loads none of the
learning, tracking, plotting or venue-SDK libraries (``python -X importtime`` in a subprocess,
like the ``--help`` test in ``test_main.py``)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import make_dataset

# scipy.special (the closed forms' normal CDF) is allowed; scipy.signal would pull scipy.stats.
FORBIDDEN = ("sklearn", "lightgbm", "mlflow", "matplotlib", "polymarket", "scipy.stats")
SPEC = '{"kind":"touch","asset":"BTC","strike_usd":55000,"end":"2024-01-28T00:00Z"}'


def _imported(stderr: str) -> set[str]:
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.split("|")[2].strip())
    return names


def test_price_gbm_imports_no_learning_tracking_plotting_or_sdk(tmp_path):
    data = make_dataset(tmp_path / "data", hours=24 * 30)
    argv = ["price", SPEC, "--at", "2024-01-25T00:00Z", "--model", "gbm", "--json"]
    argv += ["--data", str(data)]
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "levercast.experiments", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["model"] == "gbm"
    names = _imported(out.stderr)
    assert "levercast.models.pricing.closed_form" in names  # the parse saw the imports
    bad = sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))
    assert bad == []
