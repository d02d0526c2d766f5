"""Adagrad: Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and Stochastic
Optimization" (JMLR 12), diagonal version; with the lecture's root-mean-square form as an option."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optlab.optim import _fused
from optlab.optim._base import OptlabOptimizer, ParamsT, check_lr, check_non_negative, torch_options


class Adagrad(OptlabOptimizer):
    r"""Adagrad, numerically the same as ``torch.optim.Adagrad`` with the same arguments.

    Update rule (t = 1, 2, …; g_t = ∇f(θ_{t−1}) + wd·θ_{t−1}; s_0 = initial_accumulator_value)::

        η_t = η / (1 + (t − 1)·lr_decay)
        s_t = s_{t−1} + g_t²
        θ_t = θ_{t−1} − η_t · g_t / (√s_t + ε)

    With ``average=True`` the lecture's form: σ is the root *mean* square of all gradients so far,
    σ_t = √(s_t / t), and θ_t = θ_{t−1} − η_t · g_t / (σ_t + ε). With a constant η its steps do not shrink;
    with η_t = η/√t (the lecture's t + 1 when counting from 0) and ε = 0 it is exactly classic Adagrad.

    Args:
        params: parameters or parameter groups.
        lr: η.  lr_decay: η_t's decay.  weight_decay: L2 penalty added to the gradient.
        initial_accumulator_value: s_0.  eps: ε, added to the square root (outside it, as in torch).
        foreach: accepted for torch compatibility; changes no number.
        maximize: ascend (g ← −g).  differentiable: only False.
        average: the lecture's root-mean-square form.
        fused: None = fast step where it pays (torch's fused CPU kernel for the classic form, for parameters
        whose gradient and sum share the parameter's memory layout), True = always, False = the reference.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        average: bool = False,
    ) -> None:
        defaults = dict(
            lr=check_lr(lr),
            lr_decay=check_non_negative("lr_decay", lr_decay),
            weight_decay=check_non_negative("weight_decay", weight_decay),
            initial_accumulator_value=check_non_negative(
                "initial_accumulator_value", initial_accumulator_value
            ),
            eps=check_non_negative("epsilon", eps),
            average=average,
            **torch_options(
                "Adagrad", fused, maximize=maximize, foreach=foreach, differentiable=differentiable
            ),
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = self._new_step_counter(p)
        s_0 = group["initial_accumulator_value"]
        if p.is_complex():  # real and imaginary part are two coordinates, each starts at s_0 (as in torch)
            s_0 = complex(s_0, s_0)
        state["sum"] = torch.full_like(p, s_0, memory_format=torch.preserve_format)

    def _reference_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        for theta, t in zip(params, self._steps_after_increment(params), strict=True):
            s = self.state[theta]["sum"]
            g = self._grad(group, theta)  # −∇f where maximising
            if wd != 0:
                g = g + wd * theta  # L2 penalty
            lr_t = lr / (1 + (t - 1) * group["lr_decay"])  # η_t
            s.addcmul_(g, g)  # s_t = s_{t−1} + g_t²
            # σ_t = √(s_t / t), the root mean square, in the lecture's form; √s_t in the paper's
            sigma = (s / t).sqrt() if group["average"] else s.sqrt()
            theta.sub_(lr_t * (g / (sigma + eps)))  # θ_t = θ_{t−1} − η_t·g_t/(σ_t + ε)

    _fast_step_needs_same_layout = True  # torch's fused kernel walks memory in storage order
    _state_tensor_keys = ("sum",)

    def _native_fused_available(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        # torch 2.13 has a fused Adagrad for the CPU only.
        return not group["average"] and all(p.device.type == "cpu" for p in params)

    def _fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        if self._native_fused_available(group, params):
            return self._torch_fused_step(
                torch._fused_adagrad_,
                group,
                params,
                ("sum",),
                lr_decay=group["lr_decay"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
            )
        hp = self._hyperparameters(params, group["weight_decay"], group["eps"])
        t = self._counted_steps(params)
        lr_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        scalars = torch.stack([lr_t, t], dim=1).to(hp.dtype)  # (η_t, t) per parameter
        sums = [self.state[p]["sum"] for p in params]
        grads = self._grads(group, params)
        decay = group["weight_decay"] != 0
        return self._run_counted(
            params, _fused.adagrad_kernel, params, grads, sums, scalars, hp, decay, group["average"]
        )
