"""S6 — learning-rate schedules: the curves of the lecture's schedules, and warm-up on the S3 surface.

S6a draws step decay, cosine, linear warm-up + decay, ResNet-110's constant warm-up and the Transformer
schedule from optlab.schedules and checks the Transformer's peak (d_model = 512, warm-up 4000: ≈ 7.0e-4 at
step 4000).

S6b: Adagrad's RMS form with decay η/√(t+1) on the S3 surface, started with a large η = 2. The first update
divides by σ₀ = |g₀|, so every coordinate moves by a full η whatever its gradient — along the steep axis that
is a jump far up the opposite wall. σ is estimated from one gradient there; warm-up (the lr rising linearly
from 0 over the first 50 updates) lets σ average over several gradients before the steps get large.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optlab._io import pyplot, save_figure, write_csv
from optlab.experiments._descent import descend, trajectory_rows
from optlab.experiments._plotting import DPI, PathPlot, surface_figure
from optlab.experiments.framework import Claim, ClaimResult, Profile, ProfileRow
from optlab.experiments.surfaces import LECTURE_QUADRATIC, quadratic
from optlab.optim import Adagrad
from optlab.schedules import (
    constant_warmup,
    cosine,
    inverse_time,
    linear_warmup,
    multistep,
    step_decay,
    transformer,
)

ID = "S6"
TITLE = "Learning-rate schedules and warm-up"
SECTION = "Learning-rate schedules"
SEEDED = False
INTRO = (
    "The schedules are optlab.schedules' pure functions step → lr, evaluated at every step. The warm-up run "
    "uses the S3 surface (rotated quadratic, condition number 100) and Adagrad's RMS form with a large η = "
    "2."
)
TOTAL = 10_000
WARMUP_S6B = 50
ETA_S6B = 2.0
PROFILES = {  # S6b's updates; seconds of one run()
    "smoke": ProfileRow(500, seconds=3),
    "quick": ProfileRow(3000, seconds=4),
    "full": ProfileRow(10_000, seconds=6),
}
MIN_STEPS_S6B = 1000  # both runs need ~1000 updates to get within 0.1 %
CLOSE = 1e-3


def schedules() -> dict[str, tuple[Any, int]]:
    """name -> (schedule, steps to draw)."""
    return {
        "step decay: 0.1, ×0.1 every 3000": (step_decay(0.1, 3000, 0.1), TOTAL),
        "cosine: 0.1 → 0 over 10 000": (cosine(0.1, TOTAL), TOTAL),
        "linear warm-up 1000 + cosine": (linear_warmup(cosine(0.1, TOTAL), 1000), TOTAL),
        "ResNet-110: 0.01 for 400, then 0.1, ×0.1 at 32k, 48k": (
            constant_warmup(multistep(0.1, [32_000, 48_000], 0.1), 400, 0.01),
            64_000,
        ),
        "Transformer: d_model 512, warm-up 4000": (transformer(512, 4000), 40_000),
    }


CLAIMS = (
    Claim(
        id="S6a",
        section=SECTION,
        sentence=(
            "Learning-rate schedules: step decay, cosine, linear warm-up + decay, ResNet's constant warm-up "
            "and the Transformer's warm-up (d_model 512, warm-up 4000 peaks at ≈ 7.0e-4 at step 4000)."
        ),
        formulas=(
            "step decay: η_t = η·γ^⌊t/s⌋;  cosine: η_t = η·½(1 + cos(π t/T))",
            "linear warm-up: η_t = (t/W)·η_W for t < W, then the schedule",
            "Transformer: η_s = d_model^−0.5 · min(s^−0.5, s·W^−1.5),  s = t + 1",
        ),
        differs="The lecture shows the curves; we compute them from optlab's schedules and check the peak.",
        title="The schedules' curves",
    ),
    Claim(
        id="S6b",
        section=SECTION,
        sentence=(
            "Warm-up: at the beginning σ is estimated from very few gradients, so take small steps first; "
            "on the S3 surface Adagrad + decay jumps far out at the start, Adagrad + warm-up + decay does "
            "not."
        ),
        formulas=(
            "Adagrad-RMS: σ_t = √(1/(t+1) Σ_{i≤t} g_i²),  θ_{t+1} = θ_t − η_t/σ_t · g_t",
            f"decay: η_t = η/√(t+1);  warm-up + decay: η_t = (t/{WARMUP_S6B})·η/√({WARMUP_S6B}+1) for t < "
            f"{WARMUP_S6B}, then η/√(t+1);  η = {ETA_S6B:g}",
        ),
        differs=(
            "The lecture motivates warm-up with deep networks (ResNet, Transformer, RAdam); this is the "
            "same mechanism on a 2-D surface, with a deliberately large η so that the first steps matter."
        ),
        title="Warm-up: small steps while σ is still a poor estimate",
    ),
)

CRITERION_S6A = (
    "The Transformer schedule's largest value over 40 000 steps is at step 4000 (s = t + 1) and within 1 % "
    "of 7.0e-4; the linear warm-up rises strictly and meets the cosine at step 1000; the ResNet schedule is "
    "0.01 before step 400 and 0.1 from it."
)
CRITERION_S6B = (
    "Decay only: the loss rises to ≥ 2× its start in the first updates; warm-up + decay: the loss never "
    "exceeds its start; both end within 0.1 % of the starting distance of the minimum."
)


def _schedule_figure(curves: dict[str, np.ndarray], path: Path) -> None:
    from matplotlib.ticker import FuncFormatter

    fig, axes = pyplot().subplots(2, 3, figsize=(14, 7.5), layout="constrained")
    for ax, (name, values) in zip(axes.flat, curves.items(), strict=False):
        ax.plot(np.arange(len(values)), values, color="#1f77b4", lw=1.8)
        ax.set_title(name, fontsize=10.5)
        ax.set(xlabel="step t", ylabel="learning rate")
        ax.grid(True, alpha=0.3)
        if name.startswith("Transformer"):
            peak = int(np.argmax(values))
            ax.plot(peak, values[peak], "o", color="#d62728")
            ax.annotate(
                f"peak {values[peak]:.3g}\nat step {peak + 1}",
                (peak, values[peak]),
                xytext=(len(values) * 0.3, values[peak] * 0.8),
                arrowprops={"arrowstyle": "->"},
            )
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0"))
        if name.startswith("ResNet"):  # the 400-step warm-up is invisible at this scale: zoom in
            inset = ax.inset_axes((0.45, 0.45, 0.5, 0.4))
            inset.plot(np.arange(1200), values[:1200], color="#d62728", lw=1.6)
            inset.set_title("first 1200 steps", fontsize=8.5)
            inset.tick_params(labelsize=8)
    axes.flat[-1].axis("off")
    save_figure(fig, path, dpi=DPI)


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    """Schedule curves and the S6b warm-up runs; seed unused (deterministic)."""
    del seed
    curves = {
        name: np.array([sched(t) for t in range(steps)]) for name, (sched, steps) in schedules().items()
    }
    _schedule_figure(curves, out_dir / "s6_schedules.png")
    transformer_curve = curves["Transformer: d_model 512, warm-up 4000"]
    warm = curves["linear warm-up 1000 + cosine"]
    resnet = curves["ResNet-110: 0.01 for 400, then 0.1, ×0.1 at 32k, 48k"]
    cos = cosine(0.1, TOTAL)
    rows = [
        {"step": t} | {name: float(c[t]) for name, c in curves.items() if t < len(c)}
        for t in range(0, 64_000, 100)
    ]
    write_csv(out_dir / "s6_schedules.csv", rows, columns=["step", *curves])

    surf = quadratic(**LECTURE_QUADRATIC)
    steps = PROFILES[profile].setting
    factory = lambda p: Adagrad(p, lr=ETA_S6B, average=True)  # noqa: E731
    decay = descend(surf, factory, steps=steps, schedule=inverse_time(ETA_S6B, 0.5))
    warmup = descend(
        surf, factory, steps=steps, schedule=linear_warmup(inverse_time(ETA_S6B, 0.5), WARMUP_S6B)
    )
    write_csv(
        out_dir / "s6b_paths.csv",
        trajectory_rows(decay, ["decay"]) + trajectory_rows(warmup, ["warmup_decay"]),
    )
    plots = [
        PathPlot.of(f"Adagrad-RMS, {ETA_S6B:g}/√(t+1)", decay),
        PathPlot.of(f"warm-up {WARMUP_S6B} + {ETA_S6B:g}/√(t+1)", warmup),
    ]
    figure = surface_figure(
        surf,
        plots,
        out_dir / "s6b_warmup.png",
        "S6b: Adagrad + decay, with and without warm-up",
        extent=(-3.4, 1.2, -2.2, 2.2),
        log_steps=True,
        markers=True,
        claims=["S6b"],
        caption="Without warm-up (red) the first update jumps η = 2 along both axes, far up the steep wall; "
        "with warm-up (blue) the first steps are small and σ has seen several gradients before the steps "
        "grow.",
    )
    d0 = float(np.linalg.norm(np.asarray(surf.start) - np.asarray(surf.minimum)))
    return {
        "transformer_peak_step": int(np.argmax(transformer_curve)) + 1,
        "transformer_peak_lr": float(transformer_curve.max()),
        "linear_warmup_strictly_rising": bool(np.all(np.diff(warm[:1001]) > 0)),
        "linear_warmup_meets_cosine": abs(warm[1000] - cos(1000)) <= 1e-12 * cos(1000),
        "resnet_before_400": sorted({float(v) for v in resnet[:400]}),
        "resnet_at_400": float(resnet[400]),
        "s6b_updates": steps,
        "s6b_loss_start": float(decay.losses[0, 0]),
        "s6b_decay_max_loss": float(decay.losses[:, 0].max()),
        "s6b_warmup_max_loss": float(warmup.losses[:, 0].max()),
        "s6b_distance_start": d0,
        "s6b_decay_final_distance": float(decay.distances(surf.minimum)[-1, 0]),
        "s6b_warmup_final_distance": float(warmup.distances(surf.minimum)[-1, 0]),
        "s6b_decay_max_distance": float(decay.distances(surf.minimum)[1:, 0].max()),
        "s6b_warmup_max_distance": float(warmup.distances(surf.minimum)[1:, 0].max()),
        "figures": [
            {
                "file": "s6_schedules.png",
                "claims": ["S6a"],
                "caption": "Learning rate against step for each schedule (values from optlab.schedules).",
            },
            figure,
        ],
    }


def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    m = runs[0]
    peak_error = abs(m["transformer_peak_lr"] - 7.0e-4) / 7.0e-4
    checks_a = {
        "Transformer peak at step 4000": m["transformer_peak_step"] == 4000,
        "Transformer peak ≈ 7.0e-4 (1 %)": peak_error <= 0.01,
        "linear warm-up rises and meets the cosine": m["linear_warmup_strictly_rising"]
        and m["linear_warmup_meets_cosine"],
        "ResNet warm-up 0.01 then 0.1": m["resnet_before_400"] == [0.01] and m["resnet_at_400"] == 0.1,
    }
    numbers_a = {
        "Transformer peak step (s = t + 1)": m["transformer_peak_step"],
        "Transformer peak lr": m["transformer_peak_lr"],
        "relative difference to 7.0e-4": peak_error,
        "ResNet lr before step 400 / at 400": f"{m['resnet_before_400']} / {m['resnet_at_400']:g}",
    }
    d0, f0 = m["s6b_distance_start"], m["s6b_loss_start"]
    checks_b = {
        "decay only: loss jumps ≥ 2× its start": m["s6b_decay_max_loss"] >= 2.0 * f0,
        "warm-up: loss never above its start": m["s6b_warmup_max_loss"] <= f0 * (1 + 1e-12),
        "both end close": max(m["s6b_decay_final_distance"], m["s6b_warmup_final_distance"]) <= CLOSE * d0,
    }
    numbers_b = {
        "updates": m["s6b_updates"],
        "decay only: max loss / start loss": m["s6b_decay_max_loss"] / f0,
        "warm-up + decay: max loss / start loss": m["s6b_warmup_max_loss"] / f0,
        "decay only: final distance / d₀": m["s6b_decay_final_distance"] / d0,
        "warm-up + decay: final distance / d₀": m["s6b_warmup_final_distance"] / d0,
    }
    enough_b = m["s6b_updates"] >= MIN_STEPS_S6B
    return [
        ClaimResult.decide("S6a", CRITERION_S6A, numbers_a, len(runs), checks_a),
        ClaimResult.decide("S6b", CRITERION_S6B, numbers_b, len(runs), checks_b, enough=enough_b),
    ]
