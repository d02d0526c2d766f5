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
    assert limit.value is None and "no line drawn" in limit.note


def test_the_figure_labels_the_line_with_its_rule(tmp_path, monkeypatch):
    import optlab.measure._common as common

    captured = {}
    monkeypatch.setattr(common, "save_figure", lambda figure, path: captured.setdefault("figure", figure))
    plot_hessian([30.0, 12.0, 3.0], stability_limit("momentum", 0.1), tmp_path / "h.png")
    labels = captured["figure"].axes[0].get_legend_handles_labels()[1]
    assert any(label.startswith("stability limit (2+2β)/η = 38") for label in labels)
    captured.clear()
    plot_hessian([30.0, 12.0, 3.0], stability_limit("adam", 1e-3), tmp_path / "h.png")
    labels = captured["figure"].axes[0].get_legend_handles_labels()[1]
    assert not any("stability limit" in label for label in labels)
    assert any("no stability line" in label for label in labels)
