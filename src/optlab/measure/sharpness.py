"""Keskar et al.'s sharpness (ICLR 2017, "On Large-Batch Training for Deep Learning: Generalization Gap and
Sharp Minima", Metric 2.1): the largest relative rise of the loss in a small box around the solution.

    φ_{x,f}(ε, A) = (max_{y ∈ C_ε} f(x + A·y) − f(x)) / (1 + f(x)) × 100                 (their eq. 4)

    C_ε = { z ∈ ℝᵖ : −ε(|(A⁺x)_i| + 1) ≤ z_i ≤ ε(|(A⁺x)_i| + 1) for all i }               (their eq. 3)

x are the model's parameters (flattened, n of them) and f the mean training loss. A = I_n measures in the full
space (the box is then |y_i| ≤ ε(|x_i| + 1): relative to each weight's size); ``subspace_dim=p`` uses a random
n×p matrix A with i.i.d. standard-normal entries (the paper's random-manifold variant, p = 100 there) and A⁺
its pseudo-inverse. As in the paper, the inner maximisation is approximate: L-BFGS-B (scipy) on −f(x + Ay)
with the box as bounds, for ``iterations`` iterations (10 in the paper), with gradients Aᵀ∇f from torch.
Because the gradient vanishes at an exact minimum, the search starts at a random point of the box (seeded),
not at y = 0; φ uses the best point it evaluated.

The model is evaluated in eval mode (BatchNorm running statistics, no dropout) and its parameters are restored
exactly afterwards, also on error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure._common import (
    LossFn,
    Progress,
    TaskProgress,
    as_tensors,
    eval_mode,
    flatten,
    for_task,
    loss_and_grad,
    trainable,
    unflatten,
)


@dataclass(frozen=True)
class Sharpness:
    value: float  # φ, in percent
    loss: float  # f(x)
    max_loss: float  # the largest f(x + Ay) found in the box
    epsilon: float
    subspace_dim: int | None  # None: the full space (A = I)
    iterations: int
    evaluations: int  # loss-and-gradient evaluations made by L-BFGS-B

    def __float__(self) -> float:
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sharpness(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    Y: torch.Tensor,
    epsilon: float = 1e-3,
    subspace_dim: int | None = None,
    iterations: int = 10,
    seed: int = 0,
    *,
    basis: torch.Tensor | None = None,
    chunk_size: int | None = 4096,
    progress: Progress | None = None,
) -> Sharpness:
    """Keskar et al.'s Metric 2.1 at the model's current parameters; see the module docstring for the
    definition.

    Args:
        epsilon: the box's relative size ε (the paper reports 1e-3 and 5e-4).
        subspace_dim: ``None`` for the full space (A = I); p for a random n×p subspace.
        iterations: L-BFGS-B iterations (``maxiter``).
        basis: an explicit n×p matrix A (overrides ``subspace_dim``), e.g. to use the same A for several
        models.

    Example:
        >>> sharpness(model, nn.CrossEntropyLoss(), x, y, epsilon=1e-3).value   # doctest: +SKIP
    """
    from scipy.optimize import minimize

    if not (isinstance(epsilon, int | float) and epsilon > 0):
        raise ConfigError(f"invalid epsilon: {epsilon!r} (must be a number > 0)")
    if not (isinstance(iterations, int) and iterations >= 1):
        raise ConfigError(f"invalid iterations: {iterations!r} (must be an integer >= 1)")
    X, Y = as_tensors((X, Y))
    params = trainable(model)
    original = [p.detach().clone() for p in params]
    x0 = flatten(original).double()
    n = x0.numel()
    generator = torch.Generator().manual_seed(seed)
    if basis is not None:
        basis = basis.detach().to(device="cpu", dtype=torch.float64)
        if basis.dim() != 2 or basis.shape[0] != n:
            raise ConfigError(
                f"basis must be a matrix with {n} rows (one per parameter), got {tuple(basis.shape)}"
            )
        subspace_dim = basis.shape[1]
    elif subspace_dim is not None:
        if not (isinstance(subspace_dim, int) and 1 <= subspace_dim <= n):
            raise ConfigError(
                f"invalid subspace_dim: {subspace_dim!r} (must be an integer in [1, {n}] or None)"
            )
        basis = torch.randn(n, subspace_dim, generator=generator, dtype=torch.float64)
    center = x0 if basis is None else torch.linalg.pinv(basis) @ x0  # A⁺x (= x for A = I)
    bound = (epsilon * (center.abs() + 1)).numpy()
    device, dtype = params[0].device, params[0].dtype
    calls = [0]
    best = [-np.inf]

    def set_params(flat: torch.Tensor) -> None:
        with torch.no_grad():
            for p, v in zip(params, unflatten(flat.to(device=device, dtype=dtype), params), strict=True):
                p.copy_(v)

    def negative_loss(y: np.ndarray) -> tuple[float, np.ndarray]:
        y_t = torch.from_numpy(y)
        step = y_t if basis is None else basis @ y_t
        set_params(x0 + step)
        loss, grads = loss_and_grad(model, loss_fn, X, Y, params, chunk_size)
        grad = flatten(grads).double().cpu()
        grad_y = grad if basis is None else basis.T @ grad  # chain rule: ∂f(x + Ay)/∂y = Aᵀ∇f
        calls[0] += 1
        best[0] = max(best[0], loss)
        if progress is not None:
            progress(min(calls[0], iterations), iterations)
        return -loss, -grad_y.numpy()

    try:
        with eval_mode(model):
            base_loss, _ = loss_and_grad(model, loss_fn, X, Y, params, chunk_size)
            start = torch.rand(len(bound), generator=generator, dtype=torch.float64).numpy() * 2 - 1
            minimize(
                negative_loss,
                start * bound,
                jac=True,
                method="L-BFGS-B",
                bounds=list(zip(-bound, bound, strict=True)),
                options={"maxiter": iterations},
            )
    finally:
        set_params(flatten(original).double())
    max_loss = max(best[0], base_loss)
    return Sharpness(
        value=(max_loss - base_loss) / (1 + base_loss) * 100,
        loss=base_loss,
        max_loss=max_loss,
        epsilon=float(epsilon),
        subspace_dim=subspace_dim,
        iterations=iterations,
        evaluations=calls[0],
    )


SPACES_NOTE = (
    "full space and subspace measure different things: the full-space box lets every weight move by "
    "ε(|w|+1) in any direction; the subspace box moves only along p random directions (A Gaussian n×p, box "
    "ε(|(A⁺x)_i|+1) in those p coordinates), which rarely line up with the few sharpest directions but may "
    "move further along them. Compare φ between runs only at the same ε and in the same space (and seed)."
)


def compare_spaces(results: list[Sharpness]) -> list[str]:
    """For each ε measured in both spaces: the subspace φ as a multiple of the full-space φ (computed)."""
    lines = []
    by_eps: dict[float, dict[str, Sharpness]] = {}
    for result in results:
        key = "full" if result.subspace_dim is None else "sub"
        by_eps.setdefault(result.epsilon, {})[key] = result
    for eps, pair in by_eps.items():
        if "full" not in pair or "sub" not in pair:
            continue
        full, sub = pair["full"].value, pair["sub"].value
        if full > 0:
            ratio = sub / full
            word = "larger" if ratio > 1 else "smaller"
            factor = ratio if ratio > 1 else (1 / ratio if ratio > 0 else float("inf"))
            lines.append(
                f"ε = {eps:g}: the subspace ({pair['sub'].subspace_dim}-dim) value is {factor:.3g}× {word} "
                "than the full-space one"
                if ratio != 1
                else f"ε = {eps:g}: the subspace and full-space values are equal"
            )
        else:
            lines.append(f"ε = {eps:g}: the full-space search found no rise of the loss (φ = {full:.3g})")
    return lines


def plot_sharpness(results: list[Sharpness], path: Any, title: str = "") -> None:
    """φ for each ε as grouped bars, one bar per space (full, random subspace)."""
    from optlab.measure._common import new_figure, save_figure

    epsilons = sorted({r.epsilon for r in results}, reverse=True)
    spaces = list(dict.fromkeys(r.subspace_dim for r in results))
    figure, axes = new_figure(figsize=(6, 4.2))
    width = 0.8 / max(1, len(spaces))
    for j, dim in enumerate(spaces):
        values = [
            next((r.value for r in results if r.epsilon == eps and r.subspace_dim == dim), np.nan)
            for eps in epsilons
        ]
        positions = np.arange(len(epsilons)) + (j - (len(spaces) - 1) / 2) * width
        label = "full space (A = I)" if dim is None else f"random subspace, p = {dim}"
        bars = axes.bar(positions, values, width, label=label, color=f"C{j}")
        axes.bar_label(bars, fmt="%.3g", fontsize=8)
    axes.set_xticks(np.arange(len(epsilons)), [f"ε = {eps:g}" for eps in epsilons])
    axes.set_ylabel("sharpness φ (% rise of the loss)")
    axes.set_title(title, fontsize=10)
    axes.margins(y=0.15)
    axes.legend(fontsize=8, title="compare within one space", title_fontsize=8)
    save_figure(figure, path)


def sharpness_grid(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    Y: torch.Tensor,
    epsilons: Sequence[float],
    subspace_dim: int = 0,
    iterations: int = 10,
    seed: int = 0,
    *,
    progress: TaskProgress | None = None,
) -> Iterator[tuple[str, Sharpness]]:
    """:func:`sharpness` at every ε of ``epsilons``, in the full space and (``subspace_dim`` > 0) in a random
    ``subspace_dim``-dimensional subspace: yields ``(where, result)`` as each is measured, ``where`` being
    ``"full space"`` or ``"subspace P"``. ``progress(task, done, total)`` gets one task per measurement."""
    for eps in epsilons:
        for dim in [None] + ([subspace_dim] if subspace_dim else []):
            where = "full space" if dim is None else f"subspace {dim}"
            task = for_task(progress, f"ε={eps:g}, {where}")
            yield where, sharpness(model, loss_fn, X, Y, eps, dim, iterations, seed, progress=task)
