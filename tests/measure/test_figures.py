"""Issue 13, row 9: the measurement figures read at their default size — no label runs into another."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import optlab.measure.landscape as landscape


def drawn(monkeypatch, plot, *args, **kwargs):
    """The figure ``plot`` would save, drawn (so every text has its final place)."""
    captured = {}
    monkeypatch.setattr(landscape, "save_figure", lambda figure, path: captured.setdefault("figure", figure))
    plot(*args, **kwargs)
    figure = captured["figure"]
    figure.canvas.draw()
    return figure, figure.canvas.get_renderer()


def overlapping(boxes):
    return [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]


@pytest.mark.parametrize("scale", [1.0, 1e4])  # linear and logarithmic colour scales
def test_surface_ticks_title_and_colour_bar_do_not_overlap(monkeypatch, tmp_path, scale):
    grid = np.linspace(-1, 1, 21)
    loss = 0.05 + scale * (grid[:, None] ** 2 + 2 * grid[None, :] ** 2)
    data = {"alpha": grid.tolist(), "beta": grid.tolist(), "loss": loss.tolist(), "bn": "keep"}
    title = "a-long-run-name-20261130-151141: train loss around the solution"
    figure, renderer = drawn(monkeypatch, landscape.plot_surface, data, tmp_path / "s.png", title=title)
    axes, bar = figure.axes
    for axis in (axes.xaxis, axes.yaxis, bar.yaxis):
        labels = [
            t.get_window_extent(renderer) for t in axis.get_ticklabels() if t.get_visible() and t.get_text()
        ]
        assert 2 <= len(labels) <= 8 and not overlapping(labels)
    title = axes.title.get_window_extent(renderer)
    assert not title.overlaps(bar.get_tightbbox(renderer))
    assert not title.overlaps(axes.get_window_extent(renderer))
    assert not axes.get_window_extent(renderer).overlaps(bar.get_window_extent(renderer))


def test_interpolation_labels_do_not_overlap(monkeypatch, tmp_path):
    alpha = np.linspace(-1, 2, 31)
    data = {
        "alpha": alpha.tolist(),
        "bn": "recompute",
        "train_loss": (0.1 + 5 * (alpha - 0.2) ** 2).tolist(),
        "test_loss": (0.2 + 5 * alpha**2).tolist(),
        "train_accuracy": np.linspace(0.2, 0.9, 31).tolist(),
        "test_accuracy": np.linspace(0.1, 0.8, 31).tolist(),
    }
    plot = landscape.plot_interpolation
    figure, renderer = drawn(monkeypatch, plot, data, tmp_path / "i.png", title="A vs B")
    loss_axis = figure.axes[0]
    labels = [t.get_window_extent(renderer) for t in loss_axis.yaxis.get_ticklabels(which="both")
              if t.get_visible() and t.get_text()]  # fmt: skip
    assert labels and not overlapping(labels)
    assert all(
        "10^" not in t.get_text() and "times" not in t.get_text() for t in loss_axis.yaxis.get_ticklabels()
    )
