"""S1 — "training stuck ≠ small gradient": large-step gradient descent bouncing between the walls of a valley.

Surface: the convex valley f(x, y) = ½·0.01·x² + 2000·log cosh(y). Its walls are almost planes (|∂f/∂y| → 2000
away from the floor), so gradient descent with the lecture's η = 10⁻² jumps η·2000 = 20 across the valley on
every update and lands on the opposite wall at the same height: a stable two-cycle. The loss stops falling and
yet the gradient stays as large as it was at the start — the loss curve alone would say "converged" or "stuck
at a critical point", the gradient norm says neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optlab._io import write_csv
from optlab.experiments._descent import descend, trajectory_rows
from optlab.experiments._plotting import PathPlot, surface_figure
from optlab.experiments.framework import Claim, ClaimResult, Profile, ProfileRow
from optlab.experiments.surfaces import LECTURE_VALLEY, valley
from optlab.optim import SGD

ID = "S1"
TITLE = "Training stuck ≠ small gradient"
SECTION = "Adaptive learning rate"
SEEDED = False
INTRO = (
    "Surface: a convex valley f(x, y) = ½·0.01·x² + 2000·log cosh(y), long along x and steep across it, "
    "whose walls are almost flat planes far from the floor. Plain gradient descent with the lecture's "
    "learning rate 10⁻² starts on a wall at (−100, 8). Why this surface: far from the floor the slope "
    "across the valley is almost exactly 2000, so every step of η·2000 = 20 jumps from one wall to the same "
    "height on the other: a bounce that never ends, which a quadratic valley cannot show (there it either "
    "decays or diverges)."
)
LEARNING_RATE = 1e-2
PROFILES = {  # updates; seconds of one run()
    "smoke": ProfileRow(200, seconds=1),
    "quick": ProfileRow(1000, seconds=1),
    "full": ProfileRow(5000, seconds=1),
}
MIN_STEPS = 200
CONTOUR_UPDATES = 40

CLAIMS = (
    Claim(
        id="S1",
        section=SECTION,
        sentence=(
            "When the loss stops decreasing, the gradient is not necessarily small: on a convex, elongated "
            "surface gradient descent with a large learning rate oscillates between the valley walls, the "
            "loss stops falling while the gradient norm stays large."
        ),
        formulas=("Gradient descent: θ_{t+1} = θ_t − η·g_t,  g_t = ∇f(θ_t)",),
        differs=(
            "The lecture shows the training loss and gradient norm of a neural network; we show the same "
            "effect on an analytic 2-D valley, where the minimum and the gradient are known exactly."
        ),
    ),
)

CRITERION = (
    "Over the second half of the updates: the best loss is ≥ 99 % of the best loss of the first half (it "
    "stopped falling), the loss stays ≥ 50 % of its start (far from the minimum, f* = 0), and the smallest "
    "gradient norm is ≥ 10 % of the gradient norm at the start (not a critical point)."
)


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    """Gradient descent with η = 10⁻² on the valley; seed unused (deterministic)."""
    del seed
    surface = valley(**LECTURE_VALLEY)
    steps = PROFILES[profile].setting
    path = descend(surface, lambda params: SGD(params, lr=LEARNING_RATE), steps=steps)
    losses, grads = path.losses[:, 0], path.grad_norms[:, 0]
    half = steps // 2
    write_csv(out_dir / "s1_path.csv", trajectory_rows(path, ["gd_lr1e-2"]))
    figure = surface_figure(
        surface,
        [
            PathPlot.of(
                f"gradient descent, η = {LEARNING_RATE:g} (updates 0–{CONTOUR_UPDATES})",
                path,
                contour_updates=CONTOUR_UPDATES,
            )
        ],
        out_dir / "s1_stuck.png",
        f"S1: GD with η = {LEARNING_RATE:g} bounces between the valley walls",
        markers=True,
        claims=["S1"],
        caption=f"Left: the first {CONTOUR_UPDATES} updates on the contours: every update jumps across the "
        "valley, from y = 8 to y = −12 and back, while x hardly changes. Right: over all "
        f"{steps} updates the loss bounces between two values and never falls, and the gradient norm stays "
        "at 2000.",
    )
    return {
        "surface": surface.formula,
        "start": list(surface.start),
        "learning_rate": LEARNING_RATE,
        "updates": steps,
        "loss_start": float(losses[0]),
        "loss_end": float(losses[-1]),
        "best_loss_first_half": float(losses[: half + 1].min()),
        "best_loss_second_half": float(losses[half + 1 :].min()),
        "grad_norm_start": float(grads[0]),
        "min_grad_norm_second_half": float(grads[half + 1 :].min()),
        "distance_to_minimum_end": float(path.distances(surface.minimum)[-1, 0]),
        "figures": [figure],
    }


def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    m = runs[0]
    plateau = m["best_loss_second_half"] / m["best_loss_first_half"]
    stuck_fraction = m["best_loss_second_half"] / m["loss_start"]
    grad_fraction = m["min_grad_norm_second_half"] / m["grad_norm_start"]
    checks = {
        "loss stopped falling (≥ 0.99)": plateau >= 0.99,
        "loss ≥ 50 % of start": stuck_fraction >= 0.5,
        "gradient ≥ 10 % of start": grad_fraction >= 0.1,
    }
    numbers = {
        "updates": m["updates"],
        "learning rate": m["learning_rate"],
        "loss at start": m["loss_start"],
        "best loss, 2nd half / best loss, 1st half": plateau,
        "best loss, 2nd half / loss at start": stuck_fraction,
        "min ‖g‖, 2nd half / ‖g‖ at start": grad_fraction,
        "‖g‖ at start": m["grad_norm_start"],
        "distance to minimum at end": m["distance_to_minimum_end"],
    }
    enough = m["updates"] >= MIN_STEPS
    return [ClaimResult.decide("S1", CRITERION, numbers, len(runs), checks, enough=enough)]
