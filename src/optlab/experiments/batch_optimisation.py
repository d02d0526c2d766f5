"""B3 — "smaller batches optimise better": accuracy after a fixed budget of epochs against batch size.

With a fixed number of epochs, a batch of size B makes ⌈N/B⌉ updates per epoch. While the gradient noise
is not what limits progress, many cheap noisy updates beat few precise ones, so after the same number of
passes over the data the smaller batch has reached a lower training loss (the lecture; Keskar et al.
2017, §2; McCandlish et al. 2018 on the critical batch size). A larger batch can take a larger learning
rate, so each batch size gets its own learning rate, chosen from a small grid.

Protocol, per dataset: model ``mlp`` (no BatchNorm), plain SGD, constant learning rate, a validation set
carved from the training set with the run's seed. For each batch size B, every learning rate of its grid
(``PROFILES``) is trained with each seed (one seed per ``run``; the runner gives 3 in quick, 5 in full)
and the one with the lowest final training loss (the claim is about optimisation) is kept for that seed.
After the budget the model is evaluated on the whole training split and on the validation split (eval
mode, not the running averages of the epoch). A learning rate that diverges (NaN loss) is recorded as
diverged and never chosen.

The grid's runs are independent, so they can also go through an Optuna sweep (``optlab lecture --sweep``):
:func:`run_grid` trains batch size × lr × seed as one study per dataset, served by several worker processes
(or machines, through a shared storage URL), and ``run(..., sweep=plan)`` reads its seed's runs from the
study. Both paths train the same configs; the sweep's workers record the same final evaluations.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optlab import data
from optlab._io import pyplot, save_figure, write_csv
from optlab.errors import DataError, OptlabError
from optlab.experiments._plotting import DPI
from optlab.experiments.framework import (
    Claim,
    ClaimResult,
    Profile,
    ProfileRow,
    SweepPlan,
    cpu_threads,
    mean_std,
    pm,
    skip_absent,
    spearman,
)
from optlab.train import TrainConfig, evaluate, fit_config, resolve_device

ID = "B3"
TITLE = "Smaller batches optimise better (fixed epoch budget)"
SECTION = "Batch size"
SEEDED = True
MODEL = "mlp"
OPTIMIZER = "sgd"
LR_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # log-spaced, steps of ≈ 3; a chosen lr on an edge is reported
VALIDATION = {"mnist1d": 500, "fashion-mnist": 5000}
EVAL_BATCH = 4096

# Per profile and dataset: batch sizes, epochs, learning-rate grid (one seed per run()); seconds of one run().
PROFILES: dict[str, ProfileRow[dict[str, dict[str, Any]]]] = {
    "smoke": ProfileRow({"mnist1d": {"batch_sizes": (32, 512), "epochs": 1, "lrs": (0.3,)}}, seconds=5),
    "quick": ProfileRow({"mnist1d": {"batch_sizes": (16, 64, 256, 1024, 3500), "epochs": 5,
                                     "lrs": (0.1, 0.3, 1.0, 3.0)}}, seconds=45),
    "full": ProfileRow({"mnist1d": {"batch_sizes": (4, 16, 64, 256, 1024, 3500), "epochs": 10,
                                    "lrs": LR_GRID},
                        "fashion-mnist": {"batch_sizes": (16, 64, 256, 1024, 4096), "epochs": 3,
                                          "lrs": (0.01, 0.03, 0.1, 0.3, 1.0)}}, seconds=160),
}  # fmt: skip
MIN_SEEDS, MIN_SIZES = 3, 3  # fewer: inconclusive

INTRO = (
    "Training and validation accuracy after a fixed budget of epochs, against batch size. Model `mlp` (no "
    "BatchNorm), plain SGD with a constant learning rate chosen per batch size from a small grid (quick: "
    "0.1 … 3, full: 0.01 … 3, in steps of ≈ 3) by the lowest final training loss, separately for each "
    "seed. Accuracies are of the final model on the whole training split and on a held-out validation "
    "split. Quick: MNIST-1D (3500 train / 500 validation), B = 16 … 3500 (full batch), 5 epochs, 3 seeds; "
    "full: MNIST-1D (B = 4 … 3500, 10 epochs, lr 0.01 … 3) and Fashion-MNIST (55 000 / 5000, B = 16 … "
    "4096, 3 epochs, lr 0.01 … 1: an epoch of Fashion-MNIST takes ≈ 7 s on this CPU at any B ≥ 256), 5 seeds."
)

CLAIMS = (
    Claim(
        id="B3",
        mechanism=(
            "At a fixed epoch budget, a batch of B makes ⌈N/B⌉ updates per epoch: the small batch takes "
            "hundreds of times more steps, each noisy but pointing downhill on average, and each batch size "
            "gets its best lr from a grid, so the comparison is not decided by a badly chosen lr. The budget "
            "(5 epochs on MNIST-1D) is short enough that the large batches' few updates cannot finish the "
            "job — the regime the lecture's curves are drawn in; the full-batch point (B = 3500) makes 5 "
            "updates in all."
        ),
        section=SECTION,
        sentence=(
            "Smaller batches optimise better: after the same number of epochs, a smaller batch (more, "
            "noisier updates) reaches a higher training accuracy than a larger one, even with each batch "
            "size's best learning rate."
        ),
        formulas=("updates per epoch = ⌈N/B⌉;  θ ← θ − η_B · (1/B) Σ_{i∈batch} ∇ℓ_i(θ)",),
        differs=(
            "The lecture shows MNIST/CIFAR-10 curves; quick uses MNIST-1D only (Fashion-MNIST in full), a "
            "small MLP, a 5-epoch budget (3 on Fashion-MNIST in full) and a 4–6-value learning-rate "
            "grid, chosen per seed. For scale: the MNIST-1D paper (Greydanus & Kobak; the mnist1d "
            "README's table comparing MNIST and MNIST-1D, and the paper's abstract) reports ≈ 68 % test "
            "accuracy for an MLP trained to convergence; a 5-epoch budget stops well short of that on "
            "purpose — the claim is about what a fixed budget buys."
        ),
    ),
)

CRITERION = (
    "Per dataset, on the mean final training accuracy over seeds: it falls with B (Spearman rank "
    "correlation between B and accuracy ≤ −0.8), and the smallest batch beats the largest by more than 2 "
    "points and by more than twice the larger of their standard deviations over seeds. Reproduced if "
    "every dataset run passes."
)


def _config(name: str, batch_size: int, lr: float, epochs: int, seed: int) -> TrainConfig:
    return TrainConfig(dataset=name, model=MODEL, optimizer=OPTIMIZER, lr=lr, batch_size=batch_size,
                       epochs=epochs, seed=seed, validation=VALIDATION[name], device="auto",
                       eval_batch_size=EVAL_BATCH,
                       description=f"B3 batch size {batch_size}, lr {lr}")  # fmt: skip


def _train_one(dataset: Any, name: str, batch_size: int, lr: float, epochs: int, seed: int) -> dict[str, Any]:
    """Train once; the final model's loss/accuracy on the whole training and validation splits."""
    config = _config(name, batch_size, lr, epochs, seed)
    record: dict[str, Any] = {"seed": seed, "batch_size": batch_size, "lr": lr, "diverged": False}
    try:
        result = fit_config(config, dataset=dataset)
    except OptlabError as error:  # a NaN/inf loss: this lr is too large for this B
        return record | {"diverged": True, "error": str(error).splitlines()[0]}
    device = resolve_device("auto")
    on_device = dataset.to(device)
    train_loss, train_acc = evaluate(result.model, on_device.train, EVAL_BATCH)
    val_loss, val_acc = evaluate(result.model, on_device.val, EVAL_BATCH)
    return _record(record, train_loss, train_acc, val_loss, val_acc, result.metrics[-1]["step"])


