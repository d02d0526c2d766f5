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
Tried and dropped: Goyal et al.'s step decay (÷10 for the last fifth of the epochs) for every run. Over 9
seeds it brought linear scaling + warm-up within 0.5 points of the small batch for seeds 0–2 and 10–12 but
1.06 for 3–5, and the naive large batch's spread over seeds grew to ±5–6 points (one lr pick left it far
behind), so neither verdict was stable; without the decay both verdicts came out the same for all 9 seeds.

The regime is the papers': the large batch is a small fraction of the data (MNIST-1D generated with 50 000
samples, 36 000 of them for training: 1 024 is 2.8 %, 35 updates per epoch), the network has BatchNorm (the
linear scaling rule's argument is made for Goyal's BatchNorm ResNet), and each method's learning rate is
picked from a small grid on a validation split carved from the training set, as the papers tune theirs;
the test set only reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
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
    run_settings,
    separated,
    settings_over_seeds,
)
from optlab.experiments.swap import swap_phase2
from optlab.train import FitResult, OnUpdate, evaluate, evaluator, fit

ID = "B6"
TITLE = "Large batch with the small batch's accuracy: linear scaling + warm-up, LARS, LAMB, SWAP"
SECTION = "Large batch"
SEEDED = True
MOMENTUM = 0.9
TOLERANCE = 0.01  # "matches the small batch": within 1 percentage point of its mean test accuracy
MIN_SEEDS = 3

METHODS = ("small", "large naive", "large + scaling + warm-up", "LARS", "LAMB", "SWAP")
LARGE_METHODS = METHODS[2:]


@dataclass(frozen=True)
class Setting:
    """One comparison. The lr grids are searched on the validation split (the test set only reports):
    ``small_lrs`` for momentum SGD at the small batch (the naive large batch keeps the pick, the linear rule
    scales it by B_large/B_small), ``lars_lrs`` and ``lamb_lrs`` for LARS and LAMB at the large batch. SWAP:
    phase 1 is the linear-rule run up to ``epochs − swap_phase2_epochs``, phase 2 ``swap_workers`` small-batch
    workers at the small batch's picked lr."""

    dataset: str
    model: str
    small_batch: int
    large_batch: int
    epochs: int
    warmup_epochs: int
    small_lrs: tuple[float, ...]
    lars_lrs: tuple[float, ...]
    lamb_lrs: tuple[float, ...]
    swap_phase2_epochs: int
    validation: int  # examples carved from the training set (fixed split, seed 0) to pick learning rates
    swap_workers: int = 4
    train_size: int | None = None
    test_size: int | None = None

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.model}"


# B_large / B_small = 32 as Goyal's 8 192 vs 256. The grids step by ≈ 3×. They began one value wider on
# each side — small {0.01, 0.03, 0.1}, LARS {3, 10, 30}, LAMB {0.003, 0.01, 0.03} — and were narrowed
# after a probe over 9 seeds (0–2, 3–5, 10–12) in which validation never picked LARS 30 or LAMB 0.003,
# and picked the small batch's 0.1 once, by 0.2 points, its linear-rule lr 3.2 then diverging (Goyal et
# al. report the rule failing at large lr too). Narrowing cuts a third of the cost to fit the quick budget.
QUICK = Setting(
    "mnist1d-50k",
    "cnn1d_bn",
    32,
    1024,
    10,
    2,
    (0.01, 0.03),
    (3.0, 10.0),
    (0.01, 0.03),
    2,
    validation=4000,
)
# The settings each profile trains; seconds of one run() (one seed): quick measured, full extrapolated for
# C1 on Fashion-MNIST (205 s per epoch at batch 256 on one thread).
SMOKE = Setting(
    "mnist1d",
    "cnn1d_bn",
    16,
    128,
    2,
    1,
    (0.03,),
    (10.0,),
    (0.01,),
    1,
    validation=200,
    swap_workers=2,
    train_size=1200,
    test_size=300,
)
C1_FULL = Setting(
    "fashion-mnist",
    "c1",
    256,
    8192,
    30,
    5,
    (0.03, 0.1, 0.3),
    (3.0, 10.0, 30.0),
    (0.003, 0.01, 0.03),
    5,
    validation=6000,
)
PROFILES: dict[str, ProfileRow[tuple[Setting, ...]]] = {
    "smoke": ProfileRow((SMOKE,), seconds=6),
    "quick": ProfileRow((QUICK,), seconds=90),
    "full": ProfileRow((QUICK, C1_FULL), seconds=60000),
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
    "SWAP (the linear-rule run as phase 1, then 4 small-batch workers from its point with different data "
    "orders, weights averaged, BatchNorm statistics recomputed). Quick profile: MNIST-1D generated with "
    "50 000 samples by the mnist1d package's generator (36 000 train, 4 000 validation, 10 000 test), the "
    "MNIST-1D CNN with BatchNorm (`cnn1d_bn`), batch 32 vs 1 024, 10 epochs; the full profile adds C1 on "
    "Fashion-MNIST (30 epochs). Every method's learning rate is picked on the validation split from the grid"
    " printed with the numbers; the table reports test accuracy, updates and wall time. " + GOYAL
)

