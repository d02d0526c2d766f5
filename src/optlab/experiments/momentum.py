"""S4 — momentum carries the parameters past a saddle point and over a small local minimum, where gradient
descent stops (the lecture's ball rolling down a hill).

Surface: f(x, y) = g(x) + y² with g′(x) = x²(x − 1)(x − 1.6)(x − 3): a flat saddle at x = 0 (g′ = g″ = 0, the
slope points right on both sides), a small local minimum at x = 1 behind a bump at x = 1.6, and the global
minimum at x = 3. Gradient descent slows to a crawl at the saddle because the slope vanishes there
quadratically; momentum has built up speed on the way down and keeps it through the flat stretch and over the
bump.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optlab._io import write_csv
from optlab.experiments._descent import descend, trajectory_rows
from optlab.experiments._plotting import PathPlot, surface_figure
from optlab.experiments.framework import Claim, ClaimResult, Profile, ProfileRow
from optlab.experiments.surfaces import saddle_and_local_min
from optlab.optim import SGD

ID = "S4"
TITLE = "Momentum rolls past a saddle and over a small local minimum"
SECTION = "Momentum"
SEEDED = False
INTRO = (
    "Surface: f(x, y) = g(x) + y², where g has a flat saddle at x = 0, a small local minimum at x = 1 "
    "behind a bump at x = 1.6 and the global minimum at x = 3. Gradient descent and momentum use the same η "
    "= 0.01."
)
ROOTS = (1.0, 1.6, 3.0)
START = (-1.0, 0.8)
START_PAST_SADDLE = (0.3, 0.8)
LEARNING_RATE = 0.01
MOMENTUM = 0.9
PROFILES = {  # updates; seconds of one run()
    "smoke": ProfileRow(400, seconds=2),
    "quick": ProfileRow(3000, seconds=2),
    "full": ProfileRow(10_000, seconds=4),
}
MIN_STEPS = 1000

CLAIMS = (
    Claim(
        id="S4",
        section=SECTION,
        sentence=(
            "Momentum carries the parameters past a saddle point and over a small local minimum, where "
            "plain gradient descent stops."
        ),
        formulas=(
            "Gradient descent: θ_{t+1} = θ_t − η·∇f(θ_t)",
            "Momentum (lecture's form): m_{t+1} = λ·m_t − η·∇f(θ_t),  θ_{t+1} = θ_t + m_{t+1},  m_0 = 0",
        ),
        differs=(
            "The lecture draws the picture for a 1-D loss; our 2-D surface has the lecture's 1-D profile "
            "along x (a saddle, a small local minimum, the global minimum) and a plain bowl along y."
        ),
    ),
)

CRITERION = (
    "From (−1, 0.8): gradient descent ends before the saddle (x ≤ 0) with ‖∇f‖ ≤ 1 % of its start (it "
    "stopped); from (0.3, 0.8), just past the saddle, gradient descent ends within 0.01 of the local "
    "minimum x = 1; momentum (λ = 0.9, same η) from (−1, 0.8) passes the bump (max x > 1.6) and ends within "
    "0.01 of the global minimum x = 3."
)


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    """GD from two starts and momentum from the first; seed unused (deterministic)."""
    del seed
    surface = saddle_and_local_min(ROOTS, start=START)
    steps = PROFILES[profile].setting
    gd = descend(surface, lambda p: SGD(p, lr=LEARNING_RATE), starts=[START, START_PAST_SADDLE], steps=steps)
    mom = descend(surface, lambda p: SGD(p, lr=LEARNING_RATE, momentum=MOMENTUM, form="lecture"), steps=steps)
    write_csv(out_dir / "s4_gd_paths.csv", trajectory_rows(gd, ["gd_from_-1", "gd_from_0.3"]))
    write_csv(out_dir / "s4_momentum_path.csv", trajectory_rows(mom, ["momentum_from_-1"]))
    plots = [
        PathPlot.of("gradient descent from (−1, 0.8)", gd),
        PathPlot.of("gradient descent from (0.3, 0.8)", gd, 1, linestyle="--"),
        PathPlot.of(f"momentum λ = {MOMENTUM:g} from (−1, 0.8)", mom),
    ]
    figure = surface_figure(
        surface,
        plots,
        out_dir / "s4_momentum.png",
        f"S4: η = {LEARNING_RATE:g}, saddle at x = 0",
        log_steps=True,
        markers=True,
        marks=[(0.0, 0.0, "saddle"), (ROOTS[0], 0.0, "local min"), (ROOTS[1], 0.0, "bump")],
        claims=["S4"],
        caption="Dots mark the updates: where they bunch up the path has slowed. Gradient descent (red) "
        "stalls at the saddle x = 0, from just past it (blue dashes) it stops in the local minimum x = 1; "
        "momentum (green) overshoots, rolls over the bump and settles at x = 3.",
    )
    return {
        "surface": surface.formula,
        "updates": steps,
        "learning_rate": LEARNING_RATE,
        "momentum": MOMENTUM,
        "gd_end_x": float(gd.points[-1, 0, 0]),
        "gd_grad_norm_start": float(gd.grad_norms[0, 0]),
        "gd_grad_norm_end": float(gd.grad_norms[-1, 0]),
        "gd_past_saddle_end_x": float(gd.points[-1, 1, 0]),
        "momentum_end_x": float(mom.points[-1, 0, 0]),
        "momentum_max_x": float(mom.points[:, 0, 0].max()),
        "loss_end": {
            "gd": float(gd.losses[-1, 0]),
            "gd_past_saddle": float(gd.losses[-1, 1]),
            "momentum": float(mom.losses[-1, 0]),
        },
        "roots": list(ROOTS),
        "figures": [figure],
    }


def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    m = runs[0]
    local_min, bump, global_min = m["roots"]
    grad_fraction = m["gd_grad_norm_end"] / m["gd_grad_norm_start"]
    checks = {
        "GD stops before the saddle": m["gd_end_x"] <= 0.0 and grad_fraction <= 0.01,
        "GD past the saddle stops in the local minimum": abs(m["gd_past_saddle_end_x"] - local_min) <= 0.01,
        "momentum passes the bump": m["momentum_max_x"] > bump,
        "momentum ends at the global minimum": abs(m["momentum_end_x"] - global_min) <= 0.01,
    }
    numbers = {
        "updates": m["updates"],
        "GD from −1: final x": m["gd_end_x"],
        "GD from −1: ‖∇f‖ end / start": grad_fraction,
        "GD from 0.3: final x": m["gd_past_saddle_end_x"],
        "momentum: largest x reached": m["momentum_max_x"],
        "momentum: final x": m["momentum_end_x"],
        "final loss GD / GD from 0.3 / momentum": (
            f"{m['loss_end']['gd']:.4g} / {m['loss_end']['gd_past_saddle']:.4g} / "
            f"{m['loss_end']['momentum']:.4g}"
        ),
    }
    enough = m["updates"] >= MIN_STEPS
    return [ClaimResult.decide("S4", CRITERION, numbers, len(runs), checks, enough=enough)]
