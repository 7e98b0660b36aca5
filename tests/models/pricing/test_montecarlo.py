from __future__ import annotations

import math

import numpy as np
import pytest

from levercast.features.errors import ConfigError
from levercast.models.pricing import closed_form as cf
from levercast.models.pricing.montecarlo import PathEvent, simulate_event, standardize_returns

VOL = 0.55
WEEK = 7 / 365
MILLION = 1_000_000


def _within(mc_prob: float, se: float, exact: float) -> None:
    # The rule: agree within max(0.2 pp, 3 standard errors).
    assert abs(mc_prob - exact) <= max(0.002, 3 * se), (mc_prob, se, exact)


def test_touch_matches_closed_form_at_a_million_paths():
    event = PathEvent(lower=math.log(60_000 / 66_000), path=True)
    result = simulate_event(event, vol_annual=VOL, window_years=WEEK, n_steps=8, n_paths=MILLION)
    prob, se = result.estimate(w_lower=1.0)
    _within(prob, se, float(cf.prob_touch(66_000, 60_000, VOL, WEEK, up=False)))


def test_first_of_matches_closed_form_at_a_million_paths():
    event = PathEvent(lower=math.log(60 / 66), upper=math.log(70 / 66), path=True)
    result = simulate_event(event, vol_annual=VOL, window_years=WEEK, n_steps=8, n_paths=MILLION)
    p_up, p_down = cf.prob_double_barrier(66, 60, 70, VOL, WEEK)
    _within(*result.estimate(w_upper=1.0), float(p_up))
    _within(*result.estimate(w_lower=1.0), float(p_down))
    # first_of with a 50-50 neither payoff
    neither = 0.5
    prob, se = result.estimate(const=neither, w_upper=1 - neither, w_lower=-neither)
    _within(prob, se, float(p_up + neither * (1 - p_up - p_down)))


@pytest.mark.parametrize(
    ("event", "exact"),
    [
        (PathEvent(upper=math.log(1.05)), float(cf.prob_close_above(1.0, 1.05, VOL, WEEK))),
        (
            PathEvent(upper=math.log(1.05), lower=math.log(0.97)),
            float(
                cf.prob_close_above(1.0, 1.05, VOL, WEEK) + cf.prob_close_below(1, 0.97, VOL, WEEK)
            ),
        ),
        (PathEvent(upper=0.0, relative=True), 0.5),
    ],
    ids=["close-above", "outside-range", "up-down"],
)
def test_terminal_events_match_closed_form(event, exact):
    result = simulate_event(event, vol_annual=VOL, window_years=WEEK, n_steps=1, n_paths=200_000)
    _within(*result.estimate(w_upper=1.0, w_lower=1.0), exact)


def test_forward_start_touch_matches_quadrature():
    from levercast.models.pricing.gbm import _QUAD_Z, gbm_probabilities

    pre, window = 2 / 365, 5 / 365
    grid = np.exp(VOL * math.sqrt(pre) * _QUAD_Z)
    values = gbm_probabilities("touch", grid, VOL, window, strike_usd=1.08, direction="up")
    density = np.exp(-0.5 * _QUAD_Z**2) / math.sqrt(2 * math.pi)
    exact = float(np.trapezoid(values * density, _QUAD_Z))
    event = PathEvent(upper=math.log(1.08), path=True)
    result = simulate_event(
        event,
        vol_annual=VOL,
        window_years=window,
        pre_years=pre,
        n_pre_steps=1,
        n_steps=4,
        n_paths=300_000,
    )
    _within(*result.estimate(w_upper=1.0), exact)
    assert exact < float(cf.prob_touch(1.0, 1.08, VOL, pre + window, up=True))


def test_bgk_discrete_barrier_matches_discretely_monitored_mc():
    days = 30
    event = PathEvent(upper=math.log(1.15), path=True, bridge=False)
    result = simulate_event(
        event, vol_annual=VOL, window_years=days / 365, n_steps=days, n_paths=400_000, seed=7
    )
    prob, se = result.estimate(w_upper=1.0)
    shifted = cf.bgk_shift(1.15, VOL, 1 / 365, up=True)
    bgk = float(cf.prob_touch(1.0, shifted, VOL, days / 365, up=True))
    continuous = float(cf.prob_touch(1.0, 1.15, VOL, days / 365, up=True))
    assert abs(prob - bgk) <= max(0.003, 3 * se)
    assert abs(prob - continuous) > 5 * abs(prob - bgk)


def test_seeded_runs_are_reproducible():
    event = PathEvent(upper=math.log(1.03), path=True)
    kwargs = {"vol_annual": VOL, "window_years": WEEK, "n_steps": 24, "n_paths": 5_000}
    for innovations in ("normal", "garch"):
        a = simulate_event(event, innovations=innovations, seed=11, **kwargs)
        b = simulate_event(event, innovations=innovations, seed=11, **kwargs)
        c = simulate_event(event, innovations=innovations, seed=12, **kwargs)
        np.testing.assert_array_equal(a.upper, b.upper)
        assert not np.array_equal(a.upper, c.upper)


