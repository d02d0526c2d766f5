"""Analytic 2-D error surfaces of the S-experiments and the explorer: value, gradient (autograd), minimum,
contour grids.

A :class:`Surface` is a function of points shaped ``(..., 2)`` (the last axis is (x, y)), so a batch of
independent 2-D problems, e.g. one per learning rate, is one tensor and one autograd call. Every surface here
is written in plain torch so the gradient is autograd's, not a hand derivation.

The surfaces and why they exist (the lecture's claims need each one's particular shape):

* :func:`quadratic` — ½ (θ − θ*)ᵀ H (θ − θ*), with H's eigenvalues given and its principal axes rotated by an
  angle. Ill-conditioned and slightly rotated, it makes Adagrad's root-mean-square form erupt (S3).
* :func:`valley` — ½·a·x² + k·log cosh(y): a long convex valley whose walls become straight lines far from the
  floor, so the gradient across the valley saturates at k. Gradient descent with a large step jumps from wall
  to wall forever (a stable two-cycle, S1), while a tiny step walks down to the floor but then crawls along
  the almost flat floor (S2).
* :func:`saddle_and_local_min` — g(x) + ½·κ·y² with g′(x) = c·x²(x − a)(x − b)(x − d): a flat saddle
  (inflection) at 0, a small local minimum at a, a bump at b and the global minimum at d (S4, the ball rolling
  down).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "LECTURE_QUADRATIC",
    "LECTURE_VALLEY",
    "Surface",
    "names",
    "quadratic",
    "saddle_and_local_min",
    "surface",
    "valley",
]

SurfaceFn = Callable[[Tensor], Tensor]
ValueAndGradientFn = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class Surface:
    """A 2-D error surface f(x, y).

    Attributes:
        name: short name.
        formula: the function in plain text (the report prints it).
        fn: maps points ``(..., 2)`` to values ``(...)``; differentiable with autograd.
        minimum: the global minimiser (x*, y*).
        extent: (x_min, x_max, y_min, y_max), the window the contour plots show.
        start: the default starting point of the experiments on this surface.
        closed_form: optional (f, ∇f) written out by hand. Autograd costs ~10 small ops per update, which
            dominates 10⁵-update runs; tests check this against autograd to 1e-12, and
            :meth:`fast_value_and_gradient` uses it when present.
    """

    name: str
    formula: str
    fn: SurfaceFn
    minimum: tuple[float, float]
    extent: tuple[float, float, float, float]
    start: tuple[float, float]
    closed_form: ValueAndGradientFn | None = None

    def value(self, points: Tensor) -> Tensor:
        """f at ``points`` shaped ``(..., 2)``."""
        if points.shape[-1] != 2:
            raise ValueError(
                f"surface {self.name}: points must have a last axis of size 2, got {tuple(points.shape)}"
            )
        return self.fn(points)

    def value_and_gradient(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """(f, ∇f) at ``points``; the gradient comes from autograd (each point is an independent problem)."""
        with torch.enable_grad():
            leaf = points.detach().requires_grad_(True)
            values = self.value(leaf)
            (grad,) = torch.autograd.grad(values.sum(), leaf)
        return values.detach(), grad

    def fast_value_and_gradient(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """(f, ∇f) from the closed form where there is one, else from autograd."""
        if self.closed_form is not None:
            return self.closed_form(points.detach())
        return self.value_and_gradient(points)

    def gradient(self, points: Tensor) -> Tensor:
        """∇f at ``points`` shaped ``(..., 2)`` (autograd)."""
        return self.value_and_gradient(points)[1]

    def minimum_value(self) -> float:
        """f(θ*)."""
        return float(self.value(torch.tensor(self.minimum, dtype=torch.float64)))

    def grid(
        self, resolution: int = 201, extent: tuple[float, float, float, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, Y, Z) NumPy arrays on a ``resolution`` × ``resolution`` grid over ``extent`` (default: the
        surface's)."""
        x_min, x_max, y_min, y_max = extent or self.extent
        xs = torch.linspace(x_min, x_max, resolution, dtype=torch.float64)
        ys = torch.linspace(y_min, y_max, resolution, dtype=torch.float64)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")
        z = self.value(torch.stack([gx, gy], dim=-1))
        return gx.numpy(), gy.numpy(), z.numpy()

    def contour_levels(
        self, count: int = 25, extent: tuple[float, float, float, float] | None = None
    ) -> np.ndarray:
        """Contour levels spaced evenly in log(f − f* ) so both the steep walls and the floor show."""
        _, _, z = self.grid(121, extent)
        gap = z - self.minimum_value()
        top = float(np.max(gap))
        bottom = max(float(np.min(gap[gap > 0])) if np.any(gap > 0) else top * 1e-6, top * 1e-6)
        return self.minimum_value() + np.geomspace(bottom, top, count)


