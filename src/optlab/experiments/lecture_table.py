"""The lecture's summary of small vs large batch, with this run's numbers in every cell.

The lecture closes its batch-size part with a six-row table (small batch | large batch):

======================================  ===========  =====================
speed for one update (no parallelism)   faster       slower
speed for one update (with parallelism) same         same (not too large)
time for one epoch                      slower       faster
gradient                                noisy        stable
optimisation                            better       worse
generalisation                          better       worse
======================================  ===========  =====================

:func:`measure_update_times` times one update at B = 1 and B = 1000 with one CPU thread, with all cores, and
on the GPU when one is present. The runner calls it in its own process *after* every experiment has finished,
so that the all-cores timing does not share the cores with a training run. :func:`build` then fills the
table from that timing and from the measurements of B1 (time per epoch), B3 (optimisation), B4 (gradient
variance and generalisation), each cell linked to the claim it comes from and marked ✓ or ✗ against the
lecture's word.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from optlab import data, models
from optlab._io import write_json
from optlab.experiments.framework import REPRODUCED

__all__ = ["FILE", "LARGE", "SAME_FACTOR", "SMALL", "build", "measure_update_times", "write_timing"]

SMALL, LARGE = 1, 1000  # the lecture's example: a batch of 1 against a batch of 1000
# "About the same time per update": within a factor of 2. The lecture's GPU figure is flat within ~1.5×
# from 1 to 1000; a factor of 2 is as lenient as a reading of "same" can be and still mean something.
SAME_FACTOR = 2.0
MODEL, DATASET = "mlp", "mnist1d"  # B1's model and quick dataset (no BatchNorm: it must run at B = 1)
REPEATS = {"smoke": 5, "quick": 30, "full": 40}
FILE = "lecture_table_timing.json"


def _time(device: torch.device, threads: int | None, repeats: int) -> dict[str, Any]:
    from optlab.measure import time_per_update

    dataset = data.load(DATASET)
    shape, classes = dataset.input_shape, dataset.num_classes
    timing = time_per_update(
        lambda: models.create(MODEL, shape, classes),
        dataset,
        (SMALL, LARGE),
        "sgd",
        device,
        lr=0.01,
        warmup=3,
        repeats=repeats,
        max_seconds=2.0,
        threads=threads,
    )
    rows = {row.batch_size: row for row in timing.rows}
    return {
        "device": timing.device,
        "threads": threads,
        "examples": timing.examples,
        "update_s": {str(b): rows[b].update_s for b in (SMALL, LARGE)},
        "epoch_s": {str(b): rows[b].epoch_s for b in (SMALL, LARGE)},
    }


def measure_update_times(profile: str) -> dict[str, Any]:
    """Median seconds per SGD update of ``mlp`` on MNIST-1D at B = 1 and 1000: one CPU thread, all cores
    (``os.cpu_count()`` threads) and, when CUDA is present, the GPU. Run it on an otherwise idle machine."""
    repeats = REPEATS.get(profile, 30)
    cpu = torch.device("cpu")
    out = {
        "one thread": _time(cpu, 1, repeats),
        "all cores": _time(cpu, os.cpu_count() or 1, repeats),
    }
    if torch.cuda.is_available():
        out["gpu"] = _time(torch.device("cuda"), None, repeats)
    return out


def write_timing(out_dir: Any, profile: str) -> dict[str, Any]:
    """:func:`measure_update_times`, written to ``out_dir/lecture_table_timing.json`` (runs are data)."""
    timing = measure_update_times(profile)
    write_json(out_dir / FILE, timing)
    return timing


# The lecture's table: each aspect, in its order, with its word for the small and for the large batch.
LECTURE = {
    "speed for one update (no parallelism)": ("faster", "slower"),
    "speed for one update (with parallelism)": ("same", "same (not too large)"),
    "time for one epoch": ("slower", "faster"),
    "gradient": ("noisy", "stable"),
    "optimisation": ("better", "worse"),
    "generalisation": ("better", "worse"),
}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3g} ms"


def _row(
    aspect: str, measured: str = "not measured", claims: Sequence[str] = (), ok: bool | None = None
) -> dict[str, Any]:
    small, large = LECTURE[aspect]
    return {
        "aspect": aspect,
        "lecture_small": small,
        "lecture_large": large,
        "measured": measured,
        "claims": list(claims),
        "agrees": ok,
    }


def build(
    timing: Mapping[str, Any] | None,
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    verdicts: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The six rows, each ``{aspect, lecture_small, lecture_large, measured, claims, agrees}``.

    ``timing``: :func:`measure_update_times`' result (None: not measured); ``runs``: experiment id → its
    measurements per seed (B1, B3, B4 are read); ``verdicts``: claim id → outcome. ``agrees`` is True/False
    against the lecture's word, or None when this run has no number for the row (the experiment was not
    selected, or its data were missing).
    """
    timing = timing or {}
    one = timing.get("one thread")
    parallel = [(name, timing[name]) for name in ("all cores", "gpu") if timing.get(name)]
    return [
        _update_row(one) if one else _row("speed for one update (no parallelism)"),
        _parallel_row(parallel) if parallel else _row("speed for one update (with parallelism)"),
        _epoch_row(one) if one else _row("time for one epoch"),
        _gradient_row(runs.get("B4", ())),
        _optimisation_row(runs.get("B3", ()), verdicts),
        _generalisation_row(runs.get("B4", ()), verdicts),
    ]


