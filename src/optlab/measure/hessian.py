"""Curvature of the loss: the Hessian's top eigenvalues (Lanczos) and its trace (Hutchinson), from
Hessian-vector products.

The Hessian H = ∇²f(θ) of the mean loss f over a fixed set of examples is never formed; we only need products
Hv, computed by double backward (Pearlmutter 1994): Hv = ∇_θ (∇_θ f(θ) · v). One product costs about two
backward passes.

* :func:`hessian_eigenvalues` — the k largest (algebraic) eigenvalues by the Lanczos method with full
  re-orthogonalisation (Golub & Van Loan, *Matrix Computations*, §10.1): after m products the Ritz values of
  the m×m tridiagonal matrix T_m approximate H's extreme eigenvalues; the residual of Ritz pair (θ_i, Qs_i) is
  |β_m · s_i[m]|, and we stop when it is below ``tol``·|θ_i| for the top k (or when the Krylov space is all
  of ℝⁿ). The top eigenvalue λ_max is the sharpness that gradient descent with learning rate η keeps below 2/η
  (Cohen et al. 2021, "edge of stability").
* :func:`hessian_trace` — Hutchinson's estimator tr H = E[vᵀHv] for Rademacher v (Hutchinson 1990; used by
  PyHessian, Yao et al. 2020). Its variance per sample is 2·Σ_{i≠j} H_ij², so the standard error falls as
  1/√samples.

BatchNorm and dropout: the model is evaluated in eval mode (running statistics, no dropout), so f is a
deterministic function of θ and H is symmetric. Flags are restored afterwards; parameters are never changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optlab.errors import ConfigError, OptlabError
from optlab.measure._common import (
    LossFn,
    Progress,
    TaskProgress,
    as_tensors,
    chunks,
    eval_mode,
    flatten,
    for_task,
    model_device,
    trainable,
    unflatten,
)

HVP = Callable[[torch.Tensor], torch.Tensor]


def hvp_operator(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, chunk_size: int | None = None
) -> tuple[HVP, int]:
    """A function v ↦ Hv (flat vectors) for the mean loss over ``(x, y)``, and the number of parameters n.

    The caller must hold the model in eval mode while using it. With one chunk the gradient graph is built
    once and reused for every product; with several, each product redoes forward and backward per chunk
    (less memory).
    """
    params = trainable(model)
    device = model_device(model)
    n = sum(p.numel() for p in params)
    parts = chunks(len(x), chunk_size)

    def grad_graph(part: slice) -> list[torch.Tensor]:
        xb, yb = x[part].to(device), y[part].to(device)
        loss = loss_fn(model(xb), yb)
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        return [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params, strict=True)]

    cached = grad_graph(parts[0]) if len(parts) == 1 else None

    def hvp(vector: torch.Tensor) -> torch.Tensor:
        pieces = unflatten(vector, params)
        total = torch.zeros(n, device=device, dtype=vector.dtype)
        for part in parts:
            grads = cached if cached is not None else grad_graph(part)
            weight = (part.stop - part.start) / len(x)  # loss_fn is mean-reduced: chunk means are weighted
            dot = sum((g * v).sum() for g, v in zip(grads, pieces, strict=True) if g.requires_grad)
            if not isinstance(dot, torch.Tensor) or not dot.requires_grad:
                continue  # the loss is linear in θ on this chunk: zero curvature
            products = torch.autograd.grad(dot, params, retain_graph=cached is not None, allow_unused=True)
            filled = [
                h if h is not None else torch.zeros_like(p) for h, p in zip(products, params, strict=True)
            ]
            total.add_(flatten(filled).to(vector.dtype), alpha=weight)
        return total

    return hvp, n


@dataclass(frozen=True)
class LanczosResult:
    eigenvalues: list[float]  # k largest, descending
    eigenvectors: torch.Tensor  # (k, n), unit norm
    residuals: list[float]  # ‖Hv − λv‖ bounds |β_m s_i[m]|
    iterations: int  # Hessian-vector products used
    converged: bool


def lanczos(
    matvec: HVP,
    n: int,
    k: int = 1,
    max_iterations: int = 100,
    tol: float = 1e-5,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    progress: Progress | None = None,
) -> LanczosResult:
    """The k largest eigenpairs of the symmetric operator ``matvec`` on ℝⁿ by Lanczos with full
    re-orthogonalisation.

    Re-orthogonalising every new vector against all previous ones (twice — "twice is enough", Parlett) keeps
    the basis orthonormal in floating point, so no spurious copies of converged eigenvalues appear. If the
    Krylov space becomes invariant early (β ≈ 0) we continue from a fresh random vector orthogonal to the
    basis, so eigenvalues the start vector missed are still found.
    """
    if not (isinstance(k, int) and 1 <= k <= n):
        raise ConfigError(
            f"invalid k: {k!r} (must be an integer between 1 and the number of parameters, {n})"
        )
    generator = torch.Generator().manual_seed(seed)
    steps = min(n, max(int(max_iterations), k + 1))

    def random_unit(basis: list[torch.Tensor]) -> torch.Tensor:
        q = torch.randn(n, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
        for _ in range(2):
            for b in basis:
                q -= torch.dot(b, q) * b
        return q / q.norm()

    basis: list[torch.Tensor] = []
    alphas: list[float] = []
    betas: list[float] = []  # betas[j] couples basis j and j+1
    q = random_unit(basis)
    converged = False
    theta = np.zeros(0)
    ritz = np.zeros((0, 0))
    beta = 0.0
    scale = 0.0
    for j in range(steps):
        basis.append(q)
        w = matvec(q)
        alpha = float(torch.dot(w, q))
        w = w - alpha * q
        if j > 0:
            w = w - betas[-1] * basis[-2]
        for _ in range(2):  # full re-orthogonalisation
            coefficients = torch.stack(basis) @ w
            w = w - coefficients @ torch.stack(basis)
        beta = float(w.norm())
        alphas.append(alpha)
        tri = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        theta, ritz = np.linalg.eigh(tri)
        scale = max(scale, float(np.abs(theta).max()), abs(alpha))
        if progress is not None:
            progress(j + 1, steps)
        top = np.arange(len(theta) - 1, max(len(theta) - 1 - k, -1), -1)
        residual = np.abs(beta * ritz[-1, top])
        invariant = beta <= 1e-10 * max(scale, 1e-30)
        # An invariant Krylov space holds one vector per distinct eigenvalue, so a repeated eigenvalue's
        # second copy is not in it: we only accept convergence while the space is still growing.
        if (
            len(top) == k
            and not invariant
            and np.all(residual <= tol * np.maximum(np.abs(theta[top]), 1e-12 * scale + 1e-30))
        ):
            converged = True
            break
        if j + 1 == steps:
            break
        if invariant:  # restart orthogonally to the basis (T splits into blocks)
            betas.append(0.0)
            q = random_unit(basis)
        else:
            betas.append(beta)
            q = w / beta
    if len(basis) == n:
        converged = True  # the Krylov space is all of ℝⁿ: Ritz values are eigenvalues
    order = np.argsort(theta)[::-1][:k]
    stacked = torch.stack(basis)  # (m, n)
    vectors = (
        torch.from_numpy(np.ascontiguousarray(ritz[:, order].T)).to(device=device, dtype=dtype) @ stacked
    )
    residuals = [float(abs(beta * ritz[-1, i])) for i in order]
    return LanczosResult(
        eigenvalues=[float(theta[i]) for i in order],
        eigenvectors=vectors,
        residuals=residuals,
        iterations=len(basis),
        converged=converged,
    )


def hessian_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    Y: torch.Tensor,
    k: int = 1,
    *,
    max_iterations: int = 100,
    tol: float = 1e-5,
    chunk_size: int | None = 4096,
    seed: int = 0,
    progress: Progress | None = None,
    return_eigenvectors: bool = False,
) -> list[float] | tuple[list[float], torch.Tensor]:
    """The ``k`` largest eigenvalues (descending) of the Hessian of the mean loss over ``(X, Y)`` at the
    current θ.

    Args:
        model, loss_fn: ``loss_fn(model(X), Y)`` is the mean loss (a torch loss with ``reduction="mean"``).
        X, Y: the examples (any device; moved chunk by chunk to the model's device).
        k: how many of the largest (algebraic, not absolute) eigenvalues.
        max_iterations: cap on Lanczos steps = Hessian-vector products (memory: this many vectors of size n).
        tol: stop when every top-k Ritz pair's residual ‖Hv − λv‖ ≤ tol·|λ| (eigenvalue error: smaller).
        chunk_size: examples per forward/backward (``None``: all at once, and the gradient graph is reused).
        return_eigenvectors: also return a (k, n) tensor of unit eigenvectors in the flat parameter order.

    Example:
        >>> top = hessian_eigenvalues(model, nn.CrossEntropyLoss(), x, y, k=3)   # doctest: +SKIP
    """
    X, Y = as_tensors((X, Y))
    with eval_mode(model):
        hvp, n = hvp_operator(model, loss_fn, X, Y, chunk_size)
        device, dtype = model_device(model), trainable(model)[0].dtype
        result = lanczos(hvp, n, k, max_iterations, tol, seed, device=device, dtype=dtype, progress=progress)
    if return_eigenvectors:
        return result.eigenvalues, result.eigenvectors
    return result.eigenvalues


def preconditioned_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    Y: torch.Tensor,
    preconditioner: torch.Tensor,
    k: int = 1,
    *,
    max_iterations: int = 100,
    tol: float = 1e-5,
    chunk_size: int | None = 4096,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[float]:
    """The ``k`` largest eigenvalues of P⁻¹H for a positive diagonal P (a flat vector in parameter order).

    P⁻¹H is similar to the symmetric P^{-1/2} H P^{-1/2}, so Lanczos on v ↦ P^{-1/2} H (P^{-1/2} v) gives its
    (real) eigenvalues: the *preconditioned sharpness* an adaptive method's step sees (Cohen et al. 2022).
    """
    X, Y = as_tensors((X, Y))
    with eval_mode(model):
        hvp, n = hvp_operator(model, loss_fn, X, Y, chunk_size)
        if preconditioner.shape != (n,) or not bool((preconditioner > 0).all()):
            raise ConfigError(
                f"the preconditioner must be {n} positive numbers, got shape {tuple(preconditioner.shape)}"
            )
        device, dtype = model_device(model), trainable(model)[0].dtype
        scale = preconditioner.to(device=device, dtype=dtype).rsqrt()

        def matvec(vector: torch.Tensor) -> torch.Tensor:
            return scale * hvp(scale * vector)

        result = lanczos(
            matvec, n, k, max_iterations, tol, seed, device=device, dtype=dtype, progress=progress
        )
    return result.eigenvalues


@dataclass(frozen=True)
class TraceEstimate:
    """Hutchinson's estimate of tr H with its standard error (sample std / √samples)."""

    value: float
    standard_error: float
    samples: int

    def __float__(self) -> float:
        return self.value


def hessian_trace(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    samples: int = 100,
    chunk_size: int | None = 4096,
    seed: int = 0,
    progress: Progress | None = None,
) -> TraceEstimate:
    """Hutchinson's estimator tr H ≈ (1/m) Σ_k v_kᵀ H v_k with Rademacher v_k (entries ±1 with probability ½).

    Unbiased because E[v vᵀ] = I; among all i.i.d. choices of v, Rademacher has the smallest variance,
    Var(vᵀHv) = 2 Σ_{i≠j} H_ij² (Hutchinson 1990), so the error shrinks as 1/√samples.
    """
    if not (isinstance(samples, int) and samples >= 2):
        raise ConfigError(f"invalid samples: {samples!r} (must be an integer >= 2)")
    X, Y = as_tensors((X, Y))
    generator = torch.Generator().manual_seed(seed)
    values = []
    with eval_mode(model):
        hvp, n = hvp_operator(model, loss_fn, X, Y, chunk_size)
        device, dtype = model_device(model), trainable(model)[0].dtype
        for i in range(samples):
            v = 2 * torch.randint(0, 2, (n,), generator=generator).to(device=device, dtype=dtype) - 1
            values.append(float(torch.dot(v, hvp(v))))
            if progress is not None:
                progress(i + 1, samples)
    array = np.asarray(values)
    return TraceEstimate(
        value=float(array.mean()),
        standard_error=float(array.std(ddof=1) / math.sqrt(samples)),
        samples=samples,
    )


class HessianTracker:
    """Trainer callback: every ``every`` updates, the sharpness next to the stability limit of the optimizer.

    Gradient descent on a quadratic with curvature λ diverges when λ > 2/η; full-batch training drives λ_max
    up to about 2/η and hovers there ("edge of stability", Cohen et al. 2021). The limit that applies is read
    from the run's optimizer at each measurement (:func:`optimizer_stability_limit`):

    * SGD (optlab's, either form, or torch's): optlab's default form is torch's, b ← βb + g, θ ← θ − ηb (the
      lecture's m ← βm − ηg, θ ← θ + m is the same sequence at a constant η). Eliminating b gives the heavy
      ball θ_{t+1} = θ_t − η∇f(θ_t) + β(θ_t − θ_{t−1}); on ½λθ² its characteristic polynomial
      z² − (1 + β − ηλ)z + β has a root of modulus ≥ 1 iff ηλ ≥ 2 + 2β, so the limit on λ_max(H) is
      (2 + 2β)/η, and 2/η without momentum (:func:`stability_limit`, which also covers Nesterov, dampening
      and coupled weight decay).
    * Adam/AdamW: the step is η·m̂/P with P = √v̂ + ε. With P frozen, m ← β₁m + (1 − β₁)g is heavy-ball
      momentum β₁ with step η(1 − β₁)·P⁻¹, so the limit (2 + 2β₁)/((1 − β₁)η) — 38/η at β₁ = 0.9 — applies
      to the *preconditioned* sharpness λ₁(P^{-1/2} H P^{-1/2}) (Cohen et al. 2022), measured with P read
      from the optimizer's state at that moment (:func:`adam_preconditioner`) by
      :func:`preconditioned_eigenvalues`. Not modelled: m̂'s bias correction (a factor that → 1 after a few
      times 1/(1 − β₁) updates) and weight decay.
    * Other adaptive or per-layer methods: no limit (``threshold`` None).

    We measure on a fixed set of examples (``data``, default the first ``examples`` of the run's training
    split) so that the values are comparable over time; a model whose weights are no longer finite is not
    measured. ``history``: one dict per measurement with step, lr, lambda_max (of H), two_over_lr, threshold
    (the limit that applies, or None), rule (its formula) and, for Adam/AdamW, preconditioned_sharpness (the
    quantity ``threshold`` then bounds).
    """

    def __init__(
        self,
        every: int = 100,
        examples: int = 1024,
        loss_fn: LossFn | None = None,
        data: tuple[torch.Tensor, torch.Tensor] | None = None,
        max_iterations: int = 30,
        tol: float = 1e-3,
        seed: int = 0,
        chunk_size: int | None = 4096,
    ):
        if not (isinstance(every, int) and every >= 1):
            raise ConfigError(f"invalid every: {every!r} (must be an integer >= 1)")
        self.every, self.examples, self.loss_fn = every, examples, loss_fn or nn.CrossEntropyLoss()
        self.data, self.max_iterations, self.tol, self.seed = data, max_iterations, tol, seed
        self.chunk_size = chunk_size
        self.history: list[dict[str, Any]] = []

    def on_step(self, state: object) -> None:
        step = int(state.step)  # type: ignore[attr-defined]
        if step % self.every != 0:
            return
        if self.data is None:
            x, y = as_tensors(state.dataset)  # type: ignore[attr-defined]
            self.data = (x[: self.examples], y[: self.examples])
        model: nn.Module = state.model  # type: ignore[attr-defined]
        if not bool(torch.stack([p.detach().isfinite().all() for p in trainable(model)]).all()):
            return  # diverged: no curvature to measure (the trainer ends the run after this update)
        settings = {"max_iterations": self.max_iterations, "tol": self.tol, "chunk_size": self.chunk_size}
        top = hessian_eigenvalues(model, self.loss_fn, *self.data, k=1, seed=self.seed, **settings)
        lr = float(state.lr)  # type: ignore[attr-defined]
        optimizer = getattr(state, "optimizer", None)
        limit, preconditioned = optimizer_stability_limit(optimizer, lr)
        row: dict[str, Any] = {
            "step": step,
            "lr": lr,
            "lambda_max": top[0],
            "two_over_lr": 2 / lr if lr > 0 else math.inf,
            "threshold": limit.value,
            "rule": limit.rule,
        }
        if preconditioned and optimizer is not None:
            diagonal, _ = adam_preconditioner(optimizer.state_dict(), _optimized(optimizer, model))
            values = preconditioned_eigenvalues(
                model, self.loss_fn, *self.data, diagonal, k=1, seed=self.seed, **settings
            )
            row["preconditioned_sharpness"] = values[0]
        self.history.append(row)


# -- stability thresholds ------------------------------------------------------------------------------------
ADAPTIVE = ("adagrad", "rmsprop", "adam", "adamw", "radam", "lamb")


@dataclass(frozen=True)
class StabilityLimit:
    """The largest Hessian eigenvalue an optimizer with a constant lr η stays stable at on a quadratic.

    ``value`` is ``None`` where no such line applies (adaptive methods, whose stability depends on the
    *preconditioned* sharpness, and LARS, whose trust ratio rescales η per layer); ``rule`` is the formula
    (``"2/η"``, ``"(2+2β)/η"``, ...) and ``note`` says where it comes from or why there is none.
    """

    value: float | None
    rule: str
    note: str
    lr: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stability_limit(optimizer: str, lr: float, hparams: dict[str, Any] | None = None) -> StabilityLimit:
    """λ_max beyond which ``optimizer`` at learning rate ``lr`` diverges on the quadratic ½λθ².

    * GD (``sgd``, momentum 0): λ < 2/η.
    * Heavy-ball momentum β (``momentum``, or ``sgd`` with a momentum): λ < (2+2β)/η (Polyak 1964; the
      iteration θ_{t+1} = θ_t − ηλθ_t + β(θ_t − θ_{t−1}) is stable iff ηλ < 2(1+β)). torch's dampening τ
      scales the step to η(1−τ).
    * Nesterov (torch form, β): λ < (2+2β)/((1+2β)η).
    * A coupled L2 weight decay wd adds wd to every eigenvalue of the penalised loss, so the line for the
      data loss's eigenvalues moves down by wd.
    * Adaptive methods (Adam, RMSProp, Adagrad, LAMB, …) and LARS: no line. Their step is preconditioned
      (per coordinate or per layer), so the threshold applies to the preconditioned sharpness λ_max(P⁻¹H)
      (Cohen et al. 2022), not to the raw λ_max measured here.
    """
    hparams = dict(hparams or {})
    if not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"invalid learning rate for a stability limit: {lr!r} (a number > 0)")
    if optimizer in ADAPTIVE:
        note = (
            f"{optimizer} preconditions its step, so its stability depends on the preconditioned sharpness "
            "λ_max(P⁻¹H) (for Adam the limit is (2+2β₁)/((1−β₁)η), Cohen et al. 2022), not on the raw "
            "λ_max of H; no line on H's eigenvalues"
        )
        return StabilityLimit(None, "none", note, lr)
    if optimizer == "lars":
        note = "LARS rescales η per layer by its trust ratio: no single η, no line on H's eigenvalues"
        return StabilityLimit(None, "none", note, lr)
    try:
        from optlab import optim

        defaults = dict(optim.info(optimizer).defaults)
    except ConfigError:
        defaults = {}
    settings = {**defaults, **hparams}
    beta = float(settings.get("momentum", 0.0) or 0.0)
    tau = float(settings.get("dampening", 0.0) or 0.0)
    wd = float(settings.get("weight_decay", 0.0) or 0.0)
    nesterov = bool(settings.get("nesterov", False))
    if beta == 0:
        value, rule, note = 2 / lr, "2/η", "gradient descent is stable on a quadratic iff λ < 2/η"
    elif nesterov:
        value = (2 + 2 * beta) / ((1 + 2 * beta) * lr)
        rule = "(2+2β)/((1+2β)η)"
        note = f"Nesterov momentum β = {beta:g} is stable on a quadratic iff λ < (2+2β)/((1+2β)η)"
    else:
        value = (2 + 2 * beta) / (lr * (1 - tau))
        rule = "(2+2β)/η" if tau == 0 else "(2+2β)/((1−τ)η)"
        note = f"heavy-ball momentum β = {beta:g} is stable on a quadratic iff λ < {rule} (Polyak 1964)"
    if wd:
        value -= wd
        rule += " − wd"
        note += f"; minus the L2 weight decay wd = {wd:g}, which adds wd to every eigenvalue"
    return StabilityLimit(value, rule, note, lr)