def quadratic(
    eigenvalues: tuple[float, float] = (1.0, 100.0),
    angle_deg: float = 0.0,
    center: tuple[float, float] = (0.0, 0.0),
    start: tuple[float, float] = (-3.0, 0.3),
    extent: tuple[float, float, float, float] = (-3.5, 1.0, -1.2, 1.2),
) -> Surface:
    """f(θ) = ½ (θ − c)ᵀ R diag(λ₁, λ₂) Rᵀ (θ − c), R the rotation by ``angle_deg``.

    λ₁ belongs to the direction at ``angle_deg`` from the x-axis, λ₂ to the one at ``angle_deg`` + 90°.
    """
    lam1, lam2 = (float(v) for v in eigenvalues)
    if lam1 <= 0 or lam2 <= 0:
        raise ValueError(f"quadratic: eigenvalues must be positive, got {eigenvalues}")
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    # H = R diag(λ) Rᵀ written out, so fn works on any batch shape and dtype.
    h_xx = lam1 * cos * cos + lam2 * sin * sin
    h_yy = lam1 * sin * sin + lam2 * cos * cos
    h_xy = (lam1 - lam2) * cos * sin
    cx, cy = center

    def fn(points: Tensor) -> Tensor:
        dx, dy = points[..., 0] - cx, points[..., 1] - cy
        return 0.5 * (h_xx * dx * dx + 2.0 * h_xy * dx * dy + h_yy * dy * dy)

    def closed_form(points: Tensor) -> tuple[Tensor, Tensor]:
        dx, dy = points[..., 0] - cx, points[..., 1] - cy
        gx, gy = h_xx * dx + h_xy * dy, h_xy * dx + h_yy * dy
        return 0.5 * (dx * gx + dy * gy), torch.stack([gx, gy], dim=-1)

    formula = (
        f"f(θ) = ½ (θ − θ*)ᵀ H (θ − θ*), H with eigenvalues {lam1:g} and {lam2:g} (condition number "
        f"{max(lam1, lam2) / min(lam1, lam2):g}), principal axes rotated by {angle_deg:g}°"
    )
    return Surface("quadratic", formula, fn, (float(cx), float(cy)), extent, start, closed_form)


def valley(
    shallow: float = 0.1,
    steep: float = 2000.0,
    start: tuple[float, float] = (-100.0, 8.0),
    extent: tuple[float, float, float, float] = (-110.0, 10.0, -14.0, 14.0),
) -> Surface:
    """f(x, y) = ½·a·x² + k·log cosh(y): convex, floor along y = 0, curvature a along it and k across it.

    Far from the floor |∂f/∂y| → k: the walls are planes, so a step of η·k jumps a fixed distance across.
    """
    if shallow <= 0 or steep <= 0:
        raise ValueError(f"valley: shallow and steep must be positive, got {shallow}, {steep}")

    def fn(points: Tensor) -> Tensor:
        x, y = points[..., 0], points[..., 1]
        # log cosh(y) = |y| + log1p(exp(−2|y|)) − log 2, stable for large |y|.
        log_cosh = y.abs() + torch.log1p(torch.exp(-2.0 * y.abs())) - math.log(2.0)
        return 0.5 * shallow * x * x + steep * log_cosh

    def closed_form(points: Tensor) -> tuple[Tensor, Tensor]:
        x, y = points[..., 0], points[..., 1]
        return fn(points), torch.stack([shallow * x, steep * torch.tanh(y)], dim=-1)

    formula = f"f(x, y) = ½·{shallow:g}·x² + {steep:g}·log cosh(y)"
    return Surface("valley", formula, fn, (0.0, 0.0), extent, start, closed_form)


