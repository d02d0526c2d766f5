"""A short mini-batch training loop for the data experiments of the lecture (B4, B6, B7).

``optlab.train.train`` is the user-facing loop (run folders, checkpoints, resume). The experiments need
things its config does not express — any ``step -> lr`` schedule object (e.g. a constant warm-up), starting
from given weights (SWAP's second phase), a hook after every update that can read the optimizer's state
(Adam's v̂ for RAdam's argument), and stopping "when the training loss stops improving" (Keskar et al.) —
and they run hundreds of short trainings, where a checkpoint per epoch is wasted time. So this is the same
update, written once more, flat: set lr from the schedule, forward, cross-entropy, backward, optimizer step;
after each epoch one evaluation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from optlab.data import Batcher, Dataset, Split
from optlab.train import evaluate as _evaluate

__all__ = ["FitResult", "evaluate", "fit", "subset"]


def evaluate(model: nn.Module, split: Split, batch_size: int = 4096) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on ``split`` in eval mode: the trainer's own evaluation."""
    return _evaluate(model, split, batch_size)


@dataclass
class FitResult:
    """What one training run produced: per-epoch rows, the number of updates, wall time and why it stopped."""

    history: list[dict[str, float]] = field(default_factory=list)
    updates: int = 0
    wall_time: float = 0.0
    stopped: str = "budget"  # "budget", "plateau" or "diverged"

    @property
    def diverged(self) -> bool:
        return self.stopped == "diverged"

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def subset(dataset: Dataset, train_size: int | None, test_size: int | None, seed: int = 0) -> Dataset:
    """The first ``train_size`` / ``test_size`` examples of a fixed random permutation (all when None)."""

    def take(split: Split, size: int | None) -> Split:
        if size is None or size >= len(split.y):
            return split
        perm = torch.randperm(len(split.y), generator=torch.Generator().manual_seed(seed))[:size]
        return Split(split.x[perm], split.y[perm])

    return Dataset(
        dataset.name,
        take(dataset.train, train_size),
        take(dataset.test, test_size),
        None,
        dataset.num_classes,
        dataset.class_names,
    )


def fit(
    model: nn.Module,
    dataset: Dataset,
    optimizer: torch.optim.Optimizer,
    schedule: Callable[[int], float],
    batch_size: int,
    epochs: int,
    *,
    seed: int = 0,
    patience: int | None = None,
    min_improvement: float = 0.01,
    on_update: Callable[[int, torch.optim.Optimizer], None] | None = None,
    eval_train: bool = True,
    max_updates: int | None = None,
    min_loss: float | None = None,
) -> FitResult:
    """Train ``model`` in place on ``dataset.train`` (on the model's device) for up to ``epochs`` epochs.

    Data order: a :class:`~optlab.data.Batcher` reshuffled every epoch from ``seed``; the last, short batch
    is dropped when a batch is at least 10 % of the set (so that every large-batch update has the same size).
    ``patience``: stop once the full training loss (eval mode, measured after each epoch) has not fallen
    below ``(1 − min_improvement) ×`` its best for ``patience`` epochs — "trained until the training loss
    stops improving". A non-finite loss stops the run with ``stopped="diverged"``.
    ``on_update(step, optimizer)`` runs after every update (step = 1 for the first); ``max_updates`` ends the
    run after that many updates; ``min_loss`` stops it (``stopped="fitted"``) once the full training loss is
    below that value (the data are fitted: further updates mostly scale the logits up). Each history row
    holds epoch, updates, lr, train_loss, train_acc (full
    training set, eval mode; the running mini-batch mean when ``eval_train`` is False), test_loss, test_acc
    and the cumulative training time (seconds, evaluations excluded).
    """
    batcher = Batcher(
        dataset.train, batch_size, shuffle=True, drop_last=batch_size * 10 >= len(dataset.train.y), seed=seed
    )
    result = FitResult()
    best, since_best, step, train_time = math.inf, 0, 0, 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        running = torch.zeros(2, device=params[0].device)
        lr = schedule(step)
        for x, y in batcher:
            lr = schedule(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            running += torch.stack((loss.detach(), (logits.argmax(1) == y).float().mean()))
            if on_update is not None:
                on_update(step, optimizer)
            if max_updates is not None and step >= max_updates:
                break
        if params[0].device.type == "cuda":
            torch.cuda.synchronize()
        train_time += time.perf_counter() - t0
        batches = max(len(batcher), 1)
        if eval_train:
            train_loss, train_acc = evaluate(model, dataset.train)
        else:
            train_loss, train_acc = (float(v) / batches for v in running.tolist())
        test_loss, test_acc = evaluate(model, dataset.test)
        result.history.append(
            {
                "epoch": epoch,
                "updates": step,
                "lr": float(lr),
                "train_loss": train_loss,
                "train_acc": train_acc,
                "test_loss": test_loss,
                "test_acc": test_acc,
                "train_time": train_time,
            }
        )
        if not math.isfinite(train_loss) or not all(bool(torch.isfinite(p).all()) for p in params):
            result.stopped = "diverged"
            break
        if train_loss < best * (1 - min_improvement):
            best, since_best = train_loss, 0
        else:
            since_best += 1
        if min_loss is not None and train_loss < min_loss:
            result.stopped = "fitted"
            break
        if patience is not None and since_best >= patience:
            result.stopped = "plateau"
            break
        if max_updates is not None and step >= max_updates:
            break
    result.updates = step
    result.wall_time = time.perf_counter() - started
    return result


def device() -> torch.device:
    """CUDA when present, else CPU: the experiments run unchanged on either."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU ({torch.get_num_threads()} threads)"
