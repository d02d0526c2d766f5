"""The analytic surfaces: closed-form gradients equal autograd's, minima are where the docstrings say."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optlab.experiments import surfaces
from optlab.experiments.surfaces import quadratic, saddle_and_local_min, valley

ALL = [
    quadratic((1.0, 100.0), 5.0),
    quadratic((2.0, 3.0), -40.0, center=(1.0, -2.0)),
    valley(),
    saddle_and_local_min(),
]


@pytest.mark.parametrize("surface", ALL, ids=lambda s: s.name)
def test_closed_form_matches_autograd(surface):
    generator = torch.Generator().manual_seed(0)
    x_min, x_max, y_min, y_max = surface.extent
    points = torch.rand(64, 2, generator=generator, dtype=torch.float64)
    points = points * torch.tensor([x_max - x_min, y_max - y_min], dtype=torch.float64)
    points = points + torch.tensor([x_min, y_min], dtype=torch.float64)
    value, grad = surface.value_and_gradient(points)
    closed_value, closed_grad = surface.closed_form(points)
    torch.testing.assert_close(closed_value, value, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(closed_grad, grad, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("surface", ALL, ids=lambda s: s.name)
def test_minimum_is_a_critical_point_below_the_grid(surface):
    minimum = torch.tensor(surface.minimum, dtype=torch.float64)
    assert torch.linalg.vector_norm(surface.gradient(minimum)) < 1e-9
    _, _, z = surface.grid(81)
    assert surface.minimum_value() <= z.min() + 1e-12


def test_quadratic_hessian_is_rotated_diagonal():
    surface = quadratic((1.0, 100.0), angle_deg=5.0)
    hessian = torch.autograd.functional.hessian(surface.fn, torch.zeros(2, dtype=torch.float64))
    angle = math.radians(5.0)
    rotation = torch.tensor(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=torch.float64
    )
    expected = rotation @ torch.diag(torch.tensor([1.0, 100.0], dtype=torch.float64)) @ rotation.T
    torch.testing.assert_close(hessian, expected, rtol=1e-12, atol=1e-12)


def test_saddle_surface_shape():
    surface = saddle_and_local_min((1.0, 1.6, 3.0))

    def g_prime(x: float) -> float:
        return float(surface.gradient(torch.tensor([x, 0.0], dtype=torch.float64))[0])

    # critical points at the saddle 0, the local minimum 1, the bump 1.6 and the global minimum 3
    for root in (0.0, 1.0, 1.6, 3.0):
        assert abs(g_prime(root)) < 1e-12
    # descending on both sides of the saddle (a degenerate critical point, not a minimum)
    assert g_prime(-0.1) < 0 and g_prime(0.1) < 0
    # uphill after the local minimum, downhill after the bump
    assert g_prime(1.3) > 0 and g_prime(2.0) < 0
    values = surface.value(torch.tensor([[1.0, 0.0], [3.0, 0.0]], dtype=torch.float64))
    assert values[1] < values[0]


def test_valley_walls_saturate():
    surface = valley(shallow=0.01, steep=2000.0)
    grad = surface.gradient(torch.tensor([[0.0, 30.0], [0.0, -30.0]], dtype=torch.float64))
    np.testing.assert_allclose(grad[:, 1].numpy(), [2000.0, -2000.0], rtol=1e-12)
    # large |y| stays finite (log cosh written stably)
    assert torch.isfinite(surface.value(torch.tensor([0.0, 1e4], dtype=torch.float64)))


def test_batched_points_are_independent_problems():
    surface = quadratic((1.0, 100.0), 5.0)
    batch = torch.tensor([[1.0, 2.0], [-3.0, 0.5]], dtype=torch.float64)
    grads = surface.gradient(batch)
    for i in range(2):
        torch.testing.assert_close(grads[i], surface.gradient(batch[i]))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="eigenvalues"):
        quadratic((0.0, 1.0))
    with pytest.raises(ValueError, match="0 < a < b < d"):
        saddle_and_local_min((1.0, 0.5, 3.0))
    with pytest.raises(ValueError, match="valid"):
        surfaces.surface("nope")
    with pytest.raises(ValueError, match="last axis"):
        quadratic().value(torch.zeros(3))