def test_bootstrap_of_normal_returns_agrees_with_gbm():
    rng = np.random.default_rng(0)
    returns = rng.normal(0, 0.01, 5000)
    pool = standardize_returns(returns, np.full(returns.size, 1e-4))
    assert pool.mean() == pytest.approx(0, abs=1e-12) and pool.std() == pytest.approx(1)
    event = PathEvent(upper=math.log(1.04), path=True)
    result = simulate_event(
        event,
        vol_annual=VOL,
        window_years=WEEK,
        n_steps=24,
        n_paths=200_000,
        innovations="bootstrap",
        standardized_returns=pool,
    )
    exact = float(cf.prob_touch(1.0, 1.04, VOL, WEEK, up=True))
    prob, se = result.estimate(w_upper=1.0)
    assert abs(prob - exact) < max(0.005, 4 * se)


def test_fat_tails_keep_probabilities_valid():
    rng = np.random.default_rng(1)
    pool = standardize_returns(rng.standard_t(3, 5000), np.ones(5000))
    for innovations, extra in (("bootstrap", {"standardized_returns": pool}), ("garch", {})):
        result = simulate_event(
            PathEvent(lower=math.log(0.9), upper=math.log(1.1), path=True),
            vol_annual=VOL,
            window_years=WEEK,
            n_steps=48,
            n_paths=20_000,
            innovations=innovations,
            **extra,
        )
        both = result.upper + result.lower
        assert np.all((result.upper >= 0) & (result.lower >= 0) & (both <= 1 + 1e-12))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"upper": None, "lower": None}, "needs upper or lower"),
        ({"upper": -0.1, "lower": 0.1}, "lower must be below upper"),
    ],
    ids=["empty", "inverted"],
)
def test_path_event_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PathEvent(**kwargs)


def test_simulate_validation():
    event = PathEvent(upper=0.1)
    with pytest.raises(ConfigError, match="innovations must be one of"):
        simulate_event(event, vol_annual=VOL, window_years=WEEK, innovations="cauchy")
    with pytest.raises(ConfigError, match="needs standardized_returns"):
        simulate_event(event, vol_annual=VOL, window_years=WEEK, innovations="bootstrap")
    with pytest.raises(ConfigError, match="n_pre_steps must be >= 1"):
        simulate_event(event, vol_annual=VOL, window_years=WEEK, pre_years=0.01)


def _plain_loop(event, *, sd, n_steps, n_paths, seed):
    """The step loop written out with numpy, both barriers mirrored by negation (reference)."""
    rng = np.random.default_rng(seed)
    up = np.inf if event.upper is None else event.upper
    low = -np.inf if event.lower is None else event.lower
    x, alive = np.zeros(n_paths), np.ones(n_paths)
    hits = {"up": np.zeros(n_paths), "low": np.zeros(n_paths)}
    for _ in range(n_steps):
        x_new = x + 0.0 + sd * rng.standard_normal(n_paths)
        for name, a, b, level, other in (
            ("up", x, x_new, up, low),
            ("low", -x, -x_new, -low, -up),
        ):
            if not np.isfinite(level):
                continue
            gap = np.maximum(level - a, 0.0) * np.maximum(level - b, 0.0)
            p = np.where(b >= level, 1.0, np.exp(-2.0 * gap / sd**2))
            p = np.where(b <= other, 0.0, p)
            mass = alive * p
            hits[name] += mass
            alive -= mass
        x = x_new
    return hits["up"], hits["low"]


@pytest.mark.parametrize(
    "levels",
    [{"upper": 0.04}, {"lower": -0.03}, {"upper": 0.03, "lower": -0.02}],
    ids=["upper", "lower", "both"],
)
def test_simulate_event_equals_a_plain_numpy_loop(levels):
    event = PathEvent(**levels, path=True)
    years, steps = 48 / 8760, 48
    got = simulate_event(
        event, vol_annual=0.8, window_years=years, n_steps=steps, n_paths=4000, seed=11
    )
    sd = 0.8 * np.sqrt(years / steps)
    up, low = _plain_loop(event, sd=sd, n_steps=steps, n_paths=4000, seed=11)
    np.testing.assert_allclose(got.upper, up, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got.lower, low, rtol=0, atol=1e-15)


# -- resource caps and seeds (issue 19) -------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_paths": 1_000_000_000}, r"n_paths must be at most 4,194,304 \(the Monte Carlo memory"),
        ({"n_paths": 4_000_000, "n_steps": 336}, r"paths x steps must be at most 1,000,000,000"),
        ({"n_paths": 1e5}, r"n_paths must be an integer; found 100000.0"),
        ({"n_paths": True}, r"n_paths.*found True"),
        ({"seed": -1}, r"seed must be an integer within \[0, 2\*\*64\); found -1"),
        ({"seed": 1.5}, r"seed must be an integer .*; found 1.5"),
    ],
    ids=["memory", "work", "float-paths", "bool-paths", "negative-seed", "float-seed"],
)
def test_simulation_above_the_caps_is_refused_not_clamped(kwargs, match):
    import time

    start = time.perf_counter()
    with pytest.raises(ConfigError, match=match):
        simulate_event(PathEvent(upper=0.1), vol_annual=VOL, window_years=WEEK, **kwargs)
    assert time.perf_counter() - start < 1.0  # refused before any array is allocated


