"""Registry-driven behaviour: every registered optimizer converges, drops into a training loop, and behaves
like a
torch.optim.Optimizer (param groups, closure, state_dict, non-contiguous params, errors)."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from torch import nn

import optlab.optim as oo
from optlab.errors import ConfigError

NAMES = oo.names()

#: Learning rates that suit the 2-D test surfaces (LARS/LAMB steps scale with ‖w‖, so they take larger rates).
SURFACE_LR = {
    "sgd": 0.05,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.5,
    "rmsprop": 0.01,
    "adam": 0.05,
    "adamw": 0.05,
    "radam": 0.05,
    "lars": 20.0,
    "lamb": 0.05,
}
#: Rosenbrock's gradients reach hundreds: the un-normalised methods (and RAdam, whose first 5 steps are
#: un-adapted momentum SGD) need far smaller rates there.
ROSENBROCK_LR = {**SURFACE_LR, "sgd": 2e-3, "momentum": 3e-4, "nesterov": 3e-4, "radam": 3e-3}
#: The surfaces' variable is one 1-D tensor, which LARS would exclude from its trust ratio by default.
SURFACE_KWARGS = {"lars": {"exclude_1d": False}}


def test_names_are_the_lecture_set() -> None:
    assert NAMES == [
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adam",
        "adamw",
        "radam",
        "lars",
        "lamb",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_info_records_are_complete(name: str) -> None:
    record = oo.info(name)
    assert record.name == name
    assert issubclass(record.cls, torch.optim.Optimizer)
    assert record.paper and record.description
    opt = oo.create(name, [torch.zeros(2, requires_grad=True)])
    for key, value in record.defaults.items():
        assert opt.defaults[key] == value


def test_create_overrides_defaults() -> None:
    opt = oo.create("momentum", [torch.zeros(2, requires_grad=True)], lr=0.05)
    assert isinstance(opt, oo.SGD)
    assert opt.defaults["lr"] == 0.05 and opt.defaults["momentum"] == 0.9


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match=r"unknown optimizer 'adamax'.*sgd, momentum"):
        oo.create("adamax", [torch.zeros(2, requires_grad=True)])
    with pytest.raises(ConfigError):
        oo.info("Adam")


def _minimise(name: str, loss_fn, start: list[float], steps: int, lr: float) -> tuple[float, float]:
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = oo.create(name, [x], lr=lr, **SURFACE_KWARGS.get(name, {}))
    initial = float(loss_fn(x.detach()))

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return initial, float(loss_fn(x.detach()))


def _quadratic(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x[0] ** 2 + 10 * x[1] ** 2)  # condition number 10


def _rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_ill_conditioned_quadratic(name: str) -> None:
    initial, final = _minimise(name, _quadratic, [1.5, -1.0], steps=300, lr=SURFACE_LR[name])
    assert final < 1e-3 * initial, f"{name}: {initial:.3g} -> {final:.3g}"


@pytest.mark.parametrize("name", NAMES)
def test_makes_progress_on_rosenbrock(name: str) -> None:
    initial, final = _minimise(name, _rosenbrock, [-1.0, 1.5], steps=1000, lr=ROSENBROCK_LR[name])
    assert final < 0.05 * initial, f"{name}: {initial:.3g} -> {final:.3g}"


def _tiny_regression(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen)
    y = torch.sin(x.sum(dim=1, keepdim=True))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))
    return model, x, y


NET_LR = {
    **SURFACE_LR,
    "sgd": 0.1,
    "momentum": 0.05,
    "nesterov": 0.05,
    "adagrad": 0.05,
    "lars": 1.0,
    "lamb": 0.02,
}


@pytest.mark.parametrize("with_schedule", [False, True], ids=["constant", "cosine"])
@pytest.mark.parametrize("name", NAMES)
def test_loss_decreases_on_tiny_net(name: str, with_schedule: bool) -> None:
    model, x, y = _tiny_regression()
    opt = oo.create(name, model.parameters(), lr=NET_LR[name])
    steps = 60
    scheduler = (
        torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / steps)))
        if with_schedule
        else None
    )
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], f"{name}: {losses[0]:.4f} -> {losses[-1]:.4f}"


def _grads(shape: tuple[int, ...], steps: int, seed: int = 3) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(steps)]


@pytest.mark.parametrize("fused", [None, False], ids=["default", "reference"])
@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_params_match_contiguous(name: str, fused: bool | None) -> None:
    base = torch.randn(4, 6, dtype=torch.float64)
    strided = nn.Parameter(base.t())  # a transposed view: not contiguous
    assert not strided.is_contiguous()
    dense = nn.Parameter(base.t().contiguous())
    opt_strided = oo.create(name, [strided], lr=0.01, fused=fused)
    opt_dense = oo.create(name, [dense], lr=0.01, fused=fused)
    for g in _grads((6, 4), steps=8):
        strided.grad = g.t().contiguous().t()  # same values, non-contiguous layout
        dense.grad = g.clone()
        opt_strided.step()
        opt_dense.step()
    torch.testing.assert_close(strided.detach(), dense.detach(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_act_independently(name: str) -> None:
    a0, b0 = torch.randn(3, 3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    together = oo.create(name, [{"params": [a], "lr": 0.03}, {"params": [b], "lr": 0.002}])
    a_alone, b_alone = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    opt_a = oo.create(name, [a_alone], lr=0.03)
    opt_b = oo.create(name, [b_alone], lr=0.002)
    for ga, gb in zip(_grads((3, 3), 6, seed=1), _grads((4,), 6, seed=2), strict=True):
        a.grad, b.grad, a_alone.grad, b_alone.grad = ga.clone(), gb.clone(), ga.clone(), gb.clone()
        together.step()
        opt_a.step()
        opt_b.step()
    assert torch.equal(a, a_alone) and torch.equal(b, b_alone)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_identically(name: str) -> None:
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(5, 3, dtype=torch.float64, generator=gen).requires_grad_()
    opt = oo.create(name, [p], lr=0.01)
    grads = _grads((5, 3), 12)
    for g in grads[:6]:
        p.grad = g.clone()
        opt.step()
    buffer = io.BytesIO()
    torch.save({"param": p.detach().clone(), "opt": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    q = saved["param"].clone().requires_grad_()
    resumed = oo.create(name, [q], lr=0.5)  # wrong lr on purpose: the loaded state must restore it
    resumed.load_state_dict(saved["opt"])
    for g in grads[6:]:
        p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        resumed.step()
    assert torch.equal(p, q)
    assert resumed.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("name", NAMES)
def test_float32_params_keep_their_dtype(name: str) -> None:
    p = torch.randn(3, 2, requires_grad=True)
    opt = oo.create(name, [p], lr=0.01)
    for _ in range(3):
        p.grad = torch.randn(3, 2)
        opt.step()
    assert p.dtype == torch.float32 and torch.isfinite(p).all()
    for value in opt.state[p].values():
        if isinstance(value, torch.Tensor) and value.ndim > 0:
            assert value.dtype == torch.float32


@pytest.mark.parametrize("name", NAMES)
def test_closure_loss_is_returned_and_zero_grad_clears(name: str) -> None:
    p = torch.ones(3, requires_grad=True)
    opt = oo.create(name, [p], lr=0.01)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure).detach()) == pytest.approx(3.0)
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("name", NAMES)
def test_sparse_gradients_raise_a_clear_error(name: str) -> None:
    p = torch.zeros(4, 2, requires_grad=True)
    opt = oo.create(name, [p], lr=0.01)
    p.grad = torch.zeros(4, 2).to_sparse()
    with pytest.raises(RuntimeError, match="does not support sparse gradients"):
        opt.step()


INVALID = [
    (oo.SGD, dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (oo.SGD, dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (oo.SGD, dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum"),
    (oo.SGD, dict(lr=0.1, momentum=0.9, form="heavy"), "Invalid form: 'heavy'"),
    (oo.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, form="lecture"), "Invalid form: 'lecture'"),
    (oo.Adagrad, dict(lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
    (oo.Adagrad, dict(eps=-1e-3), "Invalid epsilon value"),
    (oo.RMSProp, dict(alpha=1.5), "Invalid alpha value: 1.5"),
    (oo.RMSProp, dict(init="last"), "Invalid init: 'last'"),
    (oo.RMSProp, dict(init="first_grad", centered=True), "Invalid init: 'first_grad'"),
    (oo.Adam, dict(betas=(1.2, 0.999)), "Invalid beta parameter at index 0: 1.2"),
    (oo.AdamW, dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (oo.Adam, dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (oo.Adam, dict(fused="yes"), "Invalid fused value"),
    (oo.RAdam, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (oo.LARS, dict(lr=1.0, trust_coefficient=-1.0), "Invalid trust_coefficient value: -1.0"),
    (oo.LARS, dict(lr=-2.0), "Invalid learning rate: -2.0"),
    (oo.LAMB, dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
]


@pytest.mark.parametrize(("cls", "kwargs", "message"), INVALID, ids=lambda v: getattr(v, "__name__", None))
def test_invalid_hyperparameters_name_themselves(cls, kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cls([torch.zeros(2, requires_grad=True)], **kwargs)


def test_deep_copied_optimizer_is_independent() -> None:
    p = torch.ones(2, requires_grad=True)
    opt = oo.Adam([p], lr=0.1)
    p.grad = torch.ones(2)
    opt.step()
    clone = copy.deepcopy(opt.state_dict())
    opt.step()
    assert float(clone["state"][0]["step"]) == 1.0
