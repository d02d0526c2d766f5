"""`ordered-abc`: the lecture's counter-example for not shuffling.

300 training samples of three classes A, B, C, stored in blocks of 100 (all A, then all B, then all C) and
kept in that order, so a batcher with `shuffle=False` shows the model one class at a time. Each class is a 2-D
Gaussian blob (standard deviation 1) centred on a vertex of an equilateral triangle at distance 2 from the
origin: the classes overlap a little, so the signal is learnable (a linear classifier reaches ~90 %) but not
trivial. The test set is 300 fresh samples from the same distribution in shuffled order. The data are fixed
(generated from seed 0), whatever seed the caller passes for the validation split."""

from __future__ import annotations

import math

import torch

from ._common import Dataset, Split

CLASS_NAMES = ("A", "B", "C")
PER_CLASS = 100
RADIUS = 2.0
NOISE = 1.0


def _centres() -> torch.Tensor:
    angles = [math.pi / 2 + 2 * math.pi * k / 3 for k in range(3)]
    return torch.tensor([[RADIUS * math.cos(a), RADIUS * math.sin(a)] for a in angles])


def _blobs(generator: torch.Generator, per_class: int = PER_CLASS) -> Split:
    """``per_class`` samples of each class, in class blocks A..., B..., C...."""
    y = torch.arange(len(CLASS_NAMES)).repeat_interleave(per_class)
    x = _centres()[y] + NOISE * torch.randn(len(y), 2, generator=generator)
    return Split(x.to(torch.float32), y.to(torch.int64))


def load_ordered_abc(per_class: int = PER_CLASS) -> Dataset:
    """The set with ``per_class`` training (and test) samples per class (the registry's: 100)."""
    generator = torch.Generator().manual_seed(0)
    train = _blobs(generator, per_class)  # sorted by class, on purpose
    test = _blobs(generator, per_class)
    order = torch.randperm(len(test), generator=generator)
    return Dataset.from_splits("ordered-abc", train, Split(test.x[order], test.y[order]), CLASS_NAMES)
