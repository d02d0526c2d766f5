"""Helpers shared by the measurement tools: data as tensors, eval mode, chunked losses and gradients, files.

Every measurement here is a function of the *parameters* of a model on a fixed set of examples. We evaluate
the model in eval mode (BatchNorm uses its running statistics, dropout is off): then the loss is a
deterministic function of the parameters, and per-example gradients are independent of which other examples
share the batch, which the noise-scale estimator and the Hessian's symmetry both assume. The training/eval
flags are restored afterwards.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optlab import _io
from optlab.errors import ConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Progress = Callable[[int, int], None]  # (done, total)
TaskProgress = Callable[[str, int, int], None]  # (task, done, total): one progress bar per task name


def for_task(progress: TaskProgress | None, task: str) -> Progress | None:
    """``progress`` for one named task, as the ``(done, total)`` callback the measurements take."""
    return None if progress is None else (lambda done, total: progress(task, done, total))


def as_tensors(data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, Y)`` from an ``(X, Y)`` pair, an optlab ``Split`` or ``Dataset`` (its train split)."""
    if isinstance(data, tuple | list) and len(data) == 2:
        x, y = data
    elif hasattr(data, "train") and hasattr(data.train, "x"):
        x, y = data.train.x, data.train.y
    elif hasattr(data, "x") and hasattr(data, "y"):
        x, y = data.x, data.y
    else:
        raise ConfigError(f"expected an (X, Y) pair, an optlab Split or Dataset, got {type(data).__name__}")
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise ConfigError("X and Y must be torch tensors")
    if len(x) != len(y) or len(x) == 0:
        raise ConfigError(
            f"X and Y must hold the same, non-zero number of examples (got {len(x)} and {len(y)})"
        )
    return x, y


def model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def trainable(model: nn.Module) -> list[nn.Parameter]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters")
    return params


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every module in eval mode for the block and restore each module's own flag afterwards."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag


def chunks(n: int, chunk_size: int | None) -> list[slice]:
    size = n if not chunk_size else max(1, int(chunk_size))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def loss_and_grad(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    params: Sequence[torch.Tensor],
    chunk_size: int | None = None,
) -> tuple[float, list[torch.Tensor]]:
    """The mean loss over ``x`` and its gradient w.r.t. ``params``, accumulated chunk by chunk."""
    device = model_device(model)
    grads = [torch.zeros_like(p) for p in params]
    total = 0.0
    for part in chunks(len(x), chunk_size):
        xb, yb = x[part].to(device), y[part].to(device)
        weight = len(xb) / len(x)
        loss = loss_fn(model(xb), yb)
        parts = torch.autograd.grad(loss, params, allow_unused=True)
        for g, p in zip(grads, parts, strict=True):
            if p is not None:
                g.add_(p, alpha=weight)
        total += float(loss.detach()) * weight
    return total, grads


def flatten(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vector: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    out, start = [], 0
    for t in like:
        out.append(vector[start : start + t.numel()].view_as(t))
        start += t.numel()
    return out


def accuracy_of(output: torch.Tensor, target: torch.Tensor) -> float | None:
    """Fraction of argmax hits for class-index targets; ``None`` where accuracy does not apply
    (regression)."""
    if output.dim() != 2 or target.dim() != 1 or target.dtype.is_floating_point:
        return None
    return float((output.argmax(dim=1) == target).float().mean())


def loss_and_accuracy(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, chunk_size: int | None = 2048
) -> tuple[float, float]:
    """Mean loss and accuracy (NaN when it does not apply) over all of ``x``."""
    device = model_device(model)
    total_loss, hits, applicable = 0.0, 0.0, True
    with torch.no_grad():
        for part in chunks(len(x), chunk_size):
            xb, yb = x[part].to(device), y[part].to(device)
            out = model(xb)
            total_loss += float(loss_fn(out, yb)) * len(xb)
            acc = accuracy_of(out, yb)
            if acc is None:
                applicable = False
            else:
                hits += acc * len(xb)
    return total_loss / len(x), (hits / len(x) if applicable else math.nan)


# -- files ---------------------------------------------------------------------------------------------------
def save_figure(figure: Any, path: str | Path) -> None:
    """Save a matplotlib figure atomically (150 dpi, tight box) and close it."""
    _io.save_figure(figure, path, dpi=150, bbox_inches="tight")


def new_figure(*args: Any, **kwargs: Any) -> Any:
    """``plt.subplots`` on the non-interactive Agg backend (:func:`optlab._io.pyplot`)."""
    return _io.pyplot().subplots(*args, **kwargs)


def batch_size_axis(axes: Any, sizes: Sequence[int], label: str = "batch size B") -> None:
    """A log x axis whose ticks are the measured batch sizes, written out (16, 32, …, not 2×10¹).

    With more than eight sizes every other one is labelled, so the labels never run together.
    """
    from matplotlib import ticker

    sizes = sorted({int(s) for s in sizes})
    axes.set_xscale("log")
    shown = sizes if len(sizes) <= 8 else sizes[::2]
    axes.xaxis.set_major_locator(ticker.FixedLocator(shown))
    axes.xaxis.set_major_formatter(ticker.FixedFormatter([str(s) for s in shown]))
    axes.xaxis.set_minor_locator(ticker.NullLocator())
    axes.set_xlabel(label)