MECHANISM = (
    "Goyal et al.'s argument: k steps of batch B with lr η move the weights about as one step of batch kB "
    "with lr kη, as long as the gradient changes little over those k steps — which needs many updates per "
    "epoch (the large batch a small fraction of the data: here 1 024 of 36 000 = 2.8 %, 35 updates per "
    "epoch, against Goyal's 8k of 1.28 M) and fails in the first updates, when the weights change fast "
    "(hence the warm-up). The rule's ResNet-50 has BatchNorm, which keeps the scale of each layer's input "
    "fixed while the lr is large; so does our network. LARS/LAMB replace the global rule by a per-layer "
    "trust ratio; SWAP adds small-batch noise back at the end. The naive large batch makes 32× fewer "
    "updates with the same lr, so within the same epochs it must fall short."
)

CRITERION = (
    "Over the seeds, on every setting: (1) the naive large batch is worse than the small batch beyond the "
    "spread (mean_small − std_small > mean_naive + std_naive); (2) the best large-batch method — best by "
    "mean validation accuracy, the test set never chooses — has a mean test accuracy within 1 percentage "
    "point of the small batch's (or above it). Needs ≥ 3 seeds."
)
GOYAL_CRITERION = (
    "Over the seeds, on every setting: (1) linear scaling + warm-up beats the naive large batch beyond the "
    "spread; (2) its mean test accuracy is within 1 percentage point of the small batch's (Goyal et al.: "
    "within 0.14 points at 8k). Needs ≥ 3 seeds."
)

# Printed with the B6-goyal verdict when it does not show: what was tried, and why it does not.
GOYAL_NOT_SHOWN = (
    "what we see: the linear rule + warm-up is far better than the naive large batch but ends 1.0–1.5 "
    "points below the small batch after 10 epochs (a probe over seeds 0–2, 3–5, 10–12 on another machine: "
    "1.03, 1.45, 1.26 points), while SWAP closes the gap. Why: 10 epochs are 360 large-batch updates, of "
    "which the first 70 are warm-up at a reduced lr; the rule's argument (k small steps ≈ one large step) "
    "leaves the large batch roughly the warm-up's share of an epoch behind, and Goyal et al.'s 90 epochs "
    "amortise that where our budget cannot (30 epochs cost 3× the quick budget). Tried: a final ÷10 "
    "learning-rate step for every run (Goyal's schedule) — within 0.5 points for two seed sets but 1.06 for"
    " the third, and the naive baseline's spread grew to ±5–6 points: no stable verdict, so not kept; "
    "narrower lr grids — no change to this claim."
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
            "SWAP: θ = (1/W) Σ_w θ_w after W small-batch continuations of one large-batch solution",
        ),
        differs=(
            "The papers train ResNet-50 on ImageNet (Goyal, LARS), BERT (LAMB) and CIFAR/ImageNet (SWAP) on "
            "many GPUs; we train a small BatchNorm CNN on MNIST-1D (quick) and C1 on Fashion-MNIST (full) on "
            "one device, with a constant learning rate after warm-up and a 10-epoch (full: 30) budget. Wall "
            "time is measured on this device; SWAP's phase 2 runs worker after worker here, its 'parallel' "
            "time is the slowest worker's."
        ),
        mechanism=MECHANISM,
    ),
    Claim(
        id="B6-goyal",
        section=SECTION,
        sentence=(
            "The linear scaling rule with a gradual warm-up (Goyal et al.) alone lets the large batch match "
            "the small batch's accuracy (ImageNet: 8k within 0.14 points of 256)."
        ),
        formulas=("η = η_base · B / B_base,  η_t = η · t / T_w for t < T_w",),
        differs=(
            "Goyal et al. train ResNet-50 for 90 epochs with ÷10 steps at 30, 60, 80; our BatchNorm CNN "
            "trains 10 epochs at a constant lr after a 2-epoch warm-up (a final ÷10 step was tried: see the "
            "experiment's notes), η_base being the small batch's lr picked on validation."
        ),
        mechanism=MECHANISM,
    ),
)


