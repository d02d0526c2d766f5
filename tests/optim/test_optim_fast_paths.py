"""The fast steps against the readable reference steps, the choice between them, and the compile fallback.

Compiled kernels are slow to build on a 2-core CPU, so these tests are few and use small tensors with
``fused=True`` (which forces the fast step below the size where it would otherwise pay).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from optim_cases import CASES, Case, make_problem, rel_err

import optlab.optim as oo
from optlab.optim import _fused

STEPS = 8  # RAdam's rectified branch starts at step 6


def _run_pair(case: Case, dtype: torch.dtype, steps: int = STEPS):
    init, grads = make_problem(steps, dtype)
    fast = [p.clone().requires_grad_() for p in init]
    slow = [p.clone().requires_grad_() for p in init]
    fast_opt = case.cls(fast, **case.kwargs, fused=True)
    slow_opt = case.cls(slow, **case.kwargs, fused=False)
    for row in grads:
        for a, b, g in zip(fast, slow, row, strict=True):
            a.grad = None if g is None else g.clone()
            b.grad = None if g is None else g.clone()
        fast_opt.step()
        slow_opt.step()
    return fast_opt, fast, slow_opt, slow


COMPILED = [
    c
    for c in CASES
    if c.compiled
    and c.id
    in {
        "sgd-lecture-form",
        "adagrad-average",
        "rmsprop-centered-momentum-wd",
        "radam",
        "lars",
        "lamb",
        "lars-no-exclude",
    }
]


@pytest.mark.slow
@pytest.mark.parametrize("case", COMPILED, ids=lambda c: c.id)
def test_compiled_step_matches_reference_step(case: Case) -> None:
    fast_opt, fast, slow_opt, slow = _run_pair(case, torch.float32)
    for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert rel_err(a.detach(), b.detach()) <= 1e-5, f"param {i}"
        for key, expected in slow_opt.state[b].items():
            if isinstance(expected, torch.Tensor):
                assert rel_err(fast_opt.state[a][key], expected) <= 1e-5, f"state {key!r} of param {i}"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.torch_cls is not None and not c.compiled], ids=lambda c: c.id
)
def test_torch_fused_step_matches_reference_step(case: Case) -> None:
    _, fast, _, slow = _run_pair(case, torch.float64, steps=20)
    for a, b in zip(fast, slow, strict=True):
        assert rel_err(a.detach(), b.detach()) <= 1e-12


def test_small_groups_take_the_plain_step_and_large_ones_the_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    monkeypatch.setattr(_fused, "run", lambda kernel, *args: calls.append(kernel.__name__) or False)
    surface = torch.zeros(2, requires_grad=True)  # a 2-parameter error surface
    opt = oo.RAdam([surface], lr=0.1)
    surface.grad = torch.ones(2)
    opt.step()
    assert calls == []
    monkeypatch.setattr(_fused, "COMPILE_MIN_NUMEL", 2)
    opt.step()
    assert calls == ["radam_kernel"]
    assert float(opt.state[surface]["step"]) == 2.0  # the fallback reference step counted the step once


def test_compile_failure_warns_once_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(kernel):
        def fail(*args):
            raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found")

        return fail

    monkeypatch.setattr(_fused, "_compile", broken_compile)
    monkeypatch.setattr(_fused, "_compiled", {})
    monkeypatch.setattr(_fused, "_compile_failed", False)
    case = next(c for c in CASES if c.id == "lamb")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, fast, _, slow = _run_pair(case, torch.float64)
    messages = [str(w.message) for w in caught if "torch.compile is unavailable" in str(w.message)]
    assert len(messages) == 1 and "InvalidCxxCompiler" in messages[0]
    for a, b in zip(fast, slow, strict=True):
        assert torch.equal(a, b)
    assert not _fused.compile_available()


def _norm_cases(generator: torch.Generator) -> list[torch.Tensor]:
    """Small and large (above the dot threshold), zero, odd-sized and non-contiguous tensors."""
    return [
        torch.randn(3, 4, generator=generator),
        torch.zeros(5),
        torch.randn(300, 401, generator=generator),  # above the dot threshold
        torch.randn(401, 300, generator=generator).t(),  # non-contiguous, above the threshold
        torch.zeros(256, 256),
    ]


def test_trust_ratio_norms_match_vector_norm_for_small_large_and_strided_tensors() -> None:
    from optlab.optim._trust_ratio import norms

    tensors = _norm_cases(torch.Generator().manual_seed(0))
    expected = torch.stack([torch.linalg.vector_norm(t.double()) for t in tensors])
    got = norms(tensors)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=0)


def _lamb_problem(
    dtype: torch.dtype, steps: int
) -> tuple[list[torch.Tensor], list[list[torch.Tensor | None]]]:
    """Tensors on both sides of the norms' dot threshold: odd sizes, a transposed (non-contiguous) one and
    zero ones (trust ratio 1); the large zero tensor gets zero gradients, the small one none at step 3."""
    gen = torch.Generator().manual_seed(1)
    shapes = [(301, 401), (70_001,), (401, 300), (256, 256), (3, 5), (7,)]
    params = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    params[2] = params[2].t()  # (300, 401), strides (1, 300)
    params[3].zero_()
    params[5].zero_()
    grads: list[list[torch.Tensor | None]] = []
    for step in range(steps):
        row: list[torch.Tensor | None] = [torch.randn(p.shape, generator=gen, dtype=dtype) for p in params]
        row[3] = torch.zeros_like(params[3])
        if step == 3:
            row[4] = None
        grads.append(row)
    return params, grads


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.float64, 1e-12)], ids=["f32", "f64"]
)
def test_lamb_fast_step_matches_reference_on_large_strided_and_zero_tensors(
    dtype: torch.dtype, tolerance: float
) -> None:
    init, grads = _lamb_problem(dtype, steps=6)
    fast = [p.clone().requires_grad_() for p in init]  # clone keeps the transposed strides
    slow = [p.clone().requires_grad_() for p in init]
    assert not fast[2].is_contiguous()
    fast_opt = oo.LAMB(fast, lr=0.01, weight_decay=0.01, fused=True)
    slow_opt = oo.LAMB(slow, lr=0.01, weight_decay=0.01, fused=False)
    for step, row in enumerate(grads):
        for a, b, g in zip(fast, slow, row, strict=True):
            a.grad = None if g is None else g.clone()
            b.grad = None if g is None else g.clone()
        if step == 2:  # as a schedule would: the fast step's cached hyperparameters must follow
            fast_opt.param_groups[0]["lr"] = slow_opt.param_groups[0]["lr"] = 0.003
        fast_opt.step()
        slow_opt.step()
    for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert rel_err(a.detach(), b.detach()) <= tolerance, f"param {i}"
        for key, expected in slow_opt.state[b].items():
            assert rel_err(fast_opt.state[a][key], expected) <= tolerance, f"state {key!r} of param {i}"
    assert float(fast_opt.state[fast[4]]["step"]) == 5.0  # skipped once: counted per parameter
    assert torch.equal(fast[3].detach(), torch.zeros_like(fast[3]))  # zero weights, zero gradients: no update


def test_norm_terms_match_vector_norm_for_small_large_strided_and_float64_tensors() -> None:
    from optlab.optim._trust_ratio import norm_terms

    generator = torch.Generator().manual_seed(0)
    weights = [*_norm_cases(generator), torch.randn(70_001, generator=generator, dtype=torch.float64)]
    updates = [torch.randn(w.numel(), generator=generator, dtype=w.dtype) for w in weights]
    terms, squared = norm_terms(weights, updates)
    assert squared == (False, False, True, True, True, True)
    got = torch.where(torch.tensor(squared), terms.double().sqrt(), terms.double())
    expected = torch.tensor(
        [[torch.linalg.vector_norm(t.double()).item() for t in ts] for ts in (weights, updates)],
        dtype=torch.float64,
    )
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=0)
