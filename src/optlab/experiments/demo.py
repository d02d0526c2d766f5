"""The first demo: five optimizers on a 2-D ill-conditioned quadratic, a table and a contour plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from optlab.experiments._descent import descend
from optlab.experiments._plotting import PathPlot, surface_figure
from optlab.experiments.surfaces import Surface, quadratic
from optlab.optim import SGD, Adagrad, Adam, RMSProp

__all__ = ["DemoRow", "demo_surface", "run_demo"]

STEPS = 200


@dataclass(frozen=True)
class DemoRow:
    method: str
    hyperparameters: str
    final_loss: float
    distance_to_minimum: float


def demo_surface() -> Surface:
    """Eigenvalues 1 and 100 (condition number 100), axes rotated by 30°: the steep direction is not a
    coordinate."""
    return quadratic((1.0, 100.0), angle_deg=30.0, start=(-4.0, 0.5), extent=(-4.6, 1.0, -2.0, 1.5))


# name -> (hyperparameters as printed, factory). GD's η is just below its stability limit 2/λ_max = 0.02.
METHODS = {
    "gradient descent": ("η = 0.019", lambda p: SGD(p, lr=0.019)),
    "momentum": ("η = 0.005, λ = 0.9", lambda p: SGD(p, lr=0.005, momentum=0.9, form="lecture")),
    "Adagrad": ("η = 0.5", lambda p: Adagrad(p, lr=0.5)),
    "RMSProp": ("η = 0.02, α = 0.9", lambda p: RMSProp(p, lr=0.02, alpha=0.9, init="first_grad")),
    "Adam": ("η = 0.05, β = (0.9, 0.999)", lambda p: Adam(p, lr=0.05)),
}


def run_demo(out_dir: Path, steps: int = STEPS) -> tuple[list[DemoRow], Path]:
    """Run the five optimizers for ``steps`` updates; write ``out_dir/demo_trajectories.png``."""
    surface = demo_surface()
    rows, plots = [], []
    for name, (hyper, factory) in METHODS.items():
        path = descend(surface, factory, steps=steps)
        rows.append(
            DemoRow(
                name,
                hyper,
                float(path.losses[-1, 0] - surface.minimum_value()),
                float(path.distances(surface.minimum)[-1, 0]),
            )
        )
        plots.append(PathPlot.of(f"{name} ({hyper})", path))
    figure = out_dir / "demo_trajectories.png"
    surface_figure(
        surface, plots, figure, f"{steps} updates on an ill-conditioned quadratic (condition number 100)"
    )
    return rows, figure