def _record(
    record: dict[str, Any], train_loss: float, train_acc: float, val_loss: float, val_acc: float, updates: int
) -> dict[str, Any]:
    if not np.isfinite(train_loss):
        return record | {"diverged": True, "error": "non-finite final training loss"}
    return record | {"train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                     "val_acc": val_acc, "updates": updates}  # fmt: skip


# -- the grid as an Optuna sweep (optlab lecture --sweep) ----------------------------------------------------
def sweep_specs(profile: Profile, seeds: Sequence[int]) -> dict[str, Any]:
    """One :class:`~optlab.sweep.SweepSpec` per dataset: batch size × lr × seed, each point one B3 run."""
    from optlab.sweep import Param, SweepSpec

    specs = {}
    for name, settings in PROFILES[profile].setting.items():
        base = _config(name, settings["batch_sizes"][0], settings["lrs"][0], settings["epochs"], 0)
        params = (Param("batch_size", tuple(settings["batch_sizes"])),
                  Param("lr", tuple(float(lr) for lr in settings["lrs"])),
                  Param("seed", tuple(seeds)))  # fmt: skip
        specs[name] = SweepSpec(base.replace(description=f"lecture B3 ({profile})"), params,
                                evaluate_train=True)  # fmt: skip
    return specs


def study_name(profile: Profile, name: str, spec: Any) -> str:
    """Derived from the settings: the lecture run again continues the same study (finished points stay)."""
    return f"lecture-{ID}-{profile}-{name}-{spec.fingerprint()}"


def run_grid(profile: Profile, plan: SweepPlan, on_progress: Any = None) -> None:
    """Train every dataset's grid as a sweep served by ``plan.workers`` local worker processes.

    ``on_progress(label, status)`` is called as points settle (status: :class:`~optlab.sweep.SweepStatus`)."""
    from optlab.sweep import run_sweep

    for name, spec in sweep_specs(profile, plan.seed_list).items():
        try:
            data.load(name, validation=VALIDATION[name], seed=0)
        except DataError:  # run() reports the dataset as absent
            continue
        label = f"{ID} sweep {name}"
        report = None if on_progress is None else (lambda status, label=label: on_progress(label, status))
        run_sweep(spec, study_name(profile, name, spec), plan.storage_url, workers=plan.workers, quiet=True,
                  on_progress=report)  # fmt: skip


def _from_study(
    profile: Profile, name: str, settings: dict[str, Any], seed: int, plan: SweepPlan
) -> list[dict[str, Any]]:
    """This seed's grid records, read from the dataset's study (which :func:`run_grid` has settled)."""
    from optlab.sweep import join, load_results, open_storage

    spec = sweep_specs(profile, plan.seed_list)[name]
    study, _ = join(open_storage(plan.storage_url), study_name(profile, name, spec))
    results = {(r.point["batch_size"], r.point["lr"]): r for r in load_results(study)
               if r.point["seed"] == seed and r.outcome in ("complete", "error")}  # fmt: skip
    records = []
    for batch_size in settings["batch_sizes"]:
        for lr in settings["lrs"]:
            result = results.get((batch_size, float(lr)))
            if result is None:
                raise OptlabError(
                    f"{ID}: the sweep has no result for {name} B={batch_size} lr={lr} seed={seed} "
                    "(run the lecture with --sweep again to finish it)"
                )
            record = {"seed": seed, "batch_size": batch_size, "lr": lr, "diverged": False,
                      "trial": result.number}  # fmt: skip
            if result.outcome == "error":  # a NaN/inf loss, as in _train_one
                records.append(record | {"diverged": True, "error": (result.error or "").splitlines()[0]})
                continue
            final = result.final
            records.append(_record(record, final["train_loss"], final["train_acc"], final["val_loss"],
                                   final["val_acc"], int(result.curve[-1][1])))  # fmt: skip
    return records


def _run_dataset(
    profile: Profile, name: str, settings: dict[str, Any], seed: int, sweep: SweepPlan | None
) -> dict[str, Any]:
    dataset = data.load(name, validation=VALIDATION[name], seed=seed)  # the split train() would carve
    if sweep is not None:
        records = _from_study(profile, name, settings, seed, sweep)
    else:
        records = [_train_one(dataset, name, batch_size, lr, settings["epochs"], seed)
                   for batch_size in settings["batch_sizes"] for lr in settings["lrs"]]  # fmt: skip
    chosen: dict[str, float | None] = {}
    runs: list[dict[str, Any]] = []
    for batch_size in settings["batch_sizes"]:
        finite = [r for r in records if r["batch_size"] == batch_size and not r["diverged"]]
        best = min(finite, key=lambda r: r["train_loss"]) if finite else None
        chosen[str(batch_size)] = best["lr"] if best else None
        runs += [best] if best else []
    return {
        "dataset": name,
        "train_examples": len(dataset.train),
        "val_examples": len(dataset.val) if dataset.val is not None else 0,
        "epochs": settings["epochs"],
        "batch_sizes": list(settings["batch_sizes"]),
        "lr_grid": list(settings["lrs"]),
        "chosen_lr": chosen,
        "grid": records,  # batch size by batch size, as trained
        "runs": runs,
    }


def run(profile: Profile, out_dir: Path, seed: int, sweep: SweepPlan | None = None) -> dict[str, Any]:
    """Every batch size with every lr of the grid for this seed, each B's best kept; write JSON, CSV, PNG.

    With ``sweep``, the runs are read from the sweep that :func:`run_grid` ran instead of trained here."""
    settings = PROFILES[profile].setting
    with cpu_threads(torch.device("cpu")):
        datasets, missing = skip_absent(
            settings, lambda name: _run_dataset(profile, name, settings[name], seed, sweep), needed=ID
        )
    rows = []
    for name, entry in datasets.items():
        chosen_runs = {id(r) for r in entry["runs"]}
        rows += [{"dataset": name, "batch_size": r["batch_size"], "lr": r["lr"], "seed": r["seed"],
                  "chosen": id(r) in chosen_runs, "diverged": r["diverged"],
                  **{k: r.get(k) for k in ("train_loss", "train_acc", "val_loss", "val_acc")}}
                 for r in entry["grid"]]  # fmt: skip
    write_csv(out_dir / "b3_batch_optimisation.csv", rows)
    _figure(list(datasets.values()), out_dir / "b3_accuracy.png")
    measurements = {
        "profile": profile,
        "seed": seed,
        "model": MODEL,
        "optimizer": OPTIMIZER,
        "datasets": datasets,
        "missing_datasets": missing,
        "figures": [
            {"file": "b3_accuracy.png", "claims": ["B3"],
             "caption": "Final training (solid) and validation (dashed) accuracy after a fixed epoch budget "
                        "against batch size (this seed); each B with its learning rate from the grid "
                        "(annotated)."},
        ],
    }  # fmt: skip
    if sweep is not None:
        specs = sweep_specs(profile, sweep.seed_list)
        studies = {name: study_name(profile, name, specs[name]) for name in datasets}
        measurements["sweep"] = {"storage": sweep.storage_url, "studies": studies}
    return measurements


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per dataset and batch size: mean ± std of final train/val accuracy over all seeds of all runs."""
    out: dict[str, dict[str, Any]] = {}
    for run_ in runs:
        for name, entry in run_["datasets"].items():
            slot = out.setdefault(
                name,
                {"epochs": entry["epochs"], "per_batch": {}, "chosen_lr": {}, "lr_grid": entry["lr_grid"]},
            )
            for r in entry["runs"]:
                if r["diverged"]:
                    continue
                per = slot["per_batch"].setdefault(r["batch_size"], {"train": [], "val": []})
                per["train"].append(r["train_acc"])
                per["val"].append(r["val_acc"])
            for b, lr in entry["chosen_lr"].items():
                if lr is not None:
                    slot["chosen_lr"].setdefault(int(b), []).append(lr)
    for slot in out.values():
        slot["per_batch"] = {
            b: {"train": mean_std(v["train"]), "val": mean_std(v["val"])}
            for b, v in sorted(slot["per_batch"].items())
        }
    return out


def lr_text(lrs: Sequence[float]) -> str:
    """The learning rates chosen over seeds, e.g. '0.3' or '0.1/0.3' (distinct values, ascending)."""
    return "/".join(f"{lr:g}" for lr in sorted(set(lrs)))


def _figure(entries: Sequence[dict[str, Any]], path: Path) -> None:
    summary = aggregate([{"datasets": {e["dataset"]: e for e in entries}}])
    fig, axes = pyplot().subplots(1, len(summary), figsize=(6.5 * len(summary), 4.6), layout="constrained",
                             squeeze=False)  # fmt: skip
    for ax, (name, slot) in zip(axes[0], summary.items(), strict=True):
        sizes = np.array(list(slot["per_batch"]))
        for split, style in (("train", "o-"), ("val", "s--")):
            mean = np.array([slot["per_batch"][b][split]["mean"] for b in sizes])
            std = np.array([slot["per_batch"][b][split]["std"] for b in sizes])
            ax.errorbar(sizes, mean, yerr=std, fmt=style, capsize=3, label=f"{split} accuracy")
        for b in sizes:
            label = f"lr {lr_text(slot['chosen_lr'][int(b)])}"
            ax.annotate(label, (b, slot["per_batch"][b]["train"]["mean"]),
                        textcoords="offset points", xytext=(4, 6), fontsize=7)  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size B")
        ax.set_ylabel("accuracy after the budget")
        ax.set_title(f"{name}: {slot['epochs']} epochs, {MODEL} + SGD")
        ax.legend(fontsize=8)
    save_figure(fig, path, dpi=DPI)


def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    summary = aggregate(runs)
    checks: dict[str, bool] = {}
    numbers: dict[str, Any] = {}
    notes: list[str] = []
    n = min((s["train"]["n"] for slot in summary.values() for s in slot["per_batch"].values()), default=0)
    enough = n >= MIN_SEEDS and all(len(slot["per_batch"]) >= MIN_SIZES for slot in summary.values())
    for name, slot in summary.items():
        sizes = list(slot["per_batch"])
        train_means = [slot["per_batch"][b]["train"]["mean"] for b in sizes]
        val_means = [slot["per_batch"][b]["val"]["mean"] for b in sizes]
        small, large = slot["per_batch"][sizes[0]]["train"], slot["per_batch"][sizes[-1]]["train"]
        gap = small["mean"] - large["mean"]
        rho = spearman(sizes, train_means)
        rho_val = spearman(sizes, val_means)
        spread = max(small["std"], large["std"])
        checks[f"{name}: Spearman(B, train acc) ≤ −0.8"] = rho <= -0.8
        checks[f"{name}: gap > 2 points and > 2·std"] = gap > 0.02 and gap > 2 * spread
        for b in sizes:
            s = slot["per_batch"][b]
            numbers[f"{name}, B = {b} (lr {lr_text(slot['chosen_lr'][b])}): train / val acc"] = (
                f"{pm(s['train'], digits=3)} / {pm(s['val'], digits=3)}"
            )
        numbers[f"{name}: Spearman(B, train acc)"] = rho
        numbers[f"{name}: Spearman(B, val acc)"] = rho_val
        numbers[f"{name}: train acc gap B={sizes[0]} − B={sizes[-1]}"] = gap
        best = sizes[int(np.argmax(train_means))]
        if best != sizes[0]:
            # Below some batch size the updates are noise-limited: more of them per epoch stops helping
            # (the critical batch size of McCandlish et al. 2018). Say where that happened.
            notes.append(
                f"{name}: the best training accuracy is at B = {best}, not at the smallest batch: below "
                f"B = {best} smaller batches did not optimise better within this budget."
            )
        bounds = (min(slot["lr_grid"]), max(slot["lr_grid"]))
        edge = [b for b in sizes if any(lr in bounds for lr in slot["chosen_lr"][b])]
        if edge:
            notes.append(f"{name}: the chosen lr lies on the edge of the grid for B = {edge}.")
        notes.append(
            f"{name} ({slot['epochs']} epochs): validation accuracy "
            + (
                "falls with B too"
                if rho_val <= -0.8
                else f"does not fall monotonically with B (ρ = {rho_val:.2f})"
            )
            + "."
        )
    studies = {k: v for run_ in runs for k, v in run_.get("sweep", {}).get("studies", {}).items()}
    if studies:
        storage = next(run_["sweep"]["storage"] for run_ in runs if "sweep" in run_)
        notes.append(
            "The grid ran as Optuna sweeps (" + ", ".join(studies.values()) + f") in {storage}: "
            "`optlab sweep report STUDY --storage URL` draws them."
        )
    missing = sorted({k for run_ in runs for k in run_.get("missing_datasets", {})})
    if missing:
        notes.append(f"Not run (data absent): {', '.join(missing)}.")
    return [ClaimResult.decide("B3", CRITERION, numbers, n, checks, enough=enough, note=" ".join(notes))]
