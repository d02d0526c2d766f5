"""The models of the lecture's experiments, built for a dataset's input shape and number of classes.

Every builder takes ``(input_shape, num_classes)`` — the shape of ONE example, e.g. ``(1, 28, 28)``,
``(3, 32, 32)`` or ``(40,)`` — and returns an ``nn.Module`` mapping a batch ``(B, *input_shape)`` to logits
``(B, num_classes)`` (softmax / cross-entropy belong to the loss). An input shape a model cannot take raises
ConfigError.
Initialisation is torch's default everywhere: none of the papers prescribes another.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from optlab.errors import ConfigError

__all__ = ["c1", "cnn1d", "cnn1d_bn", "cnn1d_bn64", "conv2bn", "f1", "logreg", "mlp", "mlp1d"]

Shape = tuple[int, ...]


# ------------------------------------------------------------------------------------------------------------
# plain baselines
# ------------------------------------------------------------------------------------------------------------
def logreg(input_shape: Shape, num_classes: int) -> nn.Module:
    """Multinomial logistic regression: flatten → Linear(d, classes)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


def mlp(input_shape: Shape, num_classes: int, hidden: int = 256) -> nn.Module:
    """flatten → Linear 256 → ReLU → Linear 256 → ReLU → Linear classes.

    No BatchNorm on purpose: it must train at batch size 1, where batch statistics are undefined.
    """
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


# ------------------------------------------------------------------------------------------------------------
# Keskar et al. 2017, "On large-batch training for deep learning: generalization gap and sharp minima",
# Table 1 and appendix; the authors' Keras code: github.com/keskarnitish/large-batch-training, network_zoo.py.
# C1 checked layer by layer against network_zoo.py's ``shallownet``. F1 is not in network_zoo.py; its sizes
# (5 × 512 with BatchNorm) are from the paper's appendix B.1, not re-checked here.
# ------------------------------------------------------------------------------------------------------------
def f1(input_shape: Shape, num_classes: int) -> nn.Module:
    """Keskar's F1 (MNIST): flatten → 5 × [Linear 512, BatchNorm, ReLU] → Linear classes.

    BatchNorm needs more than one example per batch in training mode.
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for _ in range(5):
        layers += [nn.Linear(width, 512), nn.BatchNorm1d(512), nn.ReLU()]
        width = 512
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def c1(input_shape: Shape, num_classes: int) -> nn.Module:
    """Keskar's C1, the shallow convolutional net (``shallownet`` in the authors' code)::

        2 × [Conv 64 5×5 'same', BatchNorm, ReLU, MaxPool 3×3 stride 2 'same']
        → Linear 384 → BatchNorm → ReLU → Dropout 0.5
        → Linear 192 → BatchNorm → ReLU → Dropout 0.5
        → Linear classes

    Takes images ``(channels, height, width)``: 1×28×28 (Fashion-MNIST, MNIST) and 3×32×32 (CIFAR-10).
    Keras' 'same' pooling gives ⌈H/2⌉ outputs; ``MaxPool2d(3, 2, padding=1)`` gives the same size (its window
    sits one pixel earlier). The authors' Keras ``BatchNormalization(mode=2)`` also used batch statistics at
    test time; here BatchNorm is torch's usual one (running statistics in eval mode).
    """
    if len(input_shape) != 3:
        raise ConfigError(
            f"model 'c1' takes images shaped (channels, height, width), e.g. (1, 28, 28); got {input_shape}"
        )
    channels, height, width = input_shape

    def pooled(size: int) -> int:  # 'same' max pooling with stride 2 halves a side, rounding up
        return (size + 1) // 2

    flat = 64 * pooled(pooled(height)) * pooled(pooled(width))
    return nn.Sequential(
        nn.Conv2d(channels, 64, kernel_size=5, padding=2),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        nn.Conv2d(64, 64, kernel_size=5, padding=2),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        nn.Flatten(),
        nn.Linear(flat, 384),
        nn.BatchNorm1d(384),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(384, 192),
        nn.BatchNorm1d(192),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(192, num_classes),
    )


# ------------------------------------------------------------------------------------------------------------
# Greydanus & Kobak 2020/2024, "Scaling down deep learning with MNIST-1D"; the architectures follow the
# authors' github.com/greydanus/mnist1d, notebooks/models.py (MLPBase, ConvBase) with their default sizes.
# ------------------------------------------------------------------------------------------------------------
class ResidualMLP(nn.Module):
    """MNIST-1D's MLP (``MLPBase``): h₁ = ReLU(W₁x), h₂ = h₁ + ReLU(W₂h₁), logits = W₃h₂ (hidden width 100).

    Two hidden layers of 100 ReLU units; as in the authors' code the second one is added to the first
    (a residual connection).
    """

    def __init__(self, in_features: int, num_classes: int, hidden: int = 100) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear1 = nn.Linear(in_features, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.linear1(self.flatten(x)).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


def mlp1d(input_shape: Shape, num_classes: int) -> nn.Module:
    """MNIST-1D's MLP: 2 hidden layers of 100 ReLU units, the second residual (see :class:`ResidualMLP`)."""
    return ResidualMLP(math.prod(input_shape), num_classes)