def _update_row(one: Mapping[str, Any]) -> dict[str, Any]:
    t1, tl = one["update_s"][str(SMALL)], one["update_s"][str(LARGE)]
    measured = f"B = {SMALL}: {_ms(t1)}, B = {LARGE}: {_ms(tl)} per update ({one['device']}, 1 thread)"
    return _row("speed for one update (no parallelism)", measured, ["B1"], t1 < tl)


def _parallel_row(parallel: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    parts = []
    for name, t in parallel:
        ratio = t["update_s"][str(LARGE)] / t["update_s"][str(SMALL)]
        parts.append(
            f"{t['device']}{'' if name == 'gpu' else ', ' + str(t['threads']) + ' threads'}: "
            f"{_ms(t['update_s'][str(SMALL)])} vs {_ms(t['update_s'][str(LARGE)])} (× {ratio:.3g})"
        )
    # The most parallel device present decides (the GPU when there is one): the last one's ratio.
    measured = "; ".join(parts) + f" — “same” read as within × {SAME_FACTOR:g}, on the most parallel device"
    return _row("speed for one update (with parallelism)", measured, ["B1"], ratio <= SAME_FACTOR)


def _epoch_row(one: Mapping[str, Any]) -> dict[str, Any]:
    e1, el = one["epoch_s"][str(SMALL)], one["epoch_s"][str(LARGE)]
    measured = f"N = {one['examples']}: {e1:.3g} s at B = {SMALL}, {el:.3g} s at B = {LARGE} (1 thread)"
    return _row("time for one epoch", measured, ["B2"], e1 > el)


def _deciding_setting(runs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """B4's first (deciding) network in every seed's measurements."""
    return [r["settings"][0] for r in runs if r.get("settings")]


def _gradient_row(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    entries = [e for e in _deciding_setting(runs) if "gradient_variance" in e]
    if not entries:
        return _row("gradient", "not measured (B4 not run)")
    small, large = (_mean([e["gradient_variance"][batch] for e in entries]) for batch in ("small", "large"))
    first = entries[0]
    return _row(
        "gradient",
        f"{first['key']} at the starting weights: E‖g_B − ∇L‖² = {small:.3g} at B = {first['small_batch']}, "
        f"{large:.3g} at B = {first['large_batch']} (× {small / large:.3g}; mean of {len(entries)} seeds)",
        ["B4"],
        small > large,
    )


def _optimisation_row(runs: Sequence[Mapping[str, Any]], verdicts: Mapping[str, str]) -> dict[str, Any]:
    if not runs or "B3" not in verdicts:
        return _row("optimisation", "not measured (B3 not run)")
    # B3 records, per dataset, every batch size's chosen run; the first dataset decides its verdict.
    per_dataset = runs[0].get("datasets") or {}
    if not per_dataset:
        return _row("optimisation", "no B3 data", ["B3"])
    name = next(iter(per_dataset))
    by_batch: dict[int, list[float]] = {}
    for run_ in runs:
        for record in run_.get("datasets", {}).get(name, {}).get("runs", []):
            by_batch.setdefault(int(record["batch_size"]), []).append(float(record["train_acc"]))
    if not by_batch:
        return _row("optimisation", "no B3 data", ["B3"])
    smallest, largest = min(by_batch), max(by_batch)
    small, large = _mean(by_batch[smallest]), _mean(by_batch[largest])
    return _row(
        "optimisation",
        f"{name}, same epochs: training accuracy {100 * small:.1f} % at B = {smallest}, "
        f"{100 * large:.1f} % at B = {largest} (B3: {verdicts['B3']})",
        ["B3"],
        small > large and verdicts["B3"] == REPRODUCED,
    )


def _generalisation_row(runs: Sequence[Mapping[str, Any]], verdicts: Mapping[str, str]) -> dict[str, Any]:
    entries = _deciding_setting(runs)
    if not entries or "B4" not in verdicts:
        return _row("generalisation", "not measured (B4 not run)")
    small, large = (_mean([e[batch]["test_acc"] for e in entries]) for batch in ("small", "large"))
    first = entries[0]
    return _row(
        "generalisation",
        f"{first['key']}, trained until the training loss stops improving: test accuracy "
        f"{100 * small:.1f} % at B = {first['small_batch']}, "
        f"{100 * large:.1f} % at B = {first['large_batch']}"
        f" (B4: {verdicts['B4']})",
        ["B4"],
        small > large and verdicts["B4"] == REPRODUCED,
    )
