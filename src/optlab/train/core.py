"""The core training loop: model, optimizer, batcher, a ``step -> lr`` schedule and callbacks in, history out.

One page, in the spirit of nanoGPT's ``train.py``. One update is: set the learning rate from the schedule (a
pure function of the step), (optionally) augment the batch, forward, loss (cross-entropy unless given),
backward, (every k-th update) the gradient norm, optimizer step. Statistics stay on the device and are read
back once per epoch and every ``CHECK_EVERY`` updates (to catch a non-finite loss early), so small batches
are not slowed down by host syncs. After each epoch: ``evaluate(model)`` (e.g. :func:`evaluator`), one
history row, then the ``on_epoch`` callbacks.

Everything else is a callback or an argument: run folders, checkpoints, the CSV and TensorBoard loggers, the
progress bar (:func:`optlab.train.train`, the run shell), plateau stopping (:class:`Plateau`), per-update
measurements (``on_step``), starting weights (pass a model holding them). Callbacks' time is not training
time.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from optlab.errors import OptlabError
from optlab.train import distributed
from optlab.train.callbacks import TrainState, hooks
from optlab.train.stats import EpochStats, grad_norm_every

CHECK_EVERY = 50  # updates between host syncs that look for a non-finite loss
clock = time.perf_counter  # times the updates; benchmarks/train_loop.py may swap in time.process_time


class Diverged(OptlabError):
    """The loss, a gradient or a parameter became nan/inf (by update ``step``, in epoch ``epoch + 1``)."""

    def __init__(self, step: int, epoch: int):
        super().__init__(f"loss became nan/inf by update {step} (epoch {epoch + 1})")
        self.step, self.epoch = step, epoch


@dataclass
class FitResult:
    """What :func:`fit` did: the epoch rows, updates done, seconds spent in updates (evaluations and callbacks
    excluded) and why it ended: ``budget`` (epochs or steps), ``diverged``, or the reason a callback gave
    (``plateau``, ``fitted``; ``callback`` when it gave none)."""

    history: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    train_time: float = 0.0
    stopped: str = "budget"

    @property
    def diverged(self) -> bool:
        return self.stopped == "diverged"

    @property
    def final(self) -> dict[str, Any]:
        return self.history[-1] if self.history else {}

    @property
    def train_times(self) -> list[float]:
        """Seconds of updates from the start to the end of each epoch (the rows' epoch_time, summed up)."""
        return list(itertools.accumulate(row["epoch_time"] for row in self.history))


@torch.no_grad()
def evaluate(model: nn.Module, split: Any, batch_size: int = 4096, tta: bool = False) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``split`` (eval mode, batched, one host sync).

    ``tta``: test-time augmentation, the logits are the mean of those of each example and of its mirror
    image (flipped along the last axis, as :func:`optlab.data.augment.flip` does in training)."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=split.x.device)
    correct = torch.zeros((), device=split.x.device, dtype=torch.long)
    for start in range(0, len(split), batch_size):
        x, y = split.x[start : start + batch_size], split.y[start : start + batch_size]
        logits = model(x)
        if tta:
            logits = (logits + model(x.flip(-1))) / 2
        loss_sum += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    model.train(was_training)
    n = max(len(split), 1)
    loss, hits = torch.stack((loss_sum, correct.to(loss_sum.dtype))).tolist()
    return loss / n, hits / n


def evaluator(
    batch_size: int = 4096, *, tta: bool = False, **splits: Any
) -> Callable[[nn.Module], dict[str, float]]:
    """``evaluator(val=dataset.val)`` → ``model -> {"val_loss": …, "val_acc": …}`` for :func:`fit`'s rows.
    A ``train=`` split measures the whole training set in eval mode, replacing the running mini-batch
    means. ``tta``: with flip test-time augmentation (:func:`evaluate`)."""

    def measure(model: nn.Module) -> dict[str, float]:
        row = {}
        for name, split in splits.items():
            row[f"{name}_loss"], row[f"{name}_acc"] = evaluate(model, split, batch_size, tta)
        return row

    return measure


def finite(stats: EpochStats, params: Sequence[torch.Tensor] | None = None) -> bool:
    """Are the epoch's loss and gradient sums (and ``params``, if given) finite? One host sync."""
    ok = stats.finite()
    if ok and params:
        ok = bool(torch.stack([p.detach().isfinite().all() for p in params]).all())
    return ok


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batcher: Any,
    schedule: Callable[[int], float],
    *,
    epochs: int,
    max_steps: int | float = math.inf,
    callbacks: Sequence[Any] = (),
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    state: TrainState | None = None,
    net: nn.Module | None = None,
    on_nonfinite: str = "raise",
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> FitResult:
    """Train ``model`` in place for ``epochs`` passes of ``batcher`` or ``max_steps`` updates, whichever
    ends first.

    ``state`` carries a resumed run (step, epoch, history, partial epoch statistics); ``net`` is what the
    forward pass calls (a DDP wrapper of ``model``). A non-finite loss raises :class:`Diverged`
    (``on_nonfinite="raise"``) or ends the run after recording its epoch (``"stop"``, ``stopped="diverged"``).
    ``transform`` maps each batch's inputs before the forward pass (augmentation, e.g.
    :class:`optlab.data.augment.Augment`); ``loss_fn(logits, y)`` is the training loss (default
    cross-entropy; the statistics record it). Each row: epoch, step (updates so far), lr, train_loss,
    train_acc, grad_norm, the ``evaluate`` keys, updates (this epoch), time_per_update and epoch_time
    (seconds), eval_time."""
    params = [p for p in model.parameters() if p.requires_grad]
    if state is None:
        state = TrainState(None, model, optimizer, None, params[0].device)
    if state.stats is None:
        state.stats = EpochStats(params[0].device)
    stats, net, state.epochs = state.stats, net or model, epochs
    loss_fn = loss_fn or F.cross_entropy
    norm_every = grad_norm_every(len(batcher))
    on_step, on_epoch = hooks(callbacks, "on_step"), hooks(callbacks, "on_epoch")
    result = FitResult(state.history, state.step)
    step, lr, diverged = state.step, schedule(max(state.step - 1, 0)), False
    while state.epoch < epochs and step < max_steps and not (state.stop or diverged):
        model.train()
        t0 = clock()
        # A checkpoint taken after the epoch's last batch resumes with nothing left of that epoch.
        for x, y in batcher if batcher.position < len(batcher) else ():
            lr = schedule(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            if transform is not None:
                x = transform(x)
            logits = net(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if step % norm_every == 0:
                stats.record_grad_norm(params)
            optimizer.step()
            stats.record(loss, logits, y)  # references only: no kernel, no host sync
            step += 1
            if on_step:
                state.epoch_time += clock() - t0
                state.step, state.lr, state.x, state.y, state.loss = step, lr, x, y, loss.detach()
                for hook in on_step:
                    hook(state)
                t0 = clock()
            if step % CHECK_EVERY == 0 and not stats.finite():
                diverged = True
                break
            if step >= max_steps or state.stop:
                break
        diverged = diverged or not finite(stats, params)  # also waits for the last update
        state.epoch_time += clock() - t0
        state.step, state.lr = step, lr
        if diverged and on_nonfinite == "raise":
            raise Diverged(step, state.epoch)
        t_eval = time.perf_counter()
        row = {
            "epoch": state.epoch + 1,
            "step": step,
            "lr": lr,
            **distributed.epoch_means(stats),  # train_loss, train_acc, grad_norm over all ranks
            **(evaluate(model) if evaluate is not None else {}),
            "updates": stats.updates,
            "time_per_update": state.epoch_time / max(stats.updates, 1),
            "epoch_time": state.epoch_time,
        }
        row["eval_time"] = time.perf_counter() - t_eval
        # A full-set evaluation (evaluator(train=…)) can overflow where the running means did not.
        diverged = diverged or not math.isfinite(row.get("train_loss", 0.0))
        state.epoch += 1
        state.history.append(row)
        result.train_time += state.epoch_time
        stats.reset()
        state.epoch_time, state.metrics = 0.0, row
        for hook in on_epoch:
            hook(state)
    result.steps = step
    if diverged:
        result.stopped = "diverged"
    elif state.stop:
        result.stopped = state.stopped or "callback"
    return result


class Plateau:
    """Stop once the training loss has not fallen below ``(1 − min_improvement) ×`` its best for ``patience``
    epochs ("trained until the training loss stops improving", Keskar et al. 2017), or (``min_loss``) once it
    is below ``min_loss``: the data are fitted, and further updates mostly scale the logits up."""

    def __init__(
        self, patience: int | None = None, min_improvement: float = 0.01, min_loss: float | None = None
    ):
        self.patience, self.min_improvement, self.min_loss = patience, min_improvement, min_loss
        self.best, self.since_best = math.inf, 0

    def on_epoch(self, state: TrainState) -> None:
        loss = state.metrics["train_loss"]
        if loss < self.best * (1 - self.min_improvement):
            self.best, self.since_best = loss, 0
        else:
            self.since_best += 1
        if self.min_loss is not None and loss < self.min_loss:
            state.stop, state.stopped = True, "fitted"
        elif self.patience is not None and self.since_best >= self.patience:
            state.stop, state.stopped = True, "plateau"


class OnUpdate:
    """Calls ``function(step, optimizer)`` after every update (step = 1 for the first)."""

    def __init__(self, function: Callable[[int, torch.optim.Optimizer], None]):
        self.function = function

    def on_step(self, state: TrainState) -> None:
        self.function(state.step, state.optimizer)


class Autocast(nn.Module):
    """``net`` run under ``torch.autocast(device_type, dtype)`` (mixed precision: matrix products and
    convolutions in ``dtype``), returning float32 outputs so that the loss and the statistics stay float32.
    :func:`fit`'s forward pass (its ``net``); the weights, the optimizer step and evaluation stay float32."""

    def __init__(self, net: nn.Module, device_type: str, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        self.net, self.device_type, self.dtype = net, device_type, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=self.dtype):
            return self.net(x).float()
