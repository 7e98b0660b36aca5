from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.features.errors import ConfigError
from levercast.models.pricing import closed_form as cf
from levercast.models.pricing.closed_form import _eigen_pair, _image_series

WEEK = 7 / 365


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def slow_touch(spot, barrier, vol, t, up, nu):
    """Reference loop: the METHODS.md §2.3 formulas written out with math.erfc."""
    out = []
    for s, h, v, tt, u, n in zip(spot, barrier, vol, t, up, nu, strict=True):
        if u:
            b = math.log(h / s)
            if b <= 0:
                out.append(1.0)
                continue
            sd = v * math.sqrt(tt)
            out.append(
                _phi((-b + n * tt) / sd) + math.exp(2 * n * b / v**2) * _phi((-b - n * tt) / sd)
            )
        else:
            b = math.log(s / h)
            if b <= 0:
                out.append(1.0)
                continue
            sd = v * math.sqrt(tt)
            out.append(
                _phi((-b - n * tt) / sd) + math.exp(-2 * n * b / v**2) * _phi((-b + n * tt) / sd)
            )
    return np.array(out)


def slow_close_above(spot, strike, vol, t, nu):
    return np.array(
        [
            _phi((math.log(s / k) + n * tt) / (v * math.sqrt(tt)))
            for s, k, v, tt, n in zip(spot, strike, vol, t, nu, strict=True)
        ]
    )


@pytest.mark.parametrize(
    ("nu", "touch", "below"),
    [
        # METHODS.md §2.3 worked example (zero price drift: nu = -sigma^2/2): 22.1 % vs 11.3 %.
        (-(0.55**2) / 2, 0.221, 0.113),
        # The gbm baseline (log-drift 0): touch is exactly twice the close below.
        (0.0, 0.2108, 0.1054),
    ],
    ids=["worked-example-zero-price-drift", "zero-log-drift"],
)
def test_worked_example(nu, touch, below):
    p_touch = float(cf.prob_touch(66_000, 60_000, 0.55, WEEK, up=False, log_drift=nu))
    p_below = float(cf.prob_close_below(66_000, 60_000, 0.55, WEEK, log_drift=nu))
    assert p_touch == pytest.approx(touch, abs=5e-4)
    assert p_below == pytest.approx(below, abs=5e-4)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((100, 100, 0.5, 1.0), 0.5),  # at the money, zero log-drift
        ((100, 50, 0.0, 1.0), 1.0),  # no variance, above
        ((100, 150, 0.5, 0.0), 0.0),  # no time left, below
        ((100, 100 * math.exp(0.5), 0.5, 1.0), _phi(-1.0)),  # one standard deviation out
    ],
    ids=["atm", "zero-vol", "zero-time", "one-sd"],
)
def test_close_above_hand_cases(args, expected):
    assert float(cf.prob_close_above(*args)) == pytest.approx(expected, abs=1e-12)


def test_touch_is_twice_close_beyond_at_zero_drift():
    h = np.array([110.0, 150.0, 90.0, 60.0])
    up = h > 100
    touch = cf.prob_touch(100.0, h, 0.6, 0.25, up=up)
    beyond = np.where(
        up, cf.prob_close_above(100.0, h, 0.6, 0.25), cf.prob_close_below(100.0, h, 0.6, 0.25)
    )
    np.testing.assert_allclose(touch, 2 * beyond, rtol=1e-12)


def test_barrier_at_or_beyond_spot_is_touched():
    assert float(cf.prob_touch(100, 100, 0.5, 0.1, up=True)) == 1.0
    assert float(cf.prob_touch(100, 120, 0.5, 0.1, up=False)) == 1.0


def test_bgk_shift_of_a_daily_close_is_about_1_7_percent():
    shifted = cf.bgk_shift([100.0, 100.0], 0.55, 1 / 365, up=[True, False])
    assert shifted[0] / 100 - 1 == pytest.approx(0.5826 * 0.55 / math.sqrt(365), rel=0.01)
    assert shifted[1] < 100 and shifted[0] * shifted[1] == pytest.approx(100.0**2)


