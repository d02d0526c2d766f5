"""S5 — "Adam = RMSProp + Momentum": the three paths side by side, and a check that with β₁ = 0 Adam's
step is exactly bias-corrected RMSProp's.

With β₁ = 0, m_t = g_t and Adam's update is θ_t = θ_{t−1} − η·g_t / (√(v_t/(1−β₂ᵗ)) + ε). Multiplying through
by √(1−β₂ᵗ) shows it is RMSProp (torch form, σ² averaged from 0 with α = β₂) run with the learning rate η_t =
η·√(1−β₂ᵗ) and ε_t = ε·√(1−β₂ᵗ). We run optlab's Adam and optlab's RMSProp with exactly those per-update
hyperparameters and compare the paths; as a control, plain RMSProp (no correction) must differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.optim import Optimizer

from optlab._io import write_csv
from optlab.experiments._descent import descend, trajectory_rows
from optlab.experiments._plotting import PathPlot, surface_figure
from optlab.experiments.framework import Claim, ClaimResult, Profile, ProfileRow
from optlab.experiments.surfaces import LECTURE_QUADRATIC, quadratic
from optlab.optim import SGD, Adam, RMSProp

ID = "S5"
TITLE = "Adam = RMSProp + Momentum"
SECTION = "Adaptive learning rate"
SEEDED = False
INTRO = (
    "Surface: the rotated ill-conditioned quadratic of S3, same start. Momentum, RMSProp and Adam with the "
    "same η = 0.01; then Adam with β₁ = 0 against RMSProp with Adam's bias correction, update by update."
)
LEARNING_RATE = 0.01
BETA2 = 0.999
EPS = 1e-8
PROFILES = {  # updates; seconds of one run()
    "smoke": ProfileRow(300, seconds=2),
    "quick": ProfileRow(3000, seconds=4),
    "full": ProfileRow(10_000, seconds=11),
}
MIN_STEPS = 300
TOLERANCE = 1e-10  # float64 round-off over thousands of updates stays far below this
# The paths are compared until Adam's reaches the minimum to round-off. From there both sit on it while v
# decays towards 0, and the step g/(√v + ε) of either erupts at a moment that round-off decides (the eruption
# of S3): measured, the paths agree to 5e-16·d₀ for 6000 updates, then part by 5e-2·d₀ by update 8000.
AT_MINIMUM = 1e-12

CLAIMS = (
    Claim(
        id="S5",
        section=SECTION,
        sentence=(
            "Adam = RMSProp + Momentum: Adam divides a momentum (a moving average of gradients) by "
            "RMSProp's σ; with β₁ = 0 (no momentum) Adam's step equals bias-corrected RMSProp's."
        ),
        formulas=(
            "Momentum: m_t = λ·m_{t−1} − η·g_t,  θ_t = θ_{t−1} + m_t",
            "RMSProp: v_t = α·v_{t−1} + (1−α)·g_t²,  θ_t = θ_{t−1} − η·g_t / (√v_t + ε)",
            "Adam: m_t = β₁m_{t−1} + (1−β₁)g_t,  v_t = β₂v_{t−1} + (1−β₂)g_t²,  m̂_t = m_t/(1−β₁ᵗ),  v̂_t = "
            "v_t/(1−β₂ᵗ),  θ_t = θ_{t−1} − η·m̂_t/(√v̂_t + ε)",
            "β₁ = 0:  Adam step = RMSProp step with η_t = η·√(1−β₂ᵗ), ε_t = ε·√(1−β₂ᵗ), α = β₂",
        ),
        differs=(
            "The lecture states the relation; we check it numerically. RMSProp here averages σ² from 0 as "
            "torch and Adam do (the lecture's RMSProp starts at σ₀ = |g₀|, which needs no bias correction)."
        ),
    ),
)

CRITERION = (
    f"Over the updates until Adam's path reaches the minimum to round-off ({AT_MINIMUM:g}·d₀), the largest "
    f"distance between the paths of Adam (β₁ = 0, β₂ = {BETA2:g}) and RMSProp with "
    f"η_t = η·√(1−β₂ᵗ), ε_t = ε·√(1−β₂ᵗ) is ≤ {TOLERANCE:g} × the starting distance to the minimum, "
    "while plain RMSProp (no bias correction) differs from Adam by ≥ 10⁻³ × it (the check can tell them "
    "apart)."
)  # fmt: skip


def _bias_correction(update: int) -> float:
    """√(1 − β₂ᵗ) for the update with 0-based index ``update`` (Adam's t = update + 1)."""
    return math.sqrt(1.0 - BETA2 ** (update + 1))


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    """Five optimizers from the S3 start; seed unused (deterministic)."""
    del seed
    surf = quadratic(**LECTURE_QUADRATIC)
    steps = PROFILES[profile].setting
    momentum = descend(surf, lambda p: SGD(p, lr=LEARNING_RATE, momentum=0.9, form="lecture"), steps=steps)
    rmsprop = descend(surf, lambda p: RMSProp(p, lr=LEARNING_RATE, alpha=BETA2, eps=EPS), steps=steps)
    adam = descend(surf, lambda p: Adam(p, lr=LEARNING_RATE, betas=(0.9, BETA2), eps=EPS), steps=steps)
    adam_b0 = descend(surf, lambda p: Adam(p, lr=LEARNING_RATE, betas=(0.0, BETA2), eps=EPS), steps=steps)

    def set_eps(update: int, optimizer: Optimizer) -> None:  # ε of the next update, update + 1
        for group in optimizer.param_groups:
            group["eps"] = EPS * _bias_correction(update + 1)

    corrected = descend(
        surf,
        lambda p: RMSProp(
            p, lr=LEARNING_RATE * _bias_correction(0), alpha=BETA2, eps=EPS * _bias_correction(0)
        ),
        steps=steps,
        schedule=lambda update: LEARNING_RATE * _bias_correction(update),
        after_step=set_eps,
    )
    d0 = float(np.linalg.norm(np.asarray(surf.start) - np.asarray(surf.minimum)))
    at_minimum = adam_b0.distances(surf.minimum)[:, 0] <= AT_MINIMUM * d0
    compared = int(np.argmax(at_minimum)) if at_minimum.any() else steps
    gap_corrected = np.linalg.norm(
        adam_b0.points[: compared + 1, 0] - corrected.points[: compared + 1, 0], axis=-1
    )
    gap_plain = np.linalg.norm(adam_b0.points[: compared + 1, 0] - rmsprop.points[: compared + 1, 0], axis=-1)
    labels = ["momentum", "rmsprop", "adam", "adam_beta1_0", "rmsprop_bias_corrected"]
    trajectories = [momentum, rmsprop, adam, adam_b0, corrected]
    rows = [row for t, label in zip(trajectories, labels, strict=True) for row in trajectory_rows(t, [label])]
    write_csv(out_dir / "s5_paths.csv", rows)
    plots = [
        PathPlot.of("momentum, λ = 0.9", momentum),
        PathPlot.of(f"RMSProp, α = {BETA2:g}", rmsprop),
        PathPlot.of(f"Adam, β = (0.9, {BETA2:g})", adam),
    ]
    figure = surface_figure(
        surf,
        plots,
        out_dir / "s5_adam.png",
        f"S5: η = {LEARNING_RATE:g} for all three",
        log_steps=True,
        claims=["S5"],
        caption="Momentum (red) swings back and forth across the steep direction. RMSProp (blue, mostly "
        "under green) and Adam (green) scale each coordinate's step by its own σ, so they go straight to the "
        "valley floor and then along it; Adam adds momentum to RMSProp's scaled steps.",
    )
    return {
        "surface": surf.formula,
        "updates": steps,
        "compared_updates": compared,
        "distance_start": d0,
        "max_gap_adam_beta1_0_vs_corrected_rmsprop": float(gap_corrected.max()),
        "max_gap_adam_beta1_0_vs_plain_rmsprop": float(gap_plain.max()),
        "final_distance": {
            label: float(t.distances(surf.minimum)[-1, 0])
            for label, t in zip(labels, trajectories, strict=True)
        },
        "figures": [figure],
    }


def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    m = runs[0]
    d0 = m["distance_start"]
    corrected = m["max_gap_adam_beta1_0_vs_corrected_rmsprop"] / d0
    plain = m["max_gap_adam_beta1_0_vs_plain_rmsprop"] / d0
    checks = {
        "equal to bias-corrected RMSProp": corrected <= TOLERANCE,
        "differs from plain RMSProp": plain >= 1e-3,
    }
    compared = m.get("compared_updates", m["updates"])
    numbers = {
        "updates": m["updates"],
        f"updates compared (until Adam is within {AT_MINIMUM:g}·d₀ of the minimum)": compared,
        "max ‖θ_Adam(β₁=0) − θ_RMSProp,corrected‖ / d₀": corrected,
        "max ‖θ_Adam(β₁=0) − θ_RMSProp,plain‖ / d₀": plain,
        **{f"final distance / d₀: {k}": v / d0 for k, v in m["final_distance"].items()},
    }
    enough = compared >= MIN_STEPS
    return [ClaimResult.decide("S5", CRITERION, numbers, len(runs), checks, enough=enough)]
