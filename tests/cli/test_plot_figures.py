"""Figures that read: plot legends name what differs between runs; an empty heat map says it is empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from optlab.errors import ConfigError
from optlab.train import TrainConfig
from optlab.train.plots import plot_runs, run_labels


def _run(folder: Path, **settings) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(TrainConfig(dataset="ordered-abc", model="mlp", **settings).to_toml())
    return folder


def test_plot_labels_name_the_settings_that_differ(tmp_path):
    a = _run(tmp_path / "20260101-000000-x", batch_size=32, lr=0.01, description="a")
    b = _run(tmp_path / "20260101-000001-x", batch_size=256, lr=0.01, description="b")
    assert run_labels([a, b]) == ["batch_size=32", "batch_size=256"]  # not the folder names
    c = _run(tmp_path / "c", batch_size=32, lr=0.1, optimizer="sgd")
    assert run_labels([a, c]) == ["lr=0.01 optimizer=adam", "lr=0.1 optimizer=sgd"]
    # the same settings twice: the folders keep them apart; one run: its folder
    again = _run(tmp_path / "again", batch_size=32, lr=0.01)
    assert run_labels([a, again]) == [a.name, "again"]
    assert run_labels([a]) == [a.name]


def test_plot_runs_writes_a_png_from_metrics_and_refuses_what_it_cannot_draw(tmp_path):
    header = "epoch,step,lr,train_loss,train_acc,grad_norm,test_loss,test_acc\n"
    runs = []
    for name, batch, lr in (("a", 32, 0.1), ("b", 256, 0.1)):
        run = _run(tmp_path / name, batch_size=batch, lr=lr)
        rows = [f"{e},{e * 10},{lr},{2.0 / e},{0.3 * e},{1.0 / e},{2.1 / e},{0.28 * e}" for e in (1, 2, 3)]
        (run / "metrics.csv").write_text(header + "\n".join(rows) + "\n")
        runs.append(run)
    for x_axis in ("epoch", "step"):
        out = tmp_path / "figures" / f"curves-{x_axis}.png"  # the folder is created
        plot_runs(runs, out, x_axis=x_axis)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    with pytest.raises(ConfigError, match="invalid value for --x: 'time'"):
        plot_runs(runs, tmp_path / "never.png", x_axis="time")
    with pytest.raises(ConfigError, match="no metrics"):
        plot_runs([*runs, _run(tmp_path / "untrained", batch_size=64)], tmp_path / "never.png")
    assert not (tmp_path / "never.png").exists()


def test_heatmap_without_any_value_says_so(tmp_path, monkeypatch):
    from optlab.sweep import figures
    from optlab.sweep.results import Setting

    groups = [
        Setting(point={"batch_size": b, "lr": lr}, trials=[], values=[]) for b in (32, 64) for lr in (0.1, 1)
    ]
    texts: list[str] = []
    colorbars: list[object] = []
    import matplotlib.axes
    import matplotlib.figure

    original_text = matplotlib.axes.Axes.text
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "text",
        lambda self, x, y, s, *a, **k: texts.append(s) or original_text(self, x, y, s, *a, **k),
    )
    monkeypatch.setattr(matplotlib.figure.Figure, "colorbar", lambda self, *a, **k: colorbars.append(a))
    path = figures.heatmap(groups, "time-to-target", 0.6, tmp_path / "heatmap.png", "val_acc")
    assert path is not None and path.read_bytes()[:4] == b"\x89PNG"
    assert any("no trial reached the target" in text for text in texts)
    assert colorbars == []  # no colour bar for nothing
