"""Time per update and per epoch against batch size, on this model and this hardware.

The lecture's argument for mini-batches: while the hardware is not yet saturated, a bigger batch costs
(almost) no more time per update, so the time per *epoch* falls ∝ 1/B; once it is saturated, time per update
grows ∝ B and the time per epoch stops falling. Where that happens depends on the model and the machine, so we
measure it.

One update is ``zero_grad → forward → loss → backward → optimizer.step`` on a batch that already sits on the
device (as the in-memory data pipelines of this project do). Each batch size gets a fresh model and optimizer,
``warmup`` untimed updates (allocator, caches, lazy optimizer state); then up to ``repeats`` rounds, each
timing one update of every batch size in turn (stopping after ``max_seconds`` per batch size); we report the
median and the interquartile range. On CUDA every timed update ends with ``torch.cuda.synchronize()`` so
the kernels' time is counted, not just their launch. Time per epoch is derived: median time per update ×
⌈N/B⌉ updates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure._common import (
    LossFn,
    Progress,
    as_tensors,
    batch_size_axis,
    new_figure,
    save_figure,
)
from optlab.train.device import resolve_device

OptimizerSpec = str | Callable[[list[nn.Parameter]], torch.optim.Optimizer]  # a name, or a factory
STATISTICS = ("median", "min")
FLAT_FACTOR = 2.0  # "time per update stops being flat": it exceeds this multiple of the small-batch time


@dataclass(frozen=True)
class TimingRow:
    batch_size: int
    update_s: float  # seconds per update: the median (or the minimum, with statistic="min")
    update_s_q25: float
    update_s_q75: float
    update_s_min: float  # the fastest timed update (robust to load from other processes)
    updates_per_epoch: int
    epoch_s: float  # update_s × updates_per_epoch
    examples_per_s: float
    repeats: int  # timed updates


@dataclass(frozen=True)
class Timing:
    rows: list[TimingRow]
    device: str
    optimizer: str
    examples: int  # N, the size of one epoch
    knee_batch_size: int | None  # first batch size whose update takes > FLAT_FACTOR × the smallest batch's
    flat_up_to: int  # the largest measured batch size before the knee
    skipped: dict[int, str] = field(default_factory=dict)  # batch size → why it could not be timed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_optimizer(
    optimizer: OptimizerSpec,
    params: list[nn.Parameter],
    lr: float | None,
) -> torch.optim.Optimizer:
    """An optimizer from a registry name (``optlab.optim.create``) or from a callable ``params ->
    Optimizer``."""
    if callable(optimizer):
        return optimizer(params)
    from optlab import optim

    hparams = {} if lr is None else {"lr": lr}
    return optim.create(optimizer, params, **hparams)


def default_loss(y: torch.Tensor) -> LossFn:
    """Cross-entropy for class indices, mean squared error for real-valued targets."""
    return nn.MSELoss() if y.dtype.is_floating_point else nn.CrossEntropyLoss()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _update_fn(
    model_fn: Callable[[], nn.Module],
    optimizer: OptimizerSpec,
    lr: float | None,
    loss_fn: LossFn,
    xb: torch.Tensor,
    yb: torch.Tensor,
) -> Callable[[], None]:
    """One training update on a fixed batch (on its device), with a model and optimizer of its own."""
    model = model_fn().to(xb.device)
    model.train()
    opt = make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr)

    def update() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        opt.step()

    return update


def time_per_update(
    model_fn: Callable[[], nn.Module],
    dataset: Any,
    batch_sizes: Sequence[int],
    optimizer: OptimizerSpec = "sgd",
    device: str | torch.device | None = "cpu",
    *,
    lr: float | None = None,
    loss_fn: LossFn | None = None,
    warmup: int = 3,
    repeats: int = 30,
    max_seconds: float = 3.0,
    seed: int = 0,
    threads: int | None = None,
    statistic: str = "median",
    progress: Progress | None = None,
) -> Timing:
    """Median time per update, time per epoch and examples/s for each batch size.

    Args:
        model_fn: builds a fresh model (called once per batch size).
        dataset: ``(X, Y)``, an optlab ``Split`` or ``Dataset`` (its training split; N = its size).
        batch_sizes: the batch sizes to time (any positive integers; larger than N samples with replacement).
        optimizer: a name from ``optlab.optim.names()`` or a callable ``params -> Optimizer``.
        lr: the learning rate (default: the registry's). Time does not depend on it, except through NaNs.
        warmup, repeats, max_seconds: untimed updates; rounds of timed updates at most; time budget per
            batch size.
        threads: CPU only: torch's intra-op threads during the measurement (default: unchanged). On a machine
            shared with other jobs, 1 avoids the stalls of OpenMP threads waiting for a busy core.
        statistic: "median" (default) or "min" — the fastest update, the usual estimate of the intrinsic cost
            when other processes keep interrupting (as ``timeit`` recommends).

    Returns a :class:`Timing`; ``knee_batch_size`` is the first batch size whose update takes more than
    ``FLAT_FACTOR`` × the smallest batch size's (``None`` if none does).
    """
    sizes = sorted({int(b) for b in batch_sizes})
    if not sizes or sizes[0] < 1:
        raise ConfigError(f"invalid batch sizes: {list(batch_sizes)!r} (need integers >= 1)")
    if not (isinstance(repeats, int) and repeats >= 3):
        raise ConfigError(f"invalid repeats: {repeats!r} (must be an integer >= 3)")
    device = resolve_device(device)
    x, y = as_tensors(dataset)
    loss_fn = loss_fn or default_loss(y)
    if threads is not None and not (isinstance(threads, int) and threads >= 1):
        raise ConfigError(f"invalid threads: {threads!r} (an integer >= 1)")
    if statistic not in STATISTICS:
        raise ConfigError(f"invalid statistic: {statistic!r} (valid: {', '.join(STATISTICS)})")
    saved_threads = torch.get_num_threads()
    if threads is not None and device.type == "cpu":
        torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(seed)
    skipped: dict[int, str] = {}
    updates: dict[int, Callable[[], None]] = {}
    try:
        for batch_size in sizes:  # build every batch size's model, optimizer and batch, and warm each up
            if batch_size <= len(x):
                index = torch.randperm(len(x), generator=generator)[:batch_size]
            else:
                index = torch.randint(0, len(x), (batch_size,), generator=generator)
            torch.manual_seed(seed)
            update = _update_fn(model_fn, optimizer, lr, loss_fn, x[index].to(device), y[index].to(device))
            try:
                for _ in range(warmup):
                    update()
                _sync(device)
            except (RuntimeError, ValueError) as error:
                # e.g. BatchNorm cannot train on one example; out of memory
                text = str(error).strip()
                skipped[batch_size] = text.splitlines()[0] if text else type(error).__name__
                continue
            updates[batch_size] = update
        if not updates:
            reasons = "; ".join(f"B={b}: {why}" for b, why in skipped.items())
            raise ConfigError(f"no batch size could be timed ({reasons})")
        # Rounds over all batch sizes (one timed update each) rather than one batch size after another: a
        # burst of load from other processes then slows every batch size alike instead of distorting one
        # point.
        times: dict[int, list[float]] = {b: [] for b in updates}
        budget_start = time.perf_counter()
        budget = max_seconds * len(updates)
        for done in range(repeats):
            if done >= 3 and time.perf_counter() - budget_start > budget:
                break
            for batch_size, update in updates.items():
                start = time.perf_counter()
                update()
                _sync(device)
                times[batch_size].append(time.perf_counter() - start)
            if progress is not None:
                progress(done + 1, repeats)
    finally:
        torch.set_num_threads(saved_threads)
    rows: list[TimingRow] = []
    for batch_size, samples in times.items():
        typical = float(np.median(samples) if statistic == "median" else np.min(samples))
        updates_per_epoch = math.ceil(len(x) / batch_size)
        rows.append(
            TimingRow(
                batch_size=batch_size,
                update_s=typical,
                update_s_q25=float(np.percentile(samples, 25)),
                update_s_q75=float(np.percentile(samples, 75)),
                update_s_min=float(np.min(samples)),
                updates_per_epoch=updates_per_epoch,
                epoch_s=typical * updates_per_epoch,
                examples_per_s=batch_size / typical,
                repeats=len(samples),
            )
        )
    knee, flat = find_knee(rows)
    if not isinstance(optimizer, str):
        optimizer = getattr(optimizer, "__name__", type(optimizer).__name__)
    return Timing(rows, str(device), optimizer, len(x), knee, flat, skipped)


def timing_spread(result: Timing) -> float:
    """The median over batch sizes of q75/q25 of the update times: near 1 on an idle machine."""
    return float(np.median([r.update_s_q75 / r.update_s_q25 for r in result.rows]))


NOISY_SPREAD = 1.5  # above this the timings are dominated by other load: say so


def find_knee(rows: Sequence[TimingRow], factor: float = FLAT_FACTOR) -> tuple[int | None, int]:
    """(the knee, the largest batch size before it).

    The knee is the smallest batch size from which on *every* measured batch size's update takes more than
    ``factor`` × the smallest batch size's: a single slow outlier (a burst of load from another process) does
    not end the flat region, and on a monotone curve this is simply the first batch size beyond the threshold.
    """
    ordered = sorted(rows, key=lambda r: r.batch_size)
    threshold = factor * ordered[0].update_s
    knee_index = len(ordered)
    while knee_index > 1 and ordered[knee_index - 1].update_s > threshold:
        knee_index -= 1
    if knee_index == len(ordered):
        return None, ordered[-1].batch_size
    return ordered[knee_index].batch_size, ordered[knee_index - 1].batch_size


def plot_timing(result: Timing, path: str | Path, title: str = "") -> None:
    """Log-log: seconds per update and seconds per epoch against batch size, the 2× line and the knee."""
    figure, axes = new_figure(figsize=(6.5, 4.5))
    b = np.array([r.batch_size for r in result.rows])
    update = np.array([r.update_s for r in result.rows])
    epoch = np.array([r.epoch_s for r in result.rows])
    low = np.array([r.update_s_q25 for r in result.rows])
    high = np.array([r.update_s_q75 for r in result.rows])
    axes.loglog(b, update, "o-", color="C0", label="time per update")
    axes.fill_between(b, low, high, color="C0", alpha=0.2, lw=0)
    axes.loglog(b, epoch, "s-", color="C1", label=f"time per epoch (N = {result.examples})")
    axes.axhline(
        FLAT_FACTOR * update[0], color="C0", ls=":", lw=0.8, label=f"{FLAT_FACTOR:g}× small-batch update"
    )
    if result.knee_batch_size is not None:
        axes.axvline(
            result.knee_batch_size, color="gray", ls="--", lw=0.8, label=f"knee B = {result.knee_batch_size}"
        )
    batch_size_axis(axes, b)
    axes.set_ylabel("seconds")
    axes.set_title(title or f"{result.optimizer} on {result.device}", fontsize=10)
    axes.legend(fontsize=8)
    save_figure(figure, path)
