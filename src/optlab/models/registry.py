"""Models by name: ``names()``, ``info(name)``, ``create(name, input_shape, num_classes)``."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from optlab.errors import ConfigError
from optlab.models.nets import c1, cnn1d, cnn1d_bn, cnn1d_bn64, conv2bn, f1, logreg, mlp, mlp1d

__all__ = ["ModelInfo", "create", "info", "names"]


@dataclass(frozen=True)
class ModelInfo:
    """A registry entry: ``build(input_shape, num_classes) -> nn.Module``, what it is, where it comes from."""

    name: str
    build: Callable[[tuple[int, ...], int], nn.Module]
    description: str
    paper: str
    inputs: str  # the input shapes it takes, for help texts


_REGISTRY: dict[str, ModelInfo] = {
    entry.name: entry
    for entry in (
        ModelInfo(
            "f1",
            f1,
            "fully connected: 5 × [Linear 512, BatchNorm, ReLU] → classes",
            "Keskar et al. 2017, On large-batch training for deep learning (network F1)",
            "any (flattened)",
        ),
        ModelInfo(
            "c1",
            c1,
            "shallow conv net: 2 × [Conv 64 5×5, BN, ReLU, MaxPool] → 384 → 192 → classes, dropout 0.5",
            "Keskar et al. 2017, On large-batch training for deep learning (network C1)",
            "images (channels, height, width)",
        ),
        ModelInfo(
            "mlp1d",
            mlp1d,
            "MLP with 2 hidden layers of 100 ReLU units (the second residual)",
            "Greydanus & Kobak 2020, Scaling down deep learning with MNIST-1D (MLPBase)",
            "any (flattened)",
        ),
        ModelInfo(
            "cnn1d",
            cnn1d,
            "1-D CNN: 3 × [Conv1d 25 channels, stride 2, ReLU] → linear",
            "Greydanus & Kobak 2020, Scaling down deep learning with MNIST-1D (ConvBase)",
            "sequences (length,) or (channels, length), length >= 3",
        ),
        ModelInfo(
            "cnn1d_bn",
            cnn1d_bn,
            "1-D CNN: 3 × [Conv1d 25 channels, stride 2, BatchNorm, ReLU] → linear",
            "cnn1d (Greydanus & Kobak 2020) with BatchNorm after each convolution, for B6",
            "sequences (length,) or (channels, length), length >= 3",
        ),
        ModelInfo("logreg", logreg, "logistic regression: flatten → linear", "—", "any (flattened)"),
        ModelInfo(
            "mlp",
            mlp,
            "flatten → 256 → ReLU → 256 → ReLU → classes, no BatchNorm (works at batch size 1)",
            "—",
            "any (flattened)",
        ),
        ModelInfo(
            "conv2bn",
            conv2bn,
            "small BN conv net: 2 × [Conv 3×3 (32, 64), MaxPool 2, BatchNorm, ReLU] → linear (speed run)",
            "the plain two-conv BatchNorm net; conv → pool → BN → ReLU as in Jordan's airbench (2024)",
            "images (channels, height, width), at least 4×4",
        ),
        ModelInfo(
            "cnn1d_bn64",
            cnn1d_bn64,
            "1-D CNN: 3 × [Conv1d 64 channels, stride 2, BatchNorm, ReLU] → linear (speed run)",
            "cnn1d_bn (Greydanus & Kobak 2020's ConvBase with BatchNorm) widened to 64 channels",
            "sequences (length,) or (channels, length), length >= 3",
        ),
    )
}


def names() -> list[str]:
    """The model names ``create`` accepts."""
    return list(_REGISTRY)


def info(name: str) -> ModelInfo:
    """The registry entry for ``name``; an unknown name raises ConfigError listing the valid ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model {name!r}; valid: {', '.join(_REGISTRY)}") from None


def _check_shape(name: str, input_shape: Sequence[int]) -> tuple[int, ...]:
    message = (
        f"model {name!r}: input_shape must be a non-empty tuple of positive integers, got {input_shape!r}"
    )
    if isinstance(input_shape, str | bytes) or not isinstance(input_shape, Sequence) or not input_shape:
        raise ConfigError(message)
    try:
        shape = tuple(operator.index(size) for size in input_shape)  # also accepts torch.Size
    except TypeError:
        raise ConfigError(message) from None
    if any(size < 1 for size in shape):
        raise ConfigError(message)
    return shape


def create(name: str, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """Build model ``name`` for examples shaped ``input_shape`` (one example, no batch axis) and
    ``num_classes`` classes. It maps ``(B, *input_shape)`` to logits ``(B, num_classes)``.
    """
    entry = info(name)
    shape = _check_shape(name, input_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ConfigError(f"model {name!r}: num_classes must be an integer >= 2, got {num_classes!r}")
    return entry.build(shape, num_classes)
