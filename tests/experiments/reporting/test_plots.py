"""The one reliability diagram: curves in, a non-blank PNG file out."""

from __future__ import annotations

import io

import numpy as np

from levercast.experiments.reporting.plots import file_data_uri, plot_reliability


def test_plot_reliability_writes_one_png_for_several_curves(tmp_path):
    curves = {
        "gbm": {"mean_prob": [0.1, 0.5, 0.9], "observed": [0.12, 0.48, 0.91], "count": [5, 5, 5]},
        "default": {"mean_prob": np.array([0.2, 0.6]), "observed": np.array([0.25, 0.55])},
    }
    out = plot_reliability(curves, tmp_path / "sub" / "rel.png", title="backtest BTC")
    assert out == tmp_path / "sub" / "rel.png"
    from matplotlib.image import imread

    pixels = np.asarray(imread(io.BytesIO(out.read_bytes()), format="png"))
    assert pixels[..., :3].std() > 0.01  # non-blank
    assert file_data_uri(out).startswith("data:image/png;base64,")