def test_vectorised_matches_slow_reference():
    rng = np.random.default_rng(3)
    n = 500
    spot = rng.uniform(50, 150, n)
    barrier = rng.uniform(50, 150, n)
    vol = rng.uniform(0.1, 1.5, n)
    t = rng.uniform(1 / 365, 1.0, n)
    up = rng.random(n) < 0.5
    nu = rng.normal(0, 0.5, n)
    np.testing.assert_allclose(
        cf.prob_touch(spot, barrier, vol, t, up=up, log_drift=nu),
        slow_touch(spot, barrier, vol, t, up, nu),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        cf.prob_close_above(spot, barrier, vol, t, log_drift=nu),
        slow_close_above(spot, barrier, vol, t, nu),
        atol=1e-12,
    )


@pytest.mark.parametrize("nu", [0.0, 0.4, -0.7])
@pytest.mark.parametrize("z", [0.55, 0.6, 0.65])  # both series are exact near the switch
def test_image_and_eigen_series_agree(nu, z):
    x = np.array([0.01, 0.05, 0.09])
    w = np.full(3, 0.1)
    vol = 0.6
    sd = z * w
    t = (sd / vol) ** 2
    k = np.full(3, nu / vol**2)
    images = _image_series(x, w, sd, nu * t, k)
    eigen, mirrored = _eigen_pair(x, w - x, w, sd**2, (nu / vol) ** 2 * t, k)
    np.testing.assert_allclose(images, eigen, atol=1e-9)
    images_down = _image_series(w - x, w, sd, -nu * t, -k)
    np.testing.assert_allclose(images_down, mirrored, atol=1e-9)


@pytest.mark.parametrize(
    ("spot", "lower", "upper", "nu", "expected"),
    [
        (100, 90, 110, 0.0, math.log(100 / 90) / math.log(110 / 90)),
        (100, 50, 200, 0.0, 0.5),
        (
            100,
            90,
            110,
            0.2,
            (1 - math.exp(-2 * 0.2 / 0.25 * math.log(100 / 90)))
            / (1 - math.exp(-2 * 0.2 / 0.25 * math.log(110 / 90))),
        ),
    ],
    ids=["scale-fn", "geometric-middle", "scale-fn-drift"],
)
def test_open_ended_first_of_is_the_scale_function(spot, lower, upper, nu, expected):
    p_up, p_down = cf.prob_double_barrier(spot, lower, upper, 0.5, np.inf, log_drift=nu)
    assert float(p_up) == pytest.approx(expected, abs=1e-12)
    assert float(p_up + p_down) == pytest.approx(1.0)


def test_double_barrier_with_a_remote_barrier_is_a_single_touch():
    p_up, p_down = cf.prob_double_barrier(100, 1e-3, 120, 0.5, 0.2)
    assert float(p_up) == pytest.approx(float(cf.prob_touch(100, 120, 0.5, 0.2, up=True)), abs=1e-9)
    assert float(p_down) < 1e-12


def test_double_barrier_symmetric_at_geometric_middle():
    p_up, p_down = cf.prob_double_barrier(100, 80, 125, 0.7, [0.01, 0.1, 1.0])
    np.testing.assert_allclose(p_up, p_down, atol=1e-12)
    assert np.all(np.diff(p_up) > 0)


def test_move_terminal_and_excursion_hand_cases():
    th, vol, t = 0.05, 0.5, 1 / 365
    up = float(cf.prob_close_above(1.0, 1.05, vol, t))
    down = float(cf.prob_close_below(1.0, 0.95, vol, t))
    assert float(cf.prob_move_terminal(th, vol, t)) == pytest.approx(up + down)
    assert float(cf.prob_move_terminal(th, vol, t, direction="up")) == pytest.approx(up)
    exc = float(cf.prob_excursion(th, vol, t))
    one_way = float(cf.prob_excursion(th, vol, t, direction="up"))
    assert up + down <= exc <= 2 * (up + down) and one_way == pytest.approx(2 * up)


BAD_INPUTS = {
    "spot": (cf.prob_close_above, (-1, 1, 0.5, 1), "spot_usd must be positive"),
    "vol": (cf.prob_close_above, (1, 1, -0.5, 1), "vol_annual must be non-negative"),
    "barriers": (cf.prob_double_barrier, (1, 2, 1, 0.5, 1), "lower_usd must be below upper_usd"),
}