def _eigen_panel(axes: Any, values: list[float], limit: StabilityLimit, what: str, missing: str) -> None:
    """Bars of ``values`` by rank, ``limit`` as a dashed line labelled with its rule (or a note why none)."""
    ranks = np.arange(1, len(values) + 1)
    axes.bar(ranks, values, color="C0", label=what)
    if limit.value is not None:
        label = f"stability limit {limit.rule} = {limit.value:.4g} (η = {limit.lr:.3g})"
        axes.axhline(limit.value, color="C3", ls="--", label=label)
    else:
        axes.plot([], [], " ", label=missing)
    shown = list(values) + ([limit.value] if limit.value is not None else [])
    if min(values) > 0 and max(shown) / min(values) > 30:
        axes.set_yscale("log")  # a line far above the bars, or eigenvalues of several magnitudes
    else:
        axes.set_ylim(min(0.0, min(shown) * 1.1), max(shown) * 1.1)
    axes.set_xticks(ranks)
    axes.set_xlabel("rank")


def plot_hessian(
    eigenvalues: list[float],
    limit: StabilityLimit,
    path: str | Path,
    title: str = "",
    trace: Any = None,
    preconditioned: tuple[list[float], StabilityLimit] | None = None,
) -> None:
    """The top eigenvalues as bars with the optimizer's stability line, labelled by its rule; with
    ``preconditioned`` (values of P⁻¹H and their limit) a second panel for them."""
    from optlab.measure._common import new_figure, save_figure

    panels = 2 if preconditioned is not None else 1
    figure, axes = new_figure(1, panels, figsize=(6 * panels, 4.2), squeeze=False)
    raw = axes[0][0]
    _eigen_panel(raw, eigenvalues, limit, "Hessian eigenvalue (Lanczos)",
                 "no stability line for the raw Hessian: preconditioned or per-layer step")  # fmt: skip
    raw.set_ylabel("eigenvalue of H")
    if trace is not None:
        raw.plot([], [], " ", label=f"trace ≈ {trace.value:.3g} ± {trace.standard_error:.2g}")
    raw.set_title(title, fontsize=10)
    if preconditioned is not None:
        values, pre_limit = preconditioned
        pre = axes[0][1]
        _eigen_panel(pre, values, pre_limit, "eigenvalue of P⁻¹H (Lanczos)", "no stability line")
        pre.set_ylabel("preconditioned eigenvalue")
        pre.set_title("preconditioned by the optimizer's final P", fontsize=10)
    for panel in axes[0]:
        # Below the axes: a legend inside could cover the line or the bars.
        panel.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    save_figure(figure, path)


