"""SWAP — Stochastic Weight Averaging in Parallel (Gupta, Serrano & DeCoste, ICLR 2020, Algorithm 1).

1. Phase 1: train one model with a large batch (fast: few, well-parallelised updates) until it is good on
   the training set, but not yet at its best on the test set.
2. Phase 2: from that one point, W workers each continue with a *small* batch and their own data order, with
   no communication between them. In the paper they run on separate GPUs, so phase 2 costs one worker's
   time.
3. Phase 3: average the W workers' weights, θ = (1/W)·Σ_w θ_w, and recompute the BatchNorm statistics of the
   averaged model on the training data (averaged weights do not match any worker's running statistics).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from optlab.data import Dataset
from optlab.experiments.framework import batcher
from optlab.measure.landscape import recompute_bn_statistics
from optlab.train import FitResult, evaluate, evaluator, fit

__all__ = ["SwapResult", "average_states", "swap_phase2"]


@dataclass
class SwapResult:
    """The averaged model, each worker's run and test accuracy, and the phase-2 wall times."""

    model: nn.Module
    workers: list[FitResult] = field(default_factory=list)
    worker_test_acc: list[float] = field(default_factory=list)

    @property
    def parallel_time(self) -> float:
        """Phase 2 on W devices at once: the slowest worker."""
        return max((w.train_time for w in self.workers), default=0.0)

    @property
    def sequential_time(self) -> float:
        """Phase 2 with the workers one after the other, as on this one machine."""
        return sum(w.train_time for w in self.workers)


def average_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of floating-point entries; integer ones (``num_batches_tracked``) from the first."""
    if not states:
        raise ValueError("average_states: no states to average")
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = torch.stack([s[key].to(first.dtype) for s in states]).mean(0)
        else:
            out[key] = first.clone()
    return out


def swap_phase2(
    model: nn.Module,
    dataset: Dataset,
    make_optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    schedule: Callable[[int], float],
    batch_size: int,
    epochs: int,
    workers: int,
    seed: int,
) -> SwapResult:
    """SWAP's phases 2 and 3 from ``model`` (the phase-1 solution, left unchanged).

    Worker w trains a copy with ``make_optimizer`` (a fresh optimizer: the workers share nothing but the
    start),
    data order seed ``seed·1000 + w + 1``; then the copies' weights are averaged and the BatchNorm statistics
    recomputed on the training set (:func:`optlab.measure.landscape.recompute_bn_statistics`).
    """
    if workers < 1:
        raise ValueError(f"swap_phase2: workers must be >= 1, got {workers}")
    result = SwapResult(model=copy.deepcopy(model))
    states = []
    for w in range(workers):
        worker = copy.deepcopy(model)
        optimizer = make_optimizer([p for p in worker.parameters() if p.requires_grad])
        order = batcher(dataset.train, batch_size, seed * 1000 + w + 1)
        run = fit(
            worker, optimizer, order, schedule, epochs=epochs, evaluate=evaluator(test=dataset.test),
            on_nonfinite="stop",
        )  # fmt: skip
        result.workers.append(run)
        result.worker_test_acc.append(evaluate(worker, dataset.test)[1])
        states.append({k: v.detach() for k, v in worker.state_dict().items()})
    result.model.load_state_dict(average_states(states))
    recompute_bn_statistics(result.model, dataset.train.x)
    return result
