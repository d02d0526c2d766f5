"""Known-answer tests for the gradient noise scale and the critical-batch fit.

Linear regression with Gaussian inputs x ~ N(0, S), S diagonal, targets y = xᵀw* + σε, loss (xᵀw − y)², at
weights w = w* + δ. Per-example gradient g = 2(xᵀδ − σε)x, so (Isserlis' theorem for the fourth moments)

    G = 2Sδ,   E[g gᵀ] = 4[(δᵀSδ + σ²) S + 2 Sδδᵀ S],   tr Σ = 4[(δᵀSδ + σ²) tr S + |Sδ|²].
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure.noise_scale import (
    NoiseScaleTracker,
    fit_critical_batch,
    noise_scale,
    plot_critical_batch,
)


def squared_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((output.squeeze(1) - target) ** 2).mean()


@pytest.fixture(scope="module")
def regression():
    generator = torch.Generator().manual_seed(1)
    d, n, sigma = 32, 100_000, 0.5
    scales = torch.linspace(0.5, 1.5, d)
    x = torch.randn(n, d, generator=generator) * scales
    w_star = torch.randn(d, generator=generator)
    y = x @ w_star + sigma * torch.randn(n, generator=generator)
    delta = 0.3 * torch.randn(d, generator=generator)
    model = nn.Linear(d, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_((w_star + delta)[None])
    cov = torch.diag(scales.double() ** 2)
    delta = delta.double()
    true_grad_sq = (2 * cov @ delta).pow(2).sum().item()
    true_trace = (4 * ((delta @ cov @ delta + sigma**2) * cov.trace() + (cov @ delta).pow(2).sum())).item()
    return model, x, y, true_grad_sq, true_trace


def test_noise_scale_matches_closed_form_within_10_percent(regression):
    model, x, y, true_grad_sq, true_trace = regression
    before = model.weight.detach().clone()
    result = noise_scale(model, squared_error, (x, y), small_batch=8, big_batch=1024, n_pairs=1000, seed=0)
    truth = true_trace / true_grad_sq
    assert result.grad_norm_sq == pytest.approx(true_grad_sq, rel=0.10)
    assert result.trace_sigma == pytest.approx(true_trace, rel=0.10)
    assert result.b_simple == pytest.approx(truth, rel=0.10)
    # The reported standard error is consistent with the actual error.
    assert abs(result.b_simple - truth) < 4 * result.b_simple_stderr
    assert torch.equal(model.weight, before)


def test_noise_scale_accepts_an_optlab_style_split_and_is_deterministic(regression):
    model, x, y, *_ = regression

    class Split:  # duck-typed like optlab.data.Split
        def __init__(self, x, y):
            self.x, self.y = x, y

    a = noise_scale(model, squared_error, Split(x, y), 4, 64, n_pairs=5, seed=3)
    b = noise_scale(model, squared_error, (x, y), 4, 64, n_pairs=5, seed=3, chunk_size=7)
    assert a.b_simple == pytest.approx(b.b_simple, rel=1e-4)  # chunking changes only rounding
    assert a.n_pairs == 5 and a.small_batch == 4 and a.big_batch == 64


@pytest.mark.parametrize(
    ("small", "big", "message"),
    [(0, 10, "small_batch"), (10, 10, "smaller than big_batch"), (4, 2.5, "big_batch")],
)
def test_noise_scale_rejects_bad_batch_sizes(regression, small, big, message):
    model, x, y, *_ = regression
    with pytest.raises(ConfigError, match=message):
        noise_scale(model, squared_error, (x, y), small, big)


def test_noise_scale_tracker_keeps_ema_of_both_parts(regression):
    model, x, y, *_ = regression

    class State:
        model = None
        dataset = (x, y)
        step = 0

    State.model = model
    tracker = NoiseScaleTracker(
        small_batch=8, big_batch=256, every=2, n_pairs=20, ema=0.5, loss_fn=squared_error
    )
    for step in range(1, 7):
        State.step = step
        tracker.on_step(State)
    assert [row["step"] for row in tracker.history] == [2, 4, 6]
    rows = tracker.history
    g = [r["grad_norm_sq"] for r in rows]
    s = [r["trace_sigma"] for r in rows]
    g_ema = 0.5 * (0.5 * g[0] + 0.5 * g[1]) + 0.5 * g[2]
    s_ema = 0.5 * (0.5 * s[0] + 0.5 * s[1]) + 0.5 * s[2]
    assert tracker.b_simple == pytest.approx(s_ema / g_ema, rel=1e-12)


def test_critical_batch_fit_recovers_known_parameters(tmp_path):
    s_min, e_min = 1200.0, 96_000.0  # B_crit = 80
    batch_sizes = np.array([8, 16, 32, 64, 128, 256, 512, 1024])
    noise = np.random.default_rng(0).normal(0, 0.02, len(batch_sizes))  # 2 % run-to-run scatter
    steps = (s_min + e_min / batch_sizes) * np.exp(noise)
    fit = fit_critical_batch(batch_sizes.tolist(), steps.tolist())
    assert fit.s_min == pytest.approx(s_min, rel=0.05)
    assert fit.e_min == pytest.approx(e_min, rel=0.05)
    assert fit.b_crit == pytest.approx(e_min / s_min, rel=0.05)
    # The defining relation holds on the fitted curve.
    b = 100.0
    s = fit.predicted_steps(b)
    assert (s / fit.s_min - 1) * (b * s / fit.e_min - 1) == pytest.approx(1.0, rel=1e-9)
    plot_critical_batch(fit, tmp_path / "critical.png")
    assert (tmp_path / "critical.png").stat().st_size > 1000


def test_critical_batch_fit_is_exact_on_exact_points():
    batch_sizes = [10, 100, 1000]
    fit = fit_critical_batch(batch_sizes, [50 + 4000 / b for b in batch_sizes])
    assert (fit.s_min, fit.e_min) == pytest.approx((50, 4000), rel=1e-9)
    assert fit.relative_rms_error < 1e-9


def test_critical_batch_fit_needs_two_batch_sizes():
    with pytest.raises(ConfigError, match="two or more"):
        fit_critical_batch([32, 32], [100, 110])
    with pytest.raises(ConfigError, match="positive and finite"):
        fit_critical_batch([32, 64], [100, math.inf])