def adam_preconditioner(
    optimizer_state: dict[str, Any], params: list[torch.Tensor]
) -> tuple[torch.Tensor, dict[str, float]]:
    """P = √(v/(1−β₂ᵗ)) + ε of an Adam/AdamW state dict (one param group, ``params`` order), its settings.

    Adam's step is η·m̂/P, so on a quadratic with P frozen it is EMA momentum (β₁) with step η·P⁻¹: stable
    iff λ_max(P⁻¹H) < (2+2β₁)/((1−β₁)η) (Cohen et al. 2022, "Adaptive Gradient Methods at the Edge of
    Stability"). A state that does not match the parameters is a :class:`ConfigError`.
    """
    groups = optimizer_state.get("param_groups", [])
    if len(groups) != 1:
        raise ConfigError(f"the optimizer state has {len(groups)} parameter groups; one is supported")
    group = groups[0]
    if group.get("amsgrad"):
        raise ConfigError("AMSGrad's preconditioner (the running maximum) is not supported")
    ids = group["params"]
    if len(ids) != len(params):
        raise ConfigError(f"the optimizer state holds {len(ids)} tensors, the model {len(params)}")
    beta1, beta2 = (float(b) for b in group["betas"])
    eps = float(group["eps"])
    parts = []
    for index, p in zip(ids, params, strict=True):
        state = optimizer_state["state"].get(index)
        if state is None or "exp_avg_sq" not in state:
            raise ConfigError(f"the optimizer state of tensor {index} has no exp_avg_sq (not Adam?)")
        v = state["exp_avg_sq"]
        if v.shape != p.shape:
            raise ConfigError(
                f"optimizer state tensor {index} has shape {tuple(v.shape)}, the parameter {tuple(p.shape)}"
            )
        t = float(state["step"])
        parts.append(((v.double() / (1 - beta2**t)).sqrt() + eps).reshape(-1))
    return torch.cat(parts), {"beta1": beta1, "beta2": beta2, "eps": eps, "lr": float(group["lr"])}


