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


def test_plot_reliability_keeps_a_long_title_inside_the_figure(tmp_path, monkeypatch):
    """The report's title ("reliability: <model>, <start> to <end>") is wider than the figure:
    it is wrapped, never cut at the edge."""
    from matplotlib.figure import Figure

    seen = []
    save = Figure.savefig

    def savefig(fig, *args, **kwargs):
        renderer = fig.canvas.get_renderer()
        title = fig.axes[0].title
        seen.append((title.get_window_extent(renderer), fig.bbox, title.get_text()))
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    title = "reliability: gbm walk-forward, 2026-01-22 00:00 UTC to 2026-02-22 00:00 UTC"
    curves = {"gbm walk-forward": {"mean_prob": [0.2, 0.5, 0.8], "observed": [0.1, 0.6, 0.7]}}
    plot_reliability(curves, tmp_path / "rel.png", title=title)
    ((extent, figure, text),) = seen
    assert text.replace("\n", " ") == title
    assert extent.x0 >= figure.x0 and extent.x1 <= figure.x1
