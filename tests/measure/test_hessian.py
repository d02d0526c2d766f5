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


# -- the tracker's stability limits: heavy-ball momentum and Adam's preconditioned sharpness ----------------
def _trained(model, optimizer, loss_fn, x, y, steps=5):
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()


def _measure(model, optimizer, x, y, loss_fn, lr):
    from optlab.train.callbacks import TrainState

    n = sum(p.numel() for p in model.parameters())
    # Lanczos over the whole space (max_iterations = n): the Ritz values are the eigenvalues.
    tracker = HessianTracker(every=5, loss_fn=loss_fn, data=(x, y), max_iterations=n, tol=1e-12)
    tracker.on_step(TrainState(None, model, optimizer, None, torch.device("cpu"), step=5, lr=lr))
    return tracker.history[0]


@pytest.mark.parametrize("optimizer", ["optlab", "optlab-lecture", "torch"])
def test_tracker_gives_heavy_ball_momentum_its_limit_and_the_exact_lambda_max(small_net, optimizer):
    from optlab import optim

    model, loss_fn, x, y = small_net
    lr, beta = 0.05, 0.9
    if optimizer == "torch":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=beta)
    else:
        form = "lecture" if optimizer == "optlab-lecture" else "torch"
        opt = optim.create("sgd", model.parameters(), lr=lr, momentum=beta, form=form)
    _trained(model, opt, loss_fn, x, y)
    row = _measure(model, opt, x, y, loss_fn, lr)
    exact = torch.linalg.eigvalsh(exact_hessian(model, loss_fn, x, y))[-1].item()
    assert abs(row["lambda_max"] - exact) <= 1e-6 * abs(exact)
    assert row["threshold"] == pytest.approx((2 + 2 * beta) / lr, rel=1e-12)  # 76 = 3.8/η
    assert row["rule"] == "(2+2β)/η" and row["two_over_lr"] == pytest.approx(2 / lr)
    assert "preconditioned_sharpness" not in row


@pytest.mark.parametrize("optimizer", ["optlab-adam", "optlab-adamw", "torch-adam"])
def test_tracker_measures_adams_preconditioned_sharpness_exactly(small_net, optimizer):
    """λ₁(P^{-1/2} H P^{-1/2}) with P = √v̂ + ε read from the optimizer's state now, against a dense
    eigen-decomposition in float64; the limit (2 + 2β₁)/((1 − β₁)η) = 38/η at β₁ = 0.9."""
    from optlab import optim

    model, loss_fn, x, y = small_net
    lr, beta2, eps = 0.01, 0.99, 1e-8
    if optimizer == "torch-adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, beta2), eps=eps)
    else:
        name = optimizer.removeprefix("optlab-")
        opt = optim.create(name, model.parameters(), lr=lr, betas=(0.9, beta2), eps=eps, weight_decay=0.0)
    _trained(model, opt, loss_fn, x, y, steps=7)
    row = _measure(model, opt, x, y, loss_fn, lr)
    # P from the state, independently of optlab's reader: v̂ = v/(1 − β₂ᵗ), P = √v̂ + ε.
    parts = []
    for p in model.parameters():
        state = opt.state[p]
        v_hat = state["exp_avg_sq"].double() / (1 - beta2 ** float(state["step"]))
        parts.append((v_hat.sqrt() + eps).reshape(-1))
    scale = torch.cat(parts).rsqrt()
    hessian = exact_hessian(model, loss_fn, x, y)
    exact = torch.linalg.eigvalsh(scale[:, None] * hessian * scale[None, :])[-1].item()
    assert abs(row["preconditioned_sharpness"] - exact) <= 1e-6 * abs(exact)
    exact_raw = torch.linalg.eigvalsh(hessian)[-1].item()
    assert abs(row["lambda_max"] - exact_raw) <= 1e-6 * abs(exact_raw)
    assert row["threshold"] == pytest.approx(38 / lr, rel=1e-12)
    assert row["rule"] == "(2+2β₁)/((1−β₁)η)"


def test_tracker_follows_a_full_batch_fit_and_reads_p_at_each_measurement(small_net):
    from optlab import optim, schedules
    from optlab.data import Batcher
    from optlab.data._common import Split
    from optlab.train import fit

    model, loss_fn, x, y = small_net
    opt = optim.create("adam", model.parameters(), lr=0.01)
    tracker = HessianTracker(every=3, loss_fn=loss_fn, data=(x, y), max_iterations=20)
    batcher = Batcher(Split(x, y), None, shuffle=False)
    fit(model, opt, batcher, schedules.constant(0.01), epochs=9, callbacks=[tracker])
    assert [row["step"] for row in tracker.history] == [3, 6, 9]
    assert all(row["threshold"] == pytest.approx(3800.0) for row in tracker.history)
    sharpness = [row["preconditioned_sharpness"] for row in tracker.history]
    assert len(set(sharpness)) == 3 and min(sharpness) > 0  # P changes between measurements


def test_no_limit_for_other_adaptive_methods_or_unknown_optimizers(small_net):
    from optlab import optim
    from optlab.measure.hessian import optimizer_stability_limit

    model = small_net[0]
    for opt in (optim.create("rmsprop", model.parameters()), torch.optim.Adadelta(model.parameters())):
        limit, preconditioned = optimizer_stability_limit(opt, 0.1)
        assert limit.value is None and not preconditioned
    nesterov = optim.create("nesterov", model.parameters(), lr=0.1)
    assert optimizer_stability_limit(nesterov, 0.1)[0].rule == "(2+2β)/((1+2β)η)"
    assert optimizer_stability_limit(None, 0.1)[0].value == pytest.approx(20.0)  # plain GD
    assert optimizer_stability_limit(nesterov, 0.0)[0].value is None


def test_adam_tracker_needs_the_models_parameters_in_the_optimizer(small_net):
    from optlab import optim

    model, loss_fn, x, y = small_net
    opt = optim.create("adam", list(model.parameters())[::-1], lr=0.01)
    _trained(model, opt, loss_fn, x, y, steps=1)
    with pytest.raises(ConfigError, match="in their order"):
        _measure(model, opt, x, y, loss_fn, 0.01)


def test_tracker_skips_a_diverged_model(small_net):
    model, loss_fn, x, y = small_net
    with torch.no_grad():
        next(model.parameters())[0, 0] = float("inf")
    tracker = HessianTracker(every=1, loss_fn=loss_fn, data=(x, y))

    class State:
        step, lr, dataset = 1, 0.1, (x, y)

    State.model = model
    tracker.on_step(State)  # no Lanczos on non-finite weights (numpy's eigh would raise on the NaNs)
    assert tracker.history == []