def adam_stability_limit(lr: float, beta1: float) -> StabilityLimit:
    """(2+2β₁)/((1−β₁)η): the limit of the preconditioned sharpness λ_max(P⁻¹H) for Adam with P frozen."""
    return StabilityLimit(
        (2 + 2 * beta1) / ((1 - beta1) * lr),
        "(2+2β₁)/((1−β₁)η)",
        f"Adam with β₁ = {beta1:g} and its preconditioner P frozen is stable on a quadratic iff "
        "λ_max(P⁻¹H) < (2+2β₁)/((1−β₁)η) (Cohen et al. 2022)",
        lr,
    )


def optimizer_stability_limit(
    optimizer: torch.optim.Optimizer | None, lr: float
) -> tuple[StabilityLimit, bool]:
    """The stability limit that applies to ``optimizer`` at learning rate ``lr``, and whether it bounds the
    preconditioned sharpness λ₁(P^{-1/2} H P^{-1/2}) (True: Adam, AdamW) rather than λ_max(H).

    ``None`` stands for plain gradient descent (2/η). SGD, optlab's or torch's: :func:`stability_limit` with
    the first parameter group's momentum, dampening, Nesterov flag and weight decay. Adam and AdamW, optlab's
    or torch's: :func:`adam_stability_limit` with the group's β₁. Any other optimizer, or η ≤ 0: no limit
    (``value`` None).
    """
    from optlab import optim

    if not (lr > 0 and math.isfinite(lr)):
        return StabilityLimit(None, "none", f"no stability limit at η = {lr!r}", lr), False
    if optimizer is None:
        return stability_limit("sgd", lr), False
    group = optimizer.param_groups[0]
    if isinstance(optimizer, optim.SGD | torch.optim.SGD):
        keys = ("momentum", "dampening", "weight_decay")
        hparams = {key: float(group.get(key, 0.0)) for key in keys}
        return stability_limit("sgd", lr, {**hparams, "nesterov": bool(group.get("nesterov", False))}), False
    if isinstance(optimizer, optim.Adam | torch.optim.Adam | torch.optim.AdamW):  # optlab's AdamW is an Adam
        return adam_stability_limit(lr, float(group["betas"][0])), True
    name = type(optimizer).__name__
    if name.lower() in (*ADAPTIVE, "lars"):
        return stability_limit(name.lower(), lr), False
    return StabilityLimit(None, "none", f"no stability limit known for {name}", lr), False


