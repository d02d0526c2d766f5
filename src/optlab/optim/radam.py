"""RAdam: Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond" (ICLR), Algorithm 2."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optlab.optim import _fused
from optlab.optim._base import OptlabOptimizer, ParamsT, adam_arguments, torch_options

#: torch (and the authors' code) rectify only when ρ_t > 5; the paper's Algorithm 2 writes ρ_t > 4: we
#: follow torch.
RHO_THRESHOLD = 5.0


class RAdam(OptlabOptimizer):
    r"""Rectified Adam, numerically the same as ``torch.optim.RAdam`` with the same arguments.

    Liu et al., Algorithm 2 (t = 1, 2, …; g_t = ∇f(θ_{t−1}) + wd·θ_{t−1}; m_0 = v_0 = 0)::

        ρ_∞ = 2/(1 − β2) − 1
        m_t = β1·m_{t−1} + (1 − β1)·g_t
        v_t = β2·v_{t−1} + (1 − β2)·g_t²
        m̂_t = m_t / (1 − β1^t)
        ρ_t = ρ_∞ − 2·t·β2^t / (1 − β2^t)
        if ρ_t > 5:                                   (the variance is tractable)
            l_t = √(1 − β2^t) / (√v_t + ε)
            r_t = √( (ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t) )
            θ_t = θ_{t−1} − α·m̂_t·r_t·l_t
        else:
            θ_t = θ_{t−1} − α·m̂_t                      (un-adapted momentum SGD)

    With β2 = 0.999 the rectified branch switches on at t = 6. ε is added to √v_t before the bias correction
    (as torch does; Adam adds it after). ``decoupled_weight_decay=True`` decays θ by (1 − α·wd) first, AdamW
    style.

    Args:
        params: parameters or parameter groups.
        lr: α.  betas: (β1, β2).  eps: ε.  weight_decay: L2 penalty (or decoupled decay).
        decoupled_weight_decay: AdamW-style decay.
        foreach: accepted, changes no number.  maximize: ascend (g ← −g).
        capturable, differentiable: only False.
        fused: None = fast step where it pays, True = always, False = the reference step.
    """

    _state_tensor_keys = ("exp_avg", "exp_avg_sq")  # m and v, created at zero beside the step counter

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            **adam_arguments(lr, betas, eps, weight_decay),
            decoupled_weight_decay=decoupled_weight_decay,
            **torch_options(
                "RAdam",
                fused,
                maximize=maximize,
                foreach=foreach,
                capturable=capturable,
                differentiable=differentiable,
            ),
        )
        super().__init__(params, defaults)

    def _reference_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        alpha, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        rho_inf = 2 / (1 - beta2) - 1  # ρ_∞
        for theta, t in zip(params, self._steps_after_increment(params), strict=True):
            state = self.state[theta]
            m, v = state["exp_avg"], state["exp_avg_sq"]
            g = self._grad(group, theta)  # −∇f where maximising
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    theta.mul_(1 - alpha * wd)  # θ_{t−1} ← (1 − α·wd)·θ_{t−1}
                else:
                    g = g + wd * theta  # L2 penalty
            m.lerp_(g, 1 - beta1)  # m_t = β1·m_{t−1} + (1 − β1)·g_t   (lerp: torch's rounding)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = β2·v_{t−1} + (1 − β2)·g_t²
            bias_correction1 = 1 - beta1**t
            bias_correction2 = 1 - beta2**t
            m_hat = m / bias_correction1  # m̂_t
            rho_t = rho_inf - 2 * t * beta2**t / bias_correction2  # ρ_t
            if rho_t > RHO_THRESHOLD:
                l = bias_correction2**0.5 / (v.sqrt() + eps)  # l_t = √(1 − β2^t)/(√v_t + ε)
                r = (
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                ) ** 0.5  # r_t
                theta.sub_(m_hat * alpha * l * r)  # θ_t = θ_{t−1} − α·m̂_t·r_t·l_t
            else:
                theta.sub_(m_hat * alpha)  # θ_t = θ_{t−1} − α·m̂_t

    def _fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        hp = self._hyperparameters(params, lr, 1 - beta1, beta2, 1 - beta2, group["eps"], wd, 1 - lr * wd)
        t = self._counted_steps(params)
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
        rect_squared = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        rectified = rho_t > RHO_THRESHOLD
        rect = torch.where(rectified, rect_squared, 0.0).sqrt()  # r_t (unused where not rectified)
        scalars = torch.stack([bias_correction1, bias_correction2.sqrt(), rect, rectified.to(t.dtype)], dim=1)
        scalars = scalars.to(hp.dtype)
        states = [self.state[p] for p in params]
        return self._run_counted(
            params,
            _fused.radam_kernel,
            params,
            self._grads(group, params),
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            scalars,
            hp,
            wd != 0,
            group["decoupled_weight_decay"],
        )
