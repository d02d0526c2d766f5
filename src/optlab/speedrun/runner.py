"""Run a recipe for N seeds through optlab's engine (:func:`optlab.train.train`, one run folder per seed) and
measure what a speed run reports: test accuracy and training seconds per seed, their mean ± std
(``speedrun.json``), and the learning curves against training time (``speedrun.png``).

Timing. ``train_seconds`` of a seed is the wall-clock time of its updates, from the first update to the last
(the sum of the epochs' ``epoch_time``: batches, augmentation, forward, backward, optimizer steps, the loop's
statistics). The evaluation after each epoch, checkpoints and logging are outside it, as in airbench's
timing. Loading the data (once, before the seeds) and the one-off set-up of the kernels (a warm-up of
:data:`WARMUP_STEPS` updates on a throw-away model: oneDNN creates its convolution primitives on first use)
are timed and reported separately. ``torch.compile`` is not used: it did not pay on the 2-core CPU (see the
README's "Speed run" section), so there is nothing compiled.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import torch

import optlab
from optlab._io import write_json
from optlab.errors import ConfigError
from optlab.speedrun.recipe import Recipe

__all__ = ["WARMUP_STEPS", "SeedRun", "Speedrun", "default_out_dir", "plot", "run", "versions"]

WARMUP_STEPS = 20  # updates of the one-off warm-up before the timed seeds


@dataclass(frozen=True)
class SeedRun:
    """One seed: final test accuracy (fraction), training seconds, updates, its run folder, and its learning
    curve as (training seconds so far, test accuracy) after each epoch."""

    seed: int
    accuracy: float
    train_seconds: float
    steps: int
    run_dir: str
    curve: list[tuple[float, float]]


@dataclass
class Speedrun:
    """A speed run's results; :meth:`to_dict` is ``speedrun.json``."""

    recipe: Recipe
    target: float
    threads: int
    device: str
    load_seconds: float
    warmup_seconds: float
    runs: list[SeedRun] = field(default_factory=list)
    load_average: list[list[float]] = field(default_factory=list)  # os.getloadavg() before and after

    @property
    def accuracy(self) -> list[float]:
        return [r.accuracy for r in self.runs]

    @property
    def train_seconds(self) -> list[float]:
        return [r.train_seconds for r in self.runs]

    @property
    def mean_accuracy(self) -> float:
        return statistics.fmean(self.accuracy)

    @property
    def mean_train_seconds(self) -> float:
        return statistics.fmean(self.train_seconds)

    @property
    def reached(self) -> bool:
        return self.mean_accuracy >= self.target

    def to_dict(self) -> dict[str, Any]:
        def std(values: list[float]) -> float | None:
            return statistics.stdev(values) if len(values) > 1 else None

        return {
            "dataset": self.recipe.dataset,
            "recipe": self.recipe.name,
            "recipe_source": self.recipe.source,
            "target": self.target,
            "seeds": [r.seed for r in self.runs],
            "accuracy": self.accuracy,
            "train_seconds": self.train_seconds,
            "mean_accuracy": self.mean_accuracy,
            "std_accuracy": std(self.accuracy),
            "mean_train_seconds": self.mean_train_seconds,
            "std_train_seconds": std(self.train_seconds),
            "reached_target": self.reached,
            "threads": self.threads,
            "device": self.device,
            "load_seconds": self.load_seconds,
            "warmup_seconds": self.warmup_seconds,
            "load_average": self.load_average,
            "steps": [r.steps for r in self.runs],
            "run_dirs": [r.run_dir for r in self.runs],
            "curves": [r.curve for r in self.runs],
            "config": self.recipe.config.to_dict(),
            "versions": versions(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


def versions() -> dict[str, str]:
    import numpy

    return {
        "optlab": optlab.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
    }


def default_out_dir(recipe: Recipe) -> Path:
    """A new folder under ``RUNS/speedruns/`` named by the UTC time and the recipe."""
    from optlab.train import runs

    root = runs.runs_root() / "speedruns"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path, n = root / f"{stamp}-{recipe.name}", 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{recipe.name}-{n}"
    return path


def run(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    seeds: int | None = None,
    first_seed: int = 0,
    target: float | None = None,
    threads: int | None = None,
    dataset: Any = None,
    index: bool | str | Path = True,
    on_seed: Callable[[SeedRun], None] | None = None,
) -> Speedrun:
    """Train ``recipe`` for ``seeds`` seeds (default: the recipe's) ``first_seed, first_seed + 1, ...``, each
    through :func:`optlab.train.train` into ``out_dir/seed-N``, and write ``out_dir/speedrun.json``.

    ``threads`` sets torch's intra-op threads for the run (default: the recipe's, else torch's: the number of
    cores; restored afterwards); ``dataset`` replaces loading by name (tests pass a small one); ``on_seed``
    is called after each seed. Raises :class:`ConfigError` when ``out_dir`` already holds a speed run."""
    out_dir = Path(out_dir)
    if (out_dir / "speedrun.json").exists():
        raise ConfigError(f"{out_dir} already holds a speed run (speedrun.json); pick another --out")
    threads = threads if threads is not None else recipe.threads
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        from optlab import data
        from optlab.train import core, loop, resolve_device, train
        from optlab.train.device import describe_device

        # the machine's 1, 5, 15-minute load: a timing under load is not one
        load_before = list(os.getloadavg())
        device = resolve_device(recipe.config.device)
        config = recipe.config.replace(device=str(device))

        started = time.perf_counter()
        if dataset is None:
            dataset = data.load(config.dataset, data_dir=config.data_dir, validation=config.validation)
        dataset = dataset.to(device)
        load_seconds = time.perf_counter() - started

        # One-off set-up (kernel primitives, first-touch allocations) on a throw-away model, so that the first
        # seed's time is not inflated by it; build() reseeds every run, so this changes no seed's numbers.
        started = time.perf_counter()
        parts = loop.build(config.replace(max_steps=WARMUP_STEPS), dataset, device)
        core.fit(
            parts.model, parts.optimizer, parts.batcher, parts.schedule, epochs=1, max_steps=WARMUP_STEPS,
            net=loop.forward_net(parts.model, config), transform=parts.transform, loss_fn=parts.loss_fn,
        )  # fmt: skip
        warmup_seconds = time.perf_counter() - started
        del parts

        result = Speedrun(
            recipe,
            recipe.target if target is None else target,
            torch.get_num_threads(),
            describe_device(device),
            load_seconds,
            warmup_seconds,
        )
        result.load_average.append(load_before)
        for seed in range(first_seed, first_seed + (seeds or recipe.seeds)):
            seed_config = config.replace(seed=seed, description=f"speedrun-{recipe.name}-seed{seed}")
            run_dir = out_dir / f"seed-{seed}"
            trained = train(seed_config, run_dir, dataset=dataset, quiet=True, index=index)
            eval_name = "val" if dataset.val is not None else "test"
            seconds = accumulate(row["epoch_time"] for row in trained.metrics)  # training seconds so far
            curve = [(t, row[f"{eval_name}_acc"]) for t, row in zip(seconds, trained.metrics, strict=True)]
            seed_run = SeedRun(
                seed, curve[-1][1], curve[-1][0], trained.summary["steps"], str(run_dir), curve
            )
            result.runs.append(seed_run)
            if on_seed is not None:
                on_seed(seed_run)
        result.load_average.append(list(os.getloadavg()))
        write_json(out_dir / "speedrun.json", result.to_dict())
        plot(result, out_dir / "speedrun.png")
        return result
    finally:
        torch.set_num_threads(before)


def plot(result: Speedrun, path: str | Path) -> Path:
    """The learning curves against training time: test accuracy after each epoch of each seed over the
    seconds of updates so far, and the target (``speedrun.png``)."""
    from optlab._io import pyplot, save_figure

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.6))
    for seed_run in result.runs:
        seconds, accuracy = zip(*seed_run.curve, strict=True)
        axes.plot(seconds, [100 * a for a in accuracy], marker="o", lw=1, label=f"seed {seed_run.seed}")
    axes.axhline(100 * result.target, color="black", ls="--", lw=1, label=f"target {100 * result.target:g} %")
    axes.set_xlabel("training time (s): updates only, first to last")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(f"speed run {result.recipe.name} on {result.device}", fontsize=9)
    points = [100 * a for r in result.runs for _, a in r.curve] + [100 * result.target]
    axes.set_ylim(max(min(points) - 1, 0), min(max(points) + 1, 100))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    return save_figure(figure, path)