def _optimized(optimizer: torch.optim.Optimizer, model: nn.Module) -> list[nn.Parameter]:
    """``model``'s trainable parameters, checked to be exactly the optimizer's in the same order, so that
    the preconditioner read from its state is in the flat order :func:`preconditioned_eigenvalues` uses."""
    params = trainable(model)
    held = [p for group in optimizer.param_groups for p in group["params"]]
    if [id(p) for p in held] != [id(p) for p in params]:
        raise ConfigError(
            "the optimizer does not hold exactly the model's trainable parameters in their order: "
            "its preconditioner cannot be matched to the Hessian's coordinates"
        )
    return params


def run_preconditioner(run_dir: str | Path, model: nn.Module) -> tuple[torch.Tensor, dict[str, float]]:
    """Adam's final preconditioner P of a run (its ``checkpoints/last.pt``), checked to belong to ``model``'s
    weights; anything that does not fit is a :class:`ConfigError` or :class:`OptlabError` saying why."""
    from optlab.train import load_checkpoint

    checkpoint = load_checkpoint(Path(run_dir) / "checkpoints" / "last.pt")
    weights = checkpoint.get("model", {})
    current = model.state_dict()
    if set(weights) != set(current) or any(
        not torch.equal(weights[key].to(current[key].dtype), current[key].cpu()) for key in current
    ):
        raise OptlabError("the run's last checkpoint is not at its final weights (the run did not finish?)")
    return adam_preconditioner(checkpoint["optimizer"], trainable(model))


