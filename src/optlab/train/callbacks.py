"""Callbacks: objects with optional ``on_step(state)`` and ``on_epoch(state)`` methods.

The trainer calls ``on_step`` after every update and ``on_epoch`` after every epoch's evaluation, passing the
one :class:`TrainState` it keeps up to date. A callback may read anything in it (the model, the optimizer, the
batch just used, the loss as a device tensor) and may set ``state.stop = True`` to end the run after the
current update; it must leave the model's parameters and the global RNG as it found them if the run is to stay
reproducible (measure's noise-scale and Hessian trackers work on copies or restore what they change).

``on_step`` is only dispatched when some callback defines it, so runs without step callbacks pay nothing per
step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@dataclass
class TrainState:
    """What the loop knows at a callback: updated in place, not copied."""

    config: Any  # the run's TrainConfig (None outside a run shell)
    model: nn.Module
    optimizer: torch.optim.Optimizer
    dataset: Any  # None outside a run shell
    device: torch.device
    step: int = 0  # updates done so far
    epoch: int = 0  # epochs completed (during an epoch: the index of the current one)
    lr: float = 0.0  # learning rate of the last update
    x: torch.Tensor | None = None  # the last batch's inputs
    y: torch.Tensor | None = None  # the last batch's targets
    loss: torch.Tensor | None = None  # the last batch's loss (a device tensor: .item() only if you need it)
    metrics: dict[str, Any] = field(default_factory=dict)  # the last epoch's row (set before on_epoch)
    history: list[dict[str, Any]] = field(default_factory=list)  # all epoch rows so far
    stop: bool = False  # set True to end the run after this update
    epochs: int = 0  # epochs the run takes unless stopped (--epochs, or as many as --max-steps needs)
    stopped: str | None = None  # why a callback set ``stop`` (e.g. "plateau"), for FitResult.stopped
    stats: Any = None  # the epoch's running statistics (an EpochStats), kept by the core loop
    epoch_time: float = 0.0  # seconds of updates so far in this epoch


@runtime_checkable
class Callback(Protocol):
    """Documentation of the hooks; a callback needs only the ones it uses (duck typing, no base class)."""

    def on_step(self, state: TrainState) -> None: ...

    def on_epoch(self, state: TrainState) -> None: ...


def hooks(callbacks: tuple[Any, ...] | list[Any], name: str) -> list[Any]:
    """The bound ``name`` methods of the callbacks that define it."""
    return [getattr(cb, name) for cb in callbacks if callable(getattr(cb, name, None))]
