"""Drop-in means drop-in (issue 12): what torch.optim accepts, optlab accepts with torch's numbers or refuses
in one line; checkpoints move both ways; fast paths never differ from the reference step.

The keyword/argument tests are generated from one table, ``DROPINS`` (in the style of torch's own
``OptimizerInfo`` database): per optimizer, the torch class of the same name, sample configurations run side
by side with torch, and error configurations with the expected message.
"""

from __future__ import annotations

import copy
import inspect
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optlab_010_checkpoints as old
import pytest
import torch

import optlab.optim as oo


@dataclass(frozen=True)
class DropIn:
    """One optimizer's drop-in promises."""

    cls: type[torch.optim.Optimizer]
    torch_cls: type[torch.optim.Optimizer] | None
    base: dict[str, Any]  # kwargs every configuration starts from
    configs: list[dict[str, Any]] = field(default_factory=list)  # run against torch (or the reference)
    errors: list[tuple[dict[str, Any], type[Exception], str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.cls.__name__


_COMMON_ERRORS: list[tuple[dict[str, Any], type[Exception], str]] = [
    (dict(lr=-1.0), ValueError, r"Invalid learning rate: -1\.0"),
    (dict(lr=float("nan")), ValueError, "Invalid learning rate: nan"),
    (dict(lr="0.1"), TypeError, "Invalid learning rate: must be a real number, got '0.1'"),
    (dict(lr=torch.ones(2)), TypeError, "Invalid learning rate: a tensor learning rate must be one"),
    (dict(maximize="yes"), TypeError, "Invalid maximize: must be True or False"),
    (dict(fused="auto"), ValueError, "Invalid fused value: 'auto'"),
]
_TORCH_OPTION_ERRORS: list[tuple[dict[str, Any], type[Exception], str]] = [
    (dict(differentiable=True), ValueError, r"differentiable=True \(autograd through the step\) is not"),
    (dict(foreach="yes"), TypeError, "Invalid foreach: must be None, True or False"),
]
_CAPTURABLE_ERROR = (dict(capturable=True), ValueError, r"capturable=True \(CUDA-graph capture\) is not")

DROPINS = [
    DropIn(
        oo.SGD,
        torch.optim.SGD,
        dict(lr=0.05),
        [
            dict(momentum=0.9, dampening=0.1, weight_decay=0.01),
            dict(momentum=0.9, nesterov=True, maximize=True),
            dict(momentum=0.5, foreach=True, fused=True),
            dict(
                lr=np.float32(0.05),
                momentum=np.float64(0.9),
                weight_decay=torch.tensor(0.01, dtype=torch.float64),
            ),
            dict(lr=torch.tensor(0.05, dtype=torch.float64), momentum=0.9, foreach=False),
        ],
        [
            *_COMMON_ERRORS,
            *_TORCH_OPTION_ERRORS,
            (dict(momentum=-0.5), ValueError, r"Invalid momentum value: -0\.5"),
            (dict(nesterov=True), ValueError, "Nesterov momentum requires a momentum"),
        ],
    ),
    DropIn(
        oo.Adagrad,
        torch.optim.Adagrad,
        dict(lr=0.1),
        [
            dict(lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
            dict(maximize=True, eps=1e-6),
            dict(foreach=True, fused=False),
            dict(lr=np.float32(0.1), lr_decay=np.float64(0.01)),
        ],
        [*_COMMON_ERRORS, *_TORCH_OPTION_ERRORS, (dict(lr_decay=-1), ValueError, "Invalid lr_decay value")],
    ),
    DropIn(
        oo.RMSProp,
        torch.optim.RMSprop,
        dict(lr=0.01),
        [
            dict(alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01),
            dict(maximize=True, momentum=0.3),
            dict(foreach=False, capturable=False),
            dict(lr=torch.tensor(0.01, dtype=torch.float64), alpha=np.float32(0.95)),
        ],
        [
            *_COMMON_ERRORS,
            *_TORCH_OPTION_ERRORS,
            _CAPTURABLE_ERROR,
            (dict(alpha=1.5), ValueError, r"Invalid alpha value: 1\.5"),
        ],
    ),
    DropIn(
        oo.Adam,
        torch.optim.Adam,
        dict(lr=0.01),
        [
            dict(weight_decay=0.01, amsgrad=True),
            dict(maximize=True, betas=(0.8, 0.99)),
            dict(decoupled_weight_decay=True, weight_decay=0.1),
            dict(foreach=True, capturable=False, differentiable=False, fused=True),
            dict(
                lr=torch.tensor(0.01, dtype=torch.float64),
                betas=(torch.tensor(0.9, dtype=torch.float64), torch.tensor(0.99, dtype=torch.float64)),
                eps=np.float64(1e-6),
            ),
        ],
        [
            *_COMMON_ERRORS,
            *_TORCH_OPTION_ERRORS,
            _CAPTURABLE_ERROR,
            (dict(betas=(1.2, 0.999)), ValueError, r"Invalid beta parameter at index 0: 1\.2"),
            (dict(betas=0.9), TypeError, r"Invalid betas: must be a pair"),
        ],
    ),
    DropIn(
        oo.AdamW,
        torch.optim.AdamW,
        dict(lr=0.01),
        [dict(amsgrad=True, maximize=True), dict(weight_decay=np.float32(0.1), fused=False)],
        [*_COMMON_ERRORS, *_TORCH_OPTION_ERRORS, _CAPTURABLE_ERROR],
    ),
    DropIn(
        oo.RAdam,
        torch.optim.RAdam,
        dict(lr=0.01),
        [
            dict(weight_decay=0.01),
            dict(decoupled_weight_decay=True, weight_decay=0.1, maximize=True),
            dict(foreach=True, lr=np.float64(0.02)),
        ],
        [*_COMMON_ERRORS, *_TORCH_OPTION_ERRORS, _CAPTURABLE_ERROR],
    ),
    DropIn(oo.LARS, None, dict(lr=0.5, weight_decay=0.01), [dict(maximize=True)], _COMMON_ERRORS),
    DropIn(oo.LAMB, None, dict(lr=0.01, weight_decay=0.01), [dict(maximize=True)], _COMMON_ERRORS),
]
TORCH_DROPINS = [d for d in DROPINS if d.torch_cls is not None]


def _problem(seed: int = 0, steps: int = 7) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    gen = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (5,), ()]
    params = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
    grads = [[torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes] for _ in range(steps)]
    return params, grads


def _run(factory, params0, grads) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    params = [p.clone().requires_grad_() for p in params0]
    opt = factory(params)
    for row in grads:
        for p, g in zip(params, row, strict=True):
            p.grad = g.clone()
        opt.step()
    return [p.detach() for p in params], opt


def _as_float(value: Any) -> Any:
    if isinstance(value, np.generic):
        return float(value)
    if isinstance(value, tuple):
        return tuple(_as_float(v) for v in value)
    return value


def _torch_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The configuration for torch: without optlab's ``fused`` choice, and NumPy scalars as the Python floats
    optlab reads them as (torch.optim does its arithmetic on a NumPy scalar as NumPy does, which keeps
    np.float32 in float32; optlab uses the scalar's exact value)."""
    return {k: _as_float(v) for k, v in kwargs.items() if k != "fused"}


# --- 1. every keyword torch accepts --------------------------------------------------------------------
@pytest.mark.parametrize("dropin", TORCH_DROPINS, ids=lambda d: d.id)
def test_every_torch_keyword_is_accepted_or_refused_by_name(dropin: DropIn) -> None:
    """optlab's signature has every parameter of torch's, in torch's positional order."""
    ours = inspect.signature(dropin.cls.__init__).parameters
    theirs = inspect.signature(dropin.torch_cls.__init__).parameters
    missing = [name for name in theirs if name not in ours]
    assert missing == []
    positional = [n for n, p in theirs.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [n for n, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD] == positional
    for name, parameter in theirs.items():
        if parameter.default is not inspect.Parameter.empty and name != "self":
            assert ours[name].default == parameter.default, name


@pytest.mark.parametrize(
    ("dropin", "config"),
    [(d, c) for d in TORCH_DROPINS for c in d.configs],
    ids=lambda v: v.id if isinstance(v, DropIn) else ",".join(sorted(v)),
)
def test_sample_configs_give_torchs_numbers(dropin: DropIn, config: dict[str, Any]) -> None:
    params0, grads = _problem()
    kwargs = {**dropin.base, **config}
    theirs, _ = _run(lambda ps: dropin.torch_cls(ps, **_torch_kwargs(copy.deepcopy(kwargs))), params0, grads)
    for fused in (None, False):
        ours, _ = _run(
            lambda ps, f=fused: dropin.cls(ps, **{**copy.deepcopy(kwargs), "fused": f}), params0, grads
        )
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dropin", [d for d in DROPINS if d.torch_cls is None], ids=lambda d: d.id)
def test_maximize_is_descent_on_the_negated_gradient(dropin: DropIn) -> None:
    params0, grads = _problem()
    up, _ = _run(lambda ps: dropin.cls(ps, **dropin.base, maximize=True, fused=False), params0, grads)
    negated = [[-g for g in row] for row in grads]
    down, _ = _run(lambda ps: dropin.cls(ps, **dropin.base, fused=False), params0, negated)
    for a, b in zip(up, down, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("dropin", "error"),
    [(d, e) for d in DROPINS for e in d.errors],
    ids=lambda v: v.id if isinstance(v, DropIn) else ",".join(sorted(v[0])),
)
def test_refusals_are_one_line_naming_the_argument(dropin: DropIn, error) -> None:
    kwargs, exception, message = error
    with pytest.raises(exception, match=message) as caught:
        dropin.cls([torch.zeros(2, requires_grad=True)], **{**dropin.base, **kwargs})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("dropin", TORCH_DROPINS, ids=lambda d: d.id)
def test_complex_parameters_give_torchs_numbers_and_state(dropin: DropIn, dtype: torch.dtype) -> None:
    """As torch.optim: a complex tensor is optimised as real pairs (view_as_real); its state stays complex."""
    gen = torch.Generator().manual_seed(0)
    z0 = torch.randn(3, 4, dtype=dtype, generator=gen)
    grads = [torch.randn(3, 4, dtype=dtype, generator=gen) for _ in range(7)]
    kwargs = {**dropin.base, **_torch_kwargs(dropin.configs[0])}
    theirs, torch_opt = _run(lambda ps: dropin.torch_cls(ps, **kwargs), [z0], [[g] for g in grads])
    for fused in (None, False):
        ours, opt = _run(lambda ps, f=fused: dropin.cls(ps, **kwargs, fused=f), [z0], [[g] for g in grads])
        rtol = 1e-12 if dtype == torch.complex128 else 1e-5
        torch.testing.assert_close(ours[0], theirs[0], rtol=rtol, atol=rtol)
        ours_state, theirs_state = opt.state_dict()["state"][0], torch_opt.state_dict()["state"][0]
        for key, value in theirs_state.items():
            if torch.is_tensor(value) and value.dim():
                assert ours_state[key].dtype == dtype
                torch.testing.assert_close(ours_state[key], value, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dropin", [d for d in DROPINS if d.torch_cls is None], ids=lambda d: d.id)
def test_complex_parameters_are_refused_in_one_line_without_a_complex_form(dropin: DropIn) -> None:
    with pytest.raises(TypeError, match=r"complex parameters are not supported \(got torch.complex64\): its"):
        dropin.cls([torch.zeros(2, dtype=torch.complex64, requires_grad=True)], **dropin.base)


# --- parameter forms -----------------------------------------------------------------------------------
def _forms(model: torch.nn.Module) -> dict[str, Any]:
    return {
        "list": lambda: list(model.parameters()),
        "generator": lambda: model.parameters(),
        "dicts": lambda: [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}],
        "named": lambda: model.named_parameters(),
        "named dicts": lambda: [{"params": list(model.named_parameters())}],
    }


@pytest.mark.parametrize("form", list(_forms(torch.nn.Linear(1, 1))))
@pytest.mark.parametrize("dropin", TORCH_DROPINS, ids=lambda d: d.id)
def test_param_forms_give_torchs_state_dict_and_numbers(dropin: DropIn, form: str) -> None:
    results = []
    for cls in (dropin.cls, dropin.torch_cls):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2).double()
        opt = cls(_forms(model)[form](), **dropin.base)
        for _ in range(3):
            model(torch.ones(4, 3, dtype=torch.float64)).square().sum().backward()
            opt.step()
            opt.zero_grad()
        results.append((opt.state_dict(), [p.detach().clone() for p in model.parameters()]))
    (ours_sd, ours), (theirs_sd, theirs) = results
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
    for ours_group, theirs_group in zip(ours_sd["param_groups"], theirs_sd["param_groups"], strict=True):
        assert ours_group["params"] == theirs_group["params"]
        assert ours_group.get("param_names") == theirs_group.get("param_names")

    def with_tensors(sd: dict[str, Any]) -> list[int]:  # optlab's SGD keeps momentum_buffer=None at μ = 0
        return sorted(i for i, st in sd["state"].items() if any(torch.is_tensor(v) for v in st.values()))

    assert with_tensors(ours_sd) == with_tensors(theirs_sd)


# --- 2. checkpoints both ways --------------------------------------------------------------------------
def _checkpoint_round(dropin: DropIn, config: dict[str, Any], source, target, step_as_number: bool):
    params0, grads = _problem(seed=1, steps=8)
    kwargs = {**dropin.base, **config}
    torch_kwargs = _torch_kwargs(kwargs)
    straight, _ = _run(lambda ps: dropin.torch_cls(ps, **torch_kwargs), params0, grads)
    first, opt = _run(lambda ps: source(ps, kwargs, torch_kwargs), params0, grads[:4])
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    if step_as_number:  # how older torch versions saved it
        for state in saved["state"].values():
            if "step" in state:
                state["step"] = float(state["step"])
    resumed, _ = _run(lambda ps: _loaded(target(ps, kwargs, torch_kwargs), saved), first, grads[4:])
    return resumed, straight


def _loaded(opt: torch.optim.Optimizer, state_dict: dict[str, Any]) -> torch.optim.Optimizer:
    opt.load_state_dict(state_dict)
    return opt


@pytest.mark.parametrize("step_as_number", [False, True], ids=["step-tensor", "step-number"])
@pytest.mark.parametrize("direction", ["torch->optlab", "optlab->torch"])
@pytest.mark.parametrize(
    ("dropin", "config"),
    [(d, d.configs[0]) for d in TORCH_DROPINS]
    + [(d, d.configs[1]) for d in TORCH_DROPINS if d.cls in (oo.SGD, oo.RMSProp)],
    ids=lambda v: v.id if isinstance(v, DropIn) else ",".join(sorted(v)),
)
def test_checkpoints_move_both_ways(dropin: DropIn, config, direction: str, step_as_number: bool) -> None:
    """The handed inputs: torch SGD(momentum)/Adagrad/RMSprop state → optlab (KeyError 'form', 'average',
    'init' before); a `step` saved as a Python number (AttributeError before)."""
    torch_side = lambda ps, kw, tkw: dropin.torch_cls(ps, **tkw)  # noqa: E731
    optlab_side = lambda ps, kw, tkw: dropin.cls(ps, **kw)  # noqa: E731
    source, target = (torch_side, optlab_side) if direction == "torch->optlab" else (optlab_side, torch_side)
    resumed, straight = _checkpoint_round(dropin, config, source, target, step_as_number)
    for a, b in zip(resumed, straight, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(old.CHECKPOINTS))
def test_optlab_0_1_0_checkpoints_load_and_continue(name: str) -> None:
    class_name, kwargs = old.CONFIGS[name]
    entry = old.CHECKPOINTS[name]
    p = torch.tensor(entry["param"], dtype=torch.float64, requires_grad=True)
    opt = getattr(oo, class_name)([p], **kwargs)
    opt.load_state_dict(old.materialise(entry["state_dict"]))
    p.grad = torch.tensor(old.NEXT_GRAD, dtype=torch.float64)
    opt.step()
    torch.testing.assert_close(
        p.detach(), torch.tensor(entry["next_param"], dtype=torch.float64), rtol=1e-14, atol=0
    )
    group = opt.param_groups[0]
    for key, value in opt.defaults.items():  # keys the old format lacked are filled from the defaults
        assert key in group, key
        if key not in entry["state_dict"]["param_groups"][0]:
            assert group[key] == value


def test_missing_group_keys_are_filled_from_the_defaults() -> None:
    p = torch.ones(3, dtype=torch.float64, requires_grad=True)
    opt = oo.SGD([p], lr=0.1, momentum=0.9, form="lecture")
    p.grad = torch.ones(3, dtype=torch.float64)
    opt.step()
    state = opt.state_dict()
    for key in ("form", "maximize", "foreach", "fused", "nesterov"):
        del state["param_groups"][0][key]
    fresh = oo.SGD([p], lr=0.1, momentum=0.9)
    fresh.load_state_dict(state)
    assert fresh.param_groups[0]["form"] == "torch"  # this optimizer's default, as torch's __setstate__ does
    assert fresh.param_groups[0]["maximize"] is False


# --- 3. fast paths are exact or not taken --------------------------------------------------------------
def _bucket_view_grad(p: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A gradient that is a contiguous view into a flat buffer (DDP gradient_as_bucket_view)."""
    bucket = torch.randn(p.numel() + 3, dtype=p.dtype, generator=gen)
    return bucket[3:].view(p.shape)


LAYOUT_CASES = {
    "channels_last conv weight, bucket-view grad": lambda gen: torch.randn(
        4, 3, 3, 3, dtype=torch.float64, generator=gen
    ).to(memory_format=torch.channels_last),
    "transposed (5,3)ᵀ, contiguous grad": lambda gen: torch.randn(
        5, 3, dtype=torch.float64, generator=gen
    ).t(),
}
FUSED_CASES = {
    "Adam": (oo.Adam, torch.optim.Adam, dict(lr=0.01)),
    "AdamW": (oo.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    "Adagrad": (oo.Adagrad, torch.optim.Adagrad, dict(lr=0.1)),
    "SGD(momentum)": (oo.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
}


@pytest.mark.parametrize("layout", list(LAYOUT_CASES))
@pytest.mark.parametrize("name", list(FUSED_CASES))
def test_fast_path_with_mismatched_layouts_equals_reference_and_torch(name: str, layout: str) -> None:
    """The handed input: before, elements received each other's updates (max error 0.06 Adam, 0.13 SGD)."""
    cls, torch_cls, kwargs = FUSED_CASES[name]
    finals = []
    for factory in (
        lambda ps: cls(ps, **kwargs),  # fused=None, the default
        lambda ps: cls(ps, **kwargs, fused=True),
        lambda ps: cls(ps, **kwargs, fused=False),
        lambda ps: torch_cls(ps, **kwargs),
    ):
        gen = torch.Generator().manual_seed(0)
        p = LAYOUT_CASES[layout](gen).requires_grad_()
        opt = factory([p])
        for _ in range(5):
            p.grad = _bucket_view_grad(p, gen)
            assert p.grad.stride() != p.stride()
            opt.step()
        finals.append(p.detach())
    default, forced, reference, theirs = finals
    assert torch.equal(default, reference) and torch.equal(forced, reference)
    torch.testing.assert_close(reference, theirs, rtol=1e-14, atol=1e-15)


def test_state_loaded_in_another_layout_is_moved_into_the_params() -> None:
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(4, 3, 3, 3, generator=gen).to(memory_format=torch.channels_last).requires_grad_()
    source = torch.optim.Adam([torch.randn(4, 3, 3, 3).requires_grad_()])  # contiguous state
    source.param_groups[0]["params"][0].grad = torch.ones(4, 3, 3, 3)
    source.step()
    opt = oo.Adam([p])
    opt.load_state_dict(source.state_dict())
    assert opt.state[p]["exp_avg"].stride() == p.stride()
    torch.testing.assert_close(
        opt.state[p]["exp_avg"], source.state[source.param_groups[0]["params"][0]]["exp_avg"]
    )


# --- 4. numerics: centered RMSProp -----------------------------------------------------------------------
def test_centered_rmsprop_stays_finite_where_the_rounded_variance_goes_negative() -> None:
    """The handed input: float32, α = 0.9, lr = 1e-3, 64 gradients ≈ 3.3·(1 + 1e-6·noise); torch.optim's
    RMSprop reaches NaN at about step 137 (√ of a negative rounded v − ḡ²); optlab clamps at 0."""
    for fused in (None, False):
        gen = torch.Generator().manual_seed(0)
        p = torch.zeros(64, requires_grad=True)
        opt = oo.RMSProp([p], lr=1e-3, alpha=0.9, centered=True, fused=fused)
        for _ in range(400):
            p.grad = 3.3 * (1 + 1e-6 * torch.randn(64, generator=gen))
            opt.step()
            v, g_bar = opt.state[p]["square_avg"], opt.state[p]["grad_avg"]
        assert torch.isfinite(p).all()
        assert ((v - g_bar * g_bar) < 0).any()  # the input does reach the clamped case


def test_aliases_with_torchs_spellings() -> None:
    assert oo.RMSprop is oo.RMSProp


COMPILED_CASES = {
    "RMSProp(centered, momentum)": (oo.RMSProp, dict(lr=0.01, centered=True, momentum=0.5)),
    "RAdam": (oo.RAdam, dict(lr=0.01)),
    "LARS": (oo.LARS, dict(lr=0.5, exclude_1d=False)),
    "LAMB": (oo.LAMB, dict(lr=0.01)),
    "Adagrad(average)": (oo.Adagrad, dict(lr=0.1, average=True)),
    "SGD(lecture)": (oo.SGD, dict(lr=0.1, momentum=0.9, form="lecture")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMPILED_CASES))
def test_compiled_fast_steps_follow_each_tensors_strides(name: str) -> None:
    """The compiled kernels need no layout precondition: inductor indexes every tensor by its own strides."""
    cls, kwargs = COMPILED_CASES[name]
    finals = []
    for fused in (True, False):
        gen = torch.Generator().manual_seed(0)
        params = [
            torch.randn(4, 3, 3, 3, generator=gen).to(memory_format=torch.channels_last).requires_grad_(),
            torch.randn(5, 3, generator=gen).t().requires_grad_(),
        ]
        opt = cls(params, **kwargs, fused=fused)
        for _ in range(6):
            for p in params:
                p.grad = _bucket_view_grad(p, gen)
            opt.step()
        finals.append([p.detach() for p in params])
    for fast, reference in zip(*finals, strict=True):
        torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["f16", "bf16"])
@pytest.mark.parametrize("dropin", TORCH_DROPINS, ids=lambda d: d.id)
def test_half_precision_params_keep_their_dtype_and_torchs_numbers_to_rounding(
    dropin: DropIn, dtype: torch.dtype
) -> None:
    """Low-precision parameters: the same numbers as torch.optim up to a few units in the last place (the
    rounding of intermediate results differs between torch's for-loop, its fused kernels and ours)."""
    params0, grads = _problem(steps=5)
    params0 = [p.to(dtype) for p in params0]
    grads = [[g.to(dtype) for g in row] for row in grads]
    kwargs = {**dropin.base, **_torch_kwargs(dropin.configs[0])}
    theirs, _ = _run(lambda ps: dropin.torch_cls(ps, **kwargs), params0, grads)
    for fused in (None, False):
        ours, _ = _run(lambda ps, f=fused: dropin.cls(ps, **kwargs, fused=f), params0, grads)
        for a, b in zip(ours, theirs, strict=True):
            assert a.dtype == dtype
            ulp = torch.finfo(dtype).eps * max(float(b.abs().max()) if b.numel() else 0.0, 1.0)
            torch.testing.assert_close(a.float(), b.float(), rtol=0, atol=4 * ulp)