# -- a run's curvature against its optimizer's stability limit (``optlab measure hessian``) ------------------
def final_lr(run: Any) -> tuple[float, str]:
    """The lr of a :class:`~optlab.measure.runs.LoadedRun`'s last update (its ``metrics.csv``: a schedule may
    have changed it), else the config's, else the optimizer's default; with a phrase saying which."""
    from optlab import optim
    from optlab.train.runs import read_csv

    metrics = run.run_dir / "metrics.csv"
    if metrics.is_file():
        rows = read_csv(metrics)
        if rows and isinstance(rows[-1].get("lr"), int | float) and rows[-1]["lr"] > 0:
            return float(rows[-1]["lr"]), "the lr of the run's last update"
    if run.config.lr:
        return float(run.config.lr), "the run's lr"
    return float(optim.info(run.config.optimizer).defaults["lr"]), f"{run.config.optimizer}'s default lr"


@dataclass
class RunCurvature:
    """:func:`run_curvature`'s result: the top eigenvalues (descending) and trace of H at a run's final
    weights, the stability limit of the run's optimizer at its final lr, and for Adam/AdamW the
    preconditioned eigenvalues with their limit (or ``no_preconditioned``: why there are none)."""

    run_dir: Path
    optimizer: str
    title: str  # model, data, optimizer and number of examples, for the figure
    examples: int
    eigenvalues: list[float]
    trace: TraceEstimate | None
    lr: float
    lr_source: str
    limit: StabilityLimit
    preconditioned: tuple[list[float], StabilityLimit] | None = None
    no_preconditioned: str | None = None

    def lines(self) -> list[str]:
        """The summary a person reads: eigenvalues, where λ_max lies against the limit, the trace."""
        values, limit, lr = self.eigenvalues, self.limit, self.lr
        lines = [f"top {len(values)} eigenvalues: " + ", ".join(f"{v:.4g}" for v in values)]
        if limit.value is not None:
            side = "above" if values[0] > limit.value else "below"
            lines.append(
                f"stability limit {limit.rule} = {limit.value:.4g} for {self.optimizer} at η = {lr:.4g} "
                f"({self.lr_source}); λ_max = {values[0]:.4g} is {side} it"
            )
            lines.append(f"  ({limit.note})")
        else:
            lines.append(f"no stability line: {limit.note}")
        if self.no_preconditioned is not None:
            lines.append(f"  no preconditioned sharpness: {self.no_preconditioned}")
        if self.preconditioned is not None:
            pre_values, pre_limit = self.preconditioned
            side = "above" if pre_values[0] > pre_limit.value else "below"
            lines.append(
                f"preconditioned sharpness λ_max(P⁻¹H) = {pre_values[0]:.4g} with the optimizer's final "
                f"P = √v̂ + ε; stability limit {pre_limit.rule} = {pre_limit.value:.4g} at η = "
                f"{pre_limit.lr:.4g}: it is {side} it"
            )
            lines.append(f"  ({pre_limit.note})")
        if self.trace is not None:
            trace = self.trace
            lines.append(f"trace ≈ {trace.value:.4g} ± {trace.standard_error:.2g} ({trace.samples} samples)")
        return lines

    def plot(self, path: str | Path) -> None:
        """The spectrum with the stability line (:func:`plot_hessian`)."""
        plot_hessian(self.eigenvalues, self.limit, path, self.title, self.trace, self.preconditioned)

    def to_dict(self) -> dict[str, Any]:
        pre = self.preconditioned
        return {
            "run": str(self.run_dir),
            "examples": self.examples,
            "eigenvalues": self.eigenvalues,
            "lr": self.lr,
            "lr_source": self.lr_source,
            "stability_limit": self.limit.to_dict(),
            "preconditioned_eigenvalues": None if pre is None else pre[0],
            "preconditioned_stability_limit": None if pre is None else pre[1].to_dict(),
            "trace": None if self.trace is None else vars(self.trace),
        }


