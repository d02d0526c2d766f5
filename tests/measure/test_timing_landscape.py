"""Timing (structure and the knee rule) and landscapes (interpolation end points, filter normalisation,
BatchNorm)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure.landscape import (
    direction_1d,
    filter_normalized_direction,
    interpolate_states,
    interpolation_1d,
    plot_interpolation,
    plot_surface,
    recompute_bn_statistics,
    surface_2d,
)
from optlab.measure.timing import TimingRow, find_knee, plot_timing, time_per_update


def row(batch_size: int, seconds: float) -> TimingRow:
    return TimingRow(batch_size, seconds, seconds, seconds, seconds, 1, seconds, batch_size / seconds, 3)


def test_knee_is_first_batch_size_beyond_twice_the_small_batch_time():
    rows = [row(1, 1.0), row(2, 1.1), row(4, 1.9), row(8, 2.5), row(16, 5.0)]
    assert find_knee(rows) == (8, 4)
    assert find_knee(rows[:3]) == (None, 4)
    outlier = [row(1, 1.0), row(2, 9.0), row(4, 1.2), row(8, 1.5), row(16, 3.0), row(32, 6.0)]
    assert find_knee(outlier) == (16, 8)  # one slow measurement at B = 2 does not end the flat region


def test_time_per_update_measures_every_batch_size(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(100, 6), torch.randint(0, 3, (100,))
    torch.set_num_threads(2)
    try:
        result = time_per_update(
            lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)),
            (x, y),
            [1, 8, 64, 200],  # 200 > N: sampled with replacement
            optimizer=lambda params: torch.optim.SGD(params, lr=0.1),
            repeats=5,
            max_seconds=0.5,
            threads=1,
        )
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(1)
    assert [r.batch_size for r in result.rows] == [1, 8, 64, 200]
    for r in result.rows:
        assert 0 < r.update_s_min <= r.update_s_q25 <= r.update_s <= r.update_s_q75
        assert r.updates_per_epoch == math.ceil(100 / r.batch_size)
        assert r.epoch_s == pytest.approx(r.update_s * r.updates_per_epoch)
        assert r.examples_per_s == pytest.approx(r.batch_size / r.update_s)
    knee, flat = find_knee(result.rows)
    assert (result.knee_batch_size, result.flat_up_to) == (knee, flat)
    plot_timing(result, tmp_path / "timing.png")
    assert (tmp_path / "timing.png").stat().st_size > 1000


def test_time_per_update_skips_batch_sizes_that_cannot_train():
    x, y = torch.randn(50, 4), torch.randint(0, 2, (50,))
    result = time_per_update(
        lambda: nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)),
        (x, y),
        [1, 4],
        optimizer=lambda params: torch.optim.SGD(params, lr=0.1),
        repeats=3,
    )
    assert 1 in result.skipped and "channel" in result.skipped[1]  # BatchNorm cannot train on one example
    assert [r.batch_size for r in result.rows] == [4]


def test_time_per_update_rejects_bad_batch_sizes():
    with pytest.raises(ConfigError, match="batch sizes"):
        time_per_update(
            lambda: nn.Linear(2, 2), (torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), [0, 4]
        )


# -- landscapes ----------------------------------------------------------------------------------------------
def bn_net() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3))


@pytest.fixture
def two_solutions():
    torch.manual_seed(0)
    x, y = torch.randn(200, 5), torch.randint(0, 3, (200,))
    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = bn_net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(30):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return model, states, (x, y)


def evaluate(model, state, x, y) -> float:
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        return nn.functional.cross_entropy(model(x), y).item()


def test_interpolation_end_points_are_the_solutions(two_solutions):
    model, (a, b), (x, y) = two_solutions
    data = interpolation_1d(
        model, a, b, nn.CrossEntropyLoss(), (x, y), (x, y), alphas=[0.0, 0.5, 1.0], bn="interpolate"
    )
    probe = bn_net()
    assert data["train_loss"][0] == pytest.approx(evaluate(probe, a, x, y), rel=1e-5)
    assert data["train_loss"][2] == pytest.approx(evaluate(probe, b, x, y), rel=1e-5)
    assert data["test_loss"] == pytest.approx(data["train_loss"])
    assert all(0 <= acc <= 1 for acc in data["train_accuracy"])


def test_interpolate_states_is_linear_and_extrapolates():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 0.0]), "n": torch.tensor(7)}
    out = interpolate_states(a, b, -1.0)
    assert torch.equal(out["w"], torch.tensor([-1.0, 4.0]))  # (1 − α)A + αB with α = −1
    assert out["n"].item() == 3  # integers from A
    with pytest.raises(ConfigError, match="different parameters"):
        interpolate_states(a, {"w": b["w"]}, 0.5)


def test_recomputed_bn_statistics_equal_the_data_moments(two_solutions):
    model, (a, _), (x, _) = two_solutions
    model.load_state_dict(a)
    recompute_bn_statistics(model, x, batch_size=200)
    bn = model[1]
    with torch.no_grad():
        features = model[0](x)
    assert torch.allclose(bn.running_mean, features.mean(0), atol=1e-6)
    assert torch.allclose(bn.running_var, features.var(0, unbiased=True), rtol=1e-5)
    assert bn.momentum == 0.1  # restored


def test_recompute_mode_differs_from_interpolated_statistics_midway(two_solutions):
    model, (a, b), (x, y) = two_solutions
    recomputed = interpolation_1d(model, a, b, nn.CrossEntropyLoss(), (x, y), alphas=[0.5], bn="recompute")
    interpolated = interpolation_1d(
        model, a, b, nn.CrossEntropyLoss(), (x, y), alphas=[0.5], bn="interpolate"
    )
    assert recomputed["train_loss"][0] != pytest.approx(interpolated["train_loss"][0], rel=1e-4)


def test_filter_normalized_direction_has_the_filters_norms():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.Flatten(), nn.Linear(4 * 6, 3))
    direction = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    for name, param in model.named_parameters():
        d = direction[name]
        if param.dim() == 1:
            assert torch.count_nonzero(d) == 0  # biases are not perturbed (Li et al.'s "biasbn")
        else:
            assert torch.allclose(d.flatten(1).norm(dim=1), param.detach().flatten(1).norm(dim=1), rtol=1e-5)


def test_surface_centre_is_the_solution_and_grows_away(two_solutions, tmp_path):
    model, (a, _), (x, y) = two_solutions
    model.load_state_dict(a)
    data = surface_2d(model, nn.CrossEntropyLoss(), x, y, steps=5, span=1.0, seed=0)
    loss = np.asarray(data["loss"])
    assert loss.shape == (5, 5)
    assert loss[2, 2] == pytest.approx(evaluate(bn_net(), a, x, y), rel=1e-5)
    assert loss[2, 2] < loss[0, 0] and loss[2, 2] < loss[4, 4]  # a (local) minimum region
    plot_surface(data, tmp_path / "surface.png")
    line = direction_1d(model, nn.CrossEntropyLoss(), (x, y), alphas=[-0.5, 0.0, 0.5])
    plot_interpolation(line, tmp_path / "line.png")
    assert line["train_loss"][1] == pytest.approx(loss[2, 2], rel=1e-5)
    assert (tmp_path / "surface.png").exists() and (tmp_path / "line.png").exists()


def test_bad_bn_mode_is_a_config_error(two_solutions):
    model, (a, b), data = two_solutions
    with pytest.raises(ConfigError, match="bn mode"):
        interpolation_1d(model, a, b, nn.CrossEntropyLoss(), data, bn="freeze")


def test_min_statistic_is_never_above_the_median():
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))

    def timed(statistic: str):
        return time_per_update(
            lambda: nn.Linear(4, 2), (x, y), [2, 32], optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
            repeats=5, max_seconds=0.2, statistic=statistic,
        )  # fmt: skip

    fastest = timed("min")
    for row in fastest.rows:
        assert row.update_s == row.update_s_min <= row.update_s_q25
    with pytest.raises(ConfigError, match="statistic"):
        timed("mean")
