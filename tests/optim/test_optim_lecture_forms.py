"""The lecture's own forms: momentum m ← λm − ηg, Adagrad as a root mean square, RMSProp with σ_0 = |g_0|."""

from __future__ import annotations

import math

import torch
from optim_cases import rel_err

import optlab.optim as oo


def _grads(shape: tuple[int, ...], steps: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(steps)]


def _run(opt: torch.optim.Optimizer, p: torch.Tensor, grads: list[torch.Tensor], lrs: list[float]) -> list:
    trajectory = []
    for g, lr in zip(grads, lrs, strict=True):
        for group in opt.param_groups:
            group["lr"] = lr
        p.grad = g.clone()
        opt.step()
        trajectory.append(p.detach().clone())
    return trajectory


def test_lecture_momentum_equals_torch_momentum_under_constant_lr() -> None:
    p0 = torch.randn(4, 3, dtype=torch.float64)
    grads = _grads((4, 3), 30)
    a, b = p0.clone().requires_grad_(), p0.clone().requires_grad_()
    lecture = _run(oo.SGD([a], lr=0.1, momentum=0.9, form="lecture"), a, grads, [0.1] * 30)
    torch_form = _run(oo.SGD([b], lr=0.1, momentum=0.9), b, grads, [0.1] * 30)
    for x, y in zip(lecture, torch_form, strict=True):
        assert rel_err(x, y) <= 1e-13


def test_lecture_momentum_differs_from_torch_momentum_under_a_schedule() -> None:
    p0 = torch.randn(4, 3, dtype=torch.float64)
    grads = _grads((4, 3), 10)
    lrs = [0.1] * 5 + [0.01] * 5  # a step decay at step 5
    a, b = p0.clone().requires_grad_(), p0.clone().requires_grad_()
    lecture = _run(oo.SGD([a], lr=0.1, momentum=0.9, form="lecture"), a, grads, lrs)
    torch_form = _run(oo.SGD([b], lr=0.1, momentum=0.9), b, grads, lrs)
    assert rel_err(lecture[4], torch_form[4]) <= 1e-13  # identical before the decay
    # after it the lecture's velocity still carries the old rate's steps: it moves further
    lecture_move = (lecture[5] - lecture[4]).norm()
    torch_move = (torch_form[5] - torch_form[4]).norm()
    assert lecture_move > 2 * torch_move


def test_adagrad_average_with_inverse_sqrt_lr_equals_classic_adagrad() -> None:
    p0 = torch.randn(5, 2, dtype=torch.float64)
    grads = _grads((5, 2), 30)
    eta = 0.3
    a, b = p0.clone().requires_grad_(), p0.clone().requires_grad_()
    # lecture step t (from 0) uses lr_t = η/√(t+1)
    rms = _run(
        oo.Adagrad([a], lr=eta, eps=0.0, average=True), a, grads, [eta / math.sqrt(t + 1) for t in range(30)]
    )
    classic = _run(oo.Adagrad([b], lr=eta, eps=0.0), b, grads, [eta] * 30)
    for x, y in zip(rms, classic, strict=True):
        assert rel_err(x, y) <= 1e-13


def test_adagrad_average_steps_do_not_shrink_under_constant_lr() -> None:
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = oo.Adagrad([p], lr=0.1, eps=0.0, average=True)
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    moves = []
    for _ in range(20):
        before = p.detach().clone()
        p.grad = g.clone()
        opt.step()
        moves.append((p.detach() - before).abs())
    for move in moves:  # a constant gradient is its own RMS: every step is exactly lr per coordinate
        torch.testing.assert_close(move, torch.full((3,), 0.1, dtype=torch.float64), rtol=1e-14, atol=0)
    classic = oo.Adagrad([q := torch.zeros(3, dtype=torch.float64, requires_grad=True)], lr=0.1, eps=0.0)
    q.grad = g.clone()
    classic.step()
    q.grad = g.clone()
    before = q.detach().clone()
    classic.step()
    assert ((q.detach() - before).abs() < 0.08).all()  # classic Adagrad's second step is 0.1/√2


def test_rmsprop_first_grad_starts_sigma_at_the_first_gradient() -> None:
    g = torch.tensor([0.3, -2.0, 1e-3], dtype=torch.float64)
    a = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    lecture, torch_form = (
        oo.RMSProp([a], lr=0.01, eps=0.0, init="first_grad"),
        oo.RMSProp([b], lr=0.01, eps=0.0),
    )
    a.grad, b.grad = g.clone(), g.clone()
    lecture.step()
    torch_form.step()
    torch.testing.assert_close(a.detach(), -0.01 * torch.sign(g), rtol=1e-14, atol=0)  # θ − η·g/|g|
    torch.testing.assert_close(lecture.state[a]["square_avg"], g * g, rtol=1e-14, atol=0)
    # torch's average starts at 0: σ_1 = √(1 − α)·|g|, a step 1/√(1 − α) = 10× larger at α = 0.99
    torch.testing.assert_close(b.detach() / a.detach(), torch.full((3,), 10.0, dtype=torch.float64))
    # afterwards both follow σ_t² = α·σ_{t−1}² + (1 − α)·g_t²
    g2 = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    a.grad = g2.clone()
    lecture.step()
    torch.testing.assert_close(
        lecture.state[a]["square_avg"], 0.99 * g * g + 0.01 * g2 * g2, rtol=1e-14, atol=0
    )
