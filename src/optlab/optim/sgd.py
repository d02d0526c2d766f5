"""Stochastic gradient descent with (heavy-ball or Nesterov) momentum.

Robbins & Monro 1951; momentum: Polyak 1964; Nesterov momentum as reformulated by Sutskever et al. 2013, "On
the importance of initialization and momentum in deep learning" (ICML).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from optlab.optim import _fused
from optlab.optim._base import (
    OptlabOptimizer,
    ParamsT,
    check_lr,
    check_non_negative,
    group_by_device_and_dtype,
    torch_options,
)

FORMS = ("torch", "lecture")


class SGD(OptlabOptimizer):
    r"""SGD with momentum, numerically the same as ``torch.optim.SGD`` with the same arguments.

    Update rule (``form="torch"``, the default; g_t = ∇f(θ_{t−1}) + wd·θ_{t−1})::

        b_1 = g_1;   b_t = μ·b_{t−1} + (1 − τ)·g_t            (μ = momentum, τ = dampening)
        d_t = g_t + μ·b_t  if nesterov  else  b_t
        θ_t = θ_{t−1} − η·d_t

    The lecture's form (``form="lecture"``, Sutskever et al. 2013, eq. 1–2)::

        m_t = λ·m_{t−1} − η·g_t,   m_0 = 0
        θ_t = θ_{t−1} + m_t

    Under a constant learning rate the two are the same sequence of parameters (m_t = −η·b_t). Under a
    schedule they differ: the lecture's velocity m keeps every past gradient scaled by the learning rate *of
    its own step*, so a decay of η slows the velocity down gradually; torch's buffer b holds raw gradients and
    the *current* η scales the whole buffer, so a decay takes effect on all the momentum at once. The lecture
    form supports neither ``nesterov`` nor ``dampening``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate η (default 1e-3, as in torch).
        momentum: μ (λ in the lecture), 0 = plain SGD.
        dampening: τ, scales the new gradient in the buffer (not on the first step, as in torch).
        weight_decay: L2 penalty added to the gradient.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: ascend (g ← −g), as in torch.
        foreach: accepted for torch compatibility; changes no number (optlab picks its own multi-tensor path).
        differentiable: only False (torch's autograd-through-the-step is not supported).
        form: ``"torch"`` or ``"lecture"`` (see above).
        fused: None = fast step where it pays, True = always, False = the reference step.

    The fast step (``form="torch"``) is torch's fused SGD kernel; it runs for parameters whose gradient and
    momentum buffer share the parameter's memory layout (:class:`~optlab.optim._base.OptlabOptimizer`), the
    others take the reference step.

    Example::

        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss.backward(); opt.step(); opt.zero_grad()
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
        form: Literal["torch", "lecture"] = "torch",
    ) -> None:
        lr = check_lr(lr)
        momentum = check_non_negative("momentum", momentum)
        weight_decay = check_non_negative("weight_decay", weight_decay)
        dampening = check_non_negative("dampening", dampening)
        options = torch_options(
            "SGD", fused, maximize=maximize, foreach=foreach, differentiable=differentiable
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if form not in FORMS:
            raise ValueError(f"Invalid form: {form!r} (valid: {', '.join(FORMS)})")
        if form == "lecture" and (nesterov or dampening != 0):
            raise ValueError("Invalid form: 'lecture' supports neither nesterov nor dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            form=form,
            **options,
        )
        super().__init__(params, defaults)

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        # torch creates the buffer on the first step from the gradient; the lecture's velocity starts at 0.
        if group["form"] == "lecture":
            state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        else:
            state["momentum_buffer"] = None

    def _reference_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, mu, tau, wd = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
        for theta in params:
            state = self.state[theta]
            g = self._grad(group, theta)  # −∇f where maximising
            if wd != 0:
                g = g + wd * theta  # L2 penalty: g_t ← g_t + wd·θ_{t−1}
            if group["form"] == "lecture":
                m = state["momentum_buffer"]
                m.mul_(mu).sub_(lr * g)  # m_t = λ·m_{t−1} − η·g_t
                theta.add_(m)  # θ_t = θ_{t−1} + m_t
                continue
            if mu == 0:
                theta.sub_(lr * g)  # θ_t = θ_{t−1} − η·g_t
                continue
            b = state["momentum_buffer"]
            if b is None:
                b = state["momentum_buffer"] = g.clone()  # b_1 = g_1
            else:
                b.mul_(mu).add_(g, alpha=1 - tau)  # b_t = μ·b_{t−1} + (1 − τ)·g_t
            d = g + mu * b if group["nesterov"] else b  # d_t
            theta.sub_(lr * d)  # θ_t = θ_{t−1} − η·d_t

    # torch's fused SGD walks memory in storage order (the lecture form's compiled kernel would not need it)
    _fast_step_needs_same_layout = True
    _state_tensor_keys = ("momentum_buffer",)

    def _native_fused_available(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        return group["form"] == "torch" and all(p.device.type in ("cpu", "cuda") for p in params)

    def _fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        if group["form"] == "lecture":
            hp = self._hyperparameters(params, group["lr"], group["momentum"], group["weight_decay"])
            bufs = [self.state[p]["momentum_buffer"] for p in params]
            grads = self._grads(group, params)
            decay = group["weight_decay"] != 0
            return _fused.run(_fused.sgd_lecture_kernel, params, grads, bufs, hp, decay)
        if not self._native_fused_available(group, params):
            return False
        momentum = group["momentum"]
        for same_kind in group_by_device_and_dtype(params).values():
            bufs = [self.state[p]["momentum_buffer"] for p in same_kind]
            # torch's kernel copies the gradient into the buffer on the first step (b_1 = g_1) for the whole
            # list, so parameters with and without a buffer go in separate calls (plain SGD keeps none).
            first = [p for p, b in zip(same_kind, bufs, strict=True) if b is None]
            later = [p for p, b in zip(same_kind, bufs, strict=True) if b is not None]
            for subset, is_first_step in ((first, momentum != 0), (later, False)):
                if not subset:
                    continue
                if is_first_step:
                    for p in subset:
                        self.state[p]["momentum_buffer"] = torch.empty_like(p)
                torch._fused_sgd_(
                    subset,
                    [p.grad for p in subset],
                    [self.state[p]["momentum_buffer"] for p in subset] if momentum != 0 else [],
                    weight_decay=group["weight_decay"],
                    momentum=momentum,
                    lr=float(group["lr"]),
                    dampening=group["dampening"],
                    nesterov=group["nesterov"],
                    maximize=group["maximize"],
                    is_first_step=is_first_step,
                    grad_scale=None,
                    found_inf=None,
                )
        return True