def _load(setting: Setting, device: torch.device) -> data.Dataset:
    """The setting's data, its validation split carved (fixed, seed 0), subset for smoke, on ``device``."""
    dataset = data.load(setting.dataset, validation=setting.validation, seed=0)
    small = data.subset(dataset, setting.train_size, setting.test_size)
    return data.Dataset(
        dataset.name, small.train, small.test, dataset.val, dataset.num_classes, dataset.class_names
    ).to(device)


def _on_validation(dataset: data.Dataset) -> data.Dataset:
    """The same data with the validation split in the test slot: training curves and picks see only it."""
    return data.Dataset(
        dataset.name, dataset.train, dataset.val, None, dataset.num_classes, dataset.class_names
    )


def _optimizer(method: str, params: list, lr: float) -> torch.optim.Optimizer:
    if method == "LARS":
        return optim.create("lars", params, lr=lr, momentum=MOMENTUM)
    if method == "LAMB":
        return optim.create("lamb", params, lr=lr)
    return optim.create("momentum", params, lr=lr, momentum=MOMENTUM)


def _train(
    setting: Setting,
    dataset: data.Dataset,
    init: dict,
    seed: int,
    method: str,
    lr: float,
    batch: int,
    warmup_epochs: int,
    snapshot_epoch: int | None = None,
) -> dict[str, Any]:
    """One run from ``init``: picks and curves on the validation split, the test accuracy at the end.

    ``snapshot_epoch``: also keep the weights after that many epochs (SWAP's phase 1 is the linear-rule run
    up to there: the same updates, so it is not trained twice)."""
    model = fresh_model(setting.model, dataset, init)
    optimizer = _optimizer(method, list(model.parameters()), lr)
    per_epoch = max(len(dataset.train.y) // batch, 1)
    warmup = warmup_epochs * per_epoch
    schedule = schedules.constant(lr)
    if warmup:
        schedule = schedules.linear_warmup(schedule, warmup)
    snapshot: dict[str, Any] = {}

    def keep(step: int, _: torch.optim.Optimizer) -> None:
        if snapshot_epoch is not None and step == snapshot_epoch * per_epoch:
            snapshot["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    result = fit(
        model,
        optimizer,
        batcher(dataset.train, batch, seed),
        schedule,
        epochs=setting.epochs,
        evaluate=evaluator(val=dataset.val),
        callbacks=[OnUpdate(keep)] if snapshot_epoch is not None else [],
        on_nonfinite="stop",
    )
    out = {
        "lr": lr,
        "batch_size": batch,
        "peak_lr": lr,
        "warmup_updates": warmup,
        "val_acc": result.final.get("val_acc", float("nan")),
        "test_acc": evaluate(model, dataset.test)[1],
        "updates": result.steps,
        "wall_time": result.train_time,
        "diverged": result.diverged,
        "curve": _curve(result),
    }
    if "state" in snapshot:
        # phase-1 time: this run's training time up to the snapshot, in proportion of its updates
        out["snapshot"] = snapshot["state"]
        out["snapshot_time"] = out["wall_time"] * snapshot_epoch * per_epoch / max(result.steps, 1)
    return out


def _curve(
    result: FitResult, acc: str = "val_acc", epoch0: int = 0, time0: float = 0.0
) -> list[dict[str, Any]]:
    """Per epoch of ``result``: the epoch, the validation accuracy (``acc`` in its history), the training loss
    and the training time so far, counted from epoch ``epoch0`` and time ``time0``."""
    return [
        {"epoch": epoch0 + r["epoch"], "val_acc": r[acc], "train_loss": r["train_loss"], "time": time0 + time}
        for r, time in zip(result.history, result.train_times, strict=True)
    ]


def _pick(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run with the best final validation accuracy (a diverged run never), and the grid as tried."""
    finite = [r for r in runs if not r["diverged"]] or runs
    best = max(finite, key=lambda r: r["val_acc"] if r["val_acc"] == r["val_acc"] else -1.0)
    grid = [{"lr": r["lr"], "val_acc": r["val_acc"], "diverged": r["diverged"]} for r in runs]
    return best, grid


def _swap(
    setting: Setting, dataset: data.Dataset, phase1: dict[str, Any], lr: float, seed: int
) -> dict[str, Any]:
    """SWAP's phases 2–3 from the linear-rule run's snapshot; cost: phase 1 + the slowest worker."""
    model = fresh_model(setting.model, dataset, phase1["snapshot"])
    phase1_epochs = setting.epochs - setting.swap_phase2_epochs
    phase1_acc = evaluate(model, dataset.test)[1]
    swapped = swap_phase2(
        model,
        _on_validation(dataset),
        lambda params: _optimizer("small", params, lr),
        schedules.constant(lr),
        setting.small_batch,
        setting.swap_phase2_epochs,
        setting.swap_workers,
        seed,
    )
    slowest = max(swapped.workers, key=lambda w: w.train_time)
    per_epoch_large = max(len(dataset.train.y) // setting.large_batch, 1)
    # the curve continues along one worker (its "test" split is the validation split); the last point is
    # the average
    curve = [c for c in phase1["curve"] if c["epoch"] <= phase1_epochs]
    curve += _curve(slowest, "test_acc", phase1_epochs, phase1["snapshot_time"])
    val_acc = evaluate(swapped.model, dataset.val)[1]
    curve[-1] = {**curve[-1], "val_acc": val_acc}
    return {
        "lr": lr,
        "batch_size": setting.large_batch,
        "peak_lr": phase1["peak_lr"],
        "warmup_updates": phase1["warmup_updates"],
        "val_acc": val_acc,
        "test_acc": evaluate(swapped.model, dataset.test)[1],
        "updates": phase1_epochs * per_epoch_large + slowest.steps,
        "wall_time": phase1["snapshot_time"] + swapped.parallel_time,
        "diverged": phase1["diverged"],
        "curve": curve,
        "phase1_test_acc": phase1_acc,
        "worker_test_acc": swapped.worker_test_acc,
        "phase2_parallel_time": swapped.parallel_time,
        "phase2_sequential_time": swapped.sequential_time,
    }


def run_setting(setting: Setting, seed: int, device: torch.device) -> dict[str, Any]:
    """Every method of :data:`METHODS` from the same initial weights, at the same epoch budget; each
    method's lr picked on the validation split from its grid. Raises DataError if the data are missing."""
    dataset = _load(setting, device)
    init = initial_weights(setting.model, dataset, seed)[1]
    large, ratio = setting.large_batch, setting.large_batch / setting.small_batch
    methods: dict[str, dict[str, Any]] = {}
    grids: dict[str, list[dict[str, Any]]] = {}
    common = (setting, dataset, init, seed)
    small, grids["small"] = _pick(
        [_train(*common, "small", lr, setting.small_batch, 0) for lr in setting.small_lrs]
    )
    methods["small"] = small
    base = small["lr"]
    methods["large naive"] = _train(*common, "large naive", base, large, 0)
    phase1_epochs = setting.epochs - setting.swap_phase2_epochs
    goyal = _train(
        *common,
        "large + scaling + warm-up",
        base * ratio,
        large,
        setting.warmup_epochs,
        snapshot_epoch=phase1_epochs,
    )
    methods["large + scaling + warm-up"] = goyal
    for method, lrs in (("LARS", setting.lars_lrs), ("LAMB", setting.lamb_lrs)):
        methods[method], grids[method] = _pick(
            [_train(*common, method, lr, large, setting.warmup_epochs) for lr in lrs]
        )
    methods["SWAP"] = _swap(setting, dataset, goyal, base, seed)
    for m in methods.values():
        m.pop("snapshot", None)
    return {
        **asdict(setting),
        "key": setting.key,
        "train_examples": len(dataset.train.y),
        "updates_per_epoch_large": max(len(dataset.train.y) // large, 1),
        "large_fraction": large / len(dataset.train.y),
        "lr_grids": grids,
        "methods": methods,
    }


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    """Every setting of the profile: all methods from the same initial weights; JSON, CSV and figures."""
    measurements = run_settings(
        profile,
        seed,
        PROFILES[profile].setting,
        lambda setting, device: run_setting(setting, seed, device),
        lambda entry: _plot_curves(entry, out_dir, seed),
    )
    rows = [
        {"setting": entry["key"], "method": method}
        | {k: m[k] for k in ("batch_size", "lr", "val_acc", "test_acc", "updates")}
        | {"wall_time_s": m["wall_time"]}
        for entry in measurements["settings"]
        for method, m in entry["methods"].items()
    ]
    write_csv(out_dir / f"b6_table_seed{seed}.csv", rows)
    return measurements


def _plot_curves(entry: dict[str, Any], out_dir: Path, seed: int) -> dict[str, Any]:
    """Validation accuracy of each method against epoch and against training time; the figure's record."""
    fig, (by_epoch, by_time) = pyplot().subplots(1, 2, figsize=(12, 5.2), layout="constrained", sharey=True)
    for i, (method, m) in enumerate(entry["methods"].items()):
        curve = m["curve"]
        label = f"{method}, lr {m['lr']:g} (test {100 * m['test_acc']:.1f} %)"
        if method == "SWAP":  # dashed: its phase 1 is the linear-rule run, which would hide under it
            label = (
                f"SWAP: the linear-rule run, then {entry['swap_workers']} small-batch workers averaged"
                + label[4:]
            )
        style = {"color": COLORS[i % len(COLORS)], "label": label, "ls": "--" if method == "SWAP" else "-"}
        by_epoch.plot([c["epoch"] for c in curve], [100 * c["val_acc"] for c in curve], **style)
        by_time.plot([c["time"] for c in curve], [100 * c["val_acc"] for c in curve], **style)
    by_epoch.set(xlabel="epoch", ylabel="validation accuracy (%)")
    by_time.set_xlabel("training time (s, evaluation excluded; SWAP phase 2 as if parallel)")
    fig.legend(*by_epoch.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle(f"B6: {entry['key']}, batch {entry['small_batch']} vs {entry['large_batch']} (seed {seed})")
    name = f"b6_curves_{entry['dataset']}_{entry['model']}_seed{seed}.png"
    save_figure(fig, out_dir / name, dpi=DPI)
    return {
        "file": name,
        "claims": ["B6", "B6-goyal"],
        "caption": (
            f"{entry['key']}, seed {seed}: validation accuracy against epoch and against training time for "
            f"each method at its picked lr (small batch {entry['small_batch']}, large batch "
            f"{entry['large_batch']}, {entry['epochs']} epochs); the legend gives the test accuracy."
        ),
    }


# ------------------------------------------------------------------------------------------------ verdict
def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    grouped, n, note = settings_over_seeds(runs, MIN_SEEDS, "gaps with the spread")
    checks: dict[str, bool] = {}
    numbers: dict[str, Any] = {}
    goyal_checks: dict[str, bool] = {}
    goyal_numbers: dict[str, Any] = {}
    for key, entries in grouped.items():
        acc = {m: mean_std([e["methods"][m]["test_acc"] for e in entries]) for m in METHODS}
        val = {m: mean_std([e["methods"][m]["val_acc"] for e in entries]) for m in METHODS}
        first = entries[0]
        numbers[f"{key}: data"] = (
            f"{first.get('train_examples')} training examples; batch {first['small_batch']} vs "
            f"{first['large_batch']} ({100 * first.get('large_fraction', 0):.1f} % of the data, "
            f"{first.get('updates_per_epoch_large')} updates per epoch); {first['epochs']} epochs"
        )
        for method in METHODS:
            m0 = first["methods"][method]
            wall = mean_std([e["methods"][method]["wall_time"] for e in entries])
            lrs = ", ".join(f"{e['methods'][method]['lr']:g}" for e in entries)
            numbers[f"{key}: {method} (batch {m0['batch_size']})"] = (
                f"test {pm(acc[method], 100)} %, val {pm(val[method], 100)} %, lr {lrs}, {m0['updates']} "
                f"updates, {pm(wall, digits=1)} s"
            )
        for method in first.get("lr_grids", {}):
            numbers[f"{key}: lr grid of {method} (validation accuracy per lr, per seed)"] = "; ".join(
                ", ".join(
                    f"{g['lr']:g}: {100 * g['val_acc']:.1f}" + (" (diverged)" if g["diverged"] else "")
                    for g in e["lr_grids"][method]
                )
                for e in entries
            )
        best = max(LARGE_METHODS, key=lambda m: val[m]["mean"])
        numbers[f"{key}: best large-batch method (by validation)"] = best
        numbers[f"{key}: small − best, test points"] = round(
            100 * (acc["small"]["mean"] - acc[best]["mean"]), 3
        )
        checks[f"{key}: naive < small beyond spread"] = separated(acc["small"], acc["large naive"])
        checks[f"{key}: best method within 1 point of small"] = (
            acc[best]["mean"] >= acc["small"]["mean"] - TOLERANCE
        )
        goyal = acc["large + scaling + warm-up"]
        goyal_checks[f"{key}: scaling + warm-up > naive beyond spread"] = separated(goyal, acc["large naive"])
        goyal_checks[f"{key}: scaling + warm-up within 1 point of small"] = (
            goyal["mean"] >= acc["small"]["mean"] - TOLERANCE
        )
        goyal_numbers[f"{key}: small / naive / scaling + warm-up, test %"] = (
            f"{pm(acc['small'], 100)} / {pm(acc['large naive'], 100)} / {pm(goyal, 100)}"
        )
        goyal_numbers[f"{key}: small − scaling + warm-up, test points"] = round(
            100 * (acc["small"]["mean"] - goyal["mean"]), 3
        )
        goyal_numbers[f"{key}: scaling + warm-up, test % per seed"] = ", ".join(
            f"{100 * v:.1f}" for v in goyal["values"]
        )
        goyal_numbers[
            f"{key}: peak lr (linear rule: small's pick × {first['large_batch'] // first['small_batch']})"
        ] = ", ".join(f"{e['methods']['large + scaling + warm-up']['lr']:g}" for e in entries)
    numbers["paper (Goyal et al. 2017)"] = GOYAL
    goyal_numbers["paper (Goyal et al. 2017)"] = GOYAL
    enough = bool(grouped) and n >= MIN_SEEDS
    return [
        ClaimResult.decide("B6", CRITERION, numbers, n, checks, enough=enough, note=note),
        ClaimResult.decide(
            "B6-goyal",
            GOYAL_CRITERION,
            goyal_numbers,
            n,
            goyal_checks,
            enough=enough,
            note=note,
            not_shown=GOYAL_NOT_SHOWN,
        ),
    ]
