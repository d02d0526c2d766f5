"""B1, B2 — time per update and time per epoch against batch size, on the device present.

The lecture's figure (a GPU) shows the time of one update staying flat from batch size 1 up to thousands:
the GPU's thousands of lanes sit idle at small batches, so a bigger batch comes for free until its
parallelism runs out (B1), and the time of an epoch, ⌈N/B⌉ updates, falls ∝ 1/B over that range (B2). We
time the same thing with :func:`optlab.measure.time_per_update` — ``zero_grad → forward → loss → backward
→ step`` on a batch already on the device, median of repeated updates — for B = 1 … N (the training-set
size), on whatever device is present.

Model: ``mlp`` (two hidden layers of 256, **no BatchNorm**): BatchNorm's batch statistics are undefined
at batch size 1, so the lecture's BatchNorm nets cannot be swept from 1. On a CPU the flat region comes
mostly from the fixed cost of an update (Python, operator dispatch, allocation), amortised over the
batch, plus a core's SIMD lanes; it ends far earlier than on a GPU.

Threads: one intra-op thread on the CPU. The runner may run experiments side by side on a 2-core machine,
and OpenMP threads spin-waiting for a busy core made each update up to ten times slower in our
measurements (25 ms instead of 3.5 ms at B = 1 with 2 threads under load), which would time the
contention, not the batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optlab import data, models
from optlab._io import pyplot, save_figure, write_csv
from optlab.experiments._plotting import DPI
from optlab.experiments.framework import (
    Claim,
    ClaimResult,
    Profile,
    ProfileRow,
    cpu_threads,
    skip_absent,
    spearman,
)
from optlab.measure import time_per_update
from optlab.measure.timing import FLAT_FACTOR
from optlab.train import describe_device, resolve_device

ID = "B1"
TITLE = "Time per update and per epoch against batch size"
SECTION = "Batch size"
SEEDED = False
MODEL = "mlp"
OPTIMIZER = "sgd"
LEARNING_RATE = 0.01  # time does not depend on it; small enough that no sweep point produces NaNs
REFERENCE_BATCH = 1000  # the lecture's question: what does a batch of 1000 cost against a batch of 1?

# Per profile: the datasets timed (the first one decides the verdict) and the timer's budget per batch size;
# seconds of one run() (the timer's budget per batch size dominates).
PROFILES: dict[str, ProfileRow[dict[str, Any]]] = {
    "smoke": ProfileRow({"datasets": ("mnist1d",), "max_batch": 64, "warmup": 1, "repeats": 3,
                         "max_seconds": 0.05}, seconds=3),
    "quick": ProfileRow({"datasets": ("mnist1d",), "max_batch": 4000, "warmup": 3, "repeats": 30,
                         "max_seconds": 1.0}, seconds=5),
    "full": ProfileRow({"datasets": ("fashion-mnist", "mnist1d"), "max_batch": 10_000, "warmup": 5,
                        "repeats": 40, "max_seconds": 3.0}, seconds=30),
}  # fmt: skip
MIN_SIZES = 8  # fewer batch sizes than this: too few points to find a bend, inconclusive
# What the CSV holds of each timed batch size (a TimingRow); the measurements add "repeats".
COLUMNS = ("batch_size", "update_s", "update_s_q25", "update_s_q75", "updates_per_epoch", "epoch_s",
           "examples_per_s")  # fmt: skip

INTRO = (
    "Time per update and per epoch of plain SGD on the `mlp` model (two hidden layers of 256 units, no "
    "BatchNorm, since BatchNorm is undefined at batch size 1), for batch sizes 1, 2, 4, … up to the "
    "training-set size (and 1000), timed with `optlab.measure.time_per_update` on the device present: the "
    "batch already sits on the device, each point is the median of repeated updates after untimed warm-up "
    "updates. On a CPU we use one intra-op thread (the runner may run experiments side by side; "
    "spin-waiting threads time the contention). Quick profile: MNIST-1D (N = 4000, 40 inputs); full: "
    "Fashion-MNIST (N = 60 000, 784 inputs) up to B = 10 000, and MNIST-1D."
)

CLAIMS = (
    Claim(
        id="B1",
        mechanism=(
            "The flat region comes from work the hardware does in parallel or pays once per update: the "
            "fixed cost of an update (Python, dispatch, allocation) and the SIMD lanes of a core on a CPU, "
            "the thousands of lanes of a GPU. It operates wherever an update's fixed cost is comparable to "
            "the per-example cost — true for the small MLP on any device; the flat region is longer the more "
            "parallel the device (see the lecture table's GPU row when one is present)."
        ),
        title="A larger batch costs no more time per update (until saturation)",
        section=SECTION,
        sentence=(
            "A larger batch does not need more time per update, until the hardware's parallelism runs "
            "out: the time of one update stays (almost) flat as the batch grows, then grows ∝ B."
        ),
        formulas=("t_update(B) ≈ max(t₀, c·B)  (fixed cost t₀ until the hardware is saturated)",),
        differs=(
            "The lecture's figure is a GPU, flat up to batches in the thousands. Here the device is "
            "whatever runs the experiment (a 2-core CPU in our runs, one thread): its parallelism is a "
            "few SIMD lanes, so the flat region is shorter and is mostly the fixed per-update overhead "
            "being amortised; the model is a small MLP on MNIST-1D / Fashion-MNIST instead of the "
            "lecture's network."
        ),
    ),
    Claim(
        id="B2",
        mechanism=(
            "An epoch is ⌈N/B⌉ updates; as long as an update costs about the same at B as at 1 (B1's flat "
            "region), the epoch's time falls ∝ 1/B. The mechanism operates on any device that has a flat "
            "region, so the timing setting of B1 shows it."
        ),
        title="A smaller batch needs more time per epoch",
        section=SECTION,
        sentence="A smaller batch needs more time per epoch: an epoch is ⌈N/B⌉ updates, and small updates "
        "cost about as much as large ones.",
        formulas=("t_epoch(B) = ⌈N/B⌉ · t_update(B)",),
        differs="Same setting as B1: the device present (CPU here) instead of the lecture's GPU.",
    ),
)

CRITERION_B1 = (
    f"On the first dataset: the time per update stays below {FLAT_FACTOR:g}× the B = 1 time up to a batch "
    f"of at least 16 (the knee, the first B over {FLAT_FACTOR:g}×, is > 16), and "
    f"t({REFERENCE_BATCH})/t(1) ≤ 100, i.e. a {REFERENCE_BATCH}× larger batch costs at most a tenth of "
    f"{REFERENCE_BATCH}× the time. Times are the lower quartile of each batch size's timed updates (robust "
    "to other processes on the CPU). Where the curve bends (the knee) and the log-log slope over the "
    "largest batches are reported."
)
CRITERION_B2 = (
    "On the first dataset: the time per epoch at the smallest batch is ≥ 10× that at the largest, and up "
    "to the knee (where the update time is still flat) it falls with B: log-log slope of time per epoch "
    "against B ≤ −0.7 (ideal: −1). Beyond the knee the update time grows ∝ B and the epoch time is "
    "expected to level off, not to keep falling; its spread there is reported."
)


def batch_sizes(max_batch: int) -> list[int]:
    """1, 2, 4, … up to ``max_batch``, plus ``max_batch`` itself and REFERENCE_BATCH if it fits."""
    sizes = {2**k for k in range(int(math.log2(max_batch)) + 1)} | {max_batch}
    if max_batch >= REFERENCE_BATCH:
        sizes.add(REFERENCE_BATCH)
    return sorted(sizes)


def log_slope(sizes: Sequence[float], times: Sequence[float]) -> float:
    """Least-squares slope of log t against log B (1: time ∝ B; 0: flat)."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def _time_dataset(name: str, settings: dict[str, Any], device: torch.device, seed: int) -> dict[str, Any]:
    dataset = data.load(name)
    n = len(dataset.train)
    max_batch = min(settings["max_batch"], n)
    sizes = batch_sizes(max_batch)
    timing = time_per_update(
        lambda: models.create(MODEL, dataset.input_shape, dataset.num_classes),
        dataset.train,
        sizes,
        OPTIMIZER,
        device,
        lr=LEARNING_RATE,
        warmup=settings["warmup"],
        repeats=settings["repeats"],
        max_seconds=settings["max_seconds"],
        seed=seed,
    )
    return {
        "dataset": name,
        "examples": n,
        "input_shape": list(dataset.input_shape),
        "rows": [{k: getattr(r, k) for k in (*COLUMNS, "repeats")} for r in timing.rows],
        "knee_batch_size": timing.knee_batch_size,
        "flat_up_to": timing.flat_up_to,
        "skipped": {str(k): v for k, v in timing.skipped.items()},
    }


