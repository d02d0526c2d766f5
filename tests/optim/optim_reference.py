"""Independent float64 NumPy implementations of every optimizer's update rule, written from the papers'
formulas.

Nothing here imports optlab or calls torch: each ``step`` is the formula, once per parameter array, and the
state is kept under the same keys the optlab classes use so the tests can compare state as well as parameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = np.ndarray


class NumpyOptimizer:
    """Base: ``params`` is a list of float64 arrays updated in place; ``state[i]`` a dict per array."""

    def __init__(self, params: list[Array], **hp: Any) -> None:
        self.params = params
        self.hp = hp
        self.state: list[dict[str, Any]] = [{} for _ in params]
        self.t = 0

    def step(self, grads: list[Array | None]) -> None:
        self.t += 1
        for i, (w, g) in enumerate(zip(self.params, grads, strict=True)):
            if g is not None:
                self.update(w, np.asarray(g, dtype=np.float64), self.state[i])

    def update(self, w: Array, g: Array, state: dict[str, Any]) -> None:
        raise NotImplementedError


class SGD(NumpyOptimizer):
    """torch form: b_1 = g, b_t = μ b + (1−τ) g; d = g + μ b (Nesterov) or b; w −= η d. Lecture: m = λm − ηg;
    w += m."""

    def update(self, w: Array, g: Array, state: dict[str, Any]) -> None:
        lr, mu = self.hp["lr"], self.hp.get("momentum", 0.0)
        tau, wd = self.hp.get("dampening", 0.0), self.hp.get("weight_decay", 0.0)
        g = g + wd * w
        if self.hp.get("form", "torch") == "lecture":
            m = state.get("momentum_buffer", np.zeros_like(w))
            m = mu * m - lr * g
            state["momentum_buffer"] = m
            w += m
            return
        if mu == 0:
            w -= lr * g
            return
        b = mu * state["momentum_buffer"] + (1 - tau) * g if "momentum_buffer" in state else g.copy()
        state["momentum_buffer"] = b
        d = g + mu * b if self.hp.get("nesterov", False) else b
        w -= lr * d


class Adagrad(NumpyOptimizer):
    def update(self, w: Array, g: Array, state: dict[str, Any]) -> None:
        lr, eps = self.hp.get("lr", 1e-2), self.hp.get("eps", 1e-10)
        g = g + self.hp.get("weight_decay", 0.0) * w
        t = state["step"] = state.get("step", 0) + 1
        s = state.get("sum", np.full_like(w, self.hp.get("initial_accumulator_value", 0.0)))
        s = s + g**2
        state["sum"] = s
        lr_t = lr / (1 + (t - 1) * self.hp.get("lr_decay", 0.0))
        sigma = np.sqrt(s / t) if self.hp.get("average", False) else np.sqrt(s)
        w -= lr_t * g / (sigma + eps)


class RMSProp(NumpyOptimizer):
    def update(self, w: Array, g: Array, state: dict[str, Any]) -> None:
        lr, alpha, eps = self.hp.get("lr", 1e-2), self.hp.get("alpha", 0.99), self.hp.get("eps", 1e-8)
        mu = self.hp.get("momentum", 0.0)
        g = g + self.hp.get("weight_decay", 0.0) * w
        t = state["step"] = state.get("step", 0) + 1
        if self.hp.get("init", "zero") == "first_grad" and t == 1:
            v = g**2  # σ_0 = |g_0|
        else:
            v = alpha * state.get("square_avg", np.zeros_like(w)) + (1 - alpha) * g**2
        state["square_avg"] = v
        if self.hp.get("centered", False):
            g_bar = alpha * state.get("grad_avg", np.zeros_like(w)) + (1 - alpha) * g
            state["grad_avg"] = g_bar
            sigma = np.sqrt(v - g_bar**2)
        else:
            sigma = np.sqrt(v)
        if mu > 0:
            b = mu * state.get("momentum_buffer", np.zeros_like(w)) + g / (sigma + eps)
            state["momentum_buffer"] = b
            w -= lr * b
        else:
            w -= lr * g / (sigma + eps)


class Adam(NumpyOptimizer):
    """Kingma & Ba Algorithm 1; ``decoupled=True`` is AdamW (w ← w(1 − η λ) first); amsgrad as torch."""

    def update(self, w: Array, g: Array, state: dict[str, Any]) -> None:
        lr, (b1, b2), eps = (
            self.hp.get("lr", 1e-3),
            self.hp.get("betas", (0.9, 0.999)),
            self.hp.get("eps", 1e-8),
        )
        wd = self.hp.get("weight_decay", 0.0)
        t = state["step"] = state.get("step", 0) + 1
        if self.hp.get("decoupled", False):
            w *= 1 - lr * wd
        else:
            g = g + wd * w
        m = b1 * state.get("exp_avg", np.zeros_like(w)) + (1 - b1) * g
        v = b2 * state.get("exp_avg_sq", np.zeros_like(w)) + (1 - b2) * g**2
        state["exp_avg"], state["exp_avg_sq"] = m, v
        if self.hp.get("amsgrad", False):
            v = np.maximum(state.get("max_exp_avg_sq", np.zeros_like(w)), v)
            state["max_exp_avg_sq"] = v
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        w -= lr * m_hat / (np.sqrt(v_hat) + eps)


class RAdam(NumpyOptimizer):
    """Liu et al. Algorithm 2 with torch's threshold ρ_t > 5 and ε added to √v_t."""

    def update(self, w: Array, g: Array, state: dict[str, Any]) -> None:
        lr, (b1, b2), eps = (
            self.hp.get("lr", 1e-3),
            self.hp.get("betas", (0.9, 0.999)),
            self.hp.get("eps", 1e-8),
        )
        wd = self.hp.get("weight_decay", 0.0)
        t = state["step"] = state.get("step", 0) + 1
        if self.hp.get("decoupled_weight_decay", False):
            w *= 1 - lr * wd
        else:
            g = g + wd * w
        m = b1 * state.get("exp_avg", np.zeros_like(w)) + (1 - b1) * g
        v = b2 * state.get("exp_avg_sq", np.zeros_like(w)) + (1 - b2) * g**2
        state["exp_avg"], state["exp_avg_sq"] = m, v
        m_hat = m / (1 - b1**t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        state["rectified"] = rho_t > 5
        if rho_t > 5:
            l_t = math.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            w -= lr * m_hat * r_t * l_t
        else:
            w -= lr * m_hat


def _ratio(numerator: float, denominator: float, w_norm: float, other_norm: float) -> float:
    return numerator / denominator if w_norm > 0 and other_norm > 0 else 1.0


class LARS(NumpyOptimizer):
    """You et al. 2017 Algorithm 1, per tensor; 1-D tensors unscaled and undecayed with exclude_1d."""

    def update(self, w: Array, g: Array, state: dict[str, Any]) -> None:
        lr, mu = self.hp["lr"], self.hp.get("momentum", 0.9)
        wd, eta, eps = (
            self.hp.get("weight_decay", 0.0),
            self.hp.get("trust_coefficient", 1e-3),
            self.hp.get("eps", 0.0),
        )
        v = state.get("momentum_buffer", np.zeros_like(w))
        if self.hp.get("exclude_1d", True) and w.ndim <= 1:
            v = mu * v + lr * g
        else:
            w_norm, g_norm = float(np.linalg.norm(w)), float(np.linalg.norm(g))
            local_lr = _ratio(eta * w_norm, g_norm + wd * w_norm + eps, w_norm, g_norm)
            v = mu * v + lr * local_lr * (g + wd * w)
        state["momentum_buffer"] = v
        w -= v


class LAMB(NumpyOptimizer):
    """You et al. 2020 Algorithm 2 with bias correction, per tensor."""

    def update(self, w: Array, g: Array, state: dict[str, Any]) -> None:
        lr, (b1, b2), eps = (
            self.hp.get("lr", 1e-3),
            self.hp.get("betas", (0.9, 0.999)),
            self.hp.get("eps", 1e-6),
        )
        t = state["step"] = state.get("step", 0) + 1
        m = b1 * state.get("exp_avg", np.zeros_like(w)) + (1 - b1) * g
        v = b2 * state.get("exp_avg_sq", np.zeros_like(w)) + (1 - b2) * g**2
        state["exp_avg"], state["exp_avg_sq"] = m, v
        r = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        u = r + self.hp.get("weight_decay", 0.0) * w
        w_norm, u_norm = float(np.linalg.norm(w)), float(np.linalg.norm(u))
        w -= lr * _ratio(w_norm, u_norm, w_norm, u_norm) * u