def saddle_and_local_min(
    roots: tuple[float, float, float] = (1.0, 1.6, 3.0),
    across: float = 2.0,
    start: tuple[float, float] = (-1.0, 0.8),
    extent: tuple[float, float, float, float] = (-1.3, 3.5, -1.0, 1.0),
) -> Surface:
    """f(x, y) = g(x) + ½·κ·y² with g′(x) = x²(x − a)(x − b)(x − d), g(0) = 0.

    g has a flat saddle at 0 (g′ = g″ = 0, descending on both sides), a local minimum at a, a local maximum at
    b and the global minimum at d, for 0 < a < b < d with g(d) < g(a).
    """
    a, b, d = (float(r) for r in roots)
    if not 0 < a < b < d:
        raise ValueError(f"saddle_and_local_min: need 0 < a < b < d, got {roots}")
    derivative = np.polynomial.polynomial.polyfromroots([0.0, 0.0, a, b, d])
    coefficients = [float(c) for c in np.polynomial.polynomial.polyint(derivative)]  # g(0) = 0

    derivative_coefficients = [float(c) for c in derivative]

    def horner(x: Tensor, coeffs: list[float]) -> Tensor:
        total = torch.zeros_like(x)
        for coefficient in reversed(coeffs):
            total = total * x + coefficient
        return total

    def g(x: Tensor) -> Tensor:
        return horner(x, coefficients)

    if float(g(torch.tensor(d, dtype=torch.float64))) >= float(g(torch.tensor(a, dtype=torch.float64))):
        raise ValueError(f"saddle_and_local_min: the minimum at d={d} must lie below the one at a={a}")

    def fn(points: Tensor) -> Tensor:
        return g(points[..., 0]) + 0.5 * across * points[..., 1] ** 2

    def closed_form(points: Tensor) -> tuple[Tensor, Tensor]:
        x, y = points[..., 0], points[..., 1]
        grad = torch.stack([horner(x, derivative_coefficients), across * y], dim=-1)
        return g(x) + 0.5 * across * y * y, grad

    formula = (
        f"f(x, y) = g(x) + ½·{across:g}·y², g′(x) = x²(x − {a:g})(x − {b:g})(x − {d:g}): saddle at x = 0, "
        f"local minimum at x = {a:g}, global minimum at x = {d:g}"
    )
    return Surface("saddle_and_local_min", formula, fn, (d, 0.0), extent, start, closed_form)


_BUILDERS: dict[str, Callable[[], Surface]] = {
    "quadratic": quadratic,
    "valley": valley,
    "saddle_and_local_min": saddle_and_local_min,
}


# The lecture's settings of these surfaces: the S-experiments run on them, the explorer's page draws them.
LECTURE_VALLEY: dict[str, Any] = {"shallow": 0.01, "steep": 2000.0, "start": (-100.0, 8.0)}  # S1, S2
LECTURE_QUADRATIC: dict[str, Any] = {  # S3, S5, S6b: condition number 100, axes turned by 5°
    "eigenvalues": (1.0, 100.0),
    "angle_deg": 5.0,
    "start": (-3.0, 0.3),
    "extent": (-3.4, 0.8, -0.9, 0.9),
}


def names() -> list[str]:
    """Names accepted by :func:`surface`."""
    return list(_BUILDERS)


def surface(name: str) -> Surface:
    """The named surface with its default parameters."""
    try:
        return _BUILDERS[name]()
    except KeyError:
        raise ValueError(f"unknown surface {name!r}; valid: {', '.join(names())}") from None
