from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.models.scoring import (
    block_bootstrap_skill,
    brier_decomposition,
    brier_loss,
    expected_calibration_error,
    log_loss,
    reliability_curve,
)


def test_perfect_forecast_and_constant_half():
    y = np.array([0, 1, 1, 0, 1], float)
    assert brier_loss(y, y) == 0.0
    assert brier_loss(np.full(5, 0.5), y) == pytest.approx(0.25)
    assert log_loss(np.full(5, 0.5), y) == pytest.approx(np.log(2))


@pytest.mark.parametrize("true_p", [0.1, 0.3, 0.5, 0.8])
def test_scores_are_proper(true_p):
    """Expected score is minimised at the true probability."""
    grid = np.linspace(0.01, 0.99, 99)
    exp_brier = true_p * (1 - grid) ** 2 + (1 - true_p) * grid**2
    exp_log = -(true_p * np.log(grid) + (1 - true_p) * np.log(1 - grid))
    assert grid[np.argmin(exp_brier)] == pytest.approx(true_p, abs=0.011)
    assert grid[np.argmin(exp_log)] == pytest.approx(true_p, abs=0.011)


@given(st.lists(st.floats(0, 1), min_size=2, max_size=60), st.integers(0, 2**31))
@settings(max_examples=60, deadline=None)
def test_yes_no_swap_leaves_scores_unchanged(probs, seed):
    p = np.array(probs)
    y = np.random.default_rng(seed).integers(0, 2, p.size).astype(float)
    assert brier_loss(1 - p, 1 - y) == pytest.approx(brier_loss(p, y))
    assert log_loss(1 - p, 1 - y) == pytest.approx(log_loss(p, y))


def test_ece_hand_case_and_reliability():
    p = np.array([0.1, 0.1, 0.9, 0.9])
    y = np.array([0, 0, 1, 0], float)
    curve = reliability_curve(p, y, n_bins=2)
    np.testing.assert_allclose(curve.mean_prob, [0.1, 0.9])
    np.testing.assert_allclose(curve.observed, [0.0, 0.5])
    assert expected_calibration_error(p, y, n_bins=2) == pytest.approx(0.5 * 0.1 + 0.5 * 0.4)


def test_decomposition_identity_with_binned_forecasts():
    rng = np.random.default_rng(0)
    p = rng.choice([0.1, 0.3, 0.5, 0.7, 0.9], 5000)
    y = (rng.uniform(size=p.size) < p).astype(float)
    d = brier_decomposition(p, y, n_bins=5)
    assert d.brier == pytest.approx(d.reliability - d.resolution + d.uncertainty, abs=2e-3)


def test_ece_small_for_calibrated_forecasts():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=20000)
    y = (rng.uniform(size=p.size) < p).astype(float)
    assert expected_calibration_error(p, y) < 0.02
    assert expected_calibration_error(np.clip(p + 0.2, 0, 1), y) > 0.1


def test_block_bootstrap_skill_detects_better_model_and_is_seeded():
    rng = np.random.default_rng(2)
    truth = rng.uniform(0.05, 0.95, 4000)
    y = (rng.uniform(size=truth.size) < truth).astype(float)
    blocks = np.arange(truth.size) // 40
    good = block_bootstrap_skill(truth, np.full(truth.size, 0.5), y, blocks, seed=1)
    assert good.value > 0
    assert good.ci_low > 0
    assert good.ci_low <= good.value <= good.ci_high
    same = block_bootstrap_skill(truth, np.full(truth.size, 0.5), y, blocks, seed=1)
    assert same == good
    none = block_bootstrap_skill(truth, truth, y, blocks, seed=1)
    assert none.value == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("prob", "outcome", "match"),
    [
        ([0.5, 1.2], [0, 1], r"prob must be within \[0, 1\]; found 1.2 at row 1"),
        ([0.5, np.nan], [0, 1], "prob must be finite"),
        ([0.5], [0, 1], "same shape"),
        ([], [], "must not be empty"),
    ],
    ids=["range", "nan", "shape", "empty"],
)
def test_validation_messages(prob, outcome, match):
    with pytest.raises(ValueError, match=match):
        brier_loss(prob, outcome)


