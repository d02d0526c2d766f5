"""The measurements ``optlab measure critical-batch|hessian|sharpness`` call, tested as library functions:
steps-to-target read from run folders, a run's curvature against its optimizer's stability limit (checked
against the full Hessian computed by torch.autograd), the sharpness grid."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure.hessian import final_lr, run_curvature
from optlab.measure.noise_scale import fit_critical_batch, steps_to_target
from optlab.measure.runs import LoadedRun
from optlab.measure.sharpness import sharpness_grid
from optlab.train import TrainConfig


def _run(folder: Path, metrics: str | None = None, **settings) -> Path:
    folder.mkdir(parents=True)
    config = TrainConfig(dataset="mnist1d", model="mlp", **settings)
    (folder / "config.toml").write_text(config.to_toml())
    if metrics is not None:
        (folder / "metrics.csv").write_text(metrics)
    return folder


def _metrics(steps_per_epoch: int, losses: list[float], lr: float = 0.1) -> str:
    rows = [f"{e + 1},{(e + 1) * steps_per_epoch},{lr},{loss}" for e, loss in enumerate(losses)]
    return "epoch,step,lr,train_loss\n" + "\n".join(rows) + "\n"


# -- steps to target -----------------------------------------------------------------------------------------
def test_steps_to_target_reads_the_first_epoch_at_the_target_and_leaves_out_the_rest(tmp_path):
    # S(B) = 100 + 6400/B: 300 steps at B = 32, 200 at 64, 125 at 256 (first epoch with loss <= 1)
    runs = [
        _run(tmp_path / "b32", _metrics(100, [2.0, 1.5, 0.9, 0.5]), batch_size=32),
        _run(tmp_path / "b64", _metrics(100, [2.0, 1.0, 0.8]), batch_size=64),
        _run(tmp_path / "b256", _metrics(125, [0.7, 0.6]), batch_size=256),
        _run(tmp_path / "never", _metrics(100, [2.0, 1.8]), batch_size=128),
        _run(tmp_path / "full", _metrics(1, [0.5]), batch_size=None),
    ]
    result = steps_to_target(runs, "train_loss", 1.0)
    assert [row["steps"] for row in result.rows] == [300, 200, 125, None, 1]
    assert [row["batch_size"] for row in result.rows] == [32, 64, 256, 128, None]
    assert result.rows[0]["run"] == str(runs[0])
    assert result.batch_sizes == [32, 64, 256] and result.steps == [300, 200, 125]
    assert result.left_out == [str(runs[3]), str(runs[4])]
    fit = fit_critical_batch(result.batch_sizes, result.steps)
    assert fit.s_min == pytest.approx(100) and fit.e_min == pytest.approx(6400)
    assert fit.b_crit == pytest.approx(64)


def test_steps_to_target_refuses_a_run_without_metrics_and_an_unknown_column(tmp_path):
    good = _run(tmp_path / "good", _metrics(10, [1.0]), batch_size=32)
    bare = _run(tmp_path / "bare", batch_size=64)
    with pytest.raises(ConfigError, match=r"has no metrics\.csv"):
        steps_to_target([good, bare], "train_loss", 1.0)
    with pytest.raises(ConfigError, match=r"invalid value for --metric: 'val_loss'; metrics\.csv has epoch"):
        steps_to_target([good], "val_loss", 1.0)


# -- a run's curvature and its stability limit ---------------------------------------------------------------
def _loaded(tmp_path: Path, optimizer: str, lr: float | None, metrics: str | None = None, **hparams):
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randint(0, 2, (16,))
    config = TrainConfig(dataset="mnist1d", model="mlp", optimizer=optimizer, lr=lr, hparams=hparams)
    folder = tmp_path / optimizer
    folder.mkdir()
    if metrics is not None:
        (folder / "metrics.csv").write_text(metrics)
    dataset = SimpleNamespace(train=SimpleNamespace(x=x, y=y))
    return LoadedRun(folder, config, dataset, model)


def test_final_lr_prefers_the_last_update_then_the_config_then_the_default(tmp_path):
    run = _loaded(tmp_path, "sgd", 0.1, _metrics(10, [2.0, 1.0], lr=0.025))
    assert final_lr(run) == (0.025, "the lr of the run's last update")
    run = _loaded(tmp_path, "momentum", 0.2)  # no metrics.csv
    assert final_lr(run) == (0.2, "the run's lr")
    run = _loaded(tmp_path, "adam", None)
    run.config = SimpleNamespace(optimizer="adam", lr=None)  # TrainConfig itself fills in the default lr
    assert final_lr(run) == (pytest.approx(1e-3), "adam's default lr")


def test_run_curvature_matches_the_full_hessian_and_states_the_limit(tmp_path):
    run = _loaded(tmp_path, "sgd", 0.1, _metrics(10, [2.0, 1.0], lr=0.05))
    x, y = run.dataset.train.x[:12], run.dataset.train.y[:12]
    weight, bias = (p.detach().clone() for p in run.model.parameters())

    def loss(flat: torch.Tensor) -> torch.Tensor:
        w, b = flat[:6].reshape(2, 3), flat[6:]
        return nn.functional.cross_entropy(x @ w.T + b, y)

    full = torch.autograd.functional.hessian(loss, torch.cat([weight.reshape(-1), bias]))
    exact = torch.linalg.eigvalsh(full).flip(0)

    result = run_curvature(run, k=2, trace_samples=200, max_iterations=8, examples=12, seed=0)
    assert result.eigenvalues == pytest.approx(exact[:2].tolist(), rel=1e-6)
    assert result.trace.samples == 200
    assert abs(result.trace.value - full.trace().item()) < 5 * result.trace.standard_error
    assert (result.lr, result.lr_source) == (0.05, "the lr of the run's last update")
    assert result.limit.rule == "2/η" and result.limit.value == pytest.approx(40.0)
    lines = result.lines()
    assert lines[0].startswith("top 2 eigenvalues: ")
    assert lines[1].startswith(
        "stability limit 2/η = 40 for sgd at η = 0.05 (the lr of the run's last update)"
    )
    assert lines[1].endswith("is below it")
    data = result.to_dict()
    assert data["examples"] == 12 and data["stability_limit"]["value"] == pytest.approx(40.0)
    assert data["preconditioned_eigenvalues"] is None and data["trace"]["samples"] == 200


def test_run_curvature_momentum_limit_and_adam_without_a_checkpoint(tmp_path):
    momentum = run_curvature(_loaded(tmp_path, "momentum", 0.1, momentum=0.5), k=1, trace_samples=0)
    assert momentum.trace is None and momentum.limit.rule == "(2+2β)/η"
    assert momentum.limit.value == pytest.approx(30.0)  # (2 + 2·0.5) / 0.1
    adam = run_curvature(_loaded(tmp_path, "adam", 0.01), k=1, trace_samples=0)
    assert adam.limit.value is None and adam.preconditioned is None
    assert "no checkpoint at" in adam.no_preconditioned
    assert adam.lines()[1].startswith("no stability line: adam preconditions its step")
    assert adam.lines()[2].startswith("  no preconditioned sharpness: no checkpoint at")


# -- sharpness grid ------------------------------------------------------------------------------------------
def test_sharpness_grid_measures_every_epsilon_in_both_spaces_in_order():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
    tasks: list[str] = []
    grid = sharpness_grid(
        model, nn.CrossEntropyLoss(), x, y, [1e-3, 5e-4], subspace_dim=2, iterations=2,
        progress=lambda task, done, total: tasks.append(task),
    )  # fmt: skip
    results = list(grid)
    assert [(where, r.epsilon, r.subspace_dim) for where, r in results] == [
        ("full space", 1e-3, None),
        ("subspace 2", 1e-3, 2),
        ("full space", 5e-4, None),
        ("subspace 2", 5e-4, 2),
    ]
    assert all(r.value >= 0 for _, r in results)
    assert set(tasks) <= {"ε=0.001, full space", "ε=0.001, subspace 2", "ε=0.0005, full space",
                          "ε=0.0005, subspace 2"}  # fmt: skip
    only_full = [
        where for where, _ in sharpness_grid(model, nn.CrossEntropyLoss(), x, y, [1e-3], iterations=1)
    ]
    assert only_full == ["full space"]
