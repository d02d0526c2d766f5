"""The optimizer configurations every reference test runs: (optlab class, kwargs, NumPy reference, torch
class)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optim_reference as ref
import torch

import optlab.optim as oo


@dataclass(frozen=True)
class Case:
    id: str
    cls: type[torch.optim.Optimizer]
    kwargs: dict[str, Any]
    numpy_cls: type[ref.NumpyOptimizer]
    numpy_kwargs: dict[str, Any] = field(default_factory=dict)
    torch_cls: type[torch.optim.Optimizer] | None = None
    compiled: bool = False  # the fast step is a torch.compile'd kernel (not one of torch's own fused kernels)

    def numpy_hp(self) -> dict[str, Any]:
        return {**self.kwargs, **self.numpy_kwargs}


CASES = [
    Case("sgd", oo.SGD, dict(lr=0.05), ref.SGD, torch_cls=torch.optim.SGD),
    Case(
        "sgd-momentum-wd-dampening",
        oo.SGD,
        dict(lr=0.05, momentum=0.9, weight_decay=0.01, dampening=0.1),
        ref.SGD,
        torch_cls=torch.optim.SGD,
    ),
    Case("nesterov", oo.SGD, dict(lr=0.05, momentum=0.9, nesterov=True), ref.SGD, torch_cls=torch.optim.SGD),
    Case(
        "sgd-lecture-form",
        oo.SGD,
        dict(lr=0.05, momentum=0.9, weight_decay=0.01, form="lecture"),
        ref.SGD,
        compiled=True,
    ),
    Case(
        "adagrad",
        oo.Adagrad,
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
        ref.Adagrad,
        torch_cls=torch.optim.Adagrad,
    ),
    Case(
        "adagrad-average", oo.Adagrad, dict(lr=0.1, lr_decay=0.01, average=True), ref.Adagrad, compiled=True
    ),
    Case("rmsprop", oo.RMSProp, dict(lr=0.01), ref.RMSProp, torch_cls=torch.optim.RMSprop, compiled=True),
    Case(
        "rmsprop-centered-momentum-wd",
        oo.RMSProp,
        dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01),
        ref.RMSProp,
        torch_cls=torch.optim.RMSprop,
        compiled=True,
    ),
    Case(
        "rmsprop-first-grad",
        oo.RMSProp,
        dict(lr=0.01, momentum=0.3, init="first_grad"),
        ref.RMSProp,
        compiled=True,
    ),
    Case("adam", oo.Adam, dict(lr=0.01, weight_decay=0.01), ref.Adam, torch_cls=torch.optim.Adam),
    Case(
        "adam-amsgrad",
        oo.Adam,
        dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True),
        ref.Adam,
        torch_cls=torch.optim.Adam,
    ),
    Case(
        "adamw", oo.AdamW, dict(lr=0.01, weight_decay=0.1), ref.Adam, dict(decoupled=True), torch.optim.AdamW
    ),
    Case(
        "radam",
        oo.RAdam,
        dict(lr=0.01, weight_decay=0.01),
        ref.RAdam,
        torch_cls=torch.optim.RAdam,
        compiled=True,
    ),
    Case(
        "radam-decoupled",
        oo.RAdam,
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
        ref.RAdam,
        torch_cls=torch.optim.RAdam,
        compiled=True,
    ),
    Case(
        "lars",
        oo.LARS,
        dict(lr=1.0, momentum=0.9, weight_decay=1e-3, trust_coefficient=0.02, eps=1e-9),
        ref.LARS,
        compiled=True,
    ),
    Case(
        "lars-no-exclude",
        oo.LARS,
        dict(lr=0.5, momentum=0.8, weight_decay=1e-2, exclude_1d=False),
        ref.LARS,
        compiled=True,
    ),
    Case("lamb", oo.LAMB, dict(lr=0.01, weight_decay=0.01), ref.LAMB, compiled=True),
]

TORCH_CASES = [case for case in CASES if case.torch_cls is not None]

#: Shapes of the parameter tensors: a matrix, a 1-D tensor (LARS's exclude_1d), a 3-D tensor and a zero tensor
#: (the trust ratio's ‖w‖ = 0 branch).
SHAPES = [(3, 4), (5,), (2, 3, 2), (4, 3)]
ZERO_INDEX = 3


def make_problem(steps: int, dtype: torch.dtype, seed: int = 0) -> tuple[list[torch.Tensor], list[list[Any]]]:
    """Initial parameters and a gradient list per step.

    Gradient schedule: tensor 1 gets a zero gradient every 4th step (‖g‖ = 0 branch); tensor 2 gets no
    gradient at step 7 (a parameter skipped once, so per-parameter step counts differ).
    """
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES]
    params[ZERO_INDEX].zero_()
    grads: list[list[Any]] = []
    for step in range(steps):
        row: list[Any] = [torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES]
        if step % 4 == 3:
            row[1] = torch.zeros(SHAPES[1], dtype=dtype)
        if step == 7:
            row[2] = None
        grads.append(row)
    return params, grads


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual − expected| / max |expected| (absolute where expected is all zero)."""
    actual, expected = actual.double(), expected.double()
    scale = expected.abs().max().item() if expected.numel() else 0.0
    diff = (actual - expected).abs().max().item() if expected.numel() else 0.0
    return diff / scale if scale > 0 else diff