def run_curvature(
    run: Any,
    k: int = 5,
    *,
    trace_samples: int = 50,
    max_iterations: int = 100,
    examples: int = 2048,
    seed: int = 0,
    progress: TaskProgress | None = None,
) -> RunCurvature:
    """Top-``k`` Hessian eigenvalues (Lanczos) and trace (Hutchinson; ``trace_samples`` 0 skips it) of the
    cross-entropy on a :class:`~optlab.measure.runs.LoadedRun`'s first ``examples`` training examples (0: all)
    at its final weights, with its optimizer's :func:`stability_limit` at the lr of its last update
    (:func:`final_lr`). For Adam and AdamW also λ_max(P⁻¹H) at the run's final P (its last checkpoint)
    against :func:`adam_stability_limit`; a checkpoint that does not fit leaves a note instead.
    ``progress(task, done, total)`` reports the tasks "Lanczos" and "Hutchinson"."""
    from optlab.measure.runs import subset

    x, y = subset(run.dataset.train, examples)
    loss_fn, top_k = nn.CrossEntropyLoss(), {"k": k, "max_iterations": max_iterations, "seed": seed}
    values = hessian_eigenvalues(run.model, loss_fn, x, y, **top_k, progress=for_task(progress, "Lanczos"))
    trace = None
    if trace_samples:
        hutchinson = for_task(progress, "Hutchinson")
        trace = hessian_trace(run.model, loss_fn, x, y, samples=trace_samples, seed=seed, progress=hutchinson)
    config = run.config
    lr, lr_source = final_lr(run)
    result = RunCurvature(
        run_dir=run.run_dir,
        optimizer=config.optimizer,
        title=f"{config.model} on {config.dataset}, {config.optimizer} ({len(x)} examples)",
        examples=len(x),
        eigenvalues=values,
        trace=trace,
        lr=lr,
        lr_source=lr_source,
        limit=stability_limit(config.optimizer, lr, config.hparams),
    )
    if config.optimizer in ("adam", "adamw"):
        try:
            diagonal, settings = run_preconditioner(run.run_dir, run.model)
        except OptlabError as why:
            result.no_preconditioned = str(why)
        else:
            pre_values = preconditioned_eigenvalues(run.model, loss_fn, x, y, diagonal, **top_k)
            result.preconditioned = (pre_values, adam_stability_limit(settings["lr"], settings["beta1"]))
    return result
