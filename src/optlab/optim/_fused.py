"""Fast steps: one torch.compile'd elementwise kernel per update rule, one pass over memory per update.

Why compile lists of tensors rather than flat per-group buffers: autograd allocates each parameter's gradient
as its own tensor, so a flat buffer would cost an extra copy of every gradient (one more pass) per step.
Compiled over the list, inductor emits one fused loop per tensor (read p, g and the state once, write p and
the state once); the per-tensor call overhead is microseconds against milliseconds of memory traffic. (A
compiled Adam over 50 tensors ran at ≈1.03× torch's fused Adam's time on the 2-core CPU.)

Every kernel takes its hyperparameters as one tensor ``hp`` (so a schedule changing lr never recompiles), in
the parameters' dtype (float64 for float64 parameters, else float32, which is what torch's fused kernels
compute in), with derived constants such as 1 − β precomputed in double precision: the inner loop converts
nothing. Step-dependent scalars (bias corrections, RAdam's rectification) come in as a tensor ``scalars``
with one row per parameter, computed beforehand in float64 (as torch computes them in Python doubles) by a
few tiny eager ops over all the group's step counts. Computed inside the kernel they would be re-evaluated
(``pow``) for every vector of elements, because the C++ compiler cannot hoist loads that may alias the
outputs: that cost LAMB ≈30 % of its time. The exception, LAMB, computes them inside its kernels to save
the eager ops, but as a ``torch.stack``: inductor's CPU backend stores a concatenation in a buffer, so it
is evaluated once (see ``lamb_direction_kernel``). Python booleans (weight decay on/off, centered, ...)
select the graph: changing them recompiles, which a run does at most once.

Preconditions: real floating tensors of one device (complex parameters arrive as ``view_as_real`` views,
see ``OptlabOptimizer._real_views``). No layout precondition: torch.compile specialises on each tensor's
strides (``dynamic=False``), so a channels_last parameter with a contiguous gradient, or a transposed one,
is indexed correctly (a new layout compiles once more). torch's native fused kernels, used by SGD, Adagrad,
Adam and AdamW, do need one layout for parameter, gradient and state; ``OptlabOptimizer`` checks that.

These kernels mirror the readable reference steps in the algorithm files;
``tests/optim/test_optim_fast_paths.py`` checks each against its reference.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from optlab.optim._trust_ratio import trust_ratio

#: Groups smaller than this take the reference step under ``fused=None``: compilation costs seconds, and a
#: small group's step is dominated by Python overhead, not memory traffic.
COMPILE_MIN_NUMEL = 1_000_000

_compiled: dict[Callable[..., None], Callable[..., Any]] = {}
_compile_failed = os.environ.get("OPTLAB_NO_COMPILE", "") not in ("", "0")


def compile_available() -> bool:
    return not _compile_failed


def pays_to_compile(numel: int) -> bool:
    return compile_available() and numel >= COMPILE_MIN_NUMEL


def _compile(kernel: Callable[..., None]) -> Callable[..., Any]:
    # size_asserts off: the generated code would re-check every tensor's size and stride on each call (~350
    # Python calls per LAMB step over 50 tensors); the guards already pin the shapes it was compiled for.
    return torch.compile(kernel, fullgraph=True, dynamic=False, options={"size_asserts": False})


def run(kernel: Callable[..., None], *args: Any) -> bool:
    """Run ``kernel`` compiled; on the first failure to compile warn once and return False from then on."""
    global _compile_failed
    if _compile_failed:
        return False
    compiled = _compiled.get(kernel)
    if compiled is None:
        compiled = _compiled[kernel] = _compile(kernel)
    try:
        compiled(*args)
    except Exception as error:  # no C++ compiler, unsupported platform, ...: never fail the user's training
        _compile_failed = True
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        warnings.warn(
            f"optlab.optim: torch.compile is unavailable ({type(error).__name__}: {reason[:200]}); "
            "optimizers use their reference step from now on (same numbers, slower)",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True


# --- SGD, the lecture's momentum form: m ← λ·m − η·(g + wd·θ); θ ← θ + m ---
def sgd_lecture_kernel(
    params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], hp: Tensor, decay: bool
) -> None:
    """``hp`` = (η, λ, wd)."""
    lr, momentum, weight_decay = hp[0], hp[1], hp[2]
    for p, g, m in zip(params, grads, bufs, strict=True):
        d = g + weight_decay * p if decay else g
        m_new = momentum * m - lr * d
        p.copy_(p + m_new)
        m.copy_(m_new)


# --- Adagrad (classic, and the lecture's root-mean-square form) ---
def adagrad_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    sums: list[Tensor],
    scalars: Tensor,
    hp: Tensor,
    decay: bool,
    average: bool,
) -> None:
    """``hp`` = (wd, ε); ``scalars[i]`` = (η_t, t) of parameter i."""
    weight_decay, eps = hp[0], hp[1]
    for i, (p, g, s) in enumerate(zip(params, grads, sums, strict=True)):
        lr_t, t = scalars[i, 0], scalars[i, 1]
        d = g + weight_decay * p if decay else g
        s_new = s + d * d
        sigma = (s_new / t).sqrt() if average else s_new.sqrt()
        p.copy_(p - lr_t * (d / (sigma + eps)))
        s.copy_(s_new)


# --- RMSProp ---
def rmsprop_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    square_avgs: list[Tensor],
    grad_avgs: list[Tensor],
    bufs: list[Tensor],
    steps: list[Tensor],
    hp: Tensor,
    decay: bool,
    centered: bool,
    use_momentum: bool,
    first_grad: bool,
) -> None:
    """``hp`` = (η, α, 1 − α, ε, wd, μ)."""
    lr, alpha, one_minus_alpha, eps, weight_decay, momentum = (hp[k] for k in range(6))
    for i, (p, g, sq, step) in enumerate(zip(params, grads, square_avgs, steps, strict=True)):
        d = g + weight_decay * p if decay else g
        sq_new = alpha * sq + one_minus_alpha * d * d
        if first_grad:
            sq_new = torch.where(step == 1, d * d, sq_new)
        if centered:
            ga = grad_avgs[i]
            ga_new = ga + one_minus_alpha * (d - ga)
            avg = (sq_new - ga_new * ga_new).clamp_min(0).sqrt() + eps  # a rounded variance can be < 0
            ga.copy_(ga_new)
        else:
            avg = sq_new.sqrt() + eps
        if use_momentum:
            buf = bufs[i]
            buf_new = momentum * buf + d / avg
            p.copy_(p - lr * buf_new)
            buf.copy_(buf_new)
        else:
            p.copy_(p - lr * (d / avg))
        sq.copy_(sq_new)


# --- RAdam ---
def radam_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    scalars: Tensor,
    hp: Tensor,
    decay: bool,
    decoupled_weight_decay: bool,
) -> None:
    """``hp`` = (η, 1 − β1, β2, 1 − β2, ε, wd, 1 − η·wd);
    ``scalars[i]`` = (1 − β1^t, √(1 − β2^t), r_t, [ρ_t > 5]) of parameter i."""
    lr, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor = (hp[k] for k in range(7))
    for i, (p, g, m, v) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs, strict=True)):
        bias_correction1, bias_correction2_sqrt, rect, rectified = (scalars[i, k] for k in range(4))
        w, d = p, g
        if decay and decoupled_weight_decay:
            w = p * decay_factor
        elif decay:
            d = g + weight_decay * p
        m_new = m + one_minus_beta1 * (d - m)
        v_new = beta2 * v + one_minus_beta2 * d * d
        m_hat = m_new / bias_correction1
        adaptive_lr = bias_correction2_sqrt / (v_new.sqrt() + eps)
        update = torch.where(rectified > 0, m_hat * lr * adaptive_lr * rect, m_hat * lr)
        p.copy_(w - update)
        m.copy_(m_new)
        v.copy_(v_new)


# --- LARS: the update pass (the norms are the first pass, torch._foreach_norm) ---
def lars_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    bufs: list[Tensor],
    scalars: Tensor,
    hp: Tensor,
    decay: tuple[bool, ...],
) -> None:
    """``hp`` = (m, β); ``scalars[i]`` = γ·λ_i, parameter i's learning rate times its local lr."""
    momentum, weight_decay = hp[0], hp[1]
    for i, (p, g, v, decayed) in enumerate(zip(params, grads, bufs, decay, strict=True)):
        d = g + weight_decay * p if decayed else g
        v_new = momentum * v + scalars[i] * d
        p.copy_(p - v_new)
        v.copy_(v_new)


