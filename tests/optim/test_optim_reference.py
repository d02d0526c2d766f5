"""Every optimizer against the independent float64 NumPy formulas (params and state after every step), and
against
torch.optim's class of the same name (float64 ≤ 1e-12, float32 ≤ 1e-5 relative after 100 steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from optim_cases import CASES, TORCH_CASES, Case, make_problem, rel_err

NUMPY_STEPS = 25  # RAdam's rectification switches on at step 6; every 4th step has a zero gradient
TORCH_STEPS = 100
PATHS = {"reference": False, "default": None}


def _run_optlab_step(opt: torch.optim.Optimizer, params: list[torch.Tensor], grads: list) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else g.clone()
    opt.step()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_numpy_formula_every_step(case: Case, path: str) -> None:
    init, grads = make_problem(NUMPY_STEPS, torch.float64)
    params = [p.clone().requires_grad_() for p in init]
    opt = case.cls(params, **case.kwargs, fused=PATHS[path])
    ref_params = [p.numpy().copy() for p in init]
    ref = case.numpy_cls(ref_params, **case.numpy_hp())
    for step, row in enumerate(grads):
        _run_optlab_step(opt, params, row)
        ref.step([None if g is None else g.numpy() for g in row])
        for i, (p, expected) in enumerate(zip(params, ref_params, strict=True)):
            assert rel_err(p.detach(), torch.from_numpy(expected)) <= 1e-11, f"param {i} at step {step + 1}"
            state = opt.state[p]
            for key, value in ref.state[i].items():
                if key == "rectified":
                    continue
                if key == "step":
                    assert int(state["step"]) == value, f"step count of param {i} at step {step + 1}"
                    continue
                actual = state[key]
                assert rel_err(actual, torch.from_numpy(np.asarray(value))) <= 1e-11, (
                    f"state {key!r} of param {i} at step {step + 1}"
                )


def test_radam_steps_cover_both_branches() -> None:
    case = next(c for c in CASES if c.id == "radam")
    _, grads = make_problem(NUMPY_STEPS, torch.float64)
    ref = case.numpy_cls([np.zeros(s) for s in (g.shape for g in grads[0])], **case.numpy_hp())
    seen = set()
    for row in grads:
        ref.step([None if g is None else g.numpy() for g in row])
        seen.add(ref.state[0]["rectified"])
    assert seen == {False, True}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)], ids=["f64", "f32"]
)
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_matches_torch_optim(case: Case, dtype: torch.dtype, tolerance: float, path: str) -> None:
    init, grads = make_problem(TORCH_STEPS, dtype)
    ours = [p.clone().requires_grad_() for p in init]
    theirs = [p.clone().requires_grad_() for p in init]
    opt = case.cls(ours, **case.kwargs, fused=PATHS[path])
    assert case.torch_cls is not None
    torch_opt = case.torch_cls(theirs, **case.kwargs)
    for row in grads:
        _run_optlab_step(opt, ours, row)
        _run_optlab_step(torch_opt, theirs, row)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert rel_err(a.detach(), b.detach()) <= tolerance, f"param {i}"
        for key, expected in torch_opt.state[b].items():
            actual = opt.state[a][key]
            if key == "step":
                assert float(actual) == float(expected)
            elif expected is not None:
                assert rel_err(actual, expected) <= tolerance, f"state {key!r} of param {i}"