def run(profile: Profile, out_dir: Path, seed: int) -> dict[str, Any]:
    """Time SGD updates of ``mlp`` for B = 1 … N on each dataset of the profile; write CSV, JSON, figures."""
    settings = PROFILES[profile].setting
    device = resolve_device(None)
    with cpu_threads(device):
        description = describe_device(device)
        timed, missing = skip_absent(
            settings["datasets"], lambda name: _time_dataset(name, settings, device, seed), needed=ID
        )
    datasets = list(timed.values())
    figures = []
    rows = []
    for entry in datasets:
        file = f"b1_timing_{entry['dataset']}.png"
        _figure(
            entry, out_dir / file, f"{MODEL} on {entry['dataset']} (N = {entry['examples']}), {description}"
        )
        caption = (
            f"{entry['dataset']}: seconds per update and per epoch against batch size, log-log, on "
            f"{description}: lower quartile of the timed updates (what the verdict uses), the median dotted, "
            "the interquartile range shaded."
        )
        figures.append({"file": file, "claims": ["B1", "B2"], "caption": caption})
        rows += [{"dataset": entry["dataset"]} | {k: r[k] for k in COLUMNS} for r in entry["rows"]]
    write_csv(out_dir / "b1_timing.csv", rows)
    return {
        "profile": profile,
        "device": str(device),
        "device_description": description,
        "model": MODEL,
        "optimizer": OPTIMIZER,
        "datasets": datasets,
        "missing_datasets": missing,
        "figures": figures,
    }


