"""Figures for the experiments: paths on the surfaces' contours with loss and gradient-norm curves, and the
colours and resolution every experiment's figures share (drawn with :func:`optlab._io.pyplot`, saved with
:func:`optlab._io.save_figure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optlab._io import pyplot, save_figure
from optlab.experiments._descent import Trajectory
from optlab.experiments.surfaces import Surface

__all__ = ["COLORS", "DPI", "PathPlot", "surface_figure"]

COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
DPI = 100  # the report shows the figures at page width; more would only make the PNGs larger


@dataclass
class PathPlot:
    """One run to draw: its label, θ_t (T + 1, 2), f(θ_t) and ‖∇f(θ_t)‖ (T + 1,)."""

    label: str
    points: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray
    color: str | None = None
    linestyle: str = "-"
    contour_updates: int | None = None  # draw only θ_0 … θ_k on the contours (a long bounce hides itself)

    @classmethod
    def of(cls, label: str, trajectory: Trajectory, run: int = 0, **style: Any) -> PathPlot:
        """Run ``run`` (one start) of a :class:`~optlab.experiments._descent.Trajectory`."""
        t = trajectory
        return cls(label, t.points[:, run], t.losses[:, run], t.grad_norms[:, run], **style)


def _covering(extent: tuple[float, float, float, float], paths: Sequence[PathPlot]) -> tuple[float, ...]:
    """The extent, widened where a path leaves it (a path running off the picture hides what it did)."""
    x_min, x_max, y_min, y_max = extent
    finite = [p.points[np.all(np.isfinite(p.points), axis=1)] for p in paths]
    xs = np.concatenate([[x_min, x_max]] + [f[:, 0] for f in finite])
    ys = np.concatenate([[y_min, y_max]] + [f[:, 1] for f in finite])
    lo_x, hi_x, lo_y, hi_y = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    pad_x = 0.04 * (hi_x - lo_x) if (lo_x < x_min or hi_x > x_max) else 0.0
    pad_y = 0.04 * (hi_y - lo_y) if (lo_y < y_min or hi_y > y_max) else 0.0
    return (
        lo_x - (pad_x if lo_x < x_min else 0),
        hi_x + (pad_x if hi_x > x_max else 0),
        lo_y - (pad_y if lo_y < y_min else 0),
        hi_y + (pad_y if hi_y > y_max else 0),
    )


def surface_figure(
    surface: Surface,
    paths: Sequence[PathPlot],
    path: Path,
    title: str,
    *,
    extent: tuple[float, float, float, float] | None = None,
    log_steps: bool = False,
    markers: bool = False,
    marks: Sequence[tuple[float, float, str]] = (),
    claims: Sequence[str] = (),
    caption: str = "",
) -> dict[str, Any]:
    """Left: the paths on log-spaced contours of the surface. Right: f − f* and ‖∇f‖ against the update.
    Returns the figure's record for ``measurements["figures"]`` (the claims it shows, its caption)."""
    fig = pyplot().figure(figsize=(13, 5.6), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=(1.35, 1))
    contour_ax = fig.add_subplot(grid[:, 0])
    loss_ax = fig.add_subplot(grid[0, 1])
    grad_ax = fig.add_subplot(grid[1, 1], sharex=loss_ax)

    extent = _covering(extent or surface.extent, paths)
    x, y, z = surface.grid(241, extent)
    levels = surface.contour_levels(22, extent)
    contour_ax.contourf(x, y, z, levels=levels, cmap="Greys", alpha=0.35, extend="both")
    contour_ax.contour(x, y, z, levels=levels, colors="0.45", linewidths=0.6, linestyles="solid")
    floor = surface.minimum_value()
    # Curves that converge to round-off would stretch a log axis to 1e-300; show 16 decades below the top.
    top_loss = max(float(np.max(run.losses - floor)) for run in paths)
    top_grad = max(float(np.max(run.grad_norms)) for run in paths)
    low_loss = min(float(np.min(run.losses - floor)) for run in paths)
    low_grad = min(float(np.min(run.grad_norms)) for run in paths)
    loss_floor = max(low_loss / 3, top_loss * 1e-16) if low_loss > 0 else top_loss * 1e-16
    grad_floor = max(low_grad / 3, top_grad * 1e-16) if low_grad > 0 else top_grad * 1e-16
    for i, run in enumerate(paths):
        color = run.color or COLORS[i % len(COLORS)]
        pts = run.points if run.contour_updates is None else run.points[: run.contour_updates + 1]
        contour_ax.plot(
            pts[:, 0],
            pts[:, 1],
            run.linestyle,
            color=color,
            lw=1.6,
            label=run.label,
            marker="o" if markers else None,
            ms=2.5,
        )
        contour_ax.plot(pts[0, 0], pts[0, 1], "o", color=color, ms=7, mfc="white", mew=2)
        contour_ax.plot(pts[-1, 0], pts[-1, 1], "X", color=color, ms=9)
        steps = np.arange(len(run.losses))
        gap = np.maximum(run.losses - floor, loss_floor)
        loss_ax.plot(steps, gap, run.linestyle, color=color, lw=1.4, label=run.label)
        grad_ax.plot(steps, np.maximum(run.grad_norms, grad_floor), run.linestyle, color=color, lw=1.4)
    for mark_x, mark_y, text in marks:
        contour_ax.plot(mark_x, mark_y, "P", color="black", ms=9, zorder=6)
        contour_ax.annotate(text, (mark_x, mark_y), xytext=(6, -16), textcoords="offset points", fontsize=11,
                            fontweight="bold")  # fmt: skip
    contour_ax.plot(*surface.minimum, "*", color="gold", mec="black", ms=16, label="minimum", zorder=5)
    x_min, x_max, y_min, y_max = extent
    contour_ax.set(xlim=(x_min, x_max), ylim=(y_min, y_max), xlabel="x", ylabel="y")
    contour_ax.set_title(title, fontsize=13)
    contour_ax.legend(loc="best", fontsize=10, framealpha=0.9)
    loss_ax.set(yscale="log", ylabel="f(θ) − f*", ylim=(loss_floor, top_loss * 3))
    loss_ax.set_title("loss and gradient norm per update (o = start, X = end)", fontsize=11)
    grad_ax.set(yscale="log", ylabel="‖∇f(θ)‖", xlabel="update t", ylim=(grad_floor, top_grad * 3))
    if log_steps:
        loss_ax.set_xscale("symlog", linthresh=10)
    loss_ax.set_xlim(0, max(len(run.losses) for run in paths) - 1)
    for ax in (loss_ax, grad_ax):
        ax.grid(True, which="major", alpha=0.3)
    loss_ax.legend(fontsize=9, loc="best")
    save_figure(fig, path, dpi=DPI)
    return {"file": path.name, "claims": list(claims), "caption": caption}
