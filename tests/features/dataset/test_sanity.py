"""Data sanity as rules (``features/dataset/sanity.py``): readers exclude rows that cannot be
true, with one named warning and the counts; ``data check`` reports them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.features.dataset.quality import check_dataset
from levercast.features.dataset.sanity import (
    JUMP_FLOOR,
    JUMP_K,
    JUMP_WINDOW,
    QuarantineWarning,
    bad_rows,
    jump_mask,
)
from levercast.features.dataset.store import Store
from levercast.features.errors import DataError
from tests.conftest import make_dataset
from tests.faults.corrupt import CORRUPTIONS, FORMAT_BREAKS, ROW


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("clean") / "d", hours=24 * 30)


def _copy(clean, tmp_path):
    import shutil

    root = tmp_path / "d"
    shutil.copytree(clean, root)
    return root


def test_a_clean_dataset_reads_without_warnings(clean):
    store = Store(clean)
    for table in store.tables():
        store.read(table)  # filterwarnings=error: any QuarantineWarning fails here
        assert store.quarantined(table) == {}
    assert check_dataset(store)["ok"]


@pytest.mark.parametrize("case", CORRUPTIONS, ids=[c.name for c in CORRUPTIONS])
def test_readers_exclude_bad_rows_with_a_named_warning(clean, tmp_path, case):
    root = _copy(clean, tmp_path)
    rows_before = len(Store(root).read(case.table))
    case.corrupt(root)
    store = Store(root)
    with pytest.warns(QuarantineWarning, match=rf"{case.table}: excluded 1 of") as caught:
        frame = store.read(case.table)
    assert len(caught) == 1 and case.rule in str(caught[0].message)
    assert len(frame) == rows_before - 1
    assert list(store.quarantined(case.table).values()) == [1]
    numbers = frame.select_dtypes("number").to_numpy(dtype=float)
    assert not np.isinf(numbers).any()
    report = check_dataset(Store(root))
    where = report["problems"] if case.problem else report["warnings"]
    assert any(case.table in line and case.rule in line for line in where), report
    assert report["ok"] is (not case.problem)


@pytest.mark.parametrize("case", FORMAT_BREAKS, ids=[c.name for c in FORMAT_BREAKS])
def test_format_breaks_refuse_the_table(clean, tmp_path, case):
    root = _copy(clean, tmp_path)
    case.corrupt(root)
    with pytest.raises(DataError, match=case.rule.replace("[", r"\[").replace("]", r"\]")):
        Store(root).read(case.table)
    report = check_dataset(Store(root))
    assert not report["ok"] and any(case.rule in p for p in report["problems"])


def test_as_of_and_views_never_see_an_excluded_bar(clean, tmp_path):
    root = _copy(clean, tmp_path)
    CORRUPTIONS[0].corrupt(root)  # close = inf at ROW
    store = Store(root)
    t = pd.Timestamp("2024-02-01T00:00Z")
    with pytest.warns(QuarantineWarning):
        bars = store.as_of("candles", t, venue="binance-usdm", asset="BTC", interval="1h")
    assert np.isfinite(bars["close"].to_numpy()).all() and len(bars) == 24 * 30 - 1


def _series(n: int = 200, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return close * 1.005, close * 0.995


def _jumps_loop(high, low, window=JUMP_WINDOW, k=JUMP_K, floor=JUMP_FLOOR):
    """The rule written out bar by bar (one pass, nothing excluded before)."""
    out = []
    for i in range(high.size):
        if i < window:
            out.append(False)
            continue
        top, bottom = math.log(max(high[i - window : i])), math.log(min(low[i - window : i]))
        scale = k * max(top - bottom, floor)
        out.append(math.log(high[i]) - top > scale or bottom - math.log(low[i]) > scale)
    return np.array(out)


@pytest.mark.parametrize(
    ("factor", "flagged"),
    [(1.0, False), (1.3, False), (0.6, False), (10.0, True), (0.1, True), (1e8, True)],
    ids=["none", "+30%", "-40%", "x10", "/10", "1e8"],
)
def test_jump_rule_matches_a_loop_and_spares_real_moves(factor, flagged):
    high, low = _series()
    high[150] *= factor
    low[150] *= factor
    mask = jump_mask(high, low)
    assert mask[150] is np.bool_(flagged)
    np.testing.assert_array_equal(mask, _jumps_loop(high, low))


def test_a_run_of_bad_bars_is_caught_whole():
    high, low = _series()
    high[100:105] = low[100:105] = 1e12
    assert np.flatnonzero(jump_mask(high, low)).tolist() == list(range(100, 105))


def test_the_shared_dataset_is_clean(shared_store):
    for table in shared_store.tables():
        bad, counts = bad_rows(table, shared_store.read(table), related={
            "markets": shared_store.read("markets")})  # fmt: skip
        assert counts == {} and not bad.any(), table
    assert ROW > JUMP_WINDOW


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    spikes=st.lists(st.tuples(st.integers(0, 199), st.floats(0.05, 20.0)), max_size=4),
    holes=st.lists(st.integers(0, 199), max_size=3),
    excluded=st.lists(st.integers(0, 199), max_size=3),
)
def test_the_no_jump_shortcut_never_changes_the_mask(seed, spikes, holes, excluded):
    """``_suspect`` skips the rolling windows only when no bar can jump: with it forced on,
    the mask is the same on random series with spikes, missing bars and excluded bars."""
    from levercast.features.dataset import sanity

    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200)))
    high, low = (
        close * np.exp(rng.uniform(0, 0.01, 200)),
        close * np.exp(-rng.uniform(0, 0.01, 200)),
    )
    for i, factor in spikes:
        high[i] *= factor
        low[i] *= factor
    high[holes] = np.nan
    mask = np.zeros(200, dtype=bool)
    mask[excluded] = True
    fast = jump_mask(high, low, excluded=mask)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(sanity, "_suspect", lambda high, *_: np.ones(high.size - 1, dtype=bool))
        slow = jump_mask(high, low, excluded=mask)
    np.testing.assert_array_equal(fast, slow)


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    moves=st.lists(
        st.tuples(st.integers(1, 79), st.sampled_from([1.0, 2.718281828, 2.7182818284590455, 3.0])),
        max_size=4,
    ),
    odd=st.lists(
        st.tuples(st.integers(0, 79), st.sampled_from([0.0, -1.0, np.nan, np.inf])), max_size=3
    ),
    broken=st.lists(st.integers(0, 79), max_size=3),
)
def test_the_shortcut_flags_every_bar_that_moved_past_the_bound_in_logs(seed, moves, odd, broken):
    """``_suspect`` (ratios) flags at least the bars the bound written in logs would (the
    shortcut ``jump_mask`` took before, one series at a time): bars moving exactly the bound,
    zero, negative, NaN and infinite prices."""
    from levercast.features.dataset import sanity

    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 80)))
    high, low = close * 1.001, close * 0.999
    for i, factor in moves:
        high[i] = high[i - 1] * factor
        low[i] = low[i - 1] / factor
    for i, value in odd:
        (high if i % 2 else low)[i] = value
    mask = np.zeros(80, dtype=bool)
    mask[broken] = True
    mask |= ~(np.isfinite(high) & (high > 0) & np.isfinite(low) & (low > 0))
    lh = np.log(np.where(high > 0, high, np.nan))
    ll = np.log(np.where(low > 0, low, np.nan))
    prev_ok = np.isfinite(lh[:-1]) & np.isfinite(ll[:-1]) & ~mask[:-1]
    with np.errstate(invalid="ignore"):
        moved = (lh[1:] - lh[:-1] > JUMP_K * JUMP_FLOOR) | (ll[:-1] - ll[1:] > JUMP_K * JUMP_FLOOR)
    looked_at = ~prev_ok | moved
    suspect = sanity._suspect(high, low, mask)
    assert not (looked_at & ~suspect).any()


def test_candles_rules_are_the_same_without_the_table_wide_shortcut(clean, tmp_path):
    """A table with a jump in one series and clean others: the rules with the shortcut forced
    off (every series through ``jump_mask``) match."""
    from levercast.features.dataset import sanity

    store = Store(clean)
    frame = store.read("candles").copy()
    h = frame["high"].to_numpy(copy=True)
    h[len(h) // 2] *= 50.0
    frame["high"] = h
    fast = sanity._candles(frame)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(sanity, "_suspect", lambda high, *_: np.ones(high.size - 1, dtype=bool))
        slow = sanity._candles(frame)
    assert fast.keys() == slow.keys()
    assert fast[sanity.JUMP_REASON].sum() >= 1
    for rule in fast:
        np.testing.assert_array_equal(fast[rule], slow[rule])


@settings(max_examples=150, deadline=None)
@given(
    prices=st.lists(
        st.tuples(*[st.sampled_from([0.0, -1.0, 1.0, 2.0, 3.0, np.nan, np.inf, -np.inf])] * 4),
        min_size=1,
        max_size=30,
    )
)
def test_the_clean_table_shortcut_agrees_with_the_rules_written_out(prices):
    """On any mix of zero, negative, NaN and infinite prices the price rules are those written
    out column by column, whether or not the table takes the all-sane shortcut."""
    from levercast.features.dataset import sanity

    o, h, lo, c = (np.array(col, dtype=float) for col in zip(*prices, strict=True))
    n = len(o)
    frame = pd.DataFrame(
        {"venue": ["v"] * n, "asset": ["BTC"] * n, "interval": ["1h"] * n, "open": o, "high": h}
        | {"low": lo, "close": c, "volume_base": np.ones(n)}
    )
    rules = sanity._candles(frame)
    with np.errstate(invalid="ignore"):
        good = np.all([np.isfinite(x) & (x > 0) for x in (o, h, lo, c)], axis=0)
        inverted = good & (h < lo)
        outside = good & ~inverted & ((o > h) | (o < lo) | (c > h) | (c < lo))
    np.testing.assert_array_equal(rules["open/high/low/close not finite and positive"], ~good)
    np.testing.assert_array_equal(rules["high below low"], inverted)
    np.testing.assert_array_equal(rules["open or close outside [low, high]"], outside)