def _figure(entry: dict[str, Any], path: Path, title: str) -> None:
    rows = sorted(entry["rows"], key=lambda r: r["batch_size"])
    b = np.array([r["batch_size"] for r in rows])
    low, median, high = (np.array([r[k] for r in rows]) for k in ("update_s_q25", "update_s", "update_s_q75"))
    per_epoch = np.array([r["updates_per_epoch"] for r in rows])
    s = summarise(entry)
    fig, ax = pyplot().subplots(figsize=(7, 4.8), layout="constrained")
    ax.loglog(b, low, "o-", color="C0", label="time per update (lower quartile)")
    ax.loglog(b, median, ":", color="C0", lw=1, label="time per update (median)")
    ax.fill_between(b, low, high, color="C0", alpha=0.15, lw=0)
    ax.loglog(b, low * per_epoch, "s-", color="C1", label=f"time per epoch (N = {entry['examples']})")
    ax.axhline(FLAT_FACTOR * low[0], color="C0", ls="--", lw=0.8, label=f"{FLAT_FACTOR:g}× the B = 1 update")
    if s["knee_batch_size"] is not None:
        ax.axvline(
            s["knee_batch_size"], color="gray", ls="--", lw=0.8, label=f"knee B = {s['knee_batch_size']}"
        )
    ax.set(xlabel="batch size B", ylabel="seconds")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=DPI)


def summarise(entry: dict[str, Any]) -> dict[str, Any]:
    """The numbers the verdict uses, from one dataset's rows.

    They use the lower quartile of each batch size's timed updates, not the median: other processes sharing
    the CPU (the runner runs experiments side by side) only ever add time to an update, so the lower quartile
    is the steadier estimate of its own cost (the median is plotted and written to the CSV).
    """
    rows = sorted(entry["rows"], key=lambda r: r["batch_size"])
    sizes = [r["batch_size"] for r in rows]
    update = [r["update_s_q25"] for r in rows]
    epoch = [r["update_s_q25"] * r["updates_per_epoch"] for r in rows]
    by_size = dict(zip(sizes, update, strict=True))
    t_small = update[0]
    knee = next((b for b, t in zip(sizes, update, strict=True) if t > FLAT_FACTOR * t_small), None)
    ref = by_size.get(REFERENCE_BATCH)
    tail = [i for i, b in enumerate(sizes) if b >= sizes[-1] / 8]  # the last three octaves
    return {
        "smallest_batch": sizes[0],
        "largest_batch": sizes[-1],
        "sizes": len(sizes),
        "t_update_smallest_s": t_small,
        "t_update_largest_s": update[-1],
        "t_ref_over_t1": ref / t_small if ref is not None and sizes[0] == 1 else None,
        "knee_batch_size": knee,
        "slope_tail": log_slope([sizes[i] for i in tail], [update[i] for i in tail])
        if len(tail) >= 2
        else None,
        "epoch_smallest_over_largest": epoch[0] / epoch[-1],
        "spearman_batch_epoch_time": spearman(sizes, epoch),
        # Below the knee (all sizes if there is none): how fast the epoch time falls with B.
        "epoch_slope_below_knee": _slope_upto(sizes, epoch, knee),
        "epoch_spread_beyond_knee": (
            max(e for b, e in zip(sizes, epoch, strict=True) if b >= knee)
            / min(e for b, e in zip(sizes, epoch, strict=True) if b >= knee)
            if knee is not None
            else None
        ),
    }