# --- LAMB: pass 1 the moments and the direction u, the norms of w and u, pass 2 the update ---
def lamb_direction_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    directions: list[Tensor],
    steps: list[Tensor],
    betas: Tensor,
    hp: Tensor,
) -> None:
    """``hp`` = (β1, 1 − β1, β2, 1 − β2, ε, λ, η); ``betas`` = (β1, β2) in float64 (float32 on MPS).

    Increments every step counter t, then writes u = m̂/(√v̂ + ε) + λ·w into ``directions`` (scratch buffers,
    not optimizer state).
    """
    beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay = (hp[k] for k in range(6))
    # Counting and the bias corrections 1 − β^t inside the kernel replace ~10 eager ops per step (≈0.3 ms for
    # 50 tensors); in double precision, as torch computes them in Python. torch.stack makes them one buffer:
    # inductor's CPU backend always stores a concatenation, so they are computed once before the loops. Any
    # other op would be inlined into every loop and re-evaluated per vector of elements (module docstring).
    torch._foreach_add_(steps, 1)
    t = torch.stack(steps).to(betas.dtype)
    scalars = torch.stack([1 - betas[0] ** t, 1 - betas[1] ** t], dim=1).to(hp.dtype)
    for i, (p, g, m, v, u) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs, directions, strict=True)):
        bias_correction1, bias_correction2 = scalars[i, 0], scalars[i, 1]
        m_new = beta1 * m + one_minus_beta1 * g
        v_new = beta2 * v + one_minus_beta2 * g * g
        m_hat = m_new / bias_correction1
        v_hat = v_new / bias_correction2
        r = m_hat / (v_hat.sqrt() + eps)
        u.view_as(p).copy_(r + weight_decay * p)
        m.copy_(m_new)
        v.copy_(v_new)


def lamb_update_kernel(
    params: list[Tensor], directions: list[Tensor], terms: Tensor, squared: tuple[bool, ...], hp: Tensor
) -> None:
    """w ← w − η·(‖w‖/‖u‖)·u, with trust ratio 1 where either norm is 0 (LAMB's pass 2).

    ``hp`` as in :func:`lamb_direction_kernel`; ``terms[0, i]``, ``terms[1, i]``: the norms of parameter i and
    of its direction, or their squares where ``squared[i]`` (:func:`optlab.optim._trust_ratio.norm_terms`).
    """
    square = torch.tensor(squared, device=terms.device)
    norms = torch.where(square, terms.sqrt(), terms).to(hp.dtype)
    w_norm, u_norm = norms[0], norms[1]
    ratio = trust_ratio(w_norm, u_norm, w_norm, u_norm)  # ‖w‖/‖u‖, or 1
    # (η, ratio) per tensor in one stacked buffer, computed once before the loops (see lamb_direction_kernel).
    scalars = torch.stack([hp[6].expand_as(ratio), ratio], dim=1)
    for i, (p, u) in enumerate(zip(params, directions, strict=True)):
        p.copy_(p - scalars[i, 0] * scalars[i, 1] * u.view_as(p))