def _old_skill_draws(model_sq, ref_sq, n_boot, seed):
    """The hand-written resampling arch.bootstrap replaced (reference for bit-equality)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, model_sq.size, size=(n_boot, model_sq.size))
    return 1.0 - model_sq[draws].sum(axis=1) / ref_sq[draws].sum(axis=1)


def test_arch_block_bootstrap_draws_equal_the_hand_written_ones():
    rng = np.random.default_rng(4)
    truth = rng.uniform(0.05, 0.95, 2000)
    y = (rng.random(2000) < truth).astype(float)
    blocks = np.repeat(np.arange(100), 20)
    est = block_bootstrap_skill(truth, np.full(2000, 0.5), y, blocks, n_boot=500, seed=7)
    model_sq = np.bincount(blocks, weights=(truth - y) ** 2)
    ref_sq = np.bincount(blocks, weights=(0.5 - y) ** 2)
    lo, hi = np.quantile(_old_skill_draws(model_sq, ref_sq, 500, 7), [0.05, 0.95])
    assert (est.ci_low, est.ci_high) == (lo, hi)


@pytest.mark.parametrize("n_blocks", [1, 2, 7, 100, 365])
@pytest.mark.parametrize("seed", [0, 7, 2**63])
def test_block_draws_are_arch_iid_bootstrap_draws_without_importing_arch(n_blocks, seed):
    """The iid block draws made without arch equal ``IIDBootstrap.update_indices``, replicate
    for replicate (odd block counts too: numpy buffers 32-bit draws within one call)."""
    from arch.bootstrap import IIDBootstrap

    from levercast.models.scoring import _block_draws

    series = np.linspace(-1.0, 1.0, n_blocks)
    ours = _block_draws(n_blocks, 50, seed, "blocks", series)
    bs = IIDBootstrap(series, seed=np.random.default_rng(seed))
    theirs = np.stack([bs.update_indices() for _ in range(50)])
    assert ours.dtype == np.intp and np.array_equal(ours, theirs)
    if n_blocks < 3:  # too few blocks for runs: the stationary request draws iid blocks
        assert np.array_equal(_block_draws(n_blocks, 50, seed, "stationary", series), theirs)


def test_a_block_bootstrap_does_not_import_arch():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from levercast.models.scoring import block_bootstrap_skill\n"
        "y = np.arange(40) % 2 * 1.0\n"
        "block_bootstrap_skill(np.full(40, 0.4), np.full(40, 0.5), y, np.arange(40) // 4)\n"
        "print('arch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_stationary_resampling_and_argument_checks():
    from levercast.models.scoring import block_bootstrap_mean

    rng = np.random.default_rng(5)
    days = np.repeat(np.arange(60), 10)
    # serially dependent day effects: a stationary bootstrap widens the interval
    effect = np.repeat(np.cumsum(rng.normal(0, 0.05, 60)), 10)
    values = effect + rng.normal(0, 0.01, 600)
    iid = block_bootstrap_mean(values, days, seed=1)
    runs = block_bootstrap_mean(values, days, seed=1, resample="stationary")
    assert iid.value == runs.value and runs.n_blocks == 60
    assert runs.ci_high - runs.ci_low > iid.ci_high - iid.ci_low
    with pytest.raises(ValueError, match="resample must be one of"):
        block_bootstrap_mean(values, days, resample="moving")
    with pytest.raises(
        ValueError, match=r"seed must be an integer within \[0, 2\*\*64\); found -1"
    ):
        block_bootstrap_mean(values, days, seed=-1)
    with pytest.raises(ValueError, match="n_boot must be a positive integer; found 0"):
        block_bootstrap_mean(values, days, n_boot=0)
