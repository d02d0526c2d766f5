"""S2 — "a smaller learning rate does not fix it": η = 10⁻⁷ reaches the valley floor, then crawls.

Same valley as S1, same start. With η = 10⁻⁷ the step across the valley is η·2000 = 2·10⁻⁴ per update, so
after ~4·10⁴ updates the path is on the floor (y ≈ 0); along the floor the slope is only 0.01·x, so each
update moves x by 10⁻⁹·|x| and after 10⁵ updates x has moved by about 0.01 of its 100 units.
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

ID = "S2"
TITLE = "A smaller learning rate does not fix it"
SECTION = "Adaptive learning rate"
SEEDED = False
INTRO = (
    "Same valley and start as S1, with the lecture's tiny learning rate 10⁻⁷ and the lecture's 100 000 "
    "updates. One learning rate cannot suit both the steep direction (across the valley) and the flat one "
    "(along it)."
)
LEARNING_RATE = 1e-7
PROFILES = {  # updates; seconds of one run()
    "smoke": ProfileRow(1000, seconds=2),
    "quick": ProfileRow(100_000, seconds=20),
    "full": ProfileRow(100_000, seconds=20),
}
REQUIRED_STEPS = 100_000

CLAIMS = (
    Claim(
        id="S2",
        section=SECTION,
        sentence=(
            "A smaller learning rate does not fix it: with a tiny learning rate (10⁻⁷) gradient descent "
            "reaches the valley floor, but after 100 000 updates it is still far from the minimum."
        ),
        formulas=("Gradient descent: θ_{t+1} = θ_t − η·∇f(θ_t),  η = 10⁻⁷",),
        differs=(
            "Same as the lecture's setting in η and number of updates; the surface is our analytic valley."
        ),
    ),
)

CRITERION = (
    "After 100 000 updates: the distance to the valley floor |y| has shrunk to ≤ 0.1 % of its start "
    "(reached the floor), while the distance to the minimum is still ≥ 90 % of its start (far from the "
    "minimum)."
)


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    """Gradient descent with η = 10⁻⁷; seed unused (deterministic)."""
    del seed
    surface = valley(**LECTURE_VALLEY)
    steps = PROFILES[profile].setting
    path = descend(surface, lambda params: SGD(params, lr=LEARNING_RATE), steps=steps)
    points, losses = path.points[:, 0], path.losses[:, 0]
    distances = path.distances(surface.minimum)[:, 0]
    floor_reached = next((t for t in range(steps + 1) if abs(points[t, 1]) <= 1e-3 * abs(points[0, 1])), None)
    write_csv(out_dir / "s2_path.csv", trajectory_rows(path, ["gd_lr1e-7"]))
    figure = surface_figure(
        surface,
        [PathPlot.of(f"gradient descent, η = {LEARNING_RATE:g}", path, color="#1f77b4")],
        out_dir / "s2_tiny_lr.png",
        f"S2: η = {LEARNING_RATE:g}, {steps:,} updates: down to the floor, then a crawl",
        log_steps=True,
        claims=["S2"],
        caption="The path walks down the wall to the floor (y = 0) and then barely moves along it; the "
        "update axis is logarithmic after 10.",
    )
    return {
        "surface": surface.formula,
        "learning_rate": LEARNING_RATE,
        "updates": steps,
        "start": points[0].tolist(),
        "end": points[-1].tolist(),
        "floor_offset_start": float(abs(points[0, 1])),
        "floor_offset_end": float(abs(points[-1, 1])),
        "update_floor_reached": floor_reached,
        "distance_start": float(distances[0]),
        "distance_end": float(distances[-1]),
        "loss_start": float(losses[0]),
        "loss_end": float(losses[-1]),
        "figures": [figure],
    }


def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    m = runs[0]
    floor_fraction = m["floor_offset_end"] / m["floor_offset_start"]
    distance_fraction = m["distance_end"] / m["distance_start"]
    checks = {
        "reached the floor (≤ 0.1 %)": floor_fraction <= 1e-3,
        "still far (≥ 90 %)": distance_fraction >= 0.9,
    }
    numbers = {
        "updates": m["updates"],
        "learning rate": m["learning_rate"],
        "|y| at end / |y| at start": floor_fraction,
        "update at which the floor was reached": m["update_floor_reached"],
        "distance to minimum, end / start": distance_fraction,
        "distance to minimum at end": m["distance_end"],
    }
    enough = m["updates"] >= REQUIRED_STEPS
    note = "" if enough else f"only {m['updates']} updates in this profile; the claim is about 100 000"
    return [ClaimResult.decide("S2", CRITERION, numbers, len(runs), checks, enough=enough, note=note)]
