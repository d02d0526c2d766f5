"""The dataset registry: `names()`, `info(name)`, `load(name, data_dir, validation, seed)`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from optlab.errors import ConfigError

from ._common import Dataset, Split
from .cifar import load_cifar10
from .idx import load_idx_dataset
from .mnist1d_data import load_mnist1d, mnist1d_args
from .toy import load_ordered_abc

DataDir = str | os.PathLike[str] | None


@dataclass(frozen=True)
class DatasetInfo:
    """A registry record: the name, a one-line description, and the loader `(data_dir) -> Dataset`."""

    name: str
    description: str
    loader: Callable[[DataDir], Dataset]


_REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "fashion-mnist",
            "Zalando's 28x28 grey clothing images, 10 classes, 60k train / 10k test (IDX files)",
            lambda data_dir: load_idx_dataset("fashion-mnist", data_dir),
        ),
        DatasetInfo(
            "mnist",
            "LeCun's 28x28 handwritten digits, 10 classes, 60k train / 10k test (IDX files)",
            lambda data_dir: load_idx_dataset("mnist", data_dir),
        ),
        DatasetInfo(
            "mnist1d",
            "MNIST-1D (Greydanus & Kobak): length-40 1-D digits, 4000 train / 1000 test, generated offline",
            lambda data_dir: load_mnist1d(),
        ),
        DatasetInfo(
            "mnist1d-50k",
            "MNIST-1D generated with 50 000 samples by the mnist1d package's own generator (otherwise the "
            "paper's arguments): 40 000 train / 10 000 test",
            lambda data_dir: load_mnist1d(mnist1d_args(num_samples=50_000), name="mnist1d-50k"),
        ),
        DatasetInfo(
            "cifar10",
            "CIFAR-10 32x32 colour images, 10 classes, 50k train / 10k test (python-version batch files)",
            load_cifar10,
        ),
        DatasetInfo(
            "ordered-abc",
            "the lecture's counter-example: 300 2-D points, classes A, B, C stored in blocks of 100",
            lambda data_dir: load_ordered_abc(),
        ),
    )
}


def names() -> list[str]:
    """The dataset names, in registry order."""
    return list(_REGISTRY)


def info(name: str) -> DatasetInfo:
    """The registry record of `name`; ConfigError listing the valid names if unknown."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; choose one of: {', '.join(_REGISTRY)}") from None


def split_validation(train: Split, validation: int | float, seed: int) -> tuple[Split, Split | None]:
    """Carve a validation split from `train`: `validation` samples (int >= 1) or that fraction (0 < f < 1),
    chosen by a permutation from a generator seeded with `seed`. The remaining training samples keep their
    original order (ordered-abc stays sorted). `validation=0` returns (train, None)."""
    n = len(train)
    if isinstance(validation, bool) or not isinstance(validation, int | float):
        raise ConfigError(
            f"validation must be a count (int >= 1) or a fraction in (0, 1), not {validation!r}"
        )
    if validation == 0:
        return train, None
    if isinstance(validation, float):
        if not 0 < validation < 1:
            raise ConfigError(f"validation fraction must be in (0, 1) (or an int count), got {validation}")
        count = round(validation * n)
    else:
        count = validation
    if not 1 <= count < n:
        raise ConfigError(f"validation={validation!r} leaves no training or no validation data (train: {n})")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx = perm[:count].sort().values
    train_idx = perm[count:].sort().values
    return Split(train.x[train_idx], train.y[train_idx]), Split(train.x[val_idx], train.y[val_idx])


def load(name: str, data_dir: DataDir = None, validation: int | float = 0, seed: int = 0) -> Dataset:
    """Load dataset `name` into memory (CPU tensors; use `Dataset.to(device)` to move it once).

    `data_dir` (or `$OPTLAB_DATA`) is searched first for file-based datasets; `validation` carves a validation
    split from the training set (count or fraction) with a generator seeded by `seed`. Missing or damaged data
    raise `DataError` with one message naming every place looked and how to get the data."""
    dataset = info(name).loader(data_dir)
    train, val = split_validation(dataset.train, validation, seed)
    return replace(dataset, train=train, val=val)
