"""Known-answer tests for Keskar et al.'s sharpness on quadratics, where the box maximum is analytic.

f(x) = ½ (x − c)ᵀ H (x − c) + f₀ with H diagonal and positive: over the box |y_i| ≤ b_i the maximum of f(x +
y) is separable, ½ Σ H_ii (|x_i − c_i| + b_i)² + f₀. In a random subspace f(x + Ay) is a convex quadratic in
y, whose maximum over a box is at one of its 2ᵖ vertices: we enumerate them.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure.sharpness import sharpness


class Quadratic(nn.Module):
    def __init__(
        self, curvature: torch.Tensor, center: torch.Tensor, start: torch.Tensor, floor: float = 0.1
    ):
        super().__init__()
        self.curvature, self.center, self.floor = curvature, center, floor
        self.x = nn.Parameter(start.clone())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        d = self.x - self.center
        return (0.5 * (d * self.curvature * d).sum() + self.floor).expand(len(inputs))

    def value(self, x: torch.Tensor) -> float:
        d = x - self.center
        return float(0.5 * (d * self.curvature * d).sum() + self.floor)


def mean_output(output: torch.Tensor, _target: torch.Tensor) -> torch.Tensor:
    return output.mean()


DATA = (torch.zeros(4, 1), torch.zeros(4))


def make_quadratic(scale: float = 1.0, n: int = 6, seed: int = 0) -> Quadratic:
    generator = torch.Generator().manual_seed(seed)
    curvature = scale * (torch.rand(n, generator=generator, dtype=torch.float64) * 10 + 1)
    center = torch.randn(n, generator=generator, dtype=torch.float64)
    start = center + 0.01 * torch.randn(n, generator=generator, dtype=torch.float64)
    return Quadratic(curvature, center, start)


def test_full_space_sharpness_matches_the_analytic_box_maximum():
    model = make_quadratic()
    x = model.x.detach().clone()
    epsilon = 1e-3
    bound = epsilon * (x.abs() + 1)  # A = I: the box is relative to each weight
    f_x = model.value(x)
    f_max = float(0.5 * (model.curvature * ((x - model.center).abs() + bound) ** 2).sum() + model.floor)
    expected = (f_max - f_x) / (1 + f_x) * 100
    result = sharpness(model, mean_output, *DATA, epsilon=epsilon)
    assert result.value == pytest.approx(expected, rel=1e-6)
    assert result.loss == pytest.approx(f_x, rel=1e-12)
    assert torch.equal(model.x.detach(), x)  # parameters restored


@pytest.mark.parametrize("p", [2, 3, 4])
def test_subspace_sharpness_matches_vertex_enumeration(p):
    model = make_quadratic()
    x = model.x.detach().clone()
    basis = torch.randn(6, p, generator=torch.Generator().manual_seed(10 + p), dtype=torch.float64)
    bound = 1e-3 * ((torch.linalg.pinv(basis) @ x).abs() + 1)
    f_x = model.value(x)
    f_max = max(
        model.value(x + basis @ (torch.tensor(signs, dtype=torch.float64) * bound))
        for signs in itertools.product((-1.0, 1.0), repeat=p)
    )
    result = sharpness(model, mean_output, *DATA, epsilon=1e-3, basis=basis)
    assert result.value <= (f_max - f_x) / (1 + f_x) * 100 * (1 + 1e-9)  # cannot beat the true maximum
    assert result.value == pytest.approx((f_max - f_x) / (1 + f_x) * 100, rel=1e-6)
    assert result.subspace_dim == p


def test_sharper_quadratic_has_larger_sharpness_and_phi_is_nonnegative():
    flat = sharpness(make_quadratic(scale=1.0), mean_output, *DATA, subspace_dim=3, seed=1)
    sharp = sharpness(make_quadratic(scale=10.0), mean_output, *DATA, subspace_dim=3, seed=1)
    assert 0 <= flat.value < sharp.value
    full_flat = sharpness(make_quadratic(scale=1.0), mean_output, *DATA)
    full_sharp = sharpness(make_quadratic(scale=10.0), mean_output, *DATA)
    assert 0 <= full_flat.value < full_sharp.value


def test_sharpness_at_an_exact_minimum_is_positive():
    # The gradient vanishes at the minimum: a start at y = 0 would stop at once; the random start does not.
    model = make_quadratic()
    with torch.no_grad():
        model.x.copy_(model.center)
    assert sharpness(model, mean_output, *DATA).value > 0


def test_sharpness_on_a_network_restores_parameters_and_modes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = sharpness(model, nn.CrossEntropyLoss(), x, y, epsilon=5e-4, subspace_dim=5)
    assert result.value >= 0 and result.evaluations >= 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN buffers untouched too
    assert model.training


def test_bad_arguments_are_config_errors():
    model = make_quadratic()
    with pytest.raises(ConfigError, match="epsilon"):
        sharpness(model, mean_output, *DATA, epsilon=0)
    with pytest.raises(ConfigError, match="subspace_dim"):
        sharpness(model, mean_output, *DATA, subspace_dim=100)
