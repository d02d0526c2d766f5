"""LARS: You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional Networks" (arXiv:1708.03888),
Algorithm 1."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optlab.optim import _fused
from optlab.optim._base import OptlabOptimizer, ParamsT, check_lr, check_non_negative, torch_options
from optlab.optim._trust_ratio import norms, trust_ratio


class LARS(OptlabOptimizer):
    r"""Layer-wise Adaptive Rate Scaling, per parameter tensor (a "layer").

    You et al. 2017, Algorithm 1 (γ = lr, η = trust_coefficient, β = weight_decay, m = momentum, v_0 = 0)::

        λ = η·‖w‖ / (‖∇L(w)‖ + β·‖w‖ + ε)          (local lr; λ = 1 where ‖w‖ = 0 or ‖∇L(w)‖ = 0)
        v ← m·v + γ·λ·(∇L(w) + β·w)
        w ← w − v

    ``exclude_1d`` (default True): every tensor with ``ndim <= 1`` – biases, BatchNorm/LayerNorm scales and
    shifts, and 0-d scalars – gets neither the trust ratio nor weight decay, only momentum SGD at γ
    (v ← m·v + γ·∇L(w)), as in the common LARS ports (Goyal et al. / You et al.'s ImageNet runs). The rule
    goes by the tensor's dimension, not its role: a 1-D weight is excluded too, and a 2-D bias is not. With
    ``exclude_1d=False`` all tensors are scaled and decayed; for finer control pass param groups
    (:func:`optlab.optim.param_groups`). No torch counterpart. The fast step makes two passes: the norms
    first, then the update.

    Args:
        params: parameters or parameter groups.
        lr: γ (required).  momentum: m.  weight_decay: β.  trust_coefficient: η.  eps: ε.
        exclude_1d: leave tensors with ndim <= 1 unscaled and undecayed (above).
        maximize: ascend (g ← −g).
        fused: None = fast step where it pays, True = always, False = the reference step.
    """

    _supports_complex = False  # a per-tensor trust ratio has no complex form

    def __init__(
        self,
        params: ParamsT,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 1e-3,
        eps: float = 0.0,
        exclude_1d: bool = True,
        *,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=check_lr(lr),
            momentum=check_non_negative("momentum", momentum),
            weight_decay=check_non_negative("weight_decay", weight_decay),
            trust_coefficient=check_non_negative("trust_coefficient", trust_coefficient),
            eps=check_non_negative("epsilon", eps),
            exclude_1d=exclude_1d,
            **torch_options("LARS", fused, maximize=maximize),
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    @staticmethod
    def _excluded(group: dict[str, Any], p: Tensor) -> bool:
        return group["exclude_1d"] and p.ndim <= 1

    def _reference_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        gamma, m, beta = group["lr"], group["momentum"], group["weight_decay"]
        eta, eps = group["trust_coefficient"], group["eps"]
        for w in params:
            v = self.state[w]["momentum_buffer"]
            grad = self._grad(group, w)  # −∇f where maximising
            if self._excluded(group, w):
                v.mul_(m).add_(gamma * grad)  # v ← m·v + γ·∇L(w)
            else:
                w_norm = torch.linalg.vector_norm(w)
                g_norm = torch.linalg.vector_norm(grad)
                local_lr = trust_ratio(eta * w_norm, g_norm + beta * w_norm + eps, w_norm, g_norm)  # λ
                v.mul_(m).add_(gamma * local_lr * (grad + beta * w))  # v ← m·v + γ·λ·(∇L(w) + β·w)
            w.sub_(v)  # w ← w − v

    def _fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        gamma, beta, eta, eps = group["lr"], group["weight_decay"], group["trust_coefficient"], group["eps"]
        hp = self._hyperparameters(params, group["momentum"], beta)
        # Pass 1: the norms, in one foreach call each; then every tensor's γ·λ by a few tiny vector ops.
        grads = self._grads(group, params)
        index = [i for i, p in enumerate(params) if not self._excluded(group, p)]
        scaled = [params[i] for i in index]
        scale = torch.full((len(params),), gamma, dtype=torch.float64, device=params[0].device)
        if scaled:
            w_norm = norms(scaled)
            g_norm = norms([grads[i] for i in index])
            local_lr = trust_ratio(eta * w_norm, g_norm + beta * w_norm + eps, w_norm, g_norm)  # λ
            scale[index] = gamma * local_lr
        # Pass 2: the update, one compiled loop per tensor.
        decay = tuple(beta != 0 and not self._excluded(group, p) for p in params)
        bufs = [self.state[p]["momentum_buffer"] for p in params]
        return _fused.run(_fused.lars_kernel, params, grads, bufs, scale.to(hp.dtype), hp, decay)