def test_the_caps_follow_the_budget():
    from levercast.models.pricing.montecarlo import (
        BYTES_PER_PATH,
        MC_MEMORY_BUDGET_BYTES,
        check_mc_size,
    )

    check_mc_size(MC_MEMORY_BUDGET_BYTES // BYTES_PER_PATH, 200)
    with pytest.raises(ConfigError, match="memory budget of 512 MiB"):
        check_mc_size(MC_MEMORY_BUDGET_BYTES // BYTES_PER_PATH + 1, 1)


# -- GARCH parameters from arch (issue 20) ----------------------------------------------------
def _garch_returns(alpha=0.08, beta=0.9, nu=5.0, n=2000, seed=3):
    rng = np.random.default_rng(seed)
    h, out = 1.0, np.empty(n)
    scale = math.sqrt((nu - 2) / nu)
    for i in range(n):
        out[i] = math.sqrt(h) * scale * rng.standard_t(nu)
        h = (1 - alpha - beta) + alpha * out[i] ** 2 + beta * h
    return 0.02 * out


def test_fit_garch_matches_arch_directly():
    from arch import arch_model

    from levercast.models.pricing.garch import fit_garch

    r = _garch_returns()
    fit = fit_garch(r)
    ref = arch_model(100 * r, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    params = ref.fit(disp="off").params
    assert (fit.source, fit.warning, fit.n_returns) == ("arch", None, r.size)
    assert fit.alpha == pytest.approx(params["alpha[1]"], rel=1e-9)
    assert fit.beta == pytest.approx(params["beta[1]"], rel=1e-9)
    assert fit.nu == pytest.approx(params["nu"], rel=1e-9)
    assert 0.02 < fit.alpha < 0.2 and 0.8 < fit.beta < 0.97  # recovers the simulated process


@pytest.mark.parametrize(
    ("returns", "why"),
    [
        (np.full(100, 0.01), r"100 returns, at least 250 needed"),
        (np.zeros(600), r"every return is zero"),
        (np.r_[np.full(300, np.nan), np.ones(10)], r"10 returns"),
    ],
    ids=["short", "zero", "nan"],
)
def test_fit_garch_falls_back_with_a_warning(returns, why):
    from levercast.models.pricing.garch import FALLBACK, fit_garch

    fit = fit_garch(returns)
    assert (fit.alpha, fit.beta, fit.nu, fit.source) == (0.05, 0.90, 5.0, "fixed")
    assert fit.warning is not None and why.replace("\\", "") in fit.warning
    assert FALLBACK.warning is None


def test_an_integrated_fit_is_capped_keeping_the_split():
    from levercast.models.pricing.garch import MAX_PERSISTENCE, GarchParams

    p = GarchParams(0.2, 0.7, 4.0)
    a, b = p.per_step(1.0)
    assert (a, b) == (0.2, 0.7)
    a2, b2 = p.per_step(2.0)
    assert a2 + b2 == pytest.approx(0.9**2) and a2 / b2 == pytest.approx(0.2 / 0.7)
    with pytest.raises(ValueError, match="alpha \\+ beta < 1"):
        GarchParams(0.3, 0.7, 4.0)
    assert MAX_PERSISTENCE < 1


def test_daily_garch_keeps_the_variance_of_the_window():
    from levercast.models.pricing.garch import GarchParams

    garch = GarchParams(0.1, 0.85, 5.0)
    event = PathEvent(upper=10.0)  # terminal, never reached: only x matters
    years = 30 / 365
    result = simulate_event(
        event,
        vol_annual=VOL,
        window_years=years,
        n_steps=24 * 30,
        n_paths=40_000,
        innovations="garch",
        garch=garch,
        garch_period_years=1 / 365,
        seed=5,
    )
    assert result.n_steps == 720
    # the same run with the terminal values exposed: threshold events at +-1 sigma
    sigma = VOL * math.sqrt(years)
    band = simulate_event(
        PathEvent(upper=sigma, lower=-sigma),
        vol_annual=VOL,
        window_years=years,
        n_steps=24 * 30,
        n_paths=40_000,
        innovations="garch",
        garch=garch,
        garch_period_years=1 / 365,
        seed=5,
    )
    outside, se = band.estimate(w_upper=1.0, w_lower=1.0)
    # fat tails put less mass beyond 1 sigma than a normal (0.317), never far less
    assert 0.2 < outside < 0.34, (outside, se)
