"""Property test (hypothesis): optimizer × hyperparameters × shapes × memory layouts × dtypes (real and
complex) × param groups × state_dict round trips. Asserts fast step = reference step = torch.optim (where
torch has the algorithm), and for every optimizer that the numbers do not depend on the memory layout or on
a checkpoint round trip.

The fast step drawn here is the default (``fused=None``): torch's native fused kernels (SGD, Adagrad, Adam,
AdamW), which run at any size and so are what a layout mismatch used to break. The compiled kernels
(RMSProp, RAdam, LARS, LAMB, the lecture forms) are only taken for groups of ≥ 1 M elements under
``fused=None``; they index each tensor by its own strides and are checked against the reference in
``test_optim_fast_paths.py`` (compiling one per drawn layout would take minutes).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optlab.optim as oo

LR = st.sampled_from([1e-3, 0.01, 0.1])
WD = st.sampled_from([0.0, 0.01])
BETAS = st.sampled_from([(0.9, 0.999), (0.8, 0.99), (0.0, 0.9)])
EPS = st.sampled_from([1e-8, 1e-6])


@st.composite
def sgd_hp(draw: st.DrawFn) -> dict[str, Any]:
    nesterov = draw(st.booleans())
    momentum = draw(st.sampled_from([0.5, 0.9] if nesterov else [0.0, 0.5, 0.9]))
    return dict(
        lr=draw(LR),
        momentum=momentum,
        dampening=0.0 if nesterov else draw(st.sampled_from([0.0, 0.1])),
        nesterov=nesterov,
        weight_decay=draw(WD),
        maximize=draw(st.booleans()),
    )


#: name -> (optlab class, torch class or None, hyperparameter strategy)
OPTIMIZERS: dict[str, tuple[type, type | None, st.SearchStrategy[dict[str, Any]]]] = {
    "sgd": (oo.SGD, torch.optim.SGD, sgd_hp()),
    "sgd-lecture": (
        oo.SGD,
        None,
        st.fixed_dictionaries(
            dict(lr=LR, momentum=st.sampled_from([0.0, 0.9]), weight_decay=WD, form=st.just("lecture"))
        ),
    ),
    "adagrad": (
        oo.Adagrad,
        torch.optim.Adagrad,
        st.fixed_dictionaries(
            dict(
                lr=LR,
                lr_decay=st.sampled_from([0.0, 0.01]),
                weight_decay=WD,
                initial_accumulator_value=st.sampled_from([0.0, 0.1]),
                eps=st.sampled_from([1e-10, 1e-6]),
                maximize=st.booleans(),
            )
        ),
    ),
    "adagrad-average": (
        oo.Adagrad,
        None,
        st.fixed_dictionaries(dict(lr=LR, weight_decay=WD, average=st.just(True))),
    ),
    "rmsprop": (
        oo.RMSProp,
        torch.optim.RMSprop,
        st.fixed_dictionaries(
            dict(
                lr=st.sampled_from([1e-3, 1e-2]),
                alpha=st.sampled_from([0.9, 0.99]),
                eps=EPS,
                weight_decay=WD,
                momentum=st.sampled_from([0.0, 0.5]),
                centered=st.booleans(),
                maximize=st.booleans(),
            )
        ),
    ),
    "rmsprop-first-grad": (
        oo.RMSProp,
        None,
        st.fixed_dictionaries(dict(lr=LR, momentum=st.sampled_from([0.0, 0.5]), init=st.just("first_grad"))),
    ),
    "adam": (
        oo.Adam,
        torch.optim.Adam,
        st.fixed_dictionaries(
            dict(
                lr=LR,
                betas=BETAS,
                eps=EPS,
                weight_decay=WD,
                amsgrad=st.booleans(),
                maximize=st.booleans(),
                decoupled_weight_decay=st.booleans(),
            )
        ),
    ),
    "adamw": (
        oo.AdamW,
        torch.optim.AdamW,
        st.fixed_dictionaries(
            dict(lr=LR, betas=BETAS, weight_decay=st.sampled_from([0.0, 0.1]), amsgrad=st.booleans())
        ),
    ),
    "radam": (
        oo.RAdam,
        torch.optim.RAdam,
        st.fixed_dictionaries(
            dict(
                lr=LR,
                betas=BETAS,
                weight_decay=WD,
                decoupled_weight_decay=st.booleans(),
                maximize=st.booleans(),
            )
        ),
    ),
    "lars": (
        oo.LARS,
        None,
        st.fixed_dictionaries(
            dict(
                lr=st.sampled_from([0.1, 1.0]),
                momentum=st.sampled_from([0.0, 0.9]),
                weight_decay=WD,
                trust_coefficient=st.sampled_from([1e-3, 0.02]),
                exclude_1d=st.booleans(),
            )
        ),
    ),
    "lamb": (oo.LAMB, None, st.fixed_dictionaries(dict(lr=LR, betas=BETAS, weight_decay=WD))),
}

#: (shape, param layouts that shape allows)
SHAPES: list[tuple[tuple[int, ...], list[str]]] = [
    ((), ["contiguous"]),
    ((0,), ["contiguous"]),
    ((1,), ["contiguous"]),
    ((7,), ["contiguous", "sliced"]),
    ((5, 3), ["contiguous", "transposed", "sliced"]),
    ((0, 3), ["contiguous", "transposed"]),
    ((2, 3, 4), ["contiguous", "transposed", "sliced"]),
    ((4, 3, 3, 3), ["contiguous", "channels_last", "transposed"]),
    ((2, 5, 1, 3), ["contiguous", "channels_last"]),
]
GRAD_LAYOUTS = ["same", "contiguous", "bucket_view", "transposed"]
REAL = [torch.float32, torch.float64]
COMPLEX = [torch.complex64, torch.complex128]  # optimised as real pairs, as torch does (not LARS, LAMB)


def laid_out(values: torch.Tensor, layout: str) -> torch.Tensor:
    """A tensor equal to ``values`` in the given memory layout (a leaf: detached)."""
    if layout == "contiguous" or values.dim() == 0:
        return values.clone()
    if layout == "channels_last":
        return values.clone().to(memory_format=torch.channels_last)
    if layout == "transposed":  # stored with the first and last dimension swapped
        return values.transpose(0, -1).contiguous().transpose(0, -1)
    if layout == "sliced":  # every other element of a larger buffer: not dense
        big = torch.zeros((*values.shape[:-1], 2 * values.shape[-1]), dtype=values.dtype)
        view = big[..., ::2]
        view.copy_(values)
        return view
    raise AssertionError(layout)


def grad_like(p: torch.Tensor, g: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "same":
        return torch.empty_like(p).copy_(g) if _dense(p) else g.clone()
    if layout == "bucket_view":  # a contiguous view into a flat buffer, as DDP's gradient_as_bucket_view
        bucket = torch.zeros(g.numel() + 2, dtype=g.dtype)
        view = bucket[2:].view(g.shape)
        view.copy_(g)
        return view
    if layout == "transposed" and g.dim() >= 2:
        return laid_out(g, "transposed")
    return g.clone()


def _dense(p: torch.Tensor) -> bool:
    from optlab.optim._base import dense

    return dense(tuple(p.shape), p.stride())


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(list(OPTIMIZERS)))
    hp = draw(OPTIMIZERS[name][2])
    n = draw(st.integers(1, 3))
    tensors = []
    for _ in range(n):
        shape, layouts = draw(st.sampled_from(SHAPES))
        tensors.append((shape, draw(st.sampled_from(layouts)), draw(st.sampled_from(GRAD_LAYOUTS))))
    return dict(
        name=name,
        hp=hp,
        tensors=tensors,
        dtype=draw(st.sampled_from(REAL if name in ("lars", "lamb") else REAL + COMPLEX)),
        groups=draw(st.integers(1, min(2, n))),
        steps=draw(st.integers(1, 7)),
        roundtrip_at=draw(st.one_of(st.none(), st.integers(0, 6))),
        skip=draw(st.one_of(st.none(), st.integers(0, n - 1))),  # a tensor without gradient at step 1
        seed=draw(st.integers(0, 2**16)),
    )


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _groups(params: list[torch.Tensor], groups: int, lr: float) -> list[dict[str, Any]]:
    if groups == 1:
        return [{"params": params}]
    return [{"params": params[:1]}, {"params": params[1:], "lr": lr * 0.5}]


def run(case: dict[str, Any], factory, *, layouts: bool = True, roundtrip: bool = True) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(case["seed"])
    dtype = case["dtype"]
    values = [torch.randn(shape, generator=gen, dtype=dtype) for shape, _, _ in case["tensors"]]
    grads = [
        [torch.randn(shape, generator=gen, dtype=dtype) for shape, _, _ in case["tensors"]]
        for _ in range(case["steps"])
    ]
    params = [
        laid_out(v, layout if layouts else "contiguous").requires_grad_()
        for v, (_, layout, _) in zip(values, case["tensors"], strict=True)
    ]
    lr = case["hp"]["lr"]
    opt = factory(_groups(params, case["groups"], lr))
    for step, row in enumerate(grads):
        for i, (p, g, (_, _, grad_layout)) in enumerate(zip(params, row, case["tensors"], strict=True)):
            skipped = step == 1 and case["skip"] == i
            p.grad = None if skipped else grad_like(p, g, grad_layout if layouts else "same")
        opt.step()
        if roundtrip and case["roundtrip_at"] == step:
            state = _roundtrip(opt.state_dict())
            opt = factory(_groups(params, case["groups"], lr))
            opt.load_state_dict(state)
    return [p.detach().contiguous() for p in params]


def _close(actual: list[torch.Tensor], expected: list[torch.Tensor], dtype: torch.dtype, what: str) -> None:
    rtol, atol = (1e-10, 1e-12) if dtype in (torch.float64, torch.complex128) else (2e-5, 2e-6)
    for i, (a, b) in enumerate(zip(actual, expected, strict=True)):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, msg=lambda m, i=i: f"{what}, tensor {i}: {m}")


def _torch_hp(hp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hp.items() if k not in ("form", "fused")}


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_fast_equals_reference_equals_torch(case: dict[str, Any]) -> None:
    cls, torch_cls, _ = OPTIMIZERS[case["name"]]
    hp = case["hp"]
    reference = run(case, lambda groups: cls(groups, **hp, fused=False))
    fast = run(case, lambda groups: cls(groups, **hp))  # fused=None: the default's choice
    _close(fast, reference, case["dtype"], "fast vs reference")
    # the numbers depend neither on memory layouts nor on a checkpoint round trip
    plain = run(case, lambda groups: cls(groups, **hp, fused=False), layouts=False, roundtrip=False)
    _close(reference, plain, case["dtype"], "layouts and round trip vs contiguous, uninterrupted")
    if torch_cls is not None:
        theirs = run(case, lambda groups: torch_cls(groups, **_torch_hp(hp)))
        _close(reference, theirs, case["dtype"], "reference vs torch.optim")


@pytest.mark.parametrize("layout", ["transposed", "channels_last", "sliced"])
def test_laid_out_helper_makes_the_layouts_it_names(layout: str) -> None:
    values = torch.randn(4, 3, 3, 3)
    t = laid_out(values, layout)
    assert torch.equal(t, values)
    assert not t.is_contiguous()
    assert _dense(t) == (layout != "sliced")
