"""Issue 13, row 9: the Hessian plot's stability line is the optimizer's own rule, checked on the optimizer.

Reference: optlab's optimizer itself, run on the quadratic ½λθ² (one parameter) for many steps at a curvature
just below and just above the stated limit: below it θ shrinks, above it θ grows.
"""

from __future__ import annotations

import pytest
import torch

from optlab import optim
from optlab.measure.hessian import plot_hessian, stability_limit


def final_size(name: str, lr: float, curvature: float, steps: int = 3000, **hparams: float) -> float:
    theta = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = optim.create(name, [theta], lr=lr, **hparams)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * curvature * theta**2).sum().backward()
        opt.step()
        if not torch.isfinite(theta).all() or abs(theta.item()) > 1e30:
            return float("inf")
    return abs(theta.item())


CASES = [
    ("sgd", {}, "2/η"),
    ("momentum", {}, "(2+2β)/η"),  # registry default β = 0.9
    ("momentum", {"momentum": 0.5}, "(2+2β)/η"),
    ("nesterov", {}, "(2+2β)/((1+2β)η)"),
    ("momentum", {"momentum": 0.9, "dampening": 0.5}, "(2+2β)/((1−τ)η)"),
    ("sgd", {"weight_decay": 0.5}, "2/η − wd"),
]


@pytest.mark.parametrize(("name", "hparams", "rule"), CASES)
def test_the_limit_separates_convergence_from_divergence(name, hparams, rule):
    lr = 0.1
    limit = stability_limit(name, lr, hparams)
    assert limit.rule == rule and limit.value is not None
    assert final_size(name, lr, 0.97 * limit.value, **hparams) < 1e-3
    assert final_size(name, lr, 1.03 * limit.value, **hparams) > 1e3


def test_the_rules_in_closed_form():
    assert stability_limit("sgd", 0.1).value == pytest.approx(20)
    assert stability_limit("momentum", 0.1).value == pytest.approx(38)  # (2 + 1.8)/0.1
    assert stability_limit("nesterov", 0.1).value == pytest.approx(3.8 / 2.8 / 0.1)


@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop", "adagrad", "lamb", "radam", "lars"])
def test_no_line_for_preconditioned_or_per_layer_steps(name):
    limit = stability_limit(name, 1e-3)
    assert limit.value is None and "no line on H's eigenvalues" in limit.note


def test_the_figure_labels_the_line_with_its_rule(tmp_path, monkeypatch):
    import optlab.measure._common as common

    captured = {}
    monkeypatch.setattr(common, "save_figure", lambda figure, path: captured.setdefault("figure", figure))
    plot_hessian([30.0, 12.0, 3.0], stability_limit("momentum", 0.1), tmp_path / "h.png")
    labels = captured["figure"].axes[0].get_legend_handles_labels()[1]
    assert any(label.startswith("stability limit (2+2β)/η = 38 ") for label in labels)
    captured.clear()
    plot_hessian([30.0, 12.0, 3.0], stability_limit("adam", 1e-3), tmp_path / "h.png")
    labels = captured["figure"].axes[0].get_legend_handles_labels()[1]
    assert not any("stability limit" in label for label in labels)
    assert any("no stability line" in label for label in labels)


# -- Adam: the preconditioned sharpness ---------------------------------------------------------------------
def test_preconditioned_eigenvalues_match_a_dense_reference():
    from torch import nn

    from optlab.measure.hessian import preconditioned_eigenvalues

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x, y = torch.randn(32, 3, dtype=torch.float64), torch.randint(0, 2, (32,))
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    flat = torch.cat([p.detach().reshape(-1) for p in params])

    def loss_of(vector: torch.Tensor) -> torch.Tensor:
        pieces, start = [], 0
        for shape in shapes:
            size = int(torch.tensor(shape).prod())
            pieces.append(vector[start : start + size].reshape(shape))
            start += size
        hidden = torch.tanh(x @ pieces[0].T + pieces[1])
        return nn.functional.cross_entropy(hidden @ pieces[2].T + pieces[3], y)

    dense = torch.autograd.functional.hessian(loss_of, flat)
    diagonal = (
        torch.rand(flat.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.05
    )
    scale = diagonal.rsqrt()
    expected = torch.linalg.eigvalsh(scale[:, None] * dense * scale[None, :]).flip(0)[:3]
    found = preconditioned_eigenvalues(model, nn.CrossEntropyLoss(), x, y, diagonal, k=3, max_iterations=40)
    assert found == pytest.approx(expected.tolist(), rel=1e-6)


def test_adams_preconditioner_is_the_denominator_of_its_step():
    from optlab.measure.hessian import adam_preconditioner

    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(5, 3))
    opt = torch.optim.Adam([weight], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    for _ in range(4):
        opt.zero_grad()
        (weight**3).sum().backward()
        opt.step()
    before = weight.detach().clone()
    opt.zero_grad()
    (weight**3).sum().backward()
    opt.step()
    diagonal, settings = adam_preconditioner(opt.state_dict(), [weight])
    state = opt.state[weight]
    m_hat = state["exp_avg"] / (1 - 0.8 ** float(state["step"]))
    step = -(0.01 * m_hat.reshape(-1).double() / diagonal)
    assert torch.allclose((weight.detach() - before).reshape(-1).double(), step, rtol=1e-5, atol=1e-9)
    assert settings == {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "lr": 0.01}


@pytest.mark.parametrize("beta1", [0.0, 0.9])
def test_adams_limit_separates_convergence_from_divergence_with_p_frozen(beta1):
    """EMA momentum with step η·P⁻¹ (Adam with P frozen) on ½θᵀHθ, H = diag(h), P = diag(p)."""
    from optlab.measure.hessian import adam_stability_limit

    lr = 0.01
    limit = adam_stability_limit(lr, beta1).value
    p = torch.tensor([0.5, 2.0], dtype=torch.float64)

    def final_size(sharpness: float) -> float:  # λ_max(P⁻¹H) = sharpness, on the first coordinate
        h = torch.tensor([sharpness * p[0], 0.5 * limit * p[1]], dtype=torch.float64)
        theta, m = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        for _ in range(3000):
            m = beta1 * m + (1 - beta1) * h * theta
            theta = theta - lr * m / p
            if not bool(theta.abs().max() < 1e30):
                return float("inf")  # diverged (before it overflows to NaN)
        return float(theta.abs().max())

    assert final_size(0.97 * limit) < 1e-3 and final_size(1.03 * limit) > 1e3