def _conv_length(length: int, kernel: int, stride: int, padding: int) -> int:
    return (length + 2 * padding - kernel) // stride + 1


def cnn1d(input_shape: Shape, num_classes: int, channels: int = 25, batch_norm: bool = False) -> nn.Module:
    """MNIST-1D's CNN (``ConvBase``): 3 × [Conv1d 25 channels, stride 2, padding 1, ReLU] → flatten → Linear.

    Kernel sizes 5, 3, 3: a length-40 signal becomes 19, 10, 5 positions, so the linear layer sees 25·5 = 125
    features. Takes a sequence ``(length,)`` (one channel, as MNIST-1D) or ``(channels, length)``.
    """
    if len(input_shape) == 1:
        in_channels, length = 1, input_shape[0]
        layers: list[nn.Module] = [nn.Unflatten(1, (1, length))]  # (B, L) → (B, 1, L)
    elif len(input_shape) == 2:
        (in_channels, length), layers = input_shape, []
    else:
        raise ConfigError(
            "model 'cnn1d' takes sequences shaped (length,) or (channels, length), e.g. (40,); "
            f"got {input_shape}"
        )
    out_length = length
    for kernel in (5, 3, 3):
        out_length = _conv_length(out_length, kernel, stride=2, padding=1)
    if out_length < 1:
        raise ConfigError(f"model 'cnn1d' needs sequences of length >= 3; got length {length}")
    for i, kernel in enumerate((5, 3, 3)):
        layers.append(nn.Conv1d(in_channels if i == 0 else channels, channels, kernel, stride=2, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm1d(channels))
        layers.append(nn.ReLU())
    layers += [nn.Flatten(), nn.Linear(channels * out_length, num_classes)]
    return nn.Sequential(*layers)


def cnn1d_bn(input_shape: Shape, num_classes: int) -> nn.Module:
    """:func:`cnn1d` with a BatchNorm after each convolution (Conv → BN → ReLU), as in ResNets.

    Not in the MNIST-1D paper: the large-batch experiment (B6) needs a network with BatchNorm, because Goyal
    et al.'s linear-scaling argument is made for their ResNet-50, which has it. BatchNorm needs more than one
    example per batch in training mode.
    """
    return cnn1d(input_shape, num_classes, batch_norm=True)


def cnn1d_bn64(input_shape: Shape, num_classes: int) -> nn.Module:
    """:func:`cnn1d_bn` with 64 channels instead of 25: the MNIST-1D speed run's model (recipes/mnist1d.toml).

    Not in the MNIST-1D paper. At the speed run's budget of a few hundred updates it reached ~96 % test
    accuracy where 25 channels reached ~92 % and 48 channels ~95 %, while an update of these small
    convolutions costs about the same (Python and dispatch overhead dominate; README, "Speed run").
    """
    return cnn1d(input_shape, num_classes, channels=64, batch_norm=True)


# ------------------------------------------------------------------------------------------------------------
# The speed run's image model (optlab.speedrun, recipes/fashion-mnist.toml): the "small two-conv-layer
# BatchNorm net" of a plain hand-written Fashion-MNIST loop, in the layer order of Keller Jordan's airbench
# (github.com/KellerJordan/cifar10-airbench): convolution, then pooling, then BatchNorm and the activation,
# so that BatchNorm and ReLU work on a quarter of the positions.
# ------------------------------------------------------------------------------------------------------------
def conv2bn(input_shape: Shape, num_classes: int, widths: tuple[int, int] = (32, 64)) -> nn.Module:
    """2 × [Conv 3×3 'same' (no bias), MaxPool 2×2, BatchNorm, ReLU] → flatten → Linear classes.

    Widths 32 and 64: for a 1×28×28 image the linear layer sees 64·7·7 = 3136 features. No bias before
    BatchNorm (it would be cancelled by the mean). Max pooling commutes with ReLU and, per channel, with
    BatchNorm's affine map when its scale is positive, so pooling first changes the function little and
    saves three quarters of the normalisation and activation work. BatchNorm needs more than one example per
    batch in training mode.
    """
    if len(input_shape) != 3:
        raise ConfigError(
            "model 'conv2bn' takes images shaped (channels, height, width), e.g. (1, 28, 28); "
            f"got {input_shape}"
        )
    channels, height, width = input_shape
    if height < 4 or width < 4:
        raise ConfigError(f"model 'conv2bn' needs images of at least 4×4 pixels; got {height}×{width}")
    layers: list[nn.Module] = []
    for c_in, c_out in zip((channels, widths[0]), widths, strict=True):
        layers += [
            nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        ]
    flat = widths[1] * (height // 4) * (width // 4)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, num_classes))
