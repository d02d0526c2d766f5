"""Batch-size scaling rules for the base learning rate: they return a number, not a schedule.

* Linear scaling (Goyal et al. 2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", §2.1):
  "When the minibatch size is multiplied by k, multiply the learning rate by k" — lr = 0.1 · B / 256 for
  ResNet-50.
* Square-root scaling (Krizhevsky 2014, "One weird trick for parallelizing convolutional neural networks";
  Hoffer et al. 2017, "Train longer, generalize better"): multiply by √k, which keeps the variance of the
  update constant, since the variance of a mini-batch gradient falls as 1/B.
"""

from __future__ import annotations

import math

from optlab.errors import ConfigError

__all__ = ["linear_scaling", "sqrt_scaling"]


def _check(rule: str, base_lr: float, batch_size: int, base_batch_size: int) -> tuple[float, int, int]:
    if (
        isinstance(base_lr, bool)
        or not isinstance(base_lr, int | float)
        or not math.isfinite(base_lr)
        or base_lr <= 0
    ):
        raise ConfigError(f"{rule}: base_lr must be a finite number > 0, got {base_lr!r}")
    for name, value in (("batch_size", batch_size), ("base_batch_size", base_batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{rule}: {name} must be an integer >= 1, got {value!r}")
    return float(base_lr), batch_size, base_batch_size


def linear_scaling(base_lr: float, batch_size: int, base_batch_size: int = 256) -> float:
    """lr = base_lr · batch_size / base_batch_size (Goyal et al. 2017)."""
    base_lr, batch_size, base_batch_size = _check("linear_scaling", base_lr, batch_size, base_batch_size)
    return base_lr * batch_size / base_batch_size


def sqrt_scaling(base_lr: float, batch_size: int, base_batch_size: int = 256) -> float:
    """lr = base_lr · √(batch_size / base_batch_size) (Krizhevsky 2014; Hoffer et al. 2017)."""
    base_lr, batch_size, base_batch_size = _check("sqrt_scaling", base_lr, batch_size, base_batch_size)
    return base_lr * math.sqrt(batch_size / base_batch_size)
