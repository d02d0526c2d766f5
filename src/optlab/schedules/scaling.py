"""Batch-size scaling rules for the base learning rate: they return a number, not a schedule.

* Linear scaling (Goyal et al. 2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", §2.1):
  "When the minibatch size is multiplied by k, multiply the learning rate by k" — lr = 0.1 · B / 256 for
  ResNet-50.
* Square-root scaling (Krizhevsky 2014, "One weird trick for parallelizing convolutional neural networks";
  Hoffer et al. 2017, "Train longer, generalize better"): multiply by √k, which keeps the variance of the
  update constant, since the variance of a mini-batch gradient falls as 1/B.
* Noise-aware rules, given the gradient noise scale B_noise: SGD's ε_max/(1 + B_noise/B) (McCandlish et al.
  2018), linear below B_noise and flat above; Adam's "surge" (Li et al. 2024), √B below B_noise, falling
  above. AdamW's weight decay by its timescale (Bergsma et al. 2025): λ ∝ B/η.
"""

from __future__ import annotations

import math

from optlab.errors import ConfigError

__all__ = ["linear_scaling", "noise_scaling", "sqrt_scaling", "surge_scaling", "timescale_weight_decay"]


def _check(rule: str, base_lr: float, batch_size: int, base_batch_size: int) -> tuple[float, int, int]:
    if isinstance(base_lr, bool) or not (isinstance(base_lr, int | float) and 0 < base_lr < math.inf):
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


def _check_noise(rule: str, b_noise: float) -> float:
    if isinstance(b_noise, bool) or not isinstance(b_noise, int | float) or not 0 < b_noise < math.inf:
        raise ConfigError(f"{rule}: b_noise must be a finite number > 0, got {b_noise!r}")
    return float(b_noise)


def noise_scaling(base_lr: float, batch_size: int, base_batch_size: int, b_noise: float) -> float:
    """lr = base_lr · ε(B)/ε(B₀) with ε(B) = ε_max / (1 + B_noise/B): SGD's best step at batch B on a
    quadratic with gradient noise (McCandlish et al. 2018, "An empirical model of large-batch training",
    eq. 2.6). Linear in B well below B_noise (Goyal et al.'s rule), flat well above it."""
    base_lr, batch_size, base_batch_size = _check("noise_scaling", base_lr, batch_size, base_batch_size)
    b_noise = _check_noise("noise_scaling", b_noise)
    return base_lr * (1 + b_noise / base_batch_size) / (1 + b_noise / batch_size)


def surge_scaling(base_lr: float, batch_size: int, base_batch_size: int, b_noise: float) -> float:
    """lr = base_lr · ε(B)/ε(B₀) with ε(B) = ε_max / (½(√(B_noise/B) + √(B/B_noise))): the best step of
    sign-like (Adam-style) updates (Li et al. 2024, "Surge phenomenon in optimal learning rate and batch
    size scaling", NeurIPS). ∝ √B well below B_noise (the square-root rule), peaks at B = B_noise and falls
    as 1/√B above it."""
    base_lr, batch_size, base_batch_size = _check("surge_scaling", base_lr, batch_size, base_batch_size)
    b_noise = _check_noise("surge_scaling", b_noise)

    def best(b: int) -> float:
        return 1 / (math.sqrt(b_noise / b) + math.sqrt(b / b_noise))

    return base_lr * best(batch_size) / best(base_batch_size)


def timescale_weight_decay(
    weight_decay: float, lr: float, batch_size: int, new_lr: float, new_batch_size: int
) -> float:
    """AdamW's weight decay λ′ that keeps the timescale τ = B/(η·λ·D) (in epochs of a data set of D
    examples) at batch B′ and lr η′: λ′ = λ · (B′/B) · (η/η′); at a fixed η, λ ∝ B. Bergsma et al. 2025,
    "Power lines: scaling laws for weight decay and batch size in LLM pre-training" (the best τ is fixed for
    a fixed amount of data per parameter)."""
    for name, value in (("weight_decay", weight_decay), ("lr", lr), ("new_lr", new_lr)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
            raise ConfigError(f"timescale_weight_decay: {name} must be a finite number >= 0, got {value!r}")
    if lr == 0 or new_lr == 0:
        raise ConfigError("timescale_weight_decay: the learning rates must be > 0")
    _check("timescale_weight_decay", 1.0, new_batch_size, batch_size)
    return weight_decay * (new_batch_size / batch_size) * (lr / new_lr)