def _slope_upto(sizes: Sequence[int], values: Sequence[float], knee: int | None) -> float | None:
    """Log-log slope of ``values`` over the batch sizes below ``knee`` (all of them if None); None if < 3."""
    points = [(b, v) for b, v in zip(sizes, values, strict=True) if knee is None or b < knee]
    if len(points) < 3:
        return None
    return log_slope([b for b, _ in points], [v for _, v in points])


def verdict(runs: Sequence[dict[str, Any]]) -> list[ClaimResult]:
    m = runs[0]
    entry = m["datasets"][0]
    s = summarise(entry)
    enough = s["sizes"] >= MIN_SIZES and s["smallest_batch"] == 1 and s["largest_batch"] >= REFERENCE_BATCH
    knee = s["knee_batch_size"]
    ratio = s["t_ref_over_t1"]
    checks_b1 = {
        "flat to ≥ 16 (knee > 16)": knee is None or knee > 16,
        f"t({REFERENCE_BATCH})/t(1) ≤ 100": ratio is not None and ratio <= 100,
    }
    setting = {"device": m["device_description"], "dataset": f"{entry['dataset']} (N = {entry['examples']})"}
    measured = f"Measured on {m['device_description']}."
    numbers_b1: dict[str, Any] = {
        **setting,
        "t(1) [ms] (lower quartile)": 1e3 * s["t_update_smallest_s"],
        f"t({REFERENCE_BATCH})/t(1)": ratio,
        f"knee (first B with t > {FLAT_FACTOR:g}·t(1))": knee
        if knee is not None
        else "none (flat throughout)",
        "log-log slope over the largest batches": s["slope_tail"],
        f"t({s['largest_batch']})/t(1)": s["t_update_largest_s"] / s["t_update_smallest_s"],
    }
    for other in m["datasets"][1:]:
        o = summarise(other)
        numbers_b1[f"{other['dataset']}: t({REFERENCE_BATCH})/t(1)"] = o["t_ref_over_t1"]
        numbers_b1[f"{other['dataset']}: knee"] = o["knee_batch_size"]
    note_b1 = measured + (
        f" The curve bends at B ≈ {knee} " if knee is not None
        else f" No bend up to B = {s['largest_batch']} "
    ) + (
        "(the lecture's GPU stays flat into the thousands; a CPU has far fewer parallel lanes, so the "
        "bend comes earlier and beyond it the time grows ≈ ∝ B)." if m["device"].startswith("cpu") else
        "(compare the lecture's GPU figure, flat into the thousands)."
    )  # fmt: skip
    if m.get("missing_datasets"):
        note_b1 += " Not timed (data absent): " + ", ".join(m["missing_datasets"]) + "."
    checks_b2 = {
        "t_epoch(smallest)/t_epoch(largest) ≥ 10": s["epoch_smallest_over_largest"] >= 10,
        "slope of t_epoch below the knee ≤ −0.7": s["epoch_slope_below_knee"] is not None
        and s["epoch_slope_below_knee"] <= -0.7,
    }
    numbers_b2 = {
        **setting,
        f"t_epoch(B={s['smallest_batch']}) / t_epoch(B={s['largest_batch']})": s[
            "epoch_smallest_over_largest"
        ],
        "log-log slope of t_epoch below the knee": s["epoch_slope_below_knee"],
        "max/min of t_epoch from the knee on": s["epoch_spread_beyond_knee"],
        "Spearman(B, t_epoch), all sizes": s["spearman_batch_epoch_time"],
        f"t_epoch(B={s['smallest_batch']}) [s]": s["t_update_smallest_s"]
        * entry["rows"][0]["updates_per_epoch"],
    }
    note_b2 = measured
    if knee is not None:
        note_b2 += (
            f" From the knee (B = {knee}) on, the epoch time no longer falls much: it varies by a factor "
            f"{s['epoch_spread_beyond_knee']:.1f} over B = {knee} … {s['largest_batch']} — a larger batch "
            "then saves no more time per epoch (on the lecture's GPU that happens only in the "
            "thousands)."
        )
    return [
        ClaimResult.decide("B1", CRITERION_B1, numbers_b1, len(runs), checks_b1, enough=enough, note=note_b1),
        ClaimResult.decide("B2", CRITERION_B2, numbers_b2, len(runs), checks_b2, enough=enough, note=note_b2),
    ]
