"""B7 — why warm-up: the variance of Adam's adaptive step size early in training (Liu et al. 2020, RAdam).

RAdam's argument (Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020, §3):
Adam's per-coordinate step size a_t = η/(√v̂_t + ε) is estimated from the first t squared gradients only, so
in the first updates it varies wildly with the gradients that happened to be drawn (at t = 1, a_1 = η/(|g_1|
+ ε)); its variance shrinks as v̂_t averages more gradients. Large, erratic early steps can throw the model
into a bad region. Warm-up (a small η while v̂ is unreliable) and RAdam's rectification (momentum SGD until
the variance is tractable, then a factor r_t that corrects it) are two remedies.

Part 1 measures the argument: from one initialisation, K runs that differ only in their data order; at
update t we read a_t for a fixed random sample of coordinates from each run's optimizer state and take,
coordinate by coordinate, the spread over the K runs relative to the mean (the coefficient of variation),
then the median over coordinates. Part 2 trains the same network with Adam at a high learning rate without
warm-up, with a linear warm-up, with RAdam and with the ResNet-110 style constant warm-up (η/10 for the
warm-up, He et al. 2016, §4.2).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from optlab import data, optim, schedules
from optlab._io import pyplot, save_figure, write_csv
from optlab.experiments._plotting import COLORS, DPI
from optlab.experiments.framework import (
    Claim,
    ClaimResult,
    Profile,
    ProfileRow,
    batcher,
    fresh_model,
    initial_weights,
    mean_std,
    pm,
)
from optlab.train import OnUpdate, describe_device, evaluate, evaluator, fit, resolve_device

ID = "B7"
TITLE = "Warm-up: the variance of Adam's adaptive step size, and what warm-up and RAdam do about it"
SECTION = "Learning-rate schedules"
SEEDED = True
MIN_SEEDS = 3
VARIANTS = ("Adam, no warm-up", "Adam + linear warm-up", "RAdam", "Adam + constant warm-up")
# the spread at t = 1 must be at least this many times the spread at the last update measured
SHRINK_FACTOR = 2.0
EARLY = 10  # "the first updates": the spread must fall monotonically up to here
MARGIN = 0.01  # "lands worse": at least 1 percentage point of test accuracy below the warm-up variant


@dataclass(frozen=True)
class Setting:
    dataset: str
    model: str
    # part 1: the adaptive step size
    variance_lr: float
    variance_batch: int
    variance_runs: int  # K data orders from one initialisation
    variance_steps: tuple[int, ...]  # the updates t at which a_t is read
    coordinates: int  # how many coordinates (a fixed random sample) are followed
    # part 2: training with and without warm-up
    high_lr: float
    batch_size: int
    epochs: int
    warmup_steps: int
    train_size: int | None = None
    test_size: int | None = None

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.model}"


# The MNIST-1D CNN with Adam at lr 0.1 (100× the default): on seed 0 of a probe (20 epochs, batch 128) it
# collapsed to chance without warm-up (train loss ln 10: every ReLU dead) and reached 71 % / 86 % / 75 % with
# linear warm-up / RAdam / constant warm-up; at lr 0.01 all four ended within 2 points of each other.
# Seconds of one run() (one seed) on the 2-core CPU beside each profile's setting.
QUICK = Setting("mnist1d", "cnn1d", 1e-3, 32, 8, (1, 2, 3, 5, 10, 20, 50, 100, 200), 2000, 0.1, 128, 15, 100)
PROFILES: dict[str, ProfileRow[Setting]] = {
    "smoke": ProfileRow(
        Setting("mnist1d", "mlp1d", 1e-3, 32, 4, (1, 2, 5, 10, 20), 500, 3e-2, 128, 2, 8, 600, 300), seconds=4
    ),
    "quick": ProfileRow(QUICK, seconds=16),
    "full": ProfileRow(
        replace(QUICK, variance_runs=16, variance_steps=(1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000),
                coordinates=3000, epochs=40),
        seconds=51,
    ),
}  # fmt: skip

INTRO = (
    "Part 1 (RAdam's argument): from one initialisation, K runs of Adam (lr 1e-3, batch 32) on MNIST-1D "
    "differ only in their data order; at update t we read each run's adaptive step size a_t = η/(√v̂_t + ε) "
    "for a fixed random sample of coordinates and measure its spread over the K runs. Part 2: the same "
    "network (the MNIST-1D CNN in quick and full) with Adam at lr 0.1, 100× the default — a setting where "
    "the first, erratic steps are large enough to kill the ReLUs — without warm-up, with a linear warm-up "
    "over the first 100 updates (~3 epochs), with RAdam (no warm-up), and with the ResNet-110 style constant"
    " warm-up (η/10 for 100 updates, then η), all from the same initial weights."
)

SPREAD_CRITERION = (
    "Median over coordinates of the coefficient of variation (std/mean) of a_t = η/(√v̂_t + ε) over K data "
    f"orders, mean over seeds: at t = 1 it is ≥ {SHRINK_FACTOR:g}× its value at the last update measured, "
    f"and it falls at every measured t ≤ {EARLY}. (After that it may level off: the runs' parameters drift "
    "apart, which is not what RAdam's argument is about.)"
)
WARMUP_CRITERION = (
    "At the high learning rate, over the seeds, a remedy 'helps' if Adam without warm-up diverges in more "
    "runs than it, or ends ≥ 1 percentage point of mean test accuracy below it. Checks: linear warm-up "
    "helps; RAdam helps (the constant warm-up is reported beside them). Needs ≥ 3 seeds."
)

CLAIMS = (
    Claim(
        id="B7-variance",
        mechanism=(
            "v̂_t averages t squared gradients at step t: at t = 1 it is one sample, so a_t = η/(√v̂_t + ε) "
            "varies as much as a single g² over data orders; its spread must shrink roughly as 1/√t. "
            "Measuring a_t itself over K data orders from one initialisation isolates exactly that variance "
            "(the runs differ in nothing else)."
        ),
        section=SECTION,
        sentence=(
            "In the first updates Adam's adaptive learning rate η/(√v̂_t + ε) has a large variance (it rests"
            " on a handful of squared gradients); the variance shrinks as training goes on — RAdam's reason "
            "for warm-up."
        ),
        formulas=(
            "v_t = β₂v_{t−1} + (1 − β₂)g_t²,  v̂_t = v_t/(1 − β₂ᵗ),  a_t = η/(√v̂_t + ε)",
            "RAdam: ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ), r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))",
        ),
        differs=(
            "Liu et al. show histograms of the gradients of a Transformer (NMT); we measure the spread of "
            "a_t itself over data orders on the MNIST-1D MLP."
        ),
    ),
    Claim(
        id="B7-warmup",
        mechanism=(
            "The variance of a_t matters only if the first steps are big enough to do damage: at Adam's "
            "default lr they are not. At lr 0.1 on the MNIST-1D CNN the first erratic steps kill ReLUs (runs "
            "stuck at chance), which is the failure warm-up and RAdam's rectification are designed to "
            "prevent."
        ),
        section=SECTION,
        sentence=(
            "Where the learning rate is high, Adam without warm-up lands worse (or diverges); a linear "
            "warm-up or RAdam avoid it (the ResNet-110 style constant warm-up is shown as a variant)."
        ),
        formulas=(
            "linear warm-up: η_t = η·t/W for t < W;  constant warm-up: η_t = η/10 for t < W (He et al. 2016)",
        ),
        differs=(
            "The lecture's examples are Transformers and ResNet-110 on CIFAR-10; we use the MNIST-1D CNN "
            "with Adam at lr 0.1 (100× its default), where the first updates are large enough to matter."
        ),
    ),
)


# ------------------------------------------------------------------------------------------------ part 1
def adaptive_step_sizes(optimizer: torch.optim.Optimizer, index: torch.Tensor) -> torch.Tensor:
    """a = η/(√v̂ + ε) of an Adam-type optimizer for the coordinates ``index`` of its flattened parameters.

    v̂_t = v_t/(1 − β₂ᵗ) is the bias-corrected second moment (``exp_avg_sq`` in the state, as in torch).
    """
    parts = []
    for group in optimizer.param_groups:
        lr, (_, beta2), eps = group["lr"], group["betas"], group["eps"]
        for p in group["params"]:
            state = optimizer.state[p]
            t = float(state["step"])
            v_hat = state["exp_avg_sq"].reshape(-1) / (1 - beta2**t)
            parts.append(lr / (v_hat.sqrt() + eps))
    return torch.cat(parts)[index]


def _step_size_spread(setting: Setting, dataset: data.Dataset, seed: int) -> dict[str, Any]:
    """K runs from one initialisation (``seed``) that differ only in their data order; a_t at chosen steps."""
    template, init = initial_weights(setting.model, dataset, seed)
    n_params = sum(p.numel() for p in template.parameters())
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(n_params, generator=generator)[: setting.coordinates].to(dataset.train.x.device)
    last = max(setting.variance_steps)
    wanted = set(setting.variance_steps)
    samples: dict[int, list[torch.Tensor]] = {t: [] for t in setting.variance_steps}
    for k in range(setting.variance_runs):
        model = fresh_model(setting.model, dataset, init)
        optimizer = optim.create("adam", model.parameters(), lr=setting.variance_lr)

        def record(step: int, opt: torch.optim.Optimizer) -> None:
            if step in wanted:
                samples[step].append(adaptive_step_sizes(opt, index).detach().cpu().double())

        epochs = -(-last // max(len(dataset.train.y) // setting.variance_batch, 1))
        order = batcher(dataset.train, setting.variance_batch, seed * 1000 + k)
        schedule = schedules.constant(setting.variance_lr)
        fit(model, optimizer, order, schedule, epochs=epochs, max_steps=last, callbacks=[OnUpdate(record)])
    rows = []
    for t in setting.variance_steps:
        stack = torch.stack(samples[t])  # K × coordinates
        cv = stack.std(0) / stack.mean(0)
        cv_median, cv_mean = float(cv.median()), float(cv.mean())
        rows.append({"t": t, "cv_median": cv_median, "cv_mean": cv_mean, "a_median": float(stack.median())})
    return {"runs": setting.variance_runs, "coordinates": int(index.numel()), "rows": rows}


# ------------------------------------------------------------------------------------------------ part 2
def _train_variant(
    variant: str, setting: Setting, dataset: data.Dataset, init: dict, seed: int
) -> dict[str, Any]:
    """One of :data:`VARIANTS` at the high learning rate, from ``init``."""
    model = fresh_model(setting.model, dataset, init)
    lr, warmup = setting.high_lr, setting.warmup_steps
    optimizer = optim.create("radam" if variant == "RAdam" else "adam", model.parameters(), lr=lr)
    schedule = schedules.constant(lr)
    if variant == "Adam + linear warm-up":
        schedule = schedules.linear_warmup(schedule, warmup)
    elif variant == "Adam + constant warm-up":
        # He et al. 2016, §4.2 (ResNet-110, CIFAR-10): lr 0.01 = 0.1·η "until the training error is below
        # 80% (about 400 iterations)", then η = 0.1 (checked: the paper's sentence as quoted in the
        # discuss.pytorch.org thread "Recreating ResNet110"). Here the warm-up is W updates, not triggered
        # by the training error.
        schedule = schedules.constant_warmup(schedule, warmup, lr / 10)
    order = batcher(dataset.train, setting.batch_size, seed)
    result = fit(
        model, optimizer, order, schedule, epochs=setting.epochs, evaluate=evaluator(test=dataset.test),
        on_nonfinite="stop",
    )  # fmt: skip
    diverged = result.diverged
    test_loss, test_acc = evaluate(model, dataset.test) if not diverged else (float("nan"), 0.0)
    return {
        "diverged": diverged,
        "test_acc": test_acc,
        "test_loss": test_loss,
        "final_train_loss": result.final.get("train_loss", float("nan")),
        "curve": [
            {"epoch": r["epoch"], "train_loss": r["train_loss"], "test_acc": r["test_acc"]}
            for r in result.history
        ],
    }


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    setting = PROFILES[profile].setting
    device = resolve_device()
    dataset = data.subset(data.load(setting.dataset), setting.train_size, setting.test_size).to(device)
    spread = _step_size_spread(setting, dataset, seed)
    init = initial_weights(setting.model, dataset, seed)[1]
    variants = {v: _train_variant(v, setting, dataset, init, seed) for v in VARIANTS}
    name = f"b7_warmup_seed{seed}.png"
    _plot(spread, variants, setting, out_dir / name, seed)
    write_csv(out_dir / f"b7_spread_seed{seed}.csv", spread["rows"])
    return {
        "profile": profile,
        "seed": seed,
        "device": describe_device(device),
        "setting": {**asdict(setting), "key": setting.key},
        "spread": spread,
        "variants": variants,
        "chance_loss": math.log(dataset.num_classes),  # cross-entropy of a uniform guess
        "figures": [
            {
                "file": name,
                "claims": ["B7-variance", "B7-warmup"],
                "caption": (
                    f"Left: spread (coefficient of variation over {setting.variance_runs} data orders, "
                    f"median over {spread['coordinates']} coordinates) of Adam's adaptive step size against "
                    f"the update t. Right: test accuracy per epoch at lr {setting.high_lr:g} without and "
                    f"with warm-up ({setting.warmup_steps} updates), and RAdam (seed {seed})."
                ),
            }
        ],
    }


def _plot(spread: dict, variants: dict, setting: Setting, path: Path, seed: int) -> None:
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(12, 4.4), layout="constrained")
    ts = [r["t"] for r in spread["rows"]]
    left.loglog(ts, [r["cv_median"] for r in spread["rows"]], "o-", color=COLORS[1], label="median CV of a_t")
    left.loglog(ts, [spread["rows"][0]["cv_median"] / t**0.5 for t in ts], ":", color="0.5", label="∝ 1/√t")
    left.set(xlabel="update t", ylabel="std / mean of η/(√v̂_t + ε) over data orders")
    left.legend(fontsize=8)
    for i, (variant, m) in enumerate(variants.items()):
        result = "diverged" if m["diverged"] else f"{100 * m['test_acc']:.1f} %"
        label = f"{variant} ({result})"
        right.plot(
            [c["epoch"] for c in m["curve"]],
            [100 * c["test_acc"] for c in m["curve"]],
            color=COLORS[i % len(COLORS)],
            label=label,
        )
    right.set(xlabel="epoch", ylabel="test accuracy (%)")
    right.legend(fontsize=8)
    fig.suptitle(f"B7: {setting.key}, seed {seed}")
    save_figure(fig, path, dpi=DPI)


# ------------------------------------------------------------------------------------------------ verdict
def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    n = len(runs)
    ts = [r["t"] for r in runs[0]["spread"]["rows"]]
    cv = {
        t: mean_std([next(r["cv_median"] for r in run_["spread"]["rows"] if r["t"] == t) for run_ in runs])
        for t in ts
    }
    first, last = ts[0], ts[-1]
    early = [t for t in ts if t <= EARLY]
    spread_checks = {
        f"CV(t={first}) ≥ {SHRINK_FACTOR:g} × CV(t={last})": cv[first]["mean"]
        >= SHRINK_FACTOR * cv[last]["mean"],
        f"CV falls at every t ≤ {EARLY}": len(early) >= 2
        and all(cv[a]["mean"] > cv[b]["mean"] for a, b in itertools.pairwise(early)),
    }
    spread_numbers = {f"median CV of a_t at t = {t}": pm(cv[t], digits=3) for t in ts}
    spread_numbers[f"CV(t={first}) / CV(t={last})"] = round(
        cv[first]["mean"] / max(cv[last]["mean"], 1e-300), 3
    )
    spread_numbers["data orders per seed"] = runs[0]["spread"]["runs"]
    spread_numbers["coordinates followed"] = runs[0]["spread"]["coordinates"]

    acc = {v: mean_std([run_["variants"][v]["test_acc"] for run_ in runs]) for v in VARIANTS}
    diverged = {v: sum(bool(run_["variants"][v]["diverged"]) for run_ in runs) for v in VARIANTS}
    none = VARIANTS[0]

    def helps(remedy: str) -> bool:
        return diverged[none] > diverged[remedy] or acc[remedy]["mean"] >= acc[none]["mean"] + MARGIN

    warm_checks = {f"{remedy} helps": helps(remedy) for remedy in VARIANTS[1:3]}
    setting = runs[0]["setting"]
    warm_numbers: dict[str, Any] = {
        "setting": f"{setting['key']}, Adam lr {setting['high_lr']:g}, batch {setting['batch_size']}, "
        f"{setting['epochs']} epochs, warm-up {setting['warmup_steps']} updates",
    }
    for v in VARIANTS:
        warm_numbers[f"{v}: test acc, %"] = pm(acc[v], 100)
        warm_numbers[f"{v}: diverged runs"] = f"{diverged[v]} of {n}"
        # A run that ends at the loss of a uniform guess has collapsed (dead ReLUs).
        if "chance_loss" in runs[0]:
            stuck = sum(
                run_["variants"][v].get("final_train_loss", 0.0) >= 0.95 * run_["chance_loss"]
                for run_ in runs
            )
            warm_numbers[f"{v}: runs stuck at chance (train loss ≥ 0.95·ln C)"] = f"{stuck} of {n}"
    enough = n >= MIN_SEEDS
    note = "" if enough else f"only {n} seed(s): at least {MIN_SEEDS} are needed"
    return [
        ClaimResult.decide(
            "B7-variance", SPREAD_CRITERION, spread_numbers, n, spread_checks, enough=enough, note=note
        ),
        ClaimResult.decide(
            "B7-warmup", WARMUP_CRITERION, warm_numbers, n, warm_checks, enough=enough, note=note
        ),
    ]
