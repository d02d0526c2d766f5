"""Known-answer tests: Lanczos eigenvalues and Hutchinson's trace against the exact Hessian from autograd."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from optlab.errors import ConfigError
from optlab.measure.hessian import HessianTracker, hessian_eigenvalues, hessian_trace, lanczos


def exact_hessian(model: nn.Module, loss_fn, x, y) -> torch.Tensor:
    """The full Hessian of the mean loss w.r.t. the flattened parameters (eval mode), by
    torch.autograd.functional."""
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_of(vector: torch.Tensor) -> torch.Tensor:
        params, start = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            params[name] = vector[start : start + shape.numel()].view(shape)
            start += shape.numel()
        return loss_fn(functional_call(model, params, (x,)), y)

    was_training = model.training
    model.eval()
    hessian = torch.autograd.functional.hessian(loss_of, flat, vectorize=True)
    model.train(was_training)
    return hessian


@pytest.fixture
def small_net():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x = torch.randn(64, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (64,))
    return model, nn.CrossEntropyLoss(), x, y


def test_top_eigenvalues_match_exact_hessian(small_net):
    model, loss_fn, x, y = small_net
    exact = torch.linalg.eigvalsh(exact_hessian(model, loss_fn, x, y)).flip(0)[:5]
    before = [p.detach().clone() for p in model.parameters()]
    for chunk_size in (None, 16):  # one cached graph, and chunks weighted by size
        estimate = torch.tensor(hessian_eigenvalues(model, loss_fn, x, y, k=5, chunk_size=chunk_size))
        relative = ((estimate - exact).abs() / exact.abs()).max().item()
        assert relative < 1e-3, (estimate, exact)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_eigenvalues_float32_cnn_with_batchnorm_in_eval_mode():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv1d(1, 3, 5), nn.BatchNorm1d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 12, 4)
    )
    x = torch.randn(48, 1, 16)
    y = torch.randint(0, 4, (48,))
    model.train()
    model(x)  # give BatchNorm non-trivial running statistics
    exact = torch.linalg.eigvalsh(exact_hessian(model, nn.CrossEntropyLoss(), x, y).double()).flip(0)[:3]
    estimate = torch.tensor(hessian_eigenvalues(model, nn.CrossEntropyLoss(), x, y, k=3), dtype=torch.float64)
    assert ((estimate - exact).abs() / exact.abs()).max().item() < 1e-3
    assert model.training  # the mode flag is restored


def test_eigenvectors_satisfy_the_eigen_equation(small_net):
    model, loss_fn, x, y = small_net
    hessian = exact_hessian(model, loss_fn, x, y)
    values, vectors = hessian_eigenvalues(model, loss_fn, x, y, k=2, return_eigenvectors=True)
    for value, vector in zip(values, vectors, strict=True):
        assert torch.allclose(hessian @ vector, value * vector, atol=1e-6 * abs(value) + 1e-9)


def test_lanczos_finds_degenerate_and_negative_spectrum():
    # A repeated top eigenvalue and negative ones: the k largest algebraic eigenvalues are returned.
    eigen = torch.tensor([5.0, 5.0, 3.0, 1.0, -2.0, -7.0], dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    matrix = q @ torch.diag(eigen) @ q.T
    result = lanczos(lambda v: matrix @ v, 6, k=3, dtype=torch.float64)
    assert result.eigenvalues == pytest.approx([5.0, 5.0, 3.0], rel=1e-9)
    assert result.converged


def test_hutchinson_trace_within_its_standard_error(small_net):
    model, loss_fn, x, y = small_net
    hessian = exact_hessian(model, loss_fn, x, y)
    exact = hessian.trace().item()
    samples = 300
    # Var(vᵀHv) = 2 Σ_{i≠j} H_ij² for Rademacher v: the tolerance that the estimator's theory gives.
    sigma = math.sqrt(2 * ((hessian**2).sum() - (hessian.diag() ** 2).sum()).item() / samples)
    estimate = hessian_trace(model, loss_fn, x, y, samples=samples, seed=0)
    assert abs(estimate.value - exact) < 4 * sigma
    assert estimate.standard_error == pytest.approx(sigma, rel=0.3)  # the reported error is honest
    assert abs(estimate.value - exact) / abs(exact) < 0.1


def test_trace_is_exact_for_diagonal_hessian():
    # For a diagonal H, vᵀHv = Σ H_ii v_i² = tr H for every Rademacher v: zero variance.
    weights = nn.Parameter(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))

    class Quadratic(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = weights
            self.h = torch.tensor([1.5, 2.0, 4.0], dtype=torch.float64)

        def forward(self, inputs):
            return (0.5 * self.h * self.w**2).sum().expand(len(inputs))

    estimate = hessian_trace(
        Quadratic(), lambda out, _: out.mean(), torch.zeros(2, 1), torch.zeros(2), samples=5
    )
    assert estimate.value == pytest.approx(7.5, rel=1e-12)
    assert estimate.standard_error == pytest.approx(0.0, abs=1e-12)


def test_bad_k_is_a_config_error(small_net):
    model, loss_fn, x, y = small_net
    with pytest.raises(ConfigError, match="invalid k"):
        hessian_eigenvalues(model, loss_fn, x, y, k=0)


def test_hessian_tracker_records_lambda_max_and_stability_line(small_net):
    model, loss_fn, x, y = small_net
    exact_top = torch.linalg.eigvalsh(exact_hessian(model, loss_fn, x, y))[-1].item()

    class State:
        step, lr, dataset = 10, 0.5, (x, y)

    State.model = model
    tracker = HessianTracker(every=5, examples=64, loss_fn=loss_fn, tol=1e-6)
    tracker.on_step(State)
    State.step = 11
    tracker.on_step(State)  # not a multiple of `every`: skipped
    assert len(tracker.history) == 1
    assert tracker.history[0]["lambda_max"] == pytest.approx(exact_top, rel=1e-3)
    assert tracker.history[0]["two_over_lr"] == 4.0
