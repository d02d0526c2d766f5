"""Adam: Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization" (ICLR), Algorithm 1; AMSGrad: Reddi,
Kale & Kumar 2018, "On the Convergence of Adam and Beyond" (ICLR); AdamW: Loshchilov & Hutter 2019,
"Decoupled Weight Decay Regularization" (ICLR), Algorithm 2."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

from optlab.optim._base import OptlabOptimizer, ParamsT, adam_arguments, torch_options


class Adam(OptlabOptimizer):
    r"""Adam, numerically the same as ``torch.optim.Adam`` with the same arguments.

    Kingma & Ba, Algorithm 1 (t = 1, 2, …; g_t = ∇f(θ_{t−1}) + wd·θ_{t−1}; m_0 = v_0 = 0)::

        m_t = β1·m_{t−1} + (1 − β1)·g_t
        v_t = β2·v_{t−1} + (1 − β2)·g_t²
        m̂_t = m_t / (1 − β1^t)
        v̂_t = v_t / (1 − β2^t)
        θ_t = θ_{t−1} − α·m̂_t / (√v̂_t + ε)

    ε is added *outside* the square root, after the bias correction (as in the paper and torch; optax's
    ``eps_root`` is the inside variant). ``amsgrad=True`` (Reddi et al.) replaces v_t in the denominator by
    its running maximum v_max,t = max(v_max,t−1, v_t), bias-corrected by the same 1 − β2^t (as torch does).

    Args:
        params: parameters or parameter groups.
        lr: α.  betas: (β1, β2).  eps: ε.  weight_decay: L2 penalty added to the gradient (AdamW decouples
        it). amsgrad: the AMSGrad variant. maximize: ascend (g ← −g). foreach: accepted, changes no number.
        capturable, differentiable: only False (refused with a ValueError otherwise).
        decoupled_weight_decay: AdamW's decay (torch 2.13's ``Adam(decoupled_weight_decay=True)``).
        fused: None/True = torch's fused kernel (one pass over memory) on devices that have it, for
        parameters whose gradient and state share the parameter's memory layout; False = the reference.

    Example::

        opt = Adam(model.parameters(), lr=1e-3)
    """

    _fast_step_needs_same_layout = True  # torch's fused kernels walk memory in storage order
    _state_tensor_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            **adam_arguments(lr, betas, eps, weight_decay),
            amsgrad=bool(amsgrad),
            **torch_options(
                type(self).__name__,
                fused,
                decoupled_weight_decay=decoupled_weight_decay,
                maximize=maximize,
                foreach=foreach,
                capturable=capturable,
                differentiable=differentiable,
            ),
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = self._new_step_counter(p)
        state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _reference_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        alpha, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        for theta, t in zip(params, self._steps_after_increment(params), strict=True):
            state = self.state[theta]
            m, v = state["exp_avg"], state["exp_avg_sq"]
            g = self._grad(group, theta)  # −∇f where maximising
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    theta.mul_(1 - alpha * wd)  # AdamW: θ_{t−1} ← (1 − α·λ)·θ_{t−1}
                else:
                    g = g + wd * theta  # L2 penalty: g_t ← g_t + λ·θ_{t−1}
            m.lerp_(g, 1 - beta1)  # m_t = β1·m_{t−1} + (1 − β1)·g_t   (lerp: torch's rounding)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = β2·v_{t−1} + (1 − β2)·g_t²
            if group["amsgrad"]:
                v_max = state["max_exp_avg_sq"]
                torch.maximum(v_max, v, out=v_max)  # v_max,t = max(v_max,t−1, v_t)
                v = v_max
            bias_correction1 = 1 - beta1**t
            bias_correction2 = 1 - beta2**t
            m_hat = m / bias_correction1  # m̂_t = m_t / (1 − β1^t)
            sqrt_v_hat = v.sqrt() / bias_correction2**0.5  # √v̂_t = √v_t / √(1 − β2^t)
            theta.sub_(alpha * (m_hat / (sqrt_v_hat + eps)))  # θ_t = θ_{t−1} − α·m̂_t/(√v̂_t + ε)

    def _native_fused_available(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        supported = _get_fused_kernels_supported_devices()
        return all(p.device.type in supported and p.is_floating_point() for p in params)

    def _fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        if not self._native_fused_available(group, params):
            return False
        beta1, beta2 = group["betas"]
        kernel = torch._fused_adamw_ if group["decoupled_weight_decay"] else torch._fused_adam_
        state_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" if group["amsgrad"] else None)
        return self._torch_fused_step(
            kernel,
            group,
            params,
            state_keys,
            amsgrad=group["amsgrad"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=group["weight_decay"],
            eps=group["eps"],
        )


class AdamW(Adam):
    r"""AdamW, numerically the same as ``torch.optim.AdamW`` with the same arguments.

    Loshchilov & Hutter, Algorithm 2, with the schedule multiplier η_t = 1 and the decay scaled by the
    learning rate as torch does (λ_paper = α·weight_decay)::

        θ_{t−1} ← θ_{t−1} − α·λ·θ_{t−1}            (decoupled weight decay, before the Adam step)
        m_t, v_t, m̂_t, v̂_t as in Adam (on the raw gradient, no L2 term)
        θ_t = θ_{t−1} − α·m̂_t / (√v̂_t + ε)

    Args: as :class:`Adam`, with ``weight_decay`` = λ (default 1e-2).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
