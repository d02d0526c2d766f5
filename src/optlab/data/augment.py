"""Batch-level data augmentation on whole tensors: random flips and random translations, vectorised over the
batch (no per-example Python work), as the speed runs do it (Keller Jordan's airbench for CIFAR-10: flip and
translate the batch on the device, then train on it).

Both take a batch ``x`` shaped ``(B, *example)`` and return a new tensor of the same shape, dtype and device.
The spatial axes are the last one for sequences (``(B, L)`` or ``(B, C, L)``, e.g. MNIST-1D) and the last two
for images (``(B, C, H, W)``). Random numbers come from ``generator`` if given, else from the global torch
RNG of ``x``'s device, which :func:`optlab.train.train` seeds and whose state its checkpoints save and
restore, so an augmented run is reproducible from its seed and resumes bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from optlab.errors import ConfigError

__all__ = ["Augment", "flip", "translate"]


def _spatial_axes(x: Tensor) -> int:
    if x.ndim < 2:
        raise ConfigError(f"augmentation needs a batch (B, ...) with at least one data axis, got {x.shape}")
    return 2 if x.ndim == 4 else 1


def flip(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each example along its last axis (width, or the sequence) with probability 1/2."""
    _spatial_axes(x)
    mirrored = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(mirrored.view(-1, *[1] * (x.ndim - 1)), x.flip(-1), x)


def translate(x: Tensor, shift: int, generator: torch.Generator | None = None) -> Tensor:
    """Shift each example by an independent uniform integer in ``[-shift, shift]`` along each spatial axis;
    the pixels shifted in repeat the edge (replicate padding: the background of centred digits and clothes).

    Computed as one padding of the batch and one ``gather`` per spatial axis."""
    if isinstance(shift, bool) or not isinstance(shift, int) or shift < 0:
        raise ConfigError(f"translate: shift must be an integer >= 0, got {shift!r}")
    spatial = _spatial_axes(x)
    if shift == 0:
        return x
    batch = x.shape[0]
    # F.pad's replicate mode needs a channel axis: (B, L) is padded as (B, 1, L).
    padded = F.pad(x if x.ndim > 2 else x[:, None], (shift, shift) * spatial, mode="replicate")
    padded = padded.view(batch, *x.shape[1:-spatial], *padded.shape[-spatial:])
    offsets = torch.randint(0, 2 * shift + 1, (batch, spatial), device=x.device, generator=generator)
    out = padded
    for i, axis in enumerate(range(x.ndim - spatial, x.ndim)):
        size = x.shape[axis]
        index = torch.arange(size, device=x.device) + offsets[:, i : i + 1]  # (B, size): the kept window
        view = [batch] + [1] * (x.ndim - 1)
        view[axis] = size
        out = torch.take_along_dim(out, index.view(view), dim=axis)  # broadcast over the other axes
    return out


class Augment:
    """The training batches' augmentation: ``Augment(flip=True, translate=2)(x)`` flips (probability 1/2)
    and then translates (up to 2 positions per spatial axis) every example of ``x``.

    :func:`optlab.train.core.fit` applies it to each batch's inputs before the forward pass (its
    ``transform``); ``optlab train --flip --translate 2`` (TrainConfig ``flip``, ``translate``) sets it up."""

    def __init__(self, flip: bool = False, translate: int = 0) -> None:
        if isinstance(translate, bool) or not isinstance(translate, int) or translate < 0:
            raise ConfigError(f"translate must be an integer >= 0, got {translate!r}")
        self.flip, self.translate = bool(flip), translate

    def __call__(self, x: Tensor) -> Tensor:
        if self.flip:
            x = flip(x)
        if self.translate:
            x = translate(x, self.translate)
        return x

    def __bool__(self) -> bool:
        return self.flip or self.translate > 0

    def __repr__(self) -> str:
        return f"Augment(flip={self.flip}, translate={self.translate})"
