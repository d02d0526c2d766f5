"""B6 — "have both fish and bear's paws": large-batch methods that keep the small batch's accuracy.

At the same epoch budget, a large batch makes B_large/B_small times fewer updates. Trained naively (same
learning rate) it falls behind. The methods of the lecture, each against the small-batch baseline:

* Goyal et al. 2017 ("Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour"): the linear scaling rule,
  η = η_base · B/B_base (§2.1), with a gradual warm-up (§2.2): theirs rises linearly from η_base to η over the
  first 5 epochs; ours (``schedules.linear_warmup``) rises from 0 over ``warmup_epochs``.
* LARS (You, Gitman & Ginsburg 2017): a per-layer trust ratio ‖w‖/‖g‖ scales each layer's step.
* LAMB (You et al. 2020): Adam's direction with the same per-layer trust ratio.
* SWAP (Gupta, Serrano & DeCoste 2020, :mod:`optlab.experiments.swap`): a large-batch phase, then several
  small-batch continuations from the same point with different data orders, weights averaged, BatchNorm
  statistics recomputed.

The base optimizer is SGD with momentum 0.9 (Goyal's); every run has the same number of epochs and a
constant learning rate after its warm-up (no decay), so that the comparison is about the batch size alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from optlab import data, models, optim, schedules
from optlab.errors import DataError
from optlab.experiments import _fit
from optlab.experiments.framework import (
    Claim,
    ClaimResult,
    Profile,
    mean_std,
    outcome,
    write_json,
    write_text,
)
from optlab.experiments.swap import swap_phase2

ID = "B6"
TITLE = "Large batch with the small batch's accuracy: linear scaling + warm-up, LARS, LAMB, SWAP"
SECTION = "Large batch"
SEEDED = True
SEEDS = {"smoke": 1, "quick": 3, "full": 5}
# Full: extrapolated, not run here. One thread takes 205 s per epoch of c1 at batch 256 and 289 s at large
# batches on Fashion-MNIST; per seed that is 30 small + 4 × 30 large + SWAP's 25 large and 4 × 5 small epochs.
COST = {"smoke": 4, "quick": 8, "full": 52000}  # rough seconds of one run() (one seed) on the 2-core CPU
MOMENTUM = 0.9
TOLERANCE = 0.01  # "matches the small batch": within 1 percentage point of its mean test accuracy
MIN_SEEDS = 3

METHODS = ("small", "large naive", "large + scaling + warm-up", "LARS", "LAMB", "SWAP")


@dataclass(frozen=True)
class Setting:
    """One comparison. ``base_lr`` is momentum-SGD's learning rate at ``small_batch``; LARS/LAMB's lrs
    were picked
    from a small grid on seed 0 (LARS {1, 5, 10, 15, 20, 30}, LAMB {0.01, 0.03, 0.05, 0.1, 0.2}, MNIST-1D)."""

    dataset: str
    model: str
    small_batch: int
    large_batch: int
    epochs: int
    warmup_epochs: int
    base_lr: float
    lars_lr: float
    lamb_lr: float
    swap_phase1_epochs: int
    swap_workers: int = 4
    train_size: int | None = None
    test_size: int | None = None

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.model}"


# B_large / B_small = 32 as Goyal's 8 192 vs 256. MNIST-1D has 4 000 training examples, so 32 vs 1 024 there.
SETTINGS: dict[str, tuple[Setting, ...]] = {
    "smoke": (
        Setting("mnist1d", "mlp1d", 32, 256, 3, 1, 0.05, 15.0, 0.03, 2, 2, train_size=600, test_size=300),
    ),
    "quick": (Setting("mnist1d", "mlp1d", 32, 1024, 30, 5, 0.05, 15.0, 0.03, 25),),
    "full": (
        Setting("mnist1d", "mlp1d", 32, 1024, 30, 5, 0.05, 15.0, 0.03, 25),
        Setting("fashion-mnist", "c1", 256, 8192, 30, 5, 0.05, 15.0, 0.03, 25),
    ),
}

# Goyal et al. 2017 (arXiv:1706.02677), Table 1: ResNet-50 on ImageNet, top-1 validation error, mean ± std
# over 5 trials; batch 256 (η = 0.1) vs 8k (η = 3.2) with no / constant / gradual warm-up. Values checked
# against write-ups that quote Table 1 (baseline 23.60 ± 0.12, no warm-up 24.84 ± 0.37, constant warm-up
# 25.88 ± 0.56, gradual warm-up 23.74 ± 0.09) and lecture slides that quote Table 2c (256 at η = 0.1:
# 23.60 ± 0.12; 8k at η = 0.1·32: 23.74 ± 0.09); all matched. The paper's own text was not in the stored
# corpora. 23.74 − 23.60 = 0.14, the "0.14 points" in GOYAL_CRITERION.
GOYAL = (
    "Goyal et al. 2017, Table 1 (ResNet-50, ImageNet, top-1 validation error, mean ± std over 5 trials): "
    "batch 256: 23.60 ± 0.12 %; batch 8k with the linear scaling rule and gradual warm-up: 23.74 ± 0.09 %; "
    "8k without warm-up: 24.84 ± 0.37 %."
)

INTRO = (
    "Same epoch budget for every run; the large batch is 32 × the small one (as Goyal's 8k vs 256). "
    "Baselines: the small batch, and the large batch with the small batch's learning rate (naive). Methods: "
    "the linear scaling rule with a linear warm-up over the first epochs (Goyal et al.), LARS, LAMB, and "
    "SWAP (large-batch phase with square-root lr scaling + warm-up, then 4 small-batch workers from the "
    "same point with different data orders, weights averaged, BatchNorm statistics recomputed). Quick "
    "profile: MNIST-1D with the MNIST-1D MLP (no BatchNorm, so the BN recompute is a no-op there); the full "
    "profile adds C1 on Fashion-MNIST. " + GOYAL
)

CRITERION = (
    "Over the seeds, on every setting: (1) the naive large batch is worse than the small batch beyond the "
    "spread (mean_small − std_small > mean_naive + std_naive); (2) the best large-batch method's mean test "
    "accuracy is within 1 percentage point of the small batch's (or above it). Needs ≥ 3 seeds."
)
GOYAL_CRITERION = (
    "Over the seeds, on every setting: (1) linear scaling + warm-up beats the naive large batch beyond the "
    "spread; (2) its mean test accuracy is within 1 percentage point of the small batch's (Goyal et al.: "
    "within 0.14 points at 8k). Needs ≥ 3 seeds."
)

CLAIMS = (
    Claim(
        id="B6",
        section=SECTION,
        sentence=(
            "With the right method (linear scaling + warm-up, LARS, LAMB or SWAP), a large batch reaches the"
            " small batch's test accuracy in the same number of epochs — with far fewer updates — while the "
            "naive large batch falls short."
        ),
        formulas=(
            "linear scaling: η = η_base · B / B_base;  warm-up: η_t = η · t / T_w for t < T_w",
            "LARS: Δw_l = −η · (γ‖w_l‖/‖∇w_l‖) · ∇w_l (with momentum)",
            "LAMB: Δw_l = −η · (‖w_l‖/‖r_l‖) · r_l,  r = m̂/(√v̂ + ε)",
            "SWAP: θ = (1/W) Σ_w θ_w after W small-batch continuations of one large-batch solution "
            "(phase 1 here: lr by the square-root rule, η_base·√(B/B_base), + warm-up)",
        ),
        differs=(
            "The papers train ResNet-50 on ImageNet (Goyal, LARS), BERT (LAMB) and CIFAR/ImageNet (SWAP) on "
            "many GPUs; we train the MNIST-1D MLP (quick) and C1 on Fashion-MNIST (full) on one device, with"
            " a constant learning rate after warm-up and a 30-epoch budget. Wall time is measured on this "
            "device; SWAP's phase 2 is run worker after worker here, its 'parallel' time is the slowest "
            "worker's."
        ),
    ),
    Claim(
        id="B6-goyal",
        section=SECTION,
        sentence=(
            "The linear scaling rule with a gradual warm-up (Goyal et al.) alone lets the large batch match "
            "the small batch's accuracy (ImageNet: 8k within 0.14 points of 256)."
        ),
        formulas=("η = η_base · B / B_base,  η_t = η · t / T_w for t < T_w (T_w = 5 epochs)",),
        differs=(
            "Goyal et al.'s ResNet-50 has BatchNorm and a step decay; our MNIST-1D MLP has no normalisation "
            "and a constant lr after warm-up, so the 32× scaled lr (1.6 for momentum SGD) may exceed the "
            "range in which the rule holds — Goyal et al. also report the rule breaking down beyond 8k."
        ),
    ),
)


def expected_seconds(profile: Profile) -> float:
    """Rough wall time of one ``run`` (one seed) on the 2-core CPU (full: a GPU is strongly advised)."""
    return float(COST[profile])


def _momentum(lr: float):
    return lambda params: optim.create("momentum", params, lr=lr, momentum=MOMENTUM)


def _run_method(
    method: str, setting: Setting, dataset: data.Dataset, init: dict, seed: int
) -> dict[str, Any]:
    """Train one method from ``init``; return its final accuracies, wall time and learning curve."""
    device = dataset.train.x.device
    model = models.create(setting.model, dataset.input_shape, dataset.num_classes).to(device)
    model.load_state_dict(init)
    params = list(model.parameters())
    large = setting.large_batch
    updates_per_epoch = max(len(dataset.train.y) // large, 1)
    warmup = setting.warmup_epochs * updates_per_epoch
    scaled_lr = schedules.linear_scaling(setting.base_lr, large, setting.small_batch)
    epochs = setting.epochs
    if method == "small":
        batch, lr, opt = setting.small_batch, setting.base_lr, _momentum(setting.base_lr)(params)
        schedule = schedules.constant(lr)
    elif method == "large naive":
        batch, opt = large, _momentum(setting.base_lr)(params)
        schedule = schedules.constant(setting.base_lr)
    elif method == "large + scaling + warm-up":
        batch, opt = large, _momentum(scaled_lr)(params)
        schedule = schedules.linear_warmup(schedules.constant(scaled_lr), warmup)
    elif method == "SWAP":
        # Phase 1 needs a large-batch run that trains stably; Gupta et al. tune its lr. The linear rule's lr
        # (32× here) collapsed in some seeds of a probe, so phase 1 takes the square-root rule's (√32×),
        # with the same warm-up.
        phase1_lr = schedules.sqrt_scaling(setting.base_lr, large, setting.small_batch)
        batch, opt = large, _momentum(phase1_lr)(params)
        schedule = schedules.linear_warmup(schedules.constant(phase1_lr), warmup)
        epochs = setting.swap_phase1_epochs
    elif method == "LARS":
        batch, opt = large, optim.create("lars", params, lr=setting.lars_lr, momentum=MOMENTUM)
        schedule = schedules.linear_warmup(schedules.constant(setting.lars_lr), warmup)
    elif method == "LAMB":
        batch, opt = large, optim.create("lamb", params, lr=setting.lamb_lr)
        schedule = schedules.linear_warmup(schedules.constant(setting.lamb_lr), warmup)
    else:  # pragma: no cover - METHODS is closed
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    result = _fit.fit(model, dataset, opt, schedule, batch, epochs, seed=seed, eval_train=False)
    curve = [
        {
            "epoch": r["epoch"],
            "test_acc": r["test_acc"],
            "train_loss": r["train_loss"],
            "time": r["train_time"],
        }
        for r in result.history
    ]
    wall = result.final.get("train_time", 0.0)
    updates = result.updates
    extra: dict[str, Any] = {}
    if method == "SWAP":
        extra["phase1_test_acc"] = _fit.evaluate(model, dataset.test)[1]
        phase2_epochs = setting.epochs - setting.swap_phase1_epochs
        swapped = swap_phase2(
            model,
            dataset,
            _momentum(setting.base_lr),
            schedules.constant(setting.base_lr),
            setting.small_batch,
            phase2_epochs,
            setting.swap_workers,
            seed,
        )
        extra["worker_test_acc"] = swapped.worker_test_acc
        extra["phase2_parallel_time"] = swapped.parallel_time
        extra["phase2_sequential_time"] = swapped.sequential_time
        slowest = max(swapped.workers, key=lambda w: w.final.get("train_time", 0.0))
        for row in slowest.history:  # the curve continues along one worker; the last point is the average
            curve.append({"epoch": setting.swap_phase1_epochs + row["epoch"], "test_acc": row["test_acc"],
                          "train_loss": row["train_loss"], "time": wall + row["train_time"]})  # fmt: skip
        model = swapped.model
        updates += slowest.updates
        wall += swapped.parallel_time
        curve[-1] = {**curve[-1], "test_acc": _fit.evaluate(model, dataset.test)[1]}
    train_loss, train_acc = _fit.evaluate(model, dataset.train)
    return {
        "batch_size": batch,
        "peak_lr": float(max(schedule(t) for t in range(max(warmup, 1) + 1))),
        "test_acc": _fit.evaluate(model, dataset.test)[1],
        "train_acc": train_acc,
        "train_loss": train_loss,
        "updates": updates,
        "wall_time": wall,
        "diverged": result.diverged,
        "curve": curve,
        **extra,
    }


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    """Every method of :data:`METHODS` from the same initial weights, at the same epoch budget."""
    device = _fit.device()
    results, skipped, figures = [], [], []
    for setting in SETTINGS[profile]:
        try:
            dataset = _fit.subset(data.load(setting.dataset), setting.train_size, setting.test_size).to(
                device
            )
        except DataError as error:
            skipped.append({"setting": setting.key, "reason": str(error).splitlines()[0]})
            continue
        torch.manual_seed(seed)
        template = models.create(setting.model, dataset.input_shape, dataset.num_classes).to(device)
        init = {k: v.clone() for k, v in template.state_dict().items()}
        entry: dict[str, Any] = {**asdict(setting), "key": setting.key, "methods": {}}
        for method in METHODS:
            entry["methods"][method] = _run_method(method, setting, dataset, init, seed)
        name = f"b6_curves_{setting.dataset}_{setting.model}_seed{seed}.png"
        _plot_curves(entry, out_dir / name, seed)
        figures.append({"file": name, "claims": ["B6"], "caption": (
            f"{setting.key}, seed {seed}: test accuracy against epoch and against training time for each "
            f"method (small batch {setting.small_batch}, large batch {setting.large_batch}, {setting.epochs}"
            " epochs)."
        )})  # fmt: skip
        results.append(entry)
    measurements = {
        "profile": profile,
        "seed": seed,
        "device": _fit.describe_device(device),
        "settings": results,
        "skipped": skipped,
        "figures": figures,
    }
    write_json(out_dir / f"b6_measurements_seed{seed}.json", measurements)
    lines = ["setting,method,batch_size,peak_lr,test_acc,train_acc,updates,wall_time_s"]
    for entry in results:
        for method, m in entry["methods"].items():
            lines.append(
                f"{entry['key']},{method},{m['batch_size']},{m['peak_lr']:.6g},{m['test_acc']:.6f},{m['train_acc']:.6f},{m['updates']},{m['wall_time']:.4f}"
            )
    write_text(out_dir / f"b6_table_seed{seed}.csv", "\n".join(lines) + "\n")
    return measurements


def _plot_curves(entry: dict[str, Any], path: Path, seed: int) -> None:
    from optlab.experiments._plotting import COLORS, plt, save_figure

    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained", sharey=True)
    for i, (method, m) in enumerate(entry["methods"].items()):
        curve = m["curve"]
        style = {"color": COLORS[i % len(COLORS)], "label": f"{method} ({100 * m['test_acc']:.1f} %)"}
        by_epoch.plot([c["epoch"] for c in curve], [100 * c["test_acc"] for c in curve], **style)
        by_time.plot([c["time"] for c in curve], [100 * c["test_acc"] for c in curve], **style)
    by_epoch.set_xlabel("epoch")
    by_time.set_xlabel("training time (s, evaluation excluded; SWAP phase 2 as if parallel)")
    by_epoch.set_ylabel("test accuracy (%)")
    by_epoch.legend(fontsize=8)
    fig.suptitle(f"B6: {entry['key']}, batch {entry['small_batch']} vs {entry['large_batch']} (seed {seed})")
    save_figure(fig, path)


# ------------------------------------------------------------------------------------------------ verdict
def _pm(stats: dict[str, Any], scale: float = 100.0) -> str:
    return f"{stats['mean'] * scale:.2f} ± {stats['std'] * scale:.2f}"


def _separated(high: dict[str, Any], low: dict[str, Any]) -> bool:
    return high["mean"] - high["std"] > low["mean"] + low["std"]


def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run_ in runs:
        for entry in run_.get("settings", []):
            grouped.setdefault(entry["key"], []).append(entry)
    skipped = sorted({s["setting"] for run_ in runs for s in run_.get("skipped", [])})
    checks: dict[str, bool] = {}
    numbers: dict[str, Any] = {}
    goyal_checks: dict[str, bool] = {}
    goyal_numbers: dict[str, Any] = {}
    n = min((len(v) for v in grouped.values()), default=0)
    for key, entries in grouped.items():
        acc = {m: mean_std([e["methods"][m]["test_acc"] for e in entries]) for m in METHODS}
        for method in METHODS:
            first = entries[0]["methods"][method]
            wall = mean_std([e["methods"][method]["wall_time"] for e in entries])
            numbers[f"{key}: {method} (batch {first['batch_size']}, peak lr {first['peak_lr']:.3g})"] = (
                f"test {_pm(acc[method])} %, {first['updates']} updates, {wall['mean']:.2f} ± "
                f"{wall['std']:.2f} s"
            )
        large_methods = METHODS[2:]
        best = max(large_methods, key=lambda m: acc[m]["mean"])
        numbers[f"{key}: best large-batch method"] = best
        numbers[f"{key}: small − best, points"] = round(100 * (acc["small"]["mean"] - acc[best]["mean"]), 3)
        checks[f"{key}: naive < small beyond spread"] = _separated(acc["small"], acc["large naive"])
        checks[f"{key}: best method within 1 point of small"] = (
            acc[best]["mean"] >= acc["small"]["mean"] - TOLERANCE
        )
        goyal = acc["large + scaling + warm-up"]
        goyal_checks[f"{key}: scaling + warm-up > naive beyond spread"] = _separated(
            goyal, acc["large naive"]
        )
        goyal_checks[f"{key}: scaling + warm-up within 1 point of small"] = (
            goyal["mean"] >= acc["small"]["mean"] - TOLERANCE
        )
        goyal_numbers[f"{key}: small / naive / scaling + warm-up, test %"] = (
            f"{_pm(acc['small'])} / {_pm(acc['large naive'])} / {_pm(goyal)}"
        )
        goyal_numbers[f"{key}: scaling + warm-up, test % per seed"] = ", ".join(
            f"{100 * v:.1f}" for v in goyal["values"]
        )
        goyal_numbers[f"{key}: peak lr (linear rule)"] = entries[0]["methods"]["large + scaling + warm-up"][
            "peak_lr"
        ]
    numbers["paper (Goyal et al. 2017)"] = GOYAL
    goyal_numbers["paper (Goyal et al. 2017)"] = GOYAL
    enough = bool(grouped) and n >= MIN_SEEDS
    notes = []
    if n < MIN_SEEDS:
        notes.append(f"only {n} seed(s): at least {MIN_SEEDS} are needed to compare gaps with the spread")
    if skipped:
        notes.append(f"skipped (data not available): {', '.join(skipped)}")
    note = "; ".join(notes)
    return [
        ClaimResult("B6", CRITERION, numbers, n, outcome(checks, enough=enough), note, checks),
        ClaimResult(
            "B6-goyal",
            GOYAL_CRITERION,
            goyal_numbers,
            n,
            outcome(goyal_checks, enough=enough),
            note,
            goyal_checks,
        ),
    ]
