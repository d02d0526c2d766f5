"""Run an optlab optimizer on a 2-D surface; record the path, loss and gradient norm at every update.

The gradient is the surface's closed form (checked against autograd in the tests) because autograd's per-op
cost dominates 10⁵ tiny updates. The parameter is one ``(n, 2)`` tensor: n independent 2-D problems (n
starting points) in one autograd call per update, which is how 10⁵ updates stay fast. Elementwise optimizers
(SGD, momentum, Adagrad, RMSProp, Adam) treat the rows independently, so each row is exactly the
single-problem run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer

from optlab.experiments.surfaces import Surface
from optlab.schedules import attach

__all__ = ["Trajectory", "descend", "trajectory_rows"]

OptimizerFactory = Callable[[list[Tensor]], Optimizer]


@dataclass
class Trajectory:
    """θ_0 … θ_T and f, ‖∇f‖ at each of them; arrays shaped (T + 1, n, 2) and (T + 1, n)."""

    points: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray

    @property
    def steps(self) -> int:
        return self.points.shape[0] - 1

    def distances(self, minimum: tuple[float, float]) -> np.ndarray:
        return np.linalg.norm(self.points - np.asarray(minimum), axis=-1)


def descend(
    surface: Surface,
    make_optimizer: OptimizerFactory,
    starts: Sequence[tuple[float, float]] | None = None,
    steps: int = 1000,
    *,
    schedule: Callable[[int], float] | None = None,
    after_step: Callable[[int, Optimizer], None] | None = None,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> Trajectory:
    """Take ``steps`` updates of the optimizer built by ``make_optimizer([theta])`` from each start.

    ``schedule`` (a ``step -> lr`` function) is attached with :func:`optlab.schedules.attach`; ``after_step(t,
    opt)`` runs after update t (e.g. to change a hyperparameter), before update t + 1.
    """
    starts = [surface.start] if starts is None else list(starts)
    theta = torch.tensor(starts, dtype=dtype, device=device).requires_grad_(True)
    optimizer = make_optimizer([theta])
    scheduler = attach(optimizer, schedule) if schedule is not None else None
    n = theta.shape[0]
    points = torch.empty(steps + 1, n, 2, dtype=dtype, device=device)
    losses = torch.empty(steps + 1, n, dtype=dtype, device=device)
    grads = torch.empty(steps + 1, n, 2, dtype=dtype, device=device)
    for t in range(steps + 1):
        with torch.no_grad():
            values, grad = surface.fast_value_and_gradient(theta)
            points[t] = theta
            losses[t] = values
            grads[t] = grad
        if t == steps:
            break
        theta.grad = grad
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if after_step is not None:
            after_step(t, optimizer)
    grad_norms = torch.linalg.vector_norm(grads, dim=-1)
    return Trajectory(points.cpu().numpy(), losses.cpu().numpy(), grad_norms.cpu().numpy())


def subsample(steps: int, count: int = 1500) -> np.ndarray:
    """About ``count`` update indices from 0 to ``steps``: every one early on, then log-spaced, always the
    last."""
    dense = np.arange(min(steps + 1, count // 3))
    sparse = np.unique(np.geomspace(max(dense[-1], 1), steps, count - len(dense)).astype(int))
    return np.unique(np.concatenate([dense, sparse, [steps]]))


def trajectory_rows(trajectory: Trajectory, labels: Sequence[str], count: int = 1500) -> list[dict[str, Any]]:
    """CSV rows (for :func:`optlab._io.write_csv`): update, run, x, y, loss, grad_norm for a subsample of
    updates (the data of the figures), the runs of one update side by side."""
    rows = []
    for t in subsample(trajectory.steps, count):
        for i, label in enumerate(labels):
            x, y = trajectory.points[t, i]
            rows.append(
                {
                    "update": int(t),
                    "run": label,
                    "x": float(x),
                    "y": float(y),
                    "loss": float(trajectory.losses[t, i]),
                    "grad_norm": float(trajectory.grad_norms[t, i]),
                }
            )
    return rows
