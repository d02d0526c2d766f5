"""RMSProp: Tieleman & Hinton 2012, COURSERA "Neural Networks for Machine Learning", lecture 6.5; the centered
variant from Graves 2013, "Generating Sequences With Recurrent Neural Networks", eq. 38–45."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from optlab.optim import _fused
from optlab.optim._base import OptlabOptimizer, ParamsT, check_lr, check_non_negative, torch_options

INITS = ("zero", "first_grad")


class RMSProp(OptlabOptimizer):
    r"""RMSProp, numerically the same as ``torch.optim.RMSprop`` with the same arguments.

    Update rule (g_t = ∇f(θ_{t−1}) + wd·θ_{t−1}; α = alpha)::

        v_t = α·v_{t−1} + (1 − α)·g_t²,                         v_0 = 0
        σ_t = √v_t              (centered: √max(v_t − ḡ_t², 0) with ḡ_t = α·ḡ_{t−1} + (1 − α)·g_t)
        θ_t = θ_{t−1} − η·g_t / (σ_t + ε)
        with momentum μ > 0:  b_t = μ·b_{t−1} + g_t/(σ_t + ε);  θ_t = θ_{t−1} − η·b_t

    Centered, v_t − ḡ_t² is a variance and ≥ 0 in exact arithmetic, but where the gradients barely vary
    (|g| ≫ its spread) it is the difference of two nearly equal rounded numbers and can come out slightly
    negative: torch.optim then takes √ of it and the parameters become NaN (e.g. float32, α = 0.9, 64
    gradients ≈ 3.3·(1 + 1e-6·noise) give NaN from step 137). optlab clamps it at 0 first, so σ_t = 0 there
    (the step is η·g/ε, as for any zero variance, and finite); elsewhere the numbers are torch's.

    The lecture's form, ``init="first_grad"``: σ_0 = |g_0| (v starts at the first squared gradient instead of
    0), then v_t = α·v_{t−1} + (1 − α)·g_t². torch starts the average at zero, so its first step is 1/√(1 − α)
    times larger (≈10× at α = 0.99). Not combinable with ``centered``.

    Args:
        params: parameters or parameter groups.
        lr: η.  alpha: α, the average's decay.  eps: ε, outside the square root (as in torch).
        weight_decay: L2 penalty.  momentum: μ.  centered: Graves' centered form.
        capturable, differentiable: only False.  foreach: accepted, changes no number.
        maximize: ascend (g ← −g).
        init: ``"zero"`` (torch, Tieleman & Hinton) or ``"first_grad"`` (the lecture).
        fused: None = fast step where it pays, True = always, False = the reference step.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        *,
        init: Literal["zero", "first_grad"] = "zero",
        fused: bool | None = None,
    ) -> None:
        lr = check_lr(lr)
        eps = check_non_negative("epsilon", eps)
        momentum = check_non_negative("momentum", momentum)
        weight_decay = check_non_negative("weight_decay", weight_decay)
        options = torch_options(
            "RMSprop",
            fused,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        alpha = check_non_negative("alpha", alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Invalid alpha value: {alpha} (must be in [0, 1])")
        if init not in INITS:
            raise ValueError(f"Invalid init: {init!r} (valid: {', '.join(INITS)})")
        if init == "first_grad" and centered:
            raise ValueError(
                "Invalid init: 'first_grad' is the lecture's uncentered form; use centered=False"
            )
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            init=init,
            **options,
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = self._new_step_counter(p)
        state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if group["centered"]:
            state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _reference_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        wd, mu = group["weight_decay"], group["momentum"]
        for theta, t in zip(params, self._steps_after_increment(params), strict=True):
            state = self.state[theta]
            v = state["square_avg"]
            g = self._grad(group, theta)  # −∇f where maximising
            if wd != 0:
                g = g + wd * theta  # L2 penalty
            if group["init"] == "first_grad" and t == 1:
                v.copy_(g * g)  # σ_0² = g_0² (the lecture)
            else:
                v.mul_(alpha).addcmul_(g, g, value=1 - alpha)  # v_t = α·v_{t−1} + (1 − α)·g_t²
            if group["centered"]:
                g_bar = state["grad_avg"]
                g_bar.lerp_(g, 1 - alpha)  # ḡ_t = α·ḡ_{t−1} + (1 − α)·g_t
                # σ_t = √max(v_t − ḡ_t², 0): rounding can make the variance slightly negative (docstring)
                sigma = (v - g_bar * g_bar).clamp_min_(0).sqrt()
            else:
                sigma = v.sqrt()  # σ_t = √v_t
            if mu > 0:
                b = state["momentum_buffer"]
                b.mul_(mu).add_(g / (sigma + eps))  # b_t = μ·b_{t−1} + g_t/(σ_t + ε)
                theta.sub_(lr * b)  # θ_t = θ_{t−1} − η·b_t
            else:
                theta.sub_(lr * (g / (sigma + eps)))  # θ_t = θ_{t−1} − η·g_t/(σ_t + ε)

    def _fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        alpha = group["alpha"]
        hp = self._hyperparameters(
            params, group["lr"], alpha, 1 - alpha, group["eps"], group["weight_decay"], group["momentum"]
        )
        states = [self.state[p] for p in params]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1)
        return self._run_counted(
            params,
            _fused.rmsprop_kernel,
            params,
            self._grads(group, params),
            [s["square_avg"] for s in states],
            [s["grad_avg"] for s in states] if group["centered"] else [],
            [s["momentum_buffer"] for s in states] if group["momentum"] > 0 else [],
            steps,
            hp,
            group["weight_decay"] != 0,
            group["centered"],
            group["momentum"] > 0,
            group["init"] == "first_grad",
        )