@pytest.mark.parametrize(("func", "args", "match"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_invalid_inputs_name_the_argument(func, args, match):
    with pytest.raises(ConfigError, match=match):
        func(*args)


def test_nan_propagates():
    assert np.isnan(cf.prob_touch(np.nan, 100, 0.5, 0.1, up=True))


prices = st.floats(10.0, 1000.0)
vols = st.floats(0.05, 2.0)
times = st.floats(1e-4, 2.0)
drifts = st.floats(-1.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(spot=prices, k1=prices, k2=prices, vol=vols, t=times, nu=drifts)
def test_properties_of_terminal_and_touch(spot, k1, k2, vol, t, nu):
    lo_k, hi_k = min(k1, k2), max(k1, k2)
    above = cf.prob_close_above(spot, [lo_k, hi_k], vol, t, log_drift=nu)
    below = cf.prob_close_below(spot, [lo_k, hi_k], vol, t, log_drift=nu)
    assert np.all((above >= 0) & (above <= 1))
    np.testing.assert_allclose(above + below, 1.0)  # YES/NO symmetry
    assert above[0] >= above[1] - 1e-12  # monotone in strike
    up = np.array([lo_k, hi_k]) > spot
    touch = cf.prob_touch(spot, [lo_k, hi_k], vol, t, up=up, log_drift=nu)
    beyond = np.where(up, above, below)
    assert np.all((touch >= 0) & (touch <= 1))
    assert np.all(touch >= beyond - 1e-9)  # touch >= close beyond
    if hi_k > spot:  # an up barrier further away is harder to reach
        far = cf.prob_touch(spot, hi_k * 1.1, vol, t, up=True, log_drift=nu)
        assert float(far) <= float(touch[1]) + 1e-12


@settings(max_examples=100, deadline=None)
@given(spot=prices, vol=vols, t=times, nu=drifts, edges=st.lists(prices, min_size=2, max_size=8))
def test_ladder_of_ranges_sums_to_at_most_one(spot, vol, t, nu, edges):
    edges = np.unique(np.round(edges, 6))
    if edges.size < 2:
        return
    ladder = cf.prob_range(spot, edges[:-1], edges[1:], vol, t, log_drift=nu)
    assert np.all(ladder >= 0) and float(ladder.sum()) <= 1 + 1e-9
    whole = cf.prob_range(spot, edges[0], edges[-1], vol, t, log_drift=nu)
    assert float(ladder.sum()) == pytest.approx(float(whole), abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(spot=prices, a=prices, b=prices, vol=vols, t=times, nu=drifts)
def test_double_barrier_properties(spot, a, b, vol, t, nu):
    lo, hi = min(a, b), max(a, b)
    if hi / lo < 1.001:
        return
    p_up, p_down = cf.prob_double_barrier(spot, lo, hi, vol, t, log_drift=nu)
    assert 0 <= float(p_up) <= 1 and 0 <= float(p_down) <= 1
    assert float(p_up + p_down) <= 1 + 1e-9
    assert float(p_up) <= float(cf.prob_touch(spot, hi, vol, t, up=True, log_drift=nu)) + 1e-9
    assert float(p_down) <= float(cf.prob_touch(spot, lo, vol, t, up=False, log_drift=nu)) + 1e-9


def test_double_barrier_in_blocks_equals_one_pass(monkeypatch):
    """The gbm baseline is computed in cache-sized blocks: the same numbers as in one pass,
    with every method (images, eigenfunctions, open end, no variance, outside, NaN)."""
    rng = np.random.default_rng(3)
    n = 5_003
    spot = rng.uniform(5e4, 1.2e5, n)
    vol = rng.uniform(0.05, 1.5, n)
    t = rng.uniform(0.0, 1.0, n)
    t[::97], spot[::50], spot[::51], vol[::89] = np.inf, spot[::50] * 1.5, spot[::51] * 0.7, 0.0
    lo = spot * rng.uniform(0.5, 0.99, n)
    hi = lo * rng.uniform(1.05, 2.0, n)
    monkeypatch.setattr(cf, "_BLOCK", 64)
    vol_positive = np.where(vol > 0, vol, 0.3)
    for v in (vol, vol_positive):
        blocks = cf.prob_double_barrier(spot, lo, hi, v, t)
        monkeypatch.setattr(cf, "_BLOCK", 1 << 30)
        expected = cf.prob_double_barrier(spot, lo, hi, v, t)
        monkeypatch.setattr(cf, "_BLOCK", 64)
        for got, want in zip(blocks, expected, strict=True):
            np.testing.assert_array_equal(got, want)
